#pragma once
// Network namespace handles. A NetNs is the one owner of an fd on an nsfs inode; it never switches the
// namespace of the calling thread: berthd's threads share one process, and a thread that silently changed
// namespace would make every other component's sockets land in the wrong place. Work that must happen
// "inside" a namespace (opening sockets, writing /proc/sys/net) runs on a short-lived helper thread.

#include <sys/types.h>

#include <functional>
#include <string>

#include "common/fd.h"
#include "common/status.h"

namespace berth::sys {

class NetNs {
 public:
  // The namespace of the calling thread.
  static StatusOr<NetNs> Current();
  // /run/netns/X, /proc/PID/ns/net or any bind mount of one; InvalidArgument if it is not a network namespace.
  static StatusOr<NetNs> Open(const std::string& path);
  // A new namespace bind-mounted at `path` (the file is created, AlreadyExists if it is there; its directory
  // must exist), with `lo` up. The calling thread stays where it is. `init`, if given, runs inside the
  // new namespace before it is returned (sysctls of the namespace, at no extra thread hop).
  static StatusOr<NetNs> Create(const std::string& path, const std::function<Status()>& init = nullptr);
  // Lazy unmount and unlink; a missing or unmounted path is fine. Links inside go away when the last
  // reference (mount, fd, socket) to the namespace is dropped.
  static Status Remove(const std::string& path);

  NetNs(NetNs&&) = default;
  NetNs& operator=(NetNs&&) = default;

  int fd() const { return fd_.get(); }
  // The nsfs inode number: equal inodes mean the same namespace.
  ino_t Inode() const;

  // Runs fn on a helper thread that has setns()-ed into this namespace and returns its status; the caller's
  // thread is never moved. Sockets created by fn stay bound to this namespace after it returns.
  Status Run(const std::function<Status()>& fn) const;

 private:
  explicit NetNs(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// "net.ipv4.ip_forward" -> /proc/sys/net/ipv4/ip_forward as seen from ns (nullptr: the caller's namespace).
// A key containing '/' is taken as a path below /proc/sys as is (interface names may contain dots).
Status WriteSysctl(const NetNs* ns, const std::string& key, const std::string& value);
// The value without its trailing newline.
StatusOr<std::string> ReadSysctl(const NetNs* ns, const std::string& key);

}  // namespace berth::sys
