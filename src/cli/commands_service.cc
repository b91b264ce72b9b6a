// Service commands: service create, ls, ps, inspect, scale, update, rollback, rm, logs, as
// docker CLI 28 has them (cli/command/service). The flags and the spec they make are
// service_opts', the output service_format's and swarm_format's (ps), the convergence display
// service_progress'.

#include <signal.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "api/client/jsonmessage.h"
#include "api/client/stdcopy.h"
#include "cli/cli.h"
#include "cli/opts.h"
#include "cli/registry_auth.h"
#include "cli/service_client.h"
#include "cli/service_format.h"
#include "cli/service_logs.h"
#include "cli/service_opts.h"
#include "cli/service_progress.h"
#include "cli/stream.h"
#include "cli/swarm_client.h"
#include "cli/swarm_format.h"
#include "common/clock.h"
#include "spec/json/service_json.h"

namespace berth::cli {
namespace {

using nlohmann::json;

// A value refused after parsing, printed as ParseFlags prints pflag's errors (exit 125).
int FlagError(Cli& cli, const Invocation& inv, const Status& s) {
  cli.err() << s.message() << "\n\nUsage:  " << inv.path << " " << inv.spec->usage << "\n\nRun '"
            << inv.path << " --help' for more information\n";
  return 125;
}

std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) { g_interrupted = true; }

// SIGINT while waiting ends the wait, not the CLI (docker's progress loop catches it).
class InterruptCatcher {
 public:
  InterruptCatcher() {
    g_interrupted = false;
    struct sigaction sa {};
    sa.sa_handler = OnInterrupt;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the sleep returns early
    sigaction(SIGINT, &sa, &old_);
  }
  ~InterruptCatcher() { sigaction(SIGINT, &old_, nullptr); }
  InterruptCatcher(const InterruptCatcher&) = delete;
  InterruptCatcher& operator=(const InterruptCatcher&) = delete;

 private:
  struct sigaction old_ {};
};

// WaitOnService: the progress display until the service converges (nothing shown with -q).
int WaitOnService(Cli& cli, const client::Client& api, const std::string& ref, bool quiet,
                  bool print_error = true, std::string* error = nullptr) {
  bool terminal = IsTerminal(cli.out_fd());
  int rows = 0, cols = 0;
  int width = terminal && TerminalSize(cli.out_fd(), &rows, &cols) && cols > 0 ? cols : 200;
  client::JsonMessageDisplay display(
      [&](std::string_view s) {
        cli.out().write(s.data(), static_cast<std::streamsize>(s.size()));
        cli.out().flush();
      },
      terminal, width);
  ApiProgressSource source(api);
  InterruptCatcher catcher;
  ProgressClock clock;
  clock.now = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  clock.sleep = [](int64_t nanos) {
    timespec ts{static_cast<time_t>(nanos / 1000000000), static_cast<long>(nanos % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && !g_interrupted) {
    }
    return !g_interrupted.load();
  };
  Status s = WaitServiceProgress(source, ref, clock, [&](const json& jm) {
    if (!quiet) (void)display.Display(jm);
  });
  if (s.ok()) return 0;
  if (error != nullptr) *error = std::string(s.message());
  if (print_error) cli.err() << s.message() << "\n";
  return 1;
}

void PrintWarnings(Cli& cli, const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) cli.err() << w << "\n";
}

// The service or "Error: no such service: X" (inspect's wording for a 404).
StatusOr<std::string> ServiceForInspect(const client::Client& api, const std::string& ref) {
  auto raw = InspectServiceRaw(api, ref, true);
  if (!raw.ok() && raw.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError("Error: no such service: " + ref);
  }
  return raw;
}

}  // namespace

int CmdServiceCreate(Cli& cli, const Invocation& inv) {
  ServiceOptions o;
  FlagSet f;
  RegisterServiceFlags(f, &o, ServiceCommand::kCreate);
  f.SetInterspersed(false);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  if (Status v = ValidateServiceFlags(o, f); !v.ok()) return FlagError(cli, inv, v);
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  if (Status v = CheckFlagVersions(f, (*api)->api_version()); !v.ok()) return PrintError(cli, v);
  ApiServiceLookups lookups(**api);
  std::vector<std::string> args(pos.begin() + 1, pos.end());
  auto spec = BuildServiceSpec(o, f, pos[0], args, lookups);
  if (!spec.ok()) return PrintError(cli, spec.status());
  std::string auth = o.registry_auth ? RegistryAuthForImage(pos[0]) : "";
  auto created = CreateService(**api, *spec, auth, !o.no_resolve_image);
  if (!created.ok()) return PrintError(cli, created.status());
  PrintWarnings(cli, created->warnings);
  cli.out() << created->id << "\n";
  cli.out().flush();
  if (o.detach) return 0;
  return WaitOnService(cli, **api, created->id, o.quiet);
}

int CmdServiceLs(Cli& cli, const Invocation& inv) {
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
  auto services = ListServices(**api, *fm, !quiet);
  if (!services.ok()) return PrintError(cli, services.status());
  auto out = FormatServiceList(std::move(*services), format, quiet);
  if (!out.ok()) return PrintError(cli, out.status());
  cli.out() << *out;
  return 0;
}

int CmdServicePs(Cli& cli, const Invocation& inv) {
  bool quiet = false, no_trunc = false, no_resolve = false;
  std::string format;
  std::vector<std::string> filters;
  FlagSet f;
  f.Bool("quiet", 'q', &quiet);
  f.Bool("no-trunc", 0, &no_trunc);
  f.Bool("no-resolve", 0, &no_resolve);
  f.String("format", 0, &format);
  f.StringList("filter", 'f', &filters);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto fm = ParseFilters(filters);
  if (!fm.ok()) return PrintError(cli, fm.status());
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  // createFilter: match each name by full ID, then full name, then ID prefix.
  Filters by_id, by_name;
  for (const auto& s : pos) {
    by_id["id"].push_back(s);
    by_name["name"].push_back(s);
  }
  auto id_list = ListServices(**api, by_id, false);
  if (!id_list.ok()) return PrintError(cli, id_list.status());
  auto name_list = ListServices(**api, by_name, false);
  if (!name_list.ok()) return PrintError(cli, name_list.status());
  Filters filter = *fm;
  std::vector<std::string> notfound;
  int found_services = 0;
  for (const auto& ref : pos) {
    bool found = false;
    for (const auto& s : *id_list) {
      if (s.id == ref) {
        filter["service"].push_back(s.id);
        found = true;
        break;
      }
    }
    if (!found) {
      for (const auto& s : *name_list) {
        if (s.spec.annotations.name == ref) {
          filter["service"].push_back(s.id);
          found = true;
          break;
        }
      }
    }
    if (!found) {
      for (const auto& s : *id_list) {
        if (s.id.rfind(ref, 0) == 0) {
          if (found) {
            return PrintError(cli, absl::InvalidArgumentError(
                                       "multiple services found with provided prefix: " + ref));
          }
          filter["service"].push_back(s.id);
          found = true;
        }
      }
    }
    if (found) {
      ++found_services;
    } else {
      notfound.push_back("no such service: " + ref);
    }
  }
  if (found_services == 0) {
    cli.err() << absl::StrJoin(notfound, "\n") << "\n";
    return 1;
  }
  if (auto it = filter.find("node"); it != filter.end()) {
    for (auto& n : it->second) {
      auto id = NodeReference(**api, n);
      if (!id.ok()) return PrintError(cli, id.status());
      n = *id;
    }
  }
  auto r = (*api)->Call("GET", "/tasks?filters=" + FiltersParam(filter));
  if (!r.ok()) return PrintError(cli, r.status());
  auto list = r->Json();
  if (!list.ok() || !list->is_array()) {
    return PrintError(cli, absl::InternalError("Error: unexpected response from daemon: " + r->body));
  }
  // idresolver: names looked up once each (unless --no-resolve).
  std::map<std::string, std::string> service_names, node_names, names, nodes;
  auto resolve_service = [&](const std::string& id) {
    if (no_resolve || id.empty()) return id;
    auto [it, fresh] = service_names.try_emplace(id, id);
    if (fresh) {
      auto s = InspectService(**api, id, false);
      if (s.ok()) it->second = s->spec.annotations.name;
    }
    return it->second;
  };
  auto resolve_node = [&](const std::string& id) {
    if (no_resolve || id.empty()) return id;
    auto [it, fresh] = node_names.try_emplace(id, id);
    if (fresh) {
      auto n = InspectNode(**api, id);
      if (n.ok()) {
        it->second = !n->spec.annotations.name.empty() ? n->spec.annotations.name
                                                       : n->description.hostname;
      }
    }
    return it->second;
  };
  std::vector<json> tasks(list->begin(), list->end());
  for (const json& t : tasks) {
    std::string id = t.value("ID", "");
    std::string service = resolve_service(t.value("ServiceID", ""));
    int64_t slot = t.contains("Slot") && t["Slot"].is_number_integer() ? t["Slot"].get<int64_t>() : 0;
    names[id] = slot != 0 ? absl::StrCat(service, ".", slot)
                          : absl::StrCat(service, ".", t.value("NodeID", ""));
  }
  // docker resolves the nodes in the printed order: after sorting; the lookups are the same.
  for (const json& t : tasks) nodes[t.value("ID", "")] = resolve_node(t.value("NodeID", ""));
  int64_t now = UnixNanos(std::chrono::system_clock::now());
  auto out = FormatTaskList(tasks, names, nodes, format, quiet, !(no_trunc || quiet), now);
  if (!out.ok()) return PrintError(cli, out.status());
  cli.out() << *out;
  if (!notfound.empty()) {
    cli.err() << absl::StrJoin(notfound, "\n") << "\n";
    return 1;
  }
  return 0;
}

int CmdServiceInspect(Cli& cli, const Invocation& inv) {
  std::string format;
  bool pretty = false;
  FlagSet f;
  f.String("format", 'f', &format);
  f.Bool("pretty", 0, &pretty);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  if (pretty && !format.empty()) {
    return PrintError(cli, absl::InvalidArgumentError("--format is incompatible with human friendly format"));
  }
  if (pretty) format = "pretty";
  if (format.rfind("pretty", 0) == 0 && format != "pretty") {
    return PrintError(cli, absl::InvalidArgumentError(
                               "Cannot supply extra formatting options to the pretty template"));
  }
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  if (format == "pretty") {
    // docker renders every service into a buffer and prints nothing when one fails.
    std::string out;
    int64_t now = UnixNanos(std::chrono::system_clock::now());
    for (const auto& ref : pos) {
      auto raw = ServiceForInspect(**api, ref);
      if (!raw.ok()) return PrintError(cli, raw.status());
      auto s = spec::ParseService(*raw);
      if (!s.ok()) return PrintError(cli, s.status());
      std::map<std::string, std::string> networks;
      for (const auto& n : s->spec.task_template.networks) {
        auto r = (*api)->Call("GET", "/networks/" + client::QueryEscape(n.target) + "?scope=swarm");
        if (!r.ok()) continue;
        auto j = r->Json();
        if (j.ok() && j->is_object()) networks[n.target] = j->value("Name", n.target);
      }
      out += ServiceInspectPretty(*s, networks, now);
    }
    cli.out() << out;
    return 0;
  }
  // Without -f docker prints the services as JSON (its "raw" format is the JSON array).
  return InspectObjects(cli, pos, format, [&](const std::string& ref) {
    return ServiceForInspect(**api, ref);
  });
}

int CmdServiceScale(Cli& cli, const Invocation& inv) {
  bool detach = false;
  FlagSet f;
  f.Bool("detach", 'd', &detach);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  for (const auto& arg : pos) {
    size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size()) {
      cli.err() << "invalid scale specifier '" << arg << "'.\nSee '" << inv.path
                << " --help'.\n\nUsage:  " << inv.path << " " << inv.spec->usage << "\n\n"
                << inv.spec->help << "\n";
      return 1;
    }
  }
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::vector<std::string> errs, scaled;
  for (const auto& arg : pos) {
    std::string id = arg.substr(0, arg.find('='));
    std::string value = arg.substr(arg.find('=') + 1);
    uint64_t n = 0;
    bool digits = !value.empty() && value.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || !absl::SimpleAtoi(value, &n)) {
      errs.push_back(absl::StrCat(id, ": invalid replicas value ", value,
                                  ": strconv.ParseUint: parsing \"", value, "\": ",
                                  digits ? "value out of range" : "invalid syntax"));
      continue;
    }
    auto s = InspectService(**api, id, false);
    if (!s.ok()) {
      errs.push_back(absl::StrCat(id, ": ", s.status().message()));
      continue;
    }
    if (!s->spec.mode.replicated) {
      errs.push_back(id + ": scale can only be used with replicated or replicated-job mode");
      continue;
    }
    s->spec.mode.replicas = n;
    auto r = UpdateService(**api, s->id, s->meta.version.index, s->spec, {});
    if (!r.ok()) {
      errs.push_back(absl::StrCat(id, ": ", r.status().message()));
      continue;
    }
    PrintWarnings(cli, r->warnings);
    cli.out() << id << " scaled to " << n << "\n";
    scaled.push_back(id);
  }
  cli.out().flush();
  if (!detach) {
    for (const auto& id : scaled) {
      std::string e;
      if (WaitOnService(cli, **api, id, false, false, &e) != 0) errs.push_back(id + ": " + e);
    }
  }
  if (errs.empty()) return 0;
  cli.err() << absl::StrJoin(errs, "\n") << "\n";
  return 1;
}

int CmdServiceUpdate(Cli& cli, const Invocation& inv) {
  ServiceOptions o;
  FlagSet f;
  RegisterServiceFlags(f, &o, ServiceCommand::kUpdate);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 1, &rc)) return rc;
  if (Status v = ValidateServiceFlags(o, f); !v.ok()) return FlagError(cli, inv, v);
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  if (Status v = CheckFlagVersions(f, (*api)->api_version()); !v.ok()) return PrintError(cli, v);
  const std::string& ref = pos[0];
  auto service = InspectService(**api, ref, false);
  if (!service.ok()) return PrintError(cli, service.status());
  ServiceUpdateOptions options;
  if (o.rollback_flag) {
    for (const auto& name : o.flag_names) {
      if (name == "rollback" || name == "detach" || name == "quiet") continue;
      if (f.Changed(name)) {
        return PrintError(cli, absl::InvalidArgumentError(
                                   "other flags may not be combined with --rollback"));
      }
    }
    // Server-side rollback (API >= 1.28): the daemon honours the rollback config.
    options.rollback = "previous";
  }
  ApiServiceLookups lookups(**api);
  spec::ServiceSpec spec = service->spec;
  if (Status s = UpdateServiceSpec(o, f, lookups, &spec); !s.ok()) return PrintError(cli, s);
  options.query_registry = f.Changed("image") && !o.no_resolve_image;
  if (o.registry_auth) {
    std::string image = spec.task_template.container_spec ? spec.task_template.container_spec->image : "";
    options.encoded_auth = RegistryAuthForImage(image);
  } else {
    options.registry_auth_from = "spec";
  }
  auto r = UpdateService(**api, service->id, service->meta.version.index, spec, options);
  if (!r.ok()) return PrintError(cli, r.status());
  PrintWarnings(cli, r->warnings);
  cli.out() << ref << "\n";
  cli.out().flush();
  if (o.detach) return 0;
  return WaitOnService(cli, **api, ref, o.quiet);
}

int CmdServiceRollback(Cli& cli, const Invocation& inv) {
  bool quiet = false, detach = false;
  FlagSet f;
  f.Bool("quiet", 'q', &quiet);
  f.Bool("detach", 'd', &detach);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto service = InspectService(**api, pos[0], false);
  if (!service.ok()) return PrintError(cli, service.status());
  ServiceUpdateOptions options;
  options.rollback = "previous";
  auto r = UpdateService(**api, service->id, service->meta.version.index, service->spec, options);
  if (!r.ok()) return PrintError(cli, r.status());
  PrintWarnings(cli, r->warnings);
  cli.out() << pos[0] << "\n";
  cli.out().flush();
  if (detach) return 0;
  return WaitOnService(cli, **api, pos[0], quiet);
}

int CmdServiceRm(Cli& cli, const Invocation& inv) {
  FlagSet f;
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::vector<std::string> errs;
  for (const auto& id : pos) {
    auto r = (*api)->Call("DELETE", "/services/" + client::QueryEscape(id));
    if (!r.ok()) {
      errs.emplace_back(r.status().message());
      continue;
    }
    cli.out() << id << "\n";
  }
  if (errs.empty()) return 0;
  cli.err() << absl::StrJoin(errs, "\n") << "\n";
  return 1;
}

namespace {

size_t Digits(int64_t n) { return std::to_string(n).size(); }

}  // namespace

int CmdServiceLogs(Cli& cli, const Invocation& inv) {
  bool no_resolve = false, no_trunc = false, raw = false, no_task_ids = false, follow = false,
       timestamps = false, details = false;
  std::string since, tail = "all";
  FlagSet f;
  f.Bool("no-resolve", 0, &no_resolve);
  f.Bool("no-trunc", 0, &no_trunc);
  f.Bool("raw", 0, &raw);
  f.Bool("no-task-ids", 0, &no_task_ids);
  f.Bool("follow", 'f', &follow);
  f.String("since", 0, &since);
  f.Bool("timestamps", 't', &timestamps);
  f.Bool("details", 0, &details);
  f.String("tail", 'n', &tail);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  const std::string& target = pos[0];
  size_t max_length = 1;
  bool tty = false;
  std::string kind = "services";
  auto service = InspectService(**api, target, false);
  if (!service.ok()) {
    if (service.status().code() != absl::StatusCode::kNotFound) {
      return PrintError(cli, service.status());
    }
    auto r = (*api)->Call("GET", "/tasks/" + client::QueryEscape(target));
    if (!r.ok()) {
      if (r.status().code() == absl::StatusCode::kNotFound) {
        return PrintError(cli, absl::NotFoundError("no such task or service: " + target));
      }
      return PrintError(cli, r.status());
    }
    auto task = spec::ParseTask(r->body);
    if (!task.ok()) return PrintError(cli, task.status());
    tty = task->spec.container_spec && task->spec.container_spec->tty;
    max_length = Digits(task->slot);
    kind = "tasks";
  } else {
    tty = service->spec.task_template.container_spec &&
          service->spec.task_template.container_spec->tty;
    if (service->spec.mode.replicated && service->spec.mode.replicas) {
      max_length = Digits(static_cast<int64_t>(*service->spec.mode.replicas));
    }
  }
  if (tty && !raw) {
    return PrintError(cli, absl::InvalidArgumentError("tty service logs only supported with --raw"));
  }
  std::string q = "?stdout=1&stderr=1";
  if (!since.empty()) {
    auto ts = ParseTimestamp(since, UnixNanos(std::chrono::system_clock::now()) / 1000000000);
    if (!ts.ok()) return PrintError(cli, ts.status());
    q += "&since=" + client::QueryEscape(*ts);
  }
  if (timestamps) q += "&timestamps=1";
  if (details || !raw) q += "&details=1";
  if (follow) q += "&follow=1";
  q += "&tail=" + client::QueryEscape(tail);

  // The "web.1.abc123@node    | " prefix of each line, per (node, service, task).
  std::map<std::string, std::string> prefix_cache, service_names, node_names;
  auto prefix_of = [&](const std::string& node_id, const std::string& service_id,
                       const std::string& task_id) -> std::string {
    std::string key = node_id + "/" + service_id + "/" + task_id;
    if (auto it = prefix_cache.find(key); it != prefix_cache.end()) return it->second;
    std::string node = node_id, svc = service_id;
    if (!no_resolve) {
      auto n = InspectNode(**api, node_id);
      if (n.ok()) node = !n->spec.annotations.name.empty() ? n->spec.annotations.name : n->description.hostname;
      auto s = InspectService(**api, service_id, false);
      if (s.ok()) svc = s->spec.annotations.name;
    }
    int64_t slot = 0;
    std::string id = task_id;
    if (auto r = (*api)->Call("GET", "/tasks/" + client::QueryEscape(task_id)); r.ok()) {
      if (auto t = spec::ParseTask(r->body); t.ok()) {
        slot = t->slot;
        id = t->id;
      }
    }
    std::string name = absl::StrCat(svc, ".", slot);
    if (!no_task_ids) name += "." + (no_trunc ? id : id.substr(0, 12));
    size_t pad = max_length > Digits(slot) ? max_length - Digits(slot) : 0;
    std::string formatted = name + "@" + node + std::string(pad, ' ');
    prefix_cache[key] = formatted;
    return formatted;
  };
  cli.out().flush();
  ServiceLogPrinter printer({.raw = raw, .timestamps = timestamps, .details = details}, prefix_of,
                            [&](client::StdStream s, std::string_view text) {
                              WriteAll(s == client::StdStream::kStderr ? cli.err_fd() : cli.out_fd(),
                                       text);
                            });
  Status feed_error;
  auto r = (*api)->Stream("GET", SortedQuery("/" + kind + "/" + client::QueryEscape(target) + "/logs" + q),
                          "", [&](std::string_view d) {
                            if (tty) {
                              WriteAll(cli.out_fd(), d);
                              return true;
                            }
                            feed_error = printer.Feed(d);
                            return feed_error.ok();
                          });
  if (!r.ok()) return PrintError(cli, r.status());
  if (!feed_error.ok()) return PrintError(cli, feed_error);
  return 0;
}

}  // namespace berth::cli
