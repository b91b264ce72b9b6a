// Placeholder until the orchestrator lands (issue 11).
#include "cluster/orchestrator/reconcile.h"

namespace berth::cluster::orch {
Plan Reconcile(const ClusterView&, WallTime, const IdSource&) { return {}; }
Status ValidateConstraints(const std::vector<std::string>&) { return absl::OkStatus(); }
bool NodeMatches(const spec::Node&, const std::vector<std::string>&) { return true; }
}  // namespace berth::cluster::orch
