#pragma once
// The HostConfig settings that reach runc's spec beyond cgroup limits: tmpfs mounts, ulimits,
// --init, the pid/ipc/uts namespace modes, devices, cpusets, capabilities and security options.
// Checked at create with Docker's messages, so a setting Berth cannot honour is refused there
// instead of being dropped or failing at start; turned into OCI terms at start.

#include <sys/resource.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/cgroup_options.h"
#include "spec/container.h"
#include "spec/network.h"
#include "spec/host_config.h"
#include "sys/devices.h"

namespace berth::engine {

// What the host offers, gathered by the caller (tests pass their own).
struct HostFacts {
  std::vector<std::string> capabilities;  // berthd's own (HostCapabilities())
  std::string init_path;                  // the static init bound in for --init; empty: none
  std::string cpus_online = "0";          // /sys/devices/system/cpu/online
  std::string mems_online = "0";          // /sys/devices/system/node/online
  // The hard limit berthd holds of an rlimit (getrlimit); raising one needs CAP_SYS_RESOURCE.
  std::function<uint64_t(int resource)> hard_limit;
  // Whether the blkio controller takes weights (blkio.weight or blkio.bfq.weight in a container's
  // cgroup: a kernel without CFQ or BFQ has neither, and runc would fail the start or update on
  // the file).
  bool blkio_weight = true;
  // The other cgroup files settings need (ProbeCgroupFeatures), and a cgroup parent's real-time
  // CPU bandwidth (ReadRtBandwidth; empty: not checked).
  CgroupFeatures cgroup;
  std::function<std::optional<RtBandwidth>(const std::string& parent)> rt_bandwidth;
};
// Whether a cgroup v1 blkio hierarchy at `root` (or the cgroup v2 one) takes weights, looked for
// in a cgroup made for the look under the hierarchy's root (BFQ has none at the root).
bool BlkioWeightSupported(const std::string& root = "/sys/fs/cgroup");
// Docker's words for a kernel without Block I/O weights (its warning, here a refusal).
Status VerifyBlkioWeight(const spec::Resources& r, const HostFacts& host);
HostFacts ReadHostFacts(std::string init_path);

Status VerifyRunOptions(const spec::ContainerConfig& config, const spec::HostConfig& host_config,
                        const HostFacts& host);
// What a create's endpoints ask that Berth's networks cannot give (IPAMConfig.LinkLocalIPs).
Status VerifyEndpointSettings(const spec::NetworkingConfig& networking);

// "0-2,5" -> {0,1,2,5}; InvalidArgument for anything else.
StatusOr<std::set<int>> ParseCpuList(std::string_view list);
// A --cpuset-cpus/--cpuset-mems value (`what`: "cpus"/"mems") against the host's online list,
// with dockerd's messages (`noun`: "CPUs"/"memory nodes"). Empty is fine.
Status VerifyCpuset(const std::string& value, const std::string& online, const char* what,
                    const char* noun);

// A --ulimit name and its rlimit: "nofile" -> RLIMIT_NOFILE.
struct RlimitName {
  const char* docker;
  const char* oci;
  int resource;
};
const RlimitName* FindRlimit(std::string_view docker_name);

// Docker's tmpfs mount options for HostConfig.Tmpfs data ("size=64m,mode=1777"): noexec, nosuid,
// nodev and rprivate first, later options overriding earlier ones (moby MergeTmpfsOptions).
StatusOr<std::vector<std::string>> TmpfsOptions(const std::string& data);

// A device given to the container, resolved on the host.
struct ContainerDevice {
  sys::DeviceNode node;
  std::string path;         // in the container
  std::string permissions;  // the cgroup's "rwm"
};
// HostConfig.Devices resolved against the host's nodes (a directory gives each node below it), and
// for a privileged container every host device, as Docker does.
StatusOr<std::vector<ContainerDevice>> ContainerDevices(const spec::HostConfig& host_config);

}  // namespace berth::engine
