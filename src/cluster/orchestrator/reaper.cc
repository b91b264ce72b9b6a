#include "cluster/orchestrator/reaper.h"

#include <algorithm>

namespace berth::cluster::orch {

void Reap(WorkingSet& ws) {
  for (size_t i = 0; i < ws.size(); ++i) {
    if (ws.removed(i) || ws.task(i).desired_state != "remove") continue;
    int rank = StateRank(ws.task(i).status.state);
    if (rank < kStateAssigned || rank >= kStateComplete) ws.Remove(i);
  }

  for (const spec::Service& s : ws.services()) {
    int64_t limit = ws.history_limit();
    const auto& policy = s.spec.task_template.restart_policy;
    if (policy && policy->max_attempts && *policy->max_attempts > 0) {
      limit = static_cast<int64_t>(*policy->max_attempts) + 1;
    }
    if (limit < 0) continue;
    for (auto& [key, slot] : ws.SlotsOf(s)) {
      if (static_cast<int64_t>(slot.size()) <= limit) continue;
      std::vector<size_t> oldest_first = slot;
      std::stable_sort(oldest_first.begin(), oldest_first.end(), [&](size_t a, size_t b) {
        return ws.task(a).status.timestamp < ws.task(b).status.timestamp;
      });
      int64_t count = static_cast<int64_t>(slot.size());
      for (size_t i : oldest_first) {
        if (count <= limit) break;
        const spec::Task& t = ws.task(i);
        int rank = StateRank(t.status.state);
        bool stopped = rank > kStateRunning;
        bool never_runs = rank < kStateAssigned && !Live(t);
        if (stopped || never_runs) {
          ws.Remove(i);
          --count;
        }
      }
    }
  }
}

}  // namespace berth::cluster::orch
