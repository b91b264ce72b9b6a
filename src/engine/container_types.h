#pragma once
// What the container manager answers, as typed values: src/api renders them as Docker's JSON.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/health.h"
#include "spec/container.h"
#include "spec/exec.h"
#include "spec/host_config.h"
#include "spec/network.h"
#include "sys/cgroups.h"

namespace berth::engine {

struct CreateResult {
  std::string id;
  std::vector<std::string> warnings;
};

// Inspect's "State".
struct ContainerState {
  std::string status;  // created running restarting exited removing dead
  bool running = false;
  bool paused = false;
  bool restarting = false;
  bool oom_killed = false;
  bool dead = false;
  int pid = 0;
  int exit_code = 0;
  std::string error;
  int64_t started_at = 0;   // unix nanos, 0 = never
  int64_t finished_at = 0;  // unix nanos, 0 = never
  std::optional<HealthState> health;  // none without a health check
};

// GET /containers/{id}/json.
struct ContainerView {
  std::string id;
  int64_t created = 0;  // unix nanos
  std::string path;
  std::vector<std::string> args;
  ContainerState state;
  std::string image_id;
  std::string resolv_conf_path, hostname_path, hosts_path, log_path;
  std::string name;  // with the leading '/'
  int restart_count = 0;
  std::vector<std::string> exec_ids;  // null when empty
  spec::HostConfig host_config;
  struct GraphDriver {
    std::string lower_dir, merged_dir, upper_dir, work_dir;
  } graph_driver;
  std::vector<spec::MountPoint> mounts;
  spec::ContainerConfig config;
  spec::NetworkSettings network_settings;
  std::optional<int64_t> size_rw, size_root_fs;
};

// One row of GET /containers/json.
struct ContainerSummary {
  struct Port {
    std::string ip;  // omitted when empty
    int private_port = 0;
    int public_port = 0;  // omitted when 0
    std::string type;
  };
  std::string id;
  std::vector<std::string> names;
  std::string image;
  std::string image_id;
  std::string command;
  int64_t created = 0;  // unix seconds
  std::vector<Port> ports;
  std::optional<int64_t> size_rw;
  spec::StringMap labels;
  std::string state;
  std::string status;  // "Up 3 seconds"
  std::string network_mode;
  std::map<std::string, spec::EndpointSettings> networks;
  std::vector<spec::MountPoint> mounts;
};

// GET /exec/{id}/json.
struct ExecView {
  std::string id;
  bool running = false;
  std::optional<int> exit_code;
  spec::ExecConfig config;
  std::string container_id;
  int pid = 0;
};

// GET /containers/{id}/top.
struct TopResult {
  std::vector<std::string> titles;
  std::vector<std::vector<std::string>> processes;
};

// One sample of GET /containers/{id}/stats.
struct ContainerStats {
  int64_t read = 0;  // unix nanos
  std::string id;
  std::string name;  // with the leading '/'
  bool running = false;
  sys::CgroupStats cgroup;  // empty when not running
  uint64_t system_cpu_usage = 0;  // ns of all CPUs' time, /proc/stat
  uint32_t online_cpus = 0;
  uint64_t host_memory = 0;  // the limit shown when the container has none
  struct Net {
    uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped, tx_bytes, tx_packets, tx_errors, tx_dropped;
  };
  std::map<std::string, Net> networks;
};

struct PruneReport {
  std::vector<std::string> deleted;
  int64_t reclaimed = 0;
};

struct WaitResult {
  int status_code = 0;
  std::string error;  // "" = none
};

}  // namespace berth::engine
