#include "cluster/store.h"

#include "cluster/store_internal.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "spec/json/swarm_json.h"

namespace berth::cluster {
namespace {

constexpr char kClusterKey[] = "/berth/swarm/cluster";
constexpr char kCaKey[] = "/berth/swarm/ca";
constexpr char kTokensKey[] = "/berth/swarm/tokens";
constexpr char kRemovedPrefix[] = "/berth/swarm/removed/";

using etcd::Compare;
using etcd::Op;

StatusOr<nlohmann::json> ParseJson(const std::string& text, std::string_view what) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return absl::DataLossError(absl::StrCat("the swarm's ", Av(what), " record is not valid JSON"));
  return j;
}

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A manager's record keeps ManagerStatus.Addr (where it is reached); Leader and Reachability are
// computed when nodes are read.
std::string EncodeNode(spec::Node node) {
  if (node.manager_status.has_value()) {
    node.manager_status->leader = false;
    node.manager_status->reachability.clear();
  }
  node.meta.version.index = 0;
  return spec::RenderNode(node).dump();
}


}  // namespace

StatusOr<spec::Node> DecodeNode(const etcd::KeyValue& kv) {
  StatusOr<spec::Node> node = spec::ParseNode(kv.value);
  if (!node.ok())
    return absl::DataLossError(absl::StrCat("node record ", kv.key, ": ", node.status().message()));
  node->meta.version.index = static_cast<uint64_t>(kv.mod_revision);
  return node;
}

Status OutOfSequence() {
  return absl::UnknownError("rpc error: code = Unknown desc = update out of sequence");
}

Status StoreError(const Status& s, std::string_view what) {
  if (s.ok()) return s;
  if (etcd::IsNoQuorum(s))
    return absl::UnavailableError(
        absl::StrCat("rpc error: code = Unknown desc = ", kNoLeaderMessage));
  return Annotate(s, what);
}

std::string Store::NodeKey(const std::string& id) { return absl::StrCat(kNodesPrefix, id); }

Status Store::Bootstrap(const spec::ClusterInfo& cluster, const CaRecord& ca,
                        const TokenSecrets& tokens, const spec::Node& first) {
  spec::ClusterInfo c = cluster;
  c.meta.version.index = 0;
  nlohmann::json ca_json = {{"cert", ca.cert_pem}, {"key", ca.key_pem}};
  nlohmann::json tok = {{"worker", tokens.worker}, {"manager", tokens.manager}};
  StatusOr<etcd::TxnResult> r = etcd_->Txn(
      {Compare::Missing(kClusterKey)},
      {Op::Put(kClusterKey, spec::RenderClusterInfo(c).dump()), Op::Put(kCaKey, ca_json.dump()),
       Op::Put(kTokensKey, tok.dump()), Op::Put(NodeKey(first.id), EncodeNode(first))});
  if (!r.ok()) return StoreError(r.status(), "create the swarm");
  if (!r->succeeded) return absl::AlreadyExistsError("the cluster store already holds a swarm");
  return absl::OkStatus();
}

StatusOr<spec::ClusterInfo> Store::GetCluster() {
  StatusOr<etcd::RangeResult> r = reader_->Get(kClusterKey);
  if (!r.ok()) return StoreError(r.status(), "read the swarm");
  if (r->kvs.empty()) return absl::NotFoundError("the cluster store holds no swarm");
  StatusOr<spec::ClusterInfo> c = spec::ParseClusterInfo(r->kvs[0].value);
  if (!c.ok()) return absl::DataLossError(absl::StrCat("swarm record: ", c.status().message()));
  c->meta.version.index = static_cast<uint64_t>(r->kvs[0].mod_revision);
  return c;
}

Status Store::UpdateCluster(const spec::ClusterInfo& cluster, uint64_t version) {
  spec::ClusterInfo c = cluster;
  c.meta.version.index = 0;
  StatusOr<etcd::TxnResult> r =
      etcd_->Txn({Compare::ModRevisionIs(kClusterKey, static_cast<int64_t>(version))},
                 {Op::Put(kClusterKey, spec::RenderClusterInfo(c).dump())});
  if (!r.ok()) return StoreError(r.status(), "update the swarm");
  if (!r->succeeded) return OutOfSequence();
  return absl::OkStatus();
}

StatusOr<CaRecord> Store::GetCa() {
  StatusOr<etcd::RangeResult> r = reader_->Get(kCaKey);
  if (!r.ok()) return StoreError(r.status(), "read the swarm's CA");
  if (r->kvs.empty()) return absl::NotFoundError("the cluster store holds no CA");
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(r->kvs[0].value, "CA"));
  return CaRecord{Str(j, "cert"), Str(j, "key")};
}

StatusOr<TokenSecrets> Store::GetTokens() {
  StatusOr<etcd::RangeResult> r = reader_->Get(kTokensKey);
  if (!r.ok()) return StoreError(r.status(), "read the join tokens");
  if (r->kvs.empty()) return absl::NotFoundError("the cluster store holds no join tokens");
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(r->kvs[0].value, "tokens"));
  return TokenSecrets{Str(j, "worker"), Str(j, "manager")};
}

Status Store::PutTokens(const TokenSecrets& tokens) {
  nlohmann::json tok = {{"worker", tokens.worker}, {"manager", tokens.manager}};
  StatusOr<etcd::ResponseHeader> r = etcd_->Put(kTokensKey, tok.dump());
  return r.ok() ? absl::OkStatus() : StoreError(r.status(), "rotate the join tokens");
}

StatusOr<std::vector<spec::Node>> Store::ListNodes() {
  etcd::GetOptions o;
  o.prefix = true;
  StatusOr<etcd::RangeResult> r = reader_->Get(kNodesPrefix, o);
  if (!r.ok()) return StoreError(r.status(), "list nodes");
  std::vector<spec::Node> out;
  for (const etcd::KeyValue& kv : r->kvs) {
    ASSIGN_OR_RETURN(spec::Node n, DecodeNode(kv));
    out.push_back(std::move(n));
  }
  return out;
}

StatusOr<spec::Node> Store::GetNode(const std::string& id) {
  StatusOr<etcd::RangeResult> r = reader_->Get(NodeKey(id));
  if (!r.ok()) return StoreError(r.status(), "read node");
  if (r->kvs.empty()) return absl::NotFoundError(absl::StrCat("node ", id, " not found"));
  return DecodeNode(r->kvs[0]);
}

Status Store::CreateNode(const spec::Node& node) {
  StatusOr<etcd::TxnResult> r =
      etcd_->Txn({Compare::Missing(NodeKey(node.id))}, {Op::Put(NodeKey(node.id), EncodeNode(node))});
  if (!r.ok()) return StoreError(r.status(), "create node");
  if (!r->succeeded) return absl::AlreadyExistsError(absl::StrCat("node ", node.id, " exists"));
  return absl::OkStatus();
}

StatusOr<uint64_t> Store::UpdateNode(const spec::Node& node, uint64_t version) {
  std::string key = NodeKey(node.id);
  StatusOr<etcd::TxnResult> r = etcd_->Txn(
      {Compare::ModRevisionIs(key, static_cast<int64_t>(version))}, {Op::Put(key, EncodeNode(node))},
      {Op::Get(key)});
  if (!r.ok()) return StoreError(r.status(), "update node");
  if (!r->succeeded) {
    if (r->ranges.empty() || r->ranges[0].kvs.empty())
      return absl::NotFoundError(absl::StrCat("node ", node.id, " not found"));
    return OutOfSequence();
  }
  return static_cast<uint64_t>(r->header.revision);
}

Status Store::RemoveNode(const std::string& id) {
  StatusOr<etcd::TxnResult> r =
      etcd_->Txn({}, {Op::Delete(NodeKey(id)), Op::Put(absl::StrCat(kRemovedPrefix, id), "")});
  if (!r.ok()) return StoreError(r.status(), "remove node");
  return absl::OkStatus();
}

StatusOr<bool> Store::IsRemoved(const std::string& id) {
  etcd::GetOptions o;
  o.keys_only = true;
  StatusOr<etcd::RangeResult> r = reader_->Get(absl::StrCat(kRemovedPrefix, id), o);
  if (!r.ok()) return StoreError(r.status(), "read removed nodes");
  return !r->kvs.empty();
}

StatusOr<std::optional<LeaderRecord>> Store::GetLeader() {
  StatusOr<etcd::RangeResult> r = reader_->Get(kLeaderKey);
  if (!r.ok()) return StoreError(r.status(), "read the leader");
  if (r->kvs.empty()) return std::optional<LeaderRecord>();
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(r->kvs[0].value, "leader"));
  return std::optional<LeaderRecord>(LeaderRecord{Str(j, "node_id"), Str(j, "addr")});
}

StatusOr<Store::CampaignResult> Store::Campaign(const LeaderRecord& me, int64_t lease) {
  nlohmann::json v = {{"node_id", me.node_id}, {"addr", me.addr}};
  StatusOr<etcd::TxnResult> r =
      etcd_->Txn({Compare::Missing(kLeaderKey)}, {Op::Put(kLeaderKey, v.dump(), lease)},
                 {Op::Get(kLeaderKey)});
  if (!r.ok()) return StoreError(r.status(), "campaign for leadership");
  CampaignResult out;
  out.revision = r->header.revision;
  if (r->succeeded) {
    out.won = true;
    return out;
  }
  if (!r->ranges.empty() && !r->ranges[0].kvs.empty()) {
    const etcd::KeyValue& kv = r->ranges[0].kvs[0];
    auto j = nlohmann::json::parse(kv.value, nullptr, false);
    if (j.is_object()) out.holder = LeaderRecord{Str(j, "node_id"), Str(j, "addr")};
    // Already ours (a campaign repeated after a lost answer)?
    if (out.holder.has_value() && out.holder->node_id == me.node_id && kv.lease == lease)
      out.won = true;
  }
  return out;
}

}  // namespace berth::cluster
