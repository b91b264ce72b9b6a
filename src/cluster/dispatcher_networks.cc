// The dispatcher's network half (dispatcher.h): which swarm networks a node needs and their peer
// tables (sent with the node's assignments), and the attachment of a node's containers to
// attachable swarm networks (`docker run --net ov1` on any node).

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "cluster/dispatcher.h"
#include "cluster/manager.h"
#include "cluster/networks.h"
#include "cluster/pki/pki.h"
#include "cluster/rpc.h"
#include "cluster/task_container.h"
#include "network/ipam/ipam.h"
#include "spdlog/spdlog.h"

namespace berth::cluster {
namespace {

void Fail(api::Conn& c, const Status& s) { c.SendJson(api::HttpStatusFor(s), ErrorBody(s)); }

// A task that still has its endpoints (its network addresses are in use).
bool HasEndpoints(const spec::Task& t) {
  return t.desired_state == "running" || t.desired_state == "ready"
             ? spec::TaskStateRank(t.status.state) <= spec::TaskStateRank("running")
             : spec::TaskStateRank(t.status.state) == spec::TaskStateRank("running");
}

std::string HostPart(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

nlohmann::json SpecJson(const network::SwarmNetworkSpec& s) {
  return {{"id", s.id},           {"name", s.name},         {"created", s.created},
          {"driver", s.driver},   {"vni", s.vni},           {"subnet", s.subnet},
          {"gateway", s.gateway}, {"mtu", s.mtu},           {"attachable", s.attachable},
          {"ingress", s.ingress}, {"internal", s.internal}, {"options", s.options},
          {"labels", s.labels}};
}

}  // namespace

network::SwarmNetworkSpec ParseSwarmNetworkSpec(const nlohmann::json& j) {
  network::SwarmNetworkSpec s;
  s.id = j.value("id", "");
  s.name = j.value("name", "");
  s.created = j.value("created", "");
  s.driver = j.value("driver", "overlay");
  s.vni = j.value("vni", 0u);
  s.subnet = j.value("subnet", "");
  s.gateway = j.value("gateway", "");
  s.mtu = j.value("mtu", 1450);
  s.attachable = j.value("attachable", false);
  s.ingress = j.value("ingress", false);
  s.internal = j.value("internal", false);
  s.options = j.value("options", std::map<std::string, std::string>{});
  s.labels = j.value("labels", std::map<std::string, std::string>{});
  return s;
}

StatusOr<nlohmann::json> BuildNodeNetworks(Manager& m, const std::string& node_id,
                                           const std::vector<spec::Task>& all_tasks) {
  Store& store = m.store();
  ASSIGN_OR_RETURN(std::vector<NetworkRecord> networks, store.ListNetworks());
  if (networks.empty()) return nlohmann::json::array();
  ASSIGN_OR_RETURN(std::vector<AttachmentRecord> attachments, store.ListAttachments());
  ASSIGN_OR_RETURN(std::vector<spec::Node> nodes, store.ListNodes());
  std::map<std::string, std::string> vtep;  // node id -> underlay address
  for (const spec::Node& n : nodes) vtep[n.id] = n.status.addr;
  // Every endpoint of every swarm network: (network, node, address).
  struct Ep {
    std::string node;
    std::string ip;
    std::vector<std::string> names;  // what other nodes' DNS answers with this address
  };
  std::map<std::string, std::vector<Ep>> eps;
  std::map<std::string, std::string> service_names;
  bool any_task = false;
  for (const spec::Task& t : all_tasks) any_task |= !t.networks_attachments.empty();
  if (any_task) {
    ASSIGN_OR_RETURN(std::vector<spec::Service> services, store.ListServices());
    for (const spec::Service& s : services) service_names[s.id] = s.spec.annotations.name;
  }
  for (const spec::Task& t : all_tasks) {
    if (t.node_id.empty() || !HasEndpoints(t)) continue;
    // What other nodes' DNS answers with a task's address: its container's name, its service's
    // name and tasks.<service> (every task's address: Berth has no service VIPs yet), and the
    // aliases its spec gives on that network.
    const std::string& svc = service_names[t.service_id];
    for (const spec::NetworkAttachment& a : t.networks_attachments) {
      std::vector<std::string> names = {TaskContainerName(t, svc), svc, "tasks." + svc};
      for (const spec::NetworkAttachmentConfig& want : t.spec.networks)
        if (want.target == a.network.id)
          names.insert(names.end(), want.aliases.begin(), want.aliases.end());
      for (const std::string& addr : a.addresses)
        eps[a.network.id].push_back({t.node_id, HostPart(addr), names});
    }
  }
  for (const AttachmentRecord& a : attachments) {
    Ep e{a.node_id, a.ip, {}};
    if (!a.container_name.empty()) e.names.push_back(a.container_name);
    eps[a.network_id].push_back(std::move(e));
  }
  nlohmann::json out = nlohmann::json::array();
  for (const NetworkRecord& n : networks) {
    const std::vector<Ep>& list = eps[n.id];
    bool here = false;
    for (const Ep& e : list) here |= e.node == node_id;
    if (!here) continue;  // a network appears on a node only while something of it runs there
    nlohmann::json peers = nlohmann::json::array();
    for (const Ep& e : list) {
      if (e.node == node_id || vtep[e.node].empty()) continue;
      StatusOr<uint32_t> ip = network::ipam::ParseIp(e.ip);
      if (!ip.ok()) continue;
      // Docker's overlay MAC: 02:42 and the address's four bytes.
      peers.push_back({{"ip", e.ip},
                       {"mac", network::ipam::MacFromIp(*ip)},
                       {"vtep", vtep[e.node]},
                       {"names", e.names}});
    }
    out.push_back({{"network", SpecJson(SwarmSpecOf(n))}, {"peers", std::move(peers)}});
  }
  return out;
}

void Dispatcher::HandleAttach(api::Request& req, api::Conn& conn) {
  if (RedirectToLeader(conn)) return;
  StatusOr<spec::Node> node = AuthenticateNode(manager_, conn);
  if (!node.ok()) return Fail(conn, node.status());
  StatusOr<nlohmann::json> body = req.Json();
  if (!body.ok()) return Fail(conn, body.status());
  std::string ref = body->value("network", "");
  std::string container = body->value("container_id", "");
  std::string container_name = body->value("container_name", "");
  if (ref.empty() || container.empty())
    return Fail(conn, absl::InvalidArgumentError("attach: network and container_id are required"));
  Store& store = manager_.store();
  StatusOr<std::vector<NetworkRecord>> all = store.ListNetworks();
  if (!all.ok()) return Fail(conn, all.status());
  const NetworkRecord* n = nullptr;
  for (const NetworkRecord& r : *all)
    if (r.id == ref || r.name == ref) n = &r;
  if (n == nullptr) return Fail(conn, absl::NotFoundError(absl::StrCat("network ", ref, " not found")));
  if (!n->attachable)
    return Fail(conn, absl::PermissionDeniedError(absl::StrCat(
                          "Could not attach to network ", ref,
                          ": rpc error: code = PermissionDenied desc = network ", ref,
                          " not manually attachable")));
  // Attaching again (a retried call, a restarted container) keeps the address it has.
  StatusOr<std::vector<AttachmentRecord>> atts = store.ListAttachments();
  if (!atts.ok()) return Fail(conn, atts.status());
  std::optional<AttachmentRecord> got;
  for (const AttachmentRecord& a : *atts)
    if (a.node_id == node->id && a.container_id == container && a.network_id == n->id) got = a;
  if (!got.has_value()) {
    AttachmentRecord a;
    a.id = pki::NewTokenSecret();
    a.network_id = n->id;
    a.node_id = node->id;
    a.container_id = container;
    a.container_name = container_name;
    a.created_at = UnixNanos(clock_.Now());
    StatusOr<AttachmentRecord> made = store.CreateAttachment(std::move(a), *n);
    if (!made.ok()) return Fail(conn, made.status());
    got = std::move(*made);
  }
  conn.SendJson(200, {{"leader", true},
                      {"network", SpecJson(SwarmSpecOf(*n))},
                      {"attachment_id", got->id},
                      {"ip", got->ip}});
}

void Dispatcher::HandleDetach(api::Request& req, api::Conn& conn) {
  if (RedirectToLeader(conn)) return;
  StatusOr<spec::Node> node = AuthenticateNode(manager_, conn);
  if (!node.ok()) return Fail(conn, node.status());
  StatusOr<nlohmann::json> body = req.Json();
  if (!body.ok()) return Fail(conn, body.status());
  std::string container = body->value("container_id", "");
  Store& store = manager_.store();
  StatusOr<std::vector<AttachmentRecord>> atts = store.ListAttachments();
  if (!atts.ok()) return Fail(conn, atts.status());
  for (const AttachmentRecord& a : *atts) {
    if (a.node_id != node->id || a.container_id != container) continue;
    if (Status s = store.RemoveAttachment(a); !s.ok()) return Fail(conn, s);
  }
  conn.SendJson(200, {{"leader", true}});
}

}  // namespace berth::cluster
