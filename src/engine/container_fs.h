#pragma once
// The pure pieces of a container's filesystem endpoints (docker diff, cp, commit): the changes of
// an overlayfs upper dir, Docker's in-scope symlink resolution, its archive path rules and the
// path stat header. The container-facing parts are ContainerManager's (container_archive.cc).

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "common/status.h"

namespace berth::engine {

// GET /containers/{id}/changes: Kind 0 modified, 1 added, 2 deleted.
struct FsChange {
  std::string path;
  int kind = 0;
};
constexpr int kChangeModify = 0, kChangeAdd = 1, kChangeDelete = 2;

// The changes an overlayfs upper dir holds over its lower dirs (top-most first), as Docker
// reports them, sorted by path: a whiteout (char device 0:0) is a deletion; anything else is a
// modification where the lowers have the path and an addition where they do not; a directory
// the lowers have is reported only when its own metadata differs or something beneath it was
// added or deleted (dockerd's rule), or when it is opaque (trusted.overlay.opaque=y), whose
// lower children are then reported deleted.
// skip(rel) leaves a path ("etc/hosts") and what is under it out, as if it were not there.
StatusOr<std::vector<FsChange>> OverlayChanges(
    const std::string& upper, const std::vector<std::string>& lowers,
    const std::function<bool(const std::string& rel)>& skip = nullptr);

// Reads the symlink at an absolute in-container path: its target, nullopt when the path is no
// symlink or does not exist.
using ReadlinkFn = std::function<StatusOr<std::optional<std::string>>(const std::string& path)>;
// Docker's FollowSymlinkInScope over a container's root: every symlink (the last component
// included) is followed, absolute targets restart at the root, ".." never climbs above it; a
// missing component is kept as it is. Returns the clean absolute path ("/" for the root).
// More than 255 links: InvalidArgument.
StatusOr<std::string> ResolveInScope(std::string_view path, const ReadlinkFn& readlink);

// The path of an archive request as Docker reads it: abs is "/"+path cleaned, keeping a
// trailing "/" or "/." of the original; dir and base split it as Go's filepath.Split ("/a/b/"
// -> "/a/b/", ""); name is Go's filepath.Base(abs) ("/a/b/" -> "b", "/" -> "/").
struct CpPath {
  std::string abs, dir, base, name;
};
CpPath ParseArchivePath(std::string_view path);

// GET|HEAD /containers/{id}/archive's X-Docker-Container-Path-Stat (api::PathStatHeader).
struct PathStat {
  std::string name;
  int64_t size = 0;
  uint32_t mode = 0;  // Go's os.FileMode bits
  int64_t mtime_nanos = 0;
  std::string link_target;  // for a symlink: where it leads, resolved in the container
};
// A stat mode as Go's os.FileMode (type bits 1<<31 dir, 1<<27 symlink, ...; 0777 perms).
uint32_t GoFileMode(mode_t st_mode);

// openat2(root_fd, path, flags) with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: root_fd acts as
// "/", so no symlink or ".." leads outside it, however the tree changes meanwhile.
StatusOr<UniqueFd> OpenInRoot(int root_fd, const std::string& path, int flags);
// A ReadlinkFn over a root fd (lstat and readlink of each component through OpenInRoot).
ReadlinkFn RootReadlink(int root_fd);

}  // namespace berth::engine
