#include "cli/cli.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>

#include "cli/format/template.h"
#include "cli/opts.h"
#include "common/clock.h"

namespace berth::cli {
namespace {

// Management commands and their top-level aliases, as docker has them.
const CommandSpec kCommands[] = {
    {"run", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image",
     CmdRun},
    {"container run", "[OPTIONS] IMAGE [COMMAND] [ARG...]",
     "Create and run a new container from an image", CmdRun},
    {"create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", CmdCreate},
    {"container create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", CmdCreate},
    {"start", "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers",
     CmdStart},
    {"container start", "[OPTIONS] CONTAINER [CONTAINER...]",
     "Start one or more stopped containers", CmdStart},
    {"stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", CmdStop},
    {"container stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers",
     CmdStop},
    {"restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", CmdRestart},
    {"container restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers",
     CmdRestart},
    {"kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", CmdKill},
    {"container kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers",
     CmdKill},
    {"wait", "CONTAINER [CONTAINER...]",
     "Block until one or more containers stop, then print their exit codes", CmdWait},
    {"container wait", "CONTAINER [CONTAINER...]",
     "Block until one or more containers stop, then print their exit codes", CmdWait},
    {"rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", CmdRm},
    {"container rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", CmdRm},
    {"container remove", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers",
     CmdRm},
    {"ps", "[OPTIONS]", "List containers", CmdPs},
    {"container ls", "[OPTIONS]", "List containers", CmdPs},
    {"container list", "[OPTIONS]", "List containers", CmdPs},
    {"container ps", "[OPTIONS]", "List containers", CmdPs},
    {"inspect", "[OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on Docker objects",
     CmdInspect},
    {"container inspect", "[OPTIONS] CONTAINER [CONTAINER...]",
     "Display detailed information on one or more containers", CmdContainerInspect},
    {"logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container", CmdLogs},
    {"container logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container", CmdLogs},
    {"exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container",
     CmdExec},
    {"container exec", "[OPTIONS] CONTAINER COMMAND [ARG...]",
     "Execute a command in a running container", CmdExec},
    {"attach", "[OPTIONS] CONTAINER",
     "Attach local standard input, output, and error streams to a running container", CmdAttach},
    {"container attach", "[OPTIONS] CONTAINER",
     "Attach local standard input, output, and error streams to a running container", CmdAttach},
    {"diff", "CONTAINER", "Inspect changes to files or directories on a container's filesystem",
     CmdDiff},
    {"container diff", "CONTAINER",
     "Inspect changes to files or directories on a container's filesystem", CmdDiff},
    {"cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|- | SRC_PATH|- CONTAINER:DEST_PATH",
     "Copy files/folders between a container and the local filesystem", CmdCp},
    {"container cp",
     "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|- | SRC_PATH|- CONTAINER:DEST_PATH",
     "Copy files/folders between a container and the local filesystem", CmdCp},
    {"commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
     "Create a new image from a container's changes", CmdCommit},
    {"container commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
     "Create a new image from a container's changes", CmdCommit},
    {"pause", "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers",
     CmdPause},
    {"container pause", "CONTAINER [CONTAINER...]",
     "Pause all processes within one or more containers", CmdPause},
    {"unpause", "CONTAINER [CONTAINER...]",
     "Unpause all processes within one or more containers", CmdUnpause},
    {"container unpause", "CONTAINER [CONTAINER...]",
     "Unpause all processes within one or more containers", CmdUnpause},
    {"update", "[OPTIONS] CONTAINER [CONTAINER...]",
     "Update configuration of one or more containers", CmdUpdate},
    {"container update", "[OPTIONS] CONTAINER [CONTAINER...]",
     "Update configuration of one or more containers", CmdUpdate},
    {"rename", "CONTAINER NEW_NAME", "Rename a container", CmdRename},
    {"container rename", "CONTAINER NEW_NAME", "Rename a container", CmdRename},
    {"top", "CONTAINER [ps OPTIONS]", "Display the running processes of a container", CmdTop},
    {"container top", "CONTAINER [ps OPTIONS]", "Display the running processes of a container",
     CmdTop},
    {"stats", "[OPTIONS] [CONTAINER...]",
     "Display a live stream of container(s) resource usage statistics", CmdStats},
    {"container stats", "[OPTIONS] [CONTAINER...]",
     "Display a live stream of container(s) resource usage statistics", CmdStats},
    {"container prune", "[OPTIONS]", "Remove all stopped containers", CmdContainerPrune},
    {"port", "CONTAINER [PRIVATE_PORT[/PROTO]]",
     "List port mappings or a specific mapping for the container", CmdPort},
    {"container port", "CONTAINER [PRIVATE_PORT[/PROTO]]",
     "List port mappings or a specific mapping for the container", CmdPort},

    {"images", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", CmdImages},
    {"image ls", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", CmdImages},
    {"image list", "[OPTIONS] [REPOSITORY[:TAG]]", "List images", CmdImages},
    {"image inspect", "[OPTIONS] IMAGE [IMAGE...]",
     "Display detailed information on one or more images", CmdImageInspect},
    {"load", "[OPTIONS]", "Load an image from a tar archive or STDIN", CmdLoad},
    {"image load", "[OPTIONS]", "Load an image from a tar archive or STDIN", CmdLoad},
    {"import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
     "Import the contents from a tarball to create a filesystem image", CmdImport},
    {"image import", "[OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
     "Import the contents from a tarball to create a filesystem image", CmdImport},
    {"tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
     "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", CmdTag},
    {"image tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
     "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", CmdTag},
    {"rmi", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", CmdRmi},
    {"image rm", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", CmdRmi},
    {"image remove", "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", CmdRmi},
    {"save", "[OPTIONS] IMAGE [IMAGE...]",
     "Save one or more images to a tar archive (streamed to STDOUT by default)", CmdSave},
    {"image save", "[OPTIONS] IMAGE [IMAGE...]",
     "Save one or more images to a tar archive (streamed to STDOUT by default)", CmdSave},
    {"image prune", "[OPTIONS]", "Remove unused images", CmdImagePrune},
    {"pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", CmdPull},
    {"image pull", "[OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", CmdPull},
    {"push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry", CmdPush},
    {"image push", "[OPTIONS] NAME[:TAG]", "Upload an image to a registry", CmdPush},
    {"login", "[OPTIONS] [SERVER]", "Log in to a registry", CmdLogin},
    {"logout", "[SERVER]", "Log out from a registry", CmdLogout},

    {"network create", "[OPTIONS] NETWORK", "Create a network", CmdNetworkCreate},
    {"network ls", "[OPTIONS]", "List networks", CmdNetworkLs},
    {"network list", "[OPTIONS]", "List networks", CmdNetworkLs},
    {"network inspect", "[OPTIONS] NETWORK [NETWORK...]",
     "Display detailed information on one or more networks", CmdNetworkInspect},
    {"network rm", "NETWORK [NETWORK...]", "Remove one or more networks", CmdNetworkRm},
    {"network remove", "NETWORK [NETWORK...]", "Remove one or more networks", CmdNetworkRm},
    {"network connect", "[OPTIONS] NETWORK CONTAINER", "Connect a container to a network",
     CmdNetworkConnect},
    {"network disconnect", "[OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network",
     CmdNetworkDisconnect},
    {"network prune", "[OPTIONS]", "Remove all unused networks", CmdNetworkPrune},

    {"volume create", "[OPTIONS] [VOLUME]", "Create a volume", CmdVolumeCreate},
    {"volume ls", "[OPTIONS]", "List volumes", CmdVolumeLs},
    {"volume list", "[OPTIONS]", "List volumes", CmdVolumeLs},
    {"volume inspect", "[OPTIONS] VOLUME [VOLUME...]",
     "Display detailed information on one or more volumes", CmdVolumeInspect},
    {"volume rm", "[OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes", CmdVolumeRm},
    {"volume remove", "[OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes", CmdVolumeRm},
    {"volume prune", "[OPTIONS]", "Remove all unused local volumes", CmdVolumePrune},

    {"swarm init", "[OPTIONS]", "Initialize a swarm", CmdSwarmInit},
    {"swarm join", "[OPTIONS] HOST:PORT", "Join a swarm as a node and/or manager", CmdSwarmJoin},
    {"swarm join-token", "[OPTIONS] (worker|manager)", "Manage join tokens", CmdSwarmJoinToken},
    {"swarm leave", "[OPTIONS]", "Leave the swarm", CmdSwarmLeave},
    {"swarm update", "[OPTIONS]", "Update the swarm", CmdSwarmUpdate},
    {"swarm inspect", "[OPTIONS]", "Display detailed information on the swarm", CmdSwarmInspect},
    {"swarm unlock", "", "Unlock swarm", CmdSwarmUnsupported},
    {"swarm unlock-key", "[OPTIONS]", "Manage the unlock key", CmdSwarmUnsupported},
    {"swarm ca", "[OPTIONS]", "Display and rotate the root CA", CmdSwarmUnsupported},
    {"node demote", "NODE [NODE...]", "Demote one or more nodes from manager in the swarm",
     CmdNodeDemote},
    {"node inspect", "[OPTIONS] self|NODE [NODE...]",
     "Display detailed information on one or more nodes", CmdNodeInspect},
    {"node ls", "[OPTIONS]", "List nodes in the swarm", CmdNodeLs},
    {"node list", "[OPTIONS]", "List nodes in the swarm", CmdNodeLs},
    {"node promote", "NODE [NODE...]", "Promote one or more nodes to manager in the swarm",
     CmdNodePromote},
    {"node ps", "[OPTIONS] [NODE...]",
     "List tasks running on one or more nodes, defaults to current node", CmdNodePs},
    {"node rm", "[OPTIONS] NODE [NODE...]", "Remove one or more nodes from the swarm", CmdNodeRm},
    {"node remove", "[OPTIONS] NODE [NODE...]", "Remove one or more nodes from the swarm",
     CmdNodeRm},
    {"node update", "[OPTIONS] NODE", "Update a node", CmdNodeUpdate},

    {"service create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new service", CmdServiceCreate},
    {"service inspect", "[OPTIONS] SERVICE [SERVICE...]", "Display detailed information on one or more services", CmdServiceInspect},
    {"service logs", "[OPTIONS] SERVICE|TASK", "Fetch the logs of a service or task", CmdServiceLogs},
    {"service ls", "[OPTIONS]", "List services", CmdServiceLs},
    {"service list", "[OPTIONS]", "List services", CmdServiceLs},
    {"service ps", "[OPTIONS] SERVICE [SERVICE...]", "List the tasks of one or more services", CmdServicePs},
    {"service rm", "SERVICE [SERVICE...]", "Remove one or more services", CmdServiceRm},
    {"service remove", "SERVICE [SERVICE...]", "Remove one or more services", CmdServiceRm},
    {"service rollback", "[OPTIONS] SERVICE", "Revert changes to a service's configuration", CmdServiceRollback},
    {"service scale", "SERVICE=REPLICAS [SERVICE=REPLICAS...]", "Scale one or multiple replicated services", CmdServiceScale},
    {"service update", "[OPTIONS] SERVICE", "Update a service", CmdServiceUpdate},
    {"secret create", "[OPTIONS] SECRET [file|-]", "Create a secret from a file or STDIN as content", CmdSecretCreate},
    {"secret inspect", "[OPTIONS] SECRET [SECRET...]", "Display detailed information on one or more secrets", CmdSecretInspect},
    {"secret ls", "[OPTIONS]", "List secrets", CmdSecretLs},
    {"secret list", "[OPTIONS]", "List secrets", CmdSecretLs},
    {"secret rm", "SECRET [SECRET...]", "Remove one or more secrets", CmdSecretRm},
    {"secret remove", "SECRET [SECRET...]", "Remove one or more secrets", CmdSecretRm},
    {"config create", "[OPTIONS] CONFIG file|-", "Create a config from a file or STDIN", CmdConfigCreate},
    {"config inspect", "[OPTIONS] CONFIG [CONFIG...]", "Display detailed information on one or more configs", CmdConfigInspect},
    {"config ls", "[OPTIONS]", "List configs", CmdConfigLs},
    {"config list", "[OPTIONS]", "List configs", CmdConfigLs},
    {"config rm", "CONFIG [CONFIG...]", "Remove one or more configs", CmdConfigRm},
    {"config remove", "CONFIG [CONFIG...]", "Remove one or more configs", CmdConfigRm},

    {"version", "[OPTIONS]", "Show the Docker version information", CmdVersion},
    {"system version", "[OPTIONS]", "Show the Docker version information", CmdVersion},
    {"info", "[OPTIONS]", "Display system-wide information", CmdInfo},
    {"system info", "[OPTIONS]", "Display system-wide information", CmdInfo},
    {"events", "[OPTIONS]", "Get real time events from the server", CmdEvents},
    {"system events", "[OPTIONS]", "Get real time events from the server", CmdEvents},

    // Berth's own: a multi-host lab on this machine (docs/lab.md).
    {"lab up", "[OPTIONS]", "Make a lab: one network namespace and berthd per node", CmdLabUp},
    {"lab ls", "[OPTIONS]", "List the nodes of a lab", CmdLabLs},
    {"lab env", "[OPTIONS] NODE", "Print the DOCKER_HOST of a node", CmdLabEnv},
    {"lab exec", "[OPTIONS] NODE [--] COMMAND [ARG...]",
     "Run a command in a node's network namespace, DOCKER_HOST set", CmdLabExec},
    {"lab start", "[OPTIONS] NODE", "Start a node's berthd", CmdLabStart},
    {"lab stop", "[OPTIONS] NODE", "Stop a node's berthd (SIGTERM)", CmdLabStop},
    {"lab kill", "[OPTIONS] NODE", "Kill a node's berthd (SIGKILL)", CmdLabKill},
    {"lab cut", "[OPTIONS] NODE", "Take a node's underlay link down (a partition)", CmdLabCut},
    {"lab heal", "[OPTIONS] NODE", "Bring a node's underlay link up again", CmdLabCut},
    {"lab down", "[OPTIONS]", "Remove a lab and everything it made", CmdLabDown},
};

const std::string_view kManagement[] = {"container", "image",  "network", "node",   "swarm",
                                         "system",    "volume", "lab",     "service", "secret",
                                         "config"};

std::string Usage(const Invocation& inv) {
  return absl::StrCat("Usage:  ", inv.path, " ", std::string(inv.spec->usage));
}

// Go's strconv.ParseBool, which docker's flags use.
std::optional<bool> ParseGoBool(std::string_view v) {
  for (std::string_view t : {"1", "t", "T", "TRUE", "true", "True"})
    if (v == t) return true;
  for (std::string_view f : {"0", "f", "F", "FALSE", "false", "False"})
    if (v == f) return false;
  return std::nullopt;
}

void PrintTopUsage(std::ostream& os) {
  os << "\nUsage:  docker [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\n"
        "Commands:\n";
  for (const auto& c : kCommands) {
    if (std::string_view(c.name).find(' ') != std::string_view::npos) continue;
    os << "  " << c.name << std::string(c.name.size() < 10 ? 10 - c.name.size() : 1, ' ') << c.help
       << "\n";
  }
  os << "\nManagement Commands:\n  container   Manage containers\n  image       Manage images\n"
        "  config      Manage Swarm configs\n  network     Manage networks\n"
        "  node        Manage Swarm nodes\n  secret      Manage Swarm secrets\n"
        "  service     Manage Swarm services\n  swarm       Manage Swarm\n"
        "  system      Manage Docker\n";
}

}  // namespace

Cli::Cli(std::string host, std::ostream& out, std::ostream& err, int out_fd, int err_fd)
    : host_(std::move(host)), out_(out), err_(err), out_fd_(out_fd), err_fd_(err_fd) {}

StatusOr<const client::Client*> Cli::Api() {
  if (client_ == nullptr) {
    ASSIGN_OR_RETURN(auto tls, client::ClientTlsContext(tls_));
    ASSIGN_OR_RETURN(client_, client::Client::Connect(client::ResolveHost(host_), std::move(tls)));
  }
  return client_.get();
}

bool ParseFlags(Cli& cli, const Invocation& inv, FlagSet& flags, std::vector<std::string>* pos,
                int* rc) {
  Status s = flags.Parse(inv.args, pos);
  if (!s.ok()) {
    cli.err() << s.message() << "\n\n"
              << Usage(inv) << "\n\nRun '" << inv.path << " --help' for more information\n";
    *rc = 125;
    return false;
  }
  if (flags.help()) {
    cli.out() << "\n" << Usage(inv) << "\n\n" << inv.spec->help << "\n";
    *rc = 0;
    return false;
  }
  return true;
}

bool CheckArgs(Cli& cli, const Invocation& inv, const std::vector<std::string>& pos, int min,
               int max, int* rc) {
  int n = static_cast<int>(pos.size());
  if (n >= min && (max < 0 || n <= max)) return true;
  auto plural = [](int k) { return k == 1 ? "argument" : "arguments"; };
  std::string what;
  std::string tail = "See";
  if (max == 0) {
    what = "accepts no arguments";
    tail = "Run";
  } else if (min == max) {
    what = absl::StrCat("requires ", min, " ", plural(min));
    tail = "Run";
  } else if (max < 0) {
    what = absl::StrCat("requires at least ", min, " ", plural(min));
  } else if (min == 0) {
    what = absl::StrCat("requires at most ", max, " ", plural(max));
    tail = "Run";
  } else {
    what = absl::StrCat("requires at least ", min, " and at most ", max, " ", plural(max));
    tail = "Run";
  }
  cli.err() << "docker: '" << inv.path << "' " << what << "\n\n"
            << Usage(inv) << "\n\n"
            << tail << " '" << inv.path << " --help' for more information\n";
  *rc = 1;
  return false;
}

int PrintError(Cli& cli, const Status& s) {
  cli.err() << s.message() << "\n";
  return 1;
}

StatusOr<std::map<std::string, std::vector<std::string>>> ParseFilters(const std::vector<std::string>& kvs) {
  std::map<std::string, std::vector<std::string>> fm;
  for (const auto& kv : kvs) RETURN_IF_ERROR(AddFilter(kv, &fm));
  return fm;
}

std::string FiltersParam(const std::map<std::string, std::vector<std::string>>& filters) {
  return client::QueryEscape(client::DumpJson(client::FiltersJson(filters)));
}

int PrintItems(Cli& cli, std::string_view format, const nlohmann::json& header,
               const std::vector<nlohmann::json>& items) {
  auto out = RenderItems(format, header, items);
  if (!out.ok()) return PrintError(cli, out.status());
  cli.out() << *out;
  return 0;
}

StatusOr<std::string> RenderItems(std::string_view format, const nlohmann::json& header,
                                  const std::vector<nlohmann::json>& items) {
  if (format::IsTableFormat(format)) return format::RenderList(format, header, items);
  ASSIGN_OR_RETURN(format::Template t, format::Template::Parse(format));
  std::string out;
  for (const auto& item : items) {
    ASSIGN_OR_RETURN(std::string line, t.Execute(item));
    out += line;
    out += "\n";
  }
  return out;
}

std::string SortedQuery(const std::string& path_and_query) {
  size_t q = path_and_query.find('?');
  if (q == std::string::npos) return path_and_query;
  std::vector<std::string> params;
  size_t start = q + 1;
  while (start <= path_and_query.size()) {
    size_t amp = path_and_query.find('&', start);
    if (amp == std::string::npos) amp = path_and_query.size();
    if (amp > start) params.push_back(path_and_query.substr(start, amp - start));
    start = amp + 1;
  }
  std::stable_sort(params.begin(), params.end(), [](const std::string& a, const std::string& b) {
    return a.substr(0, a.find('=')) < b.substr(0, b.find('='));
  });
  std::string out = path_and_query.substr(0, q);
  for (size_t i = 0; i < params.size(); ++i) out += (i == 0 ? "?" : "&") + params[i];
  return out;
}

std::string LocalTime(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[96];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
  return buf;
}

bool Confirm(Cli& cli, std::string_view warning) {
  cli.out() << warning << "Are you sure you want to continue? [y/N] ";
  cli.out().flush();
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

std::string GoTimeOf(int64_t unix_nanos, bool utc) {
  time_t secs = static_cast<time_t>(unix_nanos / 1000000000LL);
  int64_t frac = unix_nanos % 1000000000LL;
  if (frac < 0) {
    frac += 1000000000LL;
    --secs;
  }
  std::tm tm{};
  if (utc) gmtime_r(&secs, &tm);
  else localtime_r(&secs, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = date;
  if (frac != 0) {
    char f[16];
    std::snprintf(f, sizeof f, ".%09lld", static_cast<long long>(frac));
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  // Go names UTC "UTC" where strftime says "GMT".
  if (utc) return out + " +0000 UTC";
  char zone[64];
  std::strftime(zone, sizeof zone, " %z %Z", &tm);
  return out + zone;
}

std::string GoTimeString(const std::string& rfc3339) {
  int64_t nanos = 0;
  if (rfc3339.empty() || !ParseRfc3339(rfc3339, &nanos)) return rfc3339;
  return GoTimeOf(nanos, false);
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string DetachKeysOrConfig(const std::string& flag) {
  if (!flag.empty()) return flag;
  std::string dir;
  if (const char* d = std::getenv("DOCKER_CONFIG"); d != nullptr && *d != '\0') {
    dir = d;
  } else if (const char* home = std::getenv("HOME"); home != nullptr) {
    dir = std::string(home) + "/.docker";
  } else {
    return "";
  }
  std::ifstream in(dir + "/config.json");
  if (!in) return "";
  // The docker CLI refuses to start on a config it cannot parse; a missing or odd key is unset.
  nlohmann::json config = nlohmann::json::parse(in, nullptr, false);
  if (!config.is_object() || !config.contains("detachKeys") || !config["detachKeys"].is_string())
    return "";
  return config["detachKeys"].get<std::string>();
}

int InspectObjects(Cli& cli, const std::vector<std::string>& names, const std::string& format,
                   const std::function<StatusOr<std::string>(const std::string&)>& getter) {
  std::optional<format::Template> tmpl;
  if (!format.empty()) {
    // docker's inspect -f 'json' shortcut.
    auto t = format::Template::Parse(format == "json" ? "{{json .}}" : format);
    if (!t.ok()) {
      cli.err() << "template parsing error: " << t.status().message() << "\n";
      return 64;
    }
    tmpl = std::move(*t);
  }
  std::vector<std::string> errors;
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  std::string out;
  for (const auto& name : names) {
    auto raw = getter(name);
    if (!raw.ok()) {
      errors.emplace_back(raw.status().message());
      continue;
    }
    if (tmpl) {
      nlohmann::json j = nlohmann::json::parse(*raw, nullptr, false);
      auto text = tmpl->Execute(j);
      if (!text.ok()) {
        errors.push_back(absl::StrCat("template: ", text.status().message()));
        continue;
      }
      out += *text;
      out += "\n";
    } else {
      nlohmann::ordered_json j = nlohmann::ordered_json::parse(*raw, nullptr, false);
      if (!j.is_discarded()) array.push_back(std::move(j));
    }
  }
  if (!tmpl) out = array.dump(4, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  cli.out() << out;
  cli.out().flush();
  for (const auto& e : errors) cli.err() << e << "\n";
  return errors.empty() ? 0 : 1;
}

int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, int out_fd,
        int err_fd) {
  std::string host;
  client::TlsFlags tls;
  size_t i = 0;
  // Global flags come before the command word.
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.empty() || a[0] != '-') break;
    auto value = [&](std::string_view name) -> std::optional<std::string> {
      if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=')
        return a.substr(name.size() + 1);
      if (a == name && i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    if (a == "-v" || a == "--version") {
      out << "Docker version 28.2.2, build berth-0.1.0\n";
      return 0;
    }
    if (a == "--help") {
      PrintTopUsage(out);
      return 0;
    }
    if (a == "-D" || a == "--debug") continue;
    // --tls and --tlsverify are booleans: bare or with =BOOL, never with a separate word.
    // Returns nullopt when `a` is not the flag, false when its value is not a boolean.
    auto bool_flag = [&](std::string_view name, std::optional<bool>* field) -> std::optional<bool> {
      if (a == name) {
        *field = true;
        return true;
      }
      if (a.size() <= name.size() || a.compare(0, name.size(), name) != 0 || a[name.size()] != '=')
        return std::nullopt;
      std::optional<bool> b = ParseGoBool(a.substr(name.size() + 1));
      if (b) *field = *b;
      return b.has_value();
    };
    std::optional<bool> parsed = bool_flag("--tls", &tls.tls);
    if (!parsed) parsed = bool_flag("--tlsverify", &tls.tlsverify);
    if (parsed && *parsed) continue;
    if (parsed) {
      std::string v = a.substr(a.find('=') + 1);
      err << "invalid argument \"" << v << "\" for \"" << a.substr(0, a.find('='))
          << "\" flag: strconv.ParseBool: parsing \"" << v << "\": invalid syntax\n";
      return 125;
    }
    if (auto v = value("--tlscacert"); v) {
      tls.ca_file = *v;
      continue;
    }
    if (auto v = value("--tlscert"); v) {
      tls.cert_file = *v;
      continue;
    }
    if (auto v = value("--tlskey"); v) {
      tls.key_file = *v;
      continue;
    }
    if (auto v = value("-H"); v) {
      host = *v;
      continue;
    }
    if (auto v = value("--host"); v) {
      host = *v;
      continue;
    }
    if (a.size() > 2 && a[0] == '-' && a[1] == 'H') {
      host = a.substr(2);
      continue;
    }
    bool ignored = false;
    for (std::string_view name : {"-l", "--log-level", "--config", "-c", "--context"}) {
      if (value(name)) {
        ignored = true;
        break;
      }
    }
    if (ignored) continue;
    err << "unknown flag: " << a << "\n\nUsage:  docker [OPTIONS] COMMAND\n\n"
        << "Run 'docker --help' for more information\n";
    return 125;
  }
  if (i >= args.size()) {
    PrintTopUsage(out);
    return 0;
  }
  std::string name = args[i++];
  for (std::string_view m : kManagement) {
    if (name == m) {
      if (i >= args.size() || args[i] == "--help") {
        out << "\nUsage:  docker " << name << " COMMAND\n";
        return 0;
      }
      name = absl::StrCat(name, " ", args[i++]);
      break;
    }
  }
  const CommandSpec* spec = nullptr;
  for (const auto& c : kCommands) {
    if (c.name == name) spec = &c;
  }
  if (spec == nullptr) {
    err << "docker: unknown command: docker " << name
        << "\n\nRun 'docker --help' for more information\n";
    return 1;
  }
  Invocation inv;
  inv.spec = spec;
  inv.path = absl::StrCat("docker ", name);
  inv.args.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  Cli cli(host, out, err, out_fd, err_fd);
  cli.set_tls(std::move(tls));
  int rc;
  try {
    rc = spec->fn(cli, inv);
  } catch (const nlohmann::json::exception& e) {
    // A daemon answer of an unexpected shape (a number where a string belongs...): report it
    // instead of letting the exception end the process.
    cli.err() << "Error: unexpected response from daemon: " << e.what() << "\n";
    rc = 1;
  }
  out.flush();
  err.flush();
  return rc;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return Run(args, std::cout, std::cerr);
}

}  // namespace berth::cli
