// Replicated and global services, node loss, drain and pause, restart policies and the task
// history (reconcile.h), against fake nodes and an explicit clock.
#include <gtest/gtest.h>

#include "orchestrator_sim.h"

namespace berth::cluster::orch {
namespace {

using testing::kSec;
using testing::MakeGlobal;
using testing::MakeNode;
using testing::MakeService;
using testing::Sim;

Sim ThreeNodes() {
  Sim sim;
  sim.view.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};
  return sim;
}

std::set<int64_t> SlotsOf(const std::vector<const spec::Task*>& tasks) {
  std::set<int64_t> out;
  for (const spec::Task* t : tasks) out.insert(t->slot);
  return out;
}

TEST(OrchestratorReplicated, ScaleTwoToTwentyAndBackKeepsSlotOneAndBalances) {
  Sim sim = ThreeNodes();
  sim.AddService(MakeService("web", "nginx", 2));
  sim.Converge();
  ASSERT_EQ(sim.Running("web").size(), 2u);
  std::string slot1 = sim.Running("web")[0]->id;

  sim.FindService("web")->spec.mode.replicas = 20;
  sim.Converge();
  auto running = sim.Running("web");
  ASSERT_EQ(running.size(), 20u);
  std::set<int64_t> want;
  for (int64_t i = 1; i <= 20; ++i) want.insert(i);
  EXPECT_EQ(SlotsOf(running), want);
  for (const auto& [node, n] : sim.PerNode(running)) EXPECT_GE(n, 6) << node;

  sim.FindService("web")->spec.mode.replicas = 2;
  const Plan& down = sim.Pass();
  EXPECT_TRUE(down.create.empty());
  EXPECT_EQ(down.update.size(), 18u);
  for (const spec::Task& t : down.update) EXPECT_EQ(t.desired_state, "remove");
  auto kept = sim.Wanted("web");
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0]->id, slot1);  // slot 1 stays
  EXPECT_EQ(kept[0]->slot, 1);
  EXPECT_NE(kept[0]->node_id, kept[1]->node_id);  // on two different nodes

  // The removed tasks' records go once their agents have shut them down.
  sim.Agents();
  const Plan& reaped = sim.Pass();
  EXPECT_EQ(reaped.remove.size(), 18u);
  EXPECT_EQ(sim.Tasks("web").size(), 2u);
  EXPECT_TRUE(sim.Pass().empty());
}

TEST(OrchestratorReplicated, ScaleDownPrefersNodesWithMostCopies) {
  Sim sim = ThreeNodes();
  sim.AddService(MakeService("web", "nginx", 3));
  sim.Converge();
  // A fourth node joins and the service grows to 6 (slots 5 and 6 double up on n1 and n2), then
  // shrinks to 4: the second copies go, leaving one task per node and slots 1-4.
  sim.view.nodes.push_back(MakeNode("n4"));
  sim.FindService("web")->spec.mode.replicas = 6;
  sim.Converge();
  EXPECT_EQ(sim.PerNode(sim.Running("web")),
            (std::map<std::string, int>{{"n1", 2}, {"n2", 2}, {"n3", 1}, {"n4", 1}}));
  sim.FindService("web")->spec.mode.replicas = 4;
  sim.Converge();
  auto running = sim.Running("web");
  EXPECT_EQ(SlotsOf(running), (std::set<int64_t>{1, 2, 3, 4}));
  for (const auto& [node, n] : sim.PerNode(running)) EXPECT_EQ(n, 1) << node;
}

TEST(OrchestratorReplicated, NodeDownReplacesItsTasksAfterTheRestartDelay) {
  Sim sim = ThreeNodes();
  sim.AddService(MakeService("web", "nginx", 3));
  sim.Converge();
  const spec::Task* on_n2 = sim.Tasks("web", [](const spec::Task& t) { return t.node_id == "n2"; })[0];
  std::string old_id = on_n2->id;
  int64_t slot = on_n2->slot;

  sim.FindNode("n2")->status.state = "down";
  const Plan& plan = sim.Pass();
  ASSERT_EQ(plan.create.size(), 1u);
  const spec::Task& repl = plan.create[0];
  EXPECT_EQ(repl.slot, slot);
  EXPECT_EQ(repl.desired_state, "ready");  // the restart delay (5 s by default) runs first
  EXPECT_EQ(repl.status.state, "assigned");
  EXPECT_NE(repl.node_id, "n2");
  EXPECT_EQ(sim.FindTask(old_id)->desired_state, "shutdown");
  ASSERT_TRUE(plan.wake_at.has_value());
  EXPECT_EQ(UnixNanos(*plan.wake_at), sim.now + 5 * kSec);

  sim.Advance(4 * kSec);
  EXPECT_TRUE(sim.Pass().empty());
  sim.Advance(1 * kSec);
  const Plan& start = sim.Pass();
  ASSERT_EQ(start.update.size(), 1u);
  EXPECT_EQ(start.update[0].desired_state, "running");
  sim.Agents();
  EXPECT_EQ(sim.Running("web").size(), 3u);
  // The old task stays, desired shutdown, on the down node (its agent reports when it is back).
  EXPECT_EQ(sim.FindTask(old_id)->status.state, "running");
  EXPECT_TRUE(sim.Pass().empty());
}

TEST(OrchestratorReplicated, DrainMovesTasksOffAndPauseTakesNoNewOnes) {
  Sim sim = ThreeNodes();
  sim.AddService(MakeService("web", "nginx", 3));
  sim.Converge();

  sim.FindNode("n1")->spec.availability = "pause";
  EXPECT_TRUE(sim.Pass().empty());  // existing tasks stay on a paused node
  sim.FindNode("n3")->spec.availability = "drain";
  const Plan& plan = sim.Pass();
  ASSERT_EQ(plan.create.size(), 1u);
  EXPECT_EQ(plan.create[0].node_id, "n2");  // n1 paused, n3 drained
  // A drain has no restart delay, but the new task waits for the old one to stop.
  EXPECT_EQ(plan.create[0].desired_state, "ready");
  EXPECT_TRUE(sim.Pass().empty());
  sim.Agents();  // n3's agent stops its task
  const Plan& start = sim.Pass();
  ASSERT_EQ(start.update.size(), 1u);
  EXPECT_EQ(start.update[0].desired_state, "running");
  sim.Converge();
  EXPECT_EQ(sim.PerNode(sim.Running("web")), (std::map<std::string, int>{{"n1", 1}, {"n2", 2}}));
}

TEST(OrchestratorReplicated, RestartPolicyDelayAndMaxAttempts) {
  Sim sim = ThreeNodes();
  spec::Service s = MakeService("job", "busybox", 1);
  s.spec.task_template.restart_policy =
      spec::ServiceRestartPolicy{"on-failure", 2 * kSec, 2, std::nullopt};
  sim.AddService(s);
  sim.Converge();

  auto fail_current = [&] {
    auto wanted = sim.Wanted("job");
    ASSERT_EQ(wanted.size(), 1u);
    spec::Task* t = sim.FindTask(wanted[0]->id);
    sim.SetState(*t, "failed", "started", "task: non-zero exit (1)");
  };
  for (int attempt = 1; attempt <= 2; ++attempt) {
    fail_current();
    const Plan& p = sim.Pass();
    ASSERT_EQ(p.create.size(), 1u) << attempt;
    EXPECT_EQ(p.create[0].slot, 1);
    EXPECT_EQ(p.create[0].desired_state, "ready");
    ASSERT_TRUE(p.wake_at);
    EXPECT_EQ(UnixNanos(*p.wake_at), sim.now + 2 * kSec);
    sim.Advance(2 * kSec);
    sim.Pass();
    sim.Agents();
    EXPECT_EQ(sim.Running("job").size(), 1u);
    sim.Advance(10 * kSec);
  }
  // Two restarts made: the third failure stays.
  fail_current();
  const Plan& last = sim.Pass();
  EXPECT_TRUE(last.create.empty());
  EXPECT_EQ(sim.Wanted("job").size(), 0u);
  EXPECT_EQ(sim.Tasks("job").size(), 3u);
  EXPECT_TRUE(sim.Pass().empty());  // the slot stays stopped: no new task
}

// A replacement rejected before its restart delay is over (an image no node can have: the agent
// rejects it while preparing, in milliseconds) is replaced once that delay is over, not at once:
// one attempt per delay, as swarmkit's restart supervisor (waitRestart), never a tight loop.
TEST(OrchestratorReplicated, ARejectedReplacementWaitsForItsDelay) {
  Sim sim = ThreeNodes();
  sim.AddService(MakeService("web", "nginx", 1));
  sim.Converge();
  ASSERT_EQ(sim.Running("web").size(), 1u);
  spec::Task* first = sim.FindTask(sim.Running("web")[0]->id);
  sim.SetState(*first, "failed", "started", "task: non-zero exit (1)");

  // Each replacement is assigned, then rejected at once; nothing new until its delay is over.
  std::string current;
  for (int attempt = 1; attempt <= 4; ++attempt) {
    sim.Pass();  // the replacement (desired "ready"), then its node
    sim.Pass();
    auto wanted = sim.Tasks("web", [](const spec::Task& t) { return t.desired_state == "ready"; });
    ASSERT_EQ(wanted.size(), 1u) << attempt;
    ASSERT_NE(wanted[0]->id, current) << attempt;
    current = wanted[0]->id;
    ASSERT_FALSE(wanted[0]->node_id.empty()) << attempt;
    int64_t created = wanted[0]->meta.created_at;
    sim.SetState(*sim.FindTask(current), "rejected", "preparing", "No such image: nginx");
    for (int64_t t = 0; t < 4; ++t) {
      sim.Advance(kSec);
      const Plan& p = sim.Pass();
      EXPECT_TRUE(p.create.empty()) << attempt << " after " << t + 1 << " s";
      EXPECT_EQ(sim.FindTask(current)->desired_state, "ready");  // as Docker shows it
      ASSERT_TRUE(p.wake_at) << attempt;
      EXPECT_EQ(UnixNanos(*p.wake_at), created + 5 * kSec);
    }
    sim.now = created + 5 * kSec;
  }
  const Plan& fifth = sim.Pass();
  EXPECT_EQ(fifth.create.size(), 1u);  // the fifth attempt, 5 s after the fourth
  EXPECT_EQ(sim.FindTask(current)->desired_state, "shutdown");
}

TEST(OrchestratorReplicated, RestartConditionsAndWindow) {
  struct Case {
    std::string condition;
    std::string end_state;
    bool restarts;
  };
  const std::vector<Case> cases = {
      {"", "complete", true},          {"any", "failed", true},
      {"on-failure", "complete", false}, {"on-failure", "failed", true},
      {"on-failure", "rejected", true}, {"none", "failed", false},
  };
  for (const Case& c : cases) {
    Sim sim = ThreeNodes();
    spec::Service s = MakeService("job", "busybox", 1);
    if (!c.condition.empty()) {
      s.spec.task_template.restart_policy = spec::ServiceRestartPolicy{c.condition, std::nullopt, std::nullopt, std::nullopt};
    }
    sim.AddService(s);
    sim.Converge();
    std::string id = sim.Running("job")[0]->id;
    sim.SetState(*sim.FindTask(id), c.end_state, "started");
    const Plan& p = sim.Pass();
    EXPECT_EQ(p.create.size(), c.restarts ? 1u : 0u) << c.condition << " " << c.end_state;
    EXPECT_EQ(sim.FindTask(id)->desired_state, "shutdown");
  }

  // Max 1 attempt within a 10 s window: a failure long after the last restart restarts again.
  Sim sim = ThreeNodes();
  spec::Service s = MakeService("job", "busybox", 1);
  s.spec.task_template.restart_policy = spec::ServiceRestartPolicy{"any", 0, 1, 10 * kSec};
  sim.AddService(s);
  sim.Converge();
  auto fail = [&] {
    spec::Task* t = sim.FindTask(sim.Wanted("job")[0]->id);
    sim.SetState(*t, "failed", "started");
    return sim.Pass().create.size();
  };
  EXPECT_EQ(fail(), 1u);
  sim.Converge();
  sim.Advance(2 * kSec);
  EXPECT_EQ(fail(), 0u);  // second failure within the window: no more attempts
  // Scale to 0 and back to start afresh is not needed: a later failure of a new spec restarts.
}

TEST(OrchestratorReplicated, TaskHistoryIsPrunedToTheLimit) {
  Sim sim = ThreeNodes();
  sim.view.task_history_limit = 3;
  spec::Service s = MakeService("web", "nginx", 1);
  s.spec.task_template.restart_policy = spec::ServiceRestartPolicy{"any", 0, std::nullopt, std::nullopt};
  sim.AddService(s);
  sim.Converge();
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(sim.Running("web")[0]->id);
    spec::Task* t = sim.FindTask(ids.back());
    sim.SetState(*t, "failed", "started");
    sim.Advance(kSec);
    sim.Converge();
    EXPECT_LE(sim.Tasks("web").size(), 3u);
  }
  auto all = sim.Tasks("web");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(sim.Running("web").size(), 1u);
  // The oldest went first: the two newest failures are the ones kept.
  std::set<std::string> kept;
  for (const spec::Task* t : all) kept.insert(t->id);
  EXPECT_TRUE(kept.count(ids[5]));
  EXPECT_TRUE(kept.count(ids[4]));
  EXPECT_FALSE(kept.count(ids[0]));
}

TEST(OrchestratorReplicated, ServiceRemovalShutsDownThenDeletes) {
  Sim sim = ThreeNodes();
  sim.AddService(MakeService("web", "nginx", 3));
  sim.Converge();
  sim.view.services.clear();
  const Plan& p = sim.Pass();
  EXPECT_EQ(p.update.size(), 3u);
  for (const spec::Task& t : p.update) EXPECT_EQ(t.desired_state, "remove");
  sim.Agents();
  EXPECT_EQ(sim.Pass().remove.size(), 3u);
  EXPECT_TRUE(sim.view.tasks.empty());
}

TEST(OrchestratorReplicated, UnschedulableTasksScaledAwayAreDeleted) {
  Sim sim;  // no nodes at all
  sim.AddService(MakeService("web", "nginx", 3));
  sim.Pass();
  ASSERT_EQ(sim.Tasks("web").size(), 3u);
  sim.FindService("web")->spec.mode.replicas = 1;
  const Plan& p = sim.Pass();
  EXPECT_EQ(p.remove.size(), 2u);  // never reached a node: deleted at once
  auto left = sim.Tasks("web");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0]->slot, 1);
  EXPECT_EQ(left[0]->status.state, "pending");
}

TEST(OrchestratorGlobal, OneTaskPerNodeThenANewNodeGetsOne) {
  Sim sim = ThreeNodes();
  sim.AddService(MakeGlobal("agent", "node-exporter"));
  const Plan& p = sim.Pass();
  ASSERT_EQ(p.create.size(), 3u);
  for (const spec::Task& t : p.create) {
    EXPECT_EQ(t.slot, 0);
    EXPECT_EQ(t.status.state, "assigned");
    EXPECT_EQ(t.status.message, "scheduler confirmed task can run on preassigned node");
  }
  EXPECT_EQ(sim.PerNode(sim.Tasks("agent")),
            (std::map<std::string, int>{{"n1", 1}, {"n2", 1}, {"n3", 1}}));
  sim.Converge();

  sim.view.nodes.push_back(MakeNode("n4"));
  const Plan& more = sim.Pass();
  ASSERT_EQ(more.create.size(), 1u);
  EXPECT_EQ(more.create[0].node_id, "n4");
  sim.Converge();
  EXPECT_EQ(sim.Running("agent").size(), 4u);

  // Drain n1, cut n2: their tasks are shut down and not replaced elsewhere.
  sim.FindNode("n1")->spec.availability = "drain";
  sim.FindNode("n2")->status.state = "down";
  const Plan& gone = sim.Pass();
  EXPECT_TRUE(gone.create.empty());
  EXPECT_EQ(gone.update.size(), 2u);
  for (const spec::Task& t : gone.update) EXPECT_EQ(t.desired_state, "shutdown");
  // n2 comes back: a task again.
  sim.FindNode("n2")->status.state = "ready";
  const Plan& back = sim.Pass();
  ASSERT_EQ(back.create.size(), 1u);
  EXPECT_EQ(back.create[0].node_id, "n2");
}

// A global task waiting out its restart delay whose node is paused, or goes, is dealt with at
// once (swarmkit's global orchestrator does not go through the restart supervisor for that).
TEST(OrchestratorGlobal, AReplacementInItsDelayGoesAtOnceWithItsNode) {
  Sim sim = ThreeNodes();
  sim.AddService(MakeGlobal("agent", "node-exporter"));
  sim.Converge();
  for (const char* node : {"n1", "n2"}) {
    auto on = sim.Tasks("agent", [&](const spec::Task& t) {
      return t.node_id == node && t.desired_state == "running";
    });
    ASSERT_EQ(on.size(), 1u);
    sim.SetState(*sim.FindTask(on[0]->id), "failed", "started", "task: non-zero exit (1)");
  }
  sim.Pass();  // replacements on n1 and n2, desired "ready" for 5 s
  sim.Pass();
  for (const char* node : {"n1", "n2"}) {
    auto ready = sim.Tasks("agent", [&](const spec::Task& t) {
      return t.node_id == node && t.desired_state == "ready";
    });
    ASSERT_EQ(ready.size(), 1u) << node;
    sim.SetState(*sim.FindTask(ready[0]->id), "rejected", "preparing", "No such image");
  }
  sim.Advance(kSec);
  sim.FindNode("n1")->spec.availability = "pause";
  sim.view.nodes.erase(std::remove_if(sim.view.nodes.begin(), sim.view.nodes.end(),
                                      [](const spec::Node& n) { return n.id == "n2"; }),
                       sim.view.nodes.end());
  sim.Pass();
  // Nothing wanted is left on either (the old, ended tasks are the reaper's).
  for (const char* node : {"n1", "n2"})
    EXPECT_TRUE(sim.Tasks("agent", [&](const spec::Task& t) {
                     return t.node_id == node &&
                            (t.desired_state == "ready" || t.desired_state == "running");
                   }).empty())
        << node;
}

TEST(OrchestratorGlobal, ConstraintsAndPause) {
  Sim sim = ThreeNodes();
  sim.view.nodes[0].spec.annotations.labels["monitor"] = "yes";
  sim.view.nodes[1].spec.annotations.labels["monitor"] = "yes";
  sim.view.nodes[1].spec.availability = "pause";
  spec::Service s = MakeGlobal("agent", "node-exporter");
  s.spec.task_template.placement = spec::Placement{};
  s.spec.task_template.placement->constraints = {"node.labels.monitor==yes"};
  sim.AddService(s);
  sim.Converge();
  EXPECT_EQ(sim.PerNode(sim.Running("agent")), (std::map<std::string, int>{{"n1", 1}}));
  // The label goes from n1: its task is shut down.
  sim.FindNode("n1")->spec.annotations.labels.clear();
  sim.Converge();
  EXPECT_TRUE(sim.Running("agent").empty());
}

}  // namespace
}  // namespace berth::cluster::orch
