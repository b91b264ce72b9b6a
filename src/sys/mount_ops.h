#pragma once
// Mounts for volumes and bind propagation: a mount(8)-style option string turned into flags and
// data, what /proc/self/mountinfo says about a path, and the copy of a directory tree that fills
// an empty volume from the image (Docker's copy-up).

#include <string>

#include "common/status.h"

namespace berth::sys {

// mount(2) of source on target with mount(8)-style options ("ro,nosuid,size=64m", "bind"): the
// flags they name become flags, the rest is the filesystem's data.
Status MountWithOptions(const std::string& source, const std::string& target,
                        const std::string& fstype, const std::string& options);

// Whether target is itself a mount point (a bind of a directory on the same filesystem counts).
bool MountedAt(const std::string& target);

// The propagation of the mount that holds path: "shared", "slave" or "private".
StatusOr<std::string> PropagationOf(const std::string& path);
// The mount point of the mount that holds path ("/" at worst).
std::string MountPointOf(const std::string& path);

// Copies what is below src into dst (which exists): files, directories, symlinks and device
// nodes, with owners, modes and times. Fails on the first error.
Status CopyTree(const std::string& src, const std::string& dst);

// Whether dir has no entries (a missing dir counts as empty).
bool DirEmpty(const std::string& dir);

}  // namespace berth::sys
