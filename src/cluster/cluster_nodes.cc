// The manager side of /swarm and /nodes, and the "Swarm" section of info.

#include <algorithm>
#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cluster/cluster.h"
#include "cluster/cluster_impl.h"
#include "cluster/pki/pki.h"
#include "cluster/policy.h"
#include "spdlog/spdlog.h"

namespace berth::cluster {
namespace {

// Leader and Reachability, which the store does not keep.
void FillManagerStatus(std::vector<spec::Node>* nodes, const std::optional<LeaderRecord>& leader) {
  for (spec::Node& n : *nodes) {
    if (n.spec.role != "manager" && !n.manager_status.has_value()) continue;
    if (!n.manager_status.has_value()) n.manager_status = spec::ManagerStatus{};
    n.manager_status->leader = leader.has_value() && leader->node_id == n.id;
    n.manager_status->reachability =
        n.status.state == "ready" || n.manager_status->leader ? "reachable" : "unreachable";
  }
}

Status CheckNodeSpec(const spec::NodeSpec& s) {
  if (s.role != "worker" && s.role != "manager")
    return absl::InvalidArgumentError(absl::StrCat("invalid Role: ", s.role));
  // A node's spec names its availability: "" is refused here, unlike at init and join.
  if (s.availability.empty()) return absl::InvalidArgumentError("invalid Availability: ");
  return NormalizeAvailability(s.availability).status();
}

}  // namespace

bool Cluster::IsManager() { return impl_->RequireManager().ok(); }

StatusOr<spec::Swarm> Cluster::Inspect() {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  ASSIGN_OR_RETURN(spec::ClusterInfo info, m->store().GetCluster());
  ASSIGN_OR_RETURN(TokenSecrets secrets, m->store().GetTokens());
  ASSIGN_OR_RETURN(pki::RootCa root, pki::RootCa::FromPem(info.tls_info.trust_root, ""));
  spec::Swarm out;
  out.cluster = std::move(info);
  out.join_tokens.worker = pki::FormatJoinToken(root.Digest(), secrets.worker);
  out.join_tokens.manager = pki::FormatJoinToken(root.Digest(), secrets.manager);
  return out;
}

Status Cluster::Update(const spec::SwarmSpec& spec_in, uint64_t version,
                       const SwarmUpdateFlags& flags) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  if (flags.rotate_manager_unlock_key)
    return absl::InvalidArgumentError("Berth does not support autolock, so there is no unlock key");
  spec::SwarmSpec spec = spec_in;
  RETURN_IF_ERROR(CheckSupportedSpec(spec));
  if (!spec.ca_config.signing_ca_cert.empty() || !spec.ca_config.signing_ca_key.empty() ||
      spec.ca_config.force_rotate != 0)
    return absl::InvalidArgumentError("Berth does not support rotating the root CA");
  ASSIGN_OR_RETURN(spec::ClusterInfo info, m->store().GetCluster());
  if (version != info.meta.version.index)
    return absl::UnknownError("rpc error: code = Unknown desc = update out of sequence");
  if (spec.annotations.name.empty()) spec.annotations.name = info.spec.annotations.name;
  if (spec.dispatcher.heartbeat_period == 0)
    spec.dispatcher.heartbeat_period = info.spec.dispatcher.heartbeat_period;
  if (spec.ca_config.node_cert_expiry == 0)
    spec.ca_config.node_cert_expiry = info.spec.ca_config.node_cert_expiry;
  if (!spec.orchestration.task_history_retention_limit.has_value())
    spec.orchestration.task_history_retention_limit =
        info.spec.orchestration.task_history_retention_limit;
  if (spec.raft.snapshot_interval == 0) spec.raft.snapshot_interval = info.spec.raft.snapshot_interval;
  if (!spec.raft.keep_old_snapshots.has_value())
    spec.raft.keep_old_snapshots = info.spec.raft.keep_old_snapshots;
  if (spec.raft.log_entries_for_slow_followers == 0)
    spec.raft.log_entries_for_slow_followers = info.spec.raft.log_entries_for_slow_followers;
  if (spec.raft.election_tick == 0) spec.raft.election_tick = info.spec.raft.election_tick;
  if (spec.raft.heartbeat_tick == 0) spec.raft.heartbeat_tick = info.spec.raft.heartbeat_tick;
  info.spec = spec;
  info.meta.updated_at = UnixNanos(impl_->opts_.clock->Now());
  RETURN_IF_ERROR(m->store().UpdateCluster(info, version));
  if (flags.rotate_worker_token || flags.rotate_manager_token) {
    ASSIGN_OR_RETURN(TokenSecrets secrets, m->store().GetTokens());
    if (flags.rotate_worker_token) secrets.worker = pki::NewTokenSecret();
    if (flags.rotate_manager_token) secrets.manager = pki::NewTokenSecret();
    RETURN_IF_ERROR(m->store().PutTokens(secrets));
  }
  return absl::OkStatus();
}

StatusOr<std::vector<spec::Node>> Cluster::Nodes() {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  ASSIGN_OR_RETURN(std::vector<spec::Node> nodes, m->store().ListNodes());
  ASSIGN_OR_RETURN(std::optional<LeaderRecord> leader, m->store().GetLeader());
  FillManagerStatus(&nodes, leader);
  return nodes;
}

StatusOr<spec::Node> Cluster::GetNode(const std::string& ref) {
  ASSIGN_OR_RETURN(std::vector<spec::Node> nodes, Nodes());
  // swarmkit's order: the full id, then the hostname, then an id prefix.
  for (const spec::Node& n : nodes)
    if (n.id == ref) return n;
  std::vector<const spec::Node*> hits;
  for (const spec::Node& n : nodes)
    if (n.description.hostname == ref) hits.push_back(&n);
  if (hits.empty())
    for (const spec::Node& n : nodes)
      if (!ref.empty() && absl::StartsWith(n.id, ref)) hits.push_back(&n);
  if (hits.empty()) return absl::NotFoundError(absl::StrCat("node ", ref, " not found"));
  if (hits.size() > 1)
    return absl::InvalidArgumentError(
        absl::StrCat("node ", ref, " is ambiguous (", hits.size(), " matches found)"));
  return *hits[0];
}

Status Cluster::UpdateNode(const std::string& ref, uint64_t version, const spec::NodeSpec& spec) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  RETURN_IF_ERROR(CheckNodeSpec(spec));
  ASSIGN_OR_RETURN(spec::Node node, GetNode(ref));
  if (version != node.meta.version.index)
    return absl::UnknownError("rpc error: code = Unknown desc = update out of sequence");
  if (node.spec.role == "manager" && spec.role == "worker") {
    ASSIGN_OR_RETURN(std::vector<spec::Node> nodes, m->store().ListNodes());
    int managers = 0;
    for (const spec::Node& n : nodes) managers += n.spec.role == "manager" ? 1 : 0;
    if (managers <= 1)
      return absl::FailedPreconditionError(
          "rpc error: code = FailedPrecondition desc = attempting to demote the last manager of "
          "the swarm");
  }
  spec::Node want = node;
  want.spec = spec;
  want.meta.updated_at = UnixNanos(impl_->opts_.clock->Now());
  if (spec.role == "worker") want.manager_status.reset();
  RETURN_IF_ERROR(m->store().UpdateNode(want, version).status());
  if (node.spec.role == "manager" && spec.role == "worker") {
    // Then its etcd member leaves the store, before the node hears of its new role at its next
    // heartbeat and stops the member. Removing the etcd leader (the demoted node's member may be
    // it) makes the store elect another: the removal is retried through that.
    MonoTime until = impl_->opts_.clock->Monotonic() + std::chrono::seconds(10);
    for (;;) {
      Status removed = m->RemoveEtcdMember(node.status.addr);
      if (removed.ok()) break;
      if (!absl::IsUnavailable(removed) || impl_->opts_.clock->Monotonic() >= until)
        return removed;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  return absl::OkStatus();
}

Status Cluster::RemoveNode(const std::string& ref, bool force) {
  ASSIGN_OR_RETURN(std::shared_ptr<Manager> m, impl_->RequireManager());
  ASSIGN_OR_RETURN(spec::Node node, GetNode(ref));
  if (node.spec.role == "manager")
    return absl::InvalidArgumentError(absl::StrCat(
        "rpc error: code = FailedPrecondition desc = node ", node.id,
        " is a cluster manager and is a member of the raft cluster. It must be demoted to worker "
        "before removal"));
  if (!force && node.status.state != "down")
    return absl::InvalidArgumentError(absl::StrCat("rpc error: code = FailedPrecondition desc = node ",
                                                   node.id, " is not down and can't be removed"));
  return m->store().RemoveNode(node.id);
}

spec::SwarmInfo Cluster::Info() {
  spec::SwarmInfo out;
  std::optional<NodeState> st;
  std::shared_ptr<Manager> manager;
  std::shared_ptr<Agent> agent;
  std::string error;
  {
    StateLock l(impl_->mu_);
    st = impl_->state_;
    manager = impl_->manager_;
    agent = impl_->agent_;
    error = impl_->error_;
  }
  out.error = error;
  if (!st.has_value()) {
    out.local_node_state = error.empty() ? "inactive" : "error";
    return out;
  }
  out.node_id = st->node_id;
  out.node_addr = HostOf(st->advertise_addr);
  out.local_node_state = "active";
  out.control_available = manager != nullptr;
  std::vector<ManagerPeer> managers = agent != nullptr ? agent->managers() : st->managers;
  out.remote_managers = std::vector<spec::SwarmPeer>();
  for (const ManagerPeer& m : managers) out.remote_managers->push_back({m.node_id, m.addr});
  if (manager != nullptr) {
    StatusOr<std::vector<spec::Node>> nodes = manager->store().ListNodes();
    if (nodes.ok()) {
      out.nodes = static_cast<int64_t>(nodes->size());
      for (const spec::Node& n : *nodes) out.managers += n.spec.role == "manager" ? 1 : 0;
    }
    StatusOr<spec::ClusterInfo> c = manager->store().GetCluster();
    if (c.ok()) out.cluster = *c;
    else out.error = std::string(c.status().message());
  }
  return out;
}

}  // namespace berth::cluster
