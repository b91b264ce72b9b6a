#pragma once
// EventBus: Docker's /events. Publishers append; subscribers block on a condition variable and
// read from a bounded history (so `--since` can replay recent events).
//
// Thread-safe: one mutex guards history_ and closed_.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> history_;  // guarded by mu_
  uint64_t first_seq_ = 0;              // guarded by mu_; sequence number of history_.front()
  bool closed_ = false;                 // guarded by mu_
  std::vector<std::weak_ptr<Subscription>> subs_;  // guarded by mu_
};

}  // namespace berth::engine
