// The orchestrator's scheduler and service reconciliation against fake nodes (reconcile.h).
#include <gtest/gtest.h>

#include "orchestrator_sim.h"

namespace berth::cluster::orch {
namespace {

using testing::MakeNode;
using testing::MakeService;
using testing::Image;
using testing::kSec;
using testing::Sim;

TEST(OrchestratorScheduler, CreateTwoReplicasSpreadsThemOverTwoNodes) {
  Sim sim;
  sim.view.nodes = {MakeNode("n1"), MakeNode("n2")};
  sim.AddService(MakeService("web", "nginx", 2));

  const Plan& plan = sim.Pass();
  ASSERT_EQ(plan.create.size(), 2u);
  EXPECT_TRUE(plan.update.empty());
  std::set<std::string> nodes;
  std::set<int64_t> slots;
  for (const spec::Task& t : plan.create) {
    EXPECT_EQ(t.service_id, "web");
    EXPECT_EQ(t.desired_state, "running");
    EXPECT_EQ(t.status.state, "assigned");
    EXPECT_EQ(t.status.message, "scheduler assigned task to node");
    EXPECT_EQ(t.status.timestamp, sim.now);
    EXPECT_EQ(t.meta.created_at, sim.now);
    EXPECT_EQ(t.meta.version.index, 0u);
    EXPECT_EQ(testing::Image(t), "nginx");
    EXPECT_EQ(t.id.size(), 25u);
    nodes.insert(t.node_id);
    slots.insert(t.slot);
  }
  EXPECT_EQ(nodes, (std::set<std::string>{"n1", "n2"}));
  EXPECT_EQ(slots, (std::set<int64_t>{1, 2}));

  // Converged: the next pass has nothing to do, and nothing once the agents run them either.
  EXPECT_TRUE(sim.Pass().empty());
  sim.Agents();
  EXPECT_TRUE(sim.Pass().empty());
  EXPECT_EQ(sim.Running("web").size(), 2u);
}

TEST(OrchestratorScheduler, NoNodeLeavesTasksPendingUntilOneComes) {
  Sim sim;
  sim.AddService(MakeService("web", "nginx", 1));
  const Plan& plan = sim.Pass();
  ASSERT_EQ(plan.create.size(), 1u);
  EXPECT_EQ(plan.create[0].status.state, "pending");
  EXPECT_EQ(plan.create[0].status.message, "pending task scheduling");
  EXPECT_EQ(plan.create[0].status.err, "no suitable node");
  EXPECT_TRUE(sim.Pass().empty());  // the same error is not written again

  sim.view.nodes = {MakeNode("n1")};
  const Plan& later = sim.Pass();
  ASSERT_EQ(later.update.size(), 1u);
  EXPECT_EQ(later.update[0].status.state, "assigned");
  EXPECT_EQ(later.update[0].node_id, "n1");
  EXPECT_EQ(later.update[0].status.err, "");
}

TEST(OrchestratorScheduler, ConstraintsThatFitNowhereExplainWhy) {
  struct Case {
    std::vector<std::string> constraints;
    std::string err;
  };
  const std::vector<Case> cases = {
      {{"node.labels.zone==east"},
       "no suitable node (scheduling constraints not satisfied on 3 nodes)"},
      {{"node.hostname==nowhere"},
       "no suitable node (scheduling constraints not satisfied on 3 nodes)"},
      {{"node.role==manager"}, "no suitable node (scheduling constraints not satisfied on 3 nodes)"},
      {{"engine.labels.gpu==true"},
       "no suitable node (scheduling constraints not satisfied on 3 nodes)"},
  };
  for (const Case& c : cases) {
    Sim sim;
    sim.view.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};
    spec::Service s = MakeService("web", "nginx", 1);
    s.spec.task_template.placement = spec::Placement{};
    s.spec.task_template.placement->constraints = c.constraints;
    sim.AddService(s);
    const Plan& plan = sim.Pass();
    ASSERT_EQ(plan.create.size(), 1u);
    EXPECT_EQ(plan.create[0].status.state, "pending");
    EXPECT_EQ(plan.create[0].status.err, c.err) << c.constraints[0];
  }
}

TEST(OrchestratorScheduler, UnavailableNodesAndConstraintsTogether) {
  Sim sim;
  sim.view.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};
  sim.view.nodes[0].status.state = "down";
  sim.view.nodes[1].spec.availability = "pause";
  spec::Service s = MakeService("web", "nginx", 1);
  s.spec.task_template.placement = spec::Placement{};
  s.spec.task_template.placement->constraints = {"node.id==n1"};
  sim.AddService(s);
  const Plan& plan = sim.Pass();
  ASSERT_EQ(plan.create.size(), 1u);
  EXPECT_EQ(plan.create[0].status.err,
            "no suitable node (2 nodes not available for new tasks; scheduling constraints not "
            "satisfied on 1 node)");
}

TEST(OrchestratorScheduler, ConstraintsPickTheMatchingNodes) {
  Sim sim;
  sim.view.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};
  sim.view.nodes[1].spec.annotations.labels["zone"] = "East";
  sim.view.nodes[2].spec.role = "manager";
  sim.view.nodes[2].description.engine.labels = spec::StringMap{{"ssd", "yes"}};
  struct Case {
    std::string constraint;
    std::set<std::string> nodes;
  };
  const std::vector<Case> cases = {
      {"node.labels.zone==east", {"n2"}},  // values compare without case
      {"node.labels.zone!=east", {"n1", "n3"}},
      {"node.role==manager", {"n3"}},
      {"node.role != manager", {"n1", "n2"}},
      {"node.hostname==host-n1", {"n1"}},
      {"node.id!=n1", {"n2", "n3"}},
      {"engine.labels.ssd==yes", {"n3"}},
      {"node.platform.os==linux", {"n1", "n2", "n3"}},
      {"node.platform.arch==arm64", {}},
  };
  for (const Case& c : cases) {
    std::set<std::string> matched;
    for (const spec::Node& n : sim.view.nodes) {
      if (NodeMatches(n, {c.constraint})) matched.insert(n.id);
    }
    EXPECT_EQ(matched, c.nodes) << c.constraint;
  }

  spec::Service s = MakeService("web", "nginx", 4);
  s.spec.task_template.placement = spec::Placement{};
  s.spec.task_template.placement->constraints = {"node.role!=manager"};
  sim.AddService(s);
  sim.Pass();
  auto per_node = sim.PerNode(sim.Tasks("web"));
  EXPECT_EQ(per_node, (std::map<std::string, int>{{"n1", 2}, {"n2", 2}}));
}

TEST(OrchestratorScheduler, ValidateConstraintsHasDockersWording) {
  EXPECT_TRUE(ValidateConstraints({"node.labels.zone==east", "node.role!=manager"}).ok());
  EXPECT_TRUE(ValidateConstraints({}).ok());
  struct Case {
    std::string expr, message;
  };
  const std::vector<Case> cases = {
      {"node.labels.zone=east", "constraint expected one operator from ==, !="},
      {"node.labels.zone", "constraint expected one operator from ==, !="},
      {"==east", "key '' is invalid"},
      {"1node==east", "key '1node' is invalid"},
      {"node.labels.zone==", "value '' is invalid"},
      {"node.labels.zone==ea,st", "value 'ea,st' is invalid"},
  };
  for (const Case& c : cases) {
    Status st = ValidateConstraints({c.expr});
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << c.expr;
    EXPECT_EQ(std::string(st.message()), c.message) << c.expr;
  }
}

TEST(OrchestratorScheduler, MaxReplicasPerNode) {
  Sim sim;
  sim.view.nodes = {MakeNode("n1"), MakeNode("n2")};
  spec::Service s = MakeService("web", "nginx", 5);
  s.spec.task_template.placement = spec::Placement{};
  s.spec.task_template.placement->max_replicas = 2;
  sim.AddService(s);
  sim.Pass();
  auto assigned = sim.Tasks("web", [](const spec::Task& t) { return t.status.state == "assigned"; });
  auto pending = sim.Tasks("web", [](const spec::Task& t) { return t.status.state == "pending"; });
  EXPECT_EQ(sim.PerNode(assigned), (std::map<std::string, int>{{"n1", 2}, {"n2", 2}}));
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0]->status.err, "no suitable node (max replicas per node limit exceed)");
}

TEST(OrchestratorScheduler, ReservationsAgainstNodeResources) {
  Sim sim;
  sim.view.nodes = {MakeNode("n1"), MakeNode("n2")};
  sim.view.nodes[0].description.resources = {2'000'000'000, 4LL << 30};  // 2 CPUs, 4 GiB
  sim.view.nodes[1].description.resources = {1'000'000'000, 4LL << 30};  // 1 CPU
  // Something else already holds one CPU on n1.
  sim.AddService(MakeService("other", "busybox", 0));
  spec::Task held;
  held.id = "held";
  held.service_id = "other";
  held.slot = 1;
  held.node_id = "n1";
  held.desired_state = "running";
  held.status.state = "running";
  held.spec.resources = spec::ResourceRequirements{};
  held.spec.resources->reservations = spec::NodeResources{1'000'000'000, 0};
  sim.view.tasks.push_back(held);
  sim.FindService("other")->spec.mode.replicas = 1;
  sim.FindService("other")->spec.task_template = held.spec;

  spec::Service s = MakeService("web", "nginx", 3);
  s.spec.task_template.resources = spec::ResourceRequirements{};
  s.spec.task_template.resources->reservations = spec::NodeResources{1'000'000'000, 1LL << 30};
  sim.AddService(s);
  sim.Pass();
  auto assigned = sim.Tasks("web", [](const spec::Task& t) { return t.status.state == "assigned"; });
  auto pending = sim.Tasks("web", [](const spec::Task& t) { return t.status.state == "pending"; });
  EXPECT_EQ(sim.PerNode(assigned), (std::map<std::string, int>{{"n1", 1}, {"n2", 1}}));
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0]->status.err, "no suitable node (insufficient resources on 2 nodes)");

  // The held task ends and its service goes: its CPU is free again.
  sim.view.services.erase(sim.view.services.begin());
  sim.FindTask("held")->status.state = "shutdown";
  sim.Pass();
  EXPECT_EQ(sim.FindTask("held"), nullptr);
  EXPECT_EQ(sim.Tasks("web", [](const spec::Task& t) { return t.status.state == "assigned"; }).size(),
            3u);
}

TEST(OrchestratorScheduler, SpreadPreferenceBalancesLabelValues) {
  Sim sim;
  // Three nodes in zone a, one in zone b: the spread puts half the tasks on the lone b node.
  sim.view.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3"), MakeNode("n4")};
  for (int i = 0; i < 3; ++i) sim.view.nodes[i].spec.annotations.labels["zone"] = "a";
  sim.view.nodes[3].spec.annotations.labels["zone"] = "b";
  spec::Service s = MakeService("web", "nginx", 6);
  s.spec.task_template.placement = spec::Placement{};
  s.spec.task_template.placement->preferences = {spec::PlacementPreference{"node.labels.zone"}};
  sim.AddService(s);
  sim.Pass();
  EXPECT_EQ(sim.PerNode(sim.Tasks("web")),
            (std::map<std::string, int>{{"n1", 1}, {"n2", 1}, {"n3", 1}, {"n4", 3}}));
}

// swarmkit's scheduler puts a node where 5 tasks of the service (of its current spec) failed or
// were rejected within 5 minutes after every node with fewer: an image only some nodes have
// (no registry) ends up on those, instead of a slot failing on one node for ever.
TEST(OrchestratorScheduler, ANodeThatKeepsFailingTheServiceGoesLast) {
  Sim sim;
  sim.view.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};
  spec::Service s = MakeService("web", "nginx", 1);
  s.spec.task_template.restart_policy = spec::ServiceRestartPolicy{"any", 0, std::nullopt, std::nullopt};
  sim.AddService(s);
  sim.Pass();
  // Rejects the slot's current task on its node; returns the node its replacement is given.
  auto reject_current = [&] {
    auto wanted = sim.Wanted("web");
    EXPECT_EQ(wanted.size(), 1u);
    if (wanted.size() != 1) return std::string();
    sim.SetState(*sim.FindTask(wanted[0]->id), "rejected", "preparing", "No such image: nginx");
    sim.Advance(kSec);
    for (int i = 0; i < 3; ++i) sim.Pass();  // replaced, started (no delay), placed
    auto next = sim.Wanted("web");
    EXPECT_EQ(next.size(), 1u);
    return next.size() == 1 ? next[0]->node_id : std::string();
  };
  ASSERT_EQ(sim.Wanted("web")[0]->node_id, "n1");
  // Four failures on n1: still the least loaded node first, so n1 again.
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(reject_current(), "n1") << "failure " << i;
  // The fifth: n1 goes last.
  EXPECT_EQ(reject_current(), "n2");
  // Five on n2 too: n1's are no longer in the slot's history (5 tasks kept), but the leader
  // remembers them (FailureMemory), so the task goes to n3, not back to n1.
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(reject_current(), "n2") << "failure " << i << " on n2";
  EXPECT_EQ(reject_current(), "n3");
  EXPECT_EQ(sim.failures.size(), 10u);

  // Failures older than 5 minutes no longer count (and are forgotten): n1 and n2 are as good as
  // n3 again.
  sim.Advance(6 * 60 * kSec);
  EXPECT_EQ(reject_current(), "n1");
  EXPECT_EQ(sim.failures.size(), 1u);

  // A new spec starts with a clean record: failures of the old one do not count.
  for (int i = 1; i <= 4; ++i) reject_current();
  EXPECT_EQ(reject_current(), "n2");  // n1 has five of this spec now
  sim.UpdateService("web", [](spec::ServiceSpec& spec) {
    spec.task_template.container_spec->image = "nginx:2";
  });
  sim.FindService("web")->spec.update_config = spec::ServiceUpdateConfig{};
  spec::Task* current = sim.FindTask(sim.Wanted("web")[0]->id);
  sim.SetState(*current, "running", "started");
  sim.Converge();
  auto updated = sim.Wanted("web");
  ASSERT_EQ(updated.size(), 1u);
  EXPECT_EQ(Image(*updated[0]), "nginx:2");
  EXPECT_EQ(updated[0]->node_id, "n1");
}

// Without the leader's memory (a new leader's view) the records count: here 5 failed tasks of
// the service on n1, whatever other services and specs did elsewhere.
TEST(OrchestratorScheduler, FailuresInTheRecordsCountOnlyForTheServiceAndSpec) {
  Sim sim;
  sim.remember_failures = false;
  sim.view.nodes = {MakeNode("n1"), MakeNode("n2"), MakeNode("n3")};
  sim.AddService(MakeService("web", "nginx", 1));
  sim.AddService(MakeService("other", "nginx", 1));
  auto failed = [&](const std::string& service, const std::string& node, const std::string& image,
                    int64_t age) {
    spec::Task t;
    t.id = "f" + std::to_string(sim.next_id++);
    t.service_id = service;
    t.slot = 1;
    t.node_id = node;
    t.spec = sim.FindService(service)->spec.task_template;
    t.spec.container_spec->image = image;
    t.desired_state = "shutdown";
    t.meta.created_at = t.meta.updated_at = sim.now - age;
    t.status.state = "rejected";
    t.status.timestamp = sim.now - age;
    sim.view.tasks.push_back(t);
  };
  for (int i = 0; i < 5; ++i) failed("web", "n1", "nginx", (i + 1) * kSec);
  for (int i = 0; i < 5; ++i) failed("other", "n2", "nginx", (i + 1) * kSec);  // not web's
  for (int i = 0; i < 5; ++i) failed("web", "n2", "nginx:old", (i + 1) * kSec);  // another spec
  for (int i = 0; i < 5; ++i) failed("web", "n3", "nginx", 6 * 60 * kSec);  // too old
  sim.view.task_history_limit = 100;
  sim.Pass();
  auto wanted = sim.Wanted("web");
  ASSERT_EQ(wanted.size(), 1u);
  EXPECT_EQ(wanted[0]->node_id, "n2");  // n1 last; n2 and n3 tie, the lower id
  // With the memory the same holds (it takes the records in).
  sim.remember_failures = true;
  sim.FindService("web")->spec.mode.replicas = 3;
  sim.Pass();
  EXPECT_EQ(sim.PerNode(sim.Wanted("web")), (std::map<std::string, int>{{"n2", 2}, {"n3", 1}}));
}

}  // namespace
}  // namespace berth::cluster::orch
