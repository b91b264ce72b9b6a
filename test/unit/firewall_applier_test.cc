// firewall::Applier against a fake Firewall that the test can hold inside Apply (a transaction "in
// the kernel"), so queues are built deterministically: every wait below is a condition wait on the
// fake's or the Applier's state, never a sleep.

#include <atomic>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "network/firewall/applier.h"

namespace berth::network::firewall {

// Reaches into the Applier to wait for its queue instead of sleeping.
class ApplierTestPeer {
 public:
  // Blocks until n callers wait for a transaction (an in-flight one's callers included).
  static void AwaitWaiting(Applier& a, size_t n) {
    absl::MutexLock lock(&a.mu_);
    auto enough = [&a, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(a.mu_) { return a.waiters_.size() >= n; };
    a.mu_.Await(absl::Condition(&enough));
  }
  // Blocks until Shutdown has begun (new calls are refused).
  static void AwaitStopping(Applier& a) {
    absl::MutexLock lock(&a.mu_);
    a.mu_.Await(absl::Condition(&a.stopping_));
  }
};

namespace {

// The generation travels in the model: one bridge named "g<generation>".
Model ModelOf(uint64_t gen) {
  Model m;
  m.bridges.push_back({"g" + std::to_string(gen), "10.0.0.0/24", "10.0.0.1"});
  return m;
}

uint64_t GenerationOf(const Model& m) { return std::stoull(m.bridges.at(0).ifname.substr(1)); }

class FakeFirewall final : public Firewall {
 public:
  Status Apply(const Model& m) override {
    absl::MutexLock lock(&mu_);
    if (in_apply_) concurrent_ = true;  // the Applier must never call us from two threads at once
    in_apply_ = true;
    applied_.push_back(GenerationOf(m));
    mu_.Await(absl::Condition(
        +[](bool* hold) { return !*hold; }, &hold_));
    in_apply_ = false;
    if (outcomes_.empty()) return absl::OkStatus();
    Status st = outcomes_.front();
    outcomes_.pop_front();
    return st;
  }
  Status Remove() override { return absl::OkStatus(); }
  Status Check() override { return absl::OkStatus(); }

  // While held, an Apply that starts stays inside until Release.
  void Hold() {
    absl::MutexLock lock(&mu_);
    hold_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    hold_ = false;
  }
  // The outcomes of the next Apply calls, in order; OK after they are used up.
  void Then(Status st) {
    absl::MutexLock lock(&mu_);
    outcomes_.push_back(std::move(st));
  }
  // Blocks until n Apply calls have started.
  void AwaitApplies(size_t n) {
    absl::MutexLock lock(&mu_);
    auto started = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return applied_.size() >= n; };
    mu_.Await(absl::Condition(&started));
  }
  std::vector<uint64_t> Applied() {
    absl::MutexLock lock(&mu_);
    return applied_;
  }
  bool SawConcurrentCalls() {
    absl::MutexLock lock(&mu_);
    return concurrent_;
  }

 private:
  absl::Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  bool in_apply_ ABSL_GUARDED_BY(mu_) = false;
  bool concurrent_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<uint64_t> applied_ ABSL_GUARDED_BY(mu_);  // generations, in call order
  std::deque<Status> outcomes_ ABSL_GUARDED_BY(mu_);
};

class FirewallApplier : public ::testing::Test {
 protected:
  FirewallApplier() {
    auto f = std::make_unique<FakeFirewall>();
    fake_ = f.get();
    applier_ = std::make_unique<Applier>(std::move(f));
  }

  // Apply(gen) on a thread of its own; its status lands in *out.
  std::thread Async(uint64_t gen, Status* out) {
    return std::thread([this, gen, out] { *out = applier_->Apply(gen, ModelOf(gen)); });
  }

  FakeFirewall* fake_;
  std::unique_ptr<Applier> applier_;
};

TEST_F(FirewallApplier, AppliesAModelAndAnswersOnceItIsIn) {
  EXPECT_TRUE(applier_->Apply(1, ModelOf(1)).ok());
  EXPECT_EQ(fake_->Applied(), std::vector<uint64_t>({1}));
  EXPECT_EQ(applier_->Transactions(), 1u);
}

TEST_F(FirewallApplier, TenConcurrentCallersCoalesceIntoOneTransactionBehindTheRunningOne) {
  fake_->Hold();
  Status first;
  std::thread t1 = Async(1, &first);
  fake_->AwaitApplies(1);  // generation 1 is "in the kernel"
  std::vector<Status> st(10);
  std::vector<std::thread> callers;
  for (uint64_t g = 2; g <= 11; ++g) callers.push_back(Async(g, &st[g - 2]));
  ApplierTestPeer::AwaitWaiting(*applier_, 11);  // all ten queued behind generation 1
  fake_->Release();
  t1.join();
  for (auto& t : callers) t.join();
  EXPECT_TRUE(first.ok()) << first;
  for (const Status& s : st) EXPECT_TRUE(s.ok()) << s;
  // The ten were answered by one transaction of the newest model.
  EXPECT_EQ(fake_->Applied(), std::vector<uint64_t>({1, 11}));
  EXPECT_EQ(applier_->Transactions(), 2u);
}

TEST_F(FirewallApplier, AnOlderModelIsNeverAppliedAfterANewerOne) {
  // Arriving while a newer generation is in flight: answered by it, never applied itself.
  fake_->Hold();
  Status five, three;
  std::thread t5 = Async(5, &five);
  fake_->AwaitApplies(1);
  std::thread t3 = Async(3, &three);
  ApplierTestPeer::AwaitWaiting(*applier_, 2);
  fake_->Release();
  t5.join();
  t3.join();
  EXPECT_TRUE(five.ok()) << five;
  EXPECT_TRUE(three.ok()) << three;
  // Arriving after a newer generation is in: OK at once, no transaction.
  EXPECT_TRUE(applier_->Apply(4, ModelOf(4)).ok());
  EXPECT_TRUE(applier_->Apply(5, ModelOf(5)).ok());
  EXPECT_EQ(fake_->Applied(), std::vector<uint64_t>({5}));
  EXPECT_EQ(applier_->Transactions(), 1u);
}

TEST_F(FirewallApplier, GenerationsAppliedNeverGoDownUnderConcurrentCallers) {
  // 8 threads x 50 calls; generations are handed out as the controller would, then applied from
  // whichever thread gets there first, in any order.
  std::atomic<uint64_t> next{1};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        uint64_t g = next.fetch_add(1);
        if (!applier_->Apply(g, ModelOf(g)).ok()) failures++;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<uint64_t> applied = fake_->Applied();
  ASSERT_FALSE(applied.empty());
  for (size_t i = 1; i < applied.size(); ++i) EXPECT_LT(applied[i - 1], applied[i]) << "at " << i;
  EXPECT_EQ(applied.back(), 400u);  // the last model is the one in the kernel
  EXPECT_LE(applied.size(), 400u);
  EXPECT_FALSE(fake_->SawConcurrentCalls());
}

TEST_F(FirewallApplier, EveryCallerCoveredByAFailedTransactionGetsItsError) {
  Status boom = absl::InternalError("apply table inet berth: nft: Error: Could not process rule");
  fake_->Then(absl::OkStatus());  // generation 1
  fake_->Then(boom);              // the transaction that covers 2 and 3
  fake_->Hold();
  Status one, two, three;
  std::thread t1 = Async(1, &one);
  fake_->AwaitApplies(1);
  std::thread t2 = Async(2, &two);
  std::thread t3 = Async(3, &three);
  ApplierTestPeer::AwaitWaiting(*applier_, 3);
  fake_->Release();
  t1.join();
  t2.join();
  t3.join();
  EXPECT_TRUE(one.ok()) << one;
  EXPECT_EQ(two, boom);
  EXPECT_EQ(three, boom);
  EXPECT_EQ(fake_->Applied(), std::vector<uint64_t>({1, 3}));
}

TEST_F(FirewallApplier, TheNextApplyAfterAFailureRetriesTheNewestModel) {
  Status boom = absl::UnavailableError("berth-nft: gone");
  fake_->Then(boom);
  EXPECT_EQ(applier_->Apply(3, ModelOf(3)), boom);
  // An older generation comes next: the kernel still lacks 3, so 3 is what is applied.
  EXPECT_TRUE(applier_->Apply(2, ModelOf(2)).ok());
  EXPECT_EQ(fake_->Applied(), std::vector<uint64_t>({3, 3}));
  // Now 3 is in: nothing more to do for it.
  EXPECT_TRUE(applier_->Apply(3, ModelOf(3)).ok());
  EXPECT_EQ(applier_->Transactions(), 2u);
}

// A failure nobody asks about again (a teardown's) is retried by the owner itself until the kernel
// holds the newest model.
TEST_F(FirewallApplier, AFailedModelIsRetriedWithoutAnotherCall) {
  Status boom = absl::UnavailableError("berth-nft: gone");
  fake_->Then(boom);
  fake_->Then(boom);
  EXPECT_EQ(applier_->Apply(5, ModelOf(5)), boom);
  fake_->AwaitApplies(3);  // two retries on their own: the second succeeds
  EXPECT_EQ(fake_->Applied(), std::vector<uint64_t>({5, 5, 5}));
  // In the kernel now: a caller of 5 is answered at once.
  EXPECT_TRUE(applier_->Apply(5, ModelOf(5)).ok());
  EXPECT_EQ(applier_->Transactions(), 3u);
}

TEST_F(FirewallApplier, ACallerNewerThanAFailedTransactionIsNotAnsweredByIt) {
  fake_->Then(absl::InternalError("nft: refused"));
  fake_->Hold();
  Status one, two;
  std::thread t1 = Async(1, &one);
  fake_->AwaitApplies(1);
  std::thread t2 = Async(2, &two);
  ApplierTestPeer::AwaitWaiting(*applier_, 2);
  fake_->Release();
  t1.join();
  t2.join();
  EXPECT_FALSE(one.ok());
  EXPECT_TRUE(two.ok()) << two;  // its own transaction, after the failed one
  EXPECT_EQ(fake_->Applied(), std::vector<uint64_t>({1, 2}));
}

TEST_F(FirewallApplier, ShutdownAnswersTheCallersAlreadyWaitingThenRefusesNewOnes) {
  fake_->Hold();
  Status one, two;
  std::thread t1 = Async(1, &one);
  fake_->AwaitApplies(1);
  std::thread t2 = Async(2, &two);
  ApplierTestPeer::AwaitWaiting(*applier_, 2);
  std::thread stopper([this] { applier_->Shutdown(); });
  ApplierTestPeer::AwaitStopping(*applier_);
  Status refused = applier_->Apply(3, ModelOf(3));
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  fake_->Release();
  stopper.join();  // the owner thread has ended
  t1.join();
  t2.join();
  EXPECT_TRUE(one.ok()) << one;
  EXPECT_TRUE(two.ok()) << two;
  EXPECT_EQ(fake_->Applied(), std::vector<uint64_t>({1, 2}));
  applier_->Shutdown();  // idempotent
  EXPECT_TRUE(absl::IsUnavailable(applier_->Apply(4, ModelOf(4))));
  EXPECT_EQ(fake_->Applied().size(), 2u);
}

TEST_F(FirewallApplier, ShutdownWithNobodyWaitingJoinsAtOnce) {
  ASSERT_TRUE(applier_->Apply(1, ModelOf(1)).ok());
  applier_.reset();  // the destructor shuts down and joins; a hang here fails by timeout
  SUCCEED();
}

}  // namespace
}  // namespace berth::network::firewall
