#pragma once
// --mount: docker's CSV syntax (docker/cli opts/mount.go) into one HostConfig.Mounts entry.

#include <string>

#include "common/status.h"
#include "nlohmann/json.hpp"

namespace berth::cli {

// "type=bind,source=/a,target=/b,readonly" -> {"Type":"bind","Source":"/a","Target":"/b",...}.
StatusOr<nlohmann::json> ParseMountFlag(const std::string& value);

}  // namespace berth::cli
