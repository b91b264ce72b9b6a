#pragma once
// StoreMirror: the swarm leader's copy in memory of every key under one etcd prefix (the swarm's
// records, /berth/swarm/), read once and then kept by one watch, so that the leader's hot readers
// (the orchestrator's view on every change, each node's assignment set on every change) read a
// snapshot instead of making round trips to etcd: a pass that needed four reads (4-11 ms here,
// more under load) takes none.
//
// A snapshot is immutable and consistent: every key as of one revision. It may be behind etcd by
// the events still on their way; a reader that must see its own write waits for revision() to
// reach the write's revision (the mirror calls on_change after every snapshot it publishes).
// Whoever acts on what it read from a snapshot writes conditionally (on the versions read), as
// with any read.
//
// While the member is unreachable the watch reconnects by itself (etcd/client.h) and the
// snapshot just stops advancing: a reader that must see something newer bounds its wait
// (the orchestrator reads etcd after a second). When the watch stops for good (its revision
// compacted) there is no snapshot (snapshot() is null: callers read etcd directly); the
// mirror's own thread reads everything again and watches from there, at most once a second,
// then calls on_change with `everything` set.
//
// Threading: snapshot() and revision() from any thread. on_change runs on the watch's thread
// (events, in order) or the mirror's own (after a load), after the snapshot it reports is
// published, with no lock held; the two may overlap. It must not block, nor destroy the mirror.
// The state lock is never held across etcd, nor while a snapshot's map is copied.

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "cluster/etcd/client.h"
#include "common/clock.h"
#include "common/sync.h"

namespace berth::cluster {

// The keys under the prefix at one revision. Answers Get like etcd at that revision (prefix,
// limit, keys_only, count); `revision` and `serializable` in the options are not looked at.
class MirrorSnapshot : public etcd::KvReader {
 public:
  // Shared values: a new snapshot copies the map's nodes, not the records.
  using Kvs = std::map<std::string, std::shared_ptr<const etcd::KeyValue>, std::less<>>;
  MirrorSnapshot(int64_t revision, std::shared_ptr<const Kvs> kvs)
      : revision_(revision), kvs_(std::move(kvs)) {}

  int64_t revision() const { return revision_; }
  const Kvs& kvs() const { return *kvs_; }
  StatusOr<etcd::RangeResult> Get(std::string_view key, const etcd::GetOptions& opts = {}) override;

 private:
  int64_t revision_;
  std::shared_ptr<const Kvs> kvs_;
};

// kvs with events applied in order (puts replace, deletes remove).
MirrorSnapshot::Kvs ApplyEvents(const MirrorSnapshot::Kvs& kvs,
                                const std::vector<etcd::WatchEvent>& events);

class StoreMirror {
 public:
  using ChangeFn =
      std::function<void(const std::vector<etcd::WatchEvent>& events, bool everything)>;

  // Starts reading (on the mirror's thread): the first snapshot comes with on_change(everything).
  StoreMirror(std::shared_ptr<etcd::Client> etcd, std::string prefix, const Clock& clock,
              ChangeFn on_change);
  ~StoreMirror();  // stops the watch and the thread
  StoreMirror(const StoreMirror&) = delete;
  StoreMirror& operator=(const StoreMirror&) = delete;

  // The newest snapshot; null while there is none that is being kept up to date.
  std::shared_ptr<MirrorSnapshot> snapshot() const;
  // Its revision: the last change it holds (0 without one).
  int64_t revision() const { return revision_.load(std::memory_order_acquire); }

 private:
  void Loop();  // the mirror's thread: (re)loads and (re)watches
  bool Load();  // one read of everything and a watch from there; false if it failed
  void OnEvents(uint64_t generation, const std::vector<etcd::WatchEvent>& events);
  void OnError(uint64_t generation, const Status& error);

  const std::shared_ptr<etcd::Client> etcd_;
  const std::string prefix_;
  const Clock& clock_;
  const ChangeFn on_change_;
  mutable StateMutex mu_;
  absl::CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = true;       // no snapshot kept up to date
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // of the current watch: a late event of an
                                                  // older one is dropped
  std::shared_ptr<MirrorSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> revision_{0};
  std::unique_ptr<etcd::Watch> watch_;  // the mirror's thread only
  std::optional<MonoTime> loaded_at_;   // the mirror's thread only
  std::thread thread_;
};

}  // namespace berth::cluster
