// runc's config.json (the OCI runtime spec) from a container's typed settings, as Docker derives
// it. This file writes runc's format, so it is one of the few in src/engine that handles JSON.

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "engine/container_update.h"
#include "engine/runtime.h"
#include "nlohmann/json.hpp"

namespace berth::engine {

using nlohmann::json;

namespace {

// Where --init's binary appears in the container, as in Docker.
constexpr char kInitInContainer[] = "/sbin/docker-init";

json Mount(const std::string& dst, const std::string& type, const std::string& src,
           std::vector<std::string> options) {
  return {{"destination", dst}, {"type", type}, {"source", src}, {"options", options}};
}

void ClearReadOnly(json& mount) {
  auto& o = mount["options"];
  o.erase(std::remove(o.begin(), o.end(), "ro"), o.end());
}

json SeccompJson(const SeccompProfile& p) {
  json out = {{"defaultAction", p.default_action}};
  if (p.default_errno_ret) out["defaultErrnoRet"] = *p.default_errno_ret;
  if (!p.architectures.empty()) out["architectures"] = p.architectures;
  if (!p.flags.empty()) out["flags"] = p.flags;
  if (!p.listener_path.empty()) out["listenerPath"] = p.listener_path;
  if (!p.listener_metadata.empty()) out["listenerMetadata"] = p.listener_metadata;
  json calls = json::array();
  for (const SeccompRule& r : p.syscalls) {
    json c = {{"names", r.names}, {"action", r.action}};
    if (r.errno_ret) c["errnoRet"] = *r.errno_ret;
    if (!r.args.empty()) {
      json args = json::array();
      for (const SeccompArg& a : r.args)
        args.push_back({{"index", a.index}, {"value", a.value}, {"valueTwo", a.value_two}, {"op", a.op}});
      c["args"] = args;
    }
    calls.push_back(std::move(c));
  }
  out["syscalls"] = calls;
  return out;
}

json Rlimits(const spec::HostConfig& hc) {
  json out = json::array();
  for (const spec::Ulimit& u : spec::OrEmpty(hc.resources.ulimits)) {
    const RlimitName* r = FindRlimit(u.name);
    if (!r) continue;  // create refuses it
    // -1 (unlimited) is RLIM_INFINITY as an unsigned number.
    out.push_back({{"type", r->oci}, {"hard", static_cast<uint64_t>(u.hard)}, {"soft", static_cast<uint64_t>(u.soft)}});
  }
  return out;
}

json BlkioDeviceJson(const std::vector<BlkioDeviceLimit>& limits, const char* value_key) {
  json out = json::array();
  for (const BlkioDeviceLimit& l : limits)
    out.push_back({{"major", l.major}, {"minor", l.minor}, {value_key, l.value}});
  return out;
}

// The settings runc gets at create and `docker update` never changes (container_update.cc
// refuses them in an update): memory swappiness and the OOM killer, real-time CPU bandwidth and
// the per-device Block I/O weights and throttles.
void AddCreateOnlyResources(const spec::Resources& r, const BlkioDeviceLimits& blkio,
                            json& resources) {
  // -1 is Docker's "unset" (the CLI's default).
  if (r.memory_swappiness && *r.memory_swappiness >= 0)
    resources["memory"]["swappiness"] = *r.memory_swappiness;
  if (r.oom_kill_disable.value_or(false)) resources["memory"]["disableOOMKiller"] = true;
  if (r.cpu_realtime_period > 0) resources["cpu"]["realtimePeriod"] = r.cpu_realtime_period;
  if (r.cpu_realtime_runtime != 0) resources["cpu"]["realtimeRuntime"] = r.cpu_realtime_runtime;
  const std::pair<const char*, const std::vector<BlkioDeviceLimit>*> throttles[] = {
      {"throttleReadBpsDevice", &blkio.read_bps},
      {"throttleWriteBpsDevice", &blkio.write_bps},
      {"throttleReadIOPSDevice", &blkio.read_iops},
      {"throttleWriteIOPSDevice", &blkio.write_iops}};
  if (!blkio.weight.empty()) resources["blockIO"]["weightDevice"] = BlkioDeviceJson(blkio.weight, "weight");
  for (const auto& [key, limits] : throttles)
    if (!limits->empty()) resources["blockIO"][key] = BlkioDeviceJson(*limits, "rate");
}

}  // namespace

// The runc side of container_update.h: this file owns runc's format.
std::string OciCgroupResourcesJson(const spec::Resources& r) {
  json out = json::object();
  if (r.memory > 0) {
    out["memory"] = {{"limit", r.memory}, {"swap", EffectiveMemorySwap(r)}};
  }
  if (r.memory_reservation > 0) out["memory"]["reservation"] = r.memory_reservation;
  json cpu = json::object();
  if (r.nano_cpus > 0) {
    cpu["period"] = 100000;
    cpu["quota"] = r.nano_cpus * 100000 / 1000000000;
  } else {
    if (r.cpu_period > 0) cpu["period"] = r.cpu_period;
    if (r.cpu_quota != 0) cpu["quota"] = r.cpu_quota;
  }
  if (r.cpu_shares > 0) cpu["shares"] = r.cpu_shares;
  if (!r.cpuset_cpus.empty()) cpu["cpus"] = r.cpuset_cpus;
  if (!r.cpuset_mems.empty()) cpu["mems"] = r.cpuset_mems;
  if (!cpu.empty()) out["cpu"] = cpu;
  // 0 or less is unlimited: runc writes "max" for -1 (its 0 means "leave as is").
  if (r.pids_limit) out["pids"] = {{"limit", *r.pids_limit > 0 ? *r.pids_limit : -1}};
  if (r.blkio_weight > 0) out["blockIO"] = {{"weight", r.blkio_weight}};
  return out.dump();
}

StatusOr<std::string> BuildOciSpec(const OciInputs& in) {
  static const spec::HostConfig kEmpty;
  const spec::HostConfig& hc = in.host_config ? *in.host_config : kEmpty;
  const spec::Resources& r = hc.resources;
  ASSIGN_OR_RETURN(SecurityOptions security, ParseSecurityOpts(spec::OrEmpty(hc.security_opt)));
  auto caps = Capabilities(hc, in.available_caps);
  bool init = hc.init.value_or(false);
  std::vector<std::string> args = in.args;
  if (init) {
    // tini as PID 1 reaps orphans and forwards signals; the command is its child.
    args.insert(args.begin(), {kInitInContainer, "--"});
  }
  json process = {
      {"terminal", in.tty},
      {"user", {{"uid", in.uid}, {"gid", in.gid}}},
      {"args", args},
      {"env", in.env},
      {"cwd", in.cwd.empty() ? "/" : in.cwd},
      {"capabilities",
       {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"inheritable", json::array()}}},
      {"noNewPrivileges", security.no_new_privileges},
      {"oomScoreAdj", hc.oom_score_adj}};
  if (!in.additional_gids.empty()) process["user"]["additionalGids"] = in.additional_gids;
  if (in.tty && in.rows > 0 && in.cols > 0)
    process["consoleSize"] = {{"height", in.rows}, {"width", in.cols}};
  if (json rl = Rlimits(hc); !rl.empty()) process["rlimits"] = rl;

  json mounts = json::array({
      Mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      Mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
  });
  // /dev/shm: the host's for --ipc host, none for --ipc none, else the container's own.
  if (hc.ipc_mode == "host") {
    mounts.push_back(Mount("/dev/shm", "bind", "/dev/shm", {"rbind", "rprivate"}));
  } else if (hc.ipc_mode != "none") {
    int64_t shm = hc.shm_size > 0 ? hc.shm_size : 67108864;
    mounts.push_back(Mount("/dev/shm", "tmpfs", "shm",
                           {"nosuid", "noexec", "nodev", "mode=1777", "size=" + std::to_string(shm)}));
  }
  if (hc.privileged) {
    // Docker: a privileged container's /sys and cgroup tree are writable.
    for (auto& m : mounts)
      if (m["destination"] == "/sys" || m["type"] == "cgroup") ClearReadOnly(m);
  }
  for (const char* f : {"hostname", "hosts", "resolv.conf"})
    mounts.push_back(Mount(std::string("/etc/") + f, "bind", in.container_dir + "/" + f,
                           {"rbind", "rprivate"}));
  for (const OciMount& m : in.mounts) mounts.push_back(Mount(m.destination, m.type, m.source, m.options));
  for (const auto& [dst, data] : hc.tmpfs) {
    ASSIGN_OR_RETURN(std::vector<std::string> opts, TmpfsOptions(data));
    mounts.push_back(Mount(dst, "tmpfs", "tmpfs", opts));
  }
  if (init) mounts.push_back(Mount(kInitInContainer, "bind", in.init_path, {"bind", "ro"}));

  // Host modes share berthd's namespace by leaving the type out (runc then stays in its own).
  json namespaces = json::array();
  if (!in.pid_ns_path.empty()) namespaces.push_back({{"type", "pid"}, {"path", in.pid_ns_path}});
  else if (hc.pid_mode != "host") namespaces.push_back({{"type", "pid"}});
  if (hc.ipc_mode != "host") namespaces.push_back({{"type", "ipc"}});
  if (hc.uts_mode != "host") namespaces.push_back({{"type", "uts"}});
  namespaces.push_back({{"type", "mount"}});
  if (in.netns_path.empty()) namespaces.push_back({{"type", "network"}});
  else if (in.netns_path != "host") namespaces.push_back({{"type", "network"}, {"path", in.netns_path}});

  // The cgroup limits as `docker update` applies them too (container_update.cc), then those set
  // at create only.
  json resources = json::parse(OciCgroupResourcesJson(r));
  AddCreateOnlyResources(r, in.blkio, resources);
  resources["devices"] = json::array({{{"allow", false}, {"access", "rwm"}}});

  json linux = {{"namespaces", namespaces},
                {"resources", resources},
                {"cgroupsPath", ContainerCgroupsPath(r, in.id)},
                {"maskedPaths", spec::OrEmpty(hc.masked_paths)},
                {"readonlyPaths", spec::OrEmpty(hc.readonly_paths)}};
  if (!in.rootfs_propagation.empty()) linux["rootfsPropagation"] = in.rootfs_propagation;
  auto& cgroup_devices = linux["resources"]["devices"];
  if (hc.privileged) {
    linux["maskedPaths"] = json::array();
    linux["readonlyPaths"] = json::array();
    cgroup_devices = json::array({{{"allow", true}, {"access", "rwm"}}});
  } else {
    for (int minor : {3, 5, 7, 8, 9})  // null zero full random urandom
      cgroup_devices.push_back(
          {{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", minor}, {"access", "rwm"}});
    cgroup_devices.push_back({{"allow", true}, {"type", "c"}, {"major", 5}, {"minor", 0}, {"access", "rwm"}});
    cgroup_devices.push_back({{"allow", true}, {"type", "c"}, {"major", 5}, {"minor", 2}, {"access", "rwm"}});
    cgroup_devices.push_back({{"allow", true}, {"type", "c"}, {"major", 136}, {"access", "rwm"}});
  }
  if (!in.devices.empty()) {
    json devices = json::array();
    for (const ContainerDevice& d : in.devices) {
      devices.push_back({{"path", d.path},
                         {"type", std::string(1, d.node.type)},
                         {"major", d.node.major},
                         {"minor", d.node.minor},
                         {"fileMode", d.node.mode},
                         {"uid", d.node.uid},
                         {"gid", d.node.gid}});
      if (!hc.privileged)
        cgroup_devices.push_back({{"allow", true},
                                  {"type", std::string(1, d.node.type)},
                                  {"major", d.node.major},
                                  {"minor", d.node.minor},
                                  {"access", d.permissions}});
    }
    linux["devices"] = devices;
  }
  // After the defaults and the mapped devices, as dockerd's WithDevices; a privileged container
  // has every device already.
  if (!hc.privileged) {
    for (const std::string& text : spec::OrEmpty(r.device_cgroup_rules)) {
      ASSIGN_OR_RETURN(DeviceCgroupRule rule, ParseDeviceCgroupRule(text));
      cgroup_devices.push_back({{"allow", true},
                                {"type", rule.type},
                                {"major", rule.major},
                                {"minor", rule.minor},
                                {"access", rule.access}});
    }
  }
  if (auto profile = ContainerSeccomp(security, hc.privileged)) {
    if (auto resolved = ResolveSeccomp(*profile, caps, NativeArch(), in.kernel))
      linux["seccomp"] = SeccompJson(*resolved);
  }

  json spec = {{"ociVersion", "1.0.2-dev"},
               {"process", process},
               {"root", {{"path", "rootfs"}, {"readonly", hc.readonly_rootfs}}},
               {"mounts", mounts},
               {"linux", linux}};
  // Sharing the host's UTS namespace, the container may not set a hostname (runc refuses it).
  if (hc.uts_mode != "host") spec["hostname"] = in.hostname;
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
                  {"noNewPrivileges", p.no_new_privileges}};
  if (!p.additional_gids.empty()) process["user"]["additionalGids"] = p.additional_gids;
  if (p.rows > 0 && p.cols > 0) process["consoleSize"] = {{"height", p.rows}, {"width", p.cols}};
  return process.dump();
}

}  // namespace berth::engine
