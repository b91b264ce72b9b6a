#include "cluster/orchestrator/working_set.h"

#include <algorithm>
#include <unordered_set>

#include "cluster/orchestrator/constraints.h"

namespace berth::cluster::orch {

int StateRank(std::string_view state) { return spec::TaskStateRank(state); }

WorkingSet::WorkingSet(const ClusterView& view, int64_t now, const IdSource& new_id)
    : now_(now),
      new_id_(new_id),
      history_limit_(view.task_history_limit),
      failures_(view.failures.get()) {
  services_ = view.services;
  std::sort(services_.begin(), services_.end(),
            [](const spec::Service& a, const spec::Service& b) { return a.id < b.id; });
  service_changed_.assign(services_.size(), false);
  for (size_t i = 0; i < services_.size(); ++i) service_index_[services_[i].id] = i;

  for (const spec::Node& n : view.nodes) nodes_.push_back(&n);
  std::sort(nodes_.begin(), nodes_.end(),
            [](const spec::Node* a, const spec::Node* b) { return a->id < b->id; });
  for (const spec::Node* n : nodes_) node_index_[n->id] = n;

  tasks_.reserve(view.tasks.size());
  std::unordered_set<std::string> orphans;
  for (const spec::Task& t : view.tasks) {
    by_service_[t.service_id].push_back(tasks_.size());
    tasks_.push_back(Entry{t, /*created=*/false, /*changed=*/false, /*removed=*/false});
    if (!t.service_id.empty() && !service_index_.count(t.service_id) &&
        orphans.insert(t.service_id).second) {
      orphan_services_.push_back(t.service_id);
    }
  }
  std::sort(orphan_services_.begin(), orphan_services_.end());
}

spec::Task& WorkingSet::Mutable(size_t i) {
  Entry& e = tasks_[i];
  e.changed = true;
  e.task.meta.updated_at = now_;
  return e.task;
}

void WorkingSet::RaiseDesired(size_t i, const char* state) {
  if (StateRank(tasks_[i].task.desired_state) >= StateRank(state)) return;
  Mutable(i).desired_state = state;
}

size_t WorkingSet::Create(spec::Task t) {
  t.id = new_id_();
  t.meta.version.index = 0;
  t.meta.created_at = now_;
  t.meta.updated_at = now_;
  size_t i = tasks_.size();
  by_service_[t.service_id].push_back(i);
  tasks_.push_back(Entry{std::move(t), /*created=*/true, /*changed=*/true, /*removed=*/false});
  return i;
}

void WorkingSet::Remove(size_t i) { tasks_[i].removed = true; }

std::vector<size_t> WorkingSet::ServiceTasks(const std::string& service_id) const {
  std::vector<size_t> out;
  auto it = by_service_.find(service_id);
  if (it == by_service_.end()) return out;
  out.reserve(it->second.size());
  for (size_t i : it->second) {
    if (!tasks_[i].removed) out.push_back(i);
  }
  return out;
}

Slots WorkingSet::SlotsOf(const spec::Service& service) const {
  Slots slots;
  for (size_t i : ServiceTasks(service.id)) slots[SlotOf(service, tasks_[i].task)].push_back(i);
  return slots;
}

const spec::Service* WorkingSet::FindService(const std::string& id) const {
  auto it = service_index_.find(id);
  return it == service_index_.end() ? nullptr : &services_[it->second];
}

spec::Service& WorkingSet::MutableService(size_t index) {
  service_changed_[index] = true;
  services_[index].meta.updated_at = now_;
  return services_[index];
}

const spec::Node* WorkingSet::FindNode(const std::string& id) const {
  auto it = node_index_.find(id);
  return it == node_index_.end() ? nullptr : it->second;
}

void WorkingSet::WakeAt(int64_t t) {
  if (t <= now_) t = now_ + 1;  // never ask to be woken in the past: that would spin
  if (!wake_at_ || t < *wake_at_) wake_at_ = t;
}

Plan WorkingSet::TakePlan() {
  Plan plan;
  for (Entry& e : tasks_) {
    if (e.removed) {
      if (!e.created) plan.remove.push_back(e.task.id);
    } else if (e.created) {
      plan.create.push_back(std::move(e.task));
    } else if (e.changed) {
      plan.update.push_back(std::move(e.task));
    }
  }
  for (size_t i = 0; i < services_.size(); ++i) {
    if (service_changed_[i]) plan.services.push_back(services_[i]);
  }
  if (wake_at_) {
    plan.wake_at = WallTime(
        std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(*wake_at_)));
  }
  return plan;
}

// --- shared rules -------------------------------------------------------------------------------

bool IsGlobal(const spec::Service& s) { return s.spec.mode.global && !s.spec.mode.replicated; }

uint64_t Replicas(const spec::Service& s) {
  // A replicated service whose Replicas was left out has one (the CLI's and the daemon's default).
  return s.spec.mode.replicas.value_or(1);
}

SlotKey SlotOf(const spec::Service& s, const spec::Task& t) {
  if (IsGlobal(s)) return {0, t.node_id};
  return {t.slot, std::string()};
}

bool Live(const spec::Task& t) { return StateRank(t.desired_state) <= kStateRunning; }

bool InvalidNode(const spec::Node* n) {
  return n == nullptr || n->status.state == "down" || n->spec.availability == "drain";
}

bool TaskDirty(const spec::Service& s, const spec::Task& t, const spec::Node* node) {
  const spec::TaskSpec& want = s.spec.task_template;
  if (t.spec == want) return false;
  // Only the placement constraints changed, and the task's node still satisfies them.
  spec::TaskSpec with_task_placement = want;
  with_task_placement.placement = t.spec.placement;
  if (with_task_placement == t.spec && node != nullptr) {
    std::vector<std::string> constraints;
    if (want.placement) constraints = want.placement->constraints;
    auto parsed = ParseConstraints(constraints);
    // swarmkit: constraints that do not parse constrain nothing.
    if (!parsed.ok() || NodeMatches(*parsed, *node)) return false;
  }
  return true;
}

spec::Task NewTask(const spec::Service& s, int64_t slot, const std::string& node_id,
                   const char* desired, int64_t now) {
  spec::Task t;
  t.spec = s.spec.task_template;
  t.service_id = s.id;
  t.slot = slot;
  t.node_id = node_id;
  t.desired_state = desired;
  t.status.timestamp = now;
  t.status.state = "pending";
  t.status.message = "pending task scheduling";
  return t;
}

namespace {
bool CreatedBefore(const spec::Task& a, const spec::Task& b) {
  if (a.meta.created_at != b.meta.created_at) return a.meta.created_at < b.meta.created_at;
  return a.id < b.id;
}
}  // namespace

std::optional<size_t> Predecessor(const WorkingSet& ws, const std::vector<size_t>& slot, size_t t) {
  std::optional<size_t> best;
  for (size_t i : slot) {
    if (i == t || !CreatedBefore(ws.task(i), ws.task(t))) continue;
    if (!best || CreatedBefore(ws.task(*best), ws.task(i))) best = i;
  }
  return best;
}

size_t Newest(const WorkingSet& ws, const std::vector<size_t>& slot) {
  size_t best = slot.front();
  for (size_t i : slot) {
    const spec::Task& a = ws.task(i);
    const spec::Task& b = ws.task(best);
    if (a.status.timestamp > b.status.timestamp ||
        (a.status.timestamp == b.status.timestamp && CreatedBefore(b, a))) {
      best = i;
    }
  }
  return best;
}

}  // namespace berth::cluster::orch
