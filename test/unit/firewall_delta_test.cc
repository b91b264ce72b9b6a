// RenderPortDelta: when a change may be sent as element changes, and that the elements it writes
// are Render's own text (the privileged tests check the kernel's side: a table built by deltas
// lists exactly as one built whole).

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "network/firewall/firewall.h"

namespace berth::network::firewall {
namespace {

Model Base() {
  Model m;
  m.bridges.push_back({"berth0", "172.17.0.0/16", "172.17.0.1"});
  Bridge b{"br-0123456789ab", "172.18.0.0/16", "172.18.0.1"};
  b.icc = false;
  m.bridges.push_back(b);
  Bridge i{"br-internal0001", "172.19.0.0/16", "172.19.0.1"};
  i.internal = true;
  m.bridges.push_back(i);
  m.ports.push_back({"tcp", "", 8080, "172.17.0.2", 80, "berth0"});
  m.ports.push_back({"tcp", "127.0.0.1", 8081, "172.17.0.3", 80, "berth0"});
  m.ports.push_back({"udp", "0.0.0.0", 5353, "172.18.0.2", 53, "br-0123456789ab"});
  return m;
}

// The element texts of a delta's statements: "add:<element>" and "delete:<key>".
std::vector<std::string> Statements(const std::string& delta) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(delta, '\n', absl::SkipEmpty())) {
    std::string l(line);
    std::string verb = l.rfind("add element", 0) == 0 ? "add:" : "delete:";
    auto open = l.find("{ "), close = l.rfind(" }");
    for (absl::string_view el : absl::StrSplit(l.substr(open + 2, close - open - 2), ", "))
      out.push_back(verb + std::string(el));
  }
  return out;
}

// Is el one of the elements listed in a table Render wrote (one a line, comma-separated)?
bool Lists(const std::string& table, const std::string& el) {
  return table.find("\t\t\t" + el + ",\n") != std::string::npos ||
         table.find("\t\t\t" + el + "\n") != std::string::npos;
}

TEST(FirewallDelta, NothingChangedIsAnEmptyDelta) {
  Model a = Base(), b = Base();
  std::swap(b.ports[0], b.ports[2]);  // order does not matter
  std::swap(b.bridges[0], b.bridges[1]);
  b.ports[2].host_ip = "";  // "" and 0.0.0.0 are both every address
  auto d = RenderPortDelta(a, b);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, "");
}

TEST(FirewallDelta, BridgeChangesNeedTheWholeTable) {
  Model a = Base();
  Model more = a;
  more.bridges.push_back({"br-new", "172.20.0.0/16", "172.20.0.1"});
  EXPECT_FALSE(RenderPortDelta(a, more).has_value());
  Model icc = a;
  icc.bridges[1].icc = true;
  EXPECT_FALSE(RenderPortDelta(a, icc).has_value());
  Model internal = a;
  internal.bridges[0].internal = true;
  EXPECT_FALSE(RenderPortDelta(a, internal).has_value());
}

TEST(FirewallDelta, APortComingAndGoing) {
  Model a = Base(), b = Base();
  b.ports.push_back({"tcp", "192.0.2.1", 8443, "172.18.0.3", 443, "br-0123456789ab"});
  b.ports.erase(b.ports.begin());  // 8080 gone
  auto d = RenderPortDelta(a, b);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(
      *d,
      "delete element inet berth published_any { tcp . 8080 }\n"
      "add element inet berth published_addr { 192.0.2.1 . tcp . 8443 : 172.18.0.3 . 443 }\n");
}

TEST(FirewallDelta, ANewTargetIsDeletedAndAddedInOneTransaction) {
  Model a = Base(), b = Base();
  b.ports[1].container_ip = "172.17.0.9";
  auto d = RenderPortDelta(a, b);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d,
            "delete element inet berth published_addr { 127.0.0.1 . tcp . 8081 }\n"
            "add element inet berth published_addr { 127.0.0.1 . tcp . 8081 : 172.17.0.9 . 80 }\n");
}

TEST(FirewallDelta, PortsOnAnInternalBridgeAreNotElements) {
  Model a = Base(), b = Base();
  b.ports.push_back({"tcp", "", 9000, "172.19.0.2", 80, "br-internal0001"});
  auto d = RenderPortDelta(a, b);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, "");
}

// Every element added is written exactly as Render writes it in the table of the new model, and
// every key deleted starts an element of the old one: the two renderers cannot drift apart
// unnoticed.
TEST(FirewallDelta, ElementsAreRendersOwnText) {
  Model a = Base();
  for (int i = 0; i < 20; ++i)
    a.ports.push_back({i % 2 ? "udp" : "tcp", i % 3 ? "" : "10.0.0." + std::to_string(i + 1),
                       10000 + i, "172.18.0." + std::to_string(10 + i), 80 + i, "br-0123456789ab"});
  Model b = a;
  b.ports.erase(b.ports.begin() + 5, b.ports.begin() + 12);
  for (int i = 0; i < 10; ++i)
    b.ports.push_back({i % 2 ? "tcp" : "udp", i % 4 ? "" : "127.0.0.1", 20000 + i,
                       "172.17.0." + std::to_string(20 + i), 8000 + i, "berth0"});
  b.ports[3].container_port = 1234;
  ASSERT_TRUE(Validate(a).ok());
  ASSERT_TRUE(Validate(b).ok());
  auto d = RenderPortDelta(a, b);
  ASSERT_TRUE(d.has_value());
  std::string from = Render(a), to = Render(b);
  int adds = 0, deletes = 0;
  for (const std::string& s : Statements(*d)) {
    if (s.rfind("add:", 0) == 0) {
      ++adds;
      std::string el = s.substr(4);
      EXPECT_TRUE(Lists(to, el)) << el;
      EXPECT_FALSE(Lists(from, el)) << el << " was there already";
    } else {
      ++deletes;
      std::string key = s.substr(7);
      EXPECT_NE(from.find("\t\t\t" + key + " : "), std::string::npos) << key;
    }
  }
  EXPECT_EQ(adds, 11);    // 10 new, 1 new target
  EXPECT_EQ(deletes, 8);  // 7 gone, 1 old target
}

// The same for the IPv6 maps: a dual-stack bridge's ports come and go as elements of
// published_any6 and published_addr6 beside their IPv4 ones, in Render's spelling (canonical).
TEST(FirewallDelta, Ipv6ElementsAreRendersOwnText) {
  Model a = Base();
  a.bridges[1].subnet6 = "fd00:18::/64";
  PortMapping both{"tcp", "", 8443, "172.18.0.5", 443, "br-0123456789ab", "fd00:18::5"};
  a.ports.push_back(both);
  Model b = a;
  b.ports.pop_back();
  b.ports.push_back({"tcp", "", 8444, "172.18.0.6", 443, "br-0123456789ab", "FD00:18:0::6"});
  b.ports.push_back({"udp", "fd00:99::1", 53, "172.18.0.7", 53, "br-0123456789ab", "fd00:18::7"});
  b.ports.push_back({"tcp", "::", 8445, "172.18.0.8", 80, "br-0123456789ab", "fd00:18::8"});
  ASSERT_TRUE(Validate(a).ok()) << Validate(a);
  ASSERT_TRUE(Validate(b).ok()) << Validate(b);
  auto d = RenderPortDelta(a, b);
  ASSERT_TRUE(d.has_value());
  std::string from = Render(a), to = Render(b);
  std::vector<std::string> adds, deletes;
  for (const std::string& s : Statements(*d)) (s.rfind("add:", 0) == 0 ? adds : deletes).push_back(s);
  for (const std::string& s : adds) EXPECT_TRUE(Lists(to, s.substr(4))) << s;
  for (const std::string& s : deletes)
    EXPECT_NE(from.find("\t\t\t" + s.substr(7) + " : "), std::string::npos) << s;
  EXPECT_NE(d->find("add element inet berth published_any6 { tcp . 8444 : fd00:18::6 . 443, tcp . 8445 : "
                    "fd00:18::8 . 80 }"),
            std::string::npos)
      << *d;
  EXPECT_NE(d->find("add element inet berth published_addr6 { fd00:99::1 . udp . 53 : fd00:18::7 . 53 }"),
            std::string::npos)
      << *d;
  EXPECT_NE(d->find("delete element inet berth published_any6 { tcp . 8443 }"), std::string::npos) << *d;
  // "::" and an IPv6 host address publish on IPv6 only: no IPv4 element for 8445 or 53/udp.
  EXPECT_EQ(d->find("udp . 53 : 172.18.0.7"), std::string::npos);
  EXPECT_EQ(to.find("8445 : 172.18.0.8"), std::string::npos);
  EXPECT_EQ(adds.size(), 4u);  // 8444 on both families, 53/udp and 8445 on IPv6
  EXPECT_EQ(deletes.size(), 2u);
  // A bridge gaining IPv6 changes the rules' sets: the whole table.
  Model c = Base();
  EXPECT_FALSE(RenderPortDelta(c, a).has_value());
}

}  // namespace
}  // namespace berth::network::firewall
