#pragma once
// Agent: every swarm node's session with the leader's dispatcher. A thread of its own sends a
// heartbeat every period (the dispatcher says how long), to the leader when it knows it, else to
// each known manager in turn; a follower's answer names the leader and the agent goes there.
// It reports what it learns (the managers, the node's desired role) through a callback, which
// must not block on the caller's operation lock (Cluster uses a try-lock and tries again on the
// next heartbeat).
//
// With a task runner (the node runs containers), two more threads: one holds a long poll on the
// leader's dispatcher for the node's assignment set and hands each new set to the runner; the
// other sends the runner's task status changes to the leader, in order, keeping what could not
// be sent for the next try (and sending every status again after a leader change).
//
// A worker that runs tasks also serves its cluster port (its certificate's IP, 2377, mutual
// TLS) for one call only: POST /task-logs from a manager (task_logs.h). A manager's own server
// has that route, so the agent serves only while the node's certificate says "worker": it
// stops at a promotion (ReloadTls, before the manager binds the port) and starts again after a
// demotion once the port is free (the heartbeat thread tries each period).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "api/server.h"
#include "api/transport/tls.h"
#include "cluster/node_state.h"
#include "cluster/rpc.h"
#include "cluster/task_logs.h"
#include "cluster/task_runner.h"
#include "common/clock.h"
#include "common/sync.h"
#include "network/swarm.h"
#include "spec/swarm.h"

namespace berth::cluster {

struct HeartbeatAnswer {
  std::string role;  // the node's desired role
  std::vector<ManagerPeer> managers;
  Duration period{};
  std::string leader_addr;
};

struct AgentConfig {
  NodePaths paths{""};
  std::string node_id;
  std::vector<ManagerPeer> managers;
  const Clock* clock = nullptr;
  spec::NodeDescription description;
  // Called on the agent's thread after each successful heartbeat.
  std::function<void(const HeartbeatAnswer&)> on_answer;
  // The node's task runner, when it runs tasks (its `report` is the agent's); null: none.
  std::optional<TaskRunnerConfig> tasks;
  // Where the swarm networks this node needs, and their peers, go (the network controller);
  // null: nowhere (tests). `vtep`: this node's underlay address for VXLAN.
  network::SwarmNetworks* networks = nullptr;
  std::string vtep;
};

// What the leader answers a node's attach: the network and the container's address on it.
struct SwarmAttachment {
  network::SwarmNetworkSpec network;
  std::string attachment_id;
  std::string ip;
};

class Agent {
 public:
  static StatusOr<std::unique_ptr<Agent>> Create(AgentConfig cfg);
  ~Agent();  // Stop()
  // Starts the heartbeat thread.
  void Run();
  // One heartbeat now (the caller's thread); `leaving` tells the leader the node is leaving.
  StatusOr<HeartbeatAnswer> HeartbeatOnce(bool leaving = false);
  // Re-reads the node's certificate (after a renewal).
  Status ReloadTls();
  void Stop();
  // The node leaves the swarm: its task containers are stopped and removed.
  void RemoveAllTasks();
  std::vector<ManagerPeer> managers() const;
  // The last heartbeat's error ("" when it succeeded).
  std::string last_error() const;
  // A container of this node joins an attachable swarm network (id or name): the leader records
  // it and gives it an address. Docker's refusals (not found, not attachable).
  StatusOr<SwarmAttachment> Attach(const std::string& network, const std::string& container_id,
                                   const std::string& container_name);
  // The container's attachments are released (best effort: the leader may be out of reach).
  Status Detach(const std::string& container_id);

 private:
  explicit Agent(AgentConfig cfg) : cfg_(std::move(cfg)) {}
  void Loop();
  void AssignLoop();
  void ReportLoop();
  void QueueReports(const std::vector<TaskStatusUpdate>& updates);
  // Hands the assignment's `networks` and `mesh` to cfg_.networks (before the tasks that need them
  // start).
  void ApplyNetworks(const nlohmann::json& networks, const nlohmann::json& mesh);
  // One call to the leader (the other managers redirect), as the assignments' long poll does.
  StatusOr<RpcReply> CallLeader(std::string_view path, const nlohmann::json& body);
  // Where to send: the leader if known, then the other managers.
  std::vector<std::string> Targets() const;
  // Starts, restarts (a new certificate) or stops the worker's log server to match the node's
  // certificate; `stop` stops it whatever the certificate says.
  void SyncLogServer(bool stop = false);

  AgentConfig cfg_;
  mutable StateMutex mu_;
  absl::CondVar cv_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<const transport::TlsContext> tls_ ABSL_GUARDED_BY(mu_);
  std::vector<ManagerPeer> managers_ ABSL_GUARDED_BY(mu_);
  std::string leader_addr_ ABSL_GUARDED_BY(mu_);
  Duration period_ ABSL_GUARDED_BY(mu_) = std::chrono::seconds(5);
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  std::vector<TaskStatusUpdate> pending_ ABSL_GUARDED_BY(mu_);
  // The long poll in flight (cancelled on Stop and when the leader changes).
  std::shared_ptr<RpcCancel> poll_cancel_ ABSL_GUARDED_BY(mu_);
  std::string poll_target_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<TaskRunner> runner_;
  std::thread thread_;
  std::thread assign_thread_;
  std::thread report_thread_;
  // The worker's cluster port (task logs only). server_mu_ serialises starting and stopping it;
  // no handler takes it.
  absl::Mutex server_mu_;
  std::unique_ptr<NodeTaskLogs> task_logs_ ABSL_GUARDED_BY(server_mu_);
  api::Router log_router_ ABSL_GUARDED_BY(server_mu_);
  std::unique_ptr<api::ApiServer> log_server_ ABSL_GUARDED_BY(server_mu_);
  std::string log_server_cert_ ABSL_GUARDED_BY(server_mu_);      // the certificate it serves with
  std::string log_server_error_ ABSL_GUARDED_BY(server_mu_);     // logged once
  bool log_server_stopped_ ABSL_GUARDED_BY(server_mu_) = false;  // Stop(): never again
};

}  // namespace berth::cluster
