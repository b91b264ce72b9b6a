#pragma once
// Mount wrappers: overlayfs for container root filesystems.

#include <string>
#include <vector>

#include "common/status.h"

namespace berth::sys {

// lowers: top-most first (overlayfs order).
Status MountOverlay(const std::vector<std::string>& lowers, const std::string& upper,
                    const std::string& work, const std::string& target);
// Lazy unmount; not mounted is fine.
Status Unmount(const std::string& target);
bool IsMountPoint(const std::string& path);

}  // namespace berth::sys
