// sys/cgroups on fake cgroupfs trees: a temporary directory holding proc/self/mountinfo, fake
// /proc/<pid>/cgroup files and the files the kernel would show under each mount point. Pure v1,
// pure v2, hybrid as the build machine mounts it, missing controllers, "max" limits, malformed
// files.

#include "sys/cgroups.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::sys {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The build machine's /proc/self/mountinfo (Debian 12, kernel 6.18), cgroup lines verbatim, with
// some of its other mounts around them: v1 controllers each on its own hierarchy (cpu and cpuacct
// NOT co-mounted), name=systemd, and cgroup2 at /sys/fs/cgroup/unified.
constexpr char kHybridMountInfo[] =
    "21 26 0:20 / /proc rw,relatime - proc proc rw\n"
    "22 26 0:21 / /sys rw,relatime - sysfs sysfs rw\n"
    "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    "44 26 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw,discard\n";

// A systemd v1 host of old: cpu and cpuacct co-mounted, flags among the super options.
constexpr char kLegacyMountInfo[] =
    "25 30 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup "
    "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd\n"
    "29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup "
    "cgroup "
    "rw,cpu,cpuacct\n"
    "30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup "
    "rw,memory\n"
    "31 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup "
    "rw,pids\n"
    "32 25 0:29 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup "
    "rw,blkio\n";

// A current distribution: one cgroup2 mount.
constexpr char kUnifiedMountInfo[] =
    "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

class CgroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bt-cgroups-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  // Writes root_/rel, making its directories.
  void Write(const std::string& rel, const std::string& text) {
    fs::path p = root_ + "/" + rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  void Mkdir(const std::string& rel) { fs::create_directories(root_ + "/" + rel); }

  CgroupLayout Layout(const std::string& mountinfo) {
    Write("proc/self/mountinfo", mountinfo);
    auto l = CgroupLayout::Detect(root_);
    EXPECT_TRUE(l.ok()) << l.status();
    return *std::move(l);
  }

  // A v1 container cgroup as the kernel shows it under the legacy layout (cpu,cpuacct co-mounted).
  void WriteLegacyContainer(const std::string& cg) {
    const std::string m = "sys/fs/cgroup/memory" + cg, c = "sys/fs/cgroup/cpu,cpuacct" + cg;
    Write(m + "/cgroup.procs", "4242\n4243\n");
    Write(m + "/memory.usage_in_bytes", "10485760\n");
    Write(m + "/memory.limit_in_bytes", "9223372036854771712\n");
    Write(m + "/memory.max_usage_in_bytes", "12582912\n");
    Write(m + "/memory.failcnt", "0\n");
    Write(m + "/memory.stat",
          "cache 4194304\nrss 5242880\ninactive_file 1048576\nhierarchical_memory_limit "
          "9223372036854771712\n"
          "total_cache 4194304\ntotal_rss 5242880\ntotal_inactive_file 3145728\n");
    Write(c + "/cgroup.procs", "4242\n4243\n");
    Write(c + "/cpuacct.usage", "1500000000\n");
    Write(c + "/cpuacct.stat", "user 100\nsystem 50\n");
    Write(c + "/cpu.stat",
          "nr_periods 20\nnr_throttled 3\nthrottled_time 45000000\nnr_bursts 0\nburst_time 0\n");
    Write("sys/fs/cgroup/pids" + cg + "/cgroup.procs", "4242\n4243\n");
    Write("sys/fs/cgroup/pids" + cg + "/pids.current", "2\n");
    Write("sys/fs/cgroup/pids" + cg + "/pids.max", "max\n");
    Write(
        "sys/fs/cgroup/blkio" + cg + "/blkio.throttle.io_service_bytes_recursive",
        "8:0 Read 8192\n8:0 Write 4096\n8:0 Sync 12288\n8:0 Async 0\n8:0 Discard 0\n8:0 Total "
        "12288\n"
        "8:16 Read 100\n8:16 Write 0\n8:16 Sync 100\n8:16 Async 0\n8:16 Discard 0\n8:16 Total 100\n"
        "Total 12388\n");
    Mkdir("sys/fs/cgroup/systemd" + cg);
  }

  // A v2 container cgroup with memory, cpu, io and pids enabled.
  void WriteUnifiedContainer(const std::string& cg) {
    const std::string d = "sys/fs/cgroup" + cg;
    Write(d + "/cgroup.procs", "77\n");
    Write(d + "/memory.current", "20971520\n");
    Write(d + "/memory.max", "67108864\n");
    Write(d + "/memory.events", "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n");
    Write(d + "/memory.stat",
          "anon 8388608\nfile 12582912\ninactive_file 4194304\nactive_file 8388608\n");
    Write(
        d + "/cpu.stat",
        "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\ncore_sched.force_idle_usec 0\n"
        "nr_periods 40\nnr_throttled 5\nthrottled_usec 70000\nnr_bursts 0\nburst_usec 0\n");
    Write(d + "/pids.current", "1\n");
    Write(d + "/pids.max", "100\n");
    Write(d + "/io.stat",
          "259:0 rbytes=1048576 wbytes=2097152 rios=10 wios=20 dbytes=0 dios=0\n"
          "253:1 rbytes=512 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
  }

  std::string root_;
};

// ---------------------------------------------------------------------------------------------
// Layout detection

TEST_F(CgroupsTest, LegacyLayoutFindsCoMountedControllersAndSkipsFlags) {
  CgroupLayout l = Layout(kLegacyMountInfo);
  EXPECT_EQ(l.mode(), CgroupMode::kLegacy);
  EXPECT_EQ(CgroupModeName(l.mode()), "legacy");
  EXPECT_FALSE(l.has_unified());
  ASSERT_EQ(l.v1().size(), 5u);
  const CgroupHierarchy* cpu = l.V1For("cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu, l.V1For("cpuacct"));
  EXPECT_THAT(cpu->controllers, ElementsAre("cpu", "cpuacct"));
  EXPECT_EQ(cpu->mount_point, root_ + "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(cpu->root, "/");
  // xattr and release_agent= are flags; name=systemd names the hierarchy.
  ASSERT_NE(l.V1For("name=systemd"), nullptr);
  EXPECT_THAT(l.V1For("name=systemd")->controllers, ElementsAre("name=systemd"));
  EXPECT_EQ(l.V1For("xattr"), nullptr);
  EXPECT_EQ(l.V1For("hugetlb"), nullptr);
}

TEST_F(CgroupsTest, UnifiedLayoutReadsTheRootsControllers) {
  Write("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
  CgroupLayout l = Layout(kUnifiedMountInfo);
  EXPECT_EQ(l.mode(), CgroupMode::kUnified);
  EXPECT_TRUE(l.v1().empty());
  EXPECT_EQ(l.unified_mount(), root_ + "/sys/fs/cgroup");
  EXPECT_EQ(l.unified_root(), "/");
  EXPECT_THAT(l.unified_controllers(),
              ElementsAre("cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"));
  EXPECT_TRUE(l.UnifiedHas("memory"));
  EXPECT_FALSE(l.UnifiedHas("blkio"));
}

TEST_F(CgroupsTest, HybridLayoutOfTheBuildMachine) {
  Write("sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
  CgroupLayout l = Layout(kHybridMountInfo);
  EXPECT_EQ(l.mode(), CgroupMode::kHybrid);
  EXPECT_EQ(l.v1().size(), 9u);
  for (const char* c :
       {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"}) {
    ASSERT_NE(l.V1For(c), nullptr) << c;
    EXPECT_EQ(l.V1For(c)->mount_point, root_ + "/sys/fs/cgroup/" + c);
  }
  EXPECT_NE(l.V1For("cpu"), l.V1For("cpuacct"));
  EXPECT_EQ(l.unified_mount(), root_ + "/sys/fs/cgroup/unified");
  EXPECT_THAT(l.unified_controllers(), ElementsAre("hugetlb"));
}

TEST_F(CgroupsTest, SystemdHybridWithOnlyANamedV1HierarchyIsUnified) {
  // systemd's "hybrid" with every controller on cgroup2 and only name=systemd on v1.
  Write("sys/fs/cgroup/unified/cgroup.controllers", "cpu io memory pids\n");
  CgroupLayout l = Layout(
      "30 22 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
      "39 30 0:36 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n");
  EXPECT_EQ(l.mode(), CgroupMode::kUnified);
  EXPECT_EQ(l.v1().size(), 1u);
}

TEST_F(CgroupsTest, EscapedMountPointsAndBindMountedSubtrees) {
  // A mount point with a space, and the memory hierarchy mounted twice: a subtree first, then the
  // whole tree, which is the one kept.
  CgroupLayout l = Layout(
      "31 30 0:28 / /sys/fs/cgroup/my\\040cpu rw - cgroup cgroup rw,cpu\n"
      "50 30 0:31 /docker/abc /mnt/mem rw - cgroup cgroup rw,memory\n"
      "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "60 30 0:31 /docker/abc /mnt/mem2 rw - cgroup cgroup rw,memory\n");
  ASSERT_NE(l.V1For("cpu"), nullptr);
  EXPECT_EQ(l.V1For("cpu")->mount_point, root_ + "/sys/fs/cgroup/my cpu");
  ASSERT_EQ(l.v1().size(), 2u);
  EXPECT_EQ(l.V1For("memory")->mount_point, root_ + "/sys/fs/cgroup/memory");
  EXPECT_EQ(l.V1For("memory")->root, "/");
}

TEST_F(CgroupsTest, NoCgroupMountIsNotFoundAndBadMountInfoNamesTheLine) {
  Write("proc/self/mountinfo", "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n");
  auto none = CgroupLayout::Detect(root_);
  EXPECT_TRUE(absl::IsNotFound(none.status())) << none.status();
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("no cgroup filesystem"));

  auto bad = CgroupLayout::FromMountInfo(
      "26 1 254:0 / / rw - ext4 /dev/vda rw\n31 30 0:28 / /x rw cgroup\n", root_);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("line 2"));

  auto missing = CgroupLayout::Detect(root_ + "/nowhere");
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
}

// ---------------------------------------------------------------------------------------------
// Locating a cgroup

TEST_F(CgroupsTest, RuncPathIsFoundInEveryHierarchyOfTheBuildMachine) {
  // What runc 1.1 made for cgroupsPath /berth/<id> on the build machine: the directory in all nine
  // v1 hierarchies and in cgroup2.
  for (const char* h : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                        "systemd", "unified"})
    Mkdir(std::string("sys/fs/cgroup/") + h + "/berth/c1");
  Write("sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
  CgroupLayout l = Layout(kHybridMountInfo);
  auto cg = Cgroup::ForRuncPath(l, "/berth/c1");
  ASSERT_TRUE(cg.ok()) << cg.status();
  EXPECT_EQ(cg->V1Dir("memory"), root_ + "/sys/fs/cgroup/memory/berth/c1");
  EXPECT_EQ(cg->V1Dir("cpuacct"), root_ + "/sys/fs/cgroup/cpuacct/berth/c1");
  EXPECT_EQ(cg->unified_dir(), root_ + "/sys/fs/cgroup/unified/berth/c1");
  EXPECT_EQ(cg->Dirs().size(), 10u);
  EXPECT_EQ(cg->V1Dir("rdma"), "");
}

TEST_F(CgroupsTest, RuncPathMustBeAbsoluteWithoutDots) {
  CgroupLayout l = Layout(kLegacyMountInfo);
  for (const char* bad : {"berth/c1", "", "/berth/../etc", "/berth/./c1"}) {
    auto cg = Cgroup::ForRuncPath(l, bad);
    EXPECT_TRUE(absl::IsInvalidArgument(cg.status())) << bad << ": " << cg.status();
  }
}

TEST_F(CgroupsTest, MissingCgroupIsNotFoundNamingEveryPathTried) {
  CgroupLayout l = Layout(kLegacyMountInfo);
  auto cg = Cgroup::ForRuncPath(l, "/berth/gone");
  ASSERT_TRUE(absl::IsNotFound(cg.status())) << cg.status();
  std::string msg(cg.status().message());
  EXPECT_THAT(msg, HasSubstr("/berth/gone"));
  for (const char* h : {"systemd", "cpu,cpuacct", "memory", "pids", "blkio"})
    EXPECT_THAT(msg, HasSubstr(root_ + "/sys/fs/cgroup/" + h + "/berth/gone")) << h;
}

TEST_F(CgroupsTest, PidIsResolvedThroughItsProcCgroupFile) {
  // The build machine's view of a runc container's init (hierarchy ids as /proc shows them).
  for (const char* h : {"cpu", "cpuacct", "memory", "pids", "blkio", "unified"})
    Mkdir(std::string("sys/fs/cgroup/") + h + "/berth/c1");
  Write("proc/4242/cgroup",
        "9:name=systemd:/berth/c1\n8:pids:/berth/c1\n7:blkio:/berth/c1\n6:freezer:/berth/c1\n"
        "5:devices:/berth/c1\n4:memory:/berth/c1\n3:cpuset:/berth/c1\n2:cpuacct:/berth/c1\n1:cpu:/"
        "berth/c1\n"
        "0::/berth/c1\n");
  CgroupLayout l = Layout(kHybridMountInfo);
  auto cg = Cgroup::ForPid(l, 4242);
  ASSERT_TRUE(cg.ok()) << cg.status();
  EXPECT_EQ(cg->V1Dir("memory"), root_ + "/sys/fs/cgroup/memory/berth/c1");
  EXPECT_EQ(cg->V1Dir("pids"), root_ + "/sys/fs/cgroup/pids/berth/c1");
  EXPECT_EQ(cg->unified_dir(), root_ + "/sys/fs/cgroup/unified/berth/c1");
  EXPECT_EQ(cg->V1Dir("freezer"), "");  // that directory was not made in the fake tree
}

TEST_F(CgroupsTest, PidPathsAreTakenRelativeToTheMountRoot) {
  // Inside a container whose cgroup mounts show only its own subtree (no cgroupns): /proc says the
  // full path, the mount shows /docker/abc as its top.
  Mkdir("sys/fs/cgroup/memory/sub");
  Write("proc/7/cgroup", "4:memory:/docker/abc/sub\n");
  Write("proc/8/cgroup", "4:memory:/elsewhere\n");
  CgroupLayout l =
      Layout("34 30 0:31 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  auto cg = Cgroup::ForPid(l, 7);
  ASSERT_TRUE(cg.ok()) << cg.status();
  EXPECT_EQ(cg->V1Dir("memory"), root_ + "/sys/fs/cgroup/memory/sub");
  auto outside = Cgroup::ForPid(l, 8);
  ASSERT_TRUE(absl::IsNotFound(outside.status())) << outside.status();
  EXPECT_THAT(std::string(outside.status().message()), HasSubstr("/elsewhere (outside"));
}

TEST_F(CgroupsTest, GonePidAndMalformedProcCgroup) {
  CgroupLayout l = Layout(kLegacyMountInfo);
  auto gone = Cgroup::ForPid(l, 999999);
  EXPECT_TRUE(absl::IsNotFound(gone.status())) << gone.status();
  EXPECT_THAT(std::string(gone.status().message()), HasSubstr("no such process"));
  Write("proc/5/cgroup", "4:memory\n");
  auto bad = Cgroup::ForPid(l, 5);
  EXPECT_TRUE(absl::IsInternal(bad.status())) << bad.status();
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("line 1"));
}

// ---------------------------------------------------------------------------------------------
// Reading

TEST_F(CgroupsTest, LegacyStats) {
  WriteLegacyContainer("/berth/c1");
  CgroupLayout l = Layout(kLegacyMountInfo);
  auto cg = Cgroup::ForRuncPath(l, "/berth/c1");
  ASSERT_TRUE(cg.ok()) << cg.status();
  auto s = cg->ReadStats();
  ASSERT_TRUE(s.ok()) << s.status();

  ASSERT_TRUE(s->memory);
  EXPECT_EQ(s->memory->version, CgroupVersion::kV1);
  EXPECT_EQ(s->memory->usage, 10485760u);
  EXPECT_FALSE(s->memory->limit) << "v1's page-counter maximum is no limit";
  EXPECT_EQ(s->memory->max_usage, 12582912u);
  EXPECT_EQ(s->memory->failcnt, 0u);
  ASSERT_TRUE(s->memory->stat);
  EXPECT_EQ(s->memory->stat->at("cache"), 4194304u);
  EXPECT_EQ(s->memory->stat->at("hierarchical_memory_limit"), 9223372036854771712u);
  EXPECT_EQ(s->memory->UsageWithoutCache(), 10485760u - 3145728u) << "usage - total_inactive_file";

  ASSERT_TRUE(s->cpu);
  EXPECT_EQ(s->cpu->total_ns, 1500000000u);
  const uint64_t tick_ns = 1000000000u / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  EXPECT_EQ(s->cpu->user_ns, 100 * tick_ns);
  EXPECT_EQ(s->cpu->system_ns, 50 * tick_ns);
  ASSERT_TRUE(s->cpu->throttling);
  EXPECT_EQ(s->cpu->throttling->periods, 20u);
  EXPECT_EQ(s->cpu->throttling->throttled_periods, 3u);
  EXPECT_EQ(s->cpu->throttling->throttled_ns, 45000000u);

  ASSERT_TRUE(s->pids);
  EXPECT_EQ(s->pids->current, 2u);
  EXPECT_FALSE(s->pids->limit) << "max";

  ASSERT_TRUE(s->blkio);
  EXPECT_EQ(s->blkio->version, CgroupVersion::kV1);
  EXPECT_EQ(s->blkio->read_bytes, 8292u);
  EXPECT_EQ(s->blkio->write_bytes, 4096u);
  ASSERT_EQ(s->blkio->service_bytes.size(), 12u) << "every device line, not the closing Total";
  EXPECT_EQ(s->blkio->service_bytes[0].major, 8u);
  EXPECT_EQ(s->blkio->service_bytes[0].minor, 0u);
  EXPECT_EQ(s->blkio->service_bytes[0].op, "Read");
  EXPECT_EQ(s->blkio->service_bytes[6].minor, 16u);

  auto pids = cg->Pids();
  ASSERT_TRUE(pids.ok()) << pids.status();
  EXPECT_THAT(*pids, ElementsAre(4242, 4243));
}

TEST_F(CgroupsTest, UnifiedStats) {
  Write("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
  WriteUnifiedContainer("/berth/c2");
  CgroupLayout l = Layout(kUnifiedMountInfo);
  auto cg = Cgroup::ForRuncPath(l, "/berth/c2");
  ASSERT_TRUE(cg.ok()) << cg.status();
  EXPECT_EQ(cg->unified_dir(), root_ + "/sys/fs/cgroup/berth/c2");
  auto s = cg->ReadStats();
  ASSERT_TRUE(s.ok()) << s.status();

  ASSERT_TRUE(s->memory);
  EXPECT_EQ(s->memory->version, CgroupVersion::kV2);
  EXPECT_EQ(s->memory->usage, 20971520u);
  EXPECT_EQ(s->memory->limit, 67108864u);
  EXPECT_FALSE(s->memory->max_usage);
  EXPECT_EQ(s->memory->failcnt, 2u) << "memory.events oom, as moby reports it";
  EXPECT_EQ(s->memory->UsageWithoutCache(), 20971520u - 4194304u) << "usage - inactive_file";

  ASSERT_TRUE(s->cpu);
  EXPECT_EQ(s->cpu->total_ns, 2500000000u);
  EXPECT_EQ(s->cpu->user_ns, 2000000000u);
  EXPECT_EQ(s->cpu->system_ns, 500000000u);
  ASSERT_TRUE(s->cpu->throttling);
  EXPECT_EQ(s->cpu->throttling->periods, 40u);
  EXPECT_EQ(s->cpu->throttling->throttled_periods, 5u);
  EXPECT_EQ(s->cpu->throttling->throttled_ns, 70000000u);

  ASSERT_TRUE(s->pids);
  EXPECT_EQ(s->pids->current, 1u);
  EXPECT_EQ(s->pids->limit, 100u);

  ASSERT_TRUE(s->blkio);
  EXPECT_EQ(s->blkio->version, CgroupVersion::kV2);
  EXPECT_EQ(s->blkio->read_bytes, 1048576u + 512u);
  EXPECT_EQ(s->blkio->write_bytes, 2097152u);
  ASSERT_EQ(s->blkio->service_bytes.size(), 4u);
  EXPECT_EQ(s->blkio->service_bytes[0].major, 259u);
  EXPECT_EQ(s->blkio->service_bytes[0].op, "read");
  EXPECT_EQ(s->blkio->service_bytes[1].op, "write");
  EXPECT_EQ(s->blkio->service_bytes[1].value, 2097152u);
  EXPECT_EQ(s->blkio->service_bytes[2].minor, 1u);
}

TEST_F(CgroupsTest, MaxMeansNoLimitOnBothVersions) {
  WriteUnifiedContainer("/berth/c2");
  Write("sys/fs/cgroup/berth/c2/memory.max", "max\n");
  Write("sys/fs/cgroup/berth/c2/pids.max", "max\n");
  CgroupLayout l = Layout(kUnifiedMountInfo);
  auto s = Cgroup::ForRuncPath(l, "/berth/c2")->ReadStats();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->memory->limit);
  EXPECT_FALSE(s->pids->limit);

  WriteLegacyContainer("/berth/c1");
  Write("sys/fs/cgroup/memory/berth/c1/memory.limit_in_bytes", "268435456\n");
  Write("sys/fs/cgroup/pids/berth/c1/pids.max", "64\n");
  CgroupLayout v1 = Layout(kLegacyMountInfo);
  auto s1 = Cgroup::ForRuncPath(v1, "/berth/c1")->ReadStats();
  ASSERT_TRUE(s1.ok()) << s1.status();
  EXPECT_EQ(s1->memory->limit, 268435456u);
  EXPECT_EQ(s1->pids->limit, 64u);
}

TEST_F(CgroupsTest, HybridReadsV1ControllersAndTheCoreCpuStatOfCgroup2) {
  // The build machine: every controller Docker reports is on v1; cgroup2 offers hugetlb only, its
  // cpu.stat carries the core usage keys but no throttling.
  const std::string cg = "/berth/c3";
  for (const char* h : {"cpu", "cpuacct", "memory", "pids", "blkio"})
    Mkdir(std::string("sys/fs/cgroup/") + h + cg);
  Write("sys/fs/cgroup/memory" + cg + "/memory.usage_in_bytes", "4096\n");
  Write("sys/fs/cgroup/memory" + cg + "/memory.limit_in_bytes", "67108864\n");
  Write("sys/fs/cgroup/memory" + cg + "/memory.stat",
        "total_inactive_file 8192\ninactive_file 1024\n");
  Write("sys/fs/cgroup/cpuacct" + cg + "/cpuacct.usage", "56857000\n");
  Write("sys/fs/cgroup/cpuacct" + cg + "/cpuacct.stat", "user 2\nsystem 3\n");
  Write("sys/fs/cgroup/cpu" + cg + "/cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n");
  Write("sys/fs/cgroup/pids" + cg + "/pids.current", "1\n");
  Write("sys/fs/cgroup/pids" + cg + "/pids.max", "50\n");
  Write("sys/fs/cgroup/pids" + cg + "/cgroup.procs", "25188\n");
  Write("sys/fs/cgroup/blkio" + cg + "/blkio.throttle.io_service_bytes_recursive", "Total 0\n");
  Write("sys/fs/cgroup/unified/cgroup.controllers", "hugetlb\n");
  Write("sys/fs/cgroup/unified" + cg + "/cgroup.procs", "25188\n");
  Write("sys/fs/cgroup/unified" + cg + "/cpu.stat", "usage_usec 999\nuser_usec 1\nsystem_usec 2\n");
  CgroupLayout l = Layout(kHybridMountInfo);
  auto c = Cgroup::ForRuncPath(l, cg);
  ASSERT_TRUE(c.ok()) << c.status();
  auto s = c->ReadStats();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->memory->version, CgroupVersion::kV1);
  EXPECT_EQ(s->memory->limit, 67108864u);
  // total_inactive_file is not below usage: docker/cli then tries inactive_file.
  EXPECT_EQ(s->memory->UsageWithoutCache(), 4096u - 1024u);
  EXPECT_EQ(s->cpu->total_ns, 56857000u) << "cpuacct, not cgroup2's core cpu.stat";
  ASSERT_TRUE(s->cpu->throttling);
  EXPECT_EQ(s->cpu->throttling->periods, 0u);
  EXPECT_EQ(s->pids->limit, 50u);
  ASSERT_TRUE(s->blkio);
  EXPECT_TRUE(s->blkio->service_bytes.empty());
  EXPECT_EQ(s->blkio->read_bytes, 0u);
  auto pids = c->Pids();
  ASSERT_TRUE(pids.ok()) << pids.status();
  EXPECT_THAT(*pids, ElementsAre(25188));
}

TEST_F(CgroupsTest, MissingControllersAreAbsentNotErrors) {
  // v1 host without pids and blkio hierarchies.
  Write("sys/fs/cgroup/memory/berth/c1/memory.usage_in_bytes", "1\n");
  Write("sys/fs/cgroup/memory/berth/c1/cgroup.procs", "");
  CgroupLayout v1 = Layout(
      "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n");
  auto c1 = Cgroup::ForRuncPath(v1, "/berth/c1");
  ASSERT_TRUE(c1.ok()) << c1.status();
  auto s1 = c1->ReadStats();
  ASSERT_TRUE(s1.ok()) << s1.status();
  ASSERT_TRUE(s1->memory);
  EXPECT_EQ(s1->memory->usage, 1u);
  EXPECT_FALSE(s1->memory->limit) << "no limit file, no limit";
  EXPECT_FALSE(s1->memory->stat);
  EXPECT_EQ(s1->memory->UsageWithoutCache(), 1u);
  EXPECT_FALSE(s1->cpu) << "the cpu,cpuacct hierarchy has no such cgroup";
  EXPECT_FALSE(s1->pids);
  EXPECT_FALSE(s1->blkio);
  auto none = c1->Pids();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());

  // v2 cgroup whose parent enables neither memory nor cpu nor io: only the core cpu.stat and pids.
  Write("sys/fs/cgroup/berth/c2/cpu.stat", "usage_usec 10\nuser_usec 4\nsystem_usec 6\n");
  Write("sys/fs/cgroup/berth/c2/pids.current", "3\n");
  CgroupLayout v2 = Layout(kUnifiedMountInfo);
  auto s2 = Cgroup::ForRuncPath(v2, "/berth/c2")->ReadStats();
  ASSERT_TRUE(s2.ok()) << s2.status();
  EXPECT_FALSE(s2->memory);
  ASSERT_TRUE(s2->cpu);
  EXPECT_EQ(s2->cpu->total_ns, 10000u);
  EXPECT_FALSE(s2->cpu->throttling) << "no nr_periods without the cpu controller";
  ASSERT_TRUE(s2->pids);
  EXPECT_FALSE(s2->pids->limit);
  EXPECT_FALSE(s2->blkio);
}

TEST_F(CgroupsTest, NothingReadableIsNotFoundNamingTheFilesTried) {
  Mkdir("sys/fs/cgroup/berth/empty");
  CgroupLayout l = Layout(kUnifiedMountInfo);
  auto c = Cgroup::ForRuncPath(l, "/berth/empty");
  ASSERT_TRUE(c.ok()) << c.status();
  auto s = c->ReadStats();
  ASSERT_TRUE(absl::IsNotFound(s.status())) << s.status();
  std::string msg(s.status().message());
  EXPECT_THAT(msg, HasSubstr(root_ + "/sys/fs/cgroup/berth/empty/memory.current"));
  EXPECT_THAT(msg, HasSubstr("/io.stat"));

  // A cgroup removed after it was found.
  WriteUnifiedContainer("/berth/c2");
  auto c2 = Cgroup::ForRuncPath(l, "/berth/c2");
  ASSERT_TRUE(c2.ok()) << c2.status();
  fs::remove_all(root_ + "/sys/fs/cgroup/berth/c2");
  EXPECT_TRUE(absl::IsNotFound(c2->ReadStats().status()));
  EXPECT_TRUE(absl::IsNotFound(c2->Pids().status()));
}

TEST_F(CgroupsTest, PidsIncludeDescendantCgroups) {
  Write("sys/fs/cgroup/berth/c2/cgroup.procs", "30\n10\n");
  Write("sys/fs/cgroup/berth/c2/inner/cgroup.procs", "20\n");
  Write("sys/fs/cgroup/berth/c2/inner/deeper/cgroup.procs", "10\n5\n");
  Write("sys/fs/cgroup/berth/c2/memory.current", "0\n");
  CgroupLayout l = Layout(kUnifiedMountInfo);
  auto pids = Cgroup::ForRuncPath(l, "/berth/c2")->Pids();
  ASSERT_TRUE(pids.ok()) << pids.status();
  EXPECT_THAT(*pids, ElementsAre(5, 10, 20, 30));
}

// Each malformed file fails the read with the file's path and what is wrong; nothing is guessed.
TEST_F(CgroupsTest, MalformedFilesAreErrorsNamingTheFile) {
  struct Case {
    std::string file, text, want;
  };
  const std::vector<Case> cases = {
      {"memory.current", "lots\n", "\"lots\" is not a number"},
      {"memory.current", "-5\n", "is not a number"},
      {"memory.current", "\n", "is not a number"},
      {"memory.max", "unlimited\n", "memory.max"},
      {"memory.stat", "anon 1\ninactive_file\n", "line 2"},
      {"memory.stat", "anon one\n", "line 1"},
      {"memory.events", "oom -1\n", "memory.events"},
      {"cpu.stat", "usage_usec 1 2\n", "cpu.stat: line 1"},
      {"pids.current", "3 4\n", "pids.current"},
      {"pids.max", "-1\n", "pids.max"},
      {"io.stat", "259:0 rbytes=1 wbytes=two\n", "\"wbytes=two\" is not key=number"},
      {"io.stat", "sda rbytes=1\n", "\"sda\" is not a major:minor device"},
      {"io.stat", "8:0 rbytes\n", "line 1"},
  };
  CgroupLayout l = Layout(kUnifiedMountInfo);
  for (const auto& c : cases) {
    WriteUnifiedContainer("/berth/bad");
    Write("sys/fs/cgroup/berth/bad/" + c.file, c.text);
    auto s = Cgroup::ForRuncPath(l, "/berth/bad")->ReadStats();
    ASSERT_TRUE(absl::IsInternal(s.status())) << c.file << " " << c.text << ": " << s.status();
    std::string msg(s.status().message());
    EXPECT_THAT(msg, HasSubstr(root_ + "/sys/fs/cgroup/berth/bad/" + c.file)) << c.text;
    EXPECT_THAT(msg, HasSubstr(c.want)) << c.file;
  }

  const std::vector<Case> v1_cases = {
      {"blkio/berth/bad/blkio.throttle.io_service_bytes_recursive", "8:0 Read\n", "line 1"},
      {"blkio/berth/bad/blkio.throttle.io_service_bytes_recursive", "8-0 Read 5\n", "major:minor"},
      {"cpu,cpuacct/berth/bad/cpuacct.usage", "1e9\n", "\"1e9\" is not a number"},
      {"cpu,cpuacct/berth/bad/cpuacct.stat", "user x\n", "line 1"},
      {"memory/berth/bad/memory.limit_in_bytes", "max max\n", "is not a number"},
  };
  CgroupLayout v1 = Layout(kLegacyMountInfo);
  for (const auto& c : v1_cases) {
    WriteLegacyContainer("/berth/bad");
    Write("sys/fs/cgroup/" + c.file, c.text);
    auto s = Cgroup::ForRuncPath(v1, "/berth/bad")->ReadStats();
    ASSERT_TRUE(absl::IsInternal(s.status())) << c.file << ": " << s.status();
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(c.want)) << c.file;
  }

  Write("sys/fs/cgroup/pids/berth/bad/cgroup.procs", "12\nabc\n");
  auto pids = Cgroup::ForRuncPath(v1, "/berth/bad")->Pids();
  ASSERT_TRUE(absl::IsInternal(pids.status())) << pids.status();
  EXPECT_THAT(std::string(pids.status().message()), HasSubstr("line 2 \"abc\" is not a pid"));
}

TEST_F(CgroupsTest, UsageWithoutCacheFollowsDockerCli) {
  CgroupMemoryStats v2;
  v2.version = CgroupVersion::kV2;
  v2.usage = 100;
  EXPECT_EQ(v2.UsageWithoutCache(), 100u) << "no memory.stat";
  v2.stat = std::map<std::string, uint64_t>{{"inactive_file", 30}};
  EXPECT_EQ(v2.UsageWithoutCache(), 70u);
  v2.stat = std::map<std::string, uint64_t>{{"inactive_file", 100}};
  EXPECT_EQ(v2.UsageWithoutCache(), 100u) << "not below usage: usage as is";
  v2.stat = std::map<std::string, uint64_t>{{"total_inactive_file", 30}, {"inactive_file", 10}};
  EXPECT_EQ(v2.UsageWithoutCache(), 90u) << "v2 has no total_ keys; a stray one is not v2's cache";

  CgroupMemoryStats v1;
  v1.version = CgroupVersion::kV1;
  v1.usage = 100;
  v1.stat = std::map<std::string, uint64_t>{
      {"total_inactive_file", 30}, {"inactive_file", 10}, {"cache", 50}};
  EXPECT_EQ(v1.UsageWithoutCache(), 70u) << "total_inactive_file, not the pre-19.03 cache";
}

}  // namespace
}  // namespace berth::sys
