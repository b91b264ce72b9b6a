// The network controller's swarm networks (controller.h, swarm.h): the networks the cluster's
// agent says this node needs, their peer tables, and docker_gwbridge, the local bridge through
// which containers on overlays reach the outside.
//
// A swarm network is planned under mu_ (in the table as kCreating, its address pool taken from an
// allocator of its own), made by its SwarmDriver with no lock held, and committed under mu_, as a
// local network is; it is never stored (the managers hand it out again after a restart). The
// agent's calls, the reaping of networks no longer wanted and a local `network rm` of one are
// serialised by swarm_ops_, an operation lock.

#include <array>
#include <set>

#include "absl/strings/match.h"
#include "common/ids.h"
#include "network/controller.h"
#include "network/controller_state.h"
#include "network/overlay_driver.h"
#include "spdlog/spdlog.h"

namespace berth::network {

namespace {

constexpr char kGatewayBridge[] = "docker_gwbridge";

// The first error of several, the others logged.
void Keep(Status* first, const Status& st) {
  if (st.ok()) return;
  if (first->ok()) *first = st;
  else spdlog::warn("swarm networks: {}", st.ToString());
}

}  // namespace

SwarmDriver* Controller::SwarmDriverFor(const std::string& driver) {
  return dynamic_cast<SwarmDriver*>(DriverFor(driver));
}

ipam::Allocator& Controller::AllocatorForLocked(const std::string& network_id) {
  auto it = swarm_ipam_.find(network_id);
  return it == swarm_ipam_.end() ? *ipam_ : *it->second;
}

Status Controller::SetVtep(const std::string& local_ip) {
  absl::MutexLock op(&swarm_ops_);
  Status first;
  for (auto& [name, d] : drivers_)
    if (auto* sd = dynamic_cast<SwarmDriver*>(d.get())) Keep(&first, sd->SetVtep(local_ip));
  return first;
}

Status Controller::SetSwarmNetworks(const std::vector<SwarmNetworkSpec>& wanted) {
  absl::MutexLock op(&swarm_ops_);
  swarm_wanted_ = wanted;
  return SetSwarmNetworksHeld(wanted);
}

Status Controller::AddSwarmNetwork(const SwarmNetworkSpec& network) {
  absl::MutexLock op(&swarm_ops_);
  bool known = false;
  for (const SwarmNetworkSpec& w : swarm_wanted_) known |= w.id == network.id;
  if (!known) swarm_wanted_.push_back(network);
  return SetSwarmNetworksHeld(swarm_wanted_);
}

Status Controller::SetSwarmNetworksHeld(const std::vector<SwarmNetworkSpec>& wanted) {
  Status first;
  // Plan: new networks enter the table as kCreating with their pool; the others are marked
  // wanted or not.
  std::vector<Network*> to_make;
  {
    StateLock l(mu_);
    std::set<std::string> ids;
    for (const SwarmNetworkSpec& w : wanted) {
      ids.insert(w.id);
      if (auto it = networks_.find(w.id); it != networks_.end()) {
        if (it->second->swarm) {
          it->second->wanted = true;
          it->second->peer_nodes = w.peer_nodes;
        } else {
          Keep(&first, absl::AlreadyExistsError("swarm network " + w.name + ": id " + w.id + " is a local network's"));
        }
        continue;
      }
      if (w.id.empty() || w.name.empty()) {
        Keep(&first, absl::InvalidArgumentError("swarm network without an id or a name"));
        continue;
      }
      if (Status st = ValidateSwarmNetworkOptions(w.options); !st.ok()) {
        Keep(&first, Annotate(st, "swarm network " + w.name));
        continue;
      }
      if (SwarmDriverFor(w.driver) == nullptr) {
        Keep(&first, absl::UnimplementedError("swarm network " + w.name + ": no swarm driver \"" + w.driver + "\""));
        continue;
      }
      auto n = std::make_unique<Network>();
      n->spec.id = w.id;
      n->spec.name = w.name;
      n->spec.driver = w.driver;
      n->spec.subnet = w.subnet;
      n->spec.gateway = w.gateway;
      n->spec.internal = w.internal;
      n->spec.options = w.options;
      n->spec.options[kVxlanIdOption] = std::to_string(w.vni);
      if (w.mtu > 0 && w.mtu != kOverlayMtu && !n->spec.options.count("com.docker.network.driver.mtu"))
        n->spec.options["com.docker.network.driver.mtu"] = std::to_string(w.mtu);
      n->created = w.created;
      n->labels = spec::StringMap(w.labels.begin(), w.labels.end());
      n->attachable = w.attachable;
      n->ingress = w.ingress;
      n->swarm = true;
      n->wanted = true;
      n->peer_nodes = w.peer_nodes;
      spec::IPAMConfig cfg;
      cfg.subnet = w.subnet;
      cfg.gateway = w.gateway;
      n->ipam_config = {cfg};
      // Addresses come from the managers (the attachments' static addresses); this allocator
      // keeps them apart on this node and hands out one when none is given.
      auto alloc = std::make_unique<ipam::Allocator>();
      ipam::PoolRequest req;
      req.subnet = w.subnet;
      req.gateway = w.gateway;
      auto pool = alloc->RequestPool(req);
      if (!pool.ok()) {
        Keep(&first, Annotate(pool.status(), "swarm network " + w.name));
        continue;
      }
      n->pool_id = pool->id;
      n->spec.subnet = pool->subnet;
      n->spec.gateway = pool->gateway;
      n->phase = Network::Phase::kCreating;
      swarm_ipam_[w.id] = std::move(alloc);
      to_make.push_back(n.get());
      networks_[w.id] = std::move(n);
    }
    for (auto& [id, n] : networks_)
      if (n->swarm && !ids.count(id)) n->wanted = false;
  }
  // The kernel, with no lock held (kCreating networks are nobody else's).
  std::vector<std::pair<OverlayNetwork*, std::vector<OverlayPeer>>> peers;
  std::vector<std::array<std::string, 3>> made;  // id, name, driver
  for (Network* n : to_make) {
    NetworkSpec spec = n->spec;
    auto kernel = SwarmDriverFor(spec.driver)->CreateNetwork(&spec);
    StateLock l(mu_);
    if (!kernel.ok()) {
      Keep(&first, Annotate(kernel.status(), "swarm network " + spec.name));
      swarm_ipam_.erase(spec.id);
      networks_.erase(spec.id);
      continue;
    }
    n->spec = spec;
    n->kernel = std::move(*kernel);
    n->phase = Network::Phase::kReady;
    made.push_back({spec.id, spec.name, spec.driver});
    // Containers that kept running across a restart of berthd hold addresses on it.
    ipam::Allocator& alloc = AllocatorForLocked(spec.id);
    for (auto& [cid, sb] : sandboxes_)
      for (auto& e : sb->endpoints)
        if (e.network_id == spec.id && !e.spec.ip.empty()) {
          e.pool_id = n->pool_id;
          (void)alloc.RequestAddress(n->pool_id, e.spec.ip);
        }
    if (auto p = swarm_peers_.find(spec.id); p != swarm_peers_.end())
      if (auto* ov = dynamic_cast<OverlayNetwork*>(n->kernel.get())) peers.emplace_back(ov, p->second);
  }
  for (auto& [ov, table] : peers) Keep(&first, ov->SetPeers(table));
  for (auto& [id, name, driver] : made)
    events_.Publish("network", "create", id, {{"name", name}, {"type", driver}});

  // Those no longer wanted go once nothing is attached to them; namespaces an earlier run left
  // for networks that are not here now go at the first call.
  std::vector<std::string> unwanted;
  std::set<uint32_t> keep;
  {
    StateLock l(mu_);
    for (auto& [id, n] : networks_) {
      if (!n->swarm) continue;
      if (!n->wanted) unwanted.push_back(id);
      if (auto vni = OverlayVni(n->spec.options); vni.ok()) keep.insert(*vni);
    }
  }
  for (const std::string& id : unwanted) {
    Status st = RemoveSwarmNetworkHeld(id);
    if (!st.ok() && !absl::IsPermissionDenied(st)) Keep(&first, st);
  }
  if (!swarm_orphans_checked_) {
    swarm_orphans_checked_ = true;
    for (auto& [name, d] : drivers_)
      if (auto* sd = dynamic_cast<SwarmDriver*>(d.get())) sd->RemoveOrphans(keep);
  }
  if (!made.empty()) {
    uint64_t gen;
    firewall::Model model;
    std::shared_ptr<const NameIndex> names;
    {
      StateLock l(mu_);
      std::tie(gen, model) = FirewallModelLocked();
      names = NameIndexLocked();
    }
    Keep(&first, Publish(gen, std::move(model), std::move(names)));
  }
  return first;
}

Status Controller::SetPeers(const std::string& network_id, const std::vector<OverlayPeer>& peers) {
  absl::MutexLock op(&swarm_ops_);
  OverlayNetwork* ov = nullptr;
  {
    // The peers' names are the embedded DNS's at once (other nodes' containers and tasks).
    std::shared_ptr<const NameIndex> names;
    {
      StateLock l(mu_);
      swarm_peers_[network_id] = peers;
      names = NameIndexLocked();
    }
    names_.Set(std::move(names));
  }
  {
    StateLock l(mu_);
    auto it = networks_.find(network_id);
    // Kept for when the network is made (the agent may send its peers first).
    if (it == networks_.end() || !it->second->swarm || it->second->phase != Network::Phase::kReady)
      return absl::OkStatus();
    ov = dynamic_cast<OverlayNetwork*>(it->second->kernel.get());
  }
  // swarm_ops_ keeps the network from being removed meanwhile.
  return ov == nullptr ? absl::OkStatus() : ov->SetPeers(peers);
}

Status Controller::RemoveSwarmNetworkHeld(const std::string& id) {
  Network* n;
  std::unique_ptr<DriverNetwork> kernel;
  {
    StateLock l(mu_);
    auto it = networks_.find(id);
    if (it == networks_.end() || it->second->phase != Network::Phase::kReady) return absl::OkStatus();
    n = it->second.get();
    for (auto& [cid, c] : containers_)
      for (auto& a : c->attachments)
        if (a.network_id == id)
          return absl::PermissionDeniedError("error while removing network: network " + n->spec.name + " id " +
                                             id + " has active endpoints");
    n->phase = Network::Phase::kRemoving;
    kernel = std::move(n->kernel);
  }
  Status st = kernel ? kernel->Delete() : absl::OkStatus();
  const std::string name = n->spec.name, driver = n->spec.driver;
  uint64_t gen;
  firewall::Model model;
  std::shared_ptr<const NameIndex> names;
  {
    StateLock l(mu_);
    if (!st.ok()) {
      n->kernel = std::move(kernel);
      n->phase = Network::Phase::kReady;
      return Annotate(st, "remove network " + name);
    }
    networks_.erase(id);
    swarm_ipam_.erase(id);
    std::tie(gen, model) = FirewallModelLocked();
    names = NameIndexLocked();
  }
  events_.Publish("network", "destroy", id, {{"name", name}, {"type", driver}});
  return Publish(gen, std::move(model), std::move(names));
}

void Controller::ReapSwarmNetworks() {
  absl::MutexLock op(&swarm_ops_);
  std::vector<std::string> unwanted;
  {
    StateLock l(mu_);
    for (auto& [id, n] : networks_)
      if (n->swarm && !n->wanted && n->phase == Network::Phase::kReady) unwanted.push_back(id);
  }
  for (const std::string& id : unwanted) {
    Status st = RemoveSwarmNetworkHeld(id);
    if (!st.ok() && !absl::IsPermissionDenied(st)) spdlog::warn("swarm network {}: {}", id, st.ToString());
  }
}

// ---------------------------------------------------------------------------------------------
// docker_gwbridge

bool Controller::NeedsGatewayBridgeLocked(const std::vector<std::string>& ids) {
  // As Docker (sandbox.needDefaultGW): a container whose networks are all overlays (or internal)
  // reaches the outside through docker_gwbridge, unless all of them are internal.
  bool overlay = false;
  for (const std::string& id : ids) {
    auto it = networks_.find(id);
    if (it == networks_.end()) continue;
    const Network& n = *it->second;
    if (n.spec.driver == "null" || n.spec.name == kGatewayBridge) continue;
    if (n.swarm) {
      overlay |= !n.spec.internal;
      continue;
    }
    if (!n.spec.internal) return false;  // a bridge or macvlan network gives the default route
  }
  return overlay;
}

StatusOr<std::string> Controller::GatewayBridgeFor(const std::vector<std::string>& ids) {
  {
    StateLock l(mu_);
    if (!NeedsGatewayBridgeLocked(ids)) return std::string();
    for (auto& [id, n] : networks_)
      if (n->spec.name == kGatewayBridge && n->phase == Network::Phase::kReady) return id;
  }
  // Made on first need, as Docker: a local bridge network with masquerading and without
  // inter-container traffic, its subnet from the local pools (172.18.0.0/16 when free).
  spec::NetworkCreateRequest req;
  req.name = kGatewayBridge;
  req.driver = "bridge";
  req.options = spec::StringMap{{"com.docker.network.bridge.enable_icc", "false"},
                                {"com.docker.network.bridge.enable_ip_masquerade", "true"},
                                {"com.docker.network.bridge.name", kGatewayBridge}};
  auto made = CreateNetwork(req);
  if (made.ok()) return made->id;
  if (!absl::IsAlreadyExists(made.status())) return Annotate(made.status(), kGatewayBridge);
  StateLock l(mu_);  // another container made it meanwhile
  for (auto& [id, n] : networks_)
    if (n->spec.name == kGatewayBridge && n->phase == Network::Phase::kReady) return id;
  return made.status();
}

}  // namespace berth::network
