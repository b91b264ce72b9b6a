// The routing mesh and service VIPs on this node (swarm.h's SetMesh, controller.h).
//
// The cluster's agent hands the whole MeshSpec after every assignment (after SetSwarmNetworks and
// SetPeers of the same assignment); the controller turns it into kernel state:
//   - the node's ingress endpoint, `berth_ingress` in berthd's namespace: a veth whose other end
//     (veth_ingress) is a port of the ingress overlay's br0, with the node's ingress address and
//     its OverlayMac (Docker's ingress-sbox / ingress-endpoint, shown so in inspect);
//   - the node's mesh table (network/mesh, `ip berth-mesh` in berthd's namespace, resident
//     helper): the services' published ports, balanced across their tasks on the ingress network;
//   - the sockets that hold those ports on the node, so a container's -p on one is refused as a
//     port already allocated, and a mesh port a container holds is left out (SetMesh says so);
//   - a table in each local container's namespace with the VIPs of the swarm networks it is on
//     (helper started per change), applied again only where that container's model changed, and
//     for a container that joins later, when it joins (MeshContainerChanged);
//   - the VIPs' names in the embedded DNS, on their network only.
// The kernel settings around the node's table (network/mesh/mesh.h): route_localnet=1 and
// send_redirects=0 on berth_ingress (send_redirects=0 in `all` too); rp_filter loose (2) on
// berth_ingress, docker_gwbridge, and the containers' overlay interfaces, because a connection a
// node hands to its own task keeps the client's source address: the task receives it on its
// overlay interface and answers through its default route (docker_gwbridge), and the node's
// conntrack undoes the DNAT on the way back; a strict reverse-path check on either side would
// drop those packets.
//
// Locks: SetMesh holds swarm_ops_ (the ingress network cannot go meanwhile) and mesh_ops_, an
// operation lock over the mesh's kernel state; mu_ only to read and commit; berth-nft runs with
// no state lock held.

#include <cstdlib>
#include <set>

#include "absl/strings/ascii.h"
#include "common/ids.h"
#include "network/controller.h"
#include "network/controller_state.h"
#include "network/mesh/node.h"
#include "spdlog/spdlog.h"
#include "sys/netns.h"

namespace berth::network {

namespace {

constexpr char kGatewayBridge[] = "docker_gwbridge";
// The ingress endpoint's other end, a port of br0 in the ingress network's namespace.
constexpr char kIngressPeer[] = "veth_ingress";

void Keep(Status* first, const Status& st) {
  if (st.ok()) return;
  if (first->ok()) *first = st;
  else spdlog::warn("routing mesh: {}", st.ToString());
}

Status IgnoreNotFound(const Status& st) { return absl::IsNotFound(st) ? absl::OkStatus() : st; }

int PrefixOf(const std::string& subnet) {
  auto slash = subnet.find('/');
  return slash == std::string::npos ? 32 : std::atoi(subnet.c_str() + slash + 1);
}

// The calling thread's namespace (berthd's) as a sandbox, for the overlay driver's Join.
class HostSide : public SandboxKernel {
 public:
  static StatusOr<std::unique_ptr<HostSide>> Open() {
    ASSIGN_OR_RETURN(sys::NetNs ns, sys::NetNs::Current());
    auto out = std::unique_ptr<HostSide>(new HostSide(std::move(ns)));
    ASSIGN_OR_RETURN(out->rtnl_, sys::Rtnl::Open(&out->ns_));
    return out;
  }
  const sys::NetNs& ns() const override { return ns_; }
  sys::Rtnl& rtnl() override { return *rtnl_; }

 private:
  explicit HostSide(sys::NetNs ns) : ns_(std::move(ns)) {}
  sys::NetNs ns_;
  std::unique_ptr<sys::Rtnl> rtnl_;
};

std::string PortName(const mesh::NodePort& p) { return std::to_string(p.second) + "/" + p.first; }

}  // namespace

// A local container's namespace as the mesh sees it.
struct Controller::MeshTarget {
  std::string container_id;
  std::string sandbox_id;
  std::string netns_path;
  std::set<std::string> networks;        // the ids of its swarm networks
  std::vector<std::string> swarm_ifnames;  // its interfaces on them
};

void Controller::SetMeshOptions(MeshOptions o) {
  absl::MutexLock mop(&mesh_ops_);
  mesh_opts_ = std::move(o);
}

StatusOr<std::unique_ptr<mesh::Table>> Controller::NewMeshTable(const mesh::TableOptions& o) {
  if (mesh_opts_.new_table) return mesh_opts_.new_table(o);
  if (o.helper_path.empty())
    return absl::FailedPreconditionError("the routing mesh needs the berth-nft helper (none configured)");
  return mesh::NewHelperTable(o);
}

Status Controller::SetMesh(const MeshSpec& mesh) {
  absl::MutexLock op(&swarm_ops_);
  absl::MutexLock mop(&mesh_ops_);
  Status first;
  const bool ingress = !mesh.ingress_address.empty() && !mesh.ingress_network_id.empty();
  mesh_spec_ = mesh;

  // docker_gwbridge, as Docker makes it when the node joins the ingress network: the way out of
  // the tasks, and the subnet whose clients the node's table masquerades (hairpin).
  if (ingress) Keep(&first, GatewayBridgeFor({mesh.ingress_network_id}).status());
  // The daemon's namespace is touched only when the node has or had an ingress endpoint (an
  // endpoint a restart left goes with its veth peer when the ingress overlay is removed).
  bool had_ingress;
  {
    StateLock l(mu_);
    had_ingress = !mesh_ingress_network_.empty();
  }
  if (ingress || had_ingress)
    Keep(&first, SyncIngressEndpointHeld(ingress ? mesh.ingress_network_id : "", ingress ? mesh.ingress_address : ""));

  // The published ports: held by a socket each (as a container's are), so the two kinds of
  // publishing refuse each other; a port something else holds is left out of the table.
  std::set<mesh::NodePort> wanted = ingress ? mesh::MeshNodePorts(mesh) : std::set<mesh::NodePort>{};
  std::set<mesh::NodePort> refused;
  for (const mesh::NodePort& p : wanted) {
    if (mesh_port_fds_.count(p)) continue;
    auto fd = ReservePort(p.first, "", p.second);
    if (fd.ok()) {
      mesh_port_fds_[p] = std::move(*fd);
      continue;
    }
    refused.insert(p);
    std::string who;
    for (const MeshService& s : mesh.services)
      for (const MeshPort& mp : s.ingress_ports)
        if (mp.proto == p.first && mp.published == p.second) who = "service " + s.name + " (" + s.id + ")";
    Keep(&first, absl::Status(fd.status().code(), who + ": published port " + PortName(p) + ": " +
                                                      std::string(fd.status().message())));
  }
  std::vector<std::string> hairpin;
  {
    StateLock l(mu_);
    mesh_ports_.clear();
    for (const mesh::NodePort& p : wanted)
      if (!refused.count(p)) mesh_ports_.insert(p);
    for (auto& [id, n] : networks_)
      if (n->spec.name == kGatewayBridge && n->phase == Network::Phase::kReady && !n->spec.subnet.empty())
        hairpin.push_back(n->spec.subnet);
  }

  // The node's table: applied when its model changed (the table turns a change of backends into
  // a delta), removed when nothing is published.
  std::optional<mesh::Model> node = ingress ? mesh::NodeModel(mesh, hairpin, refused) : std::nullopt;
  Status valid = node ? mesh::Validate(*node) : absl::OkStatus();
  if (!valid.ok()) {
    Keep(&first, Annotate(valid, "the node's routing mesh"));  // the table stays as it was
  } else if (node) {
    std::string rendered = mesh::Render(*node);
    if (rendered != mesh_rendered_) {
      Status st;
      if (!mesh_table_) {
        auto t = NewMeshTable(mesh::TableOptions{mesh_opts_.nft_helper, "", /*keep_helper=*/true});
        if (t.ok()) mesh_table_ = std::move(*t);
        else st = t.status();
      }
      if (st.ok()) st = mesh_table_->Apply(*node);
      if (st.ok()) mesh_rendered_ = std::move(rendered);
      Keep(&first, Annotate(st, "the node's routing mesh"));
    }
  } else if (mesh_table_ || !mesh_rendered_.empty() || !mesh_orphan_checked_) {
    // Also once after a start: a table an earlier run left would still balance its ports.
    if (!mesh_table_ && (mesh_opts_.new_table || !mesh_opts_.nft_helper.empty())) {
      auto t = NewMeshTable(mesh::TableOptions{mesh_opts_.nft_helper, "", /*keep_helper=*/true});
      if (t.ok()) mesh_table_ = std::move(*t);
    }
    mesh_orphan_checked_ = true;
    Status st = mesh_table_ ? mesh_table_->Remove() : absl::OkStatus();
    Keep(&first, Annotate(st, "remove the node's routing mesh"));
    if (st.ok()) {
      mesh_table_.reset();
      mesh_rendered_.clear();
    }
  }
  // Sockets of ports no longer published go after their rules.
  for (auto it = mesh_port_fds_.begin(); it != mesh_port_fds_.end();) {
    if (wanted.count(it->first)) ++it;
    else it = mesh_port_fds_.erase(it);
  }

  // The VIPs' names, then each container's VIPs.
  std::shared_ptr<const NameIndex> names;
  std::vector<MeshTarget> targets;
  {
    StateLock l(mu_);
    mesh_names_ = mesh::VipNames(mesh);
    names = NameIndexLocked();
    targets = MeshTargetsLocked("");
  }
  names_.Set(std::move(names));
  Keep(&first, ApplyContainerMeshesHeld(targets, /*all=*/true));
  return first;
}

Status Controller::SyncIngressEndpointHeld(const std::string& network_id, const std::string& address) {
  DriverNetwork* kernel = nullptr;
  int prefix = 32;
  std::string had_network, endpoint_id;
  {
    StateLock l(mu_);
    had_network = mesh_ingress_network_;
    endpoint_id = mesh_ingress_ep_.endpoint_id;
    if (!network_id.empty())
      if (auto it = networks_.find(network_id); it != networks_.end() && it->second->swarm &&
                                                it->second->phase == Network::Phase::kReady) {
        kernel = it->second->kernel.get();
        prefix = PrefixOf(it->second->spec.subnet);
      }
  }
  ASSIGN_OR_RETURN(auto host, HostSide::Open());
  sys::Rtnl& rtnl = host->rtnl();
  const std::string mac = OverlayMac(address);
  const std::string cidr = address + "/" + std::to_string(prefix);
  // What a restart of berthd left is kept when it is what is wanted (the overlay's namespace is
  // adopted too, with br0's port); anything else is replaced.
  bool keep = false;
  if (auto link = rtnl.GetLink(kIngressLink); link.ok()) {
    if (kernel != nullptr && (had_network.empty() || had_network == network_id) && link->up &&
        absl::AsciiStrToLower(link->mac) == mac) {
      auto addrs = rtnl.ListAddrs(kIngressLink);
      keep = addrs.ok() && addrs->size() == 1 && (*addrs)[0].cidr == cidr;
    }
    if (!keep) RETURN_IF_ERROR(Annotate(IgnoreNotFound(rtnl.DeleteLink(kIngressLink)), "remove the ingress endpoint"));
  }
  if (kernel == nullptr) {
    StateLock l(mu_);
    mesh_ingress_network_.clear();
    mesh_ingress_ep_ = {};
    if (!network_id.empty())
      return absl::FailedPreconditionError("the ingress network " + network_id +
                                           " is not on this node (SetMesh comes after SetSwarmNetworks)");
    return absl::OkStatus();
  }
  if (!keep) {
    EndpointSpec ep;
    ep.id = NewId();
    ep.ifname = kIngressLink;
    ep.host_ifname = kIngressPeer;
    ep.ip = address;
    ep.prefix = prefix;
    ep.mac = mac;
    RETURN_IF_ERROR(Annotate(kernel->Join(&ep, *host), "the ingress endpoint"));
    endpoint_id = ep.id;
  } else if (endpoint_id.empty()) {
    endpoint_id = NewId();
  }
  // mesh.h: what the node's table needs around it.
  const std::string conf = std::string("net.ipv4.conf.") + kIngressLink + ".";
  Status st = sys::WriteSysctl(nullptr, conf + "route_localnet", "1");
  if (st.ok()) st = sys::WriteSysctl(nullptr, conf + "send_redirects", "0");
  if (st.ok()) st = sys::WriteSysctl(nullptr, "net.ipv4.conf.all.send_redirects", "0");
  if (st.ok()) st = sys::WriteSysctl(nullptr, conf + "rp_filter", "2");
  if (st.ok()) st = IgnoreNotFound(sys::WriteSysctl(nullptr, std::string("net.ipv4.conf.") + kGatewayBridge + ".rp_filter", "2"));
  // IPv4 only, as the overlay's own interfaces: no link-local address, no MLD (best effort).
  (void)sys::WriteSysctl(nullptr, std::string("net.ipv6.conf.") + kIngressLink + ".disable_ipv6", "1");
  StateLock l(mu_);
  mesh_ingress_network_ = network_id;
  mesh_ingress_ep_ = NetworkView::Endpoint{"ingress-endpoint", endpoint_id, mac, cidr, ""};
  return Annotate(st, "the ingress endpoint's settings");
}

std::vector<Controller::MeshTarget> Controller::MeshTargetsLocked(const std::string& only) {
  std::vector<MeshTarget> out;
  for (auto& [cid, sb] : sandboxes_) {
    if (!only.empty() && cid != only) continue;
    MeshTarget t{cid, sb->id, sb->path, {}, {}};
    for (const Endpoint& e : sb->endpoints)
      if (auto n = networks_.find(e.network_id); n != networks_.end() && n->second->swarm) {
        t.networks.insert(e.network_id);
        t.swarm_ifnames.push_back(e.spec.ifname);
      }
    out.push_back(std::move(t));
  }
  return out;
}

Status Controller::ApplyContainerMeshesHeld(const std::vector<MeshTarget>& targets, bool all) {
  Status first;
  std::set<std::string> seen;
  for (const MeshTarget& t : targets) {
    seen.insert(t.container_id);
    auto it = mesh_containers_.find(t.container_id);
    if (t.networks.empty() && it == mesh_containers_.end()) continue;  // no swarm network, nothing held
    MeshContainer& c = mesh_containers_[t.container_id];
    if (c.sandbox_id != t.sandbox_id) c = MeshContainer{t.sandbox_id, "", {}, nullptr};  // a new sandbox
    // Loose reverse-path checks on its overlay interfaces (see the file comment).
    std::vector<std::string> loosen;
    const bool active = !mesh_spec_.ingress_address.empty() || !mesh_spec_.services.empty();
    for (const std::string& ifname : active ? t.swarm_ifnames : std::vector<std::string>{})
      if (!c.loose_ifnames.count(ifname)) loosen.push_back(ifname);
    if (!loosen.empty()) {
      auto ns = sys::NetNs::Open(t.netns_path);
      for (const std::string& ifname : loosen) {
        Status st = ns.ok() ? sys::WriteSysctl(&*ns, "net.ipv4.conf." + ifname + ".rp_filter", "2") : ns.status();
        if (st.ok()) c.loose_ifnames.insert(ifname);
        else spdlog::warn("container {}: rp_filter on {}: {}", t.container_id.substr(0, 12), ifname, st.ToString());
      }
    }
    mesh::Model m = mesh::ContainerModel(mesh_spec_, t.networks);
    if (Status valid = mesh::Validate(m); !valid.ok()) {  // its table stays as it was
      Keep(&first, Annotate(valid, "VIPs of container " + t.container_id.substr(0, 12)));
      continue;
    }
    std::string rendered = m.services.empty() ? "" : mesh::Render(m);
    if (rendered == c.rendered) continue;
    Status st;
    if (!c.table) {
      auto table = NewMeshTable(mesh::TableOptions{mesh_opts_.nft_helper, t.netns_path, /*keep_helper=*/false});
      if (table.ok()) c.table = std::move(*table);
      else st = table.status();
    }
    if (st.ok()) st = rendered.empty() ? c.table->Remove() : c.table->Apply(m);
    if (st.ok()) c.rendered = std::move(rendered);
    // A namespace that went meanwhile (the container stopped) is no error: its entry goes at the
    // next full pass.
    if (!absl::IsNotFound(st)) Keep(&first, Annotate(st, "VIPs of container " + t.container_id.substr(0, 12)));
  }
  if (all)
    for (auto it = mesh_containers_.begin(); it != mesh_containers_.end();) {
      if (seen.count(it->first)) ++it;
      else it = mesh_containers_.erase(it);  // its namespace went, and its table with it
    }
  return first;
}

void Controller::MeshContainerChanged(const std::string& id) {
  absl::MutexLock mop(&mesh_ops_);
  std::vector<MeshTarget> targets;
  {
    StateLock l(mu_);
    targets = MeshTargetsLocked(id);
  }
  if (targets.empty()) {
    mesh_containers_.erase(id);
    return;
  }
  if (Status st = ApplyContainerMeshesHeld(targets, /*all=*/false); !st.ok())
    spdlog::warn("routing mesh: {}", st.ToString());
}

void Controller::MeshNameEntriesLocked(const std::map<std::string, std::string>& dns_networks,
                                       std::vector<NameIndex::Entry>* entries) {
  for (auto& [net_id, vips] : mesh_names_) {
    if (!dns_networks.count(net_id)) continue;
    for (auto& [vip, names] : vips) entries->push_back(NameIndex::Entry{"vip/" + vip, net_id, names, vip});
  }
}

void Controller::MeshViewLocked(const Network& n, NetworkView* v) {
  if (!mesh_ingress_network_.empty() && n.spec.id == mesh_ingress_network_)
    v->containers["ingress-sbox"] = mesh_ingress_ep_;
}

}  // namespace berth::network
