// Network commands: network create, ls, inspect, rm, connect, disconnect, prune.

#include <arpa/inet.h>

#include <algorithm>
#include <ctime>
#include <iostream>

#include "absl/strings/str_join.h"
#include "cli/cli.h"
#include "cli/network_opts.h"
#include "cli/opts.h"

namespace berth::cli {
namespace {

using client::QueryEscape;
using nlohmann::json;

std::string Esc(const std::string& s) { return QueryEscape(s); }

}  // namespace

int CmdNetworkCreate(Cli& cli, const Invocation& inv) {
  NetworkCreateOptions o;
  FlagSet f;
  f.String("driver", 'd', &o.driver);
  f.StringList("subnet", 0, &o.subnets);
  f.StringList("gateway", 0, &o.gateways);
  f.StringList("ip-range", 0, &o.ip_ranges);
  f.StringList("aux-address", 0, &o.aux_addresses);
  f.String("ipam-driver", 0, &o.ipam_driver);
  f.StringList("ipam-opt", 0, &o.ipam_opts);
  f.StringList("opt", 'o', &o.opts);
  f.StringList("label", 0, &o.labels);
  f.Bool("internal", 0, &o.internal);
  f.Bool("attachable", 0, &o.attachable);
  f.Bool("ingress", 0, &o.ingress);
  f.Bool("ipv6", 0, &o.ipv6);
  f.Bool("ipv4", 0, &o.ipv4);
  f.String("scope", 0, &o.scope);
  f.Bool("config-only", 0, &o.config_only);
  f.String("config-from", 0, &o.config_from);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 1, &rc)) return rc;
  o.name = pos[0];
  o.ipv6_set = f.Changed("ipv6");
  auto body = BuildNetworkCreateBody(o);
  if (!body.ok()) return PrintError(cli, body.status());
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto r = (*api)->CallJson("POST", "/networks/create", *body);
  if (!r.ok()) return PrintError(cli, r.status());
  auto j = r->Json();
  if (!j.ok()) return PrintError(cli, j.status());
  if (j->contains("Warning") && (*j)["Warning"].is_string() &&
      !(*j)["Warning"].get<std::string>().empty()) {
    cli.err() << "WARNING: " << (*j)["Warning"].get<std::string>() << "\n";
  }
  cli.out() << j->value("Id", "") << "\n";
  return 0;
}

int CmdNetworkLs(Cli& cli, const Invocation& inv) {
  bool quiet = false, no_trunc = false;
  std::string format;
  std::vector<std::string> filters;
  FlagSet f;
  f.Bool("quiet", 'q', &quiet);
  f.Bool("no-trunc", 0, &no_trunc);
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
  auto r = (*api)->Call("GET", "/networks" + q);
  if (!r.ok()) return PrintError(cli, r.status());
  auto list = r->Json();
  if (!list.ok() || !list->is_array()) return PrintError(cli, absl::InternalError("bad list"));
  std::vector<json> nets(list->begin(), list->end());
  // docker sorts networks by name.
  std::sort(nets.begin(), nets.end(),
            [](const json& a, const json& b) { return a.value("Name", "") < b.value("Name", ""); });
  std::vector<json> items;
  for (const auto& n : nets) items.push_back(NetworkListItem(n, !no_trunc));
  if (quiet) {
    for (const auto& it : items) cli.out() << it["ID"].get<std::string>() << "\n";
    return 0;
  }
  if (format.empty() || format == "table") {
    format = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";
  }
  if (format == "json") format = "{{json .}}";
  json header = {{"ID", "NETWORK ID"},     {"Name", "NAME"},     {"Driver", "DRIVER"},
                 {"Scope", "SCOPE"},       {"IPv6", "IPV6"},     {"IPv4", "IPV4"},
                 {"Internal", "INTERNAL"}, {"Labels", "LABELS"}, {"CreatedAt", "CREATED AT"}};
  return PrintItems(cli, format, header, items);
}

int CmdNetworkInspect(Cli& cli, const Invocation& inv) {
  std::string format;
  bool verbose = false;
  FlagSet f;
  f.String("format", 'f', &format);
  f.Bool("verbose", 'v', &verbose);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  return InspectObjects(cli, pos, format, [&](const std::string& n) -> StatusOr<std::string> {
    ASSIGN_OR_RETURN(client::Response r,
                     (*api)->Call("GET", "/networks/" + Esc(n) + (verbose ? "?verbose=true" : "")));
    return r.body;
  });
}

int CmdNetworkRm(Cli& cli, const Invocation& inv) {
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
    auto r = (*api)->Call("DELETE", "/networks/" + Esc(n));
    if (!r.ok()) {
      // -f ignores networks that do not exist.
      if (force && r.status().code() == absl::StatusCode::kNotFound) continue;
      cli.err() << r.status().message() << "\n";
      failed = true;
      continue;
    }
    cli.out() << n << "\n";
  }
  if (failed) {
    // docker 28 reports the failure a second time this way (see the transcript's network-rm-*).
    cli.err() << "exit status 1\n";
    return 1;
  }
  return 0;
}

int CmdNetworkConnect(Cli& cli, const Invocation& inv) {
  std::string ip, ip6;
  std::vector<std::string> aliases, links, link_local, driver_opts;
  FlagSet f;
  f.String("ip", 0, &ip);
  f.String("ip6", 0, &ip6);
  f.StringList("alias", 0, &aliases);
  f.StringList("link", 0, &links);
  f.StringList("link-local-ip", 0, &link_local);
  f.StringList("driver-opt", 0, &driver_opts);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 2, 2, &rc)) return rc;
  json ipam = json::object();
  if (!ip.empty()) ipam["IPv4Address"] = ip;
  if (!ip6.empty()) ipam["IPv6Address"] = ip6;
  if (!link_local.empty()) ipam["LinkLocalIPs"] = link_local;
  json body = {{"Container", pos[1]},
               {"EndpointConfig",
                {{"IPAMConfig", ipam},
                 {"Links", links.empty() ? json(nullptr) : json(links)},
                 {"Aliases", json(aliases)},
                 {"MacAddress", ""},
                 {"DriverOpts", KeyValueMap(driver_opts)},
                 {"GwPriority", 0},
                 {"NetworkID", ""},
                 {"EndpointID", ""},
                 {"Gateway", ""},
                 {"IPAddress", ""},
                 {"IPPrefixLen", 0},
                 {"IPv6Gateway", ""},
                 {"GlobalIPv6Address", ""},
                 {"GlobalIPv6PrefixLen", 0},
                 {"DNSNames", nullptr}}}};
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto r = (*api)->CallJson("POST", "/networks/" + Esc(pos[0]) + "/connect", body);
  if (!r.ok()) return PrintError(cli, r.status());
  return 0;
}

int CmdNetworkDisconnect(Cli& cli, const Invocation& inv) {
  bool force = false;
  FlagSet f;
  f.Bool("force", 'f', &force);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 2, 2, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  json body = {{"Container", pos[1]}, {"Force", force}};
  auto r = (*api)->CallJson("POST", "/networks/" + Esc(pos[0]) + "/disconnect", body);
  if (!r.ok()) return PrintError(cli, r.status());
  return 0;
}

int CmdNetworkPrune(Cli& cli, const Invocation& inv) {
  bool force = false;
  std::vector<std::string> filters;
  FlagSet f;
  f.Bool("force", 'f', &force);
  f.StringList("filter", 0, &filters);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  if (!force) {
    if (!Confirm(cli, "WARNING! This will remove all custom networks not used by at least one "
                      "container.\n"))
      return 0;
  }
  auto fm = ParseFilters(filters);
  if (!fm.ok()) return PrintError(cli, fm.status());
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::string q = fm->empty() ? "" : "?filters=" + FiltersParam(*fm);
  auto r = (*api)->Call("POST", "/networks/prune" + q);
  if (!r.ok()) return PrintError(cli, r.status());
  auto j = r->Json();
  if (!j.ok()) return PrintError(cli, j.status());
  const json& deleted = (*j)["NetworksDeleted"];
  if (deleted.is_array() && !deleted.empty()) {
    cli.out() << "Deleted Networks:\n";
    for (const auto& d : deleted) cli.out() << d.get<std::string>() << "\n";
  }
  return 0;
}

}  // namespace berth::cli
