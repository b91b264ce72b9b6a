// Draining a backend before its stop (dispatcher.h: kDrainLimit, HeldBackends): a task the
// managers want stopped is held running on its node while another node's applied mesh still
// balances to it, for at most kDrainLimit.
#include <gtest/gtest.h>

#include "cluster/dispatcher.h"

namespace berth::cluster {
namespace {

using std::chrono::milliseconds;

spec::Task Backend(const std::string& id, const std::string& desired, const std::string& state,
                   const std::string& addr) {
  spec::Task t;
  t.id = id;
  t.node_id = "n1";
  t.desired_state = desired;
  t.status.state = state;
  spec::NetworkAttachment a;
  a.network.id = "ingress";
  a.addresses.push_back(addr);
  t.networks_attachments.push_back(a);
  return t;
}

TEST(DispatcherDrain, KeysOfAMeshAndOfATask) {
  network::MeshSpec m;
  m.ingress_network_id = "ingress";
  m.ingress_address = "10.0.0.2";
  network::MeshService s;
  s.id = "svc";
  s.name = "web";
  s.ingress_ports.push_back({"tcp", 8080, 80});
  network::MeshServiceNetwork n;
  n.network_id = "ingress";
  n.vip = "10.0.0.5";
  n.backends = {{"10.0.0.7", true}, {"10.0.0.8", false}};
  s.networks.push_back(n);
  m.services.push_back(s);
  EXPECT_EQ(MeshBackendKeys(MeshJson(m)), (std::set<std::string>{"ingress/10.0.0.7", "ingress/10.0.0.8"}));
  EXPECT_TRUE(MeshBackendKeys(nlohmann::json::object()).empty());
  EXPECT_EQ(TaskBackendKeys(Backend("t", "running", "running", "10.0.0.7/24")),
            (std::set<std::string>{"ingress/10.0.0.7"}));
}

TEST(DispatcherDrain, OnlyARunningTaskWantedStoppedIsALeavingBackend) {
  EXPECT_TRUE(LeavingBackend(Backend("t", "shutdown", "running", "10.0.0.7/24")));
  EXPECT_TRUE(LeavingBackend(Backend("t", "remove", "running", "10.0.0.7/24")));
  EXPECT_FALSE(LeavingBackend(Backend("t", "running", "running", "10.0.0.7/24")));
  EXPECT_FALSE(LeavingBackend(Backend("t", "shutdown", "starting", "10.0.0.7/24")));
  spec::Task bare = Backend("t", "shutdown", "running", "10.0.0.7/24");
  bare.networks_attachments.clear();
  EXPECT_FALSE(LeavingBackend(bare));
}

TEST(DispatcherDrain, HeldWhileAnotherNodesAppliedMeshHasItForAtMostTheLimit) {
  const MonoTime t0{};
  std::vector<spec::Task> mine = {Backend("old", "shutdown", "running", "10.0.0.7/24"),
                                  Backend("new", "running", "running", "10.0.0.9/24")};
  std::map<std::string, std::set<std::string>> applied = {
      {"n1", {"ingress/10.0.0.7", "ingress/10.0.0.9"}},  // its own node: not waited for
      {"n2", {"ingress/10.0.0.7", "ingress/10.0.0.9"}},
      {"n3", {"ingress/10.0.0.9"}}};
  std::map<std::string, MonoTime> since = {{"old", t0}};
  EXPECT_EQ(HeldBackends("n1", mine, applied, since, t0 + milliseconds(10)),
            (std::set<std::string>{"old"}));
  // n2 applied a mesh without it: let go.
  applied["n2"] = {"ingress/10.0.0.9"};
  EXPECT_TRUE(HeldBackends("n1", mine, applied, since, t0 + milliseconds(20)).empty());
  // A node that never applies (Down, slow) holds it for kDrainLimit only.
  applied["n2"] = {"ingress/10.0.0.7"};
  EXPECT_EQ(HeldBackends("n1", mine, applied, since, t0 + kDrainLimit - milliseconds(1)).size(), 1u);
  EXPECT_TRUE(HeldBackends("n1", mine, applied, since, t0 + kDrainLimit).empty());
  // Only its own node is not waited for.
  EXPECT_TRUE(HeldBackends("n1", mine, {{"n1", {"ingress/10.0.0.7"}}}, since, t0).empty());
}

}  // namespace
}  // namespace berth::cluster
