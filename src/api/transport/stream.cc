#include "api/transport/stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace berth::transport {
namespace asio = boost::asio;
using Descriptor = asio::posix::stream_descriptor;

namespace {

// OpenSSL reads and writes the socket through this BIO rather than its own socket BIO, which
// write()s: a peer that went away must be an EPIPE from send(MSG_NOSIGNAL), not a SIGPIPE that
// ends a process that does not block it (the berth CLI, the tests).
int SocketOf(BIO* b) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b))); }

bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

int BioWrite(BIO* b, const char* data, int n) {
  BIO_clear_retry_flags(b);
  ssize_t r = ::send(SocketOf(b), data, static_cast<size_t>(n), MSG_NOSIGNAL);
  if (r < 0 && WouldBlock(errno)) BIO_set_retry_write(b);
  return static_cast<int>(r);
}

int BioRead(BIO* b, char* data, int n) {
  BIO_clear_retry_flags(b);
  ssize_t r = ::recv(SocketOf(b), data, static_cast<size_t>(n), 0);
  if (r < 0 && WouldBlock(errno)) BIO_set_retry_read(b);
  return static_cast<int>(r);
}

long BioCtrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int BioCreate(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* SocketBio() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "berth socket");
    BIO_meth_set_write(m, BioWrite);
    BIO_meth_set_read(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    BIO_meth_set_create(m, BioCreate);
    return m;
  }();
  return method;
}

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

Status Aborted() { return absl::CancelledError("connection aborted (shutting down)"); }

Status ErrnoFailure(std::string_view what, int err) {
  return absl::UnavailableError(absl::StrCat(Av(what), ": ", std::strerror(err)));
}

}  // namespace

Stream::Stream(asio::io_context& io, UniqueFd fd, std::shared_ptr<const TlsContext> tls,
               std::string server_name)
    : io_(io),
      sock_(io),
      timer_(io),
      tls_ctx_(std::move(tls)),
      server_name_(std::move(server_name)) {
  Init(std::move(fd));
}

Stream::Stream(UniqueFd fd, std::shared_ptr<const TlsContext> tls, std::string server_name)
    : own_io_(std::make_unique<asio::io_context>(1)),
      io_(*own_io_),
      sock_(io_),
      timer_(io_),
      tls_ctx_(std::move(tls)),
      server_name_(std::move(server_name)) {
  Init(std::move(fd));
}

void Stream::Init(UniqueFd fd) {
  fd_ = fd.get();
  int flags = ::fcntl(fd_, F_GETFL);
  if (flags >= 0 && !(flags & O_NONBLOCK)) ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  boost::system::error_code ec;
  sock_.assign(fd.release(), ec);
  if (ec) {
    ::close(fd_);
    fd_ = -1;
    error_ = absl::InternalError("register socket: " + ec.message());
    return;
  }
  // Ours is non-blocking already; asio must not toggle it around its waits.
  sock_.non_blocking(true, ec);
  if (tls_ctx_ == nullptr) return;
  ssl_ = SSL_new(tls_ctx_->native());
  BIO* bio = BIO_new(SocketBio());
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd_)));
  SSL_set_bio(ssl_, bio, bio);
  if (tls_ctx_->role() == TlsContext::Role::kServer) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  if (server_name_.empty()) return;
  bool ip = IsIpLiteral(server_name_);
  if (!ip) SSL_set_tlsext_host_name(ssl_, server_name_.c_str());
  if (tls_ctx_->verify_peer()) {
    // The certificate must name the host dialled; an address needs an IP SAN, as Go checks.
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    if (ip)
      X509_VERIFY_PARAM_set1_ip_asc(param, server_name_.c_str());
    else
      SSL_set1_host(ssl_, server_name_.c_str());
  }
}

Stream::~Stream() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  boost::system::error_code ec;
  sock_.close(ec);
}

Stream::Readiness Stream::Block(bool read, bool write, FdWatch* other, Deadline d) {
  Readiness r;
  int pending = 0;
  bool fired = false;
  auto arm = [&](Descriptor& desc, Descriptor::wait_type type, bool* flag) {
    ++pending;
    desc.async_wait(type, [&pending, &fired, flag](const boost::system::error_code& ec) {
      --pending;
      // An error other than our own cancel is reported as readiness: the caller's next read
      // or write meets it.
      if (ec != asio::error::operation_aborted) *flag = fired = true;
    });
  };
  if (read) arm(sock_, Descriptor::wait_read, &r.read);
  if (write) arm(sock_, Descriptor::wait_write, &r.write);
  if (other != nullptr) arm(other->desc_, Descriptor::wait_read, &r.other);
  if (d != kForever) {
    ++pending;
    timer_.expires_at(d);
    timer_.async_wait([&](const boost::system::error_code& ec) {
      --pending;
      if (!ec) r.timed_out = fired = true;
    });
  }
  if (pending == 0) return r;
  io_.restart();
  while (!fired && !aborted()) io_.run_one();
  if (pending > 0) {
    // The handlers refer to this frame: cancel what did not fire and run them before leaving.
    boost::system::error_code ec;
    sock_.cancel(ec);
    if (other != nullptr) other->desc_.cancel(ec);
    timer_.cancel();
    while (pending > 0) io_.run_one();
  }
  return r;
}

Status Stream::WaitFor(bool read, bool write, Deadline d, std::string_view what) {
  if (aborted()) return Aborted();
  if (d != kForever && SteadyClock::now() >= d) {
    return absl::DeadlineExceededError(absl::StrCat(Av(what), " timed out"));
  }
  Readiness r = Block(read, write, nullptr, d);
  if (aborted()) return Aborted();
  if (r.timed_out && !r.read && !r.write) {
    return absl::DeadlineExceededError(absl::StrCat(Av(what), " timed out"));
  }
  return absl::OkStatus();
}

Status Stream::TlsFailure(int ssl_error, std::string_view what) {
  std::string why;
  if (ssl_error == SSL_ERROR_SSL) {
    why = OpenSslErrors();
    long v = SSL_get_verify_result(ssl_);
    if (v != X509_V_OK) absl::StrAppend(&why, ": ", X509_verify_cert_error_string(v));
  } else {
    int err = errno;
    ERR_clear_error();
    why = err != 0 ? std::strerror(err) : "connection closed by peer";
  }
  return absl::UnavailableError(absl::StrCat("TLS ", Av(what), ": ", why));
}

Status Stream::Handshake(Deadline d) {
  if (ssl_ == nullptr || !error_.ok()) return error_;
  for (;;) {
    if (aborted()) return Aborted();
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1) break;
    int e = SSL_get_error(ssl_, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      RETURN_IF_ERROR(
          WaitFor(e == SSL_ERROR_WANT_READ, e == SSL_ERROR_WANT_WRITE, d, "TLS handshake"));
      continue;
    }
    error_ = TlsFailure(e, "handshake");
    return error_;
  }
  peer_ = PeerIdentityOf(ssl_);
  return absl::OkStatus();
}

StatusOr<size_t> Stream::ReadSome(char* buf, size_t n, Deadline d) {
  if (!rbuf_.empty()) {
    size_t k = std::min(n, rbuf_.size());
    std::memcpy(buf, rbuf_.data(), k);
    rbuf_.erase(0, k);
    return k;
  }
  if (aborted()) return Aborted();
  if (eof_) return 0;
  if (!error_.ok()) return error_;
  for (;;) {
    bool want_read = true;
    if (ssl_ != nullptr) {
      size_t got = 0;
      ERR_clear_error();
      errno = 0;
      int rc = SSL_read_ex(ssl_, buf, n, &got);
      if (rc == 1) return got;
      int e = SSL_get_error(ssl_, rc);
      if (e == SSL_ERROR_ZERO_RETURN) {
        eof_ = true;
        return 0;
      }
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        error_ = TlsFailure(e, "read");
        return error_;
      }
      want_read = e == SSL_ERROR_WANT_READ;
    } else {
      ssize_t r = ::recv(fd_, buf, n, 0);
      if (r > 0) return static_cast<size_t>(r);
      if (r == 0) {
        eof_ = true;
        return 0;
      }
      if (errno == EINTR) continue;
      if (!WouldBlock(errno)) {
        error_ = ErrnoFailure("read", errno);
        return error_;
      }
    }
    RETURN_IF_ERROR(WaitFor(want_read, !want_read, d, "read"));
  }
}

Status Stream::WriteAll(std::string_view data, Deadline d) {
  if (!error_.ok() && error_.code() == absl::StatusCode::kInternal) return error_;
  while (!data.empty()) {
    if (aborted()) return Aborted();
    bool want_write = true;
    if (ssl_ != nullptr) {
      size_t put = 0;
      ERR_clear_error();
      errno = 0;
      int rc = SSL_write_ex(ssl_, data.data(), data.size(), &put);
      if (rc == 1) {
        data.remove_prefix(put);
        continue;
      }
      int e = SSL_get_error(ssl_, rc);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return TlsFailure(e, "write");
      want_write = e == SSL_ERROR_WANT_WRITE;
    } else {
      ssize_t r = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (r >= 0) {
        data.remove_prefix(static_cast<size_t>(r));
        continue;
      }
      if (errno == EINTR) continue;
      if (!WouldBlock(errno)) return ErrnoFailure("write", errno);
    }
    RETURN_IF_ERROR(WaitFor(!want_write, want_write, d, "write"));
  }
  return absl::OkStatus();
}

Status Stream::CloseWrite(Deadline d) {
  if (ssl_ != nullptr && !close_notify_sent_) {
    for (;;) {
      if (aborted()) return Aborted();
      ERR_clear_error();
      errno = 0;
      // The first SSL_shutdown only sends our close_notify (0: theirs has not come yet, 1: it
      // has); it is called again only to retry a send that would have blocked.
      int rc = SSL_shutdown(ssl_);
      if (rc >= 0) break;
      int e = SSL_get_error(ssl_, rc);
      if (e != SSL_ERROR_WANT_WRITE) return TlsFailure(e, "close");
      RETURN_IF_ERROR(WaitFor(false, true, d, "TLS close"));
    }
    close_notify_sent_ = true;
  }
  if (::shutdown(fd_, SHUT_WR) != 0 && errno != ENOTCONN) return ErrnoFailure("shutdown", errno);
  return absl::OkStatus();
}

void Stream::Linger(Deadline d, size_t max_bytes) {
  ::shutdown(fd_, SHUT_WR);
  char buf[16 * 1024];
  for (size_t total = 0; total < max_bytes;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      total += static_cast<size_t>(n);
      continue;
    }
    if (n == 0 || !WouldBlock(errno)) return;
    if (errno != EINTR && !WaitFor(true, false, d, "linger").ok()) return;
  }
}

void Stream::Unread(std::string_view data) { rbuf_.insert(0, data.data(), data.size()); }

bool Stream::Buffered() const {
  return !rbuf_.empty() || eof_ || !error_.ok() || (ssl_ != nullptr && SSL_pending(ssl_) > 0);
}

void Stream::TlsFill() {
  if (eof_ || !error_.ok()) return;
  char buf[16 * 1024];
  size_t got = 0;
  ERR_clear_error();
  errno = 0;
  int rc = SSL_read_ex(ssl_, buf, sizeof buf, &got);
  if (rc == 1) {
    rbuf_.append(buf, got);
    return;
  }
  int e = SSL_get_error(ssl_, rc);
  if (e == SSL_ERROR_ZERO_RETURN)
    eof_ = true;
  else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
    error_ = TlsFailure(e, "read");
}

WaitResult Stream::Wait(bool want_stream, FdWatch* other, Deadline d) {
  BERTH_CHECK(want_stream || other != nullptr || d != kForever);
  WaitResult w;
  for (;;) {
    if (aborted()) {
      w.aborted = true;
      return w;
    }
    // Look before blocking: the reactor is edge-triggered, and readiness that came while no
    // wait was armed would not wake it. A TLS socket's readiness means nothing until OpenSSL
    // has turned its bytes into data (or found only a partial record).
    if (want_stream) {
      if (ssl_ != nullptr && !Buffered()) TlsFill();
      w.stream = Buffered();
    }
    pollfd p[2];
    nfds_t n = 0;
    int sock_i = -1, other_i = -1;
    if (want_stream && !w.stream && ssl_ == nullptr) {
      sock_i = static_cast<int>(n);
      p[n++] = {fd_, POLLIN, 0};
    }
    if (other != nullptr) {
      other_i = static_cast<int>(n);
      p[n++] = {other->fd_, POLLIN, 0};
    }
    if (n > 0 && ::poll(p, n, 0) > 0) {
      if (sock_i >= 0 && p[sock_i].revents != 0) w.stream = true;
      if (other_i >= 0 && p[other_i].revents != 0) w.other = true;
    }
    if (w.stream || w.other) return w;
    if (d != kForever && SteadyClock::now() >= d) {
      w.timed_out = true;
      return w;
    }
    Readiness r = Block(want_stream, false, other, d);
    if (aborted()) continue;
    // A plain socket that became readable is readable; a TLS one is looked at again above.
    if (ssl_ == nullptr && r.read) w.stream = true;
    if (r.other) w.other = true;
    if (w.stream || w.other) return w;
    if (r.timed_out) {
      w.timed_out = true;
      return w;
    }
  }
}

bool Stream::PeerClosed() {
  if (aborted()) return true;
  if (!rbuf_.empty()) return false;
  if (eof_ || !error_.ok()) return true;
  if (ssl_ != nullptr) {
    TlsFill();
    return rbuf_.empty() && (eof_ || !error_.ok());
  }
  char c;
  ssize_t r = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r == 0) return true;
  return r < 0 && !WouldBlock(errno);
}

void Stream::Abort() {
  aborted_.store(true);
  // Wakes the owner if it is blocked in run_one(); it then sees the flag.
  asio::post(io_, [] {});
}

FdWatch::FdWatch(Stream& stream, int fd)
    : desc_(stream.io_), fd_(fd), saved_flags_(::fcntl(fd, F_GETFL)) {
  boost::system::error_code ec;
  desc_.assign(fd, ec);
}

FdWatch::~FdWatch() {
  desc_.release();
  if (saved_flags_ >= 0 && ::fcntl(fd_, F_GETFL) != saved_flags_)
    ::fcntl(fd_, F_SETFL, saved_flags_);
}

}  // namespace berth::transport
