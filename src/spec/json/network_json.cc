#include "spec/json/network_json.h"

#include "spec/json/codecs.h"

namespace berth::spec {

using json::Json;

namespace {
constexpr std::string_view kEofMessage = "got EOF while reading request body";
}  // namespace

StatusOr<NetworkCreateRequest> ParseNetworkCreate(std::string_view body) {
  return json::ParseRequestBody(body, json::NetworkCreateRequestCodec(), kEofMessage);
}

StatusOr<NetworkConnect> ParseNetworkConnect(std::string_view body) {
  return json::ParseRequestBody(body, json::NetworkConnectCodec(), kEofMessage);
}

StatusOr<NetworkDisconnect> ParseNetworkDisconnect(std::string_view body) {
  return json::ParseRequestBody(body, json::NetworkDisconnectCodec(), kEofMessage);
}

StatusOr<EndpointSettings> ParseEndpointSettings(std::string_view text) {
  return json::ParseRequestBody(text, json::EndpointSettingsCodec());
}

Json RenderEndpointSettings(const EndpointSettings& settings) {
  return json::EndpointSettingsCodec().encode(settings);
}

Json RenderIpam(const IPAM& ipam) { return json::IpamCodec().encode(ipam); }

Json RenderNetworkCreate(const NetworkCreateRequest& request) {
  return json::NetworkCreateRequestCodec().encode(request);
}

Json RenderNetworkConnect(const NetworkConnect& request) {
  return json::NetworkConnectCodec().encode(request);
}

Json RenderNetworkDisconnect(const NetworkDisconnect& request) {
  return json::NetworkDisconnectCodec().encode(request);
}

}  // namespace berth::spec
