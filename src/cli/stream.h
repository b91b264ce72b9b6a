#pragma once
// Terminal handling and the copy loop of hijacked attach/exec connections.

#include <functional>
#include <string>

#include "api/client/client.h"
#include "common/status.h"

namespace berth::cli {

bool IsTerminal(int fd);
// Rows and columns of the terminal on fd; false if it is not one.
bool TerminalSize(int fd, int* rows, int* cols);

// Puts a terminal in raw mode for its lifetime; the destructor restores it (also on exceptions
// and early returns). Restore() is idempotent.
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  void Restore();
  bool active() const { return active_; }

 private:
  int fd_;
  bool active_ = false;
  unsigned char saved_[64];  // struct termios, kept opaque here
};

// "ctrl-p,ctrl-q" -> "\x10\x11"; error for a key docker does not know.
StatusOr<std::string> ParseDetachKeys(const std::string& spec);

struct PumpOptions {
  bool tty = false;         // raw stream (tty) or stdcopy frames
  bool send_stdin = false;  // copy in_fd to the connection
  int in_fd = 0;
  int out_fd = 1;
  int err_fd = 2;
  std::string detach_keys;  // byte sequence on stdin that detaches (tty only); empty: none
  // Called on SIGWINCH (after the handler is installed by the pump), to resize the container.
  std::function<void()> on_resize;
  // docker's --sig-proxy: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2 received while pumping are
  // handed to this (which forwards them to the container) instead of ending the CLI.
  std::function<void(int signo)> on_signal;
};

enum class PumpResult { kEof, kDetached };

// Copies until the connection's output ends (or the detach sequence is typed). When stdin hits
// EOF the write half of the connection is shut down, as docker's CloseWrite does.
StatusOr<PumpResult> PumpHijacked(client::HijackedConn& conn, const PumpOptions& opts);

}  // namespace berth::cli
