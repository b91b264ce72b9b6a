// ContainerManager's lifecycle: create, start, exits and restart policies, stop, kill, wait,
// remove, rename, recovery (containers.h). Attach, logs and exec are in container_exec.cc; inspect,
// list, top, stats and prune in container_views.cc.

#include "engine/containers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"
#include "engine/container_state.h"
#include "engine/container_util.h"
#include "spdlog/spdlog.h"
#include "sys/fs.h"
#include "sys/mounts.h"
#include "sys/subprocess.h"

namespace berth::engine {

using nlohmann::json;

json Container::ToDoc() const {
  return {{"id", id},           {"name", name},
          {"image_id", image_id}, {"config", config},
          {"host_config", host_config}, {"networking", networking},
          {"network_settings", network_settings},
          {"path", path},       {"args", args},
          {"created", created}, {"status", status},
          {"pid", pid},         {"exit_code", exit_code},
          {"error", error},     {"started_at", started_at},
          {"finished_at", finished_at}, {"restart_count", restart_count},
          {"manually_stopped", manually_stopped}};
}

std::shared_ptr<Container> Container::FromDoc(const json& d) {
  auto c = std::make_shared<Container>();
  c->id = d.value("id", "");
  c->name = d.value("name", "");
  c->image_id = d.value("image_id", "");
  c->config = d.value("config", json::object());
  c->host_config = d.value("host_config", json::object());
  c->networking = d.value("networking", json::object());
  c->network_settings = d.value("network_settings", json::object());
  c->path = d.value("path", "");
  c->args = d.value("args", json::array());
  c->created = d.value("created", int64_t{0});
  c->status = d.value("status", "created");
  c->pid = d.value("pid", 0);
  c->exit_code = d.value("exit_code", 0);
  c->error = d.value("error", "");
  c->started_at = d.value("started_at", int64_t{0});
  c->finished_at = d.value("finished_at", int64_t{0});
  c->restart_count = d.value("restart_count", 0);
  c->manually_stopped = d.value("manually_stopped", false);
  return c;
}


namespace {

std::string RandomName() {
  static const char* kLeft[] = {"admiring", "brave",   "clever",  "dazzling", "eager",
                                "focused",  "gallant", "happy",   "inspiring", "jolly",
                                "keen",     "lucid",   "modest",  "nifty",    "optimistic",
                                "peaceful", "quirky",  "relaxed", "serene",   "tender",
                                "upbeat",   "vibrant", "wizardly", "youthful", "zealous"};
  static const char* kRight[] = {"babbage", "curie",   "dijkstra", "einstein", "feynman",
                                 "galileo", "hopper",  "jepsen",   "knuth",    "lamport",
                                 "lovelace", "mccarthy", "noether", "pike",    "ritchie",
                                 "shannon", "thompson", "turing",  "wozniak",  "yonath"};
  std::random_device rd;
  return std::string(kLeft[rd() % std::size(kLeft)]) + "_" + kRight[rd() % std::size(kRight)];
}

}  // namespace

StatusOr<NetworkAttacher::Sandbox> NetworkAttacher::Setup(const std::string& id,
                                                          const std::string& name,
                                                          const json& config,
                                                          const json& host_config,
                                                          const json& networking) {
  Sandbox sb;
  std::string mode = host_config.value("NetworkMode", "default");
  if (mode == "host") sb.netns_path = "host";
  auto resolv = sys::ReadFile("/etc/resolv.conf");
  sb.resolv_conf = resolv.ok() ? *resolv : "";
  return sb;
}

ContainerManager::ContainerManager(Store& store, ImageStore& images, EventBus& events,
                                   const ShimClient& shim, const Clock& clock, EnginePaths paths,
                                   NetworkAttacher& network)
    : store_(store),
      images_(images),
      events_(events),
      shim_(shim),
      clock_(clock),
      paths_(std::move(paths)),
      network_(network) {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  BERTH_CHECK(epoll_.valid() && wake_.valid());
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.fd = wake_.get();
  BERTH_CHECK(::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) == 0);
  monitor_ = std::thread([this] { MonitorLoop(); });
}

ContainerManager::~ContainerManager() { Shutdown(); }

void ContainerManager::Shutdown() {
  {
    StateLock l(mu_);
    shutting_down_ = true;
  }
  cv_.SignalAll();
  work_.Shutdown();
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  if (monitor_.joinable()) monitor_.join();
}

// The short id keeps unix socket paths under the state dir (shim.sock, exec consoles) within
// sun_path's 108 bytes; Create() makes sure no two containers share a short id.
std::string ContainerManager::StateDir(const std::string& id) const {
  return paths_.exec_root + "/c/" + id.substr(0, 12);
}
std::string ContainerManager::ContainerDir(const std::string& id) const {
  return paths_.data_root + "/containers/" + id;
}

Status ContainerManager::Save(const std::shared_ptr<Container>& c) {
  json doc;
  uint64_t version;
  std::string id, name;
  {
    StateLock l(mu_);
    doc = c->ToDoc();
    version = ++c->doc_version;
    id = c->id;
    name = c->name;
  }
  absl::MutexLock pl(&c->persist_mu);
  if (version <= c->written_version) return absl::OkStatus();  // a newer snapshot is stored
  RETURN_IF_ERROR(store_.Put("container", id, name, doc));
  c->written_version = version;
  return absl::OkStatus();
}

ContainerEvent ContainerManager::EventLocked(const Container& c, const std::string& action,
                                             std::map<std::string, std::string> extra) {
  extra["name"] = c.name;
  extra["image"] = c.config.value("Image", "");
  if (c.config.contains("Labels") && c.config["Labels"].is_object())
    for (auto& [k, v] : c.config["Labels"].items())
      if (v.is_string()) extra.emplace(k, v.get<std::string>());
  return ContainerEvent{action, c.id, std::move(extra)};
}

void ContainerManager::Emit(ContainerEvent e) {
  events_.Publish("container", e.action, e.id, std::move(e.attributes));
}

std::shared_ptr<Container> ContainerManager::FindLocked(const std::string& name_in, Status* st) {
  std::string name = name_in;
  if (absl::StartsWith(name, "/")) name = name.substr(1);
  if (name.empty()) {
    *st = absl::NotFoundError("No such container: " + name_in);
    return nullptr;
  }
  auto visible = [](const std::shared_ptr<Container>& c) { return !c->creating; };
  auto it = containers_.find(name);
  if (it != containers_.end() && visible(it->second)) return it->second;
  for (auto& [id, c] : containers_)
    if (c->name == name && visible(c)) return c;
  std::shared_ptr<Container> found;
  int matches = 0;
  if (IsHexPrefix(name)) {
    for (auto it2 = containers_.lower_bound(name);
         it2 != containers_.end() && absl::StartsWith(it2->first, name); ++it2) {
      if (!visible(it2->second)) continue;
      found = it2->second;
      ++matches;
    }
  }
  if (matches == 1) return found;
  if (matches > 1)
    *st = absl::InvalidArgumentError("multiple IDs found with provided prefix: " + name);
  else
    *st = absl::NotFoundError("No such container: " + name_in);
  return nullptr;
}

StatusOr<std::shared_ptr<Container>> ContainerManager::Find(const std::string& name) {
  StateLock l(mu_);
  Status st;
  auto c = FindLocked(name, &st);
  if (!c) return st;
  return c;
}

StatusOr<std::string> ContainerManager::Resolve(const std::string& name) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  return c->id;
}

bool ContainerManager::Running(const std::string& id) {
  StateLock l(mu_);
  auto it = containers_.find(id);
  return it != containers_.end() && it->second->running();
}

std::optional<std::string> ContainerManager::ImageUser(const std::string& image_id) {
  StateLock l(mu_);
  for (auto& [id, c] : containers_)
    if (c->image_id == image_id) return id;
  return std::nullopt;
}

Status ContainerManager::Signal(const Container& c, int sig) {
  std::string reply;
  auto conn = shim_.Command(StateDir(c.id), "KILL " + std::to_string(sig), &reply);
  if (!conn.ok()) {
    // No shim answers: the container is gone already (its exit is on its way to the monitor).
    if (absl::IsNotFound(conn.status()) || absl::IsUnavailable(conn.status())) return absl::OkStatus();
    return Annotate(conn.status(), "signal container " + c.id);
  }
  if (reply == "OK" || reply == "ERR container has exited") return absl::OkStatus();
  return absl::InternalError("signal container " + c.id + ": shim: " + reply);
}

bool ContainerManager::AwaitExit(const std::shared_ptr<Container>& c, uint64_t exits_before,
                                 Duration timeout) {
  StateLock l(mu_);
  return WaitFor(clock_, mu_, cv_, timeout, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return c->exits != exits_before || c->removed || shutting_down_;
  });
}

// ---------------------------------------------------------------------------------------------
// Create

StatusOr<std::pair<std::string, std::vector<std::string>>> ContainerManager::Create(
    const std::string& name_in, const json& body) {
  if (!body.is_object()) return absl::InvalidArgumentError("invalid JSON: body must be an object");
  json config = body;
  json hc = body.value("HostConfig", json::object());
  json net = body.value("NetworkingConfig", json::object());
  if (!hc.is_object()) hc = json::object();
  config.erase("HostConfig");
  config.erase("NetworkingConfig");
  std::vector<std::string> warnings;

  std::string name = name_in;
  if (absl::StartsWith(name, "/")) name = name.substr(1);
  if (!name.empty() && !ValidName(name))
    return absl::InvalidArgumentError("Invalid container name (" + name_in +
                                      "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  std::string image_ref = config.value("Image", "");
  if (image_ref.empty()) return absl::InvalidArgumentError("No image specified: Config.Image is empty");
  auto image = images_.Get(image_ref);
  if (!image.ok()) return image.status();

  // Validate HostConfig (Docker's messages).
  json rp = hc.value("RestartPolicy", json::object());
  std::string rp_name = rp.is_object() ? rp.value("Name", "") : "";
  if (rp_name.empty()) rp_name = "no";
  if (rp_name != "no" && rp_name != "always" && rp_name != "on-failure" && rp_name != "unless-stopped")
    return absl::InvalidArgumentError("invalid restart policy '" + rp_name + "'");
  int max_retry = rp.is_object() ? rp.value("MaximumRetryCount", 0) : 0;
  if (max_retry < 0) return absl::InvalidArgumentError("maximum retry count cannot be negative");
  if (max_retry > 0 && rp_name != "on-failure")
    return absl::InvalidArgumentError("maximum retry count cannot be used with restart policy '" +
                                      rp_name + "'");
  if (hc.value("AutoRemove", false) && rp_name != "no")
    return absl::InvalidArgumentError(
        "can't create 'AutoRemove' container with restart policy");
  hc["RestartPolicy"] = {{"Name", rp_name}, {"MaximumRetryCount", max_retry}};
  int64_t memory = hc.value("Memory", int64_t{0});
  if (memory != 0 && memory < 6 * 1024 * 1024)
    return absl::InvalidArgumentError("Minimum memory limit allowed is 6MB");
  int64_t nano = hc.value("NanoCpus", int64_t{0});
  long ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (nano < 0 || nano > ncpu * 1000000000LL)
    return absl::InvalidArgumentError(absl::StrFormat(
        "Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu));
  if (hc.contains("Binds") && hc["Binds"].is_array()) {
    for (auto& b : hc["Binds"]) {
      if (!b.is_string()) return absl::InvalidArgumentError("invalid bind mount");
      std::string spec = b.get<std::string>();
      std::vector<std::string> parts = absl::StrSplit(spec, ':');
      if (parts.size() < 2 || parts.size() > 3 || parts[1].empty() || parts[1][0] != '/')
        return absl::InvalidArgumentError("invalid volume specification: '" + spec + "'");
      if (parts[0].empty() || parts[0][0] != '/')
        return absl::InvalidArgumentError(
            "invalid volume specification: '" + spec +
            "': named volumes are not supported by Berth yet; bind-mount an absolute host path");
      if (parts.size() == 3) {
        for (absl::string_view o : absl::StrSplit(parts[2], ','))
          if (o != "ro" && o != "rw" && o != "z" && o != "Z" && o != "rprivate" && o != "private" &&
              o != "rslave" && o != "rshared" && o != "nocopy")
            return absl::InvalidArgumentError("invalid mode: " + std::string(o));
      }
    }
  }
  std::string netmode = hc.value("NetworkMode", "");
  if (netmode.empty()) netmode = "default";
  hc["NetworkMode"] = netmode;
  // API 1.41 clients send --mac-address as Config.MacAddress: it belongs to the first network.
  if (std::string mac = config.value("MacAddress", ""); !mac.empty()) {
    if (!net.is_object()) net = json::object();
    json& eps = net["EndpointsConfig"];
    if (!eps.is_object()) eps = json::object();
    std::string key = netmode == "default" && eps.contains("bridge") ? "bridge" : netmode;
    if (!eps[key].is_object()) eps[key] = json::object();
    if (eps[key].value("MacAddress", "").empty()) eps[key]["MacAddress"] = mac;
  }
  RETURN_IF_ERROR(network_.Validate(hc, net));

  // Merge the image's defaults, as the daemon does.
  const json img_cfg = image->config.value("config", json::object());
  bool has_entrypoint = config.contains("Entrypoint") && config["Entrypoint"].is_array();
  json cmd = config.value("Cmd", json(nullptr));
  if (!has_entrypoint) {
    config["Entrypoint"] = img_cfg.value("Entrypoint", json(nullptr));
    if (!cmd.is_array() || cmd.empty()) cmd = img_cfg.value("Cmd", json(nullptr));
  } else if (config["Entrypoint"].size() == 1 && config["Entrypoint"][0] == "") {
    config["Entrypoint"] = nullptr;  // --entrypoint "" resets the image's
  }
  config["Cmd"] = cmd.is_array() ? cmd : json(nullptr);
  std::vector<std::string> argv = ToStrings(config["Entrypoint"]);
  for (auto& s : ToStrings(config["Cmd"])) argv.push_back(s);
  if (argv.empty()) return absl::InvalidArgumentError("No command specified");

  std::vector<std::string> env = ToStrings(img_cfg.value("Env", json(nullptr)));
  for (auto& e : ToStrings(config.value("Env", json(nullptr)))) {
    std::string key = e.substr(0, e.find('='));
    env.erase(std::remove_if(env.begin(), env.end(),
                             [&](const std::string& x) {
                               return x.substr(0, x.find('=')) == key;
                             }),
              env.end());
    env.push_back(e);
  }
  config["Env"] = env.empty() ? json(nullptr) : json(env);
  if (config.value("WorkingDir", "").empty()) config["WorkingDir"] = img_cfg.value("WorkingDir", "");
  if (config.value("User", "").empty()) config["User"] = img_cfg.value("User", "");
  json labels = img_cfg.value("Labels", json::object());
  if (!labels.is_object()) labels = json::object();
  if (config.contains("Labels") && config["Labels"].is_object()) labels.update(config["Labels"]);
  config["Labels"] = labels;
  if (img_cfg.contains("ExposedPorts") && img_cfg["ExposedPorts"].is_object()) {
    json ports = img_cfg["ExposedPorts"];
    if (config.contains("ExposedPorts") && config["ExposedPorts"].is_object())
      ports.update(config["ExposedPorts"]);
    config["ExposedPorts"] = ports;
  }
  if (config.value("StopSignal", "").empty() && img_cfg.contains("StopSignal"))
    config["StopSignal"] = img_cfg["StopSignal"];
  if (config.contains("Volumes") && config["Volumes"].is_object() && config["Volumes"].empty())
    config["Volumes"] = nullptr;
  config["Image"] = image_ref;

  // Defaults that inspect shows.
  hc["LogConfig"] = {{"Type", "json-file"}, {"Config", json::object()}};
  if (hc.value("ShmSize", int64_t{0}) <= 0) hc["ShmSize"] = 67108864;
  if (hc.value("IpcMode", "").empty()) hc["IpcMode"] = "private";
  if (hc.value("CgroupnsMode", "").empty()) hc["CgroupnsMode"] = "host";
  hc["Runtime"] = "runc";
  if (!hc.value("Privileged", false)) {
    if (!hc.contains("MaskedPaths") || !hc["MaskedPaths"].is_array())
      hc["MaskedPaths"] = {"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
                           "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                           "/proc/sched_debug", "/proc/scsi", "/sys/firmware"};
    if (!hc.contains("ReadonlyPaths") || !hc["ReadonlyPaths"].is_array())
      hc["ReadonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                             "/proc/sysrq-trigger"};
  }
  if (!hc.contains("PortBindings") || !hc["PortBindings"].is_object())
    hc["PortBindings"] = json::object();


  auto c = std::make_shared<Container>();
  c->image_id = image->id;
  c->networking = net.is_object() ? net : json::object();
  c->path = argv[0];
  c->args = json(std::vector<std::string>(argv.begin() + 1, argv.end()));
  c->created = UnixNanos(clock_.Now());
  c->host_config = hc;
  c->creating = true;
  {
    // The id and the name are taken under the lock: the container is in the table from here on,
    // invisible until its files and records exist.
    StateLock l(mu_);
    auto taken = [&](const std::string& id) ABSL_NO_THREAD_SAFETY_ANALYSIS {
      auto it = containers_.lower_bound(id.substr(0, 12));
      return it != containers_.end() && it->first.compare(0, 12, id, 0, 12) == 0;
    };
    do c->id = NewId(); while (taken(c->id));
    if (name.empty()) {
      for (int i = 0; i < 100 && name.empty(); ++i) {
        std::string n = RandomName();
        bool used = false;
        for (auto& [id, o] : containers_) used |= o->name == n;
        if (!used) name = n;
      }
    }
    for (auto& [id, o] : containers_)
      if (o->name == name)
        return absl::AlreadyExistsError("Conflict. The container name \"/" + name +
                                        "\" is already in use by container \"" + id +
                                        "\". You have to remove (or rename) that container to be "
                                        "able to reuse that name.");
    c->name = name;
    if (config.value("Hostname", "").empty()) config["Hostname"] = c->id.substr(0, 12);
    c->config = config;
    containers_[c->id] = c;
  }

  // Files first, row last: a crash in between leaves a directory that Recover() removes. A
  // failure removes everything made, and the name is free again.
  std::string dir = ContainerDir(c->id);
  bool attached = false;
  Status st = sys::MkdirAll(dir + "/fs/upper", 0755);
  if (st.ok()) st = sys::MkdirAll(dir + "/fs/work", 0700);
  if (st.ok()) st = sys::WriteFile(dir + "/hostname", config["Hostname"].get<std::string>() + "\n");
  if (st.ok()) st = sys::WriteFile(dir + "/hosts", kHosts);
  if (st.ok()) {
    auto resolv = sys::ReadFile("/etc/resolv.conf");
    st = sys::WriteFile(dir + "/resolv.conf", resolv.ok() ? *resolv : "");
  }
  if (st.ok()) {
    st = network_.Attach(c->id, c->name, hc, c->networking);
    attached = st.ok();
  }
  if (st.ok()) st = Save(c);
  if (!st.ok()) {
    if (attached) network_.Detach(c->id);
    (void)sys::RemoveAll(dir);
    StateLock l(mu_);
    containers_.erase(c->id);
    return Annotate(st, "create container");
  }
  ContainerEvent ev;
  {
    StateLock l(mu_);
    c->creating = false;
    ev = EventLocked(*c, "create");
  }
  Emit(std::move(ev));
  return std::make_pair(c->id, warnings);
}

// ---------------------------------------------------------------------------------------------
// Start

StatusOr<bool> ContainerManager::Start(const std::string& name) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  absl::MutexLock op(&c->op_mu);
  bool auto_remove;
  {
    StateLock l(mu_);
    if (c->removed) return absl::NotFoundError("No such container: " + name);
    if (c->status == "running") return false;
    c->manually_stopped = false;
    auto_remove = c->host_config.value("AutoRemove", false);
  }
  Status st = StartLocked(c);
  if (!st.ok()) {
    // As dockerd: a --rm container whose start fails is removed (the CLI waits for that).
    if (auto_remove) (void)RemoveLocked(c);
    return st;
  }
  return true;
}

void ContainerManager::ReleaseRootfs(const Container& c) {
  (void)sys::Unmount(StateDir(c.id) + "/rootfs");
}

Status ContainerManager::StartLocked(const std::shared_ptr<Container>& c) {
  json hc, config, net, args;
  std::string image_id, path, name;
  {
    StateLock l(mu_);
    hc = c->host_config;
    config = c->config;
    net = c->networking;
    image_id = c->image_id;
    path = c->path;
    args = c->args;
    name = c->name;
  }
  auto fail = [&](Status st, int exit_code) -> Status {
    ReleaseRootfs(*c);
    network_.Teardown(c->id);
    std::vector<std::shared_ptr<Container::Pending>> pending;
    {
      StateLock l(mu_);
      c->error = std::string(st.message());
      c->exit_code = exit_code;
      c->mounted = false;
      pending.swap(c->pending_attaches);
    }
    (void)Save(c);
    for (auto& p : pending) p->ready.set_value(st);
    return st;
  };

  auto image = images_.Get(image_id);
  if (!image.ok()) return fail(Annotate(image.status(), "start"), 128);
  std::string state = StateDir(c->id);
  std::string dir = ContainerDir(c->id);
  std::string rootfs = state + "/rootfs";
  RETURN_IF_ERROR(sys::MkdirAll(rootfs, 0755));
  (void)sys::RemoveAll(state + "/exit");
  if (!sys::IsMountPoint(rootfs)) {
    Status st = sys::MountOverlay(images_.LowerDirs(*image), dir + "/fs/upper", dir + "/fs/work",
                                  rootfs);
    if (!st.ok()) return fail(st, 128);
  }

  // Bind-mount sources that do not exist are created, as docker does for -v.
  if (hc.contains("Binds") && hc["Binds"].is_array())
    for (auto& b : hc["Binds"]) {
      std::string src = b.get<std::string>().substr(0, b.get<std::string>().find(':'));
      if (!sys::Exists(src)) (void)sys::MkdirAll(src, 0755);
    }

  auto sandbox = network_.Setup(c->id, name, config, hc, net);
  if (!sandbox.ok()) return fail(sandbox.status(), 128);
  std::string hostname = config.value("Hostname", "");
  if (Status st = sys::WriteFile(dir + "/hosts", std::string(kHosts) + sandbox->hosts_extra); !st.ok())
    return fail(st, 128);
  if (!sandbox->resolv_conf.empty())
    if (Status st = sys::WriteFile(dir + "/resolv.conf", sandbox->resolv_conf); !st.ok()) return fail(st, 128);

  OciInputs in;
  in.id = c->id;
  in.hostname = hostname;
  in.args.push_back(path);
  for (auto& a : ToStrings(args)) in.args.push_back(a);
  bool has_path = false;
  for (auto& e : ToStrings(config.value("Env", json(nullptr)))) {
    has_path |= absl::StartsWith(e, "PATH=");
    in.env.push_back(e);
  }
  if (!has_path) in.env.insert(in.env.begin(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  in.env.push_back("HOSTNAME=" + hostname);
  bool tty = config.value("Tty", false);
  if (tty) in.env.push_back("TERM=xterm");
  in.cwd = config.value("WorkingDir", "");
  if (in.cwd.empty()) in.cwd = "/";
  Status ust = ResolveUser(rootfs, config.value("User", ""), &in.uid, &in.gid, &in.additional_gids);
  if (!ust.ok()) return fail(ust, 128);
  in.tty = tty;
  if (hc.contains("ConsoleSize") && hc["ConsoleSize"].is_array() && hc["ConsoleSize"].size() == 2) {
    in.rows = hc["ConsoleSize"][0].get<int>();
    in.cols = hc["ConsoleSize"][1].get<int>();
  }
  in.container_dir = dir;
  in.netns_path = sandbox->netns_path;
  in.host_config = &hc;
  if (!in.cwd.empty() && in.cwd != "/") (void)sys::MkdirAll(rootfs + in.cwd, 0755);
  if (Status st = sys::WriteFile(state + "/config.json", BuildOciSpec(in).dump()); !st.ok()) return fail(st, 128);

  ShimStart s;
  s.id = c->id;
  s.bundle = state;
  s.state_dir = state;
  s.log_path = dir + "/" + c->id + "-json.log";
  s.tty = tty;
  s.open_stdin = config.value("OpenStdin", false);
  s.stdin_once = config.value("StdinOnce", false);
  s.rows = in.rows;
  s.cols = in.cols;
  auto pid = shim_.Start(s);
  if (!pid.ok()) {
    // Docker's exit codes for a start failure: 127 command not found, 126 not executable.
    std::string msg(pid.status().message());
    int code = 128;
    if (absl::StrContains(msg, "executable file not found") ||
        absl::StrContains(msg, "no such file or directory"))
      code = 127;
    else if (absl::StrContains(msg, "permission denied"))
      code = 126;
    Status st = pid.status().code() == absl::StatusCode::kFailedPrecondition
                    ? absl::InvalidArgumentError("OCI runtime create failed: " + msg + ": unknown")
                    : pid.status();
    return fail(st, code);
  }

  std::vector<std::shared_ptr<Container::Pending>> pending;
  {
    StateLock l(mu_);
    c->status = "running";
    c->pid = *pid;
    c->exit_code = 0;
    c->error.clear();
    c->started_at = UnixNanos(clock_.Now());
    c->finished_at = 0;
    c->mounted = true;
    pending.swap(c->pending_attaches);
  }
  (void)Save(c);
  // Attach clients first, then the exit watch, then release the output: nothing is lost.
  for (auto& p : pending) {
    std::string flags;
    if (p->in) flags += "stdin,";
    if (p->out) flags += "stdout,";
    if (p->err) flags += "stderr,";
    if (!flags.empty()) flags.pop_back();
    else flags = "stdout";
    std::string reply;
    auto conn = shim_.Command(state, "ATTACH " + flags, &reply);
    if (conn.ok() && reply == "OK") p->ready.set_value(ShimStream{std::move(*conn), tty});
    else p->ready.set_value(absl::InternalError("attach: " + (conn.ok() ? reply : std::string(conn.status().message()))));
  }
  Status wst = WatchExit(c);
  if (!wst.ok()) spdlog::warn("container {}: watch exit: {}", c->id, wst.ToString());
  Status rst = shim_.Simple(state, "RELEASE");
  if (!rst.ok()) spdlog::warn("container {}: release: {}", c->id, rst.ToString());
  ContainerEvent ev;
  {
    StateLock l(mu_);
    ev = EventLocked(*c, "start");
  }
  cv_.SignalAll();
  Emit(std::move(ev));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Exits

Status ContainerManager::WatchExit(const std::shared_ptr<Container>& c) {
  ASSIGN_OR_RETURN(UniqueFd fd, shim_.Command(StateDir(c->id), "WAIT", nullptr));
  int raw = fd.get();
  {
    StateLock l(mu_);
    if (shutting_down_) return absl::OkStatus();
    auto w = std::make_unique<Watch>();
    w->kind = Watch::Kind::kExit;
    w->id = c->id;
    w->fd = std::move(fd);
    watched_[raw] = std::move(w);
  }
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = raw;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, raw, &ev) != 0) {
    int e = errno;
    StateLock l(mu_);
    watched_.erase(raw);
    return ErrnoStatus(e, "epoll_ctl");
  }
  return absl::OkStatus();
}

void ContainerManager::MonitorLoop() {
  for (;;) {
    struct epoll_event evs[32];
    int n = ::epoll_wait(epoll_.get(), evs, 32, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd == wake_.get()) return;
      Watch::Kind kind;
      {
        StateLock l(mu_);
        auto it = watched_.find(fd);
        if (it == watched_.end()) continue;
        kind = it->second->kind;
      }
      if (kind == Watch::Kind::kExec) {
        OnExecStream(fd);
        continue;
      }
      std::unique_ptr<Watch> w;
      {
        StateLock l(mu_);
        auto it = watched_.find(fd);
        w = std::move(it->second);
        watched_.erase(it);
      }
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
      int code = 255;
      int64_t nanos = UnixNanos(clock_.Now());
      auto line = ReadLine(w->fd.get());
      std::vector<std::string> parts;
      if (line.ok()) parts = absl::StrSplit(*line, ' ');
      if (!(parts.size() == 3 && parts[0] == "EXIT" && absl::SimpleAtoi(parts[1], &code) &&
            absl::SimpleAtoi(parts[2], &nanos))) {
        // The shim went away without a word: its exit file, if any, has the truth.
        if (!ReadExitFile(StateDir(w->id), &code, &nanos)) {
          code = 255;
          nanos = UnixNanos(clock_.Now());
        }
      }
      OnExit(w->id, code, nanos);
    }
  }
}

void ContainerManager::OnExit(const std::string& id, int code, int64_t finished) {
  std::shared_ptr<Container> c;
  bool auto_remove = false;
  int64_t restart_delay = -1;
  ContainerEvent ev;
  {
    StateLock l(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return;
    c = it->second;
    if (c->status != "running" && c->status != "restarting") return;
    c->status = "exited";
    c->exit_code = code;
    c->pid = 0;
    c->finished_at = finished;
    c->exits++;
    std::string policy = c->host_config["RestartPolicy"].value("Name", "no");
    int max = c->host_config["RestartPolicy"].value("MaximumRetryCount", 0);
    auto_remove = c->host_config.value("AutoRemove", false);
    if (!c->manually_stopped && !shutting_down_ && !auto_remove) {
      bool again = policy == "always" || policy == "unless-stopped" ||
                   (policy == "on-failure" && code != 0 && (max == 0 || c->restart_count < max));
      if (again) {
        c->status = "restarting";
        // Docker's back-off: 100 ms doubling, reset after a run of 10 s or more.
        int64_t ran_ms = (finished - c->started_at) / 1000000;
        if (ran_ms >= 10000) c->restart_count = 0;
        restart_delay = std::min<int64_t>(100LL << std::min(c->restart_count, 10), 60000);
      }
    }
    ev = EventLocked(*c, "die", {{"exitCode", std::to_string(code)}});
  }
  (void)Save(c);
  Emit(std::move(ev));
  if (restart_delay < 0) {
    ReleaseRootfs(*c);
    network_.Teardown(c->id);
    StateLock l(mu_);
    c->mounted = false;
  }
  cv_.SignalAll();
  if (restart_delay >= 0) ScheduleRestart(id, restart_delay);
  if (auto_remove)
    work_.Post([this, c] {
      absl::MutexLock op(&c->op_mu);
      (void)RemoveLocked(c);
    });
}

void ContainerManager::ScheduleRestart(const std::string& id, int64_t delay_ms) {
  // The back-off runs on the clock; the restart itself (runc, the network) on the executor.
  clock_.Schedule(std::chrono::milliseconds(delay_ms), [this, id] {
    work_.Post([this, id] {
      auto found = Find(id);
      if (!found.ok()) return;
      std::shared_ptr<Container> c = *found;
      absl::MutexLock op(&c->op_mu);
      {
        StateLock l(mu_);
        if (c->status != "restarting" || c->removed || shutting_down_) return;
        c->restart_count++;
      }
      Status st = StartLocked(c);
      if (!st.ok()) {
        {
          StateLock l(mu_);
          c->status = "exited";
        }
        (void)Save(c);
        cv_.SignalAll();
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Stop, kill, restart, wait

Status ContainerManager::Kill(const std::string& name, const std::string& signal) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  int sig = ParseSignal(signal, SIGKILL);
  if (sig < 0) return absl::InvalidArgumentError("Invalid signal: " + signal);
  uint64_t exits;
  ContainerEvent ev;
  {
    StateLock l(mu_);
    if (c->status != "running")
      return absl::FailedPreconditionError("Container " + c->id + " is not running");
    if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT) c->manually_stopped = true;
    exits = c->exits;
    ev = EventLocked(*c, "kill", {{"signal", std::to_string(sig)}});
  }
  (void)Save(c);
  RETURN_IF_ERROR(Signal(*c, sig));
  Emit(std::move(ev));
  // Docker answers a SIGKILL once the container is gone, so a client may remove it at once.
  if (sig == SIGKILL) AwaitExit(c, exits, std::chrono::seconds(10));
  return absl::OkStatus();
}

StatusOr<bool> ContainerManager::Stop(const std::string& name, std::optional<int> timeout,
                                      const std::string& signal) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  absl::MutexLock op(&c->op_mu);
  int sig, wait_s;
  uint64_t exits;
  ContainerEvent kill_ev;
  bool was_restarting = false;
  {
    StateLock l(mu_);
    if (c->status == "restarting") {
      // Between two runs: the pending restart finds it exited and does nothing.
      c->status = "exited";
      was_restarting = true;
    } else if (c->status != "running") {
      return false;
    }
    c->manually_stopped = true;
    sig = ParseSignal(signal.empty() ? c->config.value("StopSignal", "") : signal, SIGTERM);
    if (sig < 0) sig = SIGTERM;
    wait_s = timeout.value_or(c->config.value("StopTimeout", 10));
    exits = c->exits;
    kill_ev = EventLocked(*c, "kill", {{"signal", std::to_string(sig)}});
  }
  (void)Save(c);
  if (was_restarting) {
    cv_.SignalAll();
    return true;
  }
  RETURN_IF_ERROR(Signal(*c, sig));
  Emit(std::move(kill_ev));
  Duration grace = wait_s < 0 ? std::chrono::hours(24 * 365) : Duration(std::chrono::seconds(wait_s));
  if (!AwaitExit(c, exits, grace)) {
    RETURN_IF_ERROR(Signal(*c, SIGKILL));
    ContainerEvent ev;
    {
      StateLock l(mu_);
      ev = EventLocked(*c, "kill", {{"signal", std::to_string(SIGKILL)}});
    }
    Emit(std::move(ev));
    AwaitExit(c, exits, std::chrono::hours(24 * 365));
  }
  ContainerEvent ev;
  {
    StateLock l(mu_);
    ev = EventLocked(*c, "stop");
  }
  Emit(std::move(ev));
  return true;
}

Status ContainerManager::Restart(const std::string& name, std::optional<int> timeout) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  RETURN_IF_ERROR(Stop(c->id, timeout).status());
  absl::MutexLock op(&c->op_mu);
  {
    StateLock l(mu_);
    c->manually_stopped = false;
  }
  RETURN_IF_ERROR(StartLocked(c));
  ContainerEvent ev;
  {
    StateLock l(mu_);
    ev = EventLocked(*c, "restart");
  }
  Emit(std::move(ev));
  return absl::OkStatus();
}

StatusOr<json> ContainerManager::Wait(const std::string& name, const std::string& condition_in,
                                      const std::function<void()>& registered,
                                      const std::function<bool()>& cancelled) {
  std::string condition = condition_in.empty() ? "not-running" : condition_in;
  if (condition != "not-running" && condition != "next-exit" && condition != "removed")
    return absl::InvalidArgumentError("invalid condition: \"" + condition + "\"");
  ASSIGN_OR_RETURN(auto c, Find(name));
  uint64_t exits;
  {
    StateLock l(mu_);
    exits = c->exits;
  }
  registered();
  auto done = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (shutting_down_) return true;
    if (condition == "removed") return c->removed;
    if (condition == "next-exit") return c->exits != exits || c->removed;
    return !c->running() || c->exits != exits || c->removed;
  };
  StateLock l(mu_);
  while (!done()) {
    // A second at a time on the clock, to notice a client that went away.
    WaitFor(clock_, mu_, cv_, std::chrono::seconds(1), done);
    if (cancelled && cancelled()) return absl::CancelledError("client went away");
  }
  if (shutting_down_) return absl::UnavailableError("daemon is shutting down");
  return json{{"StatusCode", c->exit_code}, {"Error", nullptr}};
}

// ---------------------------------------------------------------------------------------------
// Remove, rename

Status ContainerManager::Remove(const std::string& name, bool force) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  uint64_t exits;
  bool kill = false;
  {
    StateLock l(mu_);
    if (c->running() && !force) {
      return absl::FailedPreconditionError(
          "You cannot remove a running container " + c->id +
          ". Stop the container before attempting removal or force remove");
    }
    exits = c->exits;
    if (force && c->status == "running") {
      c->manually_stopped = true;
      kill = true;
    } else if (force && c->status == "restarting") {
      c->manually_stopped = true;
      c->status = "exited";
    }
  }
  if (kill) {
    RETURN_IF_ERROR(Signal(*c, SIGKILL));
    AwaitExit(c, exits, std::chrono::seconds(30));
  }
  absl::MutexLock op(&c->op_mu);
  return RemoveLocked(c);
}

Status ContainerManager::RemoveLocked(const std::shared_ptr<Container>& c) {
  {
    StateLock l(mu_);
    if (c->removed) return absl::OkStatus();
    if (c->status == "running") return absl::FailedPreconditionError("container is running");
    c->status = "removing";
  }
  ReleaseRootfs(*c);
  network_.Teardown(c->id);
  {
    absl::MutexLock pl(&c->persist_mu);
    Status st = store_.Delete("container", c->id);
    if (!st.ok()) return Annotate(st, "remove container " + c->id);
    c->written_version = UINT64_MAX;  // no later snapshot brings the row back
  }
  network_.Detach(c->id);
  (void)sys::RemoveAll(StateDir(c->id));
  (void)sys::RemoveAll(ContainerDir(c->id));
  std::vector<std::shared_ptr<Container::Pending>> pending;
  ContainerEvent ev;
  {
    StateLock l(mu_);
    c->removed = true;
    containers_.erase(c->id);
    for (auto& e : c->exec_ids) execs_.erase(e);
    pending.swap(c->pending_attaches);
    ev = EventLocked(*c, "destroy");
  }
  for (auto& p : pending) p->ready.set_value(absl::NotFoundError("container removed"));
  cv_.SignalAll();
  Emit(std::move(ev));
  return absl::OkStatus();
}

Status ContainerManager::Rename(const std::string& name, const std::string& new_name_in) {
  std::string new_name = new_name_in;
  if (absl::StartsWith(new_name, "/")) new_name = new_name.substr(1);
  if (!ValidName(new_name))
    return absl::InvalidArgumentError("Invalid container name (" + new_name_in +
                                      "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  ASSIGN_OR_RETURN(auto c, Find(name));
  absl::MutexLock op(&c->op_mu);
  std::string old;
  {
    StateLock l(mu_);
    if (c->name == new_name)
      return absl::InvalidArgumentError("Renaming a container with the same name as its current name");
    for (auto& [id, o] : containers_)
      if (o->name == new_name)
        return absl::AlreadyExistsError("Conflict. The container name \"/" + new_name +
                                        "\" is already in use by container \"" + id +
                                        "\". You have to remove (or rename) that container to be "
                                        "able to reuse that name.");
    old = c->name;
    c->name = new_name;
  }
  if (Status st = Save(c); !st.ok()) {
    StateLock l(mu_);
    c->name = old;
    return st;
  }
  network_.Rename(c->id, new_name);
  ContainerEvent ev;
  {
    StateLock l(mu_);
    ev = EventLocked(*c, "rename", {{"oldName", "/" + old}});
  }
  Emit(std::move(ev));
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Recovery

Status ContainerManager::Recover() {
  RETURN_IF_ERROR(sys::MkdirAll(paths_.data_root + "/containers", 0710));
  RETURN_IF_ERROR(sys::MkdirAll(paths_.exec_root + "/c", 0700));
  std::vector<std::shared_ptr<Container>> all;
  for (auto& o : store_.List("container")) {
    auto c = Container::FromDoc(o.doc);
    if (!c->id.empty()) all.push_back(c);
  }
  {
    StateLock l(mu_);
    for (auto& c : all) containers_[c->id] = c;
  }
  // Directories without a row are from a crash during create or remove.
  auto known = [&](const std::string& d) {
    StateLock l(mu_);
    auto it = containers_.lower_bound(d);
    return it != containers_.end() && absl::StartsWith(it->first, d) && !d.empty();
  };
  for (const std::string& base : {paths_.data_root + "/containers", paths_.exec_root + "/c"}) {
    auto dirs = sys::ListDir(base);
    if (!dirs.ok()) continue;
    for (auto& d : *dirs) {
      if (known(d)) continue;
      // A shim whose container never got its row (berthd killed mid-create or mid-remove).
      if (base == paths_.exec_root + "/c") shim_.Discard(base + "/" + d);
      (void)sys::Unmount(base + "/" + d + "/rootfs");
      (void)sys::RemoveAll(base + "/" + d);
    }
  }
  for (auto& c : all) {
    std::string state = StateDir(c->id);
    std::string status;
    {
      StateLock l(mu_);
      if (c->status == "removing") c->status = "dead";
      status = c->status;
    }
    if (status != "running" && status != "restarting") {
      // A start cut short by the crash: its shim may be up, holding a container that was never
      // released. It did not start as far as anyone was told.
      shim_.Discard(state);
      continue;
    }
    std::string reply;
    auto conn = shim_.Command(state, "STATUS", &reply);
    if (conn.ok() && absl::StartsWith(reply, "RUNNING")) {
      // A live shim: adopt it. RELEASE is idempotent (a crash may have come before it).
      int pid = 0;
      absl::SimpleAtoi(reply.substr(8), &pid);
      {
        StateLock l(mu_);
        c->status = "running";
        c->pid = pid;
        c->mounted = true;
      }
      Status st = WatchExit(c);
      if (st.ok()) st = shim_.Simple(state, "RELEASE");
      if (st.ok()) continue;
      spdlog::warn("container {}: adopt: {}", c->id, st.ToString());
    }
    int code = 255;
    int64_t nanos = UnixNanos(clock_.Now());
    ReadExitFile(state, &code, &nanos);
    OnExit(c->id, code, nanos);
    // runc may still hold state for a container whose shim died with it.
    (void)sys::Run({shim_.paths().runc, "--root", shim_.paths().runtime_root, "delete", "--force", c->id});
  }
  return absl::OkStatus();
}

}  // namespace berth::engine
