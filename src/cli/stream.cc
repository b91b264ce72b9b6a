#include "cli/stream.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>

#include "api/client/stdcopy.h"
#include "cli/cli.h"
#include "spec/detach_keys.h"

namespace berth::cli {
namespace {

static_assert(sizeof(termios) <= 64, "RawTerminal::saved_ too small");

int g_winch_pipe[2] = {-1, -1};
int g_signal_pipe[2] = {-1, -1};

// The terminal state to put back if a signal ends the process while it is in raw mode.
termios g_saved_termios;
volatile sig_atomic_t g_raw_fd = -1;

constexpr int kProxiedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

void OnWinch(int) {
  if (g_winch_pipe[1] >= 0) {
    char c = 1;
    ssize_t n = ::write(g_winch_pipe[1], &c, 1);
    (void)n;
  }
}

void OnProxiedSignal(int signo) {
  if (g_signal_pipe[1] >= 0) {
    char c = static_cast<char>(signo);
    ssize_t n = ::write(g_signal_pipe[1], &c, 1);
    (void)n;
  }
}

// A fatal signal while the terminal is raw: restore it, then die of the signal as before.
void OnFatalSignal(int signo) {
  if (g_raw_fd >= 0) ::tcsetattr(g_raw_fd, TCSANOW, &g_saved_termios);
  ::signal(signo, SIG_DFL);
  ::raise(signo);
}

bool EnsurePipe(int p[2]) {
  if (p[0] >= 0) return true;
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
    p[0] = p[1] = -1;
    return false;
  }
  return true;
}

}  // namespace

bool IsTerminal(int fd) { return ::isatty(fd) == 1; }

bool TerminalSize(int fd, int* rows, int* cols) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) != 0) return false;
  *rows = ws.ws_row;
  *cols = ws.ws_col;
  return true;
}

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  termios t{};
  if (::tcgetattr(fd, &t) != 0) return;
  std::memcpy(saved_, &t, sizeof t);
  g_saved_termios = t;
  ::cfmakeraw(&t);
  // Keep output post-processing so "\n" from our own messages still returns the carriage.
  t.c_oflag |= OPOST;
  if (::tcsetattr(fd, TCSANOW, &t) == 0) {
    active_ = true;
    g_raw_fd = fd;
    for (int signo : {SIGTERM, SIGHUP, SIGQUIT}) {
      struct sigaction sa {};
      sa.sa_handler = OnFatalSignal;
      sigemptyset(&sa.sa_mask);
      ::sigaction(signo, &sa, nullptr);
    }
  }
}

RawTerminal::~RawTerminal() { Restore(); }

void RawTerminal::Restore() {
  if (!active_) return;
  termios t{};
  std::memcpy(&t, saved_, sizeof t);
  g_raw_fd = -1;
  ::tcsetattr(fd_, TCSANOW, &t);
  active_ = false;
}

StatusOr<std::string> ParseDetachKeys(const std::string& spec) {
  return spec::ParseDetachKeys(spec);
}

StatusOr<PumpResult> PumpHijacked(client::HijackedConn& conn, const PumpOptions& opts) {
  client::StdcopyDemuxer demux([&](client::StdStream s, std::string_view payload) {
    WriteAll(s == client::StdStream::kStderr || s == client::StdStream::kSystemErr ? opts.err_fd
                                                                                   : opts.out_fd,
             payload);
  });
  auto emit = [&](std::string_view data) -> Status {
    if (opts.tty) {
      WriteAll(opts.out_fd, data);
      return absl::OkStatus();
    }
    return demux.Feed(data);
  };
  RETURN_IF_ERROR(emit(conn.leftover));
  conn.leftover.clear();

  bool have_winch = false;
  struct sigaction old_sa {};
  if (opts.on_resize) {
    if (EnsurePipe(g_winch_pipe)) {
      struct sigaction sa {};
      sa.sa_handler = OnWinch;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART;
      have_winch = ::sigaction(SIGWINCH, &sa, &old_sa) == 0;
    }
  }

  bool have_signals = false;
  struct sigaction old_signal_sa[std::size(kProxiedSignals)];
  if (opts.on_signal && EnsurePipe(g_signal_pipe)) {
    have_signals = true;
    for (size_t i = 0; i < std::size(kProxiedSignals); ++i) {
      struct sigaction sa {};
      sa.sa_handler = OnProxiedSignal;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART;
      ::sigaction(kProxiedSignals[i], &sa, &old_signal_sa[i]);
    }
  }

  bool stdin_open = opts.send_stdin;
  spec::DetachScanner scanner(opts.detach_keys);
  std::vector<char> buf(32 * 1024);
  PumpResult result = PumpResult::kEof;
  for (;;) {
    pollfd fds[4];
    nfds_t n = 0;
    fds[n++] = {conn.stream->fd(), POLLIN, 0};
    int in_idx = -1, winch_idx = -1, sig_idx = -1;
    if (have_signals) {
      sig_idx = static_cast<int>(n);
      fds[n++] = {g_signal_pipe[0], POLLIN, 0};
    }
    if (stdin_open) {
      in_idx = static_cast<int>(n);
      fds[n++] = {opts.in_fd, POLLIN, 0};
    }
    if (have_winch) {
      winch_idx = static_cast<int>(n);
      fds[n++] = {g_winch_pipe[0], POLLIN, 0};
    }
    // Output already taken off the socket (TLS decrypts whole records) is read without waiting.
    bool conn_buffered = conn.stream->Buffered();
    if (::poll(fds, n, conn_buffered ? 0 : -1) < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "poll");
    }
    if (sig_idx >= 0 && (fds[sig_idx].revents & POLLIN)) {
      char signos[16];
      ssize_t got;
      while ((got = ::read(g_signal_pipe[0], signos, sizeof signos)) > 0) {
        for (ssize_t k = 0; k < got; ++k) opts.on_signal(static_cast<unsigned char>(signos[k]));
      }
    }
    if (winch_idx >= 0 && (fds[winch_idx].revents & POLLIN)) {
      char drain[16];
      while (::read(g_winch_pipe[0], drain, sizeof drain) > 0) {
      }
      opts.on_resize();
    }
    if (in_idx >= 0 && (fds[in_idx].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = ::read(opts.in_fd, buf.data(), buf.size());
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        stdin_open = false;
        // docker's CloseWrite: the daemon reads stdin's end (with TLS, our close_notify).
        (void)conn.stream->CloseWrite();
      } else {
        std::string_view data(buf.data(), static_cast<size_t>(r));
        std::string out;
        bool detached = scanner.Feed(data, &out);
        if (!out.empty()) (void)conn.stream->WriteAll(out);
        if (detached) {
          result = PumpResult::kDetached;
          break;
        }
      }
    }
    if (conn_buffered || (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      auto r = conn.stream->ReadSome(buf.data(), buf.size(), transport::kNoWait);
      // Nothing yet: the socket held only part of a TLS record.
      if (!r.ok() && r.status().code() == absl::StatusCode::kDeadlineExceeded) continue;
      if (!r.ok() || *r == 0) break;
      RETURN_IF_ERROR(emit(std::string_view(buf.data(), *r)));
    }
  }
  if (have_winch) ::sigaction(SIGWINCH, &old_sa, nullptr);
  if (have_signals) {
    for (size_t i = 0; i < std::size(kProxiedSignals); ++i) {
      ::sigaction(kProxiedSignals[i], &old_signal_sa[i], nullptr);
    }
  }
  return result;
}

}  // namespace berth::cli
