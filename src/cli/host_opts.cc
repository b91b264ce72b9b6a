#include "cli/host_opts.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

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

Status FlagError(const std::string& value, const std::string& flag, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid argument \"", value, "\" for \"--", flag, "\" flag: ", why));
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

}  // namespace berth::cli
