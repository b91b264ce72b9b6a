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
#include <cstring>

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

StatusOr<RpcReply> Call(const std::string& addr, std::string_view path, const nlohmann::json& body,
                        const RpcOptions& opts) {
  Deadline d = transport::After(opts.timeout);
  // A connect takes at most kConnectTimeout whatever the call's timeout (a long poll's is long).
  Deadline connect_by = std::min(d, transport::After(kConnectTimeout));
  StatusOr<UniqueFd> dialed = Dial(addr, connect_by, opts.cancel.get());
  if (!dialed.ok()) return dialed.status();
  UniqueFd fd = std::move(*dialed);
  transport::Stream stream(std::move(fd), opts.tls, opts.server_name);
  // Detached before the descriptor closes (declared after the stream that owns it), so Cancel never
  // shuts down a number reused by something else.
  struct Attachment {
    RpcCancel* c;
    ~Attachment() {
      if (c != nullptr) c->Detach();
    }
  } attachment{nullptr};
  attachment.c = opts.cancel.get();
  if (opts.tls != nullptr) {
    Status hs = stream.Handshake(d);
    if (!hs.ok())
      return absl::UnavailableError(absl::StrCat("tls handshake with ", addr, ": ", hs.message()));
  }
  if (opts.check_peer) RETURN_IF_ERROR(opts.check_peer(stream.peer()));
  transport::BeastStream bs(stream);
  bs.set_deadline(d);
  http::request<http::string_body> req{http::verb::post, std::string(path), 11};
  req.set(http::field::host, addr);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::connection, "close");
  req.body() = body.dump();
  req.prepare_payload();
  beast::error_code ec;
  http::write(bs, req, ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat(
        "send to ", addr, ": ", bs.last_error().ok() ? ec.message() : bs.last_error().message()));
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 << 20);
  http::read(bs, buf, parser, ec);
  if (ec)
    return absl::UnavailableError(absl::StrCat(
        "read from ", addr, ": ", bs.last_error().ok() ? ec.message() : bs.last_error().message()));
  RpcReply out;
  out.status = static_cast<int>(parser.get().result_int());
  const std::string& text = parser.get().body();
  if (!text.empty()) {
    out.body = nlohmann::json::parse(text, nullptr, false);
    if (out.body.is_discarded())
      return absl::InternalError(absl::StrCat("answer from ", addr, " is not JSON"));
  }
  return out;
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
