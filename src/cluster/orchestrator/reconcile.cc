// Reconcile: one orchestration pass, phase by phase over the pass's working copy of the store.
// Per service: task-level restarts (restart.h), the replicated or global reconciliation
// (services.h), the updater (updater.h) and the start of delayed tasks; then the scheduler for
// every task without a node (scheduler.h) and the reaper (reaper.h).
#include "cluster/orchestrator/reconcile.h"

#include "cluster/orchestrator/reaper.h"
#include "cluster/orchestrator/restart.h"
#include "cluster/orchestrator/scheduler.h"
#include "cluster/orchestrator/services.h"
#include "cluster/orchestrator/updater.h"
#include "cluster/orchestrator/working_set.h"

namespace berth::cluster::orch {

Plan Reconcile(const ClusterView& view, WallTime now, const IdSource& new_id) {
  WorkingSet ws(view, UnixNanos(now), new_id);
  for (const std::string& gone : ws.orphan_service_ids()) RemoveServiceTasks(ws, gone);
  for (size_t k = 0; k < ws.services().size(); ++k) {
    RestartEnded(ws, ws.services()[k]);
    std::vector<UpdateSlot> slots = IsGlobal(ws.services()[k])
                                        ? ReconcileGlobal(ws, ws.services()[k])
                                        : ReconcileReplicated(ws, ws.services()[k]);
    RunUpdater(ws, k, slots);
    PromoteReady(ws, ws.services()[k]);
  }
  Schedule(ws);
  Reap(ws);
  return ws.TakePlan();
}

}  // namespace berth::cluster::orch
