#include "cluster/orchestrator/scheduler.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "cluster/orchestrator/constraints.h"

namespace berth::cluster::orch {
namespace {

// The filters in swarmkit's pipeline order (plugins and CSI volumes are not modelled).
enum Filter { kReady, kResources, kConstraints, kPlatform, kHostPort, kMaxReplicas, kFilters };

std::string Explain(Filter f, int nodes) {
  // "1 node ..." / "3 nodes ...", as swarmkit's Explain methods word it.
  auto count = [nodes](const char* what) {
    return nodes == 1 ? absl::StrCat("1 node", what) : absl::StrCat(nodes, " nodes", what);
  };
  auto on = [nodes](const char* what) {
    return nodes == 1 ? absl::StrCat(what, " on 1 node") : absl::StrCat(what, " on ", nodes, " nodes");
  };
  switch (f) {
    case kReady:
      return count(" not available for new tasks");
    case kResources:
      return on("insufficient resources");
    case kConstraints:
      return on("scheduling constraints not satisfied");
    case kPlatform:
      return on("unsupported platform");
    case kHostPort:
      return on("host-mode port already in use");
    case kMaxReplicas:
      return "max replicas per node limit exceed";
    case kFilters:
      break;
  }
  return "";
}

using HostPort = std::pair<std::string, uint32_t>;  // protocol, published port

std::vector<HostPort> HostPorts(const spec::Service* s) {
  std::vector<HostPort> out;
  if (s == nullptr || !s->spec.endpoint_spec) return out;
  for (const spec::ServicePortConfig& p : s->spec.endpoint_spec->ports) {
    if (p.publish_mode == "host" && p.published_port != 0) {
      out.emplace_back(p.protocol.empty() ? "tcp" : p.protocol, p.published_port);
    }
  }
  return out;
}

struct NodeLoad {
  const spec::Node* node = nullptr;
  int64_t cpus = 0;    // available NanoCPUs
  int64_t memory = 0;  // available bytes
  int active = 0;
  std::unordered_map<std::string, int> by_service;
  std::set<HostPort> host_ports;
};

// What a service's tasks ask of a node; the same for all its pending tasks.
struct Demand {
  std::string service_id;
  int64_t cpus = 0, memory = 0;
  bool constrained = false;
  std::vector<Constraint> constraints;
  std::vector<spec::Platform> platforms;
  std::vector<HostPort> host_ports;
  uint64_t max_replicas = 0;
  std::vector<std::string> spread;  // placement preferences, outermost first
};

Demand DemandOf(const spec::Task& t, const spec::Service* service) {
  Demand d;
  d.service_id = t.service_id;
  if (t.spec.resources && t.spec.resources->reservations) {
    d.cpus = t.spec.resources->reservations->nano_cpus;
    d.memory = t.spec.resources->reservations->memory_bytes;
  }
  if (t.spec.placement) {
    const spec::Placement& p = *t.spec.placement;
    auto parsed = ParseConstraints(p.constraints);
    // swarmkit: constraints that do not parse disable the filter.
    if (parsed.ok() && !parsed->empty()) {
      d.constrained = true;
      d.constraints = std::move(*parsed);
    }
    d.platforms = p.platforms;
    d.max_replicas = p.max_replicas;
    for (const spec::PlacementPreference& pref : p.preferences) {
      if (!pref.spread_descriptor.empty()) d.spread.push_back(pref.spread_descriptor);
    }
  }
  d.host_ports = HostPorts(service);
  return d;
}

// The first filter the node fails, or kFilters when it passes them all.
Filter Check(const Demand& d, const NodeLoad& n) {
  const spec::Node& node = *n.node;
  if (node.status.state != "ready" || (!node.spec.availability.empty() &&
                                       node.spec.availability != "active")) {
    return kReady;
  }
  if ((d.cpus > 0 || d.memory > 0) && (d.cpus > n.cpus || d.memory > n.memory)) return kResources;
  if (d.constrained && !NodeMatches(d.constraints, node)) return kConstraints;
  if (!PlatformMatches(d.platforms, node)) return kPlatform;
  for (const HostPort& p : d.host_ports) {
    if (n.host_ports.count(p)) return kHostPort;
  }
  if (d.max_replicas > 0) {
    auto it = n.by_service.find(d.service_id);
    if (it != n.by_service.end() && static_cast<uint64_t>(it->second) >= d.max_replicas) {
      return kMaxReplicas;
    }
  }
  return kFilters;
}

std::string Explanation(const std::array<int, kFilters>& failures) {
  std::vector<int> order;
  for (int f = 0; f < kFilters; ++f) {
    if (failures[f] > 0) order.push_back(f);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return failures[a] > failures[b]; });
  std::string out;
  for (int f : order) {
    if (!out.empty()) out += "; ";
    out += Explain(static_cast<Filter>(f), failures[f]);
  }
  return out;
}

void Place(NodeLoad& n, const Demand& d, bool active) {
  n.cpus -= d.cpus;
  n.memory -= d.memory;
  if (active) {
    ++n.active;
    ++n.by_service[d.service_id];
  }
  for (const HostPort& p : d.host_ports) n.host_ports.insert(p);
}

// A node where the service's tasks of this spec failed or were rejected this often within the
// window goes after every node with fewer such failures (swarmkit's scheduler: maxFailures and
// monitorFailures). swarmkit tells a service's specs apart by version; here by content (an
// update or --force changes it, a scale does not). Global tasks do not count: their node is not
// chosen (swarmkit skips preassigned tasks too).
constexpr int kMaxFailures = 5;
constexpr int64_t kFailureWindow = 5 * 60 * kSecond;

bool CountedFailure(const spec::Task& t, int64_t now) {
  int rank = StateRank(t.status.state);
  return (rank == kStateFailed || rank == kStateRejected) && !t.node_id.empty() && t.slot > 0 &&
         now - t.status.timestamp <= kFailureWindow;
}

// The recent failures of tasks of `t`'s service and spec, by node index: from the leader's memory
// when it keeps one, else from the records.
void CountFailures(const WorkingSet& ws, const spec::Task& t,
                   const std::unordered_map<std::string, size_t>& load_index,
                   std::vector<int>* failed_on) {
  std::fill(failed_on->begin(), failed_on->end(), 0);
  auto add = [&](const std::string& node, int n) {
    if (auto it = load_index.find(node); it != load_index.end()) (*failed_on)[it->second] += n;
  };
  if (const RecentFailures* memory = ws.remembered_failures()) {
    auto it = memory->find(t.service_id);
    if (it == memory->end()) return;
    for (const FailureGroup& g : it->second) {
      if (*g.spec != t.spec) continue;
      for (const auto& [node, n] : g.per_node) add(node, n);
      return;
    }
    return;
  }
  for (size_t i : ws.ServiceTasks(t.service_id)) {
    const spec::Task& f = ws.task(i);
    if (!ws.created(i) && CountedFailure(f, ws.now()) && f.spec == t.spec) add(f.node_id, 1);
  }
}

void SetPendingError(WorkingSet& ws, size_t i, const std::string& err) {
  if (ws.task(i).status.err == err) return;  // unchanged: no write, or the loop would spin
  spec::Task& t = ws.Mutable(i);
  t.status.err = err;
  t.status.timestamp = ws.now();
}

void Assign(WorkingSet& ws, size_t i, const std::string& node_id, const char* message) {
  spec::Task& t = ws.Mutable(i);
  t.node_id = node_id;
  t.status = spec::TaskStatus{};
  t.status.timestamp = ws.now();
  t.status.state = "assigned";
  t.status.message = message;
}

}  // namespace

void Schedule(WorkingSet& ws) {
  std::vector<NodeLoad> loads;
  std::unordered_map<std::string, size_t> load_index;
  for (const spec::Node* n : ws.nodes()) {
    load_index[n->id] = loads.size();
    NodeLoad load;
    load.node = n;
    load.cpus = n->description.resources.nano_cpus;
    load.memory = n->description.resources.memory_bytes;
    loads.push_back(std::move(load));
  }
  // What is on each node: tasks from assigned to running hold their reservations and ports;
  // those still wanted count as the node's tasks.
  std::vector<size_t> pending;
  for (size_t i = 0; i < ws.size(); ++i) {
    if (ws.removed(i)) continue;
    const spec::Task& t = ws.task(i);
    int rank = StateRank(t.status.state);
    if (rank <= kStatePending && rank >= 0) {
      if (ws.FindService(t.service_id) == nullptr) continue;
      if (Live(t)) {
        pending.push_back(i);
      } else if (t.desired_state == "shutdown") {
        // It never reached a node: nobody else will move it to its end (swarmkit's scheduler
        // does the same).
        spec::Task& m = ws.Mutable(i);
        m.status.state = "shutdown";
        m.status.err.clear();
        m.status.timestamp = ws.now();
      }
      continue;
    }
    if (t.node_id.empty() || rank > kStateRunning) continue;
    auto it = load_index.find(t.node_id);
    if (it == load_index.end()) continue;
    Place(loads[it->second], DemandOf(t, ws.FindService(t.service_id)), Live(t));
  }
  std::sort(pending.begin(), pending.end(), [&](size_t a, size_t b) {
    const spec::Task& x = ws.task(a);
    const spec::Task& y = ws.task(b);
    if (x.service_id != y.service_id) return x.service_id < y.service_id;
    if (x.slot != y.slot) return x.slot < y.slot;
    if (x.node_id != y.node_id) return x.node_id < y.node_id;
    if (x.meta.created_at != y.meta.created_at) return x.meta.created_at < y.meta.created_at;
    return x.id < y.id;
  });

  // Schedule must not create tasks: demand_for points into the working set.
  const spec::Task* demand_for = nullptr;
  Demand demand;
  std::vector<int> failed_on(loads.size());  // the demand's recent failures, by node
  std::vector<size_t> candidates;
  for (size_t i : pending) {
    const spec::Task& t = ws.task(i);
    // Tasks of one service mostly share a spec (an update in progress has two).
    if (demand_for == nullptr || demand_for->service_id != t.service_id ||
        !(demand_for->spec == t.spec)) {
      demand = DemandOf(t, ws.FindService(t.service_id));
      demand_for = &t;
      CountFailures(ws, t, load_index, &failed_on);
    }
    std::array<int, kFilters> failures{};

    if (!t.node_id.empty()) {  // a global task: its node is only confirmed
      auto it = load_index.find(t.node_id);
      if (it == load_index.end()) continue;
      Filter f = Check(demand, loads[it->second]);
      if (f == kFilters) {
        Place(loads[it->second], demand, true);
        Assign(ws, i, t.node_id, "scheduler confirmed task can run on preassigned node");
      } else {
        failures[f] = 1;
        SetPendingError(ws, i, Explanation(failures));
      }
      continue;
    }

    candidates.clear();
    for (size_t n = 0; n < loads.size(); ++n) {
      Filter f = Check(demand, loads[n]);
      if (f == kFilters) {
        candidates.push_back(n);
      } else {
        ++failures[f];
      }
    }
    if (candidates.empty()) {
      std::string why = Explanation(failures);
      SetPendingError(ws, i, why.empty() ? "no suitable node" : "no suitable node (" + why + ")");
      continue;
    }
    auto count_of = [&](size_t n) {
      auto it = loads[n].by_service.find(demand.service_id);
      return it == loads[n].by_service.end() ? 0 : it->second;
    };
    // Placement preferences: at each level, the branch (label value) with the fewest tasks of the
    // service, so the tasks spread evenly over the values.
    for (const std::string& descriptor : demand.spread) {
      std::map<std::string, int> per_value;
      for (size_t n : candidates) per_value[SpreadValue(descriptor, *loads[n].node)] += count_of(n);
      auto best = per_value.begin();
      for (auto it = per_value.begin(); it != per_value.end(); ++it) {
        if (it->second < best->second) best = it;
      }
      std::vector<size_t> branch;
      for (size_t n : candidates) {
        if (SpreadValue(descriptor, *loads[n].node) == best->first) branch.push_back(n);
      }
      candidates = std::move(branch);
    }
    // Within the branch: a node that keeps failing the service's tasks last (fewer failures
    // first once either node has kMaxFailures), then the fewest tasks of the service, then the
    // fewest tasks.
    auto failing = [&](size_t n) { return failed_on[n] >= kMaxFailures ? failed_on[n] : 0; };
    size_t best = candidates.front();
    for (size_t n : candidates) {
      int fa = failing(n), fb = failing(best);
      int a = count_of(n), b = count_of(best);
      if (fa < fb || (fa == fb && (a < b || (a == b && loads[n].active < loads[best].active)))) {
        best = n;
      }
    }
    Place(loads[best], demand, true);
    Assign(ws, i, loads[best].node->id, "scheduler assigned task to node");
  }
}

void FailureMemory::Fill(ClusterView& view, WallTime now) {
  int64_t t_now = UnixNanos(now);
  for (const spec::Task& t : view.tasks) {
    if (!CountedFailure(t, t_now) || by_task_.count(t.id)) continue;
    uint64_t group = next_group_;
    for (auto& [id, g] : groups_) {
      if (g.service_id == t.service_id && *g.spec == t.spec) {
        group = id;
        break;
      }
    }
    if (group == next_group_) {
      groups_[next_group_++] = Group{t.service_id, std::make_shared<const spec::TaskSpec>(t.spec),
                                     {}};
    }
    ++groups_[group].per_node[t.node_id];
    by_task_.emplace(t.id, Entry{t.status.timestamp, group, t.node_id});
    by_time_.emplace(t.status.timestamp, t.id);
    changed_ = true;
  }
  while (!by_time_.empty() && t_now - by_time_.begin()->first > kFailureWindow) {
    auto e = by_task_.find(by_time_.begin()->second);
    by_time_.erase(by_time_.begin());
    if (e == by_task_.end()) continue;
    auto g = groups_.find(e->second.group);
    if (g != groups_.end()) {
      auto& per_node = g->second.per_node;
      if (--per_node[e->second.node_id] == 0) per_node.erase(e->second.node_id);
      if (per_node.empty()) groups_.erase(g);
    }
    by_task_.erase(e);
    changed_ = true;
  }
  if (changed_ || published_ == nullptr) {
    auto out = std::make_shared<RecentFailures>();
    for (const auto& [id, g] : groups_) (*out)[g.service_id].push_back({g.spec, g.per_node});
    published_ = std::move(out);
    changed_ = false;
  }
  view.failures = published_;
}

}  // namespace berth::cluster::orch
