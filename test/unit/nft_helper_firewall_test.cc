// The berth-nft channel of NewNftHelperFirewall against fake helpers (shell scripts that print
// protocol frames), so no root is needed: a missing binary, a helper that cannot work, one that
// speaks another protocol, nft's error text carried back, and the single restart-and-retry when
// the helper is gone. The real helper against the kernel is in test/privileged/firewall_test.cc.

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "network/firewall/firewall.h"
#include "sys/subprocess.h"

namespace berth::network::firewall {
namespace {

// The ready frame berth-nft sends first: 'O', length 11, "berth-nft 1" (printf octal escapes).
constexpr char kHello[] = R"(printf 'O\000\000\000\013berth-nft 1')";

class NftHelperFirewallChannel : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-nft-unit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)sys::Run({"rm", "-rf", dir_}); }

  std::string Script(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
    return path;
  }
  int Lines(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    int n = 0;
    for (std::string l; std::getline(in, l);) ++n;
    return n;
  }

  std::string dir_;
};

TEST_F(NftHelperFirewallChannel, MissingBinaryIsAClearError) {
  auto fw = NewNftHelperFirewall(dir_ + "/no-such-berth-nft");
  Status st = fw->Check();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(st.message().find("berth-nft not found at " + dir_ + "/no-such-berth-nft"),
            std::string::npos)
      << st;
  EXPECT_NE(st.message().find("--nft-helper"), std::string::npos) << st;
  EXPECT_EQ(fw->HelperPid(), -1);
  // Each call tries again (the binary may have been installed since), and fails the same way.
  EXPECT_TRUE(absl::IsFailedPrecondition(fw->Apply(Model{})));
}

TEST_F(NftHelperFirewallChannel, AHelperThatCannotWorkSaysWhy) {
  auto fw = NewNftHelperFirewall(
      Script("sad", R"(printf 'E\000\000\000\025libnftables: no luck!'; exit 1)"));
  Status st = fw->Check();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(st.message().find("libnftables: no luck!"), std::string::npos) << st;
  EXPECT_NE(st.message().find("exit status 1"), std::string::npos) << st;
  EXPECT_EQ(fw->HelperPid(), -1);
}

TEST_F(NftHelperFirewallChannel, AnotherProtocolIsRefused) {
  auto fw = NewNftHelperFirewall(
      Script("v2", R"(printf 'O\000\000\000\013berth-nft 2'; exec cat >/dev/null)"));
  Status st = fw->Check();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(st.message().find("berth-nft 2"), std::string::npos) << st;
  EXPECT_EQ(fw->HelperPid(), -1);  // ended, not left behind
}

TEST_F(NftHelperFirewallChannel, NftsErrorTextComesBackAndTheHelperStays) {
  // Answers the first request with nft's error (it need not read it first: the reply waits in the
  // socket), then swallows stdin until berthd closes it.
  auto fw = NewNftHelperFirewall(Script(
      "refuses",
      std::string(kHello) +
          R"(; printf 'E\000\000\000\044Error: syntax error, unexpected drop'; exec cat >/dev/null)"));
  Status st = fw->Apply(Model{});
  EXPECT_TRUE(absl::IsInternal(st)) << st;
  EXPECT_EQ(st.message(), "apply table inet berth: nft: Error: syntax error, unexpected drop");
  int pid = fw->HelperPid();
  EXPECT_GT(pid, 0);
  EXPECT_EQ(::kill(pid, 0), 0) << "the helper should still run";
}

TEST_F(NftHelperFirewallChannel, AHelperThatKeepsDyingIsStartedAgainOnceThenTheCallFails) {
  // Says hello, then exits before answering: the call restarts it once and gives up after that.
  auto fw = NewNftHelperFirewall(Script("dies", "echo started >> " + dir_ + "/starts; " + kHello));
  Status st = fw->Apply(Model{});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("berth-nft (pid "), std::string::npos) << st;
  EXPECT_EQ(Lines("starts"), 2);
  EXPECT_EQ(fw->HelperPid(), -1);
}

}  // namespace
}  // namespace berth::network::firewall
