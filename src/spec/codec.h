#pragma once
// Typed specs to and from text, for the engine's store: Docker's own JSON (the request bodies
// as a client would send them), so a row in SQLite reads like the request that made it and
// the engine never handles a JSON library. Implemented in spec/json (link berth_spec_json).
// Decode reads with the same rules as the API parsers but does not repeat create-time checks.

#include <string>
#include <string_view>

#include "common/status.h"
#include "spec/container_create.h"
#include "spec/network.h"

namespace berth::spec {

// The create body (Config fields, HostConfig, NetworkingConfig) plus "Name".
std::string EncodeContainerCreate(const ContainerCreateRequest& request);
StatusOr<ContainerCreateRequest> DecodeContainerCreate(std::string_view text);

std::string EncodeNetworkCreate(const NetworkCreateRequest& request);
StatusOr<NetworkCreateRequest> DecodeNetworkCreate(std::string_view text);

std::string EncodeEndpointSettings(const EndpointSettings& settings);
StatusOr<EndpointSettings> DecodeEndpointSettings(std::string_view text);

std::string EncodeHostConfig(const HostConfig& host_config);
StatusOr<HostConfig> DecodeHostConfig(std::string_view text);

}  // namespace berth::spec
