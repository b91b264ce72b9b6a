#include "sys/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd.h"
#include "common/sync.h"

namespace berth::sys {

extern "C" char** environ;

namespace {

// The strings as exec wants them: pointers into `v`, then a null.
std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// posix_spawn: the child shares the parent's memory until it execs (glibc's clone with CLONE_VM
// and CLONE_VFORK), so a spawn costs berthd no page-table copy and no copy-on-write faults and
// TLB shootdowns on its other threads afterwards (fork's cost: a few % of all CPU while a node
// starts twenty tasks). No PR_SET_PDEATHSIG this way: Spawn forks for that.
StatusOr<pid_t> SpawnShared(const std::vector<std::string>& argv, const SpawnOptions& opts) {
  std::vector<char*> args = CStrings(argv);
  std::vector<char*> envp = CStrings(opts.env);
  int maxfd = 2;
  for (auto [child, parent] : opts.fds) {
    BERTH_CHECK(child >= 0 && child < 256);
    if (child > maxfd) maxfd = child;
  }
  // Sources among the child's numbers are copied above them first, so that no dup2 below
  // overwrites a source another one still needs (the copies close at exec, and here after).
  // As the fork path: -1 is /dev/null; any other negative number, or a descriptor that is not
  // open here (a daemon started with stderr closed), leaves the child's number closed (-2).
  std::vector<UniqueFd> lifted;
  std::vector<std::pair<int, int>> fds = opts.fds;
  for (auto& [child, parent] : fds) {
    if (parent < -1 || (parent >= 0 && ::fcntl(parent, F_GETFD) < 0)) parent = -2;
    if (parent < 0 || parent > maxfd) continue;
    int high = ::fcntl(parent, F_DUPFD_CLOEXEC, maxfd + 1);
    if (high < 0) return ErrnoStatus(errno, "fcntl F_DUPFD");
    lifted.emplace_back(high);
    parent = high;
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  int err = 0;
  auto check = [&err](int rc) {
    if (err == 0 && rc != 0) err = rc;
  };
  bool given[256] = {};
  for (auto [child, parent] : fds) {
    given[child] = true;
    // dup2 onto itself would keep close-on-exec; never the case after the lift above.
    if (parent == -1) {
      check(posix_spawn_file_actions_addopen(&fa, child, "/dev/null", O_RDWR, 0));
    } else if (parent < 0) {
      check(posix_spawn_file_actions_addclose(&fa, child));
    } else {
      check(posix_spawn_file_actions_adddup2(&fa, parent, child));
    }
  }
  for (int i = 0; i <= maxfd; ++i) {
    if (given[i]) continue;
    if (i <= 2) check(posix_spawn_file_actions_addopen(&fa, i, "/dev/null", O_RDWR, 0));
    else check(posix_spawn_file_actions_addclose(&fa, i));
  }
  check(posix_spawn_file_actions_addclosefrom_np(&fa, maxfd + 1));
  if (!opts.cwd.empty()) check(posix_spawn_file_actions_addchdir_np(&fa, opts.cwd.c_str()));
  sigset_t none;
  sigemptyset(&none);
  check(posix_spawnattr_setsigmask(&attr, &none));
  check(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK));
  pid_t pid = -1;
  if (err == 0)
    err = ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(),
                         opts.env.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return ErrnoStatus(err, "exec " + argv[0]);
  return pid;
}

}  // namespace

StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const SpawnOptions& opts) {
  CheckNoStateLock("sys::Spawn");
  BERTH_CHECK(!argv.empty());
  if (opts.parent_death_signal == 0) return SpawnShared(argv, opts);
  std::vector<char*> args = CStrings(argv);
  std::vector<char*> envp = CStrings(opts.env);
  int map[256];
  int maxfd = 2;
  for (int i = 0; i < 256; ++i) map[i] = i <= 2 ? -1 : -2;  // -2: close
  for (auto [child, parent] : opts.fds) {
    BERTH_CHECK(child >= 0 && child < 256);
    map[child] = parent;
    if (child > maxfd) maxfd = child;
  }
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoStatus(errno, "pipe");
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus(errno, "fork");
  if (pid == 0) {
    if (opts.parent_death_signal != 0) {
      ::prctl(PR_SET_PDEATHSIG, opts.parent_death_signal);
      // The parent may have died before prctl: then nobody would ever send the signal.
      if (::getppid() != parent) _exit(127);
    }
    // Child: only async-signal-safe calls from here. Move every source fd above maxfd first so
    // the dup2 calls below cannot clobber one another.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = ::open("/dev/null", O_RDWR);
    int base = maxfd + 1 > 64 ? maxfd + 1 : 64;
    if (devnull >= 0 && devnull < base) devnull = ::fcntl(devnull, F_DUPFD, base);
    int moved[256];
    for (int i = 0; i <= maxfd; ++i) {
      int src = map[i] == -1 ? devnull : map[i];
      moved[i] = src >= 0 ? ::fcntl(src, F_DUPFD, base + 256) : -1;
    }
    for (int i = 0; i <= maxfd; ++i) {
      if (moved[i] >= 0) ::dup2(moved[i], i);
      else ::close(i);
    }
    // Close everything else (the error pipe is O_CLOEXEC and closes at exec).
    for (int fd = maxfd + 1; fd < 1024; ++fd)
      if (fd != err_pipe[1]) ::close(fd);
    if (!opts.cwd.empty() && ::chdir(opts.cwd.c_str()) != 0) {
      int e = errno;
      (void)!::write(err_pipe[1], &e, sizeof e);
      _exit(127);
    }
    if (opts.env.empty()) ::execvp(args[0], args.data());
    else ::execvpe(args[0], args.data(), envp.data());
    int e = errno;
    (void)!::write(err_pipe[1], &e, sizeof e);
    _exit(127);
  }
  ::close(err_pipe[1]);
  int child_errno = 0;
  ssize_t n;
  do n = ::read(err_pipe[0], &child_errno, sizeof child_errno);
  while (n < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (n == sizeof child_errno) {
    ::waitpid(pid, nullptr, 0);
    return ErrnoStatus(child_errno, "exec " + argv[0]);
  }
  return pid;
}

StatusOr<int> Wait(pid_t pid) {
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, 0);
    if (r == pid) break;
    if (r < 0 && errno == EINTR) continue;
    return ErrnoStatus(errno, "waitpid");
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

StatusOr<RunResult> Run(const std::vector<std::string>& argv, std::string_view input) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC))
    return ErrnoStatus(errno, "pipe");
  UniqueFd in_r(in[0]), in_w(in[1]), out_r(out[0]), out_w(out[1]), err_r(err[0]), err_w(err[1]);
  SpawnOptions opts;
  opts.fds = {{0, in_r.get()}, {1, out_w.get()}, {2, err_w.get()}};
  ASSIGN_OR_RETURN(pid_t pid, Spawn(argv, opts));
  in_r.reset();
  out_w.reset();
  err_w.reset();
  RunResult res;
  size_t written = 0;
  if (input.empty()) in_w.reset();
  else ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  while (out_r.valid() || err_r.valid()) {
    struct pollfd p[3];
    int np = 0;
    if (out_r.valid()) p[np++] = {out_r.get(), POLLIN, 0};
    if (err_r.valid()) p[np++] = {err_r.get(), POLLIN, 0};
    if (in_w.valid()) p[np++] = {in_w.get(), POLLOUT, 0};
    if (::poll(p, np, -1) < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "poll");
    }
    for (int i = 0; i < np; ++i) {
      if (!p[i].revents) continue;
      if (in_w.valid() && p[i].fd == in_w.get()) {
        ssize_t n = ::write(in_w.get(), input.data() + written, input.size() - written);
        if (n > 0) written += static_cast<size_t>(n);
        if (n < 0 && errno != EAGAIN && errno != EINTR) in_w.reset();
        else if (written == input.size()) in_w.reset();
        continue;
      }
      char buf[8192];
      ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      bool is_out = out_r.valid() && p[i].fd == out_r.get();
      if (n <= 0) {
        (is_out ? out_r : err_r).reset();
        continue;
      }
      (is_out ? res.out : res.err).append(buf, static_cast<size_t>(n));
    }
  }
  ASSIGN_OR_RETURN(res.exit_code, Wait(pid));
  return res;
}

}  // namespace berth::sys
