#include "sys/devices.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>

namespace berth::sys {
namespace {

bool FromStat(const std::string& path, const struct stat& st, DeviceNode* out) {
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) return false;
  out->path = path;
  out->type = S_ISCHR(st.st_mode) ? 'c' : 'b';
  out->major = major(st.st_rdev);
  out->minor = minor(st.st_rdev);
  out->mode = st.st_mode & 07777;
  out->uid = st.st_uid;
  out->gid = st.st_gid;
  return true;
}

// Below dir, not following symlinks (a link to a device elsewhere is not a node of this tree).
void Walk(const std::string& dir, bool top, std::vector<DeviceNode>* out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    std::string p = dir + "/" + n;
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (top && (n == "pts" || n == "shm" || n == "fd" || n == "mqueue" || n == ".lxc" ||
                  n == ".lxd-mounts" || n == ".udev"))
        continue;
      Walk(p, false, out);
      continue;
    }
    if (top && n == "console") continue;  // the runtime makes the container's own console
    DeviceNode node;
    if (FromStat(p, st, &node)) out->push_back(std::move(node));
  }
  ::closedir(d);
}

}  // namespace

StatusOr<std::vector<DeviceNode>> DevicesAt(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat " + path);
  DeviceNode node;
  if (FromStat(path, st, &node)) return std::vector<DeviceNode>{node};
  if (S_ISDIR(st.st_mode)) {
    std::vector<DeviceNode> out;
    Walk(path, false, &out);
    return out;
  }
  return absl::InvalidArgumentError(path + ": not a device node");
}

std::vector<DeviceNode> HostDevices(const std::string& dir) {
  std::vector<DeviceNode> out;
  Walk(dir, true, &out);
  return out;
}

}  // namespace berth::sys
