#pragma once
// The CNM driver interface: a Network is made of kernel objects a driver owns; an Endpoint is
// the interface that joins one sandbox (a network namespace) to one network.
//
// Drivers are called with the controller's mutex held, one call at a time; they keep no state
// of their own beyond what the controller passes in.

#include <map>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "sys/netlink.h"
#include "sys/netns.h"

namespace berth::network {

struct NetworkSpec {
  std::string id;
  std::string name;
  std::string driver;
  std::string subnet;   // "10.15.20.0/24"
  std::string gateway;  // "10.15.20.1"
  bool internal = false;
  std::map<std::string, std::string> options;  // -o/--opt
  // Derived by the driver at create time and kept in the store:
  std::string ifname;  // the bridge ("berth0", "br-<id12>", or the name option)
  int mtu = 1500;
};

struct EndpointSpec {
  std::string id;
  std::string ifname;   // in the sandbox: eth0, eth1...
  std::string host_ifname;  // bridge driver: veth<7 hex> in the daemon's namespace
  std::string ip;       // "10.15.20.4"
  int prefix = 24;
  std::string mac;
  bool default_route = false;  // the gateway of this network becomes the sandbox's default route
};

class Driver {
 public:
  virtual ~Driver() = default;
  // Creates (or, after a crash, adopts) the network's kernel objects.
  virtual Status CreateNetwork(NetworkSpec* n) = 0;
  virtual Status DeleteNetwork(const NetworkSpec& n) = 0;
  // Creates the endpoint's interface inside the sandbox, with its address and routes.
  virtual Status Join(const NetworkSpec& n, EndpointSpec* ep, const sys::NetNs& sandbox,
                      sys::Rtnl& sandbox_rtnl) = 0;
  // Removes what Join made; the sandbox may already be gone (then only host-side objects).
  virtual Status Leave(const NetworkSpec& n, const EndpointSpec& ep, sys::Rtnl* sandbox_rtnl) = 0;
};

// Bridge: a Linux bridge per network, a veth pair per endpoint.
//
// Deleting a bridge takes the kernel ~40 ms here (netdev unregistration waits for RCU grace
// periods), eight times a whole `network rm` otherwise. So DeleteNetwork takes the bridge down and
// renames it to br-gone<8 hex> (the name is free again at once, the routes are gone), and a reaper
// thread deletes it. Such a tombstone left by a crash is an orphan br-* link: Reconcile removes it.
class BridgeDriver : public Driver {
 public:
  explicit BridgeDriver(sys::Rtnl& host);
  ~BridgeDriver() override;  // deletes what is still queued
  Status CreateNetwork(NetworkSpec* n) override;
  Status DeleteNetwork(const NetworkSpec& n) override;
  Status Join(const NetworkSpec& n, EndpointSpec* ep, const sys::NetNs& sandbox,
              sys::Rtnl& sandbox_rtnl) override;
  Status Leave(const NetworkSpec& n, const EndpointSpec& ep, sys::Rtnl* sandbox_rtnl) override;
  // Deletes a link (an endpoint's host-side veth) on the reaper thread.
  void DeleteLater(const std::string& ifname);

 private:
  void Reap();

  sys::Rtnl& host_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> doomed_;  // guarded by mu_
  bool stop_ = false;               // guarded by mu_
  std::thread reaper_;
};

// Macvlan: a sub-interface of a parent NIC per endpoint, created directly in the sandbox.
class MacvlanDriver : public Driver {
 public:
  explicit MacvlanDriver(sys::Rtnl& host) : host_(host) {}
  Status CreateNetwork(NetworkSpec* n) override;
  Status DeleteNetwork(const NetworkSpec& n) override { return absl::OkStatus(); }
  Status Join(const NetworkSpec& n, EndpointSpec* ep, const sys::NetNs& sandbox,
              sys::Rtnl& sandbox_rtnl) override;
  Status Leave(const NetworkSpec& n, const EndpointSpec& ep, sys::Rtnl* sandbox_rtnl) override;

 private:
  sys::Rtnl& host_;
};

}  // namespace berth::network
