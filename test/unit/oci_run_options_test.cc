// Unit tests (no root) for the run options that reach runc's spec: tmpfs, rlimits, --init,
// namespace modes, devices, cpusets, capabilities bounded by berthd's, security options and the
// seccomp profiles (Docker's format, Berth's default, their resolution for one container).
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "engine/host_options.h"
#include "engine/runtime.h"
#include "engine/seccomp.h"
#include "engine/security.h"
#include "nlohmann/json.hpp"
#include "oci_test_util.h"
#include "spec/json/container_json.h"

namespace berth::engine {
namespace {

using nlohmann::json;
using oci_test::Hc;
using oci_test::Spec;

const json* MountAt(const json& spec, const std::string& dst) {
  for (const json& m : spec["mounts"])
    if (m["destination"] == dst) return &m;
  return nullptr;
}

std::vector<std::string> Namespaces(const json& spec) {
  std::vector<std::string> out;
  for (const json& n : spec["linux"]["namespaces"]) out.push_back(n["type"]);
  return out;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The rule of a resolved profile that names `call` (the first one), or null.
const SeccompRule* RuleFor(const SeccompProfile& p, const std::string& call) {
  for (const SeccompRule& r : p.syscalls)
    if (Has(r.names, call)) return &r;
  return nullptr;
}

TEST(OciRunOptions, TmpfsMountsWithDockerDefaultsAndOverrides) {
  json spec = Spec(Hc({{"Tmpfs", {{"/t", ""}, {"/x", "exec,size=1m,mode=700,size=2m"}}}}));
  const json* t = MountAt(spec, "/t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ((*t)["type"], "tmpfs");
  EXPECT_EQ((*t)["options"], json({"noexec", "nosuid", "nodev", "rprivate"}));
  const json* x = MountAt(spec, "/x");
  ASSERT_NE(x, nullptr);
  // exec overrides the default noexec; the later size wins.
  EXPECT_EQ((*x)["options"], json({"nosuid", "nodev", "rprivate", "exec", "mode=700", "size=2m"}));
  EXPECT_FALSE(TmpfsOptions("bogus=1").ok());
  EXPECT_EQ(TmpfsOptions("bogus").status().message(), "Invalid tmpfs option [\"bogus\"]");
}

TEST(OciRunOptions, UlimitsBecomeRlimits) {
  json spec = Spec(Hc({{"Ulimits",
                        {{{"Name", "nofile"}, {"Soft", 1024}, {"Hard", 2048}},
                         {{"Name", "core"}, {"Soft", -1}, {"Hard", -1}}}}}));
  json rl = spec["process"]["rlimits"];
  ASSERT_EQ(rl.size(), 2u);
  EXPECT_EQ(rl[0], json({{"type", "RLIMIT_NOFILE"}, {"hard", 2048}, {"soft", 1024}}));
  EXPECT_EQ(rl[1]["hard"].get<uint64_t>(), UINT64_MAX);  // unlimited
  EXPECT_FALSE(Spec(spec::HostConfig())["process"].contains("rlimits"));
}

TEST(OciRunOptions, InitIsPidOneWithTheCommandAsItsChild) {
  OciInputs in;
  in.init_path = "/usr/bin/tini-static";
  json spec = Spec(Hc({{"Init", true}}), in);
  EXPECT_EQ(spec["process"]["args"], json({"/sbin/docker-init", "--", "sh", "-c", "true"}));
  const json* m = MountAt(spec, "/sbin/docker-init");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ((*m)["source"], "/usr/bin/tini-static");
  EXPECT_EQ((*m)["options"], json({"bind", "ro"}));
  EXPECT_EQ(Spec(Hc({{"Init", false}}), in)["process"]["args"][0], "sh");
}

TEST(OciRunOptions, HostNamespaceModesLeaveTheNamespaceOut) {
  json spec = Spec(Hc({{"PidMode", "host"}, {"IpcMode", "host"}, {"UTSMode", "host"}}));
  auto ns = Namespaces(spec);
  EXPECT_FALSE(Has(ns, "pid"));
  EXPECT_FALSE(Has(ns, "ipc"));
  EXPECT_FALSE(Has(ns, "uts"));
  EXPECT_TRUE(Has(ns, "mount"));
  EXPECT_FALSE(spec.contains("hostname"));  // runc refuses a hostname without a UTS namespace
  const json* shm = MountAt(spec, "/dev/shm");
  ASSERT_NE(shm, nullptr);
  EXPECT_EQ((*shm)["source"], "/dev/shm");  // the host's
  EXPECT_EQ((*shm)["type"], "bind");

  json own = Spec(Hc({{"IpcMode", "private"}}));
  ns = Namespaces(own);
  EXPECT_TRUE(Has(ns, "pid") && Has(ns, "ipc") && Has(ns, "uts"));
  EXPECT_EQ(own["hostname"], "h");
  EXPECT_EQ((*MountAt(own, "/dev/shm"))["type"], "tmpfs");
  EXPECT_EQ(MountAt(Spec(Hc({{"IpcMode", "none"}})), "/dev/shm"), nullptr);

  OciInputs join;
  join.pid_ns_path = "/proc/42/ns/pid";
  json joined = Spec(Hc({{"PidMode", "container:donor"}}), join);
  EXPECT_EQ(joined["linux"]["namespaces"][0], json({{"type", "pid"}, {"path", "/proc/42/ns/pid"}}));
}

TEST(OciRunOptions, NamespaceModesThatCannotBeHonouredAreRefused) {
  HostFacts host;
  spec::ContainerConfig config;
  EXPECT_EQ(VerifyRunOptions(config, Hc({{"PidMode", "bogus"}}), host).message(),
            "invalid PID mode: bogus");
  EXPECT_EQ(VerifyRunOptions(config, Hc({{"IpcMode", "bogus"}}), host).message(),
            "invalid IPC mode: bogus");
  EXPECT_EQ(VerifyRunOptions(config, Hc({{"UTSMode", "bogus"}}), host).message(),
            "invalid UTS mode: bogus");
  EXPECT_TRUE(
      VerifyRunOptions(config, Hc({{"PidMode", "container:x"}}), host).ok());  // found at start
  EXPECT_EQ(VerifyRunOptions(config, Hc({{"PidMode", "container:"}}), host).message(),
            "invalid PID mode: container:");
  Status st = VerifyRunOptions(config, Hc({{"IpcMode", "container:x"}}), host);
  EXPECT_TRUE(absl::IsInvalidArgument(st));
  EXPECT_NE(st.message().find("cannot join another container's IPC namespace"), std::string::npos);
  config.hostname = "named";
  EXPECT_EQ(VerifyRunOptions(config, Hc({{"UTSMode", "host"}}), host).message(),
            "conflicting options: hostname and the UTS mode");
  EXPECT_TRUE(VerifyRunOptions(spec::ContainerConfig(),
                               Hc({{"PidMode", "host"}, {"IpcMode", "host"}, {"UTSMode", "host"}}),
                               host)
                  .ok());
}

TEST(OciRunOptions, DevicesAreMadeAndAllowed) {
  OciInputs in;
  in.devices = {
      ContainerDevice{sys::DeviceNode{"/dev/fuse", 'c', 10, 229, 0600, 0, 0}, "/dev/fuse", "rw"}};
  json spec = Spec(spec::HostConfig(), in);
  ASSERT_EQ(spec["linux"]["devices"].size(), 1u);
  EXPECT_EQ(spec["linux"]["devices"][0], json({{"path", "/dev/fuse"},
                                               {"type", "c"},
                                               {"major", 10},
                                               {"minor", 229},
                                               {"fileMode", 0600},
                                               {"uid", 0},
                                               {"gid", 0}}));
  EXPECT_EQ(
      spec["linux"]["resources"]["devices"].back(),
      json({{"allow", true}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"access", "rw"}}));
}

TEST(OciRunOptions, MissingDevicesAndBadModesAreRefusedAtCreate) {
  HostFacts host;
  Status st = VerifyRunOptions(spec::ContainerConfig(),
                               Hc({{"Devices",
                                    {{{"PathOnHost", "/dev/no-such-device"},
                                      {"PathInContainer", "/dev/x"},
                                      {"CgroupPermissions", "rwm"}}}}}),
                               host);
  EXPECT_EQ(
      st.message(),
      "error gathering device information while adding custom device \"/dev/no-such-device\": "
      "no such file or directory");
  st = VerifyRunOptions(spec::ContainerConfig(),
                        Hc({{"Devices",
                             {{{"PathOnHost", "/dev/null"},
                               {"PathInContainer", "/dev/x"},
                               {"CgroupPermissions", "rwx"}}}}}),
                        host);
  EXPECT_EQ(st.message(), "invalid device mode: rwx");
  st = VerifyRunOptions(spec::ContainerConfig(),
                        Hc({{"Devices",
                             {{{"PathOnHost", "/etc/hostname"},
                               {"PathInContainer", "/dev/x"},
                               {"CgroupPermissions", "rwm"}}}}}),
                        host);
  EXPECT_NE(st.message().find("not a device node"), std::string::npos) << st;
}

TEST(OciRunOptions, CpusetsAreAppliedAndChecked) {
  json spec = Spec(Hc({{"CpusetCpus", "0"}, {"CpusetMems", "0"}}));
  EXPECT_EQ(spec["linux"]["resources"]["cpu"]["cpus"], "0");
  EXPECT_EQ(spec["linux"]["resources"]["cpu"]["mems"], "0");
  HostFacts host;
  host.cpus_online = "0-1";
  spec::ContainerConfig config;
  EXPECT_TRUE(VerifyRunOptions(config, Hc({{"CpusetCpus", "0,1"}}), host).ok());
  EXPECT_EQ(VerifyRunOptions(config, Hc({{"CpusetCpus", "0-3"}}), host).message(),
            "Requested CPUs are not available - requested 0-3, available: 0-1");
  EXPECT_EQ(VerifyRunOptions(config, Hc({{"CpusetCpus", "x"}}), host).message(),
            "Invalid value x for cpuset cpus");
  EXPECT_EQ(*ParseCpuList("0-2,5"), (std::set<int>{0, 1, 2, 5}));
  EXPECT_FALSE(ParseCpuList("2-1").ok());
  EXPECT_FALSE(ParseCpuList("-1").ok());
}

TEST(OciRunOptions, BlkioWeightsNeedTheKernelsSupport) {
  HostFacts host;
  host.blkio_weight = false;
  spec::ContainerConfig config;
  EXPECT_EQ(VerifyRunOptions(config, Hc({{"BlkioWeight", 300}}), host).message(),
            "Your kernel does not support Block I/O weight or the cgroup is not mounted");
  EXPECT_EQ(VerifyRunOptions(config,
                             Hc({{"BlkioWeightDevice", {{{"Path", "/dev/sda"}, {"Weight", 300}}}}}),
                             host)
                .message(),
            "Your kernel does not support Block I/O weight_device or the cgroup is not mounted");
  EXPECT_TRUE(VerifyRunOptions(config, Hc({}), host).ok());
  host.blkio_weight = true;
  EXPECT_TRUE(VerifyRunOptions(config, Hc({{"BlkioWeight", 300}}), host).ok());

  // What the fact is read from: a v1 blkio hierarchy with or without a weight file.
  char tmpl[] = "/tmp/bt-blkio.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  ASSERT_EQ(mkdir((root + "/blkio").c_str(), 0755), 0);
  EXPECT_FALSE(BlkioWeightSupported(root));
  std::ofstream(root + "/blkio/blkio.bfq.weight") << "100\n";
  EXPECT_TRUE(BlkioWeightSupported(root));
  std::filesystem::remove_all(root);
}

TEST(OciRunOptions, UlimitsAboveBerthdsOwnAreRefusedWithoutSysResource) {
  HostFacts host;
  host.capabilities = {"CAP_CHOWN"};
  host.hard_limit = [](int) -> uint64_t { return 20000; };
  spec::ContainerConfig config;
  auto hc = [](int64_t soft, int64_t hard) {
    return Hc({{"Ulimits", {{{"Name", "nofile"}, {"Soft", soft}, {"Hard", hard}}}}});
  };
  EXPECT_TRUE(VerifyRunOptions(config, hc(1024, 1024), host).ok());
  EXPECT_NE(
      VerifyRunOptions(config, hc(1024, 30000), host).message().find("lacks CAP_SYS_RESOURCE"),
      std::string::npos);
  EXPECT_EQ(VerifyRunOptions(config, hc(2048, 1024), host).message(),
            "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024");
  host.capabilities.push_back("CAP_SYS_RESOURCE");
  EXPECT_TRUE(VerifyRunOptions(config, hc(1024, 30000), host).ok());
  EXPECT_EQ(VerifyRunOptions(
                config, Hc({{"Ulimits", {{{"Name", "bogus"}, {"Soft", 1}, {"Hard", 1}}}}}), host)
                .message(),
            "invalid ulimit type: bogus");
}

TEST(OciRunOptions, InitWithoutABinaryIsRefused) {
  HostFacts host;
  EXPECT_FALSE(VerifyRunOptions(spec::ContainerConfig(), Hc({{"Init", true}}), host).ok());
  host.init_path = "/bin/sh";
  EXPECT_TRUE(VerifyRunOptions(spec::ContainerConfig(), Hc({{"Init", true}}), host).ok());
}

TEST(Capabilities, PrivilegedAndAllAreBoundedByBerthdsOwn) {
  std::vector<std::string> host = AllCapabilities();
  host.erase(std::find(host.begin(), host.end(), "CAP_SYS_RESOURCE"));
  auto caps = Capabilities(Hc({{"Privileged", true}}), host);
  EXPECT_EQ(caps, host);
  caps = Capabilities(Hc({{"CapAdd", {"ALL"}}, {"CapDrop", {"NET_RAW"}}}), host);
  EXPECT_FALSE(Has(caps, "CAP_SYS_RESOURCE"));
  EXPECT_FALSE(Has(caps, "CAP_NET_RAW"));
  EXPECT_TRUE(Has(caps, "CAP_SYS_ADMIN"));
  caps = Capabilities(Hc({{"CapDrop", {"ALL"}}, {"CapAdd", {"chown"}}}), host);
  EXPECT_EQ(caps, std::vector<std::string>{"CAP_CHOWN"});
  EXPECT_TRUE(VerifyCapabilities(Hc({{"CapAdd", {"NET_ADMIN"}}}), host).ok());
  EXPECT_NE(VerifyCapabilities(Hc({{"CapAdd", {"SYS_RESOURCE"}}}), host)
                .message()
                .find("does not hold it"),
            std::string::npos);
  EXPECT_EQ(VerifyCapabilities(Hc({{"CapAdd", {"BOGUS"}}}), host).message(),
            "unknown capability: \"CAP_BOGUS\"");
  OciInputs in;
  in.available_caps = host;
  json spec = Spec(Hc({{"Privileged", true}}), in);
  EXPECT_EQ(spec["process"]["capabilities"]["bounding"], json(host));
  EXPECT_FALSE(spec["linux"].contains("seccomp"));  // privileged: no filter, as in Docker
  EXPECT_EQ((*MountAt(spec, "/sys"))["options"], json({"nosuid", "noexec", "nodev"}));  // writable
}

TEST(SecurityOpts, DockersFormsAndMessages) {
  auto o = ParseSecurityOpts({"no-new-privileges"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->no_new_privileges);
  EXPECT_FALSE(ParseSecurityOpts({"no-new-privileges=false"})->no_new_privileges);
  EXPECT_TRUE(ParseSecurityOpts({"no-new-privileges:true"})->no_new_privileges);
  EXPECT_EQ(ParseSecurityOpts({"seccomp=unconfined"})->seccomp,
            SecurityOptions::Seccomp::kUnconfined);
  EXPECT_EQ(ParseSecurityOpts({"seccomp=builtin"})->seccomp, SecurityOptions::Seccomp::kDefault);
  EXPECT_EQ(ParseSecurityOpts({"bogus"}).status().message(), "invalid --security-opt 1: \"bogus\"");
  EXPECT_EQ(ParseSecurityOpts({"bogus=1"}).status().message(),
            "invalid --security-opt 2: \"bogus=1\"");
  EXPECT_EQ(ParseSecurityOpts({"no-new-privileges=maybe"}).status().message(),
            "invalid --security-opt 2: \"no-new-privileges=maybe\"");
  EXPECT_TRUE(ParseSecurityOpts({"apparmor=unconfined", "label=disable"}).ok());
  EXPECT_FALSE(ParseSecurityOpts({"apparmor=docker-default"}).ok());
  EXPECT_NE(
      ParseSecurityOpts({"seccomp={x"}).status().message().find("Decoding seccomp profile failed"),
      std::string::npos);
  json spec = Spec(Hc({{"SecurityOpt", {"no-new-privileges"}}}));
  EXPECT_EQ(spec["process"]["noNewPrivileges"], true);
  EXPECT_EQ(Spec(spec::HostConfig())["process"]["noNewPrivileges"], false);
  EXPECT_FALSE(Spec(Hc({{"SecurityOpt", {"seccomp=unconfined"}}}))["linux"].contains("seccomp"));
}

TEST(Seccomp, DefaultProfileResolvedForDockersDefaultCapabilities) {
  std::vector<std::string> caps = Capabilities(spec::HostConfig());
  auto p = ResolveSeccomp(DefaultSeccompProfile(), caps, "amd64", KernelVersion{6, 1});
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(p->default_errno_ret, 1u);  // EPERM
  if (NativeArch() == "amd64") {
    EXPECT_EQ(p->architectures,
              (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  }
  EXPECT_NE(RuleFor(*p, "read"), nullptr);
  EXPECT_NE(RuleFor(*p, "arch_prctl"), nullptr);  // amd64 only
  EXPECT_EQ(RuleFor(*p, "s390_runtime_instr"), nullptr);
  EXPECT_NE(RuleFor(*p, "ptrace"), nullptr);  // kernel >= 4.8
  EXPECT_NE(RuleFor(*p, "chroot"), nullptr);  // CAP_SYS_CHROOT is a default capability
  EXPECT_EQ(RuleFor(*p, "mount"), nullptr);   // needs CAP_SYS_ADMIN
  EXPECT_EQ(RuleFor(*p, "unshare"), nullptr);
  EXPECT_EQ(RuleFor(*p, "keyctl"), nullptr);  // never
  EXPECT_EQ(RuleFor(*p, "io_uring_setup"), nullptr);
  const SeccompRule* clone = RuleFor(*p, "clone");
  ASSERT_NE(clone, nullptr);
  ASSERT_EQ(clone->args.size(), 1u);
  EXPECT_EQ(clone->args[0].op, "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(clone->args[0].value, 0x7E020000u);  // the namespace flags must be clear
  const SeccompRule* clone3 = RuleFor(*p, "clone3");
  ASSERT_NE(clone3, nullptr);
  EXPECT_EQ(clone3->action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(clone3->errno_ret, 38u);  // ENOSYS
  // Old kernels do not get ptrace.
  auto old = ResolveSeccomp(DefaultSeccompProfile(), caps, "amd64", KernelVersion{4, 4});
  const SeccompRule* ptrace = RuleFor(*old, "ptrace");
  EXPECT_EQ(ptrace, nullptr);

  caps.push_back("CAP_SYS_ADMIN");
  auto admin = ResolveSeccomp(DefaultSeccompProfile(), caps, "amd64", KernelVersion{6, 1});
  EXPECT_NE(RuleFor(*admin, "mount"), nullptr);
  EXPECT_TRUE(RuleFor(*admin, "clone")->args.empty());  // any flags
  EXPECT_EQ(RuleFor(*admin, "clone3")->action, "SCMP_ACT_ALLOW");
}

TEST(Seccomp, DockerFormatParsedWithGoRules) {
  auto p = ParseSeccompProfile(R"({
    "DEFAULTACTION": "SCMP_ACT_ALLOW", "unknownKey": 1,
    "architectures": ["SCMP_ARCH_X86_64"],
    "syscalls": [
      {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
      {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
       "args": [{"index": 0, "value": 40, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
       "includes": {"caps": ["CAP_NET_RAW"]}},
      {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "4.8"}}
    ]})");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->default_action, "SCMP_ACT_ALLOW");
  ASSERT_EQ(p->syscalls.size(), 3u);
  EXPECT_EQ(p->syscalls[0].names, std::vector<std::string>{"mkdir"});
  EXPECT_EQ(p->syscalls[0].errno_ret, 13u);
  auto r = ResolveSeccomp(*p, {"CAP_CHOWN"}, "amd64", KernelVersion{6, 1});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->architectures, std::vector<std::string>{"SCMP_ARCH_X86_64"});
  ASSERT_EQ(r->syscalls.size(), 1u);  // socket needs CAP_NET_RAW; ptrace is excluded on >= 4.8
  r = ResolveSeccomp(*p, {"CAP_NET_RAW"}, "amd64", KernelVersion{4, 4});
  EXPECT_EQ(r->syscalls.size(), 3u);

  // A profile with neither a default action nor rules turns seccomp off, as Docker reads it.
  auto off = ParseSeccompProfile("{}");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(ResolveSeccomp(*off, {}, "amd64", KernelVersion{6, 1}).has_value());

  EXPECT_NE(ParseSeccompProfile("{x").status().message().find("Decoding seccomp profile failed"),
            std::string::npos);
  EXPECT_EQ(ParseSeccompProfile(R"({"defaultAction": 1})").status().message(),
            "Decoding seccomp profile failed: json: cannot unmarshal number 1 into Go struct field "
            "Seccomp.defaultAction of type string");
  EXPECT_FALSE(ParseSeccompProfile(R"({"defaultAction": "SCMP_ACT_NOPE"})").ok());
  EXPECT_FALSE(ParseSeccompProfile(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "LT"}]}]})")
                   .ok());
  EXPECT_FALSE(ParseSeccompProfile(
                   R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
      "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]})")
                   .ok());
  EXPECT_FALSE(ParseSeccompProfile(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]})")
                   .ok());
}

TEST(Seccomp, TheContainersFilterIsWrittenForRunc) {
  json spec = Spec(spec::HostConfig());
  const json& s = spec["linux"]["seccomp"];
  EXPECT_EQ(s["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(s["defaultErrnoRet"], 1);
  bool personality = false;
  for (const json& r : s["syscalls"]) {
    EXPECT_FALSE(r.contains("includes"));
    if (r["names"] == json({"personality"}) && r["args"][0]["value"] == 0xffffffffu)
      personality =
          r["args"][0] ==
          json({{"index", 0}, {"value", 0xffffffffu}, {"valueTwo", 0}, {"op", "SCMP_CMP_EQ"}});
  }
  EXPECT_TRUE(personality);
  json custom = Spec(Hc(
      {{"SecurityOpt",
        {R"(seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]})"}}}));
  EXPECT_EQ(custom["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
  EXPECT_EQ(custom["linux"]["seccomp"]["syscalls"][0],
            json({{"names", {"mkdir"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 13}}));
}

TEST(Seccomp, KernelVersions) {
  EXPECT_EQ(ParseKernelVersion("6.18.44-fc-v1045")->major, 6);
  EXPECT_EQ(ParseKernelVersion("6.18.44-fc-v1045")->minor, 18);
  EXPECT_EQ(ParseKernelVersion("4.8")->minor, 8);
  EXPECT_FALSE(ParseKernelVersion("four").ok());
  EXPECT_GT(RunningKernel().major, 0);
}

}  // namespace
}  // namespace berth::engine
