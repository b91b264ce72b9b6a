// The network controller's containers: attachments, sandboxes, endpoints, published ports,
// connect and disconnect (controller.h). Each operation plans under mu_, works on the kernel with
// no lock held (the container's operation lock keeps other operations on it away), and commits
// under mu_.

#include <algorithm>
#include <array>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "common/ids.h"
#include "network/controller.h"
#include "network/controller_state.h"
#include "network/dns/server.h"
#include "network/resolv.h"
#include "spdlog/spdlog.h"
#include "sys/fs.h"
#include "sys/netlink.h"

namespace berth::network {

namespace {

int PrefixOf(const std::string& subnet) {
  auto slash = subnet.find('/');
  return slash == std::string::npos ? 32 : std::atoi(subnet.c_str() + slash + 1);
}

// What an endpoint config asks beyond addresses and aliases (create and connect alike): a MAC
// address that parses, and driver options. Docker's bridge driver reads no endpoint option a
// client may set and ignores the rest; Berth keeps and shows them the same, but refuses the
// com.docker.network.* ones, which would mean something to Docker that Berth does not do.
Status ValidateEndpointExtras(const spec::EndpointSettings& cfg) {
  if (!cfg.mac_address.empty() && !sys::ParseMac(cfg.mac_address).ok())
    return absl::InvalidArgumentError("invalid MAC address " + cfg.mac_address);
  for (auto& [k, v] : spec::OrEmpty(cfg.driver_opts))
    if (absl::StartsWith(k, "com.docker.network."))
      return absl::InvalidArgumentError("endpoint driver option " + k +
                                        " is not supported by Berth's network drivers");
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Attachments (container create and remove)

Status Controller::Validate(const spec::HostConfig& hc, const spec::NetworkingConfig& net) {
  RETURN_IF_ERROR(ValidateDnsConfig(hc));
  std::string mode = hc.network_mode.empty() ? "default" : hc.network_mode;
  const spec::PortMap& bindings = spec::OrEmpty(hc.port_bindings);
  if (absl::StartsWith(mode, "container:")) {
    // Before taking mu_: the lookup asks the container manager.
    if (lookup_) {
      auto ref = lookup_(mode.substr(10));
      if (!ref.ok()) return ref.status();
    }
    if (!bindings.empty())
      return absl::InvalidArgumentError(
          "conflicting options: port publishing and the container type network mode");
    return absl::OkStatus();
  }
  // Asked before taking mu_: the cluster has locks of its own.
  const bool may_attach = attacher_.in_swarm && attacher_.in_swarm();
  StateLock l(mu_);
  std::string primary = mode == "default" ? "bridge" : mode;
  Status st;
  // An unknown network is the request's fault (400): a 404 would make the docker CLI try to pull
  // the image. Docker itself creates the container and fails its start; we create nothing.
  auto bad_request = [](const Status& st) { return absl::InvalidArgumentError(st.message()); };
  Network* n = FindNetworkLocked(primary, &st);
  // A network this node does not have may be an attachable swarm network: Attach asks the
  // managers, and refuses what they do not know.
  if (!n && may_attach && absl::IsNotFound(st) && bindings.empty()) return absl::OkStatus();
  if (!n) return bad_request(st);
  if (n->spec.driver == "null" && !bindings.empty())
    return absl::InvalidArgumentError("conflicting options: port publishing and the container type network mode");
  // A fixed host port that a running container already publishes: refused now, so the second
  // container is not even created (Docker creates it and fails the start).
  for (auto& [port, list] : bindings) {
    std::string proto = port.find('/') == std::string::npos ? "tcp" : port.substr(port.find('/') + 1);
    for (auto& b : spec::OrEmpty(list)) {
      int hp = 0;
      if (!absl::SimpleAtoi(b.host_port, &hp) || hp == 0) continue;
      const std::string& ip = b.host_ip;
      // A port the routing mesh publishes (on every address of the node) is taken as well.
      if (mesh_ports_.count({proto, hp}))
        return absl::AlreadyExistsError("driver failed programming external connectivity: Bind for " +
                                        std::string(ip.empty() ? "0.0.0.0" : ip) + ":" + std::to_string(hp) +
                                        " failed: port is already allocated");
      for (auto& [cid, sb] : sandboxes_)
        for (auto& p : sb->ports) {
          bool ip_overlap = ip.empty() || ip == "0.0.0.0" || p.host_ip.empty() ||
                            p.host_ip == "0.0.0.0" || p.host_ip == ip;
          if (p.proto == proto && p.host_port == hp && ip_overlap) {
            std::string shown = ip.empty() ? "0.0.0.0" : ip;
            return absl::AlreadyExistsError("driver failed programming external connectivity: Bind for " +
                                            shown + ":" + std::to_string(hp) +
                                            " failed: port is already allocated");
          }
        }
    }
  }
  for (auto& [netname, cfg] : spec::OrEmpty(net.endpoints_config)) {
    std::string key = netname == "default" ? primary : netname;
    Network* m = FindNetworkLocked(key, &st);
    if (!m) return bad_request(st);
    RETURN_IF_ERROR(ValidateEndpointExtras(cfg));
    std::string ip = cfg.ipam_config ? cfg.ipam_config->ipv4_address : "";
    if (!ip.empty()) {
      if (m->builtin)
        return absl::InvalidArgumentError("user specified IP address is supported on user defined networks only");
      auto parsed = ipam::ParseIp(ip);
      if (!parsed.ok()) return absl::InvalidArgumentError("invalid IPv4 address: " + ip);
      // Checked here rather than at start (where Docker finds it), so nothing is created.
      auto subnet = ipam::Cidr::Parse(m->spec.subnet);
      if (subnet.ok() && !subnet->Contains(*parsed))
        return absl::InvalidArgumentError("Invalid address " + ip +
                                          ": It does not belong to any of this network's subnets");
    }
    std::string ip6 = cfg.ipam_config ? cfg.ipam_config->ipv6_address : "";
    if (!ip6.empty()) {
      if (m->builtin)
        return absl::InvalidArgumentError("user specified IP address is supported on user defined networks only");
      if (!ipam::IsIpv6(ip6) || !sys::ParseIp(ip6).ok())
        return absl::InvalidArgumentError("invalid IPv6 address: " + ip6);
      // A network without IPv6 has no subnet this address could belong to (Docker's text).
      if (!ipam::SubnetContains(m->spec.subnet6, ip6))
        return absl::InvalidArgumentError("Invalid address " + ip6 +
                                          ": It does not belong to any of this network's subnets");
    }
    if (!spec::OrEmpty(cfg.aliases).empty() && m->builtin)
      return absl::InvalidArgumentError("network-scoped alias is supported only for containers in user defined networks");
  }
  return absl::OkStatus();
}

Status Controller::AttachSwarmNetworks(const std::string& id, const std::string& name,
                                       const std::string& primary, spec::NetworkingConfig* net) {
  std::vector<std::string> missing;
  {
    StateLock l(mu_);
    std::vector<std::string> wanted = {primary};
    const auto& eps = spec::OrEmpty(net->endpoints_config);
    for (auto& [k, v] : eps)
      if (k != primary && k != "default") wanted.push_back(k);
    for (const std::string& w : wanted) {
      Status st;
      Network* n = FindNetworkLocked(w, &st);
      if (n == nullptr) {
        if (absl::IsNotFound(st)) missing.push_back(w);
        continue;
      }
      // On a swarm network this node has already, a container without an address from the
      // managers (a plain container, not a task) asks them too: only they know every address in
      // use (other nodes' endpoints, the services' VIPs), and only what they record reaches the
      // other nodes' peer tables.
      auto ep = eps.find(w);
      bool given = ep != eps.end() && ep->second.ipam_config.has_value() &&
                   !ep->second.ipam_config->ipv4_address.empty();
      if (n->swarm && !given) missing.push_back(w);
    }
  }
  for (const std::string& m : missing) {
    StatusOr<std::pair<SwarmNetworkSpec, std::string>> got = attacher_.attach(m, id, name);
    if (!got.ok()) {
      if (m != missing.front()) attacher_.detach(id);  // the ones attached before this one
      return absl::IsNotFound(got.status()) ? absl::InvalidArgumentError(got.status().message())
                                            : got.status();
    }
    if (Status st = AddSwarmNetwork(got->first); !st.ok()) {
      attacher_.detach(id);
      return st;
    }
    if (!net->endpoints_config.has_value()) net->endpoints_config.emplace();
    spec::EndpointSettings& cfg = (*net->endpoints_config)[m];
    if (!cfg.ipam_config.has_value()) cfg.ipam_config.emplace();
    cfg.ipam_config->ipv4_address = got->second;
  }
  return absl::OkStatus();
}

Status Controller::Attach(const std::string& id, const std::string& name, const spec::HostConfig& hc,
                          const spec::NetworkingConfig& given) {
  std::string mode = hc.network_mode.empty() ? "default" : hc.network_mode;
  spec::NetworkingConfig net = given;
  if (attacher_.attach && attacher_.in_swarm && !absl::StartsWith(mode, "container:") &&
      mode != "host" && mode != "none" && attacher_.in_swarm())
    RETURN_IF_ERROR(AttachSwarmNetworks(id, name, mode == "default" ? "bridge" : mode, &net));
  auto c = std::make_unique<ContainerNet>();
  c->id = id;
  c->name = name;
  c->mode = mode;
  c->dns = DnsUpstreams(hc);
  c->search = SearchDomains(hc);
  KeyedLock op(ops_, id);
  {
    StateLock l(mu_);
    if (!absl::StartsWith(mode, "container:")) {
      std::string primary = mode == "default" ? "bridge" : mode;
      const auto& eps = spec::OrEmpty(net.endpoints_config);
      std::vector<std::string> order = {primary};
      for (auto& [k, v] : eps)
        if (k != primary && k != "default") order.push_back(k);
      for (auto& netname : order) {
        Status st;
        Network* n = FindNetworkLocked(netname, &st);
        if (!n) return st;
        spec::EndpointSettings cfg;
        if (auto it = eps.find(netname); it != eps.end()) cfg = it->second;
        else if (netname == primary && eps.count("default")) cfg = eps.at("default");
        c->attachments.push_back(Attachment::FromEndpointConfig(n->spec.id, cfg));
      }
    }
    // In the table first: from now on no network it names can be removed. Stored next, and taken
    // out again if that fails.
    containers_[id] = std::move(c);
  }
  std::string doc;
  {
    StateLock l(mu_);
    doc = containers_.at(id)->ToDoc();
  }
  if (Status st = Persist("netattach", id, doc); !st.ok()) {
    StateLock l(mu_);
    containers_.erase(id);
    return st;
  }
  return absl::OkStatus();
}

void Controller::Detach(const std::string& id) {
  KeyedLock op(ops_, id);
  TeardownHeld(id);
  bool swarm = false;
  {
    StateLock l(mu_);
    // A network this node does not know is a swarm network (local ones are all stored, swarm
    // ones live in memory only): after a restart it is back only when the agent next names it,
    // and a container removed before then still holds its address at the managers.
    if (auto it = containers_.find(id); it != containers_.end())
      for (auto& a : it->second->attachments) {
        auto n = networks_.find(a.network_id);
        swarm |= n == networks_.end() || n->second->swarm;
      }
    containers_.erase(id);
  }
  // Its addresses on swarm networks go back to the managers (best effort); a network nothing
  // here uses any more leaves when the agent's next set no longer names it.
  if (swarm && attacher_.detach) attacher_.detach(id);
  (void)store_.Delete("netattach", id);
  ReapSwarmNetworks();  // a swarm network no longer wanted may have lost its last container
}

void Controller::Rename(const std::string& id, const std::string& name) {
  KeyedLock op(ops_, id);
  std::string doc;
  std::shared_ptr<const NameIndex> names;
  {
    StateLock l(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return;
    it->second->name = name;
    doc = it->second->ToDoc();
    names = NameIndexLocked();
  }
  names_.Set(std::move(names));
  (void)Persist("netattach", id, doc);
}

// ---------------------------------------------------------------------------------------------
// Sandboxes and endpoints

std::string Controller::DefaultGatewayLocked() const {
  for (auto& [id, n] : networks_)
    if (n->builtin && n->spec.driver == "bridge") return n->spec.gateway;
  return "";
}

void Controller::ReleaseAddressesLocked(const std::vector<Endpoint>& eps) {
  for (auto& e : eps) {
    // A swarm network's pool lives in an allocator of its own, which goes with the network (and
    // its pool id may name another network's pool in the shared one).
    if (!networks_.count(e.network_id)) continue;
    ipam::Allocator& alloc = AllocatorForLocked(e.network_id);
    if (!e.pool_id.empty() && !e.spec.ip.empty()) (void)alloc.ReleaseAddress(e.pool_id, e.spec.ip);
    if (!e.pool6_id.empty() && !e.spec.ip6.empty()) (void)alloc.ReleaseAddress(e.pool6_id, e.spec.ip6);
  }
}

StatusOr<Controller::Endpoint> Controller::PlanEndpointLocked(SandboxState& sb, const ContainerNet& c,
                                                              const Attachment& a, bool first) {
  auto nit = networks_.find(a.network_id);
  if (nit == networks_.end() || nit->second->phase != Network::Phase::kReady)
    return absl::NotFoundError("network " + a.network_id + " not found");
  Network& n = *nit->second;
  if (n.kernel == nullptr)
    return absl::UnavailableError("network " + n.spec.name + " has no kernel objects (see berthd's log)");
  for (auto& e : sb.endpoints)
    if (e.network_id == n.spec.id)
      return absl::PermissionDeniedError("endpoint with name " + c.name + " already exists in network " +
                                         n.spec.name);
  ipam::Allocator& alloc = AllocatorForLocked(n.spec.id);
  ASSIGN_OR_RETURN(std::string ip, alloc.RequestAddress(n.pool_id, a.static_ip, n.spec.name, n.spec.id));
  std::string ip6;
  if (!n.pool6_id.empty()) {
    auto got = alloc.RequestAddress(n.pool6_id, a.static_ip6, n.spec.name, n.spec.id);
    if (!got.ok()) {
      (void)alloc.ReleaseAddress(n.pool_id, ip);
      return got.status();
    }
    ip6 = *got;
  } else if (!a.static_ip6.empty()) {
    (void)alloc.ReleaseAddress(n.pool_id, ip);
    return absl::InvalidArgumentError("Invalid address " + a.static_ip6 +
                                      ": It does not belong to any of this network's subnets");
  }
  Endpoint ep;
  ep.network_id = n.spec.id;
  ep.pool_id = n.pool_id;
  ep.spec.id = NewId();
  ep.spec.ifname = "eth" + std::to_string(sb.next_if++);
  ep.spec.host_ifname = "veth" + NewId().substr(0, 7);
  ep.spec.ip = ip;
  ep.spec.prefix = PrefixOf(n.spec.subnet);
  if (!ip6.empty()) {
    ep.pool6_id = n.pool6_id;
    ep.spec.ip6 = ip6;
    ep.spec.prefix6 = PrefixOf(n.spec.subnet6);
  }
  auto ipnum = ipam::ParseIp(ip);
  ep.spec.mac = !a.mac.empty() ? a.mac : ipam::MacFromIp(*ipnum);
  ep.spec.default_route = first;
  return ep;
}

std::vector<DriverNetwork*> Controller::KernelsOf(const std::vector<Endpoint>& eps) {
  // The networks of planned or joined endpoints cannot be removed (the container is attached
  // to them), so their kernel objects outlive the call.
  std::vector<DriverNetwork*> out;
  StateLock l(mu_);
  for (auto& e : eps) out.push_back(networks_.at(e.network_id)->kernel.get());
  return out;
}

Status Controller::JoinAll(SandboxState& sb, std::vector<Endpoint>& eps) {
  std::vector<DriverNetwork*> kernels = KernelsOf(eps);
  for (size_t i = 0; i < eps.size(); ++i) {
    Status st = kernels[i]->Join(&eps[i].spec, *sb.kernel);
    if (!st.ok()) {
      for (size_t j = 0; j < i; ++j) (void)kernels[j]->Leave(eps[j].spec, sb.kernel.get(), false);
      return st;
    }
  }
  return absl::OkStatus();
}

void Controller::LeaveAll(SandboxState& sb, const std::vector<Endpoint>& eps) {
  std::vector<DriverNetwork*> kernels = KernelsOf(eps);
  for (size_t i = 0; i < eps.size(); ++i) (void)kernels[i]->Leave(eps[i].spec, sb.kernel.get(), false);
}

Status Controller::ServeDns(const SandboxState& sb, std::vector<std::string> upstreams) {
  if (!sb.dns || dns_ == nullptr) return absl::OkStatus();
  std::string cid = sb.container_id;
  Status st = dns_->AddSandbox(sb.id, sb.path, [this, cid](const std::string& q) { return Resolve(cid, q); },
                               nullptr, std::move(upstreams));
  if (absl::IsAlreadyExists(st)) return absl::OkStatus();  // a hot-plugged second network
  return Annotate(st, "embedded DNS");
}

StatusOr<engine::NetworkAttacher::Sandbox> Controller::Setup(const std::string& id,
                                                             const std::string& name,
                                                             const spec::ContainerConfig& config,
                                                             const spec::HostConfig& hc) {
  // container:NAME is looked up before anything is locked: the lookup asks the container
  // manager, which may ask us for settings.
  std::optional<StatusOr<ContainerRef>> other;
  if (const std::string& m = hc.network_mode; absl::StartsWith(m, "container:")) {
    if (!lookup_) return absl::InternalError("no container lookup");
    other = lookup_(m.substr(10));
  }
  auto host_resolv = sys::ReadFile("/etc/resolv.conf");
  const std::string host_resolv_text = host_resolv.ok() ? *host_resolv : "";
  KeyedLock op(ops_, id);
  TeardownHeld(id);  // a restart reuses nothing of the last run
  // A container on overlays only gets an endpoint on docker_gwbridge too (controller_swarm.cc),
  // made before anything is planned: making it takes the controller's lock.
  std::vector<std::string> attached;
  {
    StateLock l(mu_);
    if (auto cit = containers_.find(id); cit != containers_.end())
      for (auto& a : cit->second->attachments) attached.push_back(a.network_id);
  }
  ASSIGN_OR_RETURN(std::string gateway_bridge, GatewayBridgeFor(attached));

  Sandbox out;
  out.resolv_conf = host_resolv_text;
  auto sb = std::make_unique<SandboxState>();
  std::vector<Endpoint> eps;
  std::optional<PortTarget> ports_to;
  std::vector<std::string> upstreams;
  std::string gateway;
  {
    StateLock l(mu_);
    auto cit = containers_.find(id);
    if (cit == containers_.end()) {
      // A container from before networks existed: attach it to its mode now.
      auto c = std::make_unique<ContainerNet>();
      c->id = id;
      c->name = name;
      c->mode = hc.network_mode.empty() ? "default" : hc.network_mode;
      c->dns = DnsUpstreams(hc);
      c->search = SearchDomains(hc);
      Status st;
      std::string primary = c->mode == "default" ? "bridge" : c->mode;
      if (!absl::StartsWith(c->mode, "container:")) {
        Network* n = FindNetworkLocked(primary, &st);
        if (!n) return st;
        Attachment a;
        a.network_id = n->spec.id;
        c->attachments.push_back(a);
      }
      cit = containers_.emplace(id, std::move(c)).first;
    }
    ContainerNet& c = *cit->second;
    gateway = DefaultGatewayLocked();
    if (absl::StartsWith(c.mode, "container:")) {
      if (!other) return absl::InternalError("network mode changed from " + c.mode);
      if (!other->ok()) return other->status();
      const ContainerRef& ref = **other;
      auto sit = sandboxes_.find(ref.id);
      if (!ref.running || sit == sandboxes_.end())
        return absl::FailedPreconditionError("cannot join network of a non running container: " + ref.id);
      out.netns_path = sit->second->path;
      return out;
    }
    // Host mode: the daemon's own namespace.
    if (!c.attachments.empty()) {
      auto nit = networks_.find(c.attachments[0].network_id);
      if (nit != networks_.end() && nit->second->spec.driver == "host") {
        out.netns_path = "host";
        out.resolv_conf = ContainerResolvConf({host_resolv_text, false, true}, hc);
        out.hosts_extra = ExtraHostsLines(hc, gateway);
        return out;
      }
    }
    sb->container_id = id;
    sb->id = NewId();
    sb->path = opts_.exec_root + "/netns/" + sb->id.substr(0, 12);
    bool first = true;
    for (auto& a : c.attachments) {
      auto nit = networks_.find(a.network_id);
      if (nit == networks_.end() || nit->second->spec.driver == "null") continue;
      auto ep = PlanEndpointLocked(*sb, c, a, first);
      if (!ep.ok()) {
        ReleaseAddressesLocked(eps);
        return ep.status();
      }
      Network& n = *nit->second;
      if (n.UserDefined()) sb->dns = true;
      if (!ports_to && n.spec.driver == "bridge") {
        std::string default_ip;
        if (auto hb = n.spec.options.find("com.docker.network.bridge.host_binding_ipv4");
            hb != n.spec.options.end() && hb->second != "0.0.0.0")
          default_ip = hb->second;
        ports_to = PortTarget{ep->spec.ip, ep->spec.ip6, n.spec.ifname, n.spec.id, default_ip, c.name, ep->spec.id};
      }
      eps.push_back(std::move(*ep));
      first = false;
    }
    if (!gateway_bridge.empty() && networks_.count(gateway_bridge)) {
      // The default route and the published ports go through it; no name is served there.
      Attachment gw;
      gw.network_id = gateway_bridge;
      auto ep = PlanEndpointLocked(*sb, c, gw, /*first=*/true);
      if (!ep.ok()) {
        ReleaseAddressesLocked(eps);
        return ep.status();
      }
      const Network& n = *networks_.at(gateway_bridge);
      if (!ports_to)
        ports_to = PortTarget{ep->spec.ip, ep->spec.ip6, n.spec.ifname, n.spec.id, "", c.name, ep->spec.id};
      eps.push_back(std::move(*ep));
    }
    upstreams = c.dns;
  }
  auto forget = [&](Status st) {
    StateLock l(mu_);
    ReleaseAddressesLocked(eps);
    return st;
  };

  // The kernel, with no lock held.
  auto kernel = kernel_.CreateSandbox(sb->path);
  if (!kernel.ok()) return forget(kernel.status());
  sb->kernel = std::move(*kernel);
  auto drop_namespace = [&] {
    sb->kernel.reset();
    (void)kernel_.RemoveSandbox(sb->path);  // the endpoints' interfaces inside go with it
  };
  if (Status st = JoinAll(*sb, eps); !st.ok()) {
    drop_namespace();
    return forget(st);
  }
  if (ports_to) {
    auto ports = ReservePorts(*ports_to, config, hc);
    if (!ports.ok()) {
      Status st = ports.status();
      LeaveAll(*sb, eps);
      drop_namespace();
      return forget(absl::Status(st.code(), "driver failed programming external connectivity on endpoint " +
                                                ports_to->container_name + " (" + ports_to->endpoint_id +
                                                "): " + std::string(st.message())));
    }
    sb->ports = std::move(*ports);
  }
  std::set<int> udp_ports;
  for (const PortMap& p : sb->ports)
    if (p.proto == "udp") udp_ports.insert(p.host_port);
  sb->endpoints = std::move(eps);
  eps.clear();

  // Commit, then publish: names, firewall, store, DNS.
  SandboxState& s = *sb;
  uint64_t gen;
  firewall::Model model;
  std::shared_ptr<const NameIndex> names;
  std::string doc = s.ToDoc();
  std::vector<std::array<std::string, 3>> joined;  // network id, name, driver
  {
    StateLock l(mu_);
    for (auto& e : s.endpoints) {
      const Network& n = *networks_.at(e.network_id);
      joined.push_back({e.network_id, n.spec.name, n.spec.driver});
    }
    sandboxes_[id] = std::move(sb);
    std::tie(gen, model) = FirewallModelLocked();
    names = NameIndexLocked();
  }
  auto fail = [&](Status st) {
    TeardownHeld(id);
    return st;
  };
  if (Status st = Publish(gen, std::move(model), std::move(names)); !st.ok()) return fail(st);
  // Once the DNAT is in: a client that streamed to the port while nothing published it has an
  // entry to the host itself, which would keep its datagrams from this container (moby#8795).
  for (int port : udp_ports) kernel_.ForgetUdpPortFlows(port);
  if (Status st = Persist("sandbox", id, doc); !st.ok()) return fail(st);
  if (Status st = ServeDns(s, upstreams); !st.ok()) return fail(st);
  for (auto& [nid, nname, ndriver] : joined)
    events_.Publish("network", "connect", nid, {{"container", id}, {"name", nname}, {"type", ndriver}});
  MeshContainerChanged(id);  // the VIPs of its swarm networks (controller_mesh.cc)
  out.resolv_conf = ContainerResolvConf({host_resolv_text, s.dns, false}, hc);
  const std::string& hostname = config.hostname;
  for (auto& e : s.endpoints) {
    out.hosts_extra += e.spec.ip + "\t" + hostname + "\n";
    if (!e.spec.ip6.empty()) out.hosts_extra += e.spec.ip6 + "\t" + hostname + "\n";
  }
  out.hosts_extra += ExtraHostsLines(hc, gateway);
  out.netns_path = s.path;
  return out;
}

void Controller::TeardownHeld(const std::string& id) {
  Removal r;
  {
    StateLock l(mu_);
    auto it = sandboxes_.find(id);
    if (it == sandboxes_.end()) return;
    r.sandbox = std::move(it->second);
    sandboxes_.erase(it);
    for (auto& e : r.sandbox->endpoints) {
      auto nit = networks_.find(e.network_id);
      r.kernels.push_back(nit == networks_.end() ? nullptr : nit->second->kernel.get());
      r.networks.emplace_back(nit == networks_.end() ? "" : nit->second->spec.name,
                              nit == networks_.end() ? "" : nit->second->spec.driver);
    }
    std::tie(r.generation, r.model) = FirewallModelLocked();
    r.names = NameIndexLocked();
  }
  Destroy(std::move(r));
}

void Controller::Teardown(const std::string& id) {
  KeyedLock op(ops_, id);
  TeardownHeld(id);
}

void Controller::Destroy(Removal r) {
  SandboxState& sb = *r.sandbox;
  names_.Set(std::move(r.names));
  if (sb.dns && dns_ != nullptr) dns_->RemoveSandbox(sb.id);
  // The port rules go before the sockets holding the ports are closed.
  if (Status st = firewall_.Apply(r.generation, std::move(r.model)); !st.ok())
    spdlog::error("container {}: firewall: {} (retried with the next change)", sb.container_id, st.ToString());
  for (size_t i = 0; i < sb.endpoints.size(); ++i) {
    if (r.kernels[i] != nullptr) {
      Status st = r.kernels[i]->Leave(sb.endpoints[i].spec, sb.kernel.get(), /*sandbox_going=*/true);
      if (!st.ok()) spdlog::warn("leave {}: {}", r.networks[i].first, st.ToString());
    }
    events_.Publish("network", "disconnect", sb.endpoints[i].network_id,
                    {{"container", sb.container_id}, {"name", r.networks[i].first}, {"type", r.networks[i].second}});
  }
  sb.ports.clear();
  sb.kernel.reset();
  (void)kernel_.RemoveSandbox(sb.path);
  (void)store_.Delete("sandbox", sb.container_id);
  StateLock l(mu_);
  ReleaseAddressesLocked(sb.endpoints);
}

// ---------------------------------------------------------------------------------------------
// Connect, disconnect

Status Controller::Connect(const std::string& network, const spec::NetworkConnect& req) {
  if (!lookup_) return absl::InternalError("no container lookup");
  const std::string& container = req.container;
  ASSIGN_OR_RETURN(ContainerRef ref, lookup_(container));
  KeyedLock op(ops_, ref.id);
  Attachment a;
  std::optional<Endpoint> planned;
  SandboxState* sb = nullptr;
  DriverNetwork* kernel = nullptr;
  bool user_defined = false;
  std::string net_name, net_driver;
  std::string attach_doc;
  std::vector<std::string> upstreams;
  {
    StateLock l(mu_);
    Status st;
    Network* n = FindNetworkLocked(network, &st);
    if (!n) return st;
    auto cit = containers_.find(ref.id);
    if (cit == containers_.end()) return absl::NotFoundError("No such container: " + container);
    ContainerNet& c = *cit->second;
    if (n->spec.driver == "host" || n->spec.driver == "null" || c.mode == "host" || c.mode == "none" ||
        absl::StartsWith(c.mode, "container:"))
      return absl::InvalidArgumentError("container cannot be disconnected from host network or connected to host network");
    for (auto& x : c.attachments)
      if (x.network_id == n->spec.id)
        return absl::PermissionDeniedError("endpoint with name " + c.name + " already exists in network " + n->spec.name);
    const spec::EndpointSettings& cfg = req.endpoint_config ? *req.endpoint_config : spec::EndpointSettings();
    RETURN_IF_ERROR(ValidateEndpointExtras(cfg));
    if (!spec::OrEmpty(cfg.links).empty() && n->builtin)
      return absl::InvalidArgumentError("links are only supported for user-defined networks");
    a = Attachment::FromEndpointConfig(n->spec.id, cfg);
    if ((!a.static_ip.empty() || !a.static_ip6.empty()) && n->builtin)
      return absl::InvalidArgumentError("user specified IP address is supported on user defined networks only");
    net_name = n->spec.name;
    net_driver = n->spec.driver;
    user_defined = n->UserDefined();
    upstreams = c.dns;
    auto sit = sandboxes_.find(ref.id);
    if (ref.running && sit != sandboxes_.end()) {
      // Hot-plug: the new interface appears in the running container.
      sb = sit->second.get();
      ASSIGN_OR_RETURN(Endpoint ep, PlanEndpointLocked(*sb, c, a, sb->endpoints.empty()));
      planned = std::move(ep);
      kernel = n->kernel.get();
    } else {
      c.attachments.push_back(a);
      attach_doc = c.ToDoc();
    }
  }
  if (!planned) return Persist("netattach", ref.id, attach_doc);

  if (Status st = kernel->Join(&planned->spec, *sb->kernel); !st.ok()) {
    StateLock l(mu_);
    ReleaseAddressesLocked({*planned});
    return st;
  }
  bool new_dns = false;
  std::string sandbox_doc;
  uint64_t gen;
  firewall::Model model;
  std::shared_ptr<const NameIndex> names;
  {
    StateLock l(mu_);
    sb->endpoints.push_back(*planned);
    if (user_defined && !sb->dns) new_dns = sb->dns = true;
    ContainerNet& c = *containers_.at(ref.id);
    c.attachments.push_back(a);
    attach_doc = c.ToDoc();
    sandbox_doc = sb->ToDoc();
    std::tie(gen, model) = FirewallModelLocked();
    names = NameIndexLocked();
  }
  Status st = Publish(gen, std::move(model), std::move(names));
  if (st.ok()) st = Persist("sandbox", ref.id, sandbox_doc);
  if (st.ok()) st = Persist("netattach", ref.id, attach_doc);
  if (st.ok() && new_dns) {
    if (Status dst = ServeDns(*sb, upstreams); !dst.ok()) spdlog::warn("connect {}: {}", ref.name, dst.ToString());
  }
  events_.Publish("network", "connect", planned->network_id,
                  {{"container", ref.id}, {"name", net_name}, {"type", net_driver}});
  MeshContainerChanged(ref.id);
  return st;
}

Status Controller::Disconnect(const std::string& network, const spec::NetworkDisconnect& req) {
  if (!lookup_) return absl::InternalError("no container lookup");
  ASSIGN_OR_RETURN(ContainerRef ref, lookup_(req.container));
  KeyedLock op(ops_, ref.id);
  std::optional<Endpoint> gone;
  std::vector<PortMap> gone_ports;
  SandboxState* sb = nullptr;
  DriverNetwork* kernel = nullptr;
  std::string net_id, net_name, net_driver;
  std::string attach_doc, sandbox_doc;
  uint64_t gen;
  firewall::Model model;
  std::shared_ptr<const NameIndex> names;
  {
    StateLock l(mu_);
    Status st;
    Network* n = FindNetworkLocked(network, &st);
    if (!n) return st;
    auto cit = containers_.find(ref.id);
    ContainerNet* c = cit == containers_.end() ? nullptr : cit->second.get();
    auto at = c == nullptr ? std::vector<Attachment>::iterator()
                           : std::find_if(c->attachments.begin(), c->attachments.end(),
                                          [&](const Attachment& x) { return x.network_id == n->spec.id; });
    if (c == nullptr || at == c->attachments.end())
      return absl::InternalError("container " + ref.id + " is not connected to network " + n->spec.name);
    if (n->spec.driver == "host")
      return absl::InvalidArgumentError("container cannot be disconnected from host network or connected to host network");
    net_id = n->spec.id;
    net_name = n->spec.name;
    net_driver = n->spec.driver;
    kernel = n->kernel.get();
    if (auto sit = sandboxes_.find(ref.id); sit != sandboxes_.end()) {
      sb = sit->second.get();
      for (auto e = sb->endpoints.begin(); e != sb->endpoints.end(); ++e)
        if (e->network_id == net_id) {
          gone = std::move(*e);
          sb->endpoints.erase(e);
          break;
        }
      // Ports published through that endpoint go with it.
      for (auto p = sb->ports.begin(); p != sb->ports.end();) {
        if (p->network_id == net_id) {
          gone_ports.push_back(std::move(*p));
          p = sb->ports.erase(p);
        } else {
          ++p;
        }
      }
      sandbox_doc = sb->ToDoc();
    }
    c->attachments.erase(at);
    attach_doc = c->ToDoc();
    std::tie(gen, model) = FirewallModelLocked();
    names = NameIndexLocked();
  }
  Status st = Publish(gen, std::move(model), std::move(names));
  if (gone && kernel != nullptr) {
    Status lst = kernel->Leave(gone->spec, sb->kernel.get(), false);
    if (!lst.ok()) spdlog::warn("leave {}: {}", net_name, lst.ToString());
    events_.Publish("network", "disconnect", net_id, {{"container", ref.id}, {"name", net_name}, {"type", net_driver}});
  }
  gone_ports.clear();  // the sockets holding the ports, after the rules went
  if (sb != nullptr) {
    Status pst = Persist("sandbox", ref.id, sandbox_doc);
    if (st.ok()) st = pst;
  }
  Status ast = Persist("netattach", ref.id, attach_doc);
  if (st.ok()) st = ast;
  if (gone) {
    StateLock l(mu_);
    ReleaseAddressesLocked({*gone});
  }
  if (gone) MeshContainerChanged(ref.id);
  ReapSwarmNetworks();
  return st;
}

// ---------------------------------------------------------------------------------------------
// Inspect settings

spec::EndpointSettings Controller::EndpointSettingsLocked(const Attachment& a, const Endpoint* ep) {
  spec::EndpointSettings s;
  s.ipam_config = a.ipam_config;
  if (!a.aliases.empty()) s.aliases = a.aliases;
  if (!a.links.empty()) s.links = a.links;
  if (!a.driver_opts.empty()) s.driver_opts = spec::StringMap(a.driver_opts.begin(), a.driver_opts.end());
  s.network_id = a.network_id;
  if (ep != nullptr) {
    auto nit = networks_.find(a.network_id);
    s.endpoint_id = ep->spec.id;
    // An overlay's gateway address is in the overlay's own namespace, not a route of the
    // container's: Docker shows none.
    s.gateway = nit != networks_.end() && !nit->second->swarm ? nit->second->spec.gateway : "";
    s.ip_address = ep->spec.ip;
    s.ip_prefix_len = ep->spec.prefix;
    s.mac_address = ep->spec.mac;
    if (!ep->spec.ip6.empty()) {
      s.ipv6_gateway = nit != networks_.end() ? nit->second->spec.gateway6 : "";
      s.global_ipv6_address = ep->spec.ip6;
      s.global_ipv6_prefix_len = ep->spec.prefix6;
    }
  }
  return s;
}

std::optional<spec::NetworkSettings> Controller::Settings(const std::string& id) {
  StateLock l(mu_);
  auto cit = containers_.find(id);
  if (cit == containers_.end()) return std::nullopt;
  ContainerNet& c = *cit->second;
  auto sit = sandboxes_.find(id);
  SandboxState* sb = sit == sandboxes_.end() ? nullptr : sit->second.get();
  spec::NetworkSettings out;
  if (sb) {
    out.sandbox_id = sb->id;
    out.sandbox_key = sb->path;
  }
  for (auto& a : c.attachments) {
    auto nit = networks_.find(a.network_id);
    if (nit == networks_.end()) continue;
    const Endpoint* ep = nullptr;
    if (sb)
      for (auto& e : sb->endpoints)
        if (e.network_id == a.network_id) ep = &e;
    spec::EndpointSettings s = EndpointSettingsLocked(a, ep);
    // Docker fills the top-level fields from the default bridge only.
    if (nit->second->spec.name == "bridge" && nit->second->builtin && ep) {
      out.endpoint_id = s.endpoint_id;
      out.gateway = s.gateway;
      out.ip_address = s.ip_address;
      out.ip_prefix_len = s.ip_prefix_len;
      out.mac_address = s.mac_address;
      out.ipv6_gateway = s.ipv6_gateway;
      out.global_ipv6_address = s.global_ipv6_address;
      out.global_ipv6_prefix_len = s.global_ipv6_prefix_len;
    }
    out.networks[nit->second->spec.name] = std::move(s);
  }
  if (sb)
    for (auto& p : sb->ports) {
      auto& list = out.ports[std::to_string(p.container_port) + "/" + p.proto];
      if (!list) list.emplace();
      // As Docker, a port published on both families is listed once per family.
      if (p.host_ip.find(':') == std::string::npos)
        list->push_back({p.host_ip.empty() ? "0.0.0.0" : p.host_ip, std::to_string(p.host_port)});
      if (!p.container_ip6.empty())
        list->push_back({p.host_ip.empty() ? "::" : p.host_ip, std::to_string(p.host_port)});
    }
  return out;
}

}  // namespace berth::network
