// ContainerManager: inspect, list with Docker's filters, top, stats and prune (containers.h).

#include <unistd.h>

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/container_state.h"
#include "engine/container_util.h"
#include "engine/containers.h"
#include "engine/log_config.h"
#include "sys/cgroups.h"
#include "sys/fs.h"
#include "sys/subprocess.h"

namespace berth::engine {

// ---------------------------------------------------------------------------------------------
// Inspect, list

static std::string StatusText(const Container& c, int64_t now) {
  using std::chrono::nanoseconds;
  if (c.status == "running") {
    // Docker's State.String(): Paused wins over the health status.
    std::string up = "Up " + HumanDuration(nanoseconds(now - c.started_at));
    if (c.paused) return up + " (Paused)";
    if (c.health.status == "starting") return up + " (health: starting)";
    if (!c.health.status.empty()) return up + " (" + c.health.status + ")";
    return up;
  }
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

ContainerState ContainerManager::StateLocked(const Container& c) {
  ContainerState st;
  bool running = c.status == "running";
  st.status = c.state();
  st.paused = running && c.paused;
  st.running = running || c.status == "restarting";
  st.restarting = c.status == "restarting";
  st.dead = c.status == "dead";
  st.pid = running ? c.pid : 0;
  st.exit_code = c.exit_code;
  st.error = c.error;
  st.started_at = c.started_at;
  st.finished_at = c.finished_at;
  if (!c.health.status.empty()) st.health = c.health;
  return st;
}

StatusOr<ContainerState> ContainerManager::State(const std::string& name) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  StateLock l(mu_);
  return StateLocked(*c);
}

ContainerView ContainerManager::InspectLocked(const Container& c, spec::NetworkSettings ns,
                                              const std::string& lower) {
  std::string dir = ContainerDir(c.id);
  ContainerView v;
  v.id = c.id;
  v.created = c.created;
  v.path = c.path;
  v.args = c.args;
  v.state = StateLocked(c);
  v.image_id = c.image_id;
  v.resolv_conf_path = dir + "/resolv.conf";
  v.hostname_path = dir + "/hostname";
  v.hosts_path = dir + "/hosts";
  // dockerd shows LogPath for json-file only: local's files are not an API.
  if (c.host_config.log_config.type == "json-file") v.log_path = LogFilePath(dir, c.id, "json-file");
  v.name = "/" + c.name;
  v.restart_count = c.restart_count;
  v.exec_ids = c.exec_ids;
  v.host_config = c.host_config;
  // Docker shows the link graph here, not the request ("/child:/parent/alias"; null for none).
  std::vector<std::string> links = LinksLocked(c);
  if (links.empty()) v.host_config.links.reset();
  else v.host_config.links = links;
  v.graph_driver = {lower, StateDir(c.id) + "/rootfs", dir + "/fs/upper", dir + "/fs/work"};
  v.config = c.config;
  v.network_settings = std::move(ns);
  return v;
}

StatusOr<ContainerView> ContainerManager::Inspect(const std::string& name, bool size) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  std::string image_id;
  {
    StateLock l(mu_);
    image_id = c->image_id;
  }
  // The network's settings and the image's layers come from their owners, with no lock of ours.
  spec::NetworkSettings ns = network_.Settings(c->id).value_or(spec::NetworkSettings());
  auto image = images_.Get(image_id);
  std::string lower;
  if (image.ok())
    for (auto& d : images_.LowerDirs(*image)) lower += (lower.empty() ? "" : ":") + d;
  ContainerView v;
  {
    StateLock l(mu_);
    v = InspectLocked(*c, std::move(ns), lower);
  }
  v.mounts = volumes_->MountPoints(c->id);
  if (size) {
    int64_t rw = sys::DiskUsage(ContainerDir(c->id) + "/fs/upper");
    v.size_rw = rw;
    v.size_root_fs = rw + (image.ok() ? image->size : 0);
  }
  return v;
}

ContainerSummary ContainerManager::SummaryLocked(const Container& c, const spec::NetworkSettings& ns) {
  ContainerSummary s;
  s.id = c.id;
  s.names = {"/" + c.name};
  s.image = c.config.image;
  s.image_id = c.image_id;
  s.command = c.path;
  for (auto& a : c.args) s.command += " " + a;
  s.created = c.created / 1000000000;
  for (auto& [port, binds] : ns.ports) {
    auto slash = port.find('/');
    int priv = std::atoi(port.substr(0, slash).c_str());
    std::string proto = slash == std::string::npos ? "tcp" : port.substr(slash + 1);
    if (!binds || binds->empty()) {
      s.ports.push_back({"", priv, 0, proto});
      continue;
    }
    for (auto& b : *binds) s.ports.push_back({b.host_ip, priv, std::atoi(b.host_port.c_str()), proto});
  }
  s.labels = spec::OrEmpty(c.config.labels);
  s.state = c.state();
  s.status = StatusText(c, UnixNanos(clock_.Now()));
  s.network_mode = c.host_config.network_mode;
  s.networks = ns.networks;
  return s;
}

namespace {

// "80", "80/udp", "8000-8080/tcp" -> the ports they name, as nat.ParsePortRange does.
Status ExpandPorts(const std::string& value, std::set<std::string>* out) {
  std::string proto = "tcp", range = value;
  if (auto slash = value.find('/'); slash != std::string::npos) {
    proto = value.substr(slash + 1);
    range = value.substr(0, slash);
  }
  int lo = 0, hi = 0;
  auto dash = range.find('-');
  if (!absl::SimpleAtoi(range.substr(0, dash), &lo) ||
      (dash != std::string::npos && !absl::SimpleAtoi(range.substr(dash + 1), &hi)))
    return absl::InvalidArgumentError("invalid port specification: \"" + value + "\"");
  if (dash == std::string::npos) hi = lo;
  if (lo < 0 || hi > 65535 || lo > hi)
    return absl::InvalidArgumentError("invalid port specification: \"" + value + "\"");
  if (hi - lo > 65535) hi = lo + 65535;
  for (int p = lo; p <= hi; ++p) out->insert(std::to_string(p) + "/" + proto);
  return absl::OkStatus();
}

bool ValidStatus(const std::string& s) {
  return s == "created" || s == "restarting" || s == "running" || s == "removing" || s == "paused" ||
         s == "exited" || s == "dead";
}

}  // namespace

StatusOr<std::vector<ContainerSummary>> ContainerManager::List(bool all, const spec::Filters& f,
                                                               int limit, bool size) {
  // Every filter Docker 1.41 accepts for containers works; others are refused.
  RETURN_IF_ERROR(f.Validate({"ancestor", "before", "expose", "exited", "health", "id", "isolation",
                              "is-task", "label", "name", "network", "publish", "since", "status",
                              "volume"}));
  RETURN_IF_ERROR(f.WalkValues("status", [](const std::string& s) {
    return ValidStatus(s) ? absl::OkStatus() : spec::InvalidFilter("status", s);
  }));
  std::vector<int> exited;
  RETURN_IF_ERROR(f.WalkValues("exited", [&](const std::string& s) {
    int code;
    if (!absl::SimpleAtoi(s, &code)) return spec::InvalidFilter("exited", s);
    exited.push_back(code);
    return absl::OkStatus();
  }));
  RETURN_IF_ERROR(f.WalkValues("health", [](const std::string& s) {
    if (s == "starting" || s == "healthy" || s == "unhealthy" || s == "none") return absl::OkStatus();
    return absl::InvalidArgumentError("Unrecognised filter value for health: " + s);
  }));
  RETURN_IF_ERROR(f.WalkValues("isolation", [](const std::string& s) {
    if (s == "default" || s == "process" || s == "hyperv") return absl::OkStatus();
    return absl::InvalidArgumentError("Invalid isolation: '" + s + "'");
  }));
  std::optional<bool> is_task;
  if (f.Contains("is-task")) {
    if (f.ExactMatch("is-task", "true")) is_task = true;
    else if (f.ExactMatch("is-task", "false")) is_task = false;
    else return spec::InvalidFilter("is-task", absl::StrJoin(f.Get("is-task"), ","));
  }
  std::set<std::string> publish, expose;
  RETURN_IF_ERROR(f.WalkValues("publish", [&](const std::string& s) { return ExpandPorts(s, &publish); }));
  RETURN_IF_ERROR(f.WalkValues("expose", [&](const std::string& s) { return ExpandPorts(s, &expose); }));
  // before/since name a container; their creation time bounds the list (Docker: 404 if unknown).
  int64_t before = 0, since = 0;
  for (auto [key, out] : {std::pair{"before", &before}, std::pair{"since", &since}}) {
    for (const std::string& v : f.Get(key)) {
      ASSIGN_OR_RETURN(auto other, Find(v));
      StateLock l(mu_);
      *out = other->created;
    }
  }
  if (f.Contains("status") || f.Contains("exited") || since > 0 || before > 0) all = true;

  // Candidates and their network settings first (from the controller, with no lock of ours),
  // then the filters and summaries under the lock.
  std::vector<std::shared_ptr<Container>> cands;
  {
    StateLock l(mu_);
    for (auto& [id, c] : containers_)
      if (!c->creating && (all || c->running())) cands.push_back(c);
  }
  std::map<std::string, spec::NetworkSettings> settings;
  for (auto& c : cands) settings[c->id] = network_.Settings(c->id).value_or(spec::NetworkSettings());
  std::map<std::string, std::vector<spec::MountPoint>> mount_points;
  for (auto& c : cands) mount_points[c->id] = volumes_->MountPoints(c->id);
  std::set<std::string> ancestors;  // image ids the ancestor filter names
  for (const std::string& v : f.Get("ancestor"))
    if (auto img = images_.Get(v); img.ok()) ancestors.insert(img->id);

  const std::vector<std::string> networks_asked = f.Get("network");
  std::vector<ContainerSummary> out;
  {
    StateLock l(mu_);
    std::sort(cands.begin(), cands.end(), [](auto& a, auto& b) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return a->created > b->created;
    });
    for (auto& cp : cands) {
      const Container& c = *cp;
      if (c.removed) continue;
      const spec::NetworkSettings& ns = settings[c.id];
      if (!f.Match("name", c.name) || !f.Match("id", c.id)) continue;
      if (!f.ExactMatch("status", c.state())) continue;
      if (!exited.empty() && (c.status != "exited" ||
                              std::find(exited.begin(), exited.end(), c.exit_code) == exited.end()))
        continue;
      if (f.Contains("ancestor")) {
        bool match = ancestors.count(c.image_id) > 0;
        for (const std::string& v : f.Get("ancestor")) match |= c.config.image == v;
        if (!match) continue;
      }
      if (!f.MatchKVList("label", c.config.labels)) continue;
      if (f.Contains("network")) {
        bool match = false;
        for (auto& [nname, ep] : ns.networks) {
          match |= f.ExactMatch("network", nname) || f.ExactMatch("network", ep.network_id);
          for (const std::string& v : networks_asked)
            match |= v.size() >= 12 && absl::StartsWith(ep.network_id, v);
        }
        if (!match) continue;
      }
      if (before > 0 && c.created >= before) continue;
      if (since > 0 && c.created <= since) continue;
      if (f.Contains("volume")) {
        bool match = false;
        // Docker: a volume's name (a bind's source) or the destination.
        for (auto& m : mount_points[c.id])
          match |= f.ExactMatch("volume", m.name.empty() ? m.source : m.name) ||
                   f.ExactMatch("volume", m.destination);
        if (!match) continue;
      }
      if (!f.ExactMatch("health", c.health.status.empty() ? "none" : c.health.status)) continue;
      if (f.Contains("isolation")) {
        std::string iso = c.host_config.isolation.empty() ? "default" : c.host_config.isolation;
        if (!f.ExactMatch("isolation", iso)) continue;
      }
      if (is_task) {
        bool task = spec::OrEmpty(c.config.labels).count("com.docker.swarm.task.id") > 0;
        if (task != *is_task) continue;
      }
      if (!publish.empty()) {
        bool match = false;
        for (auto& [port, binds] : ns.ports) match |= binds && !binds->empty() && publish.count(port);
        if (!match) continue;
      }
      if (!expose.empty()) {
        bool match = false;
        for (auto& port : c.config.exposed_ports) match |= expose.count(port) > 0;
        for (auto& [port, binds] : spec::OrEmpty(c.host_config.port_bindings)) match |= expose.count(port) > 0;
        if (!match) continue;
      }
      out.push_back(SummaryLocked(c, ns));
      out.back().mounts = mount_points[c.id];
      if (limit > 0 && static_cast<int>(out.size()) >= limit) break;
    }
  }
  if (size)
    for (auto& s : out) s.size_rw = sys::DiskUsage(ContainerDir(s.id) + "/fs/upper");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Top, stats, prune

namespace {

// The host's cgroup layout, read once.
const StatusOr<sys::CgroupLayout>& HostCgroups() {
  static const StatusOr<sys::CgroupLayout> layout = sys::CgroupLayout::Detect();
  return layout;
}

// A running container's cgroup: by runc's cgroupsPath or, under a relative CgroupParent (below
// the runtime's own cgroup, which each v1 hierarchy may place elsewhere), by its init process.
StatusOr<sys::Cgroup> ContainerCgroup(const std::string& cgroups_path, pid_t pid) {
  if (!HostCgroups().ok()) return HostCgroups().status();
  if (absl::StartsWith(cgroups_path, "/")) {
    auto cg = sys::Cgroup::ForRuncPath(*HostCgroups(), cgroups_path);
    // Not there: started by an older berthd that put every container under /berth.
    if (cg.ok() || pid <= 0) return cg;
  }
  return sys::Cgroup::ForPid(*HostCgroups(), pid);
}

}  // namespace

StatusOr<TopResult> ContainerManager::Top(const std::string& name, const std::string& ps_args) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  std::string cgroups_path;
  pid_t pid = 0;
  {
    StateLock l(mu_);
    if (c->status != "running")
      return absl::FailedPreconditionError("Container " + c->id + " is not running");
    cgroups_path = ContainerCgroupsPath(c->host_config.resources, c->id);
    pid = c->pid;
  }
  if (!HostCgroups().ok()) return Annotate(HostCgroups().status(), "top");
  ASSIGN_OR_RETURN(sys::Cgroup cg, ContainerCgroup(cgroups_path, pid));
  ASSIGN_OR_RETURN(std::vector<pid_t> members, cg.Pids());
  std::set<std::string> pids;
  for (pid_t p : members) pids.insert(std::to_string(p));
  std::vector<std::string> argv = {"ps"};
  for (absl::string_view a : absl::StrSplit(ps_args.empty() ? "-ef" : ps_args, ' ', absl::SkipEmpty()))
    argv.emplace_back(a);
  ASSIGN_OR_RETURN(auto res, sys::Run(argv));
  if (res.exit_code != 0) return absl::InternalError("Error running ps: " + res.err);
  std::vector<std::string> lines = absl::StrSplit(res.out, '\n', absl::SkipEmpty());
  if (lines.empty()) return absl::InternalError("ps printed nothing");
  TopResult top;
  top.titles = absl::StrSplit(lines[0], ' ', absl::SkipEmpty());
  int pid_col = -1;
  for (size_t i = 0; i < top.titles.size(); ++i)
    if (top.titles[i] == "PID") pid_col = static_cast<int>(i);
  if (pid_col < 0) return absl::InvalidArgumentError("Couldn't find PID field in ps output");
  for (size_t l = 1; l < lines.size(); ++l) {
    std::vector<std::string> f = absl::StrSplit(lines[l], ' ', absl::SkipEmpty());
    if (static_cast<int>(f.size()) <= pid_col || !pids.count(f[pid_col])) continue;
    // The last column (the command) may contain spaces: join the rest.
    std::vector<std::string> row(f.begin(), f.begin() + std::min(f.size(), top.titles.size() - 1));
    std::string rest;
    for (size_t i = top.titles.size() - 1; i < f.size(); ++i) rest += (rest.empty() ? "" : " ") + f[i];
    row.push_back(rest);
    top.processes.push_back(row);
  }
  return top;
}

StatusOr<ContainerStats> ContainerManager::Stats(const std::string& name) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  ContainerStats s;
  int pid;
  std::string cgroups_path;
  {
    StateLock l(mu_);
    pid = c->pid;
    cgroups_path = ContainerCgroupsPath(c->host_config.resources, c->id);
    s.running = c->status == "running";
    s.id = c->id;
    s.name = "/" + c->name;
  }
  s.read = UnixNanos(clock_.Now());
  s.online_cpus = static_cast<uint32_t>(::sysconf(_SC_NPROCESSORS_ONLN));
  s.host_memory = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
  if (auto stat = sys::ReadFile("/proc/stat"); stat.ok()) {
    std::vector<std::string> f = absl::StrSplit(stat->substr(0, stat->find('\n')), ' ', absl::SkipEmpty());
    uint64_t ticks = 0;
    for (size_t i = 1; i < f.size() && i < 8; ++i) {
      uint64_t v;
      if (absl::SimpleAtoi(f[i], &v)) ticks += v;
    }
    s.system_cpu_usage = ticks * (1000000000 / ::sysconf(_SC_CLK_TCK));
  }
  if (!s.running) return s;
  if (HostCgroups().ok()) {
    auto cg = ContainerCgroup(cgroups_path, pid);
    if (cg.ok()) {
      auto st = cg->ReadStats();
      if (st.ok()) s.cgroup = std::move(*st);
    }
  }
  if (pid > 0) {
    if (auto dev = sys::ReadFile("/proc/" + std::to_string(pid) + "/net/dev"); dev.ok()) {
      for (absl::string_view line : absl::StrSplit(*dev, '\n')) {
        auto colon = line.find(':');
        if (colon == absl::string_view::npos) continue;
        std::string ifname(absl::StripAsciiWhitespace(line.substr(0, colon)));
        if (ifname == "lo") continue;
        std::vector<std::string> f = absl::StrSplit(line.substr(colon + 1), ' ', absl::SkipEmpty());
        if (f.size() < 16) continue;
        auto n = [&](int i) {
          uint64_t v = 0;
          (void)absl::SimpleAtoi(f[i], &v);
          return v;
        };
        s.networks[ifname] = {n(0), n(1), n(2), n(3), n(8), n(9), n(10), n(11)};
      }
    }
  }
  return s;
}

StatusOr<PruneReport> ContainerManager::Prune(const spec::Filters& f) {
  ASSIGN_OR_RETURN(spec::PruneFilter pf, spec::ParsePruneFilter(f, UnixNanos(clock_.Now())));
  std::vector<std::string> victims;
  {
    StateLock l(mu_);
    for (auto& [id, c] : containers_) {
      if (c->creating || !(c->status == "exited" || c->status == "created" || c->status == "dead")) continue;
      if (pf.Matches(c->created, c->config.labels)) victims.push_back(id);
    }
  }
  PruneReport report;
  for (auto& id : victims) {
    int64_t size = sys::DiskUsage(ContainerDir(id) + "/fs/upper");
    if (Remove(id, false).ok()) {
      report.deleted.push_back(id);
      report.reclaimed += size;
    }
  }
  return report;
}

}  // namespace berth::engine
