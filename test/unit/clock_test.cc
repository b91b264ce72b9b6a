// The clock's timers, FakeClock, WaitFor and the Executor: what restart back-off, stop timeouts
// and DNS deadlines rely on.

#include <atomic>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/executor.h"
#include "common/fake_clock.h"
#include "common/sync.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace berth {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(FakeClockTest, AdvanceRunsDueTimersInOrderWithTheirTime) {
  FakeClock clock;
  MonoTime t0 = clock.Monotonic();
  std::vector<std::pair<int, MonoTime>> ran;
  clock.Schedule(seconds(3), [&] { ran.push_back({3, clock.Monotonic()}); });
  clock.Schedule(seconds(1), [&] { ran.push_back({1, clock.Monotonic()}); });
  Clock::TimerId never = clock.Schedule(seconds(2), [&] { ran.push_back({2, clock.Monotonic()}); });
  EXPECT_TRUE(clock.Cancel(never));
  EXPECT_FALSE(clock.Cancel(never));
  clock.Advance(milliseconds(999));
  EXPECT_TRUE(ran.empty());
  clock.Advance(seconds(5));
  ASSERT_EQ(ran.size(), 2u);
  EXPECT_EQ(ran[0].first, 1);
  EXPECT_EQ(ran[0].second, t0 + seconds(1));
  EXPECT_EQ(ran[1].first, 3);
  EXPECT_EQ(ran[1].second, t0 + seconds(3));
  EXPECT_EQ(clock.Monotonic(), t0 + milliseconds(5999));
  EXPECT_EQ(clock.Pending(), 0u);
}

TEST(FakeClockTest, ATimerMayScheduleAnotherThatFallsDueInTheSameAdvance) {
  FakeClock clock;
  int runs = 0;
  std::function<void()> again = [&] {
    if (++runs < 5) clock.Schedule(milliseconds(100), again);
  };
  clock.Schedule(milliseconds(100), again);
  clock.Advance(seconds(1));
  EXPECT_EQ(runs, 5);
}

TEST(SystemClockTest, TimersRunOnceAndCancelledOnesNever) {
  SystemClock clock;
  absl::Mutex mu;
  int fired = 0;
  bool cancelled_ran = false;
  clock.Schedule(milliseconds(1), [&] {
    absl::MutexLock l(&mu);
    ++fired;
  });
  Clock::TimerId id = clock.Schedule(seconds(30), [&] {
    absl::MutexLock l(&mu);
    cancelled_ran = true;
  });
  EXPECT_TRUE(clock.Cancel(id));
  absl::MutexLock l(&mu);
  EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(+[](int* f) { return *f == 1; }, &fired),
                                  absl::Seconds(10)));
  EXPECT_FALSE(cancelled_ran);
}

TEST(WaitForTest, ReturnsWhenTheConditionHoldsOrTheFakeTimeoutPasses) {
  FakeClock clock;
  StateMutex mu;
  absl::CondVar cv;
  bool done = false;

  // The condition turns true from another thread: WaitFor returns true, no timer left behind.
  std::thread setter([&] {
    ASSERT_TRUE(clock.AwaitTimers(1));
    StateLock l(mu);
    done = true;
    cv.SignalAll();
  });
  {
    StateLock l(mu);
    EXPECT_TRUE(WaitFor(clock, mu, cv, seconds(10), [&] { return done; }));
  }
  setter.join();
  EXPECT_EQ(clock.Pending(), 0u);

  // Nothing happens: only advancing the fake clock past the timeout ends the wait.
  done = false;
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    StateLock l(mu);
    EXPECT_FALSE(WaitFor(clock, mu, cv, seconds(10), [&] { return done; }));
    returned = true;
  });
  ASSERT_TRUE(clock.AwaitTimers(1));
  clock.Advance(seconds(9));
  EXPECT_FALSE(returned);
  clock.Advance(seconds(1));
  waiter.join();
  EXPECT_TRUE(returned);
}

TEST(ExecutorTest, RunsTasksAndJoinsEveryThreadAtShutdown) {
  std::atomic<int> ran{0};
  {
    Executor ex(3);
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(ex.Post([&] { ++ran; }));
    while (ex.Busy() > 0) std::this_thread::yield();
    EXPECT_EQ(ran, 100);
    ex.Shutdown();
    EXPECT_FALSE(ex.Post([&] { ++ran; }));
  }
  EXPECT_EQ(ran, 100);
}

TEST(ExecutorTest, ShutdownDropsQueuedTasksAndWaitsForRunningOnes) {
  Executor ex(1);
  absl::Notification started, release;
  std::atomic<bool> first_done{false}, second_ran{false};
  ex.Post([&] {
    started.Notify();
    release.WaitForNotification();
    first_done = true;
  });
  ex.Post([&] { second_ran = true; });
  started.WaitForNotification();
  std::thread stopper([&] { ex.Shutdown(); });
  // Shutdown has begun once Post refuses (the tasks posted before that are dropped with the rest).
  while (ex.Post([&] { second_ran = true; })) std::this_thread::yield();
  release.Notify();
  stopper.join();
  EXPECT_TRUE(first_done);
  EXPECT_FALSE(second_ran);
}

TEST(StateMutexTest, CountsHeldStateLocks) {
  StateMutex a, b;
  EXPECT_EQ(internal::StateLocksHeld(), 0);
  {
    StateLock la(a);
    StateLock lb(b);
    EXPECT_EQ(internal::StateLocksHeld(), 2);
  }
  EXPECT_EQ(internal::StateLocksHeld(), 0);
  CheckNoStateLock("a test");  // nothing held: no complaint
}

}  // namespace
}  // namespace berth

namespace berth {
namespace {

TEST(Rfc3339, ParsesWhatItFormatsAndRefusesTimesPastInt64Nanos) {
  int64_t n = 0;
  ASSERT_TRUE(ParseRfc3339("2026-11-28T03:28:05.79041263Z", &n));
  EXPECT_EQ(FormatRfc3339Nano(n), "2026-11-28T03:28:05.79041263Z");
  ASSERT_TRUE(ParseRfc3339("0001-01-01T00:00:00Z", &n));
  EXPECT_EQ(n, 0);
  // Year 6090 (found by spec_fuzz): its nanoseconds do not fit an int64.
  EXPECT_FALSE(ParseRfc3339("6090-01-01T00:00:00Z", &n));
  EXPECT_FALSE(ParseRfc3339("1500-01-01T00:00:00Z", &n));
  EXPECT_TRUE(ParseRfc3339("2262-01-01T00:00:00Z", &n));
}

}  // namespace
}  // namespace berth
