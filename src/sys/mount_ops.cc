#include "sys/mount_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/fd.h"
#include "common/sync.h"
#include "sys/fs.h"

namespace berth::sys {
namespace {

// mount(8)'s flag words; the second member says whether the word sets (true) or clears them.
const std::map<std::string, std::pair<unsigned long, bool>>& FlagWords() {
  static const std::map<std::string, std::pair<unsigned long, bool>> k = {
      {"ro", {MS_RDONLY, true}},        {"rw", {MS_RDONLY, false}},
      {"nosuid", {MS_NOSUID, true}},    {"suid", {MS_NOSUID, false}},
      {"nodev", {MS_NODEV, true}},      {"dev", {MS_NODEV, false}},
      {"noexec", {MS_NOEXEC, true}},    {"exec", {MS_NOEXEC, false}},
      {"sync", {MS_SYNCHRONOUS, true}}, {"async", {MS_SYNCHRONOUS, false}},
      {"dirsync", {MS_DIRSYNC, true}},  {"noatime", {MS_NOATIME, true}},
      {"atime", {MS_NOATIME, false}},   {"nodiratime", {MS_NODIRATIME, true}},
      {"diratime", {MS_NODIRATIME, false}}, {"relatime", {MS_RELATIME, true}},
      {"norelatime", {MS_RELATIME, false}}, {"strictatime", {MS_STRICTATIME, true}},
      {"bind", {MS_BIND, true}},        {"rbind", {MS_BIND | MS_REC, true}},
      {"remount", {MS_REMOUNT, true}},  {"defaults", {0, true}},
  };
  return k;
}

// mountinfo escapes blanks, tabs, newlines and backslashes as \ooo.
std::string Unescape(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t j = 1; j <= 3 && ok; ++j) {
        if (s[i + j] < '0' || s[i + j] > '7') ok = false;
        else v = v * 8 + (s[i + j] - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

struct MountInfo {
  std::string point;
  std::string optional;  // "shared:1 master:2"
};

std::vector<MountInfo> ReadMountInfo() {
  std::vector<MountInfo> out;
  auto text = ReadFile("/proc/self/mountinfo");
  if (!text.ok()) return out;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f.size() < 7) continue;
    MountInfo m;
    m.point = Unescape(f[4]);
    std::vector<std::string> opt;
    for (size_t i = 6; i < f.size() && f[i] != "-"; ++i) opt.emplace_back(f[i]);
    m.optional = absl::StrJoin(opt, " ");
    out.push_back(std::move(m));
  }
  return out;
}

// The last (topmost) mount whose mount point is path or a parent of it.
const MountInfo* Holder(const std::vector<MountInfo>& all, const std::string& path) {
  const MountInfo* best = nullptr;
  for (const MountInfo& m : all) {
    bool under = m.point == "/" || path == m.point || absl::StartsWith(path, m.point + "/");
    if (under && (!best || m.point.size() >= best->point.size())) best = &m;
  }
  return best;
}

std::string RealPath(const std::string& p) {
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf) == nullptr) return p;
  return buf;
}

Status CopyFile(const std::string& src, const std::string& dst, const struct stat& st) {
  UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!in.valid()) return ErrnoStatus(errno, "open " + src);
  UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777));
  if (!out.valid()) return ErrnoStatus(errno, "create " + dst);
  for (;;) {
    ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 20, 0);
    if (n == 0) break;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
      return ErrnoStatus(errno, "copy " + src);
    char buf[1 << 16];  // copy_file_range refused (another filesystem): read and write
    for (;;) {
      ssize_t r = ::read(in.get(), buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return ErrnoStatus(errno, "read " + src);
      if (r == 0) break;
      for (ssize_t w = 0; w < r;) {
        ssize_t k = ::write(out.get(), buf + w, r - w);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return ErrnoStatus(errno, "write " + dst);
        w += k;
      }
    }
    break;
  }
  return absl::OkStatus();
}

// Owner, mode (not of a symlink) and times of dst from st.
Status CopyAttrs(const std::string& dst, const struct stat& st) {
  if (::lchown(dst.c_str(), st.st_uid, st.st_gid) != 0) return ErrnoStatus(errno, "chown " + dst);
  if (!S_ISLNK(st.st_mode) && ::chmod(dst.c_str(), st.st_mode & 07777) != 0)
    return ErrnoStatus(errno, "chmod " + dst);
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(AT_FDCWD, dst.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoStatus(errno, "utimes " + dst);
  return absl::OkStatus();
}

Status CopyEntry(const std::string& src, const std::string& dst) {
  struct stat st;
  if (::lstat(src.c_str(), &st) != 0) return ErrnoStatus(errno, "stat " + src);
  if (S_ISDIR(st.st_mode)) {
    if (::mkdir(dst.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus(errno, "mkdir " + dst);
    RETURN_IF_ERROR(CopyTree(src, dst));
  } else if (S_ISREG(st.st_mode)) {
    RETURN_IF_ERROR(CopyFile(src, dst, st));
  } else if (S_ISLNK(st.st_mode)) {
    std::vector<char> target(static_cast<size_t>(st.st_size) + 1);
    ssize_t n = ::readlink(src.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoStatus(errno, "readlink " + src);
    if (::symlink(std::string(target.data(), static_cast<size_t>(n)).c_str(), dst.c_str()) != 0)
      return ErrnoStatus(errno, "symlink " + dst);
  } else {
    if (::mknod(dst.c_str(), st.st_mode, st.st_rdev) != 0) return ErrnoStatus(errno, "mknod " + dst);
  }
  return CopyAttrs(dst, st);
}

}  // namespace

Status MountWithOptions(const std::string& source, const std::string& target,
                        const std::string& fstype, const std::string& options) {
  CheckNoStateLock("MountWithOptions");
  unsigned long flags = 0;
  std::vector<std::string> data;
  for (absl::string_view o : absl::StrSplit(options, ',', absl::SkipEmpty())) {
    auto it = FlagWords().find(std::string(o));
    if (it == FlagWords().end()) {
      data.emplace_back(o);
      continue;
    }
    if (it->second.second) flags |= it->second.first;
    else flags &= ~it->second.first;
  }
  std::string d = absl::StrJoin(data, ",");
  const char* type = fstype.empty() || fstype == "none" ? nullptr : fstype.c_str();
  if (::mount(source.c_str(), target.c_str(), (flags & MS_BIND) ? nullptr : type,
              flags & ~MS_RDONLY, d.empty() ? nullptr : d.c_str()) != 0)
    return ErrnoStatus(errno, "mount " + source + ":" + target);
  // A bind mount takes MS_RDONLY only on a remount.
  if ((flags & MS_RDONLY) &&
      ::mount(nullptr, target.c_str(), nullptr,
              MS_REMOUNT | MS_RDONLY | ((flags & MS_BIND) ? MS_BIND : 0), nullptr) != 0) {
    int e = errno;
    ::umount2(target.c_str(), MNT_DETACH);
    return ErrnoStatus(e, "remount read-only " + target);
  }
  return absl::OkStatus();
}

bool MountedAt(const std::string& target) {
  std::string real = RealPath(target);
  for (const MountInfo& m : ReadMountInfo())
    if (m.point == real) return true;
  return false;
}

std::string MountPointOf(const std::string& path) {
  auto all = ReadMountInfo();
  const MountInfo* m = Holder(all, RealPath(path));
  return m ? m->point : "/";
}

StatusOr<std::string> PropagationOf(const std::string& path) {
  auto all = ReadMountInfo();
  const MountInfo* m = Holder(all, RealPath(path));
  if (!m) return absl::NotFoundError("no mount holds " + path);
  if (absl::StrContains(m->optional, "shared:")) return std::string("shared");
  if (absl::StrContains(m->optional, "master:")) return std::string("slave");
  return std::string("private");
}

Status CopyTree(const std::string& src, const std::string& dst) {
  DIR* d = ::opendir(src.c_str());
  if (!d) return ErrnoStatus(errno, "open " + src);
  Status st;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    st = CopyEntry(src + "/" + n, dst + "/" + n);
    if (!st.ok()) break;
  }
  ::closedir(d);
  return st;
}

bool DirEmpty(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return true;
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

}  // namespace berth::sys
