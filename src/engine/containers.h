#pragma once
// ContainerManager: Docker's container lifecycle (create, start, stop, kill, restart, wait, rm,
// attach, exec, logs, top, stats) on runc through berth-shim.
//
// Threading (docs/architecture.md, "Concurrency"): mu_ is a state lock over the container table
// and every Container's fields, held only to read or change them: never across a shim call, a
// mount, the network controller, the store or the event bus. cv_ is signalled on every state
// change (waiters, stop timeouts on the injected Clock). Lifecycle operations on one container are
// serialised by that container's operation lock (op_mu, taken before mu_, never while holding
// it), so a slow `stop -t 10` blocks only its own container. Exits arrive on the monitor thread;
// restarts and --rm removals run on a small executor whose threads are joined at Shutdown.

#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/executor.h"
#include "common/sync.h"
#include "common/fd.h"
#include "common/status.h"
#include "engine/events.h"
#include "engine/images.h"
#include "engine/runtime.h"
#include "engine/container_fs.h"
#include "engine/container_service.h"
#include "engine/container_types.h"
#include "engine/network_attacher.h"
#include "engine/store.h"
#include "engine/volumes.h"
#include "spec/container_create.h"
#include "spec/filters.h"

namespace berth::engine {

struct EnginePaths {
  std::string data_root;  // containers/<id>: config files, logs, overlay upper/work
  std::string exec_root;  // c/<id>: bundle, rootfs mount point, shim state
  std::string init;       // the static init --init binds in (dockerd's --init-path); empty: none
};

struct Container;
struct ExecInstance;
struct ContainerEvent;

// A hijacked stream to a shim: frames in Docker's stdcopy format both ways (docs/shim.md).
struct ShimStream {
  UniqueFd fd;
  bool tty = false;
};

class ContainerManager : public ContainerService {
 public:
  ContainerManager(Store& store, ImageStore& images, EventBus& events, const Shim& shim,
                   RootfsMounter& mounter, const Clock& clock, EnginePaths paths,
                   NetworkAttacher& network);
  ~ContainerManager() override;

  Status Recover();
  // The daemon's --log-driver/--log-opt, for containers that name no driver. Set before Recover().
  void SetLogDefaults(spec::LogConfig defaults) { log_defaults_ = std::move(defaults); }
  void Shutdown();

  // ContainerService
  StatusOr<CreateResult> Create(const spec::ContainerCreateRequest& request) override;
  StatusOr<bool> Start(const std::string& name) override;
  StatusOr<bool> Stop(const std::string& name, std::optional<int> timeout,
                      const std::string& signal = "") override;
  Status Remove(const std::string& name, bool force) override;
  // remove_volumes: `rm -v`, the container's anonymous volumes go too.
  Status Remove(const std::string& name, bool force, bool remove_volumes);
  uint64_t WatchExits(ExitHandler handler) override;
  void UnwatchExits(uint64_t id) override;
  StatusOr<std::vector<ContainerSummary>> List(bool all, const spec::Filters& filters,
                                               int limit = 0, bool size = false) override;
  uint64_t WatchHealth(HealthHandler handler) override;
  void UnwatchHealth(uint64_t id) override;
  StatusOr<ContainerState> State(const std::string& name) override;

  // With SIGKILL (the default) it returns once the container has exited, as Docker does.
  Status Kill(const std::string& name, const std::string& signal);
  Status Restart(const std::string& name, std::optional<int> timeout);
  // Blocks until the condition ("not-running", "next-exit", "removed") holds; `registered` is
  // called once the waiter is in place (the API sends the 200 header then). The wait itself is
  // the caller's: `block(fd)` returns once fd is readable (a state change: the condition may
  // hold now) or false to give up (the client went away), so it can watch its client too.
  StatusOr<WaitResult> Wait(const std::string& name, const std::string& condition,
                            const std::function<void()>& registered,
                            const std::function<bool(int fd)>& block);
  Status Rename(const std::string& name, const std::string& new_name);
  // DELETE /containers/{name}?link=1: removes the legacy link "/parent/alias" (container_links.cc).
  Status RemoveLink(const std::string& name);
  // docker pause/unpause: freezes or thaws the container's cgroup (container_lifecycle.cc).
  Status Pause(const std::string& name);
  Status Unpause(const std::string& name);
  // POST /containers/{id}/update: resources (applied to a running container at once) and the
  // restart policy, stored for later starts. Returns Docker's warnings.
  StatusOr<std::vector<std::string>> Update(const std::string& name, const spec::UpdateConfig& update);
  StatusOr<ContainerView> Inspect(const std::string& name, bool size);
  StatusOr<TopResult> Top(const std::string& name, const std::string& ps_args);
  StatusOr<ContainerStats> Stats(const std::string& name);
  StatusOr<PruneReport> Prune(const spec::Filters& filters);
  Status Resize(const std::string& name, int rows, int cols);

  // Attaches to the container's stdio; if it is not running yet, waits for its next start
  // (docker run attaches before it starts the container).
  StatusOr<ShimStream> Attach(const std::string& name, bool in, bool out, bool err);
  // Docker's "attach" and "detach" events; the API server knows when a client attached and
  // when it typed the detach keys.
  void StreamEvent(const std::string& id, const std::string& action);

  // LogSource is ContainerService's.
  StatusOr<LogSource> Logs(const std::string& name) override;
  // Whether the container with this id is running now (logs -f stops when it is not).
  bool Running(const std::string& id) override;

  StatusOr<std::string> ExecCreate(const std::string& name, const spec::ExecConfig& config);
  // Starts the exec; the stream ends with an exit frame. A detached exec's stream is drained by
  // the monitor thread, which records its exit code.
  // rows/cols: the terminal size for a tty exec (0: unknown). A runtime failure (the process
  // could not be started) is Aborted, with the exec's exit code already set (126, as dockerd).
  StatusOr<ShimStream> ExecStart(const std::string& exec_id, bool detach, int rows = 0,
                                 int cols = 0);
  StatusOr<ExecView> ExecInspect(const std::string& exec_id);
  // The API reports an attached exec's exit code (from the stream's exit frame; -1 unknown).
  void ExecExited(const std::string& exec_id, int code);
  // The client of an attached exec typed the detach keys: the exec runs on, its stream is
  // drained as a detached exec's (so its exit code is still recorded), and "exec_detach" is
  // emitted.
  // `unread`: what the caller had read of the stream but not consumed (part of a frame).
  void ExecDetached(const std::string& exec_id, UniqueFd stream, std::string unread);
  Status ExecResize(const std::string& exec_id, int rows, int cols);

  // docker diff, cp and commit (container_archive.cc). Paths are the container's own; errors
  // are Docker's ("Could not find the file X in container Y", 404).
  StatusOr<std::vector<FsChange>> Changes(const std::string& name);
  StatusOr<PathStat> StatPath(const std::string& name, const std::string& path);
  // Writes the tar of `path` (Docker's names) to out_fd, after calling on_stat with its stat.
  Status ArchivePath(const std::string& name, const std::string& path,
                     const std::function<void(const PathStat&)>& on_stat, int out_fd);
  Status ExtractToDir(const std::string& name, const std::string& path, int tar_fd,
                      bool no_overwrite_dir_non_dir, bool copy_uid_gid);
  struct CommitRequest {
    std::string repo, tag, comment, author;
    std::vector<std::string> changes;  // Dockerfile instructions (docker commit -c)
    bool pause = true;
  };
  StatusOr<std::string> Commit(const std::string& name, const CommitRequest& req);
  // Named volumes and the containers' mounts (volumes.h); owned here, as containers use them.
  VolumeStore& Volumes() { return *volumes_; }

  // The id of a container that uses the image, if any (image rm/prune leave those alone).
  std::optional<std::string> ImageUser(const std::string& image_id);
  // Resolves a name, id or id prefix to a full id.
  StatusOr<std::string> Resolve(const std::string& name);
  // Name, running and network mode of a container, for the network controller's connect and
  // container:NAME modes.
  struct Ref {
    std::string id;
    std::string name;
    bool running = false;
  };
  StatusOr<Ref> Lookup(const std::string& name);

 private:
  struct Watch;

  std::shared_ptr<Container> FindLocked(const std::string& name, Status* st)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StatusOr<std::shared_ptr<Container>> Find(const std::string& name) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes the container's record as it is now (see Container::persist_mu).
  Status Save(const std::shared_ptr<Container>& c) ABSL_LOCKS_EXCLUDED(mu_);
  // Caller holds c->op_mu.
  Status StartLocked(const std::shared_ptr<Container>& c) ABSL_LOCKS_EXCLUDED(mu_);
  Status RemoveLocked(const std::shared_ptr<Container>& c, bool remove_volumes = false)
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnExit(const std::string& id, int code, int64_t finished_nanos) ABSL_LOCKS_EXCLUDED(mu_);
  void MonitorLoop();
  void OnExecStream(int fd);  // a detached exec's stream is readable (monitor thread)
  // Hands a detached exec's stream to the monitor thread; false if it could not be watched.
  // capture: a health probe's stream, whose output is kept and whose end goes to ProbeExited.
  bool WatchExecStream(const std::string& exec_id, UniqueFd stream, std::string unread = "",
                       bool capture = false) ABSL_LOCKS_EXCLUDED(mu_);
  // Docker's "exec_die" event of an exec that has exited (the caller recorded its code).
  void EmitExecDie(const std::string& exec_id, int code) ABSL_LOCKS_EXCLUDED(mu_);

  // Health checks (container_health.cc): probes run as execs, scheduled on clock_ and run on
  // health_work_; no thread waits for a probe and no lock is held while one runs.
  // A container started (or was restored running): State.Health is "starting", the first probe
  // is one interval away.
  void StartHealth(const std::shared_ptr<Container>& c) ABSL_LOCKS_EXCLUDED(mu_);
  // It stopped: no more probes; a running one's result is ignored.
  void StopHealth(const std::shared_ptr<Container>& c) ABSL_LOCKS_EXCLUDED(mu_);
  void ArmHealth(const std::string& id, uint64_t epoch, Duration after) ABSL_LOCKS_EXCLUDED(mu_);
  void RunProbe(const std::string& id, uint64_t epoch) ABSL_LOCKS_EXCLUDED(mu_);
  void ProbeExited(const std::string& exec_id, bool has_code, int code, std::string output)
      ABSL_LOCKS_EXCLUDED(mu_);
  void ProbeTimedOut(const std::string& id, uint64_t epoch, const std::string& exec_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  void KillProbe(const std::string& id, const std::string& exec_id, int sig)
      ABSL_LOCKS_EXCLUDED(mu_);
  Status WatchExit(const std::shared_ptr<Container>& c) ABSL_LOCKS_EXCLUDED(mu_);
  void ReleaseRootfs(const Container& c);
  // Runs fn with an fd on the container's root as its processes see it (container_archive.cc).
  struct RootView;
  Status WithRoot(const std::string& name, const std::function<Status(const RootView&)>& fn)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Sends a signal to the container's init through its shim (never by pid: after the init is
  // reaped its pid may be another process's).
  Status Signal(const Container& c, int sig);
  // Waits until c has exited `exits_before` times or more, or `timeout` passed; true if it did.
  bool AwaitExit(const std::shared_ptr<Container>& c, uint64_t exits_before, Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Pure: the container's fields, with the network's settings and the image's layer dirs given.
  ContainerView InspectLocked(const Container& c, spec::NetworkSettings network_settings,
                              const std::string& lower_dirs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ContainerState StateLocked(const Container& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ContainerSummary SummaryLocked(const Container& c, const spec::NetworkSettings& ns)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NotifyExit(const ExitEvent& e) ABSL_LOCKS_EXCLUDED(mu_);
  void NotifyHealth(const HealthEvent& e) ABSL_LOCKS_EXCLUDED(mu_);
  std::string StateDir(const std::string& id) const;
  std::string ContainerDir(const std::string& id) const;
  void SetPaused(const std::shared_ptr<Container>& c, bool paused);
  ContainerEvent EventLocked(const Container& c, const std::string& action,
                             std::map<std::string, std::string> extra = {})
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Emit(ContainerEvent e);
  void ScheduleRestart(const std::string& id, int64_t delay_ms);
  // Legacy links on the default bridge (container_links.cc): the children named by
  // HostConfig.Links (alias -> id), what they give the parent at start, and inspect's
  // HostConfig.Links ("/child:/parent/alias").
  StatusOr<std::map<std::string, std::string>> ResolveLinks(const spec::HostConfig& hc)
      ABSL_LOCKS_EXCLUDED(mu_);
  struct LinkSetup {
    std::vector<std::string> env;
    std::string hosts;
  };
  StatusOr<LinkSetup> LinksForStart(const std::shared_ptr<Container>& c) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> LinksLocked(const Container& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a stop signal or SIGKILL was sent to a paused container: thaws it so the signal is
  // delivered, as dockerd does, with Docker's "unpause" event.
  void ThawForSignal(const std::shared_ptr<Container>& c) ABSL_LOCKS_EXCLUDED(mu_);

  Store& store_;
  ImageStore& images_;
  EventBus& events_;
  const Shim& shim_;
  RootfsMounter& mounter_;
  const Clock& clock_;
  const EnginePaths paths_;
  spec::LogConfig log_defaults_{"json-file", spec::StringMap{}};  // written before any request
  NetworkAttacher& network_;
  std::unique_ptr<VolumeStore> volumes_;

  StateMutex mu_;
  absl::CondVar cv_;  // signalled on every state change (exits, starts, removals, exec exits)
  std::map<std::string, std::shared_ptr<Container>> containers_ ABSL_GUARDED_BY(mu_);  // by id
  std::map<std::string, std::shared_ptr<ExecInstance>> execs_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  // Wait() callers' eventfds, each written on every state change (they re-check).
  std::vector<int> wait_fds_ ABSL_GUARDED_BY(mu_);
  // A state change: wakes cv_ waiters and Wait() callers.
  void Changed() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Mutex watchers_mu_;  // a leaf: held while exit handlers run, never with mu_
  std::map<uint64_t, ExitHandler> exit_watchers_ ABSL_GUARDED_BY(watchers_mu_);
  std::map<uint64_t, HealthHandler> health_watchers_ ABSL_GUARDED_BY(watchers_mu_);
  uint64_t next_watcher_ ABSL_GUARDED_BY(watchers_mu_) = 1;

  // Exit monitor: one epoll thread over every shim's WAIT connection and every detached exec's
  // stream.
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd to stop the monitor
  std::map<int, std::unique_ptr<Watch>> watched_ ABSL_GUARDED_BY(mu_);  // by fd
  std::thread monitor_;
  // Restarts after their back-off and removals of --rm containers: slow work nobody waits for.
  Executor work_{2};
  // Health probes: starting one (a shim round trip) and recording its result.
  Executor health_work_{2};
};

}  // namespace berth::engine
