// Keys and certificates on disk: mode 0600 files in 0700 directories, replaced atomically so a
// crash leaves either the old file or the new one, never a torn key.

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "cluster/pki/pki.h"
#include "common/fd.h"

namespace berth::cluster::pki {
namespace {

// mkdir -p with mode 0700 for what it creates; directories that exist keep their mode.
Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(dir, ": not a directory"));
    }
    return absl::OkStatus();
  }
  size_t slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) RETURN_IF_ERROR(MakeDirs(dir.substr(0, slash)));
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus(errno, "mkdir " + dir);
  return absl::OkStatus();
}

std::string TempSuffix() {
  unsigned char r[6];
  if (RAND_bytes(r, sizeof r) != 1) return ".tmp";
  char buf[32];
  std::snprintf(buf, sizeof buf, ".tmp-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4],
                r[5]);
  return buf;
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write " + path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace

Status WriteSecretFile(const std::string& path, std::string_view data) {
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (slash != std::string::npos && slash + 1 == path.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("secret file path ", path, " names a directory"));
  }
  RETURN_IF_ERROR(MakeDirs(dir));

  std::string tmp = path + TempSuffix();
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "create " + tmp);
  Status st = [&]() -> Status {
    // The umask can only narrow 0600; fchmod states the mode whatever the umask is.
    if (::fchmod(fd.get(), 0600) != 0) return ErrnoStatus(errno, "chmod " + tmp);
    RETURN_IF_ERROR(WriteAll(fd.get(), data, tmp));
    if (::fsync(fd.get()) != 0) return ErrnoStatus(errno, "fsync " + tmp);
    if (::close(fd.release()) != 0) return ErrnoStatus(errno, "close " + tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus(errno, "rename to " + path);
    return absl::OkStatus();
  }();
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  // The rename is durable once the directory is.
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.valid()) (void)::fsync(dfd.get());
  return absl::OkStatus();
}

}  // namespace berth::cluster::pki
