#pragma once
// TaskRunner: a swarm node's executor of the tasks the managers assign it (the worker side of
// swarmkit's agent), through the core's typed container service only.
//
// The dispatcher sends the node's whole assignment set whenever it changes (tasks with their
// desired state, and the secrets and configs they use); the runner converges the node to it:
// - a task desired "running" that has no container: preparing (the image made present, pulled
//   from its registry when missing; if it cannot be, the task is "rejected" with Docker's
//   message), then the container is created as "<service>.<slot>.<task id>" (global tasks:
//   "<service>.<node id>.<task id>") with Docker's com.docker.swarm.* labels and started
//   (starting); it is "running" once started, or once healthy when it has a health check;
// - an exit: "complete" (code 0) or "failed" ("task: non-zero exit (N)"), as Docker;
// - a task desired "shutdown" (or "remove"): its container is stopped with the task's stop grace
//   period and signal ("shutdown");
// - a task no longer assigned: its container is removed;
// - secrets and configs are written to a tmpfs per task under <run_root>, never to disk, and
//   bind-mounted read-only at /run/secrets/<name> and at a config's target.
// On Start it adopts the containers it finds with a com.docker.swarm.task.id label (after a
// berthd restart) and reports exits that happened meanwhile; it never duplicates a task.
//
// Every status change is reported through `report` (batched), and Statuses() gives all of them
// again for a new session with a new leader.
//
// Threading: Assign and Statuses from any thread; the container work runs on the runner's own
// worker thread(s), never under its state lock.
//
// The states and messages are swarmkit's agent's (agent/exec/controller.go): accepted
// "accepted", preparing "preparing", ready "prepared", starting "starting", running "started",
// complete "finished", shutdown "shutdown"; a failure keeps the message of the state it happened
// in, with Err set, and is "rejected" before starting and "failed" from starting on. A task with
// a health check (its own or its image's) is running once healthy; an unhealthy one is stopped
// and fails ("task: non-zero exit (137): unhealthy container"). A task desired "ready" is
// prepared and waits there. The first Assign after Start decides about the containers Start
// found: those of tasks it does not list are stopped and removed.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "engine/container_service.h"
#include "spec/service.h"

namespace berth::cluster {

class PayloadStore;

// A secret or config a task uses, with its data (sent only to nodes that run such a task).
struct TaskPayload {
  std::string id;
  std::string name;
  std::string data;  // raw bytes
};

struct TaskAssignment {
  spec::Task task;
  std::string service_name;  // for the container's name and labels
  // The service's endpoint as the task needs it: dnsrr (its name answers with the tasks'
  // addresses; in vip mode the node's DNS answers it with the VIP), and the ports it publishes in
  // host mode (bound on this node only, as a container's -p).
  bool dnsrr = false;
  std::vector<spec::ServicePortConfig> host_ports;
  std::vector<TaskPayload> secrets;
  std::vector<TaskPayload> configs;
  // The service's X-Registry-Auth (`--with-registry-auth`) for the image's pull; "" = anonymous.
  std::string registry_auth;
};

struct TaskStatusUpdate {
  std::string task_id;
  spec::TaskStatus status;
};

struct TaskRunnerConfig {
  std::string node_id;
  engine::ContainerService* containers = nullptr;  // required
  const Clock* clock = nullptr;                    // required
  // Makes sure `image` ("nginx:latest", as the container is created with) is on this node,
  // pulling it when missing. As Docker's agent, a failure is only logged: the create that
  // follows rejects the task ("No such image: web:doesnotexist") when the image is really not
  // here. Unset: no pulls. Runs on a worker thread; may take long.
  std::function<Status(const std::string& image, const std::string& registry_auth)> ensure_image;
  // Where the per-task tmpfs of secrets and configs are mounted: <run_root>/<task id>.
  std::string run_root;
  // Status changes, in order, on the runner's thread; must not block.
  std::function<void(const std::vector<TaskStatusUpdate>&)> report;
  // Where the payload files go (task_payloads.h); nullptr: a tmpfs per task (needs root).
  PayloadStore* payloads = nullptr;
  // Worker threads: tasks are worked on in parallel (a stop waits out its grace period), each
  // task's steps in order.
  int workers = 8;
  // How long a running task on a swarm network (a backend of its service's VIPs or published
  // ports) goes on after it is wanted stopped, before its stop signal: the managers take it out
  // of every node's balancing maps at once, and this gives the nodes time to apply that, so that
  // no new connection reaches a task that is going away (Docker waits 2 s for its gossip).
  Duration backend_drain = std::chrono::milliseconds(500);
};

class TaskRunner {
 public:
  static StatusOr<std::unique_ptr<TaskRunner>> Create(TaskRunnerConfig cfg);
  ~TaskRunner();  // Stop()

  // Adopts the task containers already on this node and starts the workers (once; after the
  // engine's Recover).
  Status Start();
  // Stops the workers for good; containers keep running (a restarted berthd adopts them).
  void Stop();
  // The node's whole assignment set (replaces the previous one).
  void Assign(std::vector<TaskAssignment> assignments);
  // The last status of every task the runner knows.
  std::vector<TaskStatusUpdate> Statuses() const;
  // The node leaves the swarm: every task container (every one with Docker's task label, known
  // or not) is stopped and removed with its secrets; blocks until done (on the caller's thread
  // when the workers are not running). No Assign meanwhile.
  void RemoveAll();

 private:
  class Impl;
  explicit TaskRunner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::cluster
