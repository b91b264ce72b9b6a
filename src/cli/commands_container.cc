// Container commands: run, create, start, stop, restart, kill, wait, rm, ps, logs, exec, attach,
// rename, top, stats, container prune, port.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <future>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "api/client/stdcopy.h"
#include "cli/cli.h"
#include "cli/container_opts.h"
#include "cli/format/tabwriter.h"
#include "cli/format/template.h"
#include "cli/opts.h"
#include "cli/registry_auth.h"
#include "cli/stream.h"

namespace berth::cli {
namespace {

using client::QueryEscape;
using nlohmann::json;

std::string Esc(const std::string& s) { return QueryEscape(s); }

int64_t NowUnix() { return static_cast<int64_t>(std::time(nullptr)); }

bool Contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// docker's toStatusError for run/start: 127 when the command cannot be found, 126 when it
// cannot be invoked, else 125.
int RunErrorCode(std::string_view msg) {
  if (Contains(msg, "executable file not found") || Contains(msg, "no such file or directory") ||
      Contains(msg, "system cannot find the file specified")) {
    return 127;
  }
  if (Contains(msg, "permission denied") || Contains(msg, "is a directory") ||
      Contains(msg, "not executable")) {
    return 126;
  }
  return 125;
}

int RunError(Cli& cli, std::string_view cmd, std::string_view msg, int code) {
  cli.err() << "docker: " << msg << "\n\nRun 'docker " << cmd << " --help' for more information\n";
  return code;
}
int RunError(Cli& cli, std::string_view cmd, const Status& s, int code) {
  return RunError(cli, cmd, std::string(s.message()), code);
}

// The wait request of run/start -a: sent (and known to be sent) before the container starts; its
// body arrives when the container exits.
class Waiter {
 public:
  static constexpr std::chrono::milliseconds kHeaderGrace{1000};
  ~Waiter() {
    if (thread_.joinable()) thread_.detach();
  }
  // Returns once the daemon has answered with the response headers (Docker sends them at once,
  // before the container exits), so that the wait is registered before the container is started:
  // a container that exits at once would otherwise be missed by condition=next-exit. A daemon
  // that holds the headers back costs kHeaderGrace.
  void Start(const client::Client* api, std::string path) {
    auto ready = std::make_shared<std::promise<void>>();
    std::future<void> ready_future = ready->get_future();
    auto result = std::make_shared<std::promise<std::pair<Status, std::string>>>();
    result_ = result->get_future();
    thread_ = std::thread([api, path = std::move(path), ready, result] {
      std::string body;
      bool signalled = false;
      client::RequestOptions opts;
      opts.on_headers = [&](int) {
        signalled = true;
        ready->set_value();
      };
      auto r = api->Stream(
          "POST", path, "",
          [&](std::string_view d) {
            body.append(d);
            return true;
          },
          opts);
      if (!signalled) {
        signalled = true;
        ready->set_value();
      }
      result->set_value({r.ok() ? absl::OkStatus() : r.status(), body});
    });
    ready_future.wait_for(kHeaderGrace);
  }
  // The container's exit code; *error set for a wait that failed.
  int ExitCode(std::string* error) {
    auto [status, body] = result_.get();
    if (thread_.joinable()) thread_.join();
    if (!status.ok()) {
      *error = std::string(status.message());
      return 125;
    }
    try {
      json j = json::parse(body);
      if (j.contains("Error") && j["Error"].is_object() && j["Error"].contains("Message") &&
          !j["Error"]["Message"].get<std::string>().empty()) {
        *error = j["Error"]["Message"].get<std::string>();
      }
      return j.value("StatusCode", 125);
    } catch (const json::exception&) {
      *error = "unexpected wait response";
      return 125;
    }
  }

 private:
  std::thread thread_;
  std::future<std::pair<Status, std::string>> result_;
};

std::string SignalName(int signo) {
  switch (signo) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    case SIGQUIT:
      return "SIGQUIT";
    case SIGUSR1:
      return "SIGUSR1";
    case SIGUSR2:
      return "SIGUSR2";
    default:
      return std::to_string(signo);
  }
}

void ResizeTty(const client::Client* api, const std::string& path_prefix) {
  int rows = 0, cols = 0;
  if (!TerminalSize(1, &rows, &cols)) return;
  (void)api->Do("POST", absl::StrCat(path_prefix, "/resize?h=", rows, "&w=", cols));
}

StatusOr<json> InspectContainer(const client::Client* api, const std::string& name) {
  ASSIGN_OR_RETURN(client::Response r, api->Call("GET", "/containers/" + Esc(name) + "/json"));
  return r.Json();
}

// Attach streams of a container and copy them until it ends.
struct AttachSetup {
  bool stdin_ = false, stdout_ = true, stderr_ = true;
  bool tty = false;
  std::string detach_keys;
};

StatusOr<client::HijackedConn> HijackAttach(const client::Client* api, const std::string& id,
                                            const AttachSetup& a, bool logs = false) {
  std::string q = absl::StrCat("/containers/", Esc(id), "/attach?stream=1");
  if (logs) q += "&logs=1";
  if (a.stdin_) q += "&stdin=1";
  if (a.stdout_) q += "&stdout=1";
  if (a.stderr_) q += "&stderr=1";
  if (!a.detach_keys.empty()) q += "&detachKeys=" + Esc(a.detach_keys);
  return api->Hijack("POST", SortedQuery(q));
}

StatusOr<PumpResult> Pump(const client::Client* api, const std::string& id,
                          client::HijackedConn& conn, const AttachSetup& a, bool resize, int out_fd,
                          int err_fd, bool sig_proxy = false) {
  PumpOptions po;
  // docker proxies signals only without a TTY (with one, ^C reaches the container as a byte).
  if (sig_proxy && !a.tty) {
    std::string path = "/containers/" + Esc(id) + "/kill?signal=";
    po.on_signal = [api, path](int signo) { (void)api->Do("POST", path + SignalName(signo)); };
  }
  po.out_fd = out_fd;
  po.err_fd = err_fd;
  po.tty = a.tty;
  po.send_stdin = a.stdin_;
  if (a.tty && a.stdin_) {
    auto keys = ParseDetachKeys(a.detach_keys.empty() ? "ctrl-p,ctrl-q" : a.detach_keys);
    if (keys.ok()) po.detach_keys = *keys;
  }
  std::unique_ptr<RawTerminal> raw;
  if (a.tty && a.stdin_ && IsTerminal(0)) raw = std::make_unique<RawTerminal>(0);
  if (resize && a.tty && IsTerminal(1)) {
    std::string prefix = "/containers/" + Esc(id);
    ResizeTty(api, prefix);
    po.on_resize = [api, prefix] { ResizeTty(api, prefix); };
  }
  auto r = PumpHijacked(conn, po);
  if (raw) raw->Restore();
  return r;
}

// github.com/fvbommel/sortorder NaturalLess: digit runs compare by value, the rest bytewise.
bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      size_t i0 = i, j0 = j;
      while (i < a.size() && a[i] == '0') ++i;
      while (j < b.size() && b[j] == '0') ++j;
      size_t is = i, js = j;
      while (i < a.size() && digit(a[i])) ++i;
      while (j < b.size() && digit(b[j])) ++j;
      std::string_view na(a.data() + is, i - is), nb(b.data() + js, j - js);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      if (i - i0 != j - j0) return i - i0 < j - j0;  // fewer leading zeros first
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

std::string TruncId(const std::string& id) { return id.substr(0, 12); }

std::string StripSlash(const std::string& n) { return n.empty() || n[0] != '/' ? n : n.substr(1); }

// Runs fn on each argument, printing the argument on success and the error on failure;
// exit 1 if any failed (docker prints all errors joined, one per line).
template <class Fn>
int ForEach(Cli& cli, const std::vector<std::string>& names, Fn fn) {
  int rc = 0;
  for (const auto& n : names) {
    Status s = fn(n);
    if (s.ok()) {
      cli.out() << n << "\n";
    } else {
      cli.err() << s.message() << "\n";
      rc = 1;
    }
  }
  return rc;
}


}  // namespace

// ---------------------------------------------------------------- create / run

namespace {

// Pulls `image` as docker run/create do: the progress on stderr (nothing with -q), the
// credentials of its registry, the --platform.
Status PullForCreate(Cli& cli, const std::string& image, const ContainerOptions& o) {
  auto ref = ParseImageRef(image);
  if (!ref.ok()) return ref.status();
  std::string tag = !ref->digest.empty() ? ref->digest : ref->tag.empty() ? "latest" : ref->tag;
  return StreamJsonMessages(cli, "POST", PullPath(ref->FamiliarName(), tag, o.platform),
                            RegistryAuthForImage(image), o.quiet ? nullptr : &cli.err(), cli.err_fd());
}

// Creates the container; prints warnings. When the image is missing (or not of --platform)
// prints docker's "Unable to find image" and pulls it, then creates
// again; --pull=always pulls first, --pull=never never. Errors are returned as the daemon's
// message.
StatusOr<std::string> CreateContainer(Cli& cli, const client::Client* api, const CreateRequest& req,
                                      const std::string& image, const ContainerOptions& o) {
  if (!o.pull.empty() && o.pull != "always" && o.pull != "missing" && o.pull != "never")
    return absl::InvalidArgumentError("invalid pull option: '" + o.pull +
                                      "': must be one of \"always\", \"missing\" or \"never\"");
  std::string path = "/containers/create";
  std::string q;
  if (!req.name.empty()) q += "?name=" + Esc(req.name);
  if (!o.platform.empty()) q += std::string(q.empty() ? "?" : "&") + "platform=" + Esc(absl::AsciiStrToLower(o.platform));
  path += q;
  if (o.pull == "always") RETURN_IF_ERROR(PullForCreate(cli, image, o));
  ASSIGN_OR_RETURN(client::Response r, api->Do("POST", path, client::DumpJson(req.body)));
  std::string msg = r.status == 404 ? client::DaemonMessage(r.status, r.body) : "";
  if (r.status == 404 && o.pull != "never" && o.pull != "always" &&
      (Contains(msg, "No such image") || Contains(msg, "does not match the specified platform"))) {
    std::string ref = FamiliarWithTag(image);
    if (!o.quiet) cli.err() << "Unable to find image '" << ref << "' locally\n";
    RETURN_IF_ERROR(PullForCreate(cli, image, o));
    ASSIGN_OR_RETURN(r, api->Do("POST", path, client::DumpJson(req.body)));
  }
  if (r.status >= 400) return client::ErrorFromResponse(r.status, r.body);
  ASSIGN_OR_RETURN(json j, r.Json());
  if (j.contains("Warnings") && j["Warnings"].is_array()) {
    for (const auto& w : j["Warnings"]) {
      if (w.is_string()) cli.err() << "WARNING: " << w.get<std::string>() << "\n";
    }
  }
  return j.value("Id", "");
}

}  // namespace

int CmdCreate(Cli& cli, const Invocation& inv) {
  ContainerOptions o;
  FlagSet f;
  RegisterContainerFlags(f, &o, false);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto req = BuildCreateRequest(o, f, pos);
  if (!req.ok()) return RunError(cli, "create", req.status(), 125);
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto id = CreateContainer(cli, *api, *req, pos[0], o);
  if (!id.ok()) return RunError(cli, "create", id.status(), 125);
  cli.out() << *id << "\n";
  return 0;
}

int CmdRun(Cli& cli, const Invocation& inv) {
  ContainerOptions o;
  FlagSet f;
  RegisterContainerFlags(f, &o, true);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  if (o.detach && !o.attach.empty()) {
    return RunError(cli, "run", "conflicting options: cannot specify both --attach and --detach",
                    125);
  }
  auto req = BuildCreateRequest(o, f, pos);
  if (!req.ok()) return RunError(cli, "run", req.status(), 125);
  const json& cfg = req->body;
  bool attach_stdin = cfg["AttachStdin"].get<bool>();
  bool attach_stdout = cfg["AttachStdout"].get<bool>();
  bool attach_stderr = cfg["AttachStderr"].get<bool>();
  bool attach = attach_stdin || attach_stdout || attach_stderr;
  if (attach_stdin && o.tty && !IsTerminal(0)) {
    cli.err() << "the input device is not a TTY\n";
    return 1;
  }
  if (!o.detach_keys.empty()) {
    if (auto k = ParseDetachKeys(o.detach_keys); !k.ok()) {
      return RunError(cli, "run", k.status(), 125);
    }
  }
  auto api_or = cli.Api();
  if (!api_or.ok()) return PrintError(cli, api_or.status());
  const client::Client* api = *api_or;

  auto id_or = CreateContainer(cli, api, *req, pos[0], o);
  if (!id_or.ok()) return RunError(cli, "run", id_or.status(), 125);
  std::string id = *id_or;

  AttachSetup as;
  as.stdin_ = attach_stdin;
  as.stdout_ = attach_stdout;
  as.stderr_ = attach_stderr;
  as.tty = o.tty;
  as.detach_keys = DetachKeysOrConfig(o.detach_keys);
  std::optional<client::HijackedConn> conn;
  if (attach) {
    auto c = HijackAttach(api, id, as);
    if (!c.ok()) return RunError(cli, "run", c.status(), 125);
    conn = std::move(*c);
  }
  Waiter waiter;
  waiter.Start(
      api, absl::StrCat("/containers/", id, "/wait?condition=", o.rm ? "removed" : "next-exit"));

  // docker prints the id of a detached container before starting it, so a failed start still
  // shows it (transcript: static-ip-on-default-bridge).
  if (!attach) {
    cli.out() << id << "\n";
    cli.out().flush();
  }
  auto started = api->Call("POST", absl::StrCat("/containers/", id, "/start"));
  if (!started.ok()) {
    conn.reset();
    std::string msg(started.status().message());
    if (o.rm) {
      std::string ignored;
      waiter.ExitCode(&ignored);
    }
    return RunError(cli, "run", msg, RunErrorCode(msg));
  }
  if (!attach) return 0;
  cli.out().flush();
  auto pumped = Pump(api, id, *conn, as, /*resize=*/true, cli.out_fd(), cli.err_fd(), o.sig_proxy);
  conn.reset();
  if (!pumped.ok()) {
    cli.err() << pumped.status().message() << "\n";
    return 1;
  }
  // docker run (and start -a) take the detach keys as success, silently; attach and exec
  // report the EscapeError and exit 1.
  if (*pumped == PumpResult::kDetached) return 0;
  std::string error;
  int code = waiter.ExitCode(&error);
  if (!error.empty()) {
    cli.err() << "docker: " << error << "\n";
  }
  return code;
}

// ---------------------------------------------------------------- start / stop / kill / ...

int CmdStart(Cli& cli, const Invocation& inv) {
  bool attach = false, interactive = false;
  std::string detach_keys;
  FlagSet f;
  f.Bool("attach", 'a', &attach);
  f.Bool("interactive", 'i', &interactive);
  f.String("detach-keys", 0, &detach_keys);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api_or = cli.Api();
  if (!api_or.ok()) return PrintError(cli, api_or.status());
  const client::Client* api = *api_or;
  if (attach || interactive) {
    if (pos.size() > 1) {
      cli.err() << "you cannot start and attach multiple containers at once\n";
      return 1;
    }
    auto c = InspectContainer(api, pos[0]);
    if (!c.ok()) return PrintError(cli, c.status());
    const json& cfg = (*c)["Config"];
    std::string id = c->value("Id", pos[0]);
    AttachSetup as;
    as.tty = cfg.value("Tty", false);
    as.stdin_ = interactive && cfg.value("OpenStdin", false);
    as.stdout_ = attach;
    as.stderr_ = attach;
    as.detach_keys = DetachKeysOrConfig(detach_keys);
    auto conn = HijackAttach(api, id, as);
    if (!conn.ok()) return PrintError(cli, conn.status());
    Waiter waiter;
    waiter.Start(api, absl::StrCat("/containers/", id, "/wait?condition=next-exit"));
    auto started = api->Call("POST", absl::StrCat("/containers/", id, "/start"));
    if (!started.ok()) {
      cli.err() << started.status().message() << "\n";
      return 1;
    }
    auto pumped = Pump(api, id, *conn, as, true, cli.out_fd(), cli.err_fd(), true);
    if (pumped.ok() && *pumped == PumpResult::kDetached) return 0;
    std::string error;
    return waiter.ExitCode(&error);
  }
  std::vector<std::string> failed;
  for (const auto& n : pos) {
    auto r = api->Call("POST", "/containers/" + Esc(n) + "/start");
    if (r.ok()) {
      cli.out() << n << "\n";
    } else {
      cli.err() << r.status().message() << "\n";
      failed.push_back(n);
    }
  }
  if (!failed.empty()) {
    cli.err() << "Error: failed to start containers: " << absl::StrJoin(failed, ", ") << "\n";
    return 1;
  }
  return 0;
}

namespace {

int StopLike(Cli& cli, const Invocation& inv, const char* action) {
  int64_t timeout = 0;
  std::string signal;
  FlagSet f;
  f.Int("time", 't', &timeout);
  f.Int("timeout", 0, &timeout);
  f.String("signal", 's', &signal);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::string query;
  if (f.Changed("time") || f.Changed("timeout")) query = absl::StrCat("?t=", timeout);
  if (!signal.empty()) {
    query += (query.empty() ? "?" : "&") + std::string("signal=") + Esc(signal);
  }
  return ForEach(cli, pos, [&](const std::string& n) {
    return (*api)->Call("POST", absl::StrCat("/containers/", Esc(n), "/", action, query)).status();
  });
}

}  // namespace

int CmdStop(Cli& cli, const Invocation& inv) { return StopLike(cli, inv, "stop"); }
int CmdRestart(Cli& cli, const Invocation& inv) { return StopLike(cli, inv, "restart"); }

int CmdKill(Cli& cli, const Invocation& inv) {
  std::string signal;
  FlagSet f;
  f.String("signal", 's', &signal);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::string query = signal.empty() ? "" : "?signal=" + Esc(signal);
  return ForEach(cli, pos, [&](const std::string& n) {
    return (*api)->Call("POST", absl::StrCat("/containers/", Esc(n), "/kill", query)).status();
  });
}

int CmdWait(Cli& cli, const Invocation& inv) {
  FlagSet f;
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  for (const auto& n : pos) {
    std::string body;
    auto r = (*api)->Stream("POST", "/containers/" + Esc(n) + "/wait", "", [&](std::string_view d) {
      body.append(d);
      return true;
    });
    if (!r.ok()) {
      cli.err() << r.status().message() << "\n";
      rc = 1;
      continue;
    }
    try {
      json j = json::parse(body);
      cli.out() << j.value("StatusCode", 0) << "\n";
    } catch (const json::exception&) {
      cli.err() << "Error: invalid wait response\n";
      rc = 1;
    }
  }
  return rc;
}

int CmdRm(Cli& cli, const Invocation& inv) {
  bool force = false, volumes = false, link = false;
  FlagSet f;
  f.Bool("force", 'f', &force);
  f.Bool("volumes", 'v', &volumes);
  f.Bool("link", 'l', &link);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::string query;
  auto add = [&](const char* kv) { query += (query.empty() ? "?" : "&") + std::string(kv); };
  if (force) add("force=1");
  if (volumes) add("v=1");
  if (link) add("link=1");
  for (const auto& n : pos) {
    std::string name = n;
    while (!name.empty() && name[0] == '/') name.erase(0, 1);
    while (!name.empty() && name.back() == '/') name.pop_back();
    if (name.empty()) {
      cli.err() << "container name cannot be empty\n";
      rc = 1;
      continue;
    }
    Status s = (*api)->Call("DELETE", absl::StrCat("/containers/", Esc(name), query)).status();
    if (s.ok()) {
      cli.out() << n << "\n";
    } else if (force && s.code() == absl::StatusCode::kNotFound) {
      // rm -f of something already gone is not an error (and prints nothing), as in docker.
    } else {
      cli.err() << s.message() << "\n";
      rc = 1;
    }
  }
  return rc;
}

// ---------------------------------------------------------------- ps

json PsItem(const json& c, bool trunc, int64_t now) {
  json item;
  std::string id = c.value("Id", "");
  item["ID"] = trunc ? TruncId(id) : id;
  std::string image = c.value("Image", "");
  if (image.empty()) image = "<no image>";
  if (trunc && image.rfind("sha256:", 0) == 0) image = image.substr(7, 12);
  item["Image"] = image;
  std::string command = c.value("Command", "");
  item["Command"] = GoQuote(trunc ? Ellipsis(command, 20) : command);
  int64_t created = c.value("Created", int64_t{0});
  item["CreatedAt"] = LocalTime(created);
  item["RunningFor"] = TimeAgo(created, now);
  item["Ports"] = DisplayablePorts(c.value("Ports", json::array()));
  item["State"] = c.value("State", "");
  item["Status"] = c.value("Status", "");
  std::string size = HumanSize(static_cast<double>(c.value("SizeRw", int64_t{0})), 3);
  if (c.value("SizeRootFs", int64_t{0}) > 0) {
    size +=
        " (virtual " + HumanSize(static_cast<double>(c.value("SizeRootFs", int64_t{0})), 3) + ")";
  }
  item["Size"] = size;
  std::vector<std::string> names;
  if (c.contains("Names") && c["Names"].is_array()) {
    for (const auto& n : c["Names"]) {
      std::string s = StripSlash(n.get<std::string>());
      if (trunc) {
        // Only the first name that is not a legacy link ("other/alias").
        if (s.find('/') == std::string::npos) {
          names = {s};
          break;
        }
        continue;
      }
      names.push_back(s);
    }
  }
  item["Names"] = absl::StrJoin(names, ",");
  std::vector<std::string> labels;
  if (c.contains("Labels") && c["Labels"].is_object()) {
    for (const auto& [k, v] : c["Labels"].items()) {
      labels.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
    }
  }
  std::sort(labels.begin(), labels.end());
  item["Labels"] = absl::StrJoin(labels, ",");
  std::vector<std::string> mounts;
  int local_volumes = 0;
  if (c.contains("Mounts") && c["Mounts"].is_array()) {
    for (const auto& m : c["Mounts"]) {
      std::string n = m.value("Name", "");
      if (n.empty()) n = m.value("Source", "");
      mounts.push_back(trunc ? Ellipsis(n, 15) : n);
      if (m.value("Driver", "") == "local") ++local_volumes;
    }
  }
  item["Mounts"] = absl::StrJoin(mounts, ",");
  item["LocalVolumes"] = std::to_string(local_volumes);
  std::vector<std::string> nets;
  if (c.contains("NetworkSettings") && c["NetworkSettings"].is_object() &&
      c["NetworkSettings"].contains("Networks") && c["NetworkSettings"]["Networks"].is_object()) {
    for (const auto& [k, v] : c["NetworkSettings"]["Networks"].items()) nets.push_back(k);
  }
  std::sort(nets.begin(), nets.end());
  item["Networks"] = absl::StrJoin(nets, ",");
  item["Platform"] = nullptr;  // API 1.41 lists no image platform; docker shows null
  return item;
}

int CmdPs(Cli& cli, const Invocation& inv) {
  bool all = false, quiet = false, no_trunc = false, latest = false, size = false;
  int64_t last = -1;
  std::string format;
  std::vector<std::string> filters;
  FlagSet f;
  f.Bool("all", 'a', &all);
  f.Bool("quiet", 'q', &quiet);
  f.Bool("no-trunc", 0, &no_trunc);
  f.Bool("latest", 'l', &latest);
  f.Bool("size", 's', &size);
  f.Int("last", 'n', &last);
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
  if (latest) last = 1;
  // Parameters in key order, as Go's url.Values encodes them; limit implies all on the daemon.
  std::string query;
  auto add = [&](const std::string& kv) { query += (query.empty() ? "?" : "&") + kv; };
  if (all) add("all=1");
  if (!fm->empty()) add("filters=" + FiltersParam(*fm));
  if (last > 0) add(absl::StrCat("limit=", last));
  // docker asks for sizes when the format uses them ({{json .}} includes Size).
  bool want_size = size || (!quiet && (format.find(".Size") != std::string::npos ||
                                       format.find("json .}}") != std::string::npos));
  if (want_size) add("size=1");
  auto r = (*api)->Call("GET", "/containers/json" + query);
  if (!r.ok()) return PrintError(cli, r.status());
  auto list = r->Json();
  if (!list.ok() || !list->is_array()) return PrintError(cli, absl::InternalError("bad list"));
  int64_t now = NowUnix();
  std::vector<json> items;
  for (const auto& c : *list) items.push_back(PsItem(c, !no_trunc, now));
  if (quiet) {
    for (const auto& it : items) cli.out() << it["ID"].get<std::string>() << "\n";
    return 0;
  }
  if (format.empty() || format == "table") {
    format =
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{."
        "Names}}";
    if (size) format += "\t{{.Size}}";
  }
  if (format == "json") format = "{{json .}}";
  json header = {{"ID", "CONTAINER ID"},
                 {"Image", "IMAGE"},
                 {"Command", "COMMAND"},
                 {"CreatedAt", "CREATED AT"},
                 {"RunningFor", "CREATED"},
                 {"Ports", "PORTS"},
                 {"State", "STATE"},
                 {"Status", "STATUS"},
                 {"Size", "SIZE"},
                 {"Names", "NAMES"},
                 {"Labels", "LABELS"},
                 {"Mounts", "MOUNTS"},
                 {"LocalVolumes", "LOCAL VOLUMES"},
                 {"Networks", "NETWORKS"}};
  return PrintItems(cli, format, header, items);
}

// ---------------------------------------------------------------- logs

int CmdLogs(Cli& cli, const Invocation& inv) {
  bool follow = false, timestamps = false, details = false;
  std::string tail = "all", since, until;
  FlagSet f;
  f.Bool("follow", 'f', &follow);
  f.Bool("timestamps", 't', &timestamps);
  f.Bool("details", 0, &details);
  f.String("tail", 'n', &tail);
  f.String("since", 0, &since);
  f.String("until", 0, &until);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto c = InspectContainer(*api, pos[0]);
  if (!c.ok()) return PrintError(cli, c.status());
  bool tty = (*c)["Config"].value("Tty", false);
  std::string q = "?stdout=1&stderr=1";
  int64_t now = NowUnix();
  if (!since.empty()) {
    auto ts = ParseTimestamp(since, now);
    if (!ts.ok()) return PrintError(cli, ts.status());
    q += "&since=" + Esc(*ts);
  }
  if (!until.empty()) {
    auto ts = ParseTimestamp(until, now);
    if (!ts.ok()) return PrintError(cli, ts.status());
    q += "&until=" + Esc(*ts);
  }
  if (timestamps) q += "&timestamps=1";
  if (follow) q += "&follow=1";
  if (details) q += "&details=1";
  q += "&tail=" + Esc(tail);
  cli.out().flush();
  client::StdcopyDemuxer demux([&](client::StdStream s, std::string_view payload) {
    WriteAll(s == client::StdStream::kStderr ? cli.err_fd() : cli.out_fd(), payload);
  });
  Status feed_error;
  auto r = (*api)->Stream("GET", SortedQuery("/containers/" + Esc(pos[0]) + "/logs" + q), "",
                          [&](std::string_view d) {
                            if (tty) {
                              WriteAll(cli.out_fd(), d);
                              return true;
                            }
                            feed_error = demux.Feed(d);
                            return feed_error.ok();
                          });
  if (!r.ok()) return PrintError(cli, r.status());
  if (!feed_error.ok()) return PrintError(cli, feed_error);
  return 0;
}

// ---------------------------------------------------------------- exec

int CmdExec(Cli& cli, const Invocation& inv) {
  bool interactive = false, tty = false, detach = false, privileged = false;
  std::vector<std::string> env, env_files;
  std::string user, workdir, detach_keys;
  FlagSet f;
  f.Bool("interactive", 'i', &interactive);
  f.Bool("tty", 't', &tty);
  f.Bool("detach", 'd', &detach);
  f.Bool("privileged", 0, &privileged);
  f.StringList("env", 'e', &env);
  f.StringList("env-file", 0, &env_files);
  f.String("user", 'u', &user);
  f.String("workdir", 'w', &workdir);
  f.String("detach-keys", 0, &detach_keys);
  f.SetInterspersed(false);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 2, -1, &rc)) return rc;
  std::vector<std::string> envs;
  for (const auto& file : env_files) {
    auto lines = ParseEnvFile(file);
    if (!lines.ok()) return PrintError(cli, lines.status());
    envs.insert(envs.end(), lines->begin(), lines->end());
  }
  for (const auto& e : env) envs.push_back(ExpandEnv(e));
  if (interactive && tty && !IsTerminal(0)) {
    cli.err() << "the input device is not a TTY\n";
    return 1;
  }
  detach_keys = DetachKeysOrConfig(detach_keys);
  auto api_or = cli.Api();
  if (!api_or.ok()) return PrintError(cli, api_or.status());
  const client::Client* api = *api_or;
  // docker checks the container exists (and is running) first.
  auto c = InspectContainer(api, pos[0]);
  if (!c.ok()) return PrintError(cli, c.status());
  json body = {{"User", user},
               {"Privileged", privileged},
               {"Tty", tty},
               {"AttachStdin", interactive && !detach},
               {"AttachStderr", !detach},
               {"AttachStdout", !detach},
               {"Detach", detach},
               {"DetachKeys", detach_keys},
               {"Env", envs.empty() ? json(nullptr) : json(envs)},
               {"WorkingDir", workdir},
               {"Cmd", std::vector<std::string>(pos.begin() + 1, pos.end())}};
  auto created = api->CallJson("POST", "/containers/" + Esc(pos[0]) + "/exec", body);
  if (!created.ok()) return PrintError(cli, created.status());
  auto cj = created->Json();
  if (!cj.ok()) return PrintError(cli, cj.status());
  std::string exec_id = cj->value("Id", "");
  json start = {{"Detach", detach}, {"Tty", tty}};
  if (detach) {
    auto r = api->CallJson("POST", "/exec/" + exec_id + "/start", start);
    if (!r.ok()) return PrintError(cli, r.status());
    return 0;
  }
  auto conn = api->Hijack("POST", "/exec/" + exec_id + "/start", client::DumpJson(start));
  if (!conn.ok()) return PrintError(cli, conn.status());
  PumpOptions po;
  po.out_fd = cli.out_fd();
  po.err_fd = cli.err_fd();
  po.tty = tty;
  po.send_stdin = interactive;
  if (tty && interactive) {
    auto keys = ParseDetachKeys(detach_keys.empty() ? "ctrl-p,ctrl-q" : detach_keys);
    if (keys.ok()) po.detach_keys = *keys;
  }
  std::unique_ptr<RawTerminal> raw;
  if (tty && interactive && IsTerminal(0)) raw = std::make_unique<RawTerminal>(0);
  if (tty && IsTerminal(1)) {
    std::string prefix = "/exec/" + exec_id;
    ResizeTty(api, prefix);
    po.on_resize = [api, prefix] { ResizeTty(api, prefix); };
  }
  cli.out().flush();
  auto pumped = PumpHijacked(*conn, po);
  if (raw) raw->Restore();
  if (!pumped.ok()) return PrintError(cli, pumped.status());
  if (*pumped == PumpResult::kDetached) {
    cli.err() << "read escape sequence\n";
    return 1;
  }
  auto info = api->Call("GET", "/exec/" + exec_id + "/json");
  if (!info.ok()) return PrintError(cli, info.status());
  auto ij = info->Json();
  if (!ij.ok()) return PrintError(cli, ij.status());
  if (ij->contains("ExitCode") && (*ij)["ExitCode"].is_number()) {
    return (*ij)["ExitCode"].get<int>();
  }
  return 0;
}

// ---------------------------------------------------------------- attach

int CmdAttach(Cli& cli, const Invocation& inv) {
  bool no_stdin = false, sig_proxy = true;
  std::string detach_keys;
  FlagSet f;
  f.Bool("no-stdin", 0, &no_stdin);
  f.Bool("sig-proxy", 0, &sig_proxy);
  f.String("detach-keys", 0, &detach_keys);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 1, &rc)) return rc;
  auto api_or = cli.Api();
  if (!api_or.ok()) return PrintError(cli, api_or.status());
  const client::Client* api = *api_or;
  auto c = InspectContainer(api, pos[0]);
  if (!c.ok()) return PrintError(cli, c.status());
  if (!(*c)["State"].value("Running", false)) {
    cli.err() << "You cannot attach to a stopped container, start it first\n";
    return 1;
  }
  if ((*c)["State"].value("Paused", false)) {
    cli.err() << "You cannot attach to a paused container, unpause it first\n";
    return 1;
  }
  std::string id = c->value("Id", pos[0]);
  AttachSetup as;
  as.tty = (*c)["Config"].value("Tty", false);
  as.stdin_ = !no_stdin && (*c)["Config"].value("OpenStdin", false);
  as.detach_keys = DetachKeysOrConfig(detach_keys);
  if (as.stdin_ && as.tty && !IsTerminal(0)) {
    cli.err() << "the input device is not a TTY\n";
    return 1;
  }
  auto conn = HijackAttach(api, id, as);
  if (!conn.ok()) return PrintError(cli, conn.status());
  Waiter waiter;
  waiter.Start(api, absl::StrCat("/containers/", id, "/wait"));
  auto pumped = Pump(api, id, *conn, as, true, cli.out_fd(), cli.err_fd(), sig_proxy);
  if (!pumped.ok()) return PrintError(cli, pumped.status());
  if (*pumped == PumpResult::kDetached) {
    cli.err() << "read escape sequence\n";
    return 1;  // as docker attach: the EscapeError is its error
  }
  std::string error;
  return waiter.ExitCode(&error);
}

// ---------------------------------------------------------------- rename / top / port / prune

int CmdRename(Cli& cli, const Invocation& inv) {
  FlagSet f;
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 2, 2, &rc)) return rc;
  if (pos[1].empty()) {
    cli.err() << "Error: neither old nor new names may be empty\n";
    return 1;
  }
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto r = (*api)->Call("POST", "/containers/" + Esc(pos[0]) + "/rename?name=" + Esc(pos[1]));
  if (!r.ok()) return PrintError(cli, r.status());
  return 0;
}

int CmdTop(Cli& cli, const Invocation& inv) {
  FlagSet f;
  f.SetInterspersed(false);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::string q;
  if (pos.size() > 1) {
    q = "?ps_args=" + Esc(absl::StrJoin(std::vector<std::string>(pos.begin() + 1, pos.end()), " "));
  }
  auto r = (*api)->Call("GET", "/containers/" + Esc(pos[0]) + "/top" + q);
  if (!r.ok()) return PrintError(cli, r.status());
  auto j = r->Json();
  if (!j.ok()) return PrintError(cli, j.status());
  format::TabWriter tw(20, 1, 3, ' ', 0);
  std::vector<std::string> titles;
  for (const auto& t : j->value("Titles", json::array())) titles.push_back(t.get<std::string>());
  tw.Write(absl::StrJoin(titles, "\t") + "\n");
  for (const auto& p : j->value("Processes", json::array())) {
    std::vector<std::string> cells;
    for (const auto& c : p) cells.push_back(c.is_string() ? c.get<std::string>() : c.dump());
    tw.Write(absl::StrJoin(cells, "\t") + "\n");
  }
  cli.out() << tw.Flush();
  return 0;
}

int CmdPort(Cli& cli, const Invocation& inv) {
  FlagSet f;
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 2, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto c = InspectContainer(*api, pos[0]);
  if (!c.ok()) return PrintError(cli, c.status());
  json ports = (*c)["NetworkSettings"].value("Ports", json::object());
  if (!ports.is_object()) ports = json::object();
  auto host_port = [](const json& b) {
    std::string ip = b.value("HostIp", "");
    std::string port = b.value("HostPort", "");
    if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + port;
    return ip + ":" + port;
  };
  if (pos.size() == 2) {
    std::string want = pos[1];
    if (want.find('/') == std::string::npos) want += "/tcp";
    if (ports.contains(want) && ports[want].is_array() && !ports[want].empty()) {
      for (const auto& b : ports[want]) cli.out() << host_port(b) << "\n";
      return 0;
    }
    cli.err() << "Error: No public port '" << pos[1] << "' published for " << pos[0] << "\n";
    return 1;
  }
  // docker sorts the lines in natural order (digit runs compare as numbers).
  std::vector<std::pair<std::pair<int, std::string>, std::string>> lines;
  for (const auto& [key, bindings] : ports.items()) {
    if (!bindings.is_array()) continue;
    for (const auto& b : bindings) lines.push_back({{0, ""}, key + " -> " + host_port(b)});
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const auto& a, const auto& b) { return NaturalLess(a.second, b.second); });
  for (const auto& l : lines) cli.out() << l.second << "\n";
  return 0;
}

int CmdContainerPrune(Cli& cli, const Invocation& inv) {
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
    if (!Confirm(cli, "WARNING! This will remove all stopped containers.\n")) {
      cli.err() << "Total reclaimed space: 0B\n";
      return 0;
    }
  }
  auto fm = ParseFilters(filters);
  if (!fm.ok()) return PrintError(cli, fm.status());
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::string q = fm->empty() ? "" : "?filters=" + FiltersParam(*fm);
  auto r = (*api)->Call("POST", "/containers/prune" + q);
  if (!r.ok()) return PrintError(cli, r.status());
  auto j = r->Json();
  if (!j.ok()) return PrintError(cli, j.status());
  const json& deleted = (*j)["ContainersDeleted"];
  if (deleted.is_array() && !deleted.empty()) {
    cli.out() << "Deleted Containers:\n";
    for (const auto& d : deleted) cli.out() << d.get<std::string>() << "\n";
    cli.out() << "\n";
  }
  cli.out() << "Total reclaimed space: "
            << HumanSize(static_cast<double>(j->value("SpaceReclaimed", int64_t{0}))) << "\n";
  return 0;
}

// ---------------------------------------------------------------- stats

namespace {

json StatsItem(const json& s, const std::string& id_or_name, bool no_trunc) {
  json item;
  std::string id = s.value("id", id_or_name);
  item["ID"] = no_trunc ? id : TruncId(id);
  item["Container"] = id_or_name;
  item["Name"] = StripSlash(s.value("name", ""));
  const json& cpu = s.value("cpu_stats", json::object());
  const json& pre = s.value("precpu_stats", json::object());
  double cpu_delta =
      static_cast<double>(
          cpu.value("cpu_usage", json::object()).value("total_usage", uint64_t{0})) -
      static_cast<double>(pre.value("cpu_usage", json::object()).value("total_usage", uint64_t{0}));
  double sys_delta = static_cast<double>(cpu.value("system_cpu_usage", uint64_t{0})) -
                     static_cast<double>(pre.value("system_cpu_usage", uint64_t{0}));
  double online = static_cast<double>(cpu.value("online_cpus", 0));
  if (online == 0) {
    const json& per = cpu.value("cpu_usage", json::object()).value("percpu_usage", json::array());
    online = static_cast<double>(per.size());
  }
  double cpu_pct = 0;
  if (sys_delta > 0 && cpu_delta > 0) cpu_pct = cpu_delta / sys_delta * online * 100.0;
  const json& mem = s.value("memory_stats", json::object());
  double usage = static_cast<double>(mem.value("usage", uint64_t{0}));
  const json& mstats = mem.value("stats", json::object());
  // cgroup v2 reports inactive_file, v1 total_inactive_file; docker subtracts it (page cache).
  if (mstats.contains("inactive_file")) {
    usage -= static_cast<double>(mstats.value("inactive_file", uint64_t{0}));
  } else if (mstats.contains("total_inactive_file")) {
    usage -= static_cast<double>(mstats.value("total_inactive_file", uint64_t{0}));
  }
  if (usage < 0) usage = 0;
  double limit = static_cast<double>(mem.value("limit", uint64_t{0}));
  double mem_pct = limit > 0 ? usage / limit * 100.0 : 0;
  double rx = 0, tx = 0;
  if (s.contains("networks") && s["networks"].is_object()) {
    for (const auto& [k, n] : s["networks"].items()) {
      rx += static_cast<double>(n.value("rx_bytes", uint64_t{0}));
      tx += static_cast<double>(n.value("tx_bytes", uint64_t{0}));
    }
  }
  double blk_r = 0, blk_w = 0;
  const json& blk = s.value("blkio_stats", json::object());
  if (blk.contains("io_service_bytes_recursive") && blk["io_service_bytes_recursive"].is_array()) {
    for (const auto& e : blk["io_service_bytes_recursive"]) {
      std::string op = e.value("op", "");
      for (auto& ch : op) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (op == "read") blk_r += static_cast<double>(e.value("value", uint64_t{0}));
      if (op == "write") blk_w += static_cast<double>(e.value("value", uint64_t{0}));
    }
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f%%", cpu_pct);
  item["CPUPerc"] = std::string(buf);
  std::snprintf(buf, sizeof buf, "%.2f%%", mem_pct);
  item["MemPerc"] = std::string(buf);
  item["MemUsage"] = BytesSize(usage) + " / " + BytesSize(limit);
  item["NetIO"] = HumanSize(rx, 3) + " / " + HumanSize(tx, 3);
  item["BlockIO"] = HumanSize(blk_r, 3) + " / " + HumanSize(blk_w, 3);
  item["PIDs"] = std::to_string(s.value("pids_stats", json::object()).value("current", 0));
  return item;
}

}  // namespace

int CmdStats(Cli& cli, const Invocation& inv) {
  bool all = false, no_stream = false, no_trunc = false;
  std::string format;
  FlagSet f;
  f.Bool("all", 'a', &all);
  f.Bool("no-stream", 0, &no_stream);
  f.Bool("no-trunc", 0, &no_trunc);
  f.String("format", 0, &format);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::vector<std::string> targets = pos;
  if (targets.empty()) {
    auto r = (*api)->Call("GET", all ? "/containers/json?all=1" : "/containers/json");
    if (!r.ok()) return PrintError(cli, r.status());
    auto j = r->Json();
    if (!j.ok()) return PrintError(cli, j.status());
    for (const auto& c : *j) targets.push_back(c.value("Id", "").substr(0, 12));
  }
  if (format.empty() || format == "table") {
    format =
        "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{."
        "BlockIO}}\t{{.PIDs}}";
  }
  json header = {{"ID", "CONTAINER ID"}, {"Container", "CONTAINER"},        {"Name", "NAME"},
                 {"CPUPerc", "CPU %"},   {"MemUsage", "MEM USAGE / LIMIT"}, {"MemPerc", "MEM %"},
                 {"NetIO", "NET I/O"},   {"BlockIO", "BLOCK I/O"},          {"PIDs", "PIDS"}};
  // Each round takes one sample per container; without --no-stream it repeats every second
  // like docker's live view (redrawn with a clear-screen sequence).
  for (;;) {
    std::vector<json> items;
    for (const auto& t : targets) {
      auto r = (*api)->Call("GET", "/containers/" + Esc(t) + "/stats?stream=0");
      if (!r.ok()) {
        cli.err() << r.status().message() << "\n";
        rc = 1;
        continue;
      }
      auto j = r->Json();
      if (!j.ok()) continue;
      items.push_back(StatsItem(*j, t, no_trunc));
    }
    auto out = RenderItems(format, header, items);
    if (!out.ok()) return PrintError(cli, out.status());
    if (!no_stream) cli.out() << "\033[2J\033[H";
    cli.out() << *out;
    cli.out().flush();
    if (no_stream) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  return rc;
}

}  // namespace berth::cli
