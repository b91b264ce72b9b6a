// Unit tests (no root) for the cgroup settings set at create (engine/cgroup_options.h): what runc's
// spec gets for each, and each refusal with dockerd's words where dockerd has them.
#include "engine/cgroup_options.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "engine/host_options.h"
#include "engine/runtime.h"
#include "nlohmann/json.hpp"
#include "oci_test_util.h"
#include "spec/json/container_json.h"

namespace berth::engine {
namespace {

using nlohmann::json;
using oci_test::Hc;
using oci_test::Spec;

// A host with every feature, whose parent cgroups have `runtime` of real-time CPU per second.
HostFacts Host(int64_t runtime = 950000) {
  HostFacts h;
  h.rt_bandwidth = [runtime](const std::string&) -> std::optional<RtBandwidth> {
    return RtBandwidth{1000000, runtime};
  };
  return h;
}

std::string Refusal(const json& hc, const HostFacts& host = Host()) {
  return std::string(VerifyRunOptions(spec::ContainerConfig(), Hc(hc), host).message());
}

// The first block device the host has, for the stat() that gives major:minor.
std::string SomeBlockDevice() {
  for (const char* p : {"/dev/loop0", "/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/ram0"}) {
    struct stat st;
    if (::stat(p, &st) == 0 && S_ISBLK(st.st_mode)) return p;
  }
  return "";
}

TEST(CgroupOptions, MemoryAndRealtimeSettingsReachRuncsSpec) {
  json r = Spec(Hc({{"MemorySwappiness", 10},
                    {"OomKillDisable", true},
                    {"Memory", 64 << 20},
                    {"CpuRealtimePeriod", 1000000},
                    {"CpuRealtimeRuntime", 50000}}))["linux"]["resources"];
  EXPECT_EQ(r["memory"]["swappiness"], 10);
  EXPECT_EQ(r["memory"]["disableOOMKiller"], true);
  EXPECT_EQ(r["memory"]["limit"], 64 << 20);
  EXPECT_EQ(r["cpu"]["realtimePeriod"], 1000000);
  EXPECT_EQ(r["cpu"]["realtimeRuntime"], 50000);
  // The CLI's defaults (-1, false) leave the kernel's.
  r = Spec(Hc({{"MemorySwappiness", -1}, {"OomKillDisable", false}}))["linux"]["resources"];
  EXPECT_FALSE(r.contains("memory")) << r;
  EXPECT_FALSE(r.contains("cpu")) << r;
  // Swappiness 0 is a value, not "unset".
  EXPECT_EQ(Spec(Hc({{"MemorySwappiness", 0}}))["linux"]["resources"]["memory"]["swappiness"], 0);
}

TEST(CgroupOptions, BlockIoDevicesGoByMajorMinor) {
  OciInputs in;
  in.blkio.weight = {{8, 0, 300}};
  in.blkio.read_bps = {{254, 0, 1048576}};
  in.blkio.write_bps = {{254, 0, 2097152}};
  in.blkio.read_iops = {{7, 1, 100}};
  in.blkio.write_iops = {{7, 1, 200}};
  json b = Spec(Hc({{"BlkioWeight", 500}}), in)["linux"]["resources"]["blockIO"];
  EXPECT_EQ(b["weight"], 500);
  EXPECT_EQ(b["weightDevice"], json::parse(R"([{"major":8,"minor":0,"weight":300}])"));
  EXPECT_EQ(b["throttleReadBpsDevice"], json::parse(R"([{"major":254,"minor":0,"rate":1048576}])"));
  EXPECT_EQ(b["throttleWriteBpsDevice"], json::parse(R"([{"major":254,"minor":0,"rate":2097152}])"));
  EXPECT_EQ(b["throttleReadIOPSDevice"], json::parse(R"([{"major":7,"minor":1,"rate":100}])"));
  EXPECT_EQ(b["throttleWriteIOPSDevice"], json::parse(R"([{"major":7,"minor":1,"rate":200}])"));
  EXPECT_FALSE(Spec(Hc({}))["linux"]["resources"].contains("blockIO"));

  // The numbers come from stat(), as dockerd takes them.
  std::string dev = SomeBlockDevice();
  if (dev.empty()) GTEST_SKIP() << "no block device to stat";
  struct stat st;
  ASSERT_EQ(::stat(dev.c_str(), &st), 0);
  spec::HostConfig hc = Hc({{"BlkioDeviceReadBps", {{{"Path", dev}, {"Rate", 4096}}}},
                            {"BlkioDeviceWriteIOps", {{{"Path", dev}, {"Rate", 10}}}}});
  auto limits = ResolveBlkioDevices(hc.resources);
  ASSERT_TRUE(limits.ok()) << limits.status();
  int64_t maj = major(st.st_rdev), min = minor(st.st_rdev);
  EXPECT_EQ(limits->read_bps, (std::vector<BlkioDeviceLimit>{{maj, min, 4096}}));
  EXPECT_EQ(limits->write_iops, (std::vector<BlkioDeviceLimit>{{maj, min, 10}}));
  EXPECT_TRUE(limits->write_bps.empty());
  EXPECT_TRUE(VerifyRunOptions(spec::ContainerConfig(), hc, Host()).ok());
}

TEST(CgroupOptions, DeviceCgroupRulesFollowTheDefaultsAndMappedDevices) {
  OciInputs in;
  in.devices = {
      ContainerDevice{sys::DeviceNode{"/dev/fuse", 'c', 10, 229, 0600, 0, 0}, "/dev/fuse", "rw"}};
  spec::HostConfig hc = Hc({{"DeviceCgroupRules", {"c 1:3 rwm", "b *:* r", "a *:* m"}}});
  json devices = Spec(hc, in)["linux"]["resources"]["devices"];
  ASSERT_GE(devices.size(), 4u);
  size_t n = devices.size();
  EXPECT_EQ(devices[n - 4]["minor"], 229);  // the mapped device, then the rules in order
  EXPECT_EQ(devices[n - 3],
            json({{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"access", "rwm"}}));
  EXPECT_EQ(devices[n - 2],
            json({{"allow", true}, {"type", "b"}, {"major", -1}, {"minor", -1}, {"access", "r"}}));
  EXPECT_EQ(devices[n - 1],
            json({{"allow", true}, {"type", "a"}, {"major", -1}, {"minor", -1}, {"access", "m"}}));
  // Privileged: every device already, as dockerd.
  hc.privileged = true;
  EXPECT_EQ(Spec(hc)["linux"]["resources"]["devices"],
            json::parse(R"([{"allow":true,"access":"rwm"}])"));
}

TEST(CgroupOptions, CgroupParentPlacesTheContainer) {
  auto path = [](const std::string& parent) {
    spec::Resources r;
    r.cgroup_parent = parent;
    return ContainerCgroupsPath(r, "abc");
  };
  EXPECT_EQ(path(""), "/berth/abc");
  EXPECT_EQ(path("/bt-parent"), "/bt-parent/abc");
  EXPECT_EQ(path("/a/./b/"), "/a/b/abc");
  EXPECT_EQ(path("/../../x"), "/x/abc");  // never above the root, as runc cleans it
  EXPECT_EQ(path("/"), "/abc");
  EXPECT_EQ(path("mine"), "mine/abc");  // below the runtime's own cgroup, as dockerd leaves it
  EXPECT_EQ(path("../mine/.."), "abc");
  EXPECT_EQ(Spec(Hc({{"CgroupParent", "/bt-parent"}}))["linux"]["cgroupsPath"], "/bt-parent/abc");
  EXPECT_EQ(Spec(Hc({}))["linux"]["cgroupsPath"], "/berth/abc");
}

TEST(CgroupOptions, WhatTheKernelLacksIsRefusedWithDockersWords) {
  HostFacts host = Host();
  host.cgroup = CgroupFeatures{false, false, false, false, false, false, false};
  EXPECT_EQ(Refusal({{"MemorySwappiness", 10}}, host),
            "Your kernel does not support memory swappiness capabilities or the cgroup is not "
            "mounted");
  EXPECT_EQ(Refusal({{"OomKillDisable", true}}, host),
            "Your kernel does not support OomKillDisable");
  EXPECT_EQ(Refusal({{"CpuRealtimeRuntime", 1000}}, host),
            "Your kernel does not support CPU real-time scheduler");
  EXPECT_EQ(Refusal({{"CpuRealtimePeriod", 1000}}, host),
            "Your kernel does not support CPU real-time scheduler");
  auto throttle = json::array({{{"Path", "/dev/vda"}, {"Rate", 1}}});
  EXPECT_EQ(Refusal({{"BlkioDeviceReadBps", throttle}}, host),
            "Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted");
  EXPECT_EQ(Refusal({{"BlkioDeviceWriteBps", throttle}}, host),
            "Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted");
  EXPECT_EQ(Refusal({{"BlkioDeviceReadIOps", throttle}}, host),
            "Your kernel does not support IOPS Block read limit or the cgroup is not mounted");
  EXPECT_EQ(Refusal({{"BlkioDeviceWriteIOps", throttle}}, host),
            "Your kernel does not support IOPS Block write limit or the cgroup is not mounted");
  // The CLI's defaults are not settings.
  EXPECT_EQ(Refusal({{"MemorySwappiness", -1}, {"OomKillDisable", false}}, host), "");
}

TEST(CgroupOptions, DockersChecksOfTheValues) {
  EXPECT_EQ(Refusal({{"MemorySwappiness", 101}}),
            "Invalid value: 101, valid memory swappiness range is 0-100");
  EXPECT_EQ(Refusal({{"MemorySwappiness", -2}}),
            "Invalid value: -2, valid memory swappiness range is 0-100");
  EXPECT_EQ(Refusal({{"MemorySwappiness", 100}}), "");
  EXPECT_EQ(Refusal({{"CpuRealtimePeriod", 1000}, {"CpuRealtimeRuntime", 2000}}),
            "cpu real-time runtime cannot be higher than cpu real-time period");
  EXPECT_EQ(Refusal({{"DeviceCgroupRules", {"c 1:3 rwx"}}}),
            "invalid device cgroup rule format: 'c 1:3 rwx'");
  EXPECT_EQ(Refusal({{"DeviceCgroupRules", {"x 1:3 r"}}}),
            "invalid device cgroup rule format: 'x 1:3 r'");
  EXPECT_EQ(Refusal({{"DeviceCgroupRules", {"c 1 r"}}}),
            "invalid device cgroup rule format: 'c 1 r'");
  EXPECT_EQ(Refusal({{"DeviceCgroupRules", {"c 99999999999999999999:3 r"}}}),
            "invalid major value in device cgroup rule format: 'c 99999999999999999999:3 r'");
  EXPECT_EQ(Refusal({{"DeviceCgroupRules", {"c 1:3 rwm", "a *:* rwm"}}}), "");
  EXPECT_EQ(Refusal({{"BlkioDeviceReadBps", {{{"Path", "/dev/no-such-disk"}, {"Rate", 1}}}}}),
            "stat /dev/no-such-disk: no such file or directory");
  EXPECT_EQ(Refusal({{"BlkioDeviceWriteIOps", {{{"Path", "/dev/null"}, {"Rate", 1}}}}}),
            "--device-write-iops /dev/null: not a block device");
  // A partition is a block device too, but the kernel's blkio files take whole disks only.
  for (const char* part : {"/dev/vda1", "/dev/sda1", "/dev/nvme0n1p1", "/dev/xvda1"}) {
    if (::access(part, F_OK) != 0) continue;
    EXPECT_EQ(Refusal({{"BlkioDeviceReadBps", {{{"Path", part}, {"Rate", 1}}}}}),
              absl::StrCat("--device-read-bps ", part,
                           ": a partition; Block I/O weights and limits apply to whole disks"));
    break;
  }
  // A systemd slice is not a cgroupfs path.
  EXPECT_EQ(Refusal({{"CgroupParent", "system.slice:berth:x"}}),
            "--cgroup-parent system.slice:berth:x: a systemd slice (name:prefix:name) is not a "
            "cgroup path; Berth uses the cgroupfs driver, give a path such as /mygroup");
  // --gpus: no device driver, as dockerd without the NVIDIA hook.
  EXPECT_EQ(Refusal(json::parse(
                R"({"DeviceRequests": [{"Driver": "", "Count": -1, "Capabilities": [["gpu"]]}]})")),
            "could not select device driver \"\" with capabilities: [[gpu]]");
  EXPECT_EQ(Refusal(json::parse(R"({"DeviceRequests": [{"Driver": "nvidia", "Count": 1,
                                    "Capabilities": [["gpu", "utility"], ["compute"]]}]})")),
            "could not select device driver \"nvidia\" with capabilities: [[gpu utility] "
            "[compute]]");
}

TEST(CgroupOptions, RealtimeRuntimeNeedsTheParentsBandwidth) {
  json want = {{"CpuRealtimeRuntime", 50000}};
  EXPECT_EQ(Refusal(want, Host(950000)), "");
  EXPECT_EQ(Refusal(want, Host(-1)), "");  // unlimited
  std::string none = Refusal(want, Host(0));
  EXPECT_NE(none.find("the cgroup parent /berth has 0us of real-time CPU time per 1000000us"),
            std::string::npos)
      << none;
  // Shares compare per period: 50000 of 100000 is more than 400000 of 1000000.
  EXPECT_NE(Refusal({{"CpuRealtimePeriod", 100000}, {"CpuRealtimeRuntime", 50000}}, Host(400000)),
            "");
  EXPECT_EQ(Refusal({{"CpuRealtimePeriod", 100000}, {"CpuRealtimeRuntime", 40000}}, Host(400000)),
            "");
  HostFacts missing;
  std::string asked;
  missing.rt_bandwidth = [&](const std::string& parent) -> std::optional<RtBandwidth> {
    asked = parent;
    return std::nullopt;
  };
  std::string msg = Refusal({{"CpuRealtimeRuntime", 1000}, {"CgroupParent", "/rt/./x"}}, missing);
  EXPECT_EQ(asked, "/rt/x");
  EXPECT_NE(msg.find("the cgroup parent /rt/x does not exist"), std::string::npos) << msg;
  // A period alone asks for no runtime.
  EXPECT_EQ(Refusal({{"CpuRealtimePeriod", 500000}}, missing), "");
}

TEST(CgroupOptions, StorageOptsAndLinkLocalAddressesAreRefused) {
  Status st = VerifyRunOptions(spec::ContainerConfig(), Hc({{"StorageOpt", {{"size", "1G"}}}}), Host());
  EXPECT_EQ(st.message(), "--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);  // dockerd: 500, from its layer store
  EXPECT_EQ(Refusal({{"StorageOpt", {{"Foo", "1"}}}}), "Unknown option foo");
  spec::NetworkingConfig net;
  spec::EndpointSettings ep;
  ep.ipam_config = spec::EndpointIPAMConfig{"10.0.0.5", "", {"169.254.1.1", "fe80::9"}};
  net.endpoints_config = std::map<std::string, spec::EndpointSettings>{{"front", ep}};
  EXPECT_EQ(VerifyEndpointSettings(net).message(),
            "--link-local-ip 169.254.1.1,fe80::9 (network front): Berth does not add link-local "
            "addresses to a container's interface; leave it out");
  ep.ipam_config->link_local_ips.clear();
  net.endpoints_config = std::map<std::string, spec::EndpointSettings>{{"front", ep}};
  EXPECT_TRUE(VerifyEndpointSettings(net).ok());
  EXPECT_TRUE(VerifyEndpointSettings(spec::NetworkingConfig()).ok());
}

TEST(CgroupOptions, FeaturesAndBandwidthAreReadFromTheHierarchies) {
  char tmpl[] = "/tmp/bt-cgroupopts.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  namespace fs = std::filesystem;
  // v1: the files at each hierarchy's root.
  fs::create_directories(root + "/cpu/rt");
  fs::create_directories(root + "/memory");
  fs::create_directories(root + "/blkio");
  CgroupFeatures none = ProbeCgroupFeatures(root);
  EXPECT_FALSE(none.cpu_realtime || none.memory_swappiness || none.oom_kill_disable ||
               none.blkio_read_bps || none.blkio_write_iops);
  for (const char* f : {"/cpu/cpu.rt_period_us", "/cpu/cpu.rt_runtime_us", "/memory/memory.swappiness",
                        "/memory/memory.oom_control", "/blkio/blkio.throttle.read_bps_device",
                        "/blkio/blkio.throttle.write_bps_device",
                        "/blkio/blkio.throttle.read_iops_device",
                        "/blkio/blkio.throttle.write_iops_device"})
    std::ofstream(root + f) << "0\n";
  CgroupFeatures all = ProbeCgroupFeatures(root);
  EXPECT_TRUE(all.cpu_realtime && all.memory_swappiness && all.oom_kill_disable &&
              all.blkio_read_bps && all.blkio_write_bps && all.blkio_read_iops &&
              all.blkio_write_iops);
  std::ofstream(root + "/cpu/rt/cpu.rt_period_us") << "1000000\n";
  std::ofstream(root + "/cpu/rt/cpu.rt_runtime_us") << "20000\n";
  auto bw = ReadRtBandwidth("/rt", root);
  ASSERT_TRUE(bw.has_value());
  EXPECT_EQ(bw->period_us, 1000000);
  EXPECT_EQ(bw->runtime_us, 20000);
  EXPECT_FALSE(ReadRtBandwidth("/not-made", root).has_value());
  fs::remove_all(root);

  // cgroup v2 alone: the throttles are io.max, there when the root hands "io" down; the rest
  // has no v2 file.
  char tmpl2[] = "/tmp/bt-cgroupopts.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl2), nullptr);
  root = tmpl2;
  std::ofstream(root + "/cgroup.subtree_control") << "cpu io memory pids\n";
  CgroupFeatures v2 = ProbeCgroupFeatures(root);
  EXPECT_TRUE(v2.blkio_read_bps && v2.blkio_write_iops);
  EXPECT_FALSE(v2.cpu_realtime || v2.memory_swappiness || v2.oom_kill_disable);
  fs::remove_all(root);
}

}  // namespace
}  // namespace berth::engine
