#pragma once
// The cgroup settings of a create beyond the limits `docker update` changes too
// (container_update.h): where the cgroup goes (CgroupParent), per-device Block I/O weights and
// throttles, real-time CPU bandwidth, memory swappiness, the OOM killer and device cgroup rules.
// Checked at create against what this host's cgroups offer, with dockerd's messages (where dockerd
// warns "... discarded" and drops a setting the kernel lacks, Berth refuses it), and turned into
// runc's linux.resources at start (oci_spec.cc).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "spec/host_config.h"

namespace berth::engine {

// What the host's cgroups offer, read as dockerd's sysinfo reads it: a file at the root of the
// controller's v1 hierarchy or, on a cgroup v2 host, the controller the root hands down.
struct CgroupFeatures {
  bool cpu_realtime = true;       // cpu.rt_period_us and cpu.rt_runtime_us (v1 only)
  bool memory_swappiness = true;  // memory.swappiness (v1 only)
  bool oom_kill_disable = true;   // memory.oom_control (v1 only)
  bool blkio_read_bps = true;     // blkio.throttle.read_bps_device; v2: io.max
  bool blkio_write_bps = true;    // blkio.throttle.write_bps_device
  bool blkio_read_iops = true;    // blkio.throttle.read_iops_device
  bool blkio_write_iops = true;   // blkio.throttle.write_iops_device
};
CgroupFeatures ProbeCgroupFeatures(const std::string& root = "/sys/fs/cgroup");
// This host's, probed once.
const CgroupFeatures& HostCgroupFeatures();

// A cgroup's real-time CPU bandwidth (cpu.rt_runtime_us per cpu.rt_period_us; runtime -1 is
// unlimited).
struct RtBandwidth {
  int64_t period_us = 1000000;
  int64_t runtime_us = 0;
};
// The bandwidth of the cgroup `parent` (a CgroupParentPath) in the v1 cpu hierarchy under `root`;
// nullopt when that cgroup does not exist yet (runc will make it, with no real-time runtime).
std::optional<RtBandwidth> ReadRtBandwidth(const std::string& parent,
                                           const std::string& root = "/sys/fs/cgroup");

// The cgroup the container's goes under, as runc takes it: "/berth" without a CgroupParent, else
// the parent cleaned as runc cleans it (an absolute one from each hierarchy's root, a relative
// one below the runtime's own cgroup, as dockerd's cgroupfs driver leaves it; ".." never climbs
// out). Relative parents stay relative, without a leading "/".
std::string CgroupParentPath(const spec::Resources& r);
// runc's linux.cgroupsPath for the container: CgroupParentPath/<id>.
std::string ContainerCgroupsPath(const spec::Resources& r, const std::string& id);

// One --device-cgroup-rule in dockerd's syntax: "c 1:3 rwm", "b *:* r", "a *:* rwm".
struct DeviceCgroupRule {
  std::string type;       // "a", "b" or "c"
  int64_t major = -1;     // -1: any
  int64_t minor = -1;     // -1: any
  std::string access;     // some of "rwm"
};
// dockerd's parse (oci.AppendDevicePermissionsFromCgroupRules) with its messages.
StatusOr<DeviceCgroupRule> ParseDeviceCgroupRule(const std::string& rule);

// A per-device Block I/O setting with the major:minor dockerd gets by stat()ing the path.
struct BlkioDeviceLimit {
  int64_t major = 0;
  int64_t minor = 0;
  uint64_t value = 0;  // a weight, or bytes or operations per second
  bool operator==(const BlkioDeviceLimit&) const = default;
};
struct BlkioDeviceLimits {
  std::vector<BlkioDeviceLimit> weight, read_bps, write_bps, read_iops, write_iops;
  bool operator==(const BlkioDeviceLimits&) const = default;
};
// The device paths of BlkioWeightDevice and BlkioDevice{Read,Write}{Bps,IOps}, each stat()ed (as
// dockerd does at start): "stat PATH: no such file or directory" as dockerd words it, and
// anything but a block device refused (the kernel would take its numbers for another device).
StatusOr<BlkioDeviceLimits> ResolveBlkioDevices(const spec::Resources& r);

// The create-time checks of these settings, against the host's cgroups. `rt_bandwidth` reads a
// parent cgroup's real-time bandwidth (ReadRtBandwidth; tests pass their own; empty: not checked).
Status VerifyCgroupOptions(
    const spec::Resources& r, const CgroupFeatures& features,
    const std::function<std::optional<RtBandwidth>(const std::string&)>& rt_bandwidth);

}  // namespace berth::engine
