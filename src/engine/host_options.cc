#include "engine/host_options.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/security.h"
#include "sys/fs.h"

namespace berth::engine {
namespace {

const RlimitName kRlimits[] = {
    {"as", "RLIMIT_AS", RLIMIT_AS},
    {"core", "RLIMIT_CORE", RLIMIT_CORE},
    {"cpu", "RLIMIT_CPU", RLIMIT_CPU},
    {"data", "RLIMIT_DATA", RLIMIT_DATA},
    {"fsize", "RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"locks", "RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"memlock", "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"msgqueue", "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"nice", "RLIMIT_NICE", RLIMIT_NICE},
    {"nofile", "RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"nproc", "RLIMIT_NPROC", RLIMIT_NPROC},
    {"rss", "RLIMIT_RSS", RLIMIT_RSS},
    {"rtprio", "RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"rttime", "RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"sigpending", "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"stack", "RLIMIT_STACK", RLIMIT_STACK},
};

// Mount flags a tmpfs option may set or clear; a pair shares one slot, so the later one wins.
const std::map<std::string, int>& TmpfsFlags() {
  static const std::map<std::string, int> k = {
      {"ro", 1},          {"rw", 1},           {"suid", 2},
      {"nosuid", 2},      {"dev", 3},          {"nodev", 3},
      {"exec", 4},        {"noexec", 4},       {"sync", 5},
      {"async", 5},       {"dirsync", 6},      {"mand", 7},
      {"nomand", 7},      {"atime", 8},        {"noatime", 8},
      {"diratime", 9},    {"nodiratime", 9},   {"relatime", 10},
      {"norelatime", 10}, {"strictatime", 11}, {"nostrictatime", 11},
      {"private", 12},    {"rprivate", 12},    {"shared", 12},
      {"rshared", 12},    {"slave", 12},       {"rslave", 12},
      {"unbindable", 12}, {"runbindable", 12}};
  return k;
}
const std::set<std::string>& TmpfsData() {
  static const std::set<std::string> k = {"size",      "mode",      "uid", "gid",
                                          "nr_inodes", "nr_blocks", "mpol"};
  return k;
}

std::string Quoted(const std::vector<std::string>& v) {
  std::vector<std::string> q;
  for (const auto& s : v) q.push_back(absl::StrCat("\"", s, "\""));
  return absl::StrCat("[", absl::StrJoin(q, " "), "]");
}

std::string OnlineList(const std::string& path) {
  auto s = sys::ReadFile(path);
  if (!s.ok()) return "0";
  return std::string(absl::StripAsciiWhitespace(*s));
}

Status VerifyNamespaceModes(const spec::ContainerConfig& config, const spec::HostConfig& hc) {
  auto joins = [](const std::string& mode) { return absl::StartsWith(mode, "container:"); };
  // container:NAME is looked up at start, when that container must be running (as in Docker).
  if (!hc.pid_mode.empty() && hc.pid_mode != "host" &&
      (!joins(hc.pid_mode) || hc.pid_mode.size() == 10))
    return absl::InvalidArgumentError("invalid PID mode: " + hc.pid_mode);
  const std::string& ipc = hc.ipc_mode;
  if (!ipc.empty() && ipc != "host" && ipc != "private" && ipc != "shareable" && ipc != "none") {
    if (!joins(ipc)) return absl::InvalidArgumentError("invalid IPC mode: " + ipc);
    // Joining needs the donor's /dev/shm as well, which lives only in the donor's mount namespace.
    return absl::InvalidArgumentError(
        "--ipc " + ipc +
        ": Berth cannot join another container's IPC namespace; use --ipc host, "
        "private or none");
  }
  if (!hc.uts_mode.empty() && hc.uts_mode != "host")
    return absl::InvalidArgumentError("invalid UTS mode: " + hc.uts_mode);
  if (hc.uts_mode == "host" && !config.hostname.empty())
    return absl::InvalidArgumentError("conflicting options: hostname and the UTS mode");
  return absl::OkStatus();
}

Status VerifyUlimits(const spec::HostConfig& hc, const HostFacts& host) {
  bool can_raise = std::find(host.capabilities.begin(), host.capabilities.end(),
                             "CAP_SYS_RESOURCE") != host.capabilities.end();
  for (const spec::Ulimit& u : spec::OrEmpty(hc.resources.ulimits)) {
    const RlimitName* r = FindRlimit(u.name);
    if (!r) return absl::InvalidArgumentError("invalid ulimit type: " + u.name);
    // -1 is unlimited, as in go-units; any other negative value is not a limit.
    if ((u.soft < 0 && u.soft != -1) || (u.hard < 0 && u.hard != -1))
      return absl::InvalidArgumentError(
          absl::StrCat("invalid ulimit ", u.name, ": a limit must not be negative"));
    uint64_t soft = static_cast<uint64_t>(u.soft), hard = static_cast<uint64_t>(u.hard);
    if (soft > hard)
      return absl::InvalidArgumentError(absl::StrCat(
          "ulimit soft limit must be less than or equal to hard limit: ", u.soft, " > ", u.hard));
    if (!can_raise && host.hard_limit) {
      uint64_t mine = host.hard_limit(r->resource);
      if (mine != RLIM_INFINITY && hard > mine)
        return absl::InvalidArgumentError(absl::StrCat(
            "--ulimit ", u.name, "=", u.soft, ":", u.hard,
            ": the hard limit is above berthd's own (", mine,
            ") and berthd lacks CAP_SYS_RESOURCE on this machine, so the kernel would refuse it"));
    }
  }
  return absl::OkStatus();
}

Status VerifyDevices(const spec::HostConfig& hc) {
  for (const spec::DeviceMapping& d : spec::OrEmpty(hc.resources.devices)) {
    const std::string& perms = d.cgroup_permissions;
    bool ok = !perms.empty() && perms.size() <= 3;
    for (char c : perms)
      ok = ok && (c == 'r' || c == 'w' || c == 'm') && perms.find(c) == perms.rfind(c);
    if (!perms.empty() && !ok) return absl::InvalidArgumentError("invalid device mode: " + perms);
    if (!d.path_in_container.empty() && d.path_in_container[0] != '/')
      return absl::InvalidArgumentError(d.path_in_container + " is not an absolute path");
  }
  // The mapped devices only: a privileged container's host devices are gathered at start.
  spec::HostConfig mapped_only = hc;
  mapped_only.privileged = false;
  return ContainerDevices(mapped_only).status();
}

// dockerd's overlay2 driver (CreateReadWrite, parseStorageOpt): "size" needs xfs project quotas,
// any other option is unknown. Berth's overlay never sets a quota, so "size" is refused on every
// backing filesystem, with dockerd's words (a 500 there, from the layer store).
Status VerifyStorageOpt(const spec::StringMap& opts) {
  if (opts.empty()) return absl::OkStatus();
  for (const auto& [key, value] : opts)
    if (absl::AsciiStrToLower(key) == "size")
      return absl::InternalError(
          "--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
  return absl::InternalError("Unknown option " + absl::AsciiStrToLower(opts.begin()->first));
}

}  // namespace

Status VerifyEndpointSettings(const spec::NetworkingConfig& networking) {
  for (const auto& [name, ep] : spec::OrEmpty(networking.endpoints_config)) {
    if (!ep.ipam_config || ep.ipam_config->link_local_ips.empty()) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        "--link-local-ip ", absl::StrJoin(ep.ipam_config->link_local_ips, ","), " (network ", name,
        "): Berth does not add link-local addresses to a container's interface; leave it out"));
  }
  return absl::OkStatus();
}

Status VerifyCpuset(const std::string& value, const std::string& online, const char* what,
                    const char* noun) {
  if (value.empty()) return absl::OkStatus();
  auto want = ParseCpuList(value);
  if (!want.ok())
    return absl::InvalidArgumentError(absl::StrCat("Invalid value ", value, " for cpuset ", what));
  auto have = ParseCpuList(online);
  for (int c : *want)
    if (!have.ok() || !have->count(c))
      return absl::InvalidArgumentError(absl::StrCat(
          "Requested ", noun, " are not available - requested ", value, ", available: ", online));
  return absl::OkStatus();
}

const RlimitName* FindRlimit(std::string_view name) {
  for (const RlimitName& r : kRlimits)
    if (name == r.docker) return &r;
  return nullptr;
}

StatusOr<std::set<int>> ParseCpuList(std::string_view list) {
  std::set<int> out;
  if (list.empty()) return absl::InvalidArgumentError("empty list");
  for (absl::string_view part : absl::StrSplit(Av(list), ',')) {
    std::vector<absl::string_view> ends = absl::StrSplit(part, '-');
    int lo = 0, hi = 0;
    if (ends.size() > 2 || !absl::SimpleAtoi(ends[0], &lo) || lo < 0 ||
        !absl::SimpleAtoi(ends.back(), &hi) || hi < lo || hi > 8191 || ends[0].empty())
      return absl::InvalidArgumentError(absl::StrCat("invalid list ", Av(list)));
    for (int i = lo; i <= hi; ++i) out.insert(i);
  }
  return out;
}

StatusOr<std::vector<std::string>> TmpfsOptions(const std::string& data) {
  std::vector<std::string> in = {"noexec", "nosuid", "nodev", "rprivate"};
  for (absl::string_view o : absl::StrSplit(data, ',', absl::SkipEmpty())) in.emplace_back(o);
  std::vector<std::string> out;
  std::set<int> flags_seen;
  std::set<std::string> data_seen;
  for (auto it = in.rbegin(); it != in.rend(); ++it) {
    const std::string& o = *it;
    if (o == "defaults") continue;
    if (auto f = TmpfsFlags().find(o); f != TmpfsFlags().end()) {
      if (flags_seen.insert(f->second).second) out.insert(out.begin(), o);
      continue;
    }
    std::vector<std::string> kv = absl::StrSplit(o, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || !TmpfsData().count(kv[0]))
      return absl::InvalidArgumentError("Invalid tmpfs option " + Quoted(kv));
    if (data_seen.insert(kv[0]).second) out.insert(out.begin(), o);
  }
  return out;
}

StatusOr<std::vector<ContainerDevice>> ContainerDevices(const spec::HostConfig& hc) {
  std::vector<ContainerDevice> out;
  std::set<std::string> paths;
  if (hc.privileged)
    for (sys::DeviceNode& n : sys::HostDevices()) {
      std::string path = n.path;
      paths.insert(path);
      out.push_back(ContainerDevice{std::move(n), path, "rwm"});
    }
  for (const spec::DeviceMapping& d : spec::OrEmpty(hc.resources.devices)) {
    auto nodes = sys::DevicesAt(d.path_on_host);
    if (!nodes.ok()) {
      std::string why(nodes.status().message());
      if (size_t c = why.rfind(": "); c != std::string::npos) why = why.substr(c + 2);
      return absl::InvalidArgumentError(
          absl::StrCat("error gathering device information while adding custom device \"",
                       d.path_on_host, "\": ", absl::AsciiStrToLower(why)));
    }
    std::string dst = d.path_in_container.empty() ? d.path_on_host : d.path_in_container;
    std::string perms = d.cgroup_permissions.empty() ? "rwm" : d.cgroup_permissions;
    for (sys::DeviceNode& n : *nodes) {
      // A directory maps each node below it to the same place below the destination.
      std::string path =
          n.path == d.path_on_host ? dst : dst + n.path.substr(d.path_on_host.size());
      if (!paths.insert(path).second) continue;  // privileged: the host's node is there already
      out.push_back(ContainerDevice{std::move(n), path, perms});
    }
  }
  return out;
}

namespace {

// Whether any of `files` is in `dir` or in a cgroup made under it for the look (the kernel puts
// BFQ's weight files in child cgroups only, never at a hierarchy's root). Unknown (the probe
// cannot be made): true, and runc has the last word.
bool CgroupHasAny(const std::string& dir, const std::vector<std::string>& files) {
  auto any_in = [&](const std::string& d) {
    for (const std::string& f : files) {
      if (::access((d + "/" + f).c_str(), F_OK) == 0) return true;
    }
    return false;
  };
  if (any_in(dir)) return true;
  std::string probe = absl::StrCat(dir, "/berth-probe-", ::getpid());
  if (::mkdir(probe.c_str(), 0755) != 0 && errno != EEXIST) return true;
  bool found = any_in(probe);
  ::rmdir(probe.c_str());
  return found;
}

}  // namespace

bool BlkioWeightSupported(const std::string& root) {
  // cgroup v1 (or hybrid): CFQ's blkio.weight or BFQ's blkio.bfq.weight.
  if (::access((root + "/blkio").c_str(), F_OK) == 0) {
    return CgroupHasAny(root + "/blkio", {"blkio.weight", "blkio.bfq.weight"});
  }
  // cgroup v2 alone: io.bfq.weight or iocost's io.weight, where the root hands "io" down.
  std::ifstream subtree(root + "/cgroup.subtree_control");
  std::string name;
  while (subtree >> name) {
    if (name == "io") return CgroupHasAny(root, {"io.bfq.weight", "io.weight"});
  }
  return false;
}

Status VerifyBlkioWeight(const spec::Resources& r, const HostFacts& host) {
  if (host.blkio_weight) return absl::OkStatus();
  if (r.blkio_weight > 0)
    return absl::InvalidArgumentError(
        "Your kernel does not support Block I/O weight or the cgroup is not mounted");
  if (r.blkio_weight_device && !r.blkio_weight_device->empty())
    return absl::InvalidArgumentError(
        "Your kernel does not support Block I/O weight_device or the cgroup is not mounted");
  return absl::OkStatus();
}

HostFacts ReadHostFacts(std::string init_path) {
  HostFacts f;
  // The kernel's to know once: the probe makes and removes a cgroup.
  static const bool kBlkioWeight = BlkioWeightSupported();
  f.blkio_weight = kBlkioWeight;
  f.cgroup = HostCgroupFeatures();
  f.rt_bandwidth = [](const std::string& parent) { return ReadRtBandwidth(parent); };
  f.capabilities = HostCapabilities();
  f.init_path = std::move(init_path);
  f.cpus_online = OnlineList("/sys/devices/system/cpu/online");
  f.mems_online = OnlineList("/sys/devices/system/node/online");
  f.hard_limit = [](int resource) -> uint64_t {
    struct rlimit rl;
    if (::getrlimit(resource, &rl) != 0) return RLIM_INFINITY;
    return rl.rlim_max;
  };
  return f;
}

Status VerifyRunOptions(const spec::ContainerConfig& config, const spec::HostConfig& hc,
                        const HostFacts& host) {
  RETURN_IF_ERROR(VerifyNamespaceModes(config, hc));
  RETURN_IF_ERROR(VerifyCapabilities(hc, host.capabilities));
  RETURN_IF_ERROR(ParseSecurityOpts(spec::OrEmpty(hc.security_opt)).status());
  for (const auto& [dst, data] : hc.tmpfs) {
    if (dst.empty() || dst[0] != '/' || dst == "/")
      return absl::InvalidArgumentError(
          "invalid mount config for type \"tmpfs\": invalid mount path: '" + dst +
          "' mount path must be absolute");
    RETURN_IF_ERROR(TmpfsOptions(data).status());
  }
  RETURN_IF_ERROR(VerifyUlimits(hc, host));
  RETURN_IF_ERROR(VerifyCpuset(hc.resources.cpuset_cpus, host.cpus_online, "cpus", "CPUs"));
  RETURN_IF_ERROR(VerifyCpuset(hc.resources.cpuset_mems, host.mems_online, "mems", "memory nodes"));
  RETURN_IF_ERROR(VerifyBlkioWeight(hc.resources, host));
  RETURN_IF_ERROR(VerifyCgroupOptions(hc.resources, host.cgroup, host.rt_bandwidth));
  RETURN_IF_ERROR(VerifyStorageOpt(hc.storage_opt));
  RETURN_IF_ERROR(VerifyDevices(hc));
  if (hc.init.value_or(false) &&
      (host.init_path.empty() || ::access(host.init_path.c_str(), X_OK) != 0))
    return absl::InvalidArgumentError(
        "--init: no init binary" +
        (host.init_path.empty() ? std::string() : " at " + host.init_path) +
        " (install Debian's tini, or start berthd with --init-path)");
  return absl::OkStatus();
}

}  // namespace berth::engine
