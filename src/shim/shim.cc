#include "shim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "json_log.h"

namespace berth::shim {
namespace {

constexpr size_t kReadChunk = 16 * 1024;            // Docker's partial-message size
constexpr size_t kMaxClientBuffer = 1024 * 1024;    // a slower client is disconnected
constexpr size_t kMaxStdinBuffer = 1024 * 1024;     // above it, stop reading client stdin
constexpr size_t kMaxFrame = 1024 * 1024;
constexpr size_t kMaxCommandLine = 256;
constexpr int64_t kDrainIdleMs = 2000;  // see Loop(): output held open by a non-init process
constexpr int64_t kExitLingerMs = 2000;
// Exec output is not logged, so instead of dropping a slow exec client the shim stops reading
// that exec's output (the exec blocks on its pipe) while this much is queued for the client.
constexpr size_t kExecOutputHighWater = 256 * 1024;
constexpr size_t kMaxUnclaimedExits = 64;
constexpr uint8_t kFrameStdin = 0, kFrameStdout = 1, kFrameStderr = 2, kFrameExit = 3,
                  kFrameCloseStdin = 4, kFrameResize = 5;

char g_read_buf[kReadChunk];

int64_t MonotonicMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

void SetNonBlocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

// Writes all of `data` to a blocking fd; false on error.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool ReadFile(const char* path, std::string* out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return true;
}

std::string Errno(const char* what) { return std::string(what) + ": " + strerror(errno); }

// The "cgroup_paths" of runc's state.json, a flat object of plain strings (no JSON library in
// the shim). false on anything else (an escape, another shape): the caller runs runc delete.
bool ParseCgroupPaths(const std::string& state, std::vector<std::string>* paths) {
  static constexpr std::string_view kKey = "\"cgroup_paths\":{";
  size_t i = state.find(kKey);
  if (i == std::string::npos) return false;
  i += kKey.size();
  auto read_string = [&](std::string* out) {
    if (i >= state.size() || state[i] != '"') return false;
    size_t end = state.find('"', i + 1);
    if (end == std::string::npos) return false;
    out->assign(state, i + 1, end - i - 1);
    i = end + 1;
    return out->find('\\') == std::string::npos;
  };
  if (i < state.size() && state[i] == '}') return true;
  for (;;) {
    std::string key, value;
    if (!read_string(&key) || i >= state.size() || state[i++] != ':' || !read_string(&value)) {
      return false;
    }
    if (value.empty() || value[0] != '/' || value.find("/..") != std::string::npos) return false;
    paths->push_back(std::move(value));
    if (i >= state.size()) return false;
    char c = state[i++];
    if (c == '}') return true;
    if (c != ',') return false;
  }
}

// rmdir of a cgroup, its sub-cgroups first (runc's RemovePath); gone already is fine. false: a
// process is still in it (EBUSY) or anything else.
bool RemoveCgroup(const std::string& path) {
  if (rmdir(path.c_str()) == 0 || errno == ENOENT) return true;
  if (errno != EBUSY && errno != ENOTEMPTY) return false;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return errno == ENOENT;
  bool ok = true;
  while (dirent* e = readdir(dir)) {
    if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
      continue;
    }
    ok = RemoveCgroup(path + "/" + e->d_name) && ok;
  }
  closedir(dir);
  return ok && (rmdir(path.c_str()) == 0 || errno == ENOENT);
}

// Removes a directory of plain files (runc's state dir: state.json). false if it holds anything
// else or cannot be removed.
bool RemoveFlatDir(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return errno == ENOENT;
  bool ok = true;
  while (dirent* e = readdir(dir)) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (e->d_type == DT_DIR || unlinkat(dirfd(dir), e->d_name, 0) != 0) ok = false;
  }
  closedir(dir);
  return ok && (rmdir(path.c_str()) == 0 || errno == ENOENT);
}

std::string ToDecimal(int64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
  return buf;
}

bool ParseUnsigned(std::string_view s, unsigned* out) {
  if (s.empty() || s.size() > 9) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  *out = v;
  return true;
}

// "<rows> <cols>"
bool ParseSize(std::string_view s, unsigned* rows, unsigned* cols) {
  size_t sp = s.find(' ');
  if (sp == std::string_view::npos) return false;
  return ParseUnsigned(s.substr(0, sp), rows) && ParseUnsigned(s.substr(sp + 1), cols) &&
         *rows <= 0xFFFF && *cols <= 0xFFFF;
}

// A unix stream listener at `path` (relative to the state dir, which is the cwd, so long state
// paths do not hit sun_path's 108 bytes), mode 0600.
int Listen(const char* path, std::string* error) {
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *error = Errno("socket");
    return -1;
  }
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  mode_t old = umask(0177);  // no window in which the socket is reachable by others
  int rc = bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
    *error = Errno((std::string("listen on ") + path).c_str());
    close(fd);
    return -1;
  }
  return fd;
}

// Receives the pty master that runc sends over the console socket: one SCM_RIGHTS message whose
// data is the pty's name. Returns the fd or -1.
int ReceiveConsole(int conn) {
  char name[4096];
  struct iovec iov = {name, sizeof name};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  int master = -1;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (master < 0) {
        master = fd;
      } else {
        close(fd);
      }
    }
  }
  return master;
}

// Writes as much of `buf` as the non-blocking `fd` takes and erases it from `buf`. Returns false
// if the reader is gone for good (EPIPE, EIO); the rest of `buf` is then dropped.
bool WritePending(int fd, std::string& buf) {
  size_t off = 0;
  bool ok = true;
  while (off < buf.size()) {
    ssize_t n = write(fd, buf.data() + off, buf.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      ok = false;
      off = buf.size();
      break;
    }
    off += static_cast<size_t>(n);
  }
  buf.erase(0, off);
  return ok;
}

// Exec ids become file names in the state dir: nothing that could leave it or hide.
bool ValidExecId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

}  // namespace

struct Shim::Client {
  // kExecStarting: sent EXEC, waits for OK/ERR (its early frames wait in `in`); kExec: framed
  // stream of that exec.
  enum class Mode { kCommand, kAttached, kWaiting, kClosing, kExecStarting, kExec };
  uint64_t id = 0;
  int fd = -1;
  Mode mode = Mode::kCommand;
  Exec* exec = nullptr;  // kExecStarting/kExec; cleared on both sides when either goes away
  std::string in;
  std::string out;
  size_t out_off = 0;
  bool want_stdin = false;
  bool want_stdout = false;
  bool want_stderr = false;
  bool read_closed = false;
  size_t pending() const { return out.size() - out_off; }
};

struct Shim::Exec {
  // kStarting: `runc exec --detach` runs; kRunning: OK sent, output flows; kDone: cleaned up,
  // erased at the end of the loop round.
  enum class Phase { kStarting, kRunning, kDone };
  std::string id;
  bool tty = false;
  bool stdin_open = false;
  Phase phase = Phase::kStarting;
  Client* client = nullptr;
  pid_t runc_pid = -1;
  pid_t pid = -1;
  bool exited = false;
  int exit_code = 0;
  int64_t drain_deadline_ms = 0;  // once exited: stop waiting for output EOF then
  int console_listen_fd = -1;
  int master_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  int stdin_fd = -1;
  std::string stdin_buf;
  bool stdin_close_pending = false;

  std::string File(const char* suffix) const { return "exec-" + id + suffix; }
  bool OutputOpen() const { return master_fd >= 0 || stdout_fd >= 0 || stderr_fd >= 0; }
  void CloseFds() {
    for (int* fd : {&console_listen_fd, &master_fd, &stdout_fd, &stderr_fd, &stdin_fd}) {
      CloseFd(*fd);
    }
  }
  ~Exec() { CloseFds(); }
};

bool ParseOptions(int argc, char** argv, Options* o, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string* dst) {
      if (i + 1 >= argc) {
        *error = std::string(a) + " needs a value";
        return false;
      }
      *dst = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--id") {
      if (!value(&o->id)) return false;
    } else if (a == "--bundle") {
      if (!value(&o->bundle)) return false;
    } else if (a == "--state-dir") {
      if (!value(&o->state_dir)) return false;
    } else if (a == "--runtime") {
      if (!value(&o->runtime)) return false;
    } else if (a == "--runtime-root") {
      if (!value(&o->runtime_root)) return false;
    } else if (a == "--log-path") {
      if (!value(&o->log_path)) return false;
    } else if (a == "--no-log") {
      o->no_log = true;
    } else if (a == "--log-max-size") {
      if (!value(&v)) return false;
      char* end = nullptr;
      long long n = strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n <= 0) {
        *error = "bad value for --log-max-size: " + v;
        return false;
      }
      o->log_max_size = n;
    } else if (a == "--log-max-file") {
      if (!value(&v)) return false;
      if (!ParseUnsigned(v, &o->log_max_file) || o->log_max_file < 1) {
        *error = "bad value for --log-max-file: " + v;
        return false;
      }
    } else if (a == "--log-compress") {
      o->log_compress = true;
    } else if (a == "--ready-fd" || a == "--rows" || a == "--cols") {
      if (!value(&v)) return false;
      unsigned n;
      if (!ParseUnsigned(v, &n) || (a != "--ready-fd" && n > 0xFFFF)) {
        *error = std::string("bad value for ") + std::string(a) + ": " + v;
        return false;
      }
      if (a == "--ready-fd") o->ready_fd = static_cast<int>(n);
      if (a == "--rows") o->rows = n;
      if (a == "--cols") o->cols = n;
    } else if (a == "--tty") {
      o->tty = true;
    } else if (a == "--stdin") {
      o->stdin_open = true;
    } else if (a == "--stdin-once") {
      o->stdin_once = true;
    } else {
      *error = "unknown argument " + std::string(a);
      return false;
    }
  }
  const char* missing = o->id.empty()             ? "--id"
                        : o->bundle.empty()       ? "--bundle"
                        : o->state_dir.empty()    ? "--state-dir"
                        : o->runtime.empty()      ? "--runtime"
                        : o->runtime_root.empty() ? "--runtime-root"
                        : o->log_path.empty() && !o->no_log ? "--log-path"
                        : o->ready_fd < 0         ? "--ready-fd"
                                                  : nullptr;
  if (missing != nullptr) {
    *error = std::string("missing ") + missing;
    return false;
  }
  return true;
}

Shim::Shim(Options options) : opts_(std::move(options)) {}

Shim::~Shim() {
  for (auto& c : clients_) CloseFd(c->fd);
  execs_.clear();
  for (int* fd : {&signal_fd_, &listen_fd_, &console_listen_fd_, &master_fd_,
                  &stdout_fd_, &stderr_fd_, &stdin_fd_, &opts_.ready_fd}) {
    CloseFd(*fd);
  }
}

int Shim::Run() {
  std::string error;
  if (!Setup(&error)) {
    ReportReady("error shim: " + error + "\n");
    return 1;
  }
  if (!StartContainer(&error)) {
    // Delete first, so that once berthd reads the error no runc state is left to clean up.
    DeleteContainer();
    for (char& c : error) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    ReportReady("error " + error + "\n");
    unlink("shim.sock");
    unlink("shim.pid");
    unlink("console.sock");
    return 1;
  }
  ReportReady("ok " + ToDecimal(init_pid_) + "\n");
  Loop();
  unlink("shim.pid");
  return 0;
}

bool Shim::Setup(std::string* error) {
  // The ready fd must survive the redirection of 0-2 and must not leak into runc.
  if (opts_.ready_fd <= 2) {
    int fd = fcntl(opts_.ready_fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
      *error = Errno("dup ready fd");
      return false;
    }
    opts_.ready_fd = fd;
  }
  fcntl(opts_.ready_fd, F_SETFD, FD_CLOEXEC);
  // berthd's fds (its listeners, the store) must not stay open for the container's lifetime.
  if (opts_.ready_fd > 3) close_range(3, static_cast<unsigned>(opts_.ready_fd) - 1, 0);
  close_range(static_cast<unsigned>(opts_.ready_fd) + 1, ~0U, 0);
  int null_fd = open("/dev/null", O_RDWR);
  if (null_fd < 0) {
    *error = Errno("open /dev/null");
    return false;
  }
  for (int fd = 0; fd <= 2; ++fd) {
    if (null_fd != fd) dup2(null_fd, fd);
  }
  if (null_fd > 2) close(null_fd);

  setsid();
  if (chdir(opts_.state_dir.c_str()) < 0) {
    *error = Errno(("chdir " + opts_.state_dir).c_str());
    return false;
  }
  char cwd[4096];
  if (getcwd(cwd, sizeof cwd) == nullptr) {
    *error = Errno("getcwd");
    return false;
  }
  state_abs_ = cwd;
  // runc exits right after starting the container; as a subreaper the shim inherits the
  // container's init and can wait for it.
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
    *error = Errno("prctl(PR_SET_CHILD_SUBREAPER)");
    return false;
  }
  signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) {
    *error = Errno("signalfd");
    return false;
  }

  std::string pid = ToDecimal(getpid()) + "\n";
  int pid_fd = open("shim.pid", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (pid_fd < 0 || !WriteAll(pid_fd, pid)) {
    *error = Errno("write shim.pid");
    if (pid_fd >= 0) close(pid_fd);
    return false;
  }
  close(pid_fd);

  if (!opts_.no_log && !log_.Open(opts_.log_path, opts_.log_max_size,
                                   static_cast<int>(opts_.log_max_file), opts_.log_compress, error))
    return false;
  listen_fd_ = Listen("shim.sock", error);
  return listen_fd_ >= 0;
}

void Shim::RunRuntime(const std::vector<std::string>& args, int in, int out, int err, pid_t* pid) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  *pid = fork();
  if (*pid != 0) return;
  // Child: undo what the shim changed for itself, or runc and the container inherit it (a
  // blocked SIGCHLD, an ignored SIGPIPE).
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  int fds[3] = {in, out, err};
  for (int i = 0; i < 3; ++i) {
    // Our fds are all >= 3 or are the /dev/null 0-2; a dup2 onto itself would keep CLOEXEC.
    if (fds[i] == i) {
      fcntl(i, F_SETFD, 0);
    } else if (dup2(fds[i], i) < 0) {
      _exit(127);
    }
  }
  execvp(argv[0], argv.data());
  const char* why = strerror(errno);
  ssize_t ignored = write(2, "exec ", 5);
  ignored = write(2, argv[0], strlen(argv[0]));
  ignored = write(2, ": ", 2);
  ignored = write(2, why, strlen(why));
  (void)ignored;
  _exit(127);
}

bool Shim::StartContainer(std::string* error) {
  const std::string runc_log = state_abs_ + "/runc.log";
  unlink("runc.log");  // only this run's errors
  unlink("init.pid");
  unlink("exit");
  unlink("exit.tmp");

  int in_child = 0, out_child = -1, err_child = -1;
  if (opts_.tty) {
    console_listen_fd_ = Listen("console.sock", error);
    if (console_listen_fd_ < 0) return false;
    out_child = 1;
    err_child = 2;
  } else {
    int p[2];
    if (opts_.stdin_open) {
      if (pipe2(p, O_CLOEXEC) < 0) {
        *error = Errno("pipe");
        return false;
      }
      in_child = p[0];
      stdin_fd_ = p[1];
      SetNonBlocking(stdin_fd_);
    }
    if (pipe2(p, O_CLOEXEC) < 0) {
      *error = Errno("pipe");
      return false;
    }
    stdout_fd_ = p[0];
    out_child = p[1];
    if (pipe2(p, O_CLOEXEC) < 0) {
      *error = Errno("pipe");
      return false;
    }
    stderr_fd_ = p[0];
    err_child = p[1];
    SetNonBlocking(stdout_fd_);
    SetNonBlocking(stderr_fd_);
  }

  std::vector<std::string> args = {opts_.runtime, "--root",     opts_.runtime_root,
                                   "--log",       runc_log,     "--log-format",
                                   "json",        "run",        "--detach",
                                   "--bundle",    opts_.bundle, "--pid-file",
                                   state_abs_ + "/init.pid"};
  if (opts_.tty) {
    args.push_back("--console-socket");
    args.push_back(state_abs_ + "/console.sock");
  }
  args.push_back(opts_.id);
  RunRuntime(args, in_child, out_child, err_child, &runc_pid_);
  int fork_errno = errno;
  // The container holds the child ends now; keeping them would hide its EOF from us.
  if (in_child > 2) close(in_child);
  if (out_child > 2) close(out_child);
  if (err_child > 2) close(err_child);
  if (runc_pid_ < 0) {
    errno = fork_errno;
    *error = Errno("fork");
    return false;
  }

  // Wait for runc, accepting the console connection meanwhile: runc blocks on it before exiting.
  while (!runc_done_) {
    struct pollfd p[2] = {{signal_fd_, POLLIN, 0}, {console_listen_fd_, POLLIN, 0}};
    int n = poll(p, console_listen_fd_ >= 0 ? 2 : 1, -1);
    if (n < 0) continue;  // EINTR
    if (p[0].revents != 0) {
      struct signalfd_siginfo si;
      while (read(signal_fd_, &si, sizeof si) > 0) {
      }
      int status;
      pid_t r = waitpid(runc_pid_, &status, WNOHANG);
      if (r == runc_pid_) {
        runc_done_ = true;
        runc_status_ = status;
      }
    }
    if (console_listen_fd_ >= 0 && master_fd_ < 0 && (p[1].revents & POLLIN)) {
      int conn = accept4(console_listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn >= 0) {
        master_fd_ = ReceiveConsole(conn);
        close(conn);
        // As early as possible; still racing with the container's start (runc does not wait
        // for us), which is why berthd also sets process.consoleSize in config.json.
        if (opts_.rows != 0 || opts_.cols != 0) Resize(opts_.rows, opts_.cols);
      }
    }
  }
  if (console_listen_fd_ >= 0 && master_fd_ < 0) {
    // runc connected and exited between two polls: the connection is still queued.
    int conn = accept4(console_listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn >= 0) {
      master_fd_ = ReceiveConsole(conn);
      close(conn);
    }
  }
  CloseFd(console_listen_fd_);
  unlink("console.sock");

  if (!WIFEXITED(runc_status_) || WEXITSTATUS(runc_status_) != 0) {
    std::string log;
    ReadFile(runc_log.c_str(), &log);
    *error = LastRuncError(log);
    if (error->empty() && stderr_fd_ >= 0) {
      // No log line (the runtime did not even start): its stderr went into the container's
      // stderr pipe, which nobody else reads.
      ssize_t n = read(stderr_fd_, g_read_buf, sizeof g_read_buf);
      if (n > 0) error->assign(g_read_buf, static_cast<size_t>(n));
      while (!error->empty() && (error->back() == '\n' || error->back() == ' ')) error->pop_back();
    }
    if (error->empty()) {
      *error = opts_.runtime + " run failed with exit status " +
               ToDecimal(ExitCodeOf(runc_status_));
    }
    return false;
  }
  std::string pid;
  ReadFile("init.pid", &pid);
  unsigned init = 0;
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  if (!ParseUnsigned(pid, &init) || init == 0) {
    *error = "runtime wrote no usable init.pid: \"" + pid + "\"";
    return false;
  }
  init_pid_ = static_cast<pid_t>(init);
  if (opts_.tty) {
    if (master_fd_ < 0) {
      *error = "runtime sent no pty master over the console socket";
      return false;
    }
    SetNonBlocking(master_fd_);
    if (opts_.rows != 0 || opts_.cols != 0) Resize(opts_.rows, opts_.cols);  // if it came late
  }
  ReapChildren();  // the init may be dead already
  return true;
}

bool Shim::DeleteStoppedContainer() {
  // What `runc delete --force` does for a container none of whose processes is left (its init
  // has been reaped, and with it, in its own PID namespace, every other process): remove its
  // cgroups and its state dir. Starting runc's Go runtime for that took ~23 ms (CPU included) of
  // every container's exit, on the path of every stop and `run --rm`. Anything unexpected (a
  // process still in a cgroup, a poststop hook, an Intel RDT group, a state file of another
  // shape) leaves the rest to runc.
  std::string dir = opts_.runtime_root + "/" + opts_.id;
  std::string state;
  if (!ReadFile((dir + "/state.json").c_str(), &state) || state.empty()) return false;
  static constexpr std::string_view kPoststop = "\"poststop\":[";
  size_t hook = state.find(kPoststop);
  if (hook != std::string::npos && state.compare(hook + kPoststop.size(), 1, "]") != 0) return false;
  if (state.find("\"intel_rdt_path\":\"\"") == std::string::npos &&
      state.find("\"intel_rdt_path\"") != std::string::npos) {
    return false;
  }
  std::vector<std::string> cgroups;
  if (!ParseCgroupPaths(state, &cgroups)) return false;
  for (const std::string& path : cgroups) {
    if (!RemoveCgroup(path)) return false;
  }
  return RemoveFlatDir(dir);
}

void Shim::DeleteContainer() {
  pid_t pid;
  RunRuntime({opts_.runtime, "--root", opts_.runtime_root, "delete", "--force", opts_.id}, 0, 1,
             2, &pid);
  if (pid < 0) return;
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

void Shim::ReportReady(const std::string& line) {
  if (opts_.ready_fd < 0) return;
  WriteAll(opts_.ready_fd, line);  // berthd may be gone; the container runs on regardless
  CloseFd(opts_.ready_fd);
}

void Shim::ReapChildren() {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    if (log_.ChildExited(pid)) continue;
    if (pid == init_pid_ && !init_exited_) {
      init_exited_ = true;
      exit_code_ = ExitCodeOf(status);
      finished_nanos_ = NowUnixNanos();
      continue;
    }
    bool claimed = false, starting = false;
    for (auto& e : execs_) {
      if (e->phase == Exec::Phase::kStarting && pid == e->runc_pid) {
        e->runc_pid = -1;
        ExecRuntimeExited(*e, status);
        claimed = true;
        break;
      }
      if (e->phase == Exec::Phase::kRunning && pid == e->pid && !e->exited) {
        e->exited = true;
        e->exit_code = ExitCodeOf(status);
        e->drain_deadline_ms = MonotonicMs() + kDrainIdleMs;
        claimed = true;
        break;
      }
      starting = starting || e->phase == Exec::Phase::kStarting;
    }
    // Anything else is a runc helper, or an exec process whose pid file is not read yet (it
    // becomes our child, zombie or not, the moment its runc exits: both are waitable together).
    if (!claimed && starting) {
      if (unclaimed_exits_.size() >= kMaxUnclaimedExits) {
        unclaimed_exits_.erase(unclaimed_exits_.begin());
      }
      unclaimed_exits_.emplace_back(pid, status);
    }
  }
  bool starting = std::any_of(execs_.begin(), execs_.end(), [](const std::unique_ptr<Exec>& e) {
    return e->phase == Exec::Phase::kStarting;
  });
  if (!starting) unclaimed_exits_.clear();  // no future exec pid can be among them
}

bool Shim::ExecsLive() const {
  return std::any_of(execs_.begin(), execs_.end(), [](const std::unique_ptr<Exec>& e) {
    return e->phase != Exec::Phase::kDone;
  });
}

bool Shim::Resize(unsigned rows, unsigned cols) {
  if (master_fd_ < 0) return false;
  struct winsize ws = {};
  ws.ws_row = static_cast<unsigned short>(rows);
  ws.ws_col = static_cast<unsigned short>(cols);
  return ioctl(master_fd_, TIOCSWINSZ, &ws) == 0;
}

std::string Shim::ExitLine() const {
  return ToDecimal(exit_code_) + " " + ToDecimal(finished_nanos_);
}

void Shim::Loop() {
  std::vector<struct pollfd> pfds;
  struct Owner {
    Client* client;
    Exec* exec;
  };
  std::vector<Owner> owners;  // what is behind pfds[i]; both nullptr: one of the shim's own
  for (;;) {
    int64_t now = MonotonicMs();
    for (auto& e : execs_) {
      // Like the container: exited, and its output read to EOF (or given up on, see kDrainIdleMs).
      if (e->phase == Exec::Phase::kRunning && e->exited &&
          (!e->OutputOpen() || now >= e->drain_deadline_ms)) {
        FinishExec(*e);
      }
    }
    if (phase_ == Phase::kRunning && init_exited_ && released_) {
      phase_ = Phase::kDraining;
      drain_deadline_ms_ = now + kDrainIdleMs;
    }
    if (phase_ == Phase::kDraining) {
      bool eof = stdout_fd_ < 0 && stderr_fd_ < 0 && master_fd_ < 0;
      // All container processes die with its init (pid namespace), closing the output; the
      // deadline only guards against a process outside it holding the pipe open forever.
      // Execs die with the init as well; their exits are reported before the container's.
      if ((eof && !ExecsLive()) || now >= drain_deadline_ms_) {
        for (auto& e : execs_) {
          if (e->phase == Exec::Phase::kStarting) FailExec(*e, "container exited");
          // Not reaped by now only if something is badly stuck: report it as unknown.
          if (e->phase == Exec::Phase::kRunning) {
            if (!e->exited) e->exit_code = 255;
            FinishExec(*e);
          }
        }
        Finalize();
      }
    }
    if (phase_ == Phase::kExited) {
      if (now >= exit_deadline_ms_) return;
      bool any = std::any_of(clients_.begin(), clients_.end(),
                             [](const std::unique_ptr<Client>& c) { return c->fd >= 0; });
      if (!any) {
        struct pollfd p = {listen_fd_, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN)) return;
      }
    }

    pfds.clear();
    owners.clear();
    auto add = [&](int fd, short events, Client* c, Exec* e = nullptr) {
      pfds.push_back({fd, events, 0});
      owners.push_back({c, e});
    };
    add(signal_fd_, POLLIN, nullptr);
    if (listen_fd_ >= 0) add(listen_fd_, POLLIN, nullptr);
    bool reading = released_ && phase_ != Phase::kExited;
    if (reading && stdout_fd_ >= 0) add(stdout_fd_, POLLIN, nullptr);
    if (reading && stderr_fd_ >= 0) add(stderr_fd_, POLLIN, nullptr);
    if (master_fd_ >= 0) {
      short ev = static_cast<short>((reading ? POLLIN : 0) | (stdin_buf_.empty() ? 0 : POLLOUT));
      if (ev != 0) add(master_fd_, ev, nullptr);
    }
    if (stdin_fd_ >= 0 && !stdin_buf_.empty()) add(stdin_fd_, POLLOUT, nullptr);
    bool stdin_full = stdin_buf_.size() >= kMaxStdinBuffer;
    int64_t exec_deadline = -1;
    for (auto& e : execs_) {
      Exec* x = e.get();
      if (x->phase == Exec::Phase::kStarting && x->console_listen_fd >= 0 && x->master_fd < 0) {
        add(x->console_listen_fd, POLLIN, nullptr, x);
      }
      // Output waits until the OK is out (kStarting), and while the client is behind.
      if (x->phase != Exec::Phase::kRunning) continue;
      bool keep_up = x->client == nullptr || x->client->pending() < kExecOutputHighWater;
      short out_ev = keep_up ? POLLIN : 0;
      short in_ev = x->stdin_buf.empty() ? 0 : POLLOUT;
      if (x->stdout_fd >= 0 && out_ev != 0) add(x->stdout_fd, out_ev, nullptr, x);
      if (x->stderr_fd >= 0 && out_ev != 0) add(x->stderr_fd, out_ev, nullptr, x);
      if (x->master_fd >= 0 && (out_ev | in_ev) != 0) {
        add(x->master_fd, static_cast<short>(out_ev | in_ev), nullptr, x);
      }
      if (x->stdin_fd >= 0 && in_ev != 0) add(x->stdin_fd, in_ev, nullptr, x);
      if (x->exited && (exec_deadline < 0 || x->drain_deadline_ms < exec_deadline)) {
        exec_deadline = x->drain_deadline_ms;
      }
    }
    for (auto& c : clients_) {
      short ev = 0;
      // Backpressure: an attached client's input is stdin; stop reading it while stdin is full.
      bool full = (stdin_full && c->mode == Client::Mode::kAttached) ||
                  (c->mode == Client::Mode::kExec && c->exec != nullptr &&
                   c->exec->stdin_buf.size() >= kMaxStdinBuffer) ||
                  (c->mode == Client::Mode::kExecStarting && c->in.size() >= kMaxStdinBuffer);
      if (!c->read_closed && !full) ev |= POLLIN;
      if (c->pending() > 0) ev |= POLLOUT;
      add(c->fd, ev, c.get());
    }

    int timeout = -1;
    if (phase_ == Phase::kDraining) timeout = static_cast<int>(drain_deadline_ms_ - now);
    if (phase_ == Phase::kExited) timeout = static_cast<int>(exit_deadline_ms_ - now);
    if (exec_deadline >= 0) {
      int t = static_cast<int>(std::max<int64_t>(0, exec_deadline - now));
      if (timeout < 0 || t < timeout) timeout = t;
    }
    if (timeout < -1) timeout = 0;
    int n = poll(pfds.data(), pfds.size(), timeout);
    if (n < 0) continue;  // EINTR

    for (size_t i = 0; i < pfds.size(); ++i) {
      short re = pfds[i].revents;
      if (re == 0) continue;
      int fd = pfds[i].fd;
      if (Exec* e = owners[i].exec) {
        HandleExecReady(*e, fd, re);
        continue;
      }
      if (Client* c = owners[i].client) {
        if (c->fd < 0) continue;  // dropped earlier in this round
        if (re & POLLOUT) FlushClient(*c);
        if (c->fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR))) HandleClientReadable(*c);
        // POLLHUP: the peer closed completely. Once its last bytes are read, nothing can be
        // delivered to it any more (and poll would report the hangup forever).
        if (c->fd >= 0 && c->read_closed && (re & (POLLHUP | POLLERR))) DropClient(*c);
        continue;
      }
      if (fd == signal_fd_) {
        struct signalfd_siginfo si;
        while (read(signal_fd_, &si, sizeof si) > 0) {
        }
        ReapChildren();
      } else if (fd == listen_fd_) {
        AcceptClients();
      } else if (fd == stdout_fd_ || fd == stderr_fd_ || fd == master_fd_) {
        if ((re & POLLOUT) && fd == master_fd_) FlushStdin();
        if (fd == master_fd_ && !reading) {
          // Not reading yet, but the pty hung up: nothing can be written any more.
          if (re & (POLLHUP | POLLERR)) stdin_buf_.clear();
          continue;
        }
        if (!(re & (POLLIN | POLLHUP | POLLERR))) continue;
        bool is_err = fd == stderr_fd_;
        if (!ReadOutput(fd, is_err ? kFrameStderr : kFrameStdout, is_err ? "stderr" : "stdout")) {
          if (fd == stdout_fd_) CloseFd(stdout_fd_);
          if (fd == stderr_fd_) CloseFd(stderr_fd_);
          if (fd == master_fd_) {
            CloseFd(master_fd_);
            stdin_buf_.clear();
          }
        } else if (phase_ == Phase::kDraining) {
          drain_deadline_ms_ = MonotonicMs() + kDrainIdleMs;
        }
      } else if (fd == stdin_fd_) {
        FlushStdin();
      }
    }
    clients_.erase(std::remove_if(clients_.begin(), clients_.end(),
                                  [](const std::unique_ptr<Client>& c) { return c->fd < 0; }),
                   clients_.end());
    execs_.erase(std::remove_if(execs_.begin(), execs_.end(),
                                [](const std::unique_ptr<Exec>& e) {
                                  return e->phase == Exec::Phase::kDone;
                                }),
                 execs_.end());
  }
}

void Shim::AcceptClients() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN, or out of fds: the connection waits in the backlog
    }
    auto c = std::make_unique<Client>();
    c->id = next_client_id_++;
    c->fd = fd;
    clients_.push_back(std::move(c));
  }
}

void Shim::HandleClientReadable(Client& c) {
  char buf[16 * 1024];
  ssize_t n = read(c.fd, buf, sizeof buf);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return;
    DropClient(c);
    return;
  }
  if (n == 0) {
    // A half-close (shutdown(SHUT_WR)) still wants its answer; a full close shows as POLLHUP or
    // as a failed write and drops the client then.
    c.read_closed = true;
    if (c.mode == Client::Mode::kCommand) {
      if (c.in.empty()) {
        DropClient(c);
      } else {
        std::string line = std::move(c.in);
        c.in.clear();
        HandleCommand(c, line);
      }
    } else if (c.mode == Client::Mode::kAttached) {
      ClientStoppedStdin(c);
    } else if (c.mode == Client::Mode::kExec && c.exec != nullptr) {
      CloseExecStdin(*c.exec);  // as docker does for exec: end of client input closes stdin
    }
    return;
  }
  switch (c.mode) {
    case Client::Mode::kCommand: {
      c.in.append(buf, static_cast<size_t>(n));
      size_t nl = c.in.find('\n');
      if (nl == std::string::npos) {
        if (c.in.size() > kMaxCommandLine) {
          c.in.clear();
          HandleCommand(c, "");  // answers ERR
        }
        return;
      }
      std::string line = c.in.substr(0, nl);
      c.in.erase(0, nl + 1);
      HandleCommand(c, line);
      if (c.fd >= 0 && c.mode == Client::Mode::kAttached) HandleFrames(c);
      return;
    }
    case Client::Mode::kAttached:
    case Client::Mode::kExec:
      c.in.append(buf, static_cast<size_t>(n));
      HandleFrames(c);
      return;
    case Client::Mode::kExecStarting:
      c.in.append(buf, static_cast<size_t>(n));  // handled after OK; bounded in Loop()
      return;
    case Client::Mode::kWaiting:
    case Client::Mode::kClosing:
      return;  // nothing more is expected from these; ignore it
  }
}

void Shim::HandleCommand(Client& c, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::string_view cmd = line.substr(0, line.find(' '));
  std::string_view arg =
      line.size() > cmd.size() ? line.substr(cmd.size() + 1) : std::string_view();
  bool exited = phase_ == Phase::kExited;
  auto answer = [&](std::string_view text) {
    c.mode = Client::Mode::kClosing;
    c.in.clear();
    QueueToClient(c, text);
  };
  if (cmd == "RELEASE") {
    released_ = true;
    answer("OK\n");
  } else if (cmd == "STATUS") {
    answer(exited ? "EXITED " + ExitLine() + "\n" : "RUNNING " + ToDecimal(init_pid_) + "\n");
  } else if (cmd == "RESIZE") {
    unsigned rows, cols;
    if (!opts_.tty) {
      answer("ERR not a tty\n");
    } else if (!ParseSize(arg, &rows, &cols)) {
      answer("ERR usage: RESIZE <rows> <cols>\n");
    } else if (!Resize(rows, cols)) {
      answer(exited ? "ERR container exited\n" : "ERR " + Errno("TIOCSWINSZ") + "\n");
    } else {
      answer("OK\n");
    }
  } else if (cmd == "KILL") {
    unsigned sig;
    // Signalled here, not by berthd: only the shim knows the init has not been reaped yet, so
    // the pid cannot have been reused.
    if (!ParseUnsigned(arg, &sig) || sig == 0 || sig > 64) {
      answer("ERR usage: KILL <signal number>\n");
    } else if (init_exited_) {
      answer("ERR container has exited\n");
    } else if (kill(init_pid_, static_cast<int>(sig)) < 0) {
      answer("ERR " + Errno("kill") + "\n");
    } else {
      answer("OK\n");
    }
  } else if (cmd == "KILL-EXEC") {
    // A running exec's process (a health check past its timeout). Only while it has not been
    // reaped: until then its pid cannot be another process's.
    size_t sp = arg.find(' ');
    unsigned sig = 0;
    std::string_view id = arg.substr(0, sp);
    if (sp == std::string_view::npos || !ParseUnsigned(arg.substr(sp + 1), &sig) || sig == 0 ||
        sig > 64) {
      answer("ERR usage: KILL-EXEC <exec-id> <signal number>\n");
      return;
    }
    Exec* found = nullptr;
    for (auto& e : execs_) {
      if (e->id == id && e->phase == Exec::Phase::kRunning && !e->exited) found = e.get();
    }
    if (found == nullptr) {
      answer("ERR no such running exec\n");
    } else if (kill(found->pid, static_cast<int>(sig)) < 0) {
      answer("ERR " + Errno("kill") + "\n");
    } else {
      answer("OK\n");
    }
  } else if (cmd == "EXEC") {
    StartExec(c, arg);
  } else if (cmd == "WAIT") {
    if (exited) {
      answer("EXIT " + ExitLine() + "\n");
    } else {
      c.mode = Client::Mode::kWaiting;
    }
  } else if (cmd == "ATTACH") {
    bool ok = true;
    bool in = false, out = false, err = false;
    while (!arg.empty()) {
      std::string_view f = arg.substr(0, arg.find(','));
      arg.remove_prefix(std::min(arg.size(), f.size() + 1));
      if (f == "stdin") {
        in = true;
      } else if (f == "stdout") {
        out = true;
      } else if (f == "stderr") {
        err = true;
      } else {
        ok = false;
      }
    }
    if (!ok) {
      answer("ERR bad attach streams (want a comma list of stdin,stdout,stderr)\n");
      return;
    }
    c.want_stdin = in && opts_.stdin_open;
    c.want_stdout = out;
    c.want_stderr = err;
    if (c.want_stdin && stdin_once_owner_ == 0) stdin_once_owner_ = c.id;
    QueueToClient(c, "OK\n");
    if (c.fd < 0) return;
    if (exited) {
      SendFrame(c, kFrameExit, ToDecimal(exit_code_));
      c.mode = Client::Mode::kClosing;
      FlushClient(c);
      return;
    }
    c.mode = Client::Mode::kAttached;
    if (c.read_closed) ClientStoppedStdin(c);
  } else {
    answer("ERR unknown command\n");
  }
}

void Shim::HandleFrames(Client& c) {
  size_t off = 0;
  while (c.fd >= 0 && c.in.size() - off >= 8) {
    const unsigned char* h = reinterpret_cast<const unsigned char*>(c.in.data() + off);
    uint8_t type = h[0];
    size_t size = (size_t{h[4]} << 24) | (size_t{h[5]} << 16) | (size_t{h[6]} << 8) | h[7];
    if (size > kMaxFrame) {
      DropClient(c);
      return;
    }
    if (c.in.size() - off - 8 < size) break;
    std::string_view payload(c.in.data() + off + 8, size);
    off += 8 + size;
    Exec* e = c.exec;
    if (type == kFrameStdin) {
      if (e != nullptr) {
        QueueExecStdin(*e, payload);
      } else if (c.want_stdin) {
        QueueStdin(payload);
      }
    } else if (type == kFrameCloseStdin) {
      if (e != nullptr) {
        CloseExecStdin(*e);
      } else if (c.want_stdin) {
        CloseStdin();
      }
    } else if (type == kFrameResize) {
      unsigned rows, cols;
      if (!ParseSize(payload, &rows, &cols)) continue;
      if (e == nullptr) {
        Resize(rows, cols);
      } else if (e->master_fd >= 0) {
        struct winsize ws = {};
        ws.ws_row = static_cast<unsigned short>(rows);
        ws.ws_col = static_cast<unsigned short>(cols);
        ioctl(e->master_fd, TIOCSWINSZ, &ws);
      }
    }
    // Unknown frame types are ignored: a newer client must not kill the stream.
  }
  if (c.fd >= 0) c.in.erase(0, off);
}

void Shim::QueueToClient(Client& c, std::string_view data) {
  if (c.fd < 0) return;
  if (c.pending() == 0) {
    c.out.clear();
    c.out_off = 0;
    // Fast path: straight to the socket, buffering only what it does not take.
    while (!data.empty()) {
      ssize_t n = write(c.fd, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        DropClient(c);
        return;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  if (c.pending() + data.size() > kMaxClientBuffer) {
    DropClient(c);  // too slow: it must not hold the container or the other clients back
    return;
  }
  if (c.out_off > 0 && c.out_off >= c.out.size() / 2) {
    c.out.erase(0, c.out_off);
    c.out_off = 0;
  }
  c.out.append(data);
  if (c.pending() == 0 && c.mode == Client::Mode::kClosing) DropClient(c);
}

void Shim::SendFrame(Client& c, uint8_t type, std::string_view payload) {
  uint32_t n = static_cast<uint32_t>(payload.size());
  char header[8] = {static_cast<char>(type), 0, 0, 0, static_cast<char>(n >> 24),
                    static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
  if (c.pending() == 0) {
    // One write for header and payload, so a frame is rarely split across wakeups.
    frame_scratch_.assign(header, 8);
    frame_scratch_.append(payload);
    QueueToClient(c, frame_scratch_);
    return;
  }
  QueueToClient(c, std::string_view(header, 8));
  QueueToClient(c, payload);
}

void Shim::FlushClient(Client& c) {
  while (c.fd >= 0 && c.pending() > 0) {
    ssize_t n = write(c.fd, c.out.data() + c.out_off, c.pending());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) DropClient(c);
      return;
    }
    c.out_off += static_cast<size_t>(n);
  }
  if (c.fd >= 0 && c.mode == Client::Mode::kClosing) DropClient(c);
}

void Shim::DropClient(Client& c) {
  if (c.fd < 0) return;
  close(c.fd);
  c.fd = -1;
  c.out.clear();
  c.out_off = 0;
  if (c.mode == Client::Mode::kAttached) ClientStoppedStdin(c);
  if (c.exec != nullptr) {
    // The exec runs on; its output is discarded from now on and its stdin is closed.
    Exec& e = *c.exec;
    c.exec = nullptr;
    e.client = nullptr;
    CloseExecStdin(e);
  }
}

void Shim::ClientStoppedStdin(Client& c) {
  if (opts_.stdin_once && c.id == stdin_once_owner_) CloseStdin();
}

bool Shim::ReadOutput(int fd, uint8_t frame_type, const char* stream) {
  ssize_t n = read(fd, g_read_buf, sizeof g_read_buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;  // EIO: the pty's last slave closed
  if (n == 0) return false;
  Distribute(std::string_view(g_read_buf, static_cast<size_t>(n)), frame_type, stream);
  return true;
}

void Shim::Distribute(std::string_view data, uint8_t frame_type, const char* stream) {
  log_.Append(data, stream, NowUnixNanos());
  for (auto& c : clients_) {
    if (c->fd < 0 || c->mode != Client::Mode::kAttached) continue;
    bool wanted = frame_type == kFrameStderr ? c->want_stderr : c->want_stdout;
    if (wanted) SendFrame(*c, frame_type, data);
  }
}

void Shim::QueueStdin(std::string_view data) {
  int fd = opts_.tty ? master_fd_ : stdin_fd_;
  if (fd < 0 || stdin_close_pending_) return;
  stdin_buf_.append(data);
  FlushStdin();
}

void Shim::FlushStdin() {
  int fd = opts_.tty ? master_fd_ : stdin_fd_;
  if (fd < 0) {
    stdin_buf_.clear();
    return;
  }
  // EPIPE: the container closed its stdin (or exited); its input is gone for good.
  if (!WritePending(fd, stdin_buf_) && !opts_.tty) CloseFd(stdin_fd_);
  if (stdin_buf_.empty() && stdin_close_pending_) CloseFd(stdin_fd_);
}

void Shim::CloseStdin() {
  // A pty has no separate stdin to close (and writing ^D would be guessing the line mode).
  if (opts_.tty) return;
  stdin_close_pending_ = true;
  if (stdin_buf_.empty()) CloseFd(stdin_fd_);
}

void Shim::Finalize() {
  CloseFd(stdout_fd_);
  CloseFd(stderr_fd_);
  CloseFd(master_fd_);
  CloseFd(stdin_fd_);
  stdin_buf_.clear();

  // exit.tmp + fsync + rename: berthd never reads a half-written exit file, even after a crash.
  std::string line = ExitLine() + "\n";
  int fd = open("exit.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    bool ok = WriteAll(fd, line) && fsync(fd) == 0;
    close(fd);
    if (ok) rename("exit.tmp", "exit");
    int dir = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      fsync(dir);
      close(dir);
    }
  }
  if (!DeleteStoppedContainer()) DeleteContainer();
  ReapChildren();

  // No new connections from now on; ones already queued are still served (see Loop()).
  unlink("shim.sock");
  phase_ = Phase::kExited;
  exit_deadline_ms_ = MonotonicMs() + kExitLingerMs;
  std::string code = ToDecimal(exit_code_);
  std::string wait_line = "EXIT " + ExitLine() + "\n";
  for (auto& c : clients_) {
    if (c->fd < 0) continue;
    if (c->mode == Client::Mode::kWaiting) {
      c->mode = Client::Mode::kClosing;
      QueueToClient(*c, wait_line);
    } else if (c->mode == Client::Mode::kAttached) {
      SendFrame(*c, kFrameExit, code);
      c->mode = Client::Mode::kClosing;
      FlushClient(*c);
    }
  }
}

// EXEC <exec-id> <flags>: starts `runc exec --detach`; the answer (OK <pid> / ERR) follows when
// that runc has exited (ExecRuntimeExited), the loop keeps serving everyone meanwhile.
void Shim::StartExec(Client& c, std::string_view arg) {
  auto answer = [&](std::string_view text) {
    c.mode = Client::Mode::kClosing;
    c.in.clear();
    QueueToClient(c, text);
  };
  size_t sp = arg.find(' ');
  if (sp == std::string_view::npos) {
    answer("ERR usage: EXEC <exec-id> <flags: comma list of tty,stdin, or ->\n");
    return;
  }
  std::string_view id = arg.substr(0, sp);
  std::string_view flags = arg.substr(sp + 1);
  auto e = std::make_unique<Exec>();
  bool ok = true;
  while (flags != "-" && !flags.empty()) {
    std::string_view f = flags.substr(0, flags.find(','));
    flags.remove_prefix(std::min(flags.size(), f.size() + 1));
    if (f == "tty") {
      e->tty = true;
    } else if (f == "stdin") {
      e->stdin_open = true;
    } else {
      ok = false;
    }
  }
  if (!ValidExecId(id)) {
    answer("ERR bad exec id (want 1-128 of [A-Za-z0-9_-])\n");
    return;
  }
  if (!ok) {
    answer("ERR bad exec flags (want a comma list of tty,stdin, or -)\n");
    return;
  }
  if (init_exited_ || phase_ != Phase::kRunning) {
    answer("ERR container is not running\n");
    return;
  }
  for (auto& other : execs_) {
    if (other->phase != Exec::Phase::kDone && other->id == id) {
      answer("ERR exec id already in use\n");
      return;
    }
  }
  e->id = std::string(id);
  unlink(e->File(".pid").c_str());
  unlink(e->File(".runc.log").c_str());

  std::string error;
  int in_child = 0, out_child = 1, err_child = 2;
  auto fail = [&](const std::string& why) {
    for (int fd : {in_child, out_child, err_child}) {
      if (fd > 2) close(fd);
    }
    unlink(e->File(".console.sock").c_str());
    answer("ERR " + why + "\n");
  };
  if (e->tty) {
    e->console_listen_fd = Listen(e->File(".console.sock").c_str(), &error);
    if (e->console_listen_fd < 0) return fail(error);
  } else {
    int p[2];
    if (e->stdin_open) {
      if (pipe2(p, O_CLOEXEC) < 0) return fail(Errno("pipe"));
      in_child = p[0];
      e->stdin_fd = p[1];
      SetNonBlocking(e->stdin_fd);
    }
    if (pipe2(p, O_CLOEXEC) < 0) return fail(Errno("pipe"));
    e->stdout_fd = p[0];
    out_child = p[1];
    if (pipe2(p, O_CLOEXEC) < 0) return fail(Errno("pipe"));
    e->stderr_fd = p[0];
    err_child = p[1];
    SetNonBlocking(e->stdout_fd);
    SetNonBlocking(e->stderr_fd);
  }
  std::vector<std::string> args = {opts_.runtime,
                                   "--root",
                                   opts_.runtime_root,
                                   "--log",
                                   state_abs_ + "/" + e->File(".runc.log"),
                                   "--log-format",
                                   "json",
                                   "exec",
                                   "--detach",
                                   "--process",
                                   state_abs_ + "/" + e->File(".json"),
                                   "--pid-file",
                                   state_abs_ + "/" + e->File(".pid")};
  if (e->tty) {
    args.push_back("--console-socket");
    args.push_back(state_abs_ + "/" + e->File(".console.sock"));
  }
  args.push_back(opts_.id);
  RunRuntime(args, in_child, out_child, err_child, &e->runc_pid);
  if (e->runc_pid < 0) return fail(Errno("fork"));
  // The exec holds the child ends now; keeping them would hide its EOF from us.
  for (int fd : {in_child, out_child, err_child}) {
    if (fd > 2) close(fd);
  }
  c.mode = Client::Mode::kExecStarting;
  c.exec = e.get();
  e->client = &c;
  execs_.push_back(std::move(e));
}

// runc connects to the console socket and sends the pty master before it exits.
void Shim::ReceiveExecConsole(Exec& e, bool nonblocking) {
  if (e.console_listen_fd < 0 || e.master_fd >= 0) return;
  int conn = accept4(e.console_listen_fd, nullptr, nullptr,
                     SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
  if (conn < 0) return;
  // runc sends right after connecting; the bound only keeps a stuck peer from stalling the
  // shim's single loop.
  struct timeval tv = {1, 0};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  e.master_fd = ReceiveConsole(conn);
  close(conn);
  if (e.master_fd >= 0) SetNonBlocking(e.master_fd);
}

void Shim::ExecRuntimeExited(Exec& e, int status) {
  if (e.tty) {
    ReceiveExecConsole(e, true);  // runc connected and exited between two polls
    CloseFd(e.console_listen_fd);
    unlink(e.File(".console.sock").c_str());
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string log, error;
    ReadFile(e.File(".runc.log").c_str(), &log);
    error = LastRuncError(log);
    if (error.empty() && e.stderr_fd >= 0) {
      // No log line (the runtime did not even start): its stderr is the exec's stderr pipe.
      ssize_t n = read(e.stderr_fd, g_read_buf, sizeof g_read_buf);
      if (n > 0) error.assign(g_read_buf, static_cast<size_t>(n));
      while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
    }
    if (error.empty()) {
      error = opts_.runtime + " exec failed with exit status " + ToDecimal(ExitCodeOf(status));
    }
    FailExec(e, error);
    return;
  }
  std::string text;
  ReadFile(e.File(".pid").c_str(), &text);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  unsigned pid = 0;
  if (!ParseUnsigned(text, &pid) || pid == 0) {
    FailExec(e, "runtime wrote no usable exec pid file: \"" + text + "\"");
    return;
  }
  e.pid = static_cast<pid_t>(pid);
  for (auto it = unclaimed_exits_.begin(); it != unclaimed_exits_.end(); ++it) {
    if (it->first == e.pid) {
      e.exited = true;
      e.exit_code = ExitCodeOf(it->second);
      e.drain_deadline_ms = MonotonicMs() + kDrainIdleMs;
      unclaimed_exits_.erase(it);
      break;
    }
  }
  if (e.tty && e.master_fd < 0) {
    if (!e.exited) kill(e.pid, SIGKILL);  // still our unreaped child: the pid is its own
    FailExec(e, "runtime sent no pty master over the console socket");
    return;
  }
  e.phase = Exec::Phase::kRunning;
  if (e.client != nullptr) {
    Client& c = *e.client;
    QueueToClient(c, "OK " + ToDecimal(e.pid) + "\n");
    if (c.fd >= 0) {
      c.mode = Client::Mode::kExec;
      HandleFrames(c);  // what it sent before the OK
      if (c.fd >= 0 && c.read_closed) CloseExecStdin(e);
    }
  } else {
    CloseExecStdin(e);  // the client left while runc ran
  }
}

void Shim::HandleExecReady(Exec& e, int fd, short revents) {
  if (e.phase == Exec::Phase::kStarting) {
    if (fd == e.console_listen_fd) ReceiveExecConsole(e, false);
    return;
  }
  if (e.phase != Exec::Phase::kRunning) return;  // finished earlier in this round
  if ((revents & POLLOUT) && (fd == e.stdin_fd || fd == e.master_fd)) FlushExecStdin(e);
  if (fd == e.stdin_fd || !(revents & (POLLIN | POLLHUP | POLLERR))) return;
  if (fd != e.stdout_fd && fd != e.stderr_fd && fd != e.master_fd) return;  // closed meanwhile
  // With a tty everything is stdout, as for the container.
  if (!ReadExecOutput(e, fd, fd == e.stderr_fd ? kFrameStderr : kFrameStdout)) {
    if (fd == e.stdout_fd) CloseFd(e.stdout_fd);
    if (fd == e.stderr_fd) CloseFd(e.stderr_fd);
    if (fd == e.master_fd) {
      CloseFd(e.master_fd);
      e.stdin_buf.clear();
    }
  } else if (e.exited) {
    e.drain_deadline_ms = MonotonicMs() + kDrainIdleMs;
  }
}

bool Shim::ReadExecOutput(Exec& e, int fd, uint8_t frame_type) {
  ssize_t n = read(fd, g_read_buf, sizeof g_read_buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;  // EIO: the pty's last slave closed
  if (n == 0) return false;
  if (e.client != nullptr && e.client->mode == Client::Mode::kExec) {
    SendFrame(*e.client, frame_type, std::string_view(g_read_buf, static_cast<size_t>(n)));
  }
  return true;
}

void Shim::QueueExecStdin(Exec& e, std::string_view data) {
  int fd = e.tty ? e.master_fd : e.stdin_fd;
  if (!e.stdin_open || fd < 0 || e.stdin_close_pending) return;
  e.stdin_buf.append(data);
  FlushExecStdin(e);
}

void Shim::FlushExecStdin(Exec& e) {
  int fd = e.tty ? e.master_fd : e.stdin_fd;
  if (fd < 0) {
    e.stdin_buf.clear();
    return;
  }
  if (!WritePending(fd, e.stdin_buf) && !e.tty) CloseFd(e.stdin_fd);
  if (e.stdin_buf.empty() && e.stdin_close_pending) CloseFd(e.stdin_fd);
}

void Shim::CloseExecStdin(Exec& e) {
  if (e.tty) return;  // as for the container: a pty has no separate stdin to close
  e.stdin_close_pending = true;
  if (e.stdin_buf.empty()) CloseFd(e.stdin_fd);
}

void Shim::FailExec(Exec& e, std::string message) {
  for (char& ch : message) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  Client* c = e.client;
  CleanupExec(e);
  if (c != nullptr) {
    c->mode = Client::Mode::kClosing;
    c->in.clear();
    QueueToClient(*c, "ERR " + message + "\n");
  }
}

void Shim::FinishExec(Exec& e) {
  Client* c = e.client;
  // Files first: once the client has the exit frame, nothing of the exec is left behind.
  CleanupExec(e);
  if (c != nullptr && c->fd >= 0) {
    SendFrame(*c, kFrameExit, ToDecimal(e.exit_code));
    c->mode = Client::Mode::kClosing;
    FlushClient(*c);
  }
}

void Shim::CleanupExec(Exec& e) {
  if (e.client != nullptr) e.client->exec = nullptr;
  e.client = nullptr;
  e.CloseFds();
  e.stdin_buf.clear();
  for (const char* suffix : {".json", ".pid", ".runc.log", ".console.sock"}) {
    unlink(e.File(suffix).c_str());
  }
  e.phase = Exec::Phase::kDone;
}

}  // namespace berth::shim
