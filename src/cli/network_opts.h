#pragma once
// docker network create: the client-side IPAM checks (with docker's messages) and the
// POST /networks/create body; the `network ls` row.

#include <string>
#include <vector>

#include "common/status.h"
#include "nlohmann/json.hpp"

namespace berth::cli {

struct NetworkCreateOptions {
  std::string name;
  std::string driver = "bridge";
  std::vector<std::string> subnets;
  std::vector<std::string> gateways;
  std::vector<std::string> ip_ranges;
  std::vector<std::string> aux_addresses;  // KEY=IP
  std::string ipam_driver = "default";
  std::vector<std::string> ipam_opts;
  std::vector<std::string> opts;
  std::vector<std::string> labels;
  bool internal = false;
  bool attachable = false;
  bool ingress = false;
  bool ipv6 = false;
  bool ipv6_set = false;
  bool ipv4 = true;
  std::string scope;
  bool config_only = false;
  std::string config_from;
};

StatusOr<nlohmann::json> BuildNetworkCreateBody(const NetworkCreateOptions& o);
// Is ip (an address or a CIDR) inside the CIDR subnet? Error for unparsable input.
StatusOr<bool> SubnetContains(const std::string& subnet, const std::string& ip);
// One `network ls` item: ID (12 hex unless !trunc), Name, Driver, Scope, IPv6, Internal,
// Labels, CreatedAt.
nlohmann::json NetworkListItem(const nlohmann::json& n, bool trunc);

}  // namespace berth::cli
