// Swarm commands: swarm init, join, join-token, leave, update, inspect, as docker CLI 28 has
// them (cli/command/swarm); unlock, unlock-key and ca are refused (Berth has no autolock and no
// CA rotation).

#include <arpa/inet.h>

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/cli.h"
#include "cli/swarm_client.h"
#include "cli/swarm_format.h"
#include "spec/json/go_codec.h"
#include "spec/json/swarm_json.h"

namespace berth::cli {
namespace {

constexpr std::string_view kDefaultListenAddr = "0.0.0.0:2377";

// A flag value docker's pflag.Value refuses: its message, the usage, exit 125 (as ParseFlags).
int FlagValueError(Cli& cli, const Invocation& inv, std::string_view flag, std::string_view value,
                   absl::string_view why) {
  cli.err() << "invalid argument \"" << value << "\" for \"" << flag << "\" flag: " << why
            << "\n\nUsage:  " << inv.path << " " << inv.spec->usage << "\n\nRun '" << inv.path
            << " --help' for more information\n";
  return 125;
}

// docker's opts.ParseTCPAddr(value, "0.0.0.0:2377") without its "tcp://": "IP", "IP:PORT",
// ":PORT", "[v6]:PORT", "eth0" (an interface name stays a host name).
StatusOr<std::string> ParseNodeAddr(std::string_view value, std::string_view def) {
  std::string addr(value);
  if (absl::StrContains(addr, "://")) {
    if (!absl::StartsWith(addr, "tcp://")) {
      return absl::InvalidArgumentError("invalid protocol, expected tcp: " + addr);
    }
    addr = addr.substr(6);
  }
  if (addr.find('/') != std::string::npos) {
    return absl::InvalidArgumentError("should not contain a path element");
  }
  std::string host = addr, port;
  if (absl::StartsWith(addr, "[")) {
    size_t close = addr.find(']');
    if (close == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("parse \"tcp://", addr, "\": missing ']' in host"));
    }
    host = addr.substr(1, close - 1);
    std::string rest = addr.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') {
        return absl::InvalidArgumentError(
            absl::StrCat("parse \"tcp://", addr, "\": invalid port \"", rest, "\" after host"));
      }
      port = rest.substr(1);
    }
  } else if (size_t colon = addr.rfind(':'); colon != std::string::npos) {
    host = addr.substr(0, colon);
    port = addr.substr(colon + 1);
  }
  for (char c : port) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("parse \"tcp://", addr, "\": invalid port \":", port, "\" after host"));
    }
  }
  size_t def_colon = def.rfind(':');
  if (host.empty()) host = std::string(def.substr(0, def_colon));
  if (port.empty()) port = std::string(def.substr(def_colon + 1));
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + port;
}

// net.ParseCIDR, then IPNet.String(): the network address and the prefix length.
std::optional<std::string> CanonicalCidr(std::string_view cidr) {
  size_t slash = cidr.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string ip(cidr.substr(0, slash));
  int bits = 0;
  if (!absl::SimpleAtoi(Av(cidr.substr(slash + 1)), &bits)) return std::nullopt;
  unsigned char buf[16];
  int family = ip.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  int max = family == AF_INET ? 32 : 128;
  if (bits < 0 || bits > max || inet_pton(family, ip.c_str(), buf) != 1) return std::nullopt;
  for (int i = 0; i < max / 8; ++i) {
    int keep = std::min(8, std::max(0, bits - i * 8));
    buf[i] &= static_cast<unsigned char>(keep == 0 ? 0 : (0xff << (8 - keep)) & 0xff);
  }
  char out[INET6_ADDRSTRLEN];
  inet_ntop(family, buf, out, sizeof out);
  return absl::StrCat(out, "/", bits);
}

// The swarm spec flags of init and update (swarm/opts.go addSwarmFlags, addSwarmCAFlags).
struct SwarmSpecFlags {
  int64_t task_history_limit = 5;
  int64_t dispatcher_heartbeat = 5'000'000'000;
  int64_t max_snapshots = 0;
  int64_t snapshot_interval = 10000;
  bool autolock = false;
  int64_t cert_expiry = 90LL * 24 * 3600 * 1'000'000'000;
  std::vector<std::string> external_cas;

  void Add(FlagSet& f) {
    f.Int("task-history-limit", 0, &task_history_limit);
    f.Duration("dispatcher-heartbeat", 0, &dispatcher_heartbeat);
    f.Int("max-snapshots", 0, &max_snapshots);
    f.Int("snapshot-interval", 0, &snapshot_interval);
    f.Duration("cert-expiry", 0, &cert_expiry);
    f.StringList("external-ca", 0, &external_cas);
  }

  // mergeSwarmSpec: only what was given on the command line changes.
  Status Merge(const FlagSet& f, spec::SwarmSpec& s, const std::string* ca_cert) const {
    if (f.Changed("task-history-limit"))
      s.orchestration.task_history_retention_limit = task_history_limit;
    if (f.Changed("dispatcher-heartbeat")) s.dispatcher.heartbeat_period = dispatcher_heartbeat;
    if (f.Changed("max-snapshots"))
      s.raft.keep_old_snapshots = static_cast<uint64_t>(max_snapshots);
    if (f.Changed("snapshot-interval"))
      s.raft.snapshot_interval = static_cast<uint64_t>(snapshot_interval);
    if (f.Changed("autolock")) s.encryption_config.auto_lock_managers = autolock;
    if (f.Changed("cert-expiry")) s.ca_config.node_cert_expiry = cert_expiry;
    if (f.Changed("external-ca")) {
      std::vector<spec::ExternalCA> cas;
      for (const auto& v : external_cas) {
        ASSIGN_OR_RETURN(spec::ExternalCA ca, ParseExternalCa(v));
        if (ca_cert != nullptr && ca.ca_cert.empty()) ca.ca_cert = *ca_cert;
        cas.push_back(std::move(ca));
      }
      s.ca_config.external_cas = std::move(cas);
    }
    return absl::OkStatus();
  }

  // "protocol=cfssl,url=https://..." (parseExternalCA; cacert= files are not read: Berth signs
  // with its own CA only, and the daemon refuses external CAs).
  static StatusOr<spec::ExternalCA> ParseExternalCa(std::string_view value) {
    spec::ExternalCA ca;
    ca.options.emplace();
    bool has_protocol = false, has_url = false;
    for (absl::string_view field : absl::StrSplit(Av(value), ',')) {
      size_t eq = field.find('=');
      if (eq == std::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid field '", field, "' must be a key=value pair"));
      }
      std::string key = absl::AsciiStrToLower(field.substr(0, eq));
      std::string val(field.substr(eq + 1));
      if (key == "protocol") {
        has_protocol = true;
        if (absl::AsciiStrToLower(val) != "cfssl") {
          return absl::InvalidArgumentError("unrecognized external CA protocol " + val);
        }
        ca.protocol = "cfssl";
      } else if (key == "url") {
        has_url = true;
        ca.url = val;
      } else if (key == "cacert") {
        return absl::InvalidArgumentError(
            "unable to read CA cert for external CA: berth does "
            "not support external CAs");
      } else {
        (*ca.options)[std::string(field.substr(0, eq))] = val;
      }
    }
    if (!has_protocol) {
      return absl::InvalidArgumentError("the external-ca option needs a protocol= parameter");
    }
    if (!has_url)
      return absl::InvalidArgumentError("the external-ca option needs a url= parameter");
    return ca;
  }
};

// A uint flag given through FlagSet::Int: pflag's ParseUint refuses a sign.
bool CheckUint(Cli& cli, const Invocation& inv, const FlagSet& f, std::string_view name, int64_t v,
               uint64_t max, int* rc) {
  if (!f.Changed(name) || (v >= 0 && static_cast<uint64_t>(v) <= max)) return true;
  std::string s = std::to_string(v);
  *rc = FlagValueError(cli, inv, absl::StrCat("--", Av(name)), s,
                       absl::StrCat("strconv.ParseUint: parsing \"", s,
                                    "\": ", v < 0 ? "invalid syntax" : "value out of range"));
  return false;
}

// --availability, as init and join check it.
StatusOr<std::string> Availability(const FlagSet& f, const std::string& value) {
  if (!f.Changed("availability")) return std::string();
  std::string a = absl::AsciiStrToLower(value);
  if (a == "active" || a == "pause" || a == "drain") return a;
  return absl::InvalidArgumentError(absl::StrCat("invalid availability \"", value,
                                                 "\", only active, pause and drain are supported"));
}

void PrintUnlockCommand(Cli& cli, const std::string& key) {
  if (key.empty()) return;
  cli.out() << "To unlock a swarm manager after it restarts, run the `docker swarm unlock`\n"
               "command and provide the following key:\n\n    "
            << key
            << "\n\nRemember to store this key in a password manager, since without it you\n"
               "will not be able to restart the manager.\n";
}

// GET /swarm/unlockkey, for a swarm that was just made to autolock.
Status PrintUnlockKey(Cli& cli, const client::Client& api) {
  auto r = api.Call("GET", "/swarm/unlockkey");
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat("could not fetch unlock key: ", r.status().message()));
  }
  ASSIGN_OR_RETURN(nlohmann::json j, r->Json());
  PrintUnlockCommand(cli, j.is_object() ? j.value("UnlockKey", "") : "");
  return absl::OkStatus();
}

// printJoinCommand: GET /nodes/{self}, GET /swarm.
Status PrintJoinCommand(Cli& cli, const client::Client& api, const std::string& node_id,
                        bool worker, bool manager) {
  ASSIGN_OR_RETURN(spec::Node node, InspectNode(api, node_id));
  ASSIGN_OR_RETURN(spec::Swarm sw, InspectSwarm(api));
  cli.out() << JoinCommandText(sw, node, worker, manager);
  return absl::OkStatus();
}

int Refuse(Cli& cli, const Invocation& inv, std::string_view why) {
  cli.err() << "Error: '" << inv.path << "' is not supported by berth: " << why << "\n";
  return 1;
}

}  // namespace

int CmdSwarmInit(Cli& cli, const Invocation& inv) {
  std::string listen_addr(kDefaultListenAddr), advertise_addr, data_path_addr,
      availability = "active";
  int64_t data_path_port = 0, mask_length = 24;
  bool force_new_cluster = false;
  std::vector<std::string> pools;
  SwarmSpecFlags spec_flags;
  FlagSet f;
  f.String("listen-addr", 0, &listen_addr);
  f.String("advertise-addr", 0, &advertise_addr);
  f.String("data-path-addr", 0, &data_path_addr);
  f.Int("data-path-port", 0, &data_path_port);
  f.Bool("force-new-cluster", 0, &force_new_cluster);
  f.Bool("autolock", 0, &spec_flags.autolock);
  f.String("availability", 0, &availability);
  f.StringList("default-addr-pool", 0, &pools);
  f.Int("default-addr-pool-mask-length", 0, &mask_length);
  spec_flags.Add(f);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  constexpr uint64_t kU32 = 0xffffffffu;
  if (!CheckUint(cli, inv, f, "data-path-port", data_path_port, kU32, &rc) ||
      !CheckUint(cli, inv, f, "default-addr-pool-mask-length", mask_length, kU32, &rc) ||
      !CheckUint(cli, inv, f, "max-snapshots", spec_flags.max_snapshots, UINT64_MAX, &rc) ||
      !CheckUint(cli, inv, f, "snapshot-interval", spec_flags.snapshot_interval, UINT64_MAX, &rc)) {
    return rc;
  }
  spec::SwarmInitRequest req;
  if (f.Changed("listen-addr")) {
    auto a = ParseNodeAddr(listen_addr, kDefaultListenAddr);
    if (!a.ok())
      return FlagValueError(cli, inv, "--listen-addr", listen_addr, a.status().message());
    req.listen_addr = *a;
  } else {
    req.listen_addr = std::string(kDefaultListenAddr);
  }
  req.default_addr_pool.emplace();
  for (const auto& value : pools) {
    // pflag's IPNetSlice: comma-separated CIDRs.
    for (absl::string_view one : absl::StrSplit(value, ',')) {
      std::string trimmed(absl::StripAsciiWhitespace(one));
      auto c = CanonicalCidr(trimmed);
      if (!c) {
        return FlagValueError(cli, inv, "--default-addr-pool", value,
                              "invalid CIDR address: " + trimmed);
      }
      req.default_addr_pool->push_back(*c);
    }
  }
  req.advertise_addr = advertise_addr;
  req.data_path_addr = data_path_addr;
  req.data_path_port = static_cast<uint32_t>(data_path_port);
  req.force_new_cluster = force_new_cluster;
  if (Status s = spec_flags.Merge(f, req.spec, nullptr); !s.ok()) return PrintError(cli, s);
  req.auto_lock_managers = spec_flags.autolock;
  req.subnet_size = static_cast<uint32_t>(mask_length);
  auto avail = Availability(f, availability);
  if (!avail.ok()) return PrintError(cli, avail.status());
  req.availability = *avail;

  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto r = (*api)->Call("POST", "/swarm/init", spec::json::Dump(spec::RenderSwarmInitRequest(req)));
  if (!r.ok()) {
    std::string msg(r.status().message());
    if (absl::StrContains(msg, "could not choose an IP address to advertise") ||
        absl::StrContains(msg, "could not find the system's IP address")) {
      msg += " - specify one with --advertise-addr";
    }
    return PrintError(cli, absl::Status(r.status().code(), msg));
  }
  auto id = r->Json();
  if (!id.ok() || !id->is_string()) {
    return PrintError(cli,
                      absl::InternalError("Error: unexpected response from daemon: " + r->body));
  }
  std::string node_id = id->get<std::string>();
  cli.out() << "Swarm initialized: current node (" << node_id << ") is now a manager.\n\n";
  if (Status s = PrintJoinCommand(cli, **api, node_id, true, false); !s.ok()) {
    return PrintError(cli, s);
  }
  cli.out() << "To add a manager to this swarm, run 'docker swarm join-token manager' and follow "
               "the instructions.\n";
  if (req.auto_lock_managers) {
    if (Status s = PrintUnlockKey(cli, **api); !s.ok()) return PrintError(cli, s);
  }
  return 0;
}

int CmdSwarmJoin(Cli& cli, const Invocation& inv) {
  std::string listen_addr(kDefaultListenAddr), advertise_addr, data_path_addr, token,
      availability = "active";
  FlagSet f;
  f.String("listen-addr", 0, &listen_addr);
  f.String("advertise-addr", 0, &advertise_addr);
  f.String("data-path-addr", 0, &data_path_addr);
  f.String("token", 0, &token);
  f.String("availability", 0, &availability);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 1, &rc)) return rc;
  spec::SwarmJoinRequest req;
  req.listen_addr = std::string(kDefaultListenAddr);
  if (f.Changed("listen-addr")) {
    auto a = ParseNodeAddr(listen_addr, kDefaultListenAddr);
    if (!a.ok())
      return FlagValueError(cli, inv, "--listen-addr", listen_addr, a.status().message());
    req.listen_addr = *a;
  }
  req.advertise_addr = advertise_addr;
  req.data_path_addr = data_path_addr;
  req.remote_addrs = std::vector<std::string>{pos[0]};
  req.join_token = token;
  auto avail = Availability(f, availability);
  if (!avail.ok()) return PrintError(cli, avail.status());
  req.availability = *avail;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto r = (*api)->Call("POST", "/swarm/join", spec::json::Dump(spec::RenderSwarmJoinRequest(req)));
  if (!r.ok()) return PrintError(cli, r.status());
  auto info = InspectSwarmInfo(**api);
  if (!info.ok()) return PrintError(cli, info.status());
  cli.out() << (info->control_available ? "This node joined a swarm as a manager.\n"
                                        : "This node joined a swarm as a worker.\n");
  return 0;
}

int CmdSwarmJoinToken(Cli& cli, const Invocation& inv) {
  bool rotate = false, quiet = false;
  FlagSet f;
  f.Bool("rotate", 0, &rotate);
  f.Bool("quiet", 'q', &quiet);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 1, &rc)) return rc;
  const std::string& role = pos[0];
  bool worker = role == "worker", manager = role == "manager";
  if (!worker && !manager)
    return PrintError(cli, absl::InvalidArgumentError("unknown role " + role));
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  if (rotate) {
    auto sw = InspectSwarm(**api);
    if (!sw.ok()) return PrintError(cli, sw.status());
    Status s =
        UpdateSwarm(**api, sw->cluster.meta.version.index, sw->cluster.spec, worker, manager);
    if (!s.ok()) return PrintError(cli, s);
    if (!quiet) cli.out() << "Successfully rotated " << role << " join token.\n\n";
  }
  // Again: the update above changed the tokens.
  auto sw = InspectSwarm(**api);
  if (!sw.ok()) return PrintError(cli, sw.status());
  if (quiet) {
    cli.out() << (worker ? sw->join_tokens.worker : sw->join_tokens.manager) << "\n";
    return 0;
  }
  auto info = InspectSwarmInfo(**api);
  if (!info.ok()) return PrintError(cli, info.status());
  if (Status s = PrintJoinCommand(cli, **api, info->node_id, worker, manager); !s.ok()) {
    return PrintError(cli, s);
  }
  return 0;
}

int CmdSwarmLeave(Cli& cli, const Invocation& inv) {
  bool force = false;
  FlagSet f;
  f.Bool("force", 'f', &force);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto r = (*api)->Call("POST", force ? "/swarm/leave?force=1" : "/swarm/leave");
  if (!r.ok()) return PrintError(cli, r.status());
  cli.out() << "Node left the swarm.\n";
  return 0;
}

int CmdSwarmUpdate(Cli& cli, const Invocation& inv) {
  SwarmSpecFlags spec_flags;
  FlagSet f;
  f.Bool("autolock", 0, &spec_flags.autolock);
  spec_flags.Add(f);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  bool any = false;
  for (std::string_view name :
       {"autolock", "task-history-limit", "dispatcher-heartbeat", "max-snapshots",
        "snapshot-interval", "cert-expiry", "external-ca"}) {
    any = any || f.Changed(name);
  }
  if (!any) {
    // docker: no flag at all shows the help (pflag.ErrHelp), exit 0.
    cli.out() << "\nUsage:  " << inv.path << " " << inv.spec->usage << "\n\n"
              << inv.spec->help << "\n";
    return 0;
  }
  if (!CheckUint(cli, inv, f, "max-snapshots", spec_flags.max_snapshots, UINT64_MAX, &rc) ||
      !CheckUint(cli, inv, f, "snapshot-interval", spec_flags.snapshot_interval, UINT64_MAX, &rc)) {
    return rc;
  }
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto sw = InspectSwarm(**api);
  if (!sw.ok()) return PrintError(cli, sw.status());
  bool was_locked = sw->cluster.spec.encryption_config.auto_lock_managers;
  if (Status s = spec_flags.Merge(f, sw->cluster.spec, &sw->cluster.tls_info.trust_root); !s.ok()) {
    return PrintError(cli, s);
  }
  Status s = UpdateSwarm(**api, sw->cluster.meta.version.index, sw->cluster.spec, false, false);
  if (!s.ok()) return PrintError(cli, s);
  cli.out() << "Swarm updated.\n";
  if (sw->cluster.spec.encryption_config.auto_lock_managers && !was_locked) {
    if (Status u = PrintUnlockKey(cli, **api); !u.ok()) return PrintError(cli, u);
  }
  return 0;
}

// Not a docker 28 command (docker 1.12 had it): the swarm as `docker inspect` prints objects,
// from GET /swarm, re-rendered in Docker's key order.
int CmdSwarmInspect(Cli& cli, const Invocation& inv) {
  std::string format;
  FlagSet f;
  f.String("format", 'f', &format);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  return InspectObjects(cli, {"swarm"}, format, [&](const std::string&) -> StatusOr<std::string> {
    ASSIGN_OR_RETURN(spec::Swarm sw, InspectSwarm(**api));
    return spec::json::Dump(spec::RenderSwarm(sw));
  });
}

int CmdSwarmUnsupported(Cli& cli, const Invocation& inv) {
  if (absl::EndsWith(inv.path, " ca")) {
    return Refuse(cli, inv, "the swarm's root CA can be neither shown nor rotated");
  }
  return Refuse(cli, inv, "swarm autolock (encrypted manager state) is not implemented");
}

}  // namespace berth::cli
