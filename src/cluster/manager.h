#pragma once
// Manager: what runs on a manager node besides its agent.
// - its etcd member (etcd/member.h) and a client of it (the Store);
// - the cluster port's server (2377, mutual TLS): /join for new nodes (token-authenticated),
//   /heartbeat and /renew for nodes with a certificate (dispatcher.cc);
// - a campaign for leadership: the key /berth/swarm/leader on a lease this manager keeps alive;
//   the leader runs the dispatcher, which marks nodes Ready on their heartbeats and Down when
//   they stop for 3 heartbeat periods, and answers heartbeats; other managers redirect a node to
//   the leader.
//
// Threading: Start and Stop from the Cluster's operation lock; the server's handlers run on its
// connection threads; the campaign and the down-checker on threads of their own. The state lock
// mu_ is held only to read or swap in-memory state, never across etcd or the network.

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "api/server.h"
#include "cluster/etcd/client.h"
#include "cluster/dispatcher.h"
#include "cluster/etcd/member.h"
#include "cluster/node_state.h"
#include "cluster/orchestrator_runner.h"
#include "cluster/secret_box.h"
#include "cluster/mirror.h"
#include "cluster/store.h"
#include "cluster/task_logs.h"
#include "common/clock.h"
#include "common/sync.h"

namespace berth::cluster {

struct ManagerConfig {
  NodePaths paths{""};
  NodeState state;
  const Clock* clock = nullptr;
  std::string etcd_binary = "etcd";
  int etcd_client_port = 2379;
  int etcd_peer_port = 2380;
  // A new one-member etcd cluster, or joining with this initial cluster (empty: the member has
  // data already and resumes).
  bool new_cluster = false;
  std::string initial_cluster;
  // The engine that runs this node's tasks: the cluster port serves their logs to the managers
  // (POST /task-logs, task_logs.h). Null: the node runs no tasks, and the route is not served.
  engine::ContainerService* containers = nullptr;
};

class Manager {
 public:
  // Starts etcd (and waits for it when new_cluster), the cluster port and the campaign.
  static StatusOr<std::unique_ptr<Manager>> Start(ManagerConfig cfg);
  ~Manager();  // Stop()
  // Resigns the leadership, stops the server, the campaign and etcd. Idempotent.
  void Stop();

  Store& store() { return *store_; }
  // The store whose plain reads come from the leader's copy of the swarm's records (mirror.h)
  // while this manager leads and the copy is up to date; store() otherwise. For the hot readers
  // that are woken by the copy's changes (the nodes' assignment sets).
  Store ReadStore() const;
  std::shared_ptr<etcd::Client> etcd() { return etcd_; }
  const ManagerConfig& config() const { return cfg_; }
  bool IsLeader() const;
  // The leader as this manager last saw it (empty when unknown).
  std::optional<LeaderRecord> Leader() const;

  // Adds a manager's etcd member by its advertise IP; returns the --initial-cluster the new member
  // must start with ("id1=https://ip1:2380,...,new=https://ipN:2380").
  StatusOr<std::string> AddEtcdMember(const std::string& node_id, const std::string& ip);
  // Removes the etcd member of a node (by its peer IP); OK when it has none.
  Status RemoveEtcdMember(const std::string& ip);

  // Secrets' and configs' data at rest (secret_box.h); FAILED_PRECONDITION when this manager has
  // no data key. A value is bound to its record's id.
  StatusOr<std::string> Seal(std::string_view plain, std::string_view id) const;
  StatusOr<std::string> OpenSealed(std::string_view sealed, std::string_view id) const;
  // The data key, for a manager that joins or is promoted (empty when there is none).
  std::string DataKey() const;

 private:
  explicit Manager(ManagerConfig cfg);
  void AddRoutes();
  void CampaignLoop();
  void CheckDownLoop();
  Duration HeartbeatPeriod();

  ManagerConfig cfg_;
  std::unique_ptr<etcd::Member> member_;
  std::shared_ptr<etcd::Client> etcd_;
  std::unique_ptr<Store> store_;
  api::Router router_;
  std::unique_ptr<api::ApiServer> server_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<NodeTaskLogs> task_logs_;           // with a ContainerService
  std::optional<SecretBox> secret_box_;  // set in Start, then read-only
  std::unique_ptr<OrchestratorRunner> orchestrator_;  // runs while leading

  mutable StateMutex mu_;
  absl::CondVar cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool leader_ ABSL_GUARDED_BY(mu_) = false;
  // While leading: the swarm's records in memory, whose changes wake the orchestrator and the
  // nodes' long polls (what their assignments are made of: tasks, services, networks,
  // attachments, nodes).
  std::shared_ptr<StoreMirror> mirror_ ABSL_GUARDED_BY(mu_);
  int64_t lease_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<LeaderRecord> seen_leader_ ABSL_GUARDED_BY(mu_);
  // The store revision seen_leader_ is from: the watch and a campaign's answer race, and the
  // newer one wins.
  int64_t seen_revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread campaign_;
  std::thread down_checker_;
  std::unique_ptr<etcd::Watch> leader_watch_;
};

// The wire shapes of the cluster port (JSON), shared by the agent and the dispatcher.
namespace wire {
inline constexpr char kJoin[] = "/join";
inline constexpr char kHeartbeat[] = "/heartbeat";
inline constexpr char kRenew[] = "/renew";
inline constexpr char kAssignments[] = "/assignments";
inline constexpr char kTaskStatus[] = "/task-status";
inline constexpr char kAttach[] = "/attach";
inline constexpr char kDetach[] = "/detach";
}  // namespace wire

}  // namespace berth::cluster
