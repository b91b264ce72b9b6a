#pragma once
// The swarm's orchestration as a pure function: from what the cluster store holds (services,
// tasks, nodes) and the time, what should be written next. The leader runs it in a loop
// (cluster/orchestrator_runner.h) on every change of the store and at the time the last plan
// asked to be woken, and applies each plan in one etcd transaction conditional on the versions
// it read; a conflict just means another pass. Because every decision is recomputed from the
// store, a new leader carries on exactly where the old one stopped (a rolling update included).
//
// What it covers, with Docker's (swarmkit's) semantics:
// - replicated services as slots 1..Replicas; global services one task per eligible node;
// - the task life cycle on the manager's side: new tasks are created "new"/desired "running",
//   allocated and scheduled to a node ("pending" -> "assigned", or left "pending" with
//   "no suitable node (...)" when nothing fits); restart policies (condition, delay,
//   max-attempts, window) when a task ends; tasks of a Down node replaced; drain moves tasks off,
//   pause places no new ones; scale-down keeps the lowest slots and removes the newest, balancing
//   nodes; task history per slot pruned to the cluster's TaskHistoryRetentionLimit;
// - the scheduler: spread by node (a node where the service keeps failing last, then fewest
//   tasks of the service, then fewest tasks), constraints
//   (node.id, node.hostname, node.role, node.platform.os/arch, node.labels.*, engine.labels.*,
//   == and !=), spread preferences, MaxReplicas per node, CPU and memory reservations;
// - rolling updates and rollbacks: UpdateConfig/RollbackConfig (parallelism, delay, order,
//   failure action, monitor, max failure ratio), UpdateStatus with Docker's states and messages,
//   PreviousSpec, ForceUpdate.
//
// Threading: a pure function; no state, no clock of its own.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "spec/service.h"
#include "spec/swarm.h"

namespace berth::cluster::orch {

// Recent failures of a service's tasks of one spec, by node: what the scheduler counts to put a
// node where the service keeps failing after the others (scheduler.h).
struct FailureGroup {
  std::shared_ptr<const spec::TaskSpec> spec;
  std::map<std::string, int> per_node;  // node id -> failed or rejected tasks in the window
};
// By service id.
using RecentFailures = std::unordered_map<std::string, std::vector<FailureGroup>>;

// What the store holds, as read at one revision. Every record's meta.version.index is the etcd
// mod revision it was read at (0 for records the plan creates).
struct ClusterView {
  std::vector<spec::Service> services;
  std::vector<spec::Task> tasks;
  std::vector<spec::Node> nodes;
  // spec.Orchestration.TaskHistoryRetentionLimit (Docker's default 5).
  int64_t task_history_limit = 5;
  // Recent failures as the leader remembers them (FailureMemory), including those of tasks the
  // reaper has deleted since; null: the scheduler counts the failed tasks among `tasks`.
  std::shared_ptr<const RecentFailures> failures;
};

// The leader's memory of recent task failures (swarmkit's scheduler keeps one too; a new leader
// starts it afresh, from the records). A slot keeps only its last few tasks, so without it a
// service failing on two nodes would forget the first node's failures and go back to it.
// Failures of replicated tasks only (a global task's node is not chosen), by the status time.
// Threading: one owner (the orchestrator's loop).
class FailureMemory {
 public:
  // Remembers the view's failed and rejected tasks not yet known, forgets those past the
  // scheduler's window, and sets view.failures to what is left (shared, rebuilt only on a
  // change).
  void Fill(ClusterView& view, WallTime now);
  size_t size() const { return by_task_.size(); }
  void Clear() { *this = FailureMemory(); }

 private:
  struct Group {
    std::string service_id;
    std::shared_ptr<const spec::TaskSpec> spec;
    std::map<std::string, int> per_node;  // no zero counts: an empty group is dropped
  };
  struct Entry {
    int64_t at;
    uint64_t group;
    std::string node_id;
  };
  std::unordered_map<std::string, Entry> by_task_;
  std::multimap<int64_t, std::string> by_time_;  // at -> task id, for expiry
  std::map<uint64_t, Group> groups_;
  uint64_t next_group_ = 0;
  std::shared_ptr<const RecentFailures> published_;
  bool changed_ = true;
};

struct Plan {
  // New task records (their ids from the IdSource).
  std::vector<spec::Task> create;
  // Changed task records; meta.version.index is still the version they were read at.
  std::vector<spec::Task> update;
  // Task records to delete (history beyond the limit, tasks of removed services once down).
  std::vector<std::string> remove;
  // Changed service records (UpdateStatus, a rollback's Spec/PreviousSpec); versions as read.
  std::vector<spec::Service> services;
  // Run again at this time even if the store does not change (update delays, restart delays,
  // monitor windows); nullopt: only on a change.
  std::optional<WallTime> wake_at;

  bool empty() const {
    return create.empty() && update.empty() && remove.empty() && services.empty();
  }
};

// New ids (25 characters of [a-z0-9], as swarmkit's). Tests pass a deterministic one.
using IdSource = std::function<std::string()>;

// One pass. Deterministic for a given view, time and id source.
Plan Reconcile(const ClusterView& view, WallTime now, const IdSource& new_id);

// --- pieces the API uses too ----------------------------------------------------------------

// Whether node satisfies every constraint expression; a malformed expression is an error with
// Docker's wording (checked when a service is created or updated).
Status ValidateConstraints(const std::vector<std::string>& constraints);
bool NodeMatches(const spec::Node& node, const std::vector<std::string>& constraints);

}  // namespace berth::cluster::orch
