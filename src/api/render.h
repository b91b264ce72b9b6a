#pragma once
// The engine's and the network layer's typed answers as Docker's JSON, in Docker's key order
// (Go struct order) with its null-vs-empty choices. The spec renderers (src/spec/json) do the
// request-shaped parts (Config, HostConfig, EndpointSettings, Mounts).

#include <string>
#include <vector>

#include "api/http.h"
#include "engine/container_types.h"
#include "engine/events.h"
#include "engine/images.h"
#include "network/network_service.h"
#include "nlohmann/json.hpp"

namespace berth::api {

using OrderedJson = nlohmann::ordered_json;

OrderedJson RenderContainer(const engine::ContainerView& v);
OrderedJson RenderContainerSummary(const engine::ContainerSummary& s);
OrderedJson RenderNetworkSettings(const spec::NetworkSettings& ns);
OrderedJson RenderPortMap(const spec::PortMap& ports);
OrderedJson RenderExec(const engine::ExecView& e);
OrderedJson RenderTop(const engine::TopResult& t);
// One `docker stats` sample; `prev` (may be null) fills precpu_stats and preread.
OrderedJson RenderStats(const engine::ContainerStats& s, const engine::ContainerStats* prev);
OrderedJson RenderNetwork(const network::NetworkView& n);
OrderedJson RenderEvent(const engine::Event& e);
OrderedJson RenderImageSummary(const engine::Image& img);
OrderedJson RenderImageInspect(const engine::Image& img, const std::string& lower_dirs);
OrderedJson RenderImageDeletes(const std::vector<engine::ImageStore::DeleteItem>& items);

// A JSON answer in the order given (Conn::SendJson sorts keys).
void SendOrdered(Conn& c, int status, const OrderedJson& body);

}  // namespace berth::api
