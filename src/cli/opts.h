#pragma once
// Pure parsing and formatting helpers of the CLI, with docker's rules and messages: sizes and
// units (go-units), port specs (go-connections/nat), restart policies, env files, timestamps.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/text.h"
#include "nlohmann/json.hpp"

namespace berth::cli {

// go-units RAMInBytes: "512m", "1g", "1.5GiB", "100" (bytes); binary multiples.
// encoding/csv's Reader.Read of a one-line record (the docker CLI's --mount, --publish,
// --secret, --config, --network and --gpus values), with Go's errors: "EOF" for an empty line,
// "parse error on line 1, column N: ..." (N counts bytes from 1) for a stray or missing quote.
StatusOr<std::vector<std::string>> GoCsvRecord(std::string_view line);
StatusOr<int64_t> RamInBytes(std::string_view s);
// --cpus "1.5" -> 1500000000 NanoCpus.
StatusOr<int64_t> ParseNanoCpus(std::string_view s);
// "3 minutes ago" from a unix time, as docker's CREATED columns print.
std::string TimeAgo(int64_t unix_seconds, int64_t now_unix_seconds);

struct PortBinding {
  std::string host_ip;
  std::string host_port;
};
struct PortSpecs {
  // "80/tcp" -> {} ; key order is std::map's, which is also what docker sends (sorted JSON keys).
  std::map<std::string, nlohmann::json> exposed;
  std::map<std::string, std::vector<PortBinding>> bindings;
};
// -p values: "8080:80", "127.0.0.1:8082:80/tcp", "5353:53/udp", "80", "8000-8001:80-81",
// "[::1]:80:80".
StatusOr<PortSpecs> ParsePortSpecs(const std::vector<std::string>& specs);
// JSON shapes of the create request.
nlohmann::json ExposedPortsJson(const PortSpecs& p);
nlohmann::json PortBindingsJson(const PortSpecs& p);

// "no", "always", "unless-stopped", "on-failure", "on-failure:3" ->
// {"Name": ..., "MaximumRetryCount": n}.
StatusOr<nlohmann::json> ParseRestartPolicy(std::string_view s);

// KEY=VALUE lines; blank lines and '#' comments skipped; a bare KEY takes the value from the
// environment (and is dropped when unset), as docker's env files do.
StatusOr<std::vector<std::string>> ParseEnvFile(const std::string& path);
// -e KEY (no '=') takes KEY's value from this process's environment if set.
std::string ExpandEnv(std::string_view kv);

// "a=b" strings -> {"a": "b"}; a bare "a" maps to "".
nlohmann::json KeyValueMap(const std::vector<std::string>& kvs);

// --since/--until values for logs and events: a unix timestamp ("1700000000[.nnn]"), an
// RFC 3339 date, or a Go duration relative to now ("10m", "1h30m", "90s"). Returns the
// "seconds[.nanoseconds]" string the API takes.
StatusOr<std::string> ParseTimestamp(std::string_view value, int64_t now_unix_seconds);
// Go's time.ParseDuration subset: "1h2m3.5s", "300ms", "10m".
StatusOr<std::chrono::nanoseconds> ParseGoDuration(std::string_view s);

// "--filter key=value" -> filters map; error "bad format of filter (expected name=value)".
Status AddFilter(std::string_view kv, std::map<std::string, std::vector<std::string>>* filters);

// docker's formatter.Ellipsis: at most max_len display characters, the last one "…".
std::string Ellipsis(std::string_view s, size_t max_len);
// docker ps "Ports" column from the /containers/json Ports array.
std::string DisplayablePorts(const nlohmann::json& ports);

}  // namespace berth::cli
