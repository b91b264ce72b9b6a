#include "spec/json/swarm_json.h"

#include "spec/json/swarm_codecs.h"

namespace berth::spec {

using json::Json;

namespace {
// moby 20.10's swarm routes answer an empty body with this instead of Go's "EOF".
constexpr std::string_view kEofMessage = "got EOF while reading request body";
}  // namespace

StatusOr<SwarmInitRequest> ParseSwarmInitRequest(std::string_view body) {
  return json::ParseRequestBody(body, json::SwarmInitRequestCodec(), kEofMessage);
}

StatusOr<SwarmJoinRequest> ParseSwarmJoinRequest(std::string_view body) {
  return json::ParseRequestBody(body, json::SwarmJoinRequestCodec(), kEofMessage);
}

StatusOr<SwarmSpec> ParseSwarmSpec(std::string_view body) {
  return json::ParseRequestBody(body, json::SwarmSpecCodec(), kEofMessage);
}

StatusOr<NodeSpec> ParseNodeSpec(std::string_view body) {
  return json::ParseRequestBody(body, json::NodeSpecCodec(), kEofMessage);
}

StatusOr<Swarm> ParseSwarm(std::string_view text) {
  return json::ParseRequestBody(text, json::SwarmCodec());
}

StatusOr<ClusterInfo> ParseClusterInfo(std::string_view text) {
  return json::ParseRequestBody(text, json::ClusterInfoCodec());
}

StatusOr<Node> ParseNode(std::string_view text) {
  return json::ParseRequestBody(text, json::NodeCodec());
}

StatusOr<std::vector<Node>> ParseNodes(std::string_view text) {
  return json::ParseRequestBody(text, json::Slice(json::NodeCodec(), "[]swarm.Node"));
}

StatusOr<SwarmInfo> ParseSwarmInfo(std::string_view text) {
  return json::ParseRequestBody(text, json::SwarmInfoCodec());
}

Json RenderSwarmInitRequest(const SwarmInitRequest& r) {
  return json::SwarmInitRequestCodec().encode(r);
}

Json RenderSwarmJoinRequest(const SwarmJoinRequest& r) {
  return json::SwarmJoinRequestCodec().encode(r);
}

Json RenderSwarmSpec(const SwarmSpec& s) { return json::SwarmSpecCodec().encode(s); }

Json RenderNodeSpec(const NodeSpec& s) { return json::NodeSpecCodec().encode(s); }

Json RenderSwarm(const Swarm& s) { return json::SwarmCodec().encode(s); }

Json RenderClusterInfo(const ClusterInfo& c) { return json::ClusterInfoCodec().encode(c); }

Json RenderNode(const Node& n) { return json::NodeCodec().encode(n); }

Json RenderSwarmInfo(const SwarmInfo& i) { return json::SwarmInfoCodec().encode(i); }

}  // namespace berth::spec
