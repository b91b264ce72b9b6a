#include "cli/host_opts.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/opts.h"
#include "cli/service_opts.h"
#include "common/text.h"

namespace berth::cli {
namespace {

using nlohmann::json;

const std::set<std::string>& UlimitNames() {
  static const std::set<std::string> k = {
      "as",   "core",   "cpu",   "data", "fsize",  "locks",  "memlock",    "msgqueue",
      "nice", "nofile", "nproc", "rss",  "rtprio", "rttime", "sigpending", "stack"};
  return k;
}

// Go's strconv.ParseInt(s, 10, 64) with its error text.
StatusOr<int64_t> ParseInt64(const std::string& s) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(s, &v) || s.empty() || s[0] == '+')
    return absl::InvalidArgumentError(
        absl::StrCat("strconv.ParseInt: parsing \"", s, "\": invalid syntax"));
  return v;
}

bool ValidDeviceMode(const std::string& mode) {
  if (mode.empty() || mode.size() > 3) return false;
  std::set<char> seen;
  for (char c : mode)
    if ((c != 'r' && c != 'w' && c != 'm') || !seen.insert(c).second) return false;
  return true;
}

// pflag's words for a value its flag's type refuses.
Status FlagError(const std::string& value, absl::string_view flag, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid argument ", GoQuote(value), " for \"--", flag, "\" flag: ", why));
}

// Go's strconv.ParseUint(s, 10, 64) for a value no larger than max: digits only.
bool ParseDecimal(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (max - d) / 10) return false;
    n = n * 10 + d;
  }
  *out = n;
  return true;
}

// Go's strconv.Atoi; the error is Go's reason alone ("invalid syntax", "value out of range").
StatusOr<int64_t> GoAtoi(std::string_view s) {
  bool negative = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos)
    return absl::InvalidArgumentError("invalid syntax");
  uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t n = 0;
  if (!ParseDecimal(s, limit, &n)) return absl::OutOfRangeError("value out of range");
  return negative ? static_cast<int64_t>(~n + 1) : static_cast<int64_t>(n);
}

// "PATH:VALUE" of the weight and throttle flags; PATH must be under /dev/.
StatusOr<std::pair<std::string, std::string>> SplitDeviceValue(const std::string& val) {
  size_t colon = val.find(':');
  if (colon == std::string::npos || colon == 0)
    return absl::InvalidArgumentError("bad format: " + val);
  std::string path = val.substr(0, colon);
  if (!absl::StartsWith(path, "/dev/"))
    return absl::InvalidArgumentError("bad format for device path: " + val);
  return std::make_pair(path, val.substr(colon + 1));
}

// A --gpus count: "all" is -1.
StatusOr<int64_t> GpuCount(const std::string& s) {
  if (s == "all") return -1;
  auto n = GoAtoi(s);
  if (!n.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("invalid count (", s,
                     "): value must be either \"all\" or an integer: ", n.status().message()));
  return n;
}

// One --gpus value as a container.DeviceRequest.
StatusOr<json> GpuRequest(const std::string& value) {
  ASSIGN_OR_RETURN(std::vector<std::string> fields, GoCsvRecord(value));
  json req = {{"Driver", ""},
              {"Count", 0},
              {"DeviceIDs", nullptr},
              {"Capabilities", nullptr},
              {"Options", json::object()}};
  std::set<std::string> seen;
  for (const std::string& field : fields) {
    size_t eq = field.find('=');
    std::string key = field.substr(0, eq);
    if (!seen.insert(key).second)
      return absl::InvalidArgumentError("gpu request key '" + key + "' can be specified only once");
    if (eq == std::string::npos) {  // a bare count
      seen.insert("count");
      ASSIGN_OR_RETURN(req["Count"], GpuCount(key));
      continue;
    }
    std::string val = field.substr(eq + 1);
    if (key == "driver") {
      req["Driver"] = val;
    } else if (key == "count") {
      ASSIGN_OR_RETURN(req["Count"], GpuCount(val));
    } else if (key == "device") {
      req["DeviceIDs"] = std::vector<std::string>(absl::StrSplit(val, ','));
    } else if (key == "capabilities") {
      std::vector<std::string> caps = absl::StrSplit(val, ',');
      caps.push_back("gpu");
      req["Capabilities"] = json::array({caps});
    } else if (key == "options") {
      auto options = GoCsvRecord(val);
      if (!options.ok())
        return absl::InvalidArgumentError(
            absl::StrCat("failed to read gpu options: ", options.status().message()));
      req["Options"] = KeyValueMap(*options);
    } else {
      return absl::InvalidArgumentError("unexpected key '" + key + "' in '" + field + "'");
    }
  }
  // One GPU unless a count or devices were named.
  if (!seen.count("count") && req["DeviceIDs"].is_null()) req["Count"] = 1;
  if (req["Capabilities"].is_null()) req["Capabilities"] = json::array({json::array({"gpu"})});
  return req;
}

}  // namespace

StatusOr<json> ParseUlimits(const std::vector<std::string>& values) {
  // Keyed by name, as docker's UlimitOpt: a later --ulimit of the same name replaces the earlier.
  json out = json::array();
  for (const std::string& val : values) {
    size_t eq = val.find('=');
    if (eq == std::string::npos) return FlagError(val, "ulimit", "invalid ulimit argument: " + val);
    std::string name = val.substr(0, eq);
    if (!UlimitNames().count(name)) return FlagError(val, "ulimit", "invalid ulimit type: " + name);
    std::vector<std::string> limits = absl::StrSplit(val.substr(eq + 1), ':');
    if (limits.size() > 2)
      return FlagError(val, "ulimit",
                       absl::StrCat("too many limit value arguments - ", val.substr(eq + 1),
                                    ", can only have up to two, `soft[:hard]`"));
    auto soft = ParseInt64(limits[0]);
    if (!soft.ok()) return FlagError(val, "ulimit", soft.status().message());
    int64_t hard = *soft;
    if (limits.size() == 2) {
      auto h = ParseInt64(limits[1]);
      if (!h.ok()) return FlagError(val, "ulimit", h.status().message());
      hard = *h;
    }
    if (hard != -1) {
      if (*soft == -1)
        return FlagError(val, "ulimit",
                         absl::StrCat("ulimit soft limit must be less than or equal to hard "
                                      "limit: soft: -1 (unlimited), hard: ",
                                      hard));
      if (*soft > hard)
        return FlagError(val, "ulimit",
                         absl::StrCat("ulimit soft limit must be less than or equal to hard "
                                      "limit: ",
                                      *soft, " > ", hard));
    }
    json u = {{"Name", name}, {"Hard", hard}, {"Soft", *soft}};
    bool replaced = false;
    for (auto& e : out)
      if (e["Name"] == name) {
        e = u;
        replaced = true;
      }
    if (!replaced) out.push_back(u);
  }
  return out;
}

StatusOr<json> ParseDevices(const std::vector<std::string>& values) {
  json out = json::array();
  for (const std::string& d : values) {
    std::vector<std::string> arr = absl::StrSplit(d, absl::MaxSplits(':', 3));
    std::string src, dst, perms = "rwm";
    switch (arr.size()) {
      case 3:
        perms = arr[2];
        [[fallthrough]];
      case 2:
        if (ValidDeviceMode(arr[1]))
          perms = arr[1];
        else
          dst = arr[1];
        [[fallthrough]];
      case 1:
        src = arr[0];
        break;
      default:
        return FlagError(d, "device", "bad format for path: " + d);
    }
    if (dst.empty()) dst = src;
    if (!ValidDeviceMode(perms)) return FlagError(d, "device", "bad mode specified: " + perms);
    if (dst.empty() || dst[0] != '/')
      return FlagError(d, "device", dst + " is not an absolute path");
    out.push_back({{"PathOnHost", src}, {"PathInContainer", dst}, {"CgroupPermissions", perms}});
  }
  return out;
}

StatusOr<SecurityOpts> ParseSecurityOpts(const std::vector<std::string>& values) {
  SecurityOpts out;
  std::vector<std::string> opts;
  for (const std::string& opt : values) {
    if (opt == "systempaths=unconfined") {  // handled here, never sent
      out.unconfined_paths = true;
      continue;
    }
    size_t sep = opt.find('=');
    if (sep == std::string::npos && opt != "no-new-privileges") sep = opt.find(':');
    std::string key = opt.substr(0, sep);
    std::string value = sep == std::string::npos ? "" : opt.substr(sep + 1);
    if (value.empty() && key != "no-new-privileges")
      return absl::InvalidArgumentError(absl::StrCat("invalid --security-opt: \"", opt, "\""));
    if (key == "seccomp" && value != "builtin" && value != "unconfined") {
      // The value is a file whose JSON is sent, compacted, as docker does.
      std::ifstream in(value);
      if (!in) {
        std::string why = std::strerror(errno);  // Go's words are lower case
        if (!why.empty())
          why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
        return absl::InvalidArgumentError(
            absl::StrCat("opening seccomp profile (", value, ") failed: open ", value, ": ", why));
      }
      std::stringstream ss;
      ss << in.rdbuf();
      auto doc = nlohmann::ordered_json::parse(ss.str(), nullptr, false);
      if (doc.is_discarded())
        return absl::InvalidArgumentError(
            absl::StrCat("compacting json for seccomp profile (", value, ") failed: invalid JSON"));
      opts.push_back("seccomp=" + doc.dump());
      continue;
    }
    opts.push_back(opt);
  }
  if (!opts.empty()) out.security_opt = opts;
  return out;
}

json ParseTmpfs(const std::vector<std::string>& values) {
  json tmpfs = json::object();
  for (const auto& t : values) {
    size_t c = t.find(':');
    tmpfs[t.substr(0, c)] = c == std::string::npos ? "" : t.substr(c + 1);
  }
  return tmpfs;
}

StatusOr<uint16_t> ParseBlkioWeight(const std::string& value) {
  auto weight = ParseGoUint(value);
  if (weight.ok() && *weight > 0xFFFF)
    weight = absl::OutOfRangeError(
        absl::StrCat("strconv.ParseUint: parsing ", GoQuote(value), ": value out of range"));
  if (!weight.ok()) return FlagError(value, "blkio-weight", weight.status().message());
  return static_cast<uint16_t>(*weight);
}

StatusOr<json> ParseWeightDevices(const std::vector<std::string>& values) {
  json out = json::array();
  for (const std::string& val : values) {
    auto split = SplitDeviceValue(val);
    if (!split.ok()) return FlagError(val, "blkio-weight-device", split.status().message());
    uint64_t weight = 0;
    if (!ParseDecimal(split->second, 0xFFFF, &weight) ||
        (weight > 0 && (weight < 10 || weight > 1000)))
      return FlagError(val, "blkio-weight-device", "invalid weight for device: " + val);
    out.push_back({{"Path", split->first}, {"Weight", weight}});
  }
  return out;
}

StatusOr<json> ParseThrottleDevices(const std::vector<std::string>& values, std::string_view flag,
                                    ThrottleRate rate) {
  json out = json::array();
  for (const std::string& val : values) {
    auto split = SplitDeviceValue(val);
    if (!split.ok()) return FlagError(val, Av(flag), split.status().message());
    uint64_t n = 0;
    if (rate == ThrottleRate::kBytes) {
      auto bytes = RamInBytes(split->second);
      if (!bytes.ok() || *bytes < 0)
        return FlagError(val, Av(flag),
                         absl::StrCat("invalid rate for device: ", val,
                                      ". The correct format is <device-path>:<number>[<unit>]. "
                                      "Number must be a positive integer. Unit is optional and "
                                      "can be kb, mb, or gb"));
      n = static_cast<uint64_t>(*bytes);
    } else if (!ParseDecimal(split->second, UINT64_MAX, &n)) {
      return FlagError(val, Av(flag),
                       absl::StrCat("invalid rate for device: ", val,
                                    ". The correct format is <device-path>:<number>. Number must "
                                    "be a positive integer"));
    }
    out.push_back({{"Path", split->first}, {"Rate", n}});
  }
  return out;
}

Status CheckDeviceCgroupRules(const std::vector<std::string>& values) {
  static const std::regex kRule(R"([acb] ([0-9]+|\*):([0-9]+|\*) [rwm]{1,3})");
  for (const std::string& rule : values) {
    if (!std::regex_match(rule, kRule))
      return FlagError(rule, "device-cgroup-rule", "invalid device cgroup format '" + rule + "'");
  }
  return absl::OkStatus();
}

StatusOr<json> ParseStorageOpts(const std::vector<std::string>& values) {
  json out = json::object();
  for (const std::string& opt : values) {
    size_t eq = opt.find('=');
    if (eq == std::string::npos) return absl::InvalidArgumentError("invalid storage option");
    out[opt.substr(0, eq)] = opt.substr(eq + 1);
  }
  return out;
}

StatusOr<json> ParseGpus(const std::vector<std::string>& values) {
  if (values.empty()) return json(nullptr);
  json out = json::array();
  for (const std::string& val : values) {
    auto req = GpuRequest(val);
    if (!req.ok()) return FlagError(val, "gpus", req.status().message());
    out.push_back(std::move(*req));
  }
  return out;
}

}  // namespace berth::cli
