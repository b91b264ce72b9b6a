#include "common/clock.h"

#include <atomic>
#include <ctime>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace berth {

SystemClock::~SystemClock() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
    timers_.clear();
    due_.clear();
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

Clock::TimerId SystemClock::Schedule(Duration after, std::function<void()> fn) const {
  absl::MutexLock l(&mu_);
  TimerId id = next_id_++;
  MonoTime at = Monotonic() + after;
  timers_[id] = {at, std::move(fn)};
  due_.emplace(at, id);
  if (!thread_.joinable() && !stop_) thread_ = std::thread([this] { Loop(); });
  cv_.SignalAll();
  return id;
}

bool SystemClock::Cancel(TimerId id) const {
  absl::MutexLock l(&mu_);
  auto it = timers_.find(id);
  if (it == timers_.end()) return false;
  auto range = due_.equal_range(it->second.first);
  for (auto d = range.first; d != range.second; ++d)
    if (d->second == id) {
      due_.erase(d);
      break;
    }
  timers_.erase(it);
  return true;
}

void SystemClock::Loop() const {
  absl::MutexLock l(&mu_);
  while (!stop_) {
    if (due_.empty()) {
      cv_.Wait(&mu_);
      continue;
    }
    MonoTime next = due_.begin()->first;
    MonoTime now = Monotonic();
    if (next > now) {
      cv_.WaitWithTimeout(&mu_, absl::FromChrono(next - now));
      continue;
    }
    TimerId id = due_.begin()->second;
    due_.erase(due_.begin());
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;
    std::function<void()> fn = std::move(it->second.second);
    timers_.erase(it);
    // Callbacks run without the clock's lock: they may schedule and cancel timers.
    mu_.Unlock();
    fn();
    mu_.Lock();
  }
}

bool WaitFor(const Clock& clock, StateMutex& mu, absl::CondVar& cv, Duration timeout,
             const std::function<bool()>& done) {
  if (done() || timeout <= Duration::zero()) return done();
  // `fired` is read and written under mu, so the timer's wakeup cannot slip between the waiter's
  // check and its wait; `finished` tells the waiter the callback no longer touches mu or cv.
  struct Shared {
    bool fired = false;
    std::atomic<bool> finished{false};
  };
  auto shared = std::make_shared<Shared>();
  Clock::TimerId id = clock.Schedule(timeout, [shared, &mu, &cv] {
    mu.Lock();
    shared->fired = true;
    cv.SignalAll();
    mu.Unlock();
    shared->finished = true;
  });
  while (!done() && !shared->fired) mu.Wait(cv);
  bool ok = done();
  if (!clock.Cancel(id)) {
    // The callback ran or runs now (maybe waiting for mu): let it finish before mu and cv may go.
    while (!shared->finished) {
      mu.Unlock();
      std::this_thread::yield();
      mu.Lock();
    }
  }
  return ok;
}

int64_t UnixNanos(WallTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::string FormatRfc3339Nano(WallTime t) { return FormatRfc3339Nano(UnixNanos(t)); }

std::string FormatRfc3339Nano(int64_t ns) {
  if (ns == 0) return "0001-01-01T00:00:00Z";
  time_t secs = static_cast<time_t>(ns / 1000000000);
  int64_t frac = ns % 1000000000;
  struct tm tm;
  gmtime_r(&secs, &tm);
  std::string out = absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (frac != 0) {
    std::string f = absl::StrFormat("%09d", frac);
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + "Z";
}

bool ParseRfc3339(const std::string& s, int64_t* out) {
  if (s.empty() || s.rfind("0001-01-01", 0) == 0) {
    *out = 0;
    return true;
  }
  struct tm tm = {};
  int consumed = 0;
  if (sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
             &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
    return false;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t secs = timegm(&tm);
  int64_t frac = 0;
  size_t i = static_cast<size_t>(consumed);
  if (i < s.size() && s[i] == '.') {
    int digits = 0;
    for (++i; i < s.size() && isdigit(static_cast<unsigned char>(s[i])); ++i) {
      if (digits < 9) {
        frac = frac * 10 + (s[i] - '0');
        ++digits;
      }
    }
    for (; digits < 9; ++digits) frac *= 10;
  }
  // Unix nanoseconds in an int64 span 1677 to 2262; a time outside is refused, not wrapped.
  constexpr int64_t kMaxSecs = INT64_MAX / 1000000000 - 1;
  if (secs > kMaxSecs || secs < -kMaxSecs) return false;
  *out = secs * 1000000000 + frac;
  return true;
}

std::string HumanDuration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  int64_t seconds = duration_cast<std::chrono::seconds>(d).count();
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return absl::StrFormat("%d seconds", seconds);
  int64_t minutes = seconds / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return absl::StrFormat("%d minutes", minutes);
  int64_t hours = (seconds + 1800) / 3600;
  if (hours == 1) return "About an hour";
  if (hours < 48) return absl::StrFormat("%d hours", hours);
  if (hours < 24 * 7 * 2) return absl::StrFormat("%d days", hours / 24);
  if (hours < 24 * 30 * 2) return absl::StrFormat("%d weeks", hours / 24 / 7);
  if (hours < 24 * 365 * 2) return absl::StrFormat("%d months", hours / 24 / 30);
  return absl::StrFormat("%d years", hours / 24 / 365);
}

}  // namespace berth
