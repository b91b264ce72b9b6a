#include "api/proxy_stream.h"

#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "api/transport/stream.h"
#include "engine/runtime.h"
#include "spec/detach_keys.h"

namespace berth::api {

int ProxyStream(Conn& conn, int shim, bool tty, bool client_stdin, absl::Mutex* write_mu,
                const std::string& detach_keys, std::string* unread) {
  transport::Stream& client = conn.stream();
  auto to_shim = [&](uint8_t type, std::string_view data) {
    std::string f = engine::Frame(type, data);
    if (write_mu) {
      absl::MutexLock lock(write_mu);
      return SendAll(shim, f);
    }
    return SendAll(shim, f);
  };
  // Bytes the client sent right behind its request are the stream's first read.
  transport::FdWatch shim_watch(client, shim);
  bool client_reading = true;
  bool client_writable = true;
  spec::DetachScanner detach(client_stdin ? detach_keys : std::string());
  std::string buf, input;
  char tmp[65536];
  for (;;) {
    transport::WaitResult w = client.Wait(client_reading, &shim_watch, transport::kForever);
    if (w.aborted) return -1;  // the daemon is shutting down
    if (w.stream) {
      auto n = client.ReadSome(tmp, sizeof tmp, transport::kNoWait);
      if (!n.ok() && n.status().code() != absl::StatusCode::kDeadlineExceeded) {
        // The client went away.
        if (client_stdin) to_shim(engine::kCloseStdin, "");
        return -1;
      }
      if (n.ok() && *n == 0) {
        // The client closed its sending side (stdin EOF; with TLS, its close_notify).
        client_reading = false;
        if (client_stdin) {
          // Keys held back as a possible detach sequence were typed after all.
          if (!detach.Held().empty()) to_shim(engine::kStdin, detach.Held());
          to_shim(engine::kCloseStdin, "");
        }
      } else if (n.ok() && client_stdin) {
        input.clear();
        bool detached = detach.Feed(std::string_view(tmp, *n), &input);
        if (!input.empty()) to_shim(engine::kStdin, input);
        if (detached) {
          if (unread != nullptr) *unread = std::move(buf);
          return kProxyDetached;
        }
      }
    }
    if (w.other) {
      ssize_t n = ::read(shim, tmp, sizeof tmp);
      if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n <= 0) return -1;
      buf.append(tmp, static_cast<size_t>(n));
      while (buf.size() >= 8) {
        uint32_t len = (uint32_t(uint8_t(buf[4])) << 24) | (uint32_t(uint8_t(buf[5])) << 16) |
                       (uint32_t(uint8_t(buf[6])) << 8) | uint32_t(uint8_t(buf[7]));
        if (buf.size() < 8 + len) break;
        uint8_t type = static_cast<uint8_t>(buf[0]);
        if (type == engine::kExit) {
          int code = -1;
          if (!absl::SimpleAtoi(buf.substr(8, len), &code)) code = -1;
          return code;
        }
        if (client_writable) {
          std::string_view out = tty ? std::string_view(buf).substr(8, len)
                                     : std::string_view(buf).substr(0, 8 + len);
          client_writable = client.WriteAll(out).ok();
        }
        buf.erase(0, 8 + len);
      }
      if (!client_writable) return -1;  // the client went away: detach
    }
  }
}

}  // namespace berth::api
