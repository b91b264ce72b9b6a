#pragma once
// The scheduler (swarmkit manager/scheduler), over the pass's records: every task still wanted
// and not yet on a node ("pending") is placed, one at a time, on the node that passes the filters
// (ready and active; CPU and memory reservations within the node's resources minus those of the
// tasks there; constraints; platforms; free host-mode ports; MaxReplicas), within the placement
// preferences' spread branches the one with fewest tasks of the service, then, once a node has
// had 5 tasks of the service's current spec fail or be rejected within 5 minutes, the node with
// fewer such failures, then the node with the fewest tasks of the service, then the fewest tasks,
// then the lowest id. The task becomes
// "assigned" ("scheduler assigned task to node"). A task that fits nowhere stays "pending" with
// Err "no suitable node (<explanation>)", the explanation listing for each filter the nodes it
// failed, most first (swarmkit's Pipeline.Explain). A global task comes with its node, which is
// only checked ("scheduler confirmed task can run on preassigned node").

#include "cluster/orchestrator/working_set.h"

namespace berth::cluster::orch {

void Schedule(WorkingSet& ws);

}  // namespace berth::cluster::orch
