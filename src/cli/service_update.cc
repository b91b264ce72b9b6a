// service update's merge of flags into the service's current spec (docker's update.go
// updateService, getUpdatedSecrets, getUpdatedConfigs), beside create's service_opts.cc.

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/opts.h"
#include "cli/service_opts.h"
#include "cli/service_opts_internal.h"

namespace berth::cli {

using namespace service_internal;

namespace {

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
