#pragma once
// The container runtime boundary: OCI bundles for runc, and berth-shim, the per-container process
// that runs `runc run --detach` and owns stdio, logs and the exit code (docs/shim.md).
//
// Shim is the seam (tests use a fake); ShimClient, the real one, is stateless and thread-safe:
// every call opens its own connection to the shim's control socket.

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "engine/host_options.h"
#include "engine/mount_points.h"
#include "engine/seccomp.h"
#include "engine/security.h"
#include "spec/host_config.h"

#include "engine/log_config.h"

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
  std::string log_path;  // empty: the none driver, nothing is logged
  LogSettings log;       // rotation of log_path
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

class Shim {
 public:
  virtual ~Shim() = default;
  // Spawns the shim and waits for its verdict; returns the container's init pid. On a runc
  // failure the message is runc's own (FailedPrecondition), and no runc state is left.
  virtual StatusOr<pid_t> Start(const ShimStart& s) const = 0;
  // Sends one command line; returns the connection after reading the one-line reply into
  // *reply (when reply is not null).
  virtual StatusOr<UniqueFd> Command(const std::string& state_dir, const std::string& line,
                                     std::string* reply) const = 0;
  // Removes what the runtime still holds of a container whose shim died with it.
  virtual void ForgetRuntimeState(const std::string& id) const = 0;
  // Runs runc on a running container for what the shim does not own: `runc pause ID`, `resume`,
  // `update --resources -` (with `input` on its stdin). runc's message on failure.
  virtual Status Runtime(const std::vector<std::string>& args, std::string_view input = {}) const {
    return absl::UnimplementedError("no container runtime");
  }

  // One-shot commands that expect "OK".
  Status Simple(const std::string& state_dir, const std::string& line) const;
  // For a shim berthd will never come back for (its container's start or create was cut short by
  // a crash): SIGKILL the container and RELEASE the shim, which otherwise waits for berthd forever
  // before it finishes. Nothing to do (and no error) when no shim answers.
  void Discard(const std::string& state_dir) const;
};

class ShimClient : public Shim {
 public:
  explicit ShimClient(RuntimePaths paths) : paths_(std::move(paths)) {}
  StatusOr<pid_t> Start(const ShimStart& s) const override;
  StatusOr<UniqueFd> Command(const std::string& state_dir, const std::string& line,
                             std::string* reply) const override;
  void ForgetRuntimeState(const std::string& id) const override;
  Status Runtime(const std::vector<std::string>& args, std::string_view input) const override;
  const RuntimePaths& paths() const { return paths_; }

 private:
  RuntimePaths paths_;
};

// The container's root filesystem: an overlay of the image's layers and its own upper dir.
class RootfsMounter {
 public:
  virtual ~RootfsMounter() = default;
  virtual Status Mount(const std::vector<std::string>& lowers, const std::string& upper,
                       const std::string& work, const std::string& target) = 0;
  virtual Status Unmount(const std::string& target) = 0;
  virtual bool Mounted(const std::string& target) = 0;
};
class OverlayMounter : public RootfsMounter {
 public:
  Status Mount(const std::vector<std::string>& lowers, const std::string& upper,
               const std::string& work, const std::string& target) override;
  Status Unmount(const std::string& target) override;
  bool Mounted(const std::string& target) override;
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
  const spec::HostConfig* host_config = nullptr;
  // The Block I/O device settings' paths resolved to major:minor (ResolveBlkioDevices).
  BlkioDeviceLimits blkio;
  // What the host offers: the capabilities berthd holds (empty: all; --privileged gets these),
  // the static init bound in as /sbin/docker-init for --init, the host's device nodes
  // (ContainerDevices) and the kernel that seccomp rules' minKernel is checked against.
  std::vector<std::string> available_caps;
  std::string init_path;
  std::vector<ContainerDevice> devices;
  KernelVersion kernel = RunningKernel();
  std::string pid_ns_path;  // --pid container:NAME: that container's /proc/<pid>/ns/pid
  // Binds, volumes and --mount tmpfs (VolumeStore::Mount), and the root's propagation they need.
  std::vector<OciMount> mounts;
  std::string rootfs_propagation;
};
// runc's config.json for these inputs (oci_spec.cc). Fails only on settings that create refuses
// (a bad security option, tmpfs option, ulimit or device cgroup rule in a record written by an
// older berthd).
StatusOr<std::string> BuildOciSpec(const OciInputs& in);

// An exec's process, as `runc exec --process FILE` takes it.
struct OciProcess {
  bool terminal = false;
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::vector<std::string> capabilities;
  bool no_new_privileges = false;  // the container's --security-opt no-new-privileges
  int rows = 0, cols = 0;  // the terminal's size; 0 = unknown
};
std::string BuildOciProcess(const OciProcess& p);

// Resolves Docker's User field ("", "name", "uid", "name:group", "uid:gid") against the
// container's /etc/passwd and /etc/group. The additional groups are, as runc's user lookup gives
// Docker, the groups /etc/group lists the user in, then HostConfig.GroupAdd's (a group name or
// gid of /etc/group, or any numeric gid).
Status ResolveUser(const std::string& rootfs, const std::string& user, uint32_t* uid, uint32_t* gid,
                   std::vector<uint32_t>* additional_gids,
                   const std::vector<std::string>& group_add = {});

}  // namespace berth::engine
