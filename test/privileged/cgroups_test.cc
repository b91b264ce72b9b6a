// sys/cgroups against this machine's real cgroupfs: a child process is put in a cgroup the test
// makes
// (/bt-cgtest-<pid> in each hierarchy that holds memory, cpu, cpuacct, pids or blkio, and in
// cgroup2), with a memory limit, a pids limit and a CPU quota; it touches 16 MiB, writes 1 MiB with
// O_DIRECT (under /var/tmp) and spins under the quota. The values read back must be the ones set
// and plausible for what the child did. The cgroups are removed at the end. Needs root; skips with
// the reason otherwise.

#include "sys/cgroups.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sys/fs.h"
#include "../sanitizers.h"

namespace berth::sys {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kMemLimit = 256 * kMiB;
constexpr uint64_t kTouched = 16 * kMiB;
constexpr uint64_t kDirectWrite = 1 * kMiB;

// The child: waits for "go" (it is in the cgroups by then, so what it allocates is charged there),
// touches kTouched bytes, writes kDirectWrite bytes past the page cache, reports, spins.
[[noreturn]] void Child(int go_fd, int ready_fd, const std::string& scratch) {
  char c;
  if (::read(go_fd, &c, 1) != 1) _exit(1);
  char* mem = static_cast<char*>(::malloc(kTouched));
  if (mem == nullptr) _exit(2);
  ::memset(mem, 0x5a, kTouched);
  char status = 'n';
  void* buf = nullptr;
  int fd = ::open(scratch.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
  if (fd >= 0 && ::posix_memalign(&buf, 4096, kDirectWrite) == 0) {
    ::memset(buf, 0xa5, kDirectWrite);
    if (::write(fd, buf, kDirectWrite) == static_cast<ssize_t>(kDirectWrite) && ::fsync(fd) == 0)
      status = 'd';
  }
  if (fd >= 0) ::close(fd);
  if (::write(ready_fd, &status, 1) != 1) _exit(3);
  volatile uint64_t spin = 0;
  for (;;) spin = spin + mem[spin % kTouched];
}

class CgroupsPrivilegedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0)
      GTEST_SKIP() << "needs root (makes cgroups and moves a process into them)";
    auto layout = CgroupLayout::Detect();
    if (!layout.ok()) GTEST_SKIP() << "no cgroups here: " << layout.status();
    layout_.emplace(*std::move(layout));
    name_ = "/bt-cgtest-" + std::to_string(::getpid());
    scratch_ = "/var/tmp/bt-cgtest-" + std::to_string(::getpid());
    // Only the hierarchies read here: a new v1 cpuset cgroup has no cpus and would refuse the
    // child.
    std::set<std::string> mounts;
    for (const char* c : {"memory", "cpu", "cpuacct", "pids", "blkio"})
      if (const CgroupHierarchy* h = layout_->V1For(c)) mounts.insert(h->mount_point);
    if (layout_->has_unified()) mounts.insert(layout_->unified_mount());
    for (const auto& m : mounts) {
      std::string dir = m + name_;
      ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir << ": " << strerror(errno);
      dirs_.push_back(dir);
    }
  }

  void TearDown() override {
    if (child_ > 0) {
      ::kill(child_, SIGKILL);
      ::waitpid(child_, nullptr, 0);
    }
    // A reaped process leaves its cgroups at once, but give the kernel a moment before giving up.
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      for (int i = 0; i < 200 && ::rmdir(it->c_str()) != 0 && errno == EBUSY; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      EXPECT_FALSE(Exists(*it)) << "left behind: " << *it;
    }
    ::unlink(scratch_.c_str());
  }

  // Writes value into file in every one of our directories that has it (v1 hierarchies and cgroup2
  // name their files differently, so only the right ones match). False if none had it.
  bool SetEverywhere(const std::string& file, const std::string& value) {
    bool any = false;
    for (const auto& d : dirs_) {
      std::string p = d + "/" + file;
      if (!Exists(p)) continue;
      Status s = WriteFile(p, value);
      EXPECT_TRUE(s.ok()) << s;
      any = true;
    }
    return any;
  }

  std::optional<CgroupLayout> layout_;
  std::string name_, scratch_;
  std::vector<std::string> dirs_;
  pid_t child_ = -1;
};

TEST_F(CgroupsPrivilegedTest, ReadsWhatAProcessInACgroupDid) {
  ASSERT_TRUE(SetEverywhere("memory.limit_in_bytes", std::to_string(kMemLimit)) ||
              SetEverywhere("memory.max", std::to_string(kMemLimit)))
      << "no memory controller for " << name_;
  const bool pids_limited = SetEverywhere("pids.max", "32");
  // 10 ms of CPU per 100 ms: the spinning child is throttled in every period.
  const bool quota =
      SetEverywhere("cpu.cfs_quota_us", "10000") || SetEverywhere("cpu.max", "10000 100000");

  int go[2], ready[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  child_ = ::fork();
  ASSERT_GE(child_, 0);
  if (child_ == 0) Child(go[0], ready[1], scratch_);
  ::close(go[0]);
  ::close(ready[1]);
  SetEverywhere("cgroup.procs", std::to_string(child_));
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  pollfd p{ready[0], POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 20000), 1) << "the child did not report";
  char status = 0;
  ASSERT_EQ(::read(ready[0], &status, 1), 1);
  ::close(go[1]);
  ::close(ready[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // a few throttled periods

  auto cg = Cgroup::ForRuncPath(*layout_, name_);
  ASSERT_TRUE(cg.ok()) << cg.status();
  std::vector<std::string> found = cg->Dirs(), made = dirs_;
  std::sort(found.begin(), found.end());
  std::sort(made.begin(), made.end());
  EXPECT_EQ(found, made);

  // The same cgroup found from the child's pid.
  auto by_pid = Cgroup::ForPid(*layout_, child_);
  ASSERT_TRUE(by_pid.ok()) << by_pid.status();
  EXPECT_EQ(by_pid->V1Dir("memory"), cg->V1Dir("memory"));
  EXPECT_EQ(by_pid->unified_dir(), cg->unified_dir());

  auto pids = cg->Pids();
  ASSERT_TRUE(pids.ok()) << pids.status();
  EXPECT_THAT(*pids, ElementsAre(child_));

  auto s = cg->ReadStats();
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->memory);
  EXPECT_GE(s->memory->usage, kTouched);
  EXPECT_LT(s->memory->usage, kMemLimit);
  EXPECT_EQ(s->memory->limit, kMemLimit);
  ASSERT_TRUE(s->memory->stat);
  const char* anon = s->memory->version == CgroupVersion::kV1 ? "total_rss" : "anon";
  ASSERT_TRUE(s->memory->stat->count(anon)) << anon;
  EXPECT_GE(s->memory->stat->at(anon), kTouched);
  EXPECT_GE(s->memory->UsageWithoutCache(), kTouched) << "anonymous memory is not cache";
  EXPECT_LE(s->memory->UsageWithoutCache(), s->memory->usage);

  ASSERT_TRUE(s->cpu);
  ASSERT_TRUE(s->cpu->total_ns);
  EXPECT_GT(*s->cpu->total_ns, 5'000'000u) << "the child spun for 400 ms at 10% of a CPU";
  EXPECT_LT(*s->cpu->total_ns, 2'000'000'000u) << "the quota held it well below its wall time";
  ASSERT_TRUE(s->cpu->user_ns);
  ASSERT_TRUE(s->cpu->system_ns);
  EXPECT_LE(*s->cpu->user_ns + *s->cpu->system_ns, *s->cpu->total_ns + 100'000'000u)
      << "ticks round";
  if (quota) {
    ASSERT_TRUE(s->cpu->throttling);
    EXPECT_GE(s->cpu->throttling->periods, 2u);
    EXPECT_GE(s->cpu->throttling->throttled_periods, 1u);
    EXPECT_GT(s->cpu->throttling->throttled_ns, 0u);
  }

  // One line for the log: what the kernel reported, to judge plausibility by eye as well.
  std::printf(
      "memory %llu B (%llu without cache), limit %llu; cpu %llu ns (user %llu, system %llu)",
      static_cast<unsigned long long>(s->memory->usage),
      static_cast<unsigned long long>(s->memory->UsageWithoutCache()),
      static_cast<unsigned long long>(s->memory->limit.value_or(0)),
      static_cast<unsigned long long>(*s->cpu->total_ns),
      static_cast<unsigned long long>(*s->cpu->user_ns),
      static_cast<unsigned long long>(*s->cpu->system_ns));
  if (s->cpu->throttling)
    std::printf(", throttled %llu of %llu periods for %llu ns",
                static_cast<unsigned long long>(s->cpu->throttling->throttled_periods),
                static_cast<unsigned long long>(s->cpu->throttling->periods),
                static_cast<unsigned long long>(s->cpu->throttling->throttled_ns));
  std::printf("\n");

  ASSERT_TRUE(s->pids);
  if (berth::testing::kThreadSanitizer) {
    // The forked child may have started the runtime's thread too.
    EXPECT_TRUE(s->pids->current == 1u || s->pids->current == 2u) << s->pids->current;
  } else {
    EXPECT_EQ(s->pids->current, 1u);
  }
  if (pids_limited) {
    EXPECT_EQ(s->pids->limit, 32u);
  }

  // cgroup2's io.stat counts every bio. v1's throttle counters count only on a queue where
  // blk-throttle is active (some cgroup set a limit on the device): on this machine's kernel 6.18
  // they read "Total 0" even at the root, and docker stats shows 0 B there too.
  if (s->blkio && s->blkio->version == CgroupVersion::kV2 && status == 'd') {
    EXPECT_GE(s->blkio->write_bytes, kDirectWrite) << "the O_DIRECT write went to a block device";
  }
  if (layout_->V1For("blkio") != nullptr) {
    EXPECT_TRUE(s->blkio) << "this host has a blkio hierarchy";
  }
}

TEST_F(CgroupsPrivilegedTest, TheTestProcessItself) {
  auto cg = Cgroup::ForPid(*layout_, ::getpid());
  ASSERT_TRUE(cg.ok()) << cg.status();
  auto pids = cg->Pids();
  ASSERT_TRUE(pids.ok()) << pids.status();
  EXPECT_THAT(*pids, Contains(::getpid()));
  auto s = cg->ReadStats();
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(s->memory);
  EXPECT_GT(s->memory->usage, 0u);
  ASSERT_TRUE(s->cpu);
  ASSERT_TRUE(s->cpu->total_ns);
  EXPECT_GT(*s->cpu->total_ns, 0u);
}

TEST_F(CgroupsPrivilegedTest, AMissingCgroupIsNotFound) {
  auto cg = Cgroup::ForRuncPath(*layout_, name_ + "-absent");
  EXPECT_TRUE(absl::IsNotFound(cg.status())) << cg.status();
}

}  // namespace
}  // namespace berth::sys
