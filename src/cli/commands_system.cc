// System commands: version, info, events; and inspect (any object type).

#include <set>
#include <sys/utsname.h>

#include <algorithm>
#include <ctime>
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/cli.h"
#include "cli/format/template.h"
#include "cli/opts.h"
#include "cli/swarm_format.h"
#include "common/clock.h"
#include "spec/json/swarm_json.h"

namespace berth::cli {
namespace {

using client::QueryEscape;
using nlohmann::json;

constexpr const char* kClientVersion = "28.2.2";

std::string Esc(const std::string& s) { return QueryEscape(s); }

std::string Str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

// " Version:           x" -- docker aligns version values at column 20.
std::string Line(int indent, const std::string& label, const std::string& value) {
  std::string l = std::string(static_cast<size_t>(indent), ' ') + label + ":";
  if (l.size() < 20)
    l += std::string(20 - l.size(), ' ');
  else
    l += " ";
  return l + value + "\n";
}

// "2026-11-28T03:24:58.428525000Z" style with local zone, Go's rfc3339NanoFixed.
std::string EventTime(int64_t nanos) {
  time_t secs = static_cast<time_t>(nanos / 1000000000LL);
  int64_t frac = nanos % 1000000000LL;
  std::tm tm{};
  localtime_r(&secs, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char zone[48];
  long off = tm.tm_gmtoff;
  if (off == 0) {
    std::snprintf(zone, sizeof zone, "Z");
  } else {
    std::snprintf(zone, sizeof zone, "%c%02ld:%02ld", off < 0 ? '-' : '+', std::labs(off) / 3600,
                  (std::labs(off) % 3600) / 60);
  }
  return absl::StrFormat("%s.%09d%s", date, frac, zone);
}

// Go's time.ANSIC layout, as docker prints the engine's build time: "Thu Jan  1 00:00:00 1970".
std::string AnsicTime(const std::string& rfc3339) {
  int64_t nanos = 0;
  if (!ParseRfc3339(rfc3339, &nanos)) return rfc3339;
  time_t secs = static_cast<time_t>(nanos / 1000000000LL);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
  return buf;
}

}  // namespace

int CmdVersion(Cli& cli, const Invocation& inv) {
  std::string format;
  FlagSet f;
  f.String("format", 'f', &format);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  struct utsname u {};
  ::uname(&u);
  std::string arch = std::string(u.machine) == "x86_64" ? "amd64" : u.machine;
  auto api = cli.Api();
  std::string api_version =
      api.ok() ? (*api)->api_version() : std::string(client::kDefaultApiVersion);
  json client_info = {{"Version", kClientVersion},
                      {"ApiVersion", api_version},
                      {"DefaultAPIVersion", "1.41"},
                      {"GoVersion", "n/a"},
                      {"GitCommit", "berth"},
                      {"BuildTime", ""},
                      {"Os", "linux"},
                      {"Arch", arch},
                      {"Context", "default"}};
  json server = nullptr;
  Status server_error = api.status();
  if (api.ok()) {
    auto r = (*api)->Call("GET", "/version");
    if (r.ok()) {
      auto j = r->Json();
      if (j.ok()) server = *j;
    } else {
      server_error = r.status();
    }
  }
  if (!format.empty()) {
    auto t = format::Template::Parse(format == "json" ? "{{json .}}" : format);
    if (!t.ok()) {
      cli.err() << "template parsing error: " << t.status().message() << "\n";
      return 64;
    }
    auto out = t->Execute(json{{"Client", client_info}, {"Server", server}});
    if (!out.ok()) return PrintError(cli, out.status());
    cli.out() << *out << "\n";
    return server.is_null() ? PrintError(cli, server_error) : 0;
  }
  std::string out = "Client:\n";
  out += Line(1, "Version", kClientVersion);
  out += Line(1, "API version", api_version);
  out += Line(1, "Go version", "n/a");
  out += Line(1, "Git commit", "berth");
  out += Line(1, "Built", "n/a");
  out += Line(1, "OS/Arch", "linux/" + arch);
  out += Line(1, "Context", "default");
  if (!server.is_null()) {
    std::string platform = server.contains("Platform") ? Str(server["Platform"], "Name") : "";
    out += "\nServer:" + (platform.empty() ? "" : " " + platform) + "\n";
    bool engine_done = false;
    auto engine = [&] {
      out += " Engine:\n";
      out += Line(2, "Version", Str(server, "Version"));
      std::string apiv = Str(server, "ApiVersion");
      std::string minv = Str(server, "MinAPIVersion");
      out += Line(2, "API version", minv.empty() ? apiv : apiv + " (minimum version " + minv + ")");
      out += Line(2, "Go version", Str(server, "GoVersion"));
      out += Line(2, "Git commit", Str(server, "GitCommit"));
      out += Line(2, "Built", AnsicTime(Str(server, "BuildTime")));
      out += Line(2, "OS/Arch", Str(server, "Os") + "/" + Str(server, "Arch"));
      out += Line(2, "Experimental", server.value("Experimental", false) ? "true" : "false");
      engine_done = true;
    };
    if (server.contains("Components") && server["Components"].is_array()) {
      for (const auto& c : server["Components"]) {
        std::string name = Str(c, "Name");
        if (name == "Engine") {
          engine();
          continue;
        }
        out += " " + name + ":\n";
        out += Line(2, "Version", Str(c, "Version"));
        if (c.contains("Details") && c["Details"].is_object()) {
          for (const auto& [k, v] : c["Details"].items()) {
            out += Line(2, k, v.is_string() ? v.get<std::string>() : v.dump());
          }
        }
      }
    }
    if (!engine_done) engine();
  }
  cli.out() << out;
  if (server.is_null()) return PrintError(cli, server_error);
  return 0;
}

int CmdInfo(Cli& cli, const Invocation& inv) {
  std::string format;
  FlagSet f;
  f.String("format", 'f', &format);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  auto api = cli.Api();
  json info = nullptr;
  Status err = api.status();
  if (api.ok()) {
    auto r = (*api)->Call("GET", "/info");
    if (r.ok()) {
      auto j = r->Json();
      if (j.ok()) info = *j;
    } else {
      err = r.status();
    }
  }
  if (!format.empty()) {
    if (info.is_null()) return PrintError(cli, err);
    auto t = format::Template::Parse(format == "json" ? "{{json .}}" : format);
    if (!t.ok()) {
      cli.err() << "template parsing error: " << t.status().message() << "\n";
      return 64;
    }
    auto out = t->Execute(info);
    if (!out.ok()) return PrintError(cli, out.status());
    cli.out() << *out << "\n";
    return 0;
  }
  std::string out = "Client:\n Version:    " + std::string(kClientVersion) +
                    "\n Context:    default\n Debug Mode: false\n\nServer:\n";
  if (info.is_null()) {
    cli.out() << out;
    cli.err() << "ERROR: " << err.message() << "\nerrors pretty printing info\n";
    return 1;
  }
  auto num = [&](const char* k) { return std::to_string(info.value(k, int64_t{0})); };
  out += " Containers: " + num("Containers") + "\n";
  out += "  Running: " + num("ContainersRunning") + "\n";
  out += "  Paused: " + num("ContainersPaused") + "\n";
  out += "  Stopped: " + num("ContainersStopped") + "\n";
  out += " Images: " + num("Images") + "\n";
  out += " Server Version: " + Str(info, "ServerVersion") + "\n";
  out += " Storage Driver: " + Str(info, "Driver") + "\n";
  if (info.contains("DriverStatus") && info["DriverStatus"].is_array()) {
    for (const auto& p : info["DriverStatus"]) {
      if (p.is_array() && p.size() == 2) {
        out += "  " + p[0].get<std::string>() + ": " + p[1].get<std::string>() + "\n";
      }
    }
  }
  out += " Logging Driver: " + Str(info, "LoggingDriver") + "\n";
  out += " Cgroup Driver: " + Str(info, "CgroupDriver") + "\n";
  out += " Cgroup Version: " + Str(info, "CgroupVersion") + "\n";
  auto join = [](const json& arr) {
    std::vector<std::string> v;
    if (arr.is_array()) {
      for (const auto& x : arr) v.push_back(x.is_string() ? x.get<std::string>() : x.dump());
    }
    return absl::StrJoin(v, " ");
  };
  if (info.contains("Plugins") && info["Plugins"].is_object()) {
    const json& pl = info["Plugins"];
    out += " Plugins:\n";
    out += "  Volume: " + join(pl.value("Volume", json::array())) + "\n";
    out += "  Network: " + join(pl.value("Network", json::array())) + "\n";
    out += "  Log: " + join(pl.value("Log", json::array())) + "\n";
  }
  // The Swarm part, from the typed swarm.Info (docker's printSwarmInfo).
  spec::SwarmInfo swarm_info;
  swarm_info.local_node_state = "inactive";  // a daemon without the section
  if (info.contains("Swarm") && info["Swarm"].is_object()) {
    auto parsed = spec::ParseSwarmInfo(info["Swarm"].dump());
    if (parsed.ok()) swarm_info = std::move(*parsed);
  }
  out += SwarmInfoSection(swarm_info);
  if (info.contains("Runtimes") && info["Runtimes"].is_object()) {
    std::vector<std::string> names;
    for (const auto& [k, v] : info["Runtimes"].items()) names.push_back(k);
    out += " Runtimes: " + absl::StrJoin(names, " ") + "\n";
  }
  out += " Default Runtime: " + Str(info, "DefaultRuntime") + "\n";
  if (info.contains("SecurityOptions") && info["SecurityOptions"].is_array() &&
      !info["SecurityOptions"].empty()) {
    out += " Security Options:\n";
    for (const auto& o : info["SecurityOptions"]) {
      // "name=seccomp,profile=default" -> "seccomp" / "Profile: default"
      std::string opt = o.is_string() ? o.get<std::string>() : "";
      std::vector<std::string> kvs = absl::StrSplit(opt, ',');
      for (const auto& kv : kvs) {
        size_t eq = kv.find('=');
        std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
        if (k == "name") {
          out += "  " + v + "\n";
        } else if (!k.empty()) {
          k[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(k[0])));
          out += "   " + k + ": " + v + "\n";
        }
      }
    }
  }
  out += " Kernel Version: " + Str(info, "KernelVersion") + "\n";
  out += " Operating System: " + Str(info, "OperatingSystem") + "\n";
  out += " OSType: " + Str(info, "OSType") + "\n";
  out += " Architecture: " + Str(info, "Architecture") + "\n";
  out += " CPUs: " + num("NCPU") + "\n";
  out +=
      " Total Memory: " + BytesSize(static_cast<double>(info.value("MemTotal", int64_t{0}))) + "\n";
  out += " Name: " + Str(info, "Name") + "\n";
  out += " ID: " + Str(info, "ID") + "\n";
  out += " Docker Root Dir: " + Str(info, "DockerRootDir") + "\n";
  out += " Debug Mode: " + std::string(info.value("Debug", false) ? "true" : "false") + "\n";
  out +=
      " Experimental: " + std::string(info.value("ExperimentalBuild", false) ? "true" : "false") +
      "\n";
  const json& reg = info.value("RegistryConfig", json::object());
  // docker's order: the insecure host:port index configs, then the CIDRs; then the mirrors.
  bool has_cidrs = reg.contains("InsecureRegistryCIDRs") && reg["InsecureRegistryCIDRs"].is_array() &&
                   !reg["InsecureRegistryCIDRs"].empty();
  bool has_indexes = reg.contains("IndexConfigs") && reg["IndexConfigs"].is_object() &&
                     !reg["IndexConfigs"].empty();
  if (has_cidrs || has_indexes) {
    out += " Insecure Registries:\n";
    if (has_indexes)
      for (const auto& [name, idx] : reg["IndexConfigs"].items())
        if (idx.is_object() && !idx.value("Secure", true)) out += "  " + idx.value("Name", name) + "\n";
    if (has_cidrs)
      for (const auto& c : reg["InsecureRegistryCIDRs"])
        if (c.is_string()) out += "  " + c.get<std::string>() + "\n";
  }
  if (reg.contains("Mirrors") && reg["Mirrors"].is_array() && !reg["Mirrors"].empty()) {
    out += " Registry Mirrors:\n";
    for (const auto& m : reg["Mirrors"])
      if (m.is_string()) out += "  " + m.get<std::string>() + "\n";
  }
  out += " Live Restore Enabled: " +
         std::string(info.value("LiveRestoreEnabled", false) ? "true" : "false") + "\n\n";
  cli.out() << out;
  return 0;
}

std::string FormatEvent(const json& e) {
  int64_t nanos = e.value("timeNano", int64_t{0});
  if (nanos == 0) nanos = e.value("time", int64_t{0}) * 1000000000LL;
  std::string type = e.value("Type", "");
  std::string action = e.value("Action", "");
  const json& actor = e.value("Actor", json::object());
  std::string line = EventTime(nanos) + " " + type + " " + action + " " + actor.value("ID", "");
  if (actor.contains("Attributes") && actor["Attributes"].is_object() &&
      !actor["Attributes"].empty()) {
    std::vector<std::string> attrs;
    for (const auto& [k, v] : actor["Attributes"].items()) {
      attrs.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
    }
    std::sort(attrs.begin(), attrs.end());
    line += " (" + absl::StrJoin(attrs, ", ") + ")";
  }
  return line;
}

int CmdEvents(Cli& cli, const Invocation& inv) {
  std::string since, until, format;
  std::vector<std::string> filters;
  FlagSet f;
  f.String("since", 0, &since);
  f.String("until", 0, &until);
  f.String("format", 0, &format);
  f.StringList("filter", 'f', &filters);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  auto fm = ParseFilters(filters);
  if (!fm.ok()) return PrintError(cli, fm.status());
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::string q;
  auto add = [&](const std::string& kv) { q += (q.empty() ? "?" : "&") + kv; };
  if (!since.empty()) {
    auto ts = ParseTimestamp(since, now);
    if (!ts.ok()) return PrintError(cli, ts.status());
    add("since=" + Esc(*ts));
  }
  if (!until.empty()) {
    auto ts = ParseTimestamp(until, now);
    if (!ts.ok()) return PrintError(cli, ts.status());
    add("until=" + Esc(*ts));
  }
  if (!fm->empty()) add("filters=" + FiltersParam(*fm));
  std::optional<format::Template> tmpl;
  if (!format.empty()) {
    auto t = format::Template::Parse(format == "json" ? "{{json .}}" : format);
    if (!t.ok()) {
      cli.err() << "template parsing error: " << t.status().message() << "\n";
      return 64;
    }
    tmpl = std::move(*t);
  }
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  JsonLines lines;
  auto print = [&](const json& e) {
    if (tmpl) {
      auto out = tmpl->Execute(e);
      if (out.ok()) cli.out() << *out << "\n";
    } else {
      cli.out() << FormatEvent(e) << "\n";
    }
    cli.out().flush();
  };
  auto r = (*api)->Stream("GET", SortedQuery("/events" + q), "", [&](std::string_view d) {
    lines.Feed(d, print);
    return true;
  });
  if (!r.ok()) return PrintError(cli, r.status());
  lines.Finish(print);
  return 0;
}

// ---------------------------------------------------------------- inspect

namespace {

int InspectTyped(Cli& cli, const Invocation& inv, std::string type) {
  std::string format;
  bool size = false;
  FlagSet f;
  f.String("format", 'f', &format);
  f.Bool("size", 's', &size);
  if (type.empty()) f.String("type", 0, &type);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  static const std::set<std::string> kTypes = {"config", "container", "image", "network", "node",
                                               "plugin", "secret", "service", "task", "volume"};
  if (!type.empty() && !kTypes.count(type)) {
    cli.err() << "\"" << type << "\" is not a valid value for --type\n";
    return 1;
  }
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  const client::Client* c = *api;
  bool generic = inv.spec->name == "inspect";
  return InspectObjects(cli, pos, format, [&](const std::string& n) -> StatusOr<std::string> {
    struct Kind {
      const char* type;
      std::string path;
      bool swarm;  // a swarm object: looked for only on a manager, as the docker CLI does
    };
    // The docker CLI's order (cli/command/system/inspect.go).
    std::vector<Kind> kinds = {
        {"container", "/containers/" + Esc(n) + "/json" + (size ? "?size=1" : ""), false},
        {"image", "/images/" + Esc(n) + "/json", false},
        {"network", "/networks/" + Esc(n), false},
        {"volume", "/volumes/" + Esc(n), false},
        {"service", "/services/" + Esc(n), true},
        {"task", "/tasks/" + Esc(n), true},
        {"node", "/nodes/" + Esc(n), true},
        {"plugin", "/plugins/" + Esc(n) + "/json", false},
        {"secret", "/secrets/" + Esc(n), true},
        {"config", "/configs/" + Esc(n), true},
    };
    Status last = absl::NotFoundError(absl::StrCat("Error: No such object: ", n));
    for (const auto& k : kinds) {
      if (!type.empty() && type != k.type) continue;
      ASSIGN_OR_RETURN(client::Response r, c->Do("GET", k.path));
      if (r.status < 400) return r.body;
      Status err = client::ErrorFromResponse(r.status, r.body);
      // Not a manager (the docker CLI asks /info first; a 503 with these words says the same,
      // where a manager without a leader's 503 is an error to show), or no plugins here: the
      // next kind.
      if (type.empty() && ((k.swarm && r.status == 503 &&
                            r.body.find("not a swarm manager") != std::string::npos) ||
                           r.status == 501))
        continue;
      if (r.status != 404) return err;
      if (!type.empty() && !generic) return err;
      if (!type.empty()) last = err;
    }
    if (generic && type.empty()) return last;
    return last;
  });
}

}  // namespace

int CmdInspect(Cli& cli, const Invocation& inv) { return InspectTyped(cli, inv, ""); }
int CmdContainerInspect(Cli& cli, const Invocation& inv) {
  return InspectTyped(cli, inv, "container");
}

}  // namespace berth::cli
