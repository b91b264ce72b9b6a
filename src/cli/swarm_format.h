#pragma once
// What the swarm and node commands print, as docker CLI 28 prints it (cli/command/node/
// formatter.go, cli/command/swarm/join_token.go, cli/command/system/info.go printSwarmInfo,
// cli/command/task/formatter.go). Pure functions of the typed API values, so that the tests
// can check them without a daemon.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "nlohmann/json.hpp"
#include "spec/swarm.h"

namespace berth::cli {

// docker's formatter.PrettyPrint of a string: the first letter upper case, the rest lower.
std::string PrettyPrint(std::string_view s);
// Go's time.Time.String() of a UTC time: "2026-11-28 03:28:05.79041263 +0000 UTC".
std::string GoUtcTimeString(int64_t unix_nanos);
// fvbommel/sortorder.NaturalLess, which `node ls` sorts hostnames with.
bool NaturalLess(std::string_view a, std::string_view b);

// One node as the node ls templates see it ({{.ID}}, {{.Self}}, {{.Hostname}}, {{.Status}},
// {{.Availability}}, {{.ManagerStatus}}, {{.EngineVersion}}, {{.TLSStatus}}); `info` is the
// answer of GET /info (its NodeID marks the current node, its cluster TLS the TLS status).
nlohmann::json NodeListItem(const spec::Node& node, const spec::SwarmInfo& info);
// `docker node ls` output: sorted by hostname, the default table (ID with " *" for self),
// -q, --format (table, json, raw or a template).
StatusOr<std::string> FormatNodeList(std::vector<spec::Node> nodes, const spec::SwarmInfo& info,
                                     std::string_view format, bool quiet);

// `docker node inspect --pretty` of one node (its text and the "\n" after it).
std::string NodeInspectPretty(const spec::Node& node);

// The Swarm part of `docker info`: " Swarm: <state>\n" and, when the node is in a swarm, the
// lines under it.
std::string SwarmInfoSection(const spec::SwarmInfo& info);

// "To add a worker to this swarm, run the following command:\n\n    docker swarm join --token
// T ADDR\n\n" (and/or the manager's), printed only when `self` is a manager (its address).
std::string JoinCommandText(const spec::Swarm& swarm, const spec::Node& self, bool worker,
                            bool manager);

// `docker node ps`: tasks (GET /tasks answers, swarm.Task JSON) with their display names and
// node names already resolved (task ID -> name), the default table, -q, --format, --no-trunc.
// now_unix_nanos is the time the CURRENT STATE column counts from.
StatusOr<std::string> FormatTaskList(const std::vector<nlohmann::json>& tasks,
                                     const std::map<std::string, std::string>& names,
                                     const std::map<std::string, std::string>& nodes,
                                     std::string_view format, bool quiet, bool trunc,
                                     int64_t now_unix_nanos);

}  // namespace berth::cli
