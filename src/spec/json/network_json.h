#pragma once
// Network requests and endpoint settings as Docker's JSON: parsers with Docker 20.10's / Go's
// wording (InvalidArgument, 400), renderers in Docker's key order.

#include <string_view>

#include "common/status.h"
#include "nlohmann/json.hpp"
#include "spec/network.h"

namespace berth::spec {

// POST /networks/create, /networks/{id}/connect, /networks/{id}/disconnect. An empty body is
// "got EOF while reading request body", as Docker's routes say.
StatusOr<NetworkCreateRequest> ParseNetworkCreate(std::string_view body);
StatusOr<NetworkConnect> ParseNetworkConnect(std::string_view body);
StatusOr<NetworkDisconnect> ParseNetworkDisconnect(std::string_view body);
// One network.EndpointSettings object on its own.
StatusOr<EndpointSettings> ParseEndpointSettings(std::string_view text);

// One entry of NetworkSettings.Networks in container inspect.
nlohmann::ordered_json RenderEndpointSettings(const EndpointSettings& settings);
// The "IPAM" section of network inspect.
nlohmann::ordered_json RenderIpam(const IPAM& ipam);
// Request bodies as a client sends them.
nlohmann::ordered_json RenderNetworkCreate(const NetworkCreateRequest& request);
nlohmann::ordered_json RenderNetworkConnect(const NetworkConnect& request);
nlohmann::ordered_json RenderNetworkDisconnect(const NetworkDisconnect& request);

}  // namespace berth::spec
