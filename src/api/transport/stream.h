#pragma once
// transport::Stream: one connection of the Engine API, over a unix or TCP socket or over TLS on
// TCP, with what both ends need and nothing of HTTP: write everything, read some, end the
// sending side (Docker's hijacked attach/exec streams are half-closed by the client at stdin EOF
// and by the daemon when the process ends), wait until there is something to read or another
// descriptor is readable or a deadline passes, and the TLS peer's identity.
//
// Everything blocks the calling thread on an Asio io_context: the socket is non-blocking, an
// operation that would block waits for readiness with async_wait and the connection's
// steady_timer for its deadline, so a timeout costs no thread and no polling. A plain socket
// reads and writes straight into and out of the caller's buffers (recv/send), as before.
//
// TLS is OpenSSL on the socket rather than asio::ssl::stream, for two reasons the hijack
// protocol needs: asio's shutdown waits for the peer's close_notify, so it cannot half-close
// (send ours and keep reading stdin), and it buffers ciphertext out of sight, so "is anything
// readable" cannot be answered without reading. Here the only buffers are OpenSSL's
// (SSL_pending) and the stream's own, and Wait() and Buffered() look at both.
//
// Threading: a Stream belongs to the thread that runs its io_context. Abort() alone may be
// called from any other thread.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "api/transport/tls.h"
#include "common/fd.h"
#include "common/status.h"

namespace berth::transport {

using SteadyClock = std::chrono::steady_clock;
using Deadline = SteadyClock::time_point;
inline constexpr Deadline kForever = Deadline::max();
// A deadline that has always passed: the call does what it can without blocking.
inline constexpr Deadline kNoWait = Deadline::min();

inline Deadline After(std::chrono::milliseconds d) { return SteadyClock::now() + d; }

struct WaitResult {
  bool stream = false;     // the stream has something to read: data, its end, or an error
  bool other = false;      // the watched descriptor is readable
  bool timed_out = false;  // the deadline passed first
  bool aborted = false;    // Abort() was called
};

class FdWatch;

class Stream {
 public:
  // Takes a connected socket (made non-blocking here). With tls, Handshake() must succeed
  // before anything else; server_name is, for a client, the host the server's certificate must
  // name (an IP address or a DNS name, also sent as SNI).
  Stream(boost::asio::io_context& io, UniqueFd fd, std::shared_ptr<const TlsContext> tls = nullptr,
         std::string server_name = "");
  // The same on an io_context of its own (a client's connection).
  explicit Stream(UniqueFd fd, std::shared_ptr<const TlsContext> tls = nullptr,
                  std::string server_name = "");
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // The TLS handshake (nothing for a plain stream). DEADLINE_EXCEEDED, CANCELLED (Abort) or
  // UNAVAILABLE with OpenSSL's reason ("certificate verify failed: ...").
  Status Handshake(Deadline d);

  // Reads at least one byte, or 0 at the end of the peer's stream (it half-closed, closed, or
  // sent close_notify). DEADLINE_EXCEEDED when nothing came by d (kNoWait: nothing is there
  // yet), CANCELLED after Abort(), UNAVAILABLE when the connection broke (the error sticks).
  StatusOr<size_t> ReadSome(char* buf, size_t n, Deadline d = kForever);
  // Writes all of data (with TLS, in records); errors as ReadSome.
  Status WriteAll(std::string_view data, Deadline d = kForever);
  // Ends the sending side: shutdown(SHUT_WR); with TLS, close_notify first. Reading goes on.
  Status CloseWrite(Deadline d = kForever);
  // After an error: ends our side at the socket (no TLS) and reads and drops what the peer still
  // sends, until it closes, d passes or max_bytes went by. Closing with unread data would reset
  // the connection, and the peer could lose our last words (an HTTP error, a TLS alert) unread.
  void Linger(Deadline d, size_t max_bytes);
  // Puts bytes in front of what the socket will give next (an HTTP parser's read-ahead).
  void Unread(std::string_view data);

  // Waits until the stream has something to read (when `stream`), `other` is readable, d
  // passes, or Abort(). Both readiness flags are set when both hold.
  WaitResult Wait(bool stream, FdWatch* other, Deadline d);
  // True when reading would not block: data or the end already taken off the socket (the
  // stream's own buffer, OpenSSL's). A caller that polls fd() itself must not wait while this
  // holds, since the socket may have nothing more to say.
  bool Buffered() const;
  // Without blocking: has the peer closed or reset the connection (or has Abort() been called)?
  // Consumes nothing a later ReadSome would not return.
  bool PeerClosed();

  // Thread-safe: every current and later wait, read and write of this stream fails with
  // CANCELLED (daemon shutdown).
  void Abort();
  bool aborted() const { return aborted_.load(std::memory_order_relaxed); }

  int fd() const { return fd_; }
  bool tls() const { return ssl_ != nullptr; }
  // The TLS peer's certificate, once Handshake() succeeded; empty otherwise.
  const PeerIdentity& peer() const { return peer_; }
  boost::asio::io_context& io() { return io_; }

 private:
  friend class FdWatch;
  void Init(UniqueFd fd);
  struct Readiness {
    bool read = false, write = false, other = false, timed_out = false;
  };
  // Blocks on the io_context until one armed wait fires, d passes or Abort(); then cancels the
  // waits that did not fire and runs their handlers.
  Readiness Block(bool read, bool write, FdWatch* other, Deadline d);
  // TLS: moves whatever OpenSSL can decrypt without blocking into rbuf_ (or records the end).
  void TlsFill();
  Status TlsFailure(int ssl_error, std::string_view what);
  Status WaitFor(bool read, bool write, Deadline d, std::string_view what);

  std::unique_ptr<boost::asio::io_context> own_io_;
  boost::asio::io_context& io_;
  boost::asio::posix::stream_descriptor sock_;
  boost::asio::steady_timer timer_;
  int fd_ = -1;
  std::shared_ptr<const TlsContext> tls_ctx_;
  ssl_st* ssl_ = nullptr;
  std::string server_name_;
  PeerIdentity peer_;
  std::string rbuf_;  // read ahead: Unread() data, or what TLS decrypted during a Wait()
  bool eof_ = false;  // the peer's stream ended (after rbuf_)
  Status error_;      // the connection broke (after rbuf_)
  bool close_notify_sent_ = false;
  std::atomic<bool> aborted_{false};
};

// A descriptor a Stream waits on besides its socket (a shim's stream, an inotify descriptor).
// Registered with the stream's io_context for the watch's life; not owned. Asio makes a watched
// descriptor non-blocking; the watch puts its flags back when it ends.
class FdWatch {
 public:
  FdWatch(Stream& stream, int fd);
  ~FdWatch();
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;
  int fd() const { return fd_; }

 private:
  friend class Stream;
  boost::asio::posix::stream_descriptor desc_;
  int fd_;
  int saved_flags_;
};

}  // namespace berth::transport
