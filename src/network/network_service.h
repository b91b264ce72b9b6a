#pragma once
// NetworkService: what the Engine API (and later the cluster's agent) asks of the network layer,
// with typed requests and answers; the controller implements it.

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "spec/filters.h"
#include "spec/network.h"

namespace berth::network {

// GET /networks/{id}: a network as Docker's NetworkResource shows it.
struct NetworkView {
  std::string name;
  std::string id;
  std::string created;  // RFC 3339
  std::string scope;    // "local" | "swarm"
  std::string driver;
  bool enable_ipv6 = false;
  spec::IPAM ipam;
  bool internal = false;
  bool attachable = false;
  bool ingress = false;
  std::string config_from;
  bool config_only = false;
  struct Endpoint {
    std::string name;
    std::string endpoint_id;
    std::string mac_address;
    std::string ipv4_address;  // "10.0.0.2/24"
    std::string ipv6_address;
  };
  std::map<std::string, Endpoint> containers;  // by container id; list leaves it empty
  // A swarm network present on this node: the nodes that have it (inspect only; "Peers").
  std::vector<std::pair<std::string, std::string>> peers;  // name, underlay address
  spec::StringMap options;
  spec::StringMap labels;
};

struct NetworkCreateResult {
  std::string id;
  std::string warning;
};

class NetworkService {
 public:
  virtual ~NetworkService() = default;
  virtual StatusOr<NetworkCreateResult> CreateNetwork(const spec::NetworkCreateRequest& request) = 0;
  virtual StatusOr<NetworkView> InspectNetwork(const std::string& name) = 0;
  // Docker's filters: driver, id, label, name, scope, type, dangling.
  virtual StatusOr<std::vector<NetworkView>> ListNetworks(const spec::Filters& filters) = 0;
  virtual Status RemoveNetwork(const std::string& name) = 0;
  // The names of the networks removed; filters: until, label, label!.
  virtual StatusOr<std::vector<std::string>> PruneNetworks(const spec::Filters& filters) = 0;
  virtual Status Connect(const std::string& network, const spec::NetworkConnect& request) = 0;
  virtual Status Disconnect(const std::string& network, const spec::NetworkDisconnect& request) = 0;
};

}  // namespace berth::network
