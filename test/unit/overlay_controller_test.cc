// The controller's side of the swarm seam (controller_swarm.cc) against fake drivers (no root):
// swarm networks as list and inspect show them, joins with the managers' addresses, overlapping
// subnets, peer tables, removal when no longer wanted, docker_gwbridge, and what is refused.

#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "common/fake_clock.h"
#include "engine/events.h"
#include "engine/store.h"
#include "fake_swarm_drivers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "network/controller.h"
#include "network/overlay_driver.h"
#include "sys/fs.h"

namespace berth::network {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using namespace fakes;  // NOLINT: the shared fakes (fake_swarm_drivers.h)

class SwarmControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bt-ovlctl-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = *engine::Store::Open(dir_ + "/berth.db");
    events_ = std::make_unique<engine::EventBus>(clock_);
    applier_ = std::make_unique<firewall::Applier>(std::make_unique<FakeFirewall>());
    ASSERT_TRUE(MakeController().ok());
    ASSERT_TRUE(ctl_->SetVtep("192.168.77.11").ok());
  }
  // A controller over the store, recovered from it (again: a restarted berthd).
  Status MakeController() {
    ctl_.reset();
    ControllerOptions opts;
    opts.exec_root = dir_ + "/exec";
    ctl_ = std::make_unique<Controller>(*store_, *events_, clock_, opts, kernel_, *applier_, nullptr);
    ctl_->AddDriver(std::make_unique<FakeBridge>(rec_));
    ctl_->AddDriver(std::make_unique<FakeOverlay>(rec_));
    return ctl_->Recover();
  }
  void TearDown() override {
    ctl_.reset();
    applier_.reset();
    (void)sys::RemoveAll(dir_);
  }

  static SwarmNetworkSpec Ov(const std::string& name, uint32_t vni, const std::string& subnet = "10.0.1.0/24",
                             const std::string& gateway = "10.0.1.1") {
    SwarmNetworkSpec s;
    s.id = (name + "abcdefghijklmnopqrstuvwxyz").substr(0, 25);
    s.name = name;
    s.created = "2026-11-28T03:30:45.840702766Z";
    s.vni = vni;
    s.subnet = subnet;
    s.gateway = gateway;
    s.attachable = true;
    return s;
  }
  // Attaches container `id` to `network` (with a static address when ip is given) and starts it.
  Status Run(const std::string& id, const std::string& network, const std::string& ip = "") {
    spec::HostConfig hc;
    hc.network_mode = network;
    spec::NetworkingConfig nc;
    if (!ip.empty()) {
      spec::EndpointSettings es;
      es.ipam_config = spec::EndpointIPAMConfig{ip, "", {}};
      nc.endpoints_config = std::map<std::string, spec::EndpointSettings>{{network, es}};
    }
    RETURN_IF_ERROR(ctl_->Validate(hc, nc));
    RETURN_IF_ERROR(ctl_->Attach(id, "c-" + id.substr(0, 4), hc, nc));
    spec::ContainerConfig config;
    return ctl_->Setup(id, "c-" + id.substr(0, 4), config, hc).status();
  }
  static std::string Id(char c) { return std::string(64, c); }
  std::vector<std::string> Joins(const std::string& network) {
    absl::MutexLock l(&rec_.mu);
    std::vector<std::string> out;
    for (auto [it, end] = rec_.joins.equal_range(network); it != end; ++it) out.push_back(it->second);
    return out;
  }
  bool Live(const std::string& network) {
    absl::MutexLock l(&rec_.mu);
    return rec_.live.count(network) > 0;
  }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<engine::Store> store_;
  std::unique_ptr<engine::EventBus> events_;
  FakeKernel kernel_;
  std::unique_ptr<firewall::Applier> applier_;
  Record rec_;
  std::unique_ptr<Controller> ctl_;
};

TEST_F(SwarmControllerTest, ASwarmNetworkIsListedAndInspectedAsDockerShowsIt) {
  SwarmNetworkSpec ov = Ov("ov1", 4097);
  ASSERT_TRUE(ctl_->SetSwarmNetworks({ov}).ok());
  auto v = ctl_->InspectNetwork("ov1");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->id, ov.id);
  EXPECT_EQ(v->scope, "swarm");
  EXPECT_EQ(v->driver, "overlay");
  EXPECT_EQ(v->created, ov.created);
  EXPECT_TRUE(v->attachable);
  EXPECT_FALSE(v->ingress);
  EXPECT_FALSE(v->internal);
  EXPECT_FALSE(v->ipam.options.has_value());  // "Options": null
  ASSERT_TRUE(v->ipam.config.has_value());
  ASSERT_EQ(v->ipam.config->size(), 1u);
  EXPECT_EQ((*v->ipam.config)[0].subnet, "10.0.1.0/24");
  EXPECT_EQ((*v->ipam.config)[0].gateway, "10.0.1.1");
  EXPECT_EQ(v->options, (spec::StringMap{{kVxlanIdOption, "4097"}}));

  spec::Filters f;
  f.Add("scope", "swarm");
  auto list = ctl_->ListNetworks(f);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "ov1");
  // Never stored: the managers hand it out again after a restart.
  for (auto& o : store_->List("network")) EXPECT_NE(o.id, ov.id);
  // Idempotent.
  ASSERT_TRUE(ctl_->SetSwarmNetworks({ov}).ok());
  EXPECT_TRUE(Live("ov1"));
  // Namespaces an earlier run left are cleaned once, keeping the networks now here.
  absl::MutexLock l(&rec_.mu);
  EXPECT_EQ(rec_.orphan_calls, 1);
  EXPECT_THAT(rec_.orphan_keep, ElementsAre(4097u));
}

TEST_F(SwarmControllerTest, AContainerJoinsWithTheManagersAddressAndGetsTheGatewayBridge) {
  ASSERT_TRUE(ctl_->SetSwarmNetworks({Ov("ov1", 4097)}).ok());
  ASSERT_TRUE(Run(Id('a'), "ov1", "10.0.1.7").ok());
  ASSERT_TRUE(Run(Id('b'), "ov1").ok());  // none given: the local allocator's lowest free
  EXPECT_THAT(Joins("ov1"), ElementsAre("10.0.1.7 02:42:0a:00:01:07 default", "10.0.1.2 02:42:0a:00:01:02 default"));
  // docker_gwbridge was made on first need and carries the default route.
  auto gw = ctl_->InspectNetwork("docker_gwbridge");
  ASSERT_TRUE(gw.ok()) << gw.status();
  EXPECT_EQ(gw->scope, "local");
  EXPECT_EQ(gw->options.at("com.docker.network.bridge.enable_icc"), "false");
  EXPECT_EQ(gw->options.at("com.docker.network.bridge.enable_ip_masquerade"), "true");
  EXPECT_EQ((*gw->ipam.config)[0].subnet, "172.18.0.0/16");
  EXPECT_THAT(Joins("docker_gwbridge"), ElementsAre("172.18.0.2 02:42:ac:12:00:02 default",
                                                    "172.18.0.3 02:42:ac:12:00:03 default"));
  // Inspect shows the overlay only, without a gateway (as Docker).
  auto s = ctl_->Settings(Id('a'));
  ASSERT_TRUE(s.has_value());
  ASSERT_EQ(s->networks.size(), 1u);
  EXPECT_EQ(s->networks.at("ov1").ip_address, "10.0.1.7");
  EXPECT_EQ(s->networks.at("ov1").mac_address, "02:42:0a:00:01:07");
  EXPECT_EQ(s->networks.at("ov1").gateway, "");
  auto v = ctl_->InspectNetwork("ov1");
  EXPECT_EQ(v->containers.size(), 2u);
  // The address is taken on this node.
  EXPECT_FALSE(Run(Id('c'), "ov1", "10.0.1.7").ok());
  // docker_gwbridge stays while its endpoints do.
  Status st = ctl_->RemoveNetwork("docker_gwbridge");
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(st.message(), HasSubstr("has active endpoints"));
  ctl_->Teardown(Id('a'));
  ctl_->Teardown(Id('b'));
  EXPECT_THAT(Joins("docker_gwbridge"), IsEmpty());
  EXPECT_TRUE(ctl_->RemoveNetwork("docker_gwbridge").ok());
}

TEST_F(SwarmControllerTest, ContainersOnABridgeNetworkNeedNoGatewayBridge) {
  ASSERT_TRUE(ctl_->SetSwarmNetworks({Ov("ov1", 4097)}).ok());
  spec::HostConfig hc;
  hc.network_mode = "bridge";
  spec::NetworkingConfig nc;
  nc.endpoints_config = std::map<std::string, spec::EndpointSettings>{{"ov1", spec::EndpointSettings()}};
  ASSERT_TRUE(ctl_->Attach(Id('a'), "c-a", hc, nc).ok());
  ASSERT_TRUE(ctl_->Setup(Id('a'), "c-a", spec::ContainerConfig(), hc).ok());
  EXPECT_FALSE(ctl_->InspectNetwork("docker_gwbridge").ok());
  EXPECT_THAT(Joins("ov1"), ElementsAre("10.0.1.2 02:42:0a:00:01:02"));
}

TEST_F(SwarmControllerTest, OverlaysMayShareASubnetWithEachOtherAndWithLocalNetworks) {
  spec::NetworkCreateRequest local;
  local.name = "loc";
  spec::IPAM ipam;
  ipam.config = std::vector<spec::IPAMConfig>{{"10.0.1.0/24", "", "", {}}};
  local.ipam = ipam;
  ASSERT_TRUE(ctl_->CreateNetwork(local).ok());
  ASSERT_TRUE(ctl_->SetSwarmNetworks({Ov("ov1", 4097), Ov("ov2", 4098)}).ok());
  ASSERT_TRUE(Run(Id('a'), "ov1").ok());
  ASSERT_TRUE(Run(Id('b'), "ov2").ok());
  ASSERT_TRUE(Run(Id('c'), "loc").ok());
  EXPECT_THAT(Joins("ov1"), ElementsAre("10.0.1.2 02:42:0a:00:01:02 default"));
  EXPECT_THAT(Joins("ov2"), ElementsAre("10.0.1.2 02:42:0a:00:01:02 default"));
  EXPECT_THAT(Joins("loc"), ElementsAre("10.0.1.2 02:42:0a:00:01:02 default"));
  // Releasing one network's address leaves the others' alone.
  ctl_->Detach(Id('a'));
  ASSERT_TRUE(Run(Id('d'), "ov2").ok());
  EXPECT_THAT(Joins("ov2"), ElementsAre("10.0.1.2 02:42:0a:00:01:02 default", "10.0.1.3 02:42:0a:00:01:03 default"));
}

TEST_F(SwarmControllerTest, PeersAreAppliedAlsoWhenTheyCameFirst) {
  std::vector<OverlayPeer> peers = {{"10.0.1.3", "02:42:0a:00:01:03", "192.168.77.12"}};
  SwarmNetworkSpec ov = Ov("ov1", 4097);
  ASSERT_TRUE(ctl_->SetPeers(ov.id, peers).ok());
  ASSERT_TRUE(ctl_->SetSwarmNetworks({ov}).ok());
  {
    absl::MutexLock l(&rec_.mu);
    ASSERT_EQ(rec_.peers["ov1"].size(), 1u);
    EXPECT_EQ(rec_.peers["ov1"][0].vtep, "192.168.77.12");
  }
  ASSERT_TRUE(ctl_->SetPeers(ov.id, {}).ok());
  absl::MutexLock l(&rec_.mu);
  EXPECT_THAT(rec_.peers["ov1"], IsEmpty());
}

TEST_F(SwarmControllerTest, ANetworkNoLongerWantedGoesWithItsLastContainer) {
  ASSERT_TRUE(ctl_->SetSwarmNetworks({Ov("ov1", 4097), Ov("ov2", 4098, "10.0.2.0/24", "10.0.2.1")}).ok());
  ASSERT_TRUE(Run(Id('a'), "ov1").ok());
  ASSERT_TRUE(ctl_->SetSwarmNetworks({}).ok());
  EXPECT_FALSE(Live("ov2"));  // unused: gone at once
  EXPECT_FALSE(ctl_->InspectNetwork("ov2").ok());
  EXPECT_TRUE(Live("ov1"));  // a container is on it
  EXPECT_TRUE(ctl_->InspectNetwork("ov1").ok());
  ctl_->Detach(Id('a'));
  EXPECT_FALSE(Live("ov1"));
  EXPECT_FALSE(ctl_->InspectNetwork("ov1").ok());
}

// A restarted berthd knows no swarm network until the agent names them again; a container on
// one removed before that must still give its address back to the managers.
TEST_F(SwarmControllerTest, AContainerRemovedBeforeItsSwarmNetworkIsBackAfterARestartIsDetached) {
  ASSERT_TRUE(ctl_->SetSwarmNetworks({Ov("ov1", 4097)}).ok());
  ASSERT_TRUE(Run(Id('a'), "ov1").ok());
  ASSERT_TRUE(Run(Id('b'), "bridge").ok());
  ctl_->Teardown(Id('a'));
  ctl_->Teardown(Id('b'));
  ASSERT_TRUE(MakeController().ok());  // the restart
  std::vector<std::string> detached;
  Controller::SwarmAttacher at;
  at.detach = [&](const std::string& id) { detached.push_back(id); };
  at.in_swarm = [] { return true; };
  ctl_->SetSwarmAttacher(at);
  EXPECT_FALSE(ctl_->InspectNetwork("ov1").ok());  // not back yet
  ctl_->Detach(Id('b'));
  EXPECT_THAT(detached, IsEmpty());  // only on a local network: nothing to ask
  ctl_->Detach(Id('a'));
  EXPECT_THAT(detached, ElementsAre(Id('a')));
}

TEST_F(SwarmControllerTest, LocalRemovalIsRefusedWhileUsedAndOverlaysAreNotCreatedLocally) {
  ASSERT_TRUE(ctl_->SetSwarmNetworks({Ov("ov1", 4097), Ov("ov2", 4098, "10.0.2.0/24", "10.0.2.1")}).ok());
  ASSERT_TRUE(Run(Id('a'), "ov1").ok());
  Status st = ctl_->RemoveNetwork("ov1");
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(st.message(), HasSubstr("has active endpoints"));
  EXPECT_TRUE(ctl_->RemoveNetwork("ov2").ok());
  EXPECT_FALSE(Live("ov2"));
  // Prune leaves swarm networks to the managers.
  ctl_->Detach(Id('a'));
  auto pruned = ctl_->PruneNetworks(spec::Filters());
  ASSERT_TRUE(pruned.ok());
  for (auto& n : *pruned) EXPECT_NE(n, "ov1");

  spec::NetworkCreateRequest req;
  req.name = "ov3";
  req.driver = "overlay";
  st = ctl_->CreateNetwork(req).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("not a swarm manager"));
}

TEST_F(SwarmControllerTest, EncryptedAndBadSpecsAreRefusedTheOthersMade) {
  SwarmNetworkSpec enc = Ov("enc", 4099, "10.0.3.0/24", "10.0.3.1");
  enc.options["encrypted"] = "";
  SwarmNetworkSpec bad = Ov("bad", 4100, "10.0.300.0/24", "");
  Status st = ctl_->SetSwarmNetworks({enc, bad, Ov("ov1", 4097)});
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(st.message(), HasSubstr("IPsec"));
  EXPECT_FALSE(Live("enc"));
  EXPECT_FALSE(ctl_->InspectNetwork("bad").ok());
  EXPECT_TRUE(Live("ov1"));
}

}  // namespace
}  // namespace berth::network
