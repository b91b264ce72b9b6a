#pragma once
// The CNM driver interface. A Driver makes networks; each network it made is a DriverNetwork that
// owns the network's kernel objects (and whatever per-network state the driver needs: an overlay
// keeps its VXLAN device and peer table there) and joins sandboxes to it through Endpoints.
//
// Scope: a local driver's networks exist on this host only (bridge, macvlan); a swarm-scoped one
// (overlay) spans the cluster, its identity (subnet, VNI) coming from the managers.
//
// Threading: the controller calls drivers without holding any of its locks. Join and Leave of
// different sandboxes on one network may run at the same time; calls concerning one sandbox are
// serialised by the controller (the container's operation lock), and Delete comes only after
// every endpoint has left.

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "network/firewall/firewall.h"
#include "sys/bpf.h"
#include "sys/netlink.h"
#include "sys/netns.h"

namespace berth::network {

enum class Scope { kLocal, kSwarm };

struct EndpointSpec;
class SandboxKernel;
// IPv6 for the drivers (bridge_driver.cc): the host side of an IPv6 network (the bridge's
// disable_ipv6=0, IPv6 forwarding; Unimplemented on a kernel without IPv6), and an endpoint's
// address inside the sandbox (IPv6 enabled on its interface, the address without DAD).
Status EnableHostIpv6(const std::string& bridge);
Status AddEndpointIpv6(const EndpointSpec& ep, SandboxKernel& sb);
inline const char* ScopeName(Scope s) { return s == Scope::kSwarm ? "swarm" : "local"; }

struct NetworkSpec {
  std::string id;
  std::string name;
  std::string driver;
  std::string subnet;   // "10.15.20.0/24"
  std::string gateway;  // "10.15.20.1"
  bool internal = false;
  // --ipv6 (EnableIPv6): the network also has an IPv6 subnet, and its endpoints an IPv6 address.
  bool ipv6 = false;
  std::string subnet6;   // "fd00:30::/64", "" without IPv6
  std::string gateway6;  // "fd00:30::1"
  std::map<std::string, std::string> options;  // -o/--opt
  // Derived by the driver at create time and kept in the store:
  std::string ifname;  // the bridge ("berth0", "br-<id12>", or the name option); macvlan: the parent
  int mtu = 1500;
};

struct EndpointSpec {
  std::string id;
  std::string ifname;       // in the sandbox: eth0, eth1...
  std::string host_ifname;  // bridge driver: veth<7 hex> in the daemon's namespace
  std::string ip;           // "10.15.20.4"
  int prefix = 24;
  std::string mac;
  std::string ip6;  // "fd00:30::2" on an IPv6 network, else "" (IPv6 is then disabled on the interface)
  int prefix6 = 64;
  bool default_route = false;  // the gateway of this network becomes the sandbox's default route
};

// The kernel side of one sandbox as drivers see it: its network namespace and a netlink socket
// opened inside it.
class SandboxKernel {
 public:
  virtual ~SandboxKernel() = default;
  virtual const sys::NetNs& ns() const = 0;
  virtual sys::Rtnl& rtnl() = 0;
};

class DriverNetwork {
 public:
  virtual ~DriverNetwork() = default;
  // Creates the endpoint's interface inside the sandbox, with its address and routes.
  virtual Status Join(EndpointSpec* ep, SandboxKernel& sandbox) = 0;
  // Removes what Join made. sandbox is null when it is already gone; sandbox_going: the whole
  // sandbox goes next, so what dies with it need not be removed now.
  virtual Status Leave(const EndpointSpec& ep, SandboxKernel* sandbox, bool sandbox_going) = 0;
  // An endpoint Join made before the daemon restarted, still there: what the driver keeps of it
  // in memory (the bridge's same-bridge shortcut) is made again. Failures are logged, not fatal.
  virtual void Adopt(const EndpointSpec& ep) {}
  // Removes the network's kernel objects (no endpoint is left).
  virtual Status Delete() = 0;
  // The bridge the firewall guards for this network, if it has one.
  virtual std::optional<firewall::Bridge> FirewallBridge() const { return std::nullopt; }
  // Links in the daemon's namespace that belong to this network (recovery keeps these).
  virtual std::vector<std::string> OwnedLinks() const { return {}; }
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string Name() const = 0;
  virtual Scope scope() const = 0;
  // Creates (or, after a crash or reboot, adopts) the network's kernel objects; fills in the
  // spec's derived fields (ifname, mtu). Nothing is left behind on failure.
  virtual StatusOr<std::unique_ptr<DriverNetwork>> CreateNetwork(NetworkSpec* n) = 0;
  // Whether a link in the daemon's namespace is of the kind this driver names after itself, so
  // recovery may delete it when no network or endpoint owns it (a veth<7 hex>, a br-<12 hex>).
  virtual bool NamedByUs(const sys::LinkInfo& link) const { return false; }
};

// Bridge: a Linux bridge per network, a veth pair per endpoint.
//
// Same-bridge shortcut: where containers of a network may talk freely (enable_icc on, the default)
// and the network's "berth.bridge.redirect" option is not "false", each endpoint's host-side veth
// gets the sys::PeerRedirect program at its ingress and its MAC goes into the network's map, so a
// frame from one container to another's MAC skips the bridge and netfilter. The kernel lacking
// it (no bpf(2), no bpf_redirect_peer) leaves the bridge path, with one warning.
//
// Deleting a link takes the kernel long (a bridge ~40 ms, a veth ~8 ms: netdev unregistration waits
// for RCU grace periods), longer than a whole `network rm` or `run --rm` otherwise. So a removed
// network's bridge is taken down and renamed br-gone<8 hex> (the name is free again at once, the
// routes are gone), and a stopped container's veths are left to a reaper thread that deletes them
// in the background. Such a tombstone left by a crash is an orphan br-* link: recovery removes it.
class BridgeDriver : public Driver {
 public:
  BridgeDriver(sys::Rtnl& host, std::string default_bridge);
  ~BridgeDriver() override;  // deletes what is still queued
  std::string Name() const override { return "bridge"; }
  Scope scope() const override { return Scope::kLocal; }
  StatusOr<std::unique_ptr<DriverNetwork>> CreateNetwork(NetworkSpec* n) override;
  bool NamedByUs(const sys::LinkInfo& link) const override;
  // Deletes a link on the reaper thread.
  void DeleteLater(const std::string& ifname) ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes the daemon namespace's conntrack entries of an endpoint's address (either direction,
  // NATed or not), as Docker's bridge driver does: a flow of the address's previous holder (a UDP
  // stream, a published port's client) would otherwise keep going to the new one, or to nobody.
  void ForgetFlows(const std::string& ip);

 private:
  void Reap() ABSL_LOCKS_EXCLUDED(mu_);
  // A network's shortcut program and map; null (after one warning) where the kernel has none.
  std::shared_ptr<const sys::PeerRedirect> LoadRedirect() ABSL_LOCKS_EXCLUDED(mu_);

  sys::Rtnl& host_;
  // ctnetlink in host_'s namespace; null (after one warning) where it cannot be opened.
  std::unique_ptr<sys::Rtnl> conntrack_;
  const std::string default_bridge_;
  bool redirect_warned_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex mu_;
  std::deque<std::string> doomed_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reaper_;
};

// Macvlan: a sub-interface of a parent NIC per endpoint, created directly in the sandbox.
class MacvlanDriver : public Driver {
 public:
  explicit MacvlanDriver(sys::Rtnl& host) : host_(host) {}
  std::string Name() const override { return "macvlan"; }
  Scope scope() const override { return Scope::kLocal; }
  StatusOr<std::unique_ptr<DriverNetwork>> CreateNetwork(NetworkSpec* n) override;

 private:
  sys::Rtnl& host_;
};

}  // namespace berth::network
