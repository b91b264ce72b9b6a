#pragma once
// Store: Berth's local state in SQLite (WAL). Every object is a document (text, written and read
// by its owner's codec; they are JSON) keyed by kind and id, with an optional unique name per kind; each public call is one transaction, and Batch()
// groups several writes into one (a crash leaves all or none of them).
//
// Thread-safe: one connection behind one resource lock (SQLite serializes writers anyway). Batch()
// holds it while its function runs; that thread's Put/Delete/Get/List calls then use it as is.

#include <sqlite3.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"

namespace berth::engine {

struct StoredObject {
  std::string id;
  std::string name;
  std::string doc;
};

class Store {
 public:
  static StatusOr<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();

  // Inserts or replaces. A name already used by another object of the kind: AlreadyExists.
  Status Put(const std::string& kind, const std::string& id, const std::string& name,
             const std::string& doc);
  Status Delete(const std::string& kind, const std::string& id);
  std::optional<StoredObject> Get(const std::string& kind, const std::string& id);
  std::vector<StoredObject> List(const std::string& kind);

  // Runs fn inside one transaction; fn's Put/Delete calls (on this store) join it. fn returning
  // an error rolls everything back.
  Status Batch(const std::function<Status()>& fn);

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  // Runs f with mu_ held: taken here, or already held by this thread's Batch().
  template <typename F>
  auto Locked(F f) {
    if (batch_thread_.load() == std::this_thread::get_id()) {
      mu_.AssertHeld();
      return f();
    }
    absl::MutexLock lock(&mu_);
    return f();
  }
  Status ExecLocked(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Status PutLocked(const std::string& kind, const std::string& id, const std::string& name,
                   const std::string& doc) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Status DeleteLocked(const std::string& kind, const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* db_ ABSL_GUARDED_BY(mu_) ABSL_PT_GUARDED_BY(mu_);
  // The thread running Batch()'s function, which holds mu_ (none: a default id).
  std::atomic<std::thread::id> batch_thread_;
};

}  // namespace berth::engine
