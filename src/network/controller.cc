// The network controller's core: recovery, networks, the firewall model and the name index
// (controller.h). Sandboxes and endpoints are in controller_sandbox.cc.

#include "network/controller.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "common/ids.h"
#include "network/controller_state.h"
#include "network/dns/server.h"
#include "spdlog/spdlog.h"
#include "sys/fs.h"

namespace berth::network {


Controller::Controller(engine::Store& store, engine::EventBus& events, const Clock& clock,
                       ControllerOptions opts, NetKernel& kernel, firewall::Applier& firewall,
                       dns::Server* dns)
    : store_(store),
      events_(events),
      clock_(clock),
      opts_(std::move(opts)),
      firewall_(firewall),
      dns_(dns),
      kernel_(kernel),
      ipam_(std::make_unique<ipam::Allocator>()) {}

Controller::~Controller() = default;

void Controller::AddDriver(std::unique_ptr<Driver> driver) {
  std::string name = driver->Name();
  drivers_[name] = std::move(driver);
}

Driver* Controller::DriverFor(const std::string& driver) {
  auto it = drivers_.find(driver);
  return it == drivers_.end() ? nullptr : it->second.get();
}

Controller::Network* Controller::FindNetworkLocked(const std::string& name, Status* st) {
  auto ready = [](const Network* n) { return n->phase == Network::Phase::kReady; };
  if (auto it = networks_.find(name); it != networks_.end() && ready(it->second.get()))
    return it->second.get();
  for (auto& [id, n] : networks_)
    if (n->spec.name == name && ready(n.get())) return n.get();
  Network* found = nullptr;
  int matches = 0;
  if (IsHexPrefix(name))
    for (auto& [id, n] : networks_)
      if (absl::StartsWith(id, name) && ready(n.get())) {
        found = n.get();
        ++matches;
      }
  if (matches == 1) return found;
  *st = absl::NotFoundError("network " + name + " not found");
  return nullptr;
}

std::pair<uint64_t, firewall::Model> Controller::FirewallModelLocked() {
  firewall::Model m;
  for (auto& [id, n] : networks_) {
    // A network being created is in the model once its bridge exists; one being removed leaves
    // it with its bridge.
    if (n->kernel == nullptr || n->phase != Network::Phase::kReady) continue;
    if (auto b = n->kernel->FirewallBridge()) m.bridges.push_back(*b);
  }
  for (auto& [cid, sb] : sandboxes_)
    for (auto& p : sb->ports) {
      firewall::PortMapping pm;
      pm.proto = p.proto;
      pm.host_ip = p.host_ip;
      pm.host_port = p.host_port;
      pm.container_ip = p.container_ip;
      pm.container_ip6 = p.container_ip6;
      pm.container_port = p.container_port;
      pm.bridge = p.bridge;
      for (auto& e : sb->endpoints)
        if (e.network_id == p.network_id && e.spec.ip == p.container_ip) {
          pm.host_ifname = e.spec.host_ifname;
          pm.container_mac = e.spec.mac;
        }
      m.ports.push_back(pm);
    }
  return {++firewall_generation_, std::move(m)};
}

std::shared_ptr<const NameIndex> Controller::NameIndexLocked() {
  std::vector<NameIndex::Entry> entries;
  std::map<std::string, NameIndex::Asker> askers;
  std::map<std::string, std::string> names;
  for (auto& [id, n] : networks_)
    // docker_gwbridge carries every overlay container's way out, not names (Docker's gateway
    // endpoints disable resolution).
    if (n->UserDefined() && n->spec.name != "docker_gwbridge") names[id] = n->spec.name;
  for (auto& [cid, sb] : sandboxes_) {
    auto cit = containers_.find(cid);
    if (cit == containers_.end()) continue;
    const ContainerNet& c = *cit->second;
    NameIndex::Asker asker;
    asker.search = c.search;
    for (auto& e : sb->endpoints) {
      if (!names.count(e.network_id)) continue;  // no DNS on the predefined networks
      asker.network_ids.push_back(e.network_id);
      NameIndex::Entry entry{cid, e.network_id, {c.name, cid.substr(0, 12), cid}, e.spec.ip, e.spec.ip6};
      for (auto& a : c.attachments) {
        if (a.network_id != e.network_id) continue;
        entry.names.insert(entry.names.end(), a.aliases.begin(), a.aliases.end());
        for (const std::string& l : a.links) {
          std::string target = l.substr(0, l.find(':'));
          std::string alias = l.find(':') == std::string::npos ? target : l.substr(l.find(':') + 1);
          if (!target.empty() && target[0] == '/') target.erase(0, 1);
          asker.links[absl::AsciiStrToLower(alias)] = absl::AsciiStrToLower(target);
        }
      }
      entries.push_back(std::move(entry));
    }
    askers[cid] = std::move(asker);
  }
  // Other nodes' endpoints on the swarm networks here, by the names their peer table gives.
  for (auto& [net_id, peers] : swarm_peers_) {
    if (!names.count(net_id)) continue;
    for (const OverlayPeer& p : peers)
      if (!p.names.empty()) entries.push_back(NameIndex::Entry{"peer/" + p.ip, net_id, p.names, p.ip});
  }
  MeshNameEntriesLocked(names, &entries);  // the services' VIPs (controller_mesh.cc)
  return std::make_shared<const NameIndex>(entries, std::move(askers), names);
}

std::vector<std::string> Controller::Resolve(const std::string& container_id, const std::string& name) {
  return names_.Get()->Resolve(container_id, name);
}

Status Controller::Publish(uint64_t generation, firewall::Model model,
                           std::shared_ptr<const NameIndex> names) {
  if (names) names_.Set(std::move(names));
  return Annotate(firewall_.Apply(generation, std::move(model)), "firewall");
}

Status Controller::Persist(const std::string& kind, const std::string& id, const std::string& doc) {
  return store_.Put(kind, id, "", doc);
}

// ---------------------------------------------------------------------------------------------
// Recovery

StatusOr<bool> Controller::ConfigureDefaultIpv6(Network& n) {
  std::string subnet6, gateway6;
  if (!opts_.default_subnet6.empty()) {
    ipam::PoolRequest req;
    req.ipv6 = true;
    req.subnet = opts_.default_subnet6;
    ipam::Allocator probe;  // the subnet and gateway, as the real request gives them
    auto pool = probe.RequestPool(req);
    if (!pool.ok()) return Annotate(pool.status(), "fixed-cidr-v6");
    subnet6 = pool->subnet;
    gateway6 = pool->gateway;
  }
  if (n.spec.ipv6 == !subnet6.empty() && n.spec.subnet6 == subnet6 && n.spec.gateway6 == gateway6) return false;
  n.spec.ipv6 = !subnet6.empty();
  n.spec.subnet6 = subnet6;
  n.spec.gateway6 = gateway6;
  std::vector<spec::IPAMConfig> configs;
  for (auto& c : n.ipam_config)
    if (!ipam::IsIpv6(c.subnet)) configs.push_back(c);
  if (!subnet6.empty()) {
    spec::IPAMConfig c6;  // the subnet only, as the IPv4 entry of the default bridge
    c6.subnet = subnet6;
    configs.push_back(c6);
  }
  n.ipam_config = std::move(configs);
  return true;
}

Status Controller::Recover() {
  // Nothing else runs yet (the API serves once recovery is done), but the kernel and the store
  // are still worked without mu_, as everywhere.
  RETURN_IF_ERROR(sys::MkdirAll(opts_.exec_root + "/netns", 0755));
  (void)kernel_.EnableForwarding();
  // Address pools are asked for again from each network's own configuration; a stored IPAM
  // document (written by earlier versions) is not needed any more.
  if (store_.Get("ipam", "state")) (void)store_.Delete("ipam", "state");

  std::map<std::string, std::unique_ptr<Network>> networks;
  for (auto& o : store_.List("network")) {
    auto n = Network::FromDoc(o.doc);
    if (!n.ok()) return Annotate(n.status(), "network " + o.id);
    if (!(*n)->spec.id.empty()) networks[(*n)->spec.id] = std::move(*n);
  }
  std::map<std::string, std::unique_ptr<ContainerNet>> containers;
  for (auto& o : store_.List("netattach")) {
    auto c = ContainerNet::FromDoc(o.doc);
    if (!c.ok()) return Annotate(c.status(), "container " + o.id);
    if (!(*c)->id.empty()) containers[(*c)->id] = std::move(*c);
  }
  // The predefined networks exist from the first start.
  for (const char* name : {"bridge", "host", "none"}) {
    bool have = std::any_of(networks.begin(), networks.end(),
                            [&](auto& kv) { return kv.second->spec.name == name; });
    if (have) continue;
    auto n = std::make_unique<Network>();
    n->spec.id = NewId();
    n->spec.name = name;
    n->spec.driver = std::string(name) == "none" ? "null" : name;
    n->created = FormatRfc3339Nano(clock_.Now());
    n->builtin = true;
    if (n->spec.driver == "bridge") {
      n->spec.options = {{"com.docker.network.bridge.default_bridge", "true"},
                         {"com.docker.network.bridge.enable_icc", "true"},
                         {"com.docker.network.bridge.enable_ip_masquerade", "true"},
                         {"com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"},
                         {"com.docker.network.bridge.name", opts_.default_bridge},
                         {"com.docker.network.driver.mtu", "1500"}};
      ipam::PoolRequest req;
      req.subnet = opts_.default_subnet;
      req.default_bridge = true;
      ipam::Allocator probe;  // the pool's subnet and gateway, as the real request below gives them
      ASSIGN_OR_RETURN(ipam::Pool pool, probe.RequestPool(req));
      n->spec.subnet = pool.subnet;
      n->spec.gateway = pool.gateway;
      spec::IPAMConfig cfg;
      cfg.subnet = n->spec.subnet;
      n->ipam_config = {cfg};
    }
    RETURN_IF_ERROR(Persist("network", n->spec.id, n->ToDoc()));
    networks[n->spec.id] = std::move(n);
  }
  // The default bridge's IPv6 follows the daemon's configuration of this start, as dockerd
  // re-creates its default network each time.
  for (auto& [id, n] : networks) {
    if (!n->builtin || n->spec.driver != "bridge") continue;
    ASSIGN_OR_RETURN(bool changed, ConfigureDefaultIpv6(*n));
    if (changed) RETURN_IF_ERROR(Persist("network", n->spec.id, n->ToDoc()));
  }
  // Pools, and the kernel objects a reboot or crash took away.
  {
    StateLock l(mu_);
    for (auto& [id, n] : networks) {
      if (DriverFor(n->spec.driver) == nullptr) continue;
      auto pool = ipam_->RequestPool(n->PoolRequestFromConfig());
      if (!pool.ok()) return Annotate(pool.status(), "network " + n->spec.name + ": address pool");
      n->pool_id = pool->id;
      if (n->spec.subnet6.empty()) continue;
      auto pool6 = ipam_->RequestPool(n->PoolRequestFromConfig(/*ipv6=*/true));
      if (!pool6.ok()) return Annotate(pool6.status(), "network " + n->spec.name + ": IPv6 address pool");
      n->pool6_id = pool6->id;
    }
  }
  for (auto& [id, n] : networks) {
    Driver* d = DriverFor(n->spec.driver);
    if (d == nullptr) continue;
    auto kernel = d->CreateNetwork(&n->spec);
    if (kernel.ok()) n->kernel = std::move(*kernel);
    else spdlog::warn("network {}: {}", n->spec.name, kernel.status().ToString());
  }
  // Sandboxes of containers that were running when berthd stopped: their addresses are taken
  // again (they are stored with the endpoints, nowhere else).
  std::map<std::string, std::unique_ptr<SandboxState>> sandboxes;
  for (auto& o : store_.List("sandbox")) {
    auto parsed = SandboxState::FromDoc(o.doc);
    if (!parsed.ok()) {
      spdlog::error("sandbox {}: {} (its namespace is removed as an orphan)", o.id, parsed.status().ToString());
      continue;
    }
    std::unique_ptr<SandboxState> sb = std::move(*parsed);
    if (auto k = kernel_.OpenSandbox(sb->path); k.ok()) sb->kernel = std::move(*k);
    sandboxes[sb->container_id] = std::move(sb);
  }
  StateLock l(mu_);
  for (auto& [cid, sb] : sandboxes)
    for (auto& e : sb->endpoints) {
      auto nit = networks.find(e.network_id);
      if (nit == networks.end() || e.spec.ip.empty() || nit->second->pool_id.empty()) continue;
      e.pool_id = nit->second->pool_id;
      auto got = ipam_->RequestAddress(e.pool_id, e.spec.ip);
      if (!got.ok()) spdlog::warn("sandbox {}: address {}: {}", cid, e.spec.ip, got.status().ToString());
      if (e.spec.ip6.empty() || nit->second->pool6_id.empty()) continue;
      e.pool6_id = nit->second->pool6_id;
      auto got6 = ipam_->RequestAddress(e.pool6_id, e.spec.ip6);
      if (!got6.ok()) spdlog::warn("sandbox {}: address {}: {}", cid, e.spec.ip6, got6.status().ToString());
    }
  networks_ = std::move(networks);
  containers_ = std::move(containers);
  sandboxes_ = std::move(sandboxes);
  return absl::OkStatus();
}

Status Controller::Reconcile(const std::set<std::string>& running) {
  std::vector<std::string> dead;
  {
    StateLock l(mu_);
    for (auto& [cid, sb] : sandboxes_)
      if (!running.count(cid) || !sb->kernel) dead.push_back(cid);
  }
  for (auto& cid : dead) Teardown(cid);
  // The adopted containers' published ports are held again, and their names served.
  std::vector<std::pair<SandboxState*, std::vector<std::string>>> serve;
  std::vector<std::pair<DriverNetwork*, EndpointSpec>> adopt;
  {
    StateLock l(mu_);
    for (auto& [cid, sb] : sandboxes_) {
      auto cit = containers_.find(cid);
      serve.emplace_back(sb.get(), cit == containers_.end() ? std::vector<std::string>{} : cit->second->dns);
      for (auto& e : sb->endpoints)
        if (auto nit = networks_.find(e.network_id); nit != networks_.end() && nit->second->kernel)
          adopt.emplace_back(nit->second->kernel.get(), e.spec);
    }
  }
  // Networks were made afresh by Recover; their endpoints' in-memory state is made again.
  for (auto& [kernel, ep] : adopt) kernel->Adopt(ep);
  for (auto& [sb, upstreams] : serve) {
    // No one else touches these sandboxes before Reconcile returns (the API is not serving yet).
    for (auto& p : sb->ports) {
      const bool host6 = p.host_ip.find(':') != std::string::npos;
      if (!host6) {
        auto fd = ReservePort(p.proto, p.host_ip, p.host_port);
        if (fd.ok()) p.reservation = std::move(*fd);
        else spdlog::warn("container {}: port {}: {}", sb->container_id, p.host_port, fd.status().ToString());
      }
      if (!p.container_ip6.empty()) {
        auto fd = ReservePort(p.proto, host6 ? p.host_ip : "::", p.host_port);
        if (fd.ok()) p.reservation6 = std::move(*fd);
        else spdlog::warn("container {}: port [::]:{}: {}", sb->container_id, p.host_port, fd.status().ToString());
      }
    }
    if (Status st = ServeDns(*sb, upstreams); !st.ok())
      spdlog::warn("container {}: {}", sb->container_id, st.ToString());
  }
  // Kernel objects we named ourselves that nothing owns: veths without an endpoint, bridges
  // without a network, namespaces without a sandbox.
  std::set<std::string> owned, paths;
  uint64_t gen;
  firewall::Model model;
  std::shared_ptr<const NameIndex> names;
  {
    StateLock l(mu_);
    for (auto& [cid, sb] : sandboxes_) {
      paths.insert(sb->path);
      for (auto& e : sb->endpoints) owned.insert(e.spec.host_ifname);
    }
    for (auto& [id, n] : networks_)
      if (n->kernel)
        for (auto& link : n->kernel->OwnedLinks()) owned.insert(link);
    std::tie(gen, model) = FirewallModelLocked();
    names = NameIndexLocked();
  }
  if (auto links = kernel_.HostLinks(); links.ok()) {
    for (auto& l : *links) {
      bool ours = false;
      for (auto& [name, d] : drivers_) ours |= d->NamedByUs(l);
      if (ours && !owned.count(l.name)) {
        spdlog::info("removing orphan link {}", l.name);
        (void)kernel_.DeleteHostLink(l.name);
      }
    }
  }
  if (auto files = sys::ListDir(opts_.exec_root + "/netns"); files.ok())
    for (auto& f : *files) {
      std::string p = opts_.exec_root + "/netns/" + f;
      // ov-<vni>: an overlay's namespace, which the overlay driver adopts or removes when the
      // agent says which swarm networks this node needs (SetSwarmNetworks).
      if (absl::StartsWith(f, "ov-")) continue;
      if (!paths.count(p)) (void)kernel_.RemoveSandbox(p);
    }
  return Publish(gen, std::move(model), std::move(names));
}

// ---------------------------------------------------------------------------------------------
// Networks

StatusOr<NetworkCreateResult> Controller::CreateNetwork(const spec::NetworkCreateRequest& body) {
  const std::string& name = body.name;
  if (name.empty()) return absl::InvalidArgumentError("network name is required");
  std::string driver = body.driver.empty() ? "bridge" : body.driver;
  spec::IPAM ipam = body.ipam.value_or(spec::IPAM());
  if (!ipam.driver.empty() && ipam.driver != "default")
    return absl::NotFoundError("plugin \"" + ipam.driver + "\" not found");
  if (driver == "host" || driver == "null")
    return absl::PermissionDeniedError("only one instance of \"" + driver + "\" network is allowed");
  if (driver == "ipvlan")
    return absl::UnimplementedError("ipvlan: this kernel has no ipvlan support (CONFIG_IPVLAN); use macvlan");
  if (driver == "overlay" || body.ingress || body.scope == "swarm" || body.scope == "global")
    return absl::UnavailableError(
        "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to "
        "connect this node to swarm and try again.");
  if (!body.scope.empty() && body.scope != "local")
    return absl::InvalidArgumentError("invalid scope value: " + body.scope);
  Driver* d = DriverFor(driver);
  if (d == nullptr) return absl::NotFoundError("plugin \"" + driver + "\" not found");
  if (body.config_only || (body.config_from && !body.config_from->network.empty()))
    return absl::InvalidArgumentError(
        "config-only networks (--config-only, --config-from) are not supported by Berth yet");

  auto n = std::make_unique<Network>();
  n->spec.id = NewId();
  n->spec.name = name;
  n->spec.driver = driver;
  n->spec.internal = body.internal;
  n->attachable = body.attachable;
  n->created = FormatRfc3339Nano(clock_.Now());
  n->spec.options = spec::OrEmpty(body.options);
  n->labels = spec::OrEmpty(body.labels);
  n->ipam_options = spec::OrEmpty(ipam.options);  // {} unless the client sent some

  // One pool per family: the IPv4 one always, the IPv6 one with --ipv6 (a config is IPv6 when its
  // subnet is, as libnetwork sorts them).
  ipam::PoolRequest req, req6;
  req6.ipv6 = true;
  bool have4 = false, have6 = false;
  for (const spec::IPAMConfig& c : spec::OrEmpty(ipam.config)) {
    bool v6 = ipam::IsIpv6(c.subnet);
    if (v6 ? have6 : have4)
      return absl::InvalidArgumentError(std::string("Berth supports one IPv") + (v6 ? "6" : "4") +
                                        " subnet per network");
    (v6 ? have6 : have4) = true;
    ipam::PoolRequest& r = v6 ? req6 : req;
    r.subnet = c.subnet;
    r.ip_range = c.ip_range;
    r.gateway = c.gateway;
    r.aux = std::map<std::string, std::string>(c.aux_addresses.begin(), c.aux_addresses.end());
    if (r.subnet.empty() && (!r.ip_range.empty() || !r.gateway.empty() || !r.aux.empty())) {
      std::string what = !r.gateway.empty() ? "gateway " + r.gateway
                        : !r.ip_range.empty() ? "range " + r.ip_range
                                              : "aux-address " + r.aux.begin()->second;
      return absl::InvalidArgumentError("no matching subnet for " + what);
    }
  }
  if (have6 && !body.enable_ipv6)
    return absl::InvalidArgumentError("IPv6 subnet " + req6.subnet +
                                      " given, but IPv6 is not enabled on the network (--ipv6)");
  if (body.enable_ipv6 && driver != "bridge")
    return absl::UnimplementedError("IPv6 is supported on bridge networks only; " + driver + " networks are IPv4-only");
  if (auto v4 = n->spec.options.find("com.docker.network.enable_ipv4");
      v4 != n->spec.options.end() && v4->second != "true" && v4->second != "1")
    return absl::UnimplementedError("IPv6-only networks (com.docker.network.enable_ipv4=false) are not supported by Berth");
  n->spec.ipv6 = body.enable_ipv6;
  if (driver == "bridge") {
    auto hb = n->spec.options.find("com.docker.network.bridge.host_binding_ipv4");
    if (hb != n->spec.options.end() && !ipam::ParseIp(hb->second).ok())
      return absl::InvalidArgumentError("invalid host_binding_ipv4 \"" + hb->second + "\"");
  }

  // Plan: the name and the address pool are taken under the lock; the network is in the table
  // as kCreating, which keeps the name taken and the network invisible.
  Network* added = n.get();
  {
    StateLock l(mu_);
    for (auto& [id, o] : networks_)
      if (o->spec.name == name)
        return absl::AlreadyExistsError("network with name " + name + " already exists");
    if (driver == "bridge") {
      auto bn = n->spec.options.find("com.docker.network.bridge.name");
      if (bn != n->spec.options.end())
        for (auto& [id, o] : networks_)
          if (o->spec.driver == "bridge" && o->spec.ifname == bn->second)
            return absl::AlreadyExistsError("bridge name " + bn->second + " is already used by network " +
                                            o->spec.name);
    }
    ASSIGN_OR_RETURN(ipam::Pool pool, ipam_->RequestPool(req));
    n->pool_id = pool.id;
    n->spec.subnet = pool.subnet;
    n->spec.gateway = pool.gateway;
    if (body.enable_ipv6) {
      auto pool6 = ipam_->RequestPool(req6);
      if (!pool6.ok()) {
        (void)ipam_->ReleasePool(pool.id);
        return pool6.status();
      }
      n->pool6_id = pool6->id;
      n->spec.subnet6 = pool6->subnet;
      n->spec.gateway6 = pool6->gateway;
    }
    n->phase = Network::Phase::kCreating;
    networks_[n->spec.id] = std::move(n);
  }
  auto forget = [&](Status st) {
    StateLock l(mu_);
    (void)ipam_->ReleasePool(added->pool_id);
    if (!added->pool6_id.empty()) (void)ipam_->ReleasePool(added->pool6_id);
    networks_.erase(added->spec.id);
    return st;
  };
  // The kernel and the store, with no lock held.
  NetworkSpec spec = added->spec;
  auto kernel = d->CreateNetwork(&spec);
  if (!kernel.ok()) return forget(kernel.status());
  {
    StateLock l(mu_);
    added->spec = spec;
    spec::IPAMConfig cfg;
    cfg.subnet = spec.subnet;
    cfg.gateway = spec.gateway;
    cfg.ip_range = req.ip_range;
    cfg.aux_addresses = spec::StringMap(req.aux.begin(), req.aux.end());
    added->ipam_config = {cfg};
    if (!spec.subnet6.empty()) {
      spec::IPAMConfig cfg6;
      cfg6.subnet = spec.subnet6;
      cfg6.gateway = spec.gateway6;
      cfg6.ip_range = req6.ip_range;
      cfg6.aux_addresses = spec::StringMap(req6.aux.begin(), req6.aux.end());
      added->ipam_config.push_back(cfg6);
    }
  }
  std::string doc;
  {
    StateLock l(mu_);
    doc = added->ToDoc();
  }
  if (Status st = Persist("network", spec.id, doc); !st.ok()) {
    (void)(*kernel)->Delete();
    return forget(st);
  }
  uint64_t gen;
  firewall::Model model;
  std::shared_ptr<const NameIndex> names;
  {
    StateLock l(mu_);
    added->kernel = std::move(*kernel);
    added->phase = Network::Phase::kReady;
    std::tie(gen, model) = FirewallModelLocked();
    names = NameIndexLocked();
  }
  if (Status st = Publish(gen, std::move(model), std::move(names)); !st.ok()) {
    // Nothing half-made: the firewall refused, so the network goes again.
    std::unique_ptr<DriverNetwork> k;
    {
      StateLock l(mu_);
      added->phase = Network::Phase::kRemoving;
      k = std::move(added->kernel);
      std::tie(gen, model) = FirewallModelLocked();
    }
    (void)k->Delete();
    (void)store_.Delete("network", spec.id);
    (void)forget(st);
    (void)firewall_.Apply(gen, std::move(model));
    return st;
  }
  events_.Publish("network", "create", spec.id, {{"name", name}, {"type", driver}});
  return NetworkCreateResult{spec.id, ""};
}

Status Controller::RemoveNetwork(const std::string& name) {
  std::string swarm_id;
  {
    StateLock l(mu_);
    Status st;
    Network* n = FindNetworkLocked(name, &st);
    if (n != nullptr && n->swarm) swarm_id = n->spec.id;
  }
  if (!swarm_id.empty()) {
    // This node's copy of a swarm network (on a manager the API removes it from the cluster
    // instead): refused while a container is attached, else removed here until the agent lists
    // it again, as Docker's worker does.
    absl::MutexLock op(&swarm_ops_);
    return RemoveSwarmNetworkHeld(swarm_id);
  }
  Network* n;
  std::unique_ptr<DriverNetwork> kernel;
  {
    StateLock l(mu_);
    Status st;
    n = FindNetworkLocked(name, &st);
    if (!n) return st;
    if (n->builtin)
      return absl::PermissionDeniedError(n->spec.name + " is a pre-defined network and cannot be removed");
    bool used = false;
    for (auto& [cid, c] : containers_)
      for (auto& a : c->attachments) used |= a.network_id == n->spec.id;
    // docker_gwbridge's endpoints belong to no attachment.
    for (auto& [cid, sb] : sandboxes_)
      for (auto& e : sb->endpoints) used |= e.network_id == n->spec.id;
    if (used)
      return absl::PermissionDeniedError("error while removing network: network " + n->spec.name + " id " +
                                         n->spec.id + " has active endpoints");
    n->phase = Network::Phase::kRemoving;  // no one finds, joins or removes it from now on
    kernel = std::move(n->kernel);
  }
  const std::string id = n->spec.id, net_name = n->spec.name, driver = n->spec.driver;
  Status st = kernel ? kernel->Delete() : absl::OkStatus();
  if (st.ok()) st = store_.Delete("network", id);
  uint64_t gen;
  firewall::Model model;
  std::shared_ptr<const NameIndex> names;
  {
    StateLock l(mu_);
    if (!st.ok()) {
      n->kernel = std::move(kernel);
      n->phase = Network::Phase::kReady;
      return Annotate(st, "remove network " + net_name);
    }
    if (!n->pool_id.empty()) (void)ipam_->ReleasePool(n->pool_id);
    if (!n->pool6_id.empty()) (void)ipam_->ReleasePool(n->pool6_id);
    networks_.erase(id);
    std::tie(gen, model) = FirewallModelLocked();
    names = NameIndexLocked();
  }
  events_.Publish("network", "destroy", id, {{"name", net_name}, {"type", driver}});
  return Publish(gen, std::move(model), std::move(names));
}

StatusOr<std::vector<std::string>> Controller::PruneNetworks(const spec::Filters& f) {
  ASSIGN_OR_RETURN(spec::PruneFilter pf, spec::ParsePruneFilter(f, UnixNanos(clock_.Now())));
  std::vector<std::string> names;
  {
    StateLock l(mu_);
    for (auto& [id, n] : networks_) {
      if (n->builtin || n->swarm || n->phase != Network::Phase::kReady) continue;
      bool used = false;
      for (auto& [cid, c] : containers_)
        for (auto& a : c->attachments) used |= a.network_id == id;
      if (used) continue;
      int64_t created = 0;
      ParseRfc3339(n->created, &created);
      if (pf.Matches(created, n->labels)) names.push_back(n->spec.name);
    }
  }
  std::vector<std::string> deleted;
  for (auto& n : names)
    if (RemoveNetwork(n).ok()) deleted.push_back(n);
  return deleted;
}

// ---------------------------------------------------------------------------------------------
// Inspect, list

NetworkView Controller::ViewLocked(const Network& n, bool with_containers) {
  NetworkView v;
  v.name = n.spec.name;
  v.id = n.spec.id;
  v.created = n.created;
  Driver* d = DriverFor(n.spec.driver);
  v.scope = d ? ScopeName(d->scope()) : "local";
  v.driver = n.spec.driver;
  v.enable_ipv6 = n.spec.ipv6;
  v.ipam.driver = "default";
  v.ipam.options = n.ipam_options;
  v.ipam.config = n.ipam_config;
  v.internal = n.spec.internal;
  v.attachable = n.attachable;
  v.ingress = n.ingress;
  if (with_containers)
    for (auto& [cid, sb] : sandboxes_)
      for (auto& e : sb->endpoints) {
        if (e.network_id != n.spec.id) continue;
        auto c = containers_.find(cid);
        v.containers[cid] = {c == containers_.end() ? "" : c->second->name, e.spec.id, e.spec.mac,
                             e.spec.ip + "/" + std::to_string(e.spec.prefix),
                             e.spec.ip6.empty() ? "" : e.spec.ip6 + "/" + std::to_string(e.spec.prefix6)};
      }
  if (with_containers) MeshViewLocked(n, &v);  // the node's ingress-sbox (controller_mesh.cc)
  if (with_containers)
    for (const SwarmNetworkSpec::PeerNode& p : n.peer_nodes) v.peers.emplace_back(p.name, p.ip);
  v.options = n.spec.options;
  v.labels = n.labels;
  return v;
}

StatusOr<NetworkView> Controller::InspectNetwork(const std::string& name) {
  StateLock l(mu_);
  Status st;
  Network* n = FindNetworkLocked(name, &st);
  if (!n) return st;
  return ViewLocked(*n, true);
}

StatusOr<std::vector<NetworkView>> Controller::ListNetworks(const spec::Filters& f) {
  RETURN_IF_ERROR(f.Validate({"dangling", "driver", "id", "label", "name", "scope", "type"}));
  RETURN_IF_ERROR(f.WalkValues("type", [](const std::string& v) {
    return v == "builtin" || v == "custom"
               ? absl::OkStatus()
               : absl::InvalidArgumentError("invalid filter: 'type'='" + v + "'");
  }));
  std::optional<bool> dangling;
  RETURN_IF_ERROR(f.WalkValues("dangling", [&](const std::string& v) {
    if (v == "true" || v == "1") dangling = true;
    else if (v == "false" || v == "0") dangling = false;
    else return absl::InvalidArgumentError("Invalid filter 'dangling=" + v + "'");
    return absl::OkStatus();
  }));
  StateLock l(mu_);
  std::vector<NetworkView> out;
  for (auto& [id, n] : networks_) {
    if (n->phase != Network::Phase::kReady) continue;
    if (!f.Match("name", n->spec.name)) continue;
    if (!f.FuzzyMatch("id", id)) continue;
    if (!f.ExactMatch("driver", n->spec.driver)) continue;
    Driver* d = DriverFor(n->spec.driver);
    if (!f.ExactMatch("scope", d ? ScopeName(d->scope()) : "local")) continue;
    if (!f.ExactMatch("type", n->builtin ? "builtin" : "custom")) continue;
    if (!f.MatchKVList("label", n->labels)) continue;
    if (dangling) {
      // Docker: dangling networks are the user-defined ones no container is attached to.
      bool used = n->builtin;
      for (auto& [cid, c] : containers_)
        for (auto& a : c->attachments) used |= a.network_id == id;
      if (*dangling == used) continue;
    }
    out.push_back(ViewLocked(*n, false));  // docker's list leaves the containers out
  }
  return out;
}

}  // namespace berth::network
