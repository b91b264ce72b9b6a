#pragma once
// The `berth` command line: docker's commands, flags, output and exit codes, over the Engine API
// client. Main() parses the global flags (-H/--host, --tls, --tlsverify, --tlscacert, --tlscert,
// --tlskey; ignored -D/-l/--config...) and dispatches to a command; commands live in commands_*.cc and register in the table of cli.cc.
//
// Exit codes follow docker: 0 ok, 1 an error (daemon or client side), 125 a flag error or a
// failure of `run` itself, 126/127 for a container command that cannot be invoked/found, else
// the container's own exit code (run, start -a, exec).

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/client/client.h"
#include "api/client/tls_flags.h"
#include "cli/flags.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace berth::cli {

class Cli {
 public:
  Cli(std::string host, std::ostream& out, std::ostream& err, int out_fd = 1, int err_fd = 2);
  // The global --tls* flags, before the first Api().
  void set_tls(client::TlsFlags tls) { tls_ = std::move(tls); }
  // Connects and negotiates on first use; later calls return the same client.
  StatusOr<const client::Client*> Api();
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  const std::string& host() const { return host_; }
  // Raw container output (attach, exec, logs) goes to these descriptors; the streams above are
  // flushed first so that the two stay in order.
  int out_fd() const { return out_fd_; }
  int err_fd() const { return err_fd_; }

 private:
  std::string host_;
  client::TlsFlags tls_;
  std::ostream& out_;
  std::ostream& err_;
  int out_fd_;
  int err_fd_;
  std::unique_ptr<client::Client> client_;
};

struct CommandSpec;

// One command being run: its spec, the name it was invoked as ("docker container rm"), its
// arguments after the command words.
struct Invocation {
  const CommandSpec* spec = nullptr;
  std::string path;
  std::vector<std::string> args;
};

using CommandFn = int (*)(Cli& cli, const Invocation& inv);

struct CommandSpec {
  std::string_view name;   // "rm", "container rm"
  std::string_view usage;  // "[OPTIONS] CONTAINER [CONTAINER...]"
  std::string_view help;   // "Remove one or more containers"
  CommandFn fn;
};

// Parses flags; on error prints docker's "<message>\nSee 'docker rm --help'." and returns
// false with *rc = 125; on --help prints usage and returns false with *rc = 0.
bool ParseFlags(Cli& cli, const Invocation& inv, FlagSet& flags, std::vector<std::string>* pos,
                int* rc);
// docker's argument-count checks (cli/required.go); print and *rc = 1 on failure.
// max < 0 means no maximum.
bool CheckArgs(Cli& cli, const Invocation& inv, const std::vector<std::string>& pos, int min,
               int max, int* rc);
// Prints the status message on stderr ("Error response from daemon: ..." for daemon errors,
// which the client already worded) and returns 1.
int PrintError(Cli& cli, const Status& s);

// --filter key=value flags as the map the API takes (AddFilter's errors).
StatusOr<std::map<std::string, std::vector<std::string>>> ParseFilters(const std::vector<std::string>& kvs);
// The value of a filters= query parameter: the map as JSON, URL-escaped.
std::string FiltersParam(const std::map<std::string, std::vector<std::string>>& filters);

// RenderItems to cli.out(); returns the command's exit code.
int PrintItems(Cli& cli, std::string_view format, const nlohmann::json& header,
               const std::vector<nlohmann::json>& items);

// Renders items with --format (table or not) or the default table format.
// header maps field names to column titles.
StatusOr<std::string> RenderItems(std::string_view format, const nlohmann::json& header,
                                  const std::vector<nlohmann::json>& items);
// "/path?b=2&a=1&a=0" -> "/path?a=1&a=0&b=2": parameters ordered by key (stable), as Go's
// url.Values.Encode orders what the docker CLI sends.
std::string SortedQuery(const std::string& path_and_query);
// Go's time.Time.String of an RFC 3339 timestamp, in local time:
// "2026-11-28 03:25:50.218523531 +0000 UTC" (fraction without trailing zeros); the input if it
// does not parse.
std::string GoTimeString(const std::string& rfc3339);
// Go's time.Time.String() of Unix nanoseconds, in local time or in UTC ("... +0000 UTC").
std::string GoTimeOf(int64_t unix_nanos, bool utc);
// Unix seconds as the docker CLI's CreatedAt column: "2026-11-28 03:25:50 +0000 UTC", local time.
std::string LocalTime(int64_t unix_seconds);
// Prints `warning` (ending in "\n") and docker's "Are you sure you want to continue? [y/N] ",
// then reads one line from stdin: true for y, Y or yes.
bool Confirm(Cli& cli, std::string_view warning);
// Writes all of data to a file descriptor, retrying on EINTR and short writes.
bool WriteAll(int fd, std::string_view data);
// The detach keys to use: `flag` (--detach-keys) if given, else the docker CLI config's
// "detachKeys" ($DOCKER_CONFIG/config.json, or ~/.docker/config.json), else "" (the default).
std::string DetachKeysOrConfig(const std::string& flag);

// Splits a stream of newline-delimited JSON messages (load, import, events) into objects.
class JsonLines {
 public:
  // Feeds bytes; calls fn for each complete line that parses (others are skipped).
  template <class Fn>
  void Feed(std::string_view data, Fn fn) {
    buf_.append(data);
    size_t nl;
    while ((nl = buf_.find('\n')) != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      Emit(line, fn);
    }
  }
  template <class Fn>
  void Finish(Fn fn) {
    std::string line;
    line.swap(buf_);
    Emit(line, fn);
  }

 private:
  template <class Fn>
  static void Emit(const std::string& line, Fn& fn) {
    if (line.find_first_not_of(" \r\t") == std::string::npos) return;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded()) fn(j);
  }
  std::string buf_;
};

// Prints objects as `docker inspect` does: a JSON array indented by 4 spaces with the daemon's
// key order, or one template execution per object with -f. getter returns the raw JSON text of
// one object or an error (whose message is printed after the output, exit 1).
int InspectObjects(Cli& cli, const std::vector<std::string>& names, const std::string& format,
                   const std::function<StatusOr<std::string>(const std::string&)>& getter);

// Sends a request whose answer is a JSON message stream (pull, push) with X-Registry-Auth,
// and shows it on `out` as docker does (out_fd says whether it is a terminal; null `out`:
// quiet). A daemon error, or the stream's own error message, is returned.
Status StreamJsonMessages(Cli& cli, std::string_view method, const std::string& path,
                          const std::string& registry_auth, std::ostream* out, int out_fd,
                          std::string_view body = {});
// POST /images/create?fromImage=&platform=&tag= as the docker CLI builds it.
std::string PullPath(const std::string& familiar_name, const std::string& tag_or_digest,
                     const std::string& platform);

int Main(int argc, char** argv);
// Main with explicit arguments (argv[0] excluded) and streams, for tests.
int Run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, int out_fd = 1,
        int err_fd = 2);

// Command implementations (commands_*.cc).
int CmdRun(Cli&, const Invocation&);
int CmdCreate(Cli&, const Invocation&);
int CmdStart(Cli&, const Invocation&);
int CmdStop(Cli&, const Invocation&);
int CmdRestart(Cli&, const Invocation&);
int CmdKill(Cli&, const Invocation&);
int CmdWait(Cli&, const Invocation&);
int CmdRm(Cli&, const Invocation&);
int CmdPs(Cli&, const Invocation&);
int CmdInspect(Cli&, const Invocation&);
int CmdContainerInspect(Cli&, const Invocation&);
int CmdLogs(Cli&, const Invocation&);
int CmdExec(Cli&, const Invocation&);
int CmdAttach(Cli&, const Invocation&);
int CmdRename(Cli&, const Invocation&);
int CmdTop(Cli&, const Invocation&);
int CmdStats(Cli&, const Invocation&);
int CmdContainerPrune(Cli&, const Invocation&);
int CmdPort(Cli&, const Invocation&);
int CmdDiff(Cli&, const Invocation&);
int CmdCp(Cli&, const Invocation&);
int CmdCommit(Cli&, const Invocation&);
int CmdPause(Cli&, const Invocation&);
int CmdUnpause(Cli&, const Invocation&);
int CmdUpdate(Cli&, const Invocation&);

int CmdImages(Cli&, const Invocation&);
int CmdImageInspect(Cli&, const Invocation&);
int CmdLoad(Cli&, const Invocation&);
int CmdImport(Cli&, const Invocation&);
int CmdTag(Cli&, const Invocation&);
int CmdRmi(Cli&, const Invocation&);
int CmdSave(Cli&, const Invocation&);
int CmdImagePrune(Cli&, const Invocation&);
int CmdPull(Cli&, const Invocation&);
int CmdPush(Cli&, const Invocation&);
int CmdLogin(Cli&, const Invocation&);
int CmdLogout(Cli&, const Invocation&);

int CmdNetworkCreate(Cli&, const Invocation&);
int CmdNetworkLs(Cli&, const Invocation&);
int CmdNetworkInspect(Cli&, const Invocation&);
int CmdNetworkRm(Cli&, const Invocation&);
int CmdNetworkConnect(Cli&, const Invocation&);
int CmdNetworkDisconnect(Cli&, const Invocation&);
int CmdNetworkPrune(Cli&, const Invocation&);
int CmdVolumeCreate(Cli&, const Invocation&);
int CmdVolumeLs(Cli&, const Invocation&);
int CmdVolumeInspect(Cli&, const Invocation&);
int CmdVolumeRm(Cli&, const Invocation&);
int CmdVolumePrune(Cli&, const Invocation&);

int CmdVersion(Cli&, const Invocation&);
int CmdInfo(Cli&, const Invocation&);
int CmdEvents(Cli&, const Invocation&);

// Swarm mode (commands_swarm.cc, commands_node.cc).
int CmdSwarmInit(Cli&, const Invocation&);
int CmdSwarmJoin(Cli&, const Invocation&);
int CmdSwarmJoinToken(Cli&, const Invocation&);
int CmdSwarmLeave(Cli&, const Invocation&);
int CmdSwarmUpdate(Cli&, const Invocation&);
int CmdSwarmInspect(Cli&, const Invocation&);
int CmdSwarmUnsupported(Cli&, const Invocation&);
int CmdNodeLs(Cli&, const Invocation&);
int CmdNodeInspect(Cli&, const Invocation&);
int CmdNodePs(Cli&, const Invocation&);
int CmdNodeRm(Cli&, const Invocation&);
int CmdNodeUpdate(Cli&, const Invocation&);
int CmdNodePromote(Cli&, const Invocation&);
int CmdNodeDemote(Cli&, const Invocation&);

// Services, secrets and configs (commands_service.cc, commands_secret.cc, commands_config.cc).
int CmdServiceCreate(Cli&, const Invocation&);
int CmdServiceLs(Cli&, const Invocation&);
int CmdServicePs(Cli&, const Invocation&);
int CmdServiceInspect(Cli&, const Invocation&);
int CmdServiceScale(Cli&, const Invocation&);
int CmdServiceUpdate(Cli&, const Invocation&);
int CmdServiceRollback(Cli&, const Invocation&);
int CmdServiceRm(Cli&, const Invocation&);
int CmdServiceLogs(Cli&, const Invocation&);
int CmdSecretCreate(Cli&, const Invocation&);
int CmdSecretLs(Cli&, const Invocation&);
int CmdSecretInspect(Cli&, const Invocation&);
int CmdSecretRm(Cli&, const Invocation&);
int CmdConfigCreate(Cli&, const Invocation&);
int CmdConfigLs(Cli&, const Invocation&);
int CmdConfigInspect(Cli&, const Invocation&);
int CmdConfigRm(Cli&, const Invocation&);

// berth lab (commands_lab.cc).
int CmdLabUp(Cli&, const Invocation&);
int CmdLabLs(Cli&, const Invocation&);
int CmdLabEnv(Cli&, const Invocation&);
int CmdLabExec(Cli&, const Invocation&);
int CmdLabStart(Cli&, const Invocation&);
int CmdLabStop(Cli&, const Invocation&);
int CmdLabKill(Cli&, const Invocation&);
int CmdLabCut(Cli&, const Invocation&);
int CmdLabDown(Cli&, const Invocation&);

}  // namespace berth::cli
