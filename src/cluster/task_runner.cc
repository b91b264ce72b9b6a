#include "cluster/task_runner.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "cluster/task_container.h"
#include "cluster/task_payloads.h"
#include "common/executor.h"
#include "common/sync.h"
#include "spdlog/spdlog.h"

namespace berth::cluster {
namespace {

// A task state's place in spec::kTaskStates (states only move forward); "" counts as "new".
int Rank(std::string_view state) { return std::max(spec::TaskStateRank(state), 0); }

const int kAccepted = Rank("accepted");
const int kStarting = Rank("starting");
const int kComplete = Rank("complete");
const int kShutdown = Rank("shutdown");

bool Exited(const engine::ContainerState& s) { return s.status == "exited" || s.status == "dead"; }

// moby's exitError text.
std::string ExitMessage(int code, bool unhealthy) {
  std::string s = absl::StrCat("task: non-zero exit (", code, ")");
  if (unhealthy) absl::StrAppend(&s, ": unhealthy container");  // ErrContainerUnhealthy
  return s;
}

}  // namespace

class TaskRunner::Impl {
 public:
  explicit Impl(TaskRunnerConfig cfg) : cfg_(std::move(cfg)), work_(std::max(cfg_.workers, 1)) {
    if (!cfg_.payloads) {
      own_payloads_ = NewTmpfsPayloadStore();
      cfg_.payloads = own_payloads_.get();
    }
  }
  ~Impl() { Stop(); }

  Status Start() ABSL_LOCKS_EXCLUDED(mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  void Assign(std::vector<TaskAssignment> assignments) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<TaskStatusUpdate> Statuses() const ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveAll() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // One task the node knows: assigned to it, or found at Start and not yet matched.
  struct Entry {
    // Written by Assign.
    TaskAssignment a;
    bool assigned = false;
    bool adopted = false;  // found at Start; its status comes with its assignment
    // Written by the task's steps only (one at a time: `busy`).
    spec::TaskStatus status;  // the manager's until the runner reports one
    bool reported = false;
    std::string container_id;
    bool started = false;    // Start was issued (or the container had been started before)
    bool unhealthy = false;  // stopped for failing its health check
    bool payloads = false;   // its tmpfs may exist
    // Scheduling.
    bool busy = false;   // a worker runs its steps
    bool again = false;  // something changed while it ran: step again
  };

  // What one step did; applied to the entry under the lock.
  struct Outcome {
    bool progress = false;  // step again at once
    std::optional<spec::TaskStatus> status;
    std::optional<std::string> container_id;
    std::optional<bool> started, unhealthy, payloads;
    bool erase = false;  // the task's container and payloads are gone
  };

  struct Found {
    std::string task_id;
    std::string container_id;
    engine::ContainerState state;
  };

  // The containers with Docker's task label, with their state.
  StatusOr<std::vector<Found>> ListTaskContainers() ABSL_LOCKS_EXCLUDED(mu_);
  void AdoptLocked(const std::vector<Found>& found) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Marks the task for a step; returns true when the caller must post it to the workers.
  bool KickLocked(const std::string& task_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Post(const std::vector<std::string>& task_ids) ABSL_LOCKS_EXCLUDED(mu_);
  void OnContainerEvent(const std::string& container_id) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs the task's steps until one makes no progress (a worker's job).
  void Run(const std::string& task_id) ABSL_LOCKS_EXCLUDED(mu_);
  void Report(const std::vector<TaskStatusUpdate>& updates) ABSL_LOCKS_EXCLUDED(mu_);

  // The steps: container work, no lock held. `e` is a copy of the entry.
  Outcome Step(const Entry& e);
  void Prepare(const Entry& e, Outcome& o);
  void StartContainer(const Entry& e, Outcome& o);
  void WatchRunning(const Entry& e, Outcome& o);
  void Shutdown(const Entry& e, Outcome& o);
  void RemoveTask(const Entry& e, Outcome& o);

  void Transition(const Entry& e, Outcome& o, const char* state, const char* message,
                  spec::ContainerStatus cs);
  // A fatal error: "rejected" before starting, "failed" from then on; the message stays.
  void Fatal(const Entry& e, Outcome& o, std::string err, spec::ContainerStatus cs);
  spec::ContainerStatus ContainerStatusOf(const std::string& container_id);
  std::string PayloadDir(const std::string& task_id) const { return cfg_.run_root + "/" + task_id; }
  std::optional<int> Grace(const Entry& e) const;
  std::string StopSignal(const Entry& e) const;
  // Stops the container with the task's grace and signal; NotFound is fine.
  Status StopContainer(const Entry& e);

  TaskRunnerConfig cfg_;
  std::unique_ptr<PayloadStore> own_payloads_;

  mutable StateMutex mu_;
  absl::CondVar cv_;                                           // an entry went idle or was erased
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);  // by task id
  std::map<std::string, std::string> by_container_ ABSL_GUARDED_BY(mu_);  // container -> task
  bool running_ ABSL_GUARDED_BY(mu_) = false;   // Start was called, Stop not yet
  bool removing_ ABSL_GUARDED_BY(mu_) = false;  // RemoveAll runs
  uint64_t exit_watch_ = 0, health_watch_ = 0;  // Start and Stop only

  absl::Mutex report_mu_;  // a leaf: one batch of reports at a time, so each task's stay in order
  Executor work_;
};

// ---------------------------------------------------------------------------------------------
// Lifecycle

StatusOr<std::vector<TaskRunner::Impl::Found>> TaskRunner::Impl::ListTaskContainers() {
  spec::Filters f;
  f.Add("label", kTaskIdLabel);
  ASSIGN_OR_RETURN(auto rows, cfg_.containers->List(/*all=*/true, f));
  std::vector<Found> out;
  for (const engine::ContainerSummary& r : rows) {
    auto it = r.labels.find(kTaskIdLabel);
    if (it == r.labels.end() || it->second.empty()) continue;
    auto st = cfg_.containers->State(r.id);
    if (!st.ok()) continue;  // removed meanwhile
    out.push_back({it->second, r.id, *st});
  }
  return out;
}

void TaskRunner::Impl::AdoptLocked(const std::vector<Found>& found) {
  for (const Found& f : found) {
    if (by_container_.count(f.container_id)) continue;
    auto [it, inserted] = entries_.try_emplace(f.task_id);
    Entry& e = it->second;
    if (!inserted && !e.container_id.empty()) {
      // Never two containers for one task: the other one is left for the operator.
      spdlog::warn("swarm: task {} has two containers ({} and {}); keeping {}", f.task_id,
                   e.container_id, f.container_id, e.container_id);
      continue;
    }
    if (inserted) {
      e.adopted = true;
      e.a.task.id = f.task_id;
    }
    e.container_id = f.container_id;
    e.started = f.state.status != "created";
    e.payloads = !cfg_.run_root.empty();
    by_container_[f.container_id] = f.task_id;
  }
}

Status TaskRunner::Impl::Start() {
  // Watch first, then list: an exit between the two is not lost (the list shows it, or the
  // event kicks the task once it is known).
  exit_watch_ = cfg_.containers->WatchExits([this](const engine::ExitEvent& ev) {
    if (!ev.restarting) OnContainerEvent(ev.id);
  });
  health_watch_ = cfg_.containers->WatchHealth(
      [this](const engine::HealthEvent& ev) { OnContainerEvent(ev.id); });
  auto found = ListTaskContainers();
  if (!found.ok()) {
    cfg_.containers->UnwatchExits(exit_watch_);
    cfg_.containers->UnwatchHealth(health_watch_);
    exit_watch_ = health_watch_ = 0;
    return Annotate(found.status(), "swarm: list the task containers");
  }
  std::vector<std::string> post;
  {
    StateLock l(mu_);
    AdoptLocked(*found);
    running_ = true;
    for (auto& [id, e] : entries_)
      if (e.assigned && KickLocked(id)) post.push_back(id);
  }
  if (!found->empty()) spdlog::info("swarm: found {} task container(s)", found->size());
  Post(post);
  return absl::OkStatus();
}

void TaskRunner::Impl::Stop() {
  {
    StateLock l(mu_);
    if (!running_) return;
    running_ = false;
  }
  cfg_.containers->UnwatchExits(exit_watch_);
  cfg_.containers->UnwatchHealth(health_watch_);
  work_.Shutdown();  // waits for the steps under way; queued ones are dropped
  StateLock l(mu_);
  for (auto& [id, e] : entries_) e.busy = false;
  cv_.SignalAll();  // a RemoveAll under way goes on without workers
}

void TaskRunner::Impl::Assign(std::vector<TaskAssignment> assignments) {
  std::vector<std::string> post;
  {
    StateLock l(mu_);
    std::map<std::string, bool> listed;
    for (TaskAssignment& a : assignments) {
      std::string id = a.task.id;
      listed[id] = true;
      auto [it, inserted] = entries_.try_emplace(id);
      Entry& e = it->second;
      // The manager's status is where a task it has not heard of from this runner resumes
      // (after a restart: its container was adopted, or vanished).
      if (inserted || e.adopted) e.status = a.task.status;
      e.adopted = false;
      e.a = std::move(a);
      e.assigned = true;
      if (KickLocked(id)) post.push_back(id);
    }
    for (auto& [id, e] : entries_) {
      if (listed.count(id) || !(e.assigned || e.adopted)) continue;
      e.assigned = e.adopted = false;
      if (KickLocked(id)) post.push_back(id);
    }
  }
  Post(post);
}

std::vector<TaskStatusUpdate> TaskRunner::Impl::Statuses() const {
  StateLock l(mu_);
  std::vector<TaskStatusUpdate> out;
  for (const auto& [id, e] : entries_)
    if (e.assigned && e.reported) out.push_back({id, e.status});
  return out;
}

void TaskRunner::Impl::RemoveAll() {
  // Containers of tasks this runner never heard of go too (a runner that was never started).
  auto found = ListTaskContainers();
  if (!found.ok()) spdlog::warn("swarm: leave: {}", found.status().ToString());
  std::vector<std::string> post;
  {
    StateLock l(mu_);
    if (found.ok()) AdoptLocked(*found);
    removing_ = true;
    for (auto& [id, e] : entries_) {
      e.assigned = e.adopted = false;
      if (KickLocked(id)) post.push_back(id);
    }
  }
  Post(post);
  for (;;) {
    // Without workers (never started, or stopped) the caller's thread does the work.
    std::vector<std::string> todo;
    {
      StateLock l(mu_);
      if (entries_.empty()) {
        removing_ = false;
        return;
      }
      if (!running_) {
        for (auto& [id, e] : entries_) {
          if (e.busy) continue;
          e.busy = true;
          todo.push_back(id);
        }
      }
      if (todo.empty()) {
        mu_.Wait(cv_);
        continue;
      }
    }
    for (const std::string& id : todo) Run(id);
  }
}

// ---------------------------------------------------------------------------------------------
// Scheduling

bool TaskRunner::Impl::KickLocked(const std::string& task_id) {
  auto it = entries_.find(task_id);
  if (it == entries_.end()) return false;
  Entry& e = it->second;
  if (e.busy || !running_) {
    e.again = true;
    return false;
  }
  e.busy = true;
  return true;
}

void TaskRunner::Impl::Post(const std::vector<std::string>& task_ids) {
  for (const std::string& id : task_ids) {
    if (work_.Post([this, id] { Run(id); })) continue;
    StateLock l(mu_);  // stopped meanwhile
    auto it = entries_.find(id);
    if (it != entries_.end()) it->second.busy = false;
  }
}

void TaskRunner::Impl::OnContainerEvent(const std::string& container_id) {
  std::vector<std::string> post;
  {
    StateLock l(mu_);
    auto it = by_container_.find(container_id);
    if (it == by_container_.end()) return;
    if (KickLocked(it->second)) post.push_back(it->second);
  }
  Post(post);
}

void TaskRunner::Impl::Run(const std::string& task_id) {
  for (;;) {
    Entry snapshot;
    {
      StateLock l(mu_);
      auto it = entries_.find(task_id);
      if (it == entries_.end()) return;
      if (!running_ && !removing_) {  // Stop: the rest waits for the next Start
        it->second.busy = false;
        cv_.SignalAll();
        return;
      }
      it->second.again = false;
      snapshot = it->second;
    }
    Outcome o = Step(snapshot);
    std::vector<TaskStatusUpdate> updates;
    bool more = false;
    {
      StateLock l(mu_);
      auto it = entries_.find(task_id);
      BERTH_CHECK(it != entries_.end());  // only this (busy) run erases it
      Entry& e = it->second;
      if (o.container_id && *o.container_id != e.container_id) {
        if (!e.container_id.empty()) by_container_.erase(e.container_id);
        e.container_id = *o.container_id;
        if (!e.container_id.empty()) by_container_[e.container_id] = task_id;
      }
      if (o.started) e.started = *o.started;
      if (o.unhealthy) e.unhealthy = *o.unhealthy;
      if (o.payloads) e.payloads = *o.payloads;
      if (o.status) {
        e.status = *o.status;
        e.reported = true;
        updates.push_back({task_id, *o.status});
      }
      if (o.erase && !e.assigned) {
        if (!e.container_id.empty()) by_container_.erase(e.container_id);
        entries_.erase(it);
        cv_.SignalAll();
      } else {
        if (o.erase) {  // assigned again while it was being removed: start from nothing
          if (!e.container_id.empty()) by_container_.erase(e.container_id);
          e.container_id.clear();
          e.started = e.unhealthy = e.payloads = false;
        }
        more = o.progress || e.again || o.erase;
        if (!more) {
          e.busy = false;
          cv_.SignalAll();
        }
      }
    }
    if (!updates.empty()) Report(updates);
    if (!more) return;
  }
}

void TaskRunner::Impl::Report(const std::vector<TaskStatusUpdate>& updates) {
  absl::MutexLock l(&report_mu_);
  if (cfg_.report) cfg_.report(updates);
}

// ---------------------------------------------------------------------------------------------
// Steps (swarmkit's exec.Do: one transition, or one operation, per step)

TaskRunner::Impl::Outcome TaskRunner::Impl::Step(const Entry& e) {
  Outcome o;
  if (!e.assigned) {
    RemoveTask(e, o);
    return o;
  }
  int desired = Rank(e.a.task.desired_state);
  const std::string& state = e.status.state;
  int current = Rank(state);
  if (desired >= kShutdown) {  // shutdown, remove
    if (current < kComplete) Shutdown(e, o);
    return o;
  }
  if (current > desired) return o;
  // These may go past the desired state (they finish what they started).
  if (state == "preparing") {
    Prepare(e, o);
  } else if (state == "starting") {
    StartContainer(e, o);
  } else if (state == "running") {
    WatchRunning(e, o);
  } else if (current >= desired) {
    // A pause (desired "ready": the restart delay), or terminal.
  } else if (current < kAccepted) {
    Transition(e, o, "accepted", "accepted", ContainerStatusOf(e.container_id));
  } else if (state == "accepted") {
    Transition(e, o, "preparing", "preparing", ContainerStatusOf(e.container_id));
  } else if (state == "ready") {
    Transition(e, o, "starting", "starting", ContainerStatusOf(e.container_id));
  }
  return o;
}

void TaskRunner::Impl::Prepare(const Entry& e, Outcome& o) {
  const std::string& task_id = e.a.task.id;
  std::string dir = PayloadDir(task_id);
  auto plan = TaskContainerFor(e.a, cfg_.node_id, dir);
  if (!plan.ok()) return Fatal(e, o, std::string(plan.status().message()), {});
  std::string id = e.container_id;  // adopted: created before a restart
  if (id.empty()) {
    const std::string& image = plan->request.config.image;
    if (cfg_.ensure_image) {
      // As Docker: a failed pull is not fatal (the image may be here, its registry down); the
      // create below says "No such image" when it is not.
      Status st = cfg_.ensure_image(image, e.a.registry_auth);
      if (!st.ok()) spdlog::warn("swarm: task {}: pull {}: {}", task_id, image, st.ToString());
    }
    if (!plan->files.empty()) {
      if (cfg_.run_root.empty())
        return Fatal(e, o, "this node has no place for secrets and configs", {});
      o.payloads = true;
      Status st = cfg_.payloads->Mount(dir);
      for (size_t i = 0; st.ok() && i < plan->files.size(); ++i)
        st = cfg_.payloads->Write(plan->files[i]);
      if (!st.ok()) return Fatal(e, o, "secrets and configs: " + std::string(st.message()), {});
    }
    auto created = cfg_.containers->Create(plan->request);
    if (created.ok()) {
      id = created->id;
    } else if (absl::IsAlreadyExists(created.status())) {
      // Created before a restart, but not listed then: take it, never make a second one.
      spec::Filters f;
      f.Add("label", absl::StrCat(kTaskIdLabel, "=", task_id));
      auto rows = cfg_.containers->List(true, f);
      if (!rows.ok() || rows->empty())
        return Fatal(e, o, std::string(created.status().message()), {});
      id = rows->front().id;
    } else {
      return Fatal(e, o, std::string(created.status().message()), {});
    }
    o.container_id = id;
  }
  Transition(e, o, "ready", "prepared", ContainerStatusOf(id));
}

void TaskRunner::Impl::StartContainer(const Entry& e, Outcome& o) {
  const std::string& id = e.container_id;
  std::string name = TaskContainerName(e.a.task, e.a.service_name);
  if (id.empty()) return Fatal(e, o, "No such container: " + name, {});
  if (!e.started) {
    auto st = cfg_.containers->State(id);
    if (!st.ok()) return Fatal(e, o, std::string(st.status().message()), {id, 0, 0});
    if (st->status == "created") {  // else it was started before (moby's ErrTaskStarted)
      auto started = cfg_.containers->Start(id);
      if (!started.ok())
        return Fatal(e, o, "starting container failed: " + std::string(started.status().message()),
                     ContainerStatusOf(id));
    }
    o.started = true;
    o.progress = true;
  }
  auto st = cfg_.containers->State(id);
  if (!st.ok()) return Fatal(e, o, std::string(st.status().message()), {id, 0, 0});
  if (Exited(*st)) {
    // Died before it was healthy: a non-zero exit fails it; zero runs, then completes.
    if (st->exit_code != 0)
      return Fatal(e, o, ExitMessage(st->exit_code, e.unhealthy), {id, 0, st->exit_code});
    return Transition(e, o, "running", "started", {id, 0, 0});
  }
  if (!st->health || st->health->status == "healthy")
    return Transition(e, o, "running", "started", {id, st->pid, 0});
  if (st->health->status == "unhealthy" && !e.unhealthy) {
    // As Docker: stop it, and fail the task with the cause when it has exited.
    Status s = StopContainer(e);
    if (!s.ok())
      return Fatal(e, o, "unhealthy container shutdown failed: " + std::string(s.message()),
                   ContainerStatusOf(id));
    o.unhealthy = true;
    o.progress = true;
  }
  // Else: a health event (or its exit) kicks it again.
}

void TaskRunner::Impl::WatchRunning(const Entry& e, Outcome& o) {
  const std::string& id = e.container_id;
  std::string name = TaskContainerName(e.a.task, e.a.service_name);
  if (id.empty()) return Fatal(e, o, "No such container: " + name, {});
  auto st = cfg_.containers->State(id);
  if (!st.ok()) return Fatal(e, o, std::string(st.status().message()), {id, 0, 0});
  if (Exited(*st)) {
    if (st->exit_code == 0) return Transition(e, o, "complete", "finished", {id, 0, 0});
    return Fatal(e, o, ExitMessage(st->exit_code, e.unhealthy), {id, 0, st->exit_code});
  }
  if (st->health && st->health->status == "unhealthy" && !e.unhealthy) {
    Status s = StopContainer(e);
    if (!s.ok())
      spdlog::warn("swarm: task {}: stop unhealthy container: {}", e.a.task.id, s.ToString());
    o.unhealthy = true;
    o.progress = true;
  }
}

void TaskRunner::Impl::Shutdown(const Entry& e, Outcome& o) {
  if (!e.container_id.empty() && !e.a.task.networks_attachments.empty() &&
      e.status.state == "running" && cfg_.backend_drain > Duration::zero()) {
    StateLock l(mu_);
    WaitFor(*cfg_.clock, mu_, cv_, cfg_.backend_drain,
            [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !running_ && !removing_; });
  }
  if (!e.container_id.empty()) {
    Status s = StopContainer(e);
    if (!s.ok()) return Fatal(e, o, std::string(s.message()), ContainerStatusOf(e.container_id));
  }
  Transition(e, o, "shutdown", "shutdown", ContainerStatusOf(e.container_id));
}

void TaskRunner::Impl::RemoveTask(const Entry& e, Outcome& o) {
  const std::string& id = e.container_id;
  const std::string& task_id = e.a.task.id;
  if (!id.empty()) {
    // As Docker's Remove: a clean stop first, then the container goes.
    Status s = StopContainer(e);
    if (!s.ok()) spdlog::warn("swarm: stop container {}: {}", id, s.ToString());
    s = cfg_.containers->Remove(id, /*force=*/true);
    // Left behind, it is found at the next Start and removed then.
    if (!s.ok() && !absl::IsNotFound(s))
      spdlog::warn("swarm: remove container {}: {}", id, s.ToString());
  }
  if (e.payloads && !task_id.empty()) {
    Status s = cfg_.payloads->Remove(PayloadDir(task_id));
    if (!s.ok()) spdlog::warn("swarm: task {}: remove its secrets: {}", task_id, s.ToString());
  }
  o.erase = true;
}

// ---------------------------------------------------------------------------------------------
// Helpers

void TaskRunner::Impl::Transition(const Entry& e, Outcome& o, const char* state,
                                  const char* message, spec::ContainerStatus cs) {
  spec::TaskStatus s;
  s.timestamp = UnixNanos(cfg_.clock->Now());
  s.state = state;
  s.message = message;
  s.container_status = std::move(cs);
  o.status = std::move(s);
  o.progress = true;
}

void TaskRunner::Impl::Fatal(const Entry& e, Outcome& o, std::string err,
                             spec::ContainerStatus cs) {
  spdlog::info("swarm: task {}: {}", e.a.task.id, err);
  spec::TaskStatus s;
  s.timestamp = UnixNanos(cfg_.clock->Now());
  s.state = Rank(e.status.state) < kStarting ? "rejected" : "failed";
  s.message = e.status.message;
  s.err = std::move(err);
  s.container_status = std::move(cs);
  o.status = std::move(s);
  o.progress = true;
}

spec::ContainerStatus TaskRunner::Impl::ContainerStatusOf(const std::string& container_id) {
  spec::ContainerStatus cs;
  cs.container_id = container_id;
  if (container_id.empty()) return cs;
  auto st = cfg_.containers->State(container_id);
  if (st.ok()) {
    cs.pid = st->pid;
    cs.exit_code = st->exit_code;
  }
  return cs;
}

std::optional<int> TaskRunner::Impl::Grace(const Entry& e) const {
  const auto& cs = e.a.task.spec.container_spec;
  // moby: int(stopgrace.Seconds()); unset: the container's StopTimeout.
  if (!cs || !cs->stop_grace_period) return std::nullopt;
  return static_cast<int>(*cs->stop_grace_period / 1'000'000'000);
}

std::string TaskRunner::Impl::StopSignal(const Entry& e) const {
  const auto& cs = e.a.task.spec.container_spec;
  return cs ? cs->stop_signal : "";
}

Status TaskRunner::Impl::StopContainer(const Entry& e) {
  auto r = cfg_.containers->Stop(e.container_id, Grace(e), StopSignal(e));
  if (!r.ok() && !absl::IsNotFound(r.status())) return r.status();
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------

StatusOr<std::unique_ptr<TaskRunner>> TaskRunner::Create(TaskRunnerConfig cfg) {
  if (!cfg.containers) return absl::InvalidArgumentError("task runner: no container service");
  if (!cfg.clock) return absl::InvalidArgumentError("task runner: no clock");
  return std::unique_ptr<TaskRunner>(new TaskRunner(std::make_unique<Impl>(std::move(cfg))));
}

TaskRunner::TaskRunner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TaskRunner::~TaskRunner() { Stop(); }
Status TaskRunner::Start() { return impl_->Start(); }
void TaskRunner::Stop() { impl_->Stop(); }
void TaskRunner::Assign(std::vector<TaskAssignment> assignments) {
  impl_->Assign(std::move(assignments));
}
std::vector<TaskStatusUpdate> TaskRunner::Statuses() const { return impl_->Statuses(); }
void TaskRunner::RemoveAll() { impl_->RemoveAll(); }

}  // namespace berth::cluster
