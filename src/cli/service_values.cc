// The single values of service create/update's flags, docker's syntax and messages
// (opts/swarmopts port.go, secret.go, config.go; opts/network.go, mount.go; strconv; shlex).

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/mount_opts.h"
#include "cli/opts.h"
#include "cli/service_opts.h"
#include "spec/json/codecs.h"

namespace berth::cli {
namespace {

bool IsWordChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// regexp.MatchString(`\w+=\w+(,\w+=\w+)*`, value): somewhere a word, "=", a word.
bool LongSyntax(const std::string& v) {
  for (size_t i = 1; i + 1 < v.size(); ++i) {
    if (v[i] == '=' && IsWordChar(v[i - 1]) && IsWordChar(v[i + 1])) return true;
  }
  return false;
}

}  // namespace

StatusOr<uint64_t> ParseGoUint(const std::string& s) {
  auto syntax = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("strconv.ParseUint: parsing \"", s, "\": invalid syntax"));
  };
  if (s.empty()) return syntax();
  int base = 10;
  std::string digits = s;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    digits = s.substr(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    digits = s.substr(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    digits = s.substr(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    digits = s.substr(1);
  }
  if (digits.empty()) return syntax();
  for (char c : digits) {
    int d = absl::ascii_isdigit(static_cast<unsigned char>(c))
                ? c - '0'
                : (absl::ascii_isxdigit(static_cast<unsigned char>(c))
                       ? absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10
                       : 99);
    if (d >= base) return syntax();
  }
  errno = 0;
  unsigned long long v = std::strtoull(digits.c_str(), nullptr, base);
  if (errno == ERANGE) {
    return absl::InvalidArgumentError(
        absl::StrCat("strconv.ParseUint: parsing \"", s, "\": value out of range"));
  }
  return static_cast<uint64_t>(v);
}

StatusOr<std::vector<std::string>> ShellWords(const std::string& s) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words.push_back(cur);
      cur.clear();
      in_word = false;
      ++i;
    } else if (c == '\\') {
      if (i + 1 >= s.size()) return absl::InvalidArgumentError("EOF found after escape character");
      cur += s[i + 1];
      in_word = true;
      i += 2;
    } else if (c == '\'') {
      size_t end = s.find('\'', i + 1);
      if (end == std::string::npos) return absl::InvalidArgumentError("EOF found when expecting closing quote");
      cur += s.substr(i + 1, end - i - 1);
      in_word = true;
      i = end + 1;
    } else if (c == '"') {
      ++i;
      while (true) {
        if (i >= s.size()) return absl::InvalidArgumentError("EOF found when expecting closing quote");
        if (s[i] == '"') break;
        if (s[i] == '\\' && i + 1 < s.size()) {
          ++i;
        }
        cur += s[i++];
      }
      ++i;
      in_word = true;
    } else if (c == '#' && !in_word) {
      // A comment runs to the end of the line.
      size_t nl = s.find('\n', i);
      i = nl == std::string::npos ? s.size() : nl;
    } else {
      cur += c;
      in_word = true;
      ++i;
    }
  }
  if (in_word) words.push_back(cur);
  return words;
}

StatusOr<std::vector<spec::ServicePortConfig>> ParsePortFlag(const std::string& value) {
  std::vector<spec::ServicePortConfig> out;
  if (LongSyntax(value)) {
    ASSIGN_OR_RETURN(std::vector<std::string> fields, GoCsvRecord(value));
    spec::ServicePortConfig p;
    for (const auto& field : fields) {
      std::string lower = absl::AsciiStrToLower(field);
      size_t eq = lower.find('=');
      if (eq == std::string::npos || eq == 0) {
        return absl::InvalidArgumentError("invalid field: " + field);
      }
      std::string key = lower.substr(0, eq), val = lower.substr(eq + 1);
      if (key == "protocol") {
        if (val != "tcp" && val != "udp" && val != "sctp") {
          return absl::InvalidArgumentError("invalid protocol value '" + val + "'");
        }
        p.protocol = val;
      } else if (key == "mode") {
        if (val != "ingress" && val != "host") {
          return absl::InvalidArgumentError("invalid publish mode value (" + val +
                                            "): must be either 'ingress' or 'host'");
        }
        p.publish_mode = val;
      } else if (key == "target" || key == "published") {
        char* end = nullptr;
        errno = 0;
        unsigned long n = std::strtoul(val.c_str(), &end, 10);
        bool digits = !val.empty() && std::all_of(val.begin(), val.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        });
        if (!digits || n > 65535 || errno == ERANGE) {
          std::string why = digits ? "value out of range" : "invalid syntax";
          return absl::InvalidArgumentError(absl::StrCat(
              "invalid ", key == "target" ? "target" : "published", " port (", val,
              "): value must be an integer: ", why));
        }
        (key == "target" ? p.target_port : p.published_port) = static_cast<uint32_t>(n);
      } else {
        return absl::InvalidArgumentError("invalid field key: " + key);
      }
    }
    if (p.target_port == 0) return absl::InvalidArgumentError("missing mandatory field 'target'");
    if (p.publish_mode.empty()) p.publish_mode = "ingress";
    if (p.protocol.empty()) p.protocol = "tcp";
    out.push_back(p);
    return out;
  }
  ASSIGN_OR_RETURN(PortSpecs specs, ParsePortSpecs({value}));
  for (const auto& [port, bindings] : specs.bindings) {
    for (const auto& b : bindings) {
      if (!b.host_ip.empty()) return absl::InvalidArgumentError("hostip is not supported");
    }
  }
  for (const auto& [port, bindings] : specs.bindings) {
    size_t slash = port.find('/');
    uint32_t target = static_cast<uint32_t>(std::stoul(port.substr(0, slash)));
    std::string proto = absl::AsciiStrToLower(port.substr(slash + 1));
    for (const auto& b : bindings) {
      uint64_t lo = 0, hi = 0;
      if (!b.host_port.empty()) {
        std::vector<std::string> r = absl::StrSplit(b.host_port, absl::MaxSplits('-', 1));
        auto a = ParseGoUint(r[0]);
        auto z = ParseGoUint(r.size() > 1 ? r[1] : r[0]);
        if (!a.ok() || !z.ok()) {
          return absl::InvalidArgumentError(absl::StrCat("invalid hostport binding (", b.host_port,
                                                         ") for port (", target, ")"));
        }
        lo = *a;
        hi = *z;
      }
      for (uint64_t i = lo; i <= hi; ++i) {
        spec::ServicePortConfig p;
        p.protocol = proto;
        p.target_port = target;
        p.published_port = static_cast<uint32_t>(i);
        p.publish_mode = "ingress";
        out.push_back(p);
      }
    }
  }
  return out;
}

namespace {

// SecretOpt.Set and ConfigOpt.Set share their syntax.
struct FileRef {
  std::string source;
  spec::SecretReferenceFileTarget file{"", "0", "0", 0444};
};

StatusOr<FileRef> ParseFileRef(const std::string& value, const std::string& what) {
  ASSIGN_OR_RETURN(std::vector<std::string> fields, GoCsvRecord(value));
  FileRef r;
  if (fields.size() == 1 && fields[0].find('=') == std::string::npos) {
    r.source = r.file.name = fields[0];
    return r;
  }
  for (const auto& field : fields) {
    size_t eq = field.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError("invalid field '" + field + "' must be a key=value pair");
    }
    std::string key = absl::AsciiStrToLower(field.substr(0, eq)), val = field.substr(eq + 1);
    if (key == "source" || key == "src") {
      r.source = val;
    } else if (key == "target") {
      r.file.name = val;
    } else if (key == "uid") {
      r.file.uid = val;
    } else if (key == "gid") {
      r.file.gid = val;
    } else if (key == "mode") {
      auto m = ParseGoUint(val);
      if (!m.ok() || *m > 0xffffffffULL) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid mode specified: ",
            m.ok() ? absl::StrCat("strconv.ParseUint: parsing \"", val, "\": value out of range")
                   : std::string(m.status().message())));
      }
      r.file.mode = static_cast<uint32_t>(*m);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("invalid field in ", what, " request: ", key));
    }
  }
  if (r.source.empty()) return absl::InvalidArgumentError("source is required");
  if (r.file.name.empty()) r.file.name = r.source;
  return r;
}

}  // namespace

StatusOr<spec::SecretReference> ParseSecretFlag(const std::string& value) {
  ASSIGN_OR_RETURN(FileRef f, ParseFileRef(value, "secret"));
  spec::SecretReference r;
  r.secret_name = f.source;
  r.file = f.file;
  return r;
}

StatusOr<spec::ServiceConfigReference> ParseConfigFlag(const std::string& value) {
  ASSIGN_OR_RETURN(FileRef f, ParseFileRef(value, "config"));
  spec::ServiceConfigReference r;
  r.config_name = f.source;
  r.file = f.file;
  return r;
}

StatusOr<spec::NetworkAttachmentConfig> ParseNetworkFlag(const std::string& value) {
  spec::NetworkAttachmentConfig n;
  if (!LongSyntax(value)) {
    n.target = value;
    return n;
  }
  ASSIGN_OR_RETURN(std::vector<std::string> fields, GoCsvRecord(value));
  for (const auto& field : fields) {
    std::string lower = absl::AsciiStrToLower(field);
    size_t eq = lower.find('=');
    if (eq == std::string::npos || eq == 0) return absl::InvalidArgumentError("invalid field " + field);
    std::string key(absl::StripAsciiWhitespace(lower.substr(0, eq)));
    std::string val(absl::StripAsciiWhitespace(lower.substr(eq + 1)));
    if (key == "name") {
      n.target = val;
    } else if (key == "alias") {
      n.aliases.push_back(val);
    } else if (key == "driver-opt") {
      size_t e = val.find('=');
      if (e == std::string::npos || e == 0) {
        return absl::InvalidArgumentError("invalid key value pair format in driver options");
      }
      n.driver_opts[std::string(absl::StripAsciiWhitespace(val.substr(0, e)))] =
          std::string(absl::StripAsciiWhitespace(val.substr(e + 1)));
    } else if (key == "ip" || key == "ip6" || key == "mac-address" || key == "link-local-ip" ||
               key == "gw-priority") {
      // Accepted by the flag, but a service's NetworkAttachmentConfig has no place for them
      // (docker drops them too).
    } else {
      return absl::InvalidArgumentError("invalid field key " + key);
    }
  }
  if (n.target.empty()) return absl::InvalidArgumentError("network name/id is not specified");
  return n;
}

StatusOr<spec::PlacementPreference> ParsePlacementPref(const std::string& value) {
  size_t eq = value.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        "placement preference must be of the format \"<strategy>=<arg>\"");
  }
  std::string strategy = value.substr(0, eq);
  if (strategy != "spread") {
    return absl::InvalidArgumentError("unsupported placement preference " + strategy +
                                      " (only spread is supported)");
  }
  return spec::PlacementPreference{value.substr(eq + 1)};
}

StatusOr<spec::Mount> ParseServiceMount(const std::string& value) {
  ASSIGN_OR_RETURN(nlohmann::json j, ParseMountFlag(value));
  spec::Mount m;
  RETURN_IF_ERROR(spec::json::DecodeText(j.dump(), spec::json::MountCodec(), m));
  return m;
}

}  // namespace berth::cli
