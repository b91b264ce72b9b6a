#pragma once
// Task-level orchestration (swarmkit's restart supervisor and the task side of the replicated
// and global orchestrators), recomputed from the records alone:
// - a task the orchestrator still wants (desired "ready"/"running") that ended, or whose node is
//   down, drained or gone, is shut down (desired "shutdown") and, if its restart policy allows,
//   replaced in the same slot (global: on the same node) by a task desired "ready";
// - a task desired "ready" is started (desired "running") once its restart delay has passed
//   since it was created and the tasks of its slot being shut down have stopped (or their node
//   is down, or a minute has passed), as swarmkit's DelayStart.
// The restart history that swarmkit keeps in memory is read from the slot's records instead:
// the restarts of a spec are its tasks in the slot after the first one (the reaper keeps
// MaxAttempts+1 of them, as swarmkit's does).

#include "cluster/orchestrator/working_set.h"

namespace berth::cluster::orch {

// Restart policy of the task's own spec: condition (any/on-failure/none), then max attempts
// within the window.
bool ShouldRestart(const WorkingSet& ws, const spec::Service& service,
                   const std::vector<size_t>& slot, size_t task);

// Phase 1: ended tasks and tasks of invalid nodes, for one service.
void RestartEnded(WorkingSet& ws, const spec::Service& service);

// Phase 4: "ready" tasks whose delay has passed become "running"; the others ask for a wake-up.
void PromoteReady(WorkingSet& ws, const spec::Service& service);

}  // namespace berth::cluster::orch
