// Service, task, secret and config values in moby 20.10's field order and omitempty choices
// (api/types/swarm/{service,task,container,network,runtime,secret,config}.go). Go pointers to
// empty structs (GlobalService, ConfigReferenceRuntimeTarget) are bools here, and
// ServiceMode's pointers are flags: the fields below map them to and from Go's shapes.

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "spec/json/codecs.h"
#include "spec/json/service_codecs.h"
#include "spec/json/swarm_codecs.h"

namespace berth::spec::json {
namespace {

Codec<StringMap> StringMapCodec() { return Map(String()); }

Codec<uint32_t> Uint32() {
  return Narrow<uint32_t>(Uint("uint32", std::numeric_limits<uint32_t>::max()));
}

Codec<int64_t> Duration() { return Int("time.Duration"); }

// A field whose member does not have Go's shape: get builds the Go-shaped value from the
// holder, set stores a decoded one back.
template <class S, class V>
FieldSpec<S> Mapped(std::string name, std::function<V(const S&)> get,
                    std::function<void(S&, V)> set, Codec<V> codec, bool omitempty) {
  FieldSpec<S> f;
  f.name = name;
  f.omitempty = omitempty;
  f.decode = [get, set, codec](GoDecoder& d, const GoValue& v, S& s) {
    V x = get(s);
    codec.decode(d, v, x);
    set(s, std::move(x));
  };
  f.encode = [name, get, codec, omitempty](const S& s, Json& o) {
    V x = get(s);
    if (omitempty && codec.empty(x)) return;
    o[name] = codec.encode(x);
  };
  return f;
}

// A pointer to an empty struct (*GlobalService, *ConfigReferenceRuntimeTarget) held as a
// bool: {} when set, and any object sets it (its keys match no field).
Codec<bool> Presence(std::string go) {
  return Codec<bool>{go,
                     [go](GoDecoder& d, const GoValue& v, bool& out) {
                       if (v.is_null()) {
                         out = false;
                         return;
                       }
                       if (v.kind != GoValue::Kind::kObject) return d.TypeError(v, go);
                       out = true;
                     },
                     [](const bool&) { return Json::object(); },
                     [](const bool& b) { return !b; }};
}

// SecretSpec.Data / ConfigSpec.Data: []byte, omitempty. Go renders nil and empty alike, so
// "" reads as unset and parse(render(x)) == x.
Codec<std::optional<std::string>> DataCodec() {
  Codec<std::string> bytes = BytesCodec();
  return Codec<std::optional<std::string>>{
      bytes.go,
      [bytes](GoDecoder& d, const GoValue& v, std::optional<std::string>& out) {
        std::string raw = out.value_or("");
        bytes.decode(d, v, raw);
        if (raw.empty()) {
          out.reset();
        } else {
          out = std::move(raw);
        }
      },
      [bytes](const std::optional<std::string>& x) { return bytes.encode(x.value_or("")); },
      [](const std::optional<std::string>& x) { return !x || x->empty(); }};
}

// --- task spec -----------------------------------------------------------------------------

// SecretReferenceFileTarget and ConfigReferenceFileTarget: one C++ type, two Go names.
Codec<SecretReferenceFileTarget> FileTargetCodec(const std::string& short_name) {
  using F = SecretReferenceFileTarget;
  // Go 1.16+ prints os.FileMode as fs.FileMode.
  return Struct<F>(short_name, "swarm." + short_name,
                   {Field("Name", &F::name, String()), Field("UID", &F::uid, String()),
                    Field("GID", &F::gid, String()),
                    Field("Mode", &F::mode, Narrow<uint32_t>(Uint("fs.FileMode", 0xFFFFFFFF)))});
}

Codec<SecretReference> SecretReferenceCodec() {
  using R = SecretReference;
  return Struct<R>(
      "SecretReference", "swarm.SecretReference",
      {Field("File", &R::file, Optional(FileTargetCodec("SecretReferenceFileTarget"))),
       Field("SecretID", &R::secret_id, String()), Field("SecretName", &R::secret_name, String())});
}

Codec<ServiceConfigReference> ConfigReferenceCodec() {
  using R = ServiceConfigReference;
  return Struct<R>(
      "ConfigReference", "swarm.ConfigReference",
      {Field("File", &R::file, Optional(FileTargetCodec("ConfigReferenceFileTarget")), true),
       Field("Runtime", &R::runtime, Presence("swarm.ConfigReferenceRuntimeTarget"), true),
       Field("ConfigID", &R::config_id, String()), Field("ConfigName", &R::config_name, String())});
}

Codec<Privileges> PrivilegesCodec() {
  using C = CredentialSpec;
  auto credential = Struct<C>("CredentialSpec", "swarm.CredentialSpec",
                              {Field("Config", &C::config, String()),
                               Field("File", &C::file, String()),
                               Field("Registry", &C::registry, String())});
  using L = SELinuxContext;
  auto selinux = Struct<L>(
      "SELinuxContext", "swarm.SELinuxContext",
      {Field("Disable", &L::disable, Bool()), Field("User", &L::user, String()),
       Field("Role", &L::role, String()), Field("Type", &L::type, String()),
       Field("Level", &L::level, String())});
  return Struct<Privileges>(
      "Privileges", "swarm.Privileges",
      {Field("CredentialSpec", &Privileges::credential_spec, Optional(credential)),
       Field("SELinuxContext", &Privileges::selinux_context, Optional(selinux))});
}

Codec<ServiceContainerSpec> ContainerSpecCodec() {
  using C = ServiceContainerSpec;
  auto dns = Struct<DnsConfig>(
      "DNSConfig", "swarm.DNSConfig",
      {Field("Nameservers", &DnsConfig::nameservers, Slice(String()), true),
       Field("Search", &DnsConfig::search, Slice(String()), true),
       Field("Options", &DnsConfig::options, Slice(String()), true)});
  auto ulimit = Struct<ServiceUlimit>("Ulimit", "units.Ulimit",
                                      {Field("Name", &ServiceUlimit::name, String()),
                                       Field("Hard", &ServiceUlimit::hard, Int("int64")),
                                       Field("Soft", &ServiceUlimit::soft, Int("int64"))});
  return Struct<C>(
      "ContainerSpec", "swarm.ContainerSpec",
      {Field("Image", &C::image, String(), true),
       Field("Labels", &C::labels, StringMapCodec(), true),
       Field("Command", &C::command, Slice(String()), true),
       Field("Args", &C::args, Slice(String()), true),
       Field("Hostname", &C::hostname, String(), true),
       Field("Env", &C::env, Slice(String()), true),
       Field("Dir", &C::dir, String(), true),
       Field("User", &C::user, String(), true),
       Field("Groups", &C::groups, Slice(String()), true),
       Field("Privileges", &C::privileges, Optional(PrivilegesCodec()), true),
       Field("Init", &C::init, Optional(Bool()), true),
       Field("StopSignal", &C::stop_signal, String(), true),
       Field("TTY", &C::tty, Bool(), true),
       Field("OpenStdin", &C::open_stdin, Bool(), true),
       Field("ReadOnly", &C::read_only, Bool(), true),
       Field("Mounts", &C::mounts, Slice(MountCodec()), true),
       Field("StopGracePeriod", &C::stop_grace_period, Optional(Duration()), true),
       Field("Healthcheck", &C::healthcheck, Optional(HealthConfigCodec()), true),
       Field("Hosts", &C::hosts, Slice(String()), true),
       Field("DNSConfig", &C::dns_config, Optional(dns), true),
       Field("Secrets", &C::secrets, Slice(SecretReferenceCodec(), "[]*swarm.SecretReference"),
             true),
       Field("Configs", &C::configs, Slice(ConfigReferenceCodec(), "[]*swarm.ConfigReference"),
             true),
       Field("Isolation", &C::isolation, String("container.Isolation"), true),
       Field("Sysctls", &C::sysctls, StringMapCodec(), true),
       Field("CapabilityAdd", &C::capability_add, Slice(String()), true),
       Field("CapabilityDrop", &C::capability_drop, Slice(String()), true),
       Field("Ulimits", &C::ulimits, Slice(ulimit, "[]*units.Ulimit"), true)});
}

Codec<ResourceRequirements> ResourceRequirementsCodec() {
  auto limit = Struct<ServiceLimit>(
      "Limit", "swarm.Limit",
      {Field("NanoCPUs", &ServiceLimit::nano_cpus, Int("int64"), true),
       Field("MemoryBytes", &ServiceLimit::memory_bytes, Int("int64"), true),
       Field("Pids", &ServiceLimit::pids, Int("int64"), true)});
  return Struct<ResourceRequirements>(
      "ResourceRequirements", "swarm.ResourceRequirements",
      {Field("Limits", &ResourceRequirements::limits, Optional(limit), true),
       Field("Reservations", &ResourceRequirements::reservations, Optional(ResourcesCodec()),
             true)});
}

Codec<ServiceRestartPolicy> SwarmRestartPolicyCodec() {
  using R = ServiceRestartPolicy;
  return Struct<R>(
      "RestartPolicy", "swarm.RestartPolicy",
      {Field("Condition", &R::condition, String("swarm.RestartPolicyCondition"), true),
       Field("Delay", &R::delay, Optional(Duration()), true),
       Field("MaxAttempts", &R::max_attempts, Optional(Uint("uint64")), true),
       Field("Window", &R::window, Optional(Duration()), true)});
}

struct SpreadOver {
  std::string spread_descriptor;
};

Codec<Placement> PlacementCodec() {
  using P = PlacementPreference;
  auto spread = Struct<SpreadOver>(
      "SpreadOver", "swarm.SpreadOver",
      {Field("SpreadDescriptor", &SpreadOver::spread_descriptor, String())});
  auto preference = Struct<P>(
      "PlacementPreference", "swarm.PlacementPreference",
      {Mapped<P, std::optional<SpreadOver>>(
          "Spread", [](const P& p) { return std::optional<SpreadOver>(SpreadOver{p.spread_descriptor}); },
          [](P& p, std::optional<SpreadOver> s) {
            p.spread_descriptor = s ? s->spread_descriptor : "";
          },
          Optional(spread), false)});
  return Struct<Placement>(
      "Placement", "swarm.Placement",
      {Field("Constraints", &Placement::constraints, Slice(String()), true),
       Field("Preferences", &Placement::preferences, Slice(preference), true),
       Field("MaxReplicas", &Placement::max_replicas, Uint("uint64"), true),
       Field("Platforms", &Placement::platforms, Slice(PlatformCodec()), true)});
}

Codec<NetworkAttachmentConfig> NetworkAttachmentConfigCodec() {
  using N = NetworkAttachmentConfig;
  return Struct<N>("NetworkAttachmentConfig", "swarm.NetworkAttachmentConfig",
                   {Field("Target", &N::target, String(), true),
                    Field("Aliases", &N::aliases, Slice(String()), true),
                    Field("DriverOpts", &N::driver_opts, StringMapCodec(), true)});
}

// --- service ---------------------------------------------------------------------------------

struct ReplicatedService {  // Go's shape of ServiceMode.Replicated
  std::optional<uint64_t> replicas;
};

Codec<ServiceMode> ServiceModeCodec() {
  using M = ServiceMode;
  auto replicated = Struct<ReplicatedService>(
      "ReplicatedService", "swarm.ReplicatedService",
      {Field("Replicas", &ReplicatedService::replicas, Optional(Uint("uint64")), true)});
  auto job = Struct<ReplicatedJob>(
      "ReplicatedJob", "swarm.ReplicatedJob",
      {Field("MaxConcurrent", &ReplicatedJob::max_concurrent, Optional(Uint("uint64")), true),
       Field("TotalCompletions", &ReplicatedJob::total_completions, Optional(Uint("uint64")),
             true)});
  return Struct<M>(
      "ServiceMode", "swarm.ServiceMode",
      {Mapped<M, std::optional<ReplicatedService>>(
           "Replicated",
           [](const M& m) {
             return m.replicated ? std::optional<ReplicatedService>(ReplicatedService{m.replicas})
                                 : std::nullopt;
           },
           [](M& m, std::optional<ReplicatedService> r) {
             m.replicated = r.has_value();
             m.replicas = r ? r->replicas : std::nullopt;
           },
           Optional(replicated), true),
       Field("Global", &M::global, Presence("swarm.GlobalService"), true),
       Field("ReplicatedJob", &M::replicated_job, Optional(job), true),
       Field("GlobalJob", &M::global_job, Presence("swarm.GlobalJob"), true)});
}

Codec<ServiceUpdateConfig> SwarmUpdateConfigCodec() {
  using U = ServiceUpdateConfig;
  return Struct<U>("UpdateConfig", "swarm.UpdateConfig",
                   {Field("Parallelism", &U::parallelism, Uint("uint64")),
                    Field("Delay", &U::delay, Duration(), true),
                    Field("FailureAction", &U::failure_action, String(), true),
                    Field("Monitor", &U::monitor, Duration(), true),
                    Field("MaxFailureRatio", &U::max_failure_ratio, Float32Codec()),
                    Field("Order", &U::order, String())});
}

Codec<ServicePortConfig> PortConfigCodec() {
  using P = ServicePortConfig;
  return Struct<P>(
      "PortConfig", "swarm.PortConfig",
      {Field("Name", &P::name, String(), true),
       Field("Protocol", &P::protocol, String("swarm.PortConfigProtocol"), true),
       Field("TargetPort", &P::target_port, Uint32(), true),
       Field("PublishedPort", &P::published_port, Uint32(), true),
       Field("PublishMode", &P::publish_mode, String("swarm.PortConfigPublishMode"), true)});
}

Codec<EndpointSpec> EndpointSpecCodec() {
  return Struct<EndpointSpec>(
      "EndpointSpec", "swarm.EndpointSpec",
      {Field("Mode", &EndpointSpec::mode, String("swarm.ResolutionMode"), true),
       Field("Ports", &EndpointSpec::ports, Slice(PortConfigCodec()), true)});
}

Codec<Endpoint> EndpointCodec() {
  auto vip = Struct<EndpointVirtualIP>(
      "EndpointVirtualIP", "swarm.EndpointVirtualIP",
      {Field("NetworkID", &EndpointVirtualIP::network_id, String(), true),
       Field("Addr", &EndpointVirtualIP::addr, String(), true)});
  return Struct<Endpoint>("Endpoint", "swarm.Endpoint",
                          {Field("Spec", &Endpoint::spec, EndpointSpecCodec(), true),
                           Field("Ports", &Endpoint::ports, Slice(PortConfigCodec()), true),
                           Field("VirtualIPs", &Endpoint::virtual_ips, Slice(vip), true)});
}

Codec<UpdateStatus> UpdateStatusCodec() {
  using U = UpdateStatus;
  return Struct<U>("UpdateStatus", "swarm.UpdateStatus",
                   {Field("State", &U::state, String("swarm.UpdateState"), true),
                    Field("StartedAt", &U::started_at, Optional(TimeCodec()), true),
                    Field("CompletedAt", &U::completed_at, Optional(TimeCodec()), true),
                    Field("Message", &U::message, String(), true)});
}

Codec<ServiceStatus> ServiceStatusCodec() {
  using S = ServiceStatus;
  return Struct<S>("ServiceStatus", "swarm.ServiceStatus",
                   {Field("RunningTasks", &S::running_tasks, Uint("uint64")),
                    Field("DesiredTasks", &S::desired_tasks, Uint("uint64")),
                    Field("CompletedTasks", &S::completed_tasks, Uint("uint64"))});
}

Codec<JobStatus> JobStatusCodec() {
  return Struct<JobStatus>(
      "JobStatus", "swarm.JobStatus",
      {Field("JobIteration", &JobStatus::job_iteration, VersionCodec()),
       Field("LastExecution", &JobStatus::last_execution, TimeCodec(), true)});
}

// --- task ------------------------------------------------------------------------------------

Codec<SwarmIpamOptions> IpamOptionsCodec() {
  auto config = Struct<SwarmIpamConfig>(
      "IPAMConfig", "swarm.IPAMConfig",
      {Field("Subnet", &SwarmIpamConfig::subnet, String(), true),
       Field("Range", &SwarmIpamConfig::range, String(), true),
       Field("Gateway", &SwarmIpamConfig::gateway, String(), true)});
  return Struct<SwarmIpamOptions>(
      "IPAMOptions", "swarm.IPAMOptions",
      {Field("Driver", &SwarmIpamOptions::driver, DriverCodec(), true),
       Field("Configs", &SwarmIpamOptions::configs, Slice(config), true)});
}

struct NetworkConfigReference {  // network.ConfigReference
  std::string network;
};

Codec<SwarmNetwork> NetworkCodec() {
  using S = SwarmNetworkSpec;
  auto config_from = Struct<NetworkConfigReference>(
      "ConfigReference", "network.ConfigReference",
      {Field("Network", &NetworkConfigReference::network, String())});
  auto spec = Struct<S>(
      "NetworkSpec", "swarm.NetworkSpec",
      Concat<S>({Promote(&S::annotations, AnnotationsFields()),
                 {Field("DriverConfiguration", &S::driver_configuration, Optional(DriverCodec()),
                        true),
                  Field("IPv6Enabled", &S::ipv6_enabled, Bool(), true),
                  Field("Internal", &S::internal, Bool(), true),
                  Field("Attachable", &S::attachable, Bool(), true),
                  Field("Ingress", &S::ingress, Bool(), true),
                  Field("IPAMOptions", &S::ipam_options, Optional(IpamOptionsCodec()), true),
                  Mapped<S, std::optional<NetworkConfigReference>>(
                      "ConfigFrom",
                      [](const S& s) {
                        return s.config_from ? std::optional<NetworkConfigReference>(
                                                   NetworkConfigReference{*s.config_from})
                                             : std::nullopt;
                      },
                      [](S& s, std::optional<NetworkConfigReference> c) {
                        s.config_from = c ? std::optional<std::string>(c->network) : std::nullopt;
                      },
                      Optional(config_from), true),
                  Field("Scope", &S::scope, String(), true)}}));
  using N = SwarmNetwork;
  return Struct<N>("Network", "swarm.Network",
                   Concat<N>({{Field("ID", &N::id, String())},
                              Promote(&N::meta, MetaFields()),
                              {Field("Spec", &N::spec, spec, true),
                               Field("DriverState", &N::driver_state, DriverCodec(), true),
                               Field("IPAMOptions", &N::ipam_options,
                                     Optional(IpamOptionsCodec()), true)}}));
}

Codec<NetworkAttachment> NetworkAttachmentCodec() {
  return Struct<NetworkAttachment>(
      "NetworkAttachment", "swarm.NetworkAttachment",
      {Field("Network", &NetworkAttachment::network, NetworkCodec(), true),
       Field("Addresses", &NetworkAttachment::addresses, Slice(String()), true)});
}

Codec<TaskStatus> TaskStatusCodec() {
  using C = ContainerStatus;
  auto container = Struct<C>("ContainerStatus", "swarm.ContainerStatus",
                             {Field("ContainerID", &C::container_id, String()),
                              Field("PID", &C::pid, Int("int")),
                              Field("ExitCode", &C::exit_code, Int("int"))});
  auto ports = Struct<PortStatus>(
      "PortStatus", "swarm.PortStatus",
      {Field("Ports", &PortStatus::ports, Slice(PortConfigCodec()), true)});
  using S = TaskStatus;
  return Struct<S>("TaskStatus", "swarm.TaskStatus",
                   {Field("Timestamp", &S::timestamp, TimeCodec(), true),
                    Field("State", &S::state, String("swarm.TaskState"), true),
                    Field("Message", &S::message, String(), true),
                    Field("Err", &S::err, String(), true),
                    Field("ContainerStatus", &S::container_status, Optional(container), true),
                    Field("PortStatus", &S::port_status, ports, true)});
}

}  // namespace

Codec<double> Float32Codec() {
  return Codec<double>{
      "float32",
      [](GoDecoder& d, const GoValue& v, double& out) {
        if (v.is_null()) return;
        if (v.kind != GoValue::Kind::kNumber) return d.TypeError(v, "float32");
        // strconv.ParseFloat(s, 32): the nearest float; beyond float's range an error (Go's
        // "number 1e39"), below it 0 or a denormal.
        float f = 0;
        const char* end = v.text.data() + v.text.size();
        auto [ptr, ec] = std::from_chars(v.text.data(), end, f);
        if (ec == std::errc::result_out_of_range) {
          double wide = std::strtod(v.text.c_str(), nullptr);
          if (std::fabs(wide) >= 1) return d.TypeError("number " + v.text, "float32");
          f = static_cast<float>(wide);
        } else if (ec != std::errc() || ptr != end) {
          return d.TypeError("number " + v.text, "float32");
        }
        out = f;
      },
      [](const double& x) {
        float f = static_cast<float>(x);
        // Go writes a float32 with its shortest digits ('f' form in [1e-6, 1e21)). An integral
        // value has no fraction in Go's text; nlohmann would write 1.0.
        if (f == std::trunc(f) && std::fabs(f) < 1e18f) return Json(static_cast<int64_t>(f));
        char buf[64];
        auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, f);
        // The double nearest the float's shortest digits dumps as those digits.
        return Json(ec == std::errc() ? std::strtod(std::string(buf, ptr).c_str(), nullptr)
                                      : static_cast<double>(f));
      },
      [](const double& x) { return x == 0; }};
}

const Codec<TaskSpec>& TaskSpecCodec() {
  using T = TaskSpec;
  static const auto* codec = new Codec<T>(Struct<T>(
      "TaskSpec", "swarm.TaskSpec",
      {Field("ContainerSpec", &T::container_spec, Optional(ContainerSpecCodec()), true),
       Field("NetworkAttachmentSpec", &T::network_attachment_spec,
             Optional(Struct<NetworkAttachmentSpec>(
                 "NetworkAttachmentSpec", "swarm.NetworkAttachmentSpec",
                 {Field("ContainerID", &NetworkAttachmentSpec::container_id, String())})),
             true),
       Field("Resources", &T::resources, Optional(ResourceRequirementsCodec()), true),
       Field("RestartPolicy", &T::restart_policy, Optional(SwarmRestartPolicyCodec()), true),
       Field("Placement", &T::placement, Optional(PlacementCodec()), true),
       Field("Networks", &T::networks, Slice(NetworkAttachmentConfigCodec()), true),
       Field("LogDriver", &T::log_driver, Optional(DriverCodec()), true),
       Field("ForceUpdate", &T::force_update, Uint("uint64")),
       Field("Runtime", &T::runtime, String("swarm.RuntimeType"), true)}));
  return *codec;
}

const Codec<ServiceSpec>& ServiceSpecCodec() {
  using S = ServiceSpec;
  static const auto* codec = new Codec<S>(Struct<S>(
      "ServiceSpec", "swarm.ServiceSpec",
      Concat<S>(
          {Promote(&S::annotations, AnnotationsFields()),
           {Field("TaskTemplate", &S::task_template, TaskSpecCodec(), true),
            Field("Mode", &S::mode, ServiceModeCodec(), true),
            Field("UpdateConfig", &S::update_config, Optional(SwarmUpdateConfigCodec()), true),
            Field("RollbackConfig", &S::rollback_config, Optional(SwarmUpdateConfigCodec()), true),
            Field("Networks", &S::networks, Slice(NetworkAttachmentConfigCodec()), true),
            Field("EndpointSpec", &S::endpoint_spec, Optional(EndpointSpecCodec()), true)}})));
  return *codec;
}

const Codec<Service>& ServiceCodec() {
  static const auto* codec = new Codec<Service>(Struct<Service>(
      "Service", "swarm.Service",
      Concat<Service>(
          {{Field("ID", &Service::id, String())},
           Promote(&Service::meta, MetaFields()),
           {Field("Spec", &Service::spec, ServiceSpecCodec(), true),
            Field("PreviousSpec", &Service::previous_spec, Optional(ServiceSpecCodec()), true),
            Field("Endpoint", &Service::endpoint, EndpointCodec(), true),
            Field("UpdateStatus", &Service::update_status, Optional(UpdateStatusCodec()), true),
            Field("ServiceStatus", &Service::service_status, Optional(ServiceStatusCodec()),
                  true),
            Field("JobStatus", &Service::job_status, Optional(JobStatusCodec()), true)}})));
  return *codec;
}

const Codec<Task>& TaskCodec() {
  static const auto* codec = new Codec<Task>(Struct<Task>(
      "Task", "swarm.Task",
      Concat<Task>({{Field("ID", &Task::id, String())},
                    Promote(&Task::meta, MetaFields()),
                    Promote(&Task::annotations, AnnotationsFields()),
                    {Field("Spec", &Task::spec, TaskSpecCodec(), true),
                     Field("ServiceID", &Task::service_id, String(), true),
                     Field("Slot", &Task::slot, Int("int"), true),
                     Field("NodeID", &Task::node_id, String(), true),
                     Field("Status", &Task::status, TaskStatusCodec(), true),
                     Field("DesiredState", &Task::desired_state, String("swarm.TaskState"), true),
                     Field("NetworksAttachments", &Task::networks_attachments, Slice(NetworkAttachmentCodec()), true),
                     Field("JobIteration", &Task::job_iteration, Optional(VersionCodec()),
                           true)}})));
  return *codec;
}

const Codec<SecretSpec>& SecretSpecCodec() {
  using S = SecretSpec;
  static const auto* codec = new Codec<S>(Struct<S>(
      "SecretSpec", "swarm.SecretSpec",
      Concat<S>({Promote(&S::annotations, AnnotationsFields()),
                 {Field("Data", &S::data, DataCodec(), true),
                  Field("Driver", &S::driver, Optional(DriverCodec()), true),
                  Field("Templating", &S::templating, Optional(DriverCodec()), true)}})));
  return *codec;
}

const Codec<Secret>& SecretCodec() {
  static const auto* codec = new Codec<Secret>(Struct<Secret>(
      "Secret", "swarm.Secret",
      Concat<Secret>({{Field("ID", &Secret::id, String())},
                      Promote(&Secret::meta, MetaFields()),
                      {Field("Spec", &Secret::spec, SecretSpecCodec())}})));
  return *codec;
}

const Codec<ConfigSpec>& ConfigSpecCodec() {
  using S = ConfigSpec;
  static const auto* codec = new Codec<S>(Struct<S>(
      "ConfigSpec", "swarm.ConfigSpec",
      Concat<S>({Promote(&S::annotations, AnnotationsFields()),
                 {Field("Data", &S::data, DataCodec(), true),
                  Field("Templating", &S::templating, Optional(DriverCodec()), true)}})));
  return *codec;
}

const Codec<Config>& ConfigCodec() {
  static const auto* codec = new Codec<Config>(Struct<Config>(
      "Config", "swarm.Config",
      Concat<Config>({{Field("ID", &Config::id, String())},
                      Promote(&Config::meta, MetaFields()),
                      {Field("Spec", &Config::spec, ConfigSpecCodec())}})));
  return *codec;
}

const Codec<ServiceCreateResponse>& ServiceCreateResponseCodec() {
  using R = ServiceCreateResponse;
  static const auto* codec = new Codec<R>(
      Struct<R>("ServiceCreateResponse", "types.ServiceCreateResponse",
                {Field("ID", &R::id, String()),
                 Field("Warnings", &R::warnings, Slice(String()), true)}));
  return *codec;
}

const Codec<ServiceUpdateResponse>& ServiceUpdateResponseCodec() {
  using R = ServiceUpdateResponse;
  // No omitempty: null when there is none (the daemon never answers []).
  Codec<std::vector<std::string>> warnings = Slice(String());
  warnings.encode = [list = warnings.encode](const std::vector<std::string>& w) {
    return w.empty() ? Json(nullptr) : list(w);
  };
  static const auto* codec = new Codec<R>(
      Struct<R>("ServiceUpdateResponse", "types.ServiceUpdateResponse",
                {Field("Warnings", &R::warnings, warnings)}));
  return *codec;
}

const Codec<IdResponse>& IdResponseCodec() {
  // types.SecretCreateResponse and types.ConfigCreateResponse: {"ID": ...}.
  static const auto* codec = new Codec<IdResponse>(Struct<IdResponse>(
      "SecretCreateResponse", "types.SecretCreateResponse",
      {Field("ID", &IdResponse::id, String())}));
  return *codec;
}

}  // namespace berth::spec::json
