#pragma once
// The swarm's state in etcd, typed. Every manager reads and writes it through its own etcd member;
// workers never see it. Keys (values are JSON):
//   /berth/swarm/cluster           the ClusterInfo (spec.Swarm without the join tokens)
//   /berth/swarm/ca                {"cert": root PEM, "key": root key PEM}
//   /berth/swarm/tokens            {"worker": secret, "manager": secret}
//   /berth/swarm/nodes/<id>        a spec::Node (ManagerStatus: its Addr only; the rest is computed)
//   /berth/swarm/removed/<id>      a removed node: its certificate is refused from then on
//   /berth/swarm/leader            {"node_id", "addr"}, on the leader's lease
//   /berth/swarm/services/<id>     a spec::Service (store_services.cc)
//   /berth/swarm/tasks/<id>        a spec::Task
//   /berth/swarm/secrets/<id>      a spec::Secret, its Data sealed (cluster/secret_box.h)
//   /berth/swarm/configs/<id>      a spec::Config, its Data sealed
//   /berth/swarm/networks/<id>     a swarm network (cluster/networks.h; store_networks.cc)
//   /berth/swarm/vnis/<vni>, /berth/swarm/pools/<subnet>  the VNI and pooled subnet a network holds
//   /berth/swarm/attachments/<id>  a container attached to an attachable swarm network
//   /berth/swarm/addrs/<network>/<ip>  who holds that address on that swarm network
//   /berth/swarm/names/<kind>/<name>  the id of the service, secret, config or network of that
//                                  name (unique per kind: created and deleted with the record)
// A record's Version.Index is its key's etcd mod_revision, so an update names the revision it
// read and is refused if another write came between ("update out of sequence", as swarmkit).
//
// Errors: etcd's "no quorum" becomes Docker's 503 "The swarm does not have a leader. ..." for
// reads and writes alike; everything else keeps its code with the operation named.
//
// Threading: stateless beyond the client (and the snapshot it may read); any thread.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/etcd/client.h"
#include "cluster/networks.h"
#include "cluster/orchestrator/reconcile.h"
#include "common/status.h"
#include "spec/service.h"
#include "spec/swarm.h"

namespace berth::cluster {

inline constexpr char kNoLeaderMessage[] =
    "The swarm does not have a leader. It's possible that too few managers are online. Make sure "
    "more than half of the managers are online.";

struct CaRecord {
  std::string cert_pem;
  std::string key_pem;
};

struct TokenSecrets {
  std::string worker;
  std::string manager;
};

struct LeaderRecord {
  std::string node_id;
  std::string addr;  // "IP:2377"
};

class Store {
 public:
  explicit Store(std::shared_ptr<etcd::Client> etcd) : etcd_(etcd), reader_(std::move(etcd)) {}
  // The same store whose plain reads (the List*, Get* and ReadView calls below) come from
  // `reader` (a StoreMirror's snapshot: no round trip, at the snapshot's revision); writes, and
  // the reads a write depends on, still go to etcd.
  Store Reading(std::shared_ptr<etcd::KvReader> reader) const {
    return Store(etcd_, std::move(reader));
  }
  etcd::Client& etcd() { return *etcd_; }

  // The first records of a new swarm, in one transaction (refused if a cluster exists).
  Status Bootstrap(const spec::ClusterInfo& cluster, const CaRecord& ca, const TokenSecrets& tokens,
                   const spec::Node& first);

  StatusOr<spec::ClusterInfo> GetCluster();
  // Replaces the cluster record if it is still at `version` (its mod revision).
  Status UpdateCluster(const spec::ClusterInfo& cluster, uint64_t version);
  StatusOr<CaRecord> GetCa();
  StatusOr<TokenSecrets> GetTokens();
  Status PutTokens(const TokenSecrets& tokens);

  StatusOr<std::vector<spec::Node>> ListNodes();
  // NOT_FOUND "node <id> not found" when missing.
  StatusOr<spec::Node> GetNode(const std::string& id);
  // Creates a node record (refused if the id exists).
  Status CreateNode(const spec::Node& node);
  // Writes node if its record is still at `version`; returns the new version.
  StatusOr<uint64_t> UpdateNode(const spec::Node& node, uint64_t version);
  // Deletes the node and records it as removed, in one transaction.
  Status RemoveNode(const std::string& id);
  StatusOr<bool> IsRemoved(const std::string& id);

  StatusOr<std::optional<LeaderRecord>> GetLeader();
  // Takes the leadership if nobody holds it. `won` when this node is now the leader; else who
  // holds it, as of `revision`.
  struct CampaignResult {
    bool won = false;
    std::optional<LeaderRecord> holder;
    int64_t revision = 0;
  };
  StatusOr<CampaignResult> Campaign(const LeaderRecord& me, int64_t lease);

  // Services, tasks, secrets and configs (store_services.cc). Reads of one record answer
  // NOT_FOUND "<kind> <id> not found"; a create whose name is taken is Docker's
  // "rpc error: code = AlreadyExists desc = name conflicts with an existing object".
  StatusOr<std::vector<spec::Service>> ListServices();
  StatusOr<spec::Service> GetService(const std::string& id);
  Status CreateService(const spec::Service& s);
  Status UpdateService(const spec::Service& s, uint64_t version);
  Status RemoveService(const std::string& id);
  StatusOr<std::vector<spec::Task>> ListTasks();
  StatusOr<spec::Task> GetTask(const std::string& id);
  // Writes t if its record is still at `version`; FAILED_PRECONDITION when it moved on.
  Status UpdateTask(const spec::Task& t, uint64_t version);
  // The same for several tasks (distinct ids) in one transaction: all are written, or none when
  // any record moved on (FAILED_PRECONDITION).
  Status UpdateTasks(const std::vector<std::pair<spec::Task, uint64_t>>& tasks);
  StatusOr<std::vector<spec::Secret>> ListSecrets();
  StatusOr<spec::Secret> GetSecret(const std::string& id);
  Status CreateSecret(const spec::Secret& s);
  Status UpdateSecret(const spec::Secret& s, uint64_t version);
  Status RemoveSecret(const std::string& id);
  StatusOr<std::vector<spec::Config>> ListConfigs();
  StatusOr<spec::Config> GetConfig(const std::string& id);
  Status CreateConfig(const spec::Config& c);
  Status UpdateConfig(const spec::Config& c, uint64_t version);
  Status RemoveConfig(const std::string& id);

  // Swarm networks (store_networks.cc). CreateNetwork allocates the VNI, and the subnet when the
  // record has none (from `pools`, `subnet_size` bits), and returns the record as written; a name
  // that is taken is swarmkit's AlreadyExists. RemoveNetwork is conditional on n.version.
  StatusOr<std::vector<NetworkRecord>> ListNetworks();
  StatusOr<NetworkRecord> GetNetwork(const std::string& id);
  StatusOr<NetworkRecord> CreateNetwork(NetworkRecord n, const std::vector<std::string>& pools,
                                        uint32_t subnet_size);
  Status RemoveNetwork(const NetworkRecord& n);
  // Containers attached to attachable swarm networks. CreateAttachment gives `a` the lowest free
  // address of n (an address key per network holds each one: /berth/swarm/addrs/<net>/<ip>),
  // conditional on n being still at n.version; NOT_FOUND once n is gone.
  StatusOr<std::vector<AttachmentRecord>> ListAttachments();
  StatusOr<AttachmentRecord> CreateAttachment(AttachmentRecord a, const NetworkRecord& n);
  Status RemoveAttachment(const AttachmentRecord& a);
  // Gives each new task an address on every swarm network its spec names (the lowest free one,
  // NetworksAttachments as swarmkit's), adding the address keys to the plan's transaction, each
  // conditional on being free. A task's addresses are held as long as its record exists.
  // A task of a service that publishes a port in ingress mode is on the ingress network too
  // (first, as in swarmkit). `services` is the view the tasks were planned from.
  Status AddTaskAddresses(std::vector<spec::Task>* create, const std::vector<spec::Service>& services,
                          std::vector<etcd::Compare>* compares, std::vector<etcd::Op>* ops);
  // A service's virtual IPs (Endpoint.VirtualIPs): one on the ingress network when it publishes
  // an ingress port, and one on each network of its tasks unless its endpoint mode is dnsrr.
  // s->endpoint.virtual_ips holds what the service had (kept where still wanted) and becomes what
  // it has; the address keys of new ones are added to the transaction (each conditional on being
  // free) and those of dropped ones deleted. FAILED_PRECONDITION for a network that is gone.
  Status PlanServiceVips(spec::Service* s, std::vector<etcd::Compare>* compares,
                         std::vector<etcd::Op>* ops);

  // The orchestrator's view: services, tasks and nodes at one revision (returned in *revision),
  // and the cluster's task history limit.
  StatusOr<orch::ClusterView> ReadView(int64_t* revision);
  // Writes a plan made from `view` in one transaction, each record conditional on the version it
  // was read at (creates on the key being absent), and so is every service whose tasks it
  // touches, and the leadership key still on `lease` (the leader's). FAILED_PRECONDITION when
  // anything moved on (the caller reads again). *revision: the store's revision after the
  // transaction (written or not), so that the next view can be read at least that new.
  Status ApplyPlan(const orch::Plan& plan, const orch::ClusterView& view, int64_t lease,
                   int64_t* revision = nullptr);

  static std::string NodeKey(const std::string& id);
  static std::string TaskKey(const std::string& id);
  static constexpr char kSwarmPrefix[] = "/berth/swarm/";
  static constexpr char kServicesPrefix[] = "/berth/swarm/services/";
  static constexpr char kTasksPrefix[] = "/berth/swarm/tasks/";
  static constexpr char kLeaderKey[] = "/berth/swarm/leader";
  static constexpr char kNodesPrefix[] = "/berth/swarm/nodes/";
  static constexpr char kNetworksPrefix[] = "/berth/swarm/networks/";
  static constexpr char kAttachmentsPrefix[] = "/berth/swarm/attachments/";

 private:
  Store(std::shared_ptr<etcd::Client> etcd, std::shared_ptr<etcd::KvReader> reader)
      : etcd_(std::move(etcd)), reader_(std::move(reader)) {}

  std::shared_ptr<etcd::Client> etcd_;
  std::shared_ptr<etcd::KvReader> reader_;  // etcd_, or a snapshot of it
};

// The ops that free a task's network addresses (with its record).
void ReleaseTaskAddresses(const spec::Task& t, std::vector<etcd::Op>* ops);
// The ops that free a service's virtual IPs (with its record).
void ReleaseServiceVips(const spec::Service& s, std::vector<etcd::Op>* ops);
// Whether a service publishes a port in ingress mode (and so is on the ingress network).
bool PublishesIngress(const spec::Service& s);
// Whether a service's endpoint mode is dnsrr (no VIPs: its name answers with its tasks).
bool Dnsrr(const spec::Service& s);

// etcd's errors as the API shows them (no quorum: Docker's 503 message).
Status StoreError(const Status& s, std::string_view what);

}  // namespace berth::cluster
