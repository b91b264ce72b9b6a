// Config commands: config create, ls, inspect, rm, as docker CLI 28 has them
// (cli/command/config). They share the secret commands' plumbing (commands_secret.cc).

#include <chrono>

#include "cli/cli.h"
#include "cli/service_client.h"
#include "cli/service_commands.h"
#include "cli/service_format.h"
#include "common/clock.h"
#include "spec/json/go_codec.h"
#include "spec/json/service_json.h"

namespace berth::cli {

int CmdConfigCreate(Cli& cli, const Invocation& inv) {
  std::vector<std::string> labels;
  std::string template_driver;
  FlagSet f;
  f.StringList("label", 'l', &labels);
  f.String("template-driver", 0, &template_driver);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 2, 2, &rc)) return rc;
  auto data = ReadSecretData(pos[1], "config file is required");
  if (!data.ok()) return PrintError(cli, data.status());
  spec::ConfigSpec spec;
  spec.annotations.name = pos[0];
  spec.annotations.labels = LabelMap(labels);
  spec.data = *data;
  if (!template_driver.empty()) spec.templating = spec::LogDriver{template_driver, std::nullopt};
  return CreateSwarmObject(cli, "configs", spec::json::Dump(spec::RenderConfigSpec(spec)));
}

int CmdConfigLs(Cli& cli, const Invocation& inv) {
  return ListSwarmObjects(
      cli, inv,
      [](const client::Client& api, const Filters& filters, std::string_view format, bool quiet,
         int64_t now) -> StatusOr<std::string> {
        auto configs = ListConfigs(api, filters);
        if (!configs.ok()) return configs.status();
        return FormatConfigList(std::move(*configs), format, quiet, now);
      });
}

int CmdConfigInspect(Cli& cli, const Invocation& inv) {
  return InspectSwarmObjects(cli, inv, "configs", [](const std::string& raw, Status* s) {
    auto config = spec::ParseConfig(raw);
    if (!config.ok()) {
      *s = config.status();
      return std::string();
    }
    return ConfigInspectPretty(*config);
  });
}

int CmdConfigRm(Cli& cli, const Invocation& inv) { return RemoveSwarmObjects(cli, inv, "configs"); }

}  // namespace berth::cli
