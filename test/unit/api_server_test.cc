// ApiServer end to end without root: real sockets in a temp dir and on loopback, small limits
// and timeouts. Oversized headers get 431, oversized bodies 413 (and no handler runs), a client
// that trickles its header gets 408, the connection limit answers 503, Stop() ends long streams
// and joins every thread, and TLS with client certificates carries a hijacked stream both ways.

#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "api/client/client.h"
#include "api/proxy_stream.h"
#include "api/server.h"
#include "engine/runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tls_test_pki.h"
#include "../sanitizers.h"

namespace berth::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace std::chrono_literals;

int ThreadsInProcess() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/task");
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

UniqueFd Dial(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  return fd;
}

void Send(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;  // the server may answer and stop reading first
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Everything the server sends until it closes (or 5 s pass).
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return out;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// Reads up to the end of the first response's headers.
std::string ReadHead(int fd) {
  std::string out;
  char c;
  while (out.find("\r\n\r\n") == std::string::npos) {
    pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0 || ::recv(fd, &c, 1, 0) != 1) break;
    out.push_back(c);
  }
  return out;
}

std::string Message(const std::string& response) {
  auto body = response.substr(response.find("\r\n\r\n") + 4);
  auto j = nlohmann::json::parse(body, nullptr, false);
  return j.is_object() ? j.value("message", "") : "";
}

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-api-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    sock_ = dir_ + "/api.sock";
    router_.Add("GET", "/ping", [](Request&, Conn& c) { c.SendJson(200, {{"ok", true}}); });
    router_.Add("POST", "/echo", [this](Request& req, Conn& c) {
      ++handled_;
      c.SendJson(200, {{"len", req.body.size()}});
    });
    // A response that streams until the client leaves or the daemon stops (events, logs -f).
    router_.Add("GET", "/hold", [](Request&, Conn& c) {
      if (!c.BeginStream(200, "application/json")) return;
      while (!c.ClientGone()) {
        transport::WaitResult w = c.stream().Wait(true, nullptr, transport::kForever);
        if (w.aborted) break;
      }
      c.MarkClosed();
    });
    // attach/exec: the client's hijacked stream against a fake shim (the test holds its end).
    router_.Add("POST", "/proxy", [this](Request&, Conn& c) {
      if (!c.Hijack(true, "application/vnd.docker.raw-stream")) return;
      exit_code_ =
          ProxyStream(c, shim_daemon_end_.get(), /*tty=*/true, /*client_stdin=*/true, nullptr);
      (void)c.stream().CloseWrite();
      proxied_ = true;
    });
  }
  void TearDown() override {
    server_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  void Start(ServerOptions opts, const std::string& host = "") {
    opts.tmp_dir = dir_;
    server_ = std::make_unique<ApiServer>(router_, std::move(opts));
    ASSERT_TRUE(server_->Listen(host.empty() ? "unix://" + sock_ : host).ok());
    server_->Serve();
  }

  // A socketpair standing in for a container's shim stream.
  void MakeShim() {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    shim_daemon_end_.reset(sv[0]);
    shim_test_end_.reset(sv[1]);
  }

  std::string dir_, sock_;
  Router router_;
  std::unique_ptr<ApiServer> server_;
  std::atomic<int> handled_{0};
  UniqueFd shim_daemon_end_, shim_test_end_;
  std::atomic<int> exit_code_{-2};
  std::atomic<bool> proxied_{false};
};

TEST_F(ApiServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start({});
  UniqueFd fd = Dial(sock_);
  for (int i = 0; i < 3; ++i) {
    Send(fd.get(), "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string head = ReadHead(fd.get());
    EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK"));
    std::string body(12, '\0');
    ASSERT_EQ(::recv(fd.get(), body.data(), body.size(), MSG_WAITALL), 12);
    EXPECT_EQ(body, "{\"ok\":true}\n");
  }
}

TEST_F(ApiServerTest, HeaderOverTheLimitIs431) {
  Start({});
  UniqueFd fd = Dial(sock_);
  Send(fd.get(), "GET /ping HTTP/1.1\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n");
  std::string r = ReadAll(fd.get());
  EXPECT_THAT(r, StartsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  EXPECT_THAT(r, HasSubstr("Connection: close\r\n"));
  EXPECT_EQ(Message(r), "request header too large: the limit is 64 KiB");
}

TEST_F(ApiServerTest, BodyOverTheLimitIs413AndNoHandlerRuns) {
  ServerOptions opts;
  opts.max_body = 1024;
  Start(opts);
  {
    UniqueFd fd = Dial(sock_);  // declared too long: refused before a byte of it is read
    Send(fd.get(),
         "POST /echo HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2048\r\n\r\n");
    std::string r = ReadAll(fd.get());
    EXPECT_THAT(r, StartsWith("HTTP/1.1 413 Request Entity Too Large\r\n"));
    EXPECT_EQ(Message(r), "request body too large: the limit is 1 KiB");
  }
  {
    UniqueFd fd = Dial(sock_);  // chunked: refused once the chunks pass the limit
    Send(fd.get(), "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
                       std::string(2048, '{') + "\r\n0\r\n\r\n");
    std::string r = ReadAll(fd.get());
    EXPECT_THAT(r, StartsWith("HTTP/1.1 413 "));
  }
  EXPECT_EQ(handled_.load(), 0);
  {
    UniqueFd fd = Dial(sock_);  // within the limit, announced with Expect: 100-continue
    Send(fd.get(), "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n");
    EXPECT_EQ(ReadHead(fd.get()), "HTTP/1.1 100 Continue\r\n\r\n");
    Send(fd.get(), std::string(1000, ' '));
    std::string head = ReadHead(fd.get());
    EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK"));
  }
  EXPECT_EQ(handled_.load(), 1);
}

TEST_F(ApiServerTest, ClientTricklingItsHeaderGets408) {
  ServerOptions opts;
  opts.header_timeout = 300ms;
  Start(opts);
  // The server's clock starts at accept, which may come before Dial returns here.
  auto t0 = std::chrono::steady_clock::now();
  UniqueFd fd = Dial(sock_);
  Send(fd.get(), "GET /ping HTTP/1.1\r\n");
  // One header byte every 50 ms: each is progress, none completes the header.
  for (int i = 0; i < 100; ++i) {
    pollfd p = {fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) break;  // the server answered
    Send(fd.get(), "X");
  }
  std::string r = ReadAll(fd.get());
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_THAT(r, StartsWith("HTTP/1.1 408 Request Timeout\r\n"));
  EXPECT_EQ(Message(r), "timeout: the request header was not received within 300ms");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 3s);
}

TEST_F(ApiServerTest, StalledBodyGets408AndNoHandlerRuns) {
  ServerOptions opts;
  opts.header_timeout = 200ms;
  Start(opts);
  UniqueFd fd = Dial(sock_);
  Send(fd.get(), "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"Image\":");
  std::string r = ReadAll(fd.get());
  EXPECT_THAT(r, StartsWith("HTTP/1.1 408 "));
  EXPECT_EQ(Message(r), "timeout: the request body stalled for 200ms");
  EXPECT_EQ(handled_.load(), 0);
}

TEST_F(ApiServerTest, IdleKeepAliveConnectionIsClosedQuietly) {
  ServerOptions opts;
  opts.idle_timeout = 200ms;
  Start(opts);
  UniqueFd fd = Dial(sock_);
  auto t0 = std::chrono::steady_clock::now();
  Send(fd.get(), "GET /ping HTTP/1.1\r\n\r\n");
  // The answer, then the close once idle (ReadAll would give up at 5 s).
  std::string r = ReadAll(fd.get());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_THAT(r, StartsWith("HTTP/1.1 200 OK"));
  EXPECT_THAT(r, Not(HasSubstr("408")));
}

TEST_F(ApiServerTest, PastTheConnectionLimitA503SaysWhy) {
  ServerOptions opts;
  opts.max_connections = 2;
  Start(opts);
  UniqueFd c1 = Dial(sock_), c2 = Dial(sock_);
  // Both are being served (reading their request) once each has been answered once.
  for (int fd : {c1.get(), c2.get()}) {
    Send(fd, "GET /ping HTTP/1.1\r\n\r\n");
    EXPECT_THAT(ReadHead(fd), StartsWith("HTTP/1.1 200"));
  }
  UniqueFd c3 = Dial(sock_);
  Send(c3.get(), "GET /ping HTTP/1.1\r\n\r\n");
  std::string r = ReadAll(c3.get());
  EXPECT_THAT(r, StartsWith("HTTP/1.1 503 Service Unavailable\r\n"));
  EXPECT_EQ(Message(r),
            "too many connections: the daemon serves at most 2 at once (--max-connections); try "
            "again later");
  // A slot frees when a connection ends.
  c1.reset();
  bool served = false;
  for (int i = 0; i < 200 && !served; ++i) {
    UniqueFd c = Dial(sock_);
    Send(c.get(), "GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n");
    served = absl::StartsWith(ReadAll(c.get()), "HTTP/1.1 200");
  }
  EXPECT_TRUE(served);
}

TEST_F(ApiServerTest, StopEndsLongStreamsAndJoinsEveryThread) {
  int before = ThreadsInProcess();
  MakeShim();
  Start({});  // default timeouts (30 s): Stop must not wait for them
  UniqueFd idle = Dial(sock_);
  UniqueFd hold = Dial(sock_);
  Send(hold.get(), "GET /hold HTTP/1.1\r\n\r\n");
  EXPECT_THAT(ReadHead(hold.get()), StartsWith("HTTP/1.1 200"));
  // An attach whose client ended stdin and whose container is silent: only Stop can end it.
  UniqueFd attach = Dial(sock_);
  Send(attach.get(), "POST /proxy HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n");
  EXPECT_THAT(ReadHead(attach.get()), StartsWith("HTTP/1.1 101 UPGRADED"));
  ::shutdown(attach.get(), SHUT_WR);
  char frame[8];
  ASSERT_EQ(::recv(shim_test_end_.get(), frame, 8, MSG_WAITALL), 8);  // the stdin close
  EXPECT_EQ(frame[0], engine::kCloseStdin);
  EXPECT_GE(server_->ConnectionThreads(), 3);

  auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(server_->ConnectionThreads(), 0);
  EXPECT_TRUE(proxied_.load());
  EXPECT_EQ(exit_code_.load(), -1);
  if (!berth::testing::kThreadSanitizer) EXPECT_EQ(ThreadsInProcess(), before);
  EXPECT_EQ(ReadAll(idle.get()), "");  // closed
  EXPECT_NE(::access(sock_.c_str(), F_OK), 0) << "the socket file is removed";
}

class ApiServerTlsTest : public ApiServerTest {
 protected:
  static void SetUpTestSuite() {
    pki_ = new berth::testing::TestPki;
    berth::testing::MakeTestPki(pki_);
  }
  static void TearDownTestSuite() { delete pki_; }

  // A TLS server with client verification on a loopback port; returns its address.
  std::string StartTls() {
    ServerOptions opts;
    auto ctx = transport::TlsContext::Create(
        transport::TlsContext::Role::kServer,
        transport::TlsConfig{pki_->ca, pki_->server_cert, pki_->server_key, true});
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    opts.tls = *ctx;
    Start(opts, "tcp://127.0.0.1:0");
    return server_->Addresses().at(0);
  }
  static std::shared_ptr<const transport::TlsContext> ClientCtx(bool with_cert) {
    auto ctx = transport::TlsContext::Create(
        transport::TlsContext::Role::kClient,
        transport::TlsConfig{pki_->ca, with_cert ? pki_->client_cert : "",
                             with_cert ? pki_->client_key : "", true});
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return *ctx;
  }
  static berth::testing::TestPki* pki_;
};

berth::testing::TestPki* ApiServerTlsTest::pki_ = nullptr;

TEST_F(ApiServerTlsTest, ClientWithoutCertificateIsRefusedOneWithItServed) {
  std::string addr = StartTls();
  EXPECT_THAT(addr, StartsWith("tcp://127.0.0.1:"));
  auto refused = client::Client::Connect(addr, ClientCtx(false));
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("certificate required"));
  auto plain = client::Client::Connect(addr);  // plain HTTP on the TLS port
  EXPECT_FALSE(plain.ok());

  auto c = client::Client::Connect(addr, ClientCtx(true));
  ASSERT_TRUE(c.ok()) << c.status();
  auto r = (*c)->Call("POST", "/echo", "{\"a\":1}");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "{\"len\":7}\n");
}

// docker exec over TLS: stdin goes in, the client half-closes (close_notify), output still
// comes back, then the daemon ends the stream: every step through ProxyStream.
TEST_F(ApiServerTlsTest, HijackedStreamOverTlsBothWaysWithHalfClose) {
  MakeShim();
  std::string addr = StartTls();
  auto c = client::Client::Connect(addr, ClientCtx(true));
  ASSERT_TRUE(c.ok()) << c.status();
  auto h = (*c)->Hijack("POST", "/proxy");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->status, 101);
  ASSERT_TRUE(h->stream->WriteAll("echo hi\n").ok());
  ASSERT_TRUE(h->stream->CloseWrite().ok());

  // The shim side: stdin, then its end, arrive as frames.
  std::string frames;
  while (frames.size() < 8 + 8 + 8) {
    char buf[64];
    ssize_t n = ::recv(shim_test_end_.get(), buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    frames.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(frames,
            engine::Frame(engine::kStdin, "echo hi\n") + engine::Frame(engine::kCloseStdin, ""));
  std::string out = engine::Frame(engine::kStdout, "hi\n") + engine::Frame(engine::kExit, "3");
  ASSERT_EQ(::send(shim_test_end_.get(), out.data(), out.size(), 0),
            static_cast<ssize_t>(out.size()));

  std::string got = h->leftover;
  char buf[256];
  for (;;) {
    auto n = h->stream->ReadSome(buf, sizeof buf, transport::After(5s));
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    got.append(buf, *n);
  }
  EXPECT_EQ(got, "hi\n");
  server_->Stop();
  EXPECT_EQ(exit_code_.load(), 3);
}

}  // namespace
}  // namespace berth::api
