// Legacy links' pure rules (engine/container_links.h), as moby's links.go writes them.

#include "engine/container_links.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace berth::engine {
namespace {

using ::testing::ElementsAre;

TEST(ParseLink, NameAndAlias) {
  EXPECT_EQ(*ParseLink("db"), std::make_pair(std::string("db"), std::string("db")));
  EXPECT_EQ(*ParseLink("/db:x"), std::make_pair(std::string("db"), std::string("x")));
  EXPECT_FALSE(ParseLink("a:b:c").ok());
  EXPECT_FALSE(ParseLink("").ok());
  EXPECT_FALSE(ParseLink("db:").ok());
}

TEST(LinkEnv, DockersVariablesInItsOrder) {
  auto env = LinkEnv("/web/my-db", "172.17.0.2", {"5432/tcp", "53/udp", "53/tcp"},
                     {"PATH=/bin", "HOME=/root", "PASS=x=y"});
  EXPECT_EQ(env, (std::vector<std::string>{
                     "MY_DB_PORT=tcp://172.17.0.2:53",
                     "MY_DB_PORT_53_TCP=tcp://172.17.0.2:53",
                     "MY_DB_PORT_53_TCP_ADDR=172.17.0.2",
                     "MY_DB_PORT_53_TCP_PORT=53",
                     "MY_DB_PORT_53_TCP_PROTO=tcp",
                     "MY_DB_PORT_53_UDP=udp://172.17.0.2:53",
                     "MY_DB_PORT_53_UDP_ADDR=172.17.0.2",
                     "MY_DB_PORT_53_UDP_PORT=53",
                     "MY_DB_PORT_53_UDP_PROTO=udp",
                     "MY_DB_PORT_5432_TCP=tcp://172.17.0.2:5432",
                     "MY_DB_PORT_5432_TCP_ADDR=172.17.0.2",
                     "MY_DB_PORT_5432_TCP_PORT=5432",
                     "MY_DB_PORT_5432_TCP_PROTO=tcp",
                     "MY_DB_NAME=/web/my-db",
                     "MY_DB_ENV_PASS=x=y",
                 }));
}

TEST(LinkEnv, ContiguousPortsGetARangeBlock) {
  auto env = LinkEnv("/p/r", "10.0.0.2", {"8000/tcp", "8001/tcp", "8002/tcp"}, {});
  ASSERT_GE(env.size(), 7u);
  EXPECT_THAT(std::vector<std::string>(env.begin(), env.begin() + 7),
              ElementsAre("R_PORT=tcp://10.0.0.2:8000", "R_PORT_8000_TCP_START=tcp://10.0.0.2:8000",
                          "R_PORT_8000_TCP_ADDR=10.0.0.2", "R_PORT_8000_TCP_PROTO=tcp",
                          "R_PORT_8000_TCP_PORT_START=8000", "R_PORT_8000_TCP_END=tcp://10.0.0.2:8002",
                          "R_PORT_8000_TCP_PORT_END=8002"));
  EXPECT_EQ(env.back(), "R_NAME=/p/r");
  // Two ports are not a range.
  auto two = LinkEnv("/p/r", "10.0.0.2", {"8000/tcp", "8001/tcp"}, {});
  for (auto& e : two) EXPECT_EQ(e.find("_START"), std::string::npos) << e;
}

TEST(LinkHostsLine, NameOnlyWhenItDiffersFromTheAlias) {
  EXPECT_EQ(LinkHostsLine("172.17.0.2", "db", "abc", "db"), "172.17.0.2\tdb abc\n");
  EXPECT_EQ(LinkHostsLine("172.17.0.2", "x", "abc", "db"), "172.17.0.2\tx abc db\n");
}

}  // namespace
}  // namespace berth::engine
