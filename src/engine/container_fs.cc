#include "engine/container_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace berth::engine {
namespace {

constexpr char kOpaqueXattr[] = "trusted.overlay.opaque";
constexpr int kMaxSymlinks = 255;  // Docker's maxSymlinkLimit

long OpenAt2(int dir, const char* path, int flags, uint64_t resolve) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  how.resolve = resolve;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dir, path, &how, sizeof(how));
    if (fd >= 0 || (errno != EINTR && errno != EAGAIN)) return fd;
  }
}

bool IsWhiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

bool Opaque(int dir_fd) {
  char v[4];
  // An O_PATH fd carries no xattrs: go through its /proc/self/fd link (the very directory).
  std::string p = absl::StrCat("/proc/self/fd/", dir_fd);
  ssize_t n = ::getxattr(p.c_str(), kOpaqueXattr, v, sizeof(v));
  return n == 1 && v[0] == 'y';
}

// Go's os.FileInfo comparison of dockerd's naive diff (statDifferent): type and permissions,
// owner, device; size and mtime for non-directories (mtime equal, or equal seconds with one
// side whole, as sameFsTimeSpec).
bool StatDifferent(const struct stat& a, const struct stat& b) {
  if (a.st_mode != b.st_mode || a.st_uid != b.st_uid || a.st_gid != b.st_gid ||
      a.st_rdev != b.st_rdev)
    return true;
  if (S_ISDIR(a.st_mode)) return false;
  bool same_time = a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
                   (a.st_mtim.tv_nsec == b.st_mtim.tv_nsec || a.st_mtim.tv_nsec == 0 ||
                    b.st_mtim.tv_nsec == 0);
  return !same_time || a.st_size != b.st_size;
}

// The image's merged view of its lower dirs: what a path is there, if anything.
class LowerView {
 public:
  explicit LowerView(const std::vector<std::string>& lowers) {
    for (const auto& l : lowers) {
      int fd = ::open(l.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fd >= 0) layers_.emplace_back(fd);
    }
  }

  // rel: "a/b" (no leading slash). Walks the layers top-most first as overlayfs does: a
  // whiteout hides the path, and so does a whiteout, opaque directory or non-directory at one of
  // its ancestors in a higher layer.
  std::optional<struct stat> Stat(const std::string& rel) const {
    std::vector<std::string> parts = absl::StrSplit(rel, '/');
    for (const auto& layer : layers_) {
      int start = ::openat(layer.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (start < 0) continue;
      UniqueFd dir(start);
      bool reachable = true, hides_below = false;
      // Walk the ancestors in this layer, never through a symlink.
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        struct stat st;
        if (::fstatat(dir.get(), parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
          reachable = false;
          break;
        }
        if (!S_ISDIR(st.st_mode)) {  // a whiteout or a file hides everything below it
          reachable = false;
          hides_below = true;
          break;
        }
        int next = ::openat(dir.get(), parts[i].c_str(),
                            O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
          reachable = false;
          break;
        }
        dir = UniqueFd(next);
        if (Opaque(dir.get())) hides_below = true;  // lower layers are hidden below it
      }
      if (reachable) {
        struct stat st;
        if (::fstatat(dir.get(), parts.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
          if (IsWhiteout(st)) return std::nullopt;
          return st;
        }
      }
      if (hides_below) return std::nullopt;
    }
    return std::nullopt;
  }

  // The names in directory rel across the layers (what the merged lower view lists).
  std::set<std::string> List(const std::string& rel) const {
    std::set<std::string> names, hidden;
    for (const auto& layer : layers_) {
      long fd = OpenAt2(layer.get(), rel.empty() ? "." : rel.c_str(), O_RDONLY | O_DIRECTORY,
                        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
      if (fd < 0) continue;
      DIR* d = ::fdopendir(static_cast<int>(fd));
      if (d == nullptr) {
        ::close(static_cast<int>(fd));
        continue;
      }
      while (dirent* de = ::readdir(d)) {
        std::string n = de->d_name;
        if (n == "." || n == "..") continue;
        names.insert(n);
      }
      ::closedir(d);
    }
    std::set<std::string> out;
    for (const auto& n : names)
      if (Stat(rel.empty() ? n : absl::StrCat(rel, "/", n))) out.insert(n);
    return out;
  }

 private:
  std::vector<UniqueFd> layers_;
};

StatusOr<std::vector<std::string>> SortedChildren(int dir_fd) {
  int dup = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) return ErrnoStatus(errno, "open upper dir");
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    ::close(dup);
    return ErrnoStatus(errno, "opendir upper dir");
  }
  std::vector<std::string> out;
  while (dirent* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") out.emplace_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// dockerd's addChanges over the upper dir: appends the changes under directory `rel` (open as
// dir_fd); `added`: the directory itself is new, so everything in it is.
Status WalkUpper(int dir_fd, const std::string& rel, bool added, const LowerView& lower,
                 const std::function<bool(const std::string&)>& skip,
                 std::vector<FsChange>* out) {
  std::vector<std::string> names;
  ASSIGN_OR_RETURN(names, SortedChildren(dir_fd));
  for (const auto& n : names) {
    std::string child = rel.empty() ? n : absl::StrCat(rel, "/", n);
    if (skip && skip(child)) continue;
    struct stat st;
    if (::fstatat(dir_fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    std::optional<struct stat> old = added ? std::nullopt : lower.Stat(child);
    if (IsWhiteout(st)) {
      if (old) out->push_back({"/" + child, kChangeDelete});
      continue;
    }
    size_t at_entry = out->size();
    bool child_added = !old;
    bool reported = false;
    if (!old) {
      out->push_back({"/" + child, kChangeAdd});
      reported = true;
    } else if (StatDifferent(*old, st)) {
      out->push_back({"/" + child, kChangeModify});
      reported = true;
    }
    if (!S_ISDIR(st.st_mode)) continue;
    int fd = ::openat(dir_fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    UniqueFd d(fd);
    bool lower_dir = old && S_ISDIR(old->st_mode);
    RETURN_IF_ERROR(WalkUpper(d.get(), child, child_added || !lower_dir, lower, skip, out));
    if (lower_dir && Opaque(d.get())) {
      // Deleted and made again: what the image had in it and the upper dir lacks is gone.
      std::set<std::string> mine;
      auto kids = SortedChildren(d.get());
      if (kids.ok()) mine.insert(kids->begin(), kids->end());
      for (const auto& k : lower.List(child))
        if (!mine.count(k)) out->push_back({absl::StrCat("/", child, "/", k), kChangeDelete});
    }
    // A directory with changes beneath it is reported as modified (dockerd: "to save and
    // restore its permissions"), unless it is new.
    if (!reported && out->size() > at_entry)
      out->insert(out->begin() + static_cast<long>(at_entry), FsChange{"/" + child, kChangeModify});
  }
  return absl::OkStatus();
}

// Go's path.Clean for absolute paths.
std::string CleanAbs(std::string_view p) {
  std::vector<std::string> out;
  for (absl::string_view c : absl::StrSplit(Av(p), '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.emplace_back(c);
  }
  return "/" + absl::StrJoin(out, "/");
}

}  // namespace

StatusOr<std::vector<FsChange>> OverlayChanges(
    const std::string& upper, const std::vector<std::string>& lowers,
    const std::function<bool(const std::string& rel)>& skip) {
  int fd = ::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open " + upper);
  UniqueFd root(fd);
  LowerView lower(lowers);
  std::vector<FsChange> out;
  RETURN_IF_ERROR(WalkUpper(root.get(), "", false, lower, skip, &out));
  std::stable_sort(out.begin(), out.end(),
                   [](const FsChange& a, const FsChange& b) { return a.path < b.path; });
  return out;
}

StatusOr<std::string> ResolveInScope(std::string_view path, const ReadlinkFn& readlink) {
  std::vector<std::string> resolved;
  std::deque<std::string> todo;
  for (absl::string_view c : absl::StrSplit(Av(path), '/')) todo.emplace_back(c);
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!resolved.empty()) resolved.pop_back();
      continue;
    }
    std::string candidate = "/" + absl::StrJoin(resolved, "/");
    candidate = resolved.empty() ? "/" + c : absl::StrCat(candidate, "/", c);
    std::optional<std::string> target;
    ASSIGN_OR_RETURN(target, readlink(candidate));
    if (!target) {
      resolved.push_back(std::move(c));
      continue;
    }
    if (++links > kMaxSymlinks) {
      return absl::InvalidArgumentError(
          absl::StrCat("evalSymlinksInScope: too many links in ", Av(path)));
    }
    if (absl::StartsWith(*target, "/")) resolved.clear();
    std::vector<std::string> parts = absl::StrSplit(*target, '/');
    todo.insert(todo.begin(), parts.begin(), parts.end());
  }
  return "/" + absl::StrJoin(resolved, "/");
}

CpPath ParseArchivePath(std::string_view path) {
  CpPath a;
  a.abs = CleanAbs(path);
  // archive.PreserveTrailingDotOrSeparator
  if (absl::EndsWith(Av(path), "/.") || path == ".") {
    if (!absl::EndsWith(a.abs, "/")) a.abs += "/";
    a.abs += ".";
  } else if (absl::EndsWith(Av(path), "/") && !absl::EndsWith(a.abs, "/")) {
    a.abs += "/";
  }
  size_t slash = a.abs.rfind('/');
  a.dir = a.abs.substr(0, slash + 1);
  a.base = a.abs.substr(slash + 1);
  absl::string_view trimmed = absl::StripSuffix(a.abs, "/");
  while (absl::EndsWith(trimmed, "/")) trimmed.remove_suffix(1);
  if (trimmed.empty()) {
    a.name = "/";
  } else {
    a.name = std::string(trimmed.substr(trimmed.rfind('/') + 1));
  }
  return a;
}

uint32_t GoFileMode(mode_t m) {
  uint32_t out = m & 0777;
  switch (m & S_IFMT) {
    case S_IFDIR: out |= 1u << 31; break;
    case S_IFLNK: out |= 1u << 27; break;
    case S_IFBLK: out |= 1u << 26; break;                  // ModeDevice
    case S_IFCHR: out |= (1u << 26) | (1u << 21); break;  // ModeDevice | ModeCharDevice
    case S_IFIFO: out |= 1u << 25; break;
    case S_IFSOCK: out |= 1u << 24; break;
    default: break;
  }
  if (m & S_ISUID) out |= 1u << 23;
  if (m & S_ISGID) out |= 1u << 22;
  if (m & S_ISVTX) out |= 1u << 20;
  return out;
}

StatusOr<UniqueFd> OpenInRoot(int root_fd, const std::string& path, int flags) {
  std::string rel(absl::StripPrefix(path, "/"));
  long fd = OpenAt2(root_fd, rel.empty() ? "." : rel.c_str(), flags,
                    RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (fd < 0) return ErrnoStatus(errno, "open " + path);
  return UniqueFd(static_cast<int>(fd));
}

ReadlinkFn RootReadlink(int root_fd) {
  return [root_fd](const std::string& path) -> StatusOr<std::optional<std::string>> {
    auto fd = OpenInRoot(root_fd, path, O_PATH | O_NOFOLLOW);
    if (!fd.ok()) {
      if (absl::IsNotFound(fd.status())) return std::optional<std::string>();
      return fd.status();
    }
    struct stat st;
    if (::fstat(fd->get(), &st) != 0) return ErrnoStatus(errno, "lstat " + path);
    if (!S_ISLNK(st.st_mode)) return std::optional<std::string>();
    std::string target(4096, '\0');
    ssize_t n = ::readlinkat(fd->get(), "", target.data(), target.size());
    if (n < 0) return ErrnoStatus(errno, "readlink " + path);
    target.resize(static_cast<size_t>(n));
    return std::optional<std::string>(std::move(target));
  };
}

}  // namespace berth::engine
