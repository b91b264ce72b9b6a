#pragma once
// Docker Engine API 1.41 network requests and endpoint settings, field for field as moby 20.10
// declares them (api/types/network/network.go, api/types/types.go). Conventions are those of
// spec/container.h.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "spec/container.h"

namespace berth::spec {

// network.EndpointIPAMConfig: addresses the client asks for (--ip, --ip6, --link-local-ip).
struct EndpointIPAMConfig {
  std::string ipv4_address;                 // omitempty
  std::string ipv6_address;                 // omitempty
  std::vector<std::string> link_local_ips;  // omitempty; "LinkLocalIPs"
  bool operator==(const EndpointIPAMConfig&) const = default;
};

// network.EndpointSettings: a container's membership of one network, as asked and as inspected.
struct EndpointSettings {
  std::optional<EndpointIPAMConfig> ipam_config;  // "IPAMConfig"
  std::optional<std::vector<std::string>> links;
  std::optional<std::vector<std::string>> aliases;
  std::string network_id;   // "NetworkID"
  std::string endpoint_id;  // "EndpointID"
  std::string gateway;
  std::string ip_address;  // "IPAddress"
  int64_t ip_prefix_len = 0;
  std::string ipv6_gateway;         // "IPv6Gateway"
  std::string global_ipv6_address;  // "GlobalIPv6Address"
  int64_t global_ipv6_prefix_len = 0;
  std::string mac_address;
  std::optional<StringMap> driver_opts;
  bool operator==(const EndpointSettings&) const = default;
};

// types.NetworkSettings as container inspect shows it: NetworkSettingsBase and
// DefaultNetworkSettings (the default bridge's endpoint, for old clients) flattened, then the
// per-network endpoints.
struct NetworkSettings {
  std::string bridge;
  std::string sandbox_id;  // "SandboxID"
  bool hairpin_mode = false;
  std::string link_local_ipv6_address;  // "LinkLocalIPv6Address"
  int64_t link_local_ipv6_prefix_len = 0;
  PortMap ports;            // rendered {} when empty
  std::string sandbox_key;  // the namespace's path
  std::string endpoint_id;  // "EndpointID"
  std::string gateway;
  std::string global_ipv6_address;  // "GlobalIPv6Address"
  int64_t global_ipv6_prefix_len = 0;
  std::string ip_address;  // "IPAddress"
  int64_t ip_prefix_len = 0;
  std::string ipv6_gateway;  // "IPv6Gateway"
  std::string mac_address;
  std::map<std::string, EndpointSettings> networks;  // by network name
  bool operator==(const NetworkSettings&) const = default;
};

// network.NetworkingConfig: per-network endpoint settings of a container create.
struct NetworkingConfig {
  // map[string]*EndpointSettings; a null entry decodes as default settings.
  std::optional<std::map<std::string, EndpointSettings>> endpoints_config;
  bool operator==(const NetworkingConfig&) const = default;
};

// network.IPAMConfig: one pool. Every field is omitempty.
struct IPAMConfig {
  std::string subnet;
  std::string ip_range;  // "IPRange"
  std::string gateway;
  StringMap aux_addresses;  // "AuxiliaryAddresses"
  bool operator==(const IPAMConfig&) const = default;
};

// network.IPAM.
struct IPAM {
  std::string driver;
  std::optional<StringMap> options;
  std::optional<std::vector<IPAMConfig>> config;
  bool operator==(const IPAM&) const = default;
};

// network.ConfigReference.
struct ConfigReference {
  std::string network;
  bool operator==(const ConfigReference&) const = default;
};

// types.NetworkCreateRequest: the body of POST /networks/create.
struct NetworkCreateRequest {
  std::string name;
  bool check_duplicate = false;
  std::string driver;
  std::string scope;
  bool enable_ipv6 = false;  // "EnableIPv6"
  std::optional<IPAM> ipam;  // "IPAM"
  bool internal = false;
  bool attachable = false;
  bool ingress = false;
  bool config_only = false;
  std::optional<ConfigReference> config_from;
  std::optional<StringMap> options;
  std::optional<StringMap> labels;
  bool operator==(const NetworkCreateRequest&) const = default;
};

// types.NetworkConnect: the body of POST /networks/{id}/connect.
struct NetworkConnect {
  std::string container;
  std::optional<EndpointSettings> endpoint_config;  // omitempty
  bool operator==(const NetworkConnect&) const = default;
};

// types.NetworkDisconnect: the body of POST /networks/{id}/disconnect.
struct NetworkDisconnect {
  std::string container;
  bool force = false;
  bool operator==(const NetworkDisconnect&) const = default;
};

}  // namespace berth::spec
