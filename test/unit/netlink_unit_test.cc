// The pure parsing behind Rtnl: MAC addresses, IPs, CIDRs, broadcasts.
#include <arpa/inet.h>

#include "gtest/gtest.h"
#include "sys/netlink.h"

namespace berth::sys {
namespace {

TEST(NetlinkParse, Mac) {
  auto m = ParseMac("02:42:AC:11:00:02");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)[0], 0x02);
  EXPECT_EQ((*m)[2], 0xac);
  EXPECT_EQ((*m)[5], 0x02);
  EXPECT_EQ(FormatMac(m->data()), "02:42:ac:11:00:02");
  for (const char* bad : {"", "02:42:ac:11:00", "02:42:ac:11:00:02:03", "02-42-ac-11-00-02", "2:42:ac:11:00:02x",
                          "02:42:ag:11:00:02", "02:42:ac:11:00:2"}) {
    auto b = ParseMac(bad);
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(NetlinkParse, Ip) {
  auto v4 = ParseIp("10.0.0.2");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->family, AF_INET);
  EXPECT_EQ(v4->size(), 4u);
  EXPECT_EQ(v4->ToString(), "10.0.0.2");
  auto v6 = ParseIp("fd00::1");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->family, AF_INET6);
  EXPECT_EQ(v6->size(), 16u);
  EXPECT_EQ(v6->ToString(), "fd00::1");
  EXPECT_FALSE(ParseIp("10.0.0.256").ok());
  EXPECT_FALSE(ParseIp("10.0.0.2/24").ok());
  EXPECT_FALSE(ParseIp("").ok());
}

TEST(NetlinkParse, Cidr) {
  auto p = ParseCidr("172.17.0.2/16");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->len, 16);
  EXPECT_EQ(p->ToString(), "172.17.0.2/16");
  auto p6 = ParseCidr("fd00:1::5/64");
  ASSERT_TRUE(p6.ok());
  EXPECT_EQ(p6->addr.family, AF_INET6);
  EXPECT_EQ(p6->len, 64);
  EXPECT_TRUE(ParseCidr("0.0.0.0/0").ok());
  EXPECT_TRUE(ParseCidr("::/128").ok());
  // A prefix length is required: an address alone is ambiguous for an interface.
  for (const char* bad : {"10.0.0.2", "10.0.0.2/", "10.0.0.2/33", "fd00::1/129", "10.0.0.2/2a", "10.0.0.2/-1",
                          "x/24", "10.0.0.2/0024"}) {
    auto b = ParseCidr(bad);
    EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(NetlinkParse, Ipv4Broadcast) {
  EXPECT_EQ(Ipv4Broadcast(*ParseCidr("10.0.0.2/24")).ToString(), "10.0.0.255");
  EXPECT_EQ(Ipv4Broadcast(*ParseCidr("172.17.0.1/16")).ToString(), "172.17.255.255");
  EXPECT_EQ(Ipv4Broadcast(*ParseCidr("10.1.2.3/0")).ToString(), "255.255.255.255");
  EXPECT_EQ(Ipv4Broadcast(*ParseCidr("10.1.2.3/32")).ToString(), "10.1.2.3");
}

}  // namespace
}  // namespace berth::sys
