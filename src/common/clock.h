#pragma once
// Time as the Engine API writes it (RFC 3339 with nanoseconds, UTC) and an injectable clock with
// timers (STYLE.md habit 7): restart back-off, stop timeouts and DNS forwarding deadlines run on
// it, so tests advance a FakeClock (common/fake_clock.h) instead of sleeping.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/sync.h"

namespace berth {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;
using Duration = std::chrono::nanoseconds;

// Threading: every method may be called from any thread. Timer callbacks run on the clock's own
// timer thread (a FakeClock: on the thread that advances it), one at a time; they must be short and
// must not block (they set a flag, notify, or post work to an owner), and may schedule or cancel
// timers themselves.
class Clock {
 public:
  using TimerId = uint64_t;
  virtual ~Clock() = default;
  virtual WallTime Now() const = 0;
  virtual MonoTime Monotonic() const = 0;
  // Runs fn once, `after` from now.
  virtual TimerId Schedule(Duration after, std::function<void()> fn) const = 0;
  // true: the timer was pending and will never run. false: it ran, is running, or is unknown.
  virtual bool Cancel(TimerId id) const = 0;
};

// Waits on cv (with mu held by the caller) until done() holds or `timeout` on `clock` passed;
// returns done(). done() is evaluated with mu held. Blocking waits that tests drive with a
// FakeClock use it (stop timeouts). mu and cv must outlive the call only: a timer that raced
// with the wakeup is waited for before returning.
bool WaitFor(const Clock& clock, StateMutex& mu, absl::CondVar& cv, Duration timeout,
             const std::function<bool()>& done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

class SystemClock : public Clock {
 public:
  SystemClock() = default;
  ~SystemClock() override;  // stops the timer thread; pending timers never run
  WallTime Now() const override { return std::chrono::system_clock::now(); }
  MonoTime Monotonic() const override { return std::chrono::steady_clock::now(); }
  TimerId Schedule(Duration after, std::function<void()> fn) const override;
  bool Cancel(TimerId id) const override;

 private:
  void Loop() const;

  mutable absl::Mutex mu_;
  mutable absl::CondVar cv_;
  mutable std::multimap<MonoTime, TimerId> due_ ABSL_GUARDED_BY(mu_);
  mutable std::map<TimerId, std::pair<MonoTime, std::function<void()>>> timers_ ABSL_GUARDED_BY(mu_);
  mutable TimerId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  mutable bool stop_ ABSL_GUARDED_BY(mu_) = false;
  mutable std::thread thread_;  // started by the first Schedule (under mu_)
};

// "2026-11-28T03:24:58.42852458Z" (trailing zeros of the fraction dropped, as Go does);
// the zero time prints as "0001-01-01T00:00:00Z".
std::string FormatRfc3339Nano(WallTime t);
std::string FormatRfc3339Nano(int64_t unix_nanos);
int64_t UnixNanos(WallTime t);
// Parses what FormatRfc3339Nano writes (and whole-second forms); 0 for the zero time.
bool ParseRfc3339(const std::string& s, int64_t* unix_nanos);
// "Up 3 seconds", "About a minute", "2 hours": Go's units.HumanDuration, which docker ps uses.
std::string HumanDuration(std::chrono::nanoseconds d);

}  // namespace berth
