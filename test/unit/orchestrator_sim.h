#pragma once
// A fake store, fake nodes and a hand-driven clock for the orchestrator's tests: Pass() runs
// Reconcile and applies its Plan the way the leader does (one transaction), and the test plays
// the agents between passes (moving tasks to running, shutdown, failed).

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cluster/orchestrator/reconcile.h"

namespace berth::cluster::orch::testing {

inline constexpr int64_t kSec = 1'000'000'000;

inline WallTime At(int64_t unix_nanos) {
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(unix_nanos)));
}

inline spec::Node MakeNode(const std::string& id, const std::string& hostname = "") {
  spec::Node n;
  n.id = id;
  n.spec.role = "worker";
  n.spec.availability = "active";
  n.status.state = "ready";
  n.description.hostname = hostname.empty() ? "host-" + id : hostname;
  n.description.platform = {"x86_64", "linux"};
  n.description.resources = {4'000'000'000, 8LL << 30};
  return n;
}

inline spec::Service MakeService(const std::string& id, const std::string& image,
                                 uint64_t replicas) {
  spec::Service s;
  s.id = id;
  s.spec.annotations.name = id;
  s.spec.task_template.container_spec = spec::ServiceContainerSpec{};
  s.spec.task_template.container_spec->image = image;
  s.spec.mode.replicated = true;
  s.spec.mode.replicas = replicas;
  return s;
}

inline spec::Service MakeGlobal(const std::string& id, const std::string& image) {
  spec::Service s = MakeService(id, image, 0);
  s.spec.mode = spec::ServiceMode{};
  s.spec.mode.global = true;
  return s;
}

inline std::string Image(const spec::Task& t) {
  return t.spec.container_spec ? t.spec.container_spec->image : "";
}

class Sim {
 public:
  ClusterView view;
  int64_t now = 1'700'000'000 * kSec;
  int next_id = 0;
  uint64_t revision = 1;
  Plan last;
  FailureMemory failures;
  bool remember_failures = true;  // false: as a new leader's first pass, records only

  IdSource ids() {
    return [this] {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "t%024d", next_id++);
      return std::string(buf);
    };
  }

  void Advance(int64_t nanos) { now += nanos; }

  // One pass, applied (with the leader's memory of failures, as the runner).
  const Plan& Pass() {
    if (remember_failures) failures.Fill(view, At(now));
    last = Reconcile(view, At(now), ids());
    Apply(last);
    return last;
  }

  void Apply(const Plan& p) {
    ++revision;
    for (spec::Task t : p.create) {
      t.meta.version.index = revision;
      view.tasks.push_back(std::move(t));
    }
    for (const spec::Task& u : p.update) {
      spec::Task* t = FindTask(u.id);
      ASSERT_NE(t, nullptr) << "update of a missing task " << u.id;
      ASSERT_EQ(t->meta.version.index, u.meta.version.index) << "stale version for " << u.id;
      *t = u;
      t->meta.version.index = revision;
    }
    for (const std::string& id : p.remove) {
      auto it = std::find_if(view.tasks.begin(), view.tasks.end(),
                             [&](const spec::Task& t) { return t.id == id; });
      ASSERT_NE(it, view.tasks.end()) << "removal of a missing task " << id;
      view.tasks.erase(it);
    }
    for (const spec::Service& u : p.services) {
      spec::Service* s = FindService(u.id);
      ASSERT_NE(s, nullptr);
      *s = u;
      s->meta.version.index = revision;
    }
  }

  spec::Task* FindTask(const std::string& id) {
    for (spec::Task& t : view.tasks) {
      if (t.id == id) return &t;
    }
    return nullptr;
  }
  spec::Service* FindService(const std::string& id) {
    for (spec::Service& s : view.services) {
      if (s.id == id) return &s;
    }
    return nullptr;
  }
  spec::Node* FindNode(const std::string& id) {
    for (spec::Node& n : view.nodes) {
      if (n.id == id) return &n;
    }
    return nullptr;
  }

  void AddService(spec::Service s) {
    s.meta.created_at = s.meta.updated_at = now;
    view.services.push_back(std::move(s));
  }

  // What the API does on `service update`: the old spec becomes PreviousSpec, UpdateStatus goes.
  void UpdateService(const std::string& id, const std::function<void(spec::ServiceSpec&)>& edit) {
    spec::Service* s = FindService(id);
    s->previous_spec = s->spec;
    edit(s->spec);
    s->update_status.reset();
    s->meta.updated_at = now;
  }

  // --- the agents ------------------------------------------------------------------------------
  void SetState(spec::Task& t, const std::string& state, const std::string& message,
                const std::string& err = "") {
    t.status.state = state;
    t.status.message = message;
    t.status.err = err;
    t.status.timestamp = now;
  }

  static int Rank(const std::string& s) {
    int r = 0;
    for (const char* x : spec::kTaskStates) {
      if (s == x) return r;
      ++r;
    }
    return -1;
  }

  // Every assigned task desired running starts; every task desired shutdown/remove on a node
  // that is not down stops. `filter` can hold some back.
  void Agents(const std::function<bool(const spec::Task&)>& filter = nullptr) {
    for (spec::Task& t : view.tasks) {
      if (t.node_id.empty() || (filter && !filter(t))) continue;
      spec::Node* n = FindNode(t.node_id);
      if (n == nullptr || n->status.state == "down") continue;
      int rank = Rank(t.status.state);
      if (t.desired_state == "running" && rank >= Rank("assigned") && rank < Rank("running")) {
        SetState(t, "running", "started");
      } else if ((t.desired_state == "shutdown" || t.desired_state == "remove") &&
                 rank >= Rank("assigned") && rank <= Rank("running")) {
        SetState(t, "shutdown", "shutdown");
      }
    }
  }

  // Passes and agents until nothing changes (advancing to wake_at when asked, up to `budget`).
  void Converge(int64_t budget = 120 * kSec) {
    int64_t until = now + budget;
    for (int round = 0; round < 500; ++round) {
      Pass();
      auto before = view.tasks;
      Agents();
      if (last.empty() && before == view.tasks) {
        if (!last.wake_at || UnixNanos(*last.wake_at) > until) return;
        now = std::max(now, UnixNanos(*last.wake_at));
      }
    }
    ADD_FAILURE() << "no convergence";
  }

  // --- queries ---------------------------------------------------------------------------------
  std::vector<const spec::Task*> Tasks(const std::string& service,
                                       const std::function<bool(const spec::Task&)>& pred = nullptr) {
    std::vector<const spec::Task*> out;
    for (const spec::Task& t : view.tasks) {
      if (t.service_id == service && (!pred || pred(t))) out.push_back(&t);
    }
    std::sort(out.begin(), out.end(), [](const spec::Task* a, const spec::Task* b) {
      if (a->slot != b->slot) return a->slot < b->slot;
      return a->id < b->id;
    });
    return out;
  }
  std::vector<const spec::Task*> Running(const std::string& service) {
    return Tasks(service, [](const spec::Task& t) {
      return t.desired_state == "running" && t.status.state == "running";
    });
  }
  std::vector<const spec::Task*> Wanted(const std::string& service) {
    return Tasks(service, [](const spec::Task& t) {
      return t.desired_state == "running" || t.desired_state == "ready";
    });
  }
  std::map<std::string, int> PerNode(const std::vector<const spec::Task*>& tasks) {
    std::map<std::string, int> out;
    for (const spec::Task* t : tasks) ++out[t->node_id];
    return out;
  }
};

}  // namespace berth::cluster::orch::testing
