#pragma once
// Service-level orchestration: how many tasks a service should have and where.
// - Replicated (swarmkit replicated/services.go): slots 1..Replicas. A slot is "running" when
//   one of its tasks is still wanted (desired ready/running), or when its newest task stopped and
//   its restart policy says it stays stopped (not during a rollback). Missing slots get a task,
//   lowest numbers first; extra slots are removed (desired "remove") preferring non-running ones,
//   then the node with the most copies, then the highest slot numbers, so that scaling down keeps
//   slot 1 and leaves the nodes balanced. Slots with no wanted task are cleaned up.
// - Global (swarmkit global/global.go): one task per node that is not down or drained and matches
//   the constraints; a paused node keeps what it has and gets nothing new; tasks elsewhere are
//   shut down.
// Both return the slots the updater then brings to the current spec.

#include "cluster/orchestrator/working_set.h"

namespace berth::cluster::orch {

// A slot the updater looks at: its wanted tasks (or its stopped-for-good newest one).
struct UpdateSlot {
  SlotKey key;
  std::vector<size_t> tasks;
};

std::vector<UpdateSlot> ReconcileReplicated(WorkingSet& ws, const spec::Service& service);
std::vector<UpdateSlot> ReconcileGlobal(WorkingSet& ws, const spec::Service& service);

// A deleted service: every task desired "remove" (the reaper deletes them once stopped).
void RemoveServiceTasks(WorkingSet& ws, const std::string& service_id);

}  // namespace berth::cluster::orch
