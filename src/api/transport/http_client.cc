#include "api/transport/http_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <optional>

#include "api/transport/beast_stream.h"

namespace berth::http {
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int DefaultPort(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

std::string BracketHost(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// Go's wording for errno values: strerror, lower case.
std::string GoErrno(int err) { return Lower(std::strerror(err)); }

// The words Go's crypto/tls and net/http use for what OpenSSL reported on a failed handshake.
std::string GoTlsError(std::string_view openssl, const Url& url) {
  auto has = [&](std::string_view s) { return openssl.find(s) != std::string_view::npos; };
  if (has("wrong version number") || has("packet length too long") || has("http request"))
    return "http: server gave HTTP response to HTTPS client";
  if (has("unable to get local issuer certificate") || has("self-signed certificate") ||
      has("self signed certificate") || has("unable to verify the first certificate") ||
      has("unable to get issuer certificate"))
    return "x509: certificate signed by unknown authority";
  if (has("certificate has expired") || has("certificate is not yet valid"))
    return "x509: certificate has expired or is not yet valid";
  if (has("IP address mismatch") || has("hostname mismatch"))
    return "x509: certificate is not valid for " + url.host;
  std::string msg(openssl);
  if (msg.starts_with("TLS handshake: ")) msg = msg.substr(15);
  return "tls: " + msg;
}

bool Cancelled(const std::atomic<bool>* cancel) {
  return cancel != nullptr && cancel->load(std::memory_order_relaxed);
}

}  // namespace

std::string Url::HostPort() const { return BracketHost(host) + ":" + std::to_string(port); }
std::string Url::Authority() const {
  return port == DefaultPort(scheme) ? BracketHost(host) : HostPort();
}
std::string Url::Origin() const { return scheme + "://" + HostPort(); }
std::string Url::String() const { return scheme + "://" + Authority() + target; }

StatusOr<Url> ParseUrl(std::string_view s) {
  Url u;
  size_t sep = s.find("://");
  if (sep == std::string_view::npos)
    return absl::InvalidArgumentError(absl::StrCat("invalid URL \"", Av(s), "\""));
  u.scheme = Lower(s.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https")
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported protocol scheme \"", u.scheme, "\""));
  s.remove_prefix(sep + 3);
  size_t slash = s.find_first_of("/?");
  std::string_view authority = s.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(s.substr(slash));
  if (u.target.front() == '?') u.target.insert(0, "/");
  if (size_t at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos)
      return absl::InvalidArgumentError(absl::StrCat("invalid URL \"", Av(s), "\""));
    u.host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() == ':') port = rest.substr(1);
  } else {
    size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return absl::InvalidArgumentError("URL without a host");
  u.port = DefaultPort(u.scheme);
  if (!port.empty()) {
    int p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535)
        return absl::InvalidArgumentError(absl::StrCat("invalid port \":", Av(port), "\""));
      p = p * 10 + (c - '0');
    }
    if (p == 0 || p > 65535)
      return absl::InvalidArgumentError(absl::StrCat("invalid port \":", Av(port), "\""));
    u.port = p;
  }
  return u;
}

StatusOr<Url> ResolveUrl(const Url& base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return ParseUrl(location);
  Url u = base;
  if (location.starts_with("//")) return ParseUrl(base.scheme + ":" + std::string(location));
  if (location.starts_with("/")) {
    u.target = std::string(location);
  } else {
    std::string dir = base.target.substr(0, base.target.find('?'));
    dir = dir.substr(0, dir.rfind('/') + 1);
    u.target = dir + std::string(location);
  }
  return u;
}

std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// One connection: its stream and what it is connected to.
class Connection {
 public:
  std::string origin;
  std::unique_ptr<transport::Stream> stream;
};

class Response::Impl {
 public:
  Impl(HttpClient* client, std::unique_ptr<Connection> conn, std::chrono::milliseconds idle,
       transport::Deadline deadline)
      : client(client), conn(std::move(conn)), bs(*this->conn->stream) {
    abortable = this->conn->stream.get();
    if (deadline != transport::kForever) bs.set_deadline(deadline);
    else bs.set_stall_timeout(idle);
    // No limit, but as a number: Boost 1.74 compares Content-Length against an empty
    // optional as "larger" and refuses every body.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    parser.header_limit(64 * 1024);
  }

  // The message is complete: the connection goes back to the pool when HTTP allows.
  void Finish() {
    if (done) return;
    done = true;
    bool was_aborted = Detach();
    if (conn != nullptr && !was_aborted && parser.is_done() && parser.keep_alive()) {
      if (buf.size() > 0) {
        auto data = buf.data();
        conn->stream->Unread(std::string_view(static_cast<const char*>(data.data()), data.size()));
      }
      client->PutIdle(std::move(conn));
    }
    conn.reset();
  }

  // Ends Abort()'s access to the stream before the connection goes away or back to the pool;
  // whether Abort() came first.
  bool Detach() {
    absl::MutexLock lock(&abort_mu);
    abortable = nullptr;
    return aborted;
  }
  // The connection is dropped (an error): never reused.
  void Drop() {
    Detach();
    conn.reset();
    done = true;
  }

  HttpClient* client;
  std::unique_ptr<Connection> conn;
  absl::Mutex abort_mu;
  transport::Stream* abortable ABSL_GUARDED_BY(abort_mu) = nullptr;
  bool aborted ABSL_GUARDED_BY(abort_mu) = false;
  transport::BeastStream bs;
  boost::beast::flat_buffer buf;
  bhttp::response_parser<bhttp::buffer_body> parser;
  bool done = false;
};

Response::~Response() = default;

std::string Response::Header(std::string_view name) const {
  std::string want = Lower(name);
  for (const auto& [k, v] : headers_)
    if (k == want) return v;
  return "";
}

std::vector<std::string> Response::Headers(std::string_view name) const {
  std::string want = Lower(name);
  std::vector<std::string> out;
  for (const auto& [k, v] : headers_)
    if (k == want) out.push_back(v);
  return out;
}

StatusOr<size_t> Response::Read(char* out, size_t n, const std::atomic<bool>* cancel) {
  Impl& im = *impl_;
  if (im.done || n == 0) return 0;
  if (im.parser.is_done()) {
    im.Finish();
    return 0;
  }
  if (Cancelled(cancel)) {
    im.Drop();
    return absl::CancelledError("cancelled");
  }
  auto& body = im.parser.get().body();
  body.data = out;
  body.size = n;
  boost::system::error_code ec;
  // read_some: what has arrived, not a full buffer (an etcd watch streams small messages).
  bhttp::read_some(im.bs, im.buf, im.parser, ec);
  if (ec == bhttp::error::need_buffer) ec = {};
  size_t got = n - body.size;
  if (ec) {
    im.Drop();
    std::string why;
    if (ec == bhttp::error::partial_message || ec == boost::asio::error::eof) {
      why = "unexpected EOF";
    } else if (ec == boost::beast::error::timeout) {
      why = "read tcp " + url_.HostPort() + ": i/o timeout";
    } else if (ec == boost::asio::error::operation_aborted) {
      return absl::CancelledError("cancelled");
    } else if (!im.bs.last_error().ok()) {
      why = "read tcp " + url_.HostPort() + ": " + Lower(std::string(im.bs.last_error().message()));
    } else {
      why = ec.message();
    }
    return absl::UnavailableError(HttpClient::ErrorPrefix(method_, url_) + why);
  }
  if (im.parser.is_done()) {
    // The last piece: hand it over now and the end on the next call (the connection is
    // returned right away either way).
    im.Finish();
  }
  if (got == 0 && !im.done) return Read(out, n, cancel);
  return got;
}

StatusOr<std::string> Response::ReadAll(size_t limit) {
  std::string out;
  char buf[16 * 1024];
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, Read(buf, sizeof buf));
    if (n == 0) return out;
    out.append(buf, n);
    if (out.size() > limit) {
      impl_->Drop();
      return absl::ResourceExhaustedError(absl::StrCat(
          HttpClient::ErrorPrefix(method_, url_), "response body larger than ", limit, " bytes"));
    }
  }
}

void Response::Discard() {
  if (impl_->done) return;
  // A short error body is worth reading to keep the connection; anything long is not.
  if (content_length_ >= 0 && content_length_ <= 64 * 1024) {
    if (ReadAll(64 * 1024).ok()) return;
  }
  impl_->Drop();
}

void Response::Abort() {
  absl::MutexLock lock(&impl_->abort_mu);
  impl_->aborted = true;
  if (impl_->abortable != nullptr) impl_->abortable->Abort();
}

HttpClient::HttpClient(HttpOptions opts, TlsFor tls_for)
    : opts_(std::move(opts)), tls_for_(std::move(tls_for)) {}

HttpClient::~HttpClient() = default;

std::string HttpClient::ErrorPrefix(std::string_view method, const Url& url) {
  std::string m = Lower(method);
  if (!m.empty()) m[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(m[0])));
  return absl::StrCat(m, " \"", url.String(), "\": ");
}

std::unique_ptr<Connection> HttpClient::TakeIdle(const std::string& origin) {
  for (;;) {
    std::unique_ptr<Connection> c;
    {
      absl::MutexLock lock(&mu_);
      auto it = idle_.find(origin);
      if (it == idle_.end() || it->second.empty()) return nullptr;
      c = std::move(it->second.back());
      it->second.pop_back();
    }
    // A server closes idle keep-alive connections on its own schedule: skip those it closed.
    if (!c->stream->PeerClosed()) return c;
  }
}

void HttpClient::PutIdle(std::unique_ptr<Connection> c) {
  absl::MutexLock lock(&mu_);
  auto& list = idle_[c->origin];
  if (list.size() < opts_.max_idle_per_host) list.push_back(std::move(c));
}

StatusOr<std::unique_ptr<Connection>> HttpClient::Connect(const Url& url,
                                                          transport::Deadline until) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  std::string port = std::to_string(url.port);
  int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
  if (rc == EAI_NONAME || rc == EAI_FAIL || rc == EAI_NODATA || (rc == 0 && res == nullptr)) {
    hints.ai_flags = 0;  // loopback-only namespaces have no "configured" address family
    rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
  }
  if (rc != 0) {
    std::string why = rc == EAI_NONAME || rc == EAI_NODATA ? "no such host" : gai_strerror(rc);
    return absl::UnavailableError(absl::StrCat("dial tcp: lookup ", url.host, ": ", why));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, ::freeaddrinfo);
  auto deadline =
      std::min(until, transport::After(std::chrono::milliseconds(opts_.connect_timeout_ms)));
  std::string last_error = "dial tcp " + url.HostPort() + ": no address";
  UniqueFd fd;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    char host[NI_MAXHOST] = {}, serv[NI_MAXSERV] = {};
    ::getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, serv, sizeof serv,
                  NI_NUMERICHOST | NI_NUMERICSERV);
    std::string dialled =
        (ai->ai_family == AF_INET6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" +
        serv;
    UniqueFd s(::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!s.valid()) {
      last_error = "dial tcp " + dialled + ": socket: " + GoErrno(errno);
      continue;
    }
    int err = 0;
    if (::connect(s.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        // One wait on the socket's writability, bounded by the connect timeout.
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - transport::SteadyClock::now());
        pollfd p{s.get(), POLLOUT, 0};
        int pr = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
        if (pr == 0) {
          last_error = "dial tcp " + dialled + ": i/o timeout";
          continue;
        }
        socklen_t len = sizeof err;
        if (pr < 0)
          err = errno;
        else if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0)
          err = errno;
      }
    }
    if (err != 0) {
      last_error = "dial tcp " + dialled + ": connect: " + GoErrno(err);
      continue;
    }
    fd = std::move(s);
    break;
  }
  if (!fd.valid()) return absl::UnavailableError(last_error);
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  auto conn = std::make_unique<Connection>();
  conn->origin = url.Origin();
  if (url.scheme != "https") {
    conn->stream = std::make_unique<transport::Stream>(std::move(fd));
    return conn;
  }
  ASSIGN_OR_RETURN(HostTls tls, tls_for_(url));
  conn->stream = std::make_unique<transport::Stream>(std::move(fd), tls.context, url.host);
  Status hs = conn->stream->Handshake(deadline);
  if (hs.code() == absl::StatusCode::kDeadlineExceeded)
    return absl::UnavailableError("net/http: TLS handshake timeout");
  if (!hs.ok()) return absl::UnavailableError(GoTlsError(std::string(hs.message()), url));
  return conn;
}

Status HttpClient::Probe(const Url& url) {
  if (auto idle = TakeIdle(url.Origin())) {
    PutIdle(std::move(idle));
    return absl::OkStatus();
  }
  auto conn = Connect(url);
  if (!conn.ok())
    return Status(conn.status().code(),
                  ErrorPrefix("GET", url) + std::string(conn.status().message()));
  PutIdle(std::move(*conn));
  return absl::OkStatus();
}

StatusOr<std::unique_ptr<Response>> HttpClient::Send(const Request& req,
                                                     const std::atomic<bool>* cancel) {
  const std::string prefix = ErrorPrefix(req.method, req.url);
  const bool head = req.head || req.method == "HEAD";
  off_t body_start = -1;
  if (req.body_fd >= 0) body_start = ::lseek(req.body_fd, 0, SEEK_CUR);
  const bool replayable = req.body_fd < 0 || body_start >= 0;

  bhttp::request<bhttp::empty_body> msg;
  msg.method_string(req.method);
  msg.target(req.url.target);
  msg.version(11);
  msg.set(bhttp::field::host, req.url.Authority());
  if (!opts_.user_agent.empty()) msg.set(bhttp::field::user_agent, opts_.user_agent);
  for (const auto& [k, v] : req.headers) msg.insert(k, v);
  int64_t body_size = req.body_fd >= 0 ? req.body_size : static_cast<int64_t>(req.body.size());
  if (body_size > 0 || req.method == "POST" || req.method == "PUT" || req.method == "PATCH")
    msg.set(bhttp::field::content_length, std::to_string(body_size));

  for (int attempt = 0;; ++attempt) {
    if (Cancelled(cancel)) return absl::CancelledError("cancelled");
    std::unique_ptr<Connection> conn = attempt == 0 ? TakeIdle(req.url.Origin()) : nullptr;
    const bool reused = conn != nullptr;
    if (!reused) {
      auto c = Connect(req.url, req.deadline);
      if (!c.ok()) return Status(c.status().code(), prefix + std::string(c.status().message()));
      conn = std::move(*c);
    }
    if (attempt > 0 && req.body_fd >= 0) ::lseek(req.body_fd, body_start, SEEK_SET);
    auto resp = std::unique_ptr<Response>(new Response());
    resp->method_ = req.method;
    resp->url_ = req.url;
    resp->impl_ = std::make_unique<Response::Impl>(
        this, std::move(conn), std::chrono::milliseconds(opts_.idle_timeout_ms), req.deadline);
    Response::Impl& im = *resp->impl_;
    transport::Stream& stream = *im.conn->stream;
    auto write_deadline = [&] {
      return std::min(req.deadline,
                      transport::After(std::chrono::milliseconds(opts_.idle_timeout_ms)));
    };

    // The header through Beast's serializer, then the body as raw bytes.
    boost::system::error_code ec;
    bhttp::request_serializer<bhttp::empty_body> sr(msg);
    bhttp::write_header(im.bs, sr, ec);
    Status wrote =
        ec ? (im.bs.last_error().ok() ? absl::UnavailableError(ec.message()) : im.bs.last_error())
           : absl::OkStatus();
    if (wrote.ok() && !req.body.empty()) wrote = stream.WriteAll(req.body, write_deadline());
    if (wrote.ok() && req.body_fd >= 0) {
      std::string chunk(256 * 1024, '\0');
      int64_t done = 0;
      while (wrote.ok() && done < req.body_size) {
        if (Cancelled(cancel)) return absl::CancelledError("cancelled");
        size_t want = static_cast<size_t>(std::min<int64_t>(chunk.size(), req.body_size - done));
        ssize_t n = ::read(req.body_fd, chunk.data(), want);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          return absl::DataLossError(absl::StrCat(
              prefix, "read the upload: ", n == 0 ? "unexpected EOF" : GoErrno(errno)));
        }
        wrote = stream.WriteAll(std::string_view(chunk.data(), static_cast<size_t>(n)),
                                write_deadline());
        done += n;
        if (wrote.ok() && req.upload_progress) req.upload_progress(done, req.body_size);
      }
    }
    if (wrote.code() == absl::StatusCode::kCancelled) return absl::CancelledError("cancelled");
    // A server may answer (an error) before taking the whole body: its answer is worth more
    // than our write error, so the header is read either way.
    if (head) im.parser.skip(true);
    bhttp::read_header(im.bs, im.buf, im.parser, ec);
    if (ec) {
      if (ec == boost::asio::error::operation_aborted) return absl::CancelledError("cancelled");
      bool nothing = im.buf.size() == 0 && transport::ClosedByPeer(ec);
      if (reused && nothing && replayable && attempt == 0) continue;
      std::string why;
      if (!wrote.ok())
        why = "write tcp " + req.url.HostPort() + ": " + Lower(std::string(wrote.message()));
      else if (ec == boost::beast::error::timeout)
        why = "net/http: timeout awaiting response headers";
      else if (ec == boost::asio::error::eof || ec == bhttp::error::end_of_stream)
        why = "EOF";
      else if (!im.bs.last_error().ok())
        why = "read tcp " + req.url.HostPort() + ": " + Lower(std::string(im.bs.last_error().message()));
      else
        why = "net/http: " + ec.message();
      return absl::UnavailableError(prefix + why);
    }
    if (req.streaming) im.bs.set_deadline(transport::kForever);
    const auto& h = im.parser.get();
    resp->status_ = static_cast<int>(h.result_int());
    resp->reason_ = std::string(h.reason());
    for (const auto& f : h)
      resp->headers_.emplace_back(Lower(std::string(f.name_string())), std::string(f.value()));
    if (auto cl = im.parser.content_length()) resp->content_length_ = static_cast<int64_t>(*cl);
    if (head || im.parser.is_done()) {
      if (head) resp->content_length_ = -1;
      if (head) {
        std::string cl = resp->Header("content-length");
        if (!cl.empty()) resp->content_length_ = std::strtoll(cl.c_str(), nullptr, 10);
      }
      im.Finish();
    }
    return resp;
  }
}

}  // namespace berth::http
