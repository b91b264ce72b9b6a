#pragma once
// The store's view as one Reconcile pass sees and changes it: the task records (read, changed,
// created, deleted), the services whose record the pass rewrites, the nodes by id, and the earliest
// time the pass wants to run again. Every phase (restart, replicated/global, updater, promotion,
// scheduler, reaper) works on it in turn; at the end it becomes the Plan. Internal to the
// orchestrator.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cluster/orchestrator/reconcile.h"

namespace berth::cluster::orch {

// Task states by rank, in spec::kTaskStates' order (a task only moves forward).
enum TaskStateRank : int {
  kStateUnknown = -1,
  kStateNew = 0,
  kStateAllocated,
  kStatePending,
  kStateAssigned,
  kStateAccepted,
  kStatePreparing,
  kStateReady,
  kStateStarting,
  kStateRunning,
  kStateComplete,
  kStateShutdown,
  kStateFailed,
  kStateRejected,
  kStateRemove,
  kStateOrphaned,
};
int StateRank(std::string_view state);

// swarmkit's defaults (api/defaults): a restart 5 s after the end; updates and rollbacks one task
// at a time, no delay, stop-first, pause on failure, 5 s monitor, no failure tolerated.
inline constexpr int64_t kSecond = 1'000'000'000;
inline constexpr int64_t kDefaultRestartDelay = 5 * kSecond;
inline constexpr int64_t kDefaultMonitor = 5 * kSecond;
// How long a delayed start waits for the task it replaces to stop (restart.defaultOldTaskTimeout).
inline constexpr int64_t kOldTaskTimeout = 60 * kSecond;

// A slot in swarmkit's broad sense: a replicated service's slot number, or a global service's
// node. Ordered so that slots come out 1, 2, 3... and nodes by id.
using SlotKey = std::pair<int64_t, std::string>;
using Slots = std::map<SlotKey, std::vector<size_t>>;

class WorkingSet {
 public:
  WorkingSet(const ClusterView& view, int64_t now, const IdSource& new_id);

  int64_t now() const { return now_; }
  int64_t history_limit() const { return history_limit_; }

  // --- tasks: indices stay valid for the pass (a deleted task keeps its index) -----------------
  size_t size() const { return tasks_.size(); }
  const spec::Task& task(size_t i) const { return tasks_[i].task; }
  bool removed(size_t i) const { return tasks_[i].removed; }
  bool created(size_t i) const { return tasks_[i].created; }
  // The record, to be written back: meta.updated_at becomes now.
  spec::Task& Mutable(size_t i);
  // Raises desired_state to `state` (never lowers it, as swarmkit refuses "time travel").
  void RaiseDesired(size_t i, const char* state);
  size_t Create(spec::Task t);
  void Remove(size_t i);
  // The service's tasks (deleted ones left out), in input order then creation order.
  std::vector<size_t> ServiceTasks(const std::string& service_id) const;
  // The service's tasks by slot (replicated: slot number; global: node id).
  Slots SlotsOf(const spec::Service& service) const;
  // Task ids of services that are no longer in the store.
  const std::vector<std::string>& orphan_service_ids() const { return orphan_services_; }

  // --- services -------------------------------------------------------------------------------
  const std::vector<spec::Service>& services() const { return services_; }
  const spec::Service* FindService(const std::string& id) const;
  // The pass's copy of a service record, to be written back (meta.updated_at = now).
  spec::Service& MutableService(size_t index);

  // Recent failures as the leader remembers them (ClusterView::failures); null: none kept.
  const RecentFailures* remembered_failures() const { return failures_; }

  // --- nodes ----------------------------------------------------------------------------------
  const spec::Node* FindNode(const std::string& id) const;
  const std::vector<const spec::Node*>& nodes() const { return nodes_; }  // sorted by id

  void WakeAt(int64_t unix_nanos);

  Plan TakePlan();

 private:
  struct Entry {
    spec::Task task;
    bool created = false;
    bool changed = false;
    bool removed = false;
  };
  int64_t now_;
  const IdSource& new_id_;
  int64_t history_limit_;
  std::vector<Entry> tasks_;
  std::unordered_map<std::string, std::vector<size_t>> by_service_;
  std::vector<spec::Service> services_;
  std::vector<bool> service_changed_;
  std::unordered_map<std::string, size_t> service_index_;
  std::vector<const spec::Node*> nodes_;
  std::unordered_map<std::string, const spec::Node*> node_index_;
  std::vector<std::string> orphan_services_;
  const RecentFailures* failures_;
  std::optional<int64_t> wake_at_;
};

// --- shared rules -------------------------------------------------------------------------------

bool IsGlobal(const spec::Service& s);
uint64_t Replicas(const spec::Service& s);
SlotKey SlotOf(const spec::Service& s, const spec::Task& t);

// A task whose desired state is at most running ("ready" or "running"): the orchestrator still
// wants it.
bool Live(const spec::Task& t);

// Node validity for tasks already there (orchestrator.InvalidNode): missing, down or drained.
bool InvalidNode(const spec::Node* n);

// Whether a task no longer matches its service (orchestrator.IsTaskDirty): its spec differs from
// the service's TaskTemplate, unless only the placement constraints changed and its node still
// satisfies them.
bool TaskDirty(const spec::Service& s, const spec::Task& t, const spec::Node* node);

// A new task for the service in `slot` (replicated) or on `node_id` (global): "pending task
// scheduling", desired `desired`.
spec::Task NewTask(const spec::Service& s, int64_t slot, const std::string& node_id,
                   const char* desired, int64_t now);

// The slot's task created just before `t` (by created time, then id), if any.
std::optional<size_t> Predecessor(const WorkingSet& ws, const std::vector<size_t>& slot, size_t t);

// The most recent task of a slot by status time (orchestrator.TasksByTimestamp).
size_t Newest(const WorkingSet& ws, const std::vector<size_t>& slot);

}  // namespace berth::cluster::orch
