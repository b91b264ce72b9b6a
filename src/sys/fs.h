#pragma once
// Small filesystem helpers with Status errors. No engine knowledge.

#include <string>
#include <vector>

#include "common/status.h"

namespace berth::sys {

StatusOr<std::string> ReadFile(const std::string& path);
// Writes to PATH.tmp, fsyncs, renames over PATH: a crash leaves the old or the new file, never half.
Status WriteFileAtomic(const std::string& path, std::string_view data, int mode = 0644);
Status WriteFile(const std::string& path, std::string_view data, int mode = 0644);
Status MkdirAll(const std::string& path, int mode = 0755);
// rm -rf without following symlinks; unmounts nothing (callers unmount first). Missing is fine.
Status RemoveAll(const std::string& path);
bool Exists(const std::string& path);
StatusOr<std::vector<std::string>> ListDir(const std::string& path);
// Disk usage of a tree in bytes (st_blocks based, hard links counted once).
int64_t DiskUsage(const std::string& path);

}  // namespace berth::sys
