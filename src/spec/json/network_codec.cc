// Endpoint settings and the network requests in moby 20.10's field order
// (api/types/network/network.go, api/types/types.go).

#include "spec/json/codecs.h"

namespace berth::spec::json {
namespace {

Codec<StringMap> StringMapCodec() { return Map(String()); }

Codec<EndpointIPAMConfig> EndpointIpamConfigCodec() {
  using E = EndpointIPAMConfig;
  return Struct<E>("EndpointIPAMConfig", "network.EndpointIPAMConfig",
                   {Field("IPv4Address", &E::ipv4_address, String(), true),
                    Field("IPv6Address", &E::ipv6_address, String(), true),
                    Field("LinkLocalIPs", &E::link_local_ips, Slice(String()), true)});
}

Codec<IPAMConfig> IpamConfigCodec() {
  return Struct<IPAMConfig>("IPAMConfig", "network.IPAMConfig",
                            {Field("Subnet", &IPAMConfig::subnet, String(), true),
                             Field("IPRange", &IPAMConfig::ip_range, String(), true),
                             Field("Gateway", &IPAMConfig::gateway, String(), true),
                             Field("AuxiliaryAddresses", &IPAMConfig::aux_addresses,
                                   StringMapCodec(), true)});
}

}  // namespace

const Codec<EndpointSettings>& EndpointSettingsCodec() {
  using E = EndpointSettings;
  static const auto* codec = new Codec<E>(Struct<E>(
      "EndpointSettings", "network.EndpointSettings",
      {Field("IPAMConfig", &E::ipam_config, Optional(EndpointIpamConfigCodec())),
       Field("Links", &E::links, Optional(Slice(String()))),
       Field("Aliases", &E::aliases, Optional(Slice(String()))),
       Field("NetworkID", &E::network_id, String()),
       Field("EndpointID", &E::endpoint_id, String()),
       Field("Gateway", &E::gateway, String()),
       Field("IPAddress", &E::ip_address, String()),
       Field("IPPrefixLen", &E::ip_prefix_len, Int("int")),
       Field("IPv6Gateway", &E::ipv6_gateway, String()),
       Field("GlobalIPv6Address", &E::global_ipv6_address, String()),
       Field("GlobalIPv6PrefixLen", &E::global_ipv6_prefix_len, Int("int")),
       Field("MacAddress", &E::mac_address, String()),
       Field("DriverOpts", &E::driver_opts, Optional(StringMapCodec()))}));
  return *codec;
}

const Codec<NetworkingConfig>& NetworkingConfigCodec() {
  static const auto* codec = new Codec<NetworkingConfig>(Struct<NetworkingConfig>(
      "NetworkingConfig", "network.NetworkingConfig",
      {Field("EndpointsConfig", &NetworkingConfig::endpoints_config,
             Optional(Map(EndpointSettingsCodec(), "map[string]*network.EndpointSettings")))}));
  return *codec;
}

const Codec<IPAM>& IpamCodec() {
  static const auto* codec = new Codec<IPAM>(Struct<IPAM>(
      "IPAM", "network.IPAM",
      {Field("Driver", &IPAM::driver, String()),
       Field("Options", &IPAM::options, Optional(StringMapCodec())),
       Field("Config", &IPAM::config, Optional(Slice(IpamConfigCodec())))}));
  return *codec;
}

const Codec<NetworkCreateRequest>& NetworkCreateRequestCodec() {
  using N = NetworkCreateRequest;
  // NetworkCreateRequest embeds NetworkCreate, then adds Name: Name renders last.
  static const auto* codec = new Codec<N>(Struct<N>(
      "NetworkCreateRequest", "types.NetworkCreateRequest",
      {Field("CheckDuplicate", &N::check_duplicate, Bool()),
       Field("Driver", &N::driver, String()),
       Field("Scope", &N::scope, String()),
       Field("EnableIPv6", &N::enable_ipv6, Bool()),
       Field("IPAM", &N::ipam, Optional(IpamCodec())),
       Field("Internal", &N::internal, Bool()),
       Field("Attachable", &N::attachable, Bool()),
       Field("Ingress", &N::ingress, Bool()),
       Field("ConfigOnly", &N::config_only, Bool()),
       Field("ConfigFrom", &N::config_from,
             Optional(Struct<ConfigReference>("ConfigReference", "network.ConfigReference",
                                              {Field("Network", &ConfigReference::network, String())}))),
       Field("Options", &N::options, Optional(StringMapCodec())),
       Field("Labels", &N::labels, Optional(StringMapCodec())),
       Field("Name", &N::name, String())}));
  return *codec;
}

const Codec<NetworkConnect>& NetworkConnectCodec() {
  static const auto* codec = new Codec<NetworkConnect>(Struct<NetworkConnect>(
      "NetworkConnect", "types.NetworkConnect",
      {Field("Container", &NetworkConnect::container, String()),
       Field("EndpointConfig", &NetworkConnect::endpoint_config, Optional(EndpointSettingsCodec()),
             true)}));
  return *codec;
}

const Codec<NetworkDisconnect>& NetworkDisconnectCodec() {
  static const auto* codec = new Codec<NetworkDisconnect>(Struct<NetworkDisconnect>(
      "NetworkDisconnect", "types.NetworkDisconnect",
      {Field("Container", &NetworkDisconnect::container, String()),
       Field("Force", &NetworkDisconnect::force, Bool())}));
  return *codec;
}

}  // namespace berth::spec::json
