// Golden-file tests of the mesh table's rendered nft script (network/mesh/mesh.h), and the checks
// Validate makes. As root with nft installed, every golden script is also dry-run by the kernel
// (`nft -c`: the transaction is checked and aborted, nothing changes); without, that part is
// skipped with a note.
//
// Regenerate the golden files after an intended change with BERTH_UPDATE_GOLDEN=1 and review the diff.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "network/mesh/mesh.h"
#include "network/mesh/plan.h"
#include "sys/subprocess.h"

namespace berth::network::mesh {
namespace {

std::string TestdataDir() { return std::string(BERTH_SOURCE_DIR) + "/test/unit/testdata/mesh/"; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool NftCheckable() { return ::geteuid() == 0 && ::access("/usr/sbin/nft", X_OK) == 0; }

void ExpectKernelAccepts(const std::string& script, const std::string& name) {
  if (!NftCheckable()) {
    std::printf("[ skipped nft -c of %s: needs root and /usr/sbin/nft ]\n", name.c_str());
    return;
  }
  auto r = sys::Run({"/usr/sbin/nft", "-c", "-f", "-"}, script);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << "nft -c rejected " << name << ":\n" << r->err;
}

void ExpectGolden(const Model& m, const std::string& name) {
  ASSERT_TRUE(Validate(m).ok()) << Validate(m);
  std::string got = Render(m);
  std::string path = TestdataDir() + name + ".nft";
  if (std::getenv("BERTH_UPDATE_GOLDEN")) std::ofstream(path) << got;
  EXPECT_EQ(ReadFile(path), got) << "golden " << path << " differs; BERTH_UPDATE_GOLDEN=1 rewrites it";
  ExpectKernelAccepts(got, name);
}

Service Web() {
  Service s;
  s.id = "wjkr1d6qbqaasu2k6wd4jygt1";
  s.name = "web";
  s.vip = "10.0.0.5";
  s.ports = {{"tcp", 8080, 80, "ingress"}};
  s.backends = {{"10.0.0.7", true}, {"10.0.0.9", false}, {"10.0.0.10", true}};
  return s;
}

Service Dns() {
  Service s;
  s.id = "l9v994otr3wypmh2ewldc0p7y";
  s.name = "dns";
  s.ports = {{"udp", 5353, 53, "ingress"}, {"tcp", 5353, 53, "ingress"}, {"tcp", 7000, 7000, "host"}};
  s.backends = {{"10.0.0.12", false}};
  return s;
}

Service Idle() {  // scaled to zero: connections are refused
  Service s;
  s.id = "q93ipkwudti2wy4r4m0qdyuph";
  s.name = "idle";
  s.vip = "10.0.0.14";
  s.ports = {{"tcp", 9090, 80, "ingress"}};
  return s;
}

Model NodeModel() {
  Model m;
  m.services = {Web(), Dns(), Idle()};
  m.ingress = Ingress{"10.0.0.2", {"172.18.0.0/16", "10.0.0.0/24"}};
  return m;
}

Model ContainerModel() {
  Model m;
  Service a = Web();
  a.vip = "10.0.1.5";
  a.backends = {{"10.0.1.7"}, {"10.0.1.8"}};
  Service b = Idle();
  b.vip = "10.0.1.9";
  Service rr = Dns();  // dnsrr, no VIP: nothing of it is rendered without ingress
  m.services = {a, b, rr};
  return m;
}

TEST(MeshRender, Empty) { ExpectGolden(Model{}, "empty"); }

TEST(MeshRender, ContainerNamespaceHasVipsOnly) {
  ExpectGolden(ContainerModel(), "container");
  std::string s = Render(ContainerModel());
  EXPECT_EQ(s.find("ingress_ports"), std::string::npos);
  EXPECT_EQ(s.find("postrouting"), std::string::npos);
  EXPECT_EQ(s.find(Dns().id), std::string::npos);
}

TEST(MeshRender, NodeNamespaceWithIngress) {
  ExpectGolden(NodeModel(), "node");
  std::string s = Render(NodeModel());
  EXPECT_EQ(s.find("7000"), std::string::npos) << "a host-mode port is not the mesh's";
  EXPECT_NE(s.find("snat ip to 10.0.0.2\n"), std::string::npos);
}

TEST(MeshRender, IngressWithoutServices) {
  Model m;
  m.ingress = Ingress{"10.0.0.2", {}};
  ExpectGolden(m, "ingress_empty");
}

TEST(MeshRender, OrderOfTheModelDoesNotMatter) {
  Model m = NodeModel();
  std::reverse(m.services.begin(), m.services.end());
  for (Service& s : m.services) {
    std::reverse(s.ports.begin(), s.ports.end());
    std::reverse(s.backends.begin(), s.backends.end());
  }
  std::reverse(m.ingress->hairpin_subnets.begin(), m.ingress->hairpin_subnets.end());
  EXPECT_EQ(Render(m), Render(NodeModel()));
}

TEST(MeshRender, NestedHairpinSubnetsAreMerged) {
  Model m;
  m.ingress = Ingress{"10.0.0.2", {"10.0.0.0/24", "10.0.0.0/8", "10.1.2.0/24", "192.168.1.7/16"}};
  std::string s = Render(m);
  EXPECT_NE(s.find("elements = { 10.0.0.0/8, 192.168.0.0/16 }"), std::string::npos) << s;
  ExpectKernelAccepts(s, "nested hairpin subnets");
}

TEST(MeshRender, BackendsAreNumberedForNumgen) {
  EXPECT_EQ(internal::BackendElements({}), "");
  EXPECT_EQ(internal::BackendElements({0x0a000007}), "0 : 10.0.0.7");
  EXPECT_EQ(internal::BackendElements({0x0a000007, 0x0a000009, 0x0a00000a}),
            "0 : 10.0.0.7, 1 : 10.0.0.9, 2 : 10.0.0.10");
  EXPECT_EQ(internal::AddressElements({0x0a000007, 0xac120001}), "10.0.0.7, 172.18.0.1");
  std::string s = Render(NodeModel());
  EXPECT_NE(s.find("dnat ip to numgen random mod 3 map @be_wjkr1d6qbqaasu2k6wd4jygt1 : 80\n"), std::string::npos) << s;
  EXPECT_NE(s.find("dnat ip to numgen random mod 3 map @be_wjkr1d6qbqaasu2k6wd4jygt1\n"), std::string::npos) << s;
}

// Without backends there is nothing to draw from: no DNAT rule, only the refusals.
TEST(MeshRender, NoBackendsOnlyRefuses) {
  std::string s = Render(NodeModel());
  std::string idle = "chain ing_q93ipkwudti2wy4r4m0qdyuph_tcp_9090 {\n\t\tmeta l4proto tcp reject with tcp reset\n\t}\n";
  EXPECT_NE(s.find(idle), std::string::npos) << s;
  EXPECT_EQ(s.find("mod 0"), std::string::npos);
}

TEST(MeshRender, BackendsAreSortedNumerically) {
  std::string s = Render(NodeModel());
  EXPECT_NE(s.find("0 : 10.0.0.7, 1 : 10.0.0.9, 2 : 10.0.0.10"), std::string::npos) << s;
  EXPECT_NE(s.find("elements = { 10.0.0.7, 10.0.0.9, 10.0.0.10, 10.0.0.12 }"), std::string::npos) << s;
  EXPECT_NE(s.find("elements = { 10.0.0.9, 10.0.0.12 }"), std::string::npos) << s;  // remote
}

TEST(MeshRender, DeleteScript) {
  EXPECT_EQ(RenderDelete(),
            "# Creating the table first makes the delete succeed when it does not exist.\n"
            "table ip berth-mesh {}\ndelete table ip berth-mesh\n");
  ExpectKernelAccepts(RenderDelete(), "delete");
}

// ---- Validate ----------------------------------------------------------------------------------

void ExpectInvalid(const Model& m, const std::string& message) {
  Status st = Validate(m);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_EQ(std::string(st.message()), message);
}

TEST(MeshValidate, AcceptsTheTestModels) {
  EXPECT_TRUE(Validate(Model{}).ok());
  EXPECT_TRUE(Validate(NodeModel()).ok()) << Validate(NodeModel());
  EXPECT_TRUE(Validate(ContainerModel()).ok()) << Validate(ContainerModel());
}

TEST(MeshValidate, PortConflictsInSwarmkitsWords) {
  Model m = NodeModel();
  Service other = Idle();
  other.id = "abcdefghijklmnopqrstuvwxy";
  other.name = "other";
  other.vip = "";
  other.ports = {{"tcp", 8080, 8000, "ingress"}};
  m.services.push_back(other);
  ExpectInvalid(m, "port '8080' is already in use by service 'web' (wjkr1d6qbqaasu2k6wd4jygt1) as an ingress port");
  // The same number on the other protocol is another port.
  m.services.back().ports[0].proto = "udp";
  EXPECT_TRUE(Validate(m).ok()) << Validate(m);
  // Host-mode ports are bound by the plain firewall on the tasks' nodes, not here.
  m.services.back().ports[0] = {"tcp", 8080, 8000, "host"};
  EXPECT_TRUE(Validate(m).ok()) << Validate(m);

  Model dup;
  Service s = Web();
  s.ports.push_back({"tcp", 8080, 81, "ingress"});
  dup.services = {s};
  ExpectInvalid(dup, "service 'web' (wjkr1d6qbqaasu2k6wd4jygt1): EndpointSpec: duplicate published ports provided");
}

TEST(MeshValidate, RefusesBadInputWithTheService) {
  auto with = [](auto change) {
    Model m = NodeModel();
    change(m);
    return m;
  };
  const std::string web = "service 'web' (wjkr1d6qbqaasu2k6wd4jygt1): ";
  ExpectInvalid(with([](Model& m) { m.services[0].id = "web;drop"; }),
                "service id \"web;drop\": want 1 to 64 letters and digits");
  ExpectInvalid(with([](Model& m) { m.services[0].id = ""; }), "service id \"\": want 1 to 64 letters and digits");
  ExpectInvalid(with([](Model& m) { m.services[1].id = m.services[0].id; }),
                "service id wjkr1d6qbqaasu2k6wd4jygt1 listed twice");
  ExpectInvalid(with([](Model& m) { m.services[0].vip = "10.0.0.256"; }),
                web + "VIP \"10.0.0.256\" is not an IPv4 address");
  ExpectInvalid(with([](Model& m) { m.services[0].vip = "fd00::5"; }), web + "VIP \"fd00::5\" is not an IPv4 address");
  ExpectInvalid(with([](Model& m) { m.services[2].vip = "10.0.0.5"; }),
                "service 'idle' (q93ipkwudti2wy4r4m0qdyuph): VIP 10.0.0.5 is already the VIP of " + web.substr(0, web.size() - 2));
  ExpectInvalid(with([](Model& m) { m.services[0].ports[0].proto = "sctp"; }),
                web + "port 8080:80/sctp: protocol must be tcp or udp");
  ExpectInvalid(with([](Model& m) { m.services[0].ports[0].published = 0; }),
                web + "port 0:80/tcp: ports must be in 1..65535");
  ExpectInvalid(with([](Model& m) { m.services[0].ports[0].target = 65536; }),
                web + "port 8080:65536/tcp: ports must be in 1..65535");
  ExpectInvalid(with([](Model& m) { m.services[0].ports[0].mode = "mesh"; }),
                web + "port 8080:80/tcp: publish mode must be ingress or host");
  ExpectInvalid(with([](Model& m) { m.services[0].backends[1].ip = "10.0.0"; }),
                web + "backend \"10.0.0\" is not an IPv4 address");
  ExpectInvalid(with([](Model& m) { m.services[0].backends[1].ip = "10.0.0.7"; }), web + "backend 10.0.0.7 listed twice");
  ExpectInvalid(with([](Model& m) { m.services[2].backends = {{"10.0.0.9", true}}; }),
                "service 'idle' (q93ipkwudti2wy4r4m0qdyuph): backend 10.0.0.9 is local here but remote in " +
                    web.substr(0, web.size() - 2));
  ExpectInvalid(with([](Model& m) { m.ingress->snat_address = ""; }), "ingress: SNAT address \"\" is not an IPv4 address");
  ExpectInvalid(with([](Model& m) { m.ingress->hairpin_subnets = {"172.18.0.0/33"}; }),
                "ingress: hairpin subnet \"172.18.0.0/33\" is not an IPv4 CIDR");
  ExpectInvalid(with([](Model& m) { m.ingress->hairpin_subnets = {"172.18.0.0"}; }),
                "ingress: hairpin subnet \"172.18.0.0\" is not an IPv4 CIDR");
  ExpectInvalid(with([](Model& m) { m.services[0].backends.resize(65537, Backend{"10.9.0.1"}); }),
                web + "65537 backends, at most 65536 are balanced");
}

}  // namespace
}  // namespace berth::network::mesh
