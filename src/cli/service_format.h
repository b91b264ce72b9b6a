#pragma once
// What the service, secret and config commands print, as docker CLI 28 prints it
// (cli/command/service/formatter.go, cli/command/secret/formatter.go,
// cli/command/config/formatter.go). Pure functions of the typed API values and of the time
// ("now"), so that the tests can check them against the reference transcript.
// `service ps` uses swarm_format's FormatTaskList (docker's task.Print, shared with node ps).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "nlohmann/json.hpp"
#include "spec/service.h"

namespace berth::cli {

// Go's time.Duration.String(): "0s", "500ms", "10s", "1m30s", "2h0m0s", "1.5s".
std::string GoDurationString(int64_t nanos);
// fmt's %v of a float64 / float32: the shortest text that reads back ("0.2", "1.5", "0").
std::string GoFloatString(double v);
std::string GoFloat32String(float v);

// The service ls columns of one service ({{.ID}} 12 characters, {{.Name}}, {{.Mode}},
// {{.Replicas}} "2/2" or "1/3 (max 1 per node)", {{.Image}} without its digest, {{.Ports}}
// "*:8080->80/tcp" with ranges grouped).
nlohmann::json ServiceListItem(const spec::Service& service);
// `docker service ls`: sorted by name (natural order), the default table, -q, --format.
StatusOr<std::string> FormatServiceList(std::vector<spec::Service> services,
                                        std::string_view format, bool quiet);

// `docker service inspect --pretty` of one service, its blank first line and the blank line
// after it included. network_names maps the task template's network IDs to names (docker
// looks them up); now_nanos is the clock of UpdateStatus' "Started: 5 seconds ago".
std::string ServiceInspectPretty(const spec::Service& service,
                                 const std::map<std::string, std::string>& network_names,
                                 int64_t now_nanos);

// `docker secret ls`: sorted by name, ID NAME DRIVER CREATED UPDATED ("2 hours ago"), -q,
// --format ({{.Labels}}, {{.Label "k"}} too).
StatusOr<std::string> FormatSecretList(std::vector<spec::Secret> secrets, std::string_view format,
                                       bool quiet, int64_t now_nanos);
// `docker secret inspect --pretty` of one secret (with the "\n" after it).
std::string SecretInspectPretty(const spec::Secret& secret);

// `docker config ls`: ID NAME CREATED UPDATED.
StatusOr<std::string> FormatConfigList(std::vector<spec::Config> configs, std::string_view format,
                                       bool quiet, int64_t now_nanos);
// `docker config inspect --pretty`: ends with "Data:\n<the data>\n".
std::string ConfigInspectPretty(const spec::Config& config);

}  // namespace berth::cli
