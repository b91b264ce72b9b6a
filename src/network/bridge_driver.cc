// The bridge driver: a Linux bridge per network, a veth pair per endpoint (driver.h).

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "common/ids.h"
#include "network/driver.h"
#include "spdlog/spdlog.h"
#include "sys/fs.h"

namespace berth::network {

namespace {

bool IfnameValid(const std::string& n) {
  if (n.empty() || n.size() > 15) return false;
  for (char c : n)
    if (c == '/' || c == ':' || isspace(static_cast<unsigned char>(c))) return false;
  return true;
}

int Prefix(const std::string& subnet) {
  auto slash = subnet.find('/');
  return slash == std::string::npos ? 32 : std::atoi(subnet.c_str() + slash + 1);
}

// A bridge network's option: "false" keeps frames between its containers on the bridge (through
// netfilter), as Docker has them.
constexpr char kRedirectOption[] = "berth.bridge.redirect";

bool BoolOption(const std::map<std::string, std::string>& opts, const std::string& key, bool def) {
  auto it = opts.find(key);
  if (it == opts.end()) return def;
  return it->second == "true" || it->second == "1";
}

}  // namespace

// IPv6 of the host side of an IPv6 network: the bridge takes IPv6, and the daemon's namespace
// forwards it (Docker sets net.ipv6.conf.{all,default}.forwarding=1 when it makes an IPv6 bridge).
// A kernel built without IPv6 has no /proc/sys/net/ipv6: a clear error instead of a half network.
Status EnableHostIpv6(const std::string& bridge) {
  if (!sys::Exists("/proc/sys/net/ipv6"))
    return absl::UnimplementedError(
        "IPv6 networks need IPv6 in the kernel (CONFIG_IPV6), and this one has none (/proc/sys/net/ipv6 is "
        "missing)");
  RETURN_IF_ERROR(sys::WriteSysctl(nullptr, "net.ipv6.conf." + bridge + ".disable_ipv6", "0"));
  RETURN_IF_ERROR(sys::WriteSysctl(nullptr, "net.ipv6.conf.default.forwarding", "1"));
  return sys::WriteSysctl(nullptr, "net.ipv6.conf.all.forwarding", "1");
}

// The sandbox side: the namespace's interfaces are born with IPv6 disabled (kernel.cc); an
// endpoint of an IPv6 network gets it back, then its address without duplicate address detection
// (as Docker: usable at once, and the address is ours by IPAM).
Status AddEndpointIpv6(const EndpointSpec& ep, SandboxKernel& sb) {
  RETURN_IF_ERROR(sys::WriteSysctl(&sb.ns(), "net.ipv6.conf." + ep.ifname + ".disable_ipv6", "0"));
  return sb.rtnl().AddAddr(ep.ifname, ep.ip6 + "/" + std::to_string(ep.prefix6), /*no_dad=*/true);
}

namespace {

class BridgeNetwork : public DriverNetwork {
 public:
  BridgeNetwork(BridgeDriver& driver, sys::Rtnl& host, NetworkSpec spec,
                std::shared_ptr<const sys::PeerRedirect> redirect)
      : driver_(driver), host_(host), spec_(std::move(spec)), redirect_(std::move(redirect)) {}

  Status Join(EndpointSpec* ep, SandboxKernel& sb) override {
    const sys::NetNs& sandbox = sb.ns();
    sys::Rtnl& sandbox_rtnl = sb.rtnl();
    // The container side is created directly in the sandbox under its final name and MAC, in
    // the same message as the host side: there is never a half-made pair to clean up.
    RETURN_IF_ERROR(Annotate(host_.CreateVeth(ep->host_ifname, ep->ifname, spec_.mtu, &sandbox, ep->mac),
                             "veth " + ep->host_ifname));
    Status st = host_.SetMaster(ep->host_ifname, spec_.ifname);
    // Hairpin: a container reaching its own published port is DNATed back out of the port it came
    // in on (br_netfilter sees bridged traffic on this kernel).
    if (st.ok()) st = host_.SetBridgePortHairpin(ep->host_ifname, true);
    if (st.ok()) st = host_.SetUp(ep->host_ifname);
    if (st.ok()) st = sandbox_rtnl.AddAddr(ep->ifname, ep->ip + "/" + std::to_string(ep->prefix));
    if (st.ok() && !ep->ip6.empty()) st = AddEndpointIpv6(*ep, sb);
    if (st.ok()) st = sandbox_rtnl.SetUp(ep->ifname);
    if (st.ok() && ep->default_route && !spec_.internal)
      st = sandbox_rtnl.AddRoute("default", spec_.gateway, ep->ifname);
    if (st.ok() && ep->default_route && !spec_.internal && !ep->ip6.empty() && !spec_.gateway6.empty())
      st = sandbox_rtnl.AddRoute("default", spec_.gateway6, ep->ifname);
    if (!st.ok()) {
      (void)host_.DeleteLink(ep->host_ifname);
      return Annotate(st, "join " + spec_.name);
    }
    AddShortcut(*ep);
    // Before the container runs: flows to or from these addresses are another container's.
    driver_.ForgetFlows(ep->ip);
    driver_.ForgetFlows(ep->ip6);
    return absl::OkStatus();
  }

  void Adopt(const EndpointSpec& ep) override { AddShortcut(ep); }

  Status Leave(const EndpointSpec& ep, SandboxKernel* sandbox, bool sandbox_going) override {
    // First: a frame on its way to this MAC must not be sent to a veth that is going (a reused
    // MAC's new container would get none until its own join).
    if (auto mac = sys::ParseMac(ep.mac); redirect_ && mac.ok()) {
      if (Status st = redirect_->Erase(*mac); !st.ok())
        spdlog::warn("network {}: endpoint {}: shortcut: {}", spec_.name, ep.host_ifname, st.ToString());
    }
    // Its flows end here: a client's UDP stream to a published port would otherwise keep its
    // DNAT to this address until it stops for 30 s, whoever publishes the port next.
    driver_.ForgetFlows(ep.ip);
    driver_.ForgetFlows(ep.ip6);
    if (sandbox_going) {
      // Nobody needs to wait for the ~8 ms the kernel takes (a stopped container's run --rm,
      // rm -f): the reaper deletes it.
      driver_.DeleteLater(ep.host_ifname);
      return absl::OkStatus();
    }
    // Deleting either end of a veth deletes both.
    Status st = host_.DeleteLink(ep.host_ifname);
    if (!st.ok() && !absl::IsNotFound(st)) return st;
    return absl::OkStatus();
  }

  Status Delete() override {
    Status st = host_.SetUp(spec_.ifname, false);
    if (absl::IsNotFound(st)) return absl::OkStatus();
    std::string tomb = "br-gone" + NewId().substr(0, 8);
    if (st.ok()) st = host_.SetName(spec_.ifname, tomb);
    if (!st.ok()) {
      // Could not set it aside: delete it now, the slow way.
      st = host_.DeleteLink(spec_.ifname);
      return st.ok() || absl::IsNotFound(st) ? absl::OkStatus() : st;
    }
    driver_.DeleteLater(tomb);
    return absl::OkStatus();
  }

  std::optional<firewall::Bridge> FirewallBridge() const override {
    firewall::Bridge b;
    b.ifname = spec_.ifname;
    b.subnet = spec_.subnet;
    b.gateway = spec_.gateway;
    b.subnet6 = spec_.subnet6;
    b.masquerade = BoolOption(spec_.options, "com.docker.network.bridge.enable_ip_masquerade", true);
    b.icc = BoolOption(spec_.options, "com.docker.network.bridge.enable_icc", true);
    b.internal = spec_.internal;
    b.redirect = BoolOption(spec_.options, kRedirectOption, true);
    return b;
  }

  std::vector<std::string> OwnedLinks() const override { return {spec_.ifname}; }

 private:
  // The endpoint's frames to other containers of the network, and theirs to it, skip the bridge.
  // A failure leaves it on the bridge path, which works as before: logged, not fatal.
  void AddShortcut(const EndpointSpec& ep) {
    if (!redirect_) return;
    auto mac = sys::ParseMac(ep.mac);
    auto link = host_.GetLink(ep.host_ifname);
    Status st = !mac.ok() ? mac.status() : link.status();
    if (st.ok())
      st = host_.AttachIngressBpf(link->index, ep.host_ifname, redirect_->prog_fd(), "berth_peer");
    if (st.ok()) st = redirect_->Set(*mac, static_cast<uint32_t>(link->index));
    if (!st.ok())
      spdlog::warn("network {}: endpoint {}: same-bridge shortcut: {} (its frames go through the bridge)",
                   spec_.name, ep.host_ifname, st.ToString());
  }

  BridgeDriver& driver_;
  sys::Rtnl& host_;
  const NetworkSpec spec_;
  const std::shared_ptr<const sys::PeerRedirect> redirect_;  // null: no shortcut
};

}  // namespace

BridgeDriver::BridgeDriver(sys::Rtnl& host, std::string default_bridge)
    : host_(host), default_bridge_(std::move(default_bridge)), reaper_([this] { Reap(); }) {
  auto ct = host_.OpenSibling(NETLINK_NETFILTER);
  if (ct.ok()) {
    conntrack_ = std::move(*ct);
  } else {
    spdlog::warn("bridge networks: no conntrack clean-up when addresses are reused: {}",
                 ct.status().ToString());
  }
}

void BridgeDriver::ForgetFlows(const std::string& ip) {
  if (conntrack_ == nullptr || ip.empty()) return;
  auto n = conntrack_->DeleteConntrackOf(ip);
  if (!n.ok()) spdlog::warn("conntrack entries of {}: {}", ip, n.status().ToString());
}

BridgeDriver::~BridgeDriver() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  reaper_.join();
}

StatusOr<std::unique_ptr<DriverNetwork>> BridgeDriver::CreateNetwork(NetworkSpec* n) {
  auto it = n->options.find("com.docker.network.bridge.name");
  if (it != n->options.end() && !it->second.empty()) n->ifname = it->second;
  if (n->ifname.empty()) n->ifname = "br-" + n->id.substr(0, 12);
  if (!IfnameValid(n->ifname))
    return absl::InvalidArgumentError("invalid bridge name \"" + n->ifname + "\"");
  if (auto m = n->options.find("com.docker.network.driver.mtu"); m != n->options.end()) {
    if (!absl::SimpleAtoi(m->second, &n->mtu) || n->mtu < 68 || n->mtu > 65535)
      return absl::InvalidArgumentError("invalid MTU \"" + m->second + "\"");
  }
  if (auto r = n->options.find(kRedirectOption); r != n->options.end() && r->second != "true" &&
      r->second != "false")
    return absl::InvalidArgumentError("invalid " + std::string(kRedirectOption) + " \"" + r->second +
                                      "\": want true or false");
  auto existing = host_.GetLink(n->ifname);
  if (existing.ok() && existing->kind != "bridge")
    return absl::AlreadyExistsError("interface " + n->ifname + " exists and is not a bridge");
  if (!existing.ok()) RETURN_IF_ERROR(Annotate(host_.CreateBridge(n->ifname, n->mtu), "bridge " + n->ifname));
  auto undo = [&](Status st) {
    if (!existing.ok()) (void)host_.DeleteLink(n->ifname);
    return st;
  };
  std::string gw = n->gateway + "/" + std::to_string(Prefix(n->subnet));
  Status st = host_.AddAddr(n->ifname, gw);
  if (!st.ok() && !absl::IsAlreadyExists(st)) return undo(Annotate(st, "bridge " + n->ifname + ": address " + gw));
  if (!n->subnet6.empty()) {
    st = EnableHostIpv6(n->ifname);
    std::string gw6 = n->gateway6 + "/" + std::to_string(Prefix(n->subnet6));
    if (st.ok()) st = host_.AddAddr(n->ifname, gw6, /*no_dad=*/true);
    if (!st.ok() && !absl::IsAlreadyExists(st))
      return undo(Annotate(st, "bridge " + n->ifname + ": IPv6 address " + gw6));
  }
  st = host_.SetUp(n->ifname);
  if (!st.ok()) return undo(Annotate(st, "bridge " + n->ifname));
  // 127.0.0.1-published ports: the host's own loopback traffic is DNATed onto the bridge.
  (void)sys::WriteSysctl(nullptr, "net.ipv4.conf." + n->ifname + ".route_localnet", "1");
  std::shared_ptr<const sys::PeerRedirect> redirect;
  if (BoolOption(n->options, "com.docker.network.bridge.enable_icc", true) &&
      BoolOption(n->options, kRedirectOption, true))
    redirect = LoadRedirect();
  return std::unique_ptr<DriverNetwork>(std::make_unique<BridgeNetwork>(*this, host_, *n, std::move(redirect)));
}

std::shared_ptr<const sys::PeerRedirect> BridgeDriver::LoadRedirect() {
  auto r = sys::PeerRedirect::Load();
  if (r.ok()) return std::make_shared<const sys::PeerRedirect>(std::move(*r));
  absl::MutexLock l(&mu_);
  if (!redirect_warned_)
    spdlog::warn("bridge networks: no same-bridge shortcut, frames between containers go through the bridge: {}",
                 r.status().ToString());
  redirect_warned_ = true;
  return nullptr;
}

bool BridgeDriver::NamedByUs(const sys::LinkInfo& l) const {
  if (l.kind == "veth") return absl::StartsWith(l.name, "veth") && l.name.size() == 11;
  if (l.kind == "bridge") return absl::StartsWith(l.name, "br-") || l.name == default_bridge_;
  return false;
}

void BridgeDriver::DeleteLater(const std::string& ifname) {
  absl::MutexLock l(&mu_);
  doomed_.push_back(ifname);
}

void BridgeDriver::Reap() {
  // Its own socket, made on this thread in berthd's namespace, which the thread never leaves.
  auto rtnl = sys::Rtnl::Open(nullptr);
  for (;;) {
    std::string name;
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !doomed_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (doomed_.empty()) return;  // stopping, nothing left
      name = doomed_.front();
      doomed_.pop_front();
    }
    Status st = rtnl.ok() ? (*rtnl)->DeleteLink(name) : rtnl.status();
    if (!st.ok() && !absl::IsNotFound(st)) spdlog::warn("deleting link {}: {}", name, st.ToString());
  }
}

}  // namespace berth::network
