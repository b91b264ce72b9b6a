// sys::Spawn and sys::Run (posix_spawn, or fork+exec with a parent death signal): what the child
// gets (exactly the fds given, /dev/null for the rest of 0-2, an empty signal mask, the cwd
// asked for) and what the caller gets (the pid, exec failures as errors, output and exit codes).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "absl/strings/str_split.h"
#include "common/fd.h"
#include "sys/subprocess.h"

namespace berth::sys {
namespace {

// Everything until end of file.
std::string ReadAll(int fd) {
  std::string got;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
  return got;
}

std::string Out(const std::vector<std::string>& argv, std::string_view input = {}) {
  auto r = sys::Run(argv, input);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  EXPECT_EQ(r->exit_code, 0) << r->err;
  return r->out;
}

TEST(Subprocess, RunFeedsStdinAndCollectsOutputAndExitCode) {
  EXPECT_EQ(Out({"cat"}, "to and fro"), "to and fro");
  auto r = sys::Run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  r = sys::Run({"sh", "-c", "kill -TERM $$"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 128 + SIGTERM);
}

TEST(Subprocess, AnExecFailureIsAnError) {
  for (int pdeath : {0, SIGKILL}) {
    SpawnOptions o;
    o.parent_death_signal = pdeath;
    auto pid = Spawn({"/nonexistent/berth-no-such-binary"}, o);
    ASSERT_FALSE(pid.ok()) << pdeath;
    EXPECT_NE(std::string(pid.status().message()).find("exec /nonexistent/berth-no-such-binary"),
              std::string::npos)
        << pid.status();
  }
  EXPECT_FALSE(sys::Run({"berth-no-such-binary-in-path"}).ok());
}

TEST(Subprocess, TheChildGetsExactlyTheFdsGiven) {
  // A descriptor of ours without close-on-exec must not leak into the child.
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(null, 0);
  UniqueFd null_fd(null);
  int leaky = ::fcntl(null, F_DUPFD, 200);  // no close-on-exec
  ASSERT_GE(leaky, 200);
  UniqueFd leaky_fd(leaky);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  SpawnOptions o;
  o.fds = {{1, w.get()}, {3, w.get()}};
  auto pid = Spawn({"sh", "-c", "ls /proc/self/fd >&3; readlink /proc/self/fd/0"}, o);
  ASSERT_TRUE(pid.ok()) << pid.status();
  w.reset();
  std::string got = ReadAll(r.get());
  auto code = Wait(*pid);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  std::set<std::string> lines;
  for (absl::string_view l : absl::StrSplit(got, '\n', absl::SkipEmpty())) lines.insert(std::string(l));
  // ls's own fds 0-3 (and the one it lists the directory with), stdin /dev/null; never `leaky`.
  EXPECT_TRUE(lines.count("/dev/null")) << got;
  EXPECT_FALSE(lines.count(std::to_string(leaky))) << got;
  for (const char* fd : {"0", "1", "2", "3"}) EXPECT_TRUE(lines.count(fd)) << fd << "\n" << got;
}

TEST(Subprocess, ASourceAmongTheChildsNumbersIsNotOverwritten) {
  // Child fd 0 <- a pipe, child fd 3 <- our fd 0: the second must still be our fd 0, not the pipe.
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  int o2[2];
  ASSERT_EQ(::pipe2(o2, O_CLOEXEC), 0);
  UniqueFd out_r(o2[0]), out_w(o2[1]);
  char ours[256] = {};
  ASSERT_GT(::readlink("/proc/self/fd/0", ours, sizeof ours - 1), 0);
  SpawnOptions o;
  o.fds = {{0, r.get()}, {1, out_w.get()}, {3, 0}};
  auto pid = Spawn({"sh", "-c", "readlink /proc/self/fd/3; readlink /proc/self/fd/0"}, o);
  ASSERT_TRUE(pid.ok()) << pid.status();
  out_w.reset();
  std::string got = ReadAll(out_r.get());
  ASSERT_TRUE(Wait(*pid).ok());
  std::vector<std::string> lines = absl::StrSplit(got, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << got;
  EXPECT_EQ(lines[0], ours);
  EXPECT_EQ(lines[1].rfind("pipe:", 0), 0u) << lines[1];
}

TEST(Subprocess, ASourceThatIsNotOpenLeavesTheChildsNumberClosed) {
  // As a daemon started with stderr closed passes its fd 2 on: the child starts, without it.
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  int closed = ::fcntl(r.get(), F_DUPFD_CLOEXEC, 300);
  ASSERT_GE(closed, 300);
  ::close(closed);
  for (int pdeath : {0, SIGKILL}) {
    SpawnOptions o;
    o.fds = {{1, w.get()}, {4, closed}};
    o.parent_death_signal = pdeath;
    auto pid = Spawn({"sh", "-c", "if [ -e /proc/self/fd/4 ]; then echo open; else echo closed; fi"}, o);
    ASSERT_TRUE(pid.ok()) << pid.status();
    char buf[64] = {};
    ASSERT_GT(::read(r.get(), buf, sizeof buf - 1), 0);
    EXPECT_STREQ(buf, "closed\n") << pdeath;
    ASSERT_TRUE(Wait(*pid).ok());
  }
}

TEST(Subprocess, CwdAndAnEmptySignalMask) {
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  for (int pdeath : {0, SIGKILL}) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    UniqueFd r(p[0]), w(p[1]);
    SpawnOptions o;
    o.fds = {{1, w.get()}};
    o.cwd = "/tmp";
    o.parent_death_signal = pdeath;
    auto pid = Spawn({"sh", "-c", "pwd; grep SigBlk /proc/self/status"}, o);
    ASSERT_TRUE(pid.ok()) << pid.status();
    w.reset();
    std::string got = ReadAll(r.get());
    ASSERT_TRUE(Wait(*pid).ok());
    EXPECT_EQ(got, "/tmp\nSigBlk:\t0000000000000000\n") << pdeath;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

TEST(Subprocess, EnvironmentGivenOrInherited) {
  SpawnOptions o;
  EXPECT_EQ(Out({"sh", "-c", "echo ${BERTH_SPAWN_TEST:-unset}"}), "unset\n");
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  o.fds = {{1, w.get()}};
  o.env = {"BERTH_SPAWN_TEST=given", "PATH=/usr/bin:/bin"};
  auto pid = Spawn({"sh", "-c", "echo $BERTH_SPAWN_TEST"}, o);
  ASSERT_TRUE(pid.ok()) << pid.status();
  w.reset();
  char buf[64] = {};
  ASSERT_GT(::read(r.get(), buf, sizeof buf - 1), 0);
  EXPECT_STREQ(buf, "given\n");
  ASSERT_TRUE(Wait(*pid).ok());
}

}  // namespace
}  // namespace berth::sys
