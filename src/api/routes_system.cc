#include <sys/utsname.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "api/render.h"
#include "api/routes.h"
#include "cluster/cluster.h"
#include "spec/json/swarm_json.h"
#include "api/transport/stream.h"
#include "sys/fs.h"

namespace berth::api {

using nlohmann::json;

namespace {

std::string Kernel() {
  struct utsname u;
  return ::uname(&u) == 0 ? u.release : "";
}

std::string OsName() {
  auto data = sys::ReadFile("/etc/os-release");
  if (!data.ok()) return "Linux";
  for (absl::string_view line : absl::StrSplit(*data, '\n'))
    if (absl::StartsWith(line, "PRETTY_NAME=")) {
      std::string v(line.substr(12));
      if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  return "Linux";
}

}  // namespace

void AddSystemRoutes(Router& r, Backend& b) {
  auto ping = [](Request& req, Conn& c) {
    std::string out = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nBuilder-Version: 1\r\n"
                      "Cache-Control: no-cache, no-store, must-revalidate\r\n"
                      "Docker-Experimental: false\r\nOstype: linux\r\nPragma: no-cache\r\n"
                      "Server: Berth/0.1.0 (linux)\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Length: 2\r\n\r\n";
    if (req.method != "HEAD") out += "OK";
    else out.replace(out.find("Content-Length: 2"), 17, "Content-Length: 0");
    c.WriteResponse(out);
  };
  r.Add("GET", "/_ping", ping);
  r.Add("HEAD", "/_ping", ping);

  r.Add("GET", "/version", [&b](Request&, Conn& c) {
    std::string kernel = Kernel();
    c.SendJson(200, {{"Platform", {{"Name", "Berth"}}},
                     {"Components",
                      json::array({{{"Name", "Engine"},
                                    {"Version", "0.1.0"},
                                    {"Details",
                                     {{"ApiVersion", kApiVersion},
                                      {"MinAPIVersion", kMinApiVersion},
                                      {"Os", "linux"},
                                      {"Arch", "amd64"},
                                      {"KernelVersion", kernel},
                                      {"Experimental", "false"}}}},
                                   {{"Name", "runc"},
                                    {"Version", b.info.runc_version},
                                    {"Details", {{"GitCommit", ""}}}}})},
                     {"Version", "0.1.0"},
                     {"ApiVersion", kApiVersion},
                     {"MinAPIVersion", kMinApiVersion},
                     {"GitCommit", "berth"},
                     {"GoVersion", "n/a (C++20)"},
                     {"Os", "linux"},
                     {"Arch", "amd64"},
                     {"KernelVersion", kernel},
                     {"BuildTime", __DATE__ " " __TIME__}});
  });

  r.Add("GET", "/info", [&b](Request&, Conn& c) {
    auto list = b.containers.List(true, spec::Filters(), 0, false);
    int total = 0, running = 0, stopped = 0;
    if (list.ok())
      for (auto& x : *list) {
        ++total;
        if (x.state == "running") ++running;
        else ++stopped;
      }
    long ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
    int64_t mem = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
    c.SendJson(200, {{"ID", b.info.id},
                     {"Containers", total},
                     {"ContainersRunning", running},
                     {"ContainersPaused", 0},
                     {"ContainersStopped", stopped},
                     {"Images", b.images.List().size()},
                     {"Driver", "overlay2"},
                     {"DriverStatus", json::array({json::array({"Backing Filesystem", "extfs"}),
                                                   json::array({"Supports d_type", "true"})})},
                     {"Plugins",
                      {{"Volume", json::array()},
                       {"Network", json::array({"bridge", "host", "macvlan", "null"})},
                       {"Authorization", nullptr},
                       {"Log", json::array({"json-file"})}}},
                     {"MemoryLimit", true},
                     {"SwapLimit", false},
                     {"CpuCfsPeriod", true},
                     {"CpuCfsQuota", true},
                     {"CPUShares", true},
                     {"CPUSet", true},
                     {"PidsLimit", true},
                     {"IPv4Forwarding", true},
                     {"Debug", b.info.debug},
                     {"NFd", 0},
                     {"OomKillDisable", true},
                     {"NGoroutines", 0},
                     {"SystemTime", FormatRfc3339Nano(b.clock.Now())},
                     {"LoggingDriver", "json-file"},
                     {"CgroupDriver", "cgroupfs"},
                     {"CgroupVersion", "1"},
                     {"NEventsListener", 0},
                     {"KernelVersion", Kernel()},
                     {"OperatingSystem", OsName()},
                     {"OSVersion", ""},
                     {"OSType", "linux"},
                     {"Architecture", "x86_64"},
                     {"IndexServerAddress", "https://index.docker.io/v1/"},
                     {"RegistryConfig", json::parse(RenderRegistryConfig(b.registries ? b.registries->options()
                                                                                          : registry::RegistryOptions{})
                                                         .dump())},
                     {"NCPU", ncpu},
                     {"MemTotal", mem},
                     {"DockerRootDir", b.info.data_root},
                     {"HttpProxy", ""},
                     {"HttpsProxy", ""},
                     {"NoProxy", ""},
                     {"Name", b.info.name},
                     {"Labels", json::array()},
                     {"ExperimentalBuild", false},
                     {"ServerVersion", "0.1.0"},
                     {"Runtimes", {{"runc", {{"path", "runc"}}}}},
                     {"DefaultRuntime", b.info.default_runtime},
                     {"Swarm", b.cluster != nullptr
                                   ? spec::RenderSwarmInfo(b.cluster->Info())
                                   : spec::RenderSwarmInfo(spec::SwarmInfo{})},
                     {"LiveRestoreEnabled", true},
                     {"Isolation", ""},
                     {"InitBinary", ""},
                     {"ContainerdCommit", {{"ID", ""}, {"Expected", ""}}},
                     {"RuncCommit", {{"ID", b.info.runc_version}, {"Expected", b.info.runc_version}}},
                     {"InitCommit", {{"ID", ""}, {"Expected", ""}}},
                     {"SecurityOptions", json::array({"name=cgroupns"})},
                     {"Warnings", nullptr}});
  });

  r.Add("GET", "/events", [&b](Request& req, Conn& c) {
    int64_t since = 0, until = 0;
    auto parse_time = [](const std::string& s, int64_t* out) {
      if (s.empty()) return;
      double secs = 0;
      if (absl::SimpleAtod(s, &secs)) *out = static_cast<int64_t>(secs * 1e9);
      else ParseRfc3339(s, out);
    };
    parse_time(req.Query("since"), &since);
    parse_time(req.Query("until"), &until);
    auto parsed = RequestFilters(req);
    Status fst = parsed.ok() ? parsed->Validate({"config", "container", "daemon", "event", "image", "label",
                                                 "network", "node", "plugin", "scope", "secret", "service",
                                                 "type", "volume"})
                             : parsed.status();
    if (!fst.ok()) {
      c.SendError(fst);
      return;
    }
    const spec::Filters& f = *parsed;
    // Docker's events.Filter: every key given must match; within a key any value.
    auto match = [&](const engine::Event& ev) {
      auto attr = [&](const char* k) {
        auto it = ev.attributes.find(k);
        return it == ev.attributes.end() ? std::string() : it->second;
      };
      std::string base_action = ev.action.substr(0, ev.action.find(':'));
      // "health_status" matches "health_status: healthy", and so does the whole action.
      if (!f.ExactMatch("type", ev.type) ||
          !(f.ExactMatch("event", base_action) || f.ExactMatch("event", ev.action)))
        return false;
      if (!f.ExactMatch("scope", "local")) return false;
      auto actor = [&](const char* key, const char* type) {
        if (!f.Contains(key)) return true;
        if (ev.type != type) return false;
        if (f.ExactMatch(key, ev.id) || f.ExactMatch(key, attr("name"))) return true;
        for (const std::string& v : f.Get(key))
          if (v.size() >= 12 && ev.id.rfind(v, 0) == 0) return true;
        return false;
      };
      if (!actor("container", "container") || !actor("network", "network") || !actor("volume", "volume"))
        return false;
      // Swarm and plugin objects have no events on a node outside a swarm.
      for (const char* k : {"config", "daemon", "node", "plugin", "secret", "service"})
        if (f.Contains(k)) return false;
      if (f.Contains("image") && !f.ExactMatch("image", attr("image")) &&
          !(ev.type == "image" && f.ExactMatch("image", ev.id)))
        return false;
      if (!f.MatchKVList("label", spec::StringMap(ev.attributes.begin(), ev.attributes.end()))) return false;
      return true;
    };
    // Woken by a new event or by the client: no polling.
    auto sub = b.events.Subscribe();
    uint64_t cursor = since > 0 ? b.events.CursorSince(since) : b.events.Head();
    if (!c.BeginStream(200, "application/json")) return;
    transport::FdWatch watch(c.stream(), sub->fd());
    for (;;) {
      sub->Drain();
      for (auto& ev : b.events.Next(&cursor, 0)) {
        if (until > 0 && ev.time_nanos > until) {
          c.EndStream();
          c.MarkClosed();
          return;
        }
        if (match(ev) && !c.WriteChunk(RenderEvent(ev).dump() + "\n")) return;
      }
      int64_t now = UnixNanos(b.clock.Now());
      if (until > 0 && now > until) break;
      transport::Deadline d = until > 0 ? transport::After(std::chrono::milliseconds((until - now) / 1000000 + 1))
                                        : transport::kForever;
      transport::WaitResult w = c.stream().Wait(true, &watch, d);
      if (w.aborted || (w.stream && c.ClientGone())) return;
      if (w.stream) {  // the client said something: nothing to do with it, but it must not spin us
        char scratch[512];
        (void)c.stream().ReadSome(scratch, sizeof scratch, transport::kNoWait);
      }
    }
    c.EndStream();
    c.MarkClosed();
  });

  // Managed plugins (docker plugin ...): Berth runs none. The list is empty and a name is not
  // found, in dockerd's words; anything that would install, change or remove one is refused.
  r.Add("GET", "/plugins", [](Request&, Conn& c) { c.SendJson(200, json::array()); });
  r.Add("GET", "/plugins/{name*}/json", [](Request& req, Conn& c) {
    c.SendError(absl::NotFoundError("plugin \"" + req.params["name"] + "\" not found"));
  });
  auto refuse = [](Request&, Conn& c) {
    c.SendError(absl::UnimplementedError(
        "Berth does not run managed plugins (docker plugin install/create/enable)"));
  };
  for (const char* path : {"/plugins/privileges", "/plugins/pull", "/plugins/create"})
    r.Add(path == std::string("/plugins/privileges") ? "GET" : "POST", path, refuse);
  for (const char* verb : {"enable", "disable", "push", "set", "upgrade"})
    r.Add("POST", std::string("/plugins/{name*}/") + verb, refuse);
  r.Add("DELETE", "/plugins/{name*}", [](Request& req, Conn& c) {
    c.SendError(absl::NotFoundError("plugin \"" + req.params["name"] + "\" not found"));
  });
}

}  // namespace berth::api
