#include "cli/container_opts.h"
#include "cli/mount_opts.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <set>

#include "absl/strings/str_split.h"
#include "cli/host_opts.h"
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
  f.String("cpus", 0, &o->cpus);
  f.Int("cpu-shares", 'c', &o->cpu_shares);
  f.String("cpuset-cpus", 0, &o->cpuset_cpus);
  f.String("cpuset-mems", 0, &o->cpuset_mems);
  f.StringList("device", 0, &o->devices);
  f.Int("pids-limit", 0, &o->pids_limit);
  f.String("shm-size", 0, &o->shm_size);
  f.StringList("label", 'l', &o->labels);
  f.StringList("network", 0, &o->networks);
  f.StringList("net", 0, &o->networks);
  f.String("ip", 0, &o->ip);
  f.String("ip6", 0, &o->ip6);
  f.String("mac-address", 0, &o->mac_address);
  f.StringList("network-alias", 0, &o->network_aliases);
  f.StringList("net-alias", 0, &o->network_aliases);
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
  f.StringList("sysctl", 0, &o->sysctls);
  f.StringList("ulimit", 0, &o->ulimits);
  f.String("stop-signal", 0, &o->stop_signal);
  f.Int("stop-timeout", 0, &o->stop_timeout);
  f.Bool("init", 0, &o->init);
  f.String("pid", 0, &o->pid);
  f.String("ipc", 0, &o->ipc);
  f.String("uts", 0, &o->uts);
  f.String("log-driver", 0, &o->log_driver);
  f.StringList("log-opt", 0, &o->log_opts);
  f.String("health-cmd", 0, &o->health_cmd);
  f.Duration("health-interval", 0, &o->health_interval);
  f.Duration("health-timeout", 0, &o->health_timeout);
  f.Duration("health-start-period", 0, &o->health_start_period);
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
  CreateRequest req;
  req.name = o.name;
  const std::string& image = positionals[0];
  std::vector<std::string> cmd(positionals.begin() + 1, positionals.end());

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

  std::vector<std::string> env;
  for (const auto& file : o.env_files) {
    auto lines = ParseEnvFile(file);
    if (!lines.ok()) {
      return Status(lines.status().code(), absl::StrCat("--env-file: ", lines.status().message()));
    }
    env.insert(env.end(), lines->begin(), lines->end());
  }
  for (const auto& e : o.env) env.push_back(ExpandEnv(e));

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
      {"Labels", KeyValueMap(o.labels)},
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
      {"VolumeDriver", ""},
      {"VolumesFrom", nullptr},
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
      {"OomScoreAdj", 0},
      {"PidMode", o.pid},
      {"Privileged", o.privileged},
      {"PublishAllPorts", o.publish_all},
      {"ReadonlyRootfs", o.read_only},
      {"SecurityOpt", security.security_opt},
      {"UTSMode", o.uts},
      {"UsernsMode", ""},
      {"ShmSize", shm},
      {"Isolation", ""},
      {"CpuShares", o.cpu_shares},
      {"Memory", memory},
      {"NanoCpus", nano_cpus},
      {"CgroupParent", ""},
      {"BlkioWeight", 0},
      {"BlkioWeightDevice", json::array()},
      {"BlkioDeviceReadBps", json::array()},
      {"BlkioDeviceWriteBps", json::array()},
      {"BlkioDeviceReadIOps", json::array()},
      {"BlkioDeviceWriteIOps", json::array()},
      {"CpuPeriod", 0},
      {"CpuQuota", 0},
      {"CpuRealtimePeriod", 0},
      {"CpuRealtimeRuntime", 0},
      {"CpusetCpus", o.cpuset_cpus},
      {"CpusetMems", o.cpuset_mems},
      {"Devices", devices},
      {"DeviceCgroupRules", nullptr},
      {"DeviceRequests", nullptr},
      {"MemoryReservation", memory_reservation},
      {"MemorySwap", memory_swap},
      {"MemorySwappiness", -1},
      {"OomKillDisable", false},
      {"PidsLimit", o.pids_limit},
      {"Ulimits", ulimits},
      {"CpuCount", 0},
      {"CpuPercent", 0},
      {"IOMaximumIOps", 0},
      {"IOMaximumBandwidth", 0},
      {"MaskedPaths", security.unconfined_paths ? json::array() : json(nullptr)},
      {"ReadonlyPaths", security.unconfined_paths ? json::array() : json(nullptr)},
  };
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

  // The first network gets --ip/--alias/--mac-address, as docker does.
  json endpoints = json::object();
  std::vector<std::string> nets = o.networks;
  if (nets.empty()) nets.push_back("default");
  for (size_t i = 0; i < nets.size(); ++i) {
    json ep = EndpointSettings();
    if (i == 0) {
      if (!o.ip.empty() || !o.ip6.empty()) {
        json ipam = json::object();
        if (!o.ip.empty()) ipam["IPv4Address"] = o.ip;
        if (!o.ip6.empty()) ipam["IPv6Address"] = o.ip6;
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
