#include "cluster/dispatcher.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cluster/manager.h"
#include "cluster/pki/pki.h"
#include "cluster/policy.h"
#include "cluster/rpc.h"
#include "spdlog/spdlog.h"
#include "spec/json/swarm_json.h"

namespace berth::cluster {
namespace {

constexpr char kBadToken[] =
    "rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster";

void Fail(api::Conn& c, const Status& s) { c.SendJson(api::HttpStatusFor(s), ErrorBody(s)); }

// The managers' addresses, for the nodes (RemoteManagers).
nlohmann::json ManagerList(const std::vector<spec::Node>& nodes) {
  nlohmann::json out = nlohmann::json::array();
  for (const spec::Node& n : nodes) {
    if (n.spec.role == "manager" && n.manager_status.has_value() && !n.manager_status->addr.empty())
      out.push_back({{"node_id", n.id}, {"addr", n.manager_status->addr}});
  }
  return out;
}

}  // namespace

// A node authenticated by its certificate: its id, after checking the cluster and that it was
// not removed.
StatusOr<spec::Node> AuthenticateNode(Manager& m, const api::Conn& conn) {
  const transport::PeerIdentity& peer = conn.peer();
  if (!peer.verified || peer.common_name.empty())
    return absl::PermissionDeniedError("a node certificate of this swarm is required");
  if (peer.organization != m.config().state.cluster_id)
    return absl::PermissionDeniedError("the certificate belongs to another swarm");
  StatusOr<spec::Node> node = m.store().GetNode(peer.common_name);
  if (absl::IsNotFound(node.status())) {
    StatusOr<bool> removed = m.store().IsRemoved(peer.common_name);
    if (removed.ok() && *removed)
      return absl::PermissionDeniedError(
          absl::StrCat("node ", peer.common_name, " was removed from the swarm"));
  }
  return node;
}

void Dispatcher::HandleJoin(api::Request& req, api::Conn& conn) {
  StatusOr<nlohmann::json> body = req.Json();
  if (!body.ok()) return Fail(conn, body.status());
  const nlohmann::json& b = *body;
  StatusOr<pki::JoinToken> token = pki::ParseJoinToken(b.value("token", ""));
  if (!token.ok()) return Fail(conn, absl::InvalidArgumentError(kBadToken));
  Store& store = manager_.store();
  StatusOr<CaRecord> ca = store.GetCa();
  if (!ca.ok()) return Fail(conn, ca.status());
  StatusOr<pki::RootCa> root = pki::RootCa::FromPem(ca->cert_pem, ca->key_pem);
  if (!root.ok()) return Fail(conn, root.status());
  StatusOr<TokenSecrets> secrets = store.GetTokens();
  if (!secrets.ok()) return Fail(conn, secrets.status());
  std::string role;
  if (token->ca_digest == root->Digest() && token->secret == secrets->worker) role = "worker";
  if (token->ca_digest == root->Digest() && token->secret == secrets->manager) role = "manager";
  if (role.empty()) return Fail(conn, absl::InvalidArgumentError(kBadToken));
  StatusOr<spec::ClusterInfo> cluster = store.GetCluster();
  if (!cluster.ok()) return Fail(conn, cluster.status());

  std::string advertise = b.value("advertise_addr", "");
  std::string ip = HostOf(advertise);
  if (ip.empty()) return Fail(conn, absl::InvalidArgumentError("the joining node sent no address"));
  StatusOr<std::string> availability = NormalizeAvailability(b.value("availability", ""));
  if (!availability.ok()) return Fail(conn, availability.status());

  spec::Node node;
  if (b.contains("node")) {
    StatusOr<spec::Node> sent = spec::ParseNode(b["node"].dump());
    if (!sent.ok()) return Fail(conn, sent.status());
    node.description = sent->description;
  }
  node.id = pki::NewTokenSecret();
  StatusOr<std::string> cert =
      SignNodeCertificate(*root, b.value("csr", ""), node.id, role, cluster->id, ip,
                          cluster->spec.ca_config.node_cert_expiry, clock_.Now());
  if (!cert.ok()) return Fail(conn, cert.status());

  int64_t now = UnixNanos(clock_.Now());
  node.meta.created_at = now;
  node.meta.updated_at = now;
  node.spec.role = role;
  node.spec.availability = *availability;
  node.description.tls_info = cluster->tls_info;
  node.status.state = "unknown";
  node.status.addr = ip;
  if (role == "manager") {
    spec::ManagerStatus ms;
    ms.addr = advertise;
    node.manager_status = ms;
  }
  nlohmann::json reply = {{"node_id", node.id},
                          {"cluster_id", cluster->id},
                          {"role", role},
                          {"cert", *cert},
                          {"root", ca->cert_pem}};
  Status created = store.CreateNode(node);
  if (!created.ok()) return Fail(conn, created);
  StatusOr<std::vector<spec::Node>> nodes = store.ListNodes();
  reply["managers"] = nodes.ok() ? ManagerList(*nodes) : nlohmann::json::array();
  if (role == "manager") {
    // Last: once the member is added, the store may have no quorum until the new member runs
    // (a one-manager swarm becomes two of two), so nothing else is written after this.
    StatusOr<std::string> initial = manager_.AddEtcdMember(node.id, ip);
    if (!initial.ok()) {
      (void)store.RemoveNode(node.id);
      return Fail(conn, initial.status());
    }
    reply["initial_cluster"] = *initial;
    reply["data_key"] = absl::Base64Escape(manager_.DataKey());
  }
  spdlog::info("swarm: node {} ({}) joined as a {}", node.id, advertise, role);
  conn.SendJson(200, reply);
}

bool Dispatcher::RedirectToLeader(api::Conn& conn) {
  if (manager_.IsLeader()) return false;
  std::optional<LeaderRecord> leader = manager_.Leader();
  conn.SendJson(200, {{"leader", false}, {"leader_addr", leader ? leader->addr : ""}});
  return true;
}

void Dispatcher::HandleHeartbeat(api::Request& req, api::Conn& conn) {
  if (RedirectToLeader(conn)) return;
  StatusOr<spec::Node> node = AuthenticateNode(manager_, conn);
  if (!node.ok()) return Fail(conn, node.status());
  StatusOr<nlohmann::json> body = req.Json();
  if (!body.ok()) return Fail(conn, body.status());
  bool leaving = body->value("leaving", false);
  {
    StateLock l(mu_);
    if (leaving) {
      last_seen_.erase(node->id);
      ForgetMeshLocked(node->id);
    } else {
      last_seen_[node->id] = clock_.Monotonic();
    }
  }
  Store& store = manager_.store();
  std::optional<spec::NodeDescription> desc;
  if (body->contains("node")) {
    StatusOr<spec::Node> sent = spec::ParseNode((*body)["node"].dump());
    if (sent.ok()) desc = sent->description;
  }
  // Ready, or Down when it leaves (and the description, if it changed), retried if another write
  // came between.
  for (int attempt = 0; attempt < 3; ++attempt) {
    spec::Node want = *node;
    want.status.state = leaving ? "down" : "ready";
    want.status.message = leaving ? "node left the swarm" : "";
    if (desc.has_value()) {
      spec::TLSInfo tls = want.description.tls_info;
      want.description = *desc;
      want.description.tls_info = tls;
    }
    if (want.status == node->status && want.description == node->description) break;
    want.meta.updated_at = UnixNanos(clock_.Now());
    StatusOr<uint64_t> v = store.UpdateNode(want, node->meta.version.index);
    if (v.ok()) {
      // Up or down changes which tasks every node balances to (the mesh's backends).
      if (want.status.state != node->status.state) TasksChanged();
      break;
    }
    StatusOr<spec::Node> again = store.GetNode(node->id);
    if (!again.ok()) return Fail(conn, again.status());
    node = std::move(again);
  }
  StatusOr<std::vector<spec::Node>> nodes = store.ListNodes();
  if (!nodes.ok()) return Fail(conn, nodes.status());
  StatusOr<spec::ClusterInfo> cluster = store.GetCluster();
  if (!cluster.ok()) return Fail(conn, cluster.status());
  int64_t period = cluster->spec.dispatcher.heartbeat_period > 0
                       ? cluster->spec.dispatcher.heartbeat_period
                       : int64_t{5'000'000'000};
  conn.SendJson(200, {{"leader", true},
                      {"period_ns", period},
                      {"role", node->spec.role},
                      {"managers", ManagerList(*nodes)}});
}

void Dispatcher::HandleRenew(api::Request& req, api::Conn& conn) {
  StatusOr<spec::Node> node = AuthenticateNode(manager_, conn);
  if (!node.ok()) return Fail(conn, node.status());
  StatusOr<nlohmann::json> body = req.Json();
  if (!body.ok()) return Fail(conn, body.status());
  Store& store = manager_.store();
  StatusOr<CaRecord> ca = store.GetCa();
  if (!ca.ok()) return Fail(conn, ca.status());
  StatusOr<pki::RootCa> root = pki::RootCa::FromPem(ca->cert_pem, ca->key_pem);
  if (!root.ok()) return Fail(conn, root.status());
  StatusOr<spec::ClusterInfo> cluster = store.GetCluster();
  if (!cluster.ok()) return Fail(conn, cluster.status());
  const std::string& role = node->spec.role;
  std::string ip = node->status.addr;
  nlohmann::json reply = {{"role", role}, {"root", ca->cert_pem}};
  if (role == "manager") reply["data_key"] = absl::Base64Escape(manager_.DataKey());
  if (role == "manager" && conn.peer().organizational_unit != pki::kManagerRole) {
    // A promotion: the node's etcd member joins the store before the node has its certificate
    // (and last of the writes: the store may lack a quorum until the new member runs).
    if (!node->manager_status.has_value()) {
      spec::Node want = *node;
      spec::ManagerStatus ms;
      ms.addr = absl::StrCat(ip, ":2377");
      want.manager_status = ms;
      StatusOr<uint64_t> v = store.UpdateNode(want, node->meta.version.index);
      if (!v.ok()) return Fail(conn, v.status());
    }
    StatusOr<std::string> initial = manager_.AddEtcdMember(node->id, ip);
    if (!initial.ok()) return Fail(conn, initial.status());
    reply["initial_cluster"] = *initial;
  }
  StatusOr<std::string> cert =
      SignNodeCertificate(*root, body->value("csr", ""), node->id, role, cluster->id, ip,
                          cluster->spec.ca_config.node_cert_expiry, clock_.Now());
  if (!cert.ok()) return Fail(conn, cert.status());
  reply["cert"] = *cert;
  conn.SendJson(200, reply);
}

void Dispatcher::ForgetMeshLocked(const std::string& node_id) {
  answered_.erase(node_id);
  applied_.erase(node_id);
}

void Dispatcher::BecomeLeader() {
  StateLock l(mu_);
  leading_ = true;
  leading_since_ = clock_.Monotonic();
  last_seen_.clear();
  task_shapes_.clear();
  answered_.clear();
  applied_.clear();
  leaving_since_.clear();
}

void Dispatcher::LoseLeadership() {
  StateLock l(mu_);
  leading_ = false;
  last_seen_.clear();
  task_shapes_.clear();
  answered_.clear();
  applied_.clear();
  leaving_since_.clear();
  tasks_cv_.SignalAll();
}

void Dispatcher::CheckDown(Duration period) {
  MonoTime now = clock_.Monotonic();
  // Two missed heartbeats and half a period: with checks every quarter period, a silent node is
  // Down within 3 periods of its last heartbeat, and one late heartbeat does not make it flap.
  Duration grace = period * 5 / 2;
  std::map<std::string, MonoTime> seen;
  {
    StateLock l(mu_);
    if (!leading_) return;
    seen = last_seen_;
    // Every node gets a full grace from the moment this manager leads.
    if (now - leading_since_ < grace) return;
  }
  Store& store = manager_.store();
  StatusOr<std::vector<spec::Node>> nodes = store.ListNodes();
  if (!nodes.ok()) return;
  for (spec::Node& n : *nodes) {
    auto it = seen.find(n.id);
    bool silent = it == seen.end() || now - it->second >= grace;
    if (!silent || n.status.state == "down") continue;
    uint64_t version = n.meta.version.index;
    n.status.state = "down";
    n.status.message = "heartbeat failure";
    n.meta.updated_at = UnixNanos(clock_.Now());
    StatusOr<uint64_t> v = store.UpdateNode(n, version);
    if (v.ok()) {
      spdlog::info("swarm: node {} is down (no heartbeat)", n.id);
      {
        StateLock l(mu_);
        ForgetMeshLocked(n.id);  // a backend leaving does not wait for a node that is gone
      }
      // Its tasks leave every node's balancing maps now, not when they are rescheduled.
      TasksChanged();
    }
  }
}

}  // namespace berth::cluster
