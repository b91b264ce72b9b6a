#include "cli/container_opts.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstdlib>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "api/client/client.h"
#include "cli/host_opts.h"
#include "cli/mount_opts.h"
#include "cli/opts.h"

namespace berth::cli {
namespace {

using nlohmann::json;

json NullOrArray(const std::vector<std::string>& v) {
  if (v.empty()) return nullptr;
  return json(v);
}

bool ValidMac(const std::string& s) {
  std::vector<std::string> parts = absl::StrSplit(s, ':');
  if (parts.size() != 6) return false;
  for (const auto& p : parts) {
    if (p.size() != 2 || !std::isxdigit(static_cast<unsigned char>(p[0])) ||
        !std::isxdigit(static_cast<unsigned char>(p[1])))
      return false;
  }
  return true;
}

json EndpointSettings() {
  return json{{"IPAMConfig", nullptr},   {"Links", nullptr},         {"Aliases", nullptr},
              {"MacAddress", ""},        {"DriverOpts", nullptr},    {"GwPriority", 0},
              {"NetworkID", ""},         {"EndpointID", ""},         {"Gateway", ""},
              {"IPAddress", ""},         {"IPPrefixLen", 0},         {"IPv6Gateway", ""},
              {"GlobalIPv6Address", ""}, {"GlobalIPv6PrefixLen", 0}, {"DNSNames", nullptr}};
}

std::string NormalizeCapability(std::string c) {
  while (!c.empty() && std::isspace(static_cast<unsigned char>(c.back()))) c.pop_back();
  while (!c.empty() && std::isspace(static_cast<unsigned char>(c.front()))) c.erase(0, 1);
  for (auto& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (c == "ALL" || c == "RESET") return c;
  if (c.rfind("CAP_", 0) != 0) c = "CAP_" + c;
  return c;
}

// docker's opts.EffectiveCapAddCapDrop: normalized, de-duplicated, sorted; ALL wins; a cap both
// added and dropped is added; RESET only clears.
void EffectiveCaps(const std::vector<std::string>& add, const std::vector<std::string>& drop,
                   std::vector<std::string>* cap_add, std::vector<std::string>* cap_drop) {
  std::set<std::string> a, d;
  for (const auto& c : add) a.insert(NormalizeCapability(c));
  for (const auto& c : drop) d.insert(NormalizeCapability(c));
  if (a.count("ALL")) a = {"ALL"};
  if (d.count("ALL")) d = {"ALL"};
  for (const auto& c : d) {
    if (a.count(c) || c == "RESET") continue;
    cap_drop->push_back(c);
  }
  for (const auto& c : a) {
    if (c != "RESET") cap_add->push_back(c);
  }
}

// --env-file and --label-file: the files' KEY=VALUE lines in order, with the docker CLI's
// messages ("open F: no such file or directory", "invalid env file (F): ...").
StatusOr<std::vector<std::string>> ReadKeyValueFiles(const std::vector<std::string>& files) {
  std::vector<std::string> out;
  for (const std::string& file : files) {
    auto lines = ParseEnvFile(file);
    if (absl::IsInvalidArgument(lines.status())) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid env file (", file, "): ", lines.status().message()));
    }
    if (!lines.ok()) {
      // "open F: No such file or directory": Go's words for errno are lower case.
      std::string why(lines.status().message());
      std::string open = absl::StrCat("open ", file, ": ");
      if (absl::StartsWith(why, open) && why.size() > open.size())
        why[open.size()] =
            static_cast<char>(std::tolower(static_cast<unsigned char>(why[open.size()])));
      return Status(lines.status().code(), why);
    }
    out.insert(out.end(), lines->begin(), lines->end());
  }
  return out;
}

// docker's --health-* and --no-healthcheck (cli/command/container/opts.go), with its messages.
StatusOr<json> HealthcheckJson(const ContainerOptions& o) {
  bool have = !o.health_cmd.empty() || o.health_interval != 0 || o.health_timeout != 0 ||
              o.health_start_period != 0 || o.health_retries != 0;
  if (o.no_healthcheck) {
    if (have) return absl::InvalidArgumentError("--no-healthcheck conflicts with --health-* options");
    return json{{"Test", {"NONE"}}};
  }
  if (!have) return json(nullptr);
  if (o.health_interval < 0) return absl::InvalidArgumentError("--health-interval cannot be negative");
  if (o.health_timeout < 0) return absl::InvalidArgumentError("--health-timeout cannot be negative");
  if (o.health_retries < 0) return absl::InvalidArgumentError("--health-retries cannot be negative");
  if (o.health_start_period < 0)
    return absl::InvalidArgumentError("--health-start-period cannot be negative");
  json h = json::object();
  if (!o.health_cmd.empty()) h["Test"] = {"CMD-SHELL", o.health_cmd};
  if (o.health_interval) h["Interval"] = o.health_interval;
  if (o.health_timeout) h["Timeout"] = o.health_timeout;
  if (o.health_start_period) h["StartPeriod"] = o.health_start_period;
  if (o.health_retries) h["Retries"] = o.health_retries;
  return h;
}

// --blkio-weight, --blkio-weight-device and the --device-{read,write}-{bps,iops} throttles.
struct BlockIo {
  uint16_t weight = 0;
  json weight_device, read_bps, write_bps, read_iops, write_iops;
};
StatusOr<BlockIo> BlockIoJson(const ContainerOptions& o) {
  BlockIo b;
  if (!o.blkio_weight.empty()) {
    ASSIGN_OR_RETURN(b.weight, ParseBlkioWeight(o.blkio_weight));
  }
  ASSIGN_OR_RETURN(b.weight_device, ParseWeightDevices(o.blkio_weight_devices));
  ASSIGN_OR_RETURN(
      b.read_bps, ParseThrottleDevices(o.device_read_bps, "device-read-bps", ThrottleRate::kBytes));
  ASSIGN_OR_RETURN(b.write_bps, ParseThrottleDevices(o.device_write_bps, "device-write-bps",
                                                     ThrottleRate::kBytes));
  ASSIGN_OR_RETURN(b.read_iops, ParseThrottleDevices(o.device_read_iops, "device-read-iops",
                                                     ThrottleRate::kOperations));
  ASSIGN_OR_RETURN(b.write_iops, ParseThrottleDevices(o.device_write_iops, "device-write-iops",
                                                      ThrottleRate::kOperations));
  return b;
}

// "1.41" < "1.43", as docker's versions.LessThan compares API versions.
bool ApiVersionLess(std::string_view a, std::string_view b) {
  auto parts = [](std::string_view v) {
    std::vector<int> out;
    for (absl::string_view p : absl::StrSplit(Av(v), '.')) {
      int n = 0;
      out.push_back(absl::SimpleAtoi(p, &n) ? n : 0);
    }
    return out;
  };
  return parts(a) < parts(b);
}

bool IsUserDefinedNetwork(const std::string& n) {
  return n != "default" && n != "bridge" && n != "host" && n != "none" &&
         n.rfind("container:", 0) != 0;
}

}  // namespace

void RegisterContainerFlags(FlagSet& f, ContainerOptions* o, bool is_run) {
  if (is_run) {
    f.Bool("detach", 'd', &o->detach);
    f.Bool("rm", 0, &o->rm);
    f.String("detach-keys", 0, &o->detach_keys);
    f.Bool("sig-proxy", 0, &o->sig_proxy);
  } else {
    // create also takes --rm (AutoRemove).
    f.Bool("rm", 0, &o->rm);
  }
  f.Bool("interactive", 'i', &o->interactive);
  f.Bool("tty", 't', &o->tty);
  f.String("name", 0, &o->name);
  f.StringList("env", 'e', &o->env);
  f.StringList("env-file", 0, &o->env_files);
  f.String("workdir", 'w', &o->workdir);
  f.String("user", 'u', &o->user);
  f.String("entrypoint", 0, &o->entrypoint);
  f.StringList("volume", 'v', &o->volumes);
  f.String("hostname", 'h', &o->hostname);
  f.String("domainname", 0, &o->domainname);
  f.String("restart", 0, &o->restart);
  f.String("memory", 'm', &o->memory);
  f.String("memory-swap", 0, &o->memory_swap);
  f.String("memory-reservation", 0, &o->memory_reservation);
  f.Int("memory-swappiness", 0, &o->memory_swappiness);
  f.Bool("oom-kill-disable", 0, &o->oom_kill_disable);
  f.Int("oom-score-adj", 0, &o->oom_score_adj);
  f.String("cpus", 0, &o->cpus);
  f.Int("cpu-shares", 'c', &o->cpu_shares);
  f.Int("cpu-period", 0, &o->cpu_period);
  f.Int("cpu-quota", 0, &o->cpu_quota);
  f.Int("cpu-rt-period", 0, &o->cpu_rt_period);
  f.Int("cpu-rt-runtime", 0, &o->cpu_rt_runtime);
  f.String("cpuset-cpus", 0, &o->cpuset_cpus);
  f.String("cpuset-mems", 0, &o->cpuset_mems);
  f.String("blkio-weight", 0, &o->blkio_weight);
  f.StringList("blkio-weight-device", 0, &o->blkio_weight_devices);
  f.StringList("device-read-bps", 0, &o->device_read_bps);
  f.StringList("device-write-bps", 0, &o->device_write_bps);
  f.StringList("device-read-iops", 0, &o->device_read_iops);
  f.StringList("device-write-iops", 0, &o->device_write_iops);
  f.String("cgroup-parent", 0, &o->cgroup_parent);
  f.StringList("device", 0, &o->devices);
  f.StringList("device-cgroup-rule", 0, &o->device_cgroup_rules);
  f.StringList("gpus", 0, &o->gpus);
  f.Int("pids-limit", 0, &o->pids_limit);
  f.String("shm-size", 0, &o->shm_size);
  f.StringList("label", 'l', &o->labels);
  f.StringList("label-file", 0, &o->label_files);
  f.StringList("annotation", 0, &o->annotations);
  f.StringList("network", 0, &o->networks);
  f.StringList("net", 0, &o->networks);
  f.String("ip", 0, &o->ip);
  f.String("ip6", 0, &o->ip6);
  f.String("mac-address", 0, &o->mac_address);
  f.StringList("network-alias", 0, &o->network_aliases);
  f.StringList("net-alias", 0, &o->network_aliases);
  f.StringList("link-local-ip", 0, &o->link_local_ips);
  f.StringList("dns", 0, &o->dns);
  f.StringList("dns-search", 0, &o->dns_search);
  f.StringList("dns-option", 0, &o->dns_options);
  f.StringList("add-host", 0, &o->add_hosts);
  f.StringList("publish", 'p', &o->publish);
  f.StringList("expose", 0, &o->expose);
  f.Bool("publish-all", 'P', &o->publish_all);
  f.Bool("privileged", 0, &o->privileged);
  f.Bool("read-only", 0, &o->read_only);
  f.StringList("cap-add", 0, &o->cap_add);
  f.StringList("group-add", 0, &o->group_add);
  f.StringList("link", 0, &o->links);
  f.StringList("cap-drop", 0, &o->cap_drop);
  f.StringList("attach", 'a', &o->attach);
  f.StringList("security-opt", 0, &o->security_opt);
  f.StringList("tmpfs", 0, &o->tmpfs);
  f.StringList("mount", 0, &o->mounts);
  f.StringList("volumes-from", 0, &o->volumes_from);
  f.String("volume-driver", 0, &o->volume_driver);
  f.StringList("storage-opt", 0, &o->storage_opts);
  f.StringList("sysctl", 0, &o->sysctls);
  f.StringList("ulimit", 0, &o->ulimits);
  f.String("stop-signal", 0, &o->stop_signal);
  f.Int("stop-timeout", 0, &o->stop_timeout);
  f.Bool("init", 0, &o->init);
  f.String("pid", 0, &o->pid);
  f.String("ipc", 0, &o->ipc);
  f.String("uts", 0, &o->uts);
  f.String("userns", 0, &o->userns);
  f.String("isolation", 0, &o->isolation);
  f.String("log-driver", 0, &o->log_driver);
  f.StringList("log-opt", 0, &o->log_opts);
  f.String("health-cmd", 0, &o->health_cmd);
  f.Duration("health-interval", 0, &o->health_interval);
  f.Duration("health-timeout", 0, &o->health_timeout);
  f.Duration("health-start-period", 0, &o->health_start_period);
  f.Duration("health-start-interval", 0, &o->health_start_interval);
  f.Int("health-retries", 0, &o->health_retries);
  f.Bool("no-healthcheck", 0, &o->no_healthcheck);
  f.String("cgroupns", 0, &o->cgroupns);
  f.String("runtime", 0, &o->runtime);
  f.String("platform", 0, &o->platform);
  f.String("pull", 0, &o->pull);
  f.Bool("quiet", 'q', &o->quiet);
  f.String("cidfile", 0, &o->cidfile);
  f.SetInterspersed(false);
}

Status CheckContainerFlagVersions(const FlagSet& flags, std::string_view api_version) {
  using Flag = std::pair<const char*, const char*>;
  for (auto [name, version] : {Flag{"annotation", "1.43"}, Flag{"health-start-interval", "1.44"}}) {
    if (flags.Changed(name) && ApiVersionLess(api_version, version)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"--", name, "\" requires API version ", version,
                       ", but the Docker daemon API version is ", Av(api_version)));
    }
  }
  return absl::OkStatus();
}

std::string FamiliarWithTag(const std::string& image) {
  if (image.find('@') != std::string::npos) return image;
  size_t slash = image.rfind('/');
  size_t colon = image.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) return image;
  return image + ":latest";
}

StatusOr<CreateRequest> BuildCreateRequest(const ContainerOptions& o, const FlagSet& flags,
                                           const std::vector<std::string>& positionals) {
  if (positionals.empty()) {
    return absl::InvalidArgumentError("requires at least 1 argument");
  }
  // Berth's client never speaks a newer API than this (the daemon's may be older still), so
  // these flags could never be sent: refused as the docker CLI refuses them against berthd.
  RETURN_IF_ERROR(CheckContainerFlagVersions(flags, client::kDefaultApiVersion));
  CreateRequest req;
  req.name = o.name;
  const std::string& image = positionals[0];
  std::vector<std::string> cmd(positionals.begin() + 1, positionals.end());

  // The values docker's flag types check as they are read, so before anything else.
  ASSIGN_OR_RETURN(BlockIo block_io, BlockIoJson(o));
  RETURN_IF_ERROR(CheckDeviceCgroupRules(o.device_cgroup_rules));
  ASSIGN_OR_RETURN(json device_requests, ParseGpus(o.gpus));
  if (o.memory_swappiness != -1 && (o.memory_swappiness < 0 || o.memory_swappiness > 100)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid value: ", o.memory_swappiness,
                                                   ". Valid memory swappiness range is 0-100"));
  }
  if (!o.mac_address.empty() && !ValidMac(o.mac_address)) {
    return absl::InvalidArgumentError(absl::StrCat(o.mac_address, " is not a valid mac address"));
  }
  bool attach_stdin = false, attach_stdout = false, attach_stderr = false;
  for (const auto& a : o.attach) {
    std::string l = a;
    for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (l == "stdin")
      attach_stdin = true;
    else if (l == "stdout")
      attach_stdout = true;
    else if (l == "stderr")
      attach_stderr = true;
    else
      return absl::InvalidArgumentError(absl::StrCat("valid streams are STDIN, STDOUT and STDERR"));
  }
  if (o.interactive) attach_stdin = true;
  if (o.attach.empty()) attach_stdout = attach_stderr = true;

  // Volumes: "src:dst[:opts]" is a bind (or named volume), a lone path an anonymous volume.
  json binds = nullptr;
  json volumes = json::object();
  for (const auto& v : o.volumes) {
    std::vector<std::string> parts = absl::StrSplit(v, ':');
    if (parts.size() >= 2 && !parts[0].empty()) {
      std::string host = parts[0];
      if (host[0] == '.') {
        char cwd[PATH_MAX];
        if (::getcwd(cwd, sizeof cwd) != nullptr) {
          std::string abs = absl::StrCat(cwd, "/", host);
          // Normalise the leading "./".
          if (host.rfind("./", 0) == 0) abs = absl::StrCat(cwd, "/", host.substr(2));
          if (host == ".") abs = cwd;
          host = abs;
        }
      }
      std::string rest = v.substr(parts[0].size());
      if (binds.is_null()) binds = json::array();
      binds.push_back(host + rest);
    } else if (parts.size() == 1 && !v.empty()) {
      volumes[v] = json::object();
    } else {
      return absl::InvalidArgumentError(absl::StrCat("invalid volume specification: '", v, "'"));
    }
  }

  ASSIGN_OR_RETURN(PortSpecs ports, ParsePortSpecs(o.publish));
  for (const auto& e : o.expose) {
    std::string spec = e;
    std::string proto = "tcp";
    if (size_t slash = spec.find('/'); slash != std::string::npos) {
      proto = spec.substr(slash + 1);
      spec = spec.substr(0, slash);
    }
    size_t dash = spec.find('-');
    int lo = std::atoi(spec.c_str());
    int hi = dash == std::string::npos ? lo : std::atoi(spec.c_str() + dash + 1);
    if (lo <= 0 || hi < lo || hi > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("invalid range format for --expose: ", e));
    }
    for (int p = lo; p <= hi; ++p) ports.exposed[absl::StrCat(p, "/", proto)] = json::object();
  }

  ASSIGN_OR_RETURN(std::vector<std::string> env, ReadKeyValueFiles(o.env_files));
  for (const auto& e : o.env) env.push_back(ExpandEnv(e));
  // Labels from files first, so that --label overrides them.
  ASSIGN_OR_RETURN(std::vector<std::string> labels, ReadKeyValueFiles(o.label_files));
  labels.insert(labels.end(), o.labels.begin(), o.labels.end());
  if (!o.userns.empty() && o.userns != "host") {
    return absl::InvalidArgumentError("--userns: invalid USER mode");
  }
  ASSIGN_OR_RETURN(json storage_opts, ParseStorageOpts(o.storage_opts));

  ASSIGN_OR_RETURN(json restart, ParseRestartPolicy(o.restart));
  if (o.rm && restart["Name"] != "no") {
    return absl::InvalidArgumentError(
        "conflicting options: cannot specify both --restart and --rm");
  }
  int64_t memory = 0, memory_swap = 0, memory_reservation = 0, shm = 0, nano_cpus = 0;
  if (!o.memory.empty()) {
    ASSIGN_OR_RETURN(memory, RamInBytes(o.memory));
  }
  if (!o.memory_swap.empty()) {
    if (o.memory_swap == "-1") {
      memory_swap = -1;
    } else {
      ASSIGN_OR_RETURN(memory_swap, RamInBytes(o.memory_swap));
    }
  }
  if (!o.memory_reservation.empty()) {
    ASSIGN_OR_RETURN(memory_reservation, RamInBytes(o.memory_reservation));
  }
  if (!o.shm_size.empty()) {
    ASSIGN_OR_RETURN(shm, RamInBytes(o.shm_size));
  }
  if (!o.cpus.empty()) {
    auto n = ParseNanoCpus(o.cpus);
    if (!n.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid argument \"", o.cpus, "\" for \"--cpus\" flag: ", n.status().message()));
    }
    nano_cpus = *n;
  }
  for (const auto& h : o.add_hosts) {
    size_t sep = h.find_first_of(":=");
    if (sep == std::string::npos || sep == 0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid argument \"", h,
                                                     "\" for \"--add-host\" flag: bad format for "
                                                     "add-host: \"",
                                                     h, "\""));
    }
  }
  for (const auto& d : o.dns) {
    unsigned char tmp[16];
    if (inet_pton(AF_INET, d.c_str(), tmp) != 1 && inet_pton(AF_INET6, d.c_str(), tmp) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid argument \"", d, "\" for \"--dns\" flag: IP address is not correctly formatted: ", d));
    }
  }
  json log_config_opts = json::object();
  for (const auto& kv : o.log_opts) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("invalid key-value: ", kv));
    }
    log_config_opts[kv.substr(0, eq)] = kv.substr(eq + 1);
  }

  json entrypoint = nullptr;
  if (!o.entrypoint.empty()) {
    entrypoint = json::array({o.entrypoint});
  } else if (flags.Changed("entrypoint")) {
    entrypoint = json::array({""});  // --entrypoint="" resets the image's entrypoint
  }

  json config = {
      {"Hostname", o.hostname},
      {"Domainname", o.domainname},
      {"User", o.user},
      {"AttachStdin", attach_stdin},
      {"AttachStdout", attach_stdout},
      {"AttachStderr", attach_stderr},
      {"Tty", o.tty},
      {"OpenStdin", o.interactive},
      {"StdinOnce", false},
      {"Env", NullOrArray(env)},
      {"Cmd", NullOrArray(cmd)},
      {"Image", image},
      {"Volumes", volumes},
      {"WorkingDir", o.workdir},
      {"Entrypoint", entrypoint},
      {"OnBuild", nullptr},
      {"Labels", KeyValueMap(labels)},
  };
  if (!ports.exposed.empty()) config["ExposedPorts"] = ExposedPortsJson(ports);
  if (!o.mac_address.empty()) config["MacAddress"] = o.mac_address;
  if (!o.stop_signal.empty()) config["StopSignal"] = o.stop_signal;
  if (flags.Changed("stop-timeout")) config["StopTimeout"] = o.stop_timeout;
  ASSIGN_OR_RETURN(json healthcheck, HealthcheckJson(o));
  if (!healthcheck.is_null()) config["Healthcheck"] = healthcheck;
  // When allocating stdin in attached mode, stdin closes at client disconnect.
  if (o.interactive && attach_stdin) config["StdinOnce"] = true;
  if (o.detach) {
    config["AttachStdin"] = false;
    config["AttachStdout"] = false;
    config["AttachStderr"] = false;
    config["StdinOnce"] = false;
  }

  std::string network_mode = o.networks.empty() ? "default" : o.networks[0];
  json tmpfs = ParseTmpfs(o.tmpfs);
  ASSIGN_OR_RETURN(json ulimits, ParseUlimits(o.ulimits));
  ASSIGN_OR_RETURN(json devices, ParseDevices(o.devices));
  ASSIGN_OR_RETURN(SecurityOpts security, ParseSecurityOpts(o.security_opt));

  std::vector<std::string> cap_add, cap_drop;
  EffectiveCaps(o.cap_add, o.cap_drop, &cap_add, &cap_drop);

  json host_config = {
      {"Binds", binds},
      {"ContainerIDFile", o.cidfile},
      {"LogConfig", {{"Type", o.log_driver}, {"Config", log_config_opts}}},
      {"NetworkMode", network_mode},
      {"PortBindings", PortBindingsJson(ports)},
      {"RestartPolicy", restart},
      {"AutoRemove", o.rm},
      {"VolumeDriver", o.volume_driver},
      {"VolumesFrom", NullOrArray(o.volumes_from)},
      {"ConsoleSize", {0, 0}},
      {"CapAdd", NullOrArray(cap_add)},
      {"CapDrop", NullOrArray(cap_drop)},
      {"CgroupnsMode", o.cgroupns},
      {"Dns", json(o.dns)},
      {"DnsOptions", json(o.dns_options)},
      {"DnsSearch", json(o.dns_search)},
      {"ExtraHosts", NullOrArray(o.add_hosts)},
      {"GroupAdd", NullOrArray(o.group_add)},
      {"IpcMode", o.ipc},
      {"Cgroup", ""},
      {"Links", NullOrArray(o.links)},
      {"OomScoreAdj", o.oom_score_adj},
      {"PidMode", o.pid},
      {"Privileged", o.privileged},
      {"PublishAllPorts", o.publish_all},
      {"ReadonlyRootfs", o.read_only},
      {"SecurityOpt", security.security_opt},
      {"UTSMode", o.uts},
      {"UsernsMode", o.userns},
      {"ShmSize", shm},
      {"Isolation", o.isolation},
      {"CpuShares", o.cpu_shares},
      {"Memory", memory},
      {"NanoCpus", nano_cpus},
      {"CgroupParent", o.cgroup_parent},
      {"BlkioWeight", block_io.weight},
      {"BlkioWeightDevice", block_io.weight_device},
      {"BlkioDeviceReadBps", block_io.read_bps},
      {"BlkioDeviceWriteBps", block_io.write_bps},
      {"BlkioDeviceReadIOps", block_io.read_iops},
      {"BlkioDeviceWriteIOps", block_io.write_iops},
      {"CpuPeriod", o.cpu_period},
      {"CpuQuota", o.cpu_quota},
      {"CpuRealtimePeriod", o.cpu_rt_period},
      {"CpuRealtimeRuntime", o.cpu_rt_runtime},
      {"CpusetCpus", o.cpuset_cpus},
      {"CpusetMems", o.cpuset_mems},
      {"Devices", devices},
      {"DeviceCgroupRules", NullOrArray(o.device_cgroup_rules)},
      {"DeviceRequests", device_requests},
      {"MemoryReservation", memory_reservation},
      {"MemorySwap", memory_swap},
      {"MemorySwappiness", o.memory_swappiness},
      {"OomKillDisable", o.oom_kill_disable},
      {"PidsLimit", o.pids_limit},
      {"Ulimits", ulimits},
      {"CpuCount", 0},
      {"CpuPercent", 0},
      {"IOMaximumIOps", 0},
      {"IOMaximumBandwidth", 0},
      {"MaskedPaths", security.unconfined_paths ? json::array() : json(nullptr)},
      {"ReadonlyPaths", security.unconfined_paths ? json::array() : json(nullptr)},
  };
  if (!storage_opts.empty()) host_config["StorageOpt"] = storage_opts;
  if (!tmpfs.empty()) host_config["Tmpfs"] = tmpfs;
  if (!o.mounts.empty()) {
    json mounts = json::array();
    for (const std::string& m : o.mounts) {
      ASSIGN_OR_RETURN(json one, ParseMountFlag(m));
      mounts.push_back(std::move(one));
    }
    host_config["Mounts"] = mounts;
  }
  if (!o.runtime.empty()) host_config["Runtime"] = o.runtime;
  if (flags.Changed("init")) host_config["Init"] = o.init;
  if (!o.sysctls.empty()) host_config["Sysctls"] = KeyValueMap(o.sysctls);

  // The first network gets --ip/--ip6/--link-local-ip/--alias/--mac-address, as docker does.
  json endpoints = json::object();
  std::vector<std::string> nets = o.networks;
  if (nets.empty()) nets.push_back("default");
  for (size_t i = 0; i < nets.size(); ++i) {
    json ep = EndpointSettings();
    if (i == 0) {
      if (!o.ip.empty() || !o.ip6.empty() || !o.link_local_ips.empty()) {
        json ipam = json::object();
        if (!o.ip.empty()) ipam["IPv4Address"] = o.ip;
        if (!o.ip6.empty()) ipam["IPv6Address"] = o.ip6;
        if (!o.link_local_ips.empty()) ipam["LinkLocalIPs"] = o.link_local_ips;
        ep["IPAMConfig"] = ipam;
      }
      if (!o.network_aliases.empty()) {
        if (!IsUserDefinedNetwork(nets[0])) {
          return absl::InvalidArgumentError(
              "network-scoped aliases are only supported for user-defined networks");
        }
        ep["Aliases"] = o.network_aliases;
      }
    }
    if (endpoints.contains(nets[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("network \"", nets[i], "\" is specified multiple times"));
    }
    // docker leaves out the endpoint of a single --network given without options (the daemon
    // creates it anyway); the implicit "default" one is always sent.
    if (!o.networks.empty() && nets.size() == 1 && ep == EndpointSettings()) continue;
    endpoints[nets[i]] = ep;
  }
  if (nets.size() > 1) {
    for (const auto& n : nets) {
      if (!IsUserDefinedNetwork(n)) {
        return absl::InvalidArgumentError(
            "conflicting options: cannot attach both user-defined and non-user-defined "
            "network-modes");
      }
    }
  }

  req.body = config;
  req.body["HostConfig"] = host_config;
  req.body["NetworkingConfig"] = {{"EndpointsConfig", endpoints}};
  return req;
}

}  // namespace berth::cli
