// RenderDelta (network/mesh/mesh.h): a task coming or going is element changes only, written
// exactly as Render writes the same elements; anything else is the whole table. The privileged
// test (mesh_test.cc) checks that the kernel lists a table built by deltas as the one Render builds.

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "network/mesh/mesh.h"

namespace berth::network::mesh {
namespace {

Model Node() {
  Model m;
  Service web;
  web.id = "web1";
  web.name = "web";
  web.vip = "10.0.0.5";
  web.ports = {{"tcp", 8080, 80, "ingress"}};
  web.backends = {{"10.0.0.7", true}, {"10.0.0.8", true}, {"10.0.0.9", false}};
  Service api;
  api.id = "api1";
  api.name = "api";
  api.ports = {{"tcp", 9000, 9000, "ingress"}};
  api.backends = {{"10.0.0.20", false}};
  m.services = {web, api};
  m.ingress = Ingress{"10.0.0.2", {}};
  return m;
}

std::string Delta(const Model& from, const Model& to) {
  std::optional<std::string> d = RenderDelta(from, to);
  EXPECT_TRUE(d.has_value());
  return d.value_or("<whole table>");
}

TEST(MeshDelta, NothingChanged) { EXPECT_EQ(Delta(Node(), Node()), ""); }

TEST(MeshDelta, ALocalTaskLeaves) {
  Model to = Node();
  to.services[0].backends.erase(to.services[0].backends.begin() + 1);  // 10.0.0.8
  EXPECT_EQ(Delta(Node(), to),
            "flush map ip berth-mesh be_web1\n"
            "add element ip berth-mesh be_web1 { 0 : 10.0.0.7, 1 : 10.0.0.9 }\n"
            "flush chain ip berth-mesh vip_web1\n"
            "add rule ip berth-mesh vip_web1 meta l4proto { tcp, udp } dnat ip to numgen random mod 2 map @be_web1\n"
            "add rule ip berth-mesh vip_web1 meta l4proto tcp reject with tcp reset\n"
            "add rule ip berth-mesh vip_web1 meta l4proto udp reject\n"
            "flush chain ip berth-mesh ing_web1_tcp_8080\n"
            "add rule ip berth-mesh ing_web1_tcp_8080 meta l4proto tcp dnat ip to numgen random mod 2 map @be_web1 : 80\n"
            "add rule ip berth-mesh ing_web1_tcp_8080 meta l4proto tcp reject with tcp reset\n"
            "delete element ip berth-mesh backends { 10.0.0.8 }\n");
}

TEST(MeshDelta, ARemoteTaskComes) {
  Model to = Node();
  to.services[1].backends.push_back({"10.0.0.19", false});
  EXPECT_EQ(Delta(Node(), to),
            "flush map ip berth-mesh be_api1\n"
            "add element ip berth-mesh be_api1 { 0 : 10.0.0.19, 1 : 10.0.0.20 }\n"
            "flush chain ip berth-mesh ing_api1_tcp_9000\n"
            "add rule ip berth-mesh ing_api1_tcp_9000 meta l4proto tcp dnat ip to numgen random mod 2 map @be_api1 : 9000\n"
            "add rule ip berth-mesh ing_api1_tcp_9000 meta l4proto tcp reject with tcp reset\n"
            "add element ip berth-mesh backends { 10.0.0.19 }\n"
            "add element ip berth-mesh remote_backends { 10.0.0.19 }\n");
}

TEST(MeshDelta, TheLastTaskLeavesAndComesBack) {
  Model empty = Node();
  empty.services[1].backends.clear();
  EXPECT_EQ(Delta(Node(), empty),
            "flush map ip berth-mesh be_api1\n"
            "flush chain ip berth-mesh ing_api1_tcp_9000\n"
            "add rule ip berth-mesh ing_api1_tcp_9000 meta l4proto tcp reject with tcp reset\n"
            "delete element ip berth-mesh backends { 10.0.0.20 }\n"
            "delete element ip berth-mesh remote_backends { 10.0.0.20 }\n");
  EXPECT_EQ(Delta(empty, Node()),
            "flush map ip berth-mesh be_api1\n"
            "add element ip berth-mesh be_api1 { 0 : 10.0.0.20 }\n"
            "flush chain ip berth-mesh ing_api1_tcp_9000\n"
            "add rule ip berth-mesh ing_api1_tcp_9000 meta l4proto tcp dnat ip to numgen random mod 1 map @be_api1 : 9000\n"
            "add rule ip berth-mesh ing_api1_tcp_9000 meta l4proto tcp reject with tcp reset\n"
            "add element ip berth-mesh backends { 10.0.0.20 }\n"
            "add element ip berth-mesh remote_backends { 10.0.0.20 }\n");
}

// A task rescheduled (one leaves, another comes, the count stays): elements only, the rules stay.
TEST(MeshDelta, ATaskReplacedByAnotherIsElementsOnly) {
  Model to = Node();
  to.services[0].backends[1] = {"10.0.0.30", false};
  EXPECT_EQ(Delta(Node(), to),
            "flush map ip berth-mesh be_web1\n"
            "add element ip berth-mesh be_web1 { 0 : 10.0.0.7, 1 : 10.0.0.9, 2 : 10.0.0.30 }\n"
            "delete element ip berth-mesh backends { 10.0.0.8 }\n"
            "add element ip berth-mesh backends { 10.0.0.30 }\n"
            "add element ip berth-mesh remote_backends { 10.0.0.30 }\n");
}

TEST(MeshDelta, AnAddressThatMovesFromRemoteToLocal) {
  Model to = Node();
  to.services[0].backends[2].local = true;  // 10.0.0.9: the same address, now on this node
  EXPECT_EQ(Delta(Node(), to), "delete element ip berth-mesh remote_backends { 10.0.0.9 }\n");
}

TEST(MeshDelta, OrderAndSpellingDoNotMakeAChange) {
  Model to = Node();
  std::swap(to.services[0], to.services[1]);
  std::swap(to.services[1].backends[0], to.services[1].backends[2]);
  EXPECT_EQ(Delta(Node(), to), "");
}

// Every element and rule a delta writes is the very text Render writes for the same model.
TEST(MeshDelta, ElementsAndRulesAreRendersOwn) {
  Model to = Node();
  to.services[0].backends.push_back({"10.0.0.100", true});
  to.services[0].backends.push_back({"10.0.0.11", false});
  std::string d = Delta(Node(), to), whole = Render(to);
  size_t at = d.find("be_web1 { ");
  ASSERT_NE(at, std::string::npos) << d;
  std::string elements = d.substr(at + 10, d.find(" }\n", at) - at - 10);
  EXPECT_NE(whole.find("elements = { " + elements + " }\n"), std::string::npos) << elements << "\n" << whole;
  int rules = 0;
  for (size_t pos = 0; (pos = d.find("add rule ip berth-mesh ", pos)) != std::string::npos; ++rules) {
    pos += 23;
    size_t sp = d.find(' ', pos), nl = d.find('\n', pos);
    std::string chain = d.substr(pos, sp - pos), rule = d.substr(sp + 1, nl - sp - 1);
    size_t in = whole.find("\tchain " + chain + " {\n");
    ASSERT_NE(in, std::string::npos) << chain;
    EXPECT_LT(whole.find("\t\t" + rule + "\n", in), whole.find("\t}\n", in)) << chain << ": " << rule;
  }
  EXPECT_EQ(rules, 5);
}

TEST(MeshDelta, AContainerNamespaceHasNoSets) {
  Model from = Node(), to = Node();
  from.ingress.reset();
  to.ingress.reset();
  to.services[0].backends.pop_back();
  EXPECT_EQ(Delta(from, to),
            "flush map ip berth-mesh be_web1\n"
            "add element ip berth-mesh be_web1 { 0 : 10.0.0.7, 1 : 10.0.0.8 }\n"
            "flush chain ip berth-mesh vip_web1\n"
            "add rule ip berth-mesh vip_web1 meta l4proto { tcp, udp } dnat ip to numgen random mod 2 map @be_web1\n"
            "add rule ip berth-mesh vip_web1 meta l4proto tcp reject with tcp reset\n"
            "add rule ip berth-mesh vip_web1 meta l4proto udp reject\n");
  // Without ingress, api (no VIP) is not rendered at all: its tasks change nothing.
  to.services[1].backends.clear();
  from.services[0].backends.pop_back();
  EXPECT_EQ(Delta(from, to), "");
}

TEST(MeshDelta, AnythingButBackendsIsTheWholeTable) {
  auto whole = [](auto change) {
    Model to = Node();
    change(to);
    EXPECT_TRUE(Validate(to).ok()) << Validate(to);
    return !RenderDelta(Node(), to).has_value();
  };
  EXPECT_TRUE(whole([](Model& m) { m.services.pop_back(); }));
  EXPECT_TRUE(whole([](Model& m) {
    Service s;
    s.id = "new1";
    s.vip = "10.0.0.30";
    m.services.push_back(s);
  }));
  EXPECT_TRUE(whole([](Model& m) { m.services[0].vip = "10.0.0.6"; }));
  EXPECT_TRUE(whole([](Model& m) { m.services[1].vip = "10.0.0.6"; }));
  EXPECT_TRUE(whole([](Model& m) { m.services[0].ports[0].target = 81; }));
  EXPECT_TRUE(whole([](Model& m) { m.services[0].ports.push_back({"udp", 8080, 80, "ingress"}); }));
  EXPECT_TRUE(whole([](Model& m) { m.ingress->snat_address = "10.0.0.3"; }));
  EXPECT_TRUE(whole([](Model& m) { m.ingress->hairpin_subnets = {"172.18.0.0/16"}; }));
  EXPECT_TRUE(whole([](Model& m) { m.ingress.reset(); }));
  // A host-mode port is not rendered: adding one changes nothing here.
  Model host = Node();
  host.services[0].ports.push_back({"tcp", 7000, 7000, "host"});
  EXPECT_EQ(Delta(Node(), host), "");
}

}  // namespace
}  // namespace berth::network::mesh
