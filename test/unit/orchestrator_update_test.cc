// Rolling updates and rollbacks (reconcile.h, updater.h), simulated pass by pass: the test plays
// the agents between passes and moves the clock by hand.
#include <gtest/gtest.h>

#include <chrono>

#include "orchestrator_sim.h"

namespace berth::cluster::orch {
namespace {

using testing::Image;
using testing::kSec;
using testing::MakeNode;
using testing::MakeService;
using testing::Sim;

// A converged service of `replicas` tasks of image "v1" on three nodes.
Sim Deployed(uint64_t replicas, const spec::ServiceUpdateConfig& update) {
  Sim sim;
  sim.view.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};
  spec::Service s = MakeService("web", "v1", replicas);
  s.spec.update_config = update;
  sim.AddService(s);
  sim.Converge();
  EXPECT_EQ(sim.Running("web").size(), replicas);
  return sim;
}

spec::ServiceUpdateConfig Config(uint64_t parallelism, int64_t delay, const std::string& order,
                                 const std::string& failure_action = "pause",
                                 double max_ratio = 0) {
  spec::ServiceUpdateConfig c;
  c.parallelism = parallelism;
  c.delay = delay;
  c.order = order;
  c.failure_action = failure_action;
  c.monitor = 5 * kSec;
  c.max_failure_ratio = max_ratio;
  return c;
}

void SetImage(Sim& sim, const std::string& image) {
  sim.UpdateService("web", [&](spec::ServiceSpec& spec) {
    spec.task_template.container_spec->image = image;
  });
}

std::string UpdateState(Sim& sim) {
  const auto& us = sim.FindService("web")->update_status;
  return us ? us->state : "";
}

// Agents that cannot run image "bad": its tasks are rejected, as Docker's are for a missing image.
void AgentsRejectingBad(Sim& sim) {
  for (spec::Task& t : sim.view.tasks) {
    if (Image(t) == "bad" && t.desired_state == "running" && t.status.state == "assigned") {
      sim.SetState(t, "rejected", "preparing", "No such image: bad");
    }
  }
  sim.Agents();
}

struct Observed {
  size_t max_in_flight = 0;      // slots with a new task not yet running, at once
  size_t max_wanted = 0;         // tasks desired ready/running, at once
  bool slot_doubled = false;     // two tasks desired running in one slot
  int steps = 0;
};

// Passes and agents one second apart until the update is no longer in progress.
Observed Drive(Sim& sim, const std::function<void(Sim&)>& agents, int max_steps = 400) {
  Observed o;
  for (; o.steps < max_steps; ++o.steps) {
    sim.Pass();
    std::map<int64_t, int> running_per_slot;
    size_t in_flight = 0, wanted = 0;
    for (const spec::Task& t : sim.view.tasks) {
      if (t.desired_state == "running" || t.desired_state == "ready") ++wanted;
      if (t.desired_state == "running") ++running_per_slot[t.slot];
      if (Image(t) != "v1" && (t.desired_state == "running" || t.desired_state == "ready") &&
          t.status.state != "running") {
        ++in_flight;
      }
    }
    for (const auto& [slot, n] : running_per_slot) o.slot_doubled |= n > 1;
    o.max_in_flight = std::max(o.max_in_flight, in_flight);
    o.max_wanted = std::max(o.max_wanted, wanted);
    std::string st = UpdateState(sim);
    if (!st.empty() && st != spec::kUpdateUpdating && st != spec::kUpdateRollbackStarted) break;
    agents(sim);
    sim.Advance(kSec);
  }
  return o;
}

TEST(OrchestratorUpdate, StopFirstReplacesOneSlotAtATimeToCompletion) {
  Sim sim = Deployed(3, Config(1, 0, "stop-first"));
  int64_t start = sim.now;
  SetImage(sim, "v2");

  // The first pass starts the update and takes slot 1: its old task is shut down and the new one
  // waits ("ready") for it to stop.
  const Plan& first = sim.Pass();
  ASSERT_EQ(first.services.size(), 1u);
  const spec::UpdateStatus& us = *first.services[0].update_status;
  EXPECT_EQ(us.state, "updating");
  EXPECT_EQ(us.message, "update in progress");
  EXPECT_EQ(us.started_at, start);
  ASSERT_EQ(first.create.size(), 1u);
  EXPECT_EQ(first.create[0].slot, 1);
  EXPECT_EQ(first.create[0].desired_state, "ready");
  EXPECT_EQ(Image(first.create[0]), "v2");
  ASSERT_EQ(first.update.size(), 1u);
  EXPECT_EQ(first.update[0].slot, 1);
  EXPECT_EQ(first.update[0].desired_state, "shutdown");
  EXPECT_TRUE(sim.Pass().empty());  // nothing until the old task stops

  Observed o = Drive(sim, [](Sim& s) { s.Agents(); });
  EXPECT_EQ(UpdateState(sim), "completed");
  const spec::UpdateStatus& done = *sim.FindService("web")->update_status;
  EXPECT_EQ(done.message, "update completed");
  EXPECT_EQ(done.started_at, start);
  ASSERT_TRUE(done.completed_at);
  EXPECT_FALSE(o.slot_doubled);
  EXPECT_LE(o.max_in_flight, 1u);
  EXPECT_LE(o.max_wanted, 3u);  // stop-first never runs more than the replicas
  auto running = sim.Running("web");
  ASSERT_EQ(running.size(), 3u);
  for (const spec::Task* t : running) EXPECT_EQ(Image(*t), "v2");
  // History: each slot keeps its old task, shut down.
  EXPECT_EQ(sim.Tasks("web").size(), 6u);
  EXPECT_TRUE(sim.Pass().empty());
}

TEST(OrchestratorUpdate, StartFirstStartsTheNewTaskBeforeStoppingTheOld) {
  Sim sim = Deployed(3, Config(1, 0, "start-first"));
  SetImage(sim, "v2");
  const Plan& first = sim.Pass();
  ASSERT_EQ(first.create.size(), 1u);
  EXPECT_EQ(first.create[0].desired_state, "running");
  EXPECT_TRUE(first.update.empty());  // the old task keeps running
  std::string old_slot1;
  for (const spec::Task* t : sim.Tasks("web")) {
    if (t->slot == 1 && Image(*t) == "v1") old_slot1 = t->id;
  }
  sim.Agents();  // the new task runs
  const Plan& second = sim.Pass();
  EXPECT_EQ(sim.FindTask(old_slot1)->desired_state, "shutdown");
  ASSERT_EQ(second.create.size(), 1u);  // and slot 2 starts (no delay)
  EXPECT_EQ(second.create[0].slot, 2);

  Observed o = Drive(sim, [](Sim& s) { s.Agents(); });
  EXPECT_EQ(UpdateState(sim), "completed");
  EXPECT_LE(o.max_wanted, 4u);
  for (const spec::Task* t : sim.Running("web")) EXPECT_EQ(Image(*t), "v2");
  EXPECT_EQ(sim.Running("web").size(), 3u);
}

TEST(OrchestratorUpdate, DelayBetweenBatchesAndCompletionAfterMonitor) {
  // Docker's trace: 3 replicas, parallelism 1, delay 10 s, start-first; each slot starts 10 s
  // after the previous one runs, and the update completes delay + 1 s after the last one runs
  // (the delay is not shorter than the 5 s monitor).
  Sim sim = Deployed(3, Config(1, 10 * kSec, "start-first"));
  SetImage(sim, "v2");
  std::vector<int64_t> created;
  int64_t last_running = 0;
  for (int step = 0; step < 100 && UpdateState(sim) != "completed"; ++step) {
    const Plan& p = sim.Pass();
    for (const spec::Task& t : p.create) created.push_back(t.meta.created_at);
    for (spec::Task& t : sim.view.tasks) {
      if (t.desired_state == "running" && t.status.state == "assigned") {
        sim.SetState(t, "running", "started");
        last_running = sim.now;
      }
    }
    sim.Agents();
    sim.Advance(kSec);
  }
  ASSERT_EQ(created.size(), 3u);
  EXPECT_EQ(created[1] - created[0], 10 * kSec);
  EXPECT_EQ(created[2] - created[1], 10 * kSec);
  const spec::UpdateStatus& us = *sim.FindService("web")->update_status;
  EXPECT_EQ(us.state, "completed");
  EXPECT_EQ(*us.completed_at, last_running + 10 * kSec + 11 * kSec);
}

TEST(OrchestratorUpdate, ParallelismZeroReplacesAllAtOnce) {
  Sim sim = Deployed(4, Config(0, 0, "stop-first"));
  SetImage(sim, "v2");
  const Plan& p = sim.Pass();
  EXPECT_EQ(p.create.size(), 4u);
  EXPECT_EQ(p.update.size(), 4u);
  Drive(sim, [](Sim& s) { s.Agents(); });
  EXPECT_EQ(UpdateState(sim), "completed");
}

TEST(OrchestratorUpdate, ParallelismTwoKeepsTwoInFlight) {
  Sim sim = Deployed(6, Config(2, 0, "stop-first"));
  SetImage(sim, "v2");
  EXPECT_EQ(sim.Pass().create.size(), 2u);
  Observed o = Drive(sim, [](Sim& s) { s.Agents(); });
  EXPECT_EQ(UpdateState(sim), "completed");
  EXPECT_EQ(o.max_in_flight, 2u);
  EXPECT_FALSE(o.slot_doubled);
}

TEST(OrchestratorUpdate, FailureWithPauseStopsTheUpdate) {
  Sim sim = Deployed(3, Config(1, 0, "stop-first", "pause"));
  SetImage(sim, "bad");
  Drive(sim, AgentsRejectingBad);
  EXPECT_EQ(UpdateState(sim), "paused");
  const spec::UpdateStatus& us = *sim.FindService("web")->update_status;
  std::string failed;
  for (const spec::Task* t : sim.Tasks("web")) {
    if (t->status.state == "rejected" && failed.empty()) failed = t->id;
  }
  EXPECT_EQ(us.message, "update paused due to failure or early termination of task " + failed);
  // Slots 2 and 3 still run v1; nothing more happens while paused.
  int v1 = 0;
  for (const spec::Task* t : sim.Running("web")) v1 += Image(*t) == "v1";
  EXPECT_EQ(v1, 2);
  sim.Advance(60 * kSec);
  sim.Pass();
  AgentsRejectingBad(sim);
  EXPECT_EQ(UpdateState(sim), "paused");
  v1 = 0;
  for (const spec::Task* t : sim.Running("web")) v1 += Image(*t) == "v1";
  EXPECT_EQ(v1, 2);
}

TEST(OrchestratorUpdate, FailureRollsBackToThePreviousSpec) {
  // Docker's trace: --update-failure-action rollback, max ratio 0.2, start-first, to an image that
  // does not exist: rollback_started with the failed task's id, then rollback_completed.
  Sim sim = Deployed(3, Config(1, 0, "start-first", "rollback", 0.2));
  SetImage(sim, "bad");
  for (int step = 0; step < 20 && UpdateState(sim) != "rollback_started"; ++step) {
    sim.Pass();
    if (UpdateState(sim) == "rollback_started") break;
    AgentsRejectingBad(sim);
    sim.Advance(kSec);
  }
  spec::Service* s = sim.FindService("web");
  ASSERT_EQ(UpdateState(sim), "rollback_started");
  EXPECT_EQ(s->spec.task_template.container_spec->image, "v1");
  EXPECT_FALSE(s->previous_spec.has_value());
  std::string failed;
  for (const spec::Task* t : sim.Tasks("web")) {
    if (t->status.state == "rejected") failed = t->id;
  }
  ASSERT_FALSE(failed.empty());
  EXPECT_EQ(s->update_status->message,
            "update rolled back due to failure or early termination of task " + failed);
  // The old tasks kept running (start-first): no v1 slot was lost.
  EXPECT_EQ(sim.Running("web").size(), 3u);

  Drive(sim, AgentsRejectingBad);
  ASSERT_EQ(UpdateState(sim), "rollback_completed");
  EXPECT_EQ(s->update_status->message, "rollback completed");
  EXPECT_TRUE(s->update_status->completed_at.has_value());
  auto running = sim.Running("web");
  ASSERT_EQ(running.size(), 3u);
  for (const spec::Task* t : running) EXPECT_EQ(Image(*t), "v1");
  for (const spec::Task* t : sim.Wanted("web")) EXPECT_EQ(Image(*t), "v1");
  EXPECT_TRUE(sim.Pass().empty());
}

TEST(OrchestratorUpdate, ManualRollback) {
  Sim sim = Deployed(2, Config(1, 0, "stop-first"));
  SetImage(sim, "v2");
  Drive(sim, [](Sim& s) { s.Agents(); });
  ASSERT_EQ(UpdateState(sim), "completed");
  // What the API does on `service rollback`.
  spec::Service* s = sim.FindService("web");
  std::swap(s->spec, *s->previous_spec);
  s->update_status = spec::UpdateStatus{"rollback_started", sim.now, std::nullopt,
                                        "manually requested rollback"};
  s->meta.updated_at = sim.now;
  Drive(sim, [](Sim& s) { s.Agents(); });
  EXPECT_EQ(UpdateState(sim), "rollback_completed");
  for (const spec::Task* t : sim.Running("web")) EXPECT_EQ(Image(*t), "v1");
  EXPECT_EQ(sim.Running("web").size(), 2u);
}

TEST(OrchestratorUpdate, ForceUpdateReplacesTasksWithTheSameImage) {
  Sim sim = Deployed(2, Config(1, 0, "stop-first"));
  sim.UpdateService("web", [](spec::ServiceSpec& spec) { spec.task_template.force_update++; });
  EXPECT_EQ(sim.Pass().create.size(), 1u);
  Drive(sim, [](Sim& s) { s.Agents(); });
  EXPECT_EQ(UpdateState(sim), "completed");
  EXPECT_EQ(sim.Tasks("web").size(), 4u);
}

TEST(OrchestratorUpdate, GlobalServiceUpdatesNodeByNode) {
  Sim sim;
  sim.view.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};
  spec::Service s = testing::MakeGlobal("web", "v1");
  s.spec.update_config = Config(1, 0, "stop-first");
  sim.AddService(s);
  sim.Converge();
  ASSERT_EQ(sim.Running("web").size(), 3u);
  SetImage(sim, "v2");
  const Plan& first = sim.Pass();
  ASSERT_EQ(first.create.size(), 1u);
  EXPECT_EQ(first.create[0].node_id, "n1");
  EXPECT_EQ(first.create[0].slot, 0);
  Observed o = Drive(sim, [](Sim& s) { s.Agents(); });
  EXPECT_EQ(UpdateState(sim), "completed");
  EXPECT_LE(o.max_in_flight, 1u);
  auto running = sim.Running("web");
  ASSERT_EQ(running.size(), 3u);
  for (const spec::Task* t : running) EXPECT_EQ(Image(*t), "v2");
  EXPECT_EQ(sim.PerNode(running), (std::map<std::string, int>{{"n1", 1}, {"n2", 1}, {"n3", 1}}));
}

TEST(OrchestratorUpdate, AnOldTaskThatFailsDuringAPausedUpdateComesBackWithTheNewSpec) {
  Sim sim = Deployed(3, Config(1, 0, "stop-first", "pause"));
  SetImage(sim, "bad");
  Drive(sim, AgentsRejectingBad);
  ASSERT_EQ(UpdateState(sim), "paused");
  // The user fixes the image: a new update (UpdateStatus cleared) takes every slot to v3,
  // including the one whose bad task is in a restart loop.
  SetImage(sim, "v3");
  Observed o = Drive(sim, [](Sim& s) { s.Agents(); });
  EXPECT_EQ(UpdateState(sim), "completed");
  auto wanted = sim.Wanted("web");
  ASSERT_EQ(wanted.size(), 3u);
  for (const spec::Task* t : wanted) EXPECT_EQ(Image(*t), "v3");
  EXPECT_FALSE(o.slot_doubled);
}

TEST(OrchestratorUpdate, ANewLeaderMidUpdateContinuesWithoutDuplicatingASlot) {
  Sim sim = Deployed(5, Config(2, 3 * kSec, "stop-first"));
  SetImage(sim, "v2");
  // Run part of the way.
  for (int i = 0; i < 4; ++i) {
    sim.Pass();
    sim.Agents();
    sim.Advance(kSec);
  }
  ASSERT_EQ(UpdateState(sim), "updating");
  // The old leader computed a plan and died before committing it; the new leader only has the
  // store. Its decisions are the same (different ids), and nothing already started is redone.
  Plan lost = Reconcile(sim.view, testing::At(sim.now), sim.ids());
  Sim leader2 = sim;
  leader2.next_id = 1000;
  const Plan& again = leader2.Pass();
  ASSERT_EQ(lost.create.size(), again.create.size());
  for (size_t i = 0; i < lost.create.size(); ++i) {
    EXPECT_EQ(lost.create[i].slot, again.create[i].slot);
  }
  EXPECT_EQ(lost.update.size(), again.update.size());
  Observed o = Drive(leader2, [](Sim& s) { s.Agents(); });
  EXPECT_EQ(UpdateState(leader2), "completed");
  EXPECT_FALSE(o.slot_doubled);
  // Every slot was replaced exactly once: 5 old tasks + 5 new ones.
  EXPECT_EQ(leader2.Tasks("web").size(), 10u);
  std::map<int64_t, int> v2_per_slot;
  for (const spec::Task* t : leader2.Tasks("web")) v2_per_slot[t->slot] += Image(*t) == "v2";
  for (const auto& [slot, n] : v2_per_slot) EXPECT_EQ(n, 1) << slot;
}

TEST(OrchestratorUpdate, AThousandTaskUpdateIsPlannedInMilliseconds) {
  Sim sim;
  for (int i = 0; i < 10; ++i) sim.view.nodes.push_back(MakeNode("n" + std::to_string(i)));
  spec::Service s = MakeService("web", "v1", 1000);
  s.spec.update_config = Config(0, 0, "stop-first");
  sim.AddService(s);
  sim.Converge();
  ASSERT_EQ(sim.Running("web").size(), 1000u);
  SetImage(sim, "v2");

  auto t0 = std::chrono::steady_clock::now();
  Plan plan = Reconcile(sim.view, testing::At(sim.now), sim.ids());
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(elapsed, std::chrono::milliseconds(500));
  EXPECT_EQ(plan.create.size(), 1000u);
  EXPECT_EQ(plan.update.size(), 1000u);
  ASSERT_EQ(plan.services.size(), 1u);
  EXPECT_EQ(plan.services[0].update_status->state, "updating");
  std::map<std::string, int> per_node;
  for (const spec::Task& t : plan.create) {
    EXPECT_EQ(Image(t), "v2");
    EXPECT_EQ(t.status.state, "assigned");
    ++per_node[t.node_id];
  }
  for (const auto& [node, n] : per_node) EXPECT_EQ(n, 100) << node;
  for (const spec::Task& t : plan.update) EXPECT_EQ(t.desired_state, "shutdown");

  // One at a time: one task per pass.
  sim.FindService("web")->spec.update_config->parallelism = 1;
  t0 = std::chrono::steady_clock::now();
  plan = Reconcile(sim.view, testing::At(sim.now), sim.ids());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
  EXPECT_EQ(plan.create.size(), 1u);
}

}  // namespace
}  // namespace berth::cluster::orch
