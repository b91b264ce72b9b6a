#pragma once
// docker run/create flags and the POST /containers/create body built from them, field for field
// as the docker CLI sends it (compare api-traces/run-default-b1.md).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cli/flags.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace berth::cli {

struct ContainerOptions {
  // run only
  bool detach = false;
  bool rm = false;
  std::string detach_keys;
  bool sig_proxy = true;

  bool interactive = false;
  bool tty = false;
  std::string name;
  std::vector<std::string> env;
  std::vector<std::string> env_files;
  std::string workdir;
  std::string user;
  std::string entrypoint;
  std::vector<std::string> volumes;
  std::string hostname;
  std::string domainname;
  std::string restart;
  std::string memory;
  std::string memory_swap;
  std::string memory_reservation;
  int64_t memory_swappiness = -1;  // -1: the kernel's default
  bool oom_kill_disable = false;
  int64_t oom_score_adj = 0;
  std::string cpus;
  int64_t cpu_shares = 0;
  int64_t cpu_period = 0;
  int64_t cpu_quota = 0;
  int64_t cpu_rt_period = 0;
  int64_t cpu_rt_runtime = 0;
  std::string cpuset_cpus;
  std::string cpuset_mems;
  std::string blkio_weight;  // a uint16, checked when the request is built
  std::vector<std::string> blkio_weight_devices;
  std::vector<std::string> device_read_bps;
  std::vector<std::string> device_write_bps;
  std::vector<std::string> device_read_iops;
  std::vector<std::string> device_write_iops;
  std::string cgroup_parent;
  std::vector<std::string> devices;
  std::vector<std::string> device_cgroup_rules;
  std::vector<std::string> gpus;
  int64_t pids_limit = 0;
  std::string shm_size;
  std::vector<std::string> labels;
  std::vector<std::string> label_files;
  std::vector<std::string> annotations;  // API 1.43: refused (CheckContainerFlagVersions)
  std::vector<std::string> networks;
  std::string ip;
  std::string ip6;
  std::string mac_address;
  std::vector<std::string> network_aliases;
  std::vector<std::string> link_local_ips;
  std::vector<std::string> dns;
  std::vector<std::string> dns_search;
  std::vector<std::string> dns_options;
  std::vector<std::string> add_hosts;
  std::vector<std::string> publish;
  std::vector<std::string> expose;
  bool publish_all = false;
  bool privileged = false;
  bool read_only = false;
  std::vector<std::string> cap_add;
  std::vector<std::string> group_add;
  std::vector<std::string> links;
  std::vector<std::string> cap_drop;
  std::vector<std::string> attach;
  std::vector<std::string> security_opt;
  std::vector<std::string> tmpfs;
  std::vector<std::string> mounts;  // --mount
  std::vector<std::string> volumes_from;
  std::string volume_driver;
  std::vector<std::string> storage_opts;
  std::vector<std::string> sysctls;
  std::vector<std::string> ulimits;
  std::string stop_signal;
  int64_t stop_timeout = 0;
  bool init = false;
  std::string pid;
  std::string ipc;
  std::string uts;
  std::string userns;
  std::string isolation;
  std::string log_driver;
  std::vector<std::string> log_opts;
  std::string cgroupns;
  std::string runtime;
  std::string platform;
  std::string pull;
  bool quiet = false;
  std::string cidfile;
  std::string health_cmd;
  int64_t health_interval = 0;  // nanoseconds
  int64_t health_timeout = 0;
  int64_t health_start_period = 0;
  int64_t health_start_interval = 0;  // API 1.44: refused likewise
  int64_t health_retries = 0;
  bool no_healthcheck = false;
};

// Registers docker's run/create flags (run adds -d/--rm/--detach-keys/--sig-proxy).
void RegisterContainerFlags(FlagSet& flags, ContainerOptions* o, bool is_run);

struct CreateRequest {
  std::string name;  // ?name= (empty: none)
  nlohmann::json body;
};

// positionals: IMAGE [COMMAND] [ARG...]. flags tells which flags were given (--entrypoint="",
// --init, --stop-timeout matter only when set). Errors carry docker's client-side messages.
StatusOr<CreateRequest> BuildCreateRequest(const ContainerOptions& o, const FlagSet& flags,
                                           const std::vector<std::string>& positionals);

// The flags docker refuses against a daemon older than their "version" annotation, before
// anything is sent: "\"--annotation\" requires API version 1.43, but the Docker daemon API
// version is 1.41". BuildCreateRequest checks them against the highest version Berth speaks.
Status CheckContainerFlagVersions(const FlagSet& flags, std::string_view api_version);

// "busybox" -> "busybox:latest" (docker's familiar name with the default tag), for the
// "Unable to find image" message.
std::string FamiliarWithTag(const std::string& image);

}  // namespace berth::cli
