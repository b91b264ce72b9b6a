#include "cluster/orchestrator/restart.h"

#include <algorithm>

#include "cluster/orchestrator/constraints.h"

namespace berth::cluster::orch {
namespace {

std::string Condition(const spec::Task& t) {
  if (t.spec.restart_policy && !t.spec.restart_policy->condition.empty()) {
    return t.spec.restart_policy->condition;
  }
  return "any";
}

int64_t RestartDelay(const spec::TaskSpec& spec) {
  if (spec.restart_policy && spec.restart_policy->delay) return *spec.restart_policy->delay;
  return kDefaultRestartDelay;
}

std::vector<Constraint> ServiceConstraints(const spec::Service& s) {
  if (!s.spec.task_template.placement) return {};
  auto parsed = ParseConstraints(s.spec.task_template.placement->constraints);
  return parsed.ok() ? *parsed : std::vector<Constraint>{};
}

// When the delayed start of task i (desired "ready") ends: its restart delay after it was created
// (none when it replaces a task of another spec, an update, or one of a drained node), and not
// before the tasks of its slot being shut down on a live node have stopped (or a minute has
// passed), as swarmkit's DelayStart.
int64_t DelayedStartAt(const WorkingSet& ws, const std::vector<size_t>& slot, size_t i) {
  const spec::Task& t = ws.task(i);
  int64_t delay = RestartDelay(t.spec);
  auto before = Predecessor(ws, slot, i);
  if (before) {
    const spec::Task& p = ws.task(*before);
    const spec::Node* pn = p.node_id.empty() ? nullptr : ws.FindNode(p.node_id);
    if (p.spec != t.spec || (pn && pn->spec.availability == "drain")) delay = 0;
  }
  bool waiting = false;
  for (size_t j : slot) {
    if (j == i) continue;
    const spec::Task& o = ws.task(j);
    int rank = StateRank(o.status.state);
    if (Live(o) || o.node_id.empty() || rank < kStateAssigned || rank > kStateRunning) continue;
    const spec::Node* on = ws.FindNode(o.node_id);
    if (on == nullptr || on->status.state == "down") continue;
    waiting = true;
  }
  int64_t start_at = t.meta.created_at + delay;
  if (waiting) start_at = std::max(start_at, t.meta.created_at + kOldTaskTimeout);
  return start_at;
}

}  // namespace

bool ShouldRestart(const WorkingSet& ws, const spec::Service& service,
                   const std::vector<size_t>& slot, size_t task) {
  const spec::Task& t = ws.task(task);
  std::string condition = Condition(t);
  if (condition == "none") return false;
  if (condition == "on-failure" && t.status.state == "complete") return false;
  const auto& policy = t.spec.restart_policy;
  uint64_t max_attempts = policy && policy->max_attempts ? *policy->max_attempts : 0;
  if (max_attempts == 0) return true;

  // The restarts of this spec in the slot: its tasks after the first one. With a window, only
  // those created within the window before this task ended (restart.shouldRestart).
  std::vector<const spec::Task*> same;
  for (size_t i : slot) {
    if (ws.task(i).spec == t.spec) same.push_back(&ws.task(i));
  }
  std::sort(same.begin(), same.end(), [](const spec::Task* a, const spec::Task* b) {
    if (a->meta.created_at != b->meta.created_at) return a->meta.created_at < b->meta.created_at;
    return a->id < b->id;
  });
  int64_t window = policy->window.value_or(0);
  int64_t ended = t.status.timestamp;
  uint64_t restarts = 0;
  for (size_t k = 1; k < same.size(); ++k) {
    int64_t created = same[k]->meta.created_at;
    if (window > 0 && (created <= ended - window || created >= ended)) continue;
    ++restarts;
  }
  return restarts < max_attempts;
}

void RestartEnded(WorkingSet& ws, const spec::Service& service) {
  const bool global = IsGlobal(service);
  std::vector<Constraint> constraints;
  if (global) constraints = ServiceConstraints(service);
  Slots slots = ws.SlotsOf(service);
  for (auto& [key, slot] : slots) {
    bool replaced = false;  // one replacement per slot and pass
    for (size_t i : slot) {
      const spec::Task& t = ws.task(i);
      if (!Live(t)) continue;
      const spec::Node* node = t.node_id.empty() ? nullptr : ws.FindNode(t.node_id);
      bool ended = StateRank(t.status.state) > kStateRunning;
      bool node_gone = !t.node_id.empty() && InvalidNode(node);
      if (!ended && !node_gone) continue;

      if (global) {
        // The global orchestrator: a task of a deleted node goes with it, one of a down or
        // drained node is shut down (the node gets a task again when it is back), and a task that
        // ended is restarted on its node unless the node is paused or no longer matches.
        if (!t.node_id.empty() && node == nullptr) {
          ws.Remove(i);
          continue;
        }
        if (node_gone || node->spec.availability == "pause" ||
            !NodeMatches(constraints, *node)) {
          ws.RaiseDesired(i, "shutdown");
          continue;
        }
      }
      // A replacement that ended before its own delayed start was over (an image that cannot be
      // had is rejected at once) is replaced only when that delay is over, not at once: one
      // attempt per restart delay, not a tight loop (swarmkit's waitRestart). It stays desired
      // "ready" meanwhile, as Docker shows it. (A global task whose node went or stopped
      // matching was dealt with above at once, as swarmkit's global orchestrator does.)
      if (t.desired_state == "ready") {
        int64_t start_at = DelayedStartAt(ws, slot, i);
        if (ws.now() < start_at) {
          ws.WakeAt(start_at);
          continue;
        }
      }
      ws.RaiseDesired(i, "shutdown");
      if (replaced || !ShouldRestart(ws, service, slot, i)) continue;
      // The replacement takes the service's current spec (orchestrator.NewTask) and waits in
      // "ready" for its delay (PromoteReady).
      ws.Create(NewTask(service, global ? 0 : ws.task(i).slot, global ? ws.task(i).node_id : "",
                        "ready", ws.now()));
      replaced = true;
    }
  }
}

void PromoteReady(WorkingSet& ws, const spec::Service& service) {
  Slots slots = ws.SlotsOf(service);
  for (auto& [key, slot] : slots) {
    for (size_t i : slot) {
      if (ws.task(i).desired_state != "ready") continue;
      int64_t start_at = DelayedStartAt(ws, slot, i);
      if (ws.now() >= start_at) {
        ws.Mutable(i).desired_state = "running";
      } else {
        ws.WakeAt(start_at);  // or earlier: the old task's stop is a change of the store
      }
    }
  }
}

}  // namespace berth::cluster::orch
