#pragma once
// OrchestratorRunner: the swarm leader's loop around the pure orchestrator
// (orchestrator/reconcile.h). On every change of the cluster store's prefix, and at the time the
// last plan asked for, it reads the view (services, tasks, nodes at one revision), computes a
// plan and writes it (Store::ApplyPlan). A conflicting write only means another pass.
// The view is read from the leader's StoreMirror, whose changes Poke the runner; a pass waits for
// a snapshot that holds the runner's own last plan (else it would plan again what it has just
// written), for at most a second, then reads etcd. It reads etcd too while the mirror has no
// snapshot and after a write whose outcome is unknown.
// It runs only while this manager leads: a new leader's runner recomputes everything from the
// store, so it carries on whatever the old one was doing (a rolling update included).
//
// Threading: one thread of its own; Poke (the mirror's on_change) only sets a flag. The state
// lock is never held across etcd.

#include <memory>
#include <optional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "cluster/etcd/client.h"
#include "cluster/mirror.h"
#include "cluster/orchestrator/reconcile.h"
#include "cluster/store.h"
#include "common/clock.h"
#include "common/sync.h"

namespace berth::cluster {

class OrchestratorRunner {
 public:
  OrchestratorRunner(Store& store, const Clock& clock) : store_(store), clock_(clock) {}
  ~OrchestratorRunner();  // Stop()

  // Starts passing, fenced by the leader's lease (Store::ApplyPlan), reading from `mirror`
  // (whose on_change must call Poke).
  void Start(int64_t lease, std::shared_ptr<StoreMirror> mirror);
  // Waits for a pass in progress to end. Idempotent.
  void Stop();
  // Something changed (the mirror's on_change): a pass soon.
  void Poke();
  // Passes run so far (for tests and the bench).
  uint64_t passes() const;

 private:
  void Loop();

  Store& store_;
  const Clock& clock_;
  mutable StateMutex mu_;
  absl::CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = true;
  std::optional<WallTime> wake_at_ ABSL_GUARDED_BY(mu_);
  int64_t lease_ ABSL_GUARDED_BY(mu_) = 0;
  MonoTime not_before_ ABSL_GUARDED_BY(mu_);  // after an error: the next pass not before
  uint64_t passes_ ABSL_GUARDED_BY(mu_) = 0;
  int conflicts_ ABSL_GUARDED_BY(mu_) = 0;  // plans refused in a row for a changed store
  std::shared_ptr<StoreMirror> mirror_ ABSL_GUARDED_BY(mu_);
  // The loop's thread only: the revision a snapshot must have reached to be read (of the last
  // plan written, or of the last view read from etcd); whether the last write's outcome is
  // unknown (then etcd is read); since when the snapshot has been behind.
  int64_t need_revision_ = 0;
  bool uncertain_ = false;
  std::optional<MonoTime> behind_since_;
  // The loop's thread only: failures seen, kept after the reaper deletes their records.
  orch::FailureMemory failures_;
  std::thread thread_;
};

}  // namespace berth::cluster
