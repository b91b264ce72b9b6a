#pragma once
// ContainerManager: Docker's container lifecycle (create, start, stop, kill, restart, wait, rm,
// attach, exec, logs, top, stats) on runc through berth-shim.
//
// Threading: mu_ guards the container table and every Container's fields; cv_ is signalled on
// every state change (waiters, stop timeouts). Lifecycle operations on one container are
// serialized by that container's op_mu (taken before mu_, never while holding mu_), so a slow
// `stop -t 10` blocks only its own container. Exits arrive on the monitor thread.

#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/fd.h"
#include "common/status.h"
#include "engine/events.h"
#include "engine/images.h"
#include "engine/runtime.h"
#include "engine/store.h"
#include "nlohmann/json.hpp"

namespace berth::engine {

struct EnginePaths {
  std::string data_root;  // containers/<id>: config files, logs, overlay upper/work
  std::string exec_root;  // c/<id>: bundle, rootfs mount point, shim state
};

// Network attachment hook: the network controller implements it. The default gives every
// container a fresh namespace with only loopback (host mode shares the daemon's).
class NetworkAttacher {
 public:
  virtual ~NetworkAttacher() = default;
  // Validates the network part of a create request (before anything is made).
  virtual Status Validate(const nlohmann::json& host_config, const nlohmann::json& networking) {
    return absl::OkStatus();
  }
  // The container exists now: remember which networks it belongs to. Detach forgets it.
  virtual Status Attach(const std::string& id, const std::string& name,
                        const nlohmann::json& host_config, const nlohmann::json& networking) {
    return absl::OkStatus();
  }
  virtual void Detach(const std::string& id) {}
  struct Sandbox {
    std::string netns_path;   // "" = a new namespace made by runc, "host" = the daemon's
    std::string hosts_extra;  // lines for /etc/hosts
    std::string resolv_conf;  // contents of /etc/resolv.conf
  };
  // Before the container starts: sandbox, endpoints, published ports.
  virtual StatusOr<Sandbox> Setup(const std::string& id, const std::string& name,
                                  const nlohmann::json& config, const nlohmann::json& host_config,
                                  const nlohmann::json& networking);
  // After it stopped (idempotent).
  virtual void Teardown(const std::string& id) {}
  // NetworkSettings for inspect; empty: the manager shows an empty one.
  virtual nlohmann::json Settings(const std::string& id, const nlohmann::json& host_config) {
    return nlohmann::json::object();
  }
  virtual void Rename(const std::string& id, const std::string& name) {}
};

struct Container;
struct ExecInstance;

// A hijacked stream to a shim: frames in Docker's stdcopy format both ways (docs/shim.md).
struct ShimStream {
  UniqueFd fd;
  bool tty = false;
};

class ContainerManager {
 public:
  ContainerManager(Store& store, ImageStore& images, EventBus& events, const ShimClient& shim,
                   const Clock& clock, EnginePaths paths, NetworkAttacher& network);
  ~ContainerManager();

  Status Recover();
  void Shutdown();

  // Returns {id, warnings}.
  StatusOr<std::pair<std::string, std::vector<std::string>>> Create(const std::string& name,
                                                                   const nlohmann::json& body);
  // false: already running (HTTP 304).
  StatusOr<bool> Start(const std::string& name);
  // false: not running (HTTP 304).
  StatusOr<bool> Stop(const std::string& name, std::optional<int> timeout,
                      const std::string& signal = "");
  Status Kill(const std::string& name, const std::string& signal);
  Status Restart(const std::string& name, std::optional<int> timeout);
  // Blocks until the condition ("not-running", "next-exit", "removed") holds; `registered` is
  // called once the waiter is in place (the API sends the 200 header then).
  StatusOr<nlohmann::json> Wait(const std::string& name, const std::string& condition,
                                const std::function<void()>& registered,
                                const std::function<bool()>& cancelled);
  Status Remove(const std::string& name, bool force);
  Status Rename(const std::string& name, const std::string& new_name);
  StatusOr<nlohmann::json> Inspect(const std::string& name, bool size);
  StatusOr<std::vector<nlohmann::json>> List(bool all, const nlohmann::json& filters, int limit,
                                             bool size);
  StatusOr<nlohmann::json> Top(const std::string& name, const std::string& ps_args);
  StatusOr<nlohmann::json> Stats(const std::string& name);
  StatusOr<nlohmann::json> Prune(const nlohmann::json& filters);
  Status Resize(const std::string& name, int rows, int cols);

  // Attaches to the container's stdio; if it is not running yet, waits for its next start
  // (docker run attaches before it starts the container).
  StatusOr<ShimStream> Attach(const std::string& name, bool in, bool out, bool err);

  struct LogSource {
    std::string id;
    std::string log_path;
    std::string state_dir;
    bool tty = false;
    bool running = false;
  };
  StatusOr<LogSource> Logs(const std::string& name);
  // Whether the container with this id is running now (logs -f stops when it is not).
  bool Running(const std::string& id);

  StatusOr<std::string> ExecCreate(const std::string& name, const nlohmann::json& body);
  // Starts the exec; the stream ends with an exit frame. With detach the stream is drained by a
  // background thread.
  // rows/cols: the terminal size for a tty exec (0: unknown). A runtime failure (the process
  // could not be started) is Aborted, with the exec's exit code already set (126, as dockerd).
  StatusOr<ShimStream> ExecStart(const std::string& exec_id, bool detach, int rows = 0,
                                 int cols = 0);
  StatusOr<nlohmann::json> ExecInspect(const std::string& exec_id);
  // The API reports an attached exec's exit code (from the stream's exit frame; -1 unknown).
  void ExecExited(const std::string& exec_id, int code);
  Status ExecResize(const std::string& exec_id, int rows, int cols);

  // The id of a container that uses the image, if any (image rm/prune leave those alone).
  std::optional<std::string> ImageUser(const std::string& image_id);
  // Resolves a name, id or id prefix to a full id.
  StatusOr<std::string> Resolve(const std::string& name);

 private:
  std::shared_ptr<Container> FindLocked(const std::string& name, Status* st);
  StatusOr<std::shared_ptr<Container>> Find(const std::string& name);
  Status Persist(const Container& c);
  Status StartLocked(const std::shared_ptr<Container>& c);
  void OnExit(const std::string& id, int code, int64_t finished_nanos);
  void MonitorLoop();
  Status WatchExit(const std::shared_ptr<Container>& c);
  void ReleaseRootfs(const Container& c);
  Status RemoveLocked(const std::shared_ptr<Container>& c);
  nlohmann::json InspectLocked(const Container& c, bool size);
  nlohmann::json SummaryLocked(const Container& c, bool size);
  std::string StateDir(const std::string& id) const;
  std::string ContainerDir(const std::string& id) const;
  void Publish(const Container& c, const std::string& action,
               std::map<std::string, std::string> extra = {});
  void ScheduleRestart(const std::string& id, int64_t delay_ms);

  Store& store_;
  ImageStore& images_;
  EventBus& events_;
  const ShimClient& shim_;
  const Clock& clock_;
  const EnginePaths paths_;
  NetworkAttacher& network_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::shared_ptr<Container>> containers_;  // guarded by mu_; by id
  std::map<std::string, std::shared_ptr<ExecInstance>> execs_;     // guarded by mu_
  bool shutting_down_ = false;                                     // guarded by mu_

  // Exit monitor: one epoll thread over every shim's WAIT connection.
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd to stop the monitor
  std::map<int, std::pair<std::string, UniqueFd>> watched_;  // guarded by mu_; fd -> (id, conn)
  std::thread monitor_;
  std::vector<std::thread> background_;  // guarded by mu_; restarts and auto-removes
};

}  // namespace berth::engine
