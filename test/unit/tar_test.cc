#include "sys/tar.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::tar {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Item {
  Entry e;
  std::string data;
};

// Runs a shell command; its stdout, or a failed test.
std::string Sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr) << cmd;
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  return out;
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteFileOrDie(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
  ASSERT_TRUE(f.good()) << path;
}

std::string Sha256sum(const std::string& path) {
  return "sha256:" + Sh("sha256sum '" + path + "'").substr(0, 64);
}

// Every entry and its data, until the end of the archive (then drained), or the first error.
absl::Status ReadArchive(const std::string& path, std::vector<Item>* items,
                         std::string* digest = nullptr, int64_t* bytes = nullptr) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return absl::NotFoundError(path);
  Reader r(fd.get());
  for (;;) {
    Item it;
    absl::StatusOr<bool> more = r.Next(&it.e);
    if (!more.ok()) return more.status();
    if (!*more) break;
    absl::Status st = r.ReadAll(&it.data, 1 << 26);
    if (!st.ok()) return st;
    items->push_back(std::move(it));
  }
  absl::Status st = r.Drain();
  if (!st.ok()) return st;
  if (digest != nullptr) *digest = r.Digest();
  if (bytes != nullptr) *bytes = r.BytesRead();
  return absl::OkStatus();
}

const Item* Find(const std::vector<Item>& items, const std::string& name) {
  for (const auto& it : items) {
    if (it.e.name == name) return &it;
  }
  return nullptr;
}

class TarTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/berth-tar-test-XXXXXX";
    ASSERT_NE(::mkdtemp(t), nullptr);
    dir_ = t;
  }
  void TearDown() override { Sh("rm -rf '" + dir_ + "'"); }
  std::string P(const std::string& n) const { return dir_ + "/" + n; }

  // Writes an archive to `name` in the test dir with `fill`, then Finish().
  template <typename F>
  void WriteArchive(const std::string& name, F fill) {
    UniqueFd fd(::open(P(name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    Writer w(fd.get());
    fill(w);
    ASSERT_TRUE(w.Finish().ok());
  }

  std::string dir_;
};

// 60 + 1 + 60 + 1 + 110 characters: longer than ustar's 100-byte name, one component longer than
// 100 so that it cannot be split into ustar's prefix either.
const std::string kLongDir = std::string(60, 'd') + "/" + std::string(60, 'e');
const std::string kLongName = kLongDir + "/" + std::string(110, 'f');
const std::string kLongTarget = "../" + std::string(120, 't');

TEST_F(TarTest, WriterReaderRoundTrip) {
  WriteArchive("a.tar", [&](Writer& w) {
    ASSERT_TRUE(w.AddDir("etc", 0755, 1000).ok());
    ASSERT_TRUE(w.AddFile("etc/hosts", "127.0.0.1 localhost\n", 0640, 1234567890).ok());
    ASSERT_TRUE(w.AddSymlink("etc/link", "hosts").ok());
    ASSERT_TRUE(w.AddFile(kLongName, "long").ok());
    ASSERT_TRUE(w.AddSymlink("longlink", kLongTarget).ok());
    // 150 bytes that split into ustar prefix + name, no PAX needed.
    ASSERT_TRUE(w.AddFile(std::string(70, 'p') + "/" + std::string(79, 'q'), "split").ok());
    Entry e;
    e.name = "bin/ping";
    e.type = '0';
    e.mode = 04755;
    e.uid = 5000000;  // over ustar's 7 octal digits: goes to PAX
    e.gid = 42;
    e.mtime = 1700000000;
    e.xattrs["security.capability"] = std::string("\x01\x00\x00\x02\0\x20", 6);
    e.xattrs["user.empty"] = "";
    ASSERT_TRUE(w.AddEntry(e, "ELF").ok());
    Entry h;
    h.name = "bin/ping2";
    h.type = '1';
    h.linkname = "bin/ping";
    ASSERT_TRUE(w.AddEntry(h).ok());
    Entry c;
    c.name = "dev/null";
    c.type = '3';
    c.mode = 0666;
    c.devmajor = 1;
    c.devminor = 3;
    ASSERT_TRUE(w.AddEntry(c).ok());
  });
  struct stat st;
  ASSERT_EQ(::stat(P("a.tar").c_str(), &st), 0);
  EXPECT_EQ(st.st_size % 10240, 0);

  std::vector<Item> items;
  std::string digest;
  int64_t bytes = 0;
  ASSERT_TRUE(ReadArchive(P("a.tar"), &items, &digest, &bytes).ok());
  ASSERT_EQ(items.size(), 9u);
  EXPECT_EQ(items[0].e.name, "etc");
  EXPECT_EQ(items[0].e.type, '5');
  EXPECT_EQ(items[0].e.mode, 0755u);
  EXPECT_EQ(items[0].e.mtime, 1000);
  EXPECT_EQ(items[1].e.name, "etc/hosts");
  EXPECT_EQ(items[1].e.type, '0');
  EXPECT_EQ(items[1].e.mode, 0640u);
  EXPECT_EQ(items[1].e.mtime, 1234567890);
  EXPECT_EQ(items[1].e.size, 20);
  EXPECT_EQ(items[1].data, "127.0.0.1 localhost\n");
  EXPECT_EQ(items[2].e.type, '2');
  EXPECT_EQ(items[2].e.linkname, "hosts");
  EXPECT_EQ(items[3].e.name, kLongName);
  EXPECT_EQ(items[3].data, "long");
  EXPECT_EQ(items[4].e.linkname, kLongTarget);
  EXPECT_EQ(items[5].e.name, std::string(70, 'p') + "/" + std::string(79, 'q'));
  EXPECT_EQ(items[5].data, "split");
  const Entry& ping = items[6].e;
  EXPECT_EQ(ping.name, "bin/ping");
  EXPECT_EQ(ping.mode, 04755u);
  EXPECT_EQ(ping.uid, 5000000u);
  EXPECT_EQ(ping.gid, 42u);
  EXPECT_EQ(ping.mtime, 1700000000);
  EXPECT_EQ(ping.xattrs.at("security.capability"), std::string("\x01\x00\x00\x02\0\x20", 6));
  EXPECT_EQ(ping.xattrs.at("user.empty"), "");
  EXPECT_EQ(items[6].data, "ELF");
  EXPECT_EQ(items[7].e.type, '1');
  EXPECT_EQ(items[7].e.linkname, "bin/ping");
  EXPECT_EQ(items[8].e.type, '3');
  EXPECT_EQ(items[8].e.devmajor, 1u);
  EXPECT_EQ(items[8].e.devminor, 3u);
  // The digest covers the whole file, record padding included.
  EXPECT_EQ(digest, Sha256sum(P("a.tar")));
  EXPECT_EQ(bytes, st.st_size);
}

TEST_F(TarTest, NamesAreCleanedAndRawNamesKept) {
  WriteArchive("a.tar", [&](Writer& w) {
    ASSERT_TRUE(w.AddDir("./").ok());
    ASSERT_TRUE(w.AddFile("./a/./b/../c", "x").ok());
    ASSERT_TRUE(w.AddFile("/abs", "x").ok());
    ASSERT_TRUE(w.AddFile("a/../../up", "x").ok());
    Entry h;
    h.name = "h";
    h.type = '1';
    h.linkname = "./a/c";
    ASSERT_TRUE(w.AddEntry(h).ok());
  });
  std::vector<Item> items;
  ASSERT_TRUE(ReadArchive(P("a.tar"), &items).ok());
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].e.name, "");
  EXPECT_EQ(items[1].e.name, "a/c");
  EXPECT_EQ(items[2].e.name, "abs");
  EXPECT_EQ(items[2].e.raw_name, "/abs");
  EXPECT_EQ(items[3].e.name, "../up");
  EXPECT_EQ(items[4].e.linkname, "a/c");
  EXPECT_EQ(items[4].e.raw_linkname, "./a/c");
}

TEST_F(TarTest, StreamsThroughAPipe) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
  absl::Status wst;
  std::thread writer([&] {
    Writer w(wr.get());
    wst = w.AddFile("big", big);
    if (wst.ok()) wst = w.AddFile("small", "hi");
    if (wst.ok()) wst = w.Finish();
    wr.reset();
  });
  Reader r(rd.get());
  Entry e;
  absl::StatusOr<bool> more = r.Next(&e);
  ASSERT_TRUE(more.ok() && *more) << more.status();
  EXPECT_EQ(e.size, static_cast<int64_t>(big.size()));
  UniqueFd out(::open(P("big").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  ASSERT_TRUE(r.CopyTo(out.get()).ok());
  more = r.Next(&e);
  ASSERT_TRUE(more.ok() && *more);
  // Next() without reading the data skips it.
  more = r.Next(&e);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
  ASSERT_TRUE(r.Drain().ok());
  writer.join();
  ASSERT_TRUE(wst.ok()) << wst;
  EXPECT_EQ(ReadFileOrDie(P("big")), big);
  EXPECT_EQ(r.BytesRead() % 10240, 0);
}

TEST_F(TarTest, ReadAllRefusesOversizedEntry) {
  WriteArchive("a.tar",
               [&](Writer& w) { ASSERT_TRUE(w.AddFile("f", std::string(1000, 'x')).ok()); });
  UniqueFd fd(::open(P("a.tar").c_str(), O_RDONLY | O_CLOEXEC));
  Reader r(fd.get());
  Entry e;
  ASSERT_TRUE(*r.Next(&e));
  std::string data;
  absl::Status st = r.ReadAll(&data, 999);
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  ASSERT_TRUE(r.ReadAll(&data, 1000).ok());
  EXPECT_EQ(data.size(), 1000u);
}

// GNU tar's own archives, in its default (gnu: 'L'/'K' long names) and posix (PAX) formats.
TEST_F(TarTest, ReadsGnuTarArchives) {
  Sh("mkdir -p '" + P("src/" + kLongDir) + "' && cd '" + P("src") + "' && printf hello > '" +
     kLongName + "' && printf data > plain && ln -s plain sym && ln -s '" + kLongTarget +
     "' longsym && ln plain hard && mkfifo fifo && chmod 0751 plain && touch -d @1600000000 plain");
  for (const char* format : {"gnu", "posix"}) {
    SCOPED_TRACE(format);
    std::string tarfile = P(std::string(format) + ".tar");
    Sh(std::string("tar --format=") + format + " -C '" + P("src") + "' -cf '" + tarfile + "' .");
    std::vector<Item> items;
    std::string digest;
    absl::Status st = ReadArchive(tarfile, &items, &digest);
    ASSERT_TRUE(st.ok()) << st;
    const Item* root = Find(items, "");
    ASSERT_NE(root, nullptr);  // "./"
    EXPECT_EQ(root->e.type, '5');
    const Item* lf = Find(items, kLongName);
    ASSERT_NE(lf, nullptr);
    EXPECT_EQ(lf->e.type, '0');
    EXPECT_EQ(lf->data, "hello");
    const Item* plain = Find(items, "plain");
    const Item* hard = Find(items, "hard");
    ASSERT_NE(plain, nullptr);
    ASSERT_NE(hard, nullptr);
    // GNU tar stores whichever name it meets first in full and the other as a link to it.
    const Item* link = plain->e.type == '1' ? plain : hard;
    const Item* full = plain->e.type == '1' ? hard : plain;
    EXPECT_EQ(link->e.type, '1');
    EXPECT_EQ(link->e.linkname, full->e.name);
    EXPECT_EQ(full->data, "data");
    EXPECT_EQ(full->e.mode, 0751u);
    EXPECT_EQ(full->e.mtime, 1600000000);
    EXPECT_EQ(full->e.uid, ::geteuid());
    const Item* sym = Find(items, "sym");
    ASSERT_NE(sym, nullptr);
    EXPECT_EQ(sym->e.type, '2');
    EXPECT_EQ(sym->e.linkname, "plain");
    const Item* longsym = Find(items, "longsym");
    ASSERT_NE(longsym, nullptr);
    EXPECT_EQ(longsym->e.linkname, kLongTarget);
    const Item* fifo = Find(items, "fifo");
    ASSERT_NE(fifo, nullptr);
    EXPECT_EQ(fifo->e.type, '6');
    EXPECT_EQ(digest, Sha256sum(tarfile));
  }
}

// Ids beyond ustar's 7 octal digits: GNU format stores them base-256, posix as PAX records.
TEST_F(TarTest, ReadsLargeIdsFromGnuTar) {
  Sh("mkdir '" + P("src") + "' && printf x > '" + P("src/f") + "'");
  for (const char* format : {"gnu", "posix"}) {
    SCOPED_TRACE(format);
    std::string tarfile = P(std::string(format) + ".tar");
    Sh(std::string("tar --format=") + format +
       " --owner=u:3000000 --group=g:4000000 --mtime=@-100 -C '" + P("src") + "' -cf '" + tarfile +
       "' f");
    std::vector<Item> items;
    absl::Status st = ReadArchive(tarfile, &items);
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(items[0].e.uid, 3000000u);
    EXPECT_EQ(items[0].e.gid, 4000000u);
    EXPECT_EQ(items[0].e.mtime, -100);
    EXPECT_EQ(items[0].data, "x");
  }
}

// Go's archive/tar refuses these too. A NUL in a path would make the name that the extraction
// policy checks differ from the one the kernel sees: "..\0" is not "..", its c_str() is. Found by
// test/fuzz/tar_fuzz.cc (corpus/tar/regression-pax-path-nul*).
TEST_F(TarTest, PaxRecordsWithNulAreRefused) {
  const std::string nul = std::string("..\0", 3) + std::string(120, 'x');  // > 100: a PAX record
  for (int which = 0; which < 3; ++which) {
    SCOPED_TRACE(which);
    WriteArchive("a.tar", [&](Writer& w) {
      Entry e;
      e.name = which == 0 ? nul : "f";
      e.type = which == 1 ? '2' : '0';
      e.mode = 0644;
      if (which == 1) e.linkname = nul;
      if (which == 2) e.xattrs[std::string("user.a\0b", 8)] = "v";
      ASSERT_TRUE(w.AddEntry(e, "").ok());
    });
    std::vector<Item> items;
    absl::Status st = ReadArchive(P("a.tar"), &items);
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
    EXPECT_THAT(std::string(st.message()), HasSubstr("PAX record with a NUL byte"));
    EXPECT_TRUE(items.empty());
  }
  // A NUL in any other value is data (security.capability is binary).
  WriteArchive("a.tar", [&](Writer& w) {
    Entry e;
    e.name = "f";
    e.type = '0';
    e.xattrs["security.capability"] = std::string("\x01\0\0\x02", 4);
    ASSERT_TRUE(w.AddEntry(e, "").ok());
  });
  std::vector<Item> items;
  ASSERT_TRUE(ReadArchive(P("a.tar"), &items).ok());
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].e.xattrs.at("security.capability"), std::string("\x01\0\0\x02", 4));
}

// The reader keeps whatever device numbers any header carries; writing such an entry back (a
// regular file with a junk devmajor) must not fail: only devices have their numbers written,
// in base-256 where octal is too short.
// Found by the Writer round trip of test/fuzz/tar_fuzz.cc (corpus/tar/regression-junk-devmajor).
TEST_F(TarTest, WriterWritesDeviceNumbersOfDevicesOnlyBase256PastOctal) {
  Entry e;
  e.name = "f";
  e.type = '0';
  e.mode = 0644;
  e.devmajor = 1u << 30;
  WriteArchive("a.tar", [&](Writer& w) { ASSERT_TRUE(w.AddEntry(e, "x").ok()); });
  std::vector<Item> items;
  ASSERT_TRUE(ReadArchive(P("a.tar"), &items).ok());
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].data, "x");
  EXPECT_EQ(items[0].e.devmajor, 0u);  // not written

  // A device's numbers past octal's 7 digits go base-256 and come back as they were (tar_fuzz:
  // the reader takes base-256, so the writer must write what it read).
  e.type = '3';
  e.devminor = 19;
  WriteArchive("b.tar", [&](Writer& w) { ASSERT_TRUE(w.AddEntry(e).ok()); });
  items.clear();
  ASSERT_TRUE(ReadArchive(P("b.tar"), &items).ok());
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].e.devmajor, 1u << 30);
  EXPECT_EQ(items[0].e.devminor, 19u);
}

TEST_F(TarTest, GnuTarReadsWriterArchive) {
  WriteArchive("w.tar", [&](Writer& w) {
    ASSERT_TRUE(w.AddDir("d", 0750, 1500000000).ok());
    ASSERT_TRUE(w.AddFile("d/file", "content", 0604, 1400000000).ok());
    ASSERT_TRUE(w.AddSymlink("d/sym", kLongTarget).ok());
    Entry h;
    h.name = "d/hard";
    h.type = '1';
    h.linkname = "d/file";
    h.mode = 0604;
    ASSERT_TRUE(w.AddEntry(h).ok());
    // Last: GNU tar fixes a directory's mtime once the archive moves on to other directories.
    ASSERT_TRUE(w.AddFile(kLongName, "long content").ok());
  });
  std::string listing = Sh("tar -tvf '" + P("w.tar") + "'");
  EXPECT_THAT(listing, HasSubstr("d/file"));
  EXPECT_THAT(listing, HasSubstr(kLongName));
  EXPECT_THAT(listing, HasSubstr("d/sym -> " + kLongTarget));
  EXPECT_THAT(listing, HasSubstr("d/hard link to d/file"));
  EXPECT_THAT(listing, Not(HasSubstr("PaxHeaders")));

  Sh("mkdir '" + P("out") + "' && tar --no-same-owner -C '" + P("out") + "' -xf '" + P("w.tar") +
     "'");
  EXPECT_EQ(ReadFileOrDie(P("out/d/file")), "content");
  EXPECT_EQ(ReadFileOrDie(P("out/" + kLongName)), "long content");
  char target[512];
  ssize_t n = ::readlink(P("out/d/sym").c_str(), target, sizeof(target));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(target, static_cast<size_t>(n)), kLongTarget);
  struct stat st, hst;
  ASSERT_EQ(::stat(P("out/d/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0604u);
  EXPECT_EQ(st.st_mtime, 1400000000);
  ASSERT_EQ(::stat(P("out/d/hard").c_str(), &hst), 0);
  EXPECT_EQ(hst.st_ino, st.st_ino);
  ASSERT_EQ(::stat(P("out/d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_mtime, 1500000000);
}

TEST_F(TarTest, ReadsGzipAndDigestsUncompressedStream) {
  Sh("mkdir '" + P("src") + "' && head -c 300000 /dev/urandom > '" + P("src/rand") +
     "' && printf abc > '" + P("src/abc") + "' && tar -C '" + P("src") + "' -cf '" + P("a.tar") +
     "' . && gzip -c '" + P("a.tar") + "' > '" + P("a.tar.gz") + "'");
  std::vector<Item> items;
  std::string digest;
  int64_t bytes = 0;
  absl::Status st = ReadArchive(P("a.tar.gz"), &items, &digest, &bytes);
  ASSERT_TRUE(st.ok()) << st;
  const Item* rand = Find(items, "rand");
  ASSERT_NE(rand, nullptr);
  EXPECT_EQ(rand->data, ReadFileOrDie(P("src/rand")));
  ASSERT_NE(Find(items, "abc"), nullptr);
  EXPECT_EQ(digest, Sha256sum(P("a.tar")));
  struct stat sb;
  ASSERT_EQ(::stat(P("a.tar").c_str(), &sb), 0);
  EXPECT_EQ(bytes, sb.st_size);

  // Several gzip members back to back are one stream (gzip -d agrees).
  Sh("cd '" + dir_ + "' && head -c 20480 a.tar | gzip -c > multi.gz && tail -c +20481 a.tar | " +
     "gzip -c >> multi.gz");
  items.clear();
  st = ReadArchive(P("multi.gz"), &items, &digest);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(Find(items, "rand")->data, rand->data);
  EXPECT_EQ(digest, Sha256sum(P("a.tar")));
}

TEST_F(TarTest, TruncatedArchivesAreErrors) {
  WriteArchive("a.tar", [&](Writer& w) {
    ASSERT_TRUE(w.AddFile("one", std::string(5000, '1')).ok());
    ASSERT_TRUE(w.AddFile("two", std::string(100, '2')).ok());
  });
  std::string whole = ReadFileOrDie(P("a.tar"));
  // Mid-data of "one"; at the header boundary before "two" (no end blocks); after one of the two
  // zero blocks; and the compressed form cut short.
  const size_t one_end = 512 + 5120;
  const size_t two_end = one_end + 512 + 512;
  for (size_t cut : {size_t{600}, size_t{300}, one_end, two_end, two_end + 512}) {
    SCOPED_TRACE(cut);
    WriteFileOrDie(P("cut.tar"), whole.substr(0, cut));
    std::vector<Item> items;
    absl::Status st = ReadArchive(P("cut.tar"), &items);
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
    EXPECT_THAT(std::string(st.message()), HasSubstr("unexpected EOF"));
  }
  Sh("cd '" + dir_ + "' && gzip -c a.tar | head -c 100 > cut.tar.gz");
  std::vector<Item> items;
  absl::Status st = ReadArchive(P("cut.tar.gz"), &items);
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("unexpected EOF"));
}

TEST_F(TarTest, CorruptedChecksumIsAnError) {
  WriteArchive("a.tar", [&](Writer& w) {
    ASSERT_TRUE(w.AddFile("good", "1").ok());
    ASSERT_TRUE(w.AddFile("bad", "2").ok());
  });
  std::string data = ReadFileOrDie(P("a.tar"));
  data[1024 + 1] ^= 0x01;  // the second header's name: "bad" -> "b`d"
  WriteFileOrDie(P("a.tar"), data);
  UniqueFd fd(::open(P("a.tar").c_str(), O_RDONLY | O_CLOEXEC));
  Reader r(fd.get());
  Entry e;
  absl::StatusOr<bool> more = r.Next(&e);
  ASSERT_TRUE(more.ok() && *more);
  EXPECT_EQ(e.name, "good");
  more = r.Next(&e);
  EXPECT_TRUE(absl::IsInvalidArgument(more.status())) << more.status();
  EXPECT_THAT(std::string(more.status().message()), HasSubstr("invalid tar header"));
}

TEST_F(TarTest, AddTreeKeepsMetadataSortedWithHardlinks) {
  const std::string t = P("tree");
  Sh("mkdir -p '" + t + "/b/sub' '" + t + "/a' && cd '" + t + "' && printf one > b/file && " +
     "chmod 2750 b/file && ln b/file a/link && ln -s ../b/file a/sym && mkfifo zfifo && " +
     "printf 2 > b/sub/x && chmod 0700 b/sub && touch -h -d @1111111111 a/sym && " +
     "touch -d @1222222222 b/file b");
  const std::string out = P("tree.tar");
  {
    UniqueFd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    Writer w(fd.get());
    absl::Status st = w.AddTree(t);
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_TRUE(w.Finish().ok());
  }
  std::vector<Item> items;
  ASSERT_TRUE(ReadArchive(out, &items).ok());
  std::vector<std::string> names;
  for (const auto& it : items) names.push_back(it.e.name);
  EXPECT_THAT(names, ::testing::ElementsAre("a", "a/link", "a/sym", "b", "b/file", "b/sub",
                                            "b/sub/x", "zfifo"));
  const Item* link = Find(items, "a/link");
  const Item* file = Find(items, "b/file");
  // a/link comes first in sorted order, so it carries the data and b/file links to it.
  EXPECT_EQ(link->e.type, '0');
  EXPECT_EQ(link->data, "one");
  EXPECT_EQ(link->e.mode, 02750u);
  EXPECT_EQ(link->e.mtime, 1222222222);
  EXPECT_EQ(file->e.type, '1');
  EXPECT_EQ(file->e.linkname, "a/link");
  const Item* sym = Find(items, "a/sym");
  EXPECT_EQ(sym->e.type, '2');
  EXPECT_EQ(sym->e.linkname, "../b/file");
  EXPECT_EQ(sym->e.mtime, 1111111111);
  EXPECT_EQ(Find(items, "b")->e.type, '5');
  EXPECT_EQ(Find(items, "b")->e.mtime, 1222222222);
  EXPECT_EQ(Find(items, "b/sub")->e.mode, 0700u);
  EXPECT_EQ(Find(items, "b/sub/x")->data, "2");
  EXPECT_EQ(Find(items, "zfifo")->e.type, '6');
  EXPECT_EQ(Find(items, "zfifo")->e.uid, ::geteuid());
  // GNU tar agrees on what was written.
  std::string listing = Sh("tar -tvf '" + out + "'");
  EXPECT_THAT(listing, HasSubstr("b/file link to a/link"));
  EXPECT_THAT(listing, HasSubstr("a/sym -> ../b/file"));
}

TEST_F(TarTest, WriterAfterFinishFails) {
  UniqueFd fd(::open(P("a.tar").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  Writer w(fd.get());
  ASSERT_TRUE(w.AddFile("f", "x").ok());
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(w.BytesWritten() % 10240, 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(w.AddFile("late", "x")));
}

TEST_F(TarTest, AddFileFromPathCopiesContentAndMode) {
  WriteFileOrDie(P("src"), std::string(70000, 'z'));
  ASSERT_EQ(::chmod(P("src").c_str(), 0600), 0);
  struct timeval tv[2] = {{1300000000, 0}, {1300000000, 0}};
  ASSERT_EQ(::utimes(P("src").c_str(), tv), 0);
  WriteArchive("a.tar", [&](Writer& w) {
    ASSERT_TRUE(w.AddFileFromPath("blobs/sha256/abc", P("src")).ok());
    EXPECT_FALSE(w.AddFileFromPath("missing", P("nope")).ok());
  });
  std::vector<Item> items;
  ASSERT_TRUE(ReadArchive(P("a.tar"), &items).ok());
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].e.name, "blobs/sha256/abc");
  EXPECT_EQ(items[0].e.mode, 0600u);
  EXPECT_EQ(items[0].e.mtime, 1300000000);
  EXPECT_EQ(items[0].data, std::string(70000, 'z'));
}

}  // namespace
}  // namespace berth::tar
