#pragma once
// Device nodes of the host, as a container runtime needs them: what `--device` names and, for a
// privileged container, every node under /dev. Knows nothing of containers.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace berth::sys {

struct DeviceNode {
  std::string path;  // on the host
  char type = 'c';   // 'c' character, 'b' block
  int64_t major = 0, minor = 0;
  uint32_t mode = 0;  // permission bits only
  uint32_t uid = 0, gid = 0;
  bool operator==(const DeviceNode&) const = default;
};

// The node at path (symlinks followed, as Docker does). InvalidArgument when path is neither a
// device nor a directory ("not a device node"); for a directory, every device node below it.
StatusOr<std::vector<DeviceNode>> DevicesAt(const std::string& path);

// Every character and block device under dir (default /dev), skipping what a runtime mounts
// itself (pts, shm, mqueue, fd) and /dev/console, as runc's HostDevices does.
std::vector<DeviceNode> HostDevices(const std::string& dir = "/dev");

}  // namespace berth::sys
