#include "cli/service_opts.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/host_opts.h"
#include "cli/mount_opts.h"
#include "cli/opts.h"
#include "spec/json/codecs.h"

namespace berth::cli {
namespace {

// A flag whose value docker checks as it is set: pflag's wording.
Status BadFlag(const std::string& flag, const std::string& value, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid argument \"", value, "\" for \"", flag, "\" flag: ", why));
}

// encoding/csv's Reader.Read of one line: fields split on commas, "quoted" fields.
StatusOr<std::vector<std::string>> CsvFields(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  size_t i = 0;
  while (true) {
    field.clear();
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (true) {
        if (i >= line.size()) return absl::InvalidArgumentError("extraneous or missing \" in quoted-field");
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += line[i++];
      }
      if (i < line.size() && line[i] != ',') {
        return absl::InvalidArgumentError("extraneous or missing \" in quoted-field");
      }
    } else {
      while (i < line.size() && line[i] != ',') {
        if (line[i] == '"') return absl::InvalidArgumentError("bare \" in non-quoted-field");
        field += line[i++];
      }
    }
    out.push_back(field);
    if (i >= line.size()) break;
    ++i;  // the comma
  }
  return out;
}

bool IsWordChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// regexp.MatchString(`\w+=\w+(,\w+=\w+)*`, value): somewhere a word, "=", a word.
bool LongSyntax(const std::string& v) {
  for (size_t i = 1; i + 1 < v.size(); ++i) {
    if (v[i] == '=' && IsWordChar(v[i - 1]) && IsWordChar(v[i + 1])) return true;
  }
  return false;
}

std::pair<std::string, std::string> CutEq(const std::string& kv) {
  size_t eq = kv.find('=');
  if (eq == std::string::npos) return {kv, ""};
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

// opts.ConvertKVStringsToMap.
spec::StringMap KvMap(const std::vector<std::string>& kvs) {
  spec::StringMap m;
  for (const auto& kv : kvs) {
    auto [k, v] = CutEq(kv);
    m[k] = v;
  }
  return m;
}

std::string EnvKey(const std::string& v) { return v.substr(0, v.find('=')); }

// opts.NormalizeCapability.
std::string NormalizeCap(std::string c) {
  c = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(c));
  if (c == "ALL" || c == "RESET") return c;
  if (!absl::StartsWith(c, "CAP_")) c = "CAP_" + c;
  return c;
}

std::set<std::string> CapSet(const std::vector<std::string>& caps) {
  std::set<std::string> out;
  for (const auto& c : caps) out.insert(NormalizeCap(c));
  return out;
}

// opts.EffectiveCapAddCapDrop.
void EffectiveCaps(const std::vector<std::string>& add, const std::vector<std::string>& drop,
                   std::vector<std::string>* cap_add, std::vector<std::string>* cap_drop) {
  std::set<std::string> a = CapSet(add), d = CapSet(drop);
  if (a.count("ALL")) a = {"ALL"};
  if (d.count("ALL")) d = {"ALL"};
  cap_add->clear();
  cap_drop->clear();
  for (const auto& c : d) {
    if (!a.count(c) && c != "RESET") cap_drop->push_back(c);
  }
  for (const auto& c : a) {
    if (c != "RESET") cap_add->push_back(c);
  }
}

// The ulimits of --ulimit, by name (a later one replaces), sorted by name.
StatusOr<std::vector<spec::ServiceUlimit>> Ulimits(const std::vector<std::string>& values) {
  ASSIGN_OR_RETURN(nlohmann::json list, ParseUlimits(values));
  std::map<std::string, spec::ServiceUlimit> by_name;
  for (const auto& u : list) {
    spec::ServiceUlimit s;
    s.name = u.value("Name", "");
    s.soft = u.value("Soft", int64_t{0});
    s.hard = u.value("Hard", int64_t{0});
    by_name[s.name] = s;
  }
  std::vector<spec::ServiceUlimit> out;
  for (auto& [_, u] : by_name) out.push_back(u);
  return out;
}

std::string ValidatedEnv(const std::string& v) { return ExpandEnv(v); }

// makeEnv: env files then --env, a later KEY replacing an earlier one (kept at its new place).
StatusOr<std::vector<std::string>> MakeEnv(const ServiceOptions& o) {
  std::vector<std::string> all;
  for (const auto& file : o.env_files) {
    ASSIGN_OR_RETURN(std::vector<std::string> lines, ParseEnvFile(file));
    all.insert(all.end(), lines.begin(), lines.end());
  }
  for (const auto& e : o.env) all.push_back(ValidatedEnv(e));
  std::vector<std::string> current;
  for (const auto& env : all) {
    std::string k = EnvKey(env);
    current.erase(std::remove_if(current.begin(), current.end(),
                                 [&](const std::string& c) {
                                   return c != env && absl::StartsWith(c, k + "=");
                                 }),
                  current.end());
    current.push_back(env);
  }
  return current;
}

// convertExtraHostsToSwarmHosts: "host:ip" -> "ip host".
std::vector<std::string> SwarmHosts(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (const auto& h : extra) {
    size_t c = h.find(':');
    if (c != std::string::npos) out.push_back(h.substr(c + 1) + " " + h.substr(0, c));
  }
  return out;
}

spec::ServiceUpdateConfig UpdateDefaults() {
  spec::ServiceUpdateConfig c;
  c.parallelism = kDefaultUpdateParallelism;
  c.monitor = kDefaultUpdateMonitor;
  c.failure_action = "pause";
  c.order = "stop-first";
  return c;
}

// updateOptions.updateConfig / rollbackConfig: nullopt unless one of the flags was given.
std::optional<spec::ServiceUpdateConfig> UpdateConfigOf(const UpdateFlags& u, const FlagSet& f,
                                                         const std::string& prefix) {
  auto changed = [&](const char* n) { return f.Changed(prefix + n); };
  if (!changed("parallelism") && !changed("delay") && !changed("monitor") &&
      !changed("failure-action") && !changed("max-failure-ratio") && !changed("order")) {
    return std::nullopt;
  }
  spec::ServiceUpdateConfig c = UpdateDefaults();
  if (changed("parallelism")) c.parallelism = *ParseGoUint(u.parallelism);
  if (changed("delay")) c.delay = u.delay;
  if (changed("monitor")) c.monitor = u.monitor;
  if (changed("failure-action")) c.failure_action = u.failure_action;
  if (changed("max-failure-ratio")) c.max_failure_ratio = std::strtof(u.max_failure_ratio.c_str(), nullptr);
  if (changed("order")) c.order = u.order;
  return c;
}

// The update's merge into an existing config (update.go): only the flags given.
void MergeUpdateConfig(const UpdateFlags& u, const FlagSet& f, const std::string& prefix,
                       std::optional<spec::ServiceUpdateConfig>* config) {
  auto changed = [&](const char* n) { return f.Changed(prefix + n); };
  if (!changed("parallelism") && !changed("delay") && !changed("monitor") &&
      !changed("failure-action") && !changed("max-failure-ratio") && !changed("order")) {
    return;
  }
  if (!*config) *config = UpdateDefaults();
  spec::ServiceUpdateConfig& c = **config;
  if (changed("parallelism")) c.parallelism = *ParseGoUint(u.parallelism);
  if (changed("delay")) c.delay = u.delay;
  if (changed("monitor")) c.monitor = u.monitor;
  if (changed("failure-action")) c.failure_action = u.failure_action;
  if (changed("max-failure-ratio")) c.max_failure_ratio = std::strtof(u.max_failure_ratio.c_str(), nullptr);
  if (changed("order")) c.order = u.order;
}

spec::ServiceRestartPolicy DefaultRestartPolicy() {
  spec::ServiceRestartPolicy p;
  p.condition = "any";
  p.delay = kDefaultRestartDelay;
  p.max_attempts = 0;
  return p;
}

bool AnyChanged(const FlagSet& f, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (f.Changed(n)) return true;
  }
  return false;
}

void ApplyRestartFlags(const ServiceOptions& o, const FlagSet& f, spec::ServiceRestartPolicy* p) {
  if (f.Changed("restart-condition")) p->condition = o.restart_condition;
  if (f.Changed("restart-delay")) p->delay = o.restart_delay;
  if (f.Changed("restart-max-attempts")) p->max_attempts = *ParseGoUint(o.restart_max_attempts);
  if (f.Changed("restart-window")) p->window = o.restart_window;
}

// healthCheckOptions.toHealthConfig (create).
StatusOr<std::optional<spec::HealthConfig>> HealthOf(const ServiceOptions& o, const FlagSet& f) {
  bool have = !o.health_cmd.empty() || f.Changed("health-interval") ||
              f.Changed("health-timeout") || f.Changed("health-start-period") ||
              f.Changed("health-start-interval") || o.health_retries != 0;
  if (o.no_healthcheck) {
    if (have) return absl::InvalidArgumentError("--no-healthcheck conflicts with --health-* options");
    spec::HealthConfig h;
    h.test = {"NONE"};
    return std::optional<spec::HealthConfig>(h);
  }
  if (!have) return std::optional<spec::HealthConfig>();
  spec::HealthConfig h;
  if (!o.health_cmd.empty()) h.test = {"CMD-SHELL", o.health_cmd};
  h.interval = o.health_interval;
  h.timeout = o.health_timeout;
  h.start_period = o.health_start_period;
  h.retries = o.health_retries;
  return std::optional<spec::HealthConfig>(h);
}

// ParseSecrets: one reference per target (a duplicate is refused), IDs looked up by name.
StatusOr<std::vector<spec::SecretReference>> ResolveSecrets(const std::vector<std::string>& flags,
                                                            ServiceLookups& lookups) {
  std::vector<spec::SecretReference> refs;
  std::set<std::string> targets;
  for (const auto& v : flags) {
    ASSIGN_OR_RETURN(spec::SecretReference r, ParseSecretFlag(v));
    if (!targets.insert(r.file->name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate secret target for ", r.secret_name, " not allowed"));
    }
    refs.push_back(std::move(r));
  }
  if (refs.empty()) return refs;
  std::vector<std::string> names;
  for (const auto& r : refs) names.push_back(r.secret_name);
  ASSIGN_OR_RETURN(auto ids, lookups.SecretIds(names));
  for (auto& r : refs) {
    auto it = ids.find(r.secret_name);
    if (it == ids.end()) return absl::NotFoundError("secret not found: " + r.secret_name);
    r.secret_id = it->second;
  }
  return refs;
}

StatusOr<std::vector<spec::ServiceConfigReference>> ResolveConfigs(
    const std::vector<std::string>& flags, ServiceLookups& lookups) {
  std::vector<spec::ServiceConfigReference> refs;
  std::set<std::string> targets;
  for (const auto& v : flags) {
    ASSIGN_OR_RETURN(spec::ServiceConfigReference r, ParseConfigFlag(v));
    if (!targets.insert(r.file->name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate config target for ", r.config_name, " not allowed"));
    }
    refs.push_back(std::move(r));
  }
  if (refs.empty()) return refs;
  std::vector<std::string> names;
  for (const auto& r : refs) names.push_back(r.config_name);
  ASSIGN_OR_RETURN(auto ids, lookups.ConfigIds(names));
  for (auto& r : refs) {
    auto it = ids.find(r.config_name);
    if (it == ids.end()) return absl::NotFoundError("config not found: " + r.config_name);
    r.config_id = it->second;
  }
  return refs;
}

StatusOr<std::vector<spec::NetworkAttachmentConfig>> ResolveNetworks(
    const std::vector<std::string>& flags, ServiceLookups& lookups) {
  std::vector<spec::NetworkAttachmentConfig> out;
  for (const auto& v : flags) {
    ASSIGN_OR_RETURN(spec::NetworkAttachmentConfig n, ParseNetworkFlag(v));
    ASSIGN_OR_RETURN(n.target, lookups.NetworkId(n.target));
    out.push_back(std::move(n));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.target < b.target; });
  return out;
}

StatusOr<std::vector<spec::ServicePortConfig>> Ports(const std::vector<std::string>& flags) {
  std::vector<spec::ServicePortConfig> out;
  for (const auto& v : flags) {
    ASSIGN_OR_RETURN(auto ports, ParsePortFlag(v));
    out.insert(out.end(), ports.begin(), ports.end());
  }
  return out;
}

// The spec's mode from --mode, --replicas and friends (ToServiceMode).
StatusOr<spec::ServiceMode> ModeOf(const ServiceOptions& o, const FlagSet& f) {
  spec::ServiceMode m;
  bool replicas_set = f.Changed("replicas");
  uint64_t max_replicas = o.max_replicas.empty() ? 0 : *ParseGoUint(o.max_replicas);
  if (o.mode == "global") {
    if (replicas_set) {
      return absl::InvalidArgumentError("replicas can only be used with replicated or replicated-job mode");
    }
    if (max_replicas > 0) {
      return absl::InvalidArgumentError(
          "replicas-max-per-node can only be used with replicated or replicated-job mode");
    }
    if (f.Changed("max-concurrent")) {
      return absl::InvalidArgumentError("max-concurrent can only be used with replicated-job mode");
    }
    m.global = true;
  } else if (o.mode == "replicated") {
    if (f.Changed("max-concurrent")) {
      return absl::InvalidArgumentError("max-concurrent can only be used with replicated-job mode");
    }
    m.replicated = true;
    if (replicas_set) m.replicas = *ParseGoUint(o.replicas);
  } else if (o.mode == "replicated-job" || o.mode == "global-job") {
    // Jobs came with API 1.41's swarmkit but Berth's ServiceMode has no place for them yet.
    return absl::UnimplementedError("berth: job modes (" + o.mode + ") are not supported");
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("Unknown mode: ", o.mode, ", only replicated and global supported"));
  }
  return m;
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
    ASSIGN_OR_RETURN(std::vector<std::string> fields, CsvFields(value));
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
  ASSIGN_OR_RETURN(std::vector<std::string> fields, CsvFields(value));
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
  ASSIGN_OR_RETURN(std::vector<std::string> fields, CsvFields(value));
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

void RegisterServiceFlags(FlagSet& f, ServiceOptions* o, ServiceCommand command) {
  bool create = command == ServiceCommand::kCreate;
  std::vector<std::string>& names = o->flag_names;
  auto b = [&](const char* n, char s, bool* d) { f.Bool(n, s, d); names.emplace_back(n); };
  auto str = [&](const char* n, char s, std::string* d) { f.String(n, s, d); names.emplace_back(n); };
  auto list = [&](const char* n, char s, std::vector<std::string>* d) {
    f.StringList(n, s, d);
    names.emplace_back(n);
  };
  auto dur = [&](const char* n, int64_t* d) { f.Duration(n, 0, d); names.emplace_back(n); };
  auto i64 = [&](const char* n, int64_t* d) { f.Int(n, 0, d); names.emplace_back(n); };

  if (create) {
    str("mode", 0, &o->mode);
    str("name", 0, &o->name);
  } else {
    str("image", 0, &o->image);
    str("args", 0, &o->args);
    b("rollback", 0, &o->rollback_flag);
    b("force", 0, &o->force);
  }
  // addServiceFlags: common to create and update.
  b("detach", 'd', &o->detach);
  b("quiet", 'q', &o->quiet);
  str("workdir", 'w', &o->workdir);
  str("user", 'u', &o->user);
  str("credential-spec", 0, &o->credential_spec);
  str("hostname", 0, &o->hostname);
  str("entrypoint", 0, &o->entrypoint);
  list("cap-add", 0, &o->cap_add);
  list("cap-drop", 0, &o->cap_drop);
  str("limit-cpu", 0, &o->limit_cpu);
  str("limit-memory", 0, &o->limit_memory);
  str("reserve-cpu", 0, &o->reserve_cpu);
  str("reserve-memory", 0, &o->reserve_memory);
  i64("limit-pids", &o->limit_pids);
  dur("stop-grace-period", &o->stop_grace_period);
  str("replicas", 0, &o->replicas);
  str("max-concurrent", 0, &o->max_concurrent);
  str("replicas-max-per-node", 0, &o->max_replicas);
  str("restart-condition", 0, &o->restart_condition);
  dur("restart-delay", &o->restart_delay);
  str("restart-max-attempts", 0, &o->restart_max_attempts);
  dur("restart-window", &o->restart_window);
  for (auto [prefix, u] : {std::pair<const char*, UpdateFlags*>{"update-", &o->update},
                           std::pair<const char*, UpdateFlags*>{"rollback-", &o->rollback}}) {
    std::string p = prefix;
    f.String(p + "parallelism", 0, &u->parallelism);
    f.Duration(p + "delay", 0, &u->delay);
    f.Duration(p + "monitor", 0, &u->monitor);
    f.String(p + "failure-action", 0, &u->failure_action);
    f.String(p + "max-failure-ratio", 0, &u->max_failure_ratio);
    f.String(p + "order", 0, &u->order);
    for (const char* n : {"parallelism", "delay", "monitor", "failure-action", "max-failure-ratio",
                          "order"}) {
      names.push_back(p + n);
    }
  }
  str("endpoint-mode", 0, &o->endpoint_mode);
  b("with-registry-auth", 0, &o->registry_auth);
  b("no-resolve-image", 0, &o->no_resolve_image);
  str("log-driver", 0, &o->log_driver);
  list("log-opt", 0, &o->log_opts);
  str("health-cmd", 0, &o->health_cmd);
  dur("health-interval", &o->health_interval);
  dur("health-timeout", &o->health_timeout);
  i64("health-retries", &o->health_retries);
  dur("health-start-period", &o->health_start_period);
  dur("health-start-interval", &o->health_start_interval);
  b("no-healthcheck", 0, &o->no_healthcheck);
  b("tty", 't', &o->tty);
  b("read-only", 0, &o->read_only);
  str("stop-signal", 0, &o->stop_signal);
  str("isolation", 0, &o->isolation);

  if (create) {
    list("label", 'l', &o->labels);
    list("container-label", 0, &o->container_labels);
    list("env", 'e', &o->env);
    list("env-file", 0, &o->env_files);
    list("mount", 0, &o->mounts);
    list("constraint", 0, &o->constraints);
    list("placement-pref", 0, &o->placement_prefs);
    list("network", 0, &o->networks);
    list("secret", 0, &o->secrets);
    list("config", 0, &o->configs);
    list("publish", 'p', &o->publish);
    list("group", 0, &o->groups);
    list("dns", 0, &o->dns);
    list("dns-option", 0, &o->dns_options);
    list("dns-search", 0, &o->dns_search);
    list("host", 0, &o->hosts);
    b("init", 0, &o->init);
    list("sysctl", 0, &o->sysctls);
    list("ulimit", 0, &o->ulimits);
    i64("oom-score-adj", &o->oom_score_adj);
    list("generic-resource", 0, &o->generic_resources);
    return;
  }
  list("env-rm", 0, &o->env_rm);
  list("group-rm", 0, &o->group_rm);
  list("label-rm", 0, &o->label_rm);
  list("container-label-rm", 0, &o->container_label_rm);
  list("mount-rm", 0, &o->mount_rm);
  list("publish-rm", 0, &o->publish_rm);
  list("constraint-rm", 0, &o->constraint_rm);
  list("dns-rm", 0, &o->dns_rm);
  list("dns-option-rm", 0, &o->dns_option_rm);
  list("dns-search-rm", 0, &o->dns_search_rm);
  list("host-rm", 0, &o->host_rm);
  list("label-add", 0, &o->labels);
  list("container-label-add", 0, &o->container_labels);
  list("env-add", 0, &o->env);
  list("secret-rm", 0, &o->secret_rm);
  list("secret-add", 0, &o->secrets);
  list("config-rm", 0, &o->config_rm);
  list("config-add", 0, &o->configs);
  list("mount-add", 0, &o->mounts);
  list("constraint-add", 0, &o->constraints);
  list("placement-pref-add", 0, &o->placement_prefs);
  list("placement-pref-rm", 0, &o->placement_pref_rm);
  list("network-add", 0, &o->networks);
  list("network-rm", 0, &o->network_rm);
  list("publish-add", 0, &o->publish);
  list("group-add", 0, &o->groups);
  list("dns-add", 0, &o->dns);
  list("dns-option-add", 0, &o->dns_options);
  list("dns-search-add", 0, &o->dns_search);
  list("host-add", 0, &o->hosts);
  b("init", 0, &o->init);
  list("sysctl-add", 0, &o->sysctls);
  list("sysctl-rm", 0, &o->sysctl_rm);
  list("ulimit-add", 0, &o->ulimits);
  list("ulimit-rm", 0, &o->ulimit_rm);
  i64("oom-score-adj", &o->oom_score_adj);
  list("generic-resource-rm", 0, &o->generic_resource_rm);
  list("generic-resource-add", 0, &o->generic_resources);
}

Status ValidateServiceFlags(const ServiceOptions& o, const FlagSet& f) {
  auto uint_flag = [&](const char* name, const std::string& v) -> Status {
    if (!f.Changed(name)) return absl::OkStatus();
    auto u = ParseGoUint(v);
    if (!u.ok()) return BadFlag(absl::StrCat("--", name), v, u.status().message());
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(uint_flag("replicas", o.replicas));
  RETURN_IF_ERROR(uint_flag("max-concurrent", o.max_concurrent));
  RETURN_IF_ERROR(uint_flag("replicas-max-per-node", o.max_replicas));
  RETURN_IF_ERROR(uint_flag("restart-max-attempts", o.restart_max_attempts));
  for (auto [prefix, u] : {std::pair<std::string, const UpdateFlags*>{"update-", &o.update},
                           std::pair<std::string, const UpdateFlags*>{"rollback-", &o.rollback}}) {
    RETURN_IF_ERROR(uint_flag((prefix + "parallelism").c_str(), u->parallelism));
    std::string name = prefix + "max-failure-ratio";
    if (f.Changed(name)) {
      char* end = nullptr;
      const std::string& v = u->max_failure_ratio;
      std::strtof(v.c_str(), &end);
      if (v.empty() || end != v.c_str() + v.size()) {
        return BadFlag("--" + name, v,
                       absl::StrCat("strconv.ParseFloat: parsing \"", v, "\": invalid syntax"));
      }
    }
  }
  using Named = std::pair<const char*, const std::string*>;
  for (auto [name, v] : {Named{"limit-cpu", &o.limit_cpu}, Named{"reserve-cpu", &o.reserve_cpu}}) {
    if (f.Changed(name)) {
      auto c = ParseNanoCpus(*v);
      if (!c.ok()) return BadFlag(absl::StrCat("--", name), *v, c.status().message());
    }
  }
  for (auto [name, v] :
       {Named{"limit-memory", &o.limit_memory}, Named{"reserve-memory", &o.reserve_memory}}) {
    if (f.Changed(name)) {
      auto m = RamInBytes(*v);
      if (!m.ok()) return BadFlag(absl::StrCat("--", name), *v, m.status().message());
    }
  }
  using Duration = std::pair<const char*, int64_t>;
  for (auto [name, v] : {Duration{"health-interval", o.health_interval},
                         Duration{"health-timeout", o.health_timeout},
                         Duration{"health-start-period", o.health_start_period},
                         Duration{"health-start-interval", o.health_start_interval}}) {
    if (f.Changed(name) && v < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid argument for \"--", name, "\" flag: duration cannot be negative"));
    }
  }
  for (const auto& e : o.env) {
    if (EnvKey(e).empty()) {
      return BadFlag(f.Changed("env") ? "-e, --env" : "--env-add", e,
                     "invalid environment variable: " + e);
    }
  }
  for (const auto* labels : {&o.labels, &o.container_labels}) {
    for (const auto& l : *labels) {
      std::string key(absl::StripLeadingAsciiWhitespace(EnvKey(l)));
      if (key.empty()) return absl::InvalidArgumentError("invalid label '" + l + "': empty name");
      if (key.find_first_of(" \t\n\r\v\f") != std::string::npos) {
        return absl::InvalidArgumentError("label '" + key + "' contains whitespaces");
      }
    }
  }
  auto each = [&](const char* create_name, const char* update_name,
                  const std::vector<std::string>& values,
                  const std::function<Status(const std::string&)>& check) -> Status {
    for (const auto& v : values) {
      Status s = check(v);
      if (!s.ok()) {
        std::string shown = f.Changed(create_name) ? absl::StrCat("--", create_name)
                                                   : absl::StrCat("--", update_name);
        if (shown == "--publish") shown = "-p, --publish";
        return BadFlag(shown, v, s.message());
      }
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(each("publish", "publish-add", o.publish,
                       [](const std::string& v) { return ParsePortFlag(v).status(); }));
  RETURN_IF_ERROR(each("secret", "secret-add", o.secrets,
                       [](const std::string& v) { return ParseSecretFlag(v).status(); }));
  RETURN_IF_ERROR(each("config", "config-add", o.configs,
                       [](const std::string& v) { return ParseConfigFlag(v).status(); }));
  RETURN_IF_ERROR(each("network", "network-add", o.networks,
                       [](const std::string& v) { return ParseNetworkFlag(v).status(); }));
  RETURN_IF_ERROR(each("mount", "mount-add", o.mounts,
                       [](const std::string& v) { return ParseServiceMount(v).status(); }));
  RETURN_IF_ERROR(each("placement-pref", "placement-pref-add", o.placement_prefs,
                       [](const std::string& v) { return ParsePlacementPref(v).status(); }));
  RETURN_IF_ERROR(each("placement-pref-rm", "placement-pref-rm", o.placement_pref_rm,
                       [](const std::string& v) { return ParsePlacementPref(v).status(); }));
  RETURN_IF_ERROR(each("publish-rm", "publish-rm", o.publish_rm,
                       [](const std::string& v) { return ParsePortFlag(v).status(); }));
  if (f.Changed("ulimit") || f.Changed("ulimit-add")) RETURN_IF_ERROR(Ulimits(o.ulimits).status());
  if (f.Changed("credential-spec") && !o.credential_spec.empty() &&
      !absl::StartsWith(o.credential_spec, "config://") &&
      !absl::StartsWith(o.credential_spec, "file://") &&
      !absl::StartsWith(o.credential_spec, "registry://")) {
    return BadFlag("--credential-spec", o.credential_spec,
                   "invalid credential spec: value must be prefixed with \"config://\", "
                   "\"file://\", or \"registry://\"");
  }
  return absl::OkStatus();
}

Status CheckFlagVersions(const FlagSet& f, const std::string& api_version) {
  // Only flags newer than 1.41 matter: Berth speaks 1.41.
  auto older = [&](const std::string& want) {
    auto num = [](const std::string& v) {
      size_t dot = v.find('.');
      return std::make_pair(std::atoi(v.substr(0, dot).c_str()),
                            dot == std::string::npos ? 0 : std::atoi(v.substr(dot + 1).c_str()));
    };
    return num(api_version) < num(want);
  };
  using Flag = std::pair<const char*, const char*>;
  for (auto [name, version] : {Flag{"oom-score-adj", "1.46"}, Flag{"health-start-interval", "1.44"}}) {
    if (f.Changed(name) && older(version)) {
      return absl::InvalidArgumentError(absl::StrCat("\"--", name, "\" requires API version ",
                                                     version, ", but the Docker daemon API version is ",
                                                     api_version));
    }
  }
  return absl::OkStatus();
}

StatusOr<spec::ServiceSpec> BuildServiceSpec(const ServiceOptions& o, const FlagSet& f,
                                             const std::string& image,
                                             const std::vector<std::string>& args,
                                             ServiceLookups& lookups) {
  ASSIGN_OR_RETURN(std::vector<std::string> env, MakeEnv(o));
  ASSIGN_OR_RETURN(std::optional<spec::HealthConfig> health, HealthOf(o, f));
  ASSIGN_OR_RETURN(spec::ServiceMode mode, ModeOf(o, f));
  ASSIGN_OR_RETURN(auto networks, ResolveNetworks(o.networks, lookups));
  if (!o.generic_resources.empty()) {
    return absl::UnimplementedError("berth: --generic-resource is not supported");
  }

  spec::ServiceSpec s;
  s.annotations.name = o.name;
  s.annotations.labels = KvMap(o.labels);

  spec::ServiceContainerSpec c;
  c.image = image;
  c.args = args;
  if (f.Changed("entrypoint")) {
    ASSIGN_OR_RETURN(c.command, ShellWords(o.entrypoint));
  }
  c.env = env;
  c.hostname = o.hostname;
  c.labels = KvMap(o.container_labels);
  c.dir = o.workdir;
  c.user = o.user;
  c.groups = o.groups;
  c.stop_signal = o.stop_signal;
  c.tty = o.tty;
  c.read_only = o.read_only;
  for (const auto& m : o.mounts) {
    ASSIGN_OR_RETURN(spec::Mount mount, ParseServiceMount(m));
    c.mounts.push_back(std::move(mount));
  }
  c.init = o.init;
  c.dns_config = spec::DnsConfig{o.dns, o.dns_search, o.dns_options};
  c.hosts = SwarmHosts(o.hosts);
  if (f.Changed("stop-grace-period")) c.stop_grace_period = o.stop_grace_period;
  c.healthcheck = health;
  c.isolation = o.isolation;
  c.sysctls = KvMap(o.sysctls);
  EffectiveCaps(o.cap_add, o.cap_drop, &c.capability_add, &c.capability_drop);
  ASSIGN_OR_RETURN(c.ulimits, Ulimits(o.ulimits));
  if (!o.credential_spec.empty()) {
    spec::CredentialSpec cs;
    if (absl::StartsWith(o.credential_spec, "config://")) cs.config = o.credential_spec.substr(9);
    if (absl::StartsWith(o.credential_spec, "file://")) cs.file = o.credential_spec.substr(7);
    if (absl::StartsWith(o.credential_spec, "registry://")) {
      cs.registry = o.credential_spec.substr(11);
    }
    if (!cs.config.empty()) {
      return absl::UnimplementedError("berth: --credential-spec config:// is not supported");
    }
    c.privileges = spec::Privileges{cs, std::nullopt};
  }
  ASSIGN_OR_RETURN(c.secrets, ResolveSecrets(o.secrets, lookups));
  ASSIGN_OR_RETURN(c.configs, ResolveConfigs(o.configs, lookups));

  spec::TaskSpec& t = s.task_template;
  t.container_spec = std::move(c);
  t.networks = std::move(networks);
  spec::ResourceRequirements res;
  res.limits = spec::ServiceLimit{
      o.limit_cpu.empty() ? 0 : *ParseNanoCpus(o.limit_cpu),
      o.limit_memory.empty() ? 0 : *RamInBytes(o.limit_memory), o.limit_pids};
  res.reservations = spec::NodeResources{
      o.reserve_cpu.empty() ? 0 : *ParseNanoCpus(o.reserve_cpu),
      o.reserve_memory.empty() ? 0 : *RamInBytes(o.reserve_memory)};
  t.resources = res;
  if (AnyChanged(f, {"restart-delay", "restart-max-attempts", "restart-window",
                     "restart-condition"})) {
    spec::ServiceRestartPolicy p = DefaultRestartPolicy();
    ApplyRestartFlags(o, f, &p);
    t.restart_policy = p;
  }
  spec::Placement placement;
  placement.constraints = o.constraints;
  for (const auto& p : o.placement_prefs) placement.preferences.push_back(*ParsePlacementPref(p));
  placement.max_replicas = o.max_replicas.empty() ? 0 : *ParseGoUint(o.max_replicas);
  t.placement = placement;
  if (!o.log_driver.empty()) t.log_driver = spec::LogDriver{o.log_driver, KvMap(o.log_opts)};

  s.mode = mode;
  s.update_config = UpdateConfigOf(o.update, f, "update-");
  s.rollback_config = UpdateConfigOf(o.rollback, f, "rollback-");
  spec::EndpointSpec endpoint;
  endpoint.mode = absl::AsciiStrToLower(o.endpoint_mode);
  ASSIGN_OR_RETURN(endpoint.ports, Ports(o.publish));
  s.endpoint_spec = endpoint;
  return s;
}

namespace {

std::set<std::string> ToRemove(const std::vector<std::string>& v) {
  return std::set<std::string>(v.begin(), v.end());
}

void UpdateLabelMap(const std::vector<std::string>& add, const std::vector<std::string>& rm,
                    bool add_changed, spec::StringMap* m) {
  for (const auto& k : rm) m->erase(k);
  if (add_changed) {
    for (const auto& [k, v] : KvMap(add)) (*m)[k] = v;
  }
}

std::vector<std::string> RemoveDuplicates(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& v : in) {
    if (seen.insert(v).second) out.push_back(v);
  }
  return out;
}

// updateDNSConfig's treatment of one list: add, dedupe, remove, sort.
std::vector<std::string> MergeSorted(std::vector<std::string> cur, const std::vector<std::string>& add,
                                     const std::vector<std::string>& rm) {
  cur.insert(cur.end(), add.begin(), add.end());
  cur = RemoveDuplicates(cur);
  std::set<std::string> gone = ToRemove(rm);
  std::vector<std::string> out;
  for (const auto& v : cur) {
    if (!gone.count(v)) out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string PortKey(const spec::ServicePortConfig& p) {
  return absl::StrCat(p.published_port, ":", p.target_port, "/", p.protocol, "/", p.publish_mode);
}

bool SameDefaulted(const std::string& a, const std::string& b, const char* dflt) {
  return a == b || (a.empty() && b == dflt) || (b.empty() && a == dflt);
}

// updateHosts: remove "host" or "host:ip" from the "ip host [alias...]" entries, then append.
std::vector<std::string> UpdateHosts(const std::vector<std::string>& hosts,
                                     const std::vector<std::string>& add,
                                     const std::vector<std::string>& rm) {
  std::vector<std::pair<std::string, std::string>> removals;  // host, ip
  for (const auto& e : rm) {
    size_t c = e.find(':');
    removals.emplace_back(e.substr(0, c), c == std::string::npos ? "" : e.substr(c + 1));
  }
  std::vector<std::string> out;
  for (const auto& entry : hosts) {
    std::vector<std::string> parts = absl::StrSplit(entry, ' ', absl::SkipEmpty());
    if (parts.empty()) continue;
    std::string ip = parts[0];
    std::vector<std::string> names(parts.begin() + 1, parts.end());
    for (const auto& [host, rip] : removals) {
      if (!rip.empty() && rip != ip) continue;
      names.erase(std::remove(names.begin(), names.end(), host), names.end());
    }
    if (!names.empty()) out.push_back(ip + " " + absl::StrJoin(names, " "));
  }
  for (const auto& h : SwarmHosts(add)) out.push_back(h);
  return RemoveDuplicates(out);
}

// updateCapabilities: the tri-state merge of --cap-add/--cap-drop into the spec's lists.
void UpdateCaps(const ServiceOptions& o, const FlagSet& f, spec::ServiceContainerSpec* c) {
  std::set<std::string> drop = CapSet(c->capability_drop), add = CapSet(c->capability_add);
  std::set<std::string> to_add, to_drop;
  if (f.Changed("cap-add")) {
    to_add = CapSet(o.cap_add);
    if (to_add.erase("RESET")) add.clear();
  }
  if (f.Changed("cap-drop")) {
    to_drop = CapSet(o.cap_drop);
    if (to_drop.erase("RESET")) drop.clear();
  }
  for (const auto& cap : to_drop) {
    if (to_add.count(cap)) continue;
    if (add.count(cap)) {
      add.erase(cap);
    } else {
      drop.insert(cap);
    }
  }
  for (const auto& cap : to_add) {
    if (drop.count(cap)) {
      drop.erase(cap);
    } else {
      add.insert(cap);
    }
  }
  auto list = [](const std::set<std::string>& s) {
    if (s.count("ALL")) return std::vector<std::string>{"ALL"};
    return std::vector<std::string>(s.begin(), s.end());
  };
  c->capability_drop = list(drop);
  c->capability_add = list(add);
}

}  // namespace

Status UpdateServiceSpec(const ServiceOptions& o, const FlagSet& f, ServiceLookups& lookups,
                         spec::ServiceSpec* spec) {
  spec::TaskSpec& task = spec->task_template;
  if (!task.container_spec) task.container_spec.emplace();
  spec::ServiceContainerSpec& c = *task.container_spec;

  UpdateLabelMap(o.labels, o.label_rm, f.Changed("label-add"), &spec->annotations.labels);
  UpdateLabelMap(o.container_labels, o.container_label_rm, f.Changed("container-label-add"),
                 &c.labels);
  if (f.Changed("image")) c.image = o.image;
  if (f.Changed("args")) {
    ASSIGN_OR_RETURN(c.args, ShellWords(o.args));
  }
  if (f.Changed("entrypoint")) {
    ASSIGN_OR_RETURN(c.command, ShellWords(o.entrypoint));
  }
  // updateEnvironment: remove by key, then add (docker rebuilds the list from a Go map, in
  // random order; Berth sorts by key so that an unchanged env does not look like a change).
  {
    std::set<std::string> gone = ToRemove(o.env_rm);
    std::vector<std::string> kept;
    for (const auto& e : c.env) {
      if (!gone.count(EnvKey(e))) kept.push_back(e);
    }
    c.env = kept;
    if (f.Changed("env-add")) {
      std::map<std::string, std::string> by_key;
      for (const auto& e : c.env) by_key[EnvKey(e)] = e;
      for (const auto& e : o.env) by_key[EnvKey(e)] = ValidatedEnv(e);
      c.env.clear();
      for (const auto& [_, e] : by_key) c.env.push_back(e);
    }
  }
  if (f.Changed("workdir")) c.dir = o.workdir;
  if (f.Changed("user")) c.user = o.user;
  if (f.Changed("hostname")) c.hostname = o.hostname;
  if (f.Changed("init")) c.init = o.init;
  if (f.Changed("isolation")) c.isolation = o.isolation;
  // updateMounts: by target (the added replace), minus the removed, sorted by source, target.
  if (f.Changed("mount-add") || f.Changed("mount-rm")) {
    std::map<std::string, spec::Mount> by_target;
    for (const auto& m : o.mounts) {
      ASSIGN_OR_RETURN(spec::Mount mount, ParseServiceMount(m));
      if (by_target.count(mount.target)) return absl::InvalidArgumentError("duplicate mount target");
      by_target[mount.target] = mount;
    }
    for (const auto& m : c.mounts) by_target.try_emplace(m.target, m);
    std::set<std::string> gone = ToRemove(o.mount_rm);
    std::vector<spec::Mount> mounts;
    for (const auto& [target, m] : by_target) {
      if (!gone.count(target)) mounts.push_back(m);
    }
    std::stable_sort(mounts.begin(), mounts.end(), [](const spec::Mount& a, const spec::Mount& b) {
      return a.source == b.source ? a.target < b.target : a.source < b.source;
    });
    c.mounts = std::move(mounts);
  }
  if (f.Changed("sysctl-add") || f.Changed("sysctl-rm")) {
    for (const auto& [k, _] : KvMap(o.sysctl_rm)) c.sysctls.erase(k);
    if (f.Changed("sysctl-add")) {
      for (const auto& [k, v] : KvMap(o.sysctls)) c.sysctls[k] = v;
    }
  }
  // updateUlimits runs whatever the flags: the list comes back sorted by name.
  {
    std::map<std::string, spec::ServiceUlimit> by_name;
    for (const auto& u : c.ulimits) by_name[u.name] = u;
    for (const auto& [k, _] : KvMap(o.ulimit_rm)) by_name.erase(k);
    if (f.Changed("ulimit-add")) {
      ASSIGN_OR_RETURN(auto added, Ulimits(o.ulimits));
      for (const auto& u : added) by_name[u.name] = u;
    }
    c.ulimits.clear();
    for (const auto& [_, u] : by_name) c.ulimits.push_back(u);
  }

  auto resources = [&]() -> spec::ResourceRequirements& {
    if (!task.resources) task.resources.emplace();
    if (!task.resources->limits) task.resources->limits.emplace();
    if (!task.resources->reservations) task.resources->reservations.emplace();
    return *task.resources;
  };
  if (AnyChanged(f, {"limit-cpu", "limit-memory", "limit-pids"})) {
    spec::ServiceLimit& l = *resources().limits;
    if (f.Changed("limit-cpu")) l.nano_cpus = *ParseNanoCpus(o.limit_cpu);
    if (f.Changed("limit-memory")) l.memory_bytes = *RamInBytes(o.limit_memory);
    if (f.Changed("limit-pids")) l.pids = o.limit_pids;
  }
  if (AnyChanged(f, {"reserve-cpu", "reserve-memory"})) {
    spec::NodeResources& r = *resources().reservations;
    if (f.Changed("reserve-cpu")) r.nano_cpus = *ParseNanoCpus(o.reserve_cpu);
    if (f.Changed("reserve-memory")) r.memory_bytes = *RamInBytes(o.reserve_memory);
  }
  if (f.Changed("generic-resource-add") || f.Changed("generic-resource-rm")) {
    return absl::UnimplementedError("berth: generic resources are not supported");
  }
  if (f.Changed("stop-grace-period")) c.stop_grace_period = o.stop_grace_period;
  if (AnyChanged(f, {"restart-condition", "restart-delay", "restart-max-attempts",
                     "restart-window"})) {
    if (!task.restart_policy) task.restart_policy = DefaultRestartPolicy();
    ApplyRestartFlags(o, f, &*task.restart_policy);
  }
  if (AnyChanged(f, {"constraint-add", "constraint-rm"})) {
    if (!task.placement) task.placement.emplace();
    std::vector<std::string> all = task.placement->constraints;
    if (f.Changed("constraint-add")) all.insert(all.end(), o.constraints.begin(), o.constraints.end());
    std::set<std::string> gone = ToRemove(o.constraint_rm);
    std::vector<std::string> kept;
    for (const auto& cst : all) {
      if (!gone.count(cst)) kept.push_back(cst);
    }
    std::sort(kept.begin(), kept.end());
    task.placement->constraints = kept;
  }
  if (AnyChanged(f, {"placement-pref-add", "placement-pref-rm"})) {
    if (!task.placement) task.placement.emplace();
    std::vector<spec::PlacementPreference> prefs;
    std::set<std::string> gone;
    for (const auto& p : o.placement_pref_rm) gone.insert(ParsePlacementPref(p)->spread_descriptor);
    for (const auto& p : task.placement->preferences) {
      if (!gone.count(p.spread_descriptor)) prefs.push_back(p);
    }
    for (const auto& p : o.placement_prefs) prefs.push_back(*ParsePlacementPref(p));
    task.placement->preferences = prefs;
  }
  if (AnyChanged(f, {"network-add", "network-rm"})) {
    std::vector<spec::NetworkAttachmentConfig> current =
        task.networks.empty() ? spec->networks : task.networks;
    spec->networks.clear();
    std::set<std::string> gone_ids;
    for (const auto& n : ToRemove(o.network_rm)) {
      ASSIGN_OR_RETURN(std::string id, lookups.NetworkId(n));
      gone_ids.insert(id);
    }
    std::vector<spec::NetworkAttachmentConfig> nets;
    std::set<std::string> existing;
    for (const auto& n : current) {
      if (gone_ids.count(n.target)) continue;
      nets.push_back(n);
      existing.insert(n.target);
    }
    for (const auto& v : o.networks) {
      ASSIGN_OR_RETURN(spec::NetworkAttachmentConfig n, ParseNetworkFlag(v));
      ASSIGN_OR_RETURN(std::string id, lookups.NetworkId(n.target));
      if (existing.count(id)) {
        return absl::InvalidArgumentError("service is already attached to network " + n.target);
      }
      n.target = id;
      existing.insert(id);
      nets.push_back(std::move(n));
    }
    std::stable_sort(nets.begin(), nets.end(),
                     [](const auto& a, const auto& b) { return a.target < b.target; });
    task.networks = std::move(nets);
  }
  if (f.Changed("replicas")) {
    if (!spec->mode.replicated) {
      return absl::InvalidArgumentError("replicas can only be used with replicated mode");
    }
    spec->mode.replicas = *ParseGoUint(o.replicas);
  }
  if (f.Changed("replicas-max-per-node")) {
    // docker dereferences Placement here without a check; a spec from the daemon has one.
    if (!task.placement) task.placement.emplace();
    task.placement->max_replicas = *ParseGoUint(o.max_replicas);
  }
  MergeUpdateConfig(o.update, f, "update-", &spec->update_config);
  MergeUpdateConfig(o.rollback, f, "rollback-", &spec->rollback_config);
  if (f.Changed("endpoint-mode")) {
    if (!spec->endpoint_spec) spec->endpoint_spec.emplace();
    spec->endpoint_spec->mode = o.endpoint_mode;
  }
  if (AnyChanged(f, {"group-add", "group-rm"})) {
    std::vector<std::string> all = c.groups;
    all.insert(all.end(), o.groups.begin(), o.groups.end());
    std::set<std::string> gone = ToRemove(o.group_rm);
    std::vector<std::string> kept;
    for (const auto& g : all) {
      if (!gone.count(g)) kept.push_back(g);
    }
    std::sort(kept.begin(), kept.end());
    c.groups = kept;
  }
  if (AnyChanged(f, {"publish-add", "publish-rm"})) {
    if (!spec->endpoint_spec) spec->endpoint_spec.emplace();
    std::vector<spec::ServicePortConfig>& ports = spec->endpoint_spec->ports;
    std::map<std::string, spec::ServicePortConfig> set;
    for (const auto& p : ports) set.try_emplace(PortKey(p), p);
    std::vector<spec::ServicePortConfig> removals;
    for (const auto& v : o.publish_rm) {
      ASSIGN_OR_RETURN(auto r, ParsePortFlag(v));
      removals.insert(removals.end(), r.begin(), r.end());
    }
    std::vector<spec::ServicePortConfig> out;
    for (const auto& entry : set) {
      const spec::ServicePortConfig& p = entry.second;
      bool gone = std::any_of(removals.begin(), removals.end(), [&](const auto& r) {
        return SameDefaulted(p.protocol, r.protocol, "tcp") && p.target_port == r.target_port &&
               SameDefaulted(p.publish_mode, r.publish_mode, "ingress");
      });
      if (!gone) out.push_back(p);
    }
    ASSIGN_OR_RETURN(auto added, Ports(o.publish));
    for (const auto& p : added) {
      if (!set.count(PortKey(p))) out.push_back(p);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return PortKey(a) < PortKey(b); });
    ports = std::move(out);
  }
  if (AnyChanged(f, {"dns-add", "dns-rm", "dns-option-add", "dns-option-rm", "dns-search-add",
                     "dns-search-rm"})) {
    spec::DnsConfig cur = c.dns_config.value_or(spec::DnsConfig{});
    spec::DnsConfig next;
    next.nameservers = MergeSorted(cur.nameservers, o.dns, o.dns_rm);
    next.search = MergeSorted(cur.search, o.dns_search, o.dns_search_rm);
    next.options = MergeSorted(cur.options, o.dns_options, o.dns_option_rm);
    c.dns_config = next;
  }
  if (AnyChanged(f, {"host-add", "host-rm"})) c.hosts = UpdateHosts(c.hosts, o.hosts, o.host_rm);
  if (f.Changed("log-driver") && !o.log_driver.empty()) {
    task.log_driver = spec::LogDriver{o.log_driver, KvMap(o.log_opts)};
  }
  if (o.force) ++task.force_update;
  // updateHealthcheck.
  if (AnyChanged(f, {"no-healthcheck", "health-cmd", "health-interval", "health-retries",
                     "health-timeout", "health-start-period"})) {
    if (!c.healthcheck) c.healthcheck.emplace();
    bool health_flags = AnyChanged(f, {"health-cmd", "health-interval", "health-retries",
                                       "health-timeout", "health-start-period"});
    if (o.no_healthcheck) {
      if (health_flags) {
        return absl::InvalidArgumentError("--no-healthcheck conflicts with --health-* options");
      }
      c.healthcheck = spec::HealthConfig{};
      c.healthcheck->test = {"NONE"};
    } else {
      spec::HealthConfig& h = *c.healthcheck;
      if (!h.test.empty() && h.test[0] == "NONE") h.test.clear();
      if (f.Changed("health-interval")) h.interval = o.health_interval;
      if (f.Changed("health-timeout")) h.timeout = o.health_timeout;
      if (f.Changed("health-start-period")) h.start_period = o.health_start_period;
      if (f.Changed("health-retries")) h.retries = o.health_retries;
      if (f.Changed("health-cmd")) {
        h.test.clear();
        if (!o.health_cmd.empty()) h.test = {"CMD-SHELL", o.health_cmd};
      }
    }
  }
  if (f.Changed("tty")) c.tty = o.tty;
  if (f.Changed("read-only")) c.read_only = o.read_only;
  if (f.Changed("stop-signal")) c.stop_signal = o.stop_signal;
  if (AnyChanged(f, {"cap-add", "cap-drop"})) UpdateCaps(o, f, &c);

  // getUpdatedSecrets / getUpdatedConfigs: keep those not removed (by name), add the new.
  {
    std::set<std::string> gone = ToRemove(o.secret_rm);
    std::vector<spec::SecretReference> kept;
    for (const auto& s : c.secrets) {
      if (!gone.count(s.secret_name)) kept.push_back(s);
    }
    if (f.Changed("secret-add")) {
      ASSIGN_OR_RETURN(auto added, ResolveSecrets(o.secrets, lookups));
      kept.insert(kept.end(), added.begin(), added.end());
    }
    c.secrets = std::move(kept);
  }
  {
    std::set<std::string> gone = ToRemove(o.config_rm);
    std::vector<spec::ServiceConfigReference> kept;
    for (const auto& cf : c.configs) {
      // A runtime config belongs to a credential spec, which --config-rm does not touch.
      if (cf.runtime || !gone.count(cf.config_name)) kept.push_back(cf);
    }
    if (f.Changed("config-add")) {
      ASSIGN_OR_RETURN(auto added, ResolveConfigs(o.configs, lookups));
      kept.insert(kept.end(), added.begin(), added.end());
    }
    c.configs = std::move(kept);
  }
  if (f.Changed("credential-spec")) {
    if (o.credential_spec.empty()) {
      if (c.privileges) c.privileges->credential_spec.reset();
    } else {
      spec::CredentialSpec cs;
      if (absl::StartsWith(o.credential_spec, "config://")) {
        return absl::UnimplementedError("berth: --credential-spec config:// is not supported");
      }
      if (absl::StartsWith(o.credential_spec, "file://")) cs.file = o.credential_spec.substr(7);
      if (absl::StartsWith(o.credential_spec, "registry://")) {
        cs.registry = o.credential_spec.substr(11);
      }
      if (!c.privileges) c.privileges.emplace();
      c.privileges->credential_spec = cs;
    }
  }
  return absl::OkStatus();
}

}  // namespace berth::cli
