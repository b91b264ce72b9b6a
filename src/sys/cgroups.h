#pragma once
// cgroups on v1 (legacy), v2 (unified) and hybrid hosts: where a cgroup lives and what its
// accounting files say. No engine knowledge: callers name a cgroup by runc's cgroupsPath or by a
// pid.
//
// Layouts this handles (each read from /proc/self/mountinfo, never guessed from paths):
//   legacy   a v1 hierarchy per controller group: /sys/fs/cgroup/{memory,cpu,cpuacct,pids,...}
//   hybrid   v1 hierarchies plus a cgroup2 mount (often /sys/fs/cgroup/unified) holding whatever
//            controller no v1 hierarchy took. The build machine is one: v1 cpu, cpuacct, cpuset,
//            memory, devices, freezer, blkio, pids, name=systemd; cgroup2 at
//            /sys/fs/cgroup/unified offering only hugetlb.
//   unified  one cgroup2 mount (/sys/fs/cgroup) with every controller: most users' hosts.
//
// Where runc puts a container (what Cgroup::ForRuncPath mirrors): Berth passes runc the absolute
// cgroupsPath "/berth/<container id>" (engine/runtime.cc, cgroup_parent "berth"), or
// "<CgroupParent>/<id>" when the container has one (a relative parent is below runc's own
// cgroup, and Cgroup::ForPid finds it). runc's cgroupfs
// driver joins an absolute path to each hierarchy's mount point, whatever part of the hierarchy
// that mount shows: <mount>/berth/<id> in every v1 hierarchy and, on hybrid and unified hosts, in
// the cgroup2 mount as well (checked on the build machine with runc 1.1.5: /proc/<pid>/cgroup then
// says /berth/<id> for all ten hierarchies, including 0::).
//
// What feeds Docker's stats JSON (GET /containers/{id}/stats, API 1.41), as moby fills it
// (daemon/stats_unix.go, statsV1 and statsV2):
//   memory_stats.usage      CgroupMemoryStats::usage
//   memory_stats.limit      CgroupMemoryStats::limit; with none, or one above the host's RAM,
//                           Docker reports the host's RAM (the caller's job: sysconf)
//   memory_stats.max_usage  CgroupMemoryStats::max_usage (v1 only; Docker omits it on v2)
//   memory_stats.failcnt    CgroupMemoryStats::failcnt
//   memory_stats.stats      CgroupMemoryStats::stat, keys as the kernel wrote them: v1's cache,
//                           rss, ..., total_inactive_file; v2's anon, file, inactive_file, ...
//   cpu_stats.cpu_usage.total_usage          CgroupCpuStats::total_ns
//   cpu_stats.cpu_usage.usage_in_usermode    CgroupCpuStats::user_ns
//   cpu_stats.cpu_usage.usage_in_kernelmode  CgroupCpuStats::system_ns
//   cpu_stats.throttling_data                CgroupCpuStats::throttling (periods,
//                                            throttled_periods, throttled_time in ns)
//   cpu_stats.system_cpu_usage, online_cpus  not cgroup data: /proc/stat, sysconf (the caller's)
//   pids_stats.current, pids_stats.limit     CgroupPidsStats (Docker sends limit 0 for "max")
//   blkio_stats.io_service_bytes_recursive   CgroupBlkioStats::service_bytes
//
// What `docker stats` shows as MEM USAGE is not memory_stats.usage: the CLI subtracts page cache
// that the kernel can drop (docker/cli cli/command/container/stats_helpers.go,
// calculateMemUsageUnixNoCache):
//   cgroup v1: usage - stats["total_inactive_file"]
//   cgroup v2: usage - stats["inactive_file"]
// each only when smaller than usage, otherwise usage as is. Docker 19.03 and older subtracted v1's
// "cache" instead (moby issue 40727); cadvisor and containerd's CRI use the same inactive_file
// rule. CgroupMemoryStats::UsageWithoutCache() computes it, so Berth's CLI and daemon agree with
// docker's.
//
// Thread safety: everything here is a value or a pure read of files; no locks, no state.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace berth::sys {

enum class CgroupMode {
  kLegacy,  // v1 hierarchies only
  kHybrid,  // v1 hierarchies and a cgroup2 mount
  // A cgroup2 mount and no v1 hierarchy with a controller (a named one like name=systemd may be).
  kUnified,
};
std::string_view CgroupModeName(CgroupMode mode);  // "legacy", "hybrid", "unified"

enum class CgroupVersion { kV1 = 1, kV2 = 2 };

// One v1 hierarchy as mounted.
struct CgroupHierarchy {
  // "cpu", "cpuacct" (co-mounted hierarchies have several), or a named one: "name=systemd".
  std::vector<std::string> controllers;
  std::string mount_point;  // with the layout's prefix in front
  // The part of the hierarchy the mount shows: "/" unless bind-mounted or in a cgroup namespace.
  std::string root;
  bool Has(std::string_view controller) const;
};

// The host's cgroup mounts. `prefix` is prepended to every path read (mountinfo,
// /proc/<pid>/cgroup, the cgroupfs trees): "" on a real host; unit tests pass a directory holding
// proc/self/mountinfo and fake trees under the mount points it names.
class CgroupLayout {
 public:
  // Reads <prefix>/proc/self/mountinfo. NotFound when no cgroup filesystem is mounted at all.
  static StatusOr<CgroupLayout> Detect(const std::string& prefix = "");
  // The same from mountinfo text. InvalidArgument naming the line when a line is not mountinfo's
  // shape. Reads <prefix><cgroup2 mount>/cgroup.controllers for the unified controllers.
  static StatusOr<CgroupLayout> FromMountInfo(std::string_view mountinfo,
                                              const std::string& prefix);

  CgroupMode mode() const { return mode_; }
  const std::string& prefix() const { return prefix_; }
  const std::vector<CgroupHierarchy>& v1() const { return v1_; }
  // The v1 hierarchy carrying `controller`, or nullptr.
  const CgroupHierarchy* V1For(std::string_view controller) const;
  bool has_unified() const { return !unified_mount_.empty(); }
  const std::string& unified_mount() const { return unified_mount_; }  // "" without a cgroup2 mount
  const std::string& unified_root() const { return unified_root_; }
  // What the cgroup2 root offers (its cgroup.controllers): every controller on a unified host,
  // those no v1 hierarchy took on a hybrid one.
  const std::vector<std::string>& unified_controllers() const { return unified_controllers_; }
  bool UnifiedHas(std::string_view controller) const;

 private:
  CgroupLayout() = default;
  std::string prefix_;
  CgroupMode mode_ = CgroupMode::kLegacy;
  std::vector<CgroupHierarchy> v1_;
  std::string unified_mount_;
  std::string unified_root_;
  std::vector<std::string> unified_controllers_;
};

// memory_stats. v1: memory.usage_in_bytes, memory.limit_in_bytes, memory.max_usage_in_bytes,
// memory.failcnt, memory.stat. v2: memory.current, memory.max, memory.events ("oom"), memory.stat.
struct CgroupMemoryStats {
  CgroupVersion version = CgroupVersion::kV1;
  uint64_t usage = 0;
  // nullopt: no limit. v2 writes "max"; v1 writes PAGE_COUNTER_MAX pages in bytes
  // (9223372036854771712 with 4 KiB pages), so any v1 value from 2^62 up counts as none.
  std::optional<uint64_t> limit;
  std::optional<uint64_t> max_usage;  // v1 only
  std::optional<uint64_t> failcnt;    // v1 memory.failcnt; v2 memory.events "oom", as moby does
  // memory.stat verbatim; nullopt when it is not there.
  std::optional<std::map<std::string, uint64_t>> stat;

  // docker stats' MEM USAGE, as docker/cli computes it from the JSON: usage less v1's
  // total_inactive_file when that is below usage, else less inactive_file when that is below usage
  // (v2's key; 0 when absent), else usage.
  uint64_t UsageWithoutCache() const;
};

// cpu_stats. Usage comes from v1 cpuacct (cpuacct.usage in ns, cpuacct.stat in USER_HZ ticks) or v2
// cpu.stat (usage_usec, user_usec, system_usec: the core keeps these even without the cpu
// controller); throttling from v1 cpu's cpu.stat (nr_periods, nr_throttled, throttled_time in ns)
// or v2 cpu.stat (nr_periods, nr_throttled, throttled_usec, present only with the cpu controller).
// All in ns here.
struct CgroupCpuStats {
  struct Throttling {
    uint64_t periods = 0;
    uint64_t throttled_periods = 0;
    uint64_t throttled_ns = 0;
  };
  std::optional<uint64_t> total_ns;
  std::optional<uint64_t> user_ns;
  std::optional<uint64_t> system_ns;  // v1 "system" ticks, v2 system_usec: Docker's kernelmode
  std::optional<Throttling> throttling;
};

// pids_stats: pids.current and pids.max on both versions.
struct CgroupPidsStats {
  uint64_t current = 0;
  std::optional<uint64_t> limit;  // nullopt for "max"
};

struct CgroupBlkioEntry {
  uint32_t major = 0;
  uint32_t minor = 0;
  // v1 as the kernel writes it ("Read", "Write", "Sync", ...); v2 "read" or "write", as moby.
  std::string op;
  uint64_t value = 0;
};

// blkio_stats: v1 blkio.throttle.io_service_bytes_recursive, v2 io.stat rbytes/wbytes per device.
// v1 has no better source on current kernels (the CFQ-only blkio.io_service_bytes_recursive is
// gone, blkio.bfq.* counts only devices using BFQ), and its throttle counters move only on a queue
// where blk-throttle is active, i.e. some cgroup set a throttle limit on the device: on the build
// machine (kernel 6.18, mq-deadline) they read "Total 0" even at the root. Docker reads the same
// file and shows 0 B there too. cgroup2's io.stat counts every request.
struct CgroupBlkioStats {
  CgroupVersion version = CgroupVersion::kV1;
  std::vector<CgroupBlkioEntry> service_bytes;
  uint64_t read_bytes = 0;   // sum of the read entries: docker stats' BLOCK I/O first figure
  uint64_t write_bytes = 0;  // sum of the write entries
};

// A controller's block is nullopt when this host or this cgroup lacks it (no pids hierarchy, v2
// controller not enabled for the cgroup, file missing): absent, not an error.
struct CgroupStats {
  std::optional<CgroupMemoryStats> memory;
  std::optional<CgroupCpuStats> cpu;
  std::optional<CgroupPidsStats> pids;
  std::optional<CgroupBlkioStats> blkio;
};

// One cgroup, found in every hierarchy that holds it. A value: it holds paths, not fds, so a cgroup
// removed after it was found reads as NotFound, never as stale numbers.
class Cgroup {
 public:
  // runc's cgroupsPath, which must be absolute ("/berth/<id>"): <mount><path> in every v1 hierarchy
  // and the cgroup2 mount, as runc's cgroupfs driver creates it. InvalidArgument for a relative
  // path or one with "." or ".." parts (runc would resolve a relative one against its own cgroup;
  // Berth never passes one); NotFound naming every directory tried when no hierarchy holds it.
  static StatusOr<Cgroup> ForRuncPath(const CgroupLayout& layout, std::string_view cgroups_path);
  // The cgroups <prefix>/proc/<pid>/cgroup names, each resolved against its hierarchy's mount root.
  // NotFound when the process is gone or none of its cgroups is visible under the mounts.
  static StatusOr<Cgroup> ForPid(const CgroupLayout& layout, pid_t pid);

  // The directory in the v1 hierarchy carrying `controller`, or "".
  std::string V1Dir(std::string_view controller) const;
  const std::string& unified_dir() const { return unified_dir_; }  // "" when not in a cgroup2 mount
  // Every directory found, v1 ones first.
  std::vector<std::string> Dirs() const;

  // The pids in this cgroup and its descendants (cgroup.procs of each; what runc ps and docker top
  // list), sorted. NotFound when the cgroup has gone.
  StatusOr<std::vector<pid_t>> Pids() const;
  // Every controller it can read; InternalError naming the file when a file is not the kernel's
  // format; NotFound naming the files tried when none could be read (the cgroup has gone).
  StatusOr<CgroupStats> ReadStats() const;

 private:
  struct HierarchyDir {
    std::vector<std::string> controllers;
    std::string dir;
  };
  Cgroup() = default;
  std::vector<HierarchyDir> v1_;
  std::string unified_dir_;
};

}  // namespace berth::sys
