#pragma once
// Docker Engine API 1.41 swarm and node types, field for field as moby 20.10 declares them
// (api/types/swarm/{swarm,node,common}.go and the Swarm part of api/types/swarm.Info).
// Conventions are those of spec/container.h: a Go pointer is a std::optional; a Go slice or map
// that renders `null` when nil is a std::optional container. Durations are nanoseconds (Go's
// time.Duration), times Unix nanoseconds (0: the zero time).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "spec/container.h"

namespace berth::spec {

struct SwarmVersion {  // swarm.Version
  uint64_t index = 0;
  bool operator==(const SwarmVersion&) const = default;
};

// swarm.Meta (embedded: its fields render at the top level of Node and ClusterInfo).
struct SwarmMeta {
  SwarmVersion version;
  int64_t created_at = 0;  // omitempty in Go, but always set
  int64_t updated_at = 0;
  bool operator==(const SwarmMeta&) const = default;
};

// swarm.Annotations (embedded in the specs: "Name", "Labels").
struct Annotations {
  std::string name;  // omitempty
  StringMap labels;  // always rendered ({} when empty)
  bool operator==(const Annotations&) const = default;
};

struct OrchestrationConfig {
  std::optional<int64_t> task_history_retention_limit;  // omitempty
  bool operator==(const OrchestrationConfig&) const = default;
};

struct RaftConfig {
  uint64_t snapshot_interval = 0;               // omitempty
  std::optional<uint64_t> keep_old_snapshots;   // omitempty
  uint64_t log_entries_for_slow_followers = 0;  // omitempty
  int64_t election_tick = 0;                    // always
  int64_t heartbeat_tick = 0;                   // always
  bool operator==(const RaftConfig&) const = default;
};

struct DispatcherConfig {
  int64_t heartbeat_period = 0;  // omitempty; nanoseconds
  bool operator==(const DispatcherConfig&) const = default;
};

struct ExternalCA {
  std::string protocol;  // "cfssl"
  std::string url;       // "URL"
  std::optional<StringMap> options;  // omitempty
  std::string ca_cert;               // "CACert"
  bool operator==(const ExternalCA&) const = default;
};

struct CAConfig {
  int64_t node_cert_expiry = 0;  // omitempty; nanoseconds
  std::optional<std::vector<ExternalCA>> external_cas;  // "ExternalCAs", omitempty
  std::string signing_ca_cert;  // "SigningCACert", omitempty
  std::string signing_ca_key;   // "SigningCAKey", omitempty
  uint64_t force_rotate = 0;    // omitempty
  bool operator==(const CAConfig&) const = default;
};

struct LogDriver {  // swarm.Driver
  std::string name;                  // omitempty
  std::optional<StringMap> options;  // omitempty
  bool operator==(const LogDriver&) const = default;
};

struct TaskDefaults {
  std::optional<LogDriver> log_driver;  // omitempty
  bool operator==(const TaskDefaults&) const = default;
};

struct EncryptionConfig {
  bool auto_lock_managers = false;  // always
  bool operator==(const EncryptionConfig&) const = default;
};

// swarm.Spec
struct SwarmSpec {
  Annotations annotations;
  OrchestrationConfig orchestration;
  RaftConfig raft;
  DispatcherConfig dispatcher;
  CAConfig ca_config;  // "CAConfig"
  TaskDefaults task_defaults;
  EncryptionConfig encryption_config;
  bool operator==(const SwarmSpec&) const = default;
};

// swarm.TLSInfo; the byte fields are DER, base64 in JSON.
struct TLSInfo {
  std::string trust_root;              // "TrustRoot", omitempty (PEM)
  std::string cert_issuer_subject;     // omitempty
  std::string cert_issuer_public_key;  // omitempty
  bool operator==(const TLSInfo&) const = default;
};

// swarm.ClusterInfo
struct ClusterInfo {
  std::string id;  // "ID"
  SwarmMeta meta;
  SwarmSpec spec;
  TLSInfo tls_info;  // "TLSInfo"
  bool root_rotation_in_progress = false;
  std::optional<std::vector<std::string>> default_addr_pool;  // null when nil
  uint32_t subnet_size = 0;
  uint32_t data_path_port = 0;
  bool operator==(const ClusterInfo&) const = default;
};

struct JoinTokens {
  std::string worker;
  std::string manager;
  bool operator==(const JoinTokens&) const = default;
};

// swarm.Swarm: GET /swarm.
struct Swarm {
  ClusterInfo cluster;  // embedded
  JoinTokens join_tokens;
  bool operator==(const Swarm&) const = default;
};

// POST /swarm/init
struct SwarmInitRequest {
  std::string listen_addr;
  std::string advertise_addr;
  std::string data_path_addr;
  uint32_t data_path_port = 0;
  bool force_new_cluster = false;
  SwarmSpec spec;
  bool auto_lock_managers = false;
  std::string availability;  // "active", "pause", "drain"; "" = active
  std::optional<std::vector<std::string>> default_addr_pool;
  uint32_t subnet_size = 0;
  bool operator==(const SwarmInitRequest&) const = default;
};

// POST /swarm/join
struct SwarmJoinRequest {
  std::string listen_addr;
  std::string advertise_addr;
  std::string data_path_addr;
  std::optional<std::vector<std::string>> remote_addrs;
  std::string join_token;
  std::string availability;
  bool operator==(const SwarmJoinRequest&) const = default;
};

// swarm.NodeSpec
struct NodeSpec {
  Annotations annotations;
  std::string role;          // "worker", "manager"; omitempty
  std::string availability;  // "active", "pause", "drain"; omitempty
  bool operator==(const NodeSpec&) const = default;
};

struct Platform {
  std::string architecture;  // omitempty
  std::string os;            // "OS", omitempty
  bool operator==(const Platform&) const = default;
};

struct NodeResources {  // swarm.Resources
  int64_t nano_cpus = 0;     // "NanoCPUs", omitempty
  int64_t memory_bytes = 0;  // omitempty
  bool operator==(const NodeResources&) const = default;
};

struct PluginDescription {
  std::string type;
  std::string name;
  bool operator==(const PluginDescription&) const = default;
};

struct EngineDescription {
  std::string engine_version;                             // omitempty
  std::optional<StringMap> labels;                        // omitempty
  std::optional<std::vector<PluginDescription>> plugins;  // omitempty
  bool operator==(const EngineDescription&) const = default;
};

struct NodeDescription {
  std::string hostname;  // omitempty
  Platform platform;
  NodeResources resources;
  EngineDescription engine;
  TLSInfo tls_info;  // "TLSInfo"
  bool operator==(const NodeDescription&) const = default;
};

struct NodeStatus {
  std::string state;    // "unknown", "down", "ready", "disconnected"
  std::string message;  // omitempty
  std::string addr;     // omitempty
  bool operator==(const NodeStatus&) const = default;
};

struct ManagerStatus {
  bool leader = false;        // omitempty
  std::string reachability;   // "unknown", "unreachable", "reachable"; omitempty
  std::string addr;           // omitempty: "IP:2377"
  bool operator==(const ManagerStatus&) const = default;
};

// swarm.Node: GET /nodes, /nodes/{id}.
struct Node {
  std::string id;  // "ID"
  SwarmMeta meta;
  NodeSpec spec;
  NodeDescription description;
  NodeStatus status;
  std::optional<ManagerStatus> manager_status;  // omitempty
  bool operator==(const Node&) const = default;
};

struct SwarmPeer {  // swarm.Peer
  std::string node_id;  // "NodeID"
  std::string addr;
  bool operator==(const SwarmPeer&) const = default;
};

// swarm.Info: the "Swarm" section of GET /info.
struct SwarmInfo {
  std::string node_id;    // "NodeID"
  std::string node_addr;  // "NodeAddr"
  std::string local_node_state;  // "inactive", "pending", "active", "error", "locked"
  bool control_available = false;
  std::string error;
  std::optional<std::vector<SwarmPeer>> remote_managers;  // null when nil
  int64_t nodes = 0;     // omitempty
  int64_t managers = 0;  // omitempty
  std::optional<ClusterInfo> cluster;  // omitempty
  std::optional<std::vector<std::string>> warnings;  // omitempty
  bool operator==(const SwarmInfo&) const = default;
};

}  // namespace berth::spec
