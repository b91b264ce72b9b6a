// The pure parts of `berth lab`: the plan (names, addresses, paths), the state file's codec, the
// mountinfo parser of the census.

#include <set>

#include "gtest/gtest.h"
#include "lab/census.h"
#include "lab/plan.h"
#include "lab/state.h"

namespace berth::lab {
namespace {

TEST(LabPlan, DefaultsAreOneManagerTwoWorkersOnTheLabSubnet) {
  auto lab = PlanLab(UpOptions{});
  ASSERT_TRUE(lab.ok()) << lab.status();
  EXPECT_EQ(lab->name, "lab");
  EXPECT_EQ(lab->subnet, "10.77.0.0/24");
  EXPECT_EQ(lab->gateway, "10.77.0.1");
  EXPECT_EQ(lab->bridge, "lab-lab");
  ASSERT_EQ(lab->nodes.size(), 3u);
  const Node& m1 = lab->nodes[0];
  EXPECT_EQ(m1.name, "m1");
  EXPECT_EQ(m1.role, "manager");
  EXPECT_EQ(m1.ip, "10.77.0.11");
  EXPECT_EQ(m1.netns, "lab-m1");
  EXPECT_EQ(m1.NetnsPath(), "/run/netns/lab-m1");
  EXPECT_EQ(m1.host_link, "lab-m1");
  EXPECT_EQ(m1.data_root, "/var/lib/berth-lab/lab/m1");
  EXPECT_EQ(m1.exec_root, "/run/berth-lab/lab/m1");
  EXPECT_EQ(m1.Host(), "unix:///run/berth-lab/lab/m1/berthd.sock");
  EXPECT_EQ(lab->nodes[1].name, "w1");
  EXPECT_EQ(lab->nodes[1].ip, "10.77.0.21");
  EXPECT_EQ(lab->nodes[2].name, "w2");
  EXPECT_EQ(lab->nodes[2].ip, "10.77.0.22");
  EXPECT_EQ(lab->StatePath(), "/run/berth-lab/lab/lab.json");
}

TEST(LabPlan, ManagersAndWorkersCountAndTheSubnetIsNormalised) {
  UpOptions o;
  o.name = "five";
  o.managers = 3;
  o.workers = 2;
  o.subnet = "192.168.99.77/24";  // host bits are dropped
  auto lab = PlanLab(o);
  ASSERT_TRUE(lab.ok()) << lab.status();
  EXPECT_EQ(lab->subnet, "192.168.99.0/24");
  std::vector<std::string> got;
  for (const Node& n : lab->nodes) got.push_back(n.name + "=" + n.ip);
  EXPECT_EQ(got,
            (std::vector<std::string>{"m1=192.168.99.11", "m2=192.168.99.12", "m3=192.168.99.13",
                                      "w1=192.168.99.21", "w2=192.168.99.22"}));
}

TEST(LabPlan, LongNamesGetDistinctShortLinkNames) {
  std::set<std::string> links;
  for (const std::string name : {"bt-lab-12345", "bt-lab-12346", "a-very-long-lab-name-indeed"}) {
    UpOptions o;
    o.name = name;
    o.workers = 12;
    auto lab = PlanLab(o);
    ASSERT_TRUE(lab.ok()) << lab.status();
    EXPECT_LE(lab->bridge.size(), 15u) << lab->bridge;
    EXPECT_TRUE(links.insert(lab->bridge).second) << lab->bridge;
    EXPECT_EQ(lab->bridge.substr(0, 7), "lab-" + name.substr(0, 3));
    for (const Node& n : lab->nodes) {
      EXPECT_LE(n.host_link.size(), 15u) << n.host_link;
      EXPECT_TRUE(links.insert(n.host_link).second) << n.host_link;
    }
  }
  EXPECT_EQ(LinkTag("short"), "short");
  EXPECT_EQ(LinkTag("bt-lab-12345").size(), 8u);
}

TEST(LabPlan, BadInputIsRefused) {
  auto refused = [](UpOptions o) { return !PlanLab(o).ok(); };
  UpOptions o;
  o.name = "";
  EXPECT_TRUE(refused(o));
  o.name = "a/b";
  EXPECT_TRUE(refused(o));
  o.name = "-x";
  EXPECT_TRUE(refused(o));
  o.name = std::string(33, 'a');
  EXPECT_TRUE(refused(o));
  o = UpOptions{};
  o.managers = 0;
  o.workers = 0;
  EXPECT_TRUE(refused(o));
  o = UpOptions{};
  o.managers = 10;  // addresses .11-.19
  EXPECT_TRUE(refused(o));
  o = UpOptions{};
  o.subnet = "fd00::/64";
  EXPECT_TRUE(refused(o));
  o.subnet = "10.1.0.0";
  EXPECT_TRUE(refused(o));
  o.subnet = "10.1.0.0/28";
  EXPECT_TRUE(refused(o));
  o.subnet = "10.1.0.0/27";  // .21 to .30: 10 workers fit, 11 do not
  o.workers = 10;
  EXPECT_FALSE(refused(o));
  o.workers = 11;
  EXPECT_TRUE(refused(o));
}

TEST(LabPlan, DaemonArgsNameTheNodesRootsAndExtraFlags) {
  UpOptions o;
  o.berthd_args = {"--debug"};
  auto lab = PlanLab(o);
  ASSERT_TRUE(lab.ok());
  EXPECT_EQ(
      DaemonArgs(*lab, lab->nodes[1]),
      (std::vector<std::string>{"-H", "unix:///run/berth-lab/lab/w1/berthd.sock", "--data-root",
                                "/var/lib/berth-lab/lab/w1", "--exec-root", "/run/berth-lab/lab/w1",
                                "--pidfile", "/run/berth-lab/lab/w1/berthd.pid", "--debug"}));
}

TEST(LabState, RoundTrips) {
  UpOptions o;
  o.name = "bt-state";
  o.berthd = "/usr/bin/berthd";
  o.berthd_args = {"--debug"};
  auto lab = PlanLab(o);
  ASSERT_TRUE(lab.ok());
  lab->nodes[1].pid = 4242;
  auto back = DecodeState(EncodeState(*lab));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(EncodeState(*back), EncodeState(*lab));
  EXPECT_EQ(back->nodes[1].pid, 4242);
  EXPECT_EQ(back->berthd_args, o.berthd_args);
  EXPECT_FALSE(DecodeState("[]").ok());
  EXPECT_FALSE(DecodeState("{\"name\": \"x\"}").ok());
  EXPECT_FALSE(DecodeState("not json").ok());
}

TEST(LabCensus, MountPointsAreDecoded) {
  const std::string info =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
      "480 26 0:4 net:[4026532458] /run/netns/lab-m1 rw shared:5 - nsfs nsfs rw\n"
      "481 22 0:50 / /var/lib/berth-lab/my\\040lab/m1/overlay rw - overlay overlay rw\n";
  EXPECT_EQ(MountPoints(info), (std::vector<std::string>{"/", "/run/netns/lab-m1",
                                                         "/var/lib/berth-lab/my lab/m1/overlay"}));
}

}  // namespace
}  // namespace berth::lab
