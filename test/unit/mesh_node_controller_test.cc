// The controller's side of the routing mesh (controller_mesh.cc) against fake drivers and fake
// mesh tables (no root, no kernel): which namespaces get which VIPs, that a table is applied
// again only when its model changed, that a container joining later gets its table, the VIPs'
// names in the embedded DNS on their network only, and that an empty spec removes it all. The
// ingress endpoint, the node's table and the ports are the privileged test's
// (test/privileged/mesh_node_test.cc): they live in the daemon's namespace.

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
using ::testing::IsEmpty;

using namespace fakes;  // NOLINT: the shared fakes (fake_swarm_drivers.h)

// What the fake tables saw, per namespace path ("" the node's).
struct Tables {
  absl::Mutex mu;
  std::map<std::string, std::vector<mesh::Model>> applied ABSL_GUARDED_BY(mu);
  std::map<std::string, int> removed ABSL_GUARDED_BY(mu);
};

class FakeTable : public mesh::Table {
 public:
  FakeTable(Tables& t, std::string path) : t_(t), path_(std::move(path)) {}
  Status Apply(const mesh::Model& m) override {
    RETURN_IF_ERROR(mesh::Validate(m));
    absl::MutexLock l(&t_.mu);
    t_.applied[path_].push_back(m);
    return absl::OkStatus();
  }
  Status Remove() override {
    absl::MutexLock l(&t_.mu);
    ++t_.removed[path_];
    return absl::OkStatus();
  }
  Status Check() override { return absl::OkStatus(); }
  int HelperPid() override { return -1; }

 private:
  Tables& t_;
  std::string path_;
};

constexpr char kWebId[] = "websvcid";

class MeshControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bt-meshctl-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = *engine::Store::Open(dir_ + "/berth.db");
    events_ = std::make_unique<engine::EventBus>(clock_);
    applier_ = std::make_unique<firewall::Applier>(std::make_unique<FakeFirewall>());
    ControllerOptions opts;
    opts.exec_root = dir_ + "/exec";
    ctl_ = std::make_unique<Controller>(*store_, *events_, clock_, opts, kernel_, *applier_, nullptr);
    ctl_->AddDriver(std::make_unique<FakeBridge>(rec_));
    ctl_->AddDriver(std::make_unique<FakeOverlay>(rec_));
    ctl_->SetMeshOptions({"", [this](const mesh::TableOptions& o) -> StatusOr<std::unique_ptr<mesh::Table>> {
                            EXPECT_EQ(o.keep_helper, o.netns_path.empty());  // resident on the node only
                            return std::unique_ptr<mesh::Table>(std::make_unique<FakeTable>(tables_, o.netns_path));
                          }});
    ASSERT_TRUE(ctl_->Recover().ok());
    ASSERT_TRUE(ctl_->SetVtep("192.168.77.11").ok());
    ASSERT_TRUE(ctl_->SetSwarmNetworks({Ov("ov1", 4097, "10.0.1.0/24", "10.0.1.1"),
                                        Ov("ov2", 4098, "10.0.2.0/24", "10.0.2.1")}).ok());
  }
  void TearDown() override {
    ctl_.reset();
    applier_.reset();
    (void)sys::RemoveAll(dir_);
  }

  static SwarmNetworkSpec Ov(const std::string& name, uint32_t vni, const std::string& subnet,
                             const std::string& gateway) {
    SwarmNetworkSpec s;
    s.id = (name + "abcdefghijklmnopqrstuvwxyz").substr(0, 25);
    s.name = name;
    s.vni = vni;
    s.subnet = subnet;
    s.gateway = gateway;
    s.attachable = true;
    return s;
  }
  static std::string NetId(const std::string& name) { return (name + "abcdefghijklmnopqrstuvwxyz").substr(0, 25); }
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
  std::string PathOf(const std::string& id) {
    auto s = ctl_->Settings(id);
    return s ? s->sandbox_key : "";
  }
  // The models applied in container id's namespace, in order.
  std::vector<mesh::Model> Applied(const std::string& id) {
    std::string path = PathOf(id);
    absl::MutexLock l(&tables_.mu);
    return tables_.applied[path];
  }
  int Removed(const std::string& path) {
    absl::MutexLock l(&tables_.mu);
    return tables_.removed[path];
  }
  // web: a VIP on ov1 with two backends (names web, www).
  static MeshSpec Spec(std::vector<MeshBackend> backends = {{"10.0.1.20", true}, {"10.0.1.21", false}}) {
    MeshSpec m;
    m.ingress_network_id = "ingressid0000000000000000";
    MeshService web;
    web.id = kWebId;
    web.name = "web";
    web.networks = {{NetId("ov1"), "10.0.1.2", {"web", "www"}, std::move(backends)}};
    m.services = {web};
    return m;
  }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<engine::Store> store_;
  std::unique_ptr<engine::EventBus> events_;
  FakeKernel kernel_;
  std::unique_ptr<firewall::Applier> applier_;
  Record rec_;
  Tables tables_;
  std::unique_ptr<Controller> ctl_;
};

TEST_F(MeshControllerTest, AContainerOnTheNetworkBalancesItsVipsAndOnlyChangesAreApplied) {
  ASSERT_TRUE(Run(Id('a'), "ov1", "10.0.1.7").ok());
  ASSERT_TRUE(Run(Id('p'), "bridge").ok());  // not on a swarm network
  EXPECT_THAT(Applied(Id('a')), IsEmpty());  // no mesh yet
  ASSERT_TRUE(ctl_->SetMesh(Spec()).ok());
  auto a = Applied(Id('a'));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_FALSE(a[0].ingress.has_value());
  ASSERT_EQ(a[0].services.size(), 1u);
  EXPECT_EQ(a[0].services[0].vip, "10.0.1.2");
  ASSERT_EQ(a[0].services[0].backends.size(), 2u);
  EXPECT_THAT(Applied(Id('p')), IsEmpty());
  // The node publishes nothing: no node table (only the one-off removal of an earlier run's).
  {
    absl::MutexLock l(&tables_.mu);
    EXPECT_FALSE(tables_.applied.count(""));
  }

  // The same spec again: nothing applied. A backend more: applied once.
  ASSERT_TRUE(ctl_->SetMesh(Spec()).ok());
  EXPECT_EQ(Applied(Id('a')).size(), 1u);
  ASSERT_TRUE(ctl_->SetMesh(Spec({{"10.0.1.20", true}, {"10.0.1.21", false}, {"10.0.1.22", false}})).ok());
  a = Applied(Id('a'));
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1].services[0].backends.size(), 3u);

  // A container started after the last SetMesh gets its table when it joins.
  ASSERT_TRUE(Run(Id('b'), "ov1", "10.0.1.8").ok());
  auto b = Applied(Id('b'));
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].services[0].backends.size(), 3u);
  // One on ov2 only: web has no VIP there.
  ASSERT_TRUE(Run(Id('c'), "ov2", "10.0.2.8").ok());
  EXPECT_THAT(Applied(Id('c')), IsEmpty());
}

TEST_F(MeshControllerTest, AContainerOnTwoNetworksGetsBothNetworksVipsInOneTable) {
  ASSERT_TRUE(Run(Id('a'), "ov1", "10.0.1.7").ok());
  MeshSpec m = Spec();
  MeshService db;
  db.id = "dbsvcid";
  db.name = "db";
  db.networks = {{NetId("ov2"), "10.0.2.3", {"db"}, {{"10.0.2.9", false}}}};
  m.services.push_back(db);
  ASSERT_TRUE(ctl_->SetMesh(m).ok());
  ASSERT_EQ(Applied(Id('a')).size(), 1u);
  EXPECT_EQ(Applied(Id('a'))[0].services.size(), 1u);
  // Connected to ov2 while running: db's VIP joins web's in the same namespace.
  ctl_->SetContainerLookup([](const std::string& n) -> StatusOr<ContainerRef> {
    return ContainerRef{std::string(64, 'a'), "c-aaaa", true};
  });
  spec::NetworkConnect req;
  req.container = Id('a');
  ASSERT_TRUE(ctl_->Connect("ov2", req).ok());
  auto a = Applied(Id('a'));
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(a[1].services.size(), 2u);
  EXPECT_EQ(a[1].services[0].vip, "10.0.1.2");
  EXPECT_EQ(a[1].services[1].vip, "10.0.2.3");
  // And leaves again on disconnect.
  spec::NetworkDisconnect dreq;
  dreq.container = Id('a');
  ASSERT_TRUE(ctl_->Disconnect("ov2", dreq).ok());
  a = Applied(Id('a'));
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[2].services.size(), 1u);
}

TEST_F(MeshControllerTest, VipNamesResolveOnTheirNetworkOnly) {
  ASSERT_TRUE(Run(Id('a'), "ov1", "10.0.1.7").ok());
  ASSERT_TRUE(Run(Id('c'), "ov2", "10.0.2.8").ok());
  ASSERT_TRUE(ctl_->SetMesh(Spec()).ok());
  EXPECT_THAT(ctl_->Resolve(Id('a'), "web"), ElementsAre("10.0.1.2"));
  EXPECT_THAT(ctl_->Resolve(Id('a'), "WWW."), ElementsAre("10.0.1.2"));
  EXPECT_THAT(ctl_->Resolve(Id('a'), "web.ov1"), ElementsAre("10.0.1.2"));
  EXPECT_THAT(ctl_->Resolve(Id('c'), "web"), IsEmpty());  // not on ov1
  // Gone with the service.
  MeshSpec none = Spec();
  none.services.clear();
  ASSERT_TRUE(ctl_->SetMesh(none).ok());
  EXPECT_THAT(ctl_->Resolve(Id('a'), "web"), IsEmpty());
}

TEST_F(MeshControllerTest, AnEmptySpecRemovesTheTablesAndTheNames) {
  ASSERT_TRUE(Run(Id('a'), "ov1", "10.0.1.7").ok());
  ASSERT_TRUE(ctl_->SetMesh(Spec()).ok());
  const std::string path = PathOf(Id('a'));
  EXPECT_EQ(Removed(path), 0);
  ASSERT_TRUE(ctl_->SetMesh(MeshSpec{}).ok());
  EXPECT_EQ(Removed(path), 1);
  EXPECT_THAT(ctl_->Resolve(Id('a'), "web"), IsEmpty());
  auto v = ctl_->InspectNetwork("ov1");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->containers.count("ingress-sbox"));
  // Idempotent: nothing more to remove.
  ASSERT_TRUE(ctl_->SetMesh(MeshSpec{}).ok());
  EXPECT_EQ(Removed(path), 1);
  EXPECT_EQ(Applied(Id('a')).size(), 1u);
}

}  // namespace
}  // namespace berth::network
