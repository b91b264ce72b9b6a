#include "cli/service_opts.h"
#include "cli/service_opts_internal.h"

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
namespace service_internal {

// A flag whose value docker checks as it is set: pflag's wording.
Status BadFlag(const std::string& flag, const std::string& value, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid argument \"", value, "\" for \"", flag, "\" flag: ", why));
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

}  // namespace service_internal

using namespace service_internal;

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

}  // namespace berth::cli
