#include "network/firewall/applier.h"

#include <utility>

#include "common/sync.h"
#include "spdlog/spdlog.h"

namespace berth::network::firewall {

Applier::Applier(std::unique_ptr<Firewall> firewall) : firewall_(std::move(firewall)) {
  BERTH_CHECK(firewall_ != nullptr);
  owner_ = std::thread([this] { Run(); });
}

Applier::~Applier() { Shutdown(); }

Status Applier::Apply(uint64_t generation, Model m) {
  CheckNoStateLock("firewall::Applier::Apply");
  BERTH_CHECK(generation > 0);
  Waiter w;
  w.gen = generation;
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("firewall: shutting down");
  if (generation > newest_gen_) {
    newest_gen_ = generation;
    newest_ = std::make_shared<const Model>(std::move(m));
  }
  // Already in the kernel, or something newer is: a failed transaction changes nothing, so
  // applied_gen_ still says what the kernel holds.
  if (applied_gen_ >= generation) return absl::OkStatus();
  waiters_.push_back(&w);
  mu_.Await(absl::Condition(&w.done));  // releases mu_ while it waits
  return w.status;
}

void Applier::Run() {
  absl::Duration retry = absl::Milliseconds(100);
  for (;;) {
    std::shared_ptr<const Model> model;
    uint64_t gen = 0;
    {
      absl::MutexLock lock(&mu_);
      // The waiters list only empties through this thread, and after stopping_ it only shrinks,
      // so on the way out one more transaction answers everyone left (each waits for <= newest).
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !waiters_.empty() || stopping_;
      };
      if (applied_gen_ < newest_gen_ && !stopping_) {
        // The kernel is behind the model (the last transaction failed) and nobody is asking:
        // try again after a back-off, so a failure no API call could report is not left in place.
        if (!mu_.AwaitWithTimeout(absl::Condition(&has_work), retry)) retry = std::min(retry * 2, absl::Seconds(30));
      } else {
        mu_.Await(absl::Condition(&has_work));
      }
      if (waiters_.empty() && (stopping_ || applied_gen_ >= newest_gen_)) {
        if (stopping_) return;  // stopping, and nobody waits
        continue;
      }
      model = newest_;
      gen = newest_gen_;
    }

    Status st = firewall_->Apply(*model);  // no lock held while the kernel works

    absl::MutexLock lock(&mu_);
    ++transactions_;
    if (st.ok()) {
      if (gen > applied_gen_) applied_gen_ = gen;
      retry = absl::Milliseconds(100);
    } else if (waiters_.empty()) {
      spdlog::error("firewall: {} (retrying)", st.ToString());
    }
    // Everyone this model covers gets its outcome: success, or the error, after which the next
    // Apply (of whatever generation) runs the newest model again. Later generations stay queued.
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if ((*it)->gen > gen) {
        ++it;
        continue;
      }
      (*it)->status = st;
      (*it)->done = true;
      it = waiters_.erase(it);
    }
  }
}

void Applier::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  std::call_once(joined_, [this] { owner_.join(); });
}

uint64_t Applier::Transactions() {
  absl::MutexLock lock(&mu_);
  return transactions_;
}

}  // namespace berth::network::firewall
