#pragma once
// EventBus: Docker's /events. Publishers append; subscribers wait on the mutex's condition (or
// their Subscription's fd) and read from a bounded history (so `--since` can replay recent events).
//
// Thread-safe: one mutex guards the history, the subscribers and closed_.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/fd.h"

namespace berth::engine {

// One event, as /events shows it (src/api renders Docker's JSON).
struct Event {
  std::string type;    // "container", "image", "network"
  std::string action;  // "create", "start", "die"...
  std::string id;
  std::map<std::string, std::string> attributes;
  int64_t time_nanos = 0;
};

class EventBus {
 public:
  explicit EventBus(const Clock& clock) : clock_(clock) {}
  // type: "container", "image", "network"; action: "create", "start", "die"...
  void Publish(const std::string& type, const std::string& action, const std::string& id,
               std::map<std::string, std::string> attributes);
  // Events with sequence number >= *cursor, waiting up to `timeout_ms` for one (0: none, for
  // subscribers); advances cursor.
  std::vector<Event> Next(uint64_t* cursor, int timeout_ms);
  // A readable descriptor for a waiter that watches other things too (a client's connection):
  // it becomes readable when an event is published (or the bus closes); Drain() before waiting
  // again. Unsubscribed when the last reference goes.
  class Subscription {
   public:
    Subscription();
    int fd() const { return fd_.get(); }
    void Drain();
    void Notify();

   private:
    UniqueFd fd_;
  };
  std::shared_ptr<Subscription> Subscribe();
  // Sequence number of the first event at or after unix nanos `since` still in history.
  uint64_t CursorSince(int64_t since_nanos);
  uint64_t Head();
  void Close();

 private:
  const Clock& clock_;
  absl::Mutex mu_;
  std::deque<Event> history_ ABSL_GUARDED_BY(mu_);
  uint64_t first_seq_ ABSL_GUARDED_BY(mu_) = 0;  // sequence number of history_.front()
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::weak_ptr<Subscription>> subs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::engine
