// ContainerManager: health checks (containers.h, engine/health.h for the state machine).
//
// Per container at most one probe is pending: a timer on clock_ (the next probe, an interval
// after the previous one ended, as dockerd's monitor loop), or a probe exec whose stream the
// monitor thread drains. Timer callbacks only post to health_work_; starting a probe (a shim
// round trip) and recording its result (a store write) happen there, with no state lock held.
// An epoch per container fences off everything of an earlier run: a start, an exit and
// berthd's restore bump it.

#include <signal.h>

#include "absl/strings/str_join.h"
#include "engine/container_state.h"
#include "engine/containers.h"
#include "spdlog/spdlog.h"

namespace berth::engine {

void ContainerManager::StartHealth(const std::shared_ptr<Container>& c) {
  Clock::TimerId old = 0, old_timeout = 0;
  uint64_t epoch;
  std::string id;
  Duration interval;
  {
    StateLock l(mu_);
    auto probe = ProbeOf(c->config);
    if (!probe) return;
    ResetHealthForStart(&c->health);
    epoch = ++c->health_epoch;
    old = std::exchange(c->health_timer, 0);
    old_timeout = std::exchange(c->health_timeout_timer, 0);
    c->health_exec.clear();
    id = c->id;
    interval = probe->interval;
  }
  if (old) clock_.Cancel(old);
  if (old_timeout) clock_.Cancel(old_timeout);
  ArmHealth(id, epoch, interval);
}

void ContainerManager::StopHealth(const std::shared_ptr<Container>& c) {
  Clock::TimerId timer, timeout;
  {
    StateLock l(mu_);
    ++c->health_epoch;
    timer = std::exchange(c->health_timer, 0);
    // A probe still running dies with the container; its timeout has nothing left to do.
    timeout = std::exchange(c->health_timeout_timer, 0);
    c->health_exec.clear();
  }
  if (timer) clock_.Cancel(timer);
  if (timeout) clock_.Cancel(timeout);
}

void ContainerManager::ArmHealth(const std::string& id, uint64_t epoch, Duration after) {
  Clock::TimerId tid = clock_.Schedule(after, [this, id, epoch] {
    health_work_.Post([this, id, epoch] { RunProbe(id, epoch); });
  });
  bool stale = false;
  {
    StateLock l(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end() || it->second->health_epoch != epoch || shutting_down_)
      stale = true;
    else
      it->second->health_timer = tid;
  }
  if (stale) clock_.Cancel(tid);
}

void ContainerManager::RunProbe(const std::string& id, uint64_t epoch) {
  std::optional<Probe> probe;
  bool running;
  {
    StateLock l(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end() || shutting_down_) return;
    Container& c = *it->second;
    if (c.health_epoch != epoch || !c.health_exec.empty()) return;
    c.health_timer = 0;
    probe = ProbeOf(c.config);
    running = c.status == "running";
  }
  if (!probe) return;
  if (!running) {
    // Between two states (paused, or an exit on its way): look again an interval later.
    ArmHealth(id, epoch, probe->interval);
    return;
  }
  spec::ExecConfig cfg;
  cfg.attach_stdout = true;
  cfg.attach_stderr = true;
  cfg.cmd = probe->argv;
  // exec_create, then exec_start and exec_die, as dockerd emits them for its probes.
  auto exec_id = ExecCreate(id, cfg);
  int64_t start = UnixNanos(clock_.Now());
  if (!exec_id.ok()) {
    // The container stopped in between (its exit ends this epoch), or the exec was refused.
    spdlog::debug("container {}: health check: {}", id, exec_id.status().ToString());
    ArmHealth(id, epoch, probe->interval);
    return;
  }
  {
    StateLock l(mu_);
    auto it = execs_.find(*exec_id);
    if (it != execs_.end()) it->second->health = true;
    auto cit = containers_.find(id);
    if (cit == containers_.end() || cit->second->health_epoch != epoch) return;
    cit->second->health_exec = *exec_id;
    cit->second->health_probe_start = start;
    cit->second->health_timed_out = false;
  }
  auto stream = ExecStart(*exec_id, /*detach=*/false);
  if (!stream.ok()) {
    // dockerd records the start failure as the probe's result: exit code -1 and the error.
    {
      StateLock l(mu_);
      auto it = execs_.find(*exec_id);
      if (it != execs_.end()) it->second->exit_code = -1;
    }
    ProbeExited(*exec_id, true, -1, std::string(stream.status().message()));
    return;
  }
  Clock::TimerId timeout = clock_.Schedule(probe->timeout, [this, id, epoch, eid = *exec_id] {
    health_work_.Post([this, id, epoch, eid] { ProbeTimedOut(id, epoch, eid); });
  });
  bool stale = false;
  {
    StateLock l(mu_);
    auto it = containers_.find(id);
    if (it != containers_.end() && it->second->health_exec == *exec_id)
      it->second->health_timeout_timer = timeout;
    else
      stale = true;  // it has exited already (or the container has)
  }
  if (stale) clock_.Cancel(timeout);
  if (!WatchExecStream(*exec_id, std::move(stream->fd), "", /*capture=*/true))
    ProbeExited(*exec_id, false, 0, "");
}

void ContainerManager::ProbeExited(const std::string& exec_id, bool has_code, int code,
                                   std::string output) {
  std::shared_ptr<Container> c;
  ContainerEvent die, health_ev;
  bool changed = false, record = false;
  std::string status;  // the new health status, when changed
  Clock::TimerId timeout = 0;
  uint64_t epoch = 0;  // 0: nothing to arm
  Duration interval{};
  {
    StateLock l(mu_);
    auto it = execs_.find(exec_id);
    if (it == execs_.end()) return;
    auto cit = containers_.find(it->second->container_id);
    if (cit == containers_.end()) {
      execs_.erase(it);
      return;
    }
    c = cit->second;
    die = EventLocked(*c, "exec_die",
                      {{"execID", exec_id}, {"exitCode", std::to_string(has_code ? code : -1)}});
    // A probe is not kept once it has exited (dockerd drops it from the container's ExecIDs too).
    execs_.erase(it);
    std::erase(c->exec_ids, exec_id);
    auto probe = ProbeOf(c->config);
    if (c->health_exec == exec_id && probe) {  // else: an earlier run's probe
      c->health_exec.clear();
      timeout = std::exchange(c->health_timeout_timer, 0);
      epoch = c->health_epoch;
      interval = probe->interval;
      // Without an exit frame the probe died with its container, whose exit ends this epoch.
      if (!c->health_timed_out && has_code) {
        HealthResult r{c->health_probe_start, UnixNanos(clock_.Now()), code, ValidUtf8(output)};
        changed = ApplyProbeResult(&c->health, *probe, c->started_at, std::move(r));
        record = true;
        if (changed) {
          status = c->health.status;
          health_ev = EventLocked(*c, "health_status: " + status);
        }
      }
      c->health_timed_out = false;
    }
  }
  if (timeout) clock_.Cancel(timeout);
  if (record) (void)Save(c);
  Emit(std::move(die));
  if (changed) {
    Emit(std::move(health_ev));
    NotifyHealth(HealthEvent{c->id, status});
  }
  if (epoch) ArmHealth(c->id, epoch, interval);
}

void ContainerManager::ProbeTimedOut(const std::string& id, uint64_t epoch,
                                     const std::string& exec_id) {
  std::shared_ptr<Container> c;
  ContainerEvent ev;
  bool changed;
  std::string status;
  {
    StateLock l(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return;
    c = it->second;
    if (c->health_epoch != epoch || c->health_exec != exec_id || c->health_timed_out) return;
    auto probe = ProbeOf(c->config);
    if (!probe) return;
    c->health_timed_out = true;
    changed = ApplyProbeResult(&c->health, *probe, c->started_at,
                               TimeoutResult(*probe, c->health_probe_start, UnixNanos(clock_.Now())));
    if (changed) {
      status = c->health.status;
      ev = EventLocked(*c, "health_status: " + status);
    }
  }
  (void)Save(c);
  if (changed) {
    Emit(std::move(ev));
    NotifyHealth(HealthEvent{id, status});
  }
  // As dockerd: SIGTERM now, SIGKILL if it is still there after the grace. The next probe is
  // armed once this one has exited (ProbeExited), so dying probes never pile up.
  KillProbe(id, exec_id, SIGTERM);
  Clock::TimerId kill = clock_.Schedule(kProbeKillGrace, [this, id, exec_id] {
    health_work_.Post([this, id, exec_id] { KillProbe(id, exec_id, SIGKILL); });
  });
  bool stale = false;
  {
    StateLock l(mu_);
    if (c->health_exec == exec_id)
      c->health_timeout_timer = kill;
    else
      stale = true;
  }
  if (stale) clock_.Cancel(kill);
}

void ContainerManager::KillProbe(const std::string& id, const std::string& exec_id, int sig) {
  {
    StateLock l(mu_);
    auto it = containers_.find(id);
    if (it == containers_.end() || it->second->health_exec != exec_id) return;
  }
  // The shim knows the exec by the short id ExecStart gave it.
  Status st = shim_.Simple(StateDir(id), "KILL-EXEC " + exec_id.substr(0, 12) + " " +
                                             std::to_string(sig));
  if (!st.ok()) spdlog::debug("container {}: stop health check {}: {}", id, exec_id, st.ToString());
}

}  // namespace berth::engine
