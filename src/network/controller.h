#pragma once
// Controller: the Container Network Model on one host. Networks (bridge, macvlan, host, null) are
// made of kernel objects their driver owns; each running container has a Sandbox (a network
// namespace bind-mounted at <exec-root>/netns/<12 hex>) holding one Endpoint per network it is
// attached to. Attachments (which networks a container belongs to, with its aliases and static
// address) live as long as the container; endpoints and sandboxes only while it runs, as in Docker.
//
// Threading (docs/architecture.md, "Concurrency"): mu_ is a state lock over the maps below, held
// only to read or change them, never while the kernel, SQLite, the DNS thread or the firewall
// works. Slow work on one container (its sandbox, connect, disconnect) is serialised by that
// container's operation lock; a network being created or removed is marked so (its phase) while
// its kernel objects are made or deleted. A change is planned under mu_ (addresses, names,
// interface names reserved), carried out with no lock held, and committed under mu_; the
// firewall gets the model of the committed state, tagged with a generation (firewall::Applier
// coalesces and orders them), and the embedded DNS reads an immutable NameIndex snapshot.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/fd.h"
#include "common/keyed_locks.h"
#include "common/snapshot.h"
#include "common/sync.h"
#include "engine/containers.h"
#include "engine/events.h"
#include "engine/store.h"
#include "network/driver.h"
#include "network/kernel.h"
#include "network/firewall/applier.h"
#include "network/ipam/ipam.h"
#include "network/mesh/mesh.h"
#include "network/name_index.h"
#include "network/network_service.h"
#include "network/swarm.h"
#include "spec/container.h"
#include "spec/host_config.h"

namespace berth::network {

namespace dns {
class Server;
}

struct ControllerOptions {
  std::string exec_root;
  std::string default_bridge = "berth0";
  std::string default_subnet = "172.17.0.0/16";
  // berthd --ipv6 --fixed-cidr-v6 (daemon.json "ipv6", "fixed-cidr-v6"): the default bridge's IPv6
  // subnet; "" keeps it IPv4-only. Applied to the default bridge at every start.
  std::string default_subnet6;
  bool dns = true;
};

// What the controller needs to know of a container for connect/disconnect.
struct ContainerRef {
  std::string id;
  std::string name;
  bool running = false;
};
using ContainerLookup = std::function<StatusOr<ContainerRef>(const std::string& name_or_id)>;

class SwarmDriver;

class Controller : public engine::NetworkAttacher, public NetworkService, public SwarmNetworks {
 public:
  // The kernel and the drivers are given (tests give fakes); dns may be null (no embedded DNS).
  Controller(engine::Store& store, engine::EventBus& events, const Clock& clock,
             ControllerOptions opts, NetKernel& kernel, firewall::Applier& firewall, dns::Server* dns);
  // Before Recover: a driver for networks of its Name().
  void AddDriver(std::unique_ptr<Driver> driver);
  ~Controller() override;

  // Loads state, makes the default networks, re-creates missing bridges, re-opens sandboxes.
  Status Recover();
  // After the containers recovered: removes sandboxes, links and namespaces that no running
  // container owns, and applies the firewall.
  Status Reconcile(const std::set<std::string>& running_container_ids);
  void SetContainerLookup(ContainerLookup lookup) { lookup_ = std::move(lookup); }

  // NetworkService
  StatusOr<NetworkCreateResult> CreateNetwork(const spec::NetworkCreateRequest& request) override;
  StatusOr<NetworkView> InspectNetwork(const std::string& name) override;
  StatusOr<std::vector<NetworkView>> ListNetworks(const spec::Filters& filters) override;
  Status RemoveNetwork(const std::string& name) override;
  StatusOr<std::vector<std::string>> PruneNetworks(const spec::Filters& filters) override;
  Status Connect(const std::string& network, const spec::NetworkConnect& request) override;
  Status Disconnect(const std::string& network, const spec::NetworkDisconnect& request) override;

  // engine::NetworkAttacher
  Status Validate(const spec::HostConfig& host_config,
                  const spec::NetworkingConfig& networking) override;
  Status Attach(const std::string& id, const std::string& name, const spec::HostConfig& host_config,
                const spec::NetworkingConfig& networking) override;
  void Detach(const std::string& id) override;
  StatusOr<Sandbox> Setup(const std::string& id, const std::string& name,
                          const spec::ContainerConfig& config,
                          const spec::HostConfig& host_config) override;
  void Teardown(const std::string& id) override;
  std::optional<spec::NetworkSettings> Settings(const std::string& id) override;
  void Rename(const std::string& id, const std::string& name) override;

  // Embedded DNS: the addresses `name` has on the user-defined networks of container `id`. Reads
  // the current NameIndex snapshot only: never waits for the controller.
  std::vector<std::string> Resolve(const std::string& container_id, const std::string& name);

  // SwarmNetworks (controller_swarm.cc): swarm networks live in memory only (the managers hand
  // them out again after a restart), are made by the driver named by their spec (a SwarmDriver,
  // "overlay"), and are listed, inspected and joined like local ones while present. Each has an
  // address allocator of its own, so overlays may overlap each other and local networks.
  Status SetVtep(const std::string& local_ip) override;
  Status SetSwarmNetworks(const std::vector<SwarmNetworkSpec>& wanted) override;
  Status SetPeers(const std::string& network_id, const std::vector<OverlayPeer>& peers) override;
  // The routing mesh and VIPs (controller_mesh.cc).
  Status SetMesh(const MeshSpec& mesh) override;
  // One more swarm network wanted now, beside the agent's set (a container attaching to an
  // attachable network the leader just gave it an address on).
  Status AddSwarmNetwork(const SwarmNetworkSpec& network);

  // How a container joins an attachable swarm network this node does not have yet: `attach` asks
  // the managers (the cluster's agent) for the network and the container's address on it;
  // `detach` releases a container's addresses when it is removed. Set once, before the API
  // serves; unset outside a swarm-capable daemon.
  struct SwarmAttacher {
    std::function<StatusOr<std::pair<SwarmNetworkSpec, std::string>>(
        const std::string& network, const std::string& container_id, const std::string& name)>
        attach;
    std::function<void(const std::string& container_id)> detach;
    std::function<bool()> in_swarm;  // whether asking makes sense now (the node is in a swarm)
  };
  void SetSwarmAttacher(SwarmAttacher a) { attacher_ = std::move(a); }

  // What SetMesh needs beyond the spec (controller_mesh.cc). Set once, before the agent runs.
  // The node's own namespace (its mesh table, its ingress endpoint `berth_ingress`, the ports the
  // mesh holds) is the namespace of the thread calling SetMesh: berthd's.
  struct MeshOptions {
    std::string nft_helper;  // berth-nft
    // How a namespace's table is made (tests give a fake); mesh::NewHelperTable when unset.
    std::function<StatusOr<std::unique_ptr<mesh::Table>>(const mesh::TableOptions&)> new_table;
  };
  void SetMeshOptions(MeshOptions o) ABSL_LOCKS_EXCLUDED(mesh_ops_);
  // The name of the node's ingress endpoint in its own namespace (Docker's ingress-endpoint).
  static constexpr char kIngressLink[] = "berth_ingress";

 private:
  struct Network;
  struct Attachment;
  struct ContainerNet;
  struct Endpoint;
  struct SandboxState;
  struct PortMap;

  // ---- under mu_ ----
  Network* FindNetworkLocked(const std::string& name, Status* st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Driver* DriverFor(const std::string& driver);
  // The firewall model of the committed state, with a new generation.
  std::pair<uint64_t, firewall::Model> FirewallModelLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<const NameIndex> NameIndexLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  NetworkView ViewLocked(const Network& n, bool with_containers) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  spec::EndpointSettings EndpointSettingsLocked(const Attachment& a, const Endpoint* ep)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string DefaultGatewayLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Releases the addresses of endpoints that were planned or have left.
  void ReleaseAddressesLocked(const std::vector<Endpoint>& eps) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Plans an endpoint of container c on attachment a inside sandbox sb: an address, interface
  // names, a MAC. Nothing in the kernel yet.
  StatusOr<Endpoint> PlanEndpointLocked(SandboxState& sb, const ContainerNet& c, const Attachment& a,
                                        bool first) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ---- with no lock held ----
  // Publishes the committed state: the name index for DNS and the firewall model. The change is
  // in the kernel when this returns OK.
  Status Publish(uint64_t generation, firewall::Model model, std::shared_ptr<const NameIndex> names);
  Status Persist(const std::string& kind, const std::string& id, const std::string& doc);
  // Joins every planned endpoint; on failure the ones made are removed again.
  Status JoinAll(SandboxState& sb, std::vector<Endpoint>& eps);
  void LeaveAll(SandboxState& sb, const std::vector<Endpoint>& eps);
  std::vector<DriverNetwork*> KernelsOf(const std::vector<Endpoint>& eps);
  struct PortTarget;
  StatusOr<std::vector<PortMap>> ReservePorts(const PortTarget& target,
                                              const spec::ContainerConfig& config,
                                              const spec::HostConfig& host_config);
  // Tears a sandbox down (it is out of sandboxes_ already; `kernels` are its endpoints' networks):
  // DNS, firewall, kernel, store, addresses.
  struct Removal;
  void Destroy(Removal r);
  // Registers the sandbox with the embedded DNS (user-defined networks), forwarding to the
  // container's --dns servers or the host's. OK when already served.
  Status ServeDns(const SandboxState& sb, std::vector<std::string> upstreams);
  // Teardown with the container's operation lock held by the caller.
  void TeardownHeld(const std::string& id);

  // ---- swarm networks (controller_swarm.cc) ----
  Status SetSwarmNetworksHeld(const std::vector<SwarmNetworkSpec>& wanted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(swarm_ops_);
  // Asks the attacher for the networks of `net` that are not on this node (attachable swarm
  // networks), makes them here and puts the addresses given into the endpoint configs. No lock held.
  Status AttachSwarmNetworks(const std::string& id, const std::string& name,
                             const std::string& primary, spec::NetworkingConfig* net);
  SwarmDriver* SwarmDriverFor(const std::string& driver);
  // The allocator of a network's addresses: its own for a swarm network, else the shared one.
  ipam::Allocator& AllocatorForLocked(const std::string& network_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the swarm networks that are no longer wanted and that no container is attached to.
  // Takes swarm_ops_; callers may hold a container's operation lock (container -> network order).
  void ReapSwarmNetworks() ABSL_LOCKS_EXCLUDED(swarm_ops_);
  // Removes swarm network `id` if no container is attached (else PermissionDenied with Docker's
  // "has active endpoints" text), with swarm_ops_ held.
  Status RemoveSwarmNetworkHeld(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(swarm_ops_);
  // docker_gwbridge, made on first need: the network id, or "" when a container on `attachments`
  // needs none (it has a network that gives it a default route, or only internal ones).
  StatusOr<std::string> GatewayBridgeFor(const std::vector<std::string>& attached_network_ids);
  bool NeedsGatewayBridgeLocked(const std::vector<std::string>& attached_network_ids)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  engine::Store& store_;
  engine::EventBus& events_;
  const Clock& clock_;
  const ControllerOptions opts_;
  // Sets the default bridge's IPv6 (spec and IPAM config) from opts_; true when it changed.
  StatusOr<bool> ConfigureDefaultIpv6(Network& n);
  firewall::Applier& firewall_;
  dns::Server* const dns_;
  ContainerLookup lookup_;

  NetKernel& kernel_;
  std::map<std::string, std::unique_ptr<Driver>> drivers_;  // by name; fixed before Recover
  KeyedLocks ops_;  // per-container operation locks

  StateMutex mu_;
  std::unique_ptr<ipam::Allocator> ipam_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Network>> networks_ ABSL_GUARDED_BY(mu_);  // by id
  std::map<std::string, std::unique_ptr<ContainerNet>> containers_ ABSL_GUARDED_BY(mu_);  // by id
  std::map<std::string, std::unique_ptr<SandboxState>> sandboxes_ ABSL_GUARDED_BY(mu_);  // by container id
  uint64_t firewall_generation_ ABSL_GUARDED_BY(mu_) = 0;
  Snapshot<NameIndex> names_;

  // Swarm networks: an operation lock serialising the agent's calls, reaping and a local rm of
  // one (taken after a container's operation lock, before mu_); each network's allocator; the
  // last peer table the agent gave per network id (applied when the network is made).
  absl::Mutex swarm_ops_ ABSL_ACQUIRED_BEFORE(mu_);
  bool swarm_orphans_checked_ ABSL_GUARDED_BY(swarm_ops_) = false;
  std::map<std::string, std::unique_ptr<ipam::Allocator>> swarm_ipam_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<OverlayPeer>> swarm_peers_ ABSL_GUARDED_BY(mu_);
  std::vector<SwarmNetworkSpec> swarm_wanted_ ABSL_GUARDED_BY(swarm_ops_);  // the agent's set and additions
  SwarmAttacher attacher_;  // set before the API serves, then only read

  // ---- the routing mesh and VIPs (controller_mesh.cc) ----
  // The VIP names of the mesh as NameIndex entries on the networks in `dns_networks`.
  void MeshNameEntriesLocked(const std::map<std::string, std::string>& dns_networks,
                             std::vector<NameIndex::Entry>* entries) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The ingress-sbox entry of network n's Containers map, when n is this node's ingress network.
  void MeshViewLocked(const Network& n, NetworkView* v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After container `id` joined or left a network (its operation lock held, no other lock): its
  // namespace balances the VIPs of the swarm networks it is on now.
  void MeshContainerChanged(const std::string& id) ABSL_LOCKS_EXCLUDED(mesh_ops_, mu_);
  struct MeshTarget;
  // Applies each target's Model where it changed since the last apply; forgets containers that
  // are gone (when `all`: every target is listed).
  Status ApplyContainerMeshesHeld(const std::vector<MeshTarget>& targets, bool all)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mesh_ops_);
  std::vector<MeshTarget> MeshTargetsLocked(const std::string& only_container) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Status SyncIngressEndpointHeld(const std::string& network_id, const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mesh_ops_);
  StatusOr<std::unique_ptr<mesh::Table>> NewMeshTable(const mesh::TableOptions& o)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mesh_ops_);

  // An operation lock over the mesh's kernel state: taken after swarm_ops_ and after a
  // container's operation lock, before mu_; held while berth-nft applies tables.
  absl::Mutex mesh_ops_ ABSL_ACQUIRED_AFTER(swarm_ops_) ABSL_ACQUIRED_BEFORE(mu_);
  MeshOptions mesh_opts_ ABSL_GUARDED_BY(mesh_ops_);
  MeshSpec mesh_spec_ ABSL_GUARDED_BY(mesh_ops_);
  std::unique_ptr<mesh::Table> mesh_table_ ABSL_GUARDED_BY(mesh_ops_);  // the node's namespace
  std::string mesh_rendered_ ABSL_GUARDED_BY(mesh_ops_);  // what it holds (mesh::Render), "" none
  bool mesh_orphan_checked_ ABSL_GUARDED_BY(mesh_ops_) = false;  // a table an earlier run left
  // Per container: its sandbox id, the rendered Model its namespace holds, its table.
  struct MeshContainer {
    std::string sandbox_id;
    std::string rendered;
    std::set<std::string> loose_ifnames;  // its interfaces whose rp_filter is loose already
    std::unique_ptr<mesh::Table> table;
  };
  std::map<std::string, MeshContainer> mesh_containers_ ABSL_GUARDED_BY(mesh_ops_);
  // The sockets holding the mesh's published ports on the node, by (proto, port).
  std::map<std::pair<std::string, int>, UniqueFd> mesh_port_fds_ ABSL_GUARDED_BY(mesh_ops_);
  // Read by Validate, the DNS snapshot and inspect:
  std::set<std::pair<std::string, int>> mesh_ports_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::pair<std::string, std::vector<std::string>>>> mesh_names_
      ABSL_GUARDED_BY(mu_);
  std::string mesh_ingress_network_ ABSL_GUARDED_BY(mu_);  // "" without an ingress endpoint
  NetworkView::Endpoint mesh_ingress_ep_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::network
