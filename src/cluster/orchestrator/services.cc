#include "cluster/orchestrator/services.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "cluster/orchestrator/constraints.h"
#include "cluster/orchestrator/restart.h"

namespace berth::cluster::orch {
namespace {

// restart.UpdatableTasksInSlot: the slot's wanted tasks; or, when none is wanted any more, its
// newest task if that one is not to be restarted (a slot stopped for good still counts, except
// during a rollback, which must converge); nothing for a dead slot.
std::vector<size_t> Updatable(const WorkingSet& ws, const spec::Service& s,
                              const std::vector<size_t>& slot) {
  std::vector<size_t> live;
  for (size_t i : slot) {
    if (Live(ws.task(i))) live.push_back(i);
  }
  if (!live.empty()) return live;
  if (s.update_status && s.update_status->state == spec::kUpdateRollbackStarted) return {};
  size_t newest = Newest(ws, slot);
  // A slot removed by a scale-down is dead whatever its restart policy says.
  if (ws.task(newest).desired_state == "remove") return {};
  if (!ShouldRestart(ws, s, slot, newest)) return {newest};
  return {};
}

bool HasRunning(const WorkingSet& ws, const UpdateSlot& slot) {
  for (size_t i : slot.tasks) {
    if (ws.task(i).status.state == "running") return true;
  }
  return false;
}

}  // namespace

std::vector<UpdateSlot> ReconcileReplicated(WorkingSet& ws, const spec::Service& service) {
  Slots slots = ws.SlotsOf(service);
  std::vector<UpdateSlot> running;
  std::vector<const std::vector<size_t>*> dead;
  std::set<int64_t> used;
  for (const auto& [key, slot] : slots) {
    std::vector<size_t> tasks = Updatable(ws, service, slot);
    if (tasks.empty()) {
      dead.push_back(&slot);
    } else {
      running.push_back(UpdateSlot{key, std::move(tasks)});
      used.insert(key.first);
    }
  }

  const uint64_t want = Replicas(service);
  std::set<int64_t> reused;
  if (want > running.size()) {
    int64_t n = 0;
    for (uint64_t k = running.size(); k < want; ++k) {
      do ++n;
      while (used.count(n));
      reused.insert(n);
      ws.Create(NewTask(service, n, "", "running", ws.now()));
    }
  } else if (want < running.size()) {
    // Prefer removing tasks that are not running, then the highest slots (a stateful service's
    // leader usually sits in a low slot)...
    std::stable_sort(running.begin(), running.end(), [&](const UpdateSlot& a, const UpdateSlot& b) {
      bool ra = HasRunning(ws, a), rb = HasRunning(ws, b);
      if (ra != rb) return ra;
      return a.key.first < b.key.first;
    });
    // ...and, before that, the nth copy on a node for the largest n, so the nodes stay balanced.
    std::unordered_map<std::string, int> copies;
    std::vector<std::pair<int, size_t>> order;  // (index on its node, -1 last; position)
    for (size_t p = 0; p < running.size(); ++p) {
      const UpdateSlot& s = running[p];
      int index = -1;
      if (s.tasks.size() == 1 && !ws.task(s.tasks[0]).node_id.empty()) {
        index = ++copies[ws.task(s.tasks[0]).node_id];
      }
      order.emplace_back(index, p);
    }
    std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      if ((a.first < 0) != (b.first < 0)) return b.first < 0;
      return a.first < b.first;
    });
    std::vector<UpdateSlot> keep;
    for (size_t k = 0; k < order.size(); ++k) {
      UpdateSlot& s = running[order[k].second];
      if (k < want) {
        keep.push_back(std::move(s));
      } else {
        // The agent shuts these down; the reaper deletes them once stopped.
        for (size_t i : s.tasks) ws.RaiseDesired(i, "remove");
      }
    }
    std::sort(keep.begin(), keep.end(),
              [](const UpdateSlot& a, const UpdateSlot& b) { return a.key < b.key; });
    running = std::move(keep);
  }

  // Slots with no wanted task that were not reused: their records go, once not running.
  for (const std::vector<size_t>* slot : dead) {
    if (reused.count(ws.task(slot->front()).slot)) continue;
    for (size_t i : *slot) {
      int rank = StateRank(ws.task(i).status.state);
      if (rank < kStateAssigned || rank > kStateRunning) ws.Remove(i);
    }
  }
  return running;
}

std::vector<UpdateSlot> ReconcileGlobal(WorkingSet& ws, const spec::Service& service) {
  std::vector<Constraint> constraints;
  if (service.spec.task_template.placement) {
    auto parsed = ParseConstraints(service.spec.task_template.placement->constraints);
    if (parsed.ok()) constraints = std::move(*parsed);
  }
  Slots slots = ws.SlotsOf(service);
  std::vector<UpdateSlot> out;
  std::set<std::string> eligible;
  for (const spec::Node* node : ws.nodes()) {
    if (node->status.state == "down" || node->spec.availability == "drain") continue;
    eligible.insert(node->id);
    SlotKey key{0, node->id};
    auto it = slots.find(key);
    std::vector<size_t> tasks;
    if (it != slots.end()) tasks = Updatable(ws, service, it->second);
    if (!NodeMatches(constraints, *node)) {
      for (size_t i : tasks) ws.RaiseDesired(i, "shutdown");
      continue;
    }
    if (node->spec.availability == "pause") continue;
    if (tasks.empty()) {
      ws.Create(NewTask(service, 0, node->id, "running", ws.now()));
    } else {
      out.push_back(UpdateSlot{key, std::move(tasks)});
    }
  }
  // Tasks on nodes that are down, drained or gone.
  for (const auto& [key, slot] : slots) {
    if (eligible.count(key.second)) continue;
    for (size_t i : slot) {
      if (Live(ws.task(i))) ws.RaiseDesired(i, "shutdown");
    }
  }
  return out;
}

void RemoveServiceTasks(WorkingSet& ws, const std::string& service_id) {
  for (size_t i : ws.ServiceTasks(service_id)) ws.RaiseDesired(i, "remove");
}

}  // namespace berth::cluster::orch
