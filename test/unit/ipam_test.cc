// The expected addresses and error texts come from Docker Engine 20.10 as recorded in
// /work/shared/reference/docker-tutorial-transcript.md, sections 1.5 and 1.6.

#include "network/ipam/ipam.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

namespace berth::network::ipam {
namespace {

PoolRequest Subnet(std::string subnet) {
  PoolRequest r;
  r.subnet = std::move(subnet);
  return r;
}

std::string Next(Allocator& a, const std::string& pool, const std::string& preferred = "") {
  auto ip = a.RequestAddress(pool, preferred);
  EXPECT_TRUE(ip.ok()) << ip.status();
  return ip.ok() ? *ip : "";
}

void ExpectError(const Status& s, absl::StatusCode code, std::string_view message) {
  EXPECT_EQ(s.code(), code) << s;
  EXPECT_EQ(s.message(), Av(message));
}

TEST(IpamHelpersTest, ParseAndFormat) {
  ASSERT_EQ(*ParseIp("172.17.0.2"), 0xac110002u);
  EXPECT_EQ(FormatIp(0xac110002u), "172.17.0.2");
  EXPECT_EQ(FormatIp(0xffffffffu), "255.255.255.255");
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.x", "1..3.4", "1.2.3.4 "}) {
    ExpectError(ParseIp(bad).status(), absl::StatusCode::kInvalidArgument, std::string("invalid IP address: ") + bad);
  }
  auto c = Cidr::Parse("10.15.20.7/24");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ToString(), "10.15.20.7/24");
  EXPECT_EQ(FormatIp(c->Network()), "10.15.20.0");
  EXPECT_EQ(FormatIp(c->Broadcast()), "10.15.20.255");
  EXPECT_EQ(c->Canonical().ToString(), "10.15.20.0/24");
  EXPECT_TRUE(c->Contains(*ParseIp("10.15.20.255")));
  EXPECT_FALSE(c->Contains(*ParseIp("10.15.21.0")));
  EXPECT_EQ(Cidr::Parse("0.0.0.0/0")->Size(), uint64_t{1} << 32);
  EXPECT_TRUE(Cidr::Parse("0.0.0.0/0")->Contains(*ParseIp("255.1.2.3")));
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0", "10.0.0.0/", "10.0.0/8", "10.0.0.0/-1", "fd00::/64"}) {
    ExpectError(Cidr::Parse(bad).status(), absl::StatusCode::kInvalidArgument,
                std::string("invalid CIDR address: ") + bad);
  }
}

TEST(IpamHelpersTest, Overlaps) {
  Cidr a = *Cidr::Parse("10.15.20.0/24");
  EXPECT_TRUE(a.Overlaps(*Cidr::Parse("10.15.20.0/25")));
  EXPECT_TRUE(a.Overlaps(*Cidr::Parse("10.15.20.128/25")));
  EXPECT_TRUE(a.Overlaps(*Cidr::Parse("10.0.0.0/8")));
  EXPECT_TRUE(Cidr::Parse("10.0.0.0/8")->Overlaps(a));
  EXPECT_FALSE(a.Overlaps(*Cidr::Parse("10.15.21.0/24")));
  EXPECT_TRUE(a.Contains(*Cidr::Parse("10.15.20.64/26")));
  EXPECT_FALSE(a.Contains(*Cidr::Parse("10.15.0.0/16")));
}

TEST(IpamHelpersTest, MacFromIp) {
  EXPECT_EQ(MacFromIp(*ParseIp("172.17.0.2")), "02:42:ac:11:00:02");
  EXPECT_EQ(MacFromIp(*ParseIp("172.18.0.3")), "02:42:ac:12:00:03");  // c2 on testNetwork
  EXPECT_EQ(MacFromIp(*ParseIp("10.255.0.16")), "02:42:0a:ff:00:10");
}

TEST(IpamTest, Testbridge1AuxAddressesAreReserved) {
  Allocator a;
  PoolRequest r = Subnet("10.15.20.0/24");
  r.gateway = "10.15.20.1";
  r.aux = {{"1", "10.15.20.2"}, {"2", "10.15.20.3"}};
  auto pool = a.RequestPool(r);
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(pool->id, "default/10.15.20.0/24");
  EXPECT_EQ(pool->subnet, "10.15.20.0/24");
  EXPECT_EQ(pool->ip_range, "");
  EXPECT_EQ(pool->gateway, "10.15.20.1");
  EXPECT_EQ(pool->aux, r.aux);
  EXPECT_EQ(Next(a, pool->id), "10.15.20.4");  // t1 in the transcript
  EXPECT_EQ(Next(a, pool->id), "10.15.20.5");
  for (const char* reserved : {"10.15.20.0", "10.15.20.1", "10.15.20.2", "10.15.20.3", "10.15.20.255"}) {
    ExpectError(a.RequestAddress(pool->id, reserved).status(), absl::StatusCode::kAlreadyExists,
                "Address already in use");
  }
}

TEST(IpamTest, DefaultGatewayIsFirstUsableAndReserved) {
  Allocator a;
  auto pool = a.RequestPool(Subnet("10.16.1.7/24"));  // host bits are dropped
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(pool->subnet, "10.16.1.0/24");
  EXPECT_EQ(pool->gateway, "10.16.1.1");
  EXPECT_EQ(Next(a, pool->id), "10.16.1.2");
  ExpectError(a.RequestAddress(pool->id, "10.16.1.1").status(), absl::StatusCode::kAlreadyExists,
              "Address already in use");
}

TEST(IpamTest, DefaultPoolOrderAndOverlapSkipping) {
  Allocator a;
  PoolRequest bridge;
  bridge.default_bridge = true;
  auto b = a.RequestPool(bridge);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->subnet, "172.17.0.0/16");
  EXPECT_EQ(b->gateway, "172.17.0.1");
  EXPECT_EQ(Next(a, b->id), "172.17.0.2");

  auto n1 = a.RequestPool({});
  ASSERT_TRUE(n1.ok());
  EXPECT_EQ(n1->subnet, "172.18.0.0/16");  // testNetwork in the transcript
  EXPECT_EQ(n1->gateway, "172.18.0.1");
  EXPECT_EQ(Next(a, n1->id), "172.18.0.2");
  EXPECT_EQ(Next(a, n1->id), "172.18.0.3");

  // A user subnet inside 172.19.0.0/16 makes that default pool unusable.
  ASSERT_TRUE(a.RequestPool(Subnet("172.19.5.0/24")).ok());
  EXPECT_EQ(a.RequestPool({})->subnet, "172.20.0.0/16");

  std::vector<std::string> got;
  for (;;) {
    auto p = a.RequestPool({});
    if (!p.ok()) {
      ExpectError(p.status(), absl::StatusCode::kResourceExhausted,
                  "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to "
                  "the network");
      break;
    }
    got.push_back(p->subnet);
  }
  std::vector<std::string> want;
  for (int i = 21; i <= 31; ++i) want.push_back("172." + std::to_string(i) + ".0.0/16");
  for (int i = 0; i < 256; i += 16) want.push_back("192.168." + std::to_string(i) + ".0/20");
  EXPECT_EQ(got, want);

  // Releasing one makes exactly that one available again.
  ASSERT_TRUE(a.ReleasePool("default/172.25.0.0/16").ok());
  EXPECT_EQ(a.RequestPool({})->subnet, "172.25.0.0/16");
}

TEST(IpamTest, DefaultListStartsAt17LikeDocker) {
  // Docker's predefined list starts with 172.17.0.0/16; it is only skipped because the default
  // bridge normally holds it.
  Allocator a;
  EXPECT_EQ(a.RequestPool({})->subnet, "172.17.0.0/16");
  PoolRequest bridge;
  bridge.default_bridge = true;
  ExpectError(a.RequestPool(bridge).status(), absl::StatusCode::kPermissionDenied,
              "Pool overlaps with other one on this address space");
}

TEST(IpamTest, RequestPoolErrors) {
  Allocator a;
  PoolRequest t = Subnet("10.15.20.0/24");
  ASSERT_TRUE(a.RequestPool(t).ok());
  const auto kInvalid = absl::StatusCode::kInvalidArgument;

  ExpectError(a.RequestPool(Subnet("10.15.20.0/25")).status(), absl::StatusCode::kPermissionDenied,
              "Pool overlaps with other one on this address space");
  ExpectError(a.RequestPool(Subnet("10.0.0.0/8")).status(), absl::StatusCode::kPermissionDenied,
              "Pool overlaps with other one on this address space");
  ExpectError(a.RequestPool(Subnet("10.15.20.0/24")).status(), absl::StatusCode::kPermissionDenied,
              "Pool overlaps with other one on this address space");

  PoolRequest gw = Subnet("10.16.4.0/24");
  gw.gateway = "10.17.0.1";
  ExpectError(a.RequestPool(gw).status(), kInvalid, "no matching subnet for gateway 10.17.0.1");
  gw.gateway = "bogus";
  ExpectError(a.RequestPool(gw).status(), kInvalid, "no matching subnet for gateway bogus");

  PoolRequest aux = Subnet("10.16.2.0/24");
  aux.aux = {{"a", "10.99.0.5"}};
  ExpectError(a.RequestPool(aux).status(), kInvalid, "no matching subnet for aux-address 10.99.0.5");
  aux.aux = {{"a", ""}};  // what a bare --aux-address IP turns into, trailing space included
  ExpectError(a.RequestPool(aux).status(), kInvalid, "no matching subnet for aux-address ");

  PoolRequest aux_nosub;
  aux_nosub.aux = {{"a", "10.16.3.5"}};
  ExpectError(a.RequestPool(aux_nosub).status(), kInvalid, "no matching subnet for aux-address 10.16.3.5");
  PoolRequest gw_nosub;
  gw_nosub.gateway = "10.16.3.1";
  ExpectError(a.RequestPool(gw_nosub).status(), kInvalid, "no matching subnet for gateway 10.16.3.1");
  PoolRequest range_nosub;
  range_nosub.ip_range = "10.16.3.0/25";
  ExpectError(a.RequestPool(range_nosub).status(), kInvalid, "no matching subnet for range 10.16.3.0/25");

  PoolRequest range = Subnet("10.18.0.0/24");
  range.ip_range = "10.19.0.0/24";
  ExpectError(a.RequestPool(range).status(), kInvalid, "no matching subnet for range 10.19.0.0/24");
  range.ip_range = "10.18.0.0/23";  // starts inside but is larger than the subnet
  ExpectError(a.RequestPool(range).status(), kInvalid, "no matching subnet for range 10.18.0.0/23");
  range.ip_range = "10.18.0.0/40";
  ExpectError(a.RequestPool(range).status(), kInvalid, "invalid CIDR address: 10.18.0.0/40");

  ExpectError(a.RequestPool(Subnet("10.0.0.0/33")).status(), kInvalid, "invalid CIDR address: 10.0.0.0/33");
  ExpectError(a.RequestPool(Subnet("10.20.0.0")).status(), kInvalid, "invalid CIDR address: 10.20.0.0");

  PoolRequest gw_net = Subnet("10.21.0.0/24");
  gw_net.gateway = "10.21.0.0";
  ExpectError(a.RequestPool(gw_net).status(), kInvalid, "failed to allocate gateway (10.21.0.0): Address already in use");
  PoolRequest aux_gw = Subnet("10.21.0.0/24");
  aux_gw.aux = {{"router", "10.21.0.1"}};  // the default gateway
  ExpectError(a.RequestPool(aux_gw).status(), kInvalid,
              "failed to allocate secondary ip address (router:10.21.0.1): Address already in use");

  // None of the failed requests left a pool behind.
  ASSERT_EQ(a.Pools().size(), 1u);
  EXPECT_EQ(a.Pools()[0].subnet, "10.15.20.0/24");
  EXPECT_TRUE(a.RequestPool(Subnet("10.21.0.0/24")).ok());
}

TEST(IpamTest, IpRangeQuirkStaticAddressesAndExhaustion) {
  Allocator a;
  PoolRequest r = Subnet("172.28.0.0/16");
  r.ip_range = "172.28.5.0/24";
  r.gateway = "172.28.5.254";
  auto pool = a.RequestPool(r);
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(pool->ip_range, "172.28.5.0/24");
  EXPECT_EQ(pool->gateway, "172.28.5.254");
  EXPECT_EQ(Next(a, pool->id), "172.28.5.0");  // r1 in the transcript: the range's network address
  EXPECT_EQ(Next(a, pool->id, "172.28.9.9"), "172.28.9.9");  // r2: outside the range, inside the subnet
  EXPECT_EQ(Next(a, pool->id), "172.28.5.1");
  ExpectError(a.RequestAddress(pool->id, "172.28.9.9").status(), absl::StatusCode::kAlreadyExists,
              "Address already in use");
  ExpectError(a.RequestAddress(pool->id, "172.29.0.1").status(), absl::StatusCode::kInvalidArgument,
              "Invalid address 172.29.0.1: It does not belong to any of this network's subnets");
  ExpectError(a.RequestAddress(pool->id, "not-an-ip").status(), absl::StatusCode::kInvalidArgument,
              "Invalid address not-an-ip: It does not belong to any of this network's subnets");
  // The subnet's network and broadcast addresses are never usable, even as static ones.
  ExpectError(a.RequestAddress(pool->id, "172.28.0.0").status(), absl::StatusCode::kAlreadyExists,
              "Address already in use");
  ExpectError(a.RequestAddress(pool->id, "172.28.255.255").status(), absl::StatusCode::kAlreadyExists,
              "Address already in use");

  // 256 addresses in the range, minus the gateway, minus the two already taken.
  std::set<std::string> seen = {"172.28.5.0", "172.28.5.1"};
  for (int i = 0; i < 253; ++i) {
    std::string ip = Next(a, pool->id);
    EXPECT_NE(ip, "172.28.5.254");
    EXPECT_TRUE(seen.insert(ip).second) << ip;
  }
  EXPECT_TRUE(seen.count("172.28.5.255"));  // the range's broadcast address is usable too
  ExpectError(a.RequestAddress(pool->id, "", "br-iprange", "714728072f9b").status(),
              absl::StatusCode::kResourceExhausted,
              "no available IPv4 addresses on this network's address pools: br-iprange (714728072f9b)");
  ExpectError(a.RequestAddress(pool->id).status(), absl::StatusCode::kResourceExhausted,
              "no available IPv4 addresses on this network's address pools: 172.28.0.0/16");
  // Static addresses outside the range are still available.
  EXPECT_EQ(Next(a, pool->id, "172.28.6.1"), "172.28.6.1");
}

TEST(IpamTest, FreedAddressesAreReusedLowestFirst) {
  Allocator a;
  auto pool = a.RequestPool({});
  ASSERT_TRUE(pool.ok());
  for (int i = 2; i <= 6; ++i) EXPECT_EQ(Next(a, pool->id), "172.17.0." + std::to_string(i));
  ASSERT_TRUE(a.ReleaseAddress(pool->id, "172.17.0.5").ok());
  ASSERT_TRUE(a.ReleaseAddress(pool->id, "172.17.0.3").ok());
  EXPECT_EQ(Next(a, pool->id), "172.17.0.3");
  EXPECT_EQ(Next(a, pool->id), "172.17.0.5");
  EXPECT_EQ(Next(a, pool->id), "172.17.0.7");
  // Release is idempotent; reserved and foreign addresses are refused.
  EXPECT_TRUE(a.ReleaseAddress(pool->id, "172.17.0.100").ok());
  EXPECT_EQ(a.ReleaseAddress(pool->id, "172.17.0.1").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.ReleaseAddress(pool->id, "172.17.255.255").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.ReleaseAddress(pool->id, "10.0.0.1").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.ReleaseAddress(pool->id, "x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.ReleaseAddress("default/1.2.3.0/24", "1.2.3.4").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a.RequestAddress("default/1.2.3.0/24").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a.ReleasePool("default/1.2.3.0/24").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*a.Allocated(pool->id),
            (std::vector<std::string>{"172.17.0.2", "172.17.0.3", "172.17.0.4", "172.17.0.5", "172.17.0.6",
                                      "172.17.0.7"}));
}

TEST(IpamTest, NoDoubleHandoutUntilExhausted) {
  Allocator a;
  auto pool = a.RequestPool(Subnet("10.30.0.0/24"));
  ASSERT_TRUE(pool.ok());
  std::set<std::string> seen;
  for (;;) {
    auto ip = a.RequestAddress(pool->id);
    if (!ip.ok()) {
      EXPECT_EQ(ip.status().code(), absl::StatusCode::kResourceExhausted);
      break;
    }
    EXPECT_TRUE(seen.insert(*ip).second) << *ip;
  }
  EXPECT_EQ(seen.size(), 253u);  // 256 - network - broadcast - gateway
  EXPECT_FALSE(seen.count("10.30.0.0"));
  EXPECT_FALSE(seen.count("10.30.0.1"));
  EXPECT_FALSE(seen.count("10.30.0.255"));
}

TEST(IpamTest, ConcurrentRequestsNeverShareAnAddress) {
  Allocator a;
  auto pool = a.RequestPool(Subnet("10.31.0.0/20"));
  ASSERT_TRUE(pool.ok());
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& out : per_thread) {
    threads.emplace_back([&a, &out, id = pool->id] {
      for (int i = 0; i < 1000; ++i) out.push_back(*a.RequestAddress(id));
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& v : per_thread) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 4000u);
  EXPECT_EQ(a.Allocated(pool->id)->size(), 4000u);
}

TEST(IpamTest, SmallSubnets) {
  Allocator a;
  auto p31 = a.RequestPool(Subnet("10.40.0.0/31"));  // RFC 3021: both addresses are hosts
  ASSERT_TRUE(p31.ok());
  EXPECT_EQ(p31->gateway, "10.40.0.0");
  EXPECT_EQ(Next(a, p31->id), "10.40.0.1");
  EXPECT_EQ(a.RequestAddress(p31->id).status().code(), absl::StatusCode::kResourceExhausted);
  auto p30 = a.RequestPool(Subnet("10.40.0.4/30"));
  ASSERT_TRUE(p30.ok());
  EXPECT_EQ(p30->gateway, "10.40.0.5");
  EXPECT_EQ(Next(a, p30->id), "10.40.0.6");
  EXPECT_EQ(a.RequestAddress(p30->id).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(IpamTest, ReleasePoolFreesTheSpace) {
  Allocator a;
  auto tb = a.RequestPool(Subnet("10.15.20.0/24"));
  ASSERT_TRUE(tb.ok());
  Next(a, tb->id);
  EXPECT_EQ(a.RequestPool(Subnet("10.15.20.0/25")).status().code(), absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(a.ReleasePool(tb->id).ok());
  EXPECT_EQ(a.GetPool(tb->id).status().code(), absl::StatusCode::kNotFound);
  auto half = a.RequestPool(Subnet("10.15.20.0/25"));
  ASSERT_TRUE(half.ok()) << half.status();
  EXPECT_EQ(Next(a, half->id), "10.15.20.2");  // nothing left over from the old pool
}

TEST(IpamTest, SixtyFiveThousandAddressesInASlash16) {
  Allocator a;
  auto pool = a.RequestPool(Subnet("10.50.0.0/16"));
  ASSERT_TRUE(pool.ok());
  const uint32_t base = *ParseIp("10.50.0.0");
  auto start = std::chrono::steady_clock::now();
  for (uint32_t i = 0; i < 65000; ++i) {
    auto ip = a.RequestAddress(pool->id);
    ASSERT_TRUE(ip.ok()) << i << ": " << ip.status();
    ASSERT_EQ(*ip, FormatIp(base + 2 + i));  // .0.0 is the network, .0.1 the gateway
  }
  // Lowest-first reuse deep in a nearly full pool.
  ASSERT_TRUE(a.ReleaseAddress(pool->id, "10.50.200.7").ok());
  ASSERT_TRUE(a.ReleaseAddress(pool->id, "10.50.3.3").ok());
  EXPECT_EQ(Next(a, pool->id), "10.50.3.3");
  EXPECT_EQ(Next(a, pool->id), "10.50.200.7");
  // 65533 usable: 533 left after the 65000, then exhausted.
  for (int i = 0; i < 533; ++i) ASSERT_TRUE(a.RequestAddress(pool->id).ok()) << i;
  EXPECT_EQ(a.RequestAddress(pool->id).status().code(), absl::StatusCode::kResourceExhausted);
  auto allocated = a.Allocated(pool->id);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("65533 allocations + listing them of a full /16: %.1f ms\n", ms);
  ASSERT_TRUE(allocated.ok());
  EXPECT_EQ(allocated->size(), 65533u);
  EXPECT_LT(ms, 1000.0);
}

// ---- IPv6 pools ----

PoolRequest Subnet6(std::string subnet) {
  PoolRequest r = Subnet(std::move(subnet));
  r.ipv6 = true;
  return r;
}

TEST(IpamV6Test, GatewayIsOneAndContainersCountUp) {
  Allocator a;
  auto pool = a.RequestPool(Subnet6("fd00:30::/64"));
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(pool->id, "default/fd00:30::/64");
  EXPECT_EQ(pool->subnet, "fd00:30::/64");
  EXPECT_EQ(pool->gateway, "fd00:30::1");
  EXPECT_TRUE(pool->ipv6);
  EXPECT_EQ(Next(a, pool->id), "fd00:30::2");
  EXPECT_EQ(Next(a, pool->id), "fd00:30::3");
  // The subnet-router anycast address (::0) and the gateway are never handed out.
  ExpectError(a.RequestAddress(pool->id, "fd00:30::").status(), absl::StatusCode::kAlreadyExists,
              "Address already in use");
  ExpectError(a.RequestAddress(pool->id, "fd00:30::1").status(), absl::StatusCode::kAlreadyExists,
              "Address already in use");
  ASSERT_TRUE(a.ReleaseAddress(pool->id, "fd00:30::2").ok());
  EXPECT_EQ(Next(a, pool->id), "fd00:30::2");
  EXPECT_EQ(*a.Allocated(pool->id), (std::vector<std::string>{"fd00:30::2", "fd00:30::3"}));
}

TEST(IpamV6Test, HostBitsAreClearedAndTheFormIsCanonical) {
  Allocator a;
  auto pool = a.RequestPool(Subnet6("FD00:0030:0000::0005/64"));
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(pool->subnet, "fd00:30::/64");
  EXPECT_EQ(Next(a, pool->id, "fd00:30:0::00ab"), "fd00:30::ab");
}

TEST(IpamV6Test, StaticAddressFarOutsideTheBitmapWindow) {
  Allocator a;
  auto pool = a.RequestPool(Subnet6("fd00:31::/64"));
  ASSERT_TRUE(pool.ok());
  // 2^32 and more past the start of the /64: kept outside the bitmap, still exclusive.
  EXPECT_EQ(Next(a, pool->id, "fd00:31::ffff:1:2:3"), "fd00:31::ffff:1:2:3");
  ExpectError(a.RequestAddress(pool->id, "fd00:31::ffff:1:2:3").status(), absl::StatusCode::kAlreadyExists,
              "Address already in use");
  EXPECT_EQ(Next(a, pool->id), "fd00:31::2");
  ASSERT_TRUE(a.ReleaseAddress(pool->id, "fd00:31::ffff:1:2:3").ok());
  EXPECT_EQ(Next(a, pool->id, "fd00:31::ffff:1:2:3"), "fd00:31::ffff:1:2:3");
}

TEST(IpamV6Test, GatewayRangeAndAux) {
  Allocator a;
  PoolRequest r = Subnet6("fd00:32::/64");
  r.gateway = "fd00:32::fe";
  r.ip_range = "fd00:32::1:0/112";
  r.aux = {{"router", "fd00:32::1:0"}};
  auto pool = a.RequestPool(r);
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(pool->gateway, "fd00:32::fe");
  EXPECT_EQ(pool->ip_range, "fd00:32::1:0/112");
  EXPECT_EQ(pool->aux.at("router"), "fd00:32::1:0");
  // Lowest free of the range; the aux address at its start is taken.
  EXPECT_EQ(Next(a, pool->id), "fd00:32::1:1");
  // A static address may lie outside the range but inside the subnet.
  EXPECT_EQ(Next(a, pool->id, "fd00:32::9"), "fd00:32::9");
}

TEST(IpamV6Test, ErrorsUseDockersTexts) {
  Allocator a;
  PoolRequest none;
  none.ipv6 = true;
  ExpectError(a.RequestPool(none).status(), absl::StatusCode::kResourceExhausted,
              "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to "
              "the network");
  ExpectError(a.RequestPool(Subnet6("fd00::/129")).status(), absl::StatusCode::kInvalidArgument,
              "invalid CIDR address: fd00::/129");
  ExpectError(a.RequestPool(Subnet6("fd00::g/64")).status(), absl::StatusCode::kInvalidArgument,
              "invalid CIDR address: fd00::g/64");
  PoolRequest gw = Subnet6("fd00:33::/64");
  gw.gateway = "fd00:34::1";
  ExpectError(a.RequestPool(gw).status(), absl::StatusCode::kInvalidArgument,
              "no matching subnet for gateway fd00:34::1");
  gw.gateway = "10.0.0.1";  // the wrong family is not in the subnet either
  ExpectError(a.RequestPool(gw).status(), absl::StatusCode::kInvalidArgument,
              "no matching subnet for gateway 10.0.0.1");
  ASSERT_TRUE(a.RequestPool(Subnet6("fd00:33::/64")).ok());
  ExpectError(a.RequestPool(Subnet6("fd00:33::/48")).status(), absl::StatusCode::kPermissionDenied,
              "Pool overlaps with other one on this address space");
  // IPv4 and IPv6 pools never overlap each other.
  ASSERT_TRUE(a.RequestPool(Subnet("10.33.0.0/16")).ok());
  ExpectError(a.RequestAddress("default/fd00:33::/64", "10.33.0.5").status(), absl::StatusCode::kInvalidArgument,
              "Invalid address 10.33.0.5: It does not belong to any of this network's subnets");
  ExpectError(a.RequestAddress("default/fd00:33::/64", "fd00:35::5").status(), absl::StatusCode::kInvalidArgument,
              "Invalid address fd00:35::5: It does not belong to any of this network's subnets");
}

TEST(IpamV6Test, SubnetContainsEitherFamily) {
  EXPECT_TRUE(SubnetContains("fd00:30::/64", "fd00:30::ffff:1"));
  EXPECT_FALSE(SubnetContains("fd00:30::/64", "fd00:31::1"));
  EXPECT_TRUE(SubnetContains("10.0.0.0/8", "10.255.0.1"));
  EXPECT_FALSE(SubnetContains("10.0.0.0/8", "fd00::1"));    // families differ
  EXPECT_FALSE(SubnetContains("", "fd00::1"));              // a network without IPv6
  EXPECT_FALSE(SubnetContains("fd00:30::/64", "fd00::g"));  // malformed
}

TEST(IpamV6Test, ExhaustionOfASmallPool) {
  Allocator a;
  auto pool = a.RequestPool(Subnet6("fd00:36::/125"));  // 8 addresses: ::0 reserved, ::1 the gateway
  ASSERT_TRUE(pool.ok());
  for (int i = 2; i < 8; ++i) EXPECT_EQ(Next(a, pool->id), "fd00:36::" + std::to_string(i));
  ExpectError(a.RequestAddress(pool->id, "", "n6", "abc").status(), absl::StatusCode::kResourceExhausted,
              "no available IPv6 addresses on this network's address pools: n6 (abc)");
}

}  // namespace
}  // namespace berth::network::ipam
