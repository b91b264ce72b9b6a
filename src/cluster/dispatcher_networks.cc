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
#include "cluster/store.h"
#include "cluster/task_container.h"
#include "common/ids.h"
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

nlohmann::json PeerNodesJson(const std::vector<network::SwarmNetworkSpec::PeerNode>& nodes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& n : nodes) out.push_back({{"name", n.name}, {"ip", n.ip}});
  return out;
}

nlohmann::json SpecJson(const network::SwarmNetworkSpec& s) {
  return {{"id", s.id},           {"name", s.name},         {"created", s.created},
          {"driver", s.driver},   {"vni", s.vni},           {"subnet", s.subnet},
          {"gateway", s.gateway}, {"mtu", s.mtu},           {"attachable", s.attachable},
          {"ingress", s.ingress}, {"internal", s.internal}, {"options", s.options},
          {"labels", s.labels},   {"peer_nodes", PeerNodesJson(s.peer_nodes)}};
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
  if (const auto it = j.find("peer_nodes"); it != j.end() && it->is_array())
    for (const nlohmann::json& n : *it)
      if (n.is_object()) s.peer_nodes.push_back({n.value("name", ""), n.value("ip", "")});
  return s;
}

nlohmann::json MeshJson(const network::MeshSpec& m) {
  nlohmann::json services = nlohmann::json::array();
  for (const network::MeshService& s : m.services) {
    nlohmann::json ports = nlohmann::json::array();
    for (const network::MeshPort& p : s.ingress_ports)
      ports.push_back({{"proto", p.proto}, {"published", p.published}, {"target", p.target}});
    nlohmann::json nets = nlohmann::json::array();
    for (const network::MeshServiceNetwork& n : s.networks) {
      nlohmann::json backends = nlohmann::json::array();
      for (const network::MeshBackend& b : n.backends)
        backends.push_back({{"ip", b.ip}, {"local", b.local}});
      nets.push_back({{"network_id", n.network_id},
                      {"vip", n.vip},
                      {"names", n.names},
                      {"backends", std::move(backends)}});
    }
    services.push_back({{"id", s.id},
                        {"name", s.name},
                        {"ingress_ports", std::move(ports)},
                        {"networks", std::move(nets)}});
  }
  return {{"ingress_network_id", m.ingress_network_id},
          {"ingress_address", m.ingress_address},
          {"services", std::move(services)}};
}

network::MeshSpec ParseMeshSpec(const nlohmann::json& j) {
  network::MeshSpec m;
  if (!j.is_object()) return m;
  m.ingress_network_id = j.value("ingress_network_id", "");
  m.ingress_address = j.value("ingress_address", "");
  for (const nlohmann::json& s : j.value("services", nlohmann::json::array())) {
    network::MeshService ms;
    ms.id = s.value("id", "");
    ms.name = s.value("name", "");
    for (const nlohmann::json& p : s.value("ingress_ports", nlohmann::json::array()))
      ms.ingress_ports.push_back(
          {p.value("proto", "tcp"), p.value("published", 0), p.value("target", 0)});
    for (const nlohmann::json& n : s.value("networks", nlohmann::json::array())) {
      network::MeshServiceNetwork mn;
      mn.network_id = n.value("network_id", "");
      mn.vip = n.value("vip", "");
      mn.names = n.value("names", std::vector<std::string>{});
      for (const nlohmann::json& b : n.value("backends", nlohmann::json::array()))
        mn.backends.push_back({b.value("ip", ""), b.value("local", false)});
      ms.networks.push_back(std::move(mn));
    }
    m.services.push_back(std::move(ms));
  }
  return m;
}

network::MeshSpec NodeMesh(const std::string& node_id, const std::vector<spec::Service>& services,
                           const std::vector<spec::Task>& all_tasks,
                           const std::set<std::string>& networks_here,
                           const std::string& ingress_id, const std::string& ingress_address,
                           const std::set<std::string>& down_nodes) {
  // Every service with an ingress port (when the mesh is on), and every service with a VIP on a
  // network this node has; each with its running tasks as backends on each of those networks.
  network::MeshSpec ms;
  ms.ingress_network_id = ingress_id;
  ms.ingress_address = ingress_address;
  bool mesh = !ingress_address.empty();
  // Each service's backends: its tasks wanted and reported running, not on a Down node.
  std::map<std::string, std::vector<const spec::Task*>> running;
  for (const spec::Task& t : all_tasks)
    if (t.desired_state == "running" && t.status.state == "running" && !down_nodes.count(t.node_id))
      running[t.service_id].push_back(&t);
  for (const spec::Service& s : services) {
    network::MeshService x;
    x.id = s.id;
    x.name = s.spec.annotations.name;
    bool publishes = mesh && PublishesIngress(s);
    if (publishes)
      for (const spec::ServicePortConfig& p : s.endpoint.ports)
        if (p.publish_mode != "host")
          x.ingress_ports.push_back({p.protocol, static_cast<int>(p.published_port),
                                     static_cast<int>(p.target_port)});
    for (const spec::EndpointVirtualIP& v : s.endpoint.virtual_ips) {
      bool on_ingress = !ingress_id.empty() && v.network_id == ingress_id;
      if (on_ingress ? !publishes : !networks_here.count(v.network_id)) continue;
      network::MeshServiceNetwork n;
      n.network_id = v.network_id;
      n.vip = HostPart(v.addr);
      if (!on_ingress) {
        n.names.push_back(x.name);
        for (const spec::NetworkAttachmentConfig& a : s.spec.task_template.networks)
          if (a.target == v.network_id)
            n.names.insert(n.names.end(), a.aliases.begin(), a.aliases.end());
      }
      // A backend from the moment it runs until the managers want it stopped.
      for (const spec::Task* t : running[s.id])
        for (const spec::NetworkAttachment& a : t->networks_attachments)
          if (a.network.id == v.network_id && !a.addresses.empty())
            n.backends.push_back({HostPart(a.addresses.front()), t->node_id == node_id});
      x.networks.push_back(std::move(n));
    }
    if (!x.networks.empty()) ms.services.push_back(std::move(x));
  }
  return ms;
}

StatusOr<NodeNetworking> BuildNodeNetworks(Manager& m, const std::string& node_id,
                                           const std::vector<spec::Task>& all_tasks,
                                           const std::vector<spec::Service>& services) {
  NodeNetworking out;
  out.networks = nlohmann::json::array();
  out.mesh = nlohmann::json::object();
  // Read from the leader's copy of the store when it has one (store.h, Reading); a write and
  // what it depends on go to etcd.
  Store store = m.ReadStore();
  ASSIGN_OR_RETURN(std::vector<NetworkRecord> networks, store.ListNetworks());
  if (networks.empty()) return out;
  ASSIGN_OR_RETURN(std::vector<AttachmentRecord> attachments, store.ListAttachments());
  const NetworkRecord* ingress = nullptr;
  for (const NetworkRecord& n : networks)
    if (n.ingress) ingress = &n;
  // The routing mesh is on every node while some service publishes an ingress port: each node
  // then has an endpoint of its own on the ingress network (Docker's ingress-sbox), made here the
  // first time this node needs one and kept (as Docker keeps it) until the node goes.
  bool mesh = false;
  for (const spec::Service& s : services) mesh |= PublishesIngress(s);
  mesh &= ingress != nullptr;
  std::string ingress_address;
  if (mesh) {
    for (const AttachmentRecord& a : attachments)
      if (a.node_id == node_id && a.network_id == ingress->id && a.container_id == kIngressSbox)
        ingress_address = a.ip;
    if (ingress_address.empty()) {
      // Not in the copy: perhaps made a moment ago by this node's previous poll, so etcd decides.
      ASSIGN_OR_RETURN(std::vector<AttachmentRecord> stored, m.store().ListAttachments());
      for (const AttachmentRecord& a : stored)
        if (a.node_id == node_id && a.network_id == ingress->id && a.container_id == kIngressSbox) {
          ingress_address = a.ip;
          attachments.push_back(a);
        }
    }
    if (ingress_address.empty()) {
      AttachmentRecord a;
      a.id = pki::NewTokenSecret();
      a.network_id = ingress->id;
      a.node_id = node_id;
      a.container_id = kIngressSbox;
      a.container_name = "";
      a.created_at = 0;
      ASSIGN_OR_RETURN(AttachmentRecord made, m.store().CreateAttachment(std::move(a), *ingress));
      ingress_address = made.ip;
      attachments.push_back(std::move(made));
    }
  }
  ASSIGN_OR_RETURN(std::vector<spec::Node> nodes, store.ListNodes());
  std::map<std::string, std::string> vtep;  // node id -> underlay address
  std::set<std::string> down;
  for (const spec::Node& n : nodes) {
    vtep[n.id] = n.status.addr;
    if (n.status.state == "down") down.insert(n.id);
  }
  // Every endpoint of every swarm network: (network, node, address).
  struct Ep {
    std::string node;
    std::string ip;
    std::vector<std::string> names;  // what other nodes' DNS answers with this address
  };
  std::map<std::string, std::vector<Ep>> eps;
  std::map<std::string, const spec::Service*> by_id;
  for (const spec::Service& s : services) by_id[s.id] = &s;
  for (const spec::Task& t : all_tasks) {
    if (t.node_id.empty() || !HasEndpoints(t)) continue;
    // What other nodes' DNS answers with a task's address: its container's name and
    // tasks.<service>; in dnsrr mode its service's name and the aliases its spec gives on that
    // network too (in vip mode those answer with the VIP: the mesh's names). Nothing on ingress.
    auto it = by_id.find(t.service_id);
    const spec::Service* svc = it == by_id.end() ? nullptr : it->second;
    std::string name = svc == nullptr ? "" : svc->spec.annotations.name;
    for (const spec::NetworkAttachment& a : t.networks_attachments) {
      std::vector<std::string> names;
      if (!a.network.spec.ingress) {
        names = {TaskContainerName(t, name), "tasks." + name};
        if (svc != nullptr && Dnsrr(*svc)) {
          names.push_back(name);
          for (const spec::NetworkAttachmentConfig& want : t.spec.networks)
            if (want.target == a.network.id)
              names.insert(names.end(), want.aliases.begin(), want.aliases.end());
        }
      }
      for (const std::string& addr : a.addresses)
        eps[a.network.id].push_back({t.node_id, HostPart(addr), names});
    }
  }
  for (const AttachmentRecord& a : attachments) {
    if (a.container_id == kIngressSbox && !mesh) continue;
    Ep e{a.node_id, a.ip, {}};
    if (!a.container_name.empty()) e.names.push_back(a.container_name);
    eps[a.network_id].push_back(std::move(e));
  }
  std::set<std::string> here_networks;
  for (const NetworkRecord& n : networks) {
    const std::vector<Ep>& list = eps[n.id];
    bool here = mesh && n.ingress;
    for (const Ep& e : list) here |= e.node == node_id;
    if (!here) continue;  // a network appears on a node only while something of it runs there
    here_networks.insert(n.id);
    // The nodes that have it (as Docker's networkdb lists them in inspect's Peers): a name of
    // 12 hex digits made from the node id, and the underlay address.
    network::SwarmNetworkSpec spec = SwarmSpecOf(n);
    std::map<std::string, std::string> peer_nodes;  // address -> name
    for (const Ep& e : list)
      if (!vtep[e.node].empty() && !down.count(e.node))
        peer_nodes[vtep[e.node]] = Sha256Hex(e.node).substr(0, 12);
    if (mesh && n.ingress)  // every node has ingress then; its own endpoint may be made later
      peer_nodes[vtep[node_id]] = Sha256Hex(node_id).substr(0, 12);
    for (const auto& [ip, name] : peer_nodes)
      if (!ip.empty()) spec.peer_nodes.push_back({name, ip});
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
    out.networks.push_back({{"network", SpecJson(spec)}, {"peers", std::move(peers)}});
  }
  network::MeshSpec ms =
      NodeMesh(node_id, services, all_tasks, here_networks, ingress == nullptr ? "" : ingress->id,
               mesh ? ingress_address : "", down);
  if (!ms.ingress_address.empty() || !ms.services.empty()) out.mesh = MeshJson(ms);
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
