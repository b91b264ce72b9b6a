#include "engine/cgroup_options.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "sys/fs.h"

namespace berth::engine {
namespace {

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Whether the cgroup v2 root at `root` hands `controller` down to its children.
bool V2Offers(const std::string& root, const std::string& controller) {
  std::ifstream subtree(root + "/cgroup.subtree_control");
  std::string name;
  while (subtree >> name)
    if (name == controller) return true;
  return false;
}

// A kernel's cgroup file holding one integer.
std::optional<int64_t> ReadInt(const std::string& path) {
  auto s = sys::ReadFile(path);
  int64_t v = 0;
  if (!s.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*s), &v)) return std::nullopt;
  return v;
}

// This process's cgroup in the v1 hierarchy carrying `controller` (/proc/self/cgroup), or "/".
std::string OwnV1Cgroup(const std::string& controller) {
  auto s = sys::ReadFile("/proc/self/cgroup");
  if (!s.ok()) return "/";
  for (absl::string_view line : absl::StrSplit(*s, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    for (absl::string_view c : absl::StrSplit(f[1], ','))
      if (c == controller) return std::string(f[2]);
  }
  return "/";
}

// Go's %q for the ASCII a driver name is made of.
std::string GoQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Go's %v of a [][]string: [[gpu] [compute utility]].
std::string GoList(const std::optional<std::vector<std::vector<std::string>>>& v) {
  std::vector<std::string> parts;
  for (const auto& and_list : spec::OrEmpty(v))
    parts.push_back(absl::StrCat("[", absl::StrJoin(and_list, " "), "]"));
  return absl::StrCat("[", absl::StrJoin(parts, " "), "]");
}

}  // namespace

const CgroupFeatures& HostCgroupFeatures() {
  static const CgroupFeatures kFeatures = ProbeCgroupFeatures();
  return kFeatures;
}

CgroupFeatures ProbeCgroupFeatures(const std::string& root) {
  CgroupFeatures f;
  const std::string cpu = root + "/cpu", memory = root + "/memory", blkio = root + "/blkio";
  // v1 (or hybrid): the controller's hierarchy is mounted at <root>/<name> (a "cpu,cpuacct"
  // mount has "cpu" as a link beside it).
  bool v1 = Exists(cpu) || Exists(memory) || Exists(blkio);
  f.cpu_realtime = Exists(cpu + "/cpu.rt_period_us") && Exists(cpu + "/cpu.rt_runtime_us");
  f.memory_swappiness = Exists(memory + "/memory.swappiness");
  f.oom_kill_disable = Exists(memory + "/memory.oom_control");
  if (Exists(blkio) || v1) {
    f.blkio_read_bps = Exists(blkio + "/blkio.throttle.read_bps_device");
    f.blkio_write_bps = Exists(blkio + "/blkio.throttle.write_bps_device");
    f.blkio_read_iops = Exists(blkio + "/blkio.throttle.read_iops_device");
    f.blkio_write_iops = Exists(blkio + "/blkio.throttle.write_iops_device");
  } else {
    // cgroup v2 alone: runc writes the four throttles to io.max, there when "io" is handed down.
    bool io = V2Offers(root, "io");
    f.blkio_read_bps = f.blkio_write_bps = f.blkio_read_iops = f.blkio_write_iops = io;
  }
  return f;
}

std::optional<RtBandwidth> ReadRtBandwidth(const std::string& parent, const std::string& root) {
  std::string dir = root + "/cpu";
  // A relative parent is below the runtime's own cgroup (runc's, which is berthd's).
  if (parent.empty() || parent[0] != '/') {
    std::string own = OwnV1Cgroup("cpu");
    dir += own == "/" ? "" : own;
    dir += "/";
  }
  dir += parent;
  auto period = ReadInt(dir + "/cpu.rt_period_us");
  auto runtime = ReadInt(dir + "/cpu.rt_runtime_us");
  if (!period || !runtime) return std::nullopt;
  return RtBandwidth{*period, *runtime};
}

std::string CgroupParentPath(const spec::Resources& r) {
  if (r.cgroup_parent.empty()) return "/berth";
  bool absolute = r.cgroup_parent[0] == '/';
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(r.cgroup_parent, '/', absl::SkipEmpty())) {
    if (p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();  // runc: never above the root (or the runtime's own)
      continue;
    }
    parts.emplace_back(p);
  }
  std::string joined = absl::StrJoin(parts, "/");
  return absolute ? "/" + joined : joined;
}

std::string ContainerCgroupsPath(const spec::Resources& r, const std::string& id) {
  std::string parent = CgroupParentPath(r);
  if (parent.empty()) return id;
  if (parent == "/") return "/" + id;
  return parent + "/" + id;
}

StatusOr<DeviceCgroupRule> ParseDeviceCgroupRule(const std::string& rule) {
  // ^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$
  auto bad = [&] {
    return absl::InvalidArgumentError("invalid device cgroup rule format: '" + rule + "'");
  };
  std::vector<std::string> f = absl::StrSplit(rule, ' ');
  if (f.size() != 3 || (f[0] != "a" && f[0] != "b" && f[0] != "c")) return bad();
  if (f[2].empty() || f[2].size() > 3 ||
      f[2].find_first_not_of("rwm") != std::string::npos)
    return bad();
  std::vector<std::string> nums = absl::StrSplit(f[1], absl::MaxSplits(':', 1));
  if (nums.size() != 2) return bad();
  DeviceCgroupRule out;
  out.type = f[0];
  out.access = f[2];
  const char* what[] = {"major", "minor"};
  int64_t* dst[] = {&out.major, &out.minor};
  for (int i = 0; i < 2; ++i) {
    const std::string& n = nums[i];
    if (n == "*") continue;  // -1: any
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos) return bad();
    if (!absl::SimpleAtoi(n, dst[i]))
      return absl::InvalidArgumentError(absl::StrCat("invalid ", what[i],
                                                     " value in device cgroup rule format: '",
                                                     rule, "'"));
  }
  return out;
}

StatusOr<BlkioDeviceLimits> ResolveBlkioDevices(const spec::Resources& r) {
  auto resolve = [](const std::string& flag, const std::string& path,
                    uint64_t value) -> StatusOr<BlkioDeviceLimit> {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
      return absl::InvalidArgumentError(
          absl::StrCat("stat ", path, ": ", absl::AsciiStrToLower(std::strerror(errno))));
    if (!S_ISBLK(st.st_mode))
      return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": not a block device"));
    // The kernel's blkio files take whole disks only (a partition's numbers: ENODEV at start).
    std::string sys = absl::StrCat("/sys/dev/block/", major(st.st_rdev), ":", minor(st.st_rdev),
                                   "/partition");
    if (::access(sys.c_str(), F_OK) == 0)
      return absl::InvalidArgumentError(absl::StrCat(
          flag, " ", path, ": a partition; Block I/O weights and limits apply to whole disks"));
    return BlkioDeviceLimit{static_cast<int64_t>(major(st.st_rdev)),
                            static_cast<int64_t>(minor(st.st_rdev)), value};
  };
  BlkioDeviceLimits out;
  for (const spec::WeightDevice& d : spec::OrEmpty(r.blkio_weight_device)) {
    ASSIGN_OR_RETURN(BlkioDeviceLimit l, resolve("--blkio-weight-device", d.path, d.weight));
    out.weight.push_back(l);
  }
  struct {
    const char* flag;
    const std::optional<std::vector<spec::ThrottleDevice>>* in;
    std::vector<BlkioDeviceLimit>* out;
  } throttles[] = {{"--device-read-bps", &r.blkio_device_read_bps, &out.read_bps},
                   {"--device-write-bps", &r.blkio_device_write_bps, &out.write_bps},
                   {"--device-read-iops", &r.blkio_device_read_iops, &out.read_iops},
                   {"--device-write-iops", &r.blkio_device_write_iops, &out.write_iops}};
  for (auto& t : throttles)
    for (const spec::ThrottleDevice& d : spec::OrEmpty(*t.in)) {
      ASSIGN_OR_RETURN(BlkioDeviceLimit l, resolve(t.flag, d.path, d.rate));
      t.out->push_back(l);
    }
  return out;
}

Status VerifyCgroupOptions(
    const spec::Resources& r, const CgroupFeatures& features,
    const std::function<std::optional<RtBandwidth>(const std::string&)>& rt_bandwidth) {
  auto refuse = [](const std::string& msg) { return absl::InvalidArgumentError(msg); };
  // Berth drives runc's cgroupfs driver: a systemd slice spec would become a directory name.
  if (r.cgroup_parent.find(':') != std::string::npos)
    return refuse(absl::StrCat("--cgroup-parent ", r.cgroup_parent,
                               ": a systemd slice (name:prefix:name) is not a cgroup path; "
                               "Berth uses the cgroupfs driver, give a path such as /mygroup"));
  // Memory (verifyPlatformContainerResources): -1 is "unset" (fixMemorySwappiness).
  if (r.memory_swappiness && *r.memory_swappiness != -1) {
    if (!features.memory_swappiness)
      return refuse(
          "Your kernel does not support memory swappiness capabilities or the cgroup is not "
          "mounted");
    if (*r.memory_swappiness < 0 || *r.memory_swappiness > 100)
      return refuse(absl::StrCat("Invalid value: ", *r.memory_swappiness,
                                 ", valid memory swappiness range is 0-100"));
  }
  if (r.oom_kill_disable.value_or(false) && !features.oom_kill_disable)
    return refuse("Your kernel does not support OomKillDisable");

  // Real-time CPU (runconfig validateResources).
  if ((r.cpu_realtime_period != 0 || r.cpu_realtime_runtime != 0) && !features.cpu_realtime)
    return refuse("Your kernel does not support CPU real-time scheduler");
  if (r.cpu_realtime_period != 0 && r.cpu_realtime_runtime != 0 &&
      r.cpu_realtime_runtime > r.cpu_realtime_period)
    return refuse("cpu real-time runtime cannot be higher than cpu real-time period");
  // dockerd leaves these to runc, which fails the start; refused here instead.
  if (r.cpu_realtime_period < 0)
    return refuse("invalid CPU real-time period: must not be negative");
  if (r.cpu_realtime_runtime < 0)
    return refuse("invalid CPU real-time runtime: must not be negative");
  if (r.cpu_realtime_runtime > 0 && rt_bandwidth) {
    // The kernel gives a new cgroup no real-time runtime and lets a child have no more of its
    // parent's share than the parent has: dockerd hands its parent some only when started with
    // --cpu-rt-runtime, else runc fails the start. Berth leaves the host's cgroups alone and
    // says what is missing.
    std::string parent = CgroupParentPath(r);
    int64_t period = r.cpu_realtime_period > 0 ? r.cpu_realtime_period : 1000000;
    std::optional<RtBandwidth> have = rt_bandwidth(parent);
    if (!have)
      return refuse(absl::StrCat(
          "--cpu-rt-runtime ", r.cpu_realtime_runtime, ": the cgroup parent ", parent,
          " does not exist, and the kernel gives a new cgroup no real-time CPU time; make it in "
          "the cpu hierarchy and give it enough (cpu.rt_runtime_us) first"));
    if (have->runtime_us != -1 &&
        static_cast<long double>(have->runtime_us) * period <
            static_cast<long double>(r.cpu_realtime_runtime) * have->period_us)
      return refuse(absl::StrCat(
          "--cpu-rt-runtime ", r.cpu_realtime_runtime, ": the cgroup parent ", parent, " has ",
          have->runtime_us, "us of real-time CPU time per ", have->period_us,
          "us (cpu.rt_runtime_us), less than the container asks for, so the kernel would "
          "refuse it; give the parent enough first"));
  }

  // Block I/O throttling (verifyPlatformContainerResources' warnings).
  auto any = [](const std::optional<std::vector<spec::ThrottleDevice>>& v) {
    return v && !v->empty();
  };
  if (any(r.blkio_device_read_bps) && !features.blkio_read_bps)
    return refuse("Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted");
  if (any(r.blkio_device_write_bps) && !features.blkio_write_bps)
    return refuse("Your kernel does not support BPS Block I/O write limit or the cgroup is not mounted");
  if (any(r.blkio_device_read_iops) && !features.blkio_read_iops)
    return refuse("Your kernel does not support IOPS Block read limit or the cgroup is not mounted");
  if (any(r.blkio_device_write_iops) && !features.blkio_write_iops)
    return refuse("Your kernel does not support IOPS Block write limit or the cgroup is not mounted");
  RETURN_IF_ERROR(ResolveBlkioDevices(r).status());

  for (const std::string& rule : spec::OrEmpty(r.device_cgroup_rules))
    RETURN_IF_ERROR(ParseDeviceCgroupRule(rule).status());

  // --gpus: dockerd's device drivers (nvidia, when its hook is installed) are not Berth's.
  if (r.device_requests && !r.device_requests->empty()) {
    const spec::DeviceRequest& d = r.device_requests->front();
    return refuse(absl::StrCat("could not select device driver ", GoQuote(d.driver),
                               " with capabilities: ", GoList(d.capabilities)));
  }
  return absl::OkStatus();
}

}  // namespace berth::engine
