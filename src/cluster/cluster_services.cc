// The manager side of /services, /tasks, /secrets and /configs (cluster.h). The API writes
// specs; the leader's orchestrator (orchestrator/reconcile.h) turns them into tasks.

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cluster/cluster.h"
#include "cluster/cluster_impl.h"
#include "cluster/orchestrator/reconcile.h"
#include "cluster/pki/pki.h"
#include "cluster/store_internal.h"
#include "engine/container_util.h"
#include "spec/json/service_json.h"

namespace berth::cluster {
namespace {

// Ports published without a number get one from here (Docker's dynamic ingress range).
constexpr uint32_t kDynamicPortFirst = 30000;
constexpr uint32_t kDynamicPortLast = 32767;

const std::string& ServiceName(const spec::Service& s) { return s.spec.annotations.name; }

// What swarmkit fills in when it stores a spec.
void ApplyStoredDefaults(spec::ServiceSpec& s) {
  if (s.task_template.container_spec.has_value() &&
      s.task_template.container_spec->isolation.empty())
    s.task_template.container_spec->isolation = "default";
  if (s.task_template.runtime.empty()) s.task_template.runtime = "container";
  // No mode is replicated; replicated without a count is one replica (moby's conversion does
  // this before swarmkit sees it; the CLI's progress display and `stack services` rely on it).
  if (!s.mode.replicated && !s.mode.global) s.mode.replicated = true;
  if (s.mode.replicated && !s.mode.replicas.has_value()) s.mode.replicas = 1;
  if (s.endpoint_spec.has_value()) {
    for (spec::ServicePortConfig& p : s.endpoint_spec->ports) {
      if (p.protocol.empty()) p.protocol = "tcp";
      if (p.publish_mode.empty()) p.publish_mode = "ingress";
    }
  }
}

// The service's Endpoint: its spec, and its ports with the published numbers given or allocated
// (ingress ports without one get a free port of the dynamic range; `taken` are the published
// ports of the other services). Refuses a port another service publishes, with swarmkit's words.
StatusOr<spec::Endpoint> MakeEndpoint(const spec::Service& self,
                                      const std::vector<spec::Service>& others) {
  spec::Endpoint ep;
  if (self.spec.endpoint_spec.has_value()) ep.spec = *self.spec.endpoint_spec;
  ep.virtual_ips = self.endpoint.virtual_ips;  // kept where still wanted (Store::PlanServiceVips)
  if (ep.spec.mode == "dnsrr")
    for (const spec::ServicePortConfig& p : ep.spec.ports)
      if (p.publish_mode != "host")
        return absl::InvalidArgumentError(
            "rpc error: code = InvalidArgument desc = EndpointSpec: port published with ingress "
            "mode can't be used with dnsrr mode");
  std::map<std::pair<std::string, uint32_t>, const spec::Service*> used;
  for (const spec::Service& o : others) {
    if (o.id == self.id) continue;
    for (const spec::ServicePortConfig& p : o.endpoint.ports)
      if (p.published_port != 0) used[{p.protocol, p.published_port}] = &o;
  }
  std::set<std::pair<std::string, uint32_t>> mine;
  for (spec::ServicePortConfig p : ep.spec.ports) {
    if (p.published_port != 0) {
      auto it = used.find({p.protocol, p.published_port});
      if (it != used.end()) {
        bool ingress = true;
        for (const spec::ServicePortConfig& q : it->second->endpoint.ports)
          if (q.protocol == p.protocol && q.published_port == p.published_port)
            ingress = q.publish_mode != "host";
        if (ingress || p.publish_mode != "host")
          return absl::InvalidArgumentError(absl::StrCat(
              "rpc error: code = InvalidArgument desc = port '", p.published_port,
              "' is already in use by service '", ServiceName(*it->second), "' (", it->second->id,
              ") as ", ingress ? "an ingress port" : "a host-published port"));
      }
    }
    // The previous allocation of this port, when the service had one.
    if (p.published_port == 0) {
      for (const spec::ServicePortConfig& q : self.endpoint.ports)
        if (q.target_port == p.target_port && q.protocol == p.protocol &&
            q.publish_mode == p.publish_mode && !mine.count({q.protocol, q.published_port}))
          p.published_port = q.published_port;
    }
    if (p.published_port == 0 && p.publish_mode != "host") {
      for (uint32_t port = kDynamicPortFirst; port <= kDynamicPortLast; ++port) {
        if (!used.count({p.protocol, port}) && !mine.count({p.protocol, port})) {
          p.published_port = port;
          break;
        }
      }
    }
    if (p.published_port != 0) mine.insert({p.protocol, p.published_port});
    ep.ports.push_back(p);
  }
  return ep;
}

// The secrets and configs a spec names must exist (the CLI resolves names to ids first).
Status CheckReferences(Store& store, const spec::ServiceSpec& s) {
  if (!s.task_template.container_spec.has_value()) return absl::OkStatus();
  const spec::ServiceContainerSpec& c = *s.task_template.container_spec;
  if (!c.secrets.empty()) {
    ASSIGN_OR_RETURN(std::vector<spec::Secret> all, store.ListSecrets());
    for (const spec::SecretReference& r : c.secrets) {
      bool found = std::any_of(all.begin(), all.end(),
                               [&](const spec::Secret& x) { return x.id == r.secret_id; });
      if (!found)
        return absl::InvalidArgumentError(
            absl::StrCat("rpc error: code = InvalidArgument desc = secret reference ",
                         r.secret_name, " (", r.secret_id, ") not found"));
    }
  }
  if (!c.configs.empty()) {
    ASSIGN_OR_RETURN(std::vector<spec::Config> all, store.ListConfigs());
    for (const spec::ServiceConfigReference& r : c.configs) {
      bool found = std::any_of(all.begin(), all.end(),
                               [&](const spec::Config& x) { return x.id == r.config_id; });
      if (!found)
        return absl::InvalidArgumentError(
            absl::StrCat("rpc error: code = InvalidArgument desc = config reference ",
                         r.config_name, " (", r.config_id, ") not found"));
    }
  }
  return absl::OkStatus();
}

// What Berth cannot honour yet, refused: jobs. Networks must be the swarm's (overlay) networks,
// named by id or name, and not the ingress network; each is stored by its id, as swarmkit does.
Status CheckNetworks(Store& store, spec::ServiceSpec& s) {
  if (s.mode.replicated_job || s.mode.global_job)
    return absl::UnimplementedError(
        "Berth does not run swarm jobs (replicated-job, global-job) yet");
  if (!s.networks.empty()) {  // the deprecated top-level field: the task template's now
    s.task_template.networks.insert(s.task_template.networks.end(), s.networks.begin(),
                                    s.networks.end());
    s.networks.clear();
  }
  if (s.task_template.networks.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<NetworkRecord> networks, store.ListNetworks());
  std::set<std::string> seen;
  for (spec::NetworkAttachmentConfig& a : s.task_template.networks) {
    const NetworkRecord* found = nullptr;
    for (const NetworkRecord& n : networks)
      if (n.id == a.target || n.name == a.target) found = &n;
    if (found == nullptr)
      return absl::InvalidArgumentError(absl::StrCat(
          "rpc error: code = InvalidArgument desc = network ", a.target,
          " cannot be used with services. Only networks scoped to the swarm can be used, such as "
          "those created with the overlay driver."));
    if (found->ingress)
      return absl::InvalidArgumentError(
          "rpc error: code = InvalidArgument desc = Service cannot be explicitly attached to the "
          "ingress network \"ingress\"");
    if (!seen.insert(found->id).second)
      return absl::InvalidArgumentError(absl::StrCat(
          "rpc error: code = InvalidArgument desc = service spec has duplicate network ",
          found->name));
    a.target = found->id;
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<spec::ServiceCreateResponse> Cluster::CreateService(const spec::ServiceSpec& in,
                                                             const std::string& registry_auth) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  spec::ServiceSpec s = in;
  if (s.annotations.name.empty()) s.annotations.name = engine::RandomName();
  RETURN_IF_ERROR(spec::ValidateServiceSpec(s));
  RETURN_IF_ERROR(CheckNetworks(m->store(), s));
  ApplyStoredDefaults(s);
  Store& store = m->store();
  RETURN_IF_ERROR(CheckReferences(store, s));
  ASSIGN_OR_RETURN(std::vector<spec::Service> others, store.ListServices());
  spec::Service svc;
  svc.id = pki::NewTokenSecret();
  svc.spec = std::move(s);
  if (!registry_auth.empty()) {
    ASSIGN_OR_RETURN(svc.registry_auth, m->Seal(registry_auth, svc.id));
  }
  int64_t now = UnixNanos(impl_->opts_.clock->Now());
  svc.meta.created_at = now;
  svc.meta.updated_at = now;
  ASSIGN_OR_RETURN(svc.endpoint, MakeEndpoint(svc, others));
  RETURN_IF_ERROR(store.CreateService(svc));
  spec::ServiceCreateResponse r;
  r.id = svc.id;
  return r;
}

StatusOr<std::vector<spec::Service>> Cluster::Services(bool status) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  ASSIGN_OR_RETURN(std::vector<spec::Service> all, m->store().ListServices());
  if (!status) return all;
  ASSIGN_OR_RETURN(std::vector<spec::Task> tasks, m->store().ListTasks());
  ASSIGN_OR_RETURN(std::vector<spec::Node> nodes, m->store().ListNodes());
  std::set<std::string> down;
  for (const spec::Node& n : nodes)
    if (n.status.state == "down") down.insert(n.id);
  for (spec::Service& s : all) {
    spec::ServiceStatus st;
    for (const spec::Task& t : tasks) {
      if (t.service_id != s.id || t.desired_state != "running") continue;
      if (s.spec.mode.global && !down.count(t.node_id)) ++st.desired_tasks;
      if (t.status.state == "running" && !down.count(t.node_id)) ++st.running_tasks;
    }
    if (s.spec.mode.replicated) st.desired_tasks = s.spec.mode.replicas.value_or(0);
    s.service_status = st;
  }
  return all;
}

StatusOr<spec::Service> Cluster::GetService(const std::string& ref) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  ASSIGN_OR_RETURN(std::vector<spec::Service> all, m->store().ListServices());
  return Resolve(std::move(all), ref, "service", ServiceName);
}

StatusOr<spec::ServiceUpdateResponse> Cluster::UpdateService(const std::string& ref,
                                                             uint64_t version,
                                                             const spec::ServiceSpec& in,
                                                             bool rollback,
                                                             const std::string& registry_auth,
                                                             const std::string& registry_auth_from) {
  // dockerd reads registryAuthFrom only when no X-Registry-Auth came.
  if (registry_auth.empty() && !registry_auth_from.empty() && registry_auth_from != "spec" &&
      registry_auth_from != "previous-spec")
    return absl::InvalidArgumentError("unsupported registryAuthFrom value");
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  Store& store = m->store();
  ASSIGN_OR_RETURN(std::vector<spec::Service> all, store.ListServices());
  ASSIGN_OR_RETURN(spec::Service svc, Resolve(all, ref, "service", ServiceName));
  if (version != svc.meta.version.index) return OutOfSequence();
  int64_t now = UnixNanos(impl_->opts_.clock->Now());
  if (rollback) {
    if (!svc.previous_spec.has_value())
      return absl::FailedPreconditionError(
          absl::StrCat("rpc error: code = FailedPrecondition desc = service ", svc.id,
                       " does not have a previous spec"));
    std::swap(svc.spec, *svc.previous_spec);
    std::swap(svc.registry_auth, svc.previous_registry_auth);
    spec::UpdateStatus us;
    us.state = spec::kUpdateRollbackStarted;
    us.started_at = now;
    us.message = "manually requested rollback";
    svc.update_status = us;
  } else {
    if (registry_auth.empty() && registry_auth_from == "previous-spec" && !svc.previous_spec)
      return absl::InvalidArgumentError("service does not have a previous spec");
    spec::ServiceSpec s = in;
    RETURN_IF_ERROR(spec::ValidateServiceUpdate(svc.spec, s));
    RETURN_IF_ERROR(CheckNetworks(m->store(), s));
    ApplyStoredDefaults(s);
    RETURN_IF_ERROR(CheckReferences(store, s));
    svc.previous_spec = std::move(svc.spec);
    svc.spec = std::move(s);
    std::string auth = registry_auth_from == "previous-spec" ? svc.previous_registry_auth
                                                             : svc.registry_auth;
    if (!registry_auth.empty()) {
      ASSIGN_OR_RETURN(auth, m->Seal(registry_auth, svc.id));
    }
    svc.previous_registry_auth = std::move(svc.registry_auth);
    svc.registry_auth = std::move(auth);
    svc.update_status.reset();
  }
  svc.meta.updated_at = now;
  ASSIGN_OR_RETURN(svc.endpoint, MakeEndpoint(svc, all));
  RETURN_IF_ERROR(store.UpdateService(svc, version));
  return spec::ServiceUpdateResponse{};
}

Status Cluster::RemoveService(const std::string& ref) {
  ASSIGN_OR_RETURN(spec::Service svc, GetService(ref));
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  return m->store().RemoveService(svc.id);
}

StatusOr<std::vector<spec::Task>> Cluster::Tasks() {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  return m->store().ListTasks();
}

StatusOr<spec::Task> Cluster::GetTask(const std::string& ref) {
  ASSIGN_OR_RETURN(std::vector<spec::Task> all, Tasks());
  return Resolve(std::move(all), ref, "task",
                 [](const spec::Task& t) -> const std::string& { return t.id; });
}

// --- secrets -----------------------------------------------------------------------------------

StatusOr<std::string> Cluster::CreateSecret(const spec::SecretSpec& in) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  RETURN_IF_ERROR(spec::ValidateSecretSpec(in));
  if (in.driver.has_value())
    return absl::UnimplementedError("Berth has no secret drivers: the secret's data must be given");
  const std::string data = in.data.value_or("");
  spec::Secret s;
  s.id = pki::NewTokenSecret();
  s.spec = in;
  ASSIGN_OR_RETURN(std::string sealed, m->Seal(data, s.id));
  s.spec.data = std::move(sealed);
  int64_t now = UnixNanos(impl_->opts_.clock->Now());
  s.meta.created_at = now;
  s.meta.updated_at = now;
  RETURN_IF_ERROR(m->store().CreateSecret(s));
  return s.id;
}

StatusOr<std::vector<spec::Secret>> Cluster::Secrets() {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  ASSIGN_OR_RETURN(std::vector<spec::Secret> all, m->store().ListSecrets());
  for (spec::Secret& s : all) s.spec.data.reset();  // Docker never shows a secret's data
  return all;
}

StatusOr<spec::Secret> Cluster::GetSecret(const std::string& ref) {
  ASSIGN_OR_RETURN(std::vector<spec::Secret> all, Secrets());
  return Resolve(std::move(all), ref, "secret", [](const spec::Secret& s) -> const std::string& {
    return s.spec.annotations.name;
  });
}

Status Cluster::UpdateSecret(const std::string& ref, uint64_t version, const spec::SecretSpec& in) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  ASSIGN_OR_RETURN(spec::Secret cur, GetSecret(ref));
  ASSIGN_OR_RETURN(spec::Secret stored, m->store().GetSecret(cur.id));
  bool data_changed = false;
  if (in.data.has_value()) {
    ASSIGN_OR_RETURN(std::string old, m->OpenSealed(stored.spec.data.value_or(""), cur.id));
    data_changed = old != *in.data;
  }
  if (in.annotations.name != cur.spec.annotations.name || data_changed)
    return absl::InvalidArgumentError(
        "rpc error: code = InvalidArgument desc = only updates to Labels are allowed");
  if (version != stored.meta.version.index) return OutOfSequence();
  stored.spec.annotations.labels = in.annotations.labels;
  stored.meta.updated_at = UnixNanos(impl_->opts_.clock->Now());
  return m->store().UpdateSecret(stored, version);
}

// swarmkit's refusal to remove what a service uses.
template <typename Ref, typename Pick>
static Status InUse(const std::vector<spec::Service>& services, const std::string& id,
                    const std::string& name, std::string_view noun, Pick refs) {
  std::vector<std::string> users;
  for (const spec::Service& s : services) {
    if (!s.spec.task_template.container_spec.has_value()) continue;
    for (const Ref& r : refs(*s.spec.task_template.container_spec))
      if (r == id) {
        users.push_back(s.spec.annotations.name);
        break;
      }
  }
  if (users.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("rpc error: code = InvalidArgument desc = ", Av(noun), " '", name,
                   "' is in use by the following ", users.size() == 1 ? "service" : "services",
                   ": ", absl::StrJoin(users, ", ")));
}

Status Cluster::RemoveSecret(const std::string& ref) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  ASSIGN_OR_RETURN(spec::Secret cur, GetSecret(ref));
  ASSIGN_OR_RETURN(std::vector<spec::Service> services, m->store().ListServices());
  RETURN_IF_ERROR(InUse<std::string>(services, cur.id, cur.spec.annotations.name, "secret",
                                     [](const spec::ServiceContainerSpec& c) {
                                       std::vector<std::string> ids;
                                       for (const auto& r : c.secrets) ids.push_back(r.secret_id);
                                       return ids;
                                     }));
  return m->store().RemoveSecret(cur.id);
}

// --- configs -----------------------------------------------------------------------------------

StatusOr<std::string> Cluster::CreateConfig(const spec::ConfigSpec& in) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  RETURN_IF_ERROR(spec::ValidateConfigSpec(in));
  const std::string data = in.data.value_or("");
  spec::Config c;
  c.id = pki::NewTokenSecret();
  c.spec = in;
  ASSIGN_OR_RETURN(std::string sealed, m->Seal(data, c.id));
  c.spec.data = std::move(sealed);
  int64_t now = UnixNanos(impl_->opts_.clock->Now());
  c.meta.created_at = now;
  c.meta.updated_at = now;
  RETURN_IF_ERROR(m->store().CreateConfig(c));
  return c.id;
}

StatusOr<std::vector<spec::Config>> Cluster::Configs() {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  ASSIGN_OR_RETURN(std::vector<spec::Config> all, m->store().ListConfigs());
  for (spec::Config& c : all) {
    // Docker shows a config's data.
    ASSIGN_OR_RETURN(std::string data, m->OpenSealed(c.spec.data.value_or(""), c.id));
    c.spec.data = std::move(data);
  }
  return all;
}

StatusOr<spec::Config> Cluster::GetConfig(const std::string& ref) {
  ASSIGN_OR_RETURN(std::vector<spec::Config> all, Configs());
  return Resolve(std::move(all), ref, "config", [](const spec::Config& c) -> const std::string& {
    return c.spec.annotations.name;
  });
}

Status Cluster::UpdateConfig(const std::string& ref, uint64_t version, const spec::ConfigSpec& in) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  ASSIGN_OR_RETURN(spec::Config cur, GetConfig(ref));
  if (in.annotations.name != cur.spec.annotations.name ||
      (in.data.has_value() && *in.data != cur.spec.data.value_or("")))
    return absl::InvalidArgumentError(
        "rpc error: code = InvalidArgument desc = only updates to Labels are allowed");
  ASSIGN_OR_RETURN(spec::Config stored, m->store().GetConfig(cur.id));
  if (version != stored.meta.version.index) return OutOfSequence();
  stored.spec.annotations.labels = in.annotations.labels;
  stored.meta.updated_at = UnixNanos(impl_->opts_.clock->Now());
  return m->store().UpdateConfig(stored, version);
}

Status Cluster::RemoveConfig(const std::string& ref) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  ASSIGN_OR_RETURN(spec::Config cur, GetConfig(ref));
  ASSIGN_OR_RETURN(std::vector<spec::Service> services, m->store().ListServices());
  RETURN_IF_ERROR(InUse<std::string>(services, cur.id, cur.spec.annotations.name, "config",
                                     [](const spec::ServiceContainerSpec& c) {
                                       std::vector<std::string> ids;
                                       for (const auto& r : c.configs) ids.push_back(r.config_id);
                                       return ids;
                                     }));
  return m->store().RemoveConfig(cur.id);
}

}  // namespace berth::cluster
