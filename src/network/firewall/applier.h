#pragma once
// Applier: the one owner of the Firewall. Threads that changed the network model hand it a full
// snapshot, tagged with the generation the network controller gave it under its own (short) lock,
// and wait for the kernel without holding any lock while it works.
//
// Coalescing: the owner thread applies only the newest model queued, so a burst of ten container
// starts typically costs one or two transactions, not ten; a caller whose model was superseded is
// answered by the transaction that applied the newer one (it contains the caller's change, since
// the generations follow the controller's model). Ordering: generations applied never go down, so
// an older model never replaces a newer one in the kernel.
//
// A failed transaction changes nothing in the kernel; its callers get the error. When the kernel is
// left behind the model that way and nobody asks again, the owner retries the newest model by itself
// (after 100 ms, doubling to 30 s), so a change whose caller could not fail (a container's teardown)
// still reaches the kernel.
//
// Threading: Apply may be called from any number of threads. The owner thread is the only caller
// of the Firewall; mu_ guards the queue and the results only and is never held while the firewall
// works. Shutdown (or the destructor) refuses new calls, lets the owner answer the callers already
// waiting (at most one more transaction) and joins it.

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "network/firewall/firewall.h"

namespace berth::network::firewall {

class Applier {
 public:
  explicit Applier(std::unique_ptr<Firewall> firewall);
  ~Applier();
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;

  // Queues m (generation numbers grow with every change of the model; 0 is never used) and waits
  // until a model of this generation or a newer one has been applied: OK, or the error of the
  // transaction that covered this call (then nothing changed in the kernel, and the next Apply of
  // any generation applies the newest model again). Returns at once with OK when a model at least
  // this new is already in the kernel; Unavailable after Shutdown.
  Status Apply(uint64_t generation, Model m) ABSL_LOCKS_EXCLUDED(mu_);

  // Idempotent; see the class comment.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // How many transactions the owner has run (tests and benchmarks: coalescing).
  uint64_t Transactions() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class ApplierTestPeer;  // waits on the state below instead of sleeping

  // One caller waiting for generation >= gen to be applied; done and status are written by the
  // owner thread under mu_.
  struct Waiter {
    uint64_t gen = 0;
    bool done = false;
    Status status;
  };

  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  const std::unique_ptr<Firewall> firewall_;  // used by the owner thread only
  absl::Mutex mu_;
  uint64_t newest_gen_ ABSL_GUARDED_BY(mu_) = 0;              // the newest model queued
  std::shared_ptr<const Model> newest_ ABSL_GUARDED_BY(mu_);  // kept after a failure: retried
  uint64_t applied_gen_ ABSL_GUARDED_BY(mu_) = 0;             // in the kernel (last success)
  std::list<Waiter*> waiters_ ABSL_GUARDED_BY(mu_);           // each on its caller's stack
  uint64_t transactions_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread owner_;  // started last, in the constructor
  std::once_flag joined_;
};

}  // namespace berth::network::firewall
