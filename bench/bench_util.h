// What the benchmarks share: an Engine API client over the daemon's unix socket, subprocesses, a
// berthd of their own inside a network namespace they create, the busybox image and the bare-runc
// floor, and clean-up that runs on every way out (normal end, Fail(), SIGINT/SIGTERM/SIGHUP).
//
// Threading: everything here is called from the main thread, except the work InNetns/SocketIn run
// on a short-lived thread of their own. The clean-up and child lists sit behind one mutex all the
// same, so that such a thread may Spawn or Fail() too.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"

namespace berth::bench {

// berthd's flags besides its socket and roots. Each is passed only when this berthd's --help lists
// it: --experimental-cnm turned the network controller on before it became the default, and a
// berthd that no longer knows it would refuse to start.
inline const std::vector<std::string> kDaemonFlags = {"--experimental-cnm"};

using Clock = std::chrono::steady_clock;

inline double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

inline double Us(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// The value at fraction q (0..1) of the sorted samples; Median is q = 0.5.
inline double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(q * static_cast<double>(v.size()));
  return v[std::min(i, v.size() - 1)];
}

inline double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

// ---- clean-up on every way out ------------------------------------------------------------------
//
// Fail() and the end of main both leave through exit(), which runs the clean-ups registered with
// OnExit. A signal (SIGINT, SIGTERM, SIGHUP) only sets a flag and interrupts the main thread's
// blocking call (no SA_RESTART); the next CheckInterrupted() -- in Spawn, Reap, Api::Call and the
// waiting loops -- turns it into Fail(), so the clean-ups run on the main thread, once, with
// nothing else still making objects. Helper threads block these signals so that they reach main.

struct ExitState {
  std::mutex mu;
  std::vector<std::function<void()>> cleanups;  // guarded by mu; run last-registered first
  std::set<pid_t> children;                     // guarded by mu; spawned and not yet reaped
  bool failed = false;                          // guarded by mu; Fail() or a signal ended the run
  bool cleaning = false;                        // guarded by mu; the clean-ups have started
};

inline ExitState& Exits() {
  static ExitState* s =
      new ExitState;  // never destroyed: atexit handlers may run after statics die
  return *s;
}

inline volatile sig_atomic_t g_signal = 0;  // the signal that interrupted the run, 0 while none did

inline void RunCleanups() {
  std::vector<std::function<void()>> todo;
  {
    std::lock_guard<std::mutex> l(Exits().mu);
    if (Exits().cleaning) return;
    Exits().cleaning = true;
    todo.swap(Exits().cleanups);
  }
  for (auto it = todo.rbegin(); it != todo.rend(); ++it) (*it)();
  // Whatever child is left (an iperf3 server a failure interrupted): by its own pid only.
  std::set<pid_t> left;
  {
    std::lock_guard<std::mutex> l(Exits().mu);
    left.swap(Exits().children);
  }
  for (pid_t p : left) {
    ::kill(p, SIGKILL);
    while (::waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

// Runs fn at exit (normal or not), after every clean-up registered later than it.
inline void OnExit(std::function<void()> fn) {
  std::lock_guard<std::mutex> l(Exits().mu);
  Exits().cleanups.push_back(std::move(fn));
}

inline bool Failed() {
  std::lock_guard<std::mutex> l(Exits().mu);
  return Exits().failed;
}

inline void MarkFailed() {
  std::lock_guard<std::mutex> l(Exits().mu);
  Exits().failed = true;
}

inline bool Cleaning() {
  std::lock_guard<std::mutex> l(Exits().mu);
  return Exits().cleaning;
}

[[noreturn]] inline void Fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
inline void Fail(const char* fmt, ...) {
  MarkFailed();
  std::fflush(stdout);
  if (g_signal)
    std::fprintf(stderr, "interrupted by signal %d, cleaning up\n", static_cast<int>(g_signal));
  std::fprintf(stderr, "FAILED: ");
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n");
  std::exit(1);
}

// Fails the run once a signal has come, except while the clean-ups themselves run.
inline void CheckInterrupted() {
  if (g_signal && !Cleaning()) Fail("interrupted");
}

// Blocks the signals the main thread handles, in a helper thread.
inline void BlockSignalsInThisThread() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Installs the at-exit clean-up and the signal flag. Call first in main.
inline void InstallExitHandling() {
  Exits();
  std::atexit(RunCleanups);
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {};
  sa.sa_handler = [](int sig) { g_signal = sig; };
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the blocking call returns EINTR and the run notices
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

// Sleeps, or fails the run when a signal comes.
inline void Sleep(std::chrono::microseconds d) {
  CheckInterrupted();
  usleep(static_cast<useconds_t>(d.count()));
  CheckInterrupted();
}

// ---- subprocesses -------------------------------------------------------------------------------

// Forks and execs argv with stdin on /dev/null and stdout/stderr on out_fd/err_fd (-1: /dev/null).
// The child gets default signal handling back. The pid is remembered until Reap().
inline pid_t Spawn(const std::vector<std::string>& argv, int out_fd = -1, int err_fd = -1) {
  CheckInterrupted();
  std::vector<char*> a;
  for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) Fail("fork: %s", std::strerror(errno));
  if (pid == 0) {
    // exec resets caught signals to their defaults, not ignored ones; and a helper thread's mask.
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(out_fd >= 0 ? out_fd : devnull, 1);
    dup2(err_fd >= 0 ? err_fd : devnull, 2);
    execvp(a[0], a.data());
    _exit(127);
  }
  std::lock_guard<std::mutex> l(Exits().mu);
  Exits().children.insert(pid);
  return pid;
}

// Waits for pid; its exit code, or -1 when a signal ended it. When the run is interrupted
// meanwhile, pid is terminated, reaped, and the run fails.
inline int Reap(pid_t pid) {
  int status = 0;
  bool interrupted = false;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    if (g_signal && !Cleaning() && !interrupted) {
      interrupted = true;
      ::kill(pid, SIGTERM);
    }
  }
  {
    std::lock_guard<std::mutex> l(Exits().mu);
    Exits().children.erase(pid);
  }
  if (interrupted) Fail("interrupted");
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Sends sig to pid (only this pid) and reaps it.
inline void KillAndReap(pid_t pid, int sig = SIGTERM) {
  ::kill(pid, sig);
  Reap(pid);
}

// Runs argv to completion, output discarded; its exit code.
inline int Run(const std::vector<std::string>& argv) { return Reap(Spawn(argv)); }

// Runs argv to completion with stdout and stderr captured separately; its exit code.
inline int RunCapture(const std::vector<std::string>& argv, std::string* out,
                      std::string* err = nullptr) {
  int po[2], pe[2];
  if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0)
    Fail("pipe: %s", std::strerror(errno));
  pid_t pid = Spawn(argv, po[1], pe[1]);
  close(po[1]);
  close(pe[1]);
  std::string sink;
  pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
  std::string* dst[2] = {out, err ? err : &sink};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno != EINTR) break;
      // Interrupted: end the child; its pipes close and Reap fails the run.
      if (g_signal && !Cleaning()) ::kill(pid, SIGTERM);
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        dst[i]->append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  return Reap(pid);
}

// Runs argv and exits the benchmark with its stderr when it fails.
inline void MustRun(const std::vector<std::string>& argv) {
  std::string out, err;
  if (RunCapture(argv, &out, &err) != 0) {
    std::string cmd;
    for (auto& s : argv) cmd += (cmd.empty() ? "" : " ") + s;
    Fail("%s: %s", cmd.c_str(), err.c_str());
  }
}

inline long RssKb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

// ---- network namespaces -------------------------------------------------------------------------

// A named network namespace (/run/netns/NAME) with lo up, deleted at exit. Every name the
// benchmarks make starts with bt-bench-.
inline std::string AddNetns(const std::string& name) {
  MustRun({"ip", "netns", "add", name});
  OnExit([name] { Run({"ip", "netns", "del", name}); });
  MustRun({"ip", "-n", name, "link", "set", "lo", "up"});
  return "/run/netns/" + name;
}

// Runs fn on a thread that has joined the network namespace at ns_path, and waits for it. setns()
// moves only the calling thread, so main stays where it is.
inline void InNetns(const std::string& ns_path, const std::function<void()>& fn) {
  std::string error;
  std::thread t([&] {
    BlockSignalsInThisThread();
    int fd = open(ns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      error = ns_path + ": " + std::strerror(errno);
      if (fd >= 0) close(fd);
      return;
    }
    close(fd);
    fn();
  });
  t.join();
  if (!error.empty()) Fail("setns %s", error.c_str());
}

// A socket created inside the namespace at ns_path; it stays in that namespace wherever it is used.
inline int SocketIn(const std::string& ns_path, int domain, int type, int proto) {
  int fd = -1, err = 0;
  InNetns(ns_path, [&] {
    fd = socket(domain, type | SOCK_CLOEXEC, proto);
    err = errno;
  });
  if (fd < 0) Fail("socket in %s: %s", ns_path.c_str(), std::strerror(err));
  return fd;
}

// ---- the Engine API over a unix socket ----------------------------------------------------------

class Api {
 public:
  Api() = default;
  explicit Api(std::string sock) : sock_(std::move(sock)) {}

  const std::string& socket_path() const { return sock_; }

  int Connect() const {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }

  static bool SendRequest(int fd, const std::string& method, const std::string& path,
                          const std::string& body,
                          const std::string& content_type = "application/json") {
    std::string req = method + " /v1.41" + path +
                      " HTTP/1.1\r\nHost: berth\r\nContent-Type: " + content_type +
                      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    return WriteAll(fd, req) && WriteAll(fd, body);
  }

  // Reads one response: status and body (Content-Length or chunked). headers_only: returns as soon
  // as the headers are in, with whatever of the body came with them.
  static int ReadResponse(int fd, std::string* body, bool headers_only = false) {
    std::string buf;
    char tmp[8192];
    size_t hdr_end;
    while ((hdr_end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = read(fd, tmp, sizeof tmp);
      if (n <= 0) return -1;
      buf.append(tmp, static_cast<size_t>(n));
    }
    int status = std::atoi(buf.c_str() + 9);
    std::string headers = buf.substr(0, hdr_end);
    std::string rest = buf.substr(hdr_end + 4);
    if (headers_only) {
      *body = rest;
      return status;
    }
    for (auto& c : headers) c = static_cast<char>(tolower(c));
    if (headers.find("transfer-encoding: chunked") != std::string::npos) {
      while (rest.find("0\r\n\r\n") == std::string::npos) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0) break;
        rest.append(tmp, static_cast<size_t>(n));
      }
    } else {
      auto p = headers.find("content-length: ");
      size_t len = p == std::string::npos ? 0 : std::stoul(headers.substr(p + 16));
      while (rest.size() < len) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0) break;
        rest.append(tmp, static_cast<size_t>(n));
      }
    }
    *body = rest;
    return status;
  }

  // One request on a connection of its own; the HTTP status, or -1 when the daemon is unreachable.
  int Call(const std::string& method, const std::string& path, const std::string& body,
           std::string* out, const std::string& content_type = "application/json") const {
    CheckInterrupted();
    int fd = Connect();
    if (fd < 0) return -1;
    int st = SendRequest(fd, method, path, body, content_type) ? ReadResponse(fd, out) : -1;
    close(fd);
    CheckInterrupted();
    return st;
  }

  // Call, and exit the benchmark unless the status is want; the response body.
  std::string Must(const std::string& method, const std::string& path, const std::string& body,
                   int want) const {
    std::string out;
    int st = Call(method, path, body, &out);
    if (st != want)
      Fail("%s %s -> %d (want %d): %s", method.c_str(), path.c_str(), st, want, out.c_str());
    return out;
  }

  nlohmann::json MustJson(const std::string& method, const std::string& path,
                          const std::string& body, int want) const {
    std::string out = Must(method, path, body, want);
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded())
      Fail("%s %s: response is not JSON: %s", method.c_str(), path.c_str(), out.c_str());
    return j;
  }

  // POST /containers/create (?name= when name is given); the new container's id.
  std::string CreateContainer(const nlohmann::json& body, const std::string& name = "") const {
    auto j = MustJson("POST", "/containers/create" + (name.empty() ? "" : "?name=" + name),
                      body.dump(), 201);
    return j.value("Id", "");
  }

  void StartContainer(const std::string& id) const {
    Must("POST", "/containers/" + id + "/start", "", 204);
  }

  // Force-removes every container the daemon knows; false when the daemon did not answer.
  bool RemoveAllContainers() const {
    std::string out;
    if (Call("GET", "/containers/json?all=1", "", &out) != 200) return false;
    auto list = nlohmann::json::parse(out, nullptr, false);
    if (!list.is_array()) return false;
    for (auto& c : list) Call("DELETE", "/containers/" + c.value("Id", "") + "?force=1", "", &out);
    return true;
  }

 private:
  static bool WriteAll(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = write(fd, s.data() + off, s.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  std::string sock_;
};

// ---- a berthd of the benchmark's own ------------------------------------------------------------

// Starts bin/berthd in a new namespace bt-bench-host-<pid>, with its socket and roots in dir and
// its output in dir/berthd.log, and waits for /_ping. At exit: every container is force-removed,
// berthd is stopped (by its pid), leftovers under runc and mounts under dir are removed. The state
// lives behind a shared_ptr because the at-exit clean-up may run after the Daemon object is gone.
class Daemon {
 public:
  void Start(const std::string& bin, const std::string& dir) {
    s_->dir = dir;
    s_->netns_name = "bt-bench-host-" + std::to_string(getpid());
    s_->netns_path = AddNetns(s_->netns_name);
    s_->api = Api(dir + "/berth.sock");

    std::string help;
    RunCapture({bin + "/berthd", "--help"}, &help, &help);
    std::vector<std::string> argv = {"nsenter", "--net=" + s_->netns_path, bin + "/berthd"};
    for (const std::string& f : kDaemonFlags)
      if (help.find(f.substr(0, f.find('='))) != std::string::npos) argv.push_back(f);
    for (const std::string& a :
         {std::string("-H"), "unix://" + s_->api.socket_path(), std::string("--data-root"),
          dir + "/data", std::string("--exec-root"), dir + "/exec"})
      argv.push_back(a);

    int log = open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    // nsenter execs berthd: the pid forked here is berthd's.
    s_->pid = Spawn(argv, log, log);
    close(log);
    OnExit([s = s_] { s->Stop(); });

    for (int i = 0; i < 400; ++i) {
      std::string out;
      if (s_->api.Call("GET", "/_ping", "", &out) == 200) return;
      if (s_->Exited(false)) Fail("berthd exited at start; see %s", log_path().c_str());
      Sleep(std::chrono::milliseconds(25));
    }
    Fail("berthd did not answer /_ping within 10 s; see %s", log_path().c_str());
  }

  const Api& api() const { return s_->api; }
  pid_t pid() const { return s_->pid; }
  const std::string& netns_name() const { return s_->netns_name; }
  const std::string& netns_path() const { return s_->netns_path; }
  std::string log_path() const { return s_->dir + "/berthd.log"; }

 private:
  struct State {
    std::string dir, netns_name, netns_path;
    Api api;
    pid_t pid = -1;

    // True once berthd has exited (reaped here); block: wait for it.
    bool Exited(bool block) {
      if (pid <= 0) return true;
      if (waitpid(pid, nullptr, block ? 0 : WNOHANG) != pid) return false;
      std::lock_guard<std::mutex> l(Exits().mu);
      Exits().children.erase(pid);
      pid = -1;
      return true;
    }

    // Idempotent: removes the containers, stops berthd, clears what runc and the mounts left.
    void Stop() {
      if (pid > 0) {
        api.RemoveAllContainers();
        ::kill(pid, SIGTERM);
        for (int i = 0; i < 200 && !Exited(false); ++i) usleep(25000);
        if (pid > 0) {
          ::kill(pid, SIGKILL);
          Exited(true);
        }
      }
      if (dir.empty()) return;
      std::string runc_root = dir + "/exec/runc";
      std::string ids;
      RunCapture({"runc", "--root", runc_root, "list", "-q"}, &ids);
      std::istringstream in(ids);
      for (std::string id; in >> id;) Run({"runc", "--root", runc_root, "delete", "-f", id});
      // Mounts under dir (rootfs overlays, sandbox namespace files), deepest first.
      std::vector<std::string> mounts;
      std::ifstream mi("/proc/self/mountinfo");
      for (std::string line; std::getline(mi, line);) {
        std::istringstream f(line);
        std::string field;
        for (int i = 0; i < 5 && f >> field; ++i) {
        }
        if (field.rfind(dir + "/", 0) == 0) mounts.push_back(field);
      }
      std::sort(mounts.rbegin(), mounts.rend());
      for (auto& m : mounts) umount2(m.c_str(), MNT_DETACH);
    }
  };
  std::shared_ptr<State> s_ = std::make_shared<State>();
};

// ---- images and the runc floor ------------------------------------------------------------------

// A temporary directory /tmp/bt-bench.XXXXXX (short: socket paths under it must stay < 108 bytes),
// removed at exit; after a failure only dir/berthd.log is kept, for the report.
inline std::string MakeBenchDir() {
  char tmpl[] = "/tmp/bt-bench.XXXXXX";
  if (!mkdtemp(tmpl)) Fail("mkdtemp: %s", std::strerror(errno));
  std::string dir = tmpl;
  OnExit([dir] {
    if (Failed()) {
      Run({"find", dir, "-mindepth", "1", "-not", "-name", "berthd.log", "-delete"});
      std::fprintf(stderr, "daemon log kept at %s/berthd.log\n", dir.c_str());
    } else {
      Run({"rm", "-rf", dir});
    }
  });
  return dir;
}

// dir/rootfs: a busybox-static root filesystem with every applet linked; dir/busybox.tar of it.
inline std::string MakeBusyboxRootfs(const std::string& dir) {
  std::string rootfs = dir + "/rootfs";
  MustRun({"sh", "-c",
           "mkdir -p " + rootfs + "/bin " + rootfs + "/etc " + rootfs + "/tmp && cp /bin/busybox " +
               rootfs +
               "/bin/ && for a in $(/bin/busybox --list); do [ $a = busybox ] || ln -s busybox " +
               rootfs + "/bin/$a; done && printf 'root:x:0:0:root:/root:/bin/sh\\n' > " + rootfs +
               "/etc/passwd && tar -C " + rootfs + " -cf " + dir + "/busybox.tar ."});
  return rootfs;
}

// Imports dir/busybox.tar as busybox:latest through the API (the body is the tarball).
inline void ImportBusybox(const Api& api, const std::string& dir) {
  std::ifstream f(dir + "/busybox.tar", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string out;
  int st = api.Call("POST", "/images/create?fromSrc=-&repo=busybox&tag=latest", ss.str(), &out,
                    "application/x-tar");
  if (st != 200) Fail("import busybox: %d %s", st, out.c_str());
}

// dir/bundle: an OCI bundle of rootfs running `true`, for the bare-runc floor.
inline std::string MakeFloorBundle(const std::string& dir, const std::string& rootfs) {
  std::string bundle = dir + "/bundle";
  MustRun({"sh", "-c",
           "mkdir -p " + bundle + " && cp -a " + rootfs + " " + bundle + "/rootfs && cd " + bundle +
               " && runc spec && sed -i 's/\"terminal\": true/\"terminal\": false/; "
               "s/\"sh\"/\"true\"/' "
               "config.json"});
  return bundle;
}

// One `runc run` of the floor bundle, in ms.
inline double RuncFloor(const std::string& dir, const std::string& bundle, int i,
                        const std::string& name = "floor") {
  auto t0 = Clock::now();
  int rc = Run({"runc", "--root", dir + "/runc-floor", "run", "--bundle", bundle,
                name + std::to_string(i)});
  double ms = Ms(t0, Clock::now());
  if (rc != 0) Fail("runc run of the floor bundle exited %d", rc);
  return ms;
}

// ITERATIONS: the argument when given, else $ITERATIONS, else 30.
inline int Iterations(int argc, char** argv, int index) {
  const char* s = argc > index ? argv[index] : std::getenv("ITERATIONS");
  int n = s ? std::atoi(s) : 30;
  return n > 0 ? n : 30;
}

}  // namespace berth::bench
