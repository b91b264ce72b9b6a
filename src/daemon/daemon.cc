#include "daemon/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <climits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include <set>
#include "api/routes.h"
#include "api/server.h"
#include "cluster/cluster.h"
#include "common/ids.h"
#include "daemon/api_listen.h"
#include "engine/containers.h"
#include "engine/events.h"
#include "engine/distribution/distribution.h"
#include "engine/images.h"
#include "engine/runtime.h"
#include "engine/store.h"
#include "network/controller.h"
#include "network/overlay_driver.h"
#include "network/dns/server.h"
#include "engine/log_config.h"
#include "network/firewall/applier.h"
#include "network/firewall/firewall.h"
#include "nlohmann/json.hpp"
#include "registry/client/registry.h"
#include "registry/reference.h"
#include "spdlog/spdlog.h"
#include "sys/fs.h"
#include "sys/subprocess.h"

namespace berth::daemon {

Status LoadConfigFile(const std::string& path, Config* cfg) {
  ASSIGN_OR_RETURN(std::string data, sys::ReadFile(path));
  auto j = nlohmann::json::parse(data, nullptr, false);
  if (!j.is_object()) return absl::InvalidArgumentError("config file " + path + ": invalid JSON");
  static const std::set<std::string> kKnown = {"hosts", "data-root", "exec-root", "pidfile", "init-path",
                                               "log-level", "log-driver", "log-opts", "debug", "iptables", "tls",
                                               "tlsverify", "tlscacert", "tlscert", "tlskey",
                                               "ipv6", "fixed-cidr-v6", "insecure-registries",
                                               "registry-mirrors", "max-concurrent-downloads",
                                               "max-concurrent-uploads"};
  for (auto& [k, v] : j.items())
    if (!kKnown.count(k))
      return absl::InvalidArgumentError("config file " + path + ": unknown option \"" + k + "\"");
  try {
    if (j.contains("hosts")) cfg->hosts = j["hosts"].get<std::vector<std::string>>();
    if (j.contains("data-root")) cfg->data_root = j["data-root"];
    if (j.contains("exec-root")) cfg->exec_root = j["exec-root"];
    if (j.contains("pidfile")) cfg->pidfile = j["pidfile"];
    if (j.contains("init-path")) cfg->init_path = j["init-path"];
    if (j.contains("log-level")) cfg->log_level = j["log-level"];
    if (j.contains("log-driver")) cfg->log_driver = j["log-driver"].get<std::string>();
    if (j.contains("log-opts"))
      cfg->log_opts = j["log-opts"].get<std::map<std::string, std::string>>();
    if (j.contains("debug")) cfg->debug = j["debug"];
    if (j.contains("tls")) cfg->tls = j["tls"].get<bool>();
    if (j.contains("tlsverify")) cfg->tls_verify = j["tlsverify"].get<bool>();
    if (j.contains("tlscacert")) cfg->tls_ca = j["tlscacert"];
    if (j.contains("tlscert")) cfg->tls_cert = j["tlscert"];
    if (j.contains("tlskey")) cfg->tls_key = j["tlskey"];
    if (j.contains("ipv6")) cfg->ipv6 = j["ipv6"].get<bool>();
    if (j.contains("fixed-cidr-v6")) cfg->fixed_cidr_v6 = j["fixed-cidr-v6"].get<std::string>();
    if (j.contains("insecure-registries"))
      cfg->insecure_registries = j["insecure-registries"].get<std::vector<std::string>>();
    if (j.contains("registry-mirrors"))
      cfg->registry_mirrors = j["registry-mirrors"].get<std::vector<std::string>>();
    if (j.contains("max-concurrent-downloads"))
      cfg->max_concurrent_downloads = j["max-concurrent-downloads"].get<int>();
    if (j.contains("max-concurrent-uploads"))
      cfg->max_concurrent_uploads = j["max-concurrent-uploads"].get<int>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError("config file " + path + ": " + e.what());
  }
  return absl::OkStatus();
}

Status ValidateRegistryConfig(Config* cfg) {
  // dockerd's ValidateMirror.
  for (std::string& m : cfg->registry_mirrors) {
    std::string_view v = m;
    size_t scheme_end = v.find("://");
    std::string scheme = scheme_end == std::string_view::npos ? "" : std::string(v.substr(0, scheme_end));
    if (scheme != "http" && scheme != "https")
      return absl::InvalidArgumentError("invalid mirror: unsupported scheme \"" + scheme + "\" in \"" + m + "\"");
    std::string_view rest = v.substr(scheme_end + 3);
    size_t slash = rest.find_first_of("/?#");
    std::string_view host = rest.substr(0, slash);
    std::string_view tail = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (host.empty()) return absl::InvalidArgumentError("invalid mirror: \"" + m + "\" is not a valid URI");
    if (!tail.empty() && tail != "/")
      return absl::InvalidArgumentError("invalid mirror: path, query, or fragment at end of the URI \"" + m + "\"");
    if (host.find('@') != std::string_view::npos)
      return absl::InvalidArgumentError("invalid mirror: username/password not allowed in URI \"" + m + "\"");
    if (!absl::EndsWith(m, "/")) m += "/";
  }
  // dockerd's LoadInsecureRegistries: an http:// or https:// prefix is dropped (dockerd warns),
  // any other scheme is refused; what is not a CIDR must be host[:port].
  for (std::string& r : cfg->insecure_registries) {
    std::string lower = absl::AsciiStrToLower(r);
    if (absl::StartsWith(lower, "http://")) r = r.substr(7);
    else if (absl::StartsWith(lower, "https://")) r = r.substr(8);
    else if (r.find("://") != std::string::npos)
      return absl::InvalidArgumentError("insecure registry " + r + " should not contain '://'");
    if (r.empty() || r.find_first_of("/ ") != std::string::npos) {
      bool cidr = r.find('/') != std::string::npos && r.find('/') == r.rfind('/') &&
                  r.find_first_not_of("0123456789abcdefABCDEF.:/") == std::string::npos;
      if (!cidr) return absl::InvalidArgumentError("insecure registry " + r + " is not valid: invalid host \"" + r + "\"");
    }
  }
  // dockerd refuses negative limits and takes 0 as "no limit"; Berth needs a bound.
  if (cfg->max_concurrent_downloads < 1)
    return absl::InvalidArgumentError("invalid max concurrent downloads: " +
                                      std::to_string(cfg->max_concurrent_downloads) +
                                      " (Berth needs at least 1)");
  if (cfg->max_concurrent_uploads < 1)
    return absl::InvalidArgumentError("invalid max concurrent uploads: " +
                                      std::to_string(cfg->max_concurrent_uploads) +
                                      " (Berth needs at least 1)");
  if (cfg->registry_certs_dirs.empty()) cfg->registry_certs_dirs = {"/etc/docker/certs.d", "/etc/berth/certs.d"};
  return absl::OkStatus();
}

Status CheckDefaultIpv6(const Config& cfg) {
  // dockerd 20.10 has no default IPv6 pool: --ipv6 alone fails to make the default bridge.
  if (cfg.ipv6 && cfg.fixed_cidr_v6.empty())
    return absl::InvalidArgumentError(
        "Error creating default \"bridge\" network: could not find an available, non-overlapping IPv6 address "
        "pool among the defaults to assign to the network (give --fixed-cidr-v6 with --ipv6)");
  // dockerd ignores fixed-cidr-v6 without ipv6; a setting Berth cannot honour is refused instead.
  if (!cfg.ipv6 && !cfg.fixed_cidr_v6.empty())
    return absl::InvalidArgumentError("fixed-cidr-v6 " + cfg.fixed_cidr_v6 + " needs --ipv6 (daemon.json \"ipv6\": true)");
  return absl::OkStatus();
}

namespace {

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.find_last_of('/'));
}

// A pid file held with an exclusive lock for the daemon's lifetime: a second daemon on the
// same roots fails at once instead of fighting over the store.
StatusOr<int> LockPidFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "open pid file " + path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError("pid file found, ensure berthd is not running or delete " + path);
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  (void)!::ftruncate(fd, 0);
  (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  return fd;
}

// What this node tells the swarm's managers about itself (Node.Description), as dockerd does.
spec::NodeDescription NodeDescription(const std::string& hostname) {
  spec::NodeDescription d;
  d.hostname = hostname;
  d.platform.architecture = "x86_64";
  d.platform.os = "linux";
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  long pages = ::sysconf(_SC_PHYS_PAGES);
  long page = ::sysconf(_SC_PAGE_SIZE);
  d.resources.nano_cpus = int64_t{cpus > 0 ? cpus : 1} * 1'000'000'000;
  d.resources.memory_bytes = pages > 0 && page > 0 ? int64_t{pages} * page : 0;
  d.engine.engine_version = "0.1.0";
  std::vector<spec::PluginDescription> plugins = {
      {"Log", "json-file"}, {"Log", "local"},     {"Network", "bridge"}, {"Network", "host"},
      {"Network", "macvlan"}, {"Network", "null"}, {"Volume", "local"}};
  d.engine.plugins = plugins;
  return d;
}

}  // namespace

struct Daemon::Impl {
  Config cfg;
  SystemClock clock;
  int pid_fd = -1;
  std::unique_ptr<engine::Store> store;
  std::unique_ptr<engine::EventBus> events;
  std::unique_ptr<engine::ImageStore> images;
  std::unique_ptr<registry::Registries> registries;
  std::unique_ptr<engine::Distribution> distribution;
  std::unique_ptr<engine::ShimClient> shim;
  engine::OverlayMounter mounter;
  std::unique_ptr<sys::Rtnl> host_rtnl;  // netlink in berthd's own namespace, shared (thread-safe)
  std::unique_ptr<network::firewall::Applier> firewall;  // uses host_rtnl
  std::unique_ptr<network::dns::Server> dns;
  std::unique_ptr<network::NetKernel> net_kernel;
  std::unique_ptr<network::Controller> network;
  std::unique_ptr<engine::ContainerManager> containers;
  std::unique_ptr<cluster::Cluster> cluster;
  std::unique_ptr<api::Backend> backend;
  api::Router router;
  std::unique_ptr<api::ApiServer> server;
};

Daemon::Daemon(Config cfg) : impl_(std::make_unique<Impl>()) { impl_->cfg = std::move(cfg); }

Daemon::~Daemon() { Stop(); }

Status Daemon::Start() {
  Impl& d = *impl_;
  Config& cfg = d.cfg;
  if (cfg.hosts.empty()) cfg.hosts.push_back("unix:///run/berth.sock");
  if (cfg.pidfile.empty()) cfg.pidfile = cfg.exec_root + "/berthd.pid";
  if (cfg.shim.empty()) cfg.shim = SelfDir() + "/berth-shim";
  if (::access(cfg.shim.c_str(), X_OK) != 0)
    return absl::FailedPreconditionError("berth-shim not found at " + cfg.shim + " (--shim)");
  RETURN_IF_ERROR(engine::ValidateDaemonLogConfig(spec::LogConfig{
      cfg.log_driver, spec::StringMap(cfg.log_opts.begin(), cfg.log_opts.end())}));
  // TLS and the tcp:// rule first: a refused host or a bad certificate fails before any work.
  ASSIGN_OR_RETURN(auto api_tls, ApiTls(cfg));
  RETURN_IF_ERROR(ValidateRegistryConfig(&cfg));
  RETURN_IF_ERROR(sys::MkdirAll(cfg.data_root, 0711));
  RETURN_IF_ERROR(sys::MkdirAll(cfg.exec_root, 0700));
  ASSIGN_OR_RETURN(d.pid_fd, LockPidFile(cfg.pidfile));

  auto runc = sys::Run({cfg.runc, "--version"});
  if (!runc.ok() || runc->exit_code != 0)
    return absl::FailedPreconditionError("runc not usable (" + cfg.runc + "): install the runc package");
  std::string runc_version = runc->out.substr(0, runc->out.find('\n'));
  if (auto sp = runc_version.find_last_of(' '); sp != std::string::npos)
    runc_version = runc_version.substr(sp + 1);

  ASSIGN_OR_RETURN(d.store, engine::Store::Open(cfg.data_root + "/berth.db"));
  d.events = std::make_unique<engine::EventBus>(d.clock);
  d.images = std::make_unique<engine::ImageStore>(*d.store, d.clock, cfg.data_root + "/image");
  RETURN_IF_ERROR(Annotate(d.images->Recover(), "recover images"));
  {
    registry::RegistryOptions ropts;
    ropts.insecure_registries = cfg.insecure_registries;
    ropts.mirrors = cfg.registry_mirrors;
    ropts.certs_dirs = cfg.registry_certs_dirs;
    d.registries = std::make_unique<registry::Registries>(std::move(ropts));
    // Pulls download into <data-root>/image/tmp (the store's own file system, so a verified
    // blob is renamed into place, not copied).
    RETURN_IF_ERROR(sys::MkdirAll(cfg.data_root + "/image/tmp", 0700));
    d.distribution = std::make_unique<engine::Distribution>(
        *d.images, *d.registries, cfg.max_concurrent_downloads, cfg.max_concurrent_uploads,
        cfg.data_root + "/image/tmp");
  }
  engine::RuntimePaths rp;
  rp.runc = cfg.runc;
  rp.runtime_root = cfg.exec_root + "/runc";
  rp.shim = cfg.shim;
  d.shim = std::make_unique<engine::ShimClient>(rp);
  {
    // The table is applied by berth-nft, a separate GPL-2.0 program (libnftables may not be
    // linked into berthd); Check starts it, so a missing or broken helper stops berthd here.
    if (cfg.nft_helper.empty()) cfg.nft_helper = SelfDir() + "/berth-nft";
    auto fw = cfg.iptables ? network::firewall::NewNftHelperFirewall(cfg.nft_helper)
                           : network::firewall::NewNoopFirewall();
    if (cfg.iptables) RETURN_IF_ERROR(Annotate(fw->Check(), "firewall"));
    ASSIGN_OR_RETURN(d.host_rtnl, sys::Rtnl::Open(nullptr));
    // Published ports: nftables, and the eBPF path beside it for connections from other hosts.
    if (cfg.iptables) {
      fw = network::firewall::NewFastPublishFirewall(std::move(fw), *d.host_rtnl);
    } else {
      network::firewall::DetachFastPublish(*d.host_rtnl);
    }
    d.firewall = std::make_unique<network::firewall::Applier>(std::move(fw));
  }
  auto resolv = sys::ReadFile("/etc/resolv.conf");
  d.dns = std::make_unique<network::dns::Server>(
      network::dns::Server::UpstreamsFromResolvConf(resolv.ok() ? *resolv : ""), 2000, &d.clock);
  RETURN_IF_ERROR(Annotate(d.dns->Start(), "embedded DNS"));
  network::ControllerOptions nopts;
  nopts.exec_root = cfg.exec_root;
  nopts.default_subnet = cfg.bridge_ip;  // --bip 172.17.0.1/16: the default bridge's gateway and subnet
  RETURN_IF_ERROR(CheckDefaultIpv6(cfg));
  if (cfg.ipv6) nopts.default_subnet6 = cfg.fixed_cidr_v6;
  d.net_kernel = network::NewLinuxNetKernel(*d.host_rtnl);
  d.network = std::make_unique<network::Controller>(*d.store, *d.events, d.clock, nopts,
                                                    *d.net_kernel, *d.firewall, d.dns.get());
  d.network->AddDriver(std::make_unique<network::BridgeDriver>(*d.host_rtnl, nopts.default_bridge));
  d.network->AddDriver(std::make_unique<network::MacvlanDriver>(*d.host_rtnl));
  // Swarm overlays: their namespaces beside the sandboxes' (<exec-root>/netns/ov-<vni>).
  d.network->AddDriver(
      std::make_unique<network::OverlayDriver>(*d.host_rtnl, cfg.exec_root + "/netns"));
  d.network->SetMeshOptions({cfg.nft_helper, nullptr});  // the routing mesh's tables, through berth-nft
  RETURN_IF_ERROR(Annotate(d.network->Recover(), "recover networks"));
  // --init binds a static init into the container: Debian's tini-static unless --init-path says.
  if (cfg.init_path.empty())
    for (const char* p : {"/usr/bin/tini-static", "/usr/libexec/docker/docker-init", "/usr/bin/docker-init"})
      if (::access(p, X_OK) == 0) {
        cfg.init_path = p;
        break;
      }
  d.containers = std::make_unique<engine::ContainerManager>(
      *d.store, *d.images, *d.events, *d.shim, d.mounter, d.clock,
      engine::EnginePaths{cfg.data_root, cfg.exec_root, cfg.init_path}, *d.network);
  d.containers->SetLogDefaults(spec::LogConfig{
      cfg.log_driver, spec::StringMap(cfg.log_opts.begin(), cfg.log_opts.end())});
  d.images->SetUserLookup([c = d.containers.get()](const std::string& id) { return c->ImageUser(id); });
  d.network->SetContainerLookup([c = d.containers.get()](const std::string& name)
                                    -> StatusOr<network::ContainerRef> {
    ASSIGN_OR_RETURN(auto ref, c->Lookup(name));
    return network::ContainerRef{ref.id, ref.name, ref.running};
  });
  RETURN_IF_ERROR(Annotate(d.containers->Recover(), "recover containers"));
  {
    std::set<std::string> running;
    auto list = d.containers->List(false, spec::Filters(), 0, false);
    if (list.ok())
      for (auto& x : *list) running.insert(x.id);
    RETURN_IF_ERROR(Annotate(d.network->Reconcile(running), "reconcile networks"));
  }

  // The daemon's identity survives restarts.
  auto id = d.store->Get("daemon", "id");
  std::string daemon_id;
  if (id) {
    auto doc = nlohmann::json::parse(id->doc, nullptr, false);
    if (doc.is_object()) daemon_id = doc.value("id", "");
  }
  if (daemon_id.empty()) {
    daemon_id = NewId().substr(0, 36);
    RETURN_IF_ERROR(d.store->Put("daemon", "id", "", nlohmann::json{{"id", daemon_id}}.dump()));
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  d.backend.reset(new api::Backend{*d.containers, *d.images, *d.events, d.clock,
                                   api::DaemonInfo{daemon_id, host, cfg.data_root, cfg.exec_root,
                                                   cfg.debug, "runc", runc_version},
                                   {}});
  d.backend->distribution = d.distribution.get();
  d.backend->registries = d.registries.get();
  {
    cluster::ClusterOptions co;
    co.data_root = cfg.data_root;
    co.etcd_binary = cfg.etcd_binary;
    co.etcd_client_port = cfg.etcd_client_port;
    co.clock = &d.clock;
    co.description = NodeDescription(host);
    co.containers = d.containers.get();
    co.run_root = cfg.exec_root + "/swarm/tasks";
    engine::ImageStore* images = d.images.get();
    engine::Distribution* distribution = d.distribution.get();
    // A task's image: the local one, else pulled from its registry with the service's
    // X-Registry-Auth (--with-registry-auth; anonymously without, or when it does not decode,
    // as dockerd); Docker's "No such image" when neither.
    co.ensure_image = [images, distribution](const std::string& image,
                                             const std::string& registry_auth) -> Status {
      if (images->Get(image).ok()) return absl::OkStatus();
      if (distribution != nullptr) {
        StatusOr<registry::Reference> ref = registry::ParseNormalized(image);
        if (ref.ok()) {
          engine::PullOptions opts;
          if (!registry_auth.empty()) {
            StatusOr<registry::AuthConfig> auth = registry::DecodeRegistryAuth(registry_auth);
            if (auth.ok()) opts.auth = *auth;
          }
          StatusOr<std::string> pulled = distribution->Pull(*ref, opts, nullptr);
          if (pulled.ok()) return absl::OkStatus();
          spdlog::warn("swarm: pulling {} for a task failed: {}", image, pulled.status().ToString());
        }
      }
      return absl::NotFoundError(absl::StrCat("No such image: ", image));
    };
    co.networks = d.network.get();
    d.cluster = std::make_unique<cluster::Cluster>(std::move(co));
    // `docker run --net ov1` on any node of a swarm: the leader gives the address.
    cluster::Cluster* cl = d.cluster.get();
    network::Controller::SwarmAttacher attacher;
    attacher.attach = [cl](const std::string& net, const std::string& id, const std::string& name)
        -> StatusOr<std::pair<network::SwarmNetworkSpec, std::string>> {
      ASSIGN_OR_RETURN(cluster::ContainerAttachment a, cl->AttachContainer(net, id, name));
      return std::make_pair(std::move(a.network), std::move(a.ip));
    };
    attacher.detach = [cl](const std::string& id) {
      if (Status s = cl->DetachContainer(id); !s.ok())
        spdlog::warn("swarm: releasing container {}'s overlay addresses: {}", id, s.ToString());
    };
    attacher.in_swarm = [cl] { return cl->Active(); };
    d.network->SetSwarmAttacher(std::move(attacher));
    d.cluster->Start();
    d.backend->cluster = d.cluster.get();
  }
  api::AddSystemRoutes(d.router, *d.backend);
  api::AddDistributionRoutes(d.router, *d.backend);
  api::AddSwarmRoutes(d.router, *d.backend);
  api::AddServiceRoutes(d.router, *d.backend);
  api::AddImageRoutes(d.router, *d.backend);
  api::AddContainerRoutes(d.router, *d.backend);
  api::AddFsRoutes(d.router, *d.backend);
  api::AddLifecycleRoutes(d.router, *d.backend);
  api::AddVolumeRoutes(d.router, *d.backend);
  api::AddNetworkRoutes(d.router, *d.backend, *d.network);
  api::ServerOptions sopts;
  sopts.tmp_dir = cfg.data_root + "/image/tmp";
  sopts.max_upload = cfg.max_upload;
  sopts.max_connections = cfg.max_connections;
  sopts.header_timeout = cfg.header_timeout;
  sopts.idle_timeout = cfg.idle_timeout;
  sopts.tls = std::move(api_tls);
  d.server = std::make_unique<api::ApiServer>(d.router, std::move(sopts));
  for (auto& h : cfg.hosts) RETURN_IF_ERROR(d.server->Listen(h));
  d.server->Serve();
  spdlog::info("berthd serving on {}", absl::StrJoin(cfg.hosts, ", "));
  return absl::OkStatus();
}

void Daemon::Stop() {
  Impl& d = *impl_;
  if (d.server) d.server->Stop();
  // The swarm agent and manager (etcd too); the node stays in its swarm for the next start.
  if (d.cluster) d.cluster->Stop();
  if (d.events) d.events->Close();
  // Containers keep running under their shims (live restore); only our threads stop.
  if (d.containers) d.containers->Shutdown();
  d.dns.reset();
  if (d.firewall) d.firewall->Shutdown();
  if (d.pid_fd >= 0) {
    ::unlink(d.cfg.pidfile.c_str());
    ::close(d.pid_fd);
    d.pid_fd = -1;
  }
}

}  // namespace berth::daemon
