// Volume commands: volume create, ls, inspect, rm, prune (docker's syntax and output).

#include <algorithm>

#include "cli/cli.h"
#include "cli/opts.h"

namespace berth::cli {
namespace {

using client::QueryEscape;
using nlohmann::json;

}  // namespace

int CmdVolumeCreate(Cli& cli, const Invocation& inv) {
  std::string driver = "local", name;
  std::vector<std::string> opts, labels;
  FlagSet f;
  f.String("driver", 'd', &driver);
  f.String("name", 0, &name);
  f.StringList("opt", 'o', &opts);
  f.StringList("label", 0, &labels);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 1, &rc)) return rc;
  if (!pos.empty()) {
    if (!name.empty() && name != pos[0]) {
      cli.err() << "conflicting options: either specify --name or provide positional arg, not both\n";
      return 1;
    }
    name = pos[0];
  }
  json body = {{"Driver", driver},
               {"DriverOpts", KeyValueMap(opts)},
               {"Labels", KeyValueMap(labels)},
               {"Name", name}};
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto r = (*api)->CallJson("POST", "/volumes/create", body);
  if (!r.ok()) return PrintError(cli, r.status());
  auto j = r->Json();
  if (!j.ok()) return PrintError(cli, j.status());
  cli.out() << j->value("Name", "") << "\n";
  return 0;
}

int CmdVolumeLs(Cli& cli, const Invocation& inv) {
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
  std::string q = fm->empty() ? "" : "?filters=" + FiltersParam(*fm);
  auto r = (*api)->Call("GET", "/volumes" + q);
  if (!r.ok()) return PrintError(cli, r.status());
  auto body = r->Json();
  if (!body.ok() || !body->is_object()) return PrintError(cli, absl::InternalError("bad list"));
  for (const auto& w : body->value("Warnings", json::array()))
    if (w.is_string()) cli.err() << w.get<std::string>() << "\n";
  std::vector<json> vols;
  if ((*body)["Volumes"].is_array()) vols.assign((*body)["Volumes"].begin(), (*body)["Volumes"].end());
  // docker sorts volumes by name.
  std::sort(vols.begin(), vols.end(),
            [](const json& a, const json& b) { return a.value("Name", "") < b.value("Name", ""); });
  std::vector<json> items;
  for (const auto& v : vols) {
    std::string labels;
    if (v["Labels"].is_object())
      for (auto& [k, val] : v["Labels"].items())
        labels += (labels.empty() ? "" : ",") + k + "=" + val.get<std::string>();
    items.push_back({{"Name", v.value("Name", "")},
                     {"Driver", v.value("Driver", "")},
                     {"Scope", v.value("Scope", "")},
                     {"Mountpoint", v.value("Mountpoint", "")},
                     {"Labels", labels},
                     {"Size", "N/A"},
                     {"Links", "N/A"}});
  }
  if (quiet) {
    for (const auto& it : items) cli.out() << it["Name"].get<std::string>() << "\n";
    return 0;
  }
  if (format.empty() || format == "table") format = "table {{.Driver}}\t{{.Name}}";
  if (format == "json") format = "{{json .}}";
  json header = {{"Name", "VOLUME NAME"}, {"Driver", "DRIVER"},   {"Scope", "SCOPE"},
                 {"Mountpoint", "MOUNTPOINT"}, {"Labels", "LABELS"}, {"Size", "SIZE"},
                 {"Links", "LINKS"}};
  return PrintItems(cli, format, header, items);
}

int CmdVolumeInspect(Cli& cli, const Invocation& inv) {
  std::string format;
  FlagSet f;
  f.String("format", 'f', &format);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  return InspectObjects(cli, pos, format, [&](const std::string& n) -> StatusOr<std::string> {
    ASSIGN_OR_RETURN(client::Response r, (*api)->Call("GET", "/volumes/" + QueryEscape(n)));
    return r.body;
  });
}

int CmdVolumeRm(Cli& cli, const Invocation& inv) {
  bool force = false;
  FlagSet f;
  f.Bool("force", 'f', &force);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  bool failed = false;
  for (const auto& n : pos) {
    auto r = (*api)->Call("DELETE", "/volumes/" + QueryEscape(n) + (force ? "?force=1" : ""));
    if (!r.ok()) {
      cli.err() << r.status().message() << "\n";
      failed = true;
      continue;
    }
    cli.out() << n << "\n";
  }
  return failed ? 1 : 0;
}

int CmdVolumePrune(Cli& cli, const Invocation& inv) {
  bool force = false;
  std::vector<std::string> filters;
  FlagSet f;
  f.Bool("force", 'f', &force);
  f.StringList("filter", 0, &filters);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  if (!force && !Confirm(cli, "WARNING! This will remove all local volumes not used by at least one "
                              "container.\n"))
    return 0;
  auto fm = ParseFilters(filters);
  if (!fm.ok()) return PrintError(cli, fm.status());
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::string q = fm->empty() ? "" : "?filters=" + FiltersParam(*fm);
  auto r = (*api)->Call("POST", "/volumes/prune" + q);
  if (!r.ok()) return PrintError(cli, r.status());
  auto j = r->Json();
  if (!j.ok()) return PrintError(cli, j.status());
  const json& deleted = (*j)["VolumesDeleted"];
  if (deleted.is_array() && !deleted.empty()) {
    cli.out() << "Deleted Volumes:\n";
    for (const auto& d : deleted) cli.out() << d.get<std::string>() << "\n";
    cli.out() << "\n";
  }
  cli.out() << "Total reclaimed space: " << HumanSize(j->value("SpaceReclaimed", 0.0)) << "\n";
  return 0;
}

}  // namespace berth::cli
