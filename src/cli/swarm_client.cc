#include "cli/swarm_client.h"

#include "absl/strings/str_cat.h"
#include "spec/json/go_codec.h"
#include "spec/json/swarm_json.h"

namespace berth::cli {
namespace {

// A daemon answer that is not the JSON it should be.
Status BadAnswer(const Status& s) {
  return absl::Status(s.code(),
                      absl::StrCat("Error: unexpected response from daemon: ", s.message()));
}

std::string Filters(const std::map<std::string, std::vector<std::string>>& filters) {
  if (filters.empty()) return "";
  return "?filters=" + client::QueryEscape(client::DumpJson(client::FiltersJson(filters)));
}

}  // namespace

StatusOr<spec::SwarmInfo> InspectSwarmInfo(const client::Client& api) {
  ASSIGN_OR_RETURN(client::Response r, api.Call("GET", "/info"));
  ASSIGN_OR_RETURN(nlohmann::json info, r.Json());
  if (!info.is_object() || !info.contains("Swarm")) return spec::SwarmInfo{};
  auto parsed = spec::ParseSwarmInfo(info["Swarm"].dump());
  if (!parsed.ok()) return BadAnswer(parsed.status());
  return parsed;
}

StatusOr<spec::Swarm> InspectSwarm(const client::Client& api) {
  ASSIGN_OR_RETURN(client::Response r, api.Call("GET", "/swarm"));
  auto parsed = spec::ParseSwarm(r.body);
  if (!parsed.ok()) return BadAnswer(parsed.status());
  return parsed;
}

StatusOr<spec::Node> InspectNode(const client::Client& api, const std::string& id) {
  ASSIGN_OR_RETURN(client::Response r, api.Call("GET", "/nodes/" + client::QueryEscape(id)));
  auto parsed = spec::ParseNode(r.body);
  if (!parsed.ok()) return BadAnswer(parsed.status());
  return parsed;
}

StatusOr<std::vector<spec::Node>> ListNodes(
    const client::Client& api, const std::map<std::string, std::vector<std::string>>& filters) {
  ASSIGN_OR_RETURN(client::Response r, api.Call("GET", "/nodes" + Filters(filters)));
  auto parsed = spec::ParseNodes(r.body);
  if (!parsed.ok()) return BadAnswer(parsed.status());
  return parsed;
}

Status UpdateNode(const client::Client& api, const std::string& id, uint64_t version,
                  const spec::NodeSpec& spec) {
  std::string path = absl::StrCat("/nodes/", client::QueryEscape(id), "/update?version=", version);
  return api.Call("POST", path, spec::json::Dump(spec::RenderNodeSpec(spec))).status();
}

Status UpdateSwarm(const client::Client& api, uint64_t version, const spec::SwarmSpec& spec,
                   bool rotate_worker_token, bool rotate_manager_token) {
  auto b = [](bool x) { return x ? "true" : "false"; };
  std::string path =
      absl::StrCat("/swarm/update?rotateManagerToken=", b(rotate_manager_token),
                   "&rotateManagerUnlockKey=false&rotateWorkerToken=", b(rotate_worker_token),
                   "&version=", version);
  return api.Call("POST", path, spec::json::Dump(spec::RenderSwarmSpec(spec))).status();
}

StatusOr<std::string> NodeReference(const client::Client& api, const std::string& ref) {
  if (ref != "self") return ref;
  ASSIGN_OR_RETURN(spec::SwarmInfo info, InspectSwarmInfo(api));
  if (!info.node_id.empty()) return info.node_id;
  RETURN_IF_ERROR(ListNodes(api, {}).status());
  return absl::UnknownError("node ID not found in /info");
}

}  // namespace berth::cli
