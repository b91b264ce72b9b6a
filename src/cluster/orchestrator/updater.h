#pragma once
// Rolling updates and rollbacks (swarmkit's update.Updater), as a function of the records: the
// service's UpdateStatus (state, StartedAt) and its tasks' specs, creation times and statuses.
// Nothing else is remembered between passes, so a new leader carries on where the old one was.
//
// - A slot is dirty when it holds more than one wanted task or its task's spec differs from the
//   service's TaskTemplate. When dirty slots appear and the service has no UpdateStatus, the update
//   starts: "updating", "update in progress", StartedAt now.
// - The update's tasks are those of the current spec created since StartedAt that replaced a task
//   of another spec in their slot (restarts and new slots are not: swarmkit counts only the
//   tasks its updater created).
// - A worker is busy with a slot while its update task has not reached running, and then for
//   `delay`. Free workers (Parallelism, 0 = all) take the next dirty slots in order: a new task of
//   the current spec; stop-first shuts the old ones down at once (the new one, desired "ready",
//   starts when they have stopped); start-first creates it desired "running" and shuts the old
//   ones down once it runs. A slot that already holds a task of the current spec uses it.
// - An update task that fails, is rejected or completes counts as a failure if it never ran
//   ("started" is the message a task keeps once it ran) or it ended within `monitor` of its
//   creation; failures / slots of the update > MaxFailureRatio triggers the failure action: pause
//   ("paused"/"rollback_paused"), continue, or rollback (Spec = PreviousSpec, PreviousSpec cleared,
//   "rollback_started"; a rollback is never rolled back but paused).
// - With nothing dirty, the update completes ("completed"/"update completed",
//   "rollback_completed"/"rollback completed", CompletedAt) once every update task runs and the
//   last one has run for `delay` plus the monitoring period (monitor, or delay + 1 s when the delay
//   is not shorter), counted at the earliest from the service's last change.

#include <vector>

#include "cluster/orchestrator/services.h"
#include "cluster/orchestrator/working_set.h"

namespace berth::cluster::orch {

void RunUpdater(WorkingSet& ws, size_t service_index, const std::vector<UpdateSlot>& slots);

}  // namespace berth::cluster::orch
