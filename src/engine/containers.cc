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
#include "spdlog/spdlog.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"
#include "sys/fs.h"
#include "sys/mounts.h"
#include "sys/subprocess.h"

namespace berth::engine {

using nlohmann::json;

struct Container {
  std::string id;
  std::string name;  // without the leading '/'
  std::string image_id;
  json config;       // Docker's Config, merged with the image's defaults
  json host_config;  // normalized HostConfig
  json networking = json::object();  // NetworkingConfig of the create request
  json network_settings = json::object();
  std::string path;
  json args = json::array();
  int64_t created = 0;

  std::string status = "created";  // created running restarting exited removing dead
  int pid = 0;
  int exit_code = 0;
  std::string error;
  int64_t started_at = 0, finished_at = 0;
  int restart_count = 0;
  bool manually_stopped = false;
  bool removed = false;   // in memory only
  uint64_t exits = 0;     // in memory only: exits seen, for wait?condition=next-exit
  bool mounted = false;   // in memory only

  std::shared_ptr<std::mutex> op_mu = std::make_shared<std::mutex>();
  // docker run attaches before start: these wait for the next start's shim.
  struct Pending {
    bool in, out, err;
    std::promise<StatusOr<ShimStream>> ready;
  };
  std::vector<std::shared_ptr<Pending>> pending_attaches;
  std::vector<std::string> exec_ids;

  bool tty() const { return config.value("Tty", false); }
  bool running() const { return status == "running" || status == "restarting"; }

  json ToDoc() const {
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
  static std::shared_ptr<Container> FromDoc(const json& d) {
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
};

struct ExecInstance {
  std::string id;
  std::string container_id;
  json config;
  bool running = false;
  bool started = false;
  int exit_code = 0;
  bool has_exit = false;
  int pid = 0;
};

namespace {

int ParseSignal(const std::string& s, int fallback) {
  if (s.empty()) return fallback;
  int n;
  if (absl::SimpleAtoi(s, &n)) return n > 0 && n < 65 ? n : -1;
  std::string u = s;
  for (auto& ch : u) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  if (absl::StartsWith(u, "SIG")) u = u.substr(3);
  static const std::map<std::string, int> kSignals = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},
      {"TRAP", SIGTRAP}, {"ABRT", SIGABRT}, {"BUS", SIGBUS},   {"FPE", SIGFPE},
      {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
      {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"CHLD", SIGCHLD},
      {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
      {"TTOU", SIGTTOU}, {"URG", SIGURG},   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
      {"WINCH", SIGWINCH}, {"IO", SIGIO},   {"SYS", SIGSYS}};
  auto it = kSignals.find(u);
  return it == kSignals.end() ? -1 : it->second;
}

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

std::vector<std::string> ToStrings(const json& j) {
  std::vector<std::string> out;
  if (j.is_array())
    for (auto& e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

// Docker filters: {"name":{"b1":true}} or {"name":["b1"]}.
std::map<std::string, std::vector<std::string>> ParseFilters(const json& f) {
  std::map<std::string, std::vector<std::string>> out;
  if (!f.is_object()) return out;
  for (auto& [k, v] : f.items()) {
    if (v.is_object())
      for (auto& [val, on] : v.items()) out[k].push_back(val);
    else if (v.is_array())
      for (auto& e : v)
        if (e.is_string()) out[k].push_back(e.get<std::string>());
  }
  return out;
}

const char* kHosts =
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

bool ReadExitFile(const std::string& state_dir, int* code, int64_t* nanos) {
  auto data = sys::ReadFile(state_dir + "/exit");
  if (!data.ok()) return false;
  std::vector<std::string> parts = absl::StrSplit(absl::StripAsciiWhitespace(*data), ' ');
  return parts.size() == 2 && absl::SimpleAtoi(parts[0], code) && absl::SimpleAtoi(parts[1], nanos);
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
}

ContainerManager::~ContainerManager() { Shutdown(); }

void ContainerManager::Shutdown() {
  std::vector<std::thread> bg;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_ && !monitor_.joinable()) return;
    shutting_down_ = true;
    bg.swap(background_);
  }
  cv_.notify_all();
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  if (monitor_.joinable()) monitor_.join();
  for (auto& t : bg)
    if (t.joinable()) t.join();
}

// The short id keeps unix socket paths under the state dir (shim.sock, exec consoles) within
// sun_path's 108 bytes; Create() makes sure no two containers share a short id.
std::string ContainerManager::StateDir(const std::string& id) const {
  return paths_.exec_root + "/c/" + id.substr(0, 12);
}
std::string ContainerManager::ContainerDir(const std::string& id) const {
  return paths_.data_root + "/containers/" + id;
}

Status ContainerManager::Persist(const Container& c) {
  return store_.Put("container", c.id, c.name, c.ToDoc());
}

void ContainerManager::Publish(const Container& c, const std::string& action,
                               std::map<std::string, std::string> extra) {
  extra["name"] = c.name;
  extra["image"] = c.config.value("Image", "");
  if (c.config.contains("Labels") && c.config["Labels"].is_object())
    for (auto& [k, v] : c.config["Labels"].items())
      if (v.is_string()) extra.emplace(k, v.get<std::string>());
  events_.Publish("container", action, c.id, std::move(extra));
}

std::shared_ptr<Container> ContainerManager::FindLocked(const std::string& name_in, Status* st) {
  std::string name = name_in;
  if (absl::StartsWith(name, "/")) name = name.substr(1);
  if (name.empty()) {
    *st = absl::NotFoundError("No such container: " + name_in);
    return nullptr;
  }
  auto it = containers_.find(name);
  if (it != containers_.end()) return it->second;
  for (auto& [id, c] : containers_)
    if (c->name == name) return c;
  std::shared_ptr<Container> found;
  int matches = 0;
  if (IsHexPrefix(name)) {
    for (auto it2 = containers_.lower_bound(name);
         it2 != containers_.end() && absl::StartsWith(it2->first, name); ++it2) {
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
  std::lock_guard<std::mutex> lock(mu_);
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
  std::lock_guard<std::mutex> lock(mu_);
  auto it = containers_.find(id);
  return it != containers_.end() && it->second->running();
}

std::optional<std::string> ContainerManager::ImageUser(const std::string& image_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, c] : containers_)
    if (c->image_id == image_id) return id;
  return std::nullopt;
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
  c->id = NewId();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto taken = [&](const std::string& id) {
      auto it = containers_.lower_bound(id.substr(0, 12));
      return it != containers_.end() && it->first.compare(0, 12, id, 0, 12) == 0;
    };
    while (taken(c->id)) c->id = NewId();
  }
  if (config.value("Hostname", "").empty()) config["Hostname"] = c->id.substr(0, 12);
  c->image_id = image->id;
  c->config = config;
  c->host_config = hc;
  c->networking = net.is_object() ? net : json::object();
  c->path = argv[0];
  c->args = json(std::vector<std::string>(argv.begin() + 1, argv.end()));
  c->created = UnixNanos(clock_.Now());

  std::lock_guard<std::mutex> lock(mu_);
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

  // Files first, row last: a crash in between leaves a directory that Recover() removes.
  std::string dir = ContainerDir(c->id);
  Status st = sys::MkdirAll(dir + "/fs/upper", 0755);
  if (st.ok()) st = sys::MkdirAll(dir + "/fs/work", 0700);
  if (st.ok()) st = sys::WriteFile(dir + "/hostname", config["Hostname"].get<std::string>() + "\n");
  if (st.ok()) st = sys::WriteFile(dir + "/hosts", kHosts);
  if (st.ok()) {
    auto resolv = sys::ReadFile("/etc/resolv.conf");
    st = sys::WriteFile(dir + "/resolv.conf", resolv.ok() ? *resolv : "");
  }
  if (st.ok()) st = network_.Attach(c->id, c->name, hc, c->networking);
  if (st.ok()) {
    st = Persist(*c);
    if (!st.ok()) network_.Detach(c->id);
  }
  if (!st.ok()) {
    (void)sys::RemoveAll(dir);
    return Annotate(st, "create container");
  }
  containers_[c->id] = c;
  Publish(*c, "create");
  return std::make_pair(c->id, warnings);
}

// ---------------------------------------------------------------------------------------------
// Start

StatusOr<bool> ContainerManager::Start(const std::string& name) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  std::lock_guard<std::mutex> op(*c->op_mu);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (c->removed) return absl::NotFoundError("No such container: " + name);
    if (c->status == "running") return false;
    c->manually_stopped = false;
  }
  Status st = StartLocked(c);
  if (!st.ok()) {
    // As dockerd: a --rm container whose start fails is removed (the CLI waits for that).
    bool auto_remove;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto_remove = c->host_config.value("AutoRemove", false);
    }
    if (auto_remove) (void)RemoveLocked(c);
    return st;
  }
  return true;
}

void ContainerManager::ReleaseRootfs(const Container& c) {
  (void)sys::Unmount(StateDir(c.id) + "/rootfs");
}

// Caller holds c->op_mu.
Status ContainerManager::StartLocked(const std::shared_ptr<Container>& c) {
  json hc, config, net;
  std::string image_id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hc = c->host_config;
    config = c->config;
    net = c->networking;
    image_id = c->image_id;
  }
  auto fail = [&](Status st, int exit_code) -> Status {
    ReleaseRootfs(*c);
    network_.Teardown(c->id);
    std::vector<std::shared_ptr<Container::Pending>> pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      c->error = std::string(st.message());
      c->exit_code = exit_code;
      c->mounted = false;
      (void)Persist(*c);
      pending.swap(c->pending_attaches);
    }
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

  auto sandbox = network_.Setup(c->id, c->name, config, hc, net);
  if (!sandbox.ok()) return fail(sandbox.status(), 128);
  std::string hostname = config.value("Hostname", "");
  RETURN_IF_ERROR(sys::WriteFile(dir + "/hosts",
                                 std::string(kHosts) + sandbox->hosts_extra));
  if (!sandbox->resolv_conf.empty())
    RETURN_IF_ERROR(sys::WriteFile(dir + "/resolv.conf", sandbox->resolv_conf));

  OciInputs in;
  in.id = c->id;
  in.hostname = hostname;
  in.args.push_back(c->path);
  for (auto& a : ToStrings(c->args)) in.args.push_back(a);
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
  RETURN_IF_ERROR(sys::WriteFile(state + "/config.json", BuildOciSpec(in).dump()));

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
    std::lock_guard<std::mutex> lock(mu_);
    c->status = "running";
    c->pid = *pid;
    c->exit_code = 0;
    c->error.clear();
    c->started_at = UnixNanos(clock_.Now());
    c->finished_at = 0;
    c->mounted = true;
    (void)Persist(*c);
    pending.swap(c->pending_attaches);
  }
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    Publish(*c, "start");
  }
  cv_.notify_all();
  return absl::OkStatus();
}

Status ContainerManager::WatchExit(const std::shared_ptr<Container>& c) {
  std::string reply;
  ASSIGN_OR_RETURN(UniqueFd fd, shim_.Command(StateDir(c->id), "WAIT", nullptr));
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return absl::OkStatus();
  struct epoll_event ev = {};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0)
    return ErrnoStatus(errno, "epoll_ctl");
  if (!monitor_.joinable()) monitor_ = std::thread([this] { MonitorLoop(); });
  int raw = fd.get();
  watched_[raw] = {c->id, std::move(fd)};
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
      std::string id;
      UniqueFd conn;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = watched_.find(fd);
        if (it == watched_.end()) continue;
        id = it->second.first;
        conn = std::move(it->second.second);
        watched_.erase(it);
      }
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
      int code = 255;
      int64_t nanos = UnixNanos(clock_.Now());
      auto line = ReadLine(conn.get());
      std::vector<std::string> parts;
      if (line.ok()) parts = absl::StrSplit(*line, ' ');
      if (!(parts.size() == 3 && parts[0] == "EXIT" && absl::SimpleAtoi(parts[1], &code) &&
            absl::SimpleAtoi(parts[2], &nanos))) {
        // The shim went away without a word: its exit file, if any, has the truth.
        if (!ReadExitFile(StateDir(id), &code, &nanos)) {
          code = 255;
          nanos = UnixNanos(clock_.Now());
        }
      }
      OnExit(id, code, nanos);
    }
  }
}

void ContainerManager::OnExit(const std::string& id, int code, int64_t finished) {
  std::shared_ptr<Container> c;
  bool auto_remove = false;
  int64_t restart_delay = -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
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
    (void)Persist(*c);
    Publish(*c, "die", {{"exitCode", std::to_string(code)}});
  }
  if (c->status != "restarting") {
    ReleaseRootfs(*c);
    network_.Teardown(c->id);
    std::lock_guard<std::mutex> lock(mu_);
    c->mounted = false;
  }
  cv_.notify_all();
  if (restart_delay >= 0) ScheduleRestart(id, restart_delay);
  if (auto_remove) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shutting_down_)
      background_.emplace_back([this, c] {
        std::lock_guard<std::mutex> op(*c->op_mu);
        (void)RemoveLocked(c);
      });
  }
}

void ContainerManager::ScheduleRestart(const std::string& id, int64_t delay_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) return;
  background_.emplace_back([this, id, delay_ms] {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(delay_ms), [&] { return shutting_down_; }))
        return;
    }
    auto c = Find(id);
    if (!c.ok()) return;
    std::lock_guard<std::mutex> op(*(*c)->op_mu);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if ((*c)->status != "restarting" || (*c)->removed) return;
      (*c)->restart_count++;
    }
    Status st = StartLocked(*c);
    if (!st.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      (*c)->status = "exited";
      (void)Persist(**c);
      cv_.notify_all();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Stop, kill, restart, wait

Status ContainerManager::Kill(const std::string& name, const std::string& signal) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  int sig = ParseSignal(signal, SIGKILL);
  if (sig < 0) return absl::InvalidArgumentError("Invalid signal: " + signal);
  std::lock_guard<std::mutex> lock(mu_);
  if (c->status != "running")
    return absl::FailedPreconditionError("Container " + c->id + " is not running");
  if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT) c->manually_stopped = true;
  if (::kill(c->pid, sig) != 0 && errno != ESRCH) return ErrnoStatus(errno, "kill");
  Publish(*c, "kill", {{"signal", std::to_string(sig)}});
  return absl::OkStatus();
}

StatusOr<bool> ContainerManager::Stop(const std::string& name, std::optional<int> timeout,
                                      const std::string& signal) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  std::lock_guard<std::mutex> op(*c->op_mu);
  std::unique_lock<std::mutex> lock(mu_);
  if (c->status == "restarting") {
    c->manually_stopped = true;
    c->status = "exited";
    (void)Persist(*c);
    cv_.notify_all();
    return true;
  }
  if (c->status != "running") return false;
  c->manually_stopped = true;
  (void)Persist(*c);
  int sig = ParseSignal(signal.empty() ? c->config.value("StopSignal", "") : signal, SIGTERM);
  if (sig < 0) sig = SIGTERM;
  int wait_s = timeout.value_or(c->config.value("StopTimeout", 10));
  uint64_t exits = c->exits;
  ::kill(c->pid, sig);
  Publish(*c, "kill", {{"signal", std::to_string(sig)}});
  if (wait_s < 0) {
    cv_.wait(lock, [&] { return c->exits != exits || shutting_down_; });
  } else if (!cv_.wait_for(lock, std::chrono::seconds(wait_s),
                           [&] { return c->exits != exits || shutting_down_; })) {
    if (c->pid > 0) ::kill(c->pid, SIGKILL);
    Publish(*c, "kill", {{"signal", std::to_string(SIGKILL)}});
    cv_.wait(lock, [&] { return c->exits != exits || shutting_down_; });
  }
  Publish(*c, "stop");
  return true;
}

Status ContainerManager::Restart(const std::string& name, std::optional<int> timeout) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  RETURN_IF_ERROR(Stop(c->id, timeout).status());
  std::lock_guard<std::mutex> op(*c->op_mu);
  {
    std::lock_guard<std::mutex> lock(mu_);
    c->manually_stopped = false;
  }
  RETURN_IF_ERROR(StartLocked(c));
  std::lock_guard<std::mutex> lock(mu_);
  Publish(*c, "restart");
  return absl::OkStatus();
}

StatusOr<json> ContainerManager::Wait(const std::string& name, const std::string& condition_in,
                                      const std::function<void()>& registered,
                                      const std::function<bool()>& cancelled) {
  std::string condition = condition_in.empty() ? "not-running" : condition_in;
  if (condition != "not-running" && condition != "next-exit" && condition != "removed")
    return absl::InvalidArgumentError("invalid condition: \"" + condition + "\"");
  ASSIGN_OR_RETURN(auto c, Find(name));
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t exits = c->exits;
  registered();
  auto done = [&] {
    if (shutting_down_) return true;
    if (condition == "removed") return c->removed;
    if (condition == "next-exit") return c->exits != exits || c->removed;
    return (!c->running() && c->status != "created") || c->exits != exits || c->removed ||
           c->status == "created";
  };
  while (!done()) {
    cv_.wait_for(lock, std::chrono::seconds(1));
    if (cancelled && cancelled()) return absl::CancelledError("client went away");
  }
  if (shutting_down_) return absl::UnavailableError("daemon is shutting down");
  return json{{"StatusCode", c->exit_code}, {"Error", nullptr}};
}

// ---------------------------------------------------------------------------------------------
// Remove, rename

Status ContainerManager::Remove(const std::string& name, bool force) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (c->running() && !force) {
      return absl::FailedPreconditionError(
          "You cannot remove a running container " + c->id +
          ". Stop the container before attempting removal or force remove");
    }
  }
  if (force) {
    std::unique_lock<std::mutex> lock(mu_);
    if (c->status == "running") {
      c->manually_stopped = true;
      uint64_t exits = c->exits;
      ::kill(c->pid, SIGKILL);
      cv_.wait_for(lock, std::chrono::seconds(30),
                   [&] { return c->exits != exits || shutting_down_; });
    } else if (c->status == "restarting") {
      c->manually_stopped = true;
      c->status = "exited";
    }
  }
  std::lock_guard<std::mutex> op(*c->op_mu);
  return RemoveLocked(c);
}

// Caller holds c->op_mu.
Status ContainerManager::RemoveLocked(const std::shared_ptr<Container>& c) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (c->removed) return absl::OkStatus();
    if (c->status == "running") return absl::FailedPreconditionError("container is running");
    c->status = "removing";
  }
  ReleaseRootfs(*c);
  network_.Teardown(c->id);
  Status st = store_.Delete("container", c->id);
  if (!st.ok()) return Annotate(st, "remove container " + c->id);
  network_.Detach(c->id);
  (void)sys::RemoveAll(StateDir(c->id));
  (void)sys::RemoveAll(ContainerDir(c->id));
  std::vector<std::shared_ptr<Container::Pending>> pending;
  {
    std::lock_guard<std::mutex> lock(mu_);
    c->removed = true;
    containers_.erase(c->id);
    for (auto& e : c->exec_ids) execs_.erase(e);
    pending.swap(c->pending_attaches);
    Publish(*c, "destroy");
  }
  for (auto& p : pending) p->ready.set_value(absl::NotFoundError("container removed"));
  cv_.notify_all();
  return absl::OkStatus();
}

Status ContainerManager::Rename(const std::string& name, const std::string& new_name_in) {
  std::string new_name = new_name_in;
  if (absl::StartsWith(new_name, "/")) new_name = new_name.substr(1);
  if (!ValidName(new_name))
    return absl::InvalidArgumentError("Invalid container name (" + new_name_in +
                                      "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  ASSIGN_OR_RETURN(auto c, Find(name));
  std::lock_guard<std::mutex> lock(mu_);
  if (c->name == new_name)
    return absl::InvalidArgumentError("Renaming a container with the same name as its current name");
  for (auto& [id, o] : containers_)
    if (o->name == new_name)
      return absl::AlreadyExistsError("Conflict. The container name \"/" + new_name +
                                      "\" is already in use by container \"" + id +
                                      "\". You have to remove (or rename) that container to be "
                                      "able to reuse that name.");
  std::string old = c->name;
  c->name = new_name;
  Status st = Persist(*c);
  if (!st.ok()) {
    c->name = old;
    return st;
  }
  network_.Rename(c->id, new_name);
  Publish(*c, "rename", {{"oldName", "/" + old}});
  return absl::OkStatus();
}

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

json ContainerManager::InspectLocked(const Container& c, bool size) {
  std::string dir = ContainerDir(c.id);
  auto image = images_.Get(c.image_id);
  std::string lower;
  if (image.ok())
    for (auto& d : images_.LowerDirs(*image)) lower += (lower.empty() ? "" : ":") + d;
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
  json ns = network_.Settings(c.id, c.host_config);
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
  if (size) {
    int64_t rw = sys::DiskUsage(dir + "/fs/upper");
    out["SizeRw"] = rw;
    out["SizeRootFs"] = rw + (image.ok() ? image->size : 0);
  }
  return out;
}

StatusOr<json> ContainerManager::Inspect(const std::string& name, bool size) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  std::lock_guard<std::mutex> lock(mu_);
  return InspectLocked(*c, size);
}

json ContainerManager::SummaryLocked(const Container& c, bool size) {
  std::string cmd = c.path;
  for (auto& a : ToStrings(c.args)) cmd += " " + a;
  json ns = network_.Settings(c.id, c.host_config);
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
  if (size) out["SizeRw"] = sys::DiskUsage(ContainerDir(c.id) + "/fs/upper");
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
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Container>> list;
  for (auto& [id, c] : containers_) list.push_back(c);
  std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a->created > b->created; });
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
          auto img = images_.Get(v);
          return c->config.value("Image", "") == v || (img.ok() && img->id == c->image_id);
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
    if (!any("network", [&](const std::string& v) {
          json ns = network_.Settings(c->id, c->host_config);
          if (ns.empty()) ns = c->network_settings;
          return ns.contains("Networks") && ns["Networks"].contains(v);
        }))
      continue;
    out.push_back(SummaryLocked(*c, size));
    if (limit > 0 && static_cast<int>(out.size()) >= limit) break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Attach, logs, resize

StatusOr<ShimStream> ContainerManager::Attach(const std::string& name, bool in, bool out,
                                              bool err) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  std::future<StatusOr<ShimStream>> fut;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (c->status != "running") {
      auto p = std::make_shared<Container::Pending>();
      p->in = in;
      p->out = out;
      p->err = err;
      fut = p->ready.get_future();
      c->pending_attaches.push_back(p);
    }
  }
  if (fut.valid()) return fut.get();
  std::string flags;
  if (in) flags += "stdin,";
  if (out) flags += "stdout,";
  if (err) flags += "stderr,";
  if (!flags.empty()) flags.pop_back();
  else flags = "stdout";
  std::string reply;
  ASSIGN_OR_RETURN(UniqueFd fd, shim_.Command(StateDir(c->id), "ATTACH " + flags, &reply));
  if (reply != "OK") return absl::InternalError("attach: " + reply);
  return ShimStream{std::move(fd), c->tty()};
}

StatusOr<ContainerManager::LogSource> ContainerManager::Logs(const std::string& name) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  std::lock_guard<std::mutex> lock(mu_);
  return LogSource{c->id, ContainerDir(c->id) + "/" + c->id + "-json.log", StateDir(c->id),
                   c->tty(), c->running()};
}

Status ContainerManager::Resize(const std::string& name, int rows, int cols) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (c->status != "running")
      return absl::FailedPreconditionError("Container " + c->id + " is not running");
    if (!c->tty()) return absl::OkStatus();
  }
  return shim_.Simple(StateDir(c->id), absl::StrCat("RESIZE ", rows, " ", cols));
}

// ---------------------------------------------------------------------------------------------
// Exec

StatusOr<std::string> ContainerManager::ExecCreate(const std::string& name, const json& body) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  if (!body.is_object()) return absl::InvalidArgumentError("invalid JSON body");
  auto cmd = ToStrings(body.value("Cmd", json(nullptr)));
  if (cmd.empty()) return absl::InvalidArgumentError("No exec command specified");
  std::lock_guard<std::mutex> lock(mu_);
  if (c->status != "running")
    return absl::FailedPreconditionError("Container " + c->id + " is not running");
  auto e = std::make_shared<ExecInstance>();
  e->id = NewId();
  e->container_id = c->id;
  e->config = body;
  execs_[e->id] = e;
  c->exec_ids.push_back(e->id);
  Publish(*c, "exec_create: " + absl::StrJoin(cmd, " "), {{"execID", e->id}});
  return e->id;
}

StatusOr<ShimStream> ContainerManager::ExecStart(const std::string& exec_id, bool detach, int rows,
                                                 int cols) {
  std::shared_ptr<ExecInstance> e;
  std::shared_ptr<Container> c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = execs_.find(exec_id);
    if (it == execs_.end()) return absl::NotFoundError("No such exec instance: " + exec_id);
    e = it->second;
    if (e->started) return absl::FailedPreconditionError("Exec " + exec_id + " has already been started");
    auto cit = containers_.find(e->container_id);
    if (cit == containers_.end() || cit->second->status != "running")
      return absl::FailedPreconditionError("Container " + e->container_id + " is not running");
    c = cit->second;
    e->started = true;
    e->running = true;
  }
  const json& b = e->config;
  bool tty = b.value("Tty", false);
  std::vector<std::string> env;
  json cfg;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cfg = c->config;
  }
  bool has_path = false;
  for (auto& v : ToStrings(cfg.value("Env", json(nullptr)))) {
    has_path |= absl::StartsWith(v, "PATH=");
    env.push_back(v);
  }
  if (!has_path) env.insert(env.begin(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  env.push_back("HOSTNAME=" + cfg.value("Hostname", ""));
  if (tty) env.push_back("TERM=xterm");
  for (auto& v : ToStrings(b.value("Env", json(nullptr)))) env.push_back(v);
  std::string user = b.value("User", "");
  if (user.empty()) user = cfg.value("User", "");
  uint32_t uid, gid;
  std::vector<uint32_t> groups;
  std::string state = StateDir(c->id);
  Status ust = ResolveUser(state + "/rootfs", user, &uid, &gid, &groups);
  auto finish = [&](int code) {
    std::lock_guard<std::mutex> lock(mu_);
    e->running = false;
    e->exit_code = code;
    e->has_exit = true;
    cv_.notify_all();
  };
  if (!ust.ok()) {
    finish(126);
    return ust;
  }
  std::string cwd = b.value("WorkingDir", "");
  if (cwd.empty()) cwd = cfg.value("WorkingDir", "");
  if (cwd.empty()) cwd = "/";
  auto caps = Capabilities(b.value("Privileged", false) ? json{{"Privileged", true}} : c->host_config);
  json process = {{"terminal", tty},
                  {"user", {{"uid", uid}, {"gid", gid}}},
                  {"args", ToStrings(b["Cmd"])},
                  {"env", env},
                  {"cwd", cwd},
                  {"capabilities",
                   {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
                  {"noNewPrivileges", false}};
  if (!groups.empty()) process["user"]["additionalGids"] = groups;
  if (b.contains("ConsoleSize") && b["ConsoleSize"].is_array() && b["ConsoleSize"].size() == 2 &&
      b["ConsoleSize"][0].get<int>() > 0)
    process["consoleSize"] = {{"height", b["ConsoleSize"][0]}, {"width", b["ConsoleSize"][1]}};
  if (tty && rows > 0 && cols > 0) process["consoleSize"] = {{"height", rows}, {"width", cols}};
  std::string sid = e->id.substr(0, 12);  // short: the shim names a console socket after it
  RETURN_IF_ERROR(sys::WriteFile(state + "/exec-" + sid + ".json", process.dump()));
  std::string flags;
  if (tty) flags += "tty,";
  if (b.value("AttachStdin", false) && !detach) flags += "stdin,";
  if (!flags.empty()) flags.pop_back();
  else flags = "-";
  std::string reply;
  auto conn = shim_.Command(state, "EXEC " + sid + " " + flags, &reply);
  if (!conn.ok()) {
    finish(126);
    return conn.status();
  }
  if (!absl::StartsWith(reply, "OK")) {
    std::string msg = absl::StartsWith(reply, "ERR ") ? reply.substr(4) : reply;
    finish(126);  // dockerd reports every exec start failure as 126
    return absl::AbortedError("OCI runtime exec failed: " + msg + ": unknown");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    absl::SimpleAtoi(reply.size() > 3 ? reply.substr(3) : "0", &e->pid);
    Publish(*c, "exec_start: " + absl::StrJoin(ToStrings(b["Cmd"]), " "), {{"execID", e->id}});
  }
  // The caller proxies the stream; the exit frame's code is reported back through
  // ExecFinished, which the API calls. For detach we drain here.
  int fd = conn->release();
  auto self = this;
  std::string id = e->id;
  // A watcher keeps a dup of the connection to learn the exit code without racing the proxy:
  // instead, the proxy reports it. Detached execs are drained by a background thread.
  if (detach) {
    std::lock_guard<std::mutex> lock(mu_);
    background_.emplace_back([self, fd, id] {
      UniqueFd conn(fd);
      std::string buf;
      char tmp[8192];
      int code = 0;
      for (;;) {
        ssize_t n = ::read(conn.get(), tmp, sizeof tmp);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buf.append(tmp, static_cast<size_t>(n));
        while (buf.size() >= 8) {
          uint32_t len = (uint8_t(buf[4]) << 24) | (uint8_t(buf[5]) << 16) | (uint8_t(buf[6]) << 8) |
                         uint8_t(buf[7]);
          if (buf.size() < 8 + len) break;
          if (buf[0] == kExit) absl::SimpleAtoi(buf.substr(8, len), &code);
          buf.erase(0, 8 + len);
        }
      }
      std::lock_guard<std::mutex> lock(self->mu_);
      auto it = self->execs_.find(id);
      if (it != self->execs_.end()) {
        it->second->running = false;
        it->second->exit_code = code;
        it->second->has_exit = true;
      }
      self->cv_.notify_all();
    });
    return ShimStream{UniqueFd(), tty};
  }
  return ShimStream{UniqueFd(fd), tty};
}

StatusOr<json> ContainerManager::ExecInspect(const std::string& exec_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = execs_.find(exec_id);
  if (it == execs_.end()) return absl::NotFoundError("No such exec instance: " + exec_id);
  auto& e = *it->second;
  const json& b = e.config;
  auto cmd = ToStrings(b.value("Cmd", json(nullptr)));
  return json{{"ID", e.id},
              {"Running", e.running},
              {"ExitCode", e.has_exit ? json(e.exit_code) : json(nullptr)},
              {"ProcessConfig",
               {{"tty", b.value("Tty", false)},
                {"entrypoint", cmd.empty() ? "" : cmd[0]},
                {"arguments", json(std::vector<std::string>(cmd.empty() ? cmd.begin() : cmd.begin() + 1, cmd.end()))},
                {"privileged", b.value("Privileged", false)},
                {"user", b.value("User", "")}}},
              {"OpenStdin", b.value("AttachStdin", false)},
              {"OpenStderr", b.value("AttachStderr", false)},
              {"OpenStdout", b.value("AttachStdout", false)},
              {"CanRemove", false},
              {"ContainerID", e.container_id},
              {"DetachKeys", ""},
              {"Pid", e.pid}};
}

void ContainerManager::ExecExited(const std::string& exec_id, int code) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = execs_.find(exec_id);
  if (it == execs_.end()) return;
  it->second->running = false;
  it->second->exit_code = code < 0 ? 126 : code;
  it->second->has_exit = true;
  cv_.notify_all();
}

Status ContainerManager::ExecResize(const std::string& exec_id, int rows, int cols) {
  // Resizes travel inside the exec's stream (frame type 5); the API server keeps that stream,
  // so it handles resize itself. Here we only validate the id.
  std::lock_guard<std::mutex> lock(mu_);
  if (!execs_.count(exec_id)) return absl::NotFoundError("No such exec instance: " + exec_id);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Top, stats, prune

StatusOr<json> ContainerManager::Top(const std::string& name, const std::string& ps_args) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  {
    std::lock_guard<std::mutex> lock(mu_);
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
    std::lock_guard<std::mutex> lock(mu_);
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
    std::lock_guard<std::mutex> lock(mu_);
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

// ---------------------------------------------------------------------------------------------
// Recovery

Status ContainerManager::Recover() {
  RETURN_IF_ERROR(sys::MkdirAll(paths_.data_root + "/containers", 0710));
  RETURN_IF_ERROR(sys::MkdirAll(paths_.exec_root + "/c", 0700));
  std::vector<std::shared_ptr<Container>> restart;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& o : store_.List("container")) {
      auto c = Container::FromDoc(o.doc);
      if (c->id.empty()) continue;
      containers_[c->id] = c;
    }
  }
  // Directories without a row are from a crash during create or remove.
  for (const std::string& base : {paths_.data_root + "/containers", paths_.exec_root + "/c"}) {
    auto dirs = sys::ListDir(base);
    if (!dirs.ok()) continue;
    for (auto& d : *dirs) {
      bool known;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = containers_.lower_bound(d);
        known = it != containers_.end() && absl::StartsWith(it->first, d) && !d.empty();
      }
      if (!known) {
        if (base == paths_.exec_root + "/c") {
          // A shim whose container never got its row (berthd killed mid-create or mid-remove).
          shim_.Discard(base + "/" + d);
        }
        (void)sys::Unmount(base + "/" + d + "/rootfs");
        (void)sys::RemoveAll(base + "/" + d);
      }
    }
  }
  std::vector<std::shared_ptr<Container>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, c] : containers_) all.push_back(c);
  }
  for (auto& c : all) {
    std::string state = StateDir(c->id);
    if (c->status != "running" && c->status != "restarting") {
      if (c->status == "removing") c->status = "dead";
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
        std::lock_guard<std::mutex> lock(mu_);
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
