#include "engine/events.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace berth::engine {

namespace {
constexpr size_t kHistory = 1024;
}

void EventBus::Publish(const std::string& type, const std::string& action, const std::string& id,
                       std::map<std::string, std::string> attributes) {
  Event ev{type, action, id, std::move(attributes), UnixNanos(clock_.Now())};
  {
    absl::MutexLock lock(&mu_);
    history_.push_back(std::move(ev));
    if (history_.size() > kHistory) {
      history_.pop_front();
      ++first_seq_;
    }
    // An eventfd write never blocks: the subscribers' waits end.
    for (auto it = subs_.begin(); it != subs_.end();) {
      if (auto s = it->lock()) {
        s->Notify();
        ++it;
      } else {
        it = subs_.erase(it);
      }
    }
  }
}

uint64_t EventBus::Head() {
  absl::MutexLock lock(&mu_);
  return first_seq_ + history_.size();
}

uint64_t EventBus::CursorSince(int64_t since) {
  absl::MutexLock lock(&mu_);
  uint64_t seq = first_seq_;
  for (auto& e : history_) {
    if (e.time_nanos >= since) return seq;
    ++seq;
  }
  return seq;
}

std::vector<Event> EventBus::Next(uint64_t* cursor, int timeout_ms) {
  absl::MutexLock lock(&mu_);
  if (timeout_ms > 0) {
    auto ready = [this, cursor]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closed_ || first_seq_ + history_.size() > *cursor;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(timeout_ms));
  }
  std::vector<Event> out;
  if (*cursor < first_seq_) *cursor = first_seq_;
  for (uint64_t s = *cursor; s < first_seq_ + history_.size(); ++s)
    out.push_back(history_[s - first_seq_]);
  *cursor = first_seq_ + history_.size();
  return out;
}

EventBus::Subscription::Subscription() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void EventBus::Subscription::Notify() {
  uint64_t one = 1;
  (void)!::write(fd_.get(), &one, sizeof one);
}

void EventBus::Subscription::Drain() {
  uint64_t v;
  (void)!::read(fd_.get(), &v, sizeof v);
}

std::shared_ptr<EventBus::Subscription> EventBus::Subscribe() {
  auto s = std::make_shared<Subscription>();
  absl::MutexLock lock(&mu_);
  subs_.push_back(s);
  if (closed_) s->Notify();
  return s;
}

void EventBus::Close() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (auto& w : subs_)
      if (auto s = w.lock()) s->Notify();
  }
}

}  // namespace berth::engine
