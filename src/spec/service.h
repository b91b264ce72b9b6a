#pragma once
// Docker Engine API 1.41 service, task, secret and config types, field for field as moby 20.10
// declares them (api/types/swarm/{service,task,container,network,runtime,secret,config}.go).
// Conventions are spec/container.h's and spec/swarm.h's: a Go pointer is a std::optional; a Go
// slice or map that renders `null` when nil (and is not omitempty) is a std::optional container;
// an omitempty slice or map is a plain container (empty: left out). Durations are nanoseconds
// (Go's time.Duration), times Unix nanoseconds (0: the zero time).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spec/container.h"
#include "spec/host_config.h"
#include "spec/swarm.h"

namespace berth::spec {

// --- task spec ---------------------------------------------------------------------------------

struct SecretReferenceFileTarget {
  std::string name;   // "Name"
  std::string uid;    // "UID"
  std::string gid;    // "GID"
  uint32_t mode = 0;  // "Mode" (os.FileMode, decimal in JSON)
  bool operator==(const SecretReferenceFileTarget&) const = default;
};

struct SecretReference {
  std::optional<SecretReferenceFileTarget> file;  // "File"; null when unset (not omitempty)
  std::string secret_id;                          // "SecretID"
  std::string secret_name;                        // "SecretName"
  bool operator==(const SecretReference&) const = default;
};

struct ServiceConfigReference {
  std::optional<SecretReferenceFileTarget> file;  // "File", omitempty (ConfigReferenceFileTarget)
  bool runtime = false;                           // "Runtime": {} when set, omitempty
  std::string config_id;                          // "ConfigID"
  std::string config_name;                        // "ConfigName"
  bool operator==(const ServiceConfigReference&) const = default;
};

struct DnsConfig {                       // swarm.DNSConfig
  std::vector<std::string> nameservers;  // omitempty
  std::vector<std::string> search;       // omitempty
  std::vector<std::string> options;      // omitempty
  bool operator==(const DnsConfig&) const = default;
};

struct CredentialSpec {  // all three always rendered (no omitempty in 20.10)
  std::string config;
  std::string file;
  std::string registry;
  bool operator==(const CredentialSpec&) const = default;
};

struct SELinuxContext {
  bool disable = false;
  std::string user, role, type, level;
  bool operator==(const SELinuxContext&) const = default;
};

struct Privileges {
  std::optional<CredentialSpec> credential_spec;  // "CredentialSpec"; null when unset
  std::optional<SELinuxContext> selinux_context;  // "SELinuxContext"; null when unset
  bool operator==(const Privileges&) const = default;
};

struct ServiceUlimit {  // units.Ulimit
  std::string name;
  int64_t hard = 0;
  int64_t soft = 0;
  bool operator==(const ServiceUlimit&) const = default;
};

// swarm.ContainerSpec
struct ServiceContainerSpec {
  std::string image;                            // omitempty
  StringMap labels;                             // omitempty
  std::vector<std::string> command;             // omitempty
  std::vector<std::string> args;                // omitempty
  std::string hostname;                         // omitempty
  std::vector<std::string> env;                 // omitempty
  std::string dir;                              // omitempty
  std::string user;                             // omitempty
  std::vector<std::string> groups;              // omitempty
  std::optional<Privileges> privileges;         // omitempty
  std::optional<bool> init;                     // omitempty
  std::string stop_signal;                      // omitempty
  bool tty = false;                             // "TTY", omitempty
  bool open_stdin = false;                      // omitempty
  bool read_only = false;                       // omitempty
  std::vector<Mount> mounts;                    // omitempty
  std::optional<int64_t> stop_grace_period;     // omitempty, nanoseconds
  std::optional<HealthConfig> healthcheck;      // omitempty
  std::vector<std::string> hosts;               // omitempty
  std::optional<DnsConfig> dns_config;          // "DNSConfig", omitempty
  std::vector<SecretReference> secrets;         // omitempty
  std::vector<ServiceConfigReference> configs;  // omitempty
  std::string isolation;                        // omitempty ("default" once stored)
  StringMap sysctls;                            // omitempty
  std::vector<std::string> capability_add;      // omitempty
  std::vector<std::string> capability_drop;     // omitempty
  std::vector<ServiceUlimit> ulimits;           // omitempty
  bool operator==(const ServiceContainerSpec&) const = default;
};

struct ServiceLimit {        // swarm.Limit
  int64_t nano_cpus = 0;     // "NanoCPUs", omitempty
  int64_t memory_bytes = 0;  // omitempty
  int64_t pids = 0;          // omitempty
  bool operator==(const ServiceLimit&) const = default;
};

struct ResourceRequirements {
  std::optional<ServiceLimit> limits;         // omitempty
  std::optional<NodeResources> reservations;  // omitempty (swarm.Resources)
  bool operator==(const ResourceRequirements&) const = default;
};

struct ServiceRestartPolicy {            // swarm.RestartPolicy
  std::string condition;                 // "none", "on-failure", "any"; omitempty
  std::optional<int64_t> delay;          // omitempty, nanoseconds
  std::optional<uint64_t> max_attempts;  // omitempty
  std::optional<int64_t> window;         // omitempty, nanoseconds
  bool operator==(const ServiceRestartPolicy&) const = default;
};

struct PlacementPreference {
  // {"Spread": {"SpreadDescriptor": ...}}. Go's Spread is a pointer; {"Spread": null} (which
  // Docker ignores) reads as an empty descriptor here.
  std::string spread_descriptor;
  bool operator==(const PlacementPreference&) const = default;
};

struct Placement {
  std::vector<std::string> constraints;          // omitempty
  std::vector<PlacementPreference> preferences;  // omitempty
  uint64_t max_replicas = 0;                     // omitempty
  std::vector<Platform> platforms;               // omitempty
  bool operator==(const Placement&) const = default;
};

struct NetworkAttachmentConfig {
  std::string target;                // omitempty
  std::vector<std::string> aliases;  // omitempty
  StringMap driver_opts;             // omitempty
  bool operator==(const NetworkAttachmentConfig&) const = default;
};

struct NetworkAttachmentSpec {
  std::string container_id;  // "ContainerID"
  bool operator==(const NetworkAttachmentSpec&) const = default;
};

// swarm.TaskSpec
struct TaskSpec {
  std::optional<ServiceContainerSpec> container_spec;  // omitempty
  std::optional<ResourceRequirements> resources;       // omitempty
  std::optional<ServiceRestartPolicy> restart_policy;  // omitempty
  std::optional<Placement> placement;                  // omitempty
  std::vector<NetworkAttachmentConfig> networks;       // omitempty
  std::optional<LogDriver> log_driver;                 // omitempty
  uint64_t force_update = 0;                           // always
  std::string runtime;                                 // omitempty ("container" once stored)
  // "NetworkAttachmentSpec" (omitempty; after ContainerSpec in Go's order): the tasks the
  // engine creates for `docker run --network <attachable overlay>`. "PluginSpec" is not kept.
  std::optional<NetworkAttachmentSpec> network_attachment_spec;
  bool operator==(const TaskSpec&) const = default;
};

// --- service -----------------------------------------------------------------------------------

struct ReplicatedJob {                        // swarm.ReplicatedJob (API 1.41 jobs)
  std::optional<uint64_t> max_concurrent;     // omitempty
  std::optional<uint64_t> total_completions;  // omitempty
  bool operator==(const ReplicatedJob&) const = default;
};

struct ServiceMode {
  // One is set (ValidateServiceSpec refuses more; none reads as replicated, 1 replica).
  // Replicated: its Replicas (nullopt renders {"Replicated": {}}).
  bool replicated = false;
  std::optional<uint64_t> replicas;  // omitempty
  bool global = false;
  // Jobs (1.41): "ReplicatedJob" and "GlobalJob" ({} when set), after Global in Go's order.
  std::optional<ReplicatedJob> replicated_job;
  bool global_job = false;
  bool operator==(const ServiceMode&) const = default;
};

// swarm.UpdateConfig
struct ServiceUpdateConfig {
  uint64_t parallelism = 0;      // always
  int64_t delay = 0;             // omitempty, nanoseconds
  std::string failure_action;    // "pause", "continue", "rollback"; omitempty
  int64_t monitor = 0;           // omitempty, nanoseconds
  double max_failure_ratio = 0;  // always; float32 in Go: the parser rounds to a float
  std::string order;             // "stop-first", "start-first"; always
  bool operator==(const ServiceUpdateConfig&) const = default;
};

struct ServicePortConfig {
  std::string name;             // omitempty
  std::string protocol;         // "tcp", "udp", "sctp"; omitempty
  uint32_t target_port = 0;     // omitempty
  uint32_t published_port = 0;  // omitempty
  std::string publish_mode;     // "ingress", "host"; omitempty
  bool operator==(const ServicePortConfig&) const = default;
};

struct EndpointSpec {
  std::string mode;                      // "vip", "dnsrr"; omitempty
  std::vector<ServicePortConfig> ports;  // omitempty
  bool operator==(const EndpointSpec&) const = default;
};

struct EndpointVirtualIP {
  std::string network_id;  // "NetworkID", omitempty
  std::string addr;        // omitempty
  bool operator==(const EndpointVirtualIP&) const = default;
};

struct Endpoint {
  EndpointSpec spec;                           // omitempty (always rendered by moby: a struct)
  std::vector<ServicePortConfig> ports;        // omitempty
  std::vector<EndpointVirtualIP> virtual_ips;  // "VirtualIPs", omitempty
  bool operator==(const Endpoint&) const = default;
};

// swarm.ServiceSpec
struct ServiceSpec {
  Annotations annotations;
  TaskSpec task_template;                              // omitempty (a struct: always)
  ServiceMode mode;                                    // omitempty (a struct: always)
  std::optional<ServiceUpdateConfig> update_config;    // omitempty
  std::optional<ServiceUpdateConfig> rollback_config;  // omitempty
  std::vector<NetworkAttachmentConfig> networks;       // omitempty (deprecated place)
  std::optional<EndpointSpec> endpoint_spec;           // omitempty
  bool operator==(const ServiceSpec&) const = default;
};

// UpdateStatus.State values.
inline constexpr char kUpdateUpdating[] = "updating";
inline constexpr char kUpdatePaused[] = "paused";
inline constexpr char kUpdateCompleted[] = "completed";
inline constexpr char kUpdateRollbackStarted[] = "rollback_started";
inline constexpr char kUpdateRollbackPaused[] = "rollback_paused";
inline constexpr char kUpdateRollbackCompleted[] = "rollback_completed";

struct UpdateStatus {
  std::string state;                    // omitempty
  std::optional<int64_t> started_at;    // omitempty, unix nanos
  std::optional<int64_t> completed_at;  // omitempty, unix nanos
  std::string message;                  // omitempty
  bool operator==(const UpdateStatus&) const = default;
};

struct JobStatus {             // swarm.JobStatus: job-mode services only
  SwarmVersion job_iteration;  // "JobIteration"
  int64_t last_execution = 0;  // "LastExecution", unix nanos (a time: always)
  bool operator==(const JobStatus&) const = default;
};

struct ServiceStatus {  // ?status=true
  uint64_t running_tasks = 0;
  uint64_t desired_tasks = 0;
  uint64_t completed_tasks = 0;
  bool operator==(const ServiceStatus&) const = default;
};

// swarm.Service: GET /services, /services/{id}.
struct Service {
  std::string id;  // "ID"
  SwarmMeta meta;
  ServiceSpec spec;
  std::optional<ServiceSpec> previous_spec;     // omitempty
  Endpoint endpoint;                            // omitempty (a struct: always)
  std::optional<UpdateStatus> update_status;    // omitempty
  std::optional<ServiceStatus> service_status;  // omitempty; only when asked
  std::optional<JobStatus> job_status;          // omitempty; job modes only
  // The X-Registry-Auth that came with spec and with previous_spec (`--with-registry-auth`),
  // sealed with the swarm's data key; "" = none. Never rendered by the API (Docker keeps it in
  // swarmkit's PullOptions, which its API leaves out); the cluster store keeps it beside the
  // record's API JSON, and only the nodes running the service's tasks get it, opened.
  std::string registry_auth;
  std::string previous_registry_auth;
  bool operator==(const Service&) const = default;
};

// POST /services/create and /services/{id}/update answers.
struct ServiceCreateResponse {
  std::string id;                     // "ID"
  std::vector<std::string> warnings;  // "Warnings", omitempty
  bool operator==(const ServiceCreateResponse&) const = default;
};

struct ServiceUpdateResponse {
  // "Warnings": always rendered, null when empty (types.ServiceUpdateResponse has no
  // omitempty; the daemon only ever appends, so [] never occurs).
  std::vector<std::string> warnings;
  bool operator==(const ServiceUpdateResponse&) const = default;
};

// --- task --------------------------------------------------------------------------------------

// swarm.Network, as a task's NetworksAttachments carry it (api/types/swarm/network.go).
struct SwarmIpamConfig {  // swarm.IPAMConfig
  std::string subnet;     // omitempty
  std::string range;      // omitempty
  std::string gateway;    // omitempty
  bool operator==(const SwarmIpamConfig&) const = default;
};

struct SwarmIpamOptions {                // swarm.IPAMOptions
  LogDriver driver;                      // "Driver" (swarm.Driver; a struct: always)
  std::vector<SwarmIpamConfig> configs;  // omitempty
  bool operator==(const SwarmIpamOptions&) const = default;
};

struct SwarmNetworkSpec {                         // swarm.NetworkSpec
  Annotations annotations;                        // embedded
  std::optional<LogDriver> driver_configuration;  // omitempty
  bool ipv6_enabled = false;                      // "IPv6Enabled", omitempty
  bool internal = false;                          // omitempty
  bool attachable = false;                        // omitempty
  bool ingress = false;                           // omitempty
  std::optional<SwarmIpamOptions> ipam_options;   // "IPAMOptions", omitempty
  std::optional<std::string> config_from;         // "ConfigFrom": {"Network": ...}, omitempty
  std::string scope;                              // omitempty
  bool operator==(const SwarmNetworkSpec&) const = default;
};

struct SwarmNetwork {  // swarm.Network
  std::string id;      // "ID"
  SwarmMeta meta;
  SwarmNetworkSpec spec;                         // a struct: always
  LogDriver driver_state;                        // "DriverState" (swarm.Driver): always
  std::optional<SwarmIpamOptions> ipam_options;  // "IPAMOptions", omitempty
  bool operator==(const SwarmNetwork&) const = default;
};

struct NetworkAttachment {             // swarm.NetworkAttachment
  SwarmNetwork network;                // a struct: always
  std::vector<std::string> addresses;  // omitempty
  bool operator==(const NetworkAttachment&) const = default;
};

// Task states in their order (a task only moves forward).
inline constexpr const char* kTaskStates[] = {
    "new",     "allocated", "pending",  "assigned", "accepted", "preparing", "ready",   "starting",
    "running", "complete",  "shutdown", "failed",   "rejected", "remove",    "orphaned"};

// A task state's place in kTaskStates; -1 for an unknown one ("" included).
inline int TaskStateRank(std::string_view state) {
  int rank = 0;
  for (const char* s : kTaskStates) {
    if (state == s) return rank;
    ++rank;
  }
  return -1;
}

struct ContainerStatus {     // all three always rendered (the traces show "PID": 0, "ExitCode": 0)
  std::string container_id;  // "ContainerID"
  int64_t pid = 0;           // "PID"
  int64_t exit_code = 0;
  bool operator==(const ContainerStatus&) const = default;
};

struct PortStatus {
  std::vector<ServicePortConfig> ports;  // omitempty
  bool operator==(const PortStatus&) const = default;
};

struct TaskStatus {
  int64_t timestamp = 0;                            // omitempty (a time: always)
  std::string state;                                // omitempty
  std::string message;                              // omitempty
  std::string err;                                  // omitempty
  std::optional<ContainerStatus> container_status;  // omitempty
  PortStatus port_status;                           // omitempty (a struct: always)
  bool operator==(const TaskStatus&) const = default;
};

// swarm.Task: GET /tasks, /tasks/{id}.
struct Task {
  std::string id;  // "ID"
  SwarmMeta meta;
  Annotations annotations;    // embedded ("Labels" always)
  TaskSpec spec;              // omitempty (a struct: always)
  std::string service_id;     // "ServiceID", omitempty
  int64_t slot = 0;           // omitempty (global tasks have none)
  std::string node_id;        // "NodeID", omitempty
  TaskStatus status;          // omitempty (a struct: always)
  std::string desired_state;  // omitempty
  // "NetworksAttachments" (omitempty): the ingress network of a task with published ports
  // already (service-create-web trace); overlay networks fill it in issue 12.
  std::vector<NetworkAttachment> networks_attachments;
  std::optional<SwarmVersion> job_iteration;  // "JobIteration", omitempty; job tasks only
  // Not kept: GenericResources (no generic resources in Berth).
  bool operator==(const Task&) const = default;
};

// --- secrets and configs -----------------------------------------------------------------------

struct SecretSpec {
  Annotations annotations;
  std::optional<std::string> data;      // "Data", base64 in JSON (raw bytes here); omitempty
                                        // ("" reads as unset: Go renders both alike)
  std::optional<LogDriver> driver;      // omitempty (swarm.Driver)
  std::optional<LogDriver> templating;  // omitempty
  bool operator==(const SecretSpec&) const = default;
};

struct Secret {
  std::string id;  // "ID"
  SwarmMeta meta;
  SecretSpec spec;
  bool operator==(const Secret&) const = default;
};

struct ConfigSpec {
  Annotations annotations;
  std::optional<std::string> data;      // base64 in JSON (raw bytes here); omitempty ("": unset)
  std::optional<LogDriver> templating;  // omitempty
  bool operator==(const ConfigSpec&) const = default;
};

struct Config {
  std::string id;  // "ID"
  SwarmMeta meta;
  ConfigSpec spec;
  bool operator==(const Config&) const = default;
};

// POST /secrets/create, /configs/create answers: {"ID": ...}.
struct IdResponse {
  std::string id;
  bool operator==(const IdResponse&) const = default;
};

}  // namespace berth::spec
