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
// How long a pass waits for the mirror's snapshot to hold what it must see before reading etcd.
constexpr Duration kMirrorPatience = std::chrono::seconds(1);
}  // namespace

OrchestratorRunner::~OrchestratorRunner() { Stop(); }

void OrchestratorRunner::Start(int64_t lease, std::shared_ptr<StoreMirror> mirror) {
  BERTH_CHECK(mirror != nullptr);
  {
    StateLock l(mu_);
    stop_ = false;
    dirty_ = true;
    wake_at_.reset();
    lease_ = lease;
    mirror_ = std::move(mirror);
  }
  need_revision_ = 0;
  uncertain_ = false;
  behind_since_.reset();
  failures_.Clear();  // a new term starts from the records, as any new leader's
  thread_ = std::thread([this] { Loop(); });
}

void OrchestratorRunner::Stop() {
  {
    StateLock l(mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  std::shared_ptr<StoreMirror> mirror;
  {
    StateLock l(mu_);
    mirror = std::move(mirror_);
  }
  // Released with no lock held: were it the last reference, its watch's thread is joined here,
  // and that thread's on_change calls Poke.
  mirror.reset();
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

void OrchestratorRunner::Loop() {
  orch::IdSource ids = [] { return pki::NewTokenSecret(); };
  for (;;) {
    int64_t lease = 0;
    std::shared_ptr<StoreMirror> mirror;
    {
      StateLock l(mu_);
      for (;;) {
        if (stop_) break;
        MonoTime now = clock_.Monotonic();
        bool due = wake_at_.has_value() && clock_.Now() >= *wake_at_;
        if ((dirty_ || due) && now >= not_before_) break;
        // Wake for the earliest of: the plan's time, the end of an error's back-off; at most 5 s
        // (a periodic pass, and a clock jump costs no more).
        Duration wait = std::chrono::seconds(5);
        if (wake_at_.has_value()) wait = std::min<Duration>(wait, *wake_at_ - clock_.Now());
        if (dirty_) wait = std::min<Duration>(wait, not_before_ - now);
        bool woke = WaitFor(clock_, mu_, cv_, std::max<Duration>(wait, Duration::zero()),
                            [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
                              MonoTime t = clock_.Monotonic();
                              return stop_ || (dirty_ && t >= not_before_);
                            });
        if (!woke && !stop_ && wait >= std::chrono::seconds(5)) dirty_ = true;  // periodic
      }
      if (stop_) break;
      dirty_ = false;
      wake_at_.reset();
      lease = lease_;
      mirror = mirror_;
    }
    // What to read: the mirror's snapshot once it holds all this runner must see (its own last
    // plan, or what etcd last showed it); until then the mirror's next change pokes again
    // (dirty_ was cleared before the snapshot is looked at, so that change is not missed).
    // etcd itself when there is no snapshot (the mirror reloading), after a write whose outcome
    // is unknown (it may have landed: the view must show it, or the plan would be made twice),
    // and when the snapshot has stayed behind for kMirrorPatience (a stalled watch must not
    // stall the orchestrator).
    std::shared_ptr<MirrorSnapshot> snapshot = uncertain_ ? nullptr : mirror->snapshot();
    if (snapshot != nullptr && snapshot->revision() < need_revision_) {
      MonoTime now = clock_.Monotonic();
      if (!behind_since_.has_value()) behind_since_ = now;
      if (now - *behind_since_ < kMirrorPatience) {
        StateLock l(mu_);
        WallTime at = clock_.Now() + (kMirrorPatience - (now - *behind_since_));
        if (!wake_at_.has_value() || at < *wake_at_) wake_at_ = at;
        continue;
      }
      snapshot = nullptr;
    } else if (snapshot != nullptr) {
      behind_since_.reset();
    }
    Store reader = snapshot ? store_.Reading(snapshot) : store_;
    int64_t revision = 0;
    StatusOr<orch::ClusterView> view = reader.ReadView(&revision);
    if (view.ok() && snapshot == nullptr) {
      // Read from etcd: a snapshot is used again once it is at least this new.
      need_revision_ = std::max(need_revision_, revision);
      uncertain_ = false;
    }
    Status applied = view.status();
    orch::Plan plan;
    if (view.ok()) {
      WallTime now = clock_.Now();
      failures_.Fill(*view, now);
      plan = orch::Reconcile(*view, now, ids);
      int64_t written_at = 0;
      if (!plan.empty()) applied = store_.ApplyPlan(plan, *view, lease, &written_at);
      if (applied.ok() && !plan.empty()) need_revision_ = std::max(need_revision_, written_at);
      if (!applied.ok() && !plan.empty() && !absl::IsFailedPrecondition(applied))
        uncertain_ = true;
      // Refused for a change the snapshot did not have yet: it is on its way to the mirror.
      if (absl::IsFailedPrecondition(applied) && snapshot != nullptr)
        need_revision_ = std::max(need_revision_, snapshot->revision() + 1);
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
      // (After a conflict from a snapshot, that pass waits for a newer one, above.)
      dirty_ = true;
      if (!conflict || conflicts_ > kConflictsAtOnce)
        not_before_ = clock_.Monotonic() + kRetryAfter;
    } else if (plan.wake_at.has_value() && (!wake_at_.has_value() || *plan.wake_at < *wake_at_)) {
      wake_at_ = plan.wake_at;
    }
  }
}

}  // namespace berth::cluster
