#include "cluster/mirror.h"

#include <algorithm>
#include <chrono>

#include "spdlog/spdlog.h"

namespace berth::cluster {
namespace {

constexpr auto kRetryEvery = std::chrono::seconds(1);

}  // namespace

StatusOr<etcd::RangeResult> MirrorSnapshot::Get(std::string_view key,
                                                const etcd::GetOptions& opts) {
  etcd::RangeResult out;
  out.header.revision = revision_;
  auto add = [&](const etcd::KeyValue& kv) {
    ++out.count;
    if (opts.limit > 0 && static_cast<int64_t>(out.kvs.size()) >= opts.limit) {
      out.more = true;
      return;
    }
    out.kvs.push_back(kv);
    if (opts.keys_only) out.kvs.back().value.clear();
  };
  if (!opts.prefix) {
    auto it = kvs_->find(key);
    if (it != kvs_->end()) add(*it->second);
    return out;
  }
  for (auto it = kvs_->lower_bound(key);
       it != kvs_->end() && std::string_view(it->first).substr(0, key.size()) == key; ++it)
    add(*it->second);
  return out;
}

MirrorSnapshot::Kvs ApplyEvents(const MirrorSnapshot::Kvs& kvs,
                                const std::vector<etcd::WatchEvent>& events) {
  MirrorSnapshot::Kvs out = kvs;
  for (const etcd::WatchEvent& ev : events) {
    if (ev.type == etcd::WatchEvent::Type::kDelete) {
      out.erase(ev.kv.key);
    } else {
      out.insert_or_assign(ev.kv.key, std::make_shared<const etcd::KeyValue>(ev.kv));
    }
  }
  return out;
}

StoreMirror::StoreMirror(std::shared_ptr<etcd::Client> etcd, std::string prefix, const Clock& clock,
                         ChangeFn on_change)
    : etcd_(std::move(etcd)),
      prefix_(std::move(prefix)),
      clock_(clock),
      on_change_(std::move(on_change)) {
  thread_ = std::thread([this] { Loop(); });
}

StoreMirror::~StoreMirror() {
  {
    StateLock l(mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  watch_.reset();  // after the thread: nothing else touches it
}

std::shared_ptr<MirrorSnapshot> StoreMirror::snapshot() const {
  StateLock l(mu_);
  return broken_ ? nullptr : snapshot_;
}

void StoreMirror::Loop() {
  for (;;) {
    {
      StateLock l(mu_);
      while (!stop_ && !broken_) mu_.Wait(cv_);
      if (stop_) return;
    }
    watch_.reset();  // a broken one: its thread is joined here, not in its own callback
    // At most one load a second, whether the last one failed or its watch broke at once.
    if (loaded_at_.has_value() && clock_.Monotonic() - *loaded_at_ < kRetryEvery) {
      Duration left = kRetryEvery - (clock_.Monotonic() - *loaded_at_);
      StateLock l(mu_);
      WaitFor(clock_, mu_, cv_, left, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_; });
      if (stop_) return;
    }
    loaded_at_ = clock_.Monotonic();
    (void)Load();  // on failure still broken: the loop comes back here
  }
}

bool StoreMirror::Load() {
  etcd::GetOptions o;
  o.prefix = true;
  StatusOr<etcd::RangeResult> r = etcd_->Get(prefix_, o);
  if (!r.ok()) {
    spdlog::warn("swarm: read the store for the leader's copy: {}", r.status().ToString());
    return false;
  }
  auto kvs = std::make_shared<MirrorSnapshot::Kvs>();
  for (etcd::KeyValue& kv : r->kvs) {
    std::string key = kv.key;
    kvs->emplace(std::move(key), std::make_shared<const etcd::KeyValue>(std::move(kv)));
  }
  int64_t revision = r->header.revision;
  uint64_t generation;
  {
    // Published before the watch starts: its first events apply to this snapshot.
    StateLock l(mu_);
    generation = ++generation_;
    snapshot_ = std::make_shared<MirrorSnapshot>(revision, std::move(kvs));
  }
  StatusOr<std::unique_ptr<etcd::Watch>> w = etcd_->WatchPrefix(
      prefix_, revision + 1,
      [this, generation](const std::vector<etcd::WatchEvent>& events, int64_t) {
        OnEvents(generation, events);
      },
      [this, generation](const Status& error) { OnError(generation, error); });
  if (!w.ok()) {
    spdlog::warn("swarm: watch the store for the leader's copy: {}", w.status().ToString());
    return false;
  }
  watch_ = std::move(*w);
  {
    StateLock l(mu_);
    if (generation_ != generation) return true;  // already broken again: the loop reloads
    broken_ = false;
    int64_t now = std::max(revision, snapshot_->revision());
    revision_.store(now, std::memory_order_release);
  }
  on_change_({}, /*everything=*/true);
  return true;
}

void StoreMirror::OnEvents(uint64_t generation, const std::vector<etcd::WatchEvent>& events) {
  if (events.empty()) return;
  std::shared_ptr<MirrorSnapshot> base;
  {
    StateLock l(mu_);
    if (stop_ || generation != generation_) return;
    base = snapshot_;
  }
  int64_t revision = base->revision();
  for (const etcd::WatchEvent& ev : events) revision = std::max(revision, ev.kv.mod_revision);
  auto next = std::make_shared<MirrorSnapshot>(
      revision, std::make_shared<const MirrorSnapshot::Kvs>(ApplyEvents(base->kvs(), events)));
  bool publish;
  {
    StateLock l(mu_);
    // Only this watch's thread replaces the snapshot while the generation holds.
    publish = !stop_ && generation == generation_ && snapshot_ == base;
    if (publish) {
      snapshot_ = std::move(next);
      if (!broken_) revision_.store(revision, std::memory_order_release);
    }
  }
  if (publish) on_change_(events, /*everything=*/false);
}

void StoreMirror::OnError(uint64_t generation, const Status& error) {
  spdlog::warn("swarm: the leader's copy of the store stopped following it: {}", error.ToString());
  StateLock l(mu_);
  if (generation != generation_) return;
  ++generation_;  // whatever the old watch still sends is dropped
  broken_ = true;
  snapshot_.reset();
  revision_.store(0, std::memory_order_release);
  cv_.SignalAll();
}

}  // namespace berth::cluster
