#include "engine/distribution/progress_queue.h"

#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace berth::engine::internal {

void ProgressQueue::Post(PullProgress p) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(p));
  cv_.Signal();
}

void ProgressQueue::WorkerDone() {
  absl::MutexLock lock(&mu_);
  ++done_;
  cv_.Signal();
}

void ProgressQueue::Drain(int workers, const ProgressSink& sink, const std::atomic<bool>* cancel,
                          std::atomic<bool>* stop) {
  for (;;) {
    std::deque<PullProgress> batch;
    bool finished = false;
    {
      absl::MutexLock lock(&mu_);
      while (queue_.empty() && done_ < workers) {
        // A timeout, not an event: the client's disconnect is only visible through `cancel`.
        cv_.WaitWithTimeout(&mu_, absl::Milliseconds(100));
        if (cancel != nullptr && cancel->load() && !stop->load()) break;
      }
      batch.swap(queue_);
      finished = done_ >= workers;
    }
    if (cancel != nullptr && cancel->load()) stop->store(true);
    for (const PullProgress& p : batch) {
      if (sink) sink(p);
    }
    if (finished && batch.empty()) return;
  }
}

Status RunPool(int workers, int tasks, const std::function<Status(int)>& task, ProgressQueue& queue,
               const ProgressSink& sink, const std::atomic<bool>* cancel, std::atomic<bool>* stop) {
  if (tasks == 0) return absl::OkStatus();
  int n = std::max(1, std::min(workers, tasks));
  std::atomic<int> next{0};
  absl::Mutex err_mu;
  Status first_error;  // guarded by err_mu (a local: no annotation)
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int w = 0; w < n; ++w) {
    threads.emplace_back([&] {
      for (;;) {
        if (stop->load()) break;
        int i = next.fetch_add(1);
        if (i >= tasks) break;
        Status st = task(i);
        if (!st.ok()) {
          {
            absl::MutexLock lock(&err_mu);
            // A worker that ended because another failed reports Cancelled: keep the cause.
            if (first_error.ok() && !(stop->load() && st.code() == absl::StatusCode::kCancelled)) {
              first_error = st;
            }
          }
          stop->store(true);
          break;
        }
      }
      queue.WorkerDone();
    });
  }
  queue.Drain(n, sink, cancel, stop);
  for (auto& t : threads) t.join();
  if (cancel != nullptr && cancel->load()) return absl::CancelledError("context canceled");
  absl::MutexLock lock(&err_mu);
  if (first_error.ok() && stop->load()) return absl::CancelledError("context canceled");
  return first_error;
}

bool ProgressThrottle::Allow(int64_t done, int64_t total) {
  auto now = std::chrono::steady_clock::now();
  if (first_ || (total >= 0 && done >= total) || now - last_ >= std::chrono::milliseconds(100)) {
    first_ = false;
    last_ = now;
    return true;
  }
  return false;
}

PullProgress Update(std::string id, std::string status) {
  PullProgress p;
  p.id = std::move(id);
  p.status = std::move(status);
  p.has_detail = true;
  return p;
}

PullProgress Message(std::string id, std::string status) {
  PullProgress p;
  p.id = std::move(id);
  p.status = std::move(status);
  return p;
}

PullProgress Bytes(std::string id, std::string status, int64_t current, int64_t total) {
  PullProgress p = Update(std::move(id), std::move(status));
  p.current = current;
  p.total = total;
  return p;
}

}  // namespace berth::engine::internal
