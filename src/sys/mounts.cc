#include "sys/mounts.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>

#include "absl/strings/str_join.h"
#include "common/sync.h"
#include "sys/fs.h"

namespace berth::sys {

Status MountOverlay(const std::vector<std::string>& lowers, const std::string& upper,
                    const std::string& work, const std::string& target) {
  CheckNoStateLock("MountOverlay");
  std::string data = "lowerdir=" + absl::StrJoin(lowers, ":") + ",upperdir=" + upper +
                     ",workdir=" + work;
  if (::mount("overlay", target.c_str(), "overlay", 0, data.c_str()) != 0)
    return ErrnoStatus(errno, "mount overlay on " + target);
  return absl::OkStatus();
}

Status Unmount(const std::string& target) {
  CheckNoStateLock("Unmount");
  if (::umount2(target.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return ErrnoStatus(errno, "umount " + target);
  return absl::OkStatus();
}

bool IsMountPoint(const std::string& path) {
  struct stat a, b;
  if (::stat(path.c_str(), &a) != 0) return false;
  if (::stat((path + "/..").c_str(), &b) != 0) return false;
  return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

}  // namespace berth::sys
