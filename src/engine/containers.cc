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
#include "engine/host_options.h"
#include "engine/log_config.h"
#include "engine/security.h"
#include "spdlog/spdlog.h"
#include "sys/fs.h"
#include "sys/mounts.h"
#include "sys/subprocess.h"

namespace berth::engine {


StatusOr<NetworkAttacher::Sandbox> NetworkAttacher::Setup(const std::string& id,
                                                          const std::string& name,
                                                          const spec::ContainerConfig& config,
                                                          const spec::HostConfig& host_config) {
  Sandbox sb;
  if (host_config.network_mode == "host") sb.netns_path = "host";
  auto resolv = sys::ReadFile("/etc/resolv.conf");
  sb.resolv_conf = resolv.ok() ? *resolv : "";
  return sb;
}

ContainerManager::ContainerManager(Store& store, ImageStore& images, EventBus& events,
                                   const Shim& shim, RootfsMounter& mounter, const Clock& clock,
                                   EnginePaths paths, NetworkAttacher& network)
    : store_(store),
      images_(images),
      events_(events),
      shim_(shim),
      mounter_(mounter),
      clock_(clock),
      paths_(std::move(paths)),
      network_(network),
      volumes_(std::make_unique<VolumeStore>(store_, clock_, paths_.data_root + "/volumes")) {
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
  Changed();
  work_.Shutdown();
  health_work_.Shutdown();
  std::vector<std::shared_ptr<Container>> all;
  {
    StateLock l(mu_);
    for (auto& [id, c] : containers_) all.push_back(c);
  }
  for (auto& c : all) StopHealth(c);
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
  std::string doc;
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
  extra["image"] = c.config.image;
  for (auto& [k, v] : spec::OrEmpty(c.config.labels)) extra.emplace(k, v);
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

StatusOr<ContainerManager::Ref> ContainerManager::Lookup(const std::string& name) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  StateLock l(mu_);
  return Ref{c->id, c->name, c->status == "running" || c->status == "restarting"};
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

namespace {

const std::vector<std::string>& DefaultMaskedPaths() {
  static const std::vector<std::string> kPaths = {
      "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"};
  return kPaths;
}
const std::vector<std::string>& DefaultReadonlyPaths() {
  static const std::vector<std::string> kPaths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                                  "/proc/sysrq-trigger"};
  return kPaths;
}

// Docker's checks of a HostConfig at create (daemon/container.go verifyPlatformContainerSettings
// and runconfig), with its messages.
Status VerifyHostConfig(spec::HostConfig& hc) {
  spec::RestartPolicy& rp = hc.restart_policy;
  if (rp.name.empty()) rp.name = "no";
  if (rp.name != "no" && rp.name != "always" && rp.name != "on-failure" && rp.name != "unless-stopped")
    return absl::InvalidArgumentError("invalid restart policy '" + rp.name + "'");
  if (rp.maximum_retry_count < 0)
    return absl::InvalidArgumentError("maximum retry count cannot be negative");
  if (rp.maximum_retry_count > 0 && rp.name != "on-failure")
    return absl::InvalidArgumentError("maximum retry count cannot be used with restart policy '" +
                                      rp.name + "'");
  if (hc.auto_remove && rp.name != "no")
    return absl::InvalidArgumentError("can't create 'AutoRemove' container with restart policy");
  const spec::Resources& r = hc.resources;
  if (r.memory != 0 && r.memory < 6 * 1024 * 1024)
    return absl::InvalidArgumentError("Minimum memory limit allowed is 6MB");
  long ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (r.nano_cpus < 0 || r.nano_cpus > ncpu * 1000000000LL)
    return absl::InvalidArgumentError(absl::StrFormat(
        "Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", ncpu, ncpu));
  if (r.cpu_shares < 0) return absl::InvalidArgumentError("invalid CPU shares: must not be negative");
  if (hc.shm_size < 0) return absl::InvalidArgumentError("SHM size can not be less than 0");
  if (hc.oom_score_adj < -1000 || hc.oom_score_adj > 1000)
    return absl::InvalidArgumentError(absl::StrFormat(
        "Invalid value %d, range for oom score adj is [-1000, 1000]", hc.oom_score_adj));
  // Binds, Mounts and volumes are checked by the volume store (mount_points.h).
  return absl::OkStatus();
}

// The image's config under the client's, as the daemon merges them (daemon/commit.go merge).
void MergeImageDefaults(const spec::ContainerConfig& img, spec::ContainerConfig& config) {
  if (!config.entrypoint) {
    config.entrypoint = img.entrypoint;
    if (!config.cmd || config.cmd->empty()) config.cmd = img.cmd;
  } else if (config.entrypoint->size() == 1 && (*config.entrypoint)[0].empty()) {
    config.entrypoint.reset();  // --entrypoint "" resets the image's
  }
  if (config.cmd && config.cmd->empty()) config.cmd.reset();
  std::vector<std::string> env = spec::OrEmpty(img.env);
  for (const std::string& e : spec::OrEmpty(config.env)) {
    std::string key = e.substr(0, e.find('='));
    env.erase(std::remove_if(env.begin(), env.end(),
                             [&](const std::string& x) { return x.substr(0, x.find('=')) == key; }),
              env.end());
    env.push_back(e);
  }
  config.env = env.empty() ? std::nullopt : std::optional<std::vector<std::string>>(env);
  if (config.working_dir.empty()) config.working_dir = img.working_dir;
  if (config.user.empty()) config.user = img.user;
  spec::StringMap labels = spec::OrEmpty(img.labels);
  for (auto& [k, v] : spec::OrEmpty(config.labels)) labels[k] = v;
  config.labels = labels;
  config.exposed_ports.insert(img.exposed_ports.begin(), img.exposed_ports.end());
  if (config.stop_signal.empty()) config.stop_signal = img.stop_signal;
  if (img.volumes) {
    std::set<std::string> vols = spec::OrEmpty(config.volumes);
    vols.insert(img.volumes->begin(), img.volumes->end());
    config.volumes = vols;
  }
  if (config.volumes && config.volumes->empty()) config.volumes.reset();
  MergeHealthcheck(img.healthcheck, config.healthcheck);
}

}  // namespace

StatusOr<CreateResult> ContainerManager::Create(const spec::ContainerCreateRequest& req) {
  spec::ContainerConfig config = req.config;
  spec::HostConfig hc = req.host_config.value_or(spec::HostConfig());
  spec::NetworkingConfig net = req.networking_config.value_or(spec::NetworkingConfig());
  std::vector<std::string> warnings;

  std::string name = req.name;
  if (absl::StartsWith(name, "/")) name = name.substr(1);
  if (!name.empty() && !ValidName(name))
    return absl::InvalidArgumentError("Invalid container name (" + req.name +
                                      "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  std::string image_ref = config.image;
  if (image_ref.empty()) return absl::InvalidArgumentError("No image specified: Config.Image is empty");
  auto image = images_.Get(image_ref);
  if (!image.ok()) return image.status();
  RETURN_IF_ERROR(VerifyHostConfig(hc));
  RETURN_IF_ERROR(VerifyRunOptions(config, hc, ReadHostFacts(paths_.init)));
  RETURN_IF_ERROR(VerifyEndpointSettings(net));
  RETURN_IF_ERROR(VerifyHealthConfig(config.healthcheck));
  if (hc.network_mode.empty()) hc.network_mode = "default";
  // API 1.41 clients send --mac-address as Config.MacAddress: it belongs to the first network.
  if (!config.mac_address.empty()) {
    auto& eps = net.endpoints_config.emplace();
    if (req.networking_config && req.networking_config->endpoints_config)
      eps = *req.networking_config->endpoints_config;
    std::string key = hc.network_mode == "default" && eps.count("bridge") ? "bridge" : hc.network_mode;
    if (eps[key].mac_address.empty()) eps[key].mac_address = config.mac_address;
  }
  // Legacy links: a graph on the default bridge; on a user-defined network aliases that only this
  // container resolves, as the docker CLI sends them in the endpoint too.
  std::map<std::string, std::string> links;
  if (!spec::OrEmpty(hc.links).empty()) {
    if (hc.network_mode == "default" || hc.network_mode == "bridge") {
      ASSIGN_OR_RETURN(links, ResolveLinks(hc));
    } else if (hc.network_mode != "host" && hc.network_mode != "none" &&
               !absl::StartsWith(hc.network_mode, "container:")) {
      if (!net.endpoints_config) net.endpoints_config.emplace();
      auto& eps = *net.endpoints_config;
      if (!eps[hc.network_mode].links) eps[hc.network_mode].links = hc.links;
    }
  }
  RETURN_IF_ERROR(network_.Validate(hc, net));

  MergeImageDefaults(image->container_config, config);
  std::vector<std::string> argv = spec::OrEmpty(config.entrypoint);
  for (auto& s : spec::OrEmpty(config.cmd)) argv.push_back(s);
  if (argv.empty()) return absl::InvalidArgumentError("No command specified");
  config.image = image_ref;

  // Defaults that inspect shows.
  ASSIGN_OR_RETURN(hc.log_config, ResolveLogConfig(hc.log_config, log_defaults_));
  if (hc.shm_size <= 0) hc.shm_size = 67108864;
  if (hc.ipc_mode.empty()) hc.ipc_mode = "private";
  if (hc.cgroupns_mode.empty()) hc.cgroupns_mode = "host";
  hc.runtime = "runc";
  if (!hc.privileged) {
    if (!hc.masked_paths) hc.masked_paths = DefaultMaskedPaths();
    if (!hc.readonly_paths) hc.readonly_paths = DefaultReadonlyPaths();
  }
  if (!hc.port_bindings) hc.port_bindings = spec::PortMap{};
  if (!hc.dns) hc.dns = std::vector<std::string>{};
  if (!hc.dns_options) hc.dns_options = std::vector<std::string>{};
  if (!hc.dns_search) hc.dns_search = std::vector<std::string>{};

  auto c = std::make_shared<Container>();
  c->image_id = image->id;
  c->networking = net;
  c->path = argv[0];
  c->args = std::vector<std::string>(argv.begin() + 1, argv.end());
  c->created = UnixNanos(clock_.Now());
  c->host_config = hc;
  c->links = std::move(links);
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
    if (config.hostname.empty()) config.hostname = c->id.substr(0, 12);
    c->config = config;
    containers_[c->id] = c;
  }

  // Files first, row last: a crash in between leaves a directory that Recover() removes. A
  // failure removes everything made, and the name is free again.
  std::string dir = ContainerDir(c->id);
  bool attached = false;
  Status st = sys::MkdirAll(dir + "/fs/upper", 0755);
  if (st.ok()) st = sys::MkdirAll(dir + "/fs/work", 0700);
  if (st.ok()) st = sys::WriteFile(dir + "/hostname", config.hostname + "\n");
  if (st.ok()) st = sys::WriteFile(dir + "/hosts", kHosts);
  if (st.ok()) {
    auto resolv = sys::ReadFile("/etc/resolv.conf");
    st = sys::WriteFile(dir + "/resolv.conf", resolv.ok() ? *resolv : "");
  }
  if (st.ok()) {
    st = network_.Attach(c->id, c->name, hc, c->networking);
    attached = st.ok();
  }
  bool mounted = false;
  if (st.ok()) {
    st = volumes_->Attach(c->id, config, hc).status();
    mounted = st.ok();
  }
  if (st.ok()) st = Save(c);
  if (!st.ok()) {
    if (mounted) volumes_->Detach(c->id, true);
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
  return CreateResult{c->id, warnings};
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
    if (c->paused && c->status == "running")
      return absl::FailedPreconditionError("cannot start a paused container, try unpause instead");
    if (c->status == "running") return false;
    c->manually_stopped = false;
    auto_remove = c->host_config.auto_remove;
  }
  Status st = StartLocked(c);
  if (!st.ok()) {
    // As dockerd: a --rm container whose start fails is removed (the CLI waits for that).
    if (auto_remove) (void)RemoveLocked(c, true);
    return st;
  }
  return true;
}

void ContainerManager::ReleaseRootfs(const Container& c) {
  (void)sys::Unmount(StateDir(c.id) + "/rootfs");
}

Status ContainerManager::StartLocked(const std::shared_ptr<Container>& c) {
  spec::HostConfig hc;
  spec::ContainerConfig config;
  std::vector<std::string> args;
  std::string image_id, path, name;
  {
    StateLock l(mu_);
    // A start right after an exit (docker start, or a restart whose stop saw the exit) waits for
    // the monitor to finish undoing the last run: its teardown would take this run's netns.
    WaitFor(clock_, mu_, cv_, std::chrono::seconds(30),
            [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !c->exit_cleanup || shutting_down_; });
    hc = c->host_config;
    config = c->config;
    image_id = c->image_id;
    path = c->path;
    args = c->args;
    name = c->name;
  }
  auto fail = [&](Status st, int exit_code) -> Status {
    volumes_->Unmount(c->id);
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
  if (!mounter_.Mounted(rootfs)) {
    Status st = mounter_.Mount(images_.LowerDirs(*image), dir + "/fs/upper", dir + "/fs/work", rootfs);
    if (!st.ok()) return fail(st, 128);
  }

  // Volumes mounted (and filled from the image while empty), -v sources made.
  auto mounts = volumes_->Mount(c->id, rootfs);
  if (!mounts.ok()) return fail(mounts.status(), 128);

  auto sandbox = network_.Setup(c->id, name, config, hc);
  if (!sandbox.ok()) return fail(sandbox.status(), 128);
  auto links = LinksForStart(c);
  if (!links.ok()) return fail(links.status(), 128);
  std::string hostname = config.hostname;
  if (Status st = sys::WriteFile(dir + "/hosts", std::string(kHosts) + sandbox->hosts_extra + links->hosts);
      !st.ok())
    return fail(st, 128);
  if (!sandbox->resolv_conf.empty())
    if (Status st = sys::WriteFile(dir + "/resolv.conf", sandbox->resolv_conf); !st.ok()) return fail(st, 128);

  OciInputs in;
  in.id = c->id;
  in.hostname = hostname;
  in.args.push_back(path);
  for (auto& a : args) in.args.push_back(a);
  bool has_path = false;
  for (auto& e : spec::OrEmpty(config.env)) {
    has_path |= absl::StartsWith(e, "PATH=");
    in.env.push_back(e);
  }
  // Link variables come before the container's own, which win over them (as in Docker).
  for (auto it = links->env.rbegin(); it != links->env.rend(); ++it) {
    std::string key = it->substr(0, it->find('=') + 1);
    bool own = std::any_of(in.env.begin(), in.env.end(),
                           [&](const std::string& e) { return absl::StartsWith(e, key); });
    if (!own) in.env.insert(in.env.begin(), *it);
  }
  if (!has_path) in.env.insert(in.env.begin(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  in.env.push_back("HOSTNAME=" + hostname);
  bool tty = config.tty;
  if (tty) in.env.push_back("TERM=xterm");
  in.cwd = config.working_dir;
  if (in.cwd.empty()) in.cwd = "/";
  Status ust = ResolveUser(rootfs, config.user, &in.uid, &in.gid, &in.additional_gids,
                           spec::OrEmpty(hc.group_add));
  if (!ust.ok()) return fail(ust, 128);
  in.tty = tty;
  in.rows = static_cast<int>(hc.console_size[0]);
  in.cols = static_cast<int>(hc.console_size[1]);
  in.container_dir = dir;
  in.netns_path = sandbox->netns_path;
  in.host_config = &hc;
  in.available_caps = HostCapabilities();
  in.init_path = paths_.init;
  in.mounts = std::move(mounts->mounts);
  in.rootfs_propagation = mounts->rootfs_propagation;
  if (absl::StartsWith(hc.pid_mode, "container:")) {
    // --pid container:NAME joins that container's namespace, which must be running now.
    std::string donor = hc.pid_mode.substr(10);
    auto d = Find(donor);
    if (!d.ok()) return fail(Annotate(d.status(), "join PID namespace"), 128);
    int donor_pid = 0;
    {
      StateLock l(mu_);
      if ((*d)->running()) donor_pid = (*d)->pid;
    }
    if (donor_pid <= 0 || *d == c)
      return fail(absl::FailedPreconditionError("cannot join PID of a non running container: " + donor), 128);
    in.pid_ns_path = "/proc/" + std::to_string(donor_pid) + "/ns/pid";
  }
  auto devices = ContainerDevices(hc);
  if (!devices.ok()) return fail(devices.status(), 128);
  in.devices = std::move(*devices);
  // Checked at create, and again now: a container created by an older berthd, which stored
  // these settings without applying them, gets the reason before runc (and a device is
  // stat()ed again, as dockerd does, for the numbers it has now).
  if (Status st = VerifyCgroupOptions(hc.resources, HostCgroupFeatures(),
                                      [](const std::string& p) { return ReadRtBandwidth(p); });
      !st.ok())
    return fail(st, 128);
  auto blkio = ResolveBlkioDevices(hc.resources);
  if (!blkio.ok()) return fail(blkio.status(), 128);
  in.blkio = std::move(*blkio);
  if (!in.cwd.empty() && in.cwd != "/") (void)sys::MkdirAll(rootfs + in.cwd, 0755);
  auto oci = BuildOciSpec(in);
  if (!oci.ok()) return fail(oci.status(), 128);
  if (Status st = sys::WriteFile(state + "/config.json", *oci); !st.ok()) return fail(st, 128);

  ShimStart s;
  s.id = c->id;
  s.bundle = state;
  s.state_dir = state;
  auto log = LogSettingsOf(hc.log_config);
  if (!log.ok()) return fail(log.status(), 128);
  s.log_path = LogFilePath(dir, c->id, log->driver);
  s.log = *log;
  if (log->driver == "local") (void)sys::MkdirAll(dir + "/local-logs", 0700);
  s.tty = tty;
  s.open_stdin = config.open_stdin;
  s.stdin_once = config.stdin_once;
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
  StartHealth(c);
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
  Changed();
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
        // It was killed or crashed: nobody holds the container's stdio any more, and its
        // processes, cgroups and runc state may be left (the shim removes them only after the
        // exit). runc kills and removes them, then the exit is recorded: before the network
        // goes and before a restart reuses the id (the container stays "running" until then).
        // On the executor, so that this thread, which serves every container's exits and exec
        // streams, never waits for runc. Not taken when shutting down: the next start's
        // recovery finds the shim gone and does the same.
        (void)work_.Post([this, id = w->id, code, nanos] {
          shim_.ForgetRuntimeState(id);
          OnExit(id, code, nanos);
        });
        continue;
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
    c->paused = false;
    c->exit_code = code;
    c->pid = 0;
    c->finished_at = finished;
    const std::string& policy = c->host_config.restart_policy.name;
    int64_t max = c->host_config.restart_policy.maximum_retry_count;
    auto_remove = c->host_config.auto_remove;
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
    if (restart_delay < 0) c->exit_cleanup = true;
    else c->exits++;
  }
  StopHealth(c);
  (void)Save(c);
  Emit(std::move(ev));
  NotifyExit(ExitEvent{id, code, finished, restart_delay >= 0});
  if (restart_delay < 0) {
    volumes_->Unmount(c->id);
    ReleaseRootfs(*c);
    network_.Teardown(c->id);
    StateLock l(mu_);
    c->mounted = false;
    c->exit_cleanup = false;
    c->exits++;
  }
  Changed();
  if (restart_delay >= 0) ScheduleRestart(id, restart_delay);
  if (auto_remove)
    work_.Post([this, c] {
      absl::MutexLock op(&c->op_mu);
      (void)RemoveLocked(c, true);  // --rm takes the anonymous volumes too, as Docker
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
        Changed();
      }
    });
  });
}

uint64_t ContainerManager::WatchExits(ExitHandler handler) {
  absl::MutexLock l(&watchers_mu_);
  uint64_t id = next_watcher_++;
  exit_watchers_[id] = std::move(handler);
  return id;
}

void ContainerManager::UnwatchExits(uint64_t id) {
  absl::MutexLock l(&watchers_mu_);
  exit_watchers_.erase(id);
}

void ContainerManager::NotifyExit(const ExitEvent& e) {
  absl::MutexLock l(&watchers_mu_);
  for (auto& [id, handler] : exit_watchers_) handler(e);
}

uint64_t ContainerManager::WatchHealth(HealthHandler handler) {
  absl::MutexLock l(&watchers_mu_);
  uint64_t id = next_watcher_++;
  health_watchers_[id] = std::move(handler);
  return id;
}

void ContainerManager::UnwatchHealth(uint64_t id) {
  absl::MutexLock l(&watchers_mu_);
  health_watchers_.erase(id);
}

void ContainerManager::NotifyHealth(const HealthEvent& e) {
  absl::MutexLock l(&watchers_mu_);
  for (auto& [id, handler] : health_watchers_) handler(e);
}

// ---------------------------------------------------------------------------------------------
// Stop, kill, restart, wait

Status ContainerManager::Kill(const std::string& name, const std::string& signal) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  int sig = ParseSignal(signal, SIGKILL);
  if (sig < 0) return absl::InvalidArgumentError("Invalid signal: " + signal);
  uint64_t exits;
  ContainerEvent ev;
  bool thaw;
  {
    StateLock l(mu_);
    if (c->status != "running")
      return absl::FailedPreconditionError("Container " + c->id + " is not running");
    if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT) c->manually_stopped = true;
    exits = c->exits;
    ev = EventLocked(*c, "kill", {{"signal", std::to_string(sig)}});
    // dockerd thaws a paused container for SIGKILL and its stop signal, which end it; any other
    // signal stays pending until unpause.
    thaw = sig == SIGKILL || sig == ParseSignal(c->config.stop_signal, SIGTERM);
  }
  (void)Save(c);
  RETURN_IF_ERROR(Signal(*c, sig));
  if (thaw) ThawForSignal(c);
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
    sig = ParseSignal(signal.empty() ? c->config.stop_signal : signal, SIGTERM);
    if (sig < 0) sig = SIGTERM;
    wait_s = timeout.value_or(static_cast<int>(c->config.stop_timeout.value_or(10)));
    exits = c->exits;
    kill_ev = EventLocked(*c, "kill", {{"signal", std::to_string(sig)}});
  }
  (void)Save(c);
  if (was_restarting) {
    Changed();
    return true;
  }
  RETURN_IF_ERROR(Signal(*c, sig));
  ThawForSignal(c);
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

StatusOr<WaitResult> ContainerManager::Wait(const std::string& name, const std::string& condition_in,
                                            const std::function<void()>& registered,
                                            const std::function<bool(int fd)>& block) {
  std::string condition = condition_in.empty() ? "not-running" : condition_in;
  if (condition != "not-running" && condition != "next-exit" && condition != "removed")
    return absl::InvalidArgumentError("invalid condition: \"" + condition + "\"");
  ASSIGN_OR_RETURN(auto c, Find(name));
  UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!fd.valid()) return ErrnoStatus(errno, "eventfd");
  uint64_t exits;
  {
    StateLock l(mu_);
    exits = c->exits;
    wait_fds_.push_back(fd.get());
  }
  auto forget = [&] {
    StateLock l(mu_);
    wait_fds_.erase(std::find(wait_fds_.begin(), wait_fds_.end(), fd.get()));
  };
  registered();
  auto done = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (shutting_down_) return true;
    if (condition == "removed") return c->removed;
    if (condition == "next-exit") return c->exits != exits || c->removed;
    return !c->running() || c->exits != exits || c->removed;
  };
  for (;;) {
    {
      StateLock l(mu_);
      if (done()) {
        wait_fds_.erase(std::find(wait_fds_.begin(), wait_fds_.end(), fd.get()));
        if (shutting_down_) return absl::UnavailableError("daemon is shutting down");
        return WaitResult{c->exit_code, ""};
      }
    }
    if (!block(fd.get())) {
      forget();
      return absl::CancelledError("client went away");
    }
    uint64_t v;
    (void)!::read(fd.get(), &v, sizeof v);
  }
}

void ContainerManager::Changed() {
  cv_.SignalAll();
  // Wait() callers re-check; an eventfd write never blocks, so it is done under the lock, which
  // keeps a waiter that is leaving from closing its fd in between.
  StateLock l(mu_);
  uint64_t one = 1;
  for (int fd : wait_fds_) (void)!::write(fd, &one, sizeof one);
}

// ---------------------------------------------------------------------------------------------
// Remove, rename

Status ContainerManager::Remove(const std::string& name, bool force) {
  return Remove(name, force, false);
}

Status ContainerManager::Remove(const std::string& name, bool force, bool remove_volumes) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  uint64_t exits;
  bool kill = false;
  {
    StateLock l(mu_);
    if (c->running() && !force) {
      if (c->paused)
        return absl::FailedPreconditionError(
            "You cannot remove a paused container " + c->id +
            ". Unpause and then stop the container before attempting removal or force remove");
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
    ThawForSignal(c);
    AwaitExit(c, exits, std::chrono::seconds(30));
  }
  absl::MutexLock op(&c->op_mu);
  return RemoveLocked(c, remove_volumes);
}

Status ContainerManager::RemoveLocked(const std::shared_ptr<Container>& c, bool remove_volumes) {
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
  volumes_->Detach(c->id, remove_volumes);
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
  Changed();
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
  RETURN_IF_ERROR(Annotate(volumes_->Recover(), "recover volumes"));
  std::vector<std::shared_ptr<Container>> all;
  for (auto& o : store_.List("container")) {
    auto c = Container::FromDoc(o.doc);
    if (!c.ok()) {
      spdlog::error("container {}: unreadable record, left alone: {}", o.id, c.status().ToString());
      continue;
    }
    if (!(*c)->id.empty()) all.push_back(*c);
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
      (void)absl::SimpleAtoi(reply.substr(8), &pid);
      {
        StateLock l(mu_);
        c->status = "running";
        c->pid = pid;
        c->mounted = true;
      }
      Status st = WatchExit(c);
      if (st.ok()) st = shim_.Simple(state, "RELEASE");
      if (st.ok()) {
        StartHealth(c);  // as dockerd's restore: "starting" again, the log kept
        continue;
      }
      spdlog::warn("container {}: adopt: {}", c->id, st.ToString());
    }
    int code = 255;
    int64_t nanos = UnixNanos(clock_.Now());
    ReadExitFile(state, &code, &nanos);
    // runc may still hold state for a container whose shim died with it; removed before the
    // exit is recorded, which may schedule a restart of the same id.
    shim_.ForgetRuntimeState(c->id);
    OnExit(c->id, code, nanos);
  }
  // Mounts of containers that are gone are forgotten; local volumes mounted as running
  // containers need them.
  std::set<std::string> ids, running;
  {
    StateLock l(mu_);
    for (auto& [id, c] : containers_) {
      ids.insert(id);
      if (c->running()) running.insert(id);
    }
  }
  volumes_->Reconcile(ids, running);
  return absl::OkStatus();
}

}  // namespace berth::engine
