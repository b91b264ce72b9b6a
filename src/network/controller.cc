#include "network/controller.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"
#include "network/dns/server.h"
#include "network/resolv.h"
#include "spdlog/spdlog.h"
#include "sys/fs.h"

namespace berth::network {

using nlohmann::json;

struct Controller::Network {
  NetworkSpec spec;
  std::string created;
  std::string pool_id;  // "" for host/null
  json ipam_config = json::array();
  json ipam_options = nullptr;
  json labels = json::object();
  bool attachable = false;
  bool builtin = false;

  bool UserDefined() const { return !builtin; }
  json ToDoc() const {
    return {{"id", spec.id}, {"name", spec.name}, {"driver", spec.driver},
            {"subnet", spec.subnet}, {"gateway", spec.gateway}, {"internal", spec.internal},
            {"options", spec.options}, {"ifname", spec.ifname}, {"mtu", spec.mtu},
            {"created", created}, {"pool_id", pool_id}, {"ipam_config", ipam_config},
            {"ipam_options", ipam_options}, {"labels", labels}, {"attachable", attachable},
            {"builtin", builtin}};
  }
  static std::unique_ptr<Network> FromDoc(const json& d) {
    auto n = std::make_unique<Network>();
    n->spec.id = d.value("id", "");
    n->spec.name = d.value("name", "");
    n->spec.driver = d.value("driver", "");
    n->spec.subnet = d.value("subnet", "");
    n->spec.gateway = d.value("gateway", "");
    n->spec.internal = d.value("internal", false);
    n->spec.options = d.value("options", std::map<std::string, std::string>{});
    n->spec.ifname = d.value("ifname", "");
    n->spec.mtu = d.value("mtu", 1500);
    n->created = d.value("created", "");
    n->pool_id = d.value("pool_id", "");
    n->ipam_config = d.value("ipam_config", json::array());
    n->ipam_options = d.value("ipam_options", json(nullptr));
    n->labels = d.value("labels", json::object());
    n->attachable = d.value("attachable", false);
    n->builtin = d.value("builtin", false);
    return n;
  }
};

// A container's membership of one network (kept while the container exists).
struct Controller::Attachment {
  std::string network_id;
  std::vector<std::string> aliases;
  std::string static_ip;
  std::string mac;
  json ipam_config = nullptr;
  json ToDoc() const {
    return {{"network_id", network_id}, {"aliases", aliases}, {"static_ip", static_ip},
            {"mac", mac}, {"ipam_config", ipam_config}};
  }
  // From an EndpointSettings of a create or connect request: aliases and the IPAM config.
  static Attachment FromEndpointConfig(const std::string& network_id, const json& cfg) {
    Attachment a;
    a.network_id = network_id;
    if (!cfg.is_object()) return a;
    if (cfg.contains("Aliases") && cfg["Aliases"].is_array())
      for (auto& al : cfg["Aliases"]) a.aliases.push_back(al.get<std::string>());
    json ipamc = cfg.value("IPAMConfig", json(nullptr));
    if (ipamc.is_object()) {
      a.static_ip = ipamc.value("IPv4Address", "");
      a.ipam_config = ipamc;
    }
    return a;
  }
  static Attachment FromDoc(const json& d) {
    Attachment a;
    a.network_id = d.value("network_id", "");
    a.aliases = d.value("aliases", std::vector<std::string>{});
    a.static_ip = d.value("static_ip", "");
    a.mac = d.value("mac", "");
    a.ipam_config = d.value("ipam_config", json(nullptr));
    return a;
  }
};

struct Controller::ContainerNet {
  std::string id;
  std::string name;
  std::string mode;  // "bridge"-like (networks below), "host", "none", "container:<id>"
  std::vector<Attachment> attachments;
  std::vector<std::string> dns;     // --dns: where the embedded DNS forwards this container's queries
  std::vector<std::string> search;  // the search domains of its resolv.conf
  json ToDoc() const {
    json a = json::array();
    for (auto& x : attachments) a.push_back(x.ToDoc());
    return {{"id", id}, {"name", name}, {"mode", mode}, {"attachments", a}, {"dns", dns}, {"search", search}};
  }
};

struct Controller::Endpoint {
  EndpointSpec spec;
  std::string network_id;
};

struct Controller::PortMap {
  std::string proto;
  std::string host_ip;
  int host_port;
  int container_port;
  std::string container_ip;
  std::string bridge;
  std::string network_id;
};

struct Controller::SandboxState {
  std::string container_id;
  std::string id;    // SandboxID
  std::string path;  // SandboxKey
  std::optional<sys::NetNs> ns;
  std::unique_ptr<sys::Rtnl> rtnl;
  std::vector<Endpoint> endpoints;
  std::vector<PortMap> ports;
  std::vector<UniqueFd> reservations;  // bound sockets holding the published host ports
  bool dns = false;
  int next_if = 0;

  json ToDoc() const {
    json eps = json::array();
    for (auto& e : endpoints)
      eps.push_back({{"id", e.spec.id}, {"ifname", e.spec.ifname}, {"host_ifname", e.spec.host_ifname},
                     {"ip", e.spec.ip}, {"prefix", e.spec.prefix}, {"mac", e.spec.mac},
                     {"default_route", e.spec.default_route}, {"network_id", e.network_id}});
    json ports_j = json::array();
    for (auto& p : ports)
      ports_j.push_back({{"proto", p.proto}, {"host_ip", p.host_ip}, {"host_port", p.host_port},
                         {"container_port", p.container_port}, {"container_ip", p.container_ip},
                         {"bridge", p.bridge}, {"network_id", p.network_id}});
    return {{"container_id", container_id}, {"id", id}, {"path", path}, {"endpoints", eps},
            {"ports", ports_j}, {"dns", dns}, {"next_if", next_if}};
  }
};

namespace {

std::string RandomHex(size_t n) { return NewId().substr(0, n); }

bool ParseBoolOpt(const std::map<std::string, std::string>& opts, const std::string& key, bool def) {
  auto it = opts.find(key);
  if (it == opts.end()) return def;
  return it->second == "true" || it->second == "1";
}

int PrefixOf(const std::string& subnet) {
  auto slash = subnet.find('/');
  return slash == std::string::npos ? 32 : std::atoi(subnet.c_str() + slash + 1);
}

// Holds host_ip:port for a published port: ports in use on the host are refused, as with
// Docker's proxy, and nothing else can take the port while the mapping lives. The socket is
// bound, never listening: the kernel's DNAT sends the traffic to the container.
StatusOr<UniqueFd> ReservePort(const std::string& proto, const std::string& host_ip, int port) {
  UniqueFd fd(::socket(AF_INET, (proto == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus(errno, "socket");
  struct sockaddr_in sa = {};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  std::string ip = host_ip.empty() ? "0.0.0.0" : host_ip;
  if (::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1)
    return absl::InvalidArgumentError("invalid host IP " + ip);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    int e = errno;
    if (e == EADDRINUSE)
      return absl::AlreadyExistsError("Bind for " + ip + ":" + std::to_string(port) +
                                      " failed: port is already allocated");
    return ErrnoStatus(e, "listen " + proto + " " + ip + ":" + std::to_string(port));
  }
  return fd;
}

}  // namespace

Controller::Controller(engine::Store& store, engine::EventBus& events, const Clock& clock,
                       ControllerOptions opts, firewall::Firewall& firewall, dns::Server* dns)
    : store_(store), events_(events), clock_(clock), opts_(std::move(opts)), firewall_(firewall), dns_(dns) {}

Controller::~Controller() = default;

Driver* Controller::DriverFor(const std::string& driver) {
  if (driver == "bridge") return bridge_driver_.get();
  if (driver == "macvlan") return macvlan_driver_.get();
  return nullptr;
}

Status Controller::PersistNetworkLocked(const Network& n) {
  return store_.Put("network", n.spec.id, n.spec.name, n.ToDoc());
}
namespace {

// The IPAM state as stored: the pools only. Which addresses are in use is not stored here but
// derived from the sandboxes of running containers, written together with their endpoints.
json PoolsOnly(json state) {
  if (state.contains("pools"))
    for (auto& p : state["pools"]) p.erase("allocated");
  return state;
}

}  // namespace

Status Controller::PersistIpamLocked() { return store_.Put("ipam", "state", "", PoolsOnly(ipam_->Save())); }
Status Controller::PersistContainerLocked(const ContainerNet& c) {
  return store_.Put("netattach", c.id, "", c.ToDoc());
}
Status Controller::PersistSandboxLocked(const SandboxState& s) {
  return store_.Put("sandbox", s.container_id, "", s.ToDoc());
}

Controller::Network* Controller::FindNetworkLocked(const std::string& name, Status* st) {
  if (auto it = networks_.find(name); it != networks_.end()) return it->second.get();
  for (auto& [id, n] : networks_)
    if (n->spec.name == name) return n.get();
  Network* found = nullptr;
  int matches = 0;
  if (IsHexPrefix(name))
    for (auto& [id, n] : networks_)
      if (absl::StartsWith(id, name)) {
        found = n.get();
        ++matches;
      }
  if (matches == 1) return found;
  *st = absl::NotFoundError("network " + name + " not found");
  return nullptr;
}

Status Controller::ApplyFirewallLocked() {
  firewall::Model m;
  for (auto& [id, n] : networks_) {
    if (n->spec.driver != "bridge") continue;
    firewall::Bridge b;
    b.ifname = n->spec.ifname;
    b.subnet = n->spec.subnet;
    b.gateway = n->spec.gateway;
    b.masquerade = ParseBoolOpt(n->spec.options, "com.docker.network.bridge.enable_ip_masquerade", true);
    b.icc = ParseBoolOpt(n->spec.options, "com.docker.network.bridge.enable_icc", true);
    b.internal = n->spec.internal;
    m.bridges.push_back(b);
  }
  for (auto& [cid, sb] : sandboxes_)
    for (auto& p : sb->ports) {
      firewall::PortMapping pm;
      pm.proto = p.proto;
      pm.host_ip = p.host_ip;
      pm.host_port = p.host_port;
      pm.container_ip = p.container_ip;
      pm.container_port = p.container_port;
      pm.bridge = p.bridge;
      m.ports.push_back(pm);
    }
  return Annotate(firewall_.Apply(m), "firewall");
}

// ---------------------------------------------------------------------------------------------
// Recovery

Status Controller::Recover() {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(host_rtnl_, sys::Rtnl::Open(nullptr));
  bridge_driver_ = std::make_unique<BridgeDriver>(*host_rtnl_);
  macvlan_driver_ = std::make_unique<MacvlanDriver>(*host_rtnl_);
  RETURN_IF_ERROR(sys::MkdirAll(opts_.exec_root + "/netns", 0755));
  (void)sys::WriteSysctl(nullptr, "net.ipv4.ip_forward", "1");
  if (auto st = store_.Get("ipam", "state")) {
    // The pools; the addresses in use are taken again from the sandboxes below. (PoolsOnly also
    // drops the allocations that states written before this rule still carry.)
    auto loaded = ipam::Allocator::Load(PoolsOnly(st->doc));
    if (!loaded.ok()) return Annotate(loaded.status(), "load IPAM state");
    ipam_ = std::move(*loaded);
  } else {
    ipam_ = std::make_unique<ipam::Allocator>();
  }
  for (auto& o : store_.List("network")) {
    auto n = Network::FromDoc(o.doc);
    if (!n->spec.id.empty()) networks_[n->spec.id] = std::move(n);
  }
  for (auto& o : store_.List("netattach")) {
    auto c = std::make_unique<ContainerNet>();
    c->id = o.doc.value("id", "");
    c->name = o.doc.value("name", "");
    c->mode = o.doc.value("mode", "");
    c->dns = o.doc.value("dns", std::vector<std::string>{});
    c->search = o.doc.value("search", std::vector<std::string>{});
    for (auto& a : o.doc.value("attachments", json::array())) c->attachments.push_back(Attachment::FromDoc(a));
    containers_[c->id] = std::move(c);
  }
  // The predefined networks exist from the first start.
  auto have = [&](const std::string& name) {
    for (auto& [id, n] : networks_)
      if (n->spec.name == name) return true;
    return false;
  };
  for (const char* name : {"bridge", "host", "none"}) {
    if (have(name)) continue;
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
      RETURN_IF_ERROR(CreateNetworkLocked(n.get(), req));
      n->ipam_config = json::array({{{"Subnet", n->spec.subnet}}});
      RETURN_IF_ERROR(PersistNetworkLocked(*n));
    } else {
      n->ipam_config = json::array();
      RETURN_IF_ERROR(PersistNetworkLocked(*n));
    }
    networks_[n->spec.id] = std::move(n);
  }
  // Bridges that a reboot or crash took away are made again.
  for (auto& [id, n] : networks_) {
    if (n->spec.driver != "bridge") continue;
    Status st = bridge_driver_->CreateNetwork(&n->spec);
    if (!st.ok()) spdlog::warn("network {}: {}", n->spec.name, st.ToString());
  }
  // Sandboxes of containers that were running when berthd stopped.
  for (auto& o : store_.List("sandbox")) {
    auto sb = std::make_unique<SandboxState>();
    sb->container_id = o.doc.value("container_id", "");
    sb->id = o.doc.value("id", "");
    sb->path = o.doc.value("path", "");
    sb->dns = o.doc.value("dns", false);
    sb->next_if = o.doc.value("next_if", 0);
    for (auto& e : o.doc.value("endpoints", json::array())) {
      Endpoint ep;
      ep.spec.id = e.value("id", "");
      ep.spec.ifname = e.value("ifname", "");
      ep.spec.host_ifname = e.value("host_ifname", "");
      ep.spec.ip = e.value("ip", "");
      ep.spec.prefix = e.value("prefix", 24);
      ep.spec.mac = e.value("mac", "");
      ep.spec.default_route = e.value("default_route", false);
      ep.network_id = e.value("network_id", "");
      sb->endpoints.push_back(ep);
    }
    for (auto& p : o.doc.value("ports", json::array()))
      sb->ports.push_back(PortMap{p.value("proto", "tcp"), p.value("host_ip", ""), p.value("host_port", 0),
                                  p.value("container_port", 0), p.value("container_ip", ""),
                                  p.value("bridge", ""), p.value("network_id", "")});
    auto ns = sys::NetNs::Open(sb->path);
    if (ns.ok()) {
      sb->ns = std::move(*ns);
      auto r = sys::Rtnl::Open(&*sb->ns);
      if (r.ok()) sb->rtnl = std::move(*r);
    }
    for (auto& e : sb->endpoints) {
      auto nit = networks_.find(e.network_id);
      if (nit == networks_.end() || e.spec.ip.empty()) continue;
      auto got = ipam_->RequestAddress(nit->second->pool_id, e.spec.ip);
      if (!got.ok()) spdlog::warn("sandbox {}: address {}: {}", sb->container_id, e.spec.ip, got.status().ToString());
    }
    sandboxes_[sb->container_id] = std::move(sb);
  }
  return absl::OkStatus();
}

Status Controller::Reconcile(const std::set<std::string>& running) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> dead;
  for (auto& [cid, sb] : sandboxes_)
    if (!running.count(cid) || !sb->ns) dead.push_back(cid);
  for (auto& cid : dead) TeardownLocked(cid);
  for (auto& [cid, sb] : sandboxes_) {
    // Re-take the published ports and the DNS server of the adopted containers.
    for (auto& p : sb->ports) {
      auto fd = ReservePort(p.proto, p.host_ip, p.host_port);
      if (fd.ok()) sb->reservations.push_back(std::move(*fd));
    }
    if (Status st = ServeDnsLocked(*sb); !st.ok()) spdlog::warn("container {}: {}", cid, st.ToString());
  }
  // Kernel objects we named ourselves that nothing owns: veths without an endpoint, bridges
  // without a network, namespaces without a sandbox.
  std::set<std::string> veths, bridges, paths;
  for (auto& [cid, sb] : sandboxes_) {
    paths.insert(sb->path);
    for (auto& e : sb->endpoints) veths.insert(e.spec.host_ifname);
  }
  for (auto& [id, n] : networks_)
    if (n->spec.driver == "bridge") bridges.insert(n->spec.ifname);
  if (auto links = host_rtnl_->ListLinks(); links.ok()) {
    for (auto& l : *links) {
      bool ours_veth = l.kind == "veth" && absl::StartsWith(l.name, "veth") && l.name.size() == 11;
      bool ours_bridge = l.kind == "bridge" && (absl::StartsWith(l.name, "br-") || l.name == opts_.default_bridge);
      if ((ours_veth && !veths.count(l.name)) || (ours_bridge && !bridges.count(l.name))) {
        spdlog::info("removing orphan link {}", l.name);
        (void)host_rtnl_->DeleteLink(l.name);
      }
    }
  }
  if (auto files = sys::ListDir(opts_.exec_root + "/netns"); files.ok())
    for (auto& f : *files) {
      std::string p = opts_.exec_root + "/netns/" + f;
      if (!paths.count(p)) (void)sys::NetNs::Remove(p);
    }
  return ApplyFirewallLocked();
}

// ---------------------------------------------------------------------------------------------
// Networks

Status Controller::CreateNetworkLocked(Network* n, const ipam::PoolRequest& req) {
  Driver* d = DriverFor(n->spec.driver);
  if (d == nullptr) return absl::OkStatus();  // host, null
  ASSIGN_OR_RETURN(ipam::Pool pool, ipam_->RequestPool(req));
  n->pool_id = pool.id;
  n->spec.subnet = pool.subnet;
  n->spec.gateway = pool.gateway;
  Status st = d->CreateNetwork(&n->spec);
  if (!st.ok()) {
    (void)ipam_->ReleasePool(pool.id);
    return st;
  }
  st = PersistIpamLocked();
  if (!st.ok()) {
    (void)d->DeleteNetwork(n->spec);
    (void)ipam_->ReleasePool(pool.id);
  }
  return st;
}

StatusOr<json> Controller::CreateNetwork(const json& body) {
  if (!body.is_object()) return absl::InvalidArgumentError("invalid JSON body");
  std::string name = body.value("Name", "");
  if (name.empty()) return absl::InvalidArgumentError("network name is required");
  std::string driver = body.value("Driver", "");
  if (driver.empty()) driver = "bridge";
  json ipam = body.value("IPAM", json::object());
  if (!ipam.is_object()) ipam = json::object();
  std::string ipam_driver = ipam.value("Driver", "");
  if (!ipam_driver.empty() && ipam_driver != "default")
    return absl::NotFoundError("plugin \"" + ipam_driver + "\" not found");
  if (driver == "host" || driver == "null")
    return absl::PermissionDeniedError("only one instance of \"" + driver + "\" network is allowed");
  if (driver == "ipvlan")
    return absl::UnimplementedError("ipvlan: this kernel has no ipvlan support (CONFIG_IPVLAN); use macvlan");
  if (driver == "overlay")
    return absl::UnavailableError(
        "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to "
        "connect this node to swarm and try again.");
  if (driver != "bridge" && driver != "macvlan")
    return absl::NotFoundError("plugin \"" + driver + "\" not found");
  if (body.value("EnableIPv6", false))
    return absl::InvalidArgumentError("IPv6 networks are not supported by Berth yet");

  auto n = std::make_unique<Network>();
  n->spec.id = NewId();
  n->spec.name = name;
  n->spec.driver = driver;
  n->spec.internal = body.value("Internal", false);
  n->attachable = body.value("Attachable", false);
  n->created = FormatRfc3339Nano(clock_.Now());
  if (body.contains("Options") && body["Options"].is_object())
    for (auto& [k, v] : body["Options"].items())
      if (v.is_string()) n->spec.options[k] = v.get<std::string>();
  if (body.contains("Labels") && body["Labels"].is_object()) n->labels = body["Labels"];
  n->ipam_options = ipam.value("Options", json::object());
  if (!n->ipam_options.is_object()) n->ipam_options = json::object();

  ipam::PoolRequest req;
  json configs = ipam.value("Config", json::array());
  if (!configs.is_array()) configs = json::array();
  if (configs.size() > 1)
    return absl::InvalidArgumentError("Berth supports one IPv4 subnet per network");
  if (!configs.empty()) {
    const json& c = configs[0];
    req.subnet = c.value("Subnet", "");
    req.ip_range = c.value("IPRange", "");
    req.gateway = c.value("Gateway", "");
    if (c.contains("AuxiliaryAddresses") && c["AuxiliaryAddresses"].is_object())
      for (auto& [k, v] : c["AuxiliaryAddresses"].items()) req.aux[k] = v.get<std::string>();
    if (req.subnet.empty() && (!req.ip_range.empty() || !req.gateway.empty() || !req.aux.empty())) {
      std::string what = !req.gateway.empty() ? "gateway " + req.gateway
                        : !req.ip_range.empty() ? "range " + req.ip_range
                                                : "aux-address " + req.aux.begin()->second;
      return absl::InvalidArgumentError("no matching subnet for " + what);
    }
  }

  std::lock_guard<std::mutex> lock(mu_);
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
    auto hb = n->spec.options.find("com.docker.network.bridge.host_binding_ipv4");
    if (hb != n->spec.options.end() && !ipam::ParseIp(hb->second).ok())
      return absl::InvalidArgumentError("invalid host_binding_ipv4 \"" + hb->second + "\"");
  }
  RETURN_IF_ERROR(CreateNetworkLocked(n.get(), req));
  json cfg = {{"Subnet", n->spec.subnet}};
  if (!req.gateway.empty() || !configs.empty()) cfg["Gateway"] = n->spec.gateway;
  if (!req.ip_range.empty()) cfg["IPRange"] = req.ip_range;
  if (!req.aux.empty()) cfg["AuxiliaryAddresses"] = req.aux;
  if (configs.empty()) cfg["Gateway"] = n->spec.gateway;
  n->ipam_config = json::array({cfg});
  Status st = PersistNetworkLocked(*n);
  if (st.ok()) {
    Network* added = n.get();
    networks_[n->spec.id] = std::move(n);
    st = ApplyFirewallLocked();
    if (!st.ok()) {
      // Nothing half-made: the firewall refused, so the network goes again.
      if (Driver* d = DriverFor(added->spec.driver)) (void)d->DeleteNetwork(added->spec);
      (void)ipam_->ReleasePool(added->pool_id);
      (void)store_.Delete("network", added->spec.id);
      (void)PersistIpamLocked();
      std::string gone = added->spec.id;
      networks_.erase(gone);
      return st;
    }
    events_.Publish("network", "create", added->spec.id, {{"name", name}, {"type", driver}});
    return json{{"Id", added->spec.id}, {"Warning", ""}};
  }
  if (Driver* d = DriverFor(n->spec.driver)) (void)d->DeleteNetwork(n->spec);
  (void)ipam_->ReleasePool(n->pool_id);
  (void)PersistIpamLocked();
  return st;
}

json Controller::InspectLocked(const Network& n) {
  json containers = json::object();
  for (auto& [cid, sb] : sandboxes_)
    for (auto& e : sb->endpoints) {
      if (e.network_id != n.spec.id) continue;
      auto c = containers_.find(cid);
      containers[cid] = {{"Name", c == containers_.end() ? "" : c->second->name},
                         {"EndpointID", e.spec.id},
                         {"MacAddress", e.spec.mac},
                         {"IPv4Address", e.spec.ip + "/" + std::to_string(e.spec.prefix)},
                         {"IPv6Address", ""}};
    }
  json options = json::object();
  for (auto& [k, v] : n.spec.options) options[k] = v;
  return {{"Name", n.spec.name},
          {"Id", n.spec.id},
          {"Created", n.created},
          {"Scope", "local"},
          {"Driver", n.spec.driver},
          {"EnableIPv6", false},
          {"IPAM", {{"Driver", "default"}, {"Options", n.ipam_options}, {"Config", n.ipam_config}}},
          {"Internal", n.spec.internal},
          {"Attachable", n.attachable},
          {"Ingress", false},
          {"ConfigFrom", {{"Network", ""}}},
          {"ConfigOnly", false},
          {"Containers", containers},
          {"Options", options},
          {"Labels", n.labels}};
}

StatusOr<json> Controller::InspectNetwork(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Status st;
  Network* n = FindNetworkLocked(name, &st);
  if (!n) return st;
  return InspectLocked(*n);
}

StatusOr<std::vector<json>> Controller::ListNetworks(const json& filters_json) {
  std::map<std::string, std::vector<std::string>> filters;
  if (filters_json.is_object())
    for (auto& [k, v] : filters_json.items()) {
      if (v.is_object())
        for (auto& [val, on] : v.items()) filters[k].push_back(val);
      else if (v.is_array())
        for (auto& e : v) filters[k].push_back(e.get<std::string>());
    }
  for (auto& [k, v] : filters)
    if (k != "name" && k != "id" && k != "driver" && k != "label" && k != "type" && k != "scope" &&
        k != "dangling")
      return absl::InvalidArgumentError("invalid filter '" + k + "'");
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<json> out;
  for (auto& [id, n] : networks_) {
    auto any = [&](const std::string& key, auto pred) {
      auto it = filters.find(key);
      if (it == filters.end()) return true;
      for (auto& v : it->second)
        if (pred(v)) return true;
      return false;
    };
    if (!any("name", [&](const std::string& v) { return absl::StrContains(n->spec.name, v); })) continue;
    if (!any("id", [&](const std::string& v) { return absl::StartsWith(id, v); })) continue;
    if (!any("driver", [&](const std::string& v) { return n->spec.driver == v; })) continue;
    if (!any("scope", [&](const std::string& v) { return v == "local"; })) continue;
    if (!any("type", [&](const std::string& v) {
          return (v == "builtin" && n->builtin) || (v == "custom" && !n->builtin);
        }))
      continue;
    if (!any("label", [&](const std::string& v) {
          auto eq = v.find('=');
          if (eq == std::string::npos) return n->labels.contains(v);
          return n->labels.contains(v.substr(0, eq)) && n->labels[v.substr(0, eq)] == v.substr(eq + 1);
        }))
      continue;
    json j = InspectLocked(*n);
    j["Containers"] = json::object();  // docker's list leaves them out
    out.push_back(j);
  }
  return out;
}

Status Controller::RemoveNetwork(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  Status st;
  Network* n = FindNetworkLocked(name, &st);
  if (!n) return st;
  if (n->builtin)
    return absl::PermissionDeniedError(n->spec.name + " is a pre-defined network and cannot be removed");
  for (auto& [cid, c] : containers_)
    for (auto& a : c->attachments)
      if (a.network_id == n->spec.id)
        return absl::PermissionDeniedError("error while removing network: network " + n->spec.name +
                                           " id " + n->spec.id + " has active endpoints");
  if (Driver* d = DriverFor(n->spec.driver)) RETURN_IF_ERROR(d->DeleteNetwork(n->spec));
  if (!n->pool_id.empty()) (void)ipam_->ReleasePool(n->pool_id);
  std::string id = n->spec.id;
  RETURN_IF_ERROR(store_.Batch([&]() -> Status {
    RETURN_IF_ERROR(store_.Delete("network", id));
    return PersistIpamLocked();
  }));
  events_.Publish("network", "destroy", id, {{"name", n->spec.name}, {"type", n->spec.driver}});
  networks_.erase(id);
  return ApplyFirewallLocked();
}

StatusOr<json> Controller::Prune(const json& filters) {
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, n] : networks_) {
      if (n->builtin) continue;
      bool used = false;
      for (auto& [cid, c] : containers_)
        for (auto& a : c->attachments) used |= a.network_id == id;
      if (!used) names.push_back(n->spec.name);
    }
  }
  json deleted = json::array();
  for (auto& n : names)
    if (RemoveNetwork(n).ok()) deleted.push_back(n);
  return json{{"NetworksDeleted", deleted.empty() ? json(nullptr) : deleted}};
}

// ---------------------------------------------------------------------------------------------
// Containers: attachments

Status Controller::Validate(const json& hc, const json& net) {
  RETURN_IF_ERROR(ValidateDnsConfig(hc));
  std::string mode = hc.value("NetworkMode", "default");
  if (absl::StartsWith(mode, "container:") && lookup_) {
    // Before taking mu_: the lookup inspects the container, which asks us for its settings.
    auto ref = lookup_(mode.substr(10));
    if (!ref.ok()) return ref.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::StartsWith(mode, "container:")) {
    if (hc.contains("PortBindings") && hc["PortBindings"].is_object() && !hc["PortBindings"].empty())
      return absl::InvalidArgumentError(
          "conflicting options: port publishing and the container type network mode");
    return absl::OkStatus();
  }
  std::string primary = mode == "default" ? "bridge" : mode;
  Status st;
  // An unknown network is the request's fault (400): a 404 would make the docker CLI try to pull
  // the image. Docker itself creates the container and fails its start; we create nothing.
  auto bad_request = [](const Status& st) { return absl::InvalidArgumentError(st.message()); };
  Network* n = FindNetworkLocked(primary, &st);
  if (!n) return bad_request(st);
  if ((n->spec.driver == "host" || n->spec.driver == "null") && hc.contains("PortBindings") &&
      hc["PortBindings"].is_object() && !hc["PortBindings"].empty() && n->spec.driver == "null")
    return absl::InvalidArgumentError("conflicting options: port publishing and the container type network mode");
  // A fixed host port that a running container already publishes: refused now, so the second
  // container is not even created (Docker creates it and fails the start).
  if (hc.contains("PortBindings") && hc["PortBindings"].is_object()) {
    for (auto& [port, list] : hc["PortBindings"].items()) {
      if (!list.is_array()) continue;
      std::string proto = port.find('/') == std::string::npos ? "tcp" : port.substr(port.find('/') + 1);
      for (auto& b : list) {
        if (!b.is_object()) continue;
        int hp = 0;
        if (!absl::SimpleAtoi(b.value("HostPort", ""), &hp) || hp == 0) continue;
        std::string ip = b.value("HostIp", "");
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
  }
  json eps = net.is_object() ? net.value("EndpointsConfig", json::object()) : json::object();
  if (!eps.is_object()) eps = json::object();
  for (auto& [netname, cfg] : eps.items()) {
    std::string key = netname == "default" ? primary : netname;
    Network* m = FindNetworkLocked(key, &st);
    if (!m) return bad_request(st);
    if (!cfg.is_object()) continue;
    json ipamc = cfg.value("IPAMConfig", json(nullptr));
    std::string ip = ipamc.is_object() ? ipamc.value("IPv4Address", "") : "";
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
    if (cfg.contains("Aliases") && cfg["Aliases"].is_array() && !cfg["Aliases"].empty() && m->builtin)
      return absl::InvalidArgumentError("network-scoped alias is supported only for containers in user defined networks");
  }
  return absl::OkStatus();
}

Status Controller::Attach(const std::string& id, const std::string& name, const json& hc,
                          const json& net) {
  std::string mode = hc.value("NetworkMode", "default");
  std::lock_guard<std::mutex> lock(mu_);
  auto c = std::make_unique<ContainerNet>();
  c->id = id;
  c->name = name;
  c->mode = mode;
  c->dns = DnsUpstreams(hc);
  c->search = SearchDomains(hc);
  if (!absl::StartsWith(mode, "container:")) {
    std::string primary = mode == "default" ? "bridge" : mode;
    json eps = net.is_object() ? net.value("EndpointsConfig", json::object()) : json::object();
    if (!eps.is_object()) eps = json::object();
    std::vector<std::string> order = {primary};
    for (auto& [k, v] : eps.items())
      if (k != primary && k != "default") order.push_back(k);
    for (auto& netname : order) {
      Status st;
      Network* n = FindNetworkLocked(netname, &st);
      if (!n) return st;
      json cfg = eps.contains(netname) ? eps[netname] : (netname == primary && eps.contains("default") ? eps["default"] : json::object());
      Attachment a = Attachment::FromEndpointConfig(n->spec.id, cfg);
      if (cfg.is_object()) a.mac = cfg.value("MacAddress", "");
      c->attachments.push_back(a);
    }
  }
  RETURN_IF_ERROR(PersistContainerLocked(*c));
  containers_[id] = std::move(c);
  return absl::OkStatus();
}

void Controller::Detach(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  TeardownLocked(id);
  containers_.erase(id);
  (void)store_.Delete("netattach", id);
}

void Controller::Rename(const std::string& id, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return;
  it->second->name = name;
  (void)PersistContainerLocked(*it->second);
}

// ---------------------------------------------------------------------------------------------
// Sandboxes and endpoints

Status Controller::JoinLocked(SandboxState& sb, ContainerNet& c, Attachment& a, bool first) {
  auto nit = networks_.find(a.network_id);
  if (nit == networks_.end()) return absl::NotFoundError("network " + a.network_id + " not found");
  Network& n = *nit->second;
  Driver* d = DriverFor(n.spec.driver);
  if (d == nullptr) return absl::OkStatus();  // host/null: no endpoint
  for (auto& e : sb.endpoints)
    if (e.network_id == n.spec.id)
      return absl::PermissionDeniedError("endpoint with name " + c.name + " already exists in network " +
                                         n.spec.name);
  ASSIGN_OR_RETURN(std::string ip, ipam_->RequestAddress(n.pool_id, a.static_ip));
  Endpoint ep;
  ep.network_id = n.spec.id;
  ep.spec.id = NewId();
  ep.spec.ifname = "eth" + std::to_string(sb.next_if);
  ep.spec.host_ifname = "veth" + RandomHex(7);
  ep.spec.ip = ip;
  ep.spec.prefix = PrefixOf(n.spec.subnet);
  auto ipnum = ipam::ParseIp(ip);
  ep.spec.mac = !a.mac.empty() ? a.mac : ipam::MacFromIp(*ipnum);
  ep.spec.default_route = first;
  Status st = d->Join(n.spec, &ep.spec, *sb.ns, *sb.rtnl);
  if (!st.ok()) {
    (void)ipam_->ReleaseAddress(n.pool_id, ip);
    return st;
  }
  sb.next_if++;
  sb.endpoints.push_back(ep);
  if (n.UserDefined()) sb.dns = true;
  events_.Publish("network", "connect", n.spec.id, {{"container", c.id}, {"name", n.spec.name}, {"type", n.spec.driver}});
  return absl::OkStatus();
}

void Controller::LeaveLocked(SandboxState& sb, const std::string& network_id, bool sandbox_going) {
  for (auto it = sb.endpoints.begin(); it != sb.endpoints.end(); ++it) {
    if (it->network_id != network_id) continue;
    auto nit = networks_.find(network_id);
    if (nit != networks_.end()) {
      if (sandbox_going && nit->second->spec.driver == "bridge") {
        // The sandbox is being removed: deleting a veth costs ~8 ms of kernel time that nobody
        // needs to wait for (a stopped container's run --rm, rm -f). The reaper deletes it.
        bridge_driver_->DeleteLater(it->spec.host_ifname);
      } else if (Driver* d = DriverFor(nit->second->spec.driver)) {
        Status st = d->Leave(nit->second->spec, it->spec, sb.rtnl.get());
        if (!st.ok()) spdlog::warn("leave {}: {}", nit->second->spec.name, st.ToString());
      }
      (void)ipam_->ReleaseAddress(nit->second->pool_id, it->spec.ip);
      events_.Publish("network", "disconnect", network_id,
                      {{"container", sb.container_id}, {"name", nit->second->spec.name}, {"type", nit->second->spec.driver}});
    }
    sb.endpoints.erase(it);
    break;
  }
  // Ports published through that endpoint go with it.
  std::vector<PortMap> keep;
  std::vector<UniqueFd> keep_fds;
  for (size_t i = 0; i < sb.ports.size(); ++i) {
    if (sb.ports[i].network_id == network_id) continue;
    keep.push_back(sb.ports[i]);
    if (i < sb.reservations.size()) keep_fds.push_back(std::move(sb.reservations[i]));
  }
  sb.ports = keep;
  sb.reservations = std::move(keep_fds);
}

Status Controller::PublishPortsLocked(SandboxState& sb, ContainerNet& c, const json& config,
                                      const json& hc) {
  // Published ports go through the first bridge endpoint, as in Docker.
  const Endpoint* ep = nullptr;
  Network* n = nullptr;
  for (auto& e : sb.endpoints) {
    auto it = networks_.find(e.network_id);
    if (it != networks_.end() && it->second->spec.driver == "bridge") {
      ep = &e;
      n = it->second.get();
      break;
    }
  }
  json bindings = hc.value("PortBindings", json::object());
  if (!bindings.is_object()) bindings = json::object();
  if (hc.value("PublishAllPorts", false) && config.contains("ExposedPorts") && config["ExposedPorts"].is_object())
    for (auto& [port, v] : config["ExposedPorts"].items())
      if (!bindings.contains(port)) bindings[port] = json::array({json::object()});
  if (bindings.empty() || ep == nullptr) return absl::OkStatus();
  std::string default_ip = "";
  if (auto hb = n->spec.options.find("com.docker.network.bridge.host_binding_ipv4");
      hb != n->spec.options.end() && hb->second != "0.0.0.0")
    default_ip = hb->second;
  // Ephemeral ports: the kernel's local port range, as Docker.
  int lo = 32768, hi = 60999;
  if (auto r = sys::ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); r.ok())
    sscanf(r->c_str(), "%d %d", &lo, &hi);
  static std::mt19937 rng(std::random_device{}());
  for (auto& [port, list] : bindings.items()) {
    auto slash = port.find('/');
    std::string proto = slash == std::string::npos ? "tcp" : port.substr(slash + 1);
    int cport = 0;
    if (!absl::SimpleAtoi(port.substr(0, slash), &cport) || cport <= 0 || cport > 65535)
      return absl::InvalidArgumentError("invalid port specification: \"" + port + "\"");
    if (proto != "tcp" && proto != "udp")
      return absl::InvalidArgumentError("invalid proto \"" + proto + "\" (tcp and udp are supported)");
    if (!list.is_array() || list.empty()) list = json::array({json::object()});
    for (auto& b : list) {
      std::string host_ip = b.is_object() ? b.value("HostIp", "") : "";
      std::string hp = b.is_object() ? b.value("HostPort", "") : "";
      if (host_ip.empty()) host_ip = default_ip;
      int first = 0, last = 0;
      if (!hp.empty()) {
        auto dash = hp.find('-');
        if (!absl::SimpleAtoi(hp.substr(0, dash), &first) ||
            (dash != std::string::npos && !absl::SimpleAtoi(hp.substr(dash + 1), &last)))
          return absl::InvalidArgumentError("invalid host port \"" + hp + "\"");
        if (dash == std::string::npos) last = first;
      }
      PortMap pm{proto, host_ip, 0, cport, ep->spec.ip, n->spec.ifname, n->spec.id};
      UniqueFd fd;
      if (first > 0) {
        // A fixed port (or a range, where the first free one is taken).
        Status err;
        for (int p = first; p <= last && !fd.valid(); ++p) {
          auto r = ReservePort(proto, host_ip, p);
          if (r.ok()) {
            fd = std::move(*r);
            pm.host_port = p;
          } else {
            err = r.status();
          }
        }
        if (!fd.valid()) return err;
      } else {
        for (int tries = 0; tries < 200 && !fd.valid(); ++tries) {
          int p = lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1));
          auto r = ReservePort(proto, host_ip, p);
          if (r.ok()) {
            fd = std::move(*r);
            pm.host_port = p;
          }
        }
        if (!fd.valid()) return absl::ResourceExhaustedError("no free host port for " + port);
      }
      sb.ports.push_back(pm);
      sb.reservations.push_back(std::move(fd));
    }
  }
  return absl::OkStatus();
}

Status Controller::ServeDnsLocked(const SandboxState& sb) {
  if (!sb.dns || dns_ == nullptr) return absl::OkStatus();
  auto cit = containers_.find(sb.container_id);
  std::vector<std::string> upstreams = cit == containers_.end() ? std::vector<std::string>{} : cit->second->dns;
  std::string cid = sb.container_id;
  Status st = dns_->AddSandbox(sb.id, sb.path, [this, cid](const std::string& q) { return Resolve(cid, q); },
                               nullptr, std::move(upstreams));
  if (absl::IsAlreadyExists(st)) return absl::OkStatus();  // a hot-plugged second network
  return Annotate(st, "embedded DNS");
}

std::string Controller::DefaultGatewayLocked() const {
  for (auto& [id, n] : networks_)
    if (n->builtin && n->spec.driver == "bridge") return n->spec.gateway;
  return "";
}

StatusOr<engine::NetworkAttacher::Sandbox> Controller::Setup(const std::string& id,
                                                             const std::string& name,
                                                             const json& config, const json& hc,
                                                             const json& net) {
  // container:NAME is looked up before taking mu_: the lookup inspects that container, which asks
  // us for its settings.
  std::optional<StatusOr<ContainerRef>> other;
  if (std::string m = hc.value("NetworkMode", ""); absl::StartsWith(m, "container:")) {
    if (!lookup_) return absl::InternalError("no container lookup");
    other = lookup_(m.substr(10));
  }
  std::lock_guard<std::mutex> lock(mu_);
  TeardownLocked(id);  // a restart reuses nothing of the last run
  auto cit = containers_.find(id);
  if (cit == containers_.end()) {
    // A container from before networks existed: attach it to its mode now.
    auto c = std::make_unique<ContainerNet>();
    c->id = id;
    c->name = name;
    c->mode = hc.value("NetworkMode", "default");
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
  Sandbox out;
  auto host_resolv = sys::ReadFile("/etc/resolv.conf");
  const std::string host_resolv_text = host_resolv.ok() ? *host_resolv : "";
  out.resolv_conf = host_resolv_text;
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
  std::string primary_driver;
  if (!c.attachments.empty()) {
    auto nit = networks_.find(c.attachments[0].network_id);
    if (nit != networks_.end()) primary_driver = nit->second->spec.driver;
  }
  if (primary_driver == "host") {
    out.netns_path = "host";
    out.resolv_conf = ContainerResolvConf({host_resolv_text, false, true}, hc);
    out.hosts_extra = ExtraHostsLines(hc, DefaultGatewayLocked());
    return out;
  }
  auto sb = std::make_unique<SandboxState>();
  sb->container_id = id;
  sb->id = NewId();
  sb->path = opts_.exec_root + "/netns/" + sb->id.substr(0, 12);
  ASSIGN_OR_RETURN(sys::NetNs ns, sys::NetNs::Create(sb->path));
  sb->ns = std::move(ns);
  auto rtnl = sys::Rtnl::Open(&*sb->ns);
  if (!rtnl.ok()) {
    (void)sys::NetNs::Remove(sb->path);
    return rtnl.status();
  }
  sb->rtnl = std::move(*rtnl);
  SandboxState& s = *sb;
  sandboxes_[id] = std::move(sb);
  auto fail = [&](Status st) {
    TeardownLocked(id);
    return st;
  };
  bool first = true;
  for (auto& a : c.attachments) {
    auto nit = networks_.find(a.network_id);
    if (nit == networks_.end()) continue;
    if (nit->second->spec.driver == "null") continue;
    Status st = JoinLocked(s, c, a, first);
    if (!st.ok()) return fail(st);
    first = false;
  }
  if (Status st = PublishPortsLocked(s, c, config, hc); !st.ok()) {
    std::string ep_id = s.endpoints.empty() ? "" : s.endpoints[0].spec.id;
    return fail(absl::Status(st.code(), "driver failed programming external connectivity on endpoint " +
                                            c.name + " (" + ep_id + "): " + std::string(st.message())));
  }
  if (Status st = ApplyFirewallLocked(); !st.ok()) return fail(st);
  if (Status st = PersistSandboxLocked(s); !st.ok()) return fail(st);
  if (Status st = ServeDnsLocked(s); !st.ok()) return fail(st);
  out.resolv_conf = ContainerResolvConf({host_resolv_text, s.dns, false}, hc);
  std::string hostname = config.value("Hostname", "");
  for (auto& e : s.endpoints) out.hosts_extra += e.spec.ip + "\t" + hostname + "\n";
  out.hosts_extra += ExtraHostsLines(hc, DefaultGatewayLocked());
  out.netns_path = s.path;
  return out;
}

void Controller::TeardownLocked(const std::string& id) {
  auto it = sandboxes_.find(id);
  if (it == sandboxes_.end()) return;
  SandboxState& sb = *it->second;
  if (sb.dns && dns_ != nullptr) dns_->RemoveSandbox(sb.id);
  while (!sb.endpoints.empty()) LeaveLocked(sb, sb.endpoints.front().network_id, /*sandbox_going=*/true);
  sb.reservations.clear();
  sb.ports.clear();
  sb.rtnl.reset();
  sb.ns.reset();
  (void)sys::NetNs::Remove(sb.path);
  (void)store_.Delete("sandbox", id);
  sandboxes_.erase(it);
  (void)ApplyFirewallLocked();
}

void Controller::Teardown(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  TeardownLocked(id);
}

// ---------------------------------------------------------------------------------------------
// Connect, disconnect

Status Controller::Connect(const std::string& network, const std::string& container,
                           const json& cfg) {
  if (!lookup_) return absl::InternalError("no container lookup");
  ASSIGN_OR_RETURN(ContainerRef ref, lookup_(container));
  std::lock_guard<std::mutex> lock(mu_);
  Status st;
  Network* n = FindNetworkLocked(network, &st);
  if (!n) return st;
  auto cit = containers_.find(ref.id);
  if (cit == containers_.end()) return absl::NotFoundError("No such container: " + container);
  ContainerNet& c = *cit->second;
  if (n->spec.driver == "host" || n->spec.driver == "null" || c.mode == "host" || c.mode == "none" ||
      absl::StartsWith(c.mode, "container:"))
    return absl::InvalidArgumentError("container cannot be disconnected from host network or connected to host network");
  for (auto& a : c.attachments)
    if (a.network_id == n->spec.id)
      return absl::PermissionDeniedError("endpoint with name " + c.name + " already exists in network " + n->spec.name);
  Attachment a = Attachment::FromEndpointConfig(n->spec.id, cfg);
  if (!a.static_ip.empty() && n->builtin)
    return absl::InvalidArgumentError("user specified IP address is supported on user defined networks only");
  auto sit = sandboxes_.find(ref.id);
  if (ref.running && sit != sandboxes_.end()) {
    // Hot-plug: the new interface appears in the running container.
    RETURN_IF_ERROR(JoinLocked(*sit->second, c, a, sit->second->endpoints.empty()));
    if (Status st = ServeDnsLocked(*sit->second); !st.ok()) spdlog::warn("connect {}: {}", c.name, st.ToString());
    (void)PersistSandboxLocked(*sit->second);
  }
  c.attachments.push_back(a);
  return PersistContainerLocked(c);
}

Status Controller::Disconnect(const std::string& network, const std::string& container, bool force) {
  if (!lookup_) return absl::InternalError("no container lookup");
  ASSIGN_OR_RETURN(ContainerRef ref, lookup_(container));
  std::lock_guard<std::mutex> lock(mu_);
  Status st;
  Network* n = FindNetworkLocked(network, &st);
  if (!n) return st;
  auto cit = containers_.find(ref.id);
  ContainerNet* c = cit == containers_.end() ? nullptr : cit->second.get();
  auto at = c == nullptr ? std::vector<Attachment>::iterator()
                         : std::find_if(c->attachments.begin(), c->attachments.end(),
                                        [&](const Attachment& a) { return a.network_id == n->spec.id; });
  if (c == nullptr || at == c->attachments.end())
    return absl::InternalError("container " + ref.id + " is not connected to network " + n->spec.name);
  if (n->spec.driver == "host")
    return absl::InvalidArgumentError("container cannot be disconnected from host network or connected to host network");
  auto sit = sandboxes_.find(ref.id);
  if (sit != sandboxes_.end()) {
    LeaveLocked(*sit->second, n->spec.id);
    (void)PersistSandboxLocked(*sit->second);
    (void)ApplyFirewallLocked();
  }
  c->attachments.erase(at);
  return PersistContainerLocked(*c);
}

// ---------------------------------------------------------------------------------------------
// Inspect settings, DNS

json Controller::EndpointSettingsLocked(const ContainerNet& c, const Attachment& a, const Endpoint* ep) {
  bool live = ep != nullptr;
  auto nit = networks_.find(a.network_id);
  std::string gw = live && nit != networks_.end() && !nit->second->spec.gateway.empty() ? nit->second->spec.gateway : "";
  return {{"IPAMConfig", a.ipam_config},
          {"Links", nullptr},
          {"Aliases", a.aliases.empty() ? json(nullptr) : json(a.aliases)},
          {"NetworkID", a.network_id},
          {"EndpointID", live ? ep->spec.id : ""},
          {"Gateway", gw},
          {"IPAddress", live ? ep->spec.ip : ""},
          {"IPPrefixLen", live ? ep->spec.prefix : 0},
          {"IPv6Gateway", ""},
          {"GlobalIPv6Address", ""},
          {"GlobalIPv6PrefixLen", 0},
          {"MacAddress", live ? ep->spec.mac : ""},
          {"DriverOpts", nullptr}};
}

json Controller::Settings(const std::string& id, const json& hc) {
  std::lock_guard<std::mutex> lock(mu_);
  auto cit = containers_.find(id);
  if (cit == containers_.end()) return json::object();
  ContainerNet& c = *cit->second;
  auto sit = sandboxes_.find(id);
  SandboxState* sb = sit == sandboxes_.end() ? nullptr : sit->second.get();
  json networks = json::object();
  json top = {{"Bridge", ""}, {"SandboxID", sb ? sb->id : ""}, {"HairpinMode", false},
              {"LinkLocalIPv6Address", ""}, {"LinkLocalIPv6PrefixLen", 0}, {"Ports", json::object()},
              {"SandboxKey", sb ? sb->path : ""}, {"SecondaryIPAddresses", nullptr},
              {"SecondaryIPv6Addresses", nullptr}, {"EndpointID", ""}, {"Gateway", ""},
              {"GlobalIPv6Address", ""}, {"GlobalIPv6PrefixLen", 0}, {"IPAddress", ""},
              {"IPPrefixLen", 0}, {"IPv6Gateway", ""}, {"MacAddress", ""}};
  for (auto& a : c.attachments) {
    auto nit = networks_.find(a.network_id);
    if (nit == networks_.end()) continue;
    const Endpoint* ep = nullptr;
    if (sb)
      for (auto& e : sb->endpoints)
        if (e.network_id == a.network_id) ep = &e;
    json s = EndpointSettingsLocked(c, a, ep);
    networks[nit->second->spec.name] = s;
    // Docker fills the top-level fields from the default bridge only.
    if (nit->second->spec.name == "bridge" && nit->second->builtin && ep) {
      for (const char* k : {"EndpointID", "Gateway", "IPAddress", "IPPrefixLen", "MacAddress"}) top[k] = s[k];
    }
  }
  json ports = json::object();
  json exposed = json::object();
  if (sb)
    for (auto& p : sb->ports) {
      std::string key = std::to_string(p.container_port) + "/" + p.proto;
      if (!ports.contains(key)) ports[key] = json::array();
      ports[key].push_back({{"HostIp", p.host_ip.empty() ? "0.0.0.0" : p.host_ip},
                            {"HostPort", std::to_string(p.host_port)}});
    }
  top["Ports"] = ports;
  top["Networks"] = networks;
  return top;
}

std::vector<std::string> Controller::Resolve(const std::string& container_id, const std::string& q) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  auto sit = sandboxes_.find(container_id);
  if (sit == sandboxes_.end()) return out;
  std::string name = absl::AsciiStrToLower(q);
  if (!name.empty() && name.back() == '.') name.pop_back();
  // The name as asked, and without one of the container's search domains: a resolver that
  // appends them first (busybox does, whatever ndots says) still finds the container's peers.
  std::vector<std::string> names = {name};
  auto me = containers_.find(container_id);
  if (me != containers_.end())
    for (const std::string& d : me->second->search) {
      std::string suffix = "." + absl::AsciiStrToLower(d);
      if (name.size() > suffix.size() && absl::EndsWith(name, suffix))
        names.push_back(name.substr(0, name.size() - suffix.size()));
    }
  auto add = [&](const std::string& network_id, const std::string& n) {
    for (auto& [cid, sb] : sandboxes_) {
      auto c = containers_.find(cid);
      if (c == containers_.end()) continue;
      for (auto& e : sb->endpoints) {
        if (e.network_id != network_id) continue;
        bool match = absl::AsciiStrToLower(c->second->name) == n || cid.substr(0, 12) == n || cid == n;
        for (auto& a : c->second->attachments)
          if (a.network_id == network_id)
            for (auto& al : a.aliases) match |= absl::AsciiStrToLower(al) == n;
        if (match && std::find(out.begin(), out.end(), e.spec.ip) == out.end()) out.push_back(e.spec.ip);
      }
    }
  };
  // Scoped per network: only the user-defined networks this container has an endpoint on; a
  // name may be qualified by one of them ("c1.testNetwork"), as with Docker.
  for (const std::string& n : names) {
    for (auto& mine : sit->second->endpoints) {
      auto nit = networks_.find(mine.network_id);
      if (nit == networks_.end() || !nit->second->UserDefined()) continue;
      add(mine.network_id, n);
      std::string suffix = "." + absl::AsciiStrToLower(nit->second->spec.name);
      if (n.size() > suffix.size() && absl::EndsWith(n, suffix))
        add(mine.network_id, n.substr(0, n.size() - suffix.size()));
    }
    if (!out.empty()) break;
  }
  return out;
}

}  // namespace berth::network
