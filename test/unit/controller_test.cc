// The network controller's logic against fake kernel seams (no root): joins and leaves, address
// bookkeeping, the firewall model it hands out, names for the embedded DNS, failures part-way, and
// many containers set up at once while names are looked up.

#include "network/controller.h"

#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/fake_clock.h"
#include "engine/events.h"
#include "engine/store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sys/fs.h"

namespace berth::network {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A sandbox nobody may touch: fake drivers never look inside it.
class FakeSandbox : public SandboxKernel {
 public:
  const sys::NetNs& ns() const override { std::abort(); }
  sys::Rtnl& rtnl() override { std::abort(); }
};

class FakeKernel : public NetKernel {
 public:
  StatusOr<std::unique_ptr<SandboxKernel>> CreateSandbox(const std::string& path) override {
    absl::MutexLock l(&mu);
    if (fail_create) return absl::InternalError("no namespaces today");
    live.insert(path);
    return std::unique_ptr<SandboxKernel>(std::make_unique<FakeSandbox>());
  }
  StatusOr<std::unique_ptr<SandboxKernel>> OpenSandbox(const std::string& path) override {
    absl::MutexLock l(&mu);
    if (!live.count(path)) return absl::NotFoundError(path);
    return std::unique_ptr<SandboxKernel>(std::make_unique<FakeSandbox>());
  }
  Status RemoveSandbox(const std::string& path) override {
    absl::MutexLock l(&mu);
    live.erase(path);
    return absl::OkStatus();
  }
  StatusOr<std::vector<sys::LinkInfo>> HostLinks() override { return std::vector<sys::LinkInfo>{}; }
  Status DeleteHostLink(const std::string&) override { return absl::OkStatus(); }
  Status EnableForwarding() override { return absl::OkStatus(); }

  absl::Mutex mu;
  std::set<std::string> live ABSL_GUARDED_BY(mu);
  bool fail_create ABSL_GUARDED_BY(mu) = false;
};

// A driver that records joins and leaves and fails on request.
class FakeDriver : public Driver {
 public:
  class Net : public DriverNetwork {
   public:
    Net(FakeDriver& d, NetworkSpec spec) : d_(d), spec_(std::move(spec)) {}
    Status Join(EndpointSpec* ep, SandboxKernel&) override {
      absl::MutexLock l(&d_.mu);
      if (d_.fail_join_on == spec_.name) return absl::InternalError("join " + spec_.name + ": refused");
      d_.joined.insert(ep->host_ifname);
      d_.ips.insert(ep->ip);
      if (!ep->ip6.empty()) d_.ips.insert(ep->ip6);
      return absl::OkStatus();
    }
    Status Leave(const EndpointSpec& ep, SandboxKernel*, bool) override {
      absl::MutexLock l(&d_.mu);
      d_.joined.erase(ep.host_ifname);
      d_.ips.erase(ep.ip);
      d_.ips.erase(ep.ip6);
      return absl::OkStatus();
    }
    Status Delete() override {
      absl::MutexLock l(&d_.mu);
      d_.bridges.erase(spec_.ifname);
      return absl::OkStatus();
    }
    std::optional<firewall::Bridge> FirewallBridge() const override {
      firewall::Bridge b;
      b.ifname = spec_.ifname;
      b.subnet = spec_.subnet;
      b.gateway = spec_.gateway;
      b.subnet6 = spec_.subnet6;
      return b;
    }

   private:
    FakeDriver& d_;
    NetworkSpec spec_;
  };
  std::string Name() const override { return "bridge"; }
  Scope scope() const override { return Scope::kLocal; }
  StatusOr<std::unique_ptr<DriverNetwork>> CreateNetwork(NetworkSpec* n) override {
    if (n->ifname.empty()) n->ifname = n->name == "bridge" ? "berth0" : "br-" + n->id.substr(0, 12);
    absl::MutexLock l(&mu);
    bridges.insert(n->ifname);
    return std::unique_ptr<DriverNetwork>(std::make_unique<Net>(*this, *n));
  }

  absl::Mutex mu;
  std::set<std::string> joined ABSL_GUARDED_BY(mu);  // host-side interface names
  std::set<std::string> ips ABSL_GUARDED_BY(mu);
  std::set<std::string> bridges ABSL_GUARDED_BY(mu);
  std::string fail_join_on ABSL_GUARDED_BY(mu);
};

class FakeFirewall : public firewall::Firewall {
 public:
  Status Apply(const firewall::Model& m) override {
    absl::MutexLock l(&mu);
    if (fail) return absl::InternalError("nft: refused");
    last = m;
    ++applies;
    return absl::OkStatus();
  }
  Status Remove() override { return absl::OkStatus(); }
  Status Check() override { return absl::OkStatus(); }
  absl::Mutex mu;
  firewall::Model last ABSL_GUARDED_BY(mu);
  int applies ABSL_GUARDED_BY(mu) = 0;
  bool fail ABSL_GUARDED_BY(mu) = false;
};

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bt-ctl-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = *engine::Store::Open(dir_ + "/berth.db");
    events_ = std::make_unique<engine::EventBus>(clock_);
    auto fw = std::make_unique<FakeFirewall>();
    fw_ = fw.get();
    applier_ = std::make_unique<firewall::Applier>(std::move(fw));
    Make();
  }
  void Make(const std::string& default_subnet6 = "") {
    ControllerOptions opts;
    opts.exec_root = dir_ + "/exec";
    opts.default_subnet6 = default_subnet6;
    auto driver = std::make_unique<FakeDriver>();
    driver_ = driver.get();
    ctl_ = std::make_unique<Controller>(*store_, *events_, clock_, opts, kernel_, *applier_, nullptr);
    ctl_->AddDriver(std::move(driver));
    ctl_->SetContainerLookup([this](const std::string& name) -> StatusOr<ContainerRef> {
      absl::MutexLock l(&refs_mu_);
      for (auto& [id, ref] : refs_)
        if (id == name || ref.name == name) return ref;
      return absl::NotFoundError("No such container: " + name);
    });
    ASSERT_TRUE(ctl_->Recover().ok());
  }
  void TearDown() override {
    ctl_.reset();
    applier_.reset();
    (void)sys::RemoveAll(dir_);
  }

  std::string Net(const std::string& name, const std::string& subnet = "") {
    spec::NetworkCreateRequest req;
    req.name = name;
    if (!subnet.empty()) {
      spec::IPAM ipam;
      ipam.config = std::vector<spec::IPAMConfig>{{subnet, "", "", {}}};
      req.ipam = ipam;
    }
    auto res = ctl_->CreateNetwork(req);
    EXPECT_TRUE(res.ok()) << res.status();
    return res.ok() ? res->id : "";
  }
  // Creates and starts a container's networking on `network` ("" = the default bridge).
  StatusOr<engine::NetworkAttacher::Sandbox> Start(const std::string& id, const std::string& network,
                                                   spec::PortMap ports = {}) {
    spec::HostConfig hc;
    hc.network_mode = network.empty() ? "default" : network;
    hc.port_bindings = ports;
    {
      absl::MutexLock l(&refs_mu_);
      refs_[id] = ContainerRef{id, Name(id), true};
    }
    RETURN_IF_ERROR(ctl_->Validate(hc, spec::NetworkingConfig()));
    RETURN_IF_ERROR(ctl_->Attach(id, Name(id), hc, spec::NetworkingConfig()));
    spec::ContainerConfig config;
    config.hostname = id.substr(0, 12);
    return ctl_->Setup(id, Name(id), config, hc);
  }
  // "c1" for Id(1): the number the id starts with.
  static std::string Name(const std::string& id) { return "c" + id.substr(0, id.find('a')); }
  static std::string Id(int i) {
    std::string s = std::to_string(i);
    return s + std::string(64 - s.size(), 'a');
  }
  std::string Ip(const std::string& id, const std::string& network) {
    auto s = ctl_->Settings(id);
    if (!s || !s->networks.count(network)) return "";
    return s->networks.at(network).ip_address;
  }

  FakeClock clock_;
  std::string dir_;
  std::unique_ptr<engine::Store> store_;
  std::unique_ptr<engine::EventBus> events_;
  FakeKernel kernel_;
  FakeFirewall* fw_;
  std::unique_ptr<firewall::Applier> applier_;
  FakeDriver* driver_;
  std::unique_ptr<Controller> ctl_;
  absl::Mutex refs_mu_;
  std::map<std::string, ContainerRef> refs_ ABSL_GUARDED_BY(refs_mu_);
};

TEST_F(ControllerTest, JoinLeaveAndAddressesComeBack) {
  Net("app", "10.9.0.0/24");
  ASSERT_TRUE(Start(Id(1), "app").ok());
  ASSERT_TRUE(Start(Id(2), "app").ok());
  EXPECT_EQ(Ip(Id(1), "app"), "10.9.0.2");
  EXPECT_EQ(Ip(Id(2), "app"), "10.9.0.3");
  {
    absl::MutexLock l(&driver_->mu);
    EXPECT_THAT(driver_->ips, ElementsAre("10.9.0.2", "10.9.0.3"));
  }
  ctl_->Teardown(Id(1));
  {
    absl::MutexLock l(&driver_->mu);
    EXPECT_THAT(driver_->ips, ElementsAre("10.9.0.3"));
  }
  // The freed address is handed out again, lowest first.
  ASSERT_TRUE(Start(Id(3), "app").ok());
  EXPECT_EQ(Ip(Id(3), "app"), "10.9.0.2");
  ctl_->Detach(Id(2));
  ctl_->Detach(Id(3));
  ctl_->Detach(Id(1));
  absl::MutexLock l(&kernel_.mu);
  EXPECT_THAT(kernel_.live, IsEmpty());
}

TEST_F(ControllerTest, TheFirewallGetsBridgesAndPortsOfCommittedSandboxesOnly) {
  Net("web", "10.8.0.0/24");
  spec::PortMap ports = {{"80/tcp", std::vector<spec::PortBinding>{{"", "18081"}}}};
  ASSERT_TRUE(Start(Id(1), "web", ports).ok());
  {
    absl::MutexLock l(&fw_->mu);
    ASSERT_EQ(fw_->last.ports.size(), 1u);
    EXPECT_EQ(fw_->last.ports[0].host_port, 18081);
    EXPECT_EQ(fw_->last.ports[0].container_ip, "10.8.0.2");
    EXPECT_EQ(fw_->last.bridges.size(), 2u);  // berth0 and the network's
  }
  // The same port again is refused before anything is made.
  Status st = Start(Id(2), "web", ports).status();
  EXPECT_TRUE(absl::IsAlreadyExists(st)) << st;
  ctl_->Teardown(Id(1));
  absl::MutexLock l(&fw_->mu);
  EXPECT_THAT(fw_->last.ports, IsEmpty());
}

TEST_F(ControllerTest, AFailedJoinOrFirewallLeavesNothingBehind) {
  Net("a", "10.7.0.0/24");
  Net("b", "10.6.0.0/24");
  {
    absl::MutexLock l(&driver_->mu);
    driver_->fail_join_on = "b";
  }
  // Two networks: the second join fails, the first is undone, the addresses are free again.
  spec::HostConfig hc;
  hc.network_mode = "a";
  spec::NetworkingConfig net;
  net.endpoints_config = std::map<std::string, spec::EndpointSettings>{{"b", {}}};
  {
    absl::MutexLock l(&refs_mu_);
    refs_[Id(1)] = ContainerRef{Id(1), "two", true};
  }
  ASSERT_TRUE(ctl_->Attach(Id(1), "two", hc, net).ok());
  Status st = ctl_->Setup(Id(1), "two", spec::ContainerConfig(), hc).status();
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("join b: refused"));
  {
    absl::MutexLock l(&driver_->mu);
    EXPECT_THAT(driver_->joined, IsEmpty());
    driver_->fail_join_on.clear();
  }
  {
    absl::MutexLock l(&kernel_.mu);
    EXPECT_THAT(kernel_.live, IsEmpty());
  }
  // The firewall refuses: the start fails and is undone too.
  {
    absl::MutexLock l(&fw_->mu);
    fw_->fail = true;
  }
  st = Start(Id(2), "a").status();
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("nft: refused"));
  {
    absl::MutexLock l(&fw_->mu);
    fw_->fail = false;
  }
  {
    absl::MutexLock l(&kernel_.mu);
    EXPECT_THAT(kernel_.live, IsEmpty());
  }
  ASSERT_TRUE(Start(Id(3), "a").ok());
  EXPECT_EQ(Ip(Id(3), "a"), "10.7.0.2");  // nothing of the failed attempts kept an address
}

TEST_F(ControllerTest, NamesAreScopedAndChangeWithJoinsRenamesAndLeaves) {
  Net("front", "10.5.0.0/24");
  Net("back", "10.4.0.0/24");
  ASSERT_TRUE(Start(Id(1), "front").ok());
  ASSERT_TRUE(Start(Id(2), "front").ok());
  ASSERT_TRUE(Start(Id(3), "back").ok());
  EXPECT_THAT(ctl_->Resolve(Id(1), "c2"), ElementsAre("10.5.0.3"));
  EXPECT_THAT(ctl_->Resolve(Id(1), "C2."), ElementsAre("10.5.0.3"));
  EXPECT_THAT(ctl_->Resolve(Id(1), Id(2).substr(0, 12)), ElementsAre("10.5.0.3"));
  EXPECT_THAT(ctl_->Resolve(Id(1), Id(3).substr(0, 12)), IsEmpty());  // not on front
  // Connected to back: now it resolves c3 there.
  spec::NetworkConnect conn;
  conn.container = Id(1);
  ASSERT_TRUE(ctl_->Connect("back", conn).ok());
  EXPECT_THAT(ctl_->Resolve(Id(1), Id(3).substr(0, 12)), ElementsAre("10.4.0.2"));
  ctl_->Rename(Id(3), "renamed");
  EXPECT_THAT(ctl_->Resolve(Id(1), "renamed"), ElementsAre("10.4.0.2"));
  spec::NetworkDisconnect disc;
  disc.container = Id(1);
  ASSERT_TRUE(ctl_->Disconnect("back", disc).ok());
  EXPECT_THAT(ctl_->Resolve(Id(1), "renamed"), IsEmpty());
  ctl_->Teardown(Id(2));
  EXPECT_THAT(ctl_->Resolve(Id(1), Id(2).substr(0, 12)), IsEmpty());
}

TEST_F(ControllerTest, ANetworkInUseCannotBeRemovedAndOneBeingRemovedIsNotFound) {
  std::string id = Net("busy", "10.3.0.0/24");
  ASSERT_TRUE(Start(Id(1), "busy").ok());
  Status st = ctl_->RemoveNetwork("busy");
  EXPECT_TRUE(absl::IsPermissionDenied(st)) << st;
  ctl_->Detach(Id(1));
  ASSERT_TRUE(ctl_->RemoveNetwork("busy").ok());
  EXPECT_TRUE(absl::IsNotFound(ctl_->InspectNetwork(id).status()));
  absl::MutexLock l(&driver_->mu);
  EXPECT_EQ(driver_->bridges.count("br-" + id.substr(0, 12)), 0u);
}

TEST_F(ControllerTest, ARestartReadsBackNetworksSandboxesAndAddresses) {
  Net("keep", "10.2.0.0/24");
  ASSERT_TRUE(Start(Id(1), "keep").ok());
  ASSERT_TRUE(Start(Id(2), "keep").ok());
  ctl_.reset();
  Make();  // a new controller on the same store and kernel
  ASSERT_TRUE(ctl_->Reconcile({Id(1)}).ok());  // Id(2) did not survive the restart
  EXPECT_EQ(Ip(Id(1), "keep"), "10.2.0.2");
  EXPECT_EQ(Ip(Id(2), "keep"), "");
  ASSERT_TRUE(Start(Id(3), "keep").ok());
  EXPECT_EQ(Ip(Id(3), "keep"), "10.2.0.3");  // 10.2.0.2 is still taken, 10.2.0.3 came back
}

StatusOr<NetworkCreateResult> DualStack(Controller& ctl, const std::string& name, bool ipv6,
                                        std::vector<spec::IPAMConfig> configs) {
  spec::NetworkCreateRequest req;
  req.name = name;
  req.enable_ipv6 = ipv6;
  spec::IPAM ipam;
  ipam.config = std::move(configs);
  req.ipam = ipam;
  return ctl.CreateNetwork(req);
}

TEST_F(ControllerTest, DualStackNetworkEndpointsInspectAndFirewall) {
  auto n = DualStack(*ctl_, "n6", true, {{"172.30.0.0/24", "", "", {}}, {"fd00:30::/64", "", "", {}}});
  ASSERT_TRUE(n.ok()) << n.status();
  auto view = ctl_->InspectNetwork("n6");
  ASSERT_TRUE(view.ok());
  EXPECT_TRUE(view->enable_ipv6);
  ASSERT_EQ(view->ipam.config->size(), 2u);
  EXPECT_EQ((*view->ipam.config)[0], (spec::IPAMConfig{"172.30.0.0/24", "", "172.30.0.1", {}}));
  EXPECT_EQ((*view->ipam.config)[1], (spec::IPAMConfig{"fd00:30::/64", "", "fd00:30::1", {}}));

  spec::PortMap ports = {{"80/tcp", std::vector<spec::PortBinding>{{"", "18086"}}}};
  ASSERT_TRUE(Start(Id(1), "n6", ports).ok());
  ASSERT_TRUE(Start(Id(2), "n6").ok());
  auto s = ctl_->Settings(Id(1));
  ASSERT_TRUE(s.has_value());
  const spec::EndpointSettings& e = s->networks.at("n6");
  EXPECT_EQ(e.ip_address, "172.30.0.2");
  EXPECT_EQ(e.global_ipv6_address, "fd00:30::2");
  EXPECT_EQ(e.global_ipv6_prefix_len, 64);
  EXPECT_EQ(e.ipv6_gateway, "fd00:30::1");
  EXPECT_EQ(s->global_ipv6_address, "");  // the top-level fields are the default bridge's
  // Published on both families: two entries, as Docker lists them.
  ASSERT_EQ(s->ports.at("80/tcp")->size(), 2u);
  EXPECT_EQ((*s->ports.at("80/tcp"))[1].host_ip, "::");
  EXPECT_EQ(ctl_->Settings(Id(2))->networks.at("n6").global_ipv6_address, "fd00:30::3");
  view = ctl_->InspectNetwork("n6");
  EXPECT_EQ(view->containers.at(Id(2)).ipv6_address, "fd00:30::3/64");
  {
    absl::MutexLock l(&fw_->mu);
    ASSERT_EQ(fw_->last.ports.size(), 1u);
    EXPECT_EQ(fw_->last.ports[0].container_ip6, "fd00:30::2");
    bool bridge6 = false;
    for (auto& b : fw_->last.bridges) bridge6 |= b.subnet6 == "fd00:30::/64";
    EXPECT_TRUE(bridge6);
  }
  {
    absl::MutexLock l(&driver_->mu);
    EXPECT_TRUE(driver_->ips.count("fd00:30::3"));
  }
  // Names resolve to both addresses.
  EXPECT_THAT(ctl_->Resolve(Id(1), Name(Id(2))), ElementsAre("172.30.0.3", "fd00:30::3"));

  // A restart takes the running containers' IPv6 addresses again.
  ctl_.reset();
  Make();
  ASSERT_TRUE(ctl_->Reconcile({Id(1)}).ok());
  EXPECT_EQ(ctl_->Settings(Id(1))->networks.at("n6").global_ipv6_address, "fd00:30::2");
  ASSERT_TRUE(Start(Id(3), "n6").ok());
  EXPECT_EQ(ctl_->Settings(Id(3))->networks.at("n6").global_ipv6_address, "fd00:30::3");
  // Released on teardown, taken lowest first again.
  ctl_->Teardown(Id(1));
  ASSERT_TRUE(Start(Id(4), "n6").ok());
  EXPECT_EQ(ctl_->Settings(Id(4))->networks.at("n6").global_ipv6_address, "fd00:30::2");
}

TEST_F(ControllerTest, StaticIpv6AddressesAndTheirErrors) {
  ASSERT_TRUE(DualStack(*ctl_, "n6", true, {{"172.30.0.0/24", "", "", {}}, {"fd00:30::/64", "", "", {}}}).ok());
  Net("v4", "10.7.0.0/24");
  auto with_ip6 = [](const std::string& net, const std::string& ip6) {
    spec::NetworkingConfig nc;
    spec::EndpointSettings es;
    es.ipam_config = spec::EndpointIPAMConfig{"", ip6, {}};
    nc.endpoints_config = std::map<std::string, spec::EndpointSettings>{{net, es}};
    return nc;
  };
  spec::HostConfig hc;
  hc.network_mode = "n6";
  EXPECT_TRUE(ctl_->Validate(hc, with_ip6("n6", "fd00:30::77")).ok());
  Status st = ctl_->Validate(hc, with_ip6("n6", "fd00:31::77"));
  EXPECT_EQ(st.message(), "Invalid address fd00:31::77: It does not belong to any of this network's subnets");
  hc.network_mode = "v4";
  st = ctl_->Validate(hc, with_ip6("v4", "fd00:30::77"));
  EXPECT_EQ(st.message(), "Invalid address fd00:30::77: It does not belong to any of this network's subnets");
  hc.network_mode = "default";
  st = ctl_->Validate(hc, with_ip6("bridge", "fd00:30::77"));
  EXPECT_EQ(st.message(), "user specified IP address is supported on user defined networks only");
  hc.network_mode = "n6";
  st = ctl_->Validate(hc, with_ip6("n6", "10.0.0.1"));
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;

  {
    absl::MutexLock l(&refs_mu_);
    refs_[Id(1)] = ContainerRef{Id(1), Name(Id(1)), true};
  }
  ASSERT_TRUE(ctl_->Attach(Id(1), Name(Id(1)), hc, with_ip6("n6", "fd00:30::77")).ok());
  ASSERT_TRUE(ctl_->Setup(Id(1), Name(Id(1)), spec::ContainerConfig(), hc).ok());
  EXPECT_EQ(ctl_->Settings(Id(1))->networks.at("n6").global_ipv6_address, "fd00:30::77");
  // Taken: a second container asking for it fails and leaves its IPv4 address free.
  ASSERT_TRUE(ctl_->Attach(Id(2), Name(Id(2)), hc, with_ip6("n6", "fd00:30::77")).ok());
  auto second = ctl_->Setup(Id(2), Name(Id(2)), spec::ContainerConfig(), hc);
  EXPECT_TRUE(absl::IsAlreadyExists(second.status())) << second.status();
  ASSERT_TRUE(Start(Id(3), "n6").ok());
  EXPECT_EQ(Ip(Id(3), "n6"), "172.30.0.3");  // .2 is Id(1)'s; Id(2) took nothing
}

TEST_F(ControllerTest, Ipv6NetworkErrors) {
  auto code = [&](bool ipv6, std::vector<spec::IPAMConfig> c, const std::string& name = "e") {
    auto r = DualStack(*ctl_, name, ipv6, std::move(c));
    return r.ok() ? Status() : r.status();
  };
  Status st = code(true, {});
  EXPECT_EQ(st.message(),
            "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the "
            "network");
  st = code(false, {{"fd00:40::/64", "", "", {}}});
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  EXPECT_NE(st.message().find("IPv6 is not enabled"), std::string::npos) << st;
  st = code(true, {{"fd00:40::/64", "", "", {}}, {"fd00:41::/64", "", "", {}}});
  EXPECT_EQ(st.message(), "Berth supports one IPv6 subnet per network");
  st = code(true, {{"fd00:40::/64", "", "fd00:42::1", {}}});
  EXPECT_EQ(st.message(), "no matching subnet for gateway fd00:42::1");
  // None of these left a pool or a network behind: the same subnet works now.
  ASSERT_TRUE(code(true, {{"fd00:40::/64", "", "", {}}}, "ok6").ok());
  EXPECT_EQ(code(true, {{"fd00:40::/80", "", "", {}}}, "over").message(),
            "Pool overlaps with other one on this address space");
  // The IPv4 pool taken for a network whose IPv6 pool failed is given back.
  ASSERT_TRUE(code(false, {{"10.44.0.0/24", "", "", {}}}, "v4again").ok());
  EXPECT_FALSE(code(true, {{"10.45.0.0/24", "", "", {}}, {"fd00:40::/64", "", "", {}}}, "dup6").ok());
  EXPECT_TRUE(code(false, {{"10.45.0.0/24", "", "", {}}}, "v4free").ok());
}

TEST_F(ControllerTest, TheDefaultBridgeFollowsFixedCidrV6AtEachStart) {
  ctl_.reset();
  Make("fd00:17::/64");
  auto view = ctl_->InspectNetwork("bridge");
  ASSERT_TRUE(view.ok());
  EXPECT_TRUE(view->enable_ipv6);
  ASSERT_EQ(view->ipam.config->size(), 2u);
  EXPECT_EQ((*view->ipam.config)[1].subnet, "fd00:17::/64");
  ASSERT_TRUE(Start(Id(1), "").ok());
  auto s = ctl_->Settings(Id(1));
  EXPECT_EQ(s->global_ipv6_address, "fd00:17::2");
  EXPECT_EQ(s->global_ipv6_prefix_len, 64);
  EXPECT_EQ(s->ipv6_gateway, "fd00:17::1");
  ctl_->Detach(Id(1));
  ctl_.reset();
  Make();  // IPv4 only again
  view = ctl_->InspectNetwork("bridge");
  EXPECT_FALSE(view->enable_ipv6);
  EXPECT_EQ(view->ipam.config->size(), 1u);
}

// Many containers start and stop at once while every one of them keeps looking up names: no
// lookup waits for a setup (the DNS thread once deadlocked with a starting container).
TEST_F(ControllerTest, ConcurrentSetupsAndLookups) {
  Net("crowd", "10.1.0.0/16");
  std::atomic<bool> stop{false};
  std::atomic<int> lookups{0};
  std::thread looker([&] {
    while (!stop) {
      for (int i = 0; i < 40; ++i) (void)ctl_->Resolve(Id(i), "c7");
      ++lookups;
    }
  });
  std::vector<std::thread> workers;
  std::atomic<int> failures{0};
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&, w] {
      for (int round = 0; round < 5; ++round)
        for (int i = w * 10; i < w * 10 + 10; ++i) {
          if (!Start(Id(i), "crowd").ok()) ++failures;
          ctl_->Teardown(Id(i));
          ctl_->Detach(Id(i));
        }
    });
  for (auto& t : workers) t.join();
  stop = true;
  looker.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GT(lookups, 0);
  absl::MutexLock l(&kernel_.mu);
  EXPECT_THAT(kernel_.live, IsEmpty());
  absl::MutexLock d(&driver_->mu);
  EXPECT_THAT(driver_->joined, IsEmpty());
}

}  // namespace
}  // namespace berth::network
