#pragma once
// The task reaper (swarmkit taskreaper): deletes the records of tasks desired "remove" (scaled
// down, or of a deleted service) once they never reached a node or have stopped, and keeps each
// slot's history to the cluster's TaskHistoryRetentionLimit (MaxAttempts + 1 when the restart
// policy limits attempts, so that the restarts can still be counted), deleting the oldest tasks
// that have stopped or will never run.

#include "cluster/orchestrator/working_set.h"

namespace berth::cluster::orch {

void Reap(WorkingSet& ws);

}  // namespace berth::cluster::orch
