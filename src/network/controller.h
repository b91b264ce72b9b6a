#pragma once
// Controller: the Container Network Model on one host. Networks (bridge, macvlan, host, null)
// are made of kernel objects their driver owns; each running container has a Sandbox (a
// network namespace bind-mounted at <exec-root>/netns/<12 hex>) holding one Endpoint per
// network it is attached to. Attachments (which networks a container belongs to, with its
// aliases and static address) live as long as the container; endpoints and sandboxes only while
// it runs, as in Docker.
//
// Every change is one store transaction plus one firewall transaction. Threading: one mutex
// (mu_) guards all state; the DNS server thread reads the name index under it.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/fd.h"
#include "engine/containers.h"
#include "engine/events.h"
#include "engine/store.h"
#include "network/driver.h"
#include "network/firewall/firewall.h"
#include "network/ipam/ipam.h"
#include "nlohmann/json.hpp"

namespace berth::network {

namespace dns {
class Server;
}

struct ControllerOptions {
  std::string exec_root;
  std::string default_bridge = "berth0";
  std::string default_subnet = "172.17.0.0/16";
  bool dns = true;
};

// What the controller needs to know of a container for connect/disconnect.
struct ContainerRef {
  std::string id;
  std::string name;
  bool running = false;
  nlohmann::json config;
  nlohmann::json host_config;
};
using ContainerLookup = std::function<StatusOr<ContainerRef>(const std::string& name_or_id)>;

class Controller : public engine::NetworkAttacher {
 public:
  Controller(engine::Store& store, engine::EventBus& events, const Clock& clock,
             ControllerOptions opts, firewall::Firewall& firewall, dns::Server* dns);
  ~Controller() override;

  // Loads state, makes the default networks, re-creates missing bridges, re-opens sandboxes.
  Status Recover();
  // After the containers recovered: removes sandboxes, links and namespaces that no running
  // container owns, and applies the firewall.
  Status Reconcile(const std::set<std::string>& running_container_ids);
  void SetContainerLookup(ContainerLookup lookup) { lookup_ = std::move(lookup); }

  // Engine API
  StatusOr<nlohmann::json> CreateNetwork(const nlohmann::json& body);
  StatusOr<nlohmann::json> InspectNetwork(const std::string& name);
  StatusOr<std::vector<nlohmann::json>> ListNetworks(const nlohmann::json& filters);
  Status RemoveNetwork(const std::string& name);
  StatusOr<nlohmann::json> Prune(const nlohmann::json& filters);
  Status Connect(const std::string& network, const std::string& container,
                 const nlohmann::json& endpoint_config);
  Status Disconnect(const std::string& network, const std::string& container, bool force);

  // engine::NetworkAttacher
  Status Validate(const nlohmann::json& host_config, const nlohmann::json& networking) override;
  Status Attach(const std::string& id, const std::string& name, const nlohmann::json& host_config,
                const nlohmann::json& networking) override;
  void Detach(const std::string& id) override;
  StatusOr<Sandbox> Setup(const std::string& id, const std::string& name,
                          const nlohmann::json& config, const nlohmann::json& host_config,
                          const nlohmann::json& networking) override;
  void Teardown(const std::string& id) override;
  nlohmann::json Settings(const std::string& id, const nlohmann::json& host_config) override;
  void Rename(const std::string& id, const std::string& name) override;

  // Embedded DNS: the addresses `name` has on the user-defined networks of container `id`.
  std::vector<std::string> Resolve(const std::string& container_id, const std::string& name);

 private:
  struct Network;
  struct Attachment;
  struct ContainerNet;
  struct Endpoint;
  struct SandboxState;
  struct PortMap;

  Network* FindNetworkLocked(const std::string& name, Status* st);
  Driver* DriverFor(const std::string& driver);
  Status PersistNetworkLocked(const Network& n);
  Status PersistIpamLocked();
  Status PersistContainerLocked(const ContainerNet& c);
  Status PersistSandboxLocked(const SandboxState& s);
  Status CreateNetworkLocked(Network* n, const ipam::PoolRequest& req);
  Status JoinLocked(SandboxState& sb, ContainerNet& c, Attachment& a, bool first);
  // sandbox_going: the whole sandbox is being torn down, so links may be deleted in the background.
  void LeaveLocked(SandboxState& sb, const std::string& network_id, bool sandbox_going = false);
  Status PublishPortsLocked(SandboxState& sb, ContainerNet& c, const nlohmann::json& config,
                            const nlohmann::json& host_config);
  void TeardownLocked(const std::string& id);
  Status ApplyFirewallLocked();
  nlohmann::json InspectLocked(const Network& n);
  nlohmann::json EndpointSettingsLocked(const ContainerNet& c, const Attachment& a,
                                        const Endpoint* ep);
  // Registers the sandbox with the embedded DNS (user-defined networks), forwarding to the
  // container's --dns servers or the host's. OK when already served.
  Status ServeDnsLocked(const SandboxState& sb);
  std::string DefaultGatewayLocked() const;  // the default bridge's gateway: --add-host host-gateway

  engine::Store& store_;
  engine::EventBus& events_;
  const Clock& clock_;
  ControllerOptions opts_;
  firewall::Firewall& firewall_;
  dns::Server* dns_;
  ContainerLookup lookup_;

  std::mutex mu_;
  std::unique_ptr<sys::Rtnl> host_rtnl_;
  std::unique_ptr<BridgeDriver> bridge_driver_;
  std::unique_ptr<Driver> macvlan_driver_;
  std::unique_ptr<ipam::Allocator> ipam_;                       // guarded by mu_
  std::map<std::string, std::unique_ptr<Network>> networks_;    // guarded by mu_; by id
  std::map<std::string, std::unique_ptr<ContainerNet>> containers_;  // guarded by mu_; by container id
  std::map<std::string, std::unique_ptr<SandboxState>> sandboxes_;   // guarded by mu_; by container id
};

}  // namespace berth::network
