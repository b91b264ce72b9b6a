#pragma once
// Snapshot<T>: an immutable value that hot readers take without waiting for its writer. The writer
// builds a new T and swaps it in; readers hold a shared_ptr to the version they read for as long
// as they need it. The lock is held only for the pointer copy, never while a T is built or used.

#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace berth {

template <typename T>
class Snapshot {
 public:
  Snapshot() : value_(std::make_shared<const T>()) {}
  std::shared_ptr<const T> Get() const {
    absl::MutexLock l(&mu_);
    return value_;
  }
  void Set(std::shared_ptr<const T> v) {
    absl::MutexLock l(&mu_);
    value_ = std::move(v);
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const T> value_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth
