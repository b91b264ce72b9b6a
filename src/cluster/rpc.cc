#include "cluster/rpc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <memory>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/transport/beast_stream.h"
#include "api/transport/stream.h"
#include "common/fd.h"

namespace berth::cluster {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using transport::Deadline;

// "10.0.0.1:2377", "[fd00::1]:2377".
bool SplitHostPort(const std::string& addr, std::string* host, std::string* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 >= addr.size()) return false;
  *host = addr.substr(0, colon);
  *port = addr.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']')
    *host = host->substr(1, host->size() - 2);
  return !host->empty();
}

constexpr std::chrono::seconds kConnectTimeout{3};

int MillisLeft(Deadline d) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(d - transport::SteadyClock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}

// A non-blocking connect that waits for the socket (poll on one descriptor, bounded by d).
StatusOr<UniqueFd> Dial(const std::string& addr, Deadline d, RpcCancel* cancel) {
  std::string host, port;
  if (!SplitHostPort(addr, &host, &port))
    return absl::InvalidArgumentError(absl::StrCat("invalid address ", addr));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return absl::InvalidArgumentError(
        absl::StrCat("invalid address ", addr, ": ", gai_strerror(rc)));
  UniqueFd fd(::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) {
    ::freeaddrinfo(res);
    return ErrnoStatus(errno, "socket");
  }
  // Cancellable from here on, the connect included (a shut-down socket ends the poll below).
  if (cancel != nullptr && !cancel->Attach(fd.get())) {
    ::freeaddrinfo(res);
    return absl::CancelledError("the call was cancelled");
  }
  // On a failure the descriptor is detached before it closes (this is declared after it).
  struct DetachOnFailure {
    RpcCancel* c;
    bool keep = false;
    ~DetachOnFailure() {
      if (c != nullptr && !keep) c->Detach();
    }
  } guard{cancel, false};
  int rc = ::connect(fd.get(), res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS)
    return absl::UnavailableError(absl::StrCat("dial tcp ", addr, ": ", std::strerror(errno)));
  if (rc != 0) {
    pollfd p{fd.get(), POLLOUT, 0};
    int n;
    do {
      n = ::poll(&p, 1, MillisLeft(d));
    } while (n < 0 && errno == EINTR);
    if (n == 0) return absl::UnavailableError(absl::StrCat("dial tcp ", addr, ": i/o timeout"));
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
      return absl::UnavailableError(absl::StrCat("dial tcp ", addr, ": ", std::strerror(err)));
  }
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  guard.keep = true;
  return fd;
}

}  // namespace

void RpcCancel::Cancel() {
  absl::MutexLock l(&mu_);
  cancelled_ = true;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

bool RpcCancel::cancelled() const {
  absl::MutexLock l(&mu_);
  return cancelled_;
}

bool RpcCancel::Attach(int fd) {
  absl::MutexLock l(&mu_);
  if (cancelled_) return false;
  fd_ = fd;
  return true;
}

void RpcCancel::Detach() {
  absl::MutexLock l(&mu_);
  fd_ = -1;
}

namespace {

// Idle keep-alive connections to managers, so that a node's calls (a status report per task
// state, a heartbeat a second, a long poll per assignment change) do not each pay a TCP connect
// and a mutual-TLS handshake: in a scale, those handshakes were a fifth of berthd's CPU.
// Keyed by address, server name and TLS context (held, so its address is never reused by
// another: a node whose certificate is renewed, or that joined another swarm, never takes a
// connection made with the old one).
class ConnectionPool {
 public:
  // A connection the peer has not closed, idle for less than kIdleFor; null when none.
  std::unique_ptr<transport::Stream> Take(const std::string& key,
                                          const std::shared_ptr<const transport::TlsContext>& tls) {
    std::vector<Idle> expired;  // closed with no lock held
    std::unique_ptr<transport::Stream> out;
    {
      absl::MutexLock l(&mu_);
      Expire(&expired);
      for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
        if (it->key != key || it->tls != tls) continue;
        out = std::move(it->stream);
        idle_.erase(std::next(it).base());
        break;
      }
    }
    // A manager closes a connection idle for its --idle-timeout (30 s; ours is shorter), or
    // when it stops: not that one.
    if (out != nullptr && out->PeerClosed()) out.reset();
    return out;
  }

  void Put(std::string key, std::shared_ptr<const transport::TlsContext> tls,
           std::unique_ptr<transport::Stream> stream) {
    std::vector<Idle> expired;
    absl::MutexLock l(&mu_);
    Expire(&expired);
    size_t same = 0;
    for (const Idle& i : idle_) same += i.key == key && i.tls == tls;
    if (same >= kMaxIdlePerKey) return;  // the stream closes once the lock is released
    idle_.push_back({std::move(key), std::move(tls), std::move(stream), Now()});
  }

 private:
  // A node has at most two calls at once besides its long poll (a report and a heartbeat).
  static constexpr size_t kMaxIdlePerKey = 2;
  static constexpr std::chrono::seconds kIdleFor{10};

  struct Idle {
    std::string key;
    std::shared_ptr<const transport::TlsContext> tls;
    std::unique_ptr<transport::Stream> stream;
    transport::Deadline since;
  };
  static transport::Deadline Now() { return transport::SteadyClock::now(); }

  void Expire(std::vector<Idle>* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    transport::Deadline now = Now();
    for (auto it = idle_.begin(); it != idle_.end();) {
      if (now - it->since < kIdleFor) {
        ++it;
        continue;
      }
      out->push_back(std::move(*it));
      it = idle_.erase(it);
    }
  }

  absl::Mutex mu_;
  std::vector<Idle> idle_ ABSL_GUARDED_BY(mu_);  // oldest first
};

ConnectionPool& Pool() {
  static ConnectionPool* pool = new ConnectionPool;  // never destroyed: used until exit
  return *pool;
}

// Ends RpcCancel's hold on a descriptor before the stream owning it closes or goes back to the
// pool, so that Cancel never shuts down a number reused by something else.
struct CancelHold {
  RpcCancel* c = nullptr;
  void Release() {
    if (c != nullptr) c->Detach();
    c = nullptr;
  }
  ~CancelHold() { Release(); }
};

}  // namespace

StatusOr<RpcReply> Call(const std::string& addr, std::string_view path, const nlohmann::json& body,
                        const RpcOptions& opts) {
  Deadline d = transport::After(opts.timeout);
  // A connect takes at most kConnectTimeout whatever the call's timeout (a long poll's is long).
  Deadline connect_by = std::min(d, transport::After(kConnectTimeout));
  // A call that checks the peer itself (a join, before the node trusts the swarm's root) gets a
  // connection of its own, closed after it; the others keep theirs for the next call.
  const bool pooled = !opts.check_peer;
  const std::string key = absl::StrCat(addr, " ", opts.server_name);
  http::request<http::string_body> req{http::verb::post, std::string(path), 11};
  req.set(http::field::host, addr);
  req.set(http::field::content_type, "application/json");
  if (!pooled) req.set(http::field::connection, "close");
  req.body() = body.dump();
  req.prepare_payload();

  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<transport::Stream> stream;
    if (pooled && attempt == 0) stream = Pool().Take(key, opts.tls);
    const bool reused = stream != nullptr;
    CancelHold hold;  // declared after the stream: released before it closes
    if (reused) {
      if (opts.cancel != nullptr && !opts.cancel->Attach(stream->fd()))
        return absl::CancelledError("the call was cancelled");
      hold.c = opts.cancel.get();
    } else {
      StatusOr<UniqueFd> dialed = Dial(addr, connect_by, opts.cancel.get());
      if (!dialed.ok()) return dialed.status();
      hold.c = opts.cancel.get();  // Dial attached it
      stream = std::make_unique<transport::Stream>(std::move(*dialed), opts.tls, opts.server_name);
      if (opts.tls != nullptr) {
        Status hs = stream->Handshake(d);
        if (!hs.ok())
          return absl::UnavailableError(
              absl::StrCat("tls handshake with ", addr, ": ", hs.message()));
      }
      if (opts.check_peer) RETURN_IF_ERROR(opts.check_peer(stream->peer()));
    }
    transport::BeastStream bs(*stream);
    bs.set_deadline(d);
    beast::error_code ec;
    http::write(bs, req, ec);
    const bool sent = !ec;
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(16 << 20);
    if (sent) http::read(bs, buf, parser, ec);
    if (ec) {
      bool cancelled = opts.cancel != nullptr && opts.cancel->cancelled();
      // A kept connection the manager closed as we sent (its idle timeout, a restart): nothing
      // was answered, so nothing was done; once more on a new connection. (Not after a timeout:
      // that manager is slow or gone, and the call's time is spent.)
      if (reused && transport::ClosedByPeer(ec) && !cancelled && buf.size() == 0 &&
          !parser.got_some())
        continue;
      std::string why = bs.last_error().ok() ? ec.message() : std::string(bs.last_error().message());
      if (cancelled) return absl::CancelledError("the call was cancelled");
      return absl::UnavailableError(absl::StrCat(sent ? "read from " : "send to ", addr, ": ", why));
    }
    RpcReply out;
    out.status = static_cast<int>(parser.get().result_int());
    const std::string& text = parser.get().body();
    if (!text.empty()) {
      out.body = nlohmann::json::parse(text, nullptr, false);
      if (out.body.is_discarded())
        return absl::InternalError(absl::StrCat("answer from ", addr, " is not JSON"));
    }
    if (pooled && parser.keep_alive() && buf.size() == 0) {
      hold.Release();
      Pool().Put(key, opts.tls, std::move(stream));
    }
    return out;
  }
}

Status ReplyError(const RpcReply& reply) {
  if (reply.status < 400) return absl::OkStatus();
  std::string message = "error from manager";
  int code = static_cast<int>(absl::StatusCode::kUnknown);
  if (reply.body.is_object()) {
    if (reply.body.contains("message") && reply.body["message"].is_string())
      message = reply.body["message"].get<std::string>();
    if (reply.body.contains("code") && reply.body["code"].is_number_integer())
      code = reply.body["code"].get<int>();
  }
  if (code <= 0 || code > 16) code = static_cast<int>(absl::StatusCode::kUnknown);
  return Status(static_cast<absl::StatusCode>(code), message);
}

nlohmann::json ErrorBody(const Status& s) {
  return {{"message", std::string(s.message())}, {"code", static_cast<int>(s.code())}};
}

}  // namespace berth::cluster
