#pragma once
// Placement constraints ("node.labels.zone==east") and platform matching, with swarmkit's
// grammar (manager/constraint): the first of "==", "!=" found splits key and value, the key is
// [a-z_][a-z0-9-_.]+ and the value a restricted set of characters, both compared without case.
// Used by the scheduler (which nodes a task may go to), the global orchestrator (which nodes get a
// task) and the API through ValidateConstraints (reconcile.h).

#include <string>
#include <vector>

#include "common/status.h"
#include "spec/service.h"
#include "spec/swarm.h"

namespace berth::cluster::orch {

struct Constraint {
  std::string key;
  bool equal = true;  // "==" (else "!=")
  std::string value;
};

StatusOr<std::vector<Constraint>> ParseConstraints(const std::vector<std::string>& exprs);
bool NodeMatches(const std::vector<Constraint>& constraints, const spec::Node& node);

// Placement.Platforms: empty matches every node; otherwise one entry must match the node's
// os/architecture (an empty field matches anything; x86_64 is amd64, aarch64 is arm64).
bool PlatformMatches(const std::vector<spec::Platform>& platforms, const spec::Node& node);

// The node's value for a spread descriptor ("node.labels.zone", "engine.labels.x"); "" when the
// node has no such label (swarmkit puts those nodes in a branch of their own).
std::string SpreadValue(const std::string& descriptor, const spec::Node& node);

}  // namespace berth::cluster::orch
