#include <sys/utsname.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "api/routes.h"
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
    auto list = b.containers.List(true, json::object(), 0, false);
    int total = 0, running = 0, stopped = 0;
    if (list.ok())
      for (auto& x : *list) {
        ++total;
        if (x["State"] == "running") ++running;
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
                     {"IndexServerAddress", ""},
                     {"RegistryConfig", {{"IndexConfigs", json::object()}, {"InsecureRegistryCIDRs", json::array()}, {"Mirrors", json::array()}}},
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
                     {"Swarm",
                      {{"NodeID", ""},
                       {"NodeAddr", ""},
                       {"LocalNodeState", "inactive"},
                       {"ControlAvailable", false},
                       {"Error", ""},
                       {"RemoteManagers", nullptr}}},
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
    std::map<std::string, std::vector<std::string>> filters;
    auto fj = json::parse(req.Query("filters", "{}"), nullptr, false);
    if (fj.is_object())
      for (auto& [k, v] : fj.items()) {
        if (v.is_object())
          for (auto& [val, on] : v.items()) filters[k].push_back(val);
        else if (v.is_array())
          for (auto& e : v) filters[k].push_back(e.get<std::string>());
      }
    auto match = [&](const json& ev) {
      auto any = [&](const std::string& key, const std::string& value) {
        auto it = filters.find(key);
        if (it == filters.end()) return true;
        for (auto& v : it->second)
          if (v == value) return true;
        return false;
      };
      std::string type = ev["Type"], action = ev["Action"], id = ev["Actor"]["ID"];
      std::string name = ev["Actor"]["Attributes"].value("name", "");
      std::string base_action = action.substr(0, action.find(':'));
      if (!any("type", type) || !any("event", base_action)) return false;
      if (filters.count("container") && (type != "container" || (!any("container", id) && !any("container", name))))
        return false;
      if (filters.count("image") && !any("image", ev["Actor"]["Attributes"].value("image", "")))
        return false;
      return true;
    };
    uint64_t cursor = since > 0 ? b.events.CursorSince(since) : b.events.Head();
    if (!c.BeginStream(200, "application/json")) return;
    for (;;) {
      for (auto& ev : b.events.Next(&cursor, 1000)) {
        if (until > 0 && ev["timeNano"].get<int64_t>() > until) {
          c.EndStream();
          c.MarkClosed();
          return;
        }
        if (match(ev) && !c.WriteChunk(ev.dump() + "\n")) return;
      }
      if (until > 0 && UnixNanos(b.clock.Now()) > until) break;
      // Detect a client that went away while nothing happened.
      if (c.ClientGone()) return;
    }
    c.EndStream();
    c.MarkClosed();
  });
}

}  // namespace berth::api
