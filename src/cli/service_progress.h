#pragma once
// The docker CLI's wait for a service to converge after create, update, scale and rollback
// without --detach (cli/command/service/progress/progress.go): about five times a second it
// reads the service, its up-to-date tasks and the nodes, and writes progress messages, docker's
// JSON message stream ({"status":..., "id":..., "progressDetail":...}) that
// client::JsonMessageDisplay draws: "overall progress: 2 out of 2 tasks", one line per slot
// ("1/2: running   [===>]" on a terminal), "verify: Waiting 5 seconds to verify that tasks are
// stable...", "verify: Service web converged". The daemon, the clock and the sleep are
// injected so that tests can run the loop over scripted answers.

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "nlohmann/json.hpp"
#include "spec/service.h"

namespace berth::cli {

// What one poll asks the daemon.
class ServiceProgressSource {
 public:
  virtual ~ServiceProgressSource() = default;
  // GET /services/{ref}?insertDefaults=false
  virtual StatusOr<spec::Service> InspectService(const std::string& ref) = 0;
  // GET /tasks?filters={"_up-to-date":{"true":true},"service":{"<id>":true}}
  virtual StatusOr<std::vector<spec::Task>> UpToDateTasks(const std::string& service_id) = 0;
  // GET /nodes: the IDs of nodes not Down.
  virtual StatusOr<std::set<std::string>> ActiveNodes() = 0;
};

struct ProgressClock {
  // Monotonic nanoseconds.
  std::function<int64_t()> now;
  // Waits (200 ms between polls); false when interrupted (SIGINT): the CLI stops waiting and
  // says the operation continues in the background.
  std::function<bool(int64_t nanos)> sleep;
};

// ServiceProgress: polls until converged (and stable for the monitor window: the service's
// UpdateConfig.Monitor, else 5 s), writing each progress message to `emit`. `ref` is what the
// user named (create passes the new ID); it is also what "Service <ref> converged" says.
// Returns "service update paused: <message>" / "service rollback paused: ..." as errors.
Status WaitServiceProgress(ServiceProgressSource& source, const std::string& ref,
                           const ProgressClock& clock,
                           const std::function<void(const nlohmann::json&)>& emit);

}  // namespace berth::cli
