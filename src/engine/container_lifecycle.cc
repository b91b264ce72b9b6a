// ContainerManager's pause, unpause and update (containers.h): operations runc does on a running
// container's cgroup, outside the shim (whose loop must never wait for runc). Docker's checks and
// words are moby 20.10's (daemon/pause.go, unpause.go, update.go).

#include "engine/container_state.h"
#include "engine/container_update.h"
#include "engine/containers.h"
#include "spdlog/spdlog.h"

namespace berth::engine {

// Records a freeze or thaw that runc has done: the flag, the record and the event.
void ContainerManager::SetPaused(const std::shared_ptr<Container>& c, bool paused) {
  ContainerEvent ev;
  {
    StateLock l(mu_);
    c->paused = paused;
    ev = EventLocked(*c, paused ? "pause" : "unpause");
  }
  (void)Save(c);
  Changed();
  Emit(std::move(ev));
}

Status ContainerManager::Pause(const std::string& name) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  absl::MutexLock op(&c->op_mu);
  {
    StateLock l(mu_);
    if (c->status != "running" && c->status != "restarting")
      return absl::FailedPreconditionError("Container " + c->id + " is not running");
    if (c->paused) return absl::FailedPreconditionError("Container " + c->id + " is already paused");
    if (c->status == "restarting")
      return absl::FailedPreconditionError("Container " + c->id +
                                           " is restarting, wait until the container is running");
  }
  if (Status st = shim_.Runtime({"pause", c->id}); !st.ok())
    return absl::InternalError("Cannot pause container " + c->id + ": " + std::string(st.message()));
  SetPaused(c, true);
  return absl::OkStatus();
}

Status ContainerManager::Unpause(const std::string& name) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  absl::MutexLock op(&c->op_mu);
  {
    StateLock l(mu_);
    // A plain error in dockerd, hence its 500.
    if (!c->paused || c->status != "running")
      return absl::InternalError("Container " + c->id + " is not paused");
  }
  if (Status st = shim_.Runtime({"resume", c->id}); !st.ok())
    return absl::InternalError("Cannot unpause container " + c->id + ": " + std::string(st.message()));
  SetPaused(c, false);
  return absl::OkStatus();
}

void ContainerManager::ThawForSignal(const std::shared_ptr<Container>& c) {
  {
    StateLock l(mu_);
    if (!c->paused) return;
  }
  if (Status st = shim_.Runtime({"resume", c->id}); !st.ok()) {
    // It may have exited meanwhile (nothing to thaw); otherwise the signal waits in the freezer.
    spdlog::warn("container {}: cannot unpause to deliver a signal: {}", c->id, st.ToString());
    return;
  }
  SetPaused(c, false);
}

StatusOr<std::vector<std::string>> ContainerManager::Update(const std::string& name,
                                                            const spec::UpdateConfig& update) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  RETURN_IF_ERROR(VerifyUpdate(update, ReadHostFacts(paths_.init)));
  // Serialised with start and stop, so a start reads either the old settings or the new.
  absl::MutexLock op(&c->op_mu);
  spec::HostConfig before, after;
  bool live;
  {
    StateLock l(mu_);
    if (c->removed || c->status == "removing" || c->status == "dead")
      return absl::InternalError("Cannot update container " + c->id +
                                 ": container is marked for removal and cannot be \"update\"");
    before = c->host_config;
    after = before;
    if (Status st = MergeUpdate(update, after); !st.ok())
      return Status(st.code(), "Cannot update container " + c->id + ": " + std::string(st.message()));
    live = c->status == "running";
    c->host_config = after;
  }
  auto restore = [&] {
    StateLock l(mu_);
    c->host_config = before;
  };
  if (live && !(after.resources == before.resources)) {
    Status st = shim_.Runtime({"update", "--resources", "-", c->id},
                              OciCgroupResourcesJson(after.resources));
    bool still_running;
    {
      StateLock l(mu_);
      still_running = c->status == "running";
    }
    // A container that exited meanwhile takes the settings at its next start.
    if (!st.ok() && still_running) {
      restore();
      return absl::InternalError("Cannot update container " + c->id + ": " +
                                 std::string(st.message()));
    }
  }
  if (Status st = Save(c); !st.ok()) {
    restore();
    return Annotate(st, "update container " + c->id);
  }
  ContainerEvent ev;
  {
    StateLock l(mu_);
    ev = EventLocked(*c, "update");
  }
  Emit(std::move(ev));
  return std::vector<std::string>{};
}

}  // namespace berth::engine
