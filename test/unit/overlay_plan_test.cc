// The overlay's pure parts: Docker's MAC for an address, the options a swarm network may carry,
// its VNI, and the diff between a peer table and what the VXLAN device holds.

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "network/overlay_driver.h"
#include "network/swarm.h"

namespace berth::network {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

TEST(OverlayMac, IsDockersSchemeFromTheAddress) {
  EXPECT_EQ(OverlayMac("10.0.1.2"), "02:42:0a:00:01:02");  // overlay-addrs trace
  EXPECT_EQ(OverlayMac("10.0.1.4"), "02:42:0a:00:01:04");
  EXPECT_EQ(OverlayMac("172.18.255.254"), "02:42:ac:12:ff:fe");
  EXPECT_EQ(OverlayMac("0.0.0.0"), "02:42:00:00:00:00");
  EXPECT_EQ(OverlayMac("10.0.1"), "");
  EXPECT_EQ(OverlayMac("10.0.1.256"), "");
  EXPECT_EQ(OverlayMac("fd00::2"), "");
  EXPECT_EQ(OverlayMac(""), "");
}

TEST(SwarmNetworkOptions, EncryptedIsRefusedWithWhatWouldBeNeeded) {
  Status st = ValidateSwarmNetworkOptions({{"encrypted", ""}});
  EXPECT_EQ(st.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(st.message(), HasSubstr("IPsec"));
  EXPECT_THAT(st.message(), HasSubstr("WireGuard"));
  EXPECT_TRUE(ValidateSwarmNetworkOptions({}).ok());
  EXPECT_TRUE(ValidateSwarmNetworkOptions({{"com.docker.network.driver.mtu", "1400"}}).ok());
  EXPECT_EQ(ValidateSwarmNetworkOptions({{"com.docker.network.driver.mtu", "big"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateSwarmNetworkOptions({{"com.docker.network.driver.mtu", "67"}}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(OverlayVni, ComesFromDockersOption) {
  EXPECT_EQ(*OverlayVni({{kVxlanIdOption, "4097"}}), 4097u);
  EXPECT_EQ(*OverlayVni({{kVxlanIdOption, "4098,4099"}}), 4098u);
  EXPECT_FALSE(OverlayVni({}).ok());
  EXPECT_FALSE(OverlayVni({{kVxlanIdOption, "0"}}).ok());
  EXPECT_FALSE(OverlayVni({{kVxlanIdOption, "16777216"}}).ok());
  EXPECT_FALSE(OverlayVni({{kVxlanIdOption, "x"}}).ok());
}

sys::NeighInfo Fdb(const std::string& mac, const std::string& dst, bool permanent = true) {
  sys::NeighInfo n;
  n.link = "vxlan0";
  n.mac = mac;
  n.ip = dst;
  n.permanent = permanent;
  return n;
}
// An entry of the bridge's FDB on the VXLAN port: static (ours), learnt, or the port's own.
sys::NeighInfo Bridge(const std::string& mac, bool is_static = true, bool permanent = false) {
  sys::NeighInfo n = Fdb(mac, "", permanent);
  n.bridge = true;
  n.is_static = is_static;
  return n;
}
sys::NeighInfo Neigh(const std::string& ip, const std::string& mac, bool permanent = true) {
  return Fdb(mac, ip, permanent);
}

TEST(PlanPeers, AddsWhatIsMissingFromAnEmptyDevice) {
  PeerPlan p = PlanPeers({{"10.0.1.3", "02:42:0a:00:01:03", "192.168.77.12"},
                          {"10.0.1.4", "02:42:0A:00:01:04", "192.168.77.13"}},
                         "192.168.77.11", {}, {});
  EXPECT_THAT(p.fdb_add, ElementsAre(Pair("02:42:0a:00:01:03", "192.168.77.12"),
                                     Pair("02:42:0a:00:01:04", "192.168.77.13")));  // MACs lower-cased
  EXPECT_THAT(p.neigh_add, ElementsAre(Pair("10.0.1.3", "02:42:0a:00:01:03"), Pair("10.0.1.4", "02:42:0a:00:01:04")));
  EXPECT_THAT(p.bridge_add, ElementsAre("02:42:0a:00:01:03", "02:42:0a:00:01:04"));
  EXPECT_THAT(p.fdb_del, IsEmpty());
  EXPECT_THAT(p.neigh_del, IsEmpty());
}

TEST(PlanPeers, IsEmptyWhenTheKernelAlreadyMatches) {
  PeerPlan p = PlanPeers({{"10.0.1.3", "02:42:0a:00:01:03", "192.168.77.12"}}, "192.168.77.11",
                         {Fdb("02:42:0a:00:01:03", "192.168.77.12"), Bridge("02:42:0a:00:01:03")},
                         {Neigh("10.0.1.3", "02:42:0a:00:01:03")});
  EXPECT_TRUE(p.empty());
}

TEST(PlanPeers, TheBridgesStaticEntriesFollowThePeersAndItsOthersAreLeftAlone) {
  PeerPlan p = PlanPeers({{"10.0.1.3", "02:42:0a:00:01:03", "192.168.77.12"}}, "192.168.77.11",
                         {Fdb("02:42:0a:00:01:03", "192.168.77.12"), Bridge("02:42:0a:00:01:09"),
                          Bridge("02:42:0a:00:01:0a", /*is_static=*/false),
                          Bridge("4e:11:22:33:44:55", /*is_static=*/false, /*permanent=*/true)},
                         {Neigh("10.0.1.3", "02:42:0a:00:01:03")});
  EXPECT_THAT(p.bridge_del, ElementsAre("02:42:0a:00:01:09"));  // a peer that left
  EXPECT_THAT(p.bridge_add, ElementsAre("02:42:0a:00:01:03"));
  EXPECT_THAT(p.fdb_del, IsEmpty());
  EXPECT_THAT(p.fdb_add, IsEmpty());
}

TEST(PlanPeers, RemovesLeftPeersAndMovesOnesThatChangedNode) {
  PeerPlan p = PlanPeers({{"10.0.1.3", "02:42:0a:00:01:03", "192.168.77.13"}}, "192.168.77.11",
                         {Fdb("02:42:0a:00:01:03", "192.168.77.12"), Fdb("02:42:0a:00:01:09", "192.168.77.12")},
                         {Neigh("10.0.1.3", "02:42:0a:00:01:03"), Neigh("10.0.1.9", "02:42:0a:00:01:09")});
  EXPECT_THAT(p.fdb_del, ElementsAre(Pair("02:42:0a:00:01:03", "192.168.77.12"),
                                     Pair("02:42:0a:00:01:09", "192.168.77.12")));
  EXPECT_THAT(p.fdb_add, ElementsAre(Pair("02:42:0a:00:01:03", "192.168.77.13")));
  EXPECT_THAT(p.neigh_del, ElementsAre(Pair("10.0.1.9", "02:42:0a:00:01:09")));
  EXPECT_THAT(p.neigh_add, IsEmpty());
}

TEST(PlanPeers, SkipsThisNodesOwnEndpointsAndLeavesTheBridgesEntriesAlone) {
  PeerPlan p = PlanPeers({{"10.0.1.2", "02:42:0a:00:01:02", "192.168.77.11"}}, "192.168.77.11",
                         // the bridge's own entry for the port: no remote
                         {Fdb("4e:11:22:33:44:55", "")}, {});
  EXPECT_TRUE(p.empty());
}

TEST(PlanPeers, ReplacesEntriesThatAreNotPermanentOrPointElsewhere) {
  PeerPlan p = PlanPeers({{"10.0.1.3", "02:42:0a:00:01:03", "192.168.77.12"}}, "192.168.77.11",
                         {Fdb("02:42:0a:00:01:03", "192.168.77.12", /*permanent=*/false)},
                         {Neigh("10.0.1.3", "02:42:0a:00:01:07")});
  EXPECT_THAT(p.fdb_del, ElementsAre(Pair("02:42:0a:00:01:03", "192.168.77.12")));
  EXPECT_THAT(p.fdb_add, ElementsAre(Pair("02:42:0a:00:01:03", "192.168.77.12")));
  EXPECT_THAT(p.neigh_del, ElementsAre(Pair("10.0.1.3", "02:42:0a:00:01:07")));
  EXPECT_THAT(p.neigh_add, ElementsAre(Pair("10.0.1.3", "02:42:0a:00:01:03")));
}

TEST(PlanPeers, IgnoresPeersItCannotUse) {
  PeerPlan p = PlanPeers({{"10.0.1.3", "not-a-mac", "192.168.77.12"}, {"10.0.1.4", "02:42:0a:00:01:04", ""}},
                         "192.168.77.11", {}, {});
  EXPECT_TRUE(p.empty());
}

}  // namespace
}  // namespace berth::network
