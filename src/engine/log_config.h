#pragma once
// HostConfig.LogConfig: which log drivers Berth has (json-file, local, none), Docker's rules for
// their options and the daemon's defaults (dockerd's --log-driver/--log-opt), and where each
// driver keeps a container's log. The shim writes and rotates the file (src/shim/log_file.h);
// the API reads it back (src/engine/log_reader.h).

#include <cstdint>
#include <string>

#include "common/status.h"
#include "spec/host_config.h"

namespace berth::engine {

// What the shim needs to write a container's log.
struct LogSettings {
  std::string driver;     // "json-file", "local" or "none"
  int64_t max_size = -1;  // bytes a file may reach before it is rotated; -1: never rotated
  int max_file = 1;       // files kept, the live one included
  bool compress = false;  // rotated files gzipped (.N.gz)
  bool operator==(const LogSettings&) const = default;
};

// The container's effective LogConfig, as dockerd's mergeAndVerifyLogConfig makes it: an empty
// Type takes the daemon's driver; options the container does not set take the daemon's when the
// drivers match; then every option is checked. Errors are Docker's words (InvalidArgument, 400).
// Berth also checks the option values here, where dockerd only does at start: a container that
// could never start is refused before it exists.
StatusOr<spec::LogConfig> ResolveLogConfig(const spec::LogConfig& requested,
                                           const spec::LogConfig& daemon_default);

// The settings of a resolved LogConfig (its values already checked by ResolveLogConfig).
StatusOr<LogSettings> LogSettingsOf(const spec::LogConfig& config);

// Checks the daemon's own --log-driver/--log-opt (daemon.json "log-driver", "log-opts").
Status ValidateDaemonLogConfig(const spec::LogConfig& config);

// The log file of a container whose files live in `container_dir`: <id>-json.log for json-file,
// local-logs/container.log for local (as dockerd places them), empty for none.
std::string LogFilePath(const std::string& container_dir, const std::string& id,
                        const std::string& driver);

// go-units' FromHumanSize (decimal: 10k = 10000, 10m = 10000000) and RAMInBytes (binary: 10k =
// 10240), as dockerd's json-file and local drivers parse max-size. -1 if `s` is not a size.
int64_t ParseHumanSize(const std::string& s, bool binary);

}  // namespace berth::engine
