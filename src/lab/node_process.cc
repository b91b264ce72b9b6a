#include "lab/node_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/fd.h"
#include "sys/fs.h"

extern char** environ;

namespace berth::lab {
namespace {

// What the grandchild reports when a step before exec fails: the step and its errno.
struct SpawnError {
  int step = 0;
  int err = 0;
};
constexpr const char* kSteps[] = {"fork",        "setns(net)", "unshare(uts)",
                                  "sethostname", "dup2",       "exec"};

UniqueFd PidFd(pid_t pid) { return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))); }

std::string Dir(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

int MillisUntil(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 60'000));
}

}  // namespace

StatusOr<pid_t> SpawnInNamespace(const SpawnSpec& spec) {
  // Everything the children need is made here: between fork and exec only async-signal-safe
  // calls are made.
  UniqueFd ns(::open(spec.netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.valid()) return ErrnoStatus(errno, "open " + spec.netns_path);
  UniqueFd log(::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log.valid()) return ErrnoStatus(errno, "open " + spec.log_path);
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null.valid()) return ErrnoStatus(errno, "open /dev/null");
  std::vector<std::string> args = {spec.binary};
  args.insert(args.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe");
  UniqueFd rd(p[0]), wr(p[1]);

  pid_t mid = ::fork();
  if (mid < 0) return ErrnoStatus(errno, "fork");
  if (mid == 0) {
    // The middle child: a session of its own, then the daemon is forked from it and it exits, so
    // the daemon is nobody's child here (the caller's shell, a test runner) and outlives us.
    ::setsid();
    pid_t child = ::fork();
    if (child != 0) {
      (void)!::write(wr.get(), &child, sizeof child);
      if (child < 0) {
        SpawnError e{0, errno};
        (void)!::write(wr.get(), &e, sizeof e);
      }
      ::_exit(0);
    }
    auto fail = [&](int step) {
      SpawnError e{step, errno};
      (void)!::write(wr.get(), &e, sizeof e);
      ::_exit(127);
    };
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) ::signal(sig, SIG_DFL);
    if (::setns(ns.get(), CLONE_NEWNET) != 0) fail(1);
    if (::unshare(CLONE_NEWUTS) != 0) fail(2);
    if (::sethostname(spec.hostname.data(), spec.hostname.size()) != 0) fail(3);
    if (::dup2(null.get(), 0) < 0 || ::dup2(log.get(), 1) < 0 || ::dup2(log.get(), 2) < 0) fail(4);
    // Nothing else crosses exec (a test runner's fd 3 must not be held by a daemon).
    ::syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
    ::execve(argv[0], argv.data(), environ);
    fail(5);
  }
  wr.reset();
  int wstatus = 0;
  while (::waitpid(mid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  pid_t daemon = -1;
  ssize_t n;
  do {
    n = ::read(rd.get(), &daemon, sizeof daemon);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof daemon))
    return absl::InternalError("spawn: no pid from the child");
  // EOF: the daemon exec'd (the pipe is close-on-exec). A record: a step failed.
  SpawnError e;
  do {
    n = ::read(rd.get(), &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof e)) {
    return ErrnoStatus(e.err, absl::StrCat("start ", spec.binary, " in ", spec.netns_path, ": ",
                                           kSteps[std::clamp(e.step, 0, 5)]));
  }
  return daemon;
}

bool IsNodeDaemon(pid_t pid, const std::string& data_root) {
  if (pid <= 0) return false;
  auto stat = sys::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return false;
  size_t paren = stat->rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat->size()) return false;
  char state = (*stat)[paren + 2];
  if (state == 'Z' || state == 'X') return false;
  auto cmdline = sys::ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  if (!cmdline.ok()) return false;
  std::vector<std::string> argv;
  for (size_t start = 0; start < cmdline->size();) {
    size_t end = cmdline->find('\0', start);
    if (end == std::string::npos) end = cmdline->size();
    argv.push_back(cmdline->substr(start, end - start));
    start = end + 1;
  }
  if (argv.empty()) return false;
  std::string base = argv[0].substr(argv[0].rfind('/') + 1);
  if (base != "berthd") return false;
  for (size_t i = 1; i + 1 < argv.size(); ++i)
    if (argv[i] == "--data-root" && argv[i + 1] == data_root) return true;
  return false;
}

bool SignalNodeDaemon(pid_t pid, const std::string& data_root, int sig) {
  UniqueFd fd = PidFd(pid);
  if (!fd.valid() || !IsNodeDaemon(pid, data_root)) return false;
  return ::syscall(SYS_pidfd_send_signal, fd.get(), sig, nullptr, 0) == 0;
}

bool SignalProcess(pid_t pid, const std::string& comm, int sig) {
  UniqueFd fd = PidFd(pid);
  if (!fd.valid()) return false;
  auto stat = sys::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return false;
  size_t open = stat->find('('), close = stat->rfind(')');
  if (open == std::string::npos || close == std::string::npos ||
      stat->substr(open + 1, close - open - 1) != comm)
    return false;
  return ::syscall(SYS_pidfd_send_signal, fd.get(), sig, nullptr, 0) == 0;
}

Status Ping(const std::string& socket_path, absl::Duration timeout) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus(errno, "socket");
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(absl::ToInt64Seconds(timeout));
  tv.tv_usec = static_cast<suseconds_t>(absl::ToInt64Microseconds(timeout) % 1'000'000);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path)
    return absl::InvalidArgumentError("socket path too long: " + socket_path);
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return ErrnoStatus(errno, "connect " + socket_path);
  const std::string req = "GET /_ping HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n";
  if (::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
    return ErrnoStatus(errno, "send to " + socket_path);
  std::string resp;
  char buf[512];
  while (resp.find("\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read from " + socket_path);
    if (n == 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  // "HTTP/1.1 200 OK"
  if (resp.size() < 12 || resp.compare(0, 5, "HTTP/") != 0 || resp.compare(9, 3, "200") != 0)
    return absl::UnavailableError("ping " + socket_path + ": " + resp.substr(0, resp.find('\r')));
  return absl::OkStatus();
}

std::vector<Status> WaitReady(const std::vector<ReadyWait>& waits, absl::Time deadline) {
  const size_t n = waits.size();
  std::vector<Status> out(n, absl::UnavailableError("not ready"));
  std::vector<bool> done(n, false);
  UniqueFd ino(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  std::vector<UniqueFd> pidfds;
  for (const ReadyWait& w : waits) {
    // The socket appearing (bind creates it) is the event; anything else in the directory only
    // wakes us for a cheap existence check.
    if (ino.valid())
      ::inotify_add_watch(ino.get(), Dir(w.socket_path).c_str(), IN_CREATE | IN_MOVED_TO);
    pidfds.push_back(PidFd(w.pid));
  }
  for (;;) {
    bool retry_soon = false;
    size_t pending = 0;
    for (size_t i = 0; i < n; ++i) {
      if (done[i]) continue;
      if (sys::Exists(waits[i].socket_path)) {
        Status st = Ping(waits[i].socket_path, absl::Seconds(2));
        if (st.ok()) {
          out[i] = absl::OkStatus();
          done[i] = true;
          continue;
        }
        // Bound but not yet listening (or a stale socket being replaced): bind and listen are
        // microseconds apart, so a short retry beats waiting for an event that will not come.
        retry_soon = true;
      }
      if (!pidfds[i].valid()) {
        out[i] = absl::UnavailableError(absl::StrCat("berthd (pid ", waits[i].pid, ") exited"));
        done[i] = true;
        continue;
      }
      ++pending;
    }
    if (pending == 0) break;
    int timeout = MillisUntil(deadline);
    if (timeout == 0) {
      for (size_t i = 0; i < n; ++i)
        if (!done[i])
          out[i] = absl::DeadlineExceededError(absl::StrCat(
              "berthd (pid ", waits[i].pid, ") did not answer on ", waits[i].socket_path));
      break;
    }
    if (retry_soon || !ino.valid()) timeout = std::min(timeout, 10);
    std::vector<pollfd> pfds;
    std::vector<size_t> who;
    if (ino.valid()) pfds.push_back({ino.get(), POLLIN, 0});
    for (size_t i = 0; i < n; ++i) {
      if (done[i]) continue;
      pfds.push_back({pidfds[i].get(), POLLIN, 0});
      who.push_back(i);
    }
    int r = ::poll(pfds.data(), pfds.size(), timeout);
    if (r < 0 && errno != EINTR) break;
    size_t base = ino.valid() ? 1 : 0;
    if (ino.valid() && (pfds[0].revents & POLLIN)) {
      char buf[4096];
      while (::read(ino.get(), buf, sizeof buf) > 0) {
      }
    }
    for (size_t k = 0; k < who.size(); ++k) {
      if (!(pfds[base + k].revents & POLLIN)) continue;
      size_t i = who[k];
      // One last look: it may have answered and then exited, but a dead daemon is not ready.
      out[i] = absl::UnavailableError(absl::StrCat("berthd (pid ", waits[i].pid, ") exited"));
      done[i] = true;
    }
  }
  return out;
}

bool WaitExit(pid_t pid, absl::Duration timeout) {
  UniqueFd fd = PidFd(pid);
  if (!fd.valid()) return errno == ESRCH;
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    pollfd p{fd.get(), POLLIN, 0};
    int r = ::poll(&p, 1, MillisUntil(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace berth::lab
