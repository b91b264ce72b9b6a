// Golden-file tests of the firewall's rendered nft script, plus the checks Validate makes and how
// NftFirewall drives its nft binary (faked by shell scripts, so no root is needed).
//
// Regenerate the golden files after an intended change with BERTH_UPDATE_GOLDEN=1 and review the diff.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "network/firewall/firewall.h"
#include "sys/subprocess.h"

namespace berth::network::firewall {
namespace {

std::string TestdataDir() { return std::string(BERTH_SOURCE_DIR) + "/test/unit/testdata/firewall/"; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data, mode_t mode = 0644) {
  std::ofstream(path) << data;
  ::chmod(path.c_str(), mode);
}

bool NftCheckable() { return ::geteuid() == 0 && ::access("/usr/sbin/nft", X_OK) == 0; }

// Compares Render(m) with testdata/firewall/<name>.nft, and has the kernel check the script
// (`nft -c` runs the transaction and aborts it: nothing is changed).
void ExpectGolden(const Model& m, const std::string& name) {
  ASSERT_TRUE(Validate(m).ok()) << Validate(m);
  std::string got = Render(m);
  std::string path = TestdataDir() + name + ".nft";
  if (std::getenv("BERTH_UPDATE_GOLDEN")) WriteFile(path, got);
  EXPECT_EQ(ReadFile(path), got) << "golden " << path << " differs; BERTH_UPDATE_GOLDEN=1 rewrites it";
  if (!NftCheckable()) {
    std::printf("[ skipped nft -c of %s: needs root and /usr/sbin/nft ]\n", name.c_str());
    return;
  }
  auto r = sys::Run({"/usr/sbin/nft", "-c", "-f", "-"}, got);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << "nft -c rejected " << name << ":\n" << r->err;
}

Bridge DefaultBridge() { return Bridge{"berth0", "172.17.0.0/16", "172.17.0.1"}; }
Bridge TestBridge1() { return Bridge{"linuxbridge1", "10.15.20.0/24", "10.15.20.1"}; }

TEST(FirewallRender, Empty) { ExpectGolden(Model{}, "empty"); }

TEST(FirewallRender, DefaultBridge) { ExpectGolden(Model{{DefaultBridge()}, {}}, "default_bridge"); }

TEST(FirewallRender, TestBridge1) { ExpectGolden(Model{{TestBridge1()}, {}}, "testbridge1"); }

TEST(FirewallRender, InternalBridge) {
  Bridge b{"br-0123456789ab", "10.16.0.0/24", "10.16.0.1"};
  b.internal = true;
  ExpectGolden(Model{{b}, {}}, "internal");
}

TEST(FirewallRender, TwoBridgesOneWithoutIccOrMasquerade) {
  Bridge quiet{"br-feedfacecafe", "172.18.0.0/16", "172.18.0.1"};
  quiet.icc = false;
  quiet.masquerade = false;
  ExpectGolden(Model{{DefaultBridge(), quiet}, {}}, "two_bridges");
}

Model PortsModel() {
  Model m{{DefaultBridge(), TestBridge1()}, {}};
  m.ports.push_back({"tcp", "0.0.0.0", 8080, "172.17.0.2", 80, "berth0"});
  m.ports.push_back({"tcp", "127.0.0.1", 8081, "172.17.0.3", 80, "berth0"});
  m.ports.push_back({"udp", "", 5353, "172.17.0.4", 53, "berth0"});
  m.ports.push_back({"tcp", "10.10.10.101", 8081, "10.15.20.4", 80, "linuxbridge1"});
  for (int i = 0; i < 3; ++i)  // -p 9000-9002:7000-7002
    m.ports.push_back({"tcp", "", 9000 + i, "10.15.20.5", 7000 + i, "linuxbridge1"});
  return m;
}

TEST(FirewallRender, Ports) { ExpectGolden(PortsModel(), "ports"); }

TEST(FirewallRender, OneMapElementPerMappingAndNoRulePerContainer) {
  std::string s = Render(PortsModel());
  EXPECT_EQ(s.find("172.17.0.2 . 80"), s.rfind("172.17.0.2 . 80"));
  for (int i = 0; i < 3; ++i)
    EXPECT_NE(s.find("tcp . " + std::to_string(9000 + i) + " : 10.15.20.5 . " + std::to_string(7000 + i)),
              std::string::npos);
  // The rules are the same whatever the ports: only the maps differ.
  Model no_ports = PortsModel();
  no_ports.ports.clear();
  auto chains = [](const std::string& x) { return x.substr(x.find("\tchain ")); };
  EXPECT_EQ(chains(s), chains(Render(no_ports)));
}

TEST(FirewallRender, OrderOfTheModelDoesNotMatter) {
  Model a = PortsModel();
  Model b = a;
  std::reverse(b.bridges.begin(), b.bridges.end());
  std::reverse(b.ports.begin(), b.ports.end());
  EXPECT_EQ(Render(a), Render(b));
}

TEST(FirewallRender, InternalNetworkPublishesNothing) {
  Bridge b{"br-int", "10.16.0.0/24", "10.16.0.1"};
  b.internal = true;
  Model m{{b}, {{"tcp", "", 8080, "10.16.0.2", 80, "br-int"}}};
  ASSERT_TRUE(Validate(m).ok());
  EXPECT_EQ(Render(m).find("10.16.0.2"), std::string::npos);
  // ... and is not masqueraded.
  EXPECT_EQ(Render(m), Render(Model{{b}, {}}));
}

TEST(FirewallRender, SubnetWithHostBitsIsRenderedAsItsNetwork) {
  Model m{{Bridge{"berth0", "172.17.0.1/16", "172.17.0.1"}}, {}};
  EXPECT_EQ(Render(m), Render(Model{{DefaultBridge()}, {}}));
}

// Dual-stack bridges: the IPv6 subnet in bridge_subnets6 and (masqueraded) masquerade_subnets6,
// ports published on every address of the host in both families' maps, "::" and an IPv6 host
// address in the IPv6 maps only; an internal one's IPv6 subnet is not masqueraded.
Model DualStackModel() {
  Bridge v6{"br-00000000d00d", "172.30.0.0/24", "172.30.0.1", "fd00:30::/64"};
  Bridge v6int{"br-00000000beef", "172.31.0.0/24", "172.31.0.1", "fd00:31::/64"};
  v6int.internal = true;
  Model m{{DefaultBridge(), v6, v6int}, {}};
  m.ports.push_back({"tcp", "", 8086, "172.30.0.2", 80, "br-00000000d00d", "fd00:30::2"});
  m.ports.push_back({"tcp", "::", 8087, "172.30.0.3", 80, "br-00000000d00d", "fd00:30::3"});
  m.ports.push_back({"udp", "fd00:99:0::1", 5353, "172.30.0.4", 53, "br-00000000d00d", "fd00:30::4"});
  m.ports.push_back({"tcp", "0.0.0.0", 8088, "172.30.0.5", 80, "br-00000000d00d", "fd00:30::5"});
  m.ports.push_back({"tcp", "", 8089, "172.17.0.2", 80, "berth0"});  // no IPv6 address: IPv4 only
  return m;
}

TEST(FirewallRender, DualStack) { ExpectGolden(DualStackModel(), "dual_stack"); }

TEST(FirewallRender, DualStackElements) {
  std::string s = Render(DualStackModel());
  auto has = [&](const std::string& x) { return s.find(x) != std::string::npos; };
  EXPECT_TRUE(has("tcp . 8086 : 172.30.0.2 . 80"));
  EXPECT_TRUE(has("tcp . 8086 : fd00:30::2 . 80"));
  EXPECT_TRUE(has("tcp . 8087 : fd00:30::3 . 80"));
  EXPECT_FALSE(has("8087 : 172.30.0.3"));
  EXPECT_TRUE(has("fd00:99::1 . udp . 5353 : fd00:30::4 . 53"));  // canonical spelling
  EXPECT_FALSE(has("5353 : 172.30.0.4"));
  EXPECT_TRUE(has("tcp . 8088 : 172.30.0.5 . 80"));  // 0.0.0.0 is IPv4's every address only
  EXPECT_FALSE(has("8088 : fd00:30::5"));
  EXPECT_TRUE(has("\"br-00000000d00d\" . fd00:30::/64"));
  EXPECT_TRUE(has("\"br-00000000beef\" . fd00:31::/64"));
  EXPECT_FALSE(has("\t\t\tfd00:31::/64"));  // internal: not masqueraded
  EXPECT_TRUE(has("\t\t\tfd00:30::/64"));
}

TEST(FirewallValidate, Ipv6Mistakes) {
  auto code = [](Model m) { return Validate(m).code(); };
  ASSERT_TRUE(Validate(DualStackModel()).ok()) << Validate(DualStackModel());
  Model m = DualStackModel();
  m.bridges[1].subnet6 = "fd00:30::/129";
  EXPECT_EQ(code(m), absl::StatusCode::kInvalidArgument);
  m = DualStackModel();
  m.bridges[1].subnet6 = "10.0.0.0/8";
  EXPECT_EQ(code(m), absl::StatusCode::kInvalidArgument);
  m = DualStackModel();
  m.bridges[2].subnet6 = "fd00:30:0:0:1::/80";  // inside br-00000000d00d's /64
  EXPECT_EQ(code(m), absl::StatusCode::kAlreadyExists);
  m = DualStackModel();
  m.ports[1].container_ip6 = "";  // "::" with nothing to send it to
  EXPECT_EQ(code(m), absl::StatusCode::kInvalidArgument);
  m = DualStackModel();
  m.ports[0].container_ip6 = "172.30.0.2";
  EXPECT_EQ(code(m), absl::StatusCode::kInvalidArgument);
  m = DualStackModel();
  m.ports[1].host_port = 8086;  // [::]:8086 is published already (by the "" mapping)
  EXPECT_EQ(code(m), absl::StatusCode::kAlreadyExists);
  m = DualStackModel();
  m.ports[3].host_port = 8087;  // 0.0.0.0:8087 and [::]:8087 do not clash
  EXPECT_TRUE(Validate(m).ok()) << Validate(m);
}

TEST(FirewallRender, DeleteScriptCreatesThenDeletes) {
  EXPECT_EQ(RenderDelete().substr(RenderDelete().find("table inet")), "table inet berth {}\ndelete table inet berth\n");
}

TEST(FirewallValidate, RejectsWhatCannotBeRenderedSafely) {
  auto code = [](Model m) { return Validate(m).code(); };
  Model ok = PortsModel();
  EXPECT_TRUE(Validate(ok).ok());

  Model m = ok;
  m.bridges[0].ifname = "bad\"name";  // would end the quoted string in the script
  EXPECT_EQ(code(m), absl::StatusCode::kInvalidArgument);
  m = ok;
  m.bridges[0].ifname = "a-name-longer-than-15";
  EXPECT_EQ(code(m), absl::StatusCode::kInvalidArgument);
  m = ok;
  m.bridges[1].subnet = "172.17.5.0/24";  // inside berth0's 172.17.0.0/16
  EXPECT_EQ(code(m), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(std::string(Validate(m).message()).find("overlaps 172.17.0.0/16 of bridge berth0"), std::string::npos)
      << Validate(m);
  m = ok;
  m.bridges[1].subnet = "10.15.20.0/33";
  EXPECT_EQ(code(m), absl::StatusCode::kInvalidArgument);
  m = ok;
  m.bridges.push_back(m.bridges[0]);
  EXPECT_EQ(code(m), absl::StatusCode::kAlreadyExists);
  m = ok;
  m.ports[0].proto = "sctp";
  EXPECT_EQ(code(m), absl::StatusCode::kInvalidArgument);
  m = ok;
  m.ports[0].host_ip = "::";
  EXPECT_EQ(code(m), absl::StatusCode::kInvalidArgument);
  m = ok;
  m.ports[0].host_port = 0;
  EXPECT_EQ(code(m), absl::StatusCode::kInvalidArgument);
  m = ok;
  m.ports[0].container_port = 65536;
  EXPECT_EQ(code(m), absl::StatusCode::kInvalidArgument);
  m = ok;
  m.ports[0].bridge = "nosuchbridge";
  EXPECT_EQ(code(m), absl::StatusCode::kInvalidArgument);
  // "" and 0.0.0.0 are the same binding.
  m = ok;
  m.ports.push_back(m.ports[0]);
  m.ports.back().host_ip = "";
  EXPECT_EQ(code(m), absl::StatusCode::kAlreadyExists);
  // The same port on another address or protocol is a different binding.
  m = ok;
  m.ports.push_back(m.ports[0]);
  m.ports.back().host_ip = "127.0.0.2";
  m.ports.push_back(m.ports[0]);
  m.ports.back().proto = "udp";
  EXPECT_TRUE(Validate(m).ok()) << Validate(m);
}

class FakeNft : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-fw-unit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { sys::Run({"rm", "-rf", dir_}).IgnoreError(); }
  // A stand-in for nft that records its arguments and stdin, then exits with `rc`.
  std::string Script(int rc, const std::string& err = "") {
    std::string path = dir_ + "/nft";
    WriteFile(path,
              "#!/bin/sh\necho \"$@\" > " + dir_ + "/args\ncat > " + dir_ + "/stdin\n" +
                  (err.empty() ? "" : "echo '" + err + "' >&2\n") + "exit " + std::to_string(rc) + "\n",
              0755);
    return path;
  }
  std::string dir_;
};

TEST_F(FakeNft, ApplyFeedsTheRenderedScriptToNftOnStdin) {
  auto fw = NewNftCommandFirewall(Script(0));
  ASSERT_TRUE(fw->Apply(PortsModel()).ok());
  EXPECT_EQ(ReadFile(dir_ + "/args"), "-f -\n");
  EXPECT_EQ(ReadFile(dir_ + "/stdin"), Render(PortsModel()));
  ASSERT_TRUE(fw->Remove().ok());
  EXPECT_EQ(ReadFile(dir_ + "/stdin"), RenderDelete());
  ASSERT_TRUE(fw->Check().ok());
  EXPECT_EQ(ReadFile(dir_ + "/args"), "-c -f -\n");
}

TEST_F(FakeNft, NftErrorCarriesItsStderr) {
  auto fw = NewNftCommandFirewall(Script(1, "Error: Could not process rule: No such file or directory"));
  Status st = fw->Apply(PortsModel());
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal);
  EXPECT_NE(std::string(st.message()).find("Could not process rule: No such file or directory"), std::string::npos)
      << st;
}

TEST_F(FakeNft, InvalidModelNeverReachesNft) {
  auto fw = NewNftCommandFirewall(Script(0));
  Model m = PortsModel();
  m.ports[0].bridge = "nosuchbridge";
  EXPECT_EQ(fw->Apply(m).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(::access((dir_ + "/stdin").c_str(), F_OK), 0);
}

TEST(NftFirewall, MissingBinaryIsAClearError) {
  auto fw = NewNftCommandFirewall("/nonexistent/nft");
  Status st = fw->Check();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(st.message()).find("install the nftables package"), std::string::npos) << st;
}

TEST(NoopFirewall, AcceptsValidModelsAndTouchesNothing) {
  auto fw = NewNoopFirewall();
  EXPECT_TRUE(fw->Check().ok());
  EXPECT_TRUE(fw->Apply(PortsModel()).ok());
  EXPECT_TRUE(fw->Remove().ok());
  Model bad = PortsModel();
  bad.ports[0].proto = "icmp";
  EXPECT_FALSE(fw->Apply(bad).ok());  // the same model is refused with or without --iptables
}

}  // namespace
}  // namespace berth::network::firewall
