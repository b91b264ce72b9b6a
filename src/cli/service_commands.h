#pragma once
// Plumbing shared by the secret and config commands (commands_secret.cc, commands_config.cc):
// they read their data, create, inspect and remove the same way.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/client/client.h"
#include "cli/cli.h"
#include "cli/service_client.h"
#include "common/status.h"
#include "spec/container.h"

namespace berth::cli {

// readSecretData / readConfigData: a file or stdin ("-"), never empty; `required` is the
// error for no file at all ("secret file is required").
StatusOr<std::string> ReadSecretData(const std::string& file, std::string_view required);
// "name=value" labels as a map (opts.ConvertKVStringsToMap).
spec::StringMap LabelMap(const std::vector<std::string>& labels);
// The {"ID": ...} of a create answer.
StatusOr<std::string> CreatedId(const client::Response& r);
// `<kind> inspect [-f FORMAT] [--pretty] NAME...` over GET /<kind>/{name} ("secrets",
// "configs"); pretty renders one raw answer (or sets the error): all or nothing, as docker.
int InspectSwarmObjects(Cli& cli, const Invocation& inv, const std::string& kind,
                        const std::function<std::string(const std::string& raw, Status*)>& pretty);
// POST /<kind>/create of a rendered spec ("secrets", "configs"), printing the new id.
int CreateSwarmObject(Cli& cli, const std::string& kind, const std::string& body);
// `<kind> ls [-q] [--format F] [--filter K=V]...`: `list` reads and formats the objects.
using SwarmObjectLister =
    std::function<StatusOr<std::string>(const client::Client& api, const Filters& filters,
                                        std::string_view format, bool quiet, int64_t now)>;
int ListSwarmObjects(Cli& cli, const Invocation& inv, const SwarmObjectLister& list);
// `<kind> rm NAME...`: each removed name printed, the errors after (exit 1).
int RemoveSwarmObjects(Cli& cli, const Invocation& inv, const std::string& kind);

}  // namespace berth::cli
