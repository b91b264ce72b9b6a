#include "engine/log_config.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace berth::engine {
namespace {

// dockerd's built-in drivers that Berth does not have: refused with a word on why, instead of
// Docker's "not registered" (which would read as a typo).
const std::set<std::string>& ForeignDrivers() {
  static const auto* s = new std::set<std::string>{"awslogs", "etwlogs", "fluentd", "gcplogs", "gelf",
                                                   "journald", "logentries", "splunk", "syslog"};
  return *s;
}

// Go's strconv.Atoi, with its error text.
StatusOr<int> GoAtoi(const std::string& s) {
  int v;
  if (!absl::SimpleAtoi(s, &v) || s.empty() || std::isspace(static_cast<unsigned char>(s[0])) ||
      std::isspace(static_cast<unsigned char>(s.back())))
    return absl::InvalidArgumentError("strconv.Atoi: parsing \"" + s + "\": invalid syntax");
  return v;
}

// Go's strconv.ParseBool, with its error text.
StatusOr<bool> GoParseBool(const std::string& s) {
  static const std::set<std::string> kTrue = {"1", "t", "T", "TRUE", "true", "True"};
  static const std::set<std::string> kFalse = {"0", "f", "F", "FALSE", "false", "False"};
  if (kTrue.count(s)) return true;
  if (kFalse.count(s)) return false;
  return absl::InvalidArgumentError("strconv.ParseBool: parsing \"" + s + "\": invalid syntax");
}

Status InvalidSize(const std::string& s) {
  return absl::InvalidArgumentError("invalid size: '" + s + "'");
}

// The options each driver knows (dockerd's ValidateLogOpt of json-file and local).
Status CheckOptionNames(const spec::LogConfig& c) {
  for (const auto& [k, v] : spec::OrEmpty(c.config)) {
    if (k == "mode" || k == "max-buffer-size") continue;  // logger's built-in options
    if (c.type == "json-file") {
      if (k == "max-file" || k == "max-size" || k == "compress") continue;
      if (k == "labels" || k == "labels-regex" || k == "env" || k == "env-regex" || k == "tag")
        return absl::InvalidArgumentError("log opt '" + k +
                                          "' of the json-file log driver is not supported by Berth "
                                          "(its entries carry no attrs)");
      return absl::InvalidArgumentError("unknown log opt '" + k + "' for json-file log driver");
    }
    if (k == "max-file" || k == "max-size" || k == "compress") continue;
    return absl::InvalidArgumentError("unknown log opt '" + k + "' for log driver local");
  }
  return absl::OkStatus();
}

Status CheckDriverAndOptions(const spec::LogConfig& c) {
  if (c.type == "none") return absl::OkStatus();  // dockerd checks nothing for none
  const spec::StringMap& opts = spec::OrEmpty(c.config);
  auto mode = opts.find("mode");
  std::string m = mode == opts.end() ? "" : mode->second;
  if (m != "" && m != "blocking" && m != "non-blocking")
    return absl::InvalidArgumentError("logger: logging mode not supported: " + m);
  if (opts.count("max-buffer-size") && m != "non-blocking")
    return absl::InvalidArgumentError(
        "logger: max-buffer-size option is only supported with 'mode=non-blocking'");
  if (m == "non-blocking")
    return absl::InvalidArgumentError(
        "logger: mode=non-blocking is not supported by Berth: the shim writes every line, and a "
        "container whose log cannot be written waits (mode=blocking)");
  if (ForeignDrivers().count(c.type))
    return absl::InvalidArgumentError("logger: log driver '" + c.type +
                                      "' is not supported by Berth (json-file, local, none)");
  if (c.type != "json-file" && c.type != "local")
    return absl::InvalidArgumentError("logger: no log driver named '" + c.type + "' is registered");
  RETURN_IF_ERROR(CheckOptionNames(c));
  return LogSettingsOf(c).status();
}

}  // namespace

int64_t ParseHumanSize(const std::string& s, bool binary) {
  // ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0) return -1;
  while (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
    if (j == i + 1) return -1;
    i = j;
  }
  double num = std::strtod(s.substr(0, i).c_str(), nullptr);
  if (i < s.size() && s[i] == ' ') ++i;
  double mul = 1;
  if (i < s.size()) {
    const char* units = "kmgtp";
    const char* u = std::strchr(units, std::tolower(static_cast<unsigned char>(s[i])));
    if (u != nullptr && *u != '\0') {
      mul = std::pow(binary ? 1024.0 : 1000.0, static_cast<double>(u - units + 1));
      ++i;
    }
  }
  if (i < s.size() && (s[i] == 'i' || s[i] == 'I')) ++i;
  if (i < s.size() && (s[i] == 'b' || s[i] == 'B')) ++i;
  if (i != s.size()) return -1;
  double v = num * mul;
  if (v >= 9.2e18) return -1;
  return static_cast<int64_t>(v);
}

StatusOr<LogSettings> LogSettingsOf(const spec::LogConfig& c) {
  LogSettings s;
  s.driver = c.type;
  if (c.type == "none") return s;
  const spec::StringMap& opts = spec::OrEmpty(c.config);
  auto get = [&](const char* k) -> const std::string* {
    auto it = opts.find(k);
    return it == opts.end() ? nullptr : &it->second;
  };
  if (c.type == "local") {
    // dockerd's local driver: 20 MiB files, 5 of them, compressed, unless told otherwise.
    s.max_size = 20 * 1024 * 1024;
    s.max_file = 5;
    s.compress = true;
    if (auto* v = get("max-size")) {
      s.max_size = ParseHumanSize(*v, true);
      if (s.max_size < 0) return InvalidSize(*v);
      if (s.max_size == 0) s.max_size = -1;
    }
    if (auto* v = get("max-file")) {
      ASSIGN_OR_RETURN(s.max_file, GoAtoi(*v));
      if (s.max_file < 0) return absl::InvalidArgumentError("max file count cannot be less than 0");
      if (s.max_file == 0) s.max_file = 1;
    }
    if (auto* v = get("compress")) {
      ASSIGN_OR_RETURN(s.compress, GoParseBool(*v));
    }
    if (s.compress && s.max_file <= 1)
      return absl::InvalidArgumentError("compression cannot be enabled when max file count is 1");
    return s;
  }
  if (auto* v = get("max-size")) {
    s.max_size = ParseHumanSize(*v, false);
    if (s.max_size < 0) return InvalidSize(*v);
    if (s.max_size == 0) return absl::InvalidArgumentError("max-size must be a positive number");
  }
  if (auto* v = get("max-file")) {
    ASSIGN_OR_RETURN(s.max_file, GoAtoi(*v));
    if (s.max_file < 1) return absl::InvalidArgumentError("max-file cannot be less than 1");
  }
  if (auto* v = get("compress")) {
    ASSIGN_OR_RETURN(s.compress, GoParseBool(*v));
    if (s.compress && (s.max_file == 1 || s.max_size == -1))
      return absl::InvalidArgumentError(
          "compress cannot be true when max-file is less than 2 or max-size is not set");
  }
  return s;
}

StatusOr<spec::LogConfig> ResolveLogConfig(const spec::LogConfig& requested,
                                           const spec::LogConfig& daemon_default) {
  spec::LogConfig c = requested;
  if (c.type.empty()) c.type = daemon_default.type.empty() ? "json-file" : daemon_default.type;
  if (!c.config) c.config = spec::StringMap{};
  if (c.type == daemon_default.type)
    for (const auto& [k, v] : spec::OrEmpty(daemon_default.config)) c.config->emplace(k, v);
  RETURN_IF_ERROR(CheckDriverAndOptions(c));
  return c;
}

Status ValidateDaemonLogConfig(const spec::LogConfig& config) {
  spec::LogConfig c = config;
  if (c.type.empty()) c.type = "json-file";
  Status st = CheckDriverAndOptions(c);
  if (!st.ok()) return absl::InvalidArgumentError(absl::StrCat("log-driver/log-opts: ", st.message()));
  return absl::OkStatus();
}

std::string LogFilePath(const std::string& container_dir, const std::string& id,
                        const std::string& driver) {
  if (driver == "none") return "";
  if (driver == "local") return container_dir + "/local-logs/container.log";
  return container_dir + "/" + id + "-json.log";
}

}  // namespace berth::engine
