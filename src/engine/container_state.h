#pragma once
// The container manager's records (private to src/engine/container*.cc).

#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "engine/containers.h"
#include "engine/health.h"
#include "spec/container_create.h"
#include "spec/exec.h"

namespace berth::engine {

// Every field is guarded by ContainerManager::mu_ unless said otherwise.
struct Container {
  std::string id;
  std::string name;  // without the leading '/'
  std::string image_id;
  spec::ContainerConfig config;     // Docker's Config, merged with the image's defaults
  spec::HostConfig host_config;     // normalized, with the defaults inspect shows
  spec::NetworkingConfig networking;  // NetworkingConfig of the create request
  std::string path;
  std::vector<std::string> args;
  int64_t created = 0;

  std::string status = "created";  // created running restarting exited removing dead
  int pid = 0;
  int exit_code = 0;
  std::string error;
  int64_t started_at = 0, finished_at = 0;
  int restart_count = 0;
  bool manually_stopped = false;
  bool paused = false;  // running with its cgroup frozen (docker pause); status stays "running"
  // Legacy links on the default bridge (--link): alias -> the linked container's id.
  std::map<std::string, std::string> links;
  bool creating = false;  // in memory only: name taken, files being made; not visible yet
  bool removed = false;   // in memory only
  uint64_t exits = 0;     // in memory only: exits seen, for wait?condition=next-exit
  // In memory only: an exit's mounts and network are still being undone. Counted in `exits` only
  // once done, so a stop that returns (and a start after it) never races the teardown.
  bool exit_cleanup = false;
  bool mounted = false;   // in memory only

  // Serialises start, stop, restart and remove of this container (an operation lock).
  absl::Mutex op_mu;

  // Store writes: a snapshot taken under mu_ gets the next version; the write happens with no
  // state lock, under persist_mu (a resource lock), and is skipped when a newer one is stored.
  uint64_t doc_version = 0;
  absl::Mutex persist_mu;
  uint64_t written_version ABSL_GUARDED_BY(persist_mu) = 0;  // UINT64_MAX: removed

  // docker run attaches before start: these wait for the next start's shim.
  struct Pending {
    bool in, out, err;
    std::promise<StatusOr<ShimStream>> ready;
  };
  std::vector<std::shared_ptr<Pending>> pending_attaches;
  std::vector<std::string> exec_ids;

  // State.Health (stored); the status is empty without a health check.
  HealthState health;
  // In memory only: the health monitor (container_health.cc). A start, an exit or berthd's
  // restore bumps the epoch; timers and probes of an older epoch do nothing.
  uint64_t health_epoch = 0;
  Clock::TimerId health_timer = 0;          // the next probe
  std::string health_exec;                  // the probe running now
  int64_t health_probe_start = 0;           // its start, unix nanos
  bool health_timed_out = false;            // its timeout result is recorded already
  Clock::TimerId health_timeout_timer = 0;  // its timeout, then its SIGKILL

  bool tty() const { return config.tty; }
  bool running() const { return status == "running" || status == "restarting"; }
  // Docker's State.Status: "paused" for a paused running container.
  std::string state() const { return paused && status == "running" ? "paused" : status; }

  // The store's record (container_records.cc).
  std::string ToDoc() const;
  static StatusOr<std::shared_ptr<Container>> FromDoc(const std::string& doc);
};

struct ExecInstance {
  std::string id;
  std::string container_id;
  spec::ExecConfig config;
  bool running = false;
  bool started = false;
  int exit_code = 0;
  bool has_exit = false;
  int pid = 0;
  bool health = false;  // a health check's probe: dropped once it has exited
};

// What the monitor thread watches: a shim's WAIT connection (the container's exit) or a detached
// exec's stream (drained for its exit code).
struct ContainerManager::Watch {
  enum class Kind { kExit, kExec } kind;
  std::string id;  // container id or exec id
  UniqueFd fd;
  std::string buf;  // kExec: frames read so far
  int code = 0;     // kExec: from the exit frame
  bool has_code = false;
  // kExec of a health probe: its stdout and stderr, as dockerd keeps them (AppendProbeOutput).
  bool capture = false;
  std::string output;
  bool truncated = false;
};

// What an event says about a container, taken under mu_ and published after.
struct ContainerEvent {
  std::string action;
  std::string id;
  std::map<std::string, std::string> attributes;
};

}  // namespace berth::engine
