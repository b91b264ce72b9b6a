#pragma once
// Swarm and node values as Docker's JSON: parsers with Go's / Docker 20.10's wording
// (InvalidArgument, 400) and renderers in Docker's key order (spec/swarm.h). The daemon parses
// requests and renders answers; the berth CLI renders requests and parses answers; the cluster
// store keeps Swarm and Node records in this same JSON.

#include <string_view>

#include "common/status.h"
#include "nlohmann/json.hpp"
#include "spec/swarm.h"

namespace berth::spec {

// Request bodies. An empty body is "got EOF while reading request body".
StatusOr<SwarmInitRequest> ParseSwarmInitRequest(std::string_view body);
StatusOr<SwarmJoinRequest> ParseSwarmJoinRequest(std::string_view body);
StatusOr<SwarmSpec> ParseSwarmSpec(std::string_view body);  // POST /swarm/update
StatusOr<NodeSpec> ParseNodeSpec(std::string_view body);    // POST /nodes/{id}/update

// Answers and stored records.
StatusOr<Swarm> ParseSwarm(std::string_view text);
StatusOr<ClusterInfo> ParseClusterInfo(std::string_view text);
StatusOr<Node> ParseNode(std::string_view text);
StatusOr<std::vector<Node>> ParseNodes(std::string_view text);
StatusOr<SwarmInfo> ParseSwarmInfo(std::string_view text);

nlohmann::ordered_json RenderSwarmInitRequest(const SwarmInitRequest& r);
nlohmann::ordered_json RenderSwarmJoinRequest(const SwarmJoinRequest& r);
nlohmann::ordered_json RenderSwarmSpec(const SwarmSpec& s);
nlohmann::ordered_json RenderNodeSpec(const NodeSpec& s);
nlohmann::ordered_json RenderSwarm(const Swarm& s);
nlohmann::ordered_json RenderClusterInfo(const ClusterInfo& c);
nlohmann::ordered_json RenderNode(const Node& n);
nlohmann::ordered_json RenderSwarmInfo(const SwarmInfo& i);

}  // namespace berth::spec
