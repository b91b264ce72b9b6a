#pragma once
// Store: Berth's local state in SQLite (WAL). Every object is a document (text, written and read
// by its owner's codec; they are JSON) keyed by kind and id, with an optional unique name per kind; each public call is one transaction, and Batch()
// groups several writes into one (a crash leaves all or none of them).
//
// Thread-safe: one connection behind one mutex (SQLite serializes writers anyway).

#include <sqlite3.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

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
  Status ExecLocked(const char* sql);
  Status PutLocked(const std::string& kind, const std::string& id, const std::string& name,
                   const std::string& doc);
  Status DeleteLocked(const std::string& kind, const std::string& id);

  std::recursive_mutex mu_;
  sqlite3* db_;  // guarded by mu_
  bool in_batch_ = false;  // guarded by mu_
};

}  // namespace berth::engine
