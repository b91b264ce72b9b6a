// tar::Reader on arbitrary bytes, and tar::ExtractLayer's and ExtractInRoot's policies in a
// sandbox.
//
// Reader invariants (every input):
//   - every entry's name (and a hardlink's target) is clean: relative, no "." or empty
//     components, ".." only as leading components; no NUL; mode within 07777; size >= 0 and 0
//     for links, devices, directories and fifos; ReadAll returns exactly `size` bytes;
//   - reading the data or letting Next() skip it gives the same entries and the same outcome;
//   - the same archive gzip-compressed reads the same, with the same digest and byte count;
//   - a complete read digests exactly the input (sha256, byte count), as docker's diff_id;
//   - what Writer writes of the entries reads back as the same entries (name, type, mode,
//     owner, size, mtime, link, devices, xattrs, data).
// ExtractLayer invariants (when the sandbox is available: root, see mount_sandbox.h):
//   - nothing outside the target directory changes (canaries around it), no write reaches the
//     read-only host (EROFS);
//   - an archive holding an entry that escapes (absolute, "..") is refused;
//   - for archives without symlinks, a successful extraction leaves exactly what a model of the
//     policy predicts: entries with their types, modes, owners, contents and device numbers,
//     parents made as needed, whatever was in the way replaced, ".wh.NAME" a 0:0 char device,
//     ".wh..wh..opq" the opaque xattr and no other trusted.overlay.* xattr anywhere; and where
//     the model predicts a failure (a parent that is not a directory, a missing hardlink
//     target), extraction fails.

#include <dirent.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fuzz_check.h"
#include "mount_sandbox.h"
#include "sys/tar.h"

namespace berth::tar {
namespace {

constexpr int64_t kMaxData = 1 << 24;

// How far inputs get, printed at exit with TAR_FUZZ_STATS=1 (to see that the oracles are reached).
struct Stats {
  size_t inputs = 0, read_ok = 0, round_trips = 0, extracted = 0, modelled = 0, failed_as_modelled = 0;
} stats;

// An fd over bytes in memory, for Reader and Writer.
class MemFd {
 public:
  MemFd() : fd_(::memfd_create("tar-fuzz", MFD_CLOEXEC)) { FUZZ_CHECK(fd_ >= 0, "memfd_create"); }
  ~MemFd() { ::close(fd_); }
  int Reset(std::string_view data) {
    FUZZ_CHECK(::ftruncate(fd_, 0) == 0, "ftruncate");
    size_t off = 0;
    while (off < data.size()) {
      ssize_t w = ::pwrite(fd_, data.data() + off, data.size() - off, static_cast<off_t>(off));
      FUZZ_CHECK(w > 0, "pwrite");
      off += static_cast<size_t>(w);
    }
    FUZZ_CHECK(::lseek(fd_, 0, SEEK_SET) == 0, "lseek");
    return fd_;
  }
  std::string Contents() const {
    struct stat st;
    FUZZ_CHECK(::fstat(fd_, &st) == 0, "fstat");
    std::string out(static_cast<size_t>(st.st_size), '\0');
    FUZZ_CHECK(::pread(fd_, out.data(), out.size(), 0) == st.st_size, "pread");
    return out;
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

struct Item {
  Entry e;
  std::string data;
};

struct ReadResult {
  absl::Status status;  // of the first failing call; OK when the archive was read to its end
  std::vector<Item> items;
  std::string digest;
  int64_t bytes = 0;
};

std::string Show(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

std::string Show(const Entry& e) {
  std::string x;
  for (const auto& [k, v] : e.xattrs) absl::StrAppend(&x, " ", Show(k), "=", Show(v));
  return absl::StrCat("{name ", Show(e.name), " type '", absl::CHexEscape(std::string(1, e.type)),
                      "' mode ", e.mode, " uid ", e.uid, " gid ", e.gid, " size ", e.size,
                      " mtime ", e.mtime, " link ", Show(e.linkname), " dev ", e.devmajor, ":",
                      e.devminor, " xattrs", x, " raw ", Show(e.raw_name), "}");
}

// The name as Entry documents it: relative, no "." or empty components, ".." only leading.
bool IsClean(absl::string_view name) {
  if (name.empty()) return true;
  if (name.find('\0') != absl::string_view::npos) return false;
  bool leading = true;
  for (absl::string_view c : absl::StrSplit(name, '/')) {
    if (c.empty() || c == ".") return false;
    if (c == "..") {
      if (!leading) return false;
    } else {
      leading = false;
    }
  }
  return true;
}

void CheckEntry(const Entry& e) {
  FUZZ_CHECK(IsClean(e.name), Show(e));
  if (e.type == '1') FUZZ_CHECK(IsClean(e.linkname), Show(e));
  FUZZ_CHECK(e.mode <= 07777, Show(e));
  FUZZ_CHECK(e.size >= 0, Show(e));
  FUZZ_CHECK(std::string_view("xgLKS7").find(e.type) == std::string_view::npos && e.type != '\0',
             Show(e));
  if (std::string_view("123456").find(e.type) != std::string_view::npos) {
    FUZZ_CHECK(e.size == 0, Show(e));
  }
}

bool SameEntry(const Entry& a, const Entry& b, bool with_devices) {
  return a.name == b.name && a.type == b.type && a.mode == b.mode && a.uid == b.uid &&
         a.gid == b.gid && a.size == b.size && a.mtime == b.mtime && a.linkname == b.linkname &&
         a.xattrs == b.xattrs &&
         (!with_devices || (a.devmajor == b.devmajor && a.devminor == b.devminor));
}

ReadResult ReadArchive(int fd, bool read_data) {
  ReadResult res;
  Reader r(fd);
  for (;;) {
    Item it;
    absl::StatusOr<bool> more = r.Next(&it.e);
    if (!more.ok()) {
      res.status = more.status();
      return res;
    }
    if (!*more) break;
    CheckEntry(it.e);
    if (read_data) {
      absl::Status st = r.ReadAll(&it.data, kMaxData);
      if (!st.ok()) {
        res.status = st;
        res.items.push_back(std::move(it));
        return res;
      }
      FUZZ_CHECK(static_cast<int64_t>(it.data.size()) == it.e.size, Show(it.e));
    }
    res.items.push_back(std::move(it));
  }
  res.status = r.Drain();
  if (!res.status.ok()) return res;
  res.digest = r.Digest();
  res.bytes = r.BytesRead();
  // Done is done: more calls say so and read nothing.
  Entry e;
  absl::StatusOr<bool> again = r.Next(&e);
  FUZZ_CHECK(again.ok() && !*again, "Next after the end");
  return res;
}

void CheckSameRead(const ReadResult& a, const ReadResult& b, absl::string_view what) {
  FUZZ_CHECK(a.status.code() == b.status.code(),
             absl::StrCat(what, ": ", a.status.ToString(), " vs ", b.status.ToString()));
  FUZZ_CHECK(a.items.size() == b.items.size(), what);
  for (size_t i = 0; i < a.items.size(); ++i) {
    FUZZ_CHECK(SameEntry(a.items[i].e, b.items[i].e, true),
               absl::StrCat(what, ": ", Show(a.items[i].e), " vs ", Show(b.items[i].e)));
  }
  FUZZ_CHECK(a.digest == b.digest && a.bytes == b.bytes, what);
}

std::string Gzip(std::string_view data) {
  z_stream zs{};
  FUZZ_CHECK(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK, "");
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  FUZZ_CHECK(deflate(&zs, Z_FINISH) == Z_STREAM_END, "deflate");
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Zstd(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 1);
  FUZZ_CHECK(!ZSTD_isError(n), "zstd compress");
  out.resize(n);
  return out;
}

std::string Sha256(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  std::string out = "sha256:";
  for (unsigned char c : md) absl::StrAppend(&out, absl::Hex(c, absl::kZeroPad2));
  return out;
}

// Writes the entries with Writer and reads them back.
void CheckWriterRoundTrip(const std::vector<Item>& items, MemFd& buf) {
  for (const Item& it : items) {
    // Only the types Writer writes with their data (other types carry data Writer drops).
    if (std::string_view("0123456").find(it.e.type) == std::string_view::npos) return;
  }
  buf.Reset("");
  Writer w(buf.fd());
  for (const Item& it : items) {
    absl::Status st = w.AddEntry(it.e, it.data);
    FUZZ_CHECK(st.ok(), absl::StrCat("Writer refused ", Show(it.e), ": ", st.ToString()));
  }
  FUZZ_CHECK(w.Finish().ok(), "Finish");
  std::string written = buf.Contents();
  FUZZ_CHECK(static_cast<int64_t>(written.size()) == w.BytesWritten(), "BytesWritten");
  buf.Reset(written);
  ReadResult back = ReadArchive(buf.fd(), true);
  FUZZ_CHECK(back.status.ok(), absl::StrCat("re-reading Writer's archive: ", back.status.ToString()));
  FUZZ_CHECK(back.items.size() == items.size(), "round trip entry count");
  ++stats.round_trips;
  for (size_t i = 0; i < items.size(); ++i) {
    const Entry& a = items[i].e;
    const Entry& b = back.items[i].e;
    bool dev = a.type == '3' || a.type == '4';
    FUZZ_CHECK(SameEntry(a, b, dev), absl::StrCat("round trip: ", Show(a), " vs ", Show(b)));
    FUZZ_CHECK(items[i].data == back.items[i].data, "round trip data of " + Show(a));
  }
}

// ---------------------------------------------------------------------------------------------
// Extraction.

fuzz::MountSandbox* sandbox = nullptr;

constexpr char kCanary[] = "canary: nothing may touch this\n";

void WriteFileAt(int dir, const char* name, std::string_view data) {
  int fd = ::openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FUZZ_CHECK(fd >= 0, absl::StrCat("create ", name, ": ", std::strerror(errno)));
  FUZZ_CHECK(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()), name);
  ::close(fd);
}

std::string ReadFileAt(int dir, const std::string& name) {
  int fd = ::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return "<" + std::string(std::strerror(errno)) + ">";
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

std::vector<std::string> ListDir(int dir) {
  int fd = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  FUZZ_CHECK(fd >= 0, "open dir");
  DIR* d = ::fdopendir(fd);
  FUZZ_CHECK(d != nullptr, "fdopendir");
  std::vector<std::string> names;
  while (dirent* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

void RemoveTree(int parent, const std::string& name) {
  if (::unlinkat(parent, name.c_str(), 0) == 0 || errno == ENOENT) return;
  FUZZ_CHECK(errno == EISDIR, absl::StrCat("unlink ", Show(name), ": ", std::strerror(errno)));
  int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  FUZZ_CHECK(fd >= 0, "open " + Show(name));
  for (const std::string& c : ListDir(fd)) RemoveTree(fd, c);
  ::close(fd);
  FUZZ_CHECK(::unlinkat(parent, name.c_str(), AT_REMOVEDIR) == 0, "rmdir " + Show(name));
}

// What the extraction policy should leave at a path.
struct Node {
  char type = '5';  // '0' file, '3' char, '4' block, '5' dir, '6' fifo, 'W' whiteout
  bool explicit_ = false;  // from an entry (else a parent made on the way, 0755 root)
  uint32_t mode = 0755, uid = 0, gid = 0;
  std::string data;
  uint32_t devmajor = 0, devminor = 0;
  bool opaque = false;
};

std::pair<std::string, std::string> SplitParent(const std::string& name) {
  size_t slash = name.rfind('/');
  if (slash == std::string::npos) return {"", name};
  return {name.substr(0, slash), name.substr(slash + 1)};
}

std::string Join(const std::string& parent, const std::string& base) {
  return parent.empty() ? base : parent + "/" + base;
}

void RemoveSubtree(std::map<std::string, Node>* m, const std::string& path) {
  m->erase(path);
  std::string prefix = path + "/";
  for (auto it = m->lower_bound(prefix); it != m->end() && absl::StartsWith(it->first, prefix);) {
    it = m->erase(it);
  }
}

enum class Prediction { kSuccess, kFailure, kUnknown };

// Applies the entries to a model of the directory tree as ExtractLayer documents it.
Prediction Model(const std::vector<Item>& items, std::map<std::string, Node>* m, bool* root_opaque) {
  for (const Item& it : items) {
    const Entry& e = it.e;
    if (e.type == '2') return Prediction::kUnknown;  // paths through symlinks: not modelled
    if (e.name.empty()) continue;
    auto [parent, base] = SplitParent(e.name);
    std::string prefix;
    if (!parent.empty()) {
      for (absl::string_view c : absl::StrSplit(parent, '/')) {
        prefix = Join(prefix, std::string(c));
        auto f = m->find(prefix);
        if (f == m->end()) {
          (*m)[prefix] = Node{};
        } else if (f->second.type != '5') {
          return Prediction::kFailure;  // a parent that is not a directory
        }
      }
    }
    if (base == ".wh..wh..opq") {
      if (parent.empty()) {
        *root_opaque = true;
      } else {
        (*m)[parent].opaque = true;
      }
      continue;
    }
    if (absl::StartsWith(base, ".wh..wh.")) continue;
    if (absl::StartsWith(base, ".wh.")) {
      std::string target = base.substr(4);
      if (target.empty() || target == "." || target == "..") return Prediction::kFailure;
      std::string path = Join(parent, target);
      RemoveSubtree(m, path);
      Node n;
      n.type = 'W';
      n.uid = e.uid;
      n.gid = e.gid;
      (*m)[path] = n;
      continue;
    }
    Node n;
    n.explicit_ = true;
    n.mode = e.mode;
    n.uid = e.uid;
    n.gid = e.gid;
    auto cur = m->find(e.name);
    switch (e.type) {
      case '0':
        n.type = '0';
        n.data = it.data;
        break;
      case '5':
        if (cur != m->end() && cur->second.type == '5') {
          // A directory that stays keeps its contents and opaque mark; it takes the entry's
          // mode and owner.
          cur->second.explicit_ = true;
          cur->second.mode = e.mode;
          cur->second.uid = e.uid;
          cur->second.gid = e.gid;
          continue;
        }
        break;
      case '1': {
        if (e.linkname.empty()) return Prediction::kFailure;
        // What is in the way goes first, the target too if it is (or is under) the new name.
        if (e.linkname == e.name || absl::StartsWith(e.linkname, e.name + "/")) {
          return Prediction::kFailure;
        }
        auto t = m->find(e.linkname);
        if (t == m->end() || t->second.type == '5') return Prediction::kFailure;
        n = t->second;  // the same inode: its mode, owner and content
        break;
      }
      case '3':
      case '4':
      case '6':
        n.type = e.type;
        n.devmajor = e.devmajor;
        n.devminor = e.devminor;
        break;
      default:
        return Prediction::kFailure;  // unsupported type
    }
    RemoveSubtree(m, e.name);
    (*m)[e.name] = n;
  }
  return Prediction::kSuccess;
}

std::string OpaqueXattr(int dir, const std::string& name) {
  std::string path = absl::StrCat("/proc/self/fd/", dir, "/", name);
  char buf[64];
  ssize_t n = ::lgetxattr(path.c_str(), "trusted.overlay.opaque", buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

// The trusted.overlay.* xattr names on path: overlayfs obeys them, so only the policy may set
// them (the opaque mark of a ".wh..wh..opq"), never an archive's own xattr records.
std::vector<std::string> OverlayXattrs(const std::string& path) {
  std::vector<std::string> out;
  char names[65536];
  ssize_t n = ::llistxattr(path.c_str(), names, sizeof names);
  for (ssize_t i = 0; i < n;) {
    absl::string_view k(names + i);
    if (absl::StartsWith(k, "trusted.overlay.")) out.emplace_back(k);
    i += static_cast<ssize_t>(k.size()) + 1;
  }
  return out;
}

// Compares the tree under dir (relative name rel) with the model.
void CompareTree(int dir, const std::string& rel, const std::map<std::string, Node>& m,
                 size_t* seen) {
  for (const std::string& c : ListDir(dir)) {
    std::string path = Join(rel, c);
    auto it = m.find(path);
    FUZZ_CHECK(it != m.end(), "extracted but not in the archive's model: " + Show(path));
    const Node& n = it->second;
    ++*seen;
    struct stat st;
    FUZZ_CHECK(::fstatat(dir, c.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0, path);
    std::vector<std::string> overlay = OverlayXattrs(absl::StrCat("/proc/self/fd/", dir, "/", c));
    if (n.opaque) {
      FUZZ_CHECK(overlay == std::vector<std::string>{"trusted.overlay.opaque"},
                 "overlay xattrs of opaque " + Show(path));
    } else {
      FUZZ_CHECK(overlay.empty(), "forged overlay xattr on " + Show(path));
    }
    char type = S_ISREG(st.st_mode) ? '0' : S_ISDIR(st.st_mode) ? '5' : S_ISCHR(st.st_mode) ? '3'
              : S_ISBLK(st.st_mode) ? '4' : S_ISFIFO(st.st_mode) ? '6' : '?';
    if (n.type == 'W') {
      FUZZ_CHECK(type == '3' && st.st_rdev == makedev(0, 0), "whiteout " + Show(path));
      FUZZ_CHECK(st.st_uid == n.uid && st.st_gid == n.gid, "whiteout owner " + Show(path));
      continue;
    }
    FUZZ_CHECK(type == n.type, absl::StrCat(Show(path), " is '", std::string(1, type),
                                            "', the model says '", std::string(1, n.type), "'"));
    if (n.explicit_) {
      FUZZ_CHECK((st.st_mode & 07777) == n.mode,
                 absl::StrCat(Show(path), " mode ", st.st_mode & 07777, " want ", n.mode));
      FUZZ_CHECK(st.st_uid == n.uid && st.st_gid == n.gid, "owner of " + Show(path));
    }
    if (type == '0') FUZZ_CHECK(ReadFileAt(dir, c) == n.data, "content of " + Show(path));
    if (type == '3' || type == '4') {
      FUZZ_CHECK(st.st_rdev == makedev(n.devmajor, n.devminor), "device " + Show(path));
    }
    if (type == '5') {
      if (n.opaque) FUZZ_CHECK(OpaqueXattr(dir, c) == "y", "opaque xattr of " + Show(path));
      int sub = ::openat(dir, c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      FUZZ_CHECK(sub >= 0, "open " + Show(path));
      CompareTree(sub, path, m, seen);
      ::close(sub);
    }
  }
}

bool Escapes(const Entry& e) {
  return absl::StartsWith(e.raw_name, "/") || e.name == ".." || absl::StartsWith(e.name, "../") ||
         (e.type == '1' && (absl::StartsWith(e.raw_linkname, "/") || e.linkname == ".." ||
                            absl::StartsWith(e.linkname, "../")));
}

void CheckExtraction(std::string_view data, const ReadResult& read, MemFd& in) {
  const std::string& jail = sandbox->jail();
  int jfd = ::open(jail.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  FUZZ_CHECK(jfd >= 0, "open jail");
  static bool once = [&] {
    WriteFileAt(jfd, "canary", kCanary);
    return true;
  }();
  (void)once;
  FUZZ_CHECK(::mkdirat(jfd, "run", 0755) == 0, "mkdir run");
  int run = ::openat(jfd, "run", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  WriteFileAt(run, "canary", kCanary);
  FUZZ_CHECK(::mkdirat(run, "root", 0755) == 0, "mkdir root");
  int rootfd = ::openat(run, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  absl::StatusOr<ExtractResult> res = ExtractLayer(in.Reset(data), jail + "/run/root");
  std::string what = res.ok() ? "OK" : res.status().ToString();

  // Confinement first: nothing around the target changed.
  // The host is read-only: a write that left the jail failed with EROFS, whose text ends the
  // message (ErrnoStatus puts strerror last). An entry name may spell it too: then skip.
  bool named = false;
  for (const Item& it : read.items) {
    named = named || absl::StrContains(it.e.raw_name, "Read-only") ||
            absl::StrContains(it.e.raw_linkname, "Read-only");
  }
  FUZZ_CHECK(named || !absl::EndsWith(what, ": Read-only file system"),
             "extraction tried to write outside its jail: " + what);
  FUZZ_CHECK(ListDir(jfd) == std::vector<std::string>({"canary", "run"}),
             "the jail changed: " + what);
  FUZZ_CHECK(ReadFileAt(jfd, "canary") == kCanary, "the jail's canary changed: " + what);
  FUZZ_CHECK(ListDir(run) == std::vector<std::string>({"canary", "root"}),
             "the target's parent changed: " + what);
  FUZZ_CHECK(ReadFileAt(run, "canary") == kCanary, "the target's sibling changed: " + what);
  if (res.ok()) {
    ++stats.extracted;
    FUZZ_CHECK(read.status.ok(), "extracted what Reader refuses: " + read.status.ToString());
  }

  if (read.status.ok()) {
    bool escapes = false;
    for (const Item& it : read.items) escapes = escapes || Escapes(it.e);
    if (escapes) FUZZ_CHECK(!res.ok(), "an escaping entry was extracted");
    if (!res.ok()) {
      std::map<std::string, Node> model;
      bool root_opaque = false;
      if (Model(read.items, &model, &root_opaque) == Prediction::kFailure) ++stats.failed_as_modelled;
    }
    if (res.ok()) {
      FUZZ_CHECK(res->diff_id == read.digest && res->tar_size == read.bytes, "diff_id");
      std::map<std::string, Node> model;
      bool root_opaque = false;
      Prediction p = Model(read.items, &model, &root_opaque);
      FUZZ_CHECK(p != Prediction::kFailure, "extraction succeeded where the policy fails");
      if (p == Prediction::kSuccess) {
        ++stats.modelled;
        size_t seen = 0;
        CompareTree(rootfd, "", model, &seen);
        FUZZ_CHECK(seen == model.size(), absl::StrCat("extracted ", seen, " paths, the model has ",
                                                      model.size()));
        FUZZ_CHECK((OpaqueXattr(run, "root") == "y") == root_opaque, "opaque xattr of the root");
      }
    }
  }
  ::close(rootfd);
  ::close(run);
  RemoveTree(jfd, "run");
  ::close(jfd);
}

// ExtractInRoot (docker cp) into run/root/d with run/root as the root: symlinks in the archive
// may point anywhere (absolute, "..") and are followed, but only inside the root; nothing
// around the root changes, and an entry that escapes the destination by name is refused.
void CheckInRootExtraction(std::string_view data, const ReadResult& read, MemFd& in) {
  const std::string& jail = sandbox->jail();
  int jfd = ::open(jail.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  FUZZ_CHECK(jfd >= 0, "open jail");
  FUZZ_CHECK(::mkdirat(jfd, "run", 0755) == 0, "mkdir run");
  int run = ::openat(jfd, "run", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  WriteFileAt(run, "canary", kCanary);
  FUZZ_CHECK(::mkdirat(run, "root", 0755) == 0, "mkdir root");
  int rootfd = ::openat(run, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  FUZZ_CHECK(::mkdirat(rootfd, "d", 0755) == 0, "mkdir root/d");
  ExtractOptions opts;
  opts.no_overwrite_dir_non_dir = (data.size() & 1) != 0;
  absl::StatusOr<ExtractResult> res = ExtractInRoot(in.Reset(data), rootfd, "/d", opts);
  std::string what = res.ok() ? "OK" : res.status().ToString();
  bool named = false;
  for (const Item& it : read.items) {
    named = named || absl::StrContains(it.e.raw_name, "Read-only") ||
            absl::StrContains(it.e.raw_linkname, "Read-only");
  }
  FUZZ_CHECK(named || !absl::EndsWith(what, ": Read-only file system"),
             "in-root extraction tried to write outside its jail: " + what);
  FUZZ_CHECK(ListDir(jfd) == std::vector<std::string>({"canary", "run"}),
             "in-root extraction changed the jail: " + what);
  FUZZ_CHECK(ListDir(run) == std::vector<std::string>({"canary", "root"}),
             "in-root extraction changed the root's parent: " + what);
  FUZZ_CHECK(ReadFileAt(run, "canary") == kCanary, "the root's sibling changed: " + what);
  if (res.ok()) FUZZ_CHECK(read.status.ok(), "extracted in root what Reader refuses");
  if (read.status.ok()) {
    bool escapes = false;
    for (const Item& it : read.items) escapes = escapes || Escapes(it.e);
    if (escapes) FUZZ_CHECK(!res.ok(), "an escaping entry was extracted in root");
  }
  ::close(rootfd);
  ::close(run);
  RemoveTree(jfd, "run");
  ::close(jfd);
}

// ---------------------------------------------------------------------------------------------
// Structure-aware mutation. A byte flip in a header breaks its checksum and a PAX record's
// self-counting length, so plain mutation rarely makes an archive the reader accepts past the
// first header. After libFuzzer's mutation, most of the time, walk the headers, recount PAX
// record lengths (resizing the record block) and recompute every checksum.

int64_t OctalOrZero(const unsigned char* b, size_t len) {
  int64_t v = 0;
  for (size_t i = 0; i < len && b[i] >= '0' && b[i] <= '7'; ++i) v = v * 8 + (b[i] - '0');
  return v;
}

void PutChecksum(unsigned char* b) {
  std::memset(b + 148, ' ', 8);
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += b[i];
  std::snprintf(reinterpret_cast<char*>(b + 148), 8, "%06o", sum & 0777777);
  b[155] = ' ';
}

// "N key=value\n" records with N recounted; text without a number gets one.
std::string FixPax(std::string_view data) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(absl::string_view(data.data(), data.size()), '\n')) {
    if (line.empty()) continue;
    size_t sp = line.find(' ');
    absl::string_view rec = sp != absl::string_view::npos && sp > 0 &&
                                    line.substr(0, sp).find_first_not_of("0123456789") ==
                                        absl::string_view::npos
                                ? line.substr(sp + 1)
                                : line;
    size_t body = rec.size() + 2;  // ' ' and '\n'
    size_t n = body + std::to_string(body).size();
    if (std::to_string(n).size() != std::to_string(body).size()) ++n;
    absl::StrAppend(&out, n, " ", rec, "\n");
  }
  return out;
}

std::string FixArchive(std::string_view in) {
  std::string out;
  size_t off = 0;
  while (off + 512 <= in.size()) {
    unsigned char b[512];
    std::memcpy(b, in.data() + off, 512);
    off += 512;
    if (std::all_of(b, b + 512, [](unsigned char c) { return c == 0; })) {
      out.append(reinterpret_cast<char*>(b), 512);
      continue;
    }
    int64_t size = (b[124] & 0x80) ? 0 : OctalOrZero(b + 124, 12);
    size = std::min<int64_t>(size, static_cast<int64_t>(in.size() - off));
    std::string data(in.substr(off, static_cast<size_t>(size)));
    off += static_cast<size_t>(size + (512 - size % 512) % 512);
    if (b[156] == 'x' || b[156] == 'g') {
      data = FixPax(data);
      std::snprintf(reinterpret_cast<char*>(b + 124), 12, "%011llo",
                    static_cast<unsigned long long>(data.size()));
    }
    PutChecksum(b);
    out.append(reinterpret_cast<char*>(b), 512);
    out += data;
    out.append((512 - data.size() % 512) % 512, '\0');
  }
  out.append(in.substr(std::min(off, in.size())));
  return out;
}

}  // namespace
}  // namespace berth::tar

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  size = LLVMFuzzerMutate(data, size, max_size);
  // One time in eight the raw mutation stands, so bad checksums and lengths stay covered; gzip
  // streams are left alone.
  if (seed % 8 == 0 || (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)) return size;
  std::string fixed = berth::tar::FixArchive(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (fixed.size() > max_size) return size;
  std::memcpy(data, fixed.data(), fixed.size());
  return fixed.size();
}

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  using berth::tar::sandbox;
  sandbox = new berth::fuzz::MountSandbox();
  if (!sandbox->Enter(*argc, *argv)) {
    std::fprintf(stderr, "tar_fuzz: extraction not fuzzed (%s); the reader is\n",
                 sandbox->why_not().c_str());
  }
  ::umask(022);
  if (const char* s = std::getenv("TAR_FUZZ_STATS"); s != nullptr && *s == '1') {
    std::atexit([] {
      const auto& st = berth::tar::stats;
      std::fprintf(stderr,
                   "tar_fuzz stats: %zu inputs, %zu read to the end, %zu Writer round trips, "
                   "%zu extracted (%zu compared with the model), %zu refused as modelled\n",
                   st.inputs, st.read_ok, st.round_trips, st.extracted, st.modelled,
                   st.failed_as_modelled);
    });
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth::tar;
  static MemFd* in = new MemFd();
  static MemFd* scratch = new MemFd();
  std::string_view bytes(reinterpret_cast<const char*>(data), size);

  ++stats.inputs;
  ReadResult full = ReadArchive(in->Reset(bytes), true);
  if (full.status.ok()) ++stats.read_ok;
  ReadResult skipped = ReadArchive(in->Reset(bytes), false);
  for (Item& it : skipped.items) it.data.clear();
  ReadResult full_no_data = full;
  for (Item& it : full_no_data.items) it.data.clear();
  // ReadAll's failure (a cut entry) is Next's skip failure one call later; compare up to there.
  if (!full.status.ok() && full_no_data.items.size() == skipped.items.size() + 1) {
    full_no_data.items.pop_back();
  }
  CheckSameRead(full_no_data, skipped, "reading vs skipping the data");

  // The reader sniffs gzip and zstd frames; an input that starts with either is compressed.
  bool compressed = (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) ||
                    (size >= 4 && std::memcmp(data, "\x28\xb5\x2f\xfd", 4) == 0);
  if (full.status.ok() && !compressed) {
    FUZZ_CHECK(full.digest == Sha256(bytes) && full.bytes == static_cast<int64_t>(size),
               "digest of a complete read");
  }
  if (!compressed) {
    ReadResult z = ReadArchive(in->Reset(Gzip(bytes)), true);
    CheckSameRead(full, z, "plain vs gzip");
    for (size_t i = 0; i < full.items.size(); ++i) {
      FUZZ_CHECK(full.items[i].data == z.items[i].data, "gzip data");
    }
    ReadResult zs = ReadArchive(in->Reset(Zstd(bytes)), true);
    CheckSameRead(full, zs, "plain vs zstd");
    for (size_t i = 0; i < full.items.size(); ++i) {
      FUZZ_CHECK(full.items[i].data == zs.items[i].data, "zstd data");
    }
  }
  // Extraction first: an escape is the worse finding.
  if (!sandbox->jail().empty()) {
    CheckExtraction(bytes, full, *in);
    CheckInRootExtraction(bytes, full, *in);
  }
  if (full.status.ok()) CheckWriterRoundTrip(full.items, *scratch);
  return 0;
}
