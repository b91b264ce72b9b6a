#pragma once
// Typed calls of the swarm and node endpoints for the CLI: the daemon's JSON parsed into the
// spec types (spec/json/swarm_json.h), requests rendered from them, as docker's client does.

#include <map>
#include <string>
#include <vector>

#include "api/client/client.h"
#include "common/status.h"
#include "spec/swarm.h"

namespace berth::cli {

// GET /info, its "Swarm" section.
StatusOr<spec::SwarmInfo> InspectSwarmInfo(const client::Client& api);
// GET /swarm
StatusOr<spec::Swarm> InspectSwarm(const client::Client& api);
// GET /nodes/{id}
StatusOr<spec::Node> InspectNode(const client::Client& api, const std::string& id);
// GET /nodes[?filters=...]
StatusOr<std::vector<spec::Node>> ListNodes(
    const client::Client& api, const std::map<std::string, std::vector<std::string>>& filters);
// POST /nodes/{id}/update?version=N with the spec.
Status UpdateNode(const client::Client& api, const std::string& id, uint64_t version,
                  const spec::NodeSpec& spec);
// POST /swarm/update?rotateManagerToken=..&rotateManagerUnlockKey=..&rotateWorkerToken=..
// &version=N with the spec (docker's query, its keys sorted as url.Values encodes them).
Status UpdateSwarm(const client::Client& api, uint64_t version, const spec::SwarmSpec& spec,
                   bool rotate_worker_token, bool rotate_manager_token);
// docker's node.Reference: "self" is the current node's ID from /info; when /info has none,
// GET /nodes gives the daemon's reason (else "node ID not found in /info").
StatusOr<std::string> NodeReference(const client::Client& api, const std::string& ref);

}  // namespace berth::cli
