#pragma once
// The swarm's state in etcd, typed. Every manager reads and writes it through its own etcd member;
// workers never see it. Keys (values are JSON):
//   /berth/swarm/cluster           the ClusterInfo (spec.Swarm without the join tokens)
//   /berth/swarm/ca                {"cert": root PEM, "key": root key PEM}
//   /berth/swarm/tokens            {"worker": secret, "manager": secret}
//   /berth/swarm/nodes/<id>        a spec::Node (ManagerStatus: its Addr only; the rest is computed)
//   /berth/swarm/removed/<id>      a removed node: its certificate is refused from then on
//   /berth/swarm/leader            {"node_id", "addr"}, on the leader's lease
// A record's Version.Index is its key's etcd mod_revision, so an update names the revision it
// read and is refused if another write came between ("update out of sequence", as swarmkit).
//
// Errors: etcd's "no quorum" becomes Docker's 503 "The swarm does not have a leader. ..." for
// reads and writes alike; everything else keeps its code with the operation named.
//
// Threading: stateless beyond the client; any thread.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/etcd/client.h"
#include "common/status.h"
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
  explicit Store(std::shared_ptr<etcd::Client> etcd) : etcd_(std::move(etcd)) {}
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

  static std::string NodeKey(const std::string& id);
  static constexpr char kLeaderKey[] = "/berth/swarm/leader";
  static constexpr char kNodesPrefix[] = "/berth/swarm/nodes/";

 private:
  std::shared_ptr<etcd::Client> etcd_;
};

// etcd's errors as the API shows them (no quorum: Docker's 503 message).
Status StoreError(const Status& s, std::string_view what);

}  // namespace berth::cluster
