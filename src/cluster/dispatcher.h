#pragma once
// The cluster port's handlers on a manager (JSON over mutual TLS; wire shapes in docs/swarm.md):
// - POST /join {token, csr, advertise_addr, availability, description}: a node without a
//   certificate joins with a join token; it gets a node id and a certificate for the token's role
//   (a manager also its etcd --initial-cluster).
// - POST /heartbeat {description}: a node with a certificate (its id from the certificate's CN)
//   reports in. The leader records it (Ready) and answers the period, the managers and the node's
//   desired role; a follower answers where the leader is.
// - POST /renew {csr}: a new certificate for the node's current role (renewal before expiry, or
//   after promote/demote); a promoted node also gets its etcd --initial-cluster.
// - POST /assignments {digest}: a node's long poll for its tasks (dispatcher_tasks.cc): the
//   leader answers the node's whole assignment set (every task record on that node, its
//   service's name, the secrets and configs its live tasks use) as soon as it differs from the
//   set the node has (`digest`), or after kAssignmentPoll with the same set. Asking with the
//   digest last answered tells the leader the node applied that set (the drain, below).
// - POST /task-status {updates: [{task}]}: the node's agent reports task states; the leader
//   writes them to the store (a state never goes backwards; only the node's own tasks).
// - POST /attach {network, container_id}: a node's container joins an attachable swarm network
//   (dispatcher_networks.cc); the leader records the attachment with an address and answers the
//   network and the address. POST /detach {container_id} removes the container's attachments.
// The assignments also carry `networks`: the swarm networks the node needs (those something on it
// uses) with their peer tables (the other nodes' endpoints, with their underlay addresses).
// A node whose certificate is not from this cluster, or was removed, is refused.
//
// The leader's dispatcher also watches the heartbeats: a node silent for 2.5 periods is marked
// Down (so within 3 periods of its last heartbeat).
// Threading: handlers on the server's connection threads, CheckDown on the manager's checker
// thread; mu_ guards the heartbeat table and the long polls' wake-up state, and is never held
// across etcd.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "api/http.h"
#include "cluster/etcd/client.h"
#include "common/clock.h"
#include "common/sync.h"
#include "network/swarm.h"
#include "spec/service.h"
#include "spec/swarm.h"

namespace berth::cluster {

class Manager;

// The swarm networking of a node's assignments (dispatcher_networks.cc): `networks`, the swarm
// networks the node needs with their peer tables, and `mesh` (swarm.h's MeshSpec: the node's
// ingress endpoint, the services it balances, their VIPs and running tasks). While a service
// publishes an ingress port every node needs the ingress network and an endpoint of its own on it
// (the container id kIngressSbox in the attachments), made by the first call that needs it (the
// leader's). Their parsers on the node.
inline constexpr char kIngressSbox[] = "ingress-sbox";
struct NodeNetworking {
  nlohmann::json networks;  // [{"network": {...}, "peers": [...]}]
  nlohmann::json mesh;      // {} when the node has neither ingress nor VIPs
};
StatusOr<NodeNetworking> BuildNodeNetworks(Manager& m, const std::string& node_id,
                                           const std::vector<spec::Task>& all_tasks,
                                           const std::vector<spec::Service>& services);
network::SwarmNetworkSpec ParseSwarmNetworkSpec(const nlohmann::json& j);
network::MeshSpec ParseMeshSpec(const nlohmann::json& j);
nlohmann::json MeshJson(const network::MeshSpec& m);
// The mesh part, pure: `networks_here` are the swarm networks the node has; ingress_address is
// the node's endpoint on the ingress network, "" when no service publishes an ingress port. Tasks
// on `down_nodes` are no backends (they leave the maps when their node is Down, before they are
// rescheduled).
network::MeshSpec NodeMesh(const std::string& node_id, const std::vector<spec::Service>& services,
                           const std::vector<spec::Task>& all_tasks,
                           const std::set<std::string>& networks_here,
                           const std::string& ingress_id, const std::string& ingress_address,
                           const std::set<std::string>& down_nodes = {});

// The digest a node's long poll compares, of its assignment set ({"tasks", "networks", "mesh"}
// as BuildAssignments makes it): of what the node acts on only. A task's status, version and
// update time are left out: the node's own reports coming back must not wake its poll and resend
// the whole set (swarmkit's dispatcher skips those updates too: TasksEqualStable).
std::string AssignmentDigest(const nlohmann::json& set);
// What of a stored task (its record's JSON) any node's assignment set depends on: the task
// without its status, version and update time, and whether it is live (its secrets and configs
// are sent while it is). nullopt when every change of it matters (it has network attachments:
// its state decides the peers and backends other nodes see) or it cannot be read.
std::optional<std::string> TaskShape(std::string_view record);

// Draining a backend before its stop. A task the managers want stopped leaves every node's mesh
// at once, but its own node is told to stop it only once every other node has applied a mesh
// without it (its next long poll names the digest of that set), or kDrainLimit after the
// dispatcher first saw it leave (a node that is Down or slow does not hold it longer; Docker
// waits a fixed 2 s). Until then its node's set shows it still wanted running.
inline constexpr Duration kDrainLimit = std::chrono::seconds(2);
// The backends a mesh (its JSON, as in the assignment set) balances to, as "<network id>/<ip>".
std::set<std::string> MeshBackendKeys(const nlohmann::json& mesh);
// The same keys for a task: its addresses on its networks.
std::set<std::string> TaskBackendKeys(const spec::Task& t);
// Whether a task is a backend leaving: wanted stopped (or removed) while still running, with an
// address on some network.
bool LeavingBackend(const spec::Task& t);
// Of `tasks` (one node's), the leaving backends still held: some other node's applied mesh
// (`applied`, by node id) still has one of its addresses, and less than kDrainLimit has passed
// since `since` (by task id; a task not in it counts from now).
std::set<std::string> HeldBackends(const std::string& node_id, const std::vector<spec::Task>& tasks,
                                   const std::map<std::string, std::set<std::string>>& applied,
                                   const std::map<std::string, MonoTime>& since, MonoTime now);

// The node a connection's certificate names, after checking its swarm and that it was not
// removed (PERMISSION_DENIED otherwise).
StatusOr<spec::Node> AuthenticateNode(Manager& m, const api::Conn& conn);

class Dispatcher {
 public:
  Dispatcher(Manager& manager, const Clock& clock) : manager_(manager), clock_(clock) {}

  void HandleJoin(api::Request& req, api::Conn& conn);
  void HandleHeartbeat(api::Request& req, api::Conn& conn);
  void HandleRenew(api::Request& req, api::Conn& conn);
  void HandleAssignments(api::Request& req, api::Conn& conn);
  void HandleTaskStatus(api::Request& req, api::Conn& conn);
  void HandleAttach(api::Request& req, api::Conn& conn);
  void HandleDetach(api::Request& req, api::Conn& conn);
  // The tasks changed (the leader's watch): long polls look again.
  void TasksChanged();
  // The leader's watch of the tasks: long polls look again unless only the status of tasks
  // without network attachments changed (a node's own reports: TaskShape).
  void TaskEvents(const std::vector<etcd::WatchEvent>& events);
  // The manager is stopping: long polls answer at once and no new one waits.
  void Shutdown();

  // This manager became the leader: every node gets a full grace period from now.
  void BecomeLeader();
  void LoseLeadership();
  // Marks nodes Down whose last heartbeat is older than 2.5 periods (leader only).
  void CheckDown(Duration period);

 private:
  // On a follower: answers where the leader is (the node goes there) and returns true.
  bool RedirectToLeader(api::Conn& conn);
  // A node that left or is Down: what it applied holds no leaving backend any more.
  void ForgetMeshLocked(const std::string& node_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Manager& manager_;
  const Clock& clock_;
  StateMutex mu_;
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  MonoTime leading_since_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, MonoTime> last_seen_ ABSL_GUARDED_BY(mu_);
  absl::CondVar tasks_cv_;
  uint64_t tasks_generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::string> task_shapes_ ABSL_GUARDED_BY(mu_);  // by task key
  // The drain (kDrainLimit): by node, the digest last answered and the backends of that set's
  // mesh; the backends of the set each node has applied (it polled with that digest); and when
  // each leaving backend was first seen leaving.
  struct Answered {
    std::string digest;
    std::set<std::string> backends;
  };
  std::map<std::string, Answered> answered_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<std::string>> applied_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, MonoTime>> leaving_since_  // by node, task
      ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace berth::cluster
