#pragma once
// Docker Engine API 1.41 host configuration, field for field as moby 20.10 declares it
// (api/types/container/host_config.go, api/types/mount/mount.go, api/types/blkiodev,
// go-units Ulimit). Conventions are those of spec/container.h.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "spec/container.h"

namespace berth::spec {

// container.RestartPolicy: Name is "", "no", "always", "on-failure" or "unless-stopped".
struct RestartPolicy {
  std::string name;
  int64_t maximum_retry_count = 0;
  bool operator==(const RestartPolicy&) const = default;
};

// container.LogConfig.
struct LogConfig {
  std::string type;
  std::optional<StringMap> config;
  bool operator==(const LogConfig&) const = default;
};

// blkiodev.WeightDevice.
struct WeightDevice {
  std::string path;
  uint16_t weight = 0;
  bool operator==(const WeightDevice&) const = default;
};

// blkiodev.ThrottleDevice: bytes or operations per second.
struct ThrottleDevice {
  std::string path;
  uint64_t rate = 0;
  bool operator==(const ThrottleDevice&) const = default;
};

// container.DeviceMapping.
struct DeviceMapping {
  std::string path_on_host;
  std::string path_in_container;
  std::string cgroup_permissions;
  bool operator==(const DeviceMapping&) const = default;
};

// container.DeviceRequest (--gpus).
struct DeviceRequest {
  std::string driver;
  int64_t count = 0;  // -1 = all
  std::optional<std::vector<std::string>> device_ids;  // "DeviceIDs"
  std::optional<std::vector<std::vector<std::string>>> capabilities;  // OR of ANDs
  std::optional<StringMap> options;
  bool operator==(const DeviceRequest&) const = default;
};

// units.Ulimit.
struct Ulimit {
  std::string name;
  int64_t hard = 0;
  int64_t soft = 0;
  bool operator==(const Ulimit&) const = default;
};

// container.Resources: the cgroup settings, embedded in HostConfig and UpdateConfig.
struct Resources {
  int64_t cpu_shares = 0;  // "CpuShares"
  int64_t memory = 0;
  int64_t nano_cpus = 0;  // "NanoCpus"
  std::string cgroup_parent;
  uint16_t blkio_weight = 0;
  std::optional<std::vector<WeightDevice>> blkio_weight_device;
  std::optional<std::vector<ThrottleDevice>> blkio_device_read_bps;
  std::optional<std::vector<ThrottleDevice>> blkio_device_write_bps;
  std::optional<std::vector<ThrottleDevice>> blkio_device_read_iops;   // "BlkioDeviceReadIOps"
  std::optional<std::vector<ThrottleDevice>> blkio_device_write_iops;  // "BlkioDeviceWriteIOps"
  int64_t cpu_period = 0;
  int64_t cpu_quota = 0;
  int64_t cpu_realtime_period = 0;
  int64_t cpu_realtime_runtime = 0;
  std::string cpuset_cpus;
  std::string cpuset_mems;
  std::optional<std::vector<DeviceMapping>> devices;
  std::optional<std::vector<std::string>> device_cgroup_rules;
  std::optional<std::vector<DeviceRequest>> device_requests;
  int64_t kernel_memory = 0;
  int64_t kernel_memory_tcp = 0;  // "KernelMemoryTCP"
  int64_t memory_reservation = 0;
  int64_t memory_swap = 0;
  std::optional<int64_t> memory_swappiness;
  std::optional<bool> oom_kill_disable;
  std::optional<int64_t> pids_limit;
  std::optional<std::vector<Ulimit>> ulimits;
  int64_t cpu_count = 0;    // Windows
  int64_t cpu_percent = 0;  // Windows
  uint64_t io_maximum_iops = 0;       // "IOMaximumIOps", Windows
  uint64_t io_maximum_bandwidth = 0;  // "IOMaximumBandwidth", Windows
  bool operator==(const Resources&) const = default;
};

// mount.BindOptions.
struct BindOptions {
  std::string propagation;     // omitempty; "rprivate", "shared", ...
  bool non_recursive = false;  // omitempty
  bool operator==(const BindOptions&) const = default;
};

// mount.Driver.
struct MountDriver {
  std::string name;   // omitempty
  StringMap options;  // omitempty
  bool operator==(const MountDriver&) const = default;
};

// mount.VolumeOptions.
struct VolumeOptions {
  bool no_copy = false;                      // omitempty
  StringMap labels;                          // omitempty
  std::optional<MountDriver> driver_config;  // omitempty
  bool operator==(const VolumeOptions&) const = default;
};

// mount.TmpfsOptions.
struct TmpfsOptions {
  int64_t size_bytes = 0;  // omitempty
  uint32_t mode = 0;       // omitempty; Go os.FileMode
  bool operator==(const TmpfsOptions&) const = default;
};

// mount.Mount: one --mount. Every field is omitempty.
struct Mount {
  std::string type;  // "bind", "volume", "tmpfs", "npipe"
  std::string source;
  std::string target;
  bool read_only = false;
  std::string consistency;
  std::optional<BindOptions> bind_options;
  std::optional<VolumeOptions> volume_options;
  std::optional<TmpfsOptions> tmpfs_options;
  bool operator==(const Mount&) const = default;
};

// container.HostConfig: how the host runs the container.
struct HostConfig {
  std::optional<std::vector<std::string>> binds;
  std::string container_id_file;  // "ContainerIDFile"
  LogConfig log_config;
  std::string network_mode;  // container.NetworkMode: "default", "bridge", "host", "none", "container:<id>", a network
  std::optional<PortMap> port_bindings;
  RestartPolicy restart_policy;
  bool auto_remove = false;
  std::string volume_driver;
  std::optional<std::vector<std::string>> volumes_from;
  std::optional<StrSlice> cap_add;
  std::optional<StrSlice> cap_drop;
  std::string cgroupns_mode;  // "", "private", "host"
  std::optional<std::vector<std::string>> dns;          // "Dns"
  std::optional<std::vector<std::string>> dns_options;  // "DnsOptions"
  std::optional<std::vector<std::string>> dns_search;   // "DnsSearch"
  std::optional<std::vector<std::string>> extra_hosts;
  std::optional<std::vector<std::string>> group_add;
  std::string ipc_mode;
  std::string cgroup;  // container.CgroupSpec
  std::optional<std::vector<std::string>> links;
  int64_t oom_score_adj = 0;
  std::string pid_mode;
  bool privileged = false;
  bool publish_all_ports = false;
  bool readonly_rootfs = false;
  std::optional<std::vector<std::string>> security_opt;
  StringMap storage_opt;  // omitempty
  StringMap tmpfs;        // omitempty; path -> options
  std::string uts_mode;     // "UTSMode"
  std::string userns_mode;  // "UsernsMode"
  int64_t shm_size = 0;
  StringMap sysctls;    // omitempty
  std::string runtime;  // omitempty
  std::array<uint64_t, 2> console_size{};  // height, width
  std::string isolation;
  Resources resources;  // embedded: its fields sit at HostConfig's level in JSON
  std::vector<Mount> mounts;  // omitempty
  std::optional<std::vector<std::string>> masked_paths;
  std::optional<std::vector<std::string>> readonly_paths;
  std::optional<bool> init;  // omitempty; unset = the daemon's default
  bool operator==(const HostConfig&) const = default;
};

// container.UpdateConfig: the body of POST /containers/{id}/update.
struct UpdateConfig {
  Resources resources;  // embedded
  RestartPolicy restart_policy;
  bool operator==(const UpdateConfig&) const = default;
};

}  // namespace berth::spec
