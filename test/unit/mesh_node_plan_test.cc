// What one node balances, from the cluster's MeshSpec (network/mesh/node.h): the node's model, each
// container's model, the ports the mesh holds, the VIPs' names.

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "network/mesh/node.h"

namespace berth::network::mesh {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr char kIngress[] = "ingressnetworkid000000001";
constexpr char kOv1[] = "overlay1networkid00000001";
constexpr char kOv2[] = "overlay2networkid00000002";

// web: publishes 8080 -> 80 and 8443 -> 443, on ingress and ov1; db: ov1 and ov2, no ports;
// dns: dnsrr on ov2 (no VIP).
MeshSpec Spec() {
  MeshSpec m;
  m.ingress_network_id = kIngress;
  m.ingress_address = "10.0.0.2";
  MeshService web;
  web.id = "websvcid";
  web.name = "web";
  web.ingress_ports = {{"tcp", 8080, 80}, {"tcp", 8443, 443}};
  web.networks = {{kIngress, "10.0.0.5", {}, {{"10.0.0.7", true}, {"10.0.0.8", false}}},
                  {kOv1, "10.0.1.2", {"web", "www"}, {{"10.0.1.7", true}, {"10.0.1.8", false}}}};
  MeshService db;
  db.id = "dbsvcid";
  db.name = "db";
  db.networks = {{kOv1, "10.0.1.3", {"db"}, {{"10.0.1.9", false}}},
                 {kOv2, "10.0.2.3", {"db", "database"}, {{"10.0.2.9", false}}}};
  MeshService rr;
  rr.id = "rrsvcid";
  rr.name = "dns";
  rr.networks = {{kOv2, "", {}, {{"10.0.2.10", true}}}};
  m.services = {web, db, rr};
  return m;
}

TEST(MeshNodeModel, PublishedPortsBalanceAcrossTheIngressBackends) {
  auto m = NodeModel(Spec(), {"172.18.0.0/16"});
  ASSERT_TRUE(m.has_value());
  ASSERT_TRUE(m->ingress.has_value());
  EXPECT_EQ(m->ingress->snat_address, "10.0.0.2");
  EXPECT_THAT(m->ingress->hairpin_subnets, ElementsAre("172.18.0.0/16"));
  ASSERT_EQ(m->services.size(), 1u);  // only web publishes
  const Service& s = m->services[0];
  EXPECT_EQ(s.id, "websvcid");
  EXPECT_EQ(s.vip, "");
  ASSERT_EQ(s.ports.size(), 2u);
  EXPECT_EQ(s.ports[0].published, 8080);
  EXPECT_EQ(s.ports[0].target, 80);
  EXPECT_EQ(s.ports[0].mode, "ingress");
  ASSERT_EQ(s.backends.size(), 2u);  // the ingress network's, not ov1's
  EXPECT_EQ(s.backends[0].ip, "10.0.0.7");
  EXPECT_TRUE(s.backends[0].local);
  EXPECT_EQ(s.backends[1].ip, "10.0.0.8");
  EXPECT_FALSE(s.backends[1].local);
  EXPECT_TRUE(Validate(*m).ok()) << Validate(*m);
}

TEST(MeshNodeModel, RefusedPortsAreLeftOutAndAServiceWithoutPortsWithThem) {
  auto m = NodeModel(Spec(), {}, {{"tcp", 8080}});
  ASSERT_TRUE(m.has_value());
  ASSERT_EQ(m->services.size(), 1u);
  ASSERT_EQ(m->services[0].ports.size(), 1u);
  EXPECT_EQ(m->services[0].ports[0].published, 8443);
  EXPECT_FALSE(NodeModel(Spec(), {}, {{"tcp", 8080}, {"tcp", 8443}}).has_value());
  // udp/8080 is another port.
  EXPECT_EQ(NodeModel(Spec(), {}, {{"udp", 8080}})->services[0].ports.size(), 2u);
}

TEST(MeshNodeModel, NothingWithoutAnIngressAddress) {
  MeshSpec s = Spec();
  s.ingress_address = "";
  EXPECT_FALSE(NodeModel(s, {}).has_value());
  EXPECT_THAT(MeshNodePorts(s), IsEmpty());
  EXPECT_FALSE(NodeModel(MeshSpec{}, {}).has_value());
}

TEST(MeshNodeModel, PortsHeldOnTheNode) {
  EXPECT_THAT(MeshNodePorts(Spec()), ElementsAre(Pair("tcp", 8080), Pair("tcp", 8443)));
}

TEST(MeshContainerModel, TheVipsOfTheContainersNetworks) {
  Model one = ContainerModel(Spec(), {kOv1});
  EXPECT_FALSE(one.ingress.has_value());
  ASSERT_EQ(one.services.size(), 2u);
  EXPECT_EQ(one.services[0].id, "websvcid");
  EXPECT_EQ(one.services[0].vip, "10.0.1.2");
  EXPECT_THAT(one.services[0].ports, IsEmpty());
  ASSERT_EQ(one.services[0].backends.size(), 2u);
  EXPECT_EQ(one.services[0].backends[0].ip, "10.0.1.7");
  EXPECT_EQ(one.services[1].vip, "10.0.1.3");
  EXPECT_TRUE(Validate(one).ok()) << Validate(one);

  // On both networks of db: both VIPs, as two entries with distinct ids; dnsrr has none.
  Model two = ContainerModel(Spec(), {kOv1, kOv2});
  ASSERT_EQ(two.services.size(), 3u);
  EXPECT_EQ(two.services[1].id, "dbsvcid");
  EXPECT_EQ(two.services[2].id, std::string("dbsvcidn") + std::string(kOv2).substr(0, 10));
  EXPECT_EQ(two.services[2].vip, "10.0.2.3");
  EXPECT_TRUE(Validate(two).ok()) << Validate(two);

  EXPECT_THAT(ContainerModel(Spec(), {kOv2}).services, testing::SizeIs(1));
  EXPECT_THAT(ContainerModel(Spec(), {"other"}).services, IsEmpty());
  EXPECT_THAT(ContainerModel(MeshSpec{}, {kOv1}).services, IsEmpty());
  // A task on the ingress network balances the ingress VIP too (Docker gives one).
  EXPECT_EQ(ContainerModel(Spec(), {kIngress}).services[0].vip, "10.0.0.5");
}

TEST(MeshVipNames, PerNetworkOnlyWhereThereIsAVipAndNames) {
  auto names = VipNames(Spec());
  EXPECT_FALSE(names.count(kIngress));  // web's ingress VIP has no names
  ASSERT_EQ(names[kOv1].size(), 2u);
  EXPECT_EQ(names[kOv1][0].first, "10.0.1.2");
  EXPECT_THAT(names[kOv1][0].second, ElementsAre("web", "www"));
  EXPECT_EQ(names[kOv1][1].first, "10.0.1.3");
  ASSERT_EQ(names[kOv2].size(), 1u);  // dnsrr answers with its tasks, not here
  EXPECT_THAT(names[kOv2][0].second, ElementsAre("db", "database"));
}

}  // namespace
}  // namespace berth::network::mesh
