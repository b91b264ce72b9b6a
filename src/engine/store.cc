#include "engine/store.h"
#include "common/sync.h"

namespace berth::engine {
namespace {

Status SqlError(sqlite3* db, std::string_view what) {
  std::string msg = absl::StrCat(Av(what), ": ", sqlite3_errmsg(db));
  if (sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_UNIQUE)
    return absl::AlreadyExistsError(msg);
  return absl::InternalError(msg);
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

}  // namespace

StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::InternalError("open " + path + ": " + msg);
  }
  std::unique_ptr<Store> store(new Store(db));
  absl::MutexLock lock(&store->mu_);
  // WAL + synchronous=NORMAL: a crash of the process loses no committed transaction (only a
  // power loss may lose the last ones), and commits cost no fsync on the hot path.
  RETURN_IF_ERROR(store->ExecLocked("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(store->ExecLocked("PRAGMA synchronous=NORMAL"));
  RETURN_IF_ERROR(store->ExecLocked("PRAGMA busy_timeout=5000"));
  RETURN_IF_ERROR(store->ExecLocked(
      "CREATE TABLE IF NOT EXISTS objects ("
      " kind TEXT NOT NULL, id TEXT NOT NULL, name TEXT, doc TEXT NOT NULL,"
      " PRIMARY KEY (kind, id));"
      "CREATE UNIQUE INDEX IF NOT EXISTS objects_name ON objects(kind, name)"
      " WHERE name IS NOT NULL"));
  return store;
}

Store::~Store() { sqlite3_close(db_); }

Status Store::ExecLocked(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("sqlite: ", msg));
  }
  return absl::OkStatus();
}

Status Store::PutLocked(const std::string& kind, const std::string& id, const std::string& name,
                        const std::string& doc) {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO objects(kind,id,name,doc) VALUES(?,?,?,?)",
                         -1, &st.s, nullptr) != SQLITE_OK)
    return SqlError(db_, "prepare put");
  sqlite3_bind_text(st.s, 1, kind.data(), static_cast<int>(kind.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 2, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  if (name.empty()) sqlite3_bind_null(st.s, 3);
  else sqlite3_bind_text(st.s, 3, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 4, doc.data(), static_cast<int>(doc.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st.s) != SQLITE_DONE) return SqlError(db_, "put " + kind + " " + id);
  return absl::OkStatus();
}

Status Store::Put(const std::string& kind, const std::string& id, const std::string& name,
                  const std::string& doc) {
  CheckNoStateLock("Store::Put");
  return Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> Status {
    // "INSERT OR REPLACE" would silently delete another row holding the same unique name, so
    // check the name first: a name collision is the caller's error to report (409).
    if (!name.empty()) {
      Stmt st;
      if (sqlite3_prepare_v2(db_, "SELECT id FROM objects WHERE kind=? AND name=?", -1, &st.s,
                             nullptr) != SQLITE_OK)
        return SqlError(db_, "prepare name check");
      sqlite3_bind_text(st.s, 1, kind.data(), static_cast<int>(kind.size()), SQLITE_TRANSIENT);
      sqlite3_bind_text(st.s, 2, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
      if (sqlite3_step(st.s) == SQLITE_ROW) {
        std::string other = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0));
        if (other != id) return absl::AlreadyExistsError(kind + " name " + name + " is in use by " + other);
      }
    }
    return PutLocked(kind, id, name, doc);
  });
}

Status Store::DeleteLocked(const std::string& kind, const std::string& id) {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "DELETE FROM objects WHERE kind=? AND id=?", -1, &st.s, nullptr) !=
      SQLITE_OK)
    return SqlError(db_, "prepare delete");
  sqlite3_bind_text(st.s, 1, kind.data(), static_cast<int>(kind.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 2, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st.s) != SQLITE_DONE) return SqlError(db_, "delete " + kind + " " + id);
  return absl::OkStatus();
}

Status Store::Delete(const std::string& kind, const std::string& id) {
  CheckNoStateLock("Store::Delete");
  return Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return DeleteLocked(kind, id); });
}

static StoredObject RowToObject(sqlite3_stmt* s) {
  StoredObject o;
  o.id = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  if (auto* n = sqlite3_column_text(s, 1)) o.name = reinterpret_cast<const char*>(n);
  o.doc = reinterpret_cast<const char*>(sqlite3_column_text(s, 2));
  return o;
}

std::optional<StoredObject> Store::Get(const std::string& kind, const std::string& id) {
  CheckNoStateLock("Store::Get");
  return Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> std::optional<StoredObject> {
    Stmt st;
    if (sqlite3_prepare_v2(db_, "SELECT id,name,doc FROM objects WHERE kind=? AND id=?", -1, &st.s,
                           nullptr) != SQLITE_OK)
      return std::nullopt;
    sqlite3_bind_text(st.s, 1, kind.data(), static_cast<int>(kind.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(st.s, 2, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(st.s) != SQLITE_ROW) return std::nullopt;
    return RowToObject(st.s);
  });
}

std::vector<StoredObject> Store::List(const std::string& kind) {
  CheckNoStateLock("Store::List");
  return Locked([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> std::vector<StoredObject> {
    std::vector<StoredObject> out;
    Stmt st;
    if (sqlite3_prepare_v2(db_, "SELECT id,name,doc FROM objects WHERE kind=? ORDER BY rowid", -1,
                           &st.s, nullptr) != SQLITE_OK)
      return out;
    sqlite3_bind_text(st.s, 1, kind.data(), static_cast<int>(kind.size()), SQLITE_TRANSIENT);
    while (sqlite3_step(st.s) == SQLITE_ROW) out.push_back(RowToObject(st.s));
    return out;
  });
}

Status Store::Batch(const std::function<Status()>& fn) {
  CheckNoStateLock("Store::Batch");
  if (batch_thread_.load() == std::this_thread::get_id()) return fn();  // joins the outer batch
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(ExecLocked("BEGIN IMMEDIATE"));
  batch_thread_.store(std::this_thread::get_id());
  Status st = fn();
  batch_thread_.store(std::thread::id());
  if (!st.ok()) {
    (void)ExecLocked("ROLLBACK");
    return st;
  }
  return ExecLocked("COMMIT");
}

}  // namespace berth::engine
