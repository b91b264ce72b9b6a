#pragma once
// The hand-off between a pull's or push's layer workers and the thread that called Pull/Push:
// workers Post() progress messages, the caller drains them and calls the sink with no lock held
// (the sink may block on the client's connection). Also the small worker pool both use, and the
// rate limit Docker applies to a layer's byte counts.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "engine/distribution/distribution.h"

namespace berth::engine::internal {

class ProgressQueue {
 public:
  // Any thread.
  void Post(PullProgress p);
  // Any thread: no more messages from this worker.
  void WorkerDone();
  // The caller's thread: hands every message to sink until `workers` workers are done. Every
  // ~100 ms it looks at `cancel` (the client went away) and, when set, sets `stop`.
  void Drain(int workers, const ProgressSink& sink, const std::atomic<bool>* cancel,
             std::atomic<bool>* stop);

 private:
  absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<PullProgress> queue_ ABSL_GUARDED_BY(mu_);
  int done_ ABSL_GUARDED_BY(mu_) = 0;
};

// Runs task(0..tasks-1) on up to `workers` threads, in index order of start. The first error
// sets `stop` (the others end early: their fetches poll it) and is returned; a cancel by the
// client is Cancelled "context canceled". Progress goes through `queue`, drained on this thread.
Status RunPool(int workers, int tasks, const std::function<Status(int)>& task, ProgressQueue& queue,
               const ProgressSink& sink, const std::atomic<bool>* cancel, std::atomic<bool>* stop);

// Docker's progress.Reader: a layer's byte count is reported at most every 100 ms, plus the
// first and the last (done == total).
class ProgressThrottle {
 public:
  bool Allow(int64_t done, int64_t total);

 private:
  bool first_ = true;
  std::chrono::steady_clock::time_point last_{};
};

// A progress message of Docker's progress.Update (progressDetail present) or Message (absent).
PullProgress Update(std::string id, std::string status);
PullProgress Message(std::string id, std::string status);
PullProgress Bytes(std::string id, std::string status, int64_t current, int64_t total);

}  // namespace berth::engine::internal
