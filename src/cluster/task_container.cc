#include "cluster/task_container.h"

#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "registry/reference.h"

namespace berth::cluster {
namespace {

// moby's executor validateMounts, with its messages.
Status ValidateMount(const spec::Mount& m) {
  if (m.target.empty() || m.target[0] != '/')
    return absl::InvalidArgumentError("invalid mount target, must be an absolute path: " + m.target);
  if (m.type == "bind") {
    if (m.source.empty() || m.source[0] != '/')
      return absl::InvalidArgumentError(
          absl::StrCat("invalid bind mount source, source path not absolute: \"", m.source, "\""));
  } else if (m.type == "volume") {
    // A named or anonymous volume: the engine creates it.
  } else if (m.type == "tmpfs") {
    if (!m.source.empty()) return absl::InvalidArgumentError("invalid tmpfs source, source must be empty");
  } else {
    return absl::InvalidArgumentError("invalid mount type: " + m.type);
  }
  return absl::OkStatus();
}

StatusOr<uint32_t> ParseId(const std::string& s, const char* what, const std::string& ref) {
  if (s.empty()) return 0u;
  uint32_t v = 0;
  if (!absl::SimpleAtoi(s, &v))
    return absl::InvalidArgumentError(absl::StrCat("invalid ", what, " \"", s, "\" for ", ref));
  return v;
}

const TaskPayload* FindPayload(const std::vector<TaskPayload>& payloads, const std::string& id) {
  for (const TaskPayload& p : payloads)
    if (p.id == id) return &p;
  return nullptr;
}

// Host file names: the object's id, made unique when a task mounts one object twice.
std::string UniqueName(std::map<std::string, int>& seen, const std::string& id) {
  int n = seen[id]++;
  return n == 0 ? id : absl::StrCat(id, ".", n);
}

}  // namespace

std::string TaskContainerName(const spec::Task& task, const std::string& service_name) {
  std::string slot = task.slot != 0 ? std::to_string(task.slot) : task.node_id;
  return absl::StrCat(service_name, ".", slot, ".", task.id);
}

std::string TaskImage(const std::string& image) {
  auto ref = registry::ParseNormalized(image);
  if (!ref.ok()) return image;
  return registry::WithDefaultTag(*ref).FamiliarString();
}

StatusOr<TaskContainer> TaskContainerFor(const TaskAssignment& a, const std::string& node_id,
                                         const std::string& payload_dir) {
  const spec::Task& t = a.task;
  if (!t.spec.runtime.empty() && t.spec.runtime != "container")
    return absl::InvalidArgumentError("unsupported runtime: " + t.spec.runtime +
                                      " (this node runs container tasks only)");
  if (!t.spec.container_spec) return absl::InvalidArgumentError("task has no container spec");
  const spec::ServiceContainerSpec& cs = *t.spec.container_spec;
  // moby's ErrImageRequired.
  if (cs.image.empty()) return absl::InvalidArgumentError("dockerexec: image required");
  if (!cs.isolation.empty() && cs.isolation != "default" && cs.isolation != "process")
    return absl::InvalidArgumentError("unsupported isolation: " + cs.isolation +
                                      " (Linux containers support only process isolation)");
  for (const spec::Mount& m : cs.mounts) RETURN_IF_ERROR(ValidateMount(m));

  TaskContainer out;
  spec::ContainerCreateRequest& req = out.request;
  std::string name = TaskContainerName(t, a.service_name);
  req.name = name;

  spec::ContainerConfig& c = req.config;
  c.image = TaskImage(cs.image);
  c.hostname = cs.hostname;
  c.user = cs.user;
  c.working_dir = cs.dir;
  c.tty = cs.tty;
  c.open_stdin = cs.open_stdin;
  c.stop_signal = cs.stop_signal;
  if (!cs.env.empty()) c.env = cs.env;
  // Command replaces the image's whole invocation (Entrypoint, with Args as its Cmd); Args
  // alone are the arguments of the image's Entrypoint.
  if (!cs.command.empty()) {
    c.entrypoint = cs.command;
    c.cmd = cs.args;
  } else if (!cs.args.empty()) {
    c.cmd = cs.args;
  }
  if (cs.healthcheck) c.healthcheck = cs.healthcheck;  // ["NONE"] turns the image's off
  // The grace `docker stop` gives it too (whole seconds, as Docker truncates).
  if (cs.stop_grace_period && *cs.stop_grace_period >= 0)
    c.stop_timeout = *cs.stop_grace_period / 1'000'000'000;

  // Labels: the spec's, then the task's, then Docker's system labels over both.
  spec::StringMap labels = cs.labels;
  for (const auto& [k, v] : t.annotations.labels) labels[k] = v;
  labels[kTaskLabel] = "";
  labels[kTaskIdLabel] = t.id;
  labels[kTaskNameLabel] = name;
  labels[kNodeIdLabel] = t.node_id.empty() ? node_id : t.node_id;
  labels[kServiceIdLabel] = t.service_id;
  labels[kServiceNameLabel] = a.service_name;
  c.labels = std::move(labels);

  spec::HostConfig& hc = req.host_config.emplace();
  // The task's swarm networks (the ingress network first when its service publishes an ingress
  // port), at the addresses the managers gave it, with tasks.<service> and the spec's aliases as
  // its names there, and the service's name too in dnsrr mode (in vip mode the node's DNS answers
  // the service's name with its VIP). A task on no swarm network runs on the default bridge.
  hc.network_mode = "default";
  if (!t.networks_attachments.empty()) {
    std::map<std::string, spec::EndpointSettings> eps;
    for (const spec::NetworkAttachment& na : t.networks_attachments) {
      spec::EndpointSettings ep;
      if (!na.addresses.empty()) {
        spec::EndpointIPAMConfig ipam;
        ipam.ipv4_address = na.addresses.front().substr(0, na.addresses.front().find('/'));
        ep.ipam_config = ipam;
      }
      if (!na.network.spec.ingress) {  // nothing resolves on the ingress network
        std::vector<std::string> aliases = {"tasks." + a.service_name};
        if (a.dnsrr) {
          aliases.insert(aliases.begin(), a.service_name);
          for (const spec::NetworkAttachmentConfig& want : t.spec.networks)
            if (want.target == na.network.id || want.target == na.network.spec.annotations.name)
              aliases.insert(aliases.end(), want.aliases.begin(), want.aliases.end());
        }
        ep.aliases = std::move(aliases);
      }
      eps[na.network.id] = std::move(ep);
    }
    hc.network_mode = t.networks_attachments.front().network.id;
    req.networking_config = spec::NetworkingConfig{std::move(eps)};
  }
  // Ports published in host mode: this node's, as `docker run -p [published:]target/proto`
  // (no published port: one the node picks).
  if (!a.host_ports.empty()) {
    spec::PortMap bindings;
    for (const spec::ServicePortConfig& p : a.host_ports) {
      std::string key = absl::StrCat(p.target_port, "/", p.protocol.empty() ? "tcp" : p.protocol);
      c.exposed_ports.insert(key);
      spec::PortBinding b;
      if (p.published_port != 0) b.host_port = std::to_string(p.published_port);
      auto& list = bindings[key];
      if (!list.has_value()) list.emplace();
      list->push_back(b);
    }
    hc.port_bindings = std::move(bindings);
  }
  // No restart policy on the container: swarm restarts a task by replacing it.
  hc.restart_policy = spec::RestartPolicy{};
  if (!cs.groups.empty()) hc.group_add = cs.groups;
  hc.readonly_rootfs = cs.read_only;
  hc.init = cs.init;
  hc.sysctls = cs.sysctls;
  if (!cs.capability_add.empty()) hc.cap_add = cs.capability_add;
  if (!cs.capability_drop.empty()) hc.cap_drop = cs.capability_drop;
  if (!cs.ulimits.empty()) {
    std::vector<spec::Ulimit> u;
    for (const spec::ServiceUlimit& l : cs.ulimits) u.push_back({l.name, l.hard, l.soft});
    hc.resources.ulimits = std::move(u);
  }
  if (cs.dns_config) {
    if (!cs.dns_config->nameservers.empty()) hc.dns = cs.dns_config->nameservers;
    if (!cs.dns_config->search.empty()) hc.dns_search = cs.dns_config->search;
    if (!cs.dns_config->options.empty()) hc.dns_options = cs.dns_config->options;
  }
  // Hosts are hosts(5) lines ("IP name [aliases...]"); ExtraHosts wants "name:IP" for each name.
  std::vector<std::string> extra_hosts;
  for (const std::string& line : cs.hosts) {
    std::vector<std::string> f = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    for (size_t i = 1; i < f.size(); ++i) extra_hosts.push_back(f[i] + ":" + f[0]);
  }
  if (!extra_hosts.empty()) hc.extra_hosts = std::move(extra_hosts);
  if (t.spec.resources && t.spec.resources->limits) {
    const spec::ServiceLimit& l = *t.spec.resources->limits;
    if (l.nano_cpus > 0) hc.resources.nano_cpus = l.nano_cpus;
    if (l.memory_bytes > 0) hc.resources.memory = l.memory_bytes;
    if (l.pids > 0) hc.resources.pids_limit = l.pids;
  }
  if (t.spec.log_driver && !t.spec.log_driver->name.empty()) {
    hc.log_config.type = t.spec.log_driver->name;
    hc.log_config.config = t.spec.log_driver->options;
  }
  if (cs.privileges) {
    if (cs.privileges->credential_spec)
      return absl::InvalidArgumentError("credential specs are Windows-only; this node runs Linux");
    if (const auto& se = cs.privileges->selinux_context) {
      // As Docker: the engine refuses the labels it cannot apply.
      std::vector<std::string> opts;
      if (se->disable) opts.push_back("label=disable");
      if (!se->user.empty()) opts.push_back("label=user:" + se->user);
      if (!se->role.empty()) opts.push_back("label=role:" + se->role);
      if (!se->level.empty()) opts.push_back("label=level:" + se->level);
      if (!se->type.empty()) opts.push_back("label=type:" + se->type);
      if (!opts.empty()) hc.security_opt = std::move(opts);
    }
  }
  hc.mounts = cs.mounts;

  // Secrets and configs: files in the task's tmpfs, each bound read-only at its target.
  std::map<std::string, int> seen;
  for (const spec::SecretReference& r : cs.secrets) {
    if (!r.file) continue;  // Docker mounts file targets only
    const TaskPayload* p = FindPayload(a.secrets, r.secret_id);
    if (!p) return absl::InvalidArgumentError(absl::StrCat("secret ", r.secret_name, " (",
                                                           r.secret_id, ") not found"));
    std::string target = r.file->name.empty() ? r.secret_name : r.file->name;
    if (target.empty() || target[0] != '/') target = absl::StrCat(kSecretsPath, "/", target);
    std::string ref = "secret " + r.secret_name;
    ASSIGN_OR_RETURN(uint32_t uid, ParseId(r.file->uid, "UID", ref));
    ASSIGN_OR_RETURN(uint32_t gid, ParseId(r.file->gid, "GID", ref));
    out.files.push_back({absl::StrCat(payload_dir, "/secrets/", UniqueName(seen, r.secret_id)),
                         target, p->data, r.file->mode != 0 ? r.file->mode : 0444, uid, gid});
  }
  for (const spec::ServiceConfigReference& r : cs.configs) {
    if (!r.file || r.runtime) continue;  // a runtime config is a credential spec's (Windows)
    const TaskPayload* p = FindPayload(a.configs, r.config_id);
    if (!p) return absl::InvalidArgumentError(absl::StrCat("config ", r.config_name, " (",
                                                           r.config_id, ") not found"));
    std::string target = r.file->name.empty() ? r.config_name : r.file->name;
    if (target.empty() || target[0] != '/') target = "/" + target;
    std::string ref = "config " + r.config_name;
    ASSIGN_OR_RETURN(uint32_t uid, ParseId(r.file->uid, "UID", ref));
    ASSIGN_OR_RETURN(uint32_t gid, ParseId(r.file->gid, "GID", ref));
    out.files.push_back({absl::StrCat(payload_dir, "/configs/", UniqueName(seen, r.config_id)),
                         target, p->data, r.file->mode != 0 ? r.file->mode : 0444, uid, gid});
  }
  for (const PayloadFile& f : out.files) {
    spec::Mount m;
    m.type = "bind";
    m.source = f.path;
    m.target = f.target;
    m.read_only = true;
    hc.mounts.push_back(std::move(m));
  }
  return out;
}

}  // namespace berth::cluster
