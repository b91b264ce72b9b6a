#pragma once
// A client of etcd 3.4's v3 API through its JSON gateway (HTTP/1.1 POST of the gRPC messages as
// JSON, keys and values base64; ../shared/reference/etcd.md), over transport::Stream with TLS
// (the cluster CA; a manager's node certificate as the client certificate). berthd talks only to
// its own member's client URL on loopback; the member forwards to the etcd leader.
//
// Threading: a Client may be used from any number of threads at once; each call takes a pooled
// keep-alive connection of its own. No lock is held while a request is in flight. Every call has
// a deadline (ClientOptions::request_timeout).
//
// Errors: UNAVAILABLE when the member cannot be reached or has no quorum ("etcdserver: no
// leader", "etcdserver: request timed out"; IsNoQuorum() tells these apart from the rest),
// DEADLINE_EXCEEDED past the deadline, FAILED_PRECONDITION for "required revision has been
// compacted", NOT_FOUND for an expired or unknown lease, INVALID_ARGUMENT for etcd's refusals of
// the request itself. The message names the operation ("etcd put /berth/nodes/x: ...").

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/transport/tls.h"
#include "common/status.h"

namespace berth::cluster::etcd {

struct ResponseHeader {
  uint64_t cluster_id = 0;
  uint64_t member_id = 0;
  int64_t revision = 0;
  uint64_t raft_term = 0;
};

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

struct RangeResult {
  ResponseHeader header;
  std::vector<KeyValue> kvs;
  int64_t count = 0;
  bool more = false;
};

struct GetOptions {
  bool prefix = false;     // every key starting with the key given
  int64_t revision = 0;    // 0: the latest
  int64_t limit = 0;       // 0: no limit
  bool keys_only = false;
  bool serializable = false;  // answer from this member's state, without a quorum round
};

// One comparison of a transaction.
struct Compare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue, kLease };
  enum class Result { kEqual, kGreater, kLess, kNotEqual };
  std::string key;
  Target target = Target::kModRevision;
  Result result = Result::kEqual;
  int64_t number = 0;  // for the revision, version and lease targets
  std::string value;   // for kValue

  static Compare Missing(std::string key);  // create_revision == 0
  static Compare ModRevisionIs(std::string key, int64_t revision);
  static Compare ValueIs(std::string key, std::string value);
};

// One operation of a transaction.
struct Op {
  enum class Kind { kPut, kDelete, kRange };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;   // kPut
  int64_t lease = 0;   // kPut
  bool prefix = false;  // kDelete, kRange

  static Op Put(std::string key, std::string value, int64_t lease = 0);
  static Op Delete(std::string key, bool prefix = false);
  static Op Get(std::string key, bool prefix = false);
};

struct TxnResult {
  ResponseHeader header;
  bool succeeded = false;
  // One entry per operation of the branch taken; filled for kRange operations only.
  std::vector<RangeResult> ranges;
};

// One member of the etcd cluster as etcd lists it. (Not "Member": that is the etcd process of
// member.h, in the same namespace.)
struct MemberInfo {
  uint64_t id = 0;
  std::string name;  // empty until the member has started
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool is_learner = false;
};

struct MemberStatus {
  ResponseHeader header;
  std::string version;
  uint64_t leader = 0;  // member id of the raft leader, 0 when there is none
  uint64_t raft_term = 0;
  uint64_t raft_index = 0;
  int64_t db_size = 0;
  std::vector<std::string> errors;
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // for kDelete: the key and mod_revision only
};

class Watch;

struct ClientOptions {
  // "https://127.0.0.1:2379" (or http:// in tests of the client alone); tried in order.
  std::vector<std::string> endpoints;
  // Client side: verifies the member's certificate against the cluster CA and shows the node's.
  std::shared_ptr<const transport::TlsContext> tls;
  // The name the member's certificate must carry ("127.0.0.1" for the loopback client URL).
  // The client checks the endpoint's host (the same thing for a loopback URL); this is kept for
  // the record.
  std::string server_name;
  std::chrono::milliseconds request_timeout{5000};
};

// What reads keys: the client itself (from etcd), or a copy of part of the keyspace held in
// memory (cluster/mirror.h), which answers at the revision it holds.
class KvReader {
 public:
  virtual ~KvReader() = default;
  virtual StatusOr<RangeResult> Get(std::string_view key, const GetOptions& opts = {}) = 0;
};

class Client : public KvReader {
 public:
  explicit Client(ClientOptions opts);
  ~Client() override;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  StatusOr<RangeResult> Get(std::string_view key, const GetOptions& opts = {}) override;
  StatusOr<ResponseHeader> Put(std::string_view key, std::string_view value, int64_t lease = 0);
  // The number of keys deleted.
  StatusOr<int64_t> Delete(std::string_view key, bool prefix = false);
  StatusOr<TxnResult> Txn(const std::vector<Compare>& compares, const std::vector<Op>& success,
                          const std::vector<Op>& failure = {});

  // Leases: the id of a new one with this TTL; one keep-alive round trip (the TTL left, NOT_FOUND
  // when the lease has expired); revoke (deletes the keys attached).
  StatusOr<int64_t> LeaseGrant(std::chrono::seconds ttl);
  StatusOr<int64_t> LeaseKeepAlive(int64_t lease);
  Status LeaseRevoke(int64_t lease);

  // Streams the changes of every key under prefix, from start_revision (0: from now) in
  // revision order, to on_events on the watch's own thread, until the Watch is destroyed. A
  // broken stream is re-opened from the revision after the last one delivered, so nothing is
  // missed or repeated. If that revision has been compacted, on_error gets FAILED_PRECONDITION
  // and the watch stops (the owner re-reads and watches again). Callbacks must not block long.
  // A watch may outlive its Client. Destroying it aborts the stream at once; a (re)connection in
  // progress ends by request_timeout at worst.
  using EventsFn = std::function<void(const std::vector<WatchEvent>& events, int64_t revision)>;
  using ErrorFn = std::function<void(const Status& error)>;
  StatusOr<std::unique_ptr<Watch>> WatchPrefix(std::string_view prefix, int64_t start_revision,
                                               EventsFn on_events, ErrorFn on_error);

  // Cluster membership (the member answering must have quorum for add and remove).
  StatusOr<std::vector<MemberInfo>> MemberList();
  // Adds a member by its peer URL ("https://10.10.0.12:2380"); returns it and the full list.
  StatusOr<std::pair<MemberInfo, std::vector<MemberInfo>>> MemberAdd(const std::string& peer_url);
  Status MemberRemove(uint64_t id);
  // /v3/maintenance/status of the member behind the first endpoint that answers.
  StatusOr<MemberStatus> MaintenanceStatus();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// A running watch; destroying it cancels the stream and joins its thread (never from inside its
// own callback).
class Watch {
 public:
  virtual ~Watch() = default;
};

// True for the errors that mean "this member has no quorum or no leader" (a write would not be
// acknowledged), as opposed to a bad request or a missing lease: UNAVAILABLE with etcd's "no
// leader", "request timed out", "leader changed" or "raft proposal dropped"; every
// DEADLINE_EXCEEDED (a member that has quorum answers well within the deadline; one whose
// leader just crashed holds a write until it ends); and UNAVAILABLE "etcd member unreachable"
// (berthd's own member is down or restarting: no write can be acknowledged through it either).
// Writes and linearizable reads ask etcd to refuse at once when the member knows of no leader
// (the gateway's Grpc-Metadata-Hasleader), so once a member has noticed the loss (an election
// timeout) the refusal takes milliseconds. Messages survive Annotate(): the test is on the code
// and the words.
bool IsNoQuorum(const berth::Status& s);

// The range_end etcd wants for "every key starting with prefix" (the prefix with its last byte
// incremented; "\0" for an empty prefix).
std::string PrefixEnd(std::string_view prefix);

}  // namespace berth::cluster::etcd
