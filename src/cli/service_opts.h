#pragma once
// `service create` and `service update` flags, docker CLI 28's names, defaults and parsing
// (cli/command/service/opts.go, update.go; opts/swarmopts), and the ServiceSpec they make:
// BuildServiceSpec is create's ToService, UpdateServiceSpec is update's merge into the spec the
// daemon returned. Lookups the docker CLI makes while building (a network's ID, the IDs of
// secrets and configs by name) go through ServiceLookups, so that the building is testable
// without a daemon. service_opts.cc registers, checks and builds; service_update.cc merges;
// service_values.cc parses the single values (--publish, --secret, --mount...).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cli/flags.h"
#include "common/status.h"
#include "spec/service.h"

namespace berth::cli {

// swarmkit's defaults (api/defaults): what docker fills in for an UpdateConfig, a RollbackConfig
// or a RestartPolicy the user only partly set.
inline constexpr uint64_t kDefaultUpdateParallelism = 1;
inline constexpr int64_t kDefaultUpdateMonitor = 5'000'000'000;  // 5s
inline constexpr int64_t kDefaultRestartDelay = 5'000'000'000;   // 5s
inline constexpr int64_t kDefaultStopGracePeriod = 10'000'000'000;

// One of --update-* or --rollback-*.
struct UpdateFlags {
  std::string parallelism;  // uint; "" = not given
  int64_t delay = 0;        // nanoseconds
  int64_t monitor = 0;
  std::string failure_action;
  std::string max_failure_ratio;  // float32
  std::string order;
};

struct ServiceOptions {
  bool detach = false;
  bool quiet = false;

  std::string mode = "replicated";
  std::string name;
  std::vector<std::string> labels;            // --label, update: --label-add
  std::vector<std::string> container_labels;  // --container-label(-add)
  std::string entrypoint;                     // shell words
  std::string hostname;
  std::vector<std::string> env;  // --env, update: --env-add
  std::vector<std::string> env_files;
  std::string workdir;
  std::string user;
  std::vector<std::string> groups;
  std::string credential_spec;
  bool init = false;
  std::string stop_signal;
  bool tty = false;
  bool read_only = false;
  std::vector<std::string> mounts;
  std::vector<std::string> dns, dns_search, dns_options;
  std::vector<std::string> hosts;  // host:ip
  std::vector<std::string> sysctls;
  std::vector<std::string> cap_add, cap_drop;
  std::vector<std::string> ulimits;
  int64_t oom_score_adj = 0;

  std::string limit_cpu, limit_memory, reserve_cpu, reserve_memory;
  int64_t limit_pids = 0;
  std::vector<std::string> generic_resources;
  int64_t stop_grace_period = 0;

  std::string replicas;        // uint
  std::string max_concurrent;  // uint
  std::string max_replicas;    // uint, --replicas-max-per-node

  std::string restart_condition;
  int64_t restart_delay = 0;
  std::string restart_max_attempts;  // uint
  int64_t restart_window = 0;

  std::vector<std::string> constraints;
  std::vector<std::string> placement_prefs;
  UpdateFlags update;
  UpdateFlags rollback;
  std::vector<std::string> networks;
  std::string endpoint_mode = "vip";
  std::vector<std::string> publish;

  bool registry_auth = false;
  bool no_resolve_image = false;
  std::string log_driver;
  std::vector<std::string> log_opts;

  std::string health_cmd;
  int64_t health_interval = 0, health_timeout = 0, health_start_period = 0,
          health_start_interval = 0;
  int64_t health_retries = 0;
  bool no_healthcheck = false;

  std::vector<std::string> secrets;
  std::vector<std::string> configs;
  std::string isolation;

  // update only
  std::string image;
  std::string args;  // shell words
  bool rollback_flag = false;
  bool force = false;
  std::vector<std::string> env_rm, group_rm, label_rm, container_label_rm, mount_rm, publish_rm,
      constraint_rm, dns_rm, dns_option_rm, dns_search_rm, host_rm, secret_rm, config_rm,
      placement_pref_rm, network_rm, sysctl_rm, ulimit_rm, generic_resource_rm;

  // The flags registered, for update --rollback's "other flags" check.
  std::vector<std::string> flag_names;
};

enum class ServiceCommand { kCreate, kUpdate };

// Registers the flags of `service create` or `service update` on f.
void RegisterServiceFlags(FlagSet& f, ServiceOptions* o, ServiceCommand command);

// The checks docker's flag types make as a value is set (uints, floats, CPUs, sizes, --publish,
// --secret, --mount...): pflag's "invalid argument \"x\" for \"--replicas\" flag: ..." texts.
// Call after parsing; later steps assume these values parse.
Status ValidateServiceFlags(const ServiceOptions& o, const FlagSet& f);

// The flags docker refuses against a 1.41 daemon (their "version" annotation):
// "\"--oom-score-adj\" requires API version 1.46, but the Docker daemon API version is 1.41".
Status CheckFlagVersions(const FlagSet& f, const std::string& api_version);

// What building a spec needs from the daemon.
class ServiceLookups {
 public:
  virtual ~ServiceLookups() = default;
  // GET /networks/{name}?scope=swarm: the network's ID.
  virtual StatusOr<std::string> NetworkId(const std::string& name_or_id) = 0;
  // GET /secrets?filters={"name":...}: name -> ID of those that exist.
  virtual StatusOr<std::map<std::string, std::string>> SecretIds(
      const std::vector<std::string>& names) = 0;
  // GET /configs?filters={"name":...}.
  virtual StatusOr<std::map<std::string, std::string>> ConfigIds(
      const std::vector<std::string>& names) = 0;
};

// `service create IMAGE [COMMAND] [ARG...]`: the request's spec. Errors carry docker's texts.
StatusOr<spec::ServiceSpec> BuildServiceSpec(const ServiceOptions& o, const FlagSet& f,
                                             const std::string& image,
                                             const std::vector<std::string>& args,
                                             ServiceLookups& lookups);

// `service update`: merges the flags that were given into `spec` (the service's current spec).
// --rollback is the caller's (it sends the spec unchanged with ?rollback=previous).
Status UpdateServiceSpec(const ServiceOptions& o, const FlagSet& f, ServiceLookups& lookups,
                         spec::ServiceSpec* spec);

// The single values, for tests and for the commands' own checks.
// --publish: "8080:80", "80", "8000-8001:80-81/udp", "published=8080,target=80,mode=host".
StatusOr<std::vector<spec::ServicePortConfig>> ParsePortFlag(const std::string& value);
// --secret: "name" or "source=name,target=t,uid=0,gid=0,mode=0400"; the ID left empty.
StatusOr<spec::SecretReference> ParseSecretFlag(const std::string& value);
// --config: likewise.
StatusOr<spec::ServiceConfigReference> ParseConfigFlag(const std::string& value);
// --network: "name" or "name=net,alias=a,driver-opt=k=v".
StatusOr<spec::NetworkAttachmentConfig> ParseNetworkFlag(const std::string& value);
// --placement-pref: "spread=node.labels.zone".
StatusOr<spec::PlacementPreference> ParsePlacementPref(const std::string& value);
// --mount (bind, volume, tmpfs), as a swarm ContainerSpec mount.
StatusOr<spec::Mount> ParseServiceMount(const std::string& value);
// Go's strconv.ParseUint(s, 0, 64) (the flag's error text on failure).
StatusOr<uint64_t> ParseGoUint(const std::string& s);
// google/shlex's Split: shell words, quotes and backslashes, no expansion.
StatusOr<std::vector<std::string>> ShellWords(const std::string& s);

}  // namespace berth::cli
