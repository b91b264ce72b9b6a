// The overlay driver: a namespace, a bridge and a VXLAN device per swarm network, a veth pair
// per endpoint, static FDB and neighbour entries per peer (overlay_driver.h).

#include "network/overlay_driver.h"

#include <map>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "spdlog/spdlog.h"
#include "sys/fs.h"

namespace berth::network {

namespace {

constexpr char kBridge[] = "br0";
constexpr char kVxlan[] = "vxlan0";
constexpr char kNsPrefix[] = "ov-";

int PrefixLen(const std::string& subnet) {
  auto slash = subnet.find('/');
  int n = 32;
  if (slash != std::string::npos && !absl::SimpleAtoi(subnet.substr(slash + 1), &n)) n = 32;
  return n;
}

Status IgnoreNotFound(const Status& st) { return absl::IsNotFound(st) ? absl::OkStatus() : st; }
Status IgnoreExists(const Status& st) { return absl::IsAlreadyExists(st) ? absl::OkStatus() : st; }

// The namespace of one overlay, with a netlink socket inside it.
struct OverlayNs {
  std::string path;
  std::optional<sys::NetNs> ns;
  std::unique_ptr<sys::Rtnl> rtnl;
};

// Interfaces born in the overlay namespace have IPv6 off: an overlay is IPv4 here, and br0's
// link-local address would only send MLD and DAD frames that the VXLAN device drops anyway.
Status DisableIpv6() {
  Status st = sys::WriteSysctl(nullptr, "net.ipv6.conf.default.disable_ipv6", "1");
  return absl::IsNotFound(st) ? absl::OkStatus() : st;
}

// Opens the namespace at `path` if one is mounted there (adopted), else makes a new one.
StatusOr<OverlayNs> OpenOrCreateNs(const std::string& path, bool* adopted) {
  OverlayNs o;
  o.path = path;
  *adopted = false;
  if (sys::Exists(path)) {
    auto ns = sys::NetNs::Open(path);
    if (ns.ok()) {
      o.ns.emplace(std::move(*ns));
      *adopted = true;
    } else {
      // A file whose mount is gone (a reboot with a persistent exec root, a crash mid-create).
      RETURN_IF_ERROR(sys::NetNs::Remove(path));
    }
  }
  if (!o.ns) {
    ASSIGN_OR_RETURN(sys::NetNs ns, sys::NetNs::Create(path, DisableIpv6));
    o.ns.emplace(std::move(ns));
  }
  auto rtnl = sys::Rtnl::Open(&*o.ns);
  if (!rtnl.ok()) {
    if (!*adopted) {
      o.ns.reset();
      (void)sys::NetNs::Remove(path);
    }
    return rtnl.status();
  }
  o.rtnl = std::move(*rtnl);
  return o;
}

// Deletes the VXLAN device first: it holds its VNI in the daemon's namespace until it is gone,
// and a namespace's devices die only when the kernel gets round to the dead namespace, so a
// network re-made at once would find the VNI taken. The rest goes with the namespace.
Status RemoveNs(OverlayNs o) {
  Status st = o.rtnl ? IgnoreNotFound(o.rtnl->DeleteLink(kVxlan)) : absl::OkStatus();
  o.rtnl.reset();
  o.ns.reset();
  Status rm = sys::NetNs::Remove(o.path);
  return st.ok() ? rm : st;
}

class OverlayNet : public OverlayNetwork {
 public:
  OverlayNet(NetworkSpec spec, std::string vtep, OverlayNs ns)
      : spec_(std::move(spec)), vtep_(std::move(vtep)), ns_(std::move(ns)) {}

  Status Join(EndpointSpec* ep, SandboxKernel& sb) override {
    sys::Rtnl& ov = *ns_.rtnl;
    // As the bridge driver: the sandbox side is born in the sandbox under its final name and
    // MAC, in the same message as the side on br0.
    RETURN_IF_ERROR(Annotate(ov.CreateVeth(ep->host_ifname, ep->ifname, spec_.mtu, &sb.ns(), ep->mac),
                             "join " + spec_.name + ": veth " + ep->host_ifname));
    // The address (and so the MAC) may have been a peer's on another node until just now: the
    // bridge must not keep sending it to the VXLAN port (the next peer table drops the rest).
    Status st = IgnoreNotFound(ov.DelBridgeFdb(kVxlan, ep->mac));
    if (st.ok()) st = ov.SetMaster(ep->host_ifname, kBridge);
    if (st.ok()) st = ov.SetUp(ep->host_ifname);
    if (st.ok()) st = sb.rtnl().AddAddr(ep->ifname, ep->ip + "/" + std::to_string(ep->prefix));
    if (st.ok()) st = sb.rtnl().SetUp(ep->ifname);
    // No default route here even when ep->default_route: an overlay's gateway address lives in
    // the overlay's own namespace, which routes nowhere (Docker routes through docker_gwbridge).
    if (!st.ok()) {
      (void)ov.DeleteLink(ep->host_ifname);
      return Annotate(st, "join " + spec_.name);
    }
    return absl::OkStatus();
  }

  Status Leave(const EndpointSpec& ep, SandboxKernel*, bool) override {
    // Deleted even when the sandbox goes next: the br0 side lives in the overlay's namespace,
    // which stays, and a port that lingers until the kernel frees the sandbox would still be
    // flooded to.
    return IgnoreNotFound(ns_.rtnl->DeleteLink(ep.host_ifname));
  }

  Status Delete() override {
    absl::MutexLock l(&op_);
    if (!ns_.rtnl) return absl::OkStatus();
    return Annotate(RemoveNs(std::move(ns_)), "delete overlay " + spec_.name);
  }

  Status SetPeers(const std::vector<OverlayPeer>& peers) override {
    absl::MutexLock l(&op_);  // an operation lock: one peer update at a time on this network
    if (!ns_.rtnl) return absl::FailedPreconditionError("overlay " + spec_.name + " was deleted");
    sys::Rtnl& ov = *ns_.rtnl;
    ASSIGN_OR_RETURN(auto fdb, ov.ListFdb(kVxlan));
    ASSIGN_OR_RETURN(auto neighs, ov.ListNeighs(kVxlan, AF_INET));
    PeerPlan plan = PlanPeers(peers, vtep_, fdb, neighs);
    // Every change is tried; the first failure is reported.
    Status first;
    auto note = [&](Status st) {
      if (!st.ok() && first.ok()) first = Annotate(st, "peers of " + spec_.name);
    };
    for (const std::string& mac : plan.bridge_del) note(IgnoreNotFound(ov.DelBridgeFdb(kVxlan, mac)));
    for (auto& [mac, vtep] : plan.fdb_del) note(IgnoreNotFound(ov.DelFdb(kVxlan, mac, vtep)));
    for (auto& [ip, mac] : plan.neigh_del) note(IgnoreNotFound(ov.DelNeigh(kVxlan, ip)));
    for (auto& [mac, vtep] : plan.fdb_add) note(IgnoreExists(ov.AddFdb(kVxlan, mac, vtep)));
    for (auto& [ip, mac] : plan.neigh_add) note(IgnoreExists(ov.AddNeigh(kVxlan, ip, mac)));
    // Last: the bridge sends a peer's frames to the VXLAN port once the device knows its node.
    for (const std::string& mac : plan.bridge_add) note(IgnoreExists(ov.AddBridgeFdb(kVxlan, mac)));
    return first;
  }

 private:
  const NetworkSpec spec_;
  const std::string vtep_;
  absl::Mutex op_;
  // Set at construction; moved out by Delete (which comes after every endpoint left, and which
  // the controller never runs beside a SetPeers of the same network).
  OverlayNs ns_;
};

// Brings the namespace's bridge and VXLAN device to the layout (overlay_driver.h); what an
// adopted namespace already has is kept.
Status Build(sys::Rtnl& host, sys::Rtnl& ov, const sys::NetNs& ns, const NetworkSpec& n, uint32_t vni,
             const std::string& vtep) {
  if (!ov.GetLink(kBridge).ok()) RETURN_IF_ERROR(Annotate(ov.CreateBridge(kBridge, n.mtu), "bridge"));
  if (!n.gateway.empty()) {
    std::string gw = n.gateway + "/" + std::to_string(PrefixLen(n.subnet));
    RETURN_IF_ERROR(Annotate(IgnoreExists(ov.AddAddr(kBridge, gw)), "bridge address " + gw));
  }
  RETURN_IF_ERROR(Annotate(ov.SetUp(kBridge), "bridge"));
  if (!ov.GetLink(kVxlan).ok()) {
    sys::VxlanSpec vx;
    vx.name = kVxlan;
    vx.vni = vni;
    vx.local_ip = vtep;
    vx.dst_port = kVxlanPort;
    vx.mtu = n.mtu;
    vx.learning = false;
    vx.proxy = true;
    vx.target_ns = &ns;
    // Asked of the daemon's socket: the device's UDP socket is opened in the namespace that made
    // it (the underlay), the device itself is born in the overlay's.
    RETURN_IF_ERROR(Annotate(host.CreateVxlan(vx), "vxlan (VNI " + std::to_string(vni) + ")"));
  }
  RETURN_IF_ERROR(Annotate(ov.SetMaster(kVxlan, kBridge), "vxlan"));
  // The bridge learns no MAC on the VXLAN port either: the device's own table (the peers) says
  // where a remote MAC is, and a learned entry would outlive its endpoint. Addresses are reused
  // (with the MAC made from them), so a MAC learned from a remote task that left would send the
  // frames of a local task that got its address to the VXLAN port, where they are dropped, until
  // the entry aged out (300 s). SetPeers gives the bridge a static entry per peer instead, so a
  // peer's frames go to the VXLAN port only; and a local endpoint's Join drops its MAC's.
  RETURN_IF_ERROR(Annotate(ov.SetBridgePortLearning(kVxlan, false), "vxlan"));
  return Annotate(ov.SetUp(kVxlan), "vxlan");
}

}  // namespace

StatusOr<uint32_t> OverlayVni(const std::map<std::string, std::string>& options) {
  auto it = options.find(kVxlanIdOption);
  if (it == options.end() || it->second.empty())
    return absl::InvalidArgumentError(std::string("overlay network without a VNI (") + kVxlanIdOption + ")");
  std::vector<std::string> vnis = absl::StrSplit(it->second, ',');
  uint32_t vni = 0;
  if (!absl::SimpleAtoi(vnis[0], &vni) || vni == 0 || vni >= (1u << 24))
    return absl::InvalidArgumentError("invalid VNI \"" + it->second + "\": want 1..16777215");
  return vni;
}

PeerPlan PlanPeers(const std::vector<OverlayPeer>& wanted, const std::string& local_vtep,
                   const std::vector<sys::NeighInfo>& fdb, const std::vector<sys::NeighInfo>& neighs) {
  std::map<std::string, std::string> want_fdb;    // mac -> vtep
  std::map<std::string, std::string> want_neigh;  // ip -> mac
  for (const OverlayPeer& p : wanted) {
    if (p.vtep == local_vtep || p.mac.empty() || p.vtep.empty()) continue;
    auto mac = sys::ParseMac(p.mac);
    if (!mac.ok()) continue;  // the managers made it; nothing this node can do with it
    std::string m = sys::FormatMac(mac->data());
    want_fdb.emplace(m, p.vtep);
    if (!p.ip.empty()) want_neigh.emplace(p.ip, m);
  }
  PeerPlan plan;
  std::map<std::string, std::string> have_fdb, have_neigh;
  std::set<std::string> have_bridge;
  for (const sys::NeighInfo& e : fdb) {
    // The VXLAN device's own entries carry a remote (NDA_DST); the bridge's entries for the port
    // do not: its static ones are ours, its own MAC (permanent) and any learnt one are not.
    if (e.ip.empty()) {
      if (!e.bridge || !e.is_static || e.permanent) continue;
      if (want_fdb.count(e.mac)) have_bridge.insert(e.mac);
      else plan.bridge_del.push_back(e.mac);
      continue;
    }
    auto w = want_fdb.find(e.mac);
    if (w == want_fdb.end() || w->second != e.ip || !e.permanent) plan.fdb_del.emplace_back(e.mac, e.ip);
    else have_fdb[e.mac] = e.ip;
  }
  for (const sys::NeighInfo& e : neighs) {
    if (e.ip.empty()) continue;
    auto w = want_neigh.find(e.ip);
    if (w == want_neigh.end() || w->second != e.mac || !e.permanent) plan.neigh_del.emplace_back(e.ip, e.mac);
    else have_neigh[e.ip] = e.mac;
  }
  for (auto& [mac, vtep] : want_fdb)
    if (!have_fdb.count(mac)) plan.fdb_add.emplace_back(mac, vtep);
  for (auto& [ip, mac] : want_neigh)
    if (!have_neigh.count(ip)) plan.neigh_add.emplace_back(ip, mac);
  for (auto& [mac, vtep] : want_fdb)
    if (!have_bridge.count(mac)) plan.bridge_add.push_back(mac);
  return plan;
}

OverlayDriver::OverlayDriver(sys::Rtnl& host, std::string netns_dir)
    : host_(host), netns_dir_(std::move(netns_dir)) {}

std::string OverlayDriver::NamespacePath(uint32_t vni) const {
  return netns_dir_ + "/" + kNsPrefix + std::to_string(vni);
}

Status OverlayDriver::SetVtep(const std::string& local_ip) {
  auto ip = sys::ParseIp(local_ip);
  if (!ip.ok() || ip->family != AF_INET)
    return absl::InvalidArgumentError("VXLAN local address \"" + local_ip + "\" is not an IPv4 address");
  absl::MutexLock l(&mu_);
  vtep_ = local_ip;
  return absl::OkStatus();
}

StatusOr<std::unique_ptr<DriverNetwork>> OverlayDriver::CreateNetwork(NetworkSpec* n) {
  RETURN_IF_ERROR(ValidateSwarmNetworkOptions(n->options));
  ASSIGN_OR_RETURN(uint32_t vni, OverlayVni(n->options));
  n->mtu = kOverlayMtu;
  if (auto m = n->options.find("com.docker.network.driver.mtu"); m != n->options.end())
    (void)absl::SimpleAtoi(m->second, &n->mtu);  // validated above
  std::string vtep;
  {
    absl::MutexLock l(&mu_);
    vtep = vtep_;
  }
  if (vtep.empty())
    return absl::FailedPreconditionError("overlay network " + n->name +
                                         ": this node has no VXLAN address yet (its swarm advertise address)");
  RETURN_IF_ERROR(sys::MkdirAll(netns_dir_, 0755));
  bool adopted = false;
  auto opened = OpenOrCreateNs(NamespacePath(vni), &adopted);
  if (!opened.ok()) return Annotate(opened.status(), "overlay network " + n->name);
  OverlayNs o = std::move(*opened);
  Status st = Build(host_, *o.rtnl, *o.ns, *n, vni, vtep);
  if (!st.ok()) {
    // A namespace we made goes again; an adopted one is left as it was found.
    if (!adopted) (void)RemoveNs(std::move(o));
    return Annotate(st, "overlay network " + n->name);
  }
  if (adopted) spdlog::info("overlay network {}: adopted {}", n->name, o.path);
  n->ifname = kBridge;
  return std::unique_ptr<DriverNetwork>(std::make_unique<OverlayNet>(*n, vtep, std::move(o)));
}

void OverlayDriver::RemoveOrphans(const std::set<uint32_t>& keep) {
  auto files = sys::ListDir(netns_dir_);
  if (!files.ok()) return;
  for (const std::string& f : *files) {
    uint32_t vni = 0;
    if (!absl::StartsWith(f, kNsPrefix) || !absl::SimpleAtoi(f.substr(3), &vni) || keep.count(vni)) continue;
    OverlayNs o;
    o.path = netns_dir_ + "/" + f;
    if (auto ns = sys::NetNs::Open(o.path); ns.ok()) {
      o.ns.emplace(std::move(*ns));
      if (auto r = sys::Rtnl::Open(&*o.ns); r.ok()) o.rtnl = std::move(*r);
    }
    spdlog::info("removing orphan overlay namespace {}", o.path);
    if (Status st = RemoveNs(std::move(o)); !st.ok()) spdlog::warn("{}: {}", f, st.ToString());
  }
}

}  // namespace berth::network
