#pragma once
// A swarm task as the container that runs it: Docker's swarm executor's conversion
// (moby daemon/cluster/executor/container/container.go) as a pure function, so the request the
// engine receives can be checked field by field without an engine.
//
// What the engine cannot honour (a Windows-only credential spec, an isolation or runtime other
// than a Linux container, a mount type other than bind, volume and tmpfs, a secret whose payload
// was not delivered) is an error: the runner rejects the task with its message.

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/task_runner.h"
#include "common/status.h"
#include "spec/container_create.h"

namespace berth::cluster {

// Docker's system labels on every task container (they override the spec's labels).
inline constexpr char kTaskLabel[] = "com.docker.swarm.task";
inline constexpr char kTaskIdLabel[] = "com.docker.swarm.task.id";
inline constexpr char kTaskNameLabel[] = "com.docker.swarm.task.name";
inline constexpr char kNodeIdLabel[] = "com.docker.swarm.node.id";
inline constexpr char kServiceIdLabel[] = "com.docker.swarm.service.id";
inline constexpr char kServiceNameLabel[] = "com.docker.swarm.service.name";

// Where secrets without an absolute target are mounted (Docker's DefaultSecretsPath).
inline constexpr char kSecretsPath[] = "/run/secrets";

// One secret or config file written to the task's tmpfs and bind-mounted read-only.
struct PayloadFile {
  std::string path;    // on the host, below the task's payload directory
  std::string target;  // in the container
  std::string data;
  uint32_t mode = 0444;
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool operator==(const PayloadFile&) const = default;
};

struct TaskContainer {
  spec::ContainerCreateRequest request;
  // The payload files (their read-only binds are in request's mounts); empty: no tmpfs needed.
  std::vector<PayloadFile> files;
};

// "<service>.<slot>.<task id>"; a global task (slot 0): "<service>.<node id>.<task id>".
std::string TaskContainerName(const spec::Task& task, const std::string& service_name);

// The image reference as Docker's executor gives it to the engine: familiar, with ":latest"
// when it has neither tag nor digest ("nginx" -> "nginx:latest"); unparsable ones unchanged.
std::string TaskImage(const std::string& image);

// The container for assignment `a` on node `node_id`; payload files go below `payload_dir`
// (<run_root>/<task id>). InvalidArgument for what the engine cannot honour.
StatusOr<TaskContainer> TaskContainerFor(const TaskAssignment& a, const std::string& node_id,
                                         const std::string& payload_dir);

}  // namespace berth::cluster
