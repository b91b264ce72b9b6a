#pragma once
// The CNM driver interface: a Network is made of kernel objects a driver owns; an Endpoint is
// the interface that joins one sandbox (a network namespace) to one network.
//
// Drivers are called with the controller's mutex held, one call at a time; they keep no state
// of their own beyond what the controller passes in.

#include <map>
#include <string>

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
class BridgeDriver : public Driver {
 public:
  explicit BridgeDriver(sys::Rtnl& host) : host_(host) {}
  Status CreateNetwork(NetworkSpec* n) override;
  Status DeleteNetwork(const NetworkSpec& n) override;
  Status Join(const NetworkSpec& n, EndpointSpec* ep, const sys::NetNs& sandbox,
              sys::Rtnl& sandbox_rtnl) override;
  Status Leave(const NetworkSpec& n, const EndpointSpec& ep, sys::Rtnl* sandbox_rtnl) override;

 private:
  sys::Rtnl& host_;
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
