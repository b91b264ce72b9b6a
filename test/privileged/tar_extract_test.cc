// ExtractLayer against the real kernel: ownership, devices and trusted.* xattrs need root.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sys/tar.h"

namespace berth::tar {
namespace {

using ::testing::HasSubstr;

std::string Sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr) << cmd;
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << cmd << "\n" << out;
  return out;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string Xattr(const std::string& path, const char* name) {
  char buf[256];
  ssize_t n = ::lgetxattr(path.c_str(), name, buf, sizeof(buf));
  return n < 0 ? "<none>" : std::string(buf, static_cast<size_t>(n));
}

Entry Make(const std::string& name, char type, uint32_t mode, uint32_t uid = 0, uint32_t gid = 0,
           int64_t mtime = 0) {
  Entry e;
  e.name = name;
  e.type = type;
  e.mode = mode;
  e.uid = uid;
  e.gid = gid;
  e.mtime = mtime;
  return e;
}

class TarExtractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "needs root (lchown, mknod of devices, trusted.* xattrs)";
    }
    char t[] = "/tmp/berth-tar-priv-XXXXXX";
    ASSERT_NE(::mkdtemp(t), nullptr);
    base_ = t;
    layer_ = base_ + "/layer";
    outside_ = base_ + "/outside";
    ASSERT_EQ(::mkdir(layer_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(outside_.c_str(), 0755), 0);
    Sh("printf secret > '" + outside_ + "/secret'");
  }
  void TearDown() override {
    if (!base_.empty()) Sh("rm -rf '" + base_ + "'");
  }

  // An archive at base_/<name> written by `fill`.
  template <typename F>
  std::string Archive(const std::string& name, F fill) {
    std::string path = base_ + "/" + name;
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    EXPECT_TRUE(fd.valid());
    Writer w(fd.get());
    fill(w);
    EXPECT_TRUE(w.Finish().ok());
    return path;
  }

  absl::StatusOr<ExtractResult> Extract(const std::string& tarfile) {
    UniqueFd fd(::open(tarfile.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(fd.valid());
    return ExtractLayer(fd.get(), layer_);
  }

  std::string L(const std::string& rel) const { return layer_ + "/" + rel; }

  std::string base_, layer_, outside_;
};

TEST_F(TarExtractTest, ExtractsFilesDevicesOwnershipHardlinksAndWhiteouts) {
  std::string tarfile = Archive("layer.tar", [](Writer& w) {
    auto add = [&](const Entry& e, std::string_view data = {}) {
      absl::Status st = w.AddEntry(e, data);
      ASSERT_TRUE(st.ok()) << st;
    };
    add(Make("./", '5', 0755));
    add(Make("d", '5', 0750, 1000, 1001, 1500000000));
    add(Make("tmp", '5', 01777, 0, 0, 1500000001));
    add(Make("d/suid", '0', 04755, 0, 0, 1400000000), "#!/bin/sh\n");
    add(Make("d/sgid", '0', 02711, 1234, 5678, 1400000000), "x");
    Entry owned = Make("d/owned", '0', 0640, 1234, 5678, 1400000001);
    owned.xattrs["user.berth"] = "hello";
    // A layer must not forge overlayfs' own xattrs: this one is dropped.
    owned.xattrs["trusted.overlay.redirect"] = "/etc";
    add(owned, "owned data");
    Entry hard = Make("d/hard", '1', 0640, 1234, 5678);
    hard.linkname = "d/owned";
    add(hard);
    Entry sym = Make("d/sym", '2', 0777, 1234, 5678, 1300000000);
    sym.linkname = "/etc/passwd";  // absolute targets are fine: never followed while extracting
    add(sym);
    Entry null = Make("dev/null", '3', 0666);
    null.devmajor = 1;
    null.devminor = 3;
    add(null);
    Entry loop = Make("dev/loop9", '4', 0660, 0, 6);
    loop.devmajor = 7;
    loop.devminor = 9;
    add(loop);
    add(Make("d/fifo", '6', 0620, 1000, 1000));
    add(Make("implicit/parent/f", '0', 0644), "deep");  // parents missing from the archive
    add(Make("d/.wh.gone", '0', 0600, 1000, 1001));
    add(Make("opq", '5', 0755));
    add(Make("opq/.wh..wh..opq", '0', 0600));
    add(Make("opq/kept", '0', 0644), "k");
    // A file replaced by a directory replaced by a file.
    add(Make("r", '0', 0644), "first");
    add(Make("r", '5', 0755));
    add(Make("r/inner", '0', 0644), "i");
    add(Make("r", '0', 0600), "last");
  });
  absl::StatusOr<ExtractResult> res = Extract(tarfile);
  ASSERT_TRUE(res.ok()) << res.status();
  EXPECT_EQ(res->diff_id, "sha256:" + Sh("sha256sum '" + tarfile + "'").substr(0, 64));
  struct stat tst;
  ASSERT_EQ(::stat(tarfile.c_str(), &tst), 0);
  EXPECT_EQ(res->tar_size, tst.st_size);
  EXPECT_EQ(res->size, 10 + 1 + 10 + 4 + 1 + 5 + 1 + 4);

  struct stat st;
  ASSERT_EQ(::lstat(L("d").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  EXPECT_EQ(st.st_mtime, 1500000000);  // set after its contents were created

  ASSERT_EQ(::lstat(L("tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  EXPECT_EQ(st.st_mtime, 1500000001);

  ASSERT_EQ(::lstat(L("d/suid").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_mtime, 1400000000);
  ASSERT_EQ(::lstat(L("d/sgid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 02711u);  // chown before chmod keeps setgid
  EXPECT_EQ(st.st_uid, 1234u);

  struct stat owned, hard;
  ASSERT_EQ(::lstat(L("d/owned").c_str(), &owned), 0);
  EXPECT_EQ(owned.st_uid, 1234u);
  EXPECT_EQ(owned.st_gid, 5678u);
  EXPECT_EQ(owned.st_mode & 07777, 0640u);
  EXPECT_EQ(owned.st_mtime, 1400000001);
  EXPECT_EQ(owned.st_size, 10);
  EXPECT_EQ(Xattr(L("d/owned"), "user.berth"), "hello");
  EXPECT_EQ(Xattr(L("d/owned"), "trusted.overlay.redirect"), "<none>");
  ASSERT_EQ(::lstat(L("d/hard").c_str(), &hard), 0);
  EXPECT_EQ(hard.st_ino, owned.st_ino);
  EXPECT_EQ(hard.st_nlink, 2u);

  ASSERT_EQ(::lstat(L("d/sym").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_mtime, 1300000000);
  char target[64];
  ssize_t n = ::readlink(L("d/sym").c_str(), target, sizeof(target));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(target, static_cast<size_t>(n)), "/etc/passwd");

  ASSERT_EQ(::lstat(L("dev/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  ASSERT_EQ(::lstat(L("dev/loop9").c_str(), &st), 0);
  EXPECT_TRUE(S_ISBLK(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(7, 9));
  EXPECT_EQ(st.st_gid, 6u);
  ASSERT_EQ(::lstat(L("dev").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);  // implicit parent
  ASSERT_EQ(::lstat(L("d/fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0620u);
  EXPECT_EQ(Sh("cat '" + L("implicit/parent/f") + "'"), "deep");

  // Whiteouts in overlayfs form.
  EXPECT_FALSE(Exists(L("d/.wh.gone")));
  ASSERT_EQ(::lstat(L("d/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_FALSE(Exists(L("opq/.wh..wh..opq")));
  EXPECT_EQ(Xattr(L("opq"), "trusted.overlay.opaque"), "y");
  EXPECT_TRUE(Exists(L("opq/kept")));
  EXPECT_EQ(Xattr(L("d"), "trusted.overlay.opaque"), "<none>");

  ASSERT_EQ(::lstat(L("r").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(Sh("cat '" + L("r") + "'"), "last");
}

TEST_F(TarExtractTest, RejectsEscapesAndWritesNothingOutside) {
  struct Case {
    const char* what;
    std::vector<Entry> entries;
  };
  std::string outside_rel = outside_.substr(1);  // "tmp/berth-tar-priv-XXXXXX/outside"
  auto sym = [](const std::string& name, const std::string& target) {
    Entry e = Make(name, '2', 0777);
    e.linkname = target;
    return e;
  };
  auto hard = [](const std::string& name, const std::string& target) {
    Entry e = Make(name, '1', 0644);
    e.linkname = target;
    return e;
  };
  std::vector<Case> cases = {
      {"dotdot", {Make("../outside/x", '0', 0644)}},
      {"folded dotdot", {Make("a/../../outside/x", '0', 0644)}},
      {"absolute", {Make(outside_ + "/x", '0', 0644)}},
      {"through absolute symlink", {sym("a", "/"), Make("a/" + outside_rel + "/x", '0', 0644)}},
      {"through relative symlink", {sym("b", ".."), Make("b/outside/x", '0', 0644)}},
      {"symlinked dir entry", {sym("c", "../outside"), Make("c/x", '5', 0755)}},
      {"hardlink dotdot", {hard("x", "../outside/secret")}},
      {"hardlink absolute", {hard("x", outside_ + "/secret")}},
      {"hardlink through symlink", {sym("a", "/"), hard("x", "a/" + outside_rel + "/secret")}},
      {"whiteout through symlink", {sym("a", ".."), Make("a/outside/.wh.secret", '0', 0600)}},
      {"opaque through symlink", {sym("a", "../outside"), Make("a/.wh..wh..opq", '0', 0600)}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::string tarfile = Archive("evil.tar", [&](Writer& w) {
      for (const Entry& e : c.entries) {
        absl::Status st = w.AddEntry(e, e.type == '0' ? "evil" : "");
        ASSERT_TRUE(st.ok()) << st;
      }
    });
    absl::StatusOr<ExtractResult> res = Extract(tarfile);
    EXPECT_TRUE(absl::IsInvalidArgument(res.status())) << res.status();
    EXPECT_THAT(std::string(res.status().message()), HasSubstr("escapes"));
    // Nothing appeared or changed outside the layer directory.
    EXPECT_EQ(Sh("ls -A '" + outside_ + "'"), "secret\n");
    EXPECT_EQ(Sh("cat '" + outside_ + "/secret'"), "secret");
    EXPECT_EQ(Xattr(outside_, "trusted.overlay.opaque"), "<none>");
    EXPECT_EQ(Sh("ls -A '" + base_ + "'"), "evil.tar\nlayer\noutside\n");
    EXPECT_FALSE(Exists("/x"));
    EXPECT_FALSE(Exists(L("x")));  // the offending hardlink was not made at all
    Sh("rm -rf '" + layer_ + "' && mkdir '" + layer_ + "'");
  }
}

// ".wh..." names the directory above ("..") and ".wh.." the directory itself: before the fix the
// first emptied the extraction directory's parent. Found by test/fuzz/tar_fuzz.cc
// (corpus/tar/regression-whiteout-dotdot.tar).
TEST_F(TarExtractTest, RefusesWhiteoutsOfDotAndDotDot) {
  Sh("printf kept > '" + L("keep") + "'");
  for (const char* name : {".wh...", "a/.wh...", ".wh..", "a/.wh..", ".wh."}) {
    SCOPED_TRACE(name);
    std::string tarfile = Archive("evil.tar", [&](Writer& w) {
      ASSERT_TRUE(w.AddEntry(Make(name, '0', 0600), "").ok());
    });
    absl::StatusOr<ExtractResult> res = Extract(tarfile);
    EXPECT_TRUE(absl::IsInvalidArgument(res.status())) << res.status();
    EXPECT_THAT(std::string(res.status().message()), HasSubstr("invalid whiteout"));
    EXPECT_EQ(Sh("ls -A '" + base_ + "'"), "evil.tar\nlayer\noutside\n");
    EXPECT_EQ(Sh("ls -A '" + outside_ + "'"), "secret\n");
    EXPECT_EQ(Sh("ls -A '" + layer_ + "'"), "keep\n");  // refused before anything was made
  }
}

// An extracted layer written back out: overlayfs whiteouts return to the image format.
TEST_F(TarExtractTest, AddTreeTurnsOverlayWhiteoutsBackIntoWhFiles) {
  std::string tarfile = Archive("in.tar", [](Writer& w) {
    ASSERT_TRUE(w.AddEntry(Make("etc", '5', 0755, 0, 0, 1000)).ok());
    ASSERT_TRUE(w.AddEntry(Make("etc/.wh.motd", '0', 0600, 0, 0, 1000)).ok());
    ASSERT_TRUE(w.AddEntry(Make("var", '5', 0711, 0, 0, 1000)).ok());
    ASSERT_TRUE(w.AddEntry(Make("var/.wh..wh..opq", '0', 0600, 0, 0, 1000)).ok());
    ASSERT_TRUE(w.AddEntry(Make("var/new", '0', 0644, 0, 0, 1000), "n").ok());
  });
  absl::StatusOr<ExtractResult> res = Extract(tarfile);
  ASSERT_TRUE(res.ok()) << res.status();

  std::string outfile = base_ + "/out.tar";
  {
    UniqueFd fd(::open(outfile.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    Writer w(fd.get());
    absl::Status st = w.AddTree(layer_);
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_TRUE(w.Finish().ok());
  }
  UniqueFd fd(::open(outfile.c_str(), O_RDONLY | O_CLOEXEC));
  Reader r(fd.get());
  std::vector<std::string> names;
  Entry e;
  for (;;) {
    absl::StatusOr<bool> more = r.Next(&e);
    ASSERT_TRUE(more.ok()) << more.status();
    if (!*more) break;
    names.push_back(e.name);
    if (e.name == "etc/.wh.motd" || e.name == "var/.wh..wh..opq") {
      EXPECT_EQ(e.type, '0');
      EXPECT_EQ(e.size, 0);
    }
    EXPECT_EQ(e.xattrs.count("trusted.overlay.opaque"), 0u) << e.name;
  }
  EXPECT_THAT(names,
              ::testing::ElementsAre("etc", "etc/.wh.motd", "var", "var/.wh..wh..opq", "var/new"));
}

}  // namespace
}  // namespace berth::tar
