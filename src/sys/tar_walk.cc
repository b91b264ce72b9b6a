// tar::Writer::AddPathAt: an fd-relative walk for docker cp (see tar.h).

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "sys/tar.h"

namespace berth::tar {
namespace {

// The children of an open directory, sorted by name.
absl::StatusOr<std::vector<std::string>> Children(int dir_fd, const std::string& what) {
  int dup = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dup < 0) return ErrnoStatus(errno, absl::StrCat("open ", what));
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    ::close(dup);
    return ErrnoStatus(errno, absl::StrCat("opendir ", what));
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return ErrnoStatus(err, absl::StrCat("readdir ", what));
  std::sort(names.begin(), names.end());
  return names;
}

void Capability(int fd, Entry* e) {
  char buf[4096];
  ssize_t n = ::fgetxattr(fd, "security.capability", buf, sizeof(buf));
  if (n > 0) e->xattrs["security.capability"] = std::string(buf, static_cast<size_t>(n));
}

}  // namespace

absl::Status Writer::AddPathAt(int dir_fd, const std::string& base, const std::string& name) {
  const char* b = base.empty() ? "." : base.c_str();
  struct stat st;
  if (::fstatat(dir_fd, b, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(errno, absl::StrCat("lstat ", name));
  }
  Entry e;
  e.name = name;
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.mtime = st.st_mtim.tv_sec;

  if (S_ISDIR(st.st_mode)) {
    int fd = ::openat(dir_fd, b, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", name));
    UniqueFd dir(fd);
    Capability(dir.get(), &e);
    e.type = '5';
    RETURN_IF_ERROR(AddEntry(e));
    std::vector<std::string> names;
    ASSIGN_OR_RETURN(names, Children(dir.get(), name));
    for (const std::string& n : names) {
      absl::Status s = AddPathAt(dir.get(), n, absl::StrCat(name, "/", n));
      // A file removed while we walk (a running container) is skipped, as docker does.
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
    return absl::OkStatus();
  }
  if (S_ISSOCK(st.st_mode)) return absl::OkStatus();  // tar cannot hold sockets
  if (st.st_nlink > 1) {
    auto [it, inserted] = inodes_.try_emplace({st.st_dev, st.st_ino}, name);
    if (!inserted) {
      e.type = '1';
      e.linkname = it->second;
      return AddEntry(e);
    }
  }
  if (S_ISREG(st.st_mode)) {
    int fd = ::openat(dir_fd, b, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, absl::StrCat("open ", name));
    UniqueFd f(fd);
    Capability(f.get(), &e);
    e.type = '0';
    RETURN_IF_ERROR(WriteHeader(e, st.st_size));
    return CopyFromFd(f.get(), st.st_size, name);
  }
  if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 256) + 1, '\0');
    ssize_t len = ::readlinkat(dir_fd, b, target.data(), target.size());
    if (len < 0) return ErrnoStatus(errno, absl::StrCat("readlink ", name));
    if (static_cast<size_t>(len) >= target.size()) {
      return absl::InternalError(absl::StrCat("symlink ", name, " changed while archived"));
    }
    target.resize(static_cast<size_t>(len));
    e.type = '2';
    e.linkname = std::move(target);
    return AddEntry(e);
  }
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    e.type = S_ISCHR(st.st_mode) ? '3' : '4';
    e.devmajor = major(st.st_rdev);
    e.devminor = minor(st.st_rdev);
    return AddEntry(e);
  }
  if (S_ISFIFO(st.st_mode)) {
    e.type = '6';
    return AddEntry(e);
  }
  return absl::OkStatus();
}

}  // namespace berth::tar
