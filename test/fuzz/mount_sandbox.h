#pragma once
// A sandbox for fuzzing code that writes to the file system with root's powers (tar extraction):
// the process moves to a private mount namespace in which
//   - every mount is read-only, except the paths libFuzzer itself writes (the working directory,
//     the corpus directories and the artifact directory named on its command line), so a write
//     that escapes the jail fails with EROFS instead of touching the host;
//   - the jail is a tmpfs that is mounted nowhere (fsopen/fsmount, reached only through its fd as
//     /proc/self/fd/N): ".." at its root stays at its root, and nothing is left behind on exit.
// Needs root (CAP_SYS_ADMIN); Enter() says why when it cannot set up.

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace berth::fuzz {

class MountSandbox {
 public:
  // The jail's root as a path ("/proc/self/fd/N"), or "" when the sandbox is not available.
  const std::string& jail() const { return jail_; }
  const std::string& why_not() const { return why_not_; }

  // Sets up from libFuzzer's arguments. Returns false (and leaves the process as it was, apart
  // from a possibly private mount namespace) when the sandbox cannot be made.
  bool Enter(int argc, char** argv) {
    if (::geteuid() != 0) return No("not root");
    std::vector<std::string> writable;
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) == nullptr) return No("getcwd");
    writable.push_back(cwd);
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      std::string path;
      if (a.rfind("-artifact_prefix=", 0) == 0 || a.rfind("-exact_artifact_path=", 0) == 0) {
        path = a.substr(a.find('=') + 1);
        // A prefix "dir/name-" names files in dir.
        if (!path.empty() && path.back() != '/') {
          size_t slash = path.rfind('/');
          path = slash == std::string::npos ? "." : path.substr(0, slash + 1);
        }
      } else if (!a.empty() && a[0] != '-') {
        path = a;  // a corpus directory, or an input file to run (read only then)
      }
      struct stat st;
      if (path.empty() || ::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      char real[PATH_MAX];
      if (::realpath(path.c_str(), real) != nullptr) writable.push_back(real);
    }

    if (::unshare(CLONE_NEWNS) != 0) return No(Errno("unshare(CLONE_NEWNS)"));
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return No(Errno("make / private"));
    }
    struct mount_attr ro {};
    ro.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) != 0) {
      return No(Errno("mount_setattr(/, read-only)"));
    }
    for (const std::string& w : writable) {
      if (::mount(w.c_str(), w.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        return No(Errno("bind " + w));
      }
      struct mount_attr rw {};
      rw.attr_clr = MOUNT_ATTR_RDONLY;
      if (::mount_setattr(AT_FDCWD, w.c_str(), 0, &rw, sizeof rw) != 0) {
        return No(Errno("make " + w + " writable"));
      }
    }

    int fs = ::fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0) return No(Errno("fsopen(tmpfs)"));
    bool ok = ::fsconfig(fs, FSCONFIG_SET_STRING, "size", "256m", 0) == 0 &&
              ::fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) == 0 &&
              ::fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0;
    int mnt = ok ? ::fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV) : -1;
    int err = errno;
    ::close(fs);
    if (mnt < 0) {
      errno = err;
      return No(Errno("fsmount(tmpfs)"));
    }
    jail_fd_ = mnt;
    jail_ = "/proc/self/fd/" + std::to_string(mnt);
    return true;
  }

 private:
  bool No(std::string why) {
    why_not_ = std::move(why);
    return false;
  }
  static std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

  int jail_fd_ = -1;
  std::string jail_, why_not_;
};

}  // namespace berth::fuzz
