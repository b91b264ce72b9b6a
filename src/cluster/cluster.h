#pragma once
// Cluster: this node's part in swarm mode, behind the Engine API's /swarm, /nodes and info's
// "Swarm" section (docs/swarm.md).
//
// A node is inactive, a worker, or a manager. Every active node runs an Agent, which holds a
// session with the leader's dispatcher over mutual TLS on the cluster port (2377): heartbeats
// every Dispatcher.HeartbeatPeriod, the manager list, its desired role, certificate renewal. A
// manager also runs a Manager: an etcd member (the cluster store), the cluster port's server
// (join, heartbeat, renew), and a campaign for leadership (an etcd key on a lease); the leader runs
// the dispatcher, which marks nodes Ready on their heartbeats and Down when they stop.
//
// What a node keeps under <data-root>/swarm (mode 0700): state.json (its id, role, addresses, the
// managers it knows), certificates/ (the root, its certificate and key, mode 0600), etcd/ (a
// manager's member data). A restarted berthd resumes from there: no token is needed.
//
// Threading: every method may be called from any thread. Init, Join, Leave and the membership
// changes are serialised by an operation lock held across their slow work (etcd, the network,
// subprocesses); the state lock guards only in-memory state and is never held while waiting.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "engine/container_service.h"
#include "common/status.h"
#include "cluster/networks.h"
#include "network/swarm.h"
#include "spec/network.h"
#include "spec/service.h"
#include "spec/swarm.h"

namespace berth::cluster {

struct ClusterOptions {
  std::string data_root;                  // the daemon's; swarm state goes in <data_root>/swarm
  std::string etcd_binary = "etcd";       // Debian's etcd-server
  int etcd_client_port = 2379;            // on 127.0.0.1 only
  int etcd_peer_port = 2380;              // on the advertise address
  const Clock* clock = nullptr;           // required
  // What the node tells the managers about itself (hostname, platform, resources, engine).
  spec::NodeDescription description;
  // The engine that runs this node's tasks (null: the node runs none, as in some tests).
  engine::ContainerService* containers = nullptr;
  // Makes an image present on this node, pulling it from its registry when missing, with the
  // service's X-Registry-Auth when it has one ("" = anonymously).
  std::function<Status(const std::string& image, const std::string& registry_auth)> ensure_image;
  // Where tasks' secrets and configs are mounted (a tmpfs each): <exec-root>/swarm/tasks.
  std::string run_root;
  // The node's swarm networks go here (the network controller); null: nowhere.
  network::SwarmNetworks* networks = nullptr;
};

// A container's attachment to an attachable swarm network: the network and its address there.
struct ContainerAttachment {
  network::SwarmNetworkSpec network;
  std::string ip;
};

// Query flags of POST /swarm/update.
struct SwarmUpdateFlags {
  bool rotate_worker_token = false;
  bool rotate_manager_token = false;
  bool rotate_manager_unlock_key = false;
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions opts);
  ~Cluster();  // Stop()
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Resumes the node's part from <data_root>/swarm, if it has one. Never fails the daemon's
  // start: a swarm that cannot be resumed is logged and shown in info's Error.
  void Start();
  // Stops the agent and the manager (etcd too); the node stays in the swarm for the next Start.
  void Stop();

  // POST /swarm/init: the new node's id.
  StatusOr<std::string> Init(const spec::SwarmInitRequest& req);
  // POST /swarm/join
  Status Join(const spec::SwarmJoinRequest& req);
  // POST /swarm/leave
  Status Leave(bool force);
  // GET /swarm
  StatusOr<spec::Swarm> Inspect();
  // POST /swarm/update
  Status Update(const spec::SwarmSpec& spec, uint64_t version, const SwarmUpdateFlags& flags);

  // GET /nodes (every node, with ManagerStatus), GET /nodes/{id} (id, id prefix or hostname).
  StatusOr<std::vector<spec::Node>> Nodes();
  StatusOr<spec::Node> GetNode(const std::string& ref);
  // POST /nodes/{id}/update
  Status UpdateNode(const std::string& ref, uint64_t version, const spec::NodeSpec& spec);
  // DELETE /nodes/{id}
  Status RemoveNode(const std::string& ref, bool force);

  // Services, tasks, secrets and configs (cluster_services.cc); a reference is an id, a name or
  // a unique id prefix. Docker's refusals and messages.
  // registry_auth: the request's X-Registry-Auth (`--with-registry-auth`; "" = none), kept
  // sealed with the service and given to the nodes that run its tasks for their pulls.
  StatusOr<spec::ServiceCreateResponse> CreateService(const spec::ServiceSpec& spec,
                                                      const std::string& registry_auth = "");
  // With ServiceStatus (running and desired tasks) when `status`.
  StatusOr<std::vector<spec::Service>> Services(bool status);
  StatusOr<spec::Service> GetService(const std::string& ref);
  // `rollback`: back to PreviousSpec (?rollback=previous), `spec` ignored. The new spec's
  // registry auth, as dockerd's: registry_auth when given, else the current spec's, or the
  // previous spec's with registry_auth_from "previous-spec" (?registryAuthFrom=).
  StatusOr<spec::ServiceUpdateResponse> UpdateService(const std::string& ref, uint64_t version,
                                                      const spec::ServiceSpec& spec,
                                                      bool rollback,
                                                      const std::string& registry_auth = "",
                                                      const std::string& registry_auth_from = "");
  Status RemoveService(const std::string& ref);
  StatusOr<std::vector<spec::Task>> Tasks();
  StatusOr<spec::Task> GetTask(const std::string& ref);
  StatusOr<std::string> CreateSecret(const spec::SecretSpec& spec);
  StatusOr<std::vector<spec::Secret>> Secrets();  // without their data
  StatusOr<spec::Secret> GetSecret(const std::string& ref);
  Status UpdateSecret(const std::string& ref, uint64_t version, const spec::SecretSpec& spec);
  Status RemoveSecret(const std::string& ref);
  StatusOr<std::string> CreateConfig(const spec::ConfigSpec& spec);
  StatusOr<std::vector<spec::Config>> Configs();  // with their data
  StatusOr<spec::Config> GetConfig(const std::string& ref);
  Status UpdateConfig(const std::string& ref, uint64_t version, const spec::ConfigSpec& spec);
  Status RemoveConfig(const std::string& ref);

  // Swarm networks (cluster_networks.cc): POST /networks/create of an overlay on a manager (the
  // new id), the records, one by id, name or unique id prefix, and DELETE (refused while a
  // service uses it, with swarmkit's words).
  StatusOr<std::string> CreateNetwork(const spec::NetworkCreateRequest& req);
  StatusOr<std::vector<NetworkRecord>> Networks();
  StatusOr<NetworkRecord> GetNetwork(const std::string& ref);
  Status RemoveNetwork(const std::string& ref);

  // A container of this node joins an attachable swarm network (any active node: the leader
  // gives the address), and leaves all of them (best effort).
  StatusOr<ContainerAttachment> AttachContainer(const std::string& network,
                                                const std::string& container_id,
                                                const std::string& container_name);
  Status DetachContainer(const std::string& container_id);

  // The "Swarm" section of GET /info.
  spec::SwarmInfo Info();
  // Whether this node is a manager (the API refuses cluster reads on others).
  bool IsManager();
  // Whether this node is in a swarm (cheap: its in-memory state only).
  bool Active();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Docker's refusals.
inline constexpr char kNotInSwarm[] = "This node is not part of a swarm";
inline constexpr char kNotManager[] =
    "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. "
    "Please run this command on a manager node or promote the current node to a manager.";
inline constexpr char kAlreadyInSwarm[] =
    "This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join "
    "another one.";

}  // namespace berth::cluster
