#pragma once
// Executor: a fixed set of worker threads for slow work that no request waits for (a container's
// restart after its back-off, the removal of an exited --rm container). Every thread is joined at
// Shutdown(), so none outlives its work or the daemon; tasks still queued then are dropped.
//
// Threading: Post and Shutdown may be called from any thread (also from a task: Post only).

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace berth {

class Executor {
 public:
  explicit Executor(int threads);
  ~Executor();  // Shutdown()
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // false after Shutdown: the task is dropped.
  bool Post(std::function<void()> task);
  // Stops taking tasks, drops the queued ones, waits for the running ones.
  void Shutdown();
  // Tasks queued or running (tests, diagnostics).
  size_t Busy() const;

 private:
  void Loop();

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  size_t running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace berth
