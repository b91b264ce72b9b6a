#include "cluster/orchestrator_runner.h"

#include "cluster/pki/pki.h"
#include "spdlog/spdlog.h"

namespace berth::cluster {
namespace {
// After an error (no quorum), the next pass waits this long at least.
constexpr Duration kRetryAfter = std::chrono::milliseconds(100);
// A plan refused because the store changed since it was read (a node's status report came
// between) is made again at once from the newer store, this many times in a row; then with the
// back-off above (a plan that can never apply must not spin).
constexpr int kConflictsAtOnce = 3;
// A broken watch is re-opened this often; passes still run on the wake-up times meanwhile.
constexpr Duration kWatchRetry = std::chrono::seconds(1);
}  // namespace

OrchestratorRunner::~OrchestratorRunner() { Stop(); }

void OrchestratorRunner::Start(int64_t lease, std::shared_ptr<StoreMirror> mirror) {
  {
    StateLock l(mu_);
    stop_ = false;
    dirty_ = true;
    watch_broken_ = mirror == nullptr;  // every term opens its own watch, unless it has a mirror
    wake_at_.reset();
    lease_ = lease;
    mirror_ = std::move(mirror);
  }
  planned_revision_ = 0;
  thread_ = std::thread([this] { Loop(); });
}

void OrchestratorRunner::Stop() {
  {
    StateLock l(mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  StateLock l(mu_);
  mirror_.reset();
}

void OrchestratorRunner::Poke() {
  StateLock l(mu_);
  dirty_ = true;
  cv_.SignalAll();
}

uint64_t OrchestratorRunner::passes() const {
  StateLock l(mu_);
  return passes_;
}

bool OrchestratorRunner::Watch() {
  watch_.reset();
  StatusOr<std::unique_ptr<etcd::Watch>> w = store_.etcd().WatchPrefix(
      Store::kSwarmPrefix, 0, [this](const std::vector<etcd::WatchEvent>&, int64_t) { Poke(); },
      [this](const Status& error) {
        spdlog::warn("swarm: orchestrator watch: {}", error.ToString());
        StateLock l(mu_);
        watch_broken_ = true;
        dirty_ = true;
        cv_.SignalAll();
      });
  if (!w.ok()) return false;
  watch_ = std::move(*w);
  StateLock l(mu_);
  watch_broken_ = false;
  dirty_ = true;  // whatever happened before the watch began
  return true;
}

void OrchestratorRunner::Loop() {
  orch::IdSource ids = [] { return pki::NewTokenSecret(); };
  for (;;) {
    bool rewatch = false;
    int64_t lease = 0;
    std::shared_ptr<StoreMirror> mirror;
    {
      StateLock l(mu_);
      for (;;) {
        if (stop_) break;
        MonoTime now = clock_.Monotonic();
        bool due = wake_at_.has_value() && clock_.Now() >= *wake_at_;
        if ((dirty_ || due) && now >= not_before_) break;
        if (watch_broken_ && now >= rewatch_at_) break;
        // Wake for the earliest of: the plan's time, the end of an error's back-off, a watch
        // retry; at most 5 s (a periodic pass, and a clock jump costs no more).
        Duration wait = std::chrono::seconds(5);
        if (wake_at_.has_value()) wait = std::min<Duration>(wait, *wake_at_ - clock_.Now());
        if (dirty_) wait = std::min<Duration>(wait, not_before_ - now);
        if (watch_broken_) wait = std::min<Duration>(wait, rewatch_at_ - now);
        bool woke = WaitFor(clock_, mu_, cv_, std::max<Duration>(wait, Duration::zero()),
                            [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
                              MonoTime t = clock_.Monotonic();
                              return stop_ || (dirty_ && t >= not_before_) ||
                                     (watch_broken_ && t >= rewatch_at_);
                            });
        if (!woke && !stop_ && wait >= std::chrono::seconds(5)) dirty_ = true;  // periodic
      }
      if (stop_) break;
      rewatch = watch_broken_ && clock_.Monotonic() >= rewatch_at_;
      dirty_ = false;
      wake_at_.reset();
      lease = lease_;
      mirror = mirror_;
    }
    // The mirror's snapshot, once it holds this runner's last plan; until then the mirror's
    // next change pokes again (dirty_ was cleared before the snapshot is looked at, so that
    // change is not missed). Without a snapshot (the mirror reloading): etcd itself.
    std::shared_ptr<MirrorSnapshot> snapshot = mirror ? mirror->snapshot() : nullptr;
    if (snapshot && snapshot->revision() < planned_revision_) continue;
    Store reader = snapshot ? store_.Reading(snapshot) : store_;
    if (rewatch && !Watch()) {
      StateLock l(mu_);
      rewatch_at_ = clock_.Monotonic() + kWatchRetry;
    }
    int64_t revision = 0;
    StatusOr<orch::ClusterView> view = reader.ReadView(&revision);
    Status applied = view.status();
    orch::Plan plan;
    if (view.ok()) {
      plan = orch::Reconcile(*view, clock_.Now(), ids);
      int64_t written_at = 0;
      if (!plan.empty()) applied = store_.ApplyPlan(plan, *view, lease, &written_at);
      if (applied.ok() && !plan.empty()) planned_revision_ = written_at;
    }
    StateLock l(mu_);
    ++passes_;
    bool conflict = absl::IsFailedPrecondition(applied);
    conflicts_ = conflict ? conflicts_ + 1 : 0;
    if (!applied.ok()) {
      if (!conflict) spdlog::warn("swarm: orchestrator pass: {}", applied.ToString());
      // Another pass soon; not at once after an error (a store without quorum must not be
      // hammered), but at once after a conflict: the change that caused it is already in the
      // store, and waiting would only delay the plan (during a scale, every status report can
      // cause one, 100 ms each).
      // From a snapshot, the change that caused a conflict is on its way to the mirror, whose
      // change pokes: a pass now would read the same snapshot. (The periodic pass is the
      // backstop.)
      bool from_snapshot = snapshot != nullptr && mirror->revision() == snapshot->revision();
      if (!conflict || !from_snapshot) dirty_ = true;
      if (!conflict || conflicts_ > kConflictsAtOnce)
        not_before_ = clock_.Monotonic() + kRetryAfter;
    } else if (plan.wake_at.has_value() && (!wake_at_.has_value() || *plan.wake_at < *wake_at_)) {
      wake_at_ = plan.wake_at;
    }
  }
  watch_.reset();
}

}  // namespace berth::cluster
