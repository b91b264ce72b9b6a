// docker diff over a real overlay upper dir (whiteouts are 0:0 char devices and opaque dirs a
// trusted.* xattr: root only), and docker cp's in-root opens, extraction and walk on a temp tree.
#include "engine/container_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sys/tar.h"

namespace berth::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

void Sh(const std::string& cmd) { ASSERT_EQ(::system(cmd.c_str()), 0) << cmd; }

std::string Changes(const std::vector<FsChange>& cs) {
  std::string out;
  for (const auto& c : cs) out += std::string(1, "CAD"[c.kind]) + " " + c.path + "\n";
  return out;
}

class ContainerFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (whiteout devices, trusted.* xattrs)";
    char t[] = "/tmp/berth-fs-XXXXXX";
    ASSERT_NE(::mkdtemp(t), nullptr);
    base_ = t;
    for (const char* d : {"/lower1", "/lower0", "/upper", "/root", "/host"})
      ASSERT_EQ(::mkdir((base_ + d).c_str(), 0755), 0);
  }
  void TearDown() override {
    if (!base_.empty()) Sh("rm -rf '" + base_ + "'");
  }
  std::string P(const std::string& rel) const { return base_ + "/" + rel; }
  void Whiteout(const std::string& rel) {
    ASSERT_EQ(::mknod(P(rel).c_str(), S_IFCHR | 0, makedev(0, 0)), 0) << rel;
  }
  // Copies a lower path's metadata as an overlay copy-up does.
  void CopyUp(const std::string& lower, const std::string& upper) {
    Sh("cp -a '" + P(lower) + "' '" + P(upper) + "'");
  }
  std::string base_;
};

TEST_F(ContainerFsTest, DiffReportsDockersKindsAndParents) {
  // The image: two layers, lower0 the top-most.
  Sh("mkdir -p " + P("lower1/etc") + " " + P("lower1/tmp") + " " + P("lower1/var/lib") + " " +
     P("lower1/opt/old"));
  Sh("echo a > " + P("lower1/etc/passwd") + "; echo b > " + P("lower1/etc/group") +
     "; echo y > " + P("lower1/tmp/y") + "; echo k > " + P("lower1/var/lib/keep") +
     "; echo o > " + P("lower1/opt/old/f") + "; echo z > " + P("lower1/gone"));
  Sh("mkdir -p " + P("lower0/etc") + " && touch -r " + P("lower1/etc") + " " + P("lower0/etc"));
  Whiteout("lower0/gone");  // deleted by the top layer already: not in the image
  Sh("touch -d @1500000000 " + P("lower1/etc") + " " + P("lower0/etc"));

  // The container: modified /etc/passwd, added /etc/x, deleted /tmp/y, an untouched copied-up
  // /var (no change below it: not reported), an opaque /opt (deleted and made again), a new dir.
  CopyUp("lower1/etc", "upper/etc");
  Sh("rm -f " + P("upper/etc/group") + " && echo changed >> " + P("upper/etc/passwd") +
     " && echo new > " + P("upper/etc/x"));
  Whiteout("upper/etc/group");
  Sh("touch -d @1500000000 " + P("upper/etc"));
  Sh("mkdir -p " + P("upper/tmp") + " && touch -r " + P("lower1/tmp") + " " + P("upper/tmp"));
  Whiteout("upper/tmp/y");
  Sh("mkdir -p " + P("upper/var") + " && touch -r " + P("lower1/var") + " " + P("upper/var"));
  Sh("mkdir -p " + P("upper/opt") + " && touch -r " + P("lower1/opt") + " " + P("upper/opt") +
     " && echo n > " + P("upper/opt/new"));
  ASSERT_EQ(::lsetxattr(P("upper/opt").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  Sh("mkdir -p " + P("upper/newdir/sub") + " && echo 1 > " + P("upper/newdir/sub/f"));
  Whiteout("upper/gone");  // whites out what the image does not have: nothing to report
  Sh("mkdir -p " + P("upper/etc2") + " && touch " + P("upper/hosts-mountpoint"));

  auto cs = OverlayChanges(P("upper"), {P("lower0"), P("lower1")},
                           [](const std::string& rel) { return rel == "hosts-mountpoint"; });
  ASSERT_TRUE(cs.ok()) << cs.status();
  EXPECT_EQ(Changes(*cs),
            "C /etc\n"
            "D /etc/group\n"
            "C /etc/passwd\n"
            "A /etc/x\n"
            "A /etc2\n"
            "A /newdir\n"
            "A /newdir/sub\n"
            "A /newdir/sub/f\n"
            "C /opt\n"
            "A /opt/new\n"
            "D /opt/old\n"
            "C /tmp\n"
            "D /tmp/y\n");
}

TEST_F(ContainerFsTest, DiffOfAnUntouchedContainerIsEmpty) {
  Sh("mkdir -p " + P("lower1/etc") + " && echo a > " + P("lower1/etc/passwd"));
  auto cs = OverlayChanges(P("upper"), {P("lower1")});
  ASSERT_TRUE(cs.ok()) << cs.status();
  EXPECT_TRUE(cs->empty()) << Changes(*cs);
}

TEST_F(ContainerFsTest, OpenInRootKeepsSymlinksAndDotDotInside) {
  Sh("mkdir -p " + P("root/etc") + " && echo inside > " + P("root/etc/secret") +
     " && echo HOST > " + P("host/secret"));
  Sh("ln -s /etc " + P("root/abs") + " && ln -s ../../../../../../" + P("host") + " " +
     P("root/climb"));
  UniqueFd root(::open(P("root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(root.valid());
  auto read = [&](const std::string& path) -> std::string {
    auto fd = OpenInRoot(root.get(), path, O_RDONLY);
    if (!fd.ok()) return std::string(fd.status().message());
    char buf[64];
    ssize_t n = ::read(fd->get(), buf, sizeof buf);
    return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
  };
  EXPECT_EQ(read("/abs/secret"), "inside\n");
  EXPECT_EQ(read("/../../../etc/secret"), "inside\n");
  EXPECT_THAT(read("/climb/secret"), HasSubstr("No such file"));  // not the host's
  auto resolved = ResolveInScope("/climb/secret", RootReadlink(root.get()));
  ASSERT_TRUE(resolved.ok());
  EXPECT_THAT(*resolved, ::testing::StartsWith("/tmp/berth-fs-"));  // inside the root
}

TEST_F(ContainerFsTest, ExtractInRootStaysInsideAndHonoursNoOverwrite) {
  Sh("mkdir -p " + P("root/dst") + " " + P("root/dst/isdir") + " && ln -s / " + P("root/dst/up") +
     " && echo old > " + P("root/dst/file"));
  std::string tarfile = P("in.tar");
  {
    UniqueFd fd(::open(tarfile.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    tar::Writer w(fd.get());
    ASSERT_TRUE(w.AddFile("a.txt", "hello", 0640, 1500000000).ok());
    ASSERT_TRUE(w.AddFile(".wh.plain", "not a whiteout").ok());
    // Through the symlink "up" -> "/": the container's root, never the host's.
    ASSERT_TRUE(w.AddFile("up/escaped", "x").ok());
    ASSERT_TRUE(w.Finish().ok());
  }
  UniqueFd root(::open(P("root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  {
    UniqueFd in(::open(tarfile.c_str(), O_RDONLY | O_CLOEXEC));
    tar::ExtractOptions opts;
    opts.chown = true;
    opts.uid = 1234;
    opts.gid = 5678;
    auto res = tar::ExtractInRoot(in.get(), root.get(), "/dst", opts);
    ASSERT_TRUE(res.ok()) << res.status();
  }
  struct stat st;
  ASSERT_EQ(::lstat(P("root/dst/a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_EQ(::lstat(P("root/dst/.wh.plain").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(::lstat(P("root/escaped").c_str(), &st), 0);
  EXPECT_NE(::lstat("/escaped", &st), 0);

  // noOverwriteDirNonDir, both ways, in Docker's words.
  for (auto [name, type, want] : {std::tuple{"isdir", '0', "cannot overwrite directory"},
                                  std::tuple{"file", '5', "cannot overwrite non-directory"}}) {
    std::string t2 = P("in2.tar");
    {
      UniqueFd fd(::open(t2.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      tar::Writer w(fd.get());
      tar::Entry e;
      e.name = name;
      e.type = type;
      e.mode = 0755;
      ASSERT_TRUE(w.AddEntry(e).ok());
      ASSERT_TRUE(w.Finish().ok());
    }
    UniqueFd in(::open(t2.c_str(), O_RDONLY | O_CLOEXEC));
    tar::ExtractOptions opts;
    opts.no_overwrite_dir_non_dir = true;
    auto res = tar::ExtractInRoot(in.get(), root.get(), "dst", opts);
    ASSERT_FALSE(res.ok()) << name;
    EXPECT_THAT(res.status().message(), HasSubstr(want));
  }

  // Entries that climb out of the destination are refused.
  std::string t3 = P("in3.tar");
  {
    UniqueFd fd(::open(t3.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    tar::Writer w(fd.get());
    ASSERT_TRUE(w.AddFile("../outside", "x").ok());
    ASSERT_TRUE(w.Finish().ok());
  }
  UniqueFd in(::open(t3.c_str(), O_RDONLY | O_CLOEXEC));
  auto res = tar::ExtractInRoot(in.get(), root.get(), "dst", {});
  EXPECT_FALSE(res.ok());
  EXPECT_NE(::lstat(P("root/outside").c_str(), &st), 0);
}

TEST_F(ContainerFsTest, AddPathAtRebasesAndNeverFollowsSymlinks) {
  Sh("mkdir -p " + P("root/etc/sub") + " && echo pw > " + P("root/etc/passwd") +
     " && ln -s /host-secret " + P("root/etc/link") + " && ln " + P("root/etc/passwd") + " " +
     P("root/etc/sub/hard"));
  std::string out = P("out.tar");
  {
    UniqueFd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    UniqueFd root(::open(P("root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    tar::Writer w(fd.get());
    ASSERT_TRUE(w.AddPathAt(root.get(), "etc", "renamed").ok());
    // A symlink named directly is archived as the symlink, never its target.
    UniqueFd etc(::open(P("root/etc").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(w.AddPathAt(etc.get(), "link", "link").ok());
    ASSERT_TRUE(w.Finish().ok());
  }
  UniqueFd in(::open(out.c_str(), O_RDONLY | O_CLOEXEC));
  tar::Reader r(in.get());
  std::vector<std::string> names;
  tar::Entry e;
  while (*r.Next(&e)) {
    names.push_back(std::string(1, e.type) + " " + e.name +
                    (e.linkname.empty() ? "" : " -> " + e.linkname));
  }
  EXPECT_THAT(names, ElementsAre("5 renamed", "2 renamed/link -> /host-secret",
                                 "0 renamed/passwd", "5 renamed/sub",
                                 "1 renamed/sub/hard -> renamed/passwd", "2 link -> /host-secret"));
}

}  // namespace
}  // namespace berth::engine
