#include "cluster/etcd/client.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/transport/http_client.h"
#include "cluster/etcd/codec.h"

namespace berth::cluster::etcd {

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr size_t kMaxBody = 64 << 20;

// What the client puts in front of a connection failure, so that IsNoQuorum knows it.
constexpr char kUnreachable[] = "etcd member unreachable";

// Messages of etcd (and of this client) that mean "no leader, or no quorum behind it": a write
// would not be acknowledged now, but may be once the cluster has a leader again.
constexpr std::string_view kNoQuorumMarks[] = {
    "etcdserver: no leader",
    "etcdserver: request timed out",  // "..., possibly due to previous leader failure" too
    "etcdserver: leader changed",
    "raft proposal dropped",
    "etcdserver: timed out waiting for read index",
    kUnreachable,
};

// A failure before the request left (nothing can have been applied): another endpoint may be
// tried.
bool BeforeSending(const Status& s) {
  std::string_view m(s.message().data(), s.message().size());
  return absl::StrContains(Av(m), "dial tcp") || absl::StrContains(Av(m), "TLS handshake") ||
         absl::StrContains(Av(m), "x509:") || absl::StrContains(Av(m), ": tls: ");
}

std::string Seconds(std::chrono::milliseconds d) {
  return absl::StrCat(absl::FormatDuration(absl::Milliseconds(d.count())));
}

std::string Hex(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

Compare Compare::Missing(std::string key) {
  Compare c;
  c.key = std::move(key);
  c.target = Target::kCreateRevision;
  c.result = Result::kEqual;
  c.number = 0;
  return c;
}

Compare Compare::ModRevisionIs(std::string key, int64_t revision) {
  Compare c;
  c.key = std::move(key);
  c.target = Target::kModRevision;
  c.result = Result::kEqual;
  c.number = revision;
  return c;
}

Compare Compare::ValueIs(std::string key, std::string value) {
  Compare c;
  c.key = std::move(key);
  c.target = Target::kValue;
  c.result = Result::kEqual;
  c.value = std::move(value);
  return c;
}

Op Op::Put(std::string key, std::string value, int64_t lease) {
  Op op;
  op.kind = Kind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.lease = lease;
  return op;
}

Op Op::Delete(std::string key, bool prefix) {
  Op op;
  op.kind = Kind::kDelete;
  op.key = std::move(key);
  op.prefix = prefix;
  return op;
}

Op Op::Get(std::string key, bool prefix) {
  Op op;
  op.kind = Kind::kRange;
  op.key = std::move(key);
  op.prefix = prefix;
  return op;
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();  // 0xff cannot be incremented: the range ends at the byte before
  }
  return std::string(1, '\0');
}

bool IsNoQuorum(const berth::Status& s) {
  if (s.code() == absl::StatusCode::kDeadlineExceeded) return true;
  if (s.code() != absl::StatusCode::kUnavailable) return false;
  for (std::string_view mark : kNoQuorumMarks)
    if (absl::StrContains(s.message(), Av(mark))) return true;
  return false;
}

// The HTTP side, shared by the Client and its watches (a watch may outlive its Client).
class Transport {
 public:
  Transport(ClientOptions opts, std::vector<http::Url> endpoints)
      : opts_(std::move(opts)),
        endpoints_(std::move(endpoints)),
        http_(
            http::HttpOptions{.user_agent = "berthd",
                              .connect_timeout_ms = static_cast<int>(opts_.request_timeout.count()),
                              .idle_timeout_ms = static_cast<int>(opts_.request_timeout.count()),
                              .max_idle_per_host = 8},
            [tls = opts_.tls](const http::Url& url) -> StatusOr<http::HostTls> {
              if (tls == nullptr)
                return absl::FailedPreconditionError(
                    absl::StrCat("no TLS configuration for ", url.Origin()));
              return http::HostTls{tls, true};
            }) {}

  const ClientOptions& opts() const { return opts_; }

  // Sends a POST of body to path, endpoint after endpoint while they cannot be reached, and
  // returns the response with its header read.
  StatusOr<std::unique_ptr<http::Response>> Open(std::string_view op, std::string_view path,
                                                 const json& body, bool require_leader,
                                                 bool streaming, transport::Deadline deadline,
                                                 const std::atomic<bool>* cancel = nullptr) {
    if (endpoints_.empty())
      return absl::FailedPreconditionError(absl::StrCat("etcd ", Av(op), ": no endpoints"));
    Status last;
    for (const http::Url& ep : endpoints_) {
      http::Request req;
      req.method = "POST";
      req.url = ep;
      req.url.target = std::string(path);
      req.headers.emplace_back("Content-Type", "application/json");
      // The gateway passes Grpc-Metadata-* on as gRPC metadata; etcd's interceptor then refuses
      // at once with "etcdserver: no leader" when this member knows of no leader, instead of
      // holding the request until it times out.
      if (require_leader) req.headers.emplace_back("Grpc-Metadata-Hasleader", "true");
      req.body = body.dump();
      req.deadline = deadline;
      req.streaming = streaming;
      auto resp = http_.Send(req, cancel);
      if (resp.ok()) return resp;
      last = resp.status();
      if (last.code() == absl::StatusCode::kCancelled) return last;
      if (!BeforeSending(last)) break;  // it may have been applied: not sent twice
    }
    return Failure(op, last, deadline);
  }

  // A unary call: the whole answer, decoded; etcd's errors mapped.
  StatusOr<json> Call(std::string_view op, std::string_view path, const json& body,
                      bool require_leader) {
    auto deadline = transport::After(opts_.request_timeout);
    ASSIGN_OR_RETURN(auto resp, Open(op, path, body, require_leader, false, deadline));
    auto text = resp->ReadAll(kMaxBody);
    if (!text.ok()) return Failure(op, text.status(), deadline);
    if (resp->status() != 200) return codec::MapError(resp->status(), *text, op);
    auto j = codec::ParseBody(*text);
    if (!j.ok()) return Annotate(j.status(), absl::StrCat("etcd ", Av(op)));
    return j;
  }

 private:
  // A transport failure in the client's words: past the deadline, or the member unreachable.
  Status Failure(std::string_view op, const Status& cause, transport::Deadline deadline) const {
    if (cause.code() == absl::StatusCode::kCancelled) return cause;
    if (transport::SteadyClock::now() >= deadline)
      return absl::DeadlineExceededError(absl::StrCat("etcd ", Av(op), ": no answer within ",
                                                      Seconds(opts_.request_timeout), " (",
                                                      cause.message(), ")"));
    if (BeforeSending(cause))
      return absl::UnavailableError(
          absl::StrCat("etcd ", Av(op), ": ", kUnreachable, ": ", cause.message()));
    return absl::UnavailableError(
        absl::StrCat("etcd ", Av(op), ": connection lost: ", cause.message()));
  }

  const ClientOptions opts_;
  const std::vector<http::Url> endpoints_;
  http::HttpClient http_;
};

class Client::Impl {
 public:
  std::shared_ptr<Transport> t;
  Status bad_options;
};

namespace {

// One watch: a thread that holds a /v3/watch stream open and re-opens it after a break.
class StreamWatch final : public Watch {
 public:
  StreamWatch(std::shared_ptr<Transport> t, std::string prefix, int64_t start,
              Client::EventsFn on_events, Client::ErrorFn on_error)
      : t_(std::move(t)),
        prefix_(std::move(prefix)),
        next_(start),
        on_events_(std::move(on_events)),
        on_error_(std::move(on_error)) {
    thread_ = std::thread([this] { Run(); });
  }

  ~StreamWatch() override {
    cancel_.store(true);
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
      if (current_ != nullptr) current_->Abort();
    }
    thread_.join();
  }

 private:
  enum class Next { kRead, kReopen, kStop };

  bool Stopped() {
    absl::MutexLock lock(&mu_);
    return stop_;
  }

  // Waits d or until the watch is destroyed; false then.
  bool Sleep(std::chrono::milliseconds d) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stop_), absl::Milliseconds(d.count()));
    return !stop_;
  }

  void Fail(const Status& s) {
    if (on_error_ && !Stopped()) on_error_(s);
  }

  Next Handle(std::string_view line) {
    auto m = codec::DecodeWatchMessage(line);
    if (!m.ok()) return Next::kReopen;
    if (!m->error.ok()) {
      if (m->error.code() == absl::StatusCode::kFailedPrecondition) {
        Fail(Annotate(m->error, prefix_));
        return Next::kStop;
      }
      return Next::kReopen;
    }
    if (m->created) {
      if (next_ == 0) next_ = m->header.revision + 1;
      backoff_ = kMinBackoff;
    }
    if (!m->events.empty()) {
      next_ = m->events.back().kv.mod_revision + 1;
      if (on_events_ && !Stopped()) on_events_(m->events, m->header.revision);
    }
    if (m->canceled) {
      if (m->compact_revision > 0) {
        Fail(absl::FailedPreconditionError(
            absl::StrCat("etcd watch ", prefix_, ": required revision ", next_,
                         " has been compacted (compacted to ", m->compact_revision, ")")));
        return Next::kStop;
      }
      return Next::kReopen;
    }
    return Next::kRead;
  }

  void Run() {
    const std::string op = absl::StrCat("watch ", prefix_);
    while (!Stopped()) {
      auto resp = t_->Open(op, "/v3/watch", codec::WatchCreateRequest(prefix_, next_),
                           /*require_leader=*/false, /*streaming=*/true,
                           transport::After(t_->opts().request_timeout), &cancel_);
      if (resp.ok() && (*resp)->status() != 200) {
        auto body = (*resp)->ReadAll(64 * 1024);
        Status st = codec::MapError((*resp)->status(), body.ok() ? *body : "", op);
        if (st.code() == absl::StatusCode::kFailedPrecondition) {
          Fail(st);
          return;
        }
        resp = st;
      }
      if (!resp.ok()) {
        if (!Sleep(backoff_)) return;
        backoff_ = std::min(backoff_ * 2, kMaxBackoff);
        continue;
      }
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return;
        current_ = resp->get();
      }
      Next next = Next::kRead;
      std::string buf;
      char chunk[16 * 1024];
      while (next == Next::kRead) {
        auto n = (*resp)->Read(chunk, sizeof chunk);
        if (!n.ok() || *n == 0) break;
        buf.append(chunk, *n);
        for (size_t nl; next == Next::kRead && (nl = buf.find('\n')) != std::string::npos;) {
          std::string line = buf.substr(0, nl);
          buf.erase(0, nl + 1);
          if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
          next = Handle(line);
        }
      }
      {
        absl::MutexLock lock(&mu_);
        current_ = nullptr;
      }
      if (next == Next::kStop) return;
      // The stream broke or etcd ended it: again from the revision after the last delivered.
      if (!Sleep(backoff_)) return;
      backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    }
  }

  static constexpr std::chrono::milliseconds kMinBackoff{50};
  static constexpr std::chrono::milliseconds kMaxBackoff{1000};

  const std::shared_ptr<Transport> t_;
  const std::string prefix_;
  // Watch-thread only.
  int64_t next_;
  std::chrono::milliseconds backoff_ = kMinBackoff;
  const Client::EventsFn on_events_;
  const Client::ErrorFn on_error_;
  std::atomic<bool> cancel_{false};
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  http::Response* current_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace

Client::Client(ClientOptions opts) : impl_(std::make_unique<Impl>()) {
  std::vector<http::Url> eps;
  for (const std::string& e : opts.endpoints) {
    auto u = http::ParseUrl(e);
    if (!u.ok()) {
      impl_->bad_options = Annotate(u.status(), absl::StrCat("etcd endpoint ", e));
      continue;
    }
    u->target = "/";
    eps.push_back(std::move(*u));
  }
  if (opts.request_timeout <= std::chrono::milliseconds::zero())
    impl_->bad_options = absl::InvalidArgumentError("etcd request timeout must be positive");
  impl_->t = std::make_shared<Transport>(std::move(opts), std::move(eps));
}

Client::~Client() = default;

#define ETCD_CHECK_OPTIONS() \
  if (!impl_->bad_options.ok()) return impl_->bad_options

StatusOr<RangeResult> Client::Get(std::string_view key, const GetOptions& opts) {
  ETCD_CHECK_OPTIONS();
  const std::string op = absl::StrCat("get ", Av(key));
  ASSIGN_OR_RETURN(json j, impl_->t->Call(op, "/v3/kv/range", codec::RangeRequest(key, opts),
                                          !opts.serializable));
  auto r = codec::DecodeRange(j);
  if (!r.ok()) return Annotate(r.status(), absl::StrCat("etcd ", op));
  return r;
}

StatusOr<ResponseHeader> Client::Put(std::string_view key, std::string_view value, int64_t lease) {
  ETCD_CHECK_OPTIONS();
  ASSIGN_OR_RETURN(json j, impl_->t->Call(absl::StrCat("put ", Av(key)), "/v3/kv/put",
                                          codec::PutRequest(key, value, lease), true));
  return codec::DecodeHeader(j);
}

StatusOr<int64_t> Client::Delete(std::string_view key, bool prefix) {
  ETCD_CHECK_OPTIONS();
  ASSIGN_OR_RETURN(json j, impl_->t->Call(absl::StrCat("delete ", Av(key)), "/v3/kv/deleterange",
                                          codec::DeleteRequest(key, prefix), true));
  return codec::Int(j, "deleted");
}

StatusOr<TxnResult> Client::Txn(const std::vector<Compare>& compares,
                                const std::vector<Op>& success, const std::vector<Op>& failure) {
  ETCD_CHECK_OPTIONS();
  std::string op = "txn";
  if (!compares.empty()) absl::StrAppend(&op, " ", compares.front().key);
  ASSIGN_OR_RETURN(json j, impl_->t->Call(op, "/v3/kv/txn",
                                          codec::TxnRequest(compares, success, failure), true));
  auto t = codec::DecodeTxn(j);
  if (!t.ok()) return Annotate(t.status(), absl::StrCat("etcd ", op));
  return t;
}

StatusOr<int64_t> Client::LeaseGrant(std::chrono::seconds ttl) {
  ETCD_CHECK_OPTIONS();
  if (ttl.count() <= 0) return absl::InvalidArgumentError("etcd lease grant: TTL must be positive");
  ASSIGN_OR_RETURN(json j, impl_->t->Call("lease grant", "/v3/lease/grant",
                                          json{{"TTL", std::to_string(ttl.count())}}, true));
  int64_t id = codec::Int(j, "ID");
  if (id == 0) {
    std::string err = j.value("error", "");
    return absl::UnavailableError(
        absl::StrCat("etcd lease grant: ", err.empty() ? "no lease id in the answer" : err));
  }
  return id;
}

StatusOr<int64_t> Client::LeaseKeepAlive(int64_t lease) {
  ETCD_CHECK_OPTIONS();
  // A stream of one: the gateway sends this one request and ends the stream, and etcd answers
  // it with one {"result":...} (or an {"error":...}).
  const std::string op = absl::StrCat("lease keepalive ", Hex(static_cast<uint64_t>(lease)));
  ASSIGN_OR_RETURN(
      json j, impl_->t->Call(op, "/v3/lease/keepalive", json{{"ID", std::to_string(lease)}}, true));
  if (auto e = j.find("error"); e != j.end()) {
    int code = e->is_object() ? static_cast<int>(codec::Int(*e, "grpc_code")) : 2;
    std::string msg = e->is_object() ? e->value("message", "") : e->dump();
    return codec::FromGrpc(code == 0 ? 2 : code, msg, op);
  }
  auto r = j.find("result");
  int64_t ttl = r != j.end() ? codec::Int(*r, "TTL") : 0;
  if (ttl <= 0)
    return absl::NotFoundError(absl::StrCat("etcd ", op, ": requested lease not found"));
  return ttl;
}

Status Client::LeaseRevoke(int64_t lease) {
  ETCD_CHECK_OPTIONS();
  return impl_->t
      ->Call(absl::StrCat("lease revoke ", Hex(static_cast<uint64_t>(lease))), "/v3/lease/revoke",
             json{{"ID", std::to_string(lease)}}, true)
      .status();
}

StatusOr<std::unique_ptr<Watch>> Client::WatchPrefix(std::string_view prefix,
                                                     int64_t start_revision, EventsFn on_events,
                                                     ErrorFn on_error) {
  ETCD_CHECK_OPTIONS();
  if (start_revision < 0)
    return absl::InvalidArgumentError("etcd watch: the start revision must not be negative");
  return std::unique_ptr<Watch>(new StreamWatch(impl_->t, std::string(prefix), start_revision,
                                                std::move(on_events), std::move(on_error)));
}

StatusOr<std::vector<MemberInfo>> Client::MemberList() {
  ETCD_CHECK_OPTIONS();
  ASSIGN_OR_RETURN(json j,
                   impl_->t->Call("member list", "/v3/cluster/member/list", json::object(), false));
  return codec::DecodeMembers(j);
}

StatusOr<std::pair<MemberInfo, std::vector<MemberInfo>>> Client::MemberAdd(
    const std::string& peer_url) {
  ETCD_CHECK_OPTIONS();
  ASSIGN_OR_RETURN(json j,
                   impl_->t->Call(absl::StrCat("member add ", peer_url), "/v3/cluster/member/add",
                                  json{{"peerURLs", json::array({peer_url})}}, true));
  MemberInfo added = codec::DecodeMember(j.value("member", json::object()));
  ASSIGN_OR_RETURN(std::vector<MemberInfo> all, codec::DecodeMembers(j));
  return std::make_pair(std::move(added), std::move(all));
}

Status Client::MemberRemove(uint64_t id) {
  ETCD_CHECK_OPTIONS();
  return impl_->t
      ->Call(absl::StrCat("member remove ", Hex(id)), "/v3/cluster/member/remove",
             json{{"ID", std::to_string(id)}}, true)
      .status();
}

StatusOr<MemberStatus> Client::MaintenanceStatus() {
  ETCD_CHECK_OPTIONS();
  ASSIGN_OR_RETURN(json j,
                   impl_->t->Call("status", "/v3/maintenance/status", json::object(), false));
  return codec::DecodeStatus(j);
}

}  // namespace berth::cluster::etcd
