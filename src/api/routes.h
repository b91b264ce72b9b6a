#pragma once
// The Engine API routes: thin adapters from HTTP to the engine's managers. Each handler parses
// the request, calls one manager method, and maps its Status to Docker's HTTP answer.

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "api/server.h"
#include "common/fd.h"
#include "engine/containers.h"
#include "engine/events.h"
#include "engine/images.h"
#include "registry/client/registry.h"
#include "spec/filters.h"

namespace berth::cluster {
class Cluster;
}

namespace berth::engine {
class Distribution;
struct PullProgress;
}

namespace berth::api {

struct DaemonInfo {
  std::string id;
  std::string name;
  std::string data_root;
  std::string exec_root;
  bool debug = false;
  std::string default_runtime = "runc";
  std::string runc_version;
};

// Live exec streams by exec id, so POST /exec/{id}/resize (another connection) can reach the
// stream's shim connection. Writers to a stream's fd hold its mutex.
class ExecStreams {
 public:
  struct Entry {
    absl::Mutex mu;
    int fd ABSL_GUARDED_BY(mu) = -1;  // the shim stream once the exec runs
    int rows ABSL_GUARDED_BY(mu) = 0;  // the last size the client asked for
    int cols ABSL_GUARDED_BY(mu) = 0;
    // An eventfd that every resize writes to, made only while a start waits for the size.
    UniqueFd sized ABSL_GUARDED_BY(mu);
  };
  std::shared_ptr<Entry> Add(const std::string& id, int fd);
  void Remove(const std::string& id);
  std::shared_ptr<Entry> Find(const std::string& id);

 private:
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
};

struct Backend {
  engine::ContainerManager& containers;
  engine::ImageStore& images;
  engine::EventBus& events;
  const Clock& clock;
  DaemonInfo info;
  ExecStreams exec_streams;
  // Pull, push, login and GET /distribution (routes_distribution.cc); set by the daemon before
  // the routes serve. Null: those routes answer 501.
  engine::Distribution* distribution = nullptr;
  registry::Registries* registries = nullptr;
  // Swarm mode (routes_swarm.cc, info's "Swarm"); set by the daemon before the routes serve.
  cluster::Cluster* cluster = nullptr;
};

// The `filters` query parameter, decoded once by Docker's rules (spec::ParseFilters).
StatusOr<spec::Filters> RequestFilters(const Request& req);

void AddSystemRoutes(Router& r, Backend& b);
void AddImageRoutes(Router& r, Backend& b);
void AddContainerRoutes(Router& r, Backend& b);
// docker diff, cp and commit (routes_fs.cc).
void AddFsRoutes(Router& r, Backend& b);
// X-Docker-Container-Path-Stat: base64 of the JSON {"name","size","mode","mtime","linkTarget"},
// as dockerd sends it.
std::string PathStatHeader(const engine::PathStat& stat);
// pause, unpause, update (routes_lifecycle.cc).
void AddLifecycleRoutes(Router& r, Backend& b);
// /volumes (routes_volumes.cc).
void AddVolumeRoutes(Router& r, Backend& b);
// POST /images/create?fromImage= (pull), POST /images/{name}/push, POST /auth,
// GET /distribution/{name}/json (routes_distribution.cc). Register before AddImageRoutes.
void AddDistributionRoutes(Router& r, Backend& b);
// Pull's handler for POST /images/create with fromImage (AddImageRoutes calls it).
void PullImage(Backend& b, Request& req, Conn& c);
// One line of a pull or push stream as dockerd's streamformatter writes it ("\r\n"-ended).
std::string EncodeProgressMessage(const engine::PullProgress& p);
// An AuthConfig JSON body (POST /auth, push without X-Registry-Auth), keys matched as Go does.
StatusOr<registry::AuthConfig> ParseAuthConfigJson(std::string_view body);
// The RegistryConfig of GET /info, as dockerd renders its registry service config.
nlohmann::ordered_json RenderRegistryConfig(const registry::RegistryOptions& opts);
// An image whose config names another platform than linux/amd64 cannot run here: the 400 that
// container create answers (empty when it can run). `platform` is create's ?platform=.
Status CheckRunnablePlatform(const engine::Image& img, const std::string& ref,
                             const std::string& platform);
// /swarm and /nodes (routes_swarm.cc); the collections of later issues answer as empty.
// Swarm routes' shared refusals: the cluster's state only on a manager (Docker's 503s outside a
// swarm and on a worker), and ?version= of an update ("invalid <what> version ...").
Status RequireSwarmManager(cluster::Cluster& cl);
StatusOr<uint64_t> SwarmVersionQuery(const Request& req, std::string_view what);
// /services, /tasks, /secrets, /configs (routes_services.cc).
void AddServiceRoutes(Router& r, Backend& b);
void AddSwarmRoutes(Router& r, Backend& b);
}  // namespace berth::api
namespace berth::network {
class NetworkService;
}
namespace berth::api {
void AddNetworkRoutes(Router& r, Backend& b, network::NetworkService& net);
}  // namespace berth::api
