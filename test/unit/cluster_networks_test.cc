// Swarm network records (cluster/networks.h): what a create asks for, the VNI and subnet the
// managers allocate, and how a record is shown.

#include "cluster/networks.h"

#include <gtest/gtest.h>

#include "api/render.h"
#include "cluster/dispatcher.h"

namespace berth::cluster {
namespace {

NetworkRecord WithSubnet(const std::string& subnet, uint32_t vni) {
  NetworkRecord n;
  n.subnet = subnet;
  n.vni = vni;
  return n;
}

TEST(ClusterNetworks, RecordRoundTrips) {
  NetworkRecord n;
  n.id = "y1tws34967acwg1wik748l7ou";
  n.created_at = 1764300646215632757;
  n.name = "ov1";
  n.labels = {{"a", "b"}};
  n.options = {{"com.docker.network.driver.mtu", "1400"}};
  n.attachable = true;
  n.subnet = "10.0.1.0/24";
  n.gateway = "10.0.1.1";
  n.subnet_allocated = true;
  n.vni = 4097;
  StatusOr<NetworkRecord> back = DecodeNetworkRecord(EncodeNetworkRecord(n));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, n);
  EXPECT_FALSE(DecodeNetworkRecord("{\"id\":1}").ok());
  EXPECT_FALSE(DecodeNetworkRecord("not json").ok());
}

TEST(ClusterNetworks, VnisStartAt4096AndFillGaps) {
  EXPECT_EQ(NextVni({}), 4096u);
  EXPECT_EQ(NextVni({WithSubnet("10.0.0.0/24", 4096), WithSubnet("10.0.1.0/24", 4098)}), 4097u);
  EXPECT_EQ(NextVni({WithSubnet("10.0.0.0/24", 4096), WithSubnet("10.0.1.0/24", 4097)}), 4098u);
}

TEST(ClusterNetworks, SubnetsComeFromThePoolWithoutOverlap) {
  // After the ingress network (10.0.0.0/24) the first overlay gets 10.0.1.0/24, as in Docker.
  auto s = NextSubnet({WithSubnet("10.0.0.0/24", 4096)}, {}, 24);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "10.0.1.0/24");
  // A user's subnet that covers several /24s is stepped around.
  s = NextSubnet({WithSubnet("10.0.0.0/24", 4096), WithSubnet("10.0.0.0/22", 4097)}, {}, 24);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "10.0.4.0/24");
  // The swarm's own pools and subnet size.
  s = NextSubnet({WithSubnet("10.20.0.0/26", 4096)}, {"10.20.0.0/16"}, 26);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "10.20.0.64/26");
  // A full pool is an error, not an overlap.
  s = NextSubnet({WithSubnet("192.168.5.0/24", 4096)}, {"192.168.5.0/24"}, 24);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(ClusterNetworks, RequestsAreCheckedAndRefusedClearly) {
  spec::NetworkCreateRequest r;
  r.name = "ov1";
  r.driver = "overlay";
  r.attachable = true;
  r.labels = spec::StringMap{{"x", "y"}};
  StatusOr<NetworkRecord> n = NetworkFromRequest(r);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_TRUE(n->attachable);
  EXPECT_TRUE(n->subnet.empty());  // the managers allocate it
  EXPECT_EQ(n->labels.at("x"), "y");

  spec::NetworkCreateRequest given = r;
  given.ipam = spec::IPAM{"default", std::nullopt,
                          std::vector<spec::IPAMConfig>{{"10.0.9.7/24", "", "", {}}}};
  n = NetworkFromRequest(given);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->subnet, "10.0.9.0/24");
  EXPECT_EQ(n->gateway, "10.0.9.1");
  given.ipam->config->front().gateway = "10.0.10.1";
  EXPECT_EQ(NetworkFromRequest(given).status().code(), absl::StatusCode::kInvalidArgument);

  spec::NetworkCreateRequest enc = r;
  enc.options = spec::StringMap{{"encrypted", ""}};
  Status st = NetworkFromRequest(enc).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("IPsec"), std::string::npos);

  spec::NetworkCreateRequest bridge = r;
  bridge.driver = "bridge";
  EXPECT_FALSE(NetworkFromRequest(bridge).ok());
  spec::NetworkCreateRequest v6 = r;
  v6.enable_ipv6 = true;
  EXPECT_FALSE(NetworkFromRequest(v6).ok());
  spec::NetworkCreateRequest mtu = r;
  mtu.options = spec::StringMap{{"com.docker.network.driver.mtu", "12"}};
  EXPECT_FALSE(NetworkFromRequest(mtu).ok());
}

TEST(ClusterNetworks, ViewAndNodeSpecShowTheAllocation) {
  NetworkRecord n;
  n.id = "q93ipkwudti2wy4r4m0qdyuph";
  n.created_at = 1764300486301782079;
  n.name = "ingress";
  n.ingress = true;
  n.subnet = "10.0.0.0/24";
  n.gateway = "10.0.0.1";
  n.vni = 4096;
  network::NetworkView v = ViewOf(n);
  EXPECT_EQ(v.scope, "swarm");
  EXPECT_EQ(v.driver, "overlay");
  EXPECT_TRUE(v.ingress);
  EXPECT_EQ(v.options.at("com.docker.network.driver.overlay.vxlanid_list"), "4096");
  ASSERT_TRUE(v.ipam.config.has_value());
  EXPECT_EQ(v.ipam.config->front().subnet, "10.0.0.0/24");
  EXPECT_EQ(v.ipam.config->front().gateway, "10.0.0.1");
  EXPECT_EQ(v.created, "2025-11-28T03:28:06.301782079Z");
  // A manager's view of the record has no Peers (Docker shows them only where the network is).
  EXPECT_TRUE(v.peers.empty());
  EXPECT_FALSE(api::RenderNetwork(v).contains("Peers"));

  n.options = {{"com.docker.network.driver.mtu", "1400"}};
  network::SwarmNetworkSpec s = SwarmSpecOf(n);
  EXPECT_EQ(s.vni, 4096u);
  EXPECT_EQ(s.mtu, 1400);
  EXPECT_EQ(s.subnet, "10.0.0.0/24");
  EXPECT_TRUE(s.ingress);
}

// The nodes that have a network come to each node with the network (assignments) and show as
// inspect's Peers there, after Labels as in Docker's answer (overlay-inspect-with-peers.md).
TEST(ClusterNetworks, PeerNodesTravelWithTheNetworkAndShowAsPeers) {
  nlohmann::json wire = {{"id", "y1tws34967acwg1wik748l7ou"},
                         {"name", "ov1"},
                         {"vni", 4097},
                         {"peer_nodes",
                          {{{"name", "dd6bedf51325"}, {"ip", "192.168.77.11"}},
                           {{"name", "7beacd45b307"}, {"ip", "192.168.77.12"}}}}};
  network::SwarmNetworkSpec s = ParseSwarmNetworkSpec(wire);
  ASSERT_EQ(s.peer_nodes.size(), 2u);
  EXPECT_EQ(s.peer_nodes[1].name, "7beacd45b307");
  EXPECT_EQ(s.peer_nodes[1].ip, "192.168.77.12");
  EXPECT_TRUE(ParseSwarmNetworkSpec({{"id", "x"}}).peer_nodes.empty());

  network::NetworkView v;
  v.name = "ov1";
  for (const auto& p : s.peer_nodes) v.peers.emplace_back(p.name, p.ip);
  api::OrderedJson out = api::RenderNetwork(v);
  EXPECT_EQ(out.back().dump(),
            R"([{"Name":"dd6bedf51325","IP":"192.168.77.11"},{"Name":"7beacd45b307","IP":"192.168.77.12"}])");
  EXPECT_EQ(std::prev(out.end()).key(), "Peers");
}

}  // namespace
}  // namespace berth::cluster
