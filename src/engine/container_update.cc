// The pure part of `docker update` (container_update.h); OciCgroupResourcesJson, in runc's
// format, is in oci_spec.cc. Messages are moby 20.10's.

#include "engine/container_update.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace berth::engine {

namespace {

constexpr int64_t kMinMemory = 6 * 1024 * 1024;

Status CannotUpdate(const char* field) {
  return absl::InvalidArgumentError(absl::StrCat(
      field, " cannot be changed by an update: Docker's update applies only CPU, memory, "
             "pids and blkio weight limits and the restart policy; recreate the container"));
}

}  // namespace

Status VerifyUpdate(const spec::UpdateConfig& u, const HostFacts& host) {
  const spec::Resources& r = u.resources;
  // What Docker's update would silently ignore, refused instead.
  if (!r.cgroup_parent.empty()) return CannotUpdate("CgroupParent");
  if (r.blkio_weight_device && !r.blkio_weight_device->empty()) return CannotUpdate("BlkioWeightDevice");
  for (const auto* t : {&r.blkio_device_read_bps, &r.blkio_device_write_bps,
                        &r.blkio_device_read_iops, &r.blkio_device_write_iops})
    if (*t && !(*t)->empty()) return CannotUpdate("Blkio device throttling");
  if (r.devices && !r.devices->empty()) return CannotUpdate("Devices");
  if (r.device_cgroup_rules && !r.device_cgroup_rules->empty()) return CannotUpdate("DeviceCgroupRules");
  if (r.device_requests && !r.device_requests->empty()) return CannotUpdate("DeviceRequests");
  if (r.memory_swappiness && *r.memory_swappiness != -1) return CannotUpdate("MemorySwappiness");
  if (r.oom_kill_disable && *r.oom_kill_disable) return CannotUpdate("OomKillDisable");
  if (r.ulimits && !r.ulimits->empty()) return CannotUpdate("Ulimits");
  if (r.cpu_count || r.cpu_percent || r.io_maximum_iops || r.io_maximum_bandwidth)
    return absl::InvalidArgumentError("CpuCount, CpuPercent and IOMaximum* are Windows settings");
  if (r.kernel_memory || r.kernel_memory_tcp)
    return absl::InvalidArgumentError(
        "KernelMemory cannot be set: kernel memory limits are not supported by this kernel "
        "(Docker ignores them since kernel 5.4)");
  if (r.cpu_realtime_period || r.cpu_realtime_runtime)
    return CannotUpdate("CpuRealtimePeriod/CpuRealtimeRuntime");

  // verifyPlatformContainerResources, update=true.
  if (r.memory != 0 && r.memory < kMinMemory)
    return absl::InvalidArgumentError("Minimum memory limit allowed is 6MB");
  if (r.memory > 0 && r.memory_swap > 0 && r.memory_swap < r.memory)
    return absl::InvalidArgumentError(
        "Minimum memoryswap limit should be larger than memory limit, see usage");
  if (r.memory > 0 && r.memory_reservation > 0 && r.memory < r.memory_reservation)
    return absl::InvalidArgumentError(
        "Minimum memory limit can not be less than memory reservation limit, see usage");
  if (r.memory_reservation != 0 && r.memory_reservation < kMinMemory)
    return absl::InvalidArgumentError("Minimum memory reservation allowed is 6MB");
  if (r.nano_cpus > 0 && r.cpu_period > 0)
    return absl::InvalidArgumentError(
        "Conflicting options: Nano CPUs and CPU Period cannot both be set");
  if (r.nano_cpus > 0 && r.cpu_quota > 0)
    return absl::InvalidArgumentError(
        "Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  long ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (r.nano_cpus < 0 || r.nano_cpus > ncpu * 1000000000LL)
    return absl::InvalidArgumentError(absl::StrFormat(
        "Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu));
  if (r.cpu_shares < 0) return absl::InvalidArgumentError("invalid CPU shares: must not be negative");
  if (r.cpu_period != 0 && (r.cpu_period < 1000 || r.cpu_period > 1000000))
    return absl::InvalidArgumentError(
        "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  if (r.cpu_quota > 0 && r.cpu_quota < 1000)
    return absl::InvalidArgumentError("CPU cfs quota can not be less than 1ms (i.e. 1000)");
  RETURN_IF_ERROR(VerifyCpuset(r.cpuset_cpus, host.cpus_online, "cpus", "CPUs"));
  RETURN_IF_ERROR(VerifyCpuset(r.cpuset_mems, host.mems_online, "mems", "memory nodes"));
  if (r.blkio_weight > 0 && (r.blkio_weight < 10 || r.blkio_weight > 1000))
    return absl::InvalidArgumentError("Range of blkio weight is from 10 to 1000");
  RETURN_IF_ERROR(VerifyBlkioWeight(r, host));

  // validateRestartPolicy.
  const spec::RestartPolicy& p = u.restart_policy;
  if (!p.name.empty()) {
    if (p.name != "no" && p.name != "always" && p.name != "on-failure" && p.name != "unless-stopped")
      return absl::InvalidArgumentError("invalid restart policy '" + p.name + "'");
    if (p.maximum_retry_count < 0)
      return absl::InvalidArgumentError("maximum retry count cannot be negative");
    if (p.maximum_retry_count > 0 && p.name != "on-failure")
      return absl::InvalidArgumentError("maximum retry count cannot be used with restart policy '" +
                                        p.name + "'");
  }
  return absl::OkStatus();
}

Status MergeUpdate(const spec::UpdateConfig& u, spec::HostConfig& hc) {
  const spec::Resources& r = u.resources;
  spec::Resources c = hc.resources;
  auto conflict = [](const char* msg) { return absl::FailedPreconditionError(msg); };
  // NanoCpus sets period and quota itself, so it cannot be mixed with either, in either order.
  if (r.nano_cpus > 0 && c.cpu_period > 0)
    return conflict("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set");
  if (r.nano_cpus > 0 && c.cpu_quota > 0)
    return conflict("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set");
  if (r.cpu_period > 0 && c.nano_cpus > 0)
    return conflict("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set");
  if (r.cpu_quota > 0 && c.nano_cpus > 0)
    return conflict("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set");

  if (r.blkio_weight != 0) c.blkio_weight = r.blkio_weight;
  if (r.cpu_shares != 0) c.cpu_shares = r.cpu_shares;
  if (r.nano_cpus != 0) c.nano_cpus = r.nano_cpus;
  if (r.cpu_period != 0) c.cpu_period = r.cpu_period;
  if (r.cpu_quota != 0) c.cpu_quota = r.cpu_quota;
  if (!r.cpuset_cpus.empty()) c.cpuset_cpus = r.cpuset_cpus;
  if (!r.cpuset_mems.empty()) c.cpuset_mems = r.cpuset_mems;
  if (r.memory != 0) {
    // A new limit above the swap limit in force needs a new swap limit with it.
    int64_t swap = EffectiveMemorySwap(c);
    if (swap > 0 && r.memory > swap && r.memory_swap == 0)
      return conflict(
          "Memory limit should be smaller than already set memoryswap limit, update the memoryswap "
          "at the same time");
    // Docker stores the doubled swap limit at create; keep the one in force when only the
    // memory limit changes.
    if (c.memory_swap == 0 && swap > 0 && r.memory_swap == 0) c.memory_swap = swap;
    c.memory = r.memory;
  }
  if (r.memory_swap != 0) {
    if (c.memory == 0)
      return absl::InvalidArgumentError(
          "You should always set the Memory limit when using Memoryswap limit, see usage");
    if (r.memory_swap > 0 && r.memory_swap < c.memory)
      return absl::InvalidArgumentError(
          "Minimum memoryswap limit should be larger than memory limit, see usage");
    c.memory_swap = r.memory_swap;
  }
  if (r.memory_reservation != 0) {
    if (c.memory > 0 && r.memory_reservation > c.memory)
      return absl::InvalidArgumentError(
          "Minimum memory limit can not be less than memory reservation limit, see usage");
    c.memory_reservation = r.memory_reservation;
  }
  if (r.pids_limit) c.pids_limit = r.pids_limit;

  if (!u.restart_policy.name.empty() && hc.auto_remove && u.restart_policy.name != "no")
    return conflict("Restart policy cannot be updated because AutoRemove is enabled for the container");
  hc.resources = c;
  if (!u.restart_policy.name.empty()) hc.restart_policy = u.restart_policy;
  return absl::OkStatus();
}

int64_t EffectiveMemorySwap(const spec::Resources& r) {
  if (r.memory <= 0) return 0;
  if (r.memory_swap == 0) return r.memory * 2;
  return r.memory_swap;
}

}  // namespace berth::engine
