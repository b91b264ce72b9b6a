#pragma once
// Swarm-scoped networks as the managers keep them (issue 12): the record in the cluster store,
// the identity the managers allocate (VNI from 4096, a subnet from the swarm's default address
// pool unless the user gave one), and how a record is shown (Docker's NetworkResource) and handed
// to a node (network::SwarmNetworkSpec). Pure functions; the store and the API use them.
//
// Subnets: an allocated one never overlaps another swarm network's subnet; a subnet the user names
// may overlap another overlay's (each overlay has its own namespace on every node, so they can),
// as the issue asks; the allocator then steps around both.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "network/network_service.h"
#include "network/swarm.h"
#include "spec/network.h"

namespace berth::cluster {

inline constexpr uint32_t kFirstVni = 4096;  // Docker's first overlay VNI
inline constexpr char kIngressName[] = "ingress";
inline constexpr char kIngressSubnet[] = "10.0.0.0/24";
inline constexpr char kVxlanIdOption[] = "com.docker.network.driver.overlay.vxlanid_list";

struct NetworkRecord {
  std::string id;
  uint64_t version = 0;  // the key's mod revision, set when read
  int64_t created_at = 0;  // unix nanos
  std::string name;
  std::map<std::string, std::string> labels;
  std::string driver = "overlay";
  std::map<std::string, std::string> options;  // the user's -o
  bool internal = false;
  bool attachable = false;
  bool ingress = false;
  std::string ipam_driver = "default";
  std::map<std::string, std::string> ipam_options;
  std::string subnet;   // "10.0.1.0/24"
  std::string gateway;  // "10.0.1.1"
  bool subnet_allocated = false;  // from the pool (holds its pool key), not the user's
  uint32_t vni = 0;
  bool operator==(const NetworkRecord&) const = default;
};

// A container of one node attached to an attachable swarm network (`docker run --net ov1`): the
// address the managers gave it.
struct AttachmentRecord {
  std::string id;
  std::string network_id;
  std::string node_id;
  std::string container_id;
  std::string container_name;  // without the leading "/": other nodes' DNS answers it
  std::string ip;              // "10.0.1.2"
  int64_t created_at = 0;
  uint64_t version = 0;
  bool operator==(const AttachmentRecord&) const = default;
};

std::string EncodeAttachmentRecord(const AttachmentRecord& a);
StatusOr<AttachmentRecord> DecodeAttachmentRecord(std::string_view text);

// The lowest host address of the network's subnet that is not its gateway and not in `used`;
// ResourceExhausted when the subnet is full.
StatusOr<std::string> NextAddress(const NetworkRecord& n, const std::vector<std::string>& used);

std::string EncodeNetworkRecord(const NetworkRecord& n);
StatusOr<NetworkRecord> DecodeNetworkRecord(std::string_view text);

// What a create request asks of the managers, checked, without id, VNI or allocated subnet. Refuses
// what Berth cannot honour with a clear error: a driver other than overlay, IPv6, encryption (no
// IPsec or WireGuard on this kernel), more than one IPAM config, a config-only network.
StatusOr<NetworkRecord> NetworkFromRequest(const spec::NetworkCreateRequest& req);

// The lowest VNI from kFirstVni that no record uses.
uint32_t NextVni(const std::vector<NetworkRecord>& all);
// The first subnet of `size` bits in the pools (default: 10.0.0.0/8) that overlaps no record's
// subnet; NOT_FOUND (Docker's words) when the pools are full.
StatusOr<std::string> NextSubnet(const std::vector<NetworkRecord>& all,
                                 const std::vector<std::string>& pools, uint32_t size);
// The first host address of an IPv4 subnet ("10.0.1.0/24" -> "10.0.1.1"); InvalidArgument for
// what is not an IPv4 subnet.
StatusOr<std::string> FirstHost(const std::string& subnet);

// GET /networks/{id} on a manager, and the node's view.
network::NetworkView ViewOf(const NetworkRecord& n);
network::SwarmNetworkSpec SwarmSpecOf(const NetworkRecord& n);

}  // namespace berth::cluster
