#pragma once
// The container runtime boundary: OCI bundles for runc, and berth-shim, the per-container process
// that runs `runc run --detach` and owns stdio, logs and the exit code (docs/shim.md).
//
// ShimClient is stateless and thread-safe: every call opens its own connection to the shim's
// control socket.

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace berth::engine {

struct RuntimePaths {
  std::string runc = "runc";
  std::string runtime_root;  // runc --root
  std::string shim;          // berth-shim binary
};

struct ShimStart {
  std::string id;
  std::string bundle;
  std::string state_dir;
  std::string log_path;
  bool tty = false;
  bool open_stdin = false;
  bool stdin_once = false;
  int rows = 0, cols = 0;
};

// The part of a stdcopy frame header: [type, 0, 0, 0, size BE32].
enum FrameType : uint8_t {
  kStdin = 0,
  kStdout = 1,
  kStderr = 2,
  kExit = 3,
  kCloseStdin = 4,
  kResize = 5
};
std::string Frame(uint8_t type, std::string_view payload);

class ShimClient {
 public:
  explicit ShimClient(RuntimePaths paths) : paths_(std::move(paths)) {}

  // Spawns the shim and waits for its verdict; returns the container's init pid. On a runc
  // failure the message is runc's own (FailedPrecondition), and no runc state is left.
  StatusOr<pid_t> Start(const ShimStart& s) const;
  // Sends one command line; returns the connection after reading the one-line reply into *reply.
  StatusOr<UniqueFd> Command(const std::string& state_dir, const std::string& line,
                             std::string* reply) const;
  // One-shot commands that expect "OK".
  Status Simple(const std::string& state_dir, const std::string& line) const;
  // For a shim berthd will never come back for (its container's start or create was cut short by
  // a crash): SIGKILL the container and RELEASE the shim, which otherwise waits for berthd forever
  // before it finishes. Nothing to do (and no error) when no shim answers.
  void Discard(const std::string& state_dir) const;
  const RuntimePaths& paths() const { return paths_; }

 private:
  RuntimePaths paths_;
};

// Reads a single '\n'-terminated line from fd without reading past it.
StatusOr<std::string> ReadLine(int fd, size_t max = 4096);
Status WriteAll(int fd, std::string_view data);
// Connects to a unix stream socket path.
StatusOr<UniqueFd> ConnectUnix(const std::string& path);

// Inputs of an OCI runtime spec, as Docker derives them from Config and HostConfig.
struct OciInputs {
  std::string id;
  std::string hostname;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
  bool tty = false;
  int rows = 0, cols = 0;
  std::string container_dir;  // holds hostname, hosts, resolv.conf
  std::string netns_path;     // empty: a new network namespace; "host": the daemon's
  const nlohmann::json* host_config = nullptr;
  std::string cgroup_parent = "berth";
};
nlohmann::json BuildOciSpec(const OciInputs& in);
// Docker's default capability set, with HostConfig CapAdd/CapDrop/Privileged applied.
std::vector<std::string> Capabilities(const nlohmann::json& host_config);

// Resolves Docker's User field ("", "name", "uid", "name:group", "uid:gid") against the
// container's /etc/passwd and /etc/group.
Status ResolveUser(const std::string& rootfs, const std::string& user, uint32_t* uid, uint32_t* gid,
                   std::vector<uint32_t>* additional_gids);

}  // namespace berth::engine
