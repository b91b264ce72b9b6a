// runc's config.json (the OCI runtime spec) from a container's typed settings, as Docker derives
// it. This file writes runc's format, so it is one of the few in src/engine that handles JSON.

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "engine/runtime.h"
#include "nlohmann/json.hpp"

namespace berth::engine {

using nlohmann::json;

std::vector<std::string> Capabilities(const spec::HostConfig& hc) {
  static const std::vector<std::string> kAll = {
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
      "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
      "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
      "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
      "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
      "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
      "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
      "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ"};
  // Docker's default set (moby oci/caps/defaults.go).
  static const std::vector<std::string> kDefault = {
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
      "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};
  if (hc.privileged) return kAll;
  auto norm = [](std::string c) {
    for (auto& ch : c) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
    if (!absl::StartsWith(c, "CAP_") && c != "ALL") c = "CAP_" + c;
    return c;
  };
  std::set<std::string> caps(kDefault.begin(), kDefault.end());
  for (auto& c : spec::OrEmpty(hc.cap_add)) {
    std::string n = norm(c);
    if (n == "ALL") caps.insert(kAll.begin(), kAll.end());
    else caps.insert(n);
  }
  for (auto& c : spec::OrEmpty(hc.cap_drop)) {
    std::string n = norm(c);
    if (n == "ALL") caps.clear();
    else caps.erase(n);
  }
  return {caps.begin(), caps.end()};
}

namespace {

json Mount(const std::string& dst, const std::string& type, const std::string& src,
           std::vector<std::string> options) {
  return {{"destination", dst}, {"type", type}, {"source", src}, {"options", options}};
}

}  // namespace

std::string BuildOciSpec(const OciInputs& in) {
  static const spec::HostConfig kEmpty;
  const spec::HostConfig& hc = in.host_config ? *in.host_config : kEmpty;
  const spec::Resources& r = hc.resources;
  auto caps = Capabilities(hc);
  json process = {
      {"terminal", in.tty},
      {"user", {{"uid", in.uid}, {"gid", in.gid}}},
      {"args", in.args},
      {"env", in.env},
      {"cwd", in.cwd.empty() ? "/" : in.cwd},
      {"capabilities",
       {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"inheritable", json::array()}}},
      {"noNewPrivileges", false},
      {"oomScoreAdj", hc.oom_score_adj}};
  if (!in.additional_gids.empty()) process["user"]["additionalGids"] = in.additional_gids;
  if (in.tty && in.rows > 0 && in.cols > 0)
    process["consoleSize"] = {{"height", in.rows}, {"width", in.cols}};

  json mounts = json::array({
      Mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      Mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
  });
  int64_t shm = hc.shm_size > 0 ? hc.shm_size : 67108864;
  mounts.push_back(Mount("/dev/shm", "tmpfs", "shm",
                         {"nosuid", "noexec", "nodev", "mode=1777", "size=" + std::to_string(shm)}));
  for (const char* f : {"hostname", "hosts", "resolv.conf"})
    mounts.push_back(Mount(std::string("/etc/") + f, "bind", in.container_dir + "/" + f,
                           {"rbind", "rprivate"}));
  for (auto& b : spec::OrEmpty(hc.binds)) {
    std::vector<std::string> parts = absl::StrSplit(b, ':');
    if (parts.size() < 2) continue;
    std::vector<std::string> opts = {"rbind"};
    bool ro = parts.size() > 2 && absl::StrContains(parts[2], "ro");
    opts.push_back(ro ? "ro" : "rw");
    opts.push_back("rprivate");
    mounts.push_back(Mount(parts[1], "bind", parts[0], opts));
  }

  json namespaces = json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}},
                                 {{"type", "mount"}}});
  if (in.netns_path.empty()) namespaces.push_back({{"type", "network"}});
  else if (in.netns_path != "host") namespaces.push_back({{"type", "network"}, {"path", in.netns_path}});

  json resources = {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}};
  if (r.memory > 0) {
    resources["memory"] = {{"limit", r.memory}};
    // Docker: MemorySwap 0 means twice the memory limit; -1 unlimited.
    if (r.memory_swap == 0) resources["memory"]["swap"] = r.memory * 2;
    else if (r.memory_swap > 0) resources["memory"]["swap"] = r.memory_swap;
  }
  if (r.nano_cpus > 0) resources["cpu"] = {{"period", 100000}, {"quota", r.nano_cpus * 100000 / 1000000000}};
  if (r.cpu_shares > 0) resources["cpu"]["shares"] = r.cpu_shares;
  if (r.pids_limit && *r.pids_limit > 0) resources["pids"] = {{"limit", *r.pids_limit}};

  json linux = {{"namespaces", namespaces},
                {"resources", resources},
                {"cgroupsPath", "/" + in.cgroup_parent + "/" + in.id},
                {"maskedPaths", spec::OrEmpty(hc.masked_paths)},
                {"readonlyPaths", spec::OrEmpty(hc.readonly_paths)}};
  if (hc.privileged) {
    linux["maskedPaths"] = json::array();
    linux["readonlyPaths"] = json::array();
    linux["resources"]["devices"] = json::array({{{"allow", true}, {"access", "rwm"}}});
  } else {
    for (int minor : {3, 5, 7, 8, 9})  // null zero full random urandom
      linux["resources"]["devices"].push_back(
          {{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", minor}, {"access", "rwm"}});
    linux["resources"]["devices"].push_back(
        {{"allow", true}, {"type", "c"}, {"major", 5}, {"minor", 0}, {"access", "rwm"}});
    linux["resources"]["devices"].push_back(
        {{"allow", true}, {"type", "c"}, {"major", 5}, {"minor", 2}, {"access", "rwm"}});
    linux["resources"]["devices"].push_back(
        {{"allow", true}, {"type", "c"}, {"major", 136}, {"access", "rwm"}});
  }

  json spec = {{"ociVersion", "1.0.2-dev"},
               {"process", process},
               {"root", {{"path", "rootfs"}, {"readonly", hc.readonly_rootfs}}},
               {"hostname", in.hostname},
               {"mounts", mounts},
               {"linux", linux}};
  return spec.dump();
}

std::string BuildOciProcess(const OciProcess& p) {
  json process = {{"terminal", p.terminal},
                  {"user", {{"uid", p.uid}, {"gid", p.gid}}},
                  {"args", p.args},
                  {"env", p.env},
                  {"cwd", p.cwd},
                  {"capabilities",
                   {{"bounding", p.capabilities}, {"effective", p.capabilities}, {"permitted", p.capabilities}}},
                  {"noNewPrivileges", false}};
  if (!p.additional_gids.empty()) process["user"]["additionalGids"] = p.additional_gids;
  if (p.rows > 0 && p.cols > 0) process["consoleSize"] = {{"height", p.rows}, {"width", p.cols}};
  return process.dump();
}

}  // namespace berth::engine
