#pragma once
// Berth's two kinds of locks (docs/architecture.md, "Concurrency").
//
// A *state lock* (StateMutex) guards a subsystem's in-memory state: the container table, the
// network controller's maps. It is held only for short sections that compute or copy; while
// holding one a thread never waits for another thread, the kernel (netlink, nft, mounts,
// namespaces, runc), a subprocess or SQLite. Every blocking entry point of the lower layers calls
// CheckNoStateLock(), so a violation is found by any test that reaches it: it aborts in debug and
// sanitizer builds and logs "lock discipline violated" in release builds (the e2e suite fails on
// that line in berthd's log).
//
// An *operation lock* (absl::Mutex, one per container or network) serialises the slow work on one
// object, so a `stop -t 10` blocks that container only. Operation locks are taken before any state
// lock, never while holding one, and in the order container -> network.
//
// A *resource lock* is a leaf around the one resource it serialises (the SQLite connection, a
// pipe to a helper process); no other lock is ever taken while holding it.
//
// Guarded members carry ABSL_GUARDED_BY; the tree builds with clang's -Wthread-safety -Werror.

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace berth {

namespace internal {
// How many state locks the calling thread holds now.
int& StateLocksHeld();
}  // namespace internal

class ABSL_LOCKABLE StateMutex {
 public:
  StateMutex() = default;
  StateMutex(const StateMutex&) = delete;
  StateMutex& operator=(const StateMutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    mu_.Lock();
    ++internal::StateLocksHeld();
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    --internal::StateLocksHeld();
    mu_.Unlock();
  }
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() { mu_.AssertHeld(); }

  // Waits on cv, releasing the lock meanwhile (a waiting thread holds nothing). Returns false
  // when the deadline passed (WaitUntil) first.
  void Wait(absl::CondVar& cv) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    --internal::StateLocksHeld();
    cv.Wait(&mu_);
    ++internal::StateLocksHeld();
  }

 private:
  absl::Mutex mu_;
};

class ABSL_SCOPED_LOCKABLE StateLock {
 public:
  explicit StateLock(StateMutex& mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_.Lock(); }
  ~StateLock() ABSL_UNLOCK_FUNCTION() { mu_.Unlock(); }
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

 private:
  StateMutex& mu_;
};

// Called by every blocking entry point of the lower layers (`what` names it).
void CheckNoStateLock(const char* what);

}  // namespace berth
