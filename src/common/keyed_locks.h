#pragma once
// KeyedLocks: one operation lock per key (a container id, a network id), made on first use and
// dropped when nobody holds or waits for it any more. Operation locks serialise the slow work on
// one object (common/sync.h); take them before any state lock.

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace berth {

class KeyedLocks {
 public:
  // The lock for `key`; hold the returned pointer while using it.
  std::shared_ptr<absl::Mutex> For(const std::string& key) {
    absl::MutexLock l(&mu_);
    auto& w = locks_[key];
    auto sp = w.lock();
    if (!sp) {
      sp = std::make_shared<absl::Mutex>();
      w = sp;
    }
    if (locks_.size() > 1024 && locks_.size() > 2 * live_after_sweep_) {
      for (auto it = locks_.begin(); it != locks_.end();)
        it = it->second.expired() ? locks_.erase(it) : std::next(it);
      live_after_sweep_ = locks_.size();
    }
    return sp;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::weak_ptr<absl::Mutex>> locks_ ABSL_GUARDED_BY(mu_);
  size_t live_after_sweep_ ABSL_GUARDED_BY(mu_) = 0;
};

// Holds the operation lock of one key for a scope.
class ABSL_SCOPED_LOCKABLE KeyedLock {
 public:
  KeyedLock(KeyedLocks& locks, const std::string& key) : mu_(locks.For(key)) { mu_->Lock(); }
  ~KeyedLock() { mu_->Unlock(); }
  KeyedLock(const KeyedLock&) = delete;
  KeyedLock& operator=(const KeyedLock&) = delete;

 private:
  std::shared_ptr<absl::Mutex> mu_;
};

}  // namespace berth
