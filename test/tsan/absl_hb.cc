// libberth_tsan_absl.so: only for ThreadSanitizer runs (`make tsan` preloads it into the tests).
//
// Debian's libabsl_synchronization is not built with -fsanitize=thread, so ThreadSanitizer
// cannot see absl::Mutex, CondVar or Notification order anything: every guarded member read
// after a Lock() looks like a race with the write before another thread's Unlock(). This
// library is preloaded ahead of absl and wraps each entry point the code calls, forwarding to
// absl's own and telling ThreadSanitizer the happens-before edge it implies: an acquire on the
// object after a lock (or a wait) returns, a release before an unlock (or a wait, which unlocks,
// or a signal). Conditions absl evaluates on an unlocking thread read state that thread has
// acquired through its own Lock(), so they need nothing more.
//
// Not instrumented itself; the __tsan_* hooks are weak, so a process without the runtime (ctest,
// a shell) may load it and simply gets absl's functions.

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

extern "C" {
void __tsan_acquire(void* addr) __attribute__((weak));
void __tsan_release(void* addr) __attribute__((weak));
}

namespace {

void Acquire(const void* p) {
  if (__tsan_acquire != nullptr) __tsan_acquire(const_cast<void*>(p));
}
void Release(const void* p) {
  if (__tsan_release != nullptr) __tsan_release(const_cast<void*>(p));
}

// absl evaluates a Condition inside its own code with the mutex held: on the waiter, having
// re-taken the mutex internally (no Lock() to wrap), or on a thread in Unlock(), for the waiters
// queued on the same mutex. The mutex the current call works on is noted here, so an
// evaluation acquires it before reading and releases it after.
thread_local const void* current_mutex = nullptr;

class Current {
 public:
  explicit Current(const void* mu) : saved_(current_mutex) { current_mutex = mu; }
  ~Current() { current_mutex = saved_; }

 private:
  const void* saved_;
};

// absl's definition of the symbol this library shadows.
template <class F>
F Next(const char* mangled) {
  void* f = dlsym(RTLD_NEXT, mangled);
  if (f == nullptr) {
    std::fprintf(stderr, "tsan_absl: %s not found: %s\n", mangled, dlerror());
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

// absl's deadlock detector keeps a lock graph behind an internal spinlock ThreadSanitizer does
// not see either; the lock order it checks is the clang annotations' and the tests' business.
__attribute__((constructor)) void QuietDeadlockDetector() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace

// Member functions are forwarded as plain functions taking `this` first (the Itanium ABI).
#define BERTH_NEXT(name, type, mangled) static const auto name = Next<type>(mangled)

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  BERTH_NEXT(next, void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  Current c(this);
  next(this);
  Acquire(this);
}

void Mutex::Unlock() {
  BERTH_NEXT(next, void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  Release(this);
  Current c(this);
  next(this);
}

void Mutex::ReaderLock() {
  BERTH_NEXT(next, void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  next(this);
  Acquire(this);
}

void Mutex::ReaderUnlock() {
  BERTH_NEXT(next, void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  Release(this);
  Current c(this);
  next(this);
}

bool Mutex::TryLock() {
  BERTH_NEXT(next, bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  bool locked = next(this);
  if (locked) Acquire(this);
  return locked;
}

void Mutex::Await(const Condition& cond) {
  BERTH_NEXT(next, void (*)(Mutex*, const Condition&),
             "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  Release(this);
  Current c(this);
  next(this, cond);
  Acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  BERTH_NEXT(next, bool (*)(Mutex*, const Condition&, absl::Duration),
             "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Release(this);
  Current c(this);
  bool met = next(this, cond, timeout);
  Acquire(this);
  return met;
}

void Mutex::LockWhen(const Condition& cond) {
  BERTH_NEXT(next, void (*)(Mutex*, const Condition&),
             "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  Current c(this);
  next(this, cond);
  Acquire(this);
}

void CondVar::Wait(Mutex* mu) {
  BERTH_NEXT(next, void (*)(CondVar*, Mutex*), "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  Release(mu);
  next(this, mu);
  Acquire(mu);
  Acquire(this);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  BERTH_NEXT(next, bool (*)(CondVar*, Mutex*, absl::Duration),
             "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Release(mu);
  bool timed_out = next(this, mu, timeout);
  Acquire(mu);
  Acquire(this);
  return timed_out;
}

void CondVar::Signal() {
  BERTH_NEXT(next, void (*)(CondVar*), "_ZN4absl7debian37CondVar6SignalEv");
  Release(this);
  next(this);
}

void CondVar::SignalAll() {
  BERTH_NEXT(next, void (*)(CondVar*), "_ZN4absl7debian37CondVar9SignalAllEv");
  Release(this);
  next(this);
}

bool Condition::Eval() const {
  BERTH_NEXT(next, bool (*)(const Condition*), "_ZNK4absl7debian39Condition4EvalEv");
  if (current_mutex == nullptr) return next(this);
  Acquire(current_mutex);
  bool holds = next(this);
  Release(current_mutex);
  return holds;
}

void Notification::Notify() {
  BERTH_NEXT(next, void (*)(Notification*), "_ZN4absl7debian312Notification6NotifyEv");
  Release(this);
  next(this);
}

void Notification::WaitForNotification() const {
  BERTH_NEXT(next, void (*)(const Notification*),
             "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  next(this);
  Acquire(this);
}

ABSL_NAMESPACE_END
}  // namespace absl
