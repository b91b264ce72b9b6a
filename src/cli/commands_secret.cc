// Secret commands: secret create, ls, inspect, rm, as docker CLI 28 has them
// (cli/command/secret). Formats are service_format's.

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "absl/strings/str_join.h"
#include "cli/cli.h"
#include "cli/service_client.h"
#include "cli/service_commands.h"
#include "cli/service_format.h"
#include "common/clock.h"
#include "spec/json/go_codec.h"
#include "spec/json/service_json.h"

namespace berth::cli {

// readSecretData / readConfigData: a file or stdin ("-"), never empty.
StatusOr<std::string> ReadSecretData(const std::string& file, std::string_view required) {
  if (file.empty()) return absl::InvalidArgumentError(std::string(required));
  std::string data;
  if (file == "-") {
    data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    if (data.empty()) return absl::InvalidArgumentError("error reading from STDIN: data is empty");
    return data;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return absl::NotFoundError("error reading from " + file + ": open " + file +
                               ": no such file or directory");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  data = ss.str();
  if (data.empty())
    return absl::InvalidArgumentError("error reading from " + file + ": data is empty");
  return data;
}

// "name=value" labels as a map (opts.ConvertKVStringsToMap).
spec::StringMap LabelMap(const std::vector<std::string>& labels) {
  spec::StringMap m;
  for (const auto& kv : labels) {
    size_t eq = kv.find('=');
    m[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  return m;
}

// The {"ID": ...} of a create.
StatusOr<std::string> CreatedId(const client::Response& r) {
  ASSIGN_OR_RETURN(nlohmann::json j, r.Json());
  if (!j.is_object() || !j.contains("ID") || !j["ID"].is_string()) {
    return absl::InternalError("Error: unexpected response from daemon: " + r.body);
  }
  return j["ID"].get<std::string>();
}

int CmdSecretCreate(Cli& cli, const Invocation& inv) {
  std::vector<std::string> labels;
  std::string driver, template_driver;
  FlagSet f;
  f.StringList("label", 'l', &labels);
  f.String("driver", 'd', &driver);
  f.String("template-driver", 0, &template_driver);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 2, &rc)) return rc;
  spec::SecretSpec spec;
  spec.annotations.name = pos[0];
  spec.annotations.labels = LabelMap(labels);
  std::string file = pos.size() == 2 ? pos[1] : "";
  if (!driver.empty()) {
    if (!file.empty()) {
      return PrintError(
          cli, absl::InvalidArgumentError("When using secret driver secret data must be empty"));
    }
    spec.driver = spec::LogDriver{driver, std::nullopt};
  } else {
    auto data = ReadSecretData(file, "secret file is required");
    if (!data.ok()) return PrintError(cli, data.status());
    spec.data = *data;
  }
  if (!template_driver.empty()) spec.templating = spec::LogDriver{template_driver, std::nullopt};
  return CreateSwarmObject(cli, "secrets", spec::json::Dump(spec::RenderSecretSpec(spec)));
}

int CreateSwarmObject(Cli& cli, const std::string& kind, const std::string& body) {
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto r = (*api)->Call("POST", "/" + kind + "/create", body);
  if (!r.ok()) return PrintError(cli, r.status());
  auto id = CreatedId(*r);
  if (!id.ok()) return PrintError(cli, id.status());
  cli.out() << *id << "\n";
  return 0;
}

int ListSwarmObjects(Cli& cli, const Invocation& inv, const SwarmObjectLister& list) {
  bool quiet = false;
  std::string format;
  std::vector<std::string> filters;
  FlagSet f;
  f.Bool("quiet", 'q', &quiet);
  f.String("format", 0, &format);
  f.StringList("filter", 'f', &filters);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  auto fm = ParseFilters(filters);
  if (!fm.ok()) return PrintError(cli, fm.status());
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto out = list(**api, *fm, format, quiet, UnixNanos(std::chrono::system_clock::now()));
  if (!out.ok()) return PrintError(cli, out.status());
  cli.out() << *out;
  return 0;
}

int CmdSecretLs(Cli& cli, const Invocation& inv) {
  return ListSwarmObjects(
      cli, inv,
      [](const client::Client& api, const Filters& filters, std::string_view format, bool quiet,
         int64_t now) -> StatusOr<std::string> {
        auto secrets = ListSecrets(api, filters);
        if (!secrets.ok()) return secrets.status();
        return FormatSecretList(std::move(*secrets), format, quiet, now);
      });
}

// secret/config inspect: JSON, -f, or --pretty (all or nothing, as docker's formatter).
int InspectSwarmObjects(Cli& cli, const Invocation& inv, const std::string& kind,
                        const std::function<std::string(const std::string& raw, Status*)>& pretty) {
  std::string format;
  bool pretty_flag = false;
  FlagSet f;
  f.String("format", 'f', &format);
  f.Bool("pretty", 0, &pretty_flag);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  if (pretty_flag && !format.empty()) {
    return PrintError(
        cli, absl::InvalidArgumentError("--format is incompatible with human friendly format"));
  }
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto get = [&](const std::string& ref) -> StatusOr<std::string> {
    ASSIGN_OR_RETURN(client::Response r,
                     (*api)->Call("GET", "/" + kind + "/" + client::QueryEscape(ref)));
    return r.body;
  };
  if (pretty_flag) {
    std::string out;
    for (const auto& ref : pos) {
      auto raw = get(ref);
      if (!raw.ok()) return PrintError(cli, raw.status());
      Status s;
      out += pretty(*raw, &s);
      if (!s.ok()) return PrintError(cli, s);
    }
    cli.out() << out;
    return 0;
  }
  return InspectObjects(cli, pos, format, get);
}

int CmdSecretInspect(Cli& cli, const Invocation& inv) {
  return InspectSwarmObjects(cli, inv, "secrets", [](const std::string& raw, Status* s) {
    auto secret = spec::ParseSecret(raw);
    if (!secret.ok()) {
      *s = secret.status();
      return std::string();
    }
    return SecretInspectPretty(*secret);
  });
}

// docker secret rm / config rm: each removed name printed, the errors after.
int RemoveSwarmObjects(Cli& cli, const Invocation& inv, const std::string& kind) {
  FlagSet f;
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::vector<std::string> errs;
  for (const auto& name : pos) {
    auto r = (*api)->Call("DELETE", "/" + kind + "/" + client::QueryEscape(name));
    if (!r.ok()) {
      errs.emplace_back(r.status().message());
      continue;
    }
    cli.out() << name << "\n";
  }
  if (errs.empty()) return 0;
  cli.err() << absl::StrJoin(errs, "\n") << "\n";
  return 1;
}

int CmdSecretRm(Cli& cli, const Invocation& inv) { return RemoveSwarmObjects(cli, inv, "secrets"); }

}  // namespace berth::cli
