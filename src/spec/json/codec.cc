// spec/codec.h: the store's text form of the typed specs.

#include "spec/codec.h"

#include "spec/json/codecs.h"
#include "spec/json/container_wrapper.h"

namespace berth::spec {

std::string EncodeContainerCreate(const ContainerCreateRequest& request) {
  json::Json body = json::EncodeContainerCreateBody(request);
  // No field of Docker's wrapper is called Name, so the key cannot shadow one.
  body["Name"] = request.name;
  return json::Dump(body);
}

StatusOr<ContainerCreateRequest> DecodeContainerCreate(std::string_view text) {
  ASSIGN_OR_RETURN(json::GoValue v, json::ReadGoJson(text, json::GoJsonMode::kUnmarshal));
  std::string name;
  for (const auto& [key, value] : v.members) {
    if (key == "Name" && value.kind == json::GoValue::Kind::kString) name = value.text;
  }
  return json::DecodeContainerCreate(v, name, /*validate=*/false);
}

std::string EncodeNetworkCreate(const NetworkCreateRequest& request) {
  return json::Dump(json::NetworkCreateRequestCodec().encode(request));
}

StatusOr<NetworkCreateRequest> DecodeNetworkCreate(std::string_view text) {
  return json::ParseRequestBody(text, json::NetworkCreateRequestCodec());
}

std::string EncodeEndpointSettings(const EndpointSettings& settings) {
  return json::Dump(json::EndpointSettingsCodec().encode(settings));
}

StatusOr<EndpointSettings> DecodeEndpointSettings(std::string_view text) {
  return json::ParseRequestBody(text, json::EndpointSettingsCodec());
}

std::string EncodeHostConfig(const HostConfig& host_config) {
  return json::Dump(json::HostConfigCodec().encode(host_config));
}

StatusOr<HostConfig> DecodeHostConfig(std::string_view text) {
  return json::ParseRequestBody(text, json::HostConfigCodec());
}

}  // namespace berth::spec
