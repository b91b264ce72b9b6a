#pragma once
// Swarm-scoped networks on one node, as the cluster's agent hands them to the network controller.
//
// The managers own a swarm network's identity (id, name, subnet, VNI) and every endpoint's address
// on it; they keep these in the cluster store. A node learns, through its session with the leader
// (workers never talk to etcd), which swarm networks it needs now (those that something running on
// it uses, as in Docker) and the peer table of each: every other node's endpoints on that network.
// The agent passes both here; the controller makes the overlay's kernel objects (overlay_driver)
// and keeps the VXLAN device's FDB and neighbour entries equal to the peer table: no flooding, no
// learning.
//
// Threading: called from the agent's thread, never with a lock of the caller held; the
// implementation follows the controller's rules (plan under its lock, kernel work without).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace berth::network {

// One swarm network, as the managers decided it.
struct SwarmNetworkSpec {
  std::string id;       // swarmkit-style 25-character id
  std::string name;     // "ingress", "ov1"
  std::string created;  // RFC 3339, from the managers
  std::string driver = "overlay";
  uint32_t vni = 0;     // from 4096, allocated by the managers
  std::string subnet;   // "10.0.1.0/24"
  std::string gateway;  // "10.0.1.1"
  int mtu = 1450;       // -o com.docker.network.driver.mtu
  bool attachable = false;
  bool ingress = false;
  bool internal = false;
  std::map<std::string, std::string> options;
  std::map<std::string, std::string> labels;
};

// An endpoint of another node on a swarm network.
struct OverlayPeer {
  std::string ip;    // its address on the overlay, "10.0.1.2"
  std::string mac;   // "02:42:0a:00:01:02" (Docker derives it from the address)
  std::string vtep;  // the underlay IPv4 address of the node it lives on
  // The names the embedded DNS answers with this address on this network (a container's name).
  std::vector<std::string> names = {};
};

// The MAC Docker gives an overlay endpoint: 02:42 followed by the four bytes of its IPv4 address.
std::string OverlayMac(const std::string& ipv4);

class SwarmNetworks {
 public:
  virtual ~SwarmNetworks() = default;
  // The underlay address of this node (its advertise address): the VXLAN devices' local address.
  virtual Status SetVtep(const std::string& local_ip) = 0;
  // The swarm networks this node needs now. Missing ones are made; ones no longer listed are
  // removed once no endpoint of this node is on them. Idempotent.
  virtual Status SetSwarmNetworks(const std::vector<SwarmNetworkSpec>& wanted) = 0;
  // The whole peer table of one network (this node's own endpoints excluded): FDB and neighbour
  // entries are added and removed so the kernel matches it. Idempotent.
  virtual Status SetPeers(const std::string& network_id, const std::vector<OverlayPeer>& peers) = 0;
};

}  // namespace berth::network
