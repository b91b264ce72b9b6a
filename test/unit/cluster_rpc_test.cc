// cluster::Call against a real mutual-TLS ApiServer on loopback: kept connections are reused,
// one the server closed meanwhile is replaced without the caller seeing it, a join-style call
// (check_peer) never shares its connection, TLS contexts never share one, a cancelled long call
// on a kept connection ends at once, and a timed-out one is not made again.
#include "cluster/rpc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "api/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tls_test_pki.h"

namespace berth::cluster {
namespace {

using ::testing::StartsWith;

class ClusterRpcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new berth::testing::TestPki;
    berth::testing::MakeTestPki(pki_);
  }
  static void TearDownTestSuite() { delete pki_; }

  void SetUp() override {
    char tmpl[] = "/tmp/berth-rpc-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    // Answers with the client's port: one port per connection.
    router_.Add("POST", "/echo", [this](api::Request& req, api::Conn& c) {
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      ::getpeername(c.stream().fd(), reinterpret_cast<sockaddr*>(&peer), &len);
      int port = ntohs(peer.sin_port);
      {
        absl::MutexLock l(&mu_);
        ports_.insert(port);
      }
      c.SendJson(200, {{"port", port}, {"len", req.body.size()}});
    });
    // Answers only when the client leaves (a long poll that never fires).
    router_.Add("POST", "/hold", [this](api::Request&, api::Conn& c) {
      ++holds_;
      holding_ = true;
      while (!c.ClientGone()) {
        transport::WaitResult w = c.stream().Wait(true, nullptr, transport::kForever);
        if (w.aborted) break;
      }
      c.MarkClosed();
    });
  }
  void TearDown() override {
    server_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  // A mutual-TLS server on a loopback port; its "127.0.0.1:port".
  std::string Start(std::chrono::milliseconds idle_timeout = std::chrono::seconds(30)) {
    api::ServerOptions opts;
    opts.tmp_dir = dir_;
    opts.idle_timeout = idle_timeout;
    auto ctx = transport::TlsContext::Create(
        transport::TlsContext::Role::kServer,
        transport::TlsConfig{pki_->ca, pki_->server_cert, pki_->server_key, true});
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    opts.tls = *ctx;
    server_ = std::make_unique<api::ApiServer>(router_, std::move(opts));
    EXPECT_TRUE(server_->Listen("tcp://127.0.0.1:0").ok());
    server_->Serve();
    std::string a = server_->Addresses().at(0);
    return a.substr(std::string("tcp://").size());
  }

  static RpcOptions Options() {
    auto ctx = transport::TlsContext::Create(
        transport::TlsContext::Role::kClient,
        transport::TlsConfig{pki_->ca, pki_->client_cert, pki_->client_key, true});
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    RpcOptions o;
    o.tls = *ctx;
    o.server_name = "127.0.0.1";  // the test server's certificate names it
    o.timeout = std::chrono::seconds(5);
    return o;
  }

  // POST /echo; the client port the server saw.
  int Echo(const std::string& addr, const RpcOptions& o) {
    StatusOr<RpcReply> r = Call(addr, "/echo", {{"x", 1}}, o);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return -1;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.value("len", 0), 7);
    return r->body.value("port", -1);
  }

  size_t Connections() {
    absl::MutexLock l(&mu_);
    return ports_.size();
  }

  static berth::testing::TestPki* pki_;
  std::string dir_;
  api::Router router_;
  std::unique_ptr<api::ApiServer> server_;
  absl::Mutex mu_;
  std::set<int> ports_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> holding_{false};
  std::atomic<int> holds_{0};
};

berth::testing::TestPki* ClusterRpcTest::pki_ = nullptr;

TEST_F(ClusterRpcTest, CallsOneAfterAnotherShareOneConnection) {
  std::string addr = Start();
  RpcOptions o = Options();
  int first = Echo(addr, o);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Echo(addr, o), first);
  EXPECT_EQ(Connections(), 1u);
}

TEST_F(ClusterRpcTest, AConnectionTheServerClosedIsReplacedUnseen) {
  std::string addr = Start(std::chrono::milliseconds(100));
  RpcOptions o = Options();
  int first = Echo(addr, o);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // past the server's idle timeout
  int second = Echo(addr, o);
  EXPECT_NE(second, -1);
  EXPECT_NE(second, first);
  EXPECT_EQ(Connections(), 2u);
}

TEST_F(ClusterRpcTest, AJoinStyleCallNeverSharesItsConnection) {
  std::string addr = Start();
  RpcOptions checked = Options();
  int checks = 0;
  checked.check_peer = [&checks](const transport::PeerIdentity&) {
    ++checks;
    return absl::OkStatus();
  };
  int a = Echo(addr, checked);
  int b = Echo(addr, checked);
  EXPECT_NE(a, b);
  EXPECT_EQ(checks, 2);  // every call saw the manager's certificate afresh
  RpcOptions plain = Options();
  int c = Echo(addr, plain);
  EXPECT_NE(c, a);
  EXPECT_NE(c, b);
}

TEST_F(ClusterRpcTest, DifferentTlsContextsNeverShareAConnection) {
  std::string addr = Start();
  RpcOptions one = Options();
  RpcOptions other = Options();  // the same certificates, another context (a renewed one)
  int a = Echo(addr, one);
  int b = Echo(addr, other);
  EXPECT_NE(a, b);
  EXPECT_EQ(Echo(addr, one), a);
  EXPECT_EQ(Echo(addr, other), b);
}

TEST_F(ClusterRpcTest, ACancelledCallOnAKeptConnectionEndsAtOnceAndTheNextIsServed) {
  std::string addr = Start();
  RpcOptions o = Options();
  int first = Echo(addr, o);  // leaves a kept connection for the long call to take
  RpcOptions held = o;
  held.timeout = std::chrono::seconds(30);
  held.cancel = std::make_shared<RpcCancel>();
  std::thread canceller([&] {
    while (!holding_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    held.cancel->Cancel();
  });
  auto t0 = std::chrono::steady_clock::now();
  StatusOr<RpcReply> r = Call(addr, "/hold", {}, held);
  auto took = std::chrono::steady_clock::now() - t0;
  canceller.join();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsCancelled(r.status())) << r.status();
  EXPECT_LT(took, std::chrono::seconds(5));
  // The cancelled connection was the kept one, and it is gone: the next call makes another.
  int next = Echo(addr, o);
  EXPECT_NE(next, -1);
  EXPECT_NE(next, first);
}

TEST_F(ClusterRpcTest, ATimedOutCallOnAKeptConnectionIsNotMadeAgain) {
  std::string addr = Start();
  RpcOptions o = Options();
  Echo(addr, o);  // leaves a kept connection
  o.timeout = std::chrono::milliseconds(300);
  StatusOr<RpcReply> r = Call(addr, "/hold", {}, o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  // The manager is slow, not gone: the call's time is spent and it says where it waited.
  EXPECT_THAT(std::string(r.status().message()), StartsWith("read from " + addr));
  EXPECT_EQ(holds_, 1);
}

TEST_F(ClusterRpcTest, AFailedConnectSaysWhichAddress) {
  std::string addr = Start();
  server_.reset();  // nothing listens there any more
  StatusOr<RpcReply> r = Call(addr, "/echo", {}, Options());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), StartsWith("dial tcp " + addr));
}

}  // namespace
}  // namespace berth::cluster
