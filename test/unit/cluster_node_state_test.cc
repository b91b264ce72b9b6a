// The swarm node's local pieces: addresses, its state file, and the cluster port's error bodies.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "cluster/node_state.h"
#include "cluster/rpc.h"

namespace berth::cluster {
namespace {

TEST(ClusterAddress, WithPortTakesIpsWithOrWithoutAPort) {
  EXPECT_EQ(*WithPort("10.0.0.1", 2377), "10.0.0.1:2377");
  EXPECT_EQ(*WithPort("10.0.0.1:4000", 2377), "10.0.0.1:4000");
  EXPECT_EQ(*WithPort("0.0.0.0:2377", 2377), "0.0.0.0:2377");
  EXPECT_EQ(*WithPort("fd00::1", 2377), "[fd00::1]:2377");
  EXPECT_EQ(*WithPort("[fd00::1]:4000", 2377), "[fd00::1]:4000");
}

TEST(ClusterAddress, WithPortRefusesNamesAndBadPorts) {
  for (const char* bad : {"eth0", "eth0:2377", "10.0.0.1:0", "10.0.0.1:70000", "10.0.0.1:x", ""}) {
    StatusOr<std::string> r = WithPort(bad, 2377);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << bad;
  }
}

TEST(ClusterAddress, HostOf) {
  EXPECT_EQ(HostOf("10.0.0.1:2377"), "10.0.0.1");
  EXPECT_EQ(HostOf("[fd00::1]:2377"), "fd00::1");
  EXPECT_EQ(HostOf("10.0.0.1"), "10.0.0.1");
}

class NodeStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bt-nodestate.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(NodeStateTest, MissingStateIsNotFound) {
  NodePaths paths(dir_);
  EXPECT_TRUE(absl::IsNotFound(LoadNodeState(paths).status()));
}

TEST_F(NodeStateTest, SavedStateLoadsBackAndIsPrivate) {
  NodePaths paths(dir_);
  NodeState s;
  s.node_id = "n1";
  s.cluster_id = "c1";
  s.role = "manager";
  s.advertise_addr = "10.0.0.1:2377";
  s.listen_addr = "0.0.0.0:2377";
  s.managers = {{"n1", "10.0.0.1:2377"}, {"n2", "10.0.0.2:2377"}};
  ASSERT_TRUE(SaveNodeState(paths, s).ok());
  StatusOr<NodeState> back = LoadNodeState(paths);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->node_id, "n1");
  EXPECT_EQ(back->cluster_id, "c1");
  EXPECT_EQ(back->role, "manager");
  EXPECT_EQ(back->advertise_addr, "10.0.0.1:2377");
  ASSERT_EQ(back->managers.size(), 2u);
  EXPECT_EQ(back->managers[1].addr, "10.0.0.2:2377");
  struct stat st{};
  ASSERT_EQ(::stat(paths.state().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(paths.dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(WipeNodeState(paths).ok());
  EXPECT_FALSE(std::filesystem::exists(paths.dir()));
}

TEST_F(NodeStateTest, CorruptOrIncompleteStateIsRefused) {
  NodePaths paths(dir_);
  std::filesystem::create_directories(paths.dir());
  FILE* f = std::fopen(paths.state().c_str(), "w");
  std::fputs("{not json", f);
  std::fclose(f);
  EXPECT_TRUE(absl::IsDataLoss(LoadNodeState(paths).status()));
  f = std::fopen(paths.state().c_str(), "w");
  std::fputs(R"({"node_id":"n1","role":"boss"})", f);
  std::fclose(f);
  EXPECT_TRUE(absl::IsDataLoss(LoadNodeState(paths).status()));
}

TEST(ClusterRpc, ErrorBodiesRoundTripTheirCode) {
  Status s = absl::PermissionDeniedError("node x was removed from the swarm");
  RpcReply r;
  r.status = 403;
  r.body = ErrorBody(s);
  Status back = ReplyError(r);
  EXPECT_TRUE(absl::IsPermissionDenied(back));
  EXPECT_EQ(back.message(), "node x was removed from the swarm");
  r.status = 200;
  EXPECT_TRUE(ReplyError(r).ok());
  r.status = 500;
  r.body = nlohmann::json{{"message", "odd"}, {"code", 99}};
  EXPECT_TRUE(absl::IsUnknown(ReplyError(r)));
}

}  // namespace
}  // namespace berth::cluster
