#include "cli/opts.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"

namespace berth::cli {
namespace {

absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool ParseDouble(std::string_view s, double* out) {
  if (s.empty()) return false;
  std::string str(s);
  char* end = nullptr;
  *out = std::strtod(str.c_str(), &end);
  return end == str.c_str() + str.size();
}

bool ParseUint(std::string_view s, uint64_t* out) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  return absl::SimpleAtoi(Av(s), out);
}

// "8000-8010" -> [8000, 8010]; "80" -> [80, 80].
Status ParsePortRange(std::string_view s, uint64_t* lo, uint64_t* hi) {
  size_t dash = s.find('-');
  if (dash == std::string_view::npos) {
    if (!ParseUint(s, lo) || *lo > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("invalid port: ", Av(s)));
    }
    *hi = *lo;
    return absl::OkStatus();
  }
  if (!ParseUint(s.substr(0, dash), lo) || !ParseUint(s.substr(dash + 1), hi) || *lo > 65535 ||
      *hi > 65535 || *hi < *lo) {
    return absl::InvalidArgumentError(absl::StrCat("invalid range specified for port: ", Av(s)));
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<int64_t> RamInBytes(std::string_view s) {
  std::string str(s);
  size_t sep = str.find_last_of("01234567890. ");
  if (sep == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid size: '", str, "'"));
  }
  std::string num, sfx;
  if (str[sep] != ' ') {
    num = str.substr(0, sep + 1);
    sfx = str.substr(sep + 1);
  } else {
    num = str.substr(0, sep);
    sfx = str.substr(sep + 1);
  }
  double size = 0;
  if (!ParseDouble(num, &size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("strconv.ParseFloat: parsing \"", num, "\": invalid syntax"));
  }
  if (size < 0) return absl::InvalidArgumentError(absl::StrCat("invalid size: '", str, "'"));
  if (sfx.empty()) return static_cast<int64_t>(size);
  std::string lower = absl::AsciiStrToLower(sfx);
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("invalid suffix: '", sfx, "'"));
  };
  if (lower.size() > 3) return bad();
  if (lower[0] == 'b') {
    if (lower.size() > 1) return bad();
    return static_cast<int64_t>(size);
  }
  static constexpr std::string_view kUnits = "kmgtp";
  size_t idx = kUnits.find(lower[0]);
  if (idx == std::string_view::npos) return bad();
  size *= std::pow(1024.0, static_cast<double>(idx + 1));
  if ((lower.size() == 2 && lower[1] != 'b') || (lower.size() == 3 && lower.substr(1) != "ib")) {
    return bad();
  }
  return static_cast<int64_t>(size);
}

StatusOr<int64_t> ParseNanoCpus(std::string_view s) {
  double v = 0;
  if (!ParseDouble(s, &v) || v < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("failed to parse ", Av(s), " as a rational number"));
  }
  double nanos = v * 1e9;
  if (nanos != std::floor(nanos)) {
    return absl::InvalidArgumentError("value is too precise");
  }
  return static_cast<int64_t>(std::llround(nanos));
}



std::string TimeAgo(int64_t unix_seconds, int64_t now_unix_seconds) {
  return HumanDuration(std::chrono::seconds(now_unix_seconds - unix_seconds)) + " ago";
}

StatusOr<PortSpecs> ParsePortSpecs(const std::vector<std::string>& specs) {
  PortSpecs out;
  for (const std::string& raw : specs) {
    std::string_view spec = raw;
    std::string proto = "tcp";
    if (size_t slash = spec.rfind('/'); slash != std::string_view::npos) {
      proto = absl::AsciiStrToLower(Av(spec.substr(slash + 1)));
      spec = spec.substr(0, slash);
      if (proto != "tcp" && proto != "udp" && proto != "sctp") {
        return absl::InvalidArgumentError(absl::StrCat("invalid proto: ", proto));
      }
    }
    // Split "ip:host:container", with the ip possibly a bracketed IPv6 address.
    std::string ip;
    std::string_view rest = spec;
    if (!rest.empty() && rest[0] == '[') {
      size_t close = rest.find(']');
      if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
        return absl::InvalidArgumentError(absl::StrCat("invalid IP address: ", raw));
      }
      ip = std::string(rest.substr(1, close - 1));
      rest = rest.substr(close + 2);
      size_t c = rest.find(':');
      if (c == std::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat("invalid port format: ", raw));
      }
    }
    std::vector<std::string_view> parts;
    if (ip.empty()) {
      // IPv6 without brackets has many colons: the last two fields are the ports.
      size_t last = rest.rfind(':');
      if (last == std::string_view::npos) {
        parts = {rest};
      } else {
        size_t prev = last == 0 ? std::string_view::npos : rest.rfind(':', last - 1);
        if (prev == std::string_view::npos) {
          parts = {rest.substr(0, last), rest.substr(last + 1)};
        } else {
          ip = std::string(rest.substr(0, prev));
          parts = {rest.substr(prev + 1, last - prev - 1), rest.substr(last + 1)};
        }
      }
    } else {
      size_t c = rest.find(':');
      parts = {rest.substr(0, c), rest.substr(c + 1)};
    }
    if (!ip.empty()) {
      unsigned char tmp[16];
      if (inet_pton(AF_INET, ip.c_str(), tmp) != 1 && inet_pton(AF_INET6, ip.c_str(), tmp) != 1) {
        return absl::InvalidArgumentError(absl::StrCat("invalid IP address: ", ip));
      }
    }
    std::string_view host_part = parts.size() == 2 ? parts[0] : std::string_view();
    std::string_view container_part = parts.back();
    if (container_part.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("no port specified: ", raw, "<empty>"));
    }
    uint64_t clo, chi, hlo = 0, hhi = 0;
    if (Status s = ParsePortRange(container_part, &clo, &chi); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid containerPort: ", Av(container_part)));
    }
    if (!host_part.empty()) {
      if (Status s = ParsePortRange(host_part, &hlo, &hhi); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("invalid hostPort: ", Av(host_part)));
      }
    }
    uint64_t count = chi - clo + 1;
    if (!host_part.empty() && hhi - hlo + 1 != count && hlo != hhi) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid ranges specified for container and host Ports: ", Av(container_part), " and ",
          Av(host_part)));
    }
    for (uint64_t i = 0; i < count; ++i) {
      std::string key = absl::StrCat(clo + i, "/", proto);
      out.exposed[key] = nlohmann::json::object();
      std::string host_port;
      if (!host_part.empty()) {
        // A host range with a single container port means "any port of the range".
        if (hlo != hhi && count == 1) {
          host_port = absl::StrCat(hlo, "-", hhi);
        } else {
          host_port = absl::StrCat(hlo + (hlo == hhi ? 0 : i));
        }
      }
      out.bindings[key].push_back({ip, host_port});
    }
  }
  return out;
}

nlohmann::json ExposedPortsJson(const PortSpecs& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : p.exposed) j[k] = v;
  return j;
}

nlohmann::json PortBindingsJson(const PortSpecs& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, list] : p.bindings) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& b : list) arr.push_back({{"HostIp", b.host_ip}, {"HostPort", b.host_port}});
    j[k] = arr;
  }
  return j;
}

StatusOr<nlohmann::json> ParseRestartPolicy(std::string_view s) {
  nlohmann::json p = {{"Name", "no"}, {"MaximumRetryCount", 0}};
  if (s.empty()) return p;
  std::string_view name = s;
  std::string_view count;
  size_t colon = s.find(':');
  if (colon != std::string_view::npos) {
    name = s.substr(0, colon);
    count = s.substr(colon + 1);
  }
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid restart policy format: no policy provided before colon"));
  }
  if (name != "no" && name != "always" && name != "unless-stopped" && name != "on-failure") {
    return absl::InvalidArgumentError(absl::StrCat("invalid restart policy '", Av(name), "'"));
  }
  p["Name"] = std::string(name);
  if (colon != std::string_view::npos) {
    uint64_t n = 0;
    if (!ParseUint(count, &n)) {
      return absl::InvalidArgumentError(
          "invalid restart policy format: maximum retry count must be an integer");
    }
    if (name != "on-failure") {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid restart policy format: maximum retry count can only be used with "
                       "'on-failure'"));
    }
    p["MaximumRetryCount"] = n;
  }
  return p;
}

StatusOr<std::vector<std::string>> ParseEnvFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ErrnoStatus(errno, absl::StrCat("open ", path));
  std::vector<std::string> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string_view l = line;
    while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
    if (l.empty() || l.front() == '#') continue;
    size_t eq = l.find('=');
    std::string_view key = l.substr(0, eq);
    if (key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("no variable name on line '", Av(l), "'"));
    }
    if (key.find_first_of(" \t") != std::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("variable '", Av(key), "' contains whitespaces"));
    }
    if (eq != std::string_view::npos) {
      out.emplace_back(l);
    } else if (const char* v = std::getenv(std::string(key).c_str()); v != nullptr) {
      out.push_back(absl::StrCat(Av(key), "=", v));
    }
  }
  return out;
}

std::string ExpandEnv(std::string_view kv) {
  if (kv.find('=') != std::string_view::npos) return std::string(kv);
  if (const char* v = std::getenv(std::string(kv).c_str()); v != nullptr) {
    return absl::StrCat(Av(kv), "=", v);
  }
  return std::string(kv);
}

nlohmann::json KeyValueMap(const std::vector<std::string>& kvs) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& kv : kvs) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      j[kv] = "";
    } else {
      j[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  return j;
}

StatusOr<std::chrono::nanoseconds> ParseGoDuration(std::string_view s) {
  std::string orig(s);
  if (s.empty()) return absl::InvalidArgumentError("time: invalid duration \"\"");
  bool neg = false;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  double total = 0;
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("time: invalid duration \"", orig, "\""));
  };
  if (s.empty()) return bad();
  while (!s.empty()) {
    size_t n = 0;
    while (n < s.size() && ((s[n] >= '0' && s[n] <= '9') || s[n] == '.')) ++n;
    if (n == 0) return bad();
    double v = 0;
    if (!ParseDouble(s.substr(0, n), &v)) return bad();
    s.remove_prefix(n);
    size_t u = 0;
    while (u < s.size() && !((s[u] >= '0' && s[u] <= '9') || s[u] == '.')) ++u;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    double mult;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "µs")
      mult = 1e3;
    else if (unit == "ms")
      mult = 1e6;
    else if (unit == "s")
      mult = 1e9;
    else if (unit == "m")
      mult = 60e9;
    else if (unit == "h")
      mult = 3600e9;
    else if (unit.empty())
      return absl::InvalidArgumentError(
          absl::StrCat("time: missing unit in duration \"", orig, "\""));
    else
      return absl::InvalidArgumentError(
          absl::StrCat("time: unknown unit \"", Av(unit), "\" in duration \"", orig, "\""));
    total += v * mult;
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(neg ? -total : total));
}

StatusOr<std::string> ParseTimestamp(std::string_view value, int64_t now_unix_seconds) {
  if (value.empty()) return std::string();
  // A unix timestamp, possibly with fractional seconds, passes through.
  {
    size_t dot = value.find('.');
    uint64_t a = 0, b = 0;
    if (ParseUint(value.substr(0, dot), &a) &&
        (dot == std::string_view::npos || ParseUint(value.substr(dot + 1), &b))) {
      return std::string(value);
    }
  }
  if (auto d = ParseGoDuration(value); d.ok()) {
    // docker sends whole seconds for a duration (reference.Add(-d).Unix()).
    int64_t nanos = now_unix_seconds * 1000000000LL - d->count();
    int64_t secs = nanos / 1000000000LL;
    if (nanos < 0 && nanos % 1000000000LL != 0) --secs;
    return absl::StrCat(secs);
  }
  int64_t unix_nanos = 0;
  std::string v(value);
  if (ParseRfc3339(v, &unix_nanos)) {
    return absl::StrFormat("%d.%09d", unix_nanos / 1000000000LL, unix_nanos % 1000000000LL);
  }
  // Date-only and "no zone" forms docker also accepts, taken as UTC.
  for (const char* layout :
       {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    std::tm tm{};
    const char* end = strptime(v.c_str(), layout, &tm);
    if (end != nullptr && *end == '\0') {
      return absl::StrCat(timegm(&tm), ".000000000");
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("failed to parse value as time or duration: \"", Av(value), "\""));
}

Status AddFilter(std::string_view kv, std::map<std::string, std::vector<std::string>>* filters) {
  size_t eq = kv.find('=');
  if (eq == std::string_view::npos) {
    return absl::InvalidArgumentError("bad format of filter (expected name=value)");
  }
  std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(Av(kv.substr(0, eq))));
  std::string val(absl::StripAsciiWhitespace(Av(kv.substr(eq + 1))));
  (*filters)[key].push_back(val);
  return absl::OkStatus();
}


std::string Ellipsis(std::string_view s, size_t max_len) {
  // Counted in UTF-8 code points, as docker counts display runes.
  std::vector<size_t> starts;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  if (starts.size() <= max_len) return std::string(s);
  if (max_len == 0) return "";
  return absl::StrCat(Av(s.substr(0, starts[max_len - 1])), "…");
}

namespace {

struct PortEntry {
  std::string ip;
  int private_port = 0;
  int public_port = 0;
  std::string type;
};

// netip.Addr.Less: IPv4 before IPv6, then by bytes.
bool IpLess(const std::string& a, const std::string& b) {
  unsigned char ba[16] = {}, bb[16] = {};
  bool a4 = inet_pton(AF_INET, a.c_str(), ba) == 1;
  bool b4 = inet_pton(AF_INET, b.c_str(), bb) == 1;
  if (!a4) inet_pton(AF_INET6, a.c_str(), ba);
  if (!b4) inet_pton(AF_INET6, b.c_str(), bb);
  if (a4 != b4) return a4;
  return std::memcmp(ba, bb, a4 ? 4 : 16) < 0;
}

std::string JoinHostPort(const std::string& ip, const std::string& port) {
  if (ip.find(':') != std::string::npos) return absl::StrCat("[", ip, "]:", port);
  return absl::StrCat(ip, ":", port);
}

}  // namespace

std::string DisplayablePorts(const nlohmann::json& ports) {
  if (!ports.is_array()) return "";
  std::vector<PortEntry> list;
  for (const auto& p : ports) {
    PortEntry e;
    e.ip = p.value("IP", "");
    e.private_port = p.value("PrivatePort", 0);
    e.public_port = p.value("PublicPort", 0);
    e.type = p.value("Type", "");
    list.push_back(e);
  }
  std::sort(list.begin(), list.end(), [](const PortEntry& i, const PortEntry& j) {
    if (i.private_port != j.private_port) return i.private_port < j.private_port;
    if (i.ip != j.ip) return IpLess(i.ip, j.ip);
    if (i.public_port != j.public_port) return i.public_port < j.public_port;
    return i.type < j.type;
  });
  struct Group {
    int first, last;
  };
  std::map<std::string, Group> groups;
  std::vector<std::string> order, result, host_mappings;
  auto form = [](const std::string& key, int start, int last) {
    // Keys are "tcp" (exposed only) or "<ip>/tcp".
    std::string ip, type = key;
    if (size_t slash = key.find('/'); slash != std::string::npos) {
      ip = key.substr(0, slash);
      type = key.substr(slash + 1);
    }
    std::string group = std::to_string(start);
    if (start != last) group = absl::StrCat(group, "-", last);
    if (!ip.empty()) group = absl::StrCat(JoinHostPort(ip, group), "->", group);
    return absl::StrCat(group, "/", type);
  };
  for (const auto& p : list) {
    std::string key = p.type;
    if (!p.ip.empty()) {
      if (p.public_port != p.private_port) {
        host_mappings.push_back(absl::StrCat(JoinHostPort(p.ip, std::to_string(p.public_port)),
                                             "->", p.private_port, "/", p.type));
        continue;
      }
      key = absl::StrCat(p.ip, "/", p.type);
    }
    auto it = groups.find(key);
    if (it == groups.end()) {
      groups[key] = {p.private_port, p.private_port};
      order.push_back(key);
      continue;
    }
    if (p.private_port == it->second.last + 1) {
      it->second.last = p.private_port;
      continue;
    }
    result.push_back(form(key, it->second.first, it->second.last));
    it->second = {p.private_port, p.private_port};
  }
  for (const auto& key : order) result.push_back(form(key, groups[key].first, groups[key].last));
  result.insert(result.end(), host_mappings.begin(), host_mappings.end());
  return absl::StrJoin(result, ", ");
}

StatusOr<std::vector<std::string>> GoCsvRecord(std::string_view line) {
  if (line.empty()) return absl::InvalidArgumentError("EOF");
  auto parse_error = [](size_t column, absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("parse error on line 1, column ", column, ": ", why));
  };
  constexpr absl::string_view kQuote = "extraneous or missing \" in quoted-field";
  std::vector<std::string> fields;
  size_t i = 0;
  while (true) {
    std::string field;
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (true) {
        size_t close = line.find('"', i);
        if (close == std::string_view::npos) return parse_error(line.size() + 1, kQuote);
        field.append(line.substr(i, close - i));
        i = close + 1;
        if (i < line.size() && line[i] == '"') {  // "" is a quote
          field += '"';
          ++i;
          continue;
        }
        if (i == line.size() || line[i] == ',') break;
        return parse_error(close + 1, kQuote);
      }
    } else {
      size_t comma = line.find(',', i);
      std::string_view raw = line.substr(i, comma == std::string_view::npos ? comma : comma - i);
      if (size_t quote = raw.find('"'); quote != std::string_view::npos)
        return parse_error(i + quote + 1, "bare \" in non-quoted-field");
      field = std::string(raw);
      i += raw.size();
    }
    fields.push_back(std::move(field));
    if (i >= line.size()) return fields;
    ++i;  // the comma
  }
}


}  // namespace berth::cli
