// Swarm, node and swarm-info values in moby 20.10's field order and omitempty choices
// (api/types/swarm/{swarm,node,common,task}.go). Embedded structs (Meta, Annotations,
// ClusterInfo) are promoted to the top level of their holder, as Go renders them.

#include <limits>

#include "absl/strings/escaping.h"
#include "common/clock.h"
#include "spec/json/swarm_codecs.h"

namespace berth::spec::json {
namespace {

Codec<StringMap> StringMapCodec() { return Map(String()); }

Codec<uint32_t> Uint32() {
  return Narrow<uint32_t>(Uint("uint32", std::numeric_limits<uint32_t>::max()));
}

Codec<TLSInfo> TlsInfoCodec() {
  return Struct<TLSInfo>(
      "TLSInfo", "swarm.TLSInfo",
      {Field("TrustRoot", &TLSInfo::trust_root, String(), true),
       Field("CertIssuerSubject", &TLSInfo::cert_issuer_subject, BytesCodec(), true),
       Field("CertIssuerPublicKey", &TLSInfo::cert_issuer_public_key, BytesCodec(), true)});
}

Codec<OrchestrationConfig> OrchestrationCodec() {
  return Struct<OrchestrationConfig>(
      "OrchestrationConfig", "swarm.OrchestrationConfig",
      {Field("TaskHistoryRetentionLimit", &OrchestrationConfig::task_history_retention_limit,
             Optional(Int("int64")), true)});
}

Codec<RaftConfig> RaftCodec() {
  using R = RaftConfig;
  return Struct<R>(
      "RaftConfig", "swarm.RaftConfig",
      {Field("SnapshotInterval", &R::snapshot_interval, Uint("uint64"), true),
       Field("KeepOldSnapshots", &R::keep_old_snapshots, Optional(Uint("uint64")), true),
       Field("LogEntriesForSlowFollowers", &R::log_entries_for_slow_followers, Uint("uint64"),
             true),
       Field("ElectionTick", &R::election_tick, Int("int")),
       Field("HeartbeatTick", &R::heartbeat_tick, Int("int"))});
}

Codec<DispatcherConfig> DispatcherCodec() {
  return Struct<DispatcherConfig>(
      "DispatcherConfig", "swarm.DispatcherConfig",
      {Field("HeartbeatPeriod", &DispatcherConfig::heartbeat_period, Int("time.Duration"), true)});
}

Codec<ExternalCA> ExternalCaCodec() {
  using E = ExternalCA;
  return Struct<E>("ExternalCA", "swarm.ExternalCA",
                   {Field("Protocol", &E::protocol, String("swarm.ExternalCAProtocol")),
                    Field("URL", &E::url, String()),
                    Field("Options", &E::options, Optional(StringMapCodec()), true),
                    Field("CACert", &E::ca_cert, String())});
}

Codec<CAConfig> CaConfigCodec() {
  using C = CAConfig;
  return Struct<C>("CAConfig", "swarm.CAConfig",
                   {Field("NodeCertExpiry", &C::node_cert_expiry, Int("time.Duration"), true),
                    Field("ExternalCAs", &C::external_cas,
                          Optional(Slice(ExternalCaCodec(), "[]*swarm.ExternalCA")), true),
                    Field("SigningCACert", &C::signing_ca_cert, String(), true),
                    Field("SigningCAKey", &C::signing_ca_key, String(), true),
                    Field("ForceRotate", &C::force_rotate, Uint("uint64"), true)});
}

Codec<TaskDefaults> TaskDefaultsCodec() {
  return Struct<TaskDefaults>(
      "TaskDefaults", "swarm.TaskDefaults",
      {Field("LogDriver", &TaskDefaults::log_driver, Optional(DriverCodec()), true)});
}

Codec<EncryptionConfig> EncryptionCodec() {
  return Struct<EncryptionConfig>(
      "EncryptionConfig", "swarm.EncryptionConfig",
      {Field("AutoLockManagers", &EncryptionConfig::auto_lock_managers, Bool())});
}

std::vector<FieldSpec<ClusterInfo>> ClusterInfoFields() {
  using C = ClusterInfo;
  return Concat<C>(
      {{Field("ID", &C::id, String())},
       Promote(&C::meta, MetaFields()),
       {Field("Spec", &C::spec, SwarmSpecCodec()), Field("TLSInfo", &C::tls_info, TlsInfoCodec()),
        Field("RootRotationInProgress", &C::root_rotation_in_progress, Bool()),
        Field("DefaultAddrPool", &C::default_addr_pool, Optional(Slice(String()))),
        Field("SubnetSize", &C::subnet_size, Uint32()),
        Field("DataPathPort", &C::data_path_port, Uint32())}});
}

Codec<NodeDescription> NodeDescriptionCodec() {
  using D = NodeDescription;
  Codec<PluginDescription> plugin =
      Struct<PluginDescription>("PluginDescription", "swarm.PluginDescription",
                                {Field("Type", &PluginDescription::type, String(), true),
                                 Field("Name", &PluginDescription::name, String(), true)});
  Codec<EngineDescription> engine = Struct<EngineDescription>(
      "EngineDescription", "swarm.EngineDescription",
      {Field("EngineVersion", &EngineDescription::engine_version, String(), true),
       Field("Labels", &EngineDescription::labels, Optional(StringMapCodec()), true),
       Field("Plugins", &EngineDescription::plugins, Optional(Slice(plugin)), true)});
  return Struct<D>("NodeDescription", "swarm.NodeDescription",
                   {Field("Hostname", &D::hostname, String(), true),
                    Field("Platform", &D::platform, PlatformCodec(), true),
                    Field("Resources", &D::resources, ResourcesCodec(), true),
                    Field("Engine", &D::engine, engine, true),
                    Field("TLSInfo", &D::tls_info, TlsInfoCodec(), true)});
}

Codec<NodeStatus> NodeStatusCodec() {
  return Struct<NodeStatus>("NodeStatus", "swarm.NodeStatus",
                            {Field("State", &NodeStatus::state, String("swarm.NodeState"), true),
                             Field("Message", &NodeStatus::message, String(), true),
                             Field("Addr", &NodeStatus::addr, String(), true)});
}

Codec<ManagerStatus> ManagerStatusCodec() {
  return Struct<ManagerStatus>(
      "ManagerStatus", "swarm.ManagerStatus",
      {Field("Leader", &ManagerStatus::leader, Bool(), true),
       Field("Reachability", &ManagerStatus::reachability, String("swarm.Reachability"), true),
       Field("Addr", &ManagerStatus::addr, String(), true)});
}

}  // namespace

Codec<SwarmVersion> VersionCodec() {
  return Struct<SwarmVersion>("Version", "swarm.Version",
                              {Field("Index", &SwarmVersion::index, Uint("uint64"), true)});
}

// Meta's fields: "Version", "CreatedAt", "UpdatedAt" (a struct and two time.Time: never
// omitted, whatever their omitempty tags say).
std::vector<FieldSpec<SwarmMeta>> MetaFields() {
  using M = SwarmMeta;
  return {Field("Version", &M::version, VersionCodec(), true),
          Field("CreatedAt", &M::created_at, TimeCodec(), false),
          Field("UpdatedAt", &M::updated_at, TimeCodec(), false)};
}

std::vector<FieldSpec<Annotations>> AnnotationsFields() {
  return {Field("Name", &Annotations::name, String(), true),
          Field("Labels", &Annotations::labels, StringMapCodec())};
}

Codec<LogDriver> DriverCodec() {
  return Struct<LogDriver>(
      "Driver", "swarm.Driver",
      {Field("Name", &LogDriver::name, String(), true),
       Field("Options", &LogDriver::options, Optional(Map(String())), true)});
}

Codec<Platform> PlatformCodec() {
  return Struct<Platform>("Platform", "swarm.Platform",
                          {Field("Architecture", &Platform::architecture, String(), true),
                           Field("OS", &Platform::os, String(), true)});
}

Codec<NodeResources> ResourcesCodec() {
  return Struct<NodeResources>(
      "Resources", "swarm.Resources",
      {Field("NanoCPUs", &NodeResources::nano_cpus, Int("int64"), true),
       Field("MemoryBytes", &NodeResources::memory_bytes, Int("int64"), true)});
}

Codec<int64_t> TimeCodec() {
  return Codec<int64_t>{
      "time.Time",
      [](GoDecoder& d, const GoValue& v, int64_t& out) {
        if (v.is_null()) return;  // time.Time.UnmarshalJSON ignores null
        int64_t nanos = 0;
        // UnmarshalJSON's error ends the decoding. Go's text is time.Parse's ("parsing time
        // ..."); the decoder only words UnmarshalTypeError-shaped messages.
        if (v.kind != GoValue::Kind::kString || !ParseRfc3339(v.text, &nanos)) {
          return d.Abort(GoValueKindName(v), "time.Time");
        }
        out = nanos;
      },
      [](const int64_t& nanos) { return Json(FormatRfc3339Nano(nanos)); },
      [](const int64_t&) { return false; }};  // a struct: omitempty never omits it
}

Codec<std::string> BytesCodec() {
  return Codec<std::string>{
      "[]uint8",
      [](GoDecoder& d, const GoValue& v, std::string& out) {
        if (v.is_null()) {
          out.clear();
          return;
        }
        if (v.kind != GoValue::Kind::kString) return d.TypeError(v, "[]uint8");
        std::string raw;
        if (!absl::Base64Unescape(Av(v.text), &raw)) return d.TypeError("string", "[]uint8");
        out = std::move(raw);
      },
      [](const std::string& raw) { return Json(absl::Base64Escape(Av(raw))); },
      [](const std::string& raw) { return raw.empty(); }};
}

const Codec<SwarmSpec>& SwarmSpecCodec() {
  using S = SwarmSpec;
  static const auto* codec = new Codec<S>(Struct<S>(
      "Spec", "swarm.Spec",
      Concat<S>({Promote(&S::annotations, AnnotationsFields()),
                 {Field("Orchestration", &S::orchestration, OrchestrationCodec(), true),
                  Field("Raft", &S::raft, RaftCodec(), true),
                  Field("Dispatcher", &S::dispatcher, DispatcherCodec(), true),
                  Field("CAConfig", &S::ca_config, CaConfigCodec(), true),
                  Field("TaskDefaults", &S::task_defaults, TaskDefaultsCodec(), true),
                  Field("EncryptionConfig", &S::encryption_config, EncryptionCodec(), true)}})));
  return *codec;
}

const Codec<ClusterInfo>& ClusterInfoCodec() {
  static const auto* codec = new Codec<ClusterInfo>(
      Struct<ClusterInfo>("ClusterInfo", "swarm.ClusterInfo", ClusterInfoFields()));
  return *codec;
}

const Codec<Swarm>& SwarmCodec() {
  Codec<JoinTokens> tokens = Struct<JoinTokens>("JoinTokens", "swarm.JoinTokens",
                                                {Field("Worker", &JoinTokens::worker, String()),
                                                 Field("Manager", &JoinTokens::manager, String())});
  static const auto* codec = new Codec<Swarm>(
      Struct<Swarm>("Swarm", "swarm.Swarm",
                    Concat<Swarm>({Promote(&Swarm::cluster, ClusterInfoFields()),
                                   {Field("JoinTokens", &Swarm::join_tokens, tokens)}})));
  return *codec;
}

const Codec<SwarmInitRequest>& SwarmInitRequestCodec() {
  using R = SwarmInitRequest;
  static const auto* codec = new Codec<R>(
      Struct<R>("InitRequest", "swarm.InitRequest",
                {Field("ListenAddr", &R::listen_addr, String()),
                 Field("AdvertiseAddr", &R::advertise_addr, String()),
                 Field("DataPathAddr", &R::data_path_addr, String()),
                 Field("DataPathPort", &R::data_path_port, Uint32()),
                 Field("ForceNewCluster", &R::force_new_cluster, Bool()),
                 Field("Spec", &R::spec, SwarmSpecCodec()),
                 Field("AutoLockManagers", &R::auto_lock_managers, Bool()),
                 Field("Availability", &R::availability, String("swarm.NodeAvailability")),
                 Field("DefaultAddrPool", &R::default_addr_pool, Optional(Slice(String()))),
                 Field("SubnetSize", &R::subnet_size, Uint32())}));
  return *codec;
}

const Codec<SwarmJoinRequest>& SwarmJoinRequestCodec() {
  using R = SwarmJoinRequest;
  static const auto* codec = new Codec<R>(
      Struct<R>("JoinRequest", "swarm.JoinRequest",
                {Field("ListenAddr", &R::listen_addr, String()),
                 Field("AdvertiseAddr", &R::advertise_addr, String()),
                 Field("DataPathAddr", &R::data_path_addr, String()),
                 Field("RemoteAddrs", &R::remote_addrs, Optional(Slice(String()))),
                 Field("JoinToken", &R::join_token, String()),
                 Field("Availability", &R::availability, String("swarm.NodeAvailability"))}));
  return *codec;
}

const Codec<NodeSpec>& NodeSpecCodec() {
  using S = NodeSpec;
  static const auto* codec = new Codec<S>(Struct<S>(
      "NodeSpec", "swarm.NodeSpec",
      Concat<S>(
          {Promote(&S::annotations, AnnotationsFields()),
           {Field("Role", &S::role, String("swarm.NodeRole"), true),
            Field("Availability", &S::availability, String("swarm.NodeAvailability"), true)}})));
  return *codec;
}

const Codec<Node>& NodeCodec() {
  static const auto* codec = new Codec<Node>(Struct<Node>(
      "Node", "swarm.Node",
      Concat<Node>({{Field("ID", &Node::id, String())},
                    Promote(&Node::meta, MetaFields()),
                    {Field("Spec", &Node::spec, NodeSpecCodec(), true),
                     Field("Description", &Node::description, NodeDescriptionCodec(), true),
                     Field("Status", &Node::status, NodeStatusCodec(), true),
                     Field("ManagerStatus", &Node::manager_status, Optional(ManagerStatusCodec()),
                           true)}})));
  return *codec;
}

const Codec<SwarmInfo>& SwarmInfoCodec() {
  using I = SwarmInfo;
  Codec<SwarmPeer> peer = Struct<SwarmPeer>(
      "Peer", "swarm.Peer",
      {Field("NodeID", &SwarmPeer::node_id, String()), Field("Addr", &SwarmPeer::addr, String())});
  static const auto* codec = new Codec<I>(
      Struct<I>("Info", "swarm.Info",
                {Field("NodeID", &I::node_id, String()), Field("NodeAddr", &I::node_addr, String()),
                 Field("LocalNodeState", &I::local_node_state, String("swarm.LocalNodeState")),
                 Field("ControlAvailable", &I::control_available, Bool()),
                 Field("Error", &I::error, String()),
                 Field("RemoteManagers", &I::remote_managers, Optional(Slice(peer))),
                 Field("Nodes", &I::nodes, Int("int"), true),
                 Field("Managers", &I::managers, Int("int"), true),
                 Field("Cluster", &I::cluster, Optional(ClusterInfoCodec()), true),
                 Field("Warnings", &I::warnings, Optional(Slice(String())), true)}));
  return *codec;
}

}  // namespace berth::spec::json
