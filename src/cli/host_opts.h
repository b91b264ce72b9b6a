#pragma once
// The run/create flags whose values the docker CLI checks and rewrites before they reach the
// daemon: --ulimit (go-units ParseUlimit), --device (parseDevice), --security-opt (a seccomp
// profile's file is read and its JSON sent; systempaths=unconfined becomes empty MaskedPaths and
// ReadonlyPaths) and --tmpfs. Messages are docker's.

#include <string>
#include <vector>

#include "common/status.h"
#include "nlohmann/json.hpp"

namespace berth::cli {

// ["nofile=1024:2048"] -> [{"Name":"nofile","Soft":1024,"Hard":2048}].
StatusOr<nlohmann::json> ParseUlimits(const std::vector<std::string>& values);

// ["/dev/fuse", "/dev/sda:/dev/xvda:r"] -> [{"PathOnHost", "PathInContainer",
// "CgroupPermissions"}].
StatusOr<nlohmann::json> ParseDevices(const std::vector<std::string>& values);

struct SecurityOpts {
  nlohmann::json security_opt = nullptr;  // HostConfig.SecurityOpt: null or the strings
  bool unconfined_paths = false;          // systempaths=unconfined was given
};
StatusOr<SecurityOpts> ParseSecurityOpts(const std::vector<std::string>& values);

// ["/run:size=64m", "/t"] -> {"/run": "size=64m", "/t": ""}.
nlohmann::json ParseTmpfs(const std::vector<std::string>& values);

}  // namespace berth::cli
