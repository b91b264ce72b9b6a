#include "cluster/orchestrator/updater.h"

#include <algorithm>
#include <limits>
#include <set>

namespace berth::cluster::orch {
namespace {

struct UpdateSettings {
  uint64_t parallelism = 1;
  int64_t delay = 0;
  std::string failure_action = "pause";
  int64_t monitor = kDefaultMonitor;
  double max_failure_ratio = 0;
  bool start_first = false;
};

UpdateSettings SettingsFor(const spec::Service& s, bool rollback) {
  const auto& c = rollback ? s.spec.rollback_config : s.spec.update_config;
  UpdateSettings out;
  if (!c) return out;
  out.parallelism = c->parallelism;
  out.delay = c->delay;
  if (!c->failure_action.empty()) out.failure_action = c->failure_action;
  if (c->monitor > 0) out.monitor = c->monitor;
  out.max_failure_ratio = c->max_failure_ratio;
  out.start_first = c->order == "start-first";
  return out;
}

bool IsFailure(const spec::Task& t, int64_t monitor) {
  const std::string& st = t.status.state;
  if (st != "failed" && st != "rejected" && st != "complete" && st != "orphaned") return false;
  bool ran = t.status.message == "started";
  return !ran || t.status.timestamp - t.meta.created_at <= monitor;
}

void ApplyFailureAction(WorkingSet& ws, size_t index, const UpdateSettings& cfg, bool rollback,
                        const std::string& task_id) {
  spec::Service& svc = ws.MutableService(index);
  spec::UpdateStatus& us = *svc.update_status;
  const std::string paused = rollback ? spec::kUpdateRollbackPaused : spec::kUpdatePaused;
  if (cfg.failure_action == "rollback" && rollback) {
    us.state = spec::kUpdateRollbackPaused;
    us.message = "rollback paused due to failure or early termination of task " + task_id;
  } else if (cfg.failure_action == "rollback" && svc.previous_spec) {
    us.state = spec::kUpdateRollbackStarted;
    us.message = "update rolled back due to failure or early termination of task " + task_id;
    svc.spec = *svc.previous_spec;
    svc.previous_spec.reset();
    svc.registry_auth = std::move(svc.previous_registry_auth);
    svc.previous_registry_auth.clear();
  } else {
    // "pause", or a rollback with nothing to roll back to (swarmkit then leaves the update
    // stuck "updating"; pausing says what happened).
    us.state = paused;
    us.message = "update paused due to failure or early termination of task " + task_id;
  }
}

}  // namespace

void RunUpdater(WorkingSet& ws, size_t index, const std::vector<UpdateSlot>& slots) {
  const spec::Service& s = ws.services()[index];
  const std::string state = s.update_status ? s.update_status->state : "";
  if (state == spec::kUpdatePaused || state == spec::kUpdateRollbackPaused) return;
  const bool rollback = state == spec::kUpdateRollbackStarted;
  const UpdateSettings cfg = SettingsFor(s, rollback);
  const int64_t now = ws.now();

  auto node_of = [&](size_t i) {
    const spec::Task& t = ws.task(i);
    return t.node_id.empty() ? nullptr : ws.FindNode(t.node_id);
  };
  std::vector<const UpdateSlot*> dirty;
  for (const UpdateSlot& slot : slots) {
    if (slot.tasks.size() > 1 || TaskDirty(s, ws.task(slot.tasks[0]), node_of(slot.tasks[0]))) {
      dirty.push_back(&slot);
    }
  }

  // Only an update this orchestrator started (or a rollback) has failure actions and completes;
  // dirty slots under a finished UpdateStatus are brought up to date quietly.
  bool tracked = state == spec::kUpdateUpdating || rollback;
  if (!s.update_status) {
    if (dirty.empty()) return;
    ws.MutableService(index).update_status =
        spec::UpdateStatus{spec::kUpdateUpdating, now, std::nullopt, "update in progress"};
    tracked = true;
  }
  const int64_t started = s.update_status->started_at.value_or(0);

  // The update's own tasks, with their slots.
  std::vector<std::pair<size_t, SlotKey>> update_tasks;
  for (const auto& [key, slot] : ws.SlotsOf(s)) {
    for (size_t i : slot) {
      const spec::Task& t = ws.task(i);
      if (t.meta.created_at < started || !(t.spec == s.spec.task_template)) continue;
      auto before = Predecessor(ws, slot, i);
      if (before && !(ws.task(*before).spec == t.spec)) update_tasks.emplace_back(i, key);
    }
  }

  if (tracked && cfg.failure_action != "continue") {
    std::vector<size_t> failures;
    std::set<SlotKey> touched;
    for (const auto& [i, key] : update_tasks) {
      touched.insert(key);
      if (IsFailure(ws.task(i), cfg.monitor)) failures.push_back(i);
    }
    for (const UpdateSlot* slot : dirty) touched.insert(slot->key);
    std::sort(failures.begin(), failures.end(), [&](size_t a, size_t b) {
      const spec::Task& x = ws.task(a);
      const spec::Task& y = ws.task(b);
      if (x.status.timestamp != y.status.timestamp) return x.status.timestamp < y.status.timestamp;
      return x.id < y.id;
    });
    for (size_t k = 0; k < failures.size(); ++k) {
      // float32, as swarmkit compares.
      float ratio = static_cast<float>(k + 1) / static_cast<float>(touched.size());
      if (ratio > static_cast<float>(cfg.max_failure_ratio)) {
        ApplyFailureAction(ws, index, cfg, rollback, ws.task(failures[k]).id);
        return;
      }
    }
  }

  if (dirty.empty()) {
    if (!tracked) return;
    int64_t last = std::max(started, s.meta.updated_at);
    for (const auto& [i, key] : update_tasks) {
      const spec::Task& t = ws.task(i);
      if (!Live(t)) continue;
      if (t.status.state != "running") return;  // the worker still waits for it
      last = std::max(last, t.status.timestamp + cfg.delay);
    }
    int64_t monitoring = cfg.delay >= cfg.monitor ? cfg.delay + kSecond : cfg.monitor;
    if (now < last + monitoring) {
      ws.WakeAt(last + monitoring);
      return;
    }
    spec::UpdateStatus& us = *ws.MutableService(index).update_status;
    us.state = rollback ? spec::kUpdateRollbackCompleted : spec::kUpdateCompleted;
    us.message = rollback ? "rollback completed" : "update completed";
    us.completed_at = now;
    return;
  }

  // Workers still busy: waiting for their task to run, then sleeping `delay`.
  std::set<SlotKey> busy;
  for (const auto& [i, key] : update_tasks) {
    const spec::Task& t = ws.task(i);
    if (StateRank(t.status.state) < kStateRunning) {
      if (Live(t)) busy.insert(key);
    } else if (t.status.timestamp + cfg.delay > now) {
      busy.insert(key);
      ws.WakeAt(t.status.timestamp + cfg.delay);
    }
  }
  size_t free = std::numeric_limits<size_t>::max();
  if (cfg.parallelism > 0) free = cfg.parallelism > busy.size() ? cfg.parallelism - busy.size() : 0;

  for (const UpdateSlot* slot : dirty) {
    // A task of the current spec already in the slot (a worker's from before, or a restart's):
    // use it, shutting the others down (start-first: once it runs).
    std::optional<size_t> clean;
    for (size_t i : slot->tasks) {
      const spec::Task& t = ws.task(i);
      if (!Live(t) || TaskDirty(s, t, node_of(i))) continue;
      if (t.desired_state == "running") {
        clean = i;
        break;
      }
      clean = i;
    }
    if (clean) {
      if (cfg.start_first && ws.task(*clean).status.state != "running") continue;
      for (size_t i : slot->tasks) {
        if (i != *clean) ws.RaiseDesired(i, "shutdown");
      }
      continue;
    }
    if (free == 0 || busy.count(slot->key)) continue;
    --free;
    const bool global = IsGlobal(s);
    ws.Create(NewTask(s, global ? 0 : slot->key.first, global ? slot->key.second : "",
                      cfg.start_first ? "running" : "ready", now));
    if (!cfg.start_first) {
      for (size_t i : slot->tasks) ws.RaiseDesired(i, "shutdown");
    }
  }
}

}  // namespace berth::cluster::orch
