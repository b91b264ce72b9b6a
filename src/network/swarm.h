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

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
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
  // The nodes that have the network now, this one included, as `network inspect` shows them
  // ("Peers": Docker's networkdb names, 12 hex digits, and the nodes' underlay addresses).
  struct PeerNode {
    std::string name;
    std::string ip;
    bool operator==(const PeerNode&) const = default;
  };
  std::vector<PeerNode> peer_nodes = {};
};

// An endpoint of another node on a swarm network.
struct OverlayPeer {
  std::string ip;    // its address on the overlay, "10.0.1.2"
  std::string mac;   // "02:42:0a:00:01:02" (Docker derives it from the address)
  std::string vtep;  // the underlay IPv4 address of the node it lives on
  // The names the embedded DNS answers with this address on this network (a container's name).
  std::vector<std::string> names = {};
};

// The two helpers below are inline so that the cluster's managers (which compute peers' MACs and
// check a create) need not link the network library.

// The MAC Docker gives an overlay endpoint: 02:42 followed by the four bytes of its IPv4 address
// ("10.0.1.2" -> "02:42:0a:00:01:02"); "" when ipv4 is not an IPv4 address.
inline std::string OverlayMac(const std::string& ipv4) {
  in_addr a{};
  if (::inet_pton(AF_INET, ipv4.c_str(), &a) != 1) return "";
  const auto* b = reinterpret_cast<const unsigned char*>(&a.s_addr);  // network order
  char out[18];
  std::snprintf(out, sizeof out, "02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3]);
  return out;
}

// The options of a swarm network this node can build, checked the same on the managers (before a
// create is accepted) and on every node (before the kernel objects are made): InvalidArgument for
// an MTU that is not a number in 68..65535, Unimplemented for `--opt encrypted` (this kernel has
// neither IPsec nor WireGuard).
inline Status ValidateSwarmNetworkOptions(const std::map<std::string, std::string>& options) {
  if (options.count("encrypted"))
    return absl::UnimplementedError(
        "encrypted overlay networks (--opt encrypted) are not supported: Docker encrypts VXLAN "
        "traffic with IPsec ESP in transport mode, and this kernel has no IPsec (CONFIG_XFRM_USER, "
        "CONFIG_INET_ESP) nor WireGuard (CONFIG_WIREGUARD) to do it with; create the network "
        "without --opt encrypted");
  if (auto m = options.find("com.docker.network.driver.mtu"); m != options.end()) {
    int mtu = 0;
    if (!absl::SimpleAtoi(m->second, &mtu) || mtu < 68 || mtu > 65535)
      return absl::InvalidArgumentError("invalid MTU \"" + m->second + "\"");
  }
  return absl::OkStatus();
}

// ---- The routing mesh and service VIPs (network/mesh balances; the managers decide) ----

// A running task of a service, as a load-balancing backend on one network.
struct MeshBackend {
  std::string ip;      // its address on that network, "10.0.0.7" (no prefix)
  bool local = false;  // the task runs on this node
};

// A service on one swarm network it joins (the ingress network included, when it publishes
// ingress ports).
struct MeshServiceNetwork {
  std::string network_id;
  // Its virtual IP there ("10.0.1.2", no prefix; Endpoint.VirtualIPs); "" in dnsrr mode and on
  // the ingress network when it has no VIP there.
  std::string vip;
  // The names the embedded DNS answers with the VIP on this network (the service's name and its
  // aliases on the network); empty without a VIP (dnsrr: the tasks answer those names).
  std::vector<std::string> names;
  // Its tasks that are Running (healthy where they have a health check) with an address here;
  // a task is gone from this list as soon as the managers want it stopped.
  std::vector<MeshBackend> backends;
};

// A port published in ingress mode (--publish published=8080,target=80): answers on every node.
struct MeshPort {
  std::string proto = "tcp";  // "tcp" | "udp"
  int published = 0;
  int target = 0;
};

struct MeshService {
  std::string id;    // swarmkit service id
  std::string name;  // "web"
  std::vector<MeshPort> ingress_ports;
  std::vector<MeshServiceNetwork> networks;
};

// All that the routing mesh and the VIPs need on one node, whole each time (the node applies only
// what changed).
struct MeshSpec {
  std::string ingress_network_id;  // the swarm's ingress network ("" before swarm init)
  // This node's own endpoint on the ingress network ("10.0.0.2", Docker's ingress-endpoint), ""
  // when no service publishes an ingress port: then the node has no ingress endpoint and no
  // published port of the mesh. When set, the ingress network is among SetSwarmNetworks' wanted.
  std::string ingress_address;
  // Services with ingress ports (every node needs those) and services with a VIP on a swarm
  // network this node has (for its containers' namespaces).
  std::vector<MeshService> services;
};

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
  // The routing mesh and the VIPs as they are now (called after SetSwarmNetworks and SetPeers of
  // the same assignments): the node's ingress endpoint made or removed, its published ports
  // balanced across `services`' ingress backends, each local container's namespace balancing the
  // VIPs of the networks it is on, and the VIPs' names in the embedded DNS. Idempotent; a call
  // with an empty spec removes all of it (swarm leave).
  virtual Status SetMesh(const MeshSpec& mesh) = 0;
};

}  // namespace berth::network
