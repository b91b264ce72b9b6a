// transport::Stream over socketpairs, plain and TLS (certificates made in the test): the
// handshake and who may pass it, the peer's identity, half-close both ways as Docker's hijack
// protocol uses it, data buffered inside OpenSSL, waits with deadlines, a second descriptor and
// Abort().

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "api/transport/stream.h"
#include "api/transport/tls.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tls_test_pki.h"

namespace berth::transport {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct FdPair {
  UniqueFd a, b;
};

FdPair SocketPair() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

// Reads until the end of the stream (or an error, returned as the status).
StatusOr<std::string> ReadToEnd(Stream& s) {
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = s.ReadSome(buf, sizeof buf, After(5s));
    if (!n.ok()) return n.status();
    if (*n == 0) return out;
    out.append(buf, *n);
  }
}

class TlsStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new berth::testing::TestPki;
    berth::testing::MakeTestPki(pki_);
  }
  static void TearDownTestSuite() { delete pki_; }

  static std::shared_ptr<const TlsContext> ServerCtx(bool verify) {
    TlsConfig cfg{pki_->ca, pki_->server_cert, pki_->server_key, verify};
    auto ctx = TlsContext::Create(TlsContext::Role::kServer, cfg);
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return *ctx;
  }
  static std::shared_ptr<const TlsContext> ClientCtx(const std::string& cert,
                                                     const std::string& key, bool verify = true) {
    TlsConfig cfg{pki_->ca, cert, key, verify};
    auto ctx = TlsContext::Create(TlsContext::Role::kClient, cfg);
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return *ctx;
  }

  // The server's handshake runs on a thread of its own, the client's here.
  static std::pair<Status, Status> Handshake(Stream& server, Stream& client) {
    Status s;
    std::thread t([&] { s = server.Handshake(After(5s)); });
    Status c = client.Handshake(After(5s));
    if (!c.ok()) (void)client.CloseWrite();  // lets the server's handshake end too
    t.join();
    return {s, c};
  }

  static berth::testing::TestPki* pki_;
};

berth::testing::TestPki* TlsStreamTest::pki_ = nullptr;

TEST_F(TlsStreamTest, MutualTlsVerifiesBothEndsAndNamesThePeer) {
  auto [a, b] = SocketPair();
  Stream server(std::move(a), ServerCtx(true));
  Stream client(std::move(b), ClientCtx(pki_->client_cert, pki_->client_key), "127.0.0.1");
  auto [s, c] = Handshake(server, client);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(c.ok()) << c;

  const PeerIdentity& who = server.peer();
  EXPECT_TRUE(who.verified);
  EXPECT_EQ(who.common_name, "client-1");
  EXPECT_EQ(who.subject, "CN=client-1,O=berth-test");
  EXPECT_THAT(who.dns_names, ElementsAre("client-1.test"));
  EXPECT_THAT(who.ip_addresses, ElementsAre("10.0.0.7"));
  EXPECT_TRUE(client.peer().verified);
  EXPECT_EQ(client.peer().common_name, "berthd");
  EXPECT_THAT(client.peer().ip_addresses, ElementsAre("127.0.0.1"));

  ASSERT_TRUE(client.WriteAll("ping").ok());
  char buf[16];
  auto n = server.ReadSome(buf, sizeof buf, After(5s));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(std::string(buf, *n), "ping");
}

TEST_F(TlsStreamTest, ClientWithoutCertificateIsRefused) {
  auto [a, b] = SocketPair();
  Stream server(std::move(a), ServerCtx(true));
  Stream client(std::move(b), ClientCtx("", ""), "127.0.0.1");
  auto [s, c] = Handshake(server, client);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("certificate"));
  EXPECT_TRUE(server.peer().common_name.empty());
  // With TLS 1.3 the client learns it from the server's alert, on its first read.
  if (c.ok()) {
    char buf[16];
    auto n = client.ReadSome(buf, sizeof buf, After(5s));
    EXPECT_FALSE(n.ok());
    EXPECT_THAT(std::string(n.status().message()), HasSubstr("certificate required"));
  }
}

TEST_F(TlsStreamTest, ClientCertificateFromAnotherCaIsRefused) {
  auto [a, b] = SocketPair();
  Stream server(std::move(a), ServerCtx(true));
  Stream client(std::move(b), ClientCtx(pki_->rogue_cert, pki_->rogue_key), "127.0.0.1");
  auto [s, c] = Handshake(server, client);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("certificate verify failed"));
}

TEST_F(TlsStreamTest, ClientChecksTheServerNamesTheHostDialled) {
  auto [a, b] = SocketPair();
  Stream server(std::move(a), ServerCtx(false));
  Stream client(std::move(b), ClientCtx("", ""), "10.9.9.9");
  auto [s, c] = Handshake(server, client);
  EXPECT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.message()), HasSubstr("certificate verify failed"));
  EXPECT_THAT(std::string(c.message()), HasSubstr("IP address mismatch"));
}

TEST_F(TlsStreamTest, WithoutVerificationNoClientCertificateIsAsked) {
  auto [a, b] = SocketPair();
  Stream server(std::move(a), ServerCtx(false));
  Stream client(std::move(b), ClientCtx("", "", /*verify=*/false), "127.0.0.1");
  auto [s, c] = Handshake(server, client);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(c.ok()) << c;
  EXPECT_FALSE(server.peer().verified);
}

// Docker's hijacked exec: the client ends stdin (close_notify) and keeps reading; the daemon
// still writes the output, then ends its side.
TEST_F(TlsStreamTest, HalfCloseBothWaysAsTheHijackProtocolNeeds) {
  auto [a, b] = SocketPair();
  Stream server(std::move(a), ServerCtx(true));
  Stream client(std::move(b), ClientCtx(pki_->client_cert, pki_->client_key), "127.0.0.1");
  auto [s, c] = Handshake(server, client);
  ASSERT_TRUE(s.ok() && c.ok()) << s << " / " << c;

  StatusOr<std::string> stdin_seen;
  std::thread daemon([&] {
    stdin_seen = ReadToEnd(server);  // ends at the client's close_notify
    std::string out(100'000, 'x');   // several records, after the client's stdin ended
    EXPECT_TRUE(server.WriteAll(out).ok());
    EXPECT_TRUE(server.CloseWrite().ok());
  });
  ASSERT_TRUE(client.WriteAll("echo hi\n").ok());
  ASSERT_TRUE(client.CloseWrite().ok());
  auto output = ReadToEnd(client);
  daemon.join();
  ASSERT_TRUE(stdin_seen.ok()) << stdin_seen.status();
  EXPECT_EQ(*stdin_seen, "echo hi\n");
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_EQ(output->size(), 100'000u);
  // Writing after our own close_notify is refused, not silently dropped.
  EXPECT_FALSE(client.WriteAll("late").ok());
}

// A record holds more than one read takes: the rest is inside OpenSSL, not on the socket, and a
// wait must not block on the socket for it.
TEST_F(TlsStreamTest, DataBufferedInsideOpenSslIsReadableWithoutTheSocket) {
  auto [a, b] = SocketPair();
  Stream server(std::move(a), ServerCtx(false));
  Stream client(std::move(b), ClientCtx("", "", false), "127.0.0.1");
  auto [s, c] = Handshake(server, client);
  ASSERT_TRUE(s.ok() && c.ok()) << s << " / " << c;
  ASSERT_TRUE(server.WriteAll(std::string(10'000, 'y')).ok());  // one record

  char small[100];
  auto n = client.ReadSome(small, sizeof small, After(5s));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 100u);
  pollfd p = {client.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "the socket should be drained";
  EXPECT_TRUE(client.Buffered());
  auto t0 = SteadyClock::now();
  WaitResult w = client.Wait(true, nullptr, After(5s));
  EXPECT_TRUE(w.stream);
  EXPECT_LT(SteadyClock::now() - t0, 1s);
  std::string rest;
  while (rest.size() < 9'900) {
    char buf[4096];
    auto m = client.ReadSome(buf, sizeof buf, After(5s));
    ASSERT_TRUE(m.ok()) << m.status();
    rest.append(buf, *m);
  }
  EXPECT_EQ(rest, std::string(9'900, 'y'));
}

TEST(PlainStreamTest, ReadSomeEndsAtItsDeadline) {
  auto [a, b] = SocketPair();
  Stream s(std::move(a));
  char buf[8];
  auto t0 = SteadyClock::now();
  auto n = s.ReadSome(buf, sizeof buf, After(50ms));
  EXPECT_EQ(n.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(SteadyClock::now() - t0, 50ms);
  n = s.ReadSome(buf, sizeof buf, kNoWait);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(PlainStreamTest, UnreadBytesComeFirstAndMakeTheStreamReadable) {
  auto [a, b] = SocketPair();
  Stream s(std::move(a));
  Stream peer(std::move(b));
  ASSERT_TRUE(peer.WriteAll("world").ok());
  s.Unread("hello ");
  EXPECT_TRUE(s.Buffered());
  EXPECT_TRUE(s.Wait(true, nullptr, kNoWait).stream);
  char buf[32];
  auto n = s.ReadSome(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "hello ");
  n = s.ReadSome(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "world");
}

TEST(PlainStreamTest, PeerClosedTellsAClientThatLeftFromOneThatTalks) {
  auto [a, b] = SocketPair();
  Stream s(std::move(a));
  ASSERT_EQ(::send(b.get(), "x", 1, 0), 1);
  EXPECT_FALSE(s.PeerClosed());
  char c;
  auto n = s.ReadSome(&c, 1);  // PeerClosed consumed nothing
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_FALSE(s.PeerClosed());
  b.reset();
  EXPECT_TRUE(s.PeerClosed());
}

TEST(PlainStreamTest, WaitWakesForTheOtherDescriptorAndRestoresItsFlags) {
  auto [a, b] = SocketPair();
  Stream s(std::move(a));
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  int flags = ::fcntl(r.get(), F_GETFL);
  {
    FdWatch watch(s, r.get());
    WaitResult res = s.Wait(true, &watch, After(30ms));
    EXPECT_TRUE(res.timed_out);
    EXPECT_FALSE(res.stream || res.other);
    std::thread writer([&] { ASSERT_EQ(::write(w.get(), "!", 1), 1); });
    res = s.Wait(true, &watch, After(5s));
    writer.join();
    EXPECT_TRUE(res.other);
    EXPECT_FALSE(res.stream);
  }
  EXPECT_EQ(::fcntl(r.get(), F_GETFL), flags);
}

TEST(PlainStreamTest, AbortFromAnotherThreadEndsAWaitWithoutDeadline) {
  auto [a, b] = SocketPair();
  Stream s(std::move(a));
  std::thread stopper([&] { s.Abort(); });
  WaitResult res = s.Wait(true, nullptr, kForever);  // before or after Abort: it returns
  stopper.join();
  EXPECT_TRUE(res.aborted);
  char c;
  EXPECT_EQ(s.ReadSome(&c, 1).status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(s.WriteAll("x").code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(s.PeerClosed());
}

TEST(TlsConfigTest, MissingFilesAreNamed) {
  auto ctx = TlsContext::Create(
      TlsContext::Role::kServer,
      TlsConfig{"/nonexistent/ca.pem", "/nonexistent/cert.pem", "/nonexistent/key.pem", true});
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(std::string(ctx.status().message()),
            "Could not load X509 key pair (cert: \"/nonexistent/cert.pem\", key: "
            "\"/nonexistent/key.pem\"): open /nonexistent/cert.pem: no such file or directory");
  auto no_ca = TlsContext::Create(TlsContext::Role::kClient, TlsConfig{"", "", "", true});
  ASSERT_FALSE(no_ca.ok());
  EXPECT_THAT(std::string(no_ca.status().message()), HasSubstr("--tlscacert"));
}

}  // namespace
}  // namespace berth::transport
