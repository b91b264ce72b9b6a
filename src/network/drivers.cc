#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "common/ids.h"
#include "network/driver.h"
#include "network/ipam/ipam.h"
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

}  // namespace

Status BridgeDriver::CreateNetwork(NetworkSpec* n) {
  auto it = n->options.find("com.docker.network.bridge.name");
  if (it != n->options.end() && !it->second.empty()) n->ifname = it->second;
  if (n->ifname.empty()) n->ifname = "br-" + n->id.substr(0, 12);
  if (!IfnameValid(n->ifname))
    return absl::InvalidArgumentError("invalid bridge name \"" + n->ifname + "\"");
  if (auto m = n->options.find("com.docker.network.driver.mtu"); m != n->options.end()) {
    if (!absl::SimpleAtoi(m->second, &n->mtu) || n->mtu < 68 || n->mtu > 65535)
      return absl::InvalidArgumentError("invalid MTU \"" + m->second + "\"");
  }
  auto existing = host_.GetLink(n->ifname);
  if (existing.ok() && existing->kind != "bridge")
    return absl::AlreadyExistsError("interface " + n->ifname + " exists and is not a bridge");
  if (!existing.ok()) RETURN_IF_ERROR(Annotate(host_.CreateBridge(n->ifname, n->mtu), "bridge " + n->ifname));
  std::string gw = n->gateway + "/" + std::to_string(Prefix(n->subnet));
  Status st = host_.AddAddr(n->ifname, gw);
  if (!st.ok() && st.code() != absl::StatusCode::kAlreadyExists) {
    if (!existing.ok()) (void)host_.DeleteLink(n->ifname);
    return Annotate(st, "bridge " + n->ifname + ": address " + gw);
  }
  RETURN_IF_ERROR(host_.SetUp(n->ifname));
  // 127.0.0.1-published ports: the host's own loopback traffic is DNATed onto the bridge.
  (void)sys::WriteSysctl(nullptr, "net.ipv4.conf." + n->ifname + ".route_localnet", "1");
  return absl::OkStatus();
}

BridgeDriver::BridgeDriver(sys::Rtnl& host) : host_(host), reaper_([this] { Reap(); }) {}

BridgeDriver::~BridgeDriver() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  reaper_.join();
}

Status BridgeDriver::DeleteNetwork(const NetworkSpec& n) {
  Status st = host_.SetUp(n.ifname, false);
  if (absl::IsNotFound(st)) return absl::OkStatus();
  std::string tomb = "br-gone" + NewId().substr(0, 8);
  if (st.ok()) st = host_.SetName(n.ifname, tomb);
  if (!st.ok()) {
    // Could not set it aside: delete it now, the slow way.
    st = host_.DeleteLink(n.ifname);
    return st.ok() || absl::IsNotFound(st) ? absl::OkStatus() : st;
  }
  DeleteLater(tomb);
  return absl::OkStatus();
}

void BridgeDriver::DeleteLater(const std::string& ifname) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    doomed_.push_back(ifname);
  }
  cv_.notify_one();
}

void BridgeDriver::Reap() {
  // Its own socket: host_ belongs to the controller's thread of the moment. This thread was
  // created in berthd's namespace and never leaves it.
  auto rtnl = sys::Rtnl::Open(nullptr);
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !doomed_.empty(); });
    if (doomed_.empty()) return;  // stopping, nothing left
    std::string name = doomed_.front();
    doomed_.pop_front();
    lock.unlock();
    Status st = rtnl.ok() ? (*rtnl)->DeleteLink(name) : rtnl.status();
    if (!st.ok() && !absl::IsNotFound(st)) spdlog::warn("deleting bridge {}: {}", name, st.ToString());
    lock.lock();
  }
}

Status BridgeDriver::Join(const NetworkSpec& n, EndpointSpec* ep, const sys::NetNs& sandbox,
                          sys::Rtnl& sandbox_rtnl) {
  // The container side is created directly in the sandbox under its final name and MAC, in
  // the same message as the host side: there is never a half-made pair to clean up.
  RETURN_IF_ERROR(Annotate(host_.CreateVeth(ep->host_ifname, ep->ifname, n.mtu, &sandbox, ep->mac),
                           "veth " + ep->host_ifname));
  auto undo = [&](Status st) {
    (void)host_.DeleteLink(ep->host_ifname);
    return st;
  };
  Status st = host_.SetMaster(ep->host_ifname, n.ifname);
  // Hairpin: a container reaching its own published port is DNATed back out of the port it came
  // in on (br_netfilter sees bridged traffic on this kernel).
  if (st.ok()) st = host_.SetBridgePortHairpin(ep->host_ifname, true);
  if (st.ok()) st = host_.SetUp(ep->host_ifname);
  if (st.ok()) st = sandbox_rtnl.AddAddr(ep->ifname, ep->ip + "/" + std::to_string(ep->prefix));
  if (st.ok()) st = sandbox_rtnl.SetUp(ep->ifname);
  if (st.ok() && ep->default_route && !n.internal)
    st = sandbox_rtnl.AddRoute("default", n.gateway, ep->ifname);
  if (!st.ok()) return undo(Annotate(st, "join " + n.name));
  return absl::OkStatus();
}

Status BridgeDriver::Leave(const NetworkSpec& n, const EndpointSpec& ep, sys::Rtnl* sandbox_rtnl) {
  // Deleting either end of a veth deletes both.
  Status st = host_.DeleteLink(ep.host_ifname);
  if (!st.ok() && st.code() != absl::StatusCode::kNotFound) return st;
  return absl::OkStatus();
}

Status MacvlanDriver::CreateNetwork(NetworkSpec* n) {
  auto it = n->options.find("parent");
  std::string parent = it == n->options.end() ? "" : it->second;
  if (parent.empty())
    return absl::InvalidArgumentError(
        "macvlan needs a parent interface: -o parent=IFACE (Berth has no dummy links to make one)");
  if (parent.find('.') != std::string::npos)
    return absl::UnimplementedError(
        "macvlan parent " + parent +
        ": this kernel has no 802.1Q VLAN support (CONFIG_VLAN_8021Q), so VLAN sub-interfaces "
        "like " + parent + " cannot be created; use an untagged parent interface");
  auto link = host_.GetLink(parent);
  if (!link.ok()) return absl::InvalidArgumentError("-o parent interface was not found on the host: " + parent);
  if (link->master != 0)
    return absl::InvalidArgumentError("-o parent interface " + parent +
                                      " is a bridge port; macvlan needs a parent that is not");
  std::string mode = "bridge";
  if (auto m = n->options.find("macvlan_mode"); m != n->options.end()) mode = m->second;
  if (mode != "bridge" && mode != "private" && mode != "vepa" && mode != "passthru")
    return absl::InvalidArgumentError("requested macvlan mode '" + mode +
                                      "' is not valid, 'bridge' mode is the macvlan driver default");
  n->ifname = parent;
  n->mtu = link->mtu;
  return absl::OkStatus();
}

Status MacvlanDriver::Join(const NetworkSpec& n, EndpointSpec* ep, const sys::NetNs& sandbox,
                           sys::Rtnl& sandbox_rtnl) {
  std::string mode = "bridge";
  if (auto m = n.options.find("macvlan_mode"); m != n.options.end()) mode = m->second;
  RETURN_IF_ERROR(Annotate(host_.CreateMacvlan(ep->ifname, n.ifname, mode, &sandbox, ep->mac, n.mtu),
                           "macvlan on " + n.ifname));
  Status st = sandbox_rtnl.AddAddr(ep->ifname, ep->ip + "/" + std::to_string(ep->prefix));
  if (st.ok()) st = sandbox_rtnl.SetUp(ep->ifname);
  if (st.ok() && ep->default_route && !n.internal && !n.gateway.empty())
    st = sandbox_rtnl.AddRoute("default", n.gateway, ep->ifname);
  if (!st.ok()) {
    (void)sandbox_rtnl.DeleteLink(ep->ifname);
    return Annotate(st, "join " + n.name);
  }
  return absl::OkStatus();
}

Status MacvlanDriver::Leave(const NetworkSpec& n, const EndpointSpec& ep, sys::Rtnl* sandbox_rtnl) {
  if (sandbox_rtnl == nullptr) return absl::OkStatus();  // gone with the namespace
  Status st = sandbox_rtnl->DeleteLink(ep.ifname);
  if (!st.ok() && st.code() != absl::StatusCode::kNotFound) return st;
  return absl::OkStatus();
}

}  // namespace berth::network
