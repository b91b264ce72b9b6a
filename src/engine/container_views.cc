// ContainerManager: inspect, list, top, stats and prune (containers.h).

#include <unistd.h>

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "engine/container_state.h"
#include "engine/container_util.h"
#include "engine/containers.h"
#include "sys/fs.h"
#include "sys/subprocess.h"

namespace berth::engine {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Inspect, list

static std::string StatusText(const Container& c, int64_t now) {
  using std::chrono::nanoseconds;
  if (c.status == "running")
    return "Up " + HumanDuration(nanoseconds(now - c.started_at));
  if (c.status == "restarting")
    return "Restarting (" + std::to_string(c.exit_code) + ") " +
           HumanDuration(nanoseconds(now - c.finished_at)) + " ago";
  if (c.status == "removing") return "Removal In Progress";
  if (c.status == "exited" || (c.status == "created" && c.finished_at != 0)) {
    if (c.finished_at == 0) return "Created";
    return "Exited (" + std::to_string(c.exit_code) + ") " +
           HumanDuration(nanoseconds(now - c.finished_at)) + " ago";
  }
  return "Created";
}

json ContainerManager::InspectLocked(const Container& c, const json& ns_in, const std::string& lower) {
  std::string dir = ContainerDir(c.id);
  json mounts = json::array();
  if (c.host_config.contains("Binds") && c.host_config["Binds"].is_array())
    for (auto& b : c.host_config["Binds"]) {
      std::vector<std::string> p = absl::StrSplit(b.get<std::string>(), ':');
      if (p.size() < 2) continue;
      bool ro = p.size() > 2 && absl::StrContains(p[2], "ro");
      mounts.push_back({{"Type", "bind"}, {"Source", p[0]}, {"Destination", p[1]},
                        {"Mode", p.size() > 2 ? p[2] : ""}, {"RW", !ro}, {"Propagation", "rprivate"}});
    }
  json exec_ids = json(nullptr);
  if (!c.exec_ids.empty()) exec_ids = c.exec_ids;
  json ns = ns_in;
  if (ns.empty()) ns = c.network_settings;
  if (!ns.is_object() || ns.empty()) {
    ns = {{"Bridge", ""}, {"SandboxID", ""}, {"HairpinMode", false},
          {"LinkLocalIPv6Address", ""}, {"LinkLocalIPv6PrefixLen", 0}, {"Ports", json::object()},
          {"SandboxKey", ""}, {"SecondaryIPAddresses", nullptr}, {"SecondaryIPv6Addresses", nullptr},
          {"EndpointID", ""}, {"Gateway", ""}, {"GlobalIPv6Address", ""}, {"GlobalIPv6PrefixLen", 0},
          {"IPAddress", ""}, {"IPPrefixLen", 0}, {"IPv6Gateway", ""}, {"MacAddress", ""},
          {"Networks", json::object()}};
  }
  bool running = c.status == "running";
  json out = {
      {"Id", c.id},
      {"Created", FormatRfc3339Nano(c.created)},
      {"Path", c.path},
      {"Args", c.args},
      {"State",
       {{"Status", c.status == "removing" ? "removing" : c.status},
        {"Running", running || c.status == "restarting"},
        {"Paused", false},
        {"Restarting", c.status == "restarting"},
        {"OOMKilled", false},
        {"Dead", c.status == "dead"},
        {"Pid", running ? c.pid : 0},
        {"ExitCode", c.exit_code},
        {"Error", c.error},
        {"StartedAt", FormatRfc3339Nano(c.started_at)},
        {"FinishedAt", FormatRfc3339Nano(c.finished_at)}}},
      {"Image", c.image_id},
      {"ResolvConfPath", dir + "/resolv.conf"},
      {"HostnamePath", dir + "/hostname"},
      {"HostsPath", dir + "/hosts"},
      {"LogPath", dir + "/" + c.id + "-json.log"},
      {"Name", "/" + c.name},
      {"RestartCount", c.restart_count},
      {"Driver", "overlay2"},
      {"Platform", "linux"},
      {"MountLabel", ""},
      {"ProcessLabel", ""},
      {"AppArmorProfile", ""},
      {"ExecIDs", exec_ids},
      {"HostConfig", c.host_config},
      {"GraphDriver",
       {{"Data",
         {{"LowerDir", lower},
          {"MergedDir", StateDir(c.id) + "/rootfs"},
          {"UpperDir", dir + "/fs/upper"},
          {"WorkDir", dir + "/fs/work"}}},
        {"Name", "overlay2"}}},
      {"Mounts", mounts},
      {"Config", c.config},
      {"NetworkSettings", ns}};
  return out;
}

StatusOr<json> ContainerManager::Inspect(const std::string& name, bool size) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  std::string image_id;
  json hc;
  {
    StateLock l(mu_);
    image_id = c->image_id;
    hc = c->host_config;
  }
  // The network's settings and the image's layers come from their owners, with no lock of ours.
  json ns = network_.Settings(c->id, hc);
  auto image = images_.Get(image_id);
  std::string lower;
  if (image.ok())
    for (auto& d : images_.LowerDirs(*image)) lower += (lower.empty() ? "" : ":") + d;
  json out;
  {
    StateLock l(mu_);
    out = InspectLocked(*c, ns, lower);
  }
  if (size) {
    int64_t rw = sys::DiskUsage(ContainerDir(c->id) + "/fs/upper");
    out["SizeRw"] = rw;
    out["SizeRootFs"] = rw + (image.ok() ? image->size : 0);
  }
  return out;
}

json ContainerManager::SummaryLocked(const Container& c, const json& ns_in) {
  std::string cmd = c.path;
  for (auto& a : ToStrings(c.args)) cmd += " " + a;
  json ns = ns_in;
  if (ns.empty()) ns = c.network_settings;
  json ports = json::array();
  if (ns.contains("Ports") && ns["Ports"].is_object()) {
    for (auto& [port, binds] : ns["Ports"].items()) {
      auto slash = port.find('/');
      int priv = std::atoi(port.substr(0, slash).c_str());
      std::string proto = slash == std::string::npos ? "tcp" : port.substr(slash + 1);
      if (!binds.is_array() || binds.empty()) {
        ports.push_back({{"PrivatePort", priv}, {"Type", proto}});
        continue;
      }
      for (auto& b : binds)
        ports.push_back({{"IP", b.value("HostIp", "")},
                         {"PrivatePort", priv},
                         {"PublicPort", std::atoi(b.value("HostPort", "0").c_str())},
                         {"Type", proto}});
    }
  }
  json out = {{"Id", c.id},
              {"Names", json::array({"/" + c.name})},
              {"Image", c.config.value("Image", "")},
              {"ImageID", c.image_id},
              {"Command", cmd},
              {"Created", c.created / 1000000000},
              {"Ports", ports},
              {"Labels", c.config.value("Labels", json::object())},
              {"State", c.status},
              {"Status", StatusText(c, UnixNanos(clock_.Now()))},
              {"HostConfig", {{"NetworkMode", c.host_config.value("NetworkMode", "default")}}},
              {"NetworkSettings", {{"Networks", ns.value("Networks", json::object())}}},
              {"Mounts", json::array()}};
  return out;
}

StatusOr<std::vector<json>> ContainerManager::List(bool all, const json& filters_json, int limit,
                                                   bool size) {
  auto filters = ParseFilters(filters_json);
  static const std::set<std::string> kKnown = {"name", "id", "status", "label", "ancestor",
                                               "exited", "network", "before", "since", "volume",
                                               "health", "isolation", "publish", "expose", "is-task"};
  for (auto& [k, v] : filters)
    if (!kKnown.count(k)) return absl::InvalidArgumentError("invalid filter '" + k + "'");
  if (filters.count("status"))
    for (auto& s : filters["status"])
      if (s != "created" && s != "restarting" && s != "running" && s != "removing" &&
          s != "paused" && s != "exited" && s != "dead")
        return absl::InvalidArgumentError("invalid filter 'status=" + s + "'");
  if (filters.count("status") || filters.count("exited")) all = true;
  // Candidates and their network settings first (from the controller, with no lock of ours),
  // then the filters and summaries under the lock.
  std::vector<std::pair<std::shared_ptr<Container>, json>> cands;
  {
    StateLock l(mu_);
    for (auto& [id, c] : containers_)
      if (!c->creating && (all || c->running())) cands.emplace_back(c, c->host_config);
  }
  std::map<std::string, json> settings;
  for (auto& [c, hc] : cands) settings[c->id] = network_.Settings(c->id, hc);
  std::map<std::string, std::string> ancestors;  // filter value -> image id
  if (filters.count("ancestor"))
    for (auto& v : filters["ancestor"])
      if (auto img = images_.Get(v); img.ok()) ancestors[v] = img->id;
  std::vector<json> out = ListLocked(cands, settings, ancestors, filters, all, limit);
  if (size)
    for (auto& j : out) j["SizeRw"] = sys::DiskUsage(ContainerDir(j["Id"].get<std::string>()) + "/fs/upper");
  return out;
}

std::vector<json> ContainerManager::ListLocked(
    const std::vector<std::pair<std::shared_ptr<Container>, json>>& cands,
    std::map<std::string, json>& settings, const std::map<std::string, std::string>& ancestors,
    const std::map<std::string, std::vector<std::string>>& filters, bool all, int limit) {
  StateLock l(mu_);
  std::vector<std::shared_ptr<Container>> list;
  for (auto& [c, hc] : cands)
    if (!c->removed) list.push_back(c);
  std::sort(list.begin(), list.end(), [](auto& a, auto& b) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return a->created > b->created;
  });
  std::vector<json> out;
  auto any = [&](const std::string& key, auto pred) {
    auto it = filters.find(key);
    if (it == filters.end()) return true;
    for (auto& v : it->second)
      if (pred(v)) return true;
    return false;
  };
  for (auto& c : list) {
    if (!all && c->status != "running" && c->status != "restarting") continue;
    if (!any("name", [&](const std::string& v) { return absl::StrContains(c->name, v); })) continue;
    if (!any("id", [&](const std::string& v) { return absl::StartsWith(c->id, v); })) continue;
    if (!any("status", [&](const std::string& v) { return c->status == v; })) continue;
    if (!any("exited", [&](const std::string& v) {
          return c->status == "exited" && std::to_string(c->exit_code) == v;
        }))
      continue;
    if (!any("ancestor", [&](const std::string& v) {
          auto img = ancestors.find(v);
          return c->config.value("Image", "") == v || (img != ancestors.end() && img->second == c->image_id);
        }))
      continue;
    if (!any("label", [&](const std::string& v) {
          auto eq = v.find('=');
          const json& labels = c->config["Labels"];
          if (!labels.is_object()) return false;
          if (eq == std::string::npos) return labels.contains(v);
          std::string k = v.substr(0, eq);
          return labels.contains(k) && labels[k] == v.substr(eq + 1);
        }))
      continue;
    const json& ns = settings[c->id];
    if (!any("network", [&](const std::string& v) {
          const json& n = ns.empty() ? c->network_settings : ns;
          return n.contains("Networks") && n["Networks"].contains(v);
        }))
      continue;
    out.push_back(SummaryLocked(*c, ns));
    if (limit > 0 && static_cast<int>(out.size()) >= limit) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Top, stats, prune

StatusOr<json> ContainerManager::Top(const std::string& name, const std::string& ps_args) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  {
    StateLock l(mu_);
    if (c->status != "running")
      return absl::FailedPreconditionError("Container " + c->id + " is not running");
  }
  auto procs = sys::ReadFile("/sys/fs/cgroup/pids/berth/" + c->id + "/cgroup.procs");
  if (!procs.ok()) procs = sys::ReadFile("/sys/fs/cgroup/memory/berth/" + c->id + "/cgroup.procs");
  if (!procs.ok()) return Annotate(procs.status(), "top");
  std::set<std::string> pids;
  for (absl::string_view p : absl::StrSplit(*procs, '\n', absl::SkipEmpty())) pids.insert(std::string(p));
  std::vector<std::string> argv = {"ps"};
  for (absl::string_view a : absl::StrSplit(ps_args.empty() ? "-ef" : ps_args, ' ', absl::SkipEmpty()))
    argv.emplace_back(a);
  ASSIGN_OR_RETURN(auto res, sys::Run(argv));
  if (res.exit_code != 0)
    return absl::InternalError("Error running ps: " + res.err);
  std::vector<std::string> lines = absl::StrSplit(res.out, '\n', absl::SkipEmpty());
  if (lines.empty()) return absl::InternalError("ps printed nothing");
  std::vector<std::string> titles = absl::StrSplit(lines[0], ' ', absl::SkipEmpty());
  int pid_col = -1;
  for (size_t i = 0; i < titles.size(); ++i)
    if (titles[i] == "PID") pid_col = static_cast<int>(i);
  if (pid_col < 0) return absl::InvalidArgumentError("Couldn't find PID field in ps output");
  json processes = json::array();
  for (size_t l = 1; l < lines.size(); ++l) {
    std::vector<std::string> f = absl::StrSplit(lines[l], ' ', absl::SkipEmpty());
    if (static_cast<int>(f.size()) <= pid_col || !pids.count(f[pid_col])) continue;
    // The last column (the command) may contain spaces: join the rest.
    std::vector<std::string> row(f.begin(), f.begin() + std::min(f.size(), titles.size() - 1));
    std::string rest;
    for (size_t i = titles.size() - 1; i < f.size(); ++i) rest += (rest.empty() ? "" : " ") + f[i];
    row.push_back(rest);
    processes.push_back(row);
  }
  return json{{"Titles", titles}, {"Processes", processes}};
}

StatusOr<json> ContainerManager::Stats(const std::string& name) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  int pid;
  bool running;
  {
    StateLock l(mu_);
    pid = c->pid;
    running = c->status == "running";
  }
  auto num = [](const std::string& path) -> uint64_t {
    auto d = sys::ReadFile(path);
    uint64_t v = 0;
    if (d.ok()) absl::SimpleAtoi(absl::StripAsciiWhitespace(*d), &v);
    return v;
  };
  std::string cg = "/berth/" + c->id;
  uint64_t mem = running ? num("/sys/fs/cgroup/memory" + cg + "/memory.usage_in_bytes") : 0;
  uint64_t limit = running ? num("/sys/fs/cgroup/memory" + cg + "/memory.limit_in_bytes") : 0;
  uint64_t host_mem = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  if (limit == 0 || limit > host_mem) limit = host_mem;
  uint64_t cpu = running ? num("/sys/fs/cgroup/cpuacct" + cg + "/cpuacct.usage") : 0;
  uint64_t pids = running ? num("/sys/fs/cgroup/pids" + cg + "/pids.current") : 0;
  uint64_t system = 0;
  if (auto stat = sys::ReadFile("/proc/stat"); stat.ok()) {
    std::vector<std::string> f = absl::StrSplit(stat->substr(0, stat->find('\n')), ' ', absl::SkipEmpty());
    for (size_t i = 1; i < f.size() && i < 8; ++i) {
      uint64_t v;
      if (absl::SimpleAtoi(f[i], &v)) system += v;
    }
    system = system * (1000000000 / ::sysconf(_SC_CLK_TCK));
  }
  json networks = json::object();
  if (running && pid > 0) {
    if (auto dev = sys::ReadFile("/proc/" + std::to_string(pid) + "/net/dev"); dev.ok()) {
      for (absl::string_view line : absl::StrSplit(*dev, '\n')) {
        auto colon = line.find(':');
        if (colon == absl::string_view::npos) continue;
        std::string ifname(absl::StripAsciiWhitespace(line.substr(0, colon)));
        if (ifname == "lo") continue;
        std::vector<std::string> f = absl::StrSplit(line.substr(colon + 1), ' ', absl::SkipEmpty());
        if (f.size() < 16) continue;
        auto n = [&](int i) { uint64_t v = 0; absl::SimpleAtoi(f[i], &v); return v; };
        networks[ifname] = {{"rx_bytes", n(0)}, {"rx_packets", n(1)}, {"rx_errors", n(2)},
                            {"rx_dropped", n(3)}, {"tx_bytes", n(8)}, {"tx_packets", n(9)},
                            {"tx_errors", n(10)}, {"tx_dropped", n(11)}};
      }
    }
  }
  long ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
  json cpu_stats = {{"cpu_usage", {{"total_usage", cpu}, {"usage_in_kernelmode", 0}, {"usage_in_usermode", 0}}},
                    {"system_cpu_usage", system},
                    {"online_cpus", ncpu},
                    {"throttling_data", {{"periods", 0}, {"throttled_periods", 0}, {"throttled_time", 0}}}};
  return json{{"read", FormatRfc3339Nano(clock_.Now())},
              {"preread", "0001-01-01T00:00:00Z"},
              {"id", c->id},
              {"name", "/" + c->name},
              {"pids_stats", {{"current", pids}}},
              {"blkio_stats", {{"io_service_bytes_recursive", nullptr}}},
              {"num_procs", 0},
              {"cpu_stats", cpu_stats},
              {"precpu_stats", cpu_stats},
              {"memory_stats", {{"usage", mem}, {"limit", limit}, {"stats", json::object()}}},
              {"networks", networks}};
}

StatusOr<json> ContainerManager::Prune(const json& filters) {
  std::vector<std::string> victims;
  {
    StateLock l(mu_);
    for (auto& [id, c] : containers_)
      if (c->status == "exited" || c->status == "created" || c->status == "dead") victims.push_back(id);
  }
  json deleted = json::array();
  int64_t reclaimed = 0;
  for (auto& id : victims) {
    int64_t size = sys::DiskUsage(ContainerDir(id) + "/fs/upper");
    if (Remove(id, false).ok()) {
      deleted.push_back(id);
      reclaimed += size;
    }
  }
  return json{{"ContainersDeleted", deleted.empty() ? json(nullptr) : deleted},
              {"SpaceReclaimed", reclaimed}};
}


}  // namespace berth::engine
