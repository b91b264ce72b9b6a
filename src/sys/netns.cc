#include "sys/netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <thread>

#include "absl/strings/str_split.h"
#include "common/sync.h"
#include "sys/netlink.h"

namespace berth::sys {

namespace {

// Runs fn on a fresh thread and waits for it. The thread may change its namespace; it dies afterwards,
// so the change never leaks into a thread that other code runs on.
Status OnHelperThread(const std::function<Status()>& fn) {
  Status st;
  try {
    std::thread t([&] { st = fn(); });
    t.join();
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(std::string("start namespace helper thread: ") + e.what());
  }
  return st;
}

// "net.ipv4.conf.br-x.y.forwarding" -> "/proc/sys/net/ipv4/conf/br-x.y/forwarding": interface names may
// contain dots, so for the per-interface trees the name is everything between the fixed prefix and the
// last component.
std::string SysctlPath(const std::string& key) {
  if (key.find('/') != std::string::npos) return "/proc/sys/" + key;
  std::vector<std::string> parts = absl::StrSplit(key, '.');
  bool per_if = parts.size() >= 5 && parts[0] == "net" && (parts[1] == "ipv4" || parts[1] == "ipv6") &&
                (parts[2] == "conf" || parts[2] == "neigh");
  std::string path = "/proc/sys";
  if (!per_if) {
    for (const auto& p : parts) path += "/" + p;
    return path;
  }
  path += "/" + parts[0] + "/" + parts[1] + "/" + parts[2] + "/" + parts[3];
  for (size_t i = 4; i + 1 < parts.size(); ++i) path += "." + parts[i];
  return path + "/" + parts.back();
}

}  // namespace

StatusOr<NetNs> NetNs::Current() { return Open("/proc/thread-self/ns/net"); }

StatusOr<NetNs> NetNs::Open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open netns " + path);
  // Catch a plain file or an unmounted /run/netns entry here, not at the first setns.
  int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
  if (type != CLONE_NEWNET) return absl::InvalidArgumentError(path + " is not a network namespace");
  return NetNs(std::move(fd));
}

StatusOr<NetNs> NetNs::Create(const std::string& path, const std::function<Status()>& init) {
  CheckNoStateLock("NetNs::Create");
  {
    UniqueFd f(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
    if (!f.valid()) return ErrnoStatus(errno, "create netns file " + path);
  }
  bool mounted = false;
  Status st = OnHelperThread([&]() -> Status {
    if (::unshare(CLONE_NEWNET) != 0) return ErrnoStatus(errno, "unshare(CLONE_NEWNET)");
    // This thread's namespace, not the process's (/proc/self/ns/net is the main thread's).
    std::string self = "/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/ns/net";
    if (::mount(self.c_str(), path.c_str(), "none", MS_BIND, nullptr) != 0)
      return ErrnoStatus(errno, "bind-mount netns on " + path);
    mounted = true;
    // A fresh namespace has lo down; nothing (127.0.0.11 DNS, health checks) works until it is up.
    ASSIGN_OR_RETURN(auto rtnl, Rtnl::Open(nullptr));
    RETURN_IF_ERROR(rtnl->SetUp("lo"));
    return init ? init() : absl::OkStatus();
  });
  if (!st.ok()) {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
    ::unlink(path.c_str());
    return Annotate(st, "create netns " + path);
  }
  return Open(path);
}

Status NetNs::Remove(const std::string& path) {
  CheckNoStateLock("NetNs::Remove");
  // EINVAL: not a mount point (already unmounted, or the file of a failed Create).
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return ErrnoStatus(errno, "umount netns " + path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(errno, "unlink netns " + path);
  return absl::OkStatus();
}

ino_t NetNs::Inode() const {
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) return 0;
  return st.st_ino;
}

Status NetNs::Run(const std::function<Status()>& fn) const {
  CheckNoStateLock("NetNs::Run");
  int fd = fd_.get();
  return OnHelperThread([&]() -> Status {
    if (::setns(fd, CLONE_NEWNET) != 0) return ErrnoStatus(errno, "setns(CLONE_NEWNET)");
    return fn();
  });
}

Status WriteSysctl(const NetNs* ns, const std::string& key, const std::string& value) {
  std::string path = SysctlPath(key);
  // /proc/sys/net resolves against the network namespace of the task that opens it, so opening on a
  // thread inside ns is enough; no /proc remount is needed.
  auto write = [&]() -> Status {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus(errno, "sysctl " + key);
    std::string data = value + "\n";
    if (::write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size()))
      return ErrnoStatus(errno, "sysctl " + key + "=" + value);
    return absl::OkStatus();
  };
  return ns == nullptr ? write() : ns->Run(write);
}

StatusOr<std::string> ReadSysctl(const NetNs* ns, const std::string& key) {
  std::string path = SysctlPath(key);
  std::string out;
  auto read = [&]() -> Status {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus(errno, "sysctl " + key);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    if (n < 0) return ErrnoStatus(errno, "sysctl " + key);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(ns == nullptr ? read() : ns->Run(read));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace berth::sys
