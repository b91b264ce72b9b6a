#pragma once
// ContainerService: the narrow view of the engine that the cluster's task agent needs (and all
// it may use): create from a typed spec with labels, start, stop with a grace period, remove,
// list by label, exits and health changes as typed events, and a container's state. The container
// manager implements it; the task runner's tests use a fake.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/container_types.h"
#include "spec/container_create.h"
#include "spec/filters.h"

namespace berth::engine {

struct ExitEvent {
  std::string id;
  int exit_code = 0;
  int64_t finished_at = 0;   // unix nanos
  bool restarting = false;   // its restart policy brings it back
};

// A health check changed its verdict (Docker's "health_status: X" event).
struct HealthEvent {
  std::string id;
  std::string status;  // "starting", "healthy", "unhealthy"
};

class ContainerService {
 public:
  virtual ~ContainerService() = default;
  virtual StatusOr<CreateResult> Create(const spec::ContainerCreateRequest& request) = 0;
  // false: already running.
  virtual StatusOr<bool> Start(const std::string& id) = 0;
  // SIGTERM (or the container's stop signal), then SIGKILL after `grace` seconds (nullopt: the
  // container's StopTimeout, 10 s by default). false: it was not running.
  virtual StatusOr<bool> Stop(const std::string& id, std::optional<int> grace,
                              const std::string& signal = "") = 0;
  virtual Status Remove(const std::string& id, bool force) = 0;
  // Every exit from now on, on the manager's monitor thread: the handler must not block.
  using ExitHandler = std::function<void(const ExitEvent&)>;
  virtual uint64_t WatchExits(ExitHandler handler) = 0;
  virtual void UnwatchExits(uint64_t id) = 0;
  // Every health status change from now on, on the manager's health thread: must not block.
  using HealthHandler = std::function<void(const HealthEvent&)>;
  virtual uint64_t WatchHealth(HealthHandler handler) = 0;
  virtual void UnwatchHealth(uint64_t id) = 0;
  // Inspect's State of one container (by id or name): status, pid, exit code, health (present
  // only when the container has a health check, the image's included). NotFound when gone.
  virtual StatusOr<ContainerState> State(const std::string& id) = 0;
  // Docker's list with its filters (a `label` filter lists a service's tasks).
  virtual StatusOr<std::vector<ContainerSummary>> List(bool all, const spec::Filters& filters,
                                                       int limit = 0, bool size = false) = 0;

  // Reading a container's log outside the engine (the cluster's task logs, with
  // engine::LogReader as the container logs route reads it). Defaults for fakes that need none.
  struct LogSource {
    std::string id;
    std::string log_path;
    std::string state_dir;
    bool tty = false;
    bool running = false;
    std::string driver;  // json-file, local or none (log_path empty: nothing to read)
  };
  virtual StatusOr<LogSource> Logs(const std::string& id) {
    return absl::UnimplementedError("this engine cannot read container logs: " + id);
  }
  // Whether the container with this id is running now (a log follow ends when it is not).
  virtual bool Running(const std::string& /*id*/) { return false; }
};

}  // namespace berth::engine
