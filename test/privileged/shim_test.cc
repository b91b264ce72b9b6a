// berth-shim against real runc: a busybox bundle per test, the shim binary run as berthd runs it,
// the control socket spoken by hand. Needs root and runc; skips with the reason otherwise.

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "../sanitizers.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int kTimeoutMs = 20000;

std::string ShimBinary() {
  if (const char* p = getenv("BERTH_SHIM")) return p;
  if (const char* d = getenv("BERTH_BIN")) return std::string(d) + "/berth-shim";
  // Beside this test binary: both are built into the same bin/ directory.
  return (fs::read_symlink("/proc/self/exe").parent_path() / "berth-shim").string();
}

std::string RuncBinary() {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin"}) {
    std::string p = std::string(dir) + "/runc";
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// Runs argv, returns its exit status and (if out != nullptr) its stdout.
int RunCommand(const std::vector<std::string>& args, std::string* out = nullptr) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1);
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    if (out == nullptr) dup2(null_fd, 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(p[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0 && out != nullptr) out->append(buf, static_cast<size_t>(n));
  }
  close(p[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Reads exactly n bytes within the timeout; false on EOF, error or timeout.
bool ReadExact(int fd, size_t n, std::string* out, int timeout_ms = kTimeoutMs) {
  out->clear();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out->size() < n) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0) return false;
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) continue;
    char buf[65536];
    ssize_t r = read(fd, buf, std::min(sizeof buf, n - out->size()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    out->append(buf, static_cast<size_t>(r));
  }
  return true;
}

// Reads until EOF (or timeout).
std::string ReadToEof(int fd, int timeout_ms = kTimeoutMs) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0) return out + "<timeout>";
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) continue;
    char buf[65536];
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return out;
    out.append(buf, static_cast<size_t>(r));
  }
}

std::string ReadLine(int fd) {
  std::string line, c;
  while (ReadExact(fd, 1, &c)) {
    line += c;
    if (c == "\n") break;
  }
  return line;
}

int Connect(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// One command on a fresh connection; the whole answer up to the shim's close.
std::string Command(const std::string& sock, const std::string& line) {
  int fd = Connect(sock);
  if (fd < 0) return "<connect failed: " + std::string(strerror(errno)) + ">";
  WriteAll(fd, line + "\n");
  std::string out = ReadToEof(fd);
  close(fd);
  return out;
}

void SendFrame(int fd, uint8_t type, const std::string& payload) {
  uint32_t n = static_cast<uint32_t>(payload.size());
  std::string f = {static_cast<char>(type), 0, 0, 0, static_cast<char>(n >> 24),
                   static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
  WriteAll(fd, f + payload);
}

struct Frame {
  int type = -1;  // -1: EOF or timeout
  std::string payload;
};

Frame ReadFrame(int fd) {
  Frame f;
  std::string h;
  if (!ReadExact(fd, 8, &h)) return f;
  const auto* b = reinterpret_cast<const unsigned char*>(h.data());
  size_t n = (size_t{b[4]} << 24) | (size_t{b[5]} << 16) | (size_t{b[6]} << 8) | b[7];
  if (!ReadExact(fd, n, &f.payload)) return f;
  f.type = b[0];
  return f;
}

struct AttachResult {
  std::string out, err;
  std::string exit = "<none>";
  std::vector<int> types;
};

// Reads frames until the exit frame (or EOF/timeout).
AttachResult ReadUntilExit(int fd) {
  AttachResult r;
  for (;;) {
    Frame f = ReadFrame(fd);
    if (f.type < 0) return r;
    r.types.push_back(f.type);
    if (f.type == 1) r.out += f.payload;
    if (f.type == 2) r.err += f.payload;
    if (f.type == 3) {
      r.exit = f.payload;
      return r;
    }
  }
}

// Reads stdout frames until the accumulated output contains `want`.
std::string ReadUntilContains(int fd, const std::string& want) {
  std::string acc;
  while (acc.find(want) == std::string::npos) {
    Frame f = ReadFrame(fd);
    if (f.type < 0 || f.type == 3) return acc + "<stream ended>";
    acc += f.payload;
  }
  return acc;
}

long VmRssKb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// Gone or a zombie: the shim's parent is whatever reaper this machine has, which may be slow.
bool Exited(pid_t pid) {
  std::string stat = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || stat.compare(paren + 1, 3, " Z ") == 0;
}

struct ShimRun {
  std::string id;
  std::string state;
  std::string sock;
  std::string log;
  std::string bundle;
  std::string ready;  // the line from the ready fd
  int launcher_status = -1;
  pid_t pid = -1;     // the shim itself (from shim.pid)
};

class ShimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (runc creates namespaces and cgroups)";
    runc_ = RuncBinary();
    if (runc_.empty()) GTEST_SKIP() << "runc not installed";
    if (access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "/bin/busybox (busybox-static) missing";
    shim_ = ShimBinary();
    ASSERT_EQ(access(shim_.c_str(), X_OK), 0)
        << "berth-shim not found at " << shim_ << " (set BERTH_SHIM or BERTH_BIN)";
    char tmpl[] = "/tmp/berth-shim-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    runc_root_ = dir_ + "/runc-root";
    fs::create_directories(runc_root_);
  }

  void TearDown() override {
    for (const ShimRun& r : runs_) {
      RunCommand({runc_, "--root", runc_root_, "delete", "--force", r.id});
      // Only the shim we started, and only while that pid is still a berth-shim.
      std::string pid = ReadWholeFile(r.state + "/shim.pid");
      pid_t p = static_cast<pid_t>(atoi(pid.c_str()));
      if (p > 0 && ReadWholeFile("/proc/" + std::to_string(p) + "/cmdline").find("berth-shim") !=
                       std::string::npos) {
        kill(p, SIGKILL);
      }
    }
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  // A bundle whose rootfs is busybox with a few applet links, config.json from `runc spec`.
  std::string MakeBundle(const std::string& name, const std::vector<std::string>& args, bool tty,
                         const std::function<void(json&)>& edit = nullptr) {
    std::string bundle = dir_ + "/" + name + "/bundle";
    fs::create_directories(bundle + "/rootfs/bin");
    fs::copy_file("/bin/busybox", bundle + "/rootfs/bin/busybox");
    for (const char* applet :
         {"sh", "echo", "cat", "sleep", "true", "false", "ls", "printf", "stty", "yes", "head"}) {
      fs::create_symlink("busybox", bundle + "/rootfs/bin/" + applet);
    }
    EXPECT_EQ(RunCommand({runc_, "spec", "--bundle", bundle}), 0);
    json config = json::parse(ReadWholeFile(bundle + "/config.json"));
    config["process"]["terminal"] = tty;
    config["process"]["args"] = args;
    if (tty) {
      // runc applies this before the process starts; the shim's --rows/--cols can only follow
      // once the pty master has arrived, racing with the container's first instruction.
      config["process"]["consoleSize"] = {{"height", 20}, {"width", 60}};
    }
    if (edit) edit(config);
    std::ofstream(bundle + "/config.json") << config.dump(2);
    return bundle;
  }

  // Runs the shim as berthd does and returns once the ready line is in.
  ShimRun Start(const std::string& name, const std::vector<std::string>& args,
                const std::vector<std::string>& flags = {},
                const std::function<void(json&)>& edit = nullptr) {
    bool tty = std::find(flags.begin(), flags.end(), "--tty") != flags.end();
    ShimRun r;
    r.id = "bt-shim-" + std::to_string(getpid()) + "-" + std::to_string(++counter_);
    std::string bundle = MakeBundle(name, args, tty, edit);
    r.bundle = bundle;
    r.state = dir_ + "/" + name + "/state";
    fs::create_directories(r.state);
    r.sock = r.state + "/shim.sock";
    r.log = dir_ + "/" + name + "/container-json.log";
    runs_.push_back(r);

    int p[2];
    EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
    std::vector<std::string> argv = {shim_,        "--id",         r.id,     "--bundle",
                                     bundle,       "--state-dir",  r.state,  "--runtime",
                                     runc_,        "--runtime-root", runc_root_, "--log-path",
                                     r.log,        "--ready-fd",   "9"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    pid_t pid = fork();
    if (pid == 0) {
      dup2(p[1], 9);  // dup2 clears CLOEXEC on the copy
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
    close(p[1]);
    r.ready = ReadToEof(p[0]);
    close(p[0]);
    while (waitpid(pid, &r.launcher_status, 0) < 0 && errno == EINTR) {
    }
    r.pid = static_cast<pid_t>(atoi(ReadWholeFile(r.state + "/shim.pid").c_str()));
    return r;
  }

  // Writes STATE/exec-<id>.json as berthd does (the container's process with other args), sends
  // EXEC and returns the connection; *answer gets the first line (OK <pid> / ERR ...).
  int Exec(const ShimRun& r, const std::string& id, const std::vector<std::string>& args,
           const std::string& flags, std::string* answer) {
    json process = json::parse(ReadWholeFile(r.bundle + "/config.json"))["process"];
    process["args"] = args;
    process["terminal"] = flags.find("tty") != std::string::npos;
    process.erase("consoleSize");
    std::ofstream(r.state + "/exec-" + id + ".json") << process.dump();
    int fd = Connect(r.sock);
    EXPECT_GE(fd, 0);
    WriteAll(fd, "EXEC " + id + " " + flags + "\n");
    *answer = ReadLine(fd);
    return fd;
  }

  // The exec-<id>.* files left in the state dir.
  std::vector<std::string> ExecFiles(const ShimRun& r) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(r.state)) {
      std::string n = entry.path().filename();
      if (n.rfind("exec-", 0) == 0) names.push_back(n);
    }
    return names;
  }

  std::string RuncList() {
    std::string out;
    RunCommand({runc_, "--root", runc_root_, "list", "-q"}, &out);
    return out;
  }

  // The shim removes shim.pid last, just before it exits.
  bool WaitShimGone(const ShimRun& r) {
    for (int i = 0; i < 200; ++i) {
      // r.pid is 0 if the shim removed shim.pid before Start() read it; kill(0) would not do.
      if (access((r.state + "/shim.pid").c_str(), F_OK) != 0 && (r.pid <= 0 || Exited(r.pid))) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string runc_, shim_, dir_, runc_root_;
  std::vector<ShimRun> runs_;
  int counter_ = 0;
};

std::vector<json> LogEntries(const std::string& path) {
  std::vector<json> entries;
  std::istringstream in(ReadWholeFile(path));
  std::string line;
  while (std::getline(in, line)) entries.push_back(json::parse(line));
  return entries;
}

TEST_F(ShimTest, OutputGoesToJsonLogAndToClientAttachedBeforeRelease) {
  ShimRun r = Start("echo", {"sh", "-c",
                             R"(echo out; echo err >&2; printf 'a<&>"\\\t\001\377z\n'; )"
                             R"(printf partial)"});
  ASSERT_EQ(r.launcher_status, 0);
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;

  // Attach first: nothing may be lost, because nothing is read before RELEASE.
  int a = Connect(r.sock);
  ASSERT_GE(a, 0);
  WriteAll(a, "ATTACH stdout,stderr\n");
  ASSERT_EQ(ReadLine(a), "OK\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the container is done by now
  EXPECT_EQ(ReadWholeFile(r.log), "") << "output read before RELEASE";
  EXPECT_EQ(Command(r.sock, "RELEASE"), "OK\n");

  AttachResult got = ReadUntilExit(a);
  close(a);
  EXPECT_EQ(got.out, "out\na<&>\"\\\t\001\377z\npartial");
  EXPECT_EQ(got.err, "err\n");
  EXPECT_EQ(got.exit, "0");
  ASSERT_TRUE(WaitShimGone(r));

  std::string raw = ReadWholeFile(r.log);
  // Go's encoding/json escaping, byte for byte.
  EXPECT_NE(raw.find(R"("log":"a\u003c\u0026\u003e\"\\\t\u0001\ufffdz\n")"), std::string::npos)
      << raw;
  std::vector<json> entries = LogEntries(r.log);
  std::string out, err;
  std::regex time_re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z)");
  for (const json& e : entries) {
    ASSERT_EQ(e.size(), 3u) << e.dump();
    std::string t = e["time"];
    EXPECT_TRUE(std::regex_match(t, time_re)) << t;
    (e["stream"] == "stdout" ? out : err) += e["log"].get<std::string>();
    std::string log = e["log"];
    // One entry per line: a '\n' only ever ends an entry.
    if (log.find('\n') != std::string::npos) {
      EXPECT_EQ(log.find('\n'), log.size() - 1);
    }
  }
  EXPECT_EQ(out, "out\na<&>\"\\\t\001\xef\xbf\xbdz\npartial");  // \377 became U+FFFD
  EXPECT_EQ(err, "err\n");
  std::string last_stdout;
  for (const json& e : entries) {
    if (e["stream"] == "stdout") last_stdout = e["log"];
  }
  EXPECT_EQ(last_stdout, "partial");
  EXPECT_EQ(RuncList(), "");
}

TEST_F(ShimTest, ExitCodeRecordedInFileAndOverWait) {
  ShimRun r = Start("exit3", {"sh", "-c", "exit 3"});
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  EXPECT_EQ(Command(r.sock, "STATUS"), "RUNNING " + r.ready.substr(3));
  int w = Connect(r.sock);
  ASSERT_GE(w, 0);
  WriteAll(w, "WAIT\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // Held: the exit is not finalized before RELEASE even though the process is gone.
  EXPECT_NE(access((r.state + "/exit").c_str(), F_OK), 0);
  EXPECT_EQ(Command(r.sock, "RELEASE"), "OK\n");
  std::string answer = ReadToEof(w);
  close(w);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(answer, m, std::regex(R"(EXIT 3 (\d+)\n)"))) << answer;
  EXPECT_EQ(ReadWholeFile(r.state + "/exit"), "3 " + m[1].str() + "\n");
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  long long nanos = std::stoll(m[1].str());
  EXPECT_LT(std::llabs(now.tv_sec - nanos / 1000000000), 60);
  ASSERT_TRUE(WaitShimGone(r));
  EXPECT_FALSE(fs::exists(r.sock));
  EXPECT_EQ(RuncList(), "");
}

TEST_F(ShimTest, StdinReachesContainerAndCloseStdinEndsIt) {
  ShimRun r = Start("cat", {"cat"}, {"--stdin"});
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  EXPECT_EQ(Command(r.sock, "RESIZE 10 10"), "ERR not a tty\n");
  EXPECT_EQ(Command(r.sock, "NONSENSE"), "ERR unknown command\n");
  int a = Connect(r.sock);
  WriteAll(a, "ATTACH stdin,stdout,stderr\n");
  ASSERT_EQ(ReadLine(a), "OK\n");
  EXPECT_EQ(Command(r.sock, "RELEASE"), "OK\n");
  EXPECT_EQ(Command(r.sock, "RELEASE"), "OK\n");  // idempotent
  SendFrame(a, 0, "hello\n");
  Frame f = ReadFrame(a);
  EXPECT_EQ(f.type, 1);
  EXPECT_EQ(f.payload, "hello\n");
  SendFrame(a, 4, "");  // cat sees EOF and exits
  AttachResult rest = ReadUntilExit(a);
  close(a);
  EXPECT_EQ(rest.exit, "0");
  ASSERT_TRUE(WaitShimGone(r));
  EXPECT_EQ(ReadWholeFile(r.state + "/exit").substr(0, 2), "0 ");
}

TEST_F(ShimTest, StdinOnceClosesStdinWhenFirstClientLeaves) {
  ShimRun r = Start("once", {"cat"}, {"--stdin", "--stdin-once"});
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  int w = Connect(r.sock);
  WriteAll(w, "WAIT\n");
  int a = Connect(r.sock);
  WriteAll(a, "ATTACH stdin,stdout\n");
  ASSERT_EQ(ReadLine(a), "OK\n");
  EXPECT_EQ(Command(r.sock, "RELEASE"), "OK\n");
  SendFrame(a, 0, "x\n");
  EXPECT_EQ(ReadFrame(a).payload, "x\n");
  close(a);  // no type 4: the disconnect alone must close cat's stdin
  std::string answer = ReadToEof(w);
  close(w);
  EXPECT_TRUE(std::regex_match(answer, std::regex(R"(EXIT 0 \d+\n)"))) << answer;
}

TEST_F(ShimTest, TtyOutputAndResize) {
  ShimRun r = Start("tty", {"sh", "-c", "stty size; read x; stty size"},
                    {"--tty", "--stdin", "--rows", "20", "--cols", "60"});
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  EXPECT_FALSE(fs::exists(r.state + "/console.sock"));
  int a = Connect(r.sock);
  WriteAll(a, "ATTACH stdin,stdout,stderr\n");
  ASSERT_EQ(ReadLine(a), "OK\n");
  EXPECT_EQ(Command(r.sock, "RELEASE"), "OK\n");
  std::string first = ReadUntilContains(a, "20 60\r\n");
  EXPECT_NE(first.find("20 60\r\n"), std::string::npos) << first;
  EXPECT_EQ(Command(r.sock, "RESIZE 33 77"), "OK\n");
  EXPECT_EQ(Command(r.sock, "RESIZE 33"), "ERR usage: RESIZE <rows> <cols>\n");
  SendFrame(a, 0, "go\n");
  AttachResult rest = ReadUntilExit(a);
  close(a);
  EXPECT_NE(rest.out.find("33 77\r\n"), std::string::npos) << rest.out;
  EXPECT_EQ(rest.err, "");  // with a tty everything is stream 1
  EXPECT_EQ(rest.exit, "0");
  ASSERT_TRUE(WaitShimGone(r));
  std::string all;
  for (const json& e : LogEntries(r.log)) {
    EXPECT_EQ(e["stream"], "stdout");
    all += e["log"].get<std::string>();
  }
  EXPECT_NE(all.find("20 60\r\n"), std::string::npos) << all;
  EXPECT_NE(all.find("33 77\r\n"), std::string::npos) << all;
}

TEST_F(ShimTest, MissingBinaryReportsRuncErrorAndLeavesNothing) {
  ShimRun r = Start("nosuch", {"nosuch"});
  EXPECT_EQ(r.launcher_status, 0);
  EXPECT_EQ(r.ready.substr(0, 6), "error ") << r.ready;
  EXPECT_NE(r.ready.find("exec: \"nosuch\": executable file not found in $PATH"),
            std::string::npos)
      << r.ready;
  EXPECT_EQ(r.ready.back(), '\n');
  EXPECT_EQ(std::count(r.ready.begin(), r.ready.end(), '\n'), 1);
  EXPECT_EQ(RuncList(), "");
  ASSERT_TRUE(WaitShimGone(r));
  EXPECT_FALSE(fs::exists(r.sock));
}

TEST_F(ShimTest, ContainerOutlivesClientsAndShimSurvivesGarbage) {
  ShimRun r = Start("reattach", {"cat"}, {"--stdin"});
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  EXPECT_EQ(Command(r.sock, "RELEASE"), "OK\n");
  int a = Connect(r.sock);
  WriteAll(a, "ATTACH stdin,stdout\n");
  ASSERT_EQ(ReadLine(a), "OK\n");
  SendFrame(a, 0, "a\n");
  EXPECT_EQ(ReadFrame(a).payload, "a\n");
  close(a);

  // Misbehaving clients: early close, binary garbage, an endless line, a bogus frame size.
  close(Connect(r.sock));
  int g = Connect(r.sock);
  WriteAll(g, std::string("\0\xff\x01garbage", 10));
  close(g);
  g = Connect(r.sock);
  WriteAll(g, std::string(10000, 'x'));
  close(g);
  g = Connect(r.sock);
  WriteAll(g, "ATTACH stdout\n");
  WriteAll(g, std::string("\x00\x00\x00\x00\x7f\xff\xff\xff", 8));
  close(g);
  g = Connect(r.sock);
  WriteAll(g, "ATTACH bogus\n");
  EXPECT_EQ(ReadToEof(g).substr(0, 4), "ERR ");
  close(g);

  EXPECT_EQ(Command(r.sock, "STATUS"), "RUNNING " + r.ready.substr(3));
  int b = Connect(r.sock);
  WriteAll(b, "ATTACH stdin,stdout\n");
  ASSERT_EQ(ReadLine(b), "OK\n");
  SendFrame(b, 0, "b\n");
  EXPECT_EQ(ReadFrame(b).payload, "b\n");
  SendFrame(b, 4, "");
  EXPECT_EQ(ReadUntilExit(b).exit, "0");
  close(b);
  ASSERT_TRUE(WaitShimGone(r));
  std::string all;
  for (const json& e : LogEntries(r.log)) all += e["log"].get<std::string>();
  EXPECT_EQ(all, "a\nb\n");
}

TEST_F(ShimTest, SlowClientIsDroppedWithoutBlockingContainer) {
  // 3000 lines of 1001 bytes: far more than a socket buffer plus the 1 MiB per-client bound.
  // Paced in 30 bursts: in one burst a loaded machine can deschedule the "fast" reader long
  // enough for it to fall 1 MiB behind as well.
  ShimRun r = Start("slow", {"sh", "-c",
                             "i=0; while [ $i -lt 30 ]; do "
                             "yes $(printf %01000d 0) | head -c 100100; sleep 0.01; i=$((i+1)); "
                             "done; echo done"});
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  int slow = Connect(r.sock);
  WriteAll(slow, "ATTACH stdout\n");
  int fast = Connect(r.sock);
  WriteAll(fast, "ATTACH stdout\n");
  ASSERT_EQ(ReadLine(fast), "OK\n");
  EXPECT_EQ(Command(r.sock, "RELEASE"), "OK\n");
  AttachResult got = ReadUntilExit(fast);
  close(fast);
  EXPECT_EQ(got.exit, "0");
  EXPECT_EQ(got.out.size(), 3003000u + 5);
  std::string slow_bytes = ReadToEof(slow);  // the shim dropped it: EOF, no exit frame
  close(slow);
  EXPECT_LT(slow_bytes.size(), 3003000u);
  ASSERT_TRUE(WaitShimGone(r));
  size_t logged = 0;
  for (const json& e : LogEntries(r.log)) logged += e["log"].get<std::string>().size();
  EXPECT_EQ(logged, 3003000u + 5);  // the log always gets everything
}

TEST_F(ShimTest, IdleShimRssAndSignalledExit) {
  ShimRun r = Start("idle", {"sleep", "1000"});
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  ASSERT_GT(r.pid, 0);
  EXPECT_EQ(Command(r.sock, "RELEASE"), "OK\n");
  int a = Connect(r.sock);  // an idle shim has a client or two
  WriteAll(a, "ATTACH stdout,stderr\n");
  ASSERT_EQ(ReadLine(a), "OK\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  long rss_kb = VmRssKb(r.pid);
  printf("idle berth-shim VmRSS: %ld kB\n", rss_kb);
  std::string status = ReadWholeFile("/proc/" + std::to_string(r.pid) + "/status");
  for (const char* key : {"RssAnon:", "RssFile:", "RssShmem:"}) {
    size_t at = status.find(key);
    if (at != std::string::npos) printf("  %s\n", status.substr(at, status.find('\n', at) - at).c_str());
  }
  EXPECT_GT(rss_kb, 0);
  if (berth::testing::kThreadSanitizer ||
      ReadWholeFile("/proc/" + std::to_string(r.pid) + "/maps").find("libasan") !=
          std::string::npos) {
    printf("sanitizer build of berth-shim: RSS bound not checked\n");
  } else {
    EXPECT_LT(rss_kb, 1536) << "idle shim over 1.5 MB; is it linked with -static?";
  }

  int w = Connect(r.sock);
  WriteAll(w, "WAIT\n");
  EXPECT_EQ(RunCommand({runc_, "--root", runc_root_, "kill", r.id, "KILL"}), 0);
  std::string answer = ReadToEof(w);
  close(w);
  EXPECT_TRUE(std::regex_match(answer, std::regex(R"(EXIT 137 \d+\n)"))) << answer;
  EXPECT_EQ(ReadUntilExit(a).exit, "137");
  close(a);
  ASSERT_TRUE(WaitShimGone(r));
}

// The cgroup paths runc recorded for a running container (its state.json).
std::vector<std::string> CgroupPaths(const std::string& runc_root, const std::string& id) {
  std::vector<std::string> paths;
  json state = json::parse(ReadWholeFile(runc_root + "/" + id + "/state.json"));
  for (const auto& [subsystem, path] : state["cgroup_paths"].items()) {
    paths.push_back(path.get<std::string>());
  }
  return paths;
}

// Attaches, releases the container, closes its stdin and returns the exit code it is told.
std::string CloseStdinAndWait(const ShimRun& r) {
  int a = Connect(r.sock);
  WriteAll(a, "ATTACH stdin,stdout,stderr\n");
  EXPECT_EQ(ReadLine(a), "OK\n");
  EXPECT_EQ(Command(r.sock, "RELEASE"), "OK\n");
  SendFrame(a, 4, "");
  AttachResult rest = ReadUntilExit(a);
  close(a);
  return rest.exit;
}

// An exit removes the container's cgroups and runc's state as `runc delete` does, without
// running runc (the shim does it itself when nothing is left in the cgroups).
TEST_F(ShimTest, AnExitLeavesNoCgroupOrRuntimeState) {
  ShimRun r = Start("cgroups", {"sh", "-c", "read x; exit 4"}, {"--stdin"});
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  std::vector<std::string> cgroups = CgroupPaths(runc_root_, r.id);
  ASSERT_GE(cgroups.size(), 1u);
  for (const std::string& p : cgroups) EXPECT_TRUE(fs::exists(p)) << p;
  EXPECT_EQ(CloseStdinAndWait(r), "4");
  // By the time the exit is told, the cgroups and the state are gone.
  for (const std::string& p : cgroups) EXPECT_FALSE(fs::exists(p)) << p;
  EXPECT_FALSE(fs::exists(runc_root_ + "/" + r.id));
  EXPECT_EQ(RuncList(), "");
  ASSERT_TRUE(WaitShimGone(r));
}

// A container without a PID namespace of its own can leave a process behind in its cgroup: the
// shim cannot remove that cgroup and leaves it to `runc delete --force`, which kills the process.
TEST_F(ShimTest, AProcessLeftInTheCgroupIsKilledByRuncDelete) {
  auto host_pid = [](json& config) {
    json& ns = config["linux"]["namespaces"];
    for (size_t i = 0; i < ns.size(); ++i) {
      if (ns[i]["type"] == "pid") {
        ns.erase(i);
        break;
      }
    }
  };
  ShimRun r = Start("leftover", {"sh", "-c", "sleep 1000 >/dev/null 2>&1 </dev/null & read x"},
                    {"--stdin"}, host_pid);
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  std::vector<std::string> cgroups = CgroupPaths(runc_root_, r.id);
  ASSERT_GE(cgroups.size(), 1u);
  std::string procs;
  for (int i = 0; i < 100 && std::count(procs.begin(), procs.end(), '\n') < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    procs = ReadWholeFile(cgroups[0] + "/cgroup.procs");
  }
  ASSERT_EQ(std::count(procs.begin(), procs.end(), '\n'), 2) << procs;  // sh and sleep
  std::vector<pid_t> pids;
  std::istringstream in(procs);
  for (pid_t p; in >> p;) pids.push_back(p);
  EXPECT_EQ(CloseStdinAndWait(r), "1");  // read at EOF fails
  for (const std::string& p : cgroups) EXPECT_FALSE(fs::exists(p)) << p;
  EXPECT_EQ(RuncList(), "");
  ASSERT_TRUE(WaitShimGone(r));
  for (pid_t p : pids) {
    // Gone, or at least no longer our sleep (the shim reaps it once runc has killed it).
    std::string cmdline = ReadWholeFile("/proc/" + std::to_string(p) + "/cmdline");
    EXPECT_EQ(cmdline.find("sleep"), std::string::npos) << p;
  }
}

TEST_F(ShimTest, ExecStreamsOutputAndExitCodeAndCleansUp) {
  ShimRun r = Start("exec", {"sleep", "1000"});
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  EXPECT_EQ(Command(r.sock, "RELEASE"), "OK\n");
  std::string answer;
  int x = Exec(r, "e1", {"sh", "-c", "echo out; echo err >&2; exit 4"}, "-", &answer);
  ASSERT_TRUE(std::regex_match(answer, std::regex(R"(OK [1-9]\d*\n)"))) << answer;
  AttachResult got = ReadUntilExit(x);
  EXPECT_EQ(got.out, "out\n");
  EXPECT_EQ(got.err, "err\n");
  EXPECT_EQ(got.exit, "4");
  EXPECT_EQ(ReadToEof(x), "");  // the shim closes after the exit frame
  close(x);
  EXPECT_EQ(ExecFiles(r), std::vector<std::string>{});
  EXPECT_EQ(ReadWholeFile(r.log), "");  // docker does not log exec output either
  EXPECT_EQ(Command(r.sock, "STATUS"), "RUNNING " + r.ready.substr(3));

  // Errors answered without starting anything.
  EXPECT_EQ(Command(r.sock, "EXEC ../x -").substr(0, 15), "ERR bad exec id");
  EXPECT_EQ(Command(r.sock, "EXEC e2 bogus").substr(0, 18), "ERR bad exec flags");
  EXPECT_EQ(Command(r.sock, "EXEC e2").substr(0, 10), "ERR usage:");
}

TEST_F(ShimTest, ExecStdinReachesProcess) {
  ShimRun r = Start("execin", {"sleep", "1000"});
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  std::string answer;
  int x = Exec(r, "cat1", {"cat"}, "stdin", &answer);
  ASSERT_EQ(answer.substr(0, 3), "OK ") << answer;
  SendFrame(x, 0, "hello\n");
  Frame f = ReadFrame(x);
  EXPECT_EQ(f.type, 1);
  EXPECT_EQ(f.payload, "hello\n");
  SendFrame(x, 4, "");  // cat sees EOF and exits
  EXPECT_EQ(ReadUntilExit(x).exit, "0");
  close(x);
  EXPECT_EQ(ExecFiles(r), std::vector<std::string>{});
}

TEST_F(ShimTest, ExecTtyAndResize) {
  ShimRun r = Start("exectty", {"sleep", "1000"});
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  std::string answer;
  int x = Exec(r, "t1", {"sh", "-c", "read x; stty size; echo err >&2; exit 2"}, "tty,stdin",
               &answer);
  ASSERT_EQ(answer.substr(0, 3), "OK ") << answer;
  // Frames are applied in order: the size is set before `read` returns.
  SendFrame(x, 5, "33 77");
  SendFrame(x, 0, "go\n");
  AttachResult got = ReadUntilExit(x);
  close(x);
  EXPECT_NE(got.out.find("33 77\r\n"), std::string::npos) << got.out;
  EXPECT_NE(got.out.find("err\r\n"), std::string::npos) << got.out;  // a tty: all type 1
  EXPECT_EQ(std::count(got.types.begin(), got.types.end(), 2), 0);
  EXPECT_EQ(got.exit, "2");
  EXPECT_EQ(ExecFiles(r), std::vector<std::string>{});
}

TEST_F(ShimTest, ExecMissingBinaryAnswersRuncError) {
  ShimRun r = Start("execnosuch", {"sleep", "1000"});
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  std::string answer;
  int x = Exec(r, "n1", {"nosuch"}, "-", &answer);
  EXPECT_EQ(answer.substr(0, 4), "ERR ") << answer;
  EXPECT_NE(answer.find("exec: \"nosuch\": executable file not found in $PATH"),
            std::string::npos)
      << answer;
  EXPECT_EQ(ReadToEof(x), "");
  close(x);
  EXPECT_EQ(ExecFiles(r), std::vector<std::string>{});
  EXPECT_EQ(Command(r.sock, "STATUS"), "RUNNING " + r.ready.substr(3));
}

TEST_F(ShimTest, ConcurrentExecsDetachedExecAndExecsDieWithContainer) {
  ShimRun r = Start("execs", {"sleep", "1000"}, {},
                    [](json& c) { c["root"]["readonly"] = false; });
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  EXPECT_EQ(Command(r.sock, "RELEASE"), "OK\n");
  std::string answer;
  int a = Exec(r, "a", {"sh", "-c", "read x; echo A$x"}, "stdin", &answer);
  ASSERT_EQ(answer.substr(0, 3), "OK ") << answer;
  EXPECT_EQ(Command(r.sock, "EXEC a -"), "ERR exec id already in use\n");
  int b = Exec(r, "b", {"echo", "B"}, "-", &answer);
  ASSERT_EQ(answer.substr(0, 3), "OK ") << answer;
  AttachResult got_b = ReadUntilExit(b);  // while a still waits for its input
  close(b);
  EXPECT_EQ(got_b.out, "B\n");
  EXPECT_EQ(got_b.exit, "0");
  SendFrame(a, 0, "1\n");
  AttachResult got_a = ReadUntilExit(a);
  close(a);
  EXPECT_EQ(got_a.out, "A1\n");
  EXPECT_EQ(got_a.exit, "0");

  // A client that goes away: the exec runs on (its 1 MB of output is read and dropped, or it
  // would block on its pipe) and is still reaped and cleaned up.
  int d = Exec(r, "d", {"sh", "-c", "yes | head -c 1000000; echo done > /done"}, "-", &answer);
  ASSERT_EQ(answer.substr(0, 3), "OK ") << answer;
  close(d);
  bool cleaned = false;
  for (int i = 0; i < 200 && !cleaned; ++i) {
    cleaned = fs::exists(r.bundle + "/rootfs/done") && ExecFiles(r).empty();
    if (!cleaned) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(cleaned);

  // The container's init dies: its exec dies with it (pid namespace) and is reported.
  int s = Exec(r, "s", {"sleep", "1000"}, "-", &answer);
  ASSERT_EQ(answer.substr(0, 3), "OK ") << answer;
  int w = Connect(r.sock);
  WriteAll(w, "WAIT\n");
  EXPECT_EQ(RunCommand({runc_, "--root", runc_root_, "kill", r.id, "KILL"}), 0);
  EXPECT_EQ(ReadUntilExit(s).exit, "137");
  close(s);
  std::string wait_answer = ReadToEof(w);
  close(w);
  EXPECT_TRUE(std::regex_match(wait_answer, std::regex(R"(EXIT 137 \d+\n)"))) << wait_answer;
  ASSERT_TRUE(WaitShimGone(r));
  EXPECT_EQ(ExecFiles(r), std::vector<std::string>{});
  EXPECT_EQ(RuncList(), "");
}

TEST_F(ShimTest, KillSignalsInit) {
  // Without its own pid namespace: the init of a pid namespace ignores every signal it has no
  // handler for (SIGTERM included, even from outside), and `sleep` has none.
  ShimRun r = Start("kill", {"sleep", "1000"}, {}, [](json& c) {
    json& ns = c["linux"]["namespaces"];
    auto is_pid = [](const json& n) { return n["type"] == "pid"; };
    ns.erase(std::remove_if(ns.begin(), ns.end(), is_pid), ns.end());
  });
  ASSERT_EQ(r.ready.substr(0, 3), "ok ") << r.ready;
  EXPECT_EQ(Command(r.sock, "KILL 0"), "ERR usage: KILL <signal number>\n");
  EXPECT_EQ(Command(r.sock, "KILL TERM"), "ERR usage: KILL <signal number>\n");
  EXPECT_EQ(Command(r.sock, "RELEASE"), "OK\n");
  int w = Connect(r.sock);
  WriteAll(w, "WAIT\n");
  EXPECT_EQ(Command(r.sock, "KILL 15"), "OK\n");
  std::string answer = ReadToEof(w);
  close(w);
  EXPECT_TRUE(std::regex_match(answer, std::regex(R"(EXIT 143 \d+\n)"))) << answer;
  ASSERT_TRUE(WaitShimGone(r));
}

}  // namespace
}  // namespace berth
