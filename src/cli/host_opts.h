#pragma once
// The run/create flags whose values the docker CLI checks and rewrites before they reach the
// daemon: --ulimit (go-units ParseUlimit), --device (parseDevice), --security-opt (a seccomp
// profile's file is read and its JSON sent; systempaths=unconfined becomes empty MaskedPaths and
// ReadonlyPaths), --tmpfs, the block I/O weights and throttles (opts/weightdevice.go,
// throttledevice.go), --device-cgroup-rule, --storage-opt and --gpus (opts/gpus.go). Messages
// are docker's.

#include <cstdint>
#include <string>
#include <string_view>
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

// --blkio-weight: Go's ParseUint(value, 0, 16), as pflag's uint16 flag reads it.
StatusOr<uint16_t> ParseBlkioWeight(const std::string& value);

// --blkio-weight-device: ["/dev/sda:200"] -> [{"Path": "/dev/sda", "Weight": 200}]; a weight is
// 0 or 10 to 1000.
StatusOr<nlohmann::json> ParseWeightDevices(const std::vector<std::string>& values);

// --device-read-bps/--device-write-bps take a size ("/dev/sda:10mb", go-units RAMInBytes),
// --device-read-iops/--device-write-iops a count ("/dev/sda:1000"): [{"Path", "Rate"}]. `flag`
// ("device-read-bps") names the flag in messages.
enum class ThrottleRate { kBytes, kOperations };
StatusOr<nlohmann::json> ParseThrottleDevices(const std::vector<std::string>& values,
                                              std::string_view flag, ThrottleRate rate);

// --device-cgroup-rule: "TYPE MAJOR:MINOR ACCESS" ("c 1:3 rwm", "a *:* rwm"), sent as given.
Status CheckDeviceCgroupRules(const std::vector<std::string>& values);

// --storage-opt: ["size=10G"] -> {"size": "10G"}.
StatusOr<nlohmann::json> ParseStorageOpts(const std::vector<std::string>& values);

// --gpus: each value one CSV record (all | N | driver=, count=, device=, capabilities=, options=;
// a field with commas is quoted: "device=0,1") -> HostConfig.DeviceRequests; null without any.
StatusOr<nlohmann::json> ParseGpus(const std::vector<std::string>& values);

}  // namespace berth::cli
