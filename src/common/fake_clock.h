#pragma once
// FakeClock: time that only moves when a test says so. Advance() runs every timer that falls due,
// in order, on the calling thread; AwaitTimers() lets a test wait (in real time, bounded) until the
// code under test has scheduled what the test is about to make fall due.

#include <chrono>
#include <functional>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace berth {

class FakeClock : public Clock {
 public:
  // Starts at 2026-01-01T00:00:00Z (wall) and an arbitrary monotonic origin.
  FakeClock()
      : wall_(std::chrono::system_clock::time_point(std::chrono::seconds(1767225600))),
        mono_(std::chrono::steady_clock::time_point(std::chrono::hours(1))) {}

  WallTime Now() const override {
    absl::MutexLock l(&mu_);
    return wall_;
  }
  MonoTime Monotonic() const override {
    absl::MutexLock l(&mu_);
    return mono_;
  }
  TimerId Schedule(Duration after, std::function<void()> fn) const override {
    absl::MutexLock l(&mu_);
    TimerId id = next_id_++;
    timers_.emplace(id, Timer{mono_ + after, std::move(fn)});
    return id;
  }
  bool Cancel(TimerId id) const override {
    absl::MutexLock l(&mu_);
    return timers_.erase(id) > 0;
  }

  // Moves time forward by d, running the timers that fall due (earliest first, each with the
  // clock showing its due time).
  void Advance(Duration d) {
    MonoTime end;
    {
      absl::MutexLock l(&mu_);
      end = mono_ + d;
    }
    for (;;) {
      std::function<void()> fn;
      {
        absl::MutexLock l(&mu_);
        auto next = timers_.end();
        for (auto it = timers_.begin(); it != timers_.end(); ++it)
          if (it->second.at <= end && (next == timers_.end() || it->second.at < next->second.at))
            next = it;
        if (next == timers_.end()) {
          wall_ += end - mono_;
          mono_ = end;
          return;
        }
        if (next->second.at > mono_) {
          wall_ += next->second.at - mono_;
          mono_ = next->second.at;
        }
        fn = std::move(next->second.fn);
        timers_.erase(next);
      }
      fn();
    }
  }

  // Number of pending timers.
  size_t Pending() const {
    absl::MutexLock l(&mu_);
    return timers_.size();
  }
  // Waits (real time, at most `limit`) until at least n timers are pending.
  bool AwaitTimers(size_t n, absl::Duration limit = absl::Seconds(10)) const {
    absl::MutexLock l(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return timers_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), limit);
  }

 private:
  struct Timer {
    MonoTime at;
    std::function<void()> fn;
  };
  mutable absl::Mutex mu_;
  WallTime wall_ ABSL_GUARDED_BY(mu_);
  MonoTime mono_ ABSL_GUARDED_BY(mu_);
  mutable std::map<TimerId, Timer> timers_ ABSL_GUARDED_BY(mu_);
  mutable TimerId next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace berth
