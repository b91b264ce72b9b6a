#pragma once
// Cluster's insides, shared by cluster.cc (membership: init, join, leave, resume, role changes)
// and cluster_nodes.cc (the manager-side reads and writes of /swarm and /nodes, and info).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "cluster/agent.h"
#include "cluster/cluster.h"
#include "cluster/manager.h"
#include "cluster/node_state.h"
#include "common/sync.h"

namespace berth::cluster {

class Cluster::Impl {
 public:
  explicit Impl(ClusterOptions opts) : opts_(std::move(opts)), paths_(opts_.data_root) {}

  // The manager, when this node is one (refusals as Docker's otherwise).
  StatusOr<std::shared_ptr<Manager>> RequireManager();
  // Starts the agent for state (and runs one heartbeat, retried until `wait` passes, when wait
  // is non-zero: init and join return once the node is Ready).
  Status StartAgent(const NodeState& state, Duration wait) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  void OnHeartbeat(const HeartbeatAnswer& a);
  // Renews the certificate for `role` and starts or stops the manager to match.
  Status ChangeRole(const std::string& role) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  StatusOr<std::shared_ptr<Manager>> StartManager(const NodeState& state, bool new_cluster,
                                                  const std::string& initial_cluster)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // Stops agent and manager (under op_mu_), outside the state lock.
  void StopAll() ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  std::optional<NodeState> state() const;
  // When the node's certificate is due for renewal (swarmkit's rule: at a random point between
  // 50% and 80% of its life), from the certificate on disk.
  void ScheduleRenewal();

  ClusterOptions opts_;
  NodePaths paths_;
  // Serialises init, join, leave, resume and role changes (held across their slow work).
  absl::Mutex op_mu_;
  mutable StateMutex mu_;
  std::optional<NodeState> state_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Manager> manager_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Agent> agent_ ABSL_GUARDED_BY(mu_);
  std::string error_ ABSL_GUARDED_BY(mu_);  // why the swarm could not be resumed
  std::optional<WallTime> renew_at_ ABSL_GUARDED_BY(mu_);
};

// Docker's lookup (daemon/cluster/helpers.go): the full id, then the exact name, then a unique
// id prefix.
template <typename T, typename NameFn>
StatusOr<T> Resolve(std::vector<T> all, const std::string& ref, std::string_view noun,
                    NameFn name) {
  for (T& v : all)
    if (v.id == ref) return std::move(v);
  std::vector<T*> by_name, by_prefix;
  for (T& v : all) {
    if (!ref.empty() && name(v) == ref) by_name.push_back(&v);
    if (!ref.empty() && absl::StartsWith(v.id, ref)) by_prefix.push_back(&v);
  }
  if (by_name.size() == 1) return std::move(*by_name[0]);
  if (by_name.size() > 1)
    return absl::InvalidArgumentError(
        absl::StrCat(Av(noun), " ", ref, " is ambiguous (", by_name.size(), " matches found)"));
  if (by_prefix.size() == 1) return std::move(*by_prefix[0]);
  if (by_prefix.size() > 1)
    return absl::InvalidArgumentError(
        absl::StrCat(Av(noun), " ", ref, " is ambiguous (", by_prefix.size(), " matches found)"));
  return absl::NotFoundError(absl::StrCat(Av(noun), " ", ref, " not found"));
}

// The ingress network of a new swarm, written right after its first records (cluster_networks.cc).
Status CreateIngressNetwork(Store& store, const Clock& clock);

}  // namespace berth::cluster
