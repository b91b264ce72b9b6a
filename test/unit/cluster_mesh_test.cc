// What a node's assignments carry for the routing mesh and the VIPs (dispatcher.h's NodeMesh,
// MeshJson, ParseMeshSpec): which services a node balances, their ports, VIPs, names and backends.

#include <gtest/gtest.h>

#include "cluster/dispatcher.h"

namespace berth::cluster {
namespace {

spec::Service Svc(const std::string& id, const std::string& name) {
  spec::Service s;
  s.id = id;
  s.spec.annotations.name = name;
  return s;
}

spec::Task TaskOn(const std::string& id, const std::string& service, const std::string& node,
                  const std::string& state,
                  std::vector<std::pair<std::string, std::string>> addrs) {
  spec::Task t;
  t.id = id;
  t.service_id = service;
  t.node_id = node;
  t.desired_state = "running";
  t.status.state = state;
  for (auto& [net, addr] : addrs) {
    spec::NetworkAttachment a;
    a.network.id = net;
    a.addresses.push_back(addr);
    t.networks_attachments.push_back(std::move(a));
  }
  return t;
}

class NodeMeshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // web publishes 8080 -> 80 (a VIP on ingress); api is on the overlay ov with an alias.
    spec::Service web = Svc("web1", "web");
    spec::ServicePortConfig p;
    p.protocol = "tcp";
    p.published_port = 8080;
    p.target_port = 80;
    p.publish_mode = "ingress";
    web.endpoint.ports.push_back(p);
    web.endpoint.virtual_ips.push_back({"ing", "10.0.0.5/24"});
    spec::Service api = Svc("api1", "api");
    spec::NetworkAttachmentConfig a;
    a.target = "ov";
    a.aliases = {"backend"};
    api.spec.task_template.networks.push_back(a);
    api.endpoint.virtual_ips.push_back({"ov", "10.0.1.2/24"});
    services_ = {web, api};
    tasks_ = {TaskOn("t1", "web1", "n1", "running", {{"ing", "10.0.0.6/24"}}),
              TaskOn("t2", "web1", "n2", "running", {{"ing", "10.0.0.7/24"}}),
              TaskOn("t3", "web1", "n2", "starting", {{"ing", "10.0.0.8/24"}}),
              TaskOn("t4", "api1", "n2", "running", {{"ov", "10.0.1.3/24"}})};
    spec::Task leaving = TaskOn("t5", "web1", "n1", "running", {{"ing", "10.0.0.9/24"}});
    leaving.desired_state = "shutdown";  // wanted stopped: out of the maps before it stops
    tasks_.push_back(leaving);
  }
  std::vector<spec::Service> services_;
  std::vector<spec::Task> tasks_;
};

TEST_F(NodeMeshTest, IngressServicesOnEveryNodeWithRunningBackendsOnly) {
  network::MeshSpec m = NodeMesh("n1", services_, tasks_, {"ing"}, "ing", "10.0.0.2");
  EXPECT_EQ(m.ingress_network_id, "ing");
  EXPECT_EQ(m.ingress_address, "10.0.0.2");
  ASSERT_EQ(m.services.size(), 1u);  // api's network is not on n1
  const network::MeshService& web = m.services[0];
  EXPECT_EQ(web.name, "web");
  ASSERT_EQ(web.ingress_ports.size(), 1u);
  EXPECT_EQ(web.ingress_ports[0].published, 8080);
  EXPECT_EQ(web.ingress_ports[0].target, 80);
  ASSERT_EQ(web.networks.size(), 1u);
  EXPECT_EQ(web.networks[0].vip, "10.0.0.5");
  EXPECT_TRUE(web.networks[0].names.empty());  // nothing resolves on ingress
  ASSERT_EQ(web.networks[0].backends.size(), 2u);
  EXPECT_EQ(web.networks[0].backends[0].ip, "10.0.0.6");
  EXPECT_TRUE(web.networks[0].backends[0].local);
  EXPECT_EQ(web.networks[0].backends[1].ip, "10.0.0.7");
  EXPECT_FALSE(web.networks[0].backends[1].local);
}

TEST_F(NodeMeshTest, VipsOfTheNetworksTheNodeHasWithTheirNames) {
  network::MeshSpec m = NodeMesh("n2", services_, tasks_, {"ing", "ov"}, "ing", "10.0.0.3");
  ASSERT_EQ(m.services.size(), 2u);
  const network::MeshService& api = m.services[1];
  EXPECT_TRUE(api.ingress_ports.empty());
  ASSERT_EQ(api.networks.size(), 1u);
  EXPECT_EQ(api.networks[0].vip, "10.0.1.2");
  EXPECT_EQ(api.networks[0].names, (std::vector<std::string>{"api", "backend"}));
  ASSERT_EQ(api.networks[0].backends.size(), 1u);
  EXPECT_EQ(api.networks[0].backends[0].ip, "10.0.1.3");
  EXPECT_TRUE(api.networks[0].backends[0].local);
}

TEST_F(NodeMeshTest, TasksOfADownNodeAreNoBackends) {
  network::MeshSpec m = NodeMesh("n1", services_, tasks_, {"ing"}, "ing", "10.0.0.2", {"n2"});
  ASSERT_EQ(m.services.size(), 1u);
  ASSERT_EQ(m.services[0].networks[0].backends.size(), 1u);
  EXPECT_EQ(m.services[0].networks[0].backends[0].ip, "10.0.0.6");
}

TEST_F(NodeMeshTest, NoIngressEndpointMeansNoPublishedPorts) {
  network::MeshSpec m = NodeMesh("n1", services_, tasks_, {"ov"}, "ing", "");
  EXPECT_EQ(m.ingress_address, "");
  ASSERT_EQ(m.services.size(), 1u);
  EXPECT_EQ(m.services[0].name, "api");
}

TEST_F(NodeMeshTest, TheWireFormRoundTrips) {
  network::MeshSpec m = NodeMesh("n2", services_, tasks_, {"ing", "ov"}, "ing", "10.0.0.3");
  network::MeshSpec back = ParseMeshSpec(MeshJson(m));
  EXPECT_EQ(MeshJson(back), MeshJson(m));
  EXPECT_EQ(back.ingress_address, "10.0.0.3");
  ASSERT_EQ(back.services.size(), 2u);
  EXPECT_EQ(back.services[0].networks[0].backends.size(), 2u);
  EXPECT_EQ(back.services[1].networks[0].names.size(), 2u);
  EXPECT_TRUE(ParseMeshSpec(nlohmann::json::object()).services.empty());
}

}  // namespace
}  // namespace berth::cluster
