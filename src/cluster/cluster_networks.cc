// The manager side of swarm networks (cluster.h, networks.h): docker network create -d overlay,
// ls, inspect and rm on a manager, and the ingress network every swarm starts with.

#include "absl/strings/str_cat.h"
#include "cluster/cluster.h"
#include "cluster/cluster_impl.h"
#include "cluster/dispatcher.h"
#include "cluster/networks.h"
#include "cluster/pki/pki.h"
#include "cluster/store.h"
#include "spdlog/spdlog.h"

namespace berth::cluster {
namespace {

bool Predefined(const std::string& name) {
  return name == "bridge" || name == "host" || name == "none" || name == "default";
}

StatusOr<NetworkRecord> Find(std::vector<NetworkRecord> all, const std::string& ref) {
  return Resolve(std::move(all), ref, "network",
                 [](const NetworkRecord& n) -> const std::string& { return n.name; });
}

StatusOr<NetworkRecord> Create(Store& store, NetworkRecord n, const Clock& clock) {
  ASSIGN_OR_RETURN(spec::ClusterInfo info, store.GetCluster());
  std::vector<std::string> pools = info.default_addr_pool.value_or(std::vector<std::string>{});
  uint32_t size = info.subnet_size == 0 ? 24 : info.subnet_size;
  n.id = pki::NewTokenSecret();
  n.created_at = UnixNanos(clock.Now());
  return store.CreateNetwork(std::move(n), pools, size);
}

}  // namespace

// The ingress network of a new swarm: 10.0.0.0/24 unless the default address pool says otherwise
// (then its first subnet, as swarmkit).
Status CreateIngressNetwork(Store& store, const Clock& clock) {
  NetworkRecord n;
  n.name = kIngressName;
  n.ingress = true;
  ASSIGN_OR_RETURN(spec::ClusterInfo info, store.GetCluster());
  if (!info.default_addr_pool.has_value() || info.default_addr_pool->empty()) {
    n.subnet = kIngressSubnet;
    ASSIGN_OR_RETURN(n.gateway, FirstHost(n.subnet));
  }
  StatusOr<NetworkRecord> r = Create(store, std::move(n), clock);
  return r.status();
}

StatusOr<std::string> Cluster::CreateNetwork(const spec::NetworkCreateRequest& req) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  if (Predefined(req.name))
    return absl::PermissionDeniedError(
        absl::StrCat(req.name, " is a pre-defined network and cannot be created"));
  if (req.name.empty()) return absl::InvalidArgumentError("a network needs a name");
  ASSIGN_OR_RETURN(NetworkRecord n, NetworkFromRequest(req));
  Store& store = m->store();
  if (n.ingress) {
    ASSIGN_OR_RETURN(std::vector<NetworkRecord> all, store.ListNetworks());
    for (const NetworkRecord& o : all)
      if (o.ingress)
        return absl::AlreadyExistsError(absl::StrCat(
            "rpc error: code = AlreadyExists desc = ingress network (", o.id,
            ") is already present"));
  }
  ASSIGN_OR_RETURN(NetworkRecord w, Create(store, std::move(n), *impl_->opts_.clock));
  return w.id;
}

StatusOr<std::vector<NetworkRecord>> Cluster::Networks() {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  return m->store().ListNetworks();
}

StatusOr<NetworkRecord> Cluster::GetNetwork(const std::string& ref) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  ASSIGN_OR_RETURN(std::vector<NetworkRecord> all, m->store().ListNetworks());
  return Find(std::move(all), ref);
}

Status Cluster::RemoveNetwork(const std::string& ref) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  Store& store = m->store();
  ASSIGN_OR_RETURN(std::vector<NetworkRecord> all, store.ListNetworks());
  ASSIGN_OR_RETURN(NetworkRecord n, Find(std::move(all), ref));
  ASSIGN_OR_RETURN(std::vector<spec::Service> services, store.ListServices());
  for (const spec::Service& s : services) {
    if (n.ingress) {
      if (PublishesIngress(s))
        return absl::FailedPreconditionError(absl::StrCat(
            "rpc error: code = FailedPrecondition desc = ingress network cannot be removed "
            "because service ",
            s.id, " depends on it"));
      continue;
    }
    for (const spec::NetworkAttachmentConfig& a : s.spec.task_template.networks)
      if (a.target == n.id || a.target == n.name)
        return absl::FailedPreconditionError(
            absl::StrCat("rpc error: code = FailedPrecondition desc = network ", n.id,
                         " is in use by service ", s.id));
  }
  ASSIGN_OR_RETURN(std::vector<AttachmentRecord> attachments, store.ListAttachments());
  std::vector<AttachmentRecord> sboxes;  // the nodes' own ingress endpoints go with the network
  for (const AttachmentRecord& a : attachments) {
    if (a.network_id != n.id) continue;
    if (a.container_id == kIngressSbox) {
      sboxes.push_back(a);
      continue;
    }
    return absl::FailedPreconditionError(
        absl::StrCat("rpc error: code = FailedPrecondition desc = network ", n.id,
                     " is in use by task ", a.id));
  }
  RETURN_IF_ERROR(store.RemoveNetwork(n));
  for (const AttachmentRecord& a : sboxes)
    if (Status s = store.RemoveAttachment(a); !s.ok())
      spdlog::warn("swarm: ingress endpoint {} of node {}: {}", a.ip, a.node_id, s.ToString());
  return absl::OkStatus();
}

StatusOr<ContainerAttachment> Cluster::AttachContainer(const std::string& network,
                                                      const std::string& container_id,
                                                      const std::string& container_name) {
  std::shared_ptr<Agent> agent;
  {
    StateLock l(impl_->mu_);
    agent = impl_->agent_;
  }
  if (agent == nullptr) return absl::NotFoundError(absl::StrCat("network ", network, " not found"));
  ASSIGN_OR_RETURN(SwarmAttachment a, agent->Attach(network, container_id, container_name));
  return ContainerAttachment{std::move(a.network), std::move(a.ip)};
}

bool Cluster::Active() {
  StateLock l(impl_->mu_);
  return impl_->state_.has_value();
}

Status Cluster::DetachContainer(const std::string& container_id) {
  std::shared_ptr<Agent> agent;
  {
    StateLock l(impl_->mu_);
    agent = impl_->agent_;
  }
  if (agent == nullptr) return absl::OkStatus();
  return agent->Detach(container_id);
}

}  // namespace berth::cluster
