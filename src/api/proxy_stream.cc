#include "api/proxy_stream.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "engine/runtime.h"

namespace berth::api {

int ProxyStream(Conn& conn, int shim, bool tty, bool client_stdin, std::mutex* write_mu) {
  auto to_shim = [&](uint8_t type, std::string_view data) {
    std::string f = engine::Frame(type, data);
    if (write_mu) {
      std::lock_guard<std::mutex> lock(*write_mu);
      return SendAll(shim, f);
    }
    return SendAll(shim, f);
  };
  if (client_stdin && !conn.leftover.empty()) to_shim(engine::kStdin, conn.leftover);
  bool client_reading = true;
  bool client_writable = true;
  std::string buf;
  char tmp[65536];
  for (;;) {
    struct pollfd p[2] = {{shim, POLLIN, 0}, {conn.fd(), static_cast<short>(client_reading ? POLLIN : 0), 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(conn.fd(), tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // The client closed its sending side (stdin EOF) or went away.
        client_reading = false;
        if (client_stdin) to_shim(engine::kCloseStdin, "");
        if (n < 0 || (p[1].revents & POLLERR)) return -1;
      } else if (client_stdin) {
        to_shim(engine::kStdin, std::string_view(tmp, static_cast<size_t>(n)));
      }
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(shim, tmp, sizeof tmp);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return -1;
      buf.append(tmp, static_cast<size_t>(n));
      while (buf.size() >= 8) {
        uint32_t len = (uint32_t(uint8_t(buf[4])) << 24) | (uint32_t(uint8_t(buf[5])) << 16) |
                       (uint32_t(uint8_t(buf[6])) << 8) | uint32_t(uint8_t(buf[7]));
        if (buf.size() < 8 + len) break;
        uint8_t type = static_cast<uint8_t>(buf[0]);
        if (type == engine::kExit) {
          int code = -1;
          absl::SimpleAtoi(buf.substr(8, len), &code);
          return code;
        }
        if (client_writable) {
          std::string_view out = tty ? std::string_view(buf).substr(8, len)
                                     : std::string_view(buf).substr(0, 8 + len);
          client_writable = SendAll(conn.fd(), out);
        }
        buf.erase(0, 8 + len);
      }
      if (!client_writable) return -1;  // the client went away: detach
    }
  }
}

}  // namespace berth::api
