// berth::client against an in-process fake engine: version negotiation, plain and chunked
// responses, daemon errors, the hijacked upgrade with bytes past the headers, stdcopy frames.

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "api/client/client.h"
#include "api/client/stdcopy.h"
#include "client_fake_server.h"
#include "gtest/gtest.h"

namespace berth::client {
namespace {

using berth::testing::FakeRequest;
using berth::testing::FakeResponse;
using berth::testing::FakeServer;
using berth::testing::FakeWriteAll;

TEST(ClientHostTest, ParsesUnixAndTcpHosts) {
  auto u = ParseHost("unix:///run/berth.sock");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->kind, Endpoint::Kind::kUnix);
  EXPECT_EQ(u->path, "/run/berth.sock");
  auto t = ParseHost("tcp://127.0.0.1:2375");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->kind, Endpoint::Kind::kTcp);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 2375);
  auto v6 = ParseHost("tcp://[::1]:2375");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_FALSE(ParseHost("tcp://127.0.0.1").ok());
  EXPECT_FALSE(ParseHost("ssh://host").ok());
}

TEST(ClientHostTest, FlagThenBerthHostThenDockerHostThenDefault) {
  ::setenv("BERTH_HOST", "unix:///b.sock", 1);
  ::setenv("DOCKER_HOST", "unix:///d.sock", 1);
  EXPECT_EQ(ResolveHost("unix:///flag.sock"), "unix:///flag.sock");
  EXPECT_EQ(ResolveHost(""), "unix:///b.sock");
  ::unsetenv("BERTH_HOST");
  EXPECT_EQ(ResolveHost(""), "unix:///d.sock");
  ::unsetenv("DOCKER_HOST");
  EXPECT_EQ(ResolveHost(""), "unix:///run/berth.sock");
}

TEST(ClientTest, NegotiatesVersionWithHeadPingAndPrefixesPaths) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (r.target == "/_ping") {
      // HEAD: headers only, even though Content-Length announces a body.
      FakeWriteAll(fd, "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\n");
      return;
    }
    FakeWriteAll(fd, FakeResponse(200, R"({"Version":"0.1.0"})"));
  });
  auto c = Client::Connect(server.host());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->api_version(), "1.41");
  auto r = (*c)->Call("GET", "/version");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-type"), "application/json");
  auto calls = server.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], "HEAD /_ping");
  EXPECT_EQ(calls[1], "GET /v1.41/version");
}

TEST(ClientTest, UsesTheLowerOfDaemonAndClientVersions) {
  std::string version = "1.45";
  FakeServer server([&](const FakeRequest& r, int fd) {
    FakeWriteAll(fd,
                 "HTTP/1.1 200 OK\r\nApi-Version: " + version + "\r\nContent-Length: 0\r\n\r\n");
  });
  auto c = Client::Connect(server.host());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->api_version(), "1.41");
  version = "1.40";
  auto c2 = Client::Connect(server.host());
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ((*c2)->api_version(), "1.40");
  EXPECT_EQ((*c2)->VersionedPath("/containers/json"), "/v1.40/containers/json");
}

TEST(ClientTest, SendsJsonBodyWithContentLength) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (berth::testing::ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(201, R"({"Id":"abc","Warnings":[]})"));
  });
  auto c = Client::Connect(server.host());
  ASSERT_TRUE(c.ok());
  auto r = (*c)->CallJson("POST", "/containers/create?name=b1", {{"Image", "busybox"}});
  ASSERT_TRUE(r.ok()) << r.status();
  auto j = r->Json();
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["Id"], "abc");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].target, "/v1.41/containers/create?name=b1");
  EXPECT_EQ(reqs[1].headers["content-type"], "application/json");
  EXPECT_EQ(nlohmann::json::parse(reqs[1].body), nlohmann::json({{"Image", "busybox"}}));
}

TEST(ClientTest, DaemonErrorBecomesStatusWithDockersWording) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (berth::testing::ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(404, R"({"message":"No such container: nosuch"})"));
  });
  auto c = Client::Connect(server.host());
  ASSERT_TRUE(c.ok());
  auto r = (*c)->Call("DELETE", "/containers/nosuch");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "Error response from daemon: No such container: nosuch");
  // Do() hands back the response itself.
  auto raw = (*c)->Do("DELETE", "/containers/nosuch");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->status, 404);
}

TEST(ClientTest, ConflictAndServerErrorCodes) {
  EXPECT_EQ(ErrorFromResponse(409, R"({"message":"x"})").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrorFromResponse(500, "plain text\n").message(),
            "Error response from daemon: plain text");
  EXPECT_EQ(ErrorFromResponse(400, "").code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClientTest, StreamsChunkedBodyAsItArrives) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (berth::testing::ServePing(r, fd)) return;
    FakeWriteAll(fd,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n");
    // Pieces split inside chunk headers and data, sent with pauses.
    for (std::string piece : {std::string("6\r\nhel"), std::string("lo \r"),
                              std::string("\n5\r\nworld\r\n"), std::string("0\r\n\r\n")}) {
      FakeWriteAll(fd, piece);
      ::usleep(2000);
    }
  });
  auto c = Client::Connect(server.host());
  ASSERT_TRUE(c.ok());
  std::vector<std::string> pieces;
  auto r = (*c)->Stream("GET", "/events", "", [&](std::string_view d) {
    pieces.emplace_back(d);
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  std::string all;
  for (const auto& p : pieces) all += p;
  EXPECT_EQ(all, "hello world");
  EXPECT_GE(pieces.size(), 2u);  // delivered as it came, not buffered to the end
}

TEST(ClientTest, StreamReadsBodyDelimitedByClose) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (berth::testing::ServePing(r, fd)) return;
    FakeWriteAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\n\r\nTARDATA");
  });
  auto c = Client::Connect(server.host());
  ASSERT_TRUE(c.ok());
  std::string body;
  auto r = (*c)->Stream("GET", "/images/get?names=busybox", "", [&](std::string_view d) {
    body.append(d);
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(body, "TARDATA");
}

TEST(ClientTest, StreamErrorBodyIsBufferedIntoStatus) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (berth::testing::ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(404, R"({"message":"No such container: x"})"));
  });
  auto c = Client::Connect(server.host());
  ASSERT_TRUE(c.ok());
  bool called = false;
  auto r = (*c)->Stream("POST", "/containers/x/wait", "", [&](std::string_view) {
    called = true;
    return true;
  });
  EXPECT_FALSE(called);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "Error response from daemon: No such container: x");
}

TEST(ClientTest, OnSentRunsBeforeTheResponseArrives) {
  std::atomic<bool> sent_seen{false};
  std::atomic<bool> may_answer{false};
  FakeServer server([&](const FakeRequest& r, int fd) {
    if (berth::testing::ServePing(r, fd)) return;
    while (!may_answer) ::usleep(1000);
    FakeWriteAll(fd, FakeResponse(200, R"({"StatusCode":0})"));
  });
  auto c = Client::Connect(server.host());
  ASSERT_TRUE(c.ok());
  RequestOptions opts;
  opts.on_sent = [&] {
    sent_seen = true;
    may_answer = true;  // the server answers only after the client reported the request sent
  };
  std::string body;
  auto r = (*c)->Stream(
      "POST", "/containers/x/wait", "",
      [&](std::string_view d) {
        body.append(d);
        return true;
      },
      opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(sent_seen);
  EXPECT_EQ(body, R"({"StatusCode":0})");
}

TEST(ClientTest, HijackReturnsSocketAndBytesPastHeaders) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (berth::testing::ServePing(r, fd)) return;
    // The 101 and the first frame in one write: the client must hand the frame back as leftover.
    FakeWriteAll(fd,
                 "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
                 "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" +
                     StdcopyFrame(StdStream::kStdout, "first\n"));
    // Echo what the client sends as a stderr frame, then end the stream.
    char buf[64];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      FakeWriteAll(fd, StdcopyFrame(StdStream::kStderr, std::string(buf, static_cast<size_t>(n))));
    }
  });
  auto c = Client::Connect(server.host());
  ASSERT_TRUE(c.ok());
  auto h = (*c)->Hijack("POST", "/exec/e1/start", R"({"Detach":false,"Tty":false})");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->status, 101);
  EXPECT_EQ(h->leftover, StdcopyFrame(StdStream::kStdout, "first\n"));
  ASSERT_NE(h->stream, nullptr);
  ASSERT_TRUE(h->stream->WriteAll("ping").ok());
  std::string rest;
  char buf[256];
  for (;;) {
    auto n = h->stream->ReadSome(buf, sizeof buf);
    ASSERT_TRUE(n.ok()) << n.status();
    if (*n == 0) break;
    rest.append(buf, *n);
  }
  EXPECT_EQ(rest, StdcopyFrame(StdStream::kStderr, "ping"));
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].headers["connection"], "Upgrade");
  EXPECT_EQ(reqs[1].headers["upgrade"], "tcp");
  EXPECT_EQ(reqs[1].body, R"({"Detach":false,"Tty":false})");
}

TEST(ClientTest, HijackErrorCarriesDaemonMessage) {
  FakeServer server([](const FakeRequest& r, int fd) {
    if (berth::testing::ServePing(r, fd)) return;
    FakeWriteAll(fd, FakeResponse(409, R"({"message":"Container x is not running"})"));
  });
  auto c = Client::Connect(server.host());
  ASSERT_TRUE(c.ok());
  auto h = (*c)->Hijack("POST", "/containers/x/attach?stream=1&stdout=1");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message(), "Error response from daemon: Container x is not running");
}

TEST(ClientTest, ConnectFailureSaysCannotConnect) {
  auto c = Client::Connect("unix:///nonexistent/berth-test.sock");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(c.status().message(),
            "Cannot connect to the Docker daemon at unix:///nonexistent/berth-test.sock. Is the "
            "docker daemon running?");
}

TEST(ClientQueryTest, EscapesAndBuildsFilters) {
  EXPECT_EQ(QueryEscape("a b/c:d"), "a%20b%2Fc%3Ad");
  EXPECT_EQ(QueryEscape("CMD [\"sh\"]"), "CMD%20%5B%22sh%22%5D");
  EXPECT_EQ(FiltersJson({{"driver", {"bridge"}}}).dump(), R"({"driver":{"bridge":true}})");
}

TEST(StdcopyTest, DemuxesFramesSplitAtEveryByte) {
  std::string stream =
      StdcopyFrame(StdStream::kStdout, "hello ") + StdcopyFrame(StdStream::kStderr, "oops\n") +
      StdcopyFrame(StdStream::kStdout, "") + StdcopyFrame(StdStream::kStdout, "world\n");
  std::string out, err;
  StdcopyDemuxer d(
      [&](StdStream s, std::string_view p) { (s == StdStream::kStderr ? err : out).append(p); });
  for (char c : stream) ASSERT_TRUE(d.Feed(std::string_view(&c, 1)).ok());
  EXPECT_EQ(out, "hello world\n");
  EXPECT_EQ(err, "oops\n");
  EXPECT_TRUE(d.AtFrameBoundary());
}

TEST(StdcopyTest, FrameHeaderIsBigEndianSize) {
  std::string f = StdcopyFrame(StdStream::kStderr, std::string(300, 'x'));
  ASSERT_EQ(f.size(), 308u);
  EXPECT_EQ(f[0], 2);
  EXPECT_EQ(f[1], 0);
  EXPECT_EQ(static_cast<unsigned char>(f[6]), 1);  // 300 = 0x012C
  EXPECT_EQ(static_cast<unsigned char>(f[7]), 0x2C);
}

TEST(StdcopyTest, RejectsUnframedData) {
  StdcopyDemuxer d([](StdStream, std::string_view) {});
  EXPECT_FALSE(d.Feed("PING 172.17.0.2\n").ok());
}

}  // namespace
}  // namespace berth::client

namespace berth::client {
namespace {

TEST(ClientQueryTest, DumpJsonSurvivesInvalidUtf8) {
  nlohmann::json j = {{"Cmd", {"echo", std::string("\xff")}}};
  EXPECT_EQ(DumpJson(j), "{\"Cmd\":[\"echo\",\"\xEF\xBF\xBD\"]}");
}

}  // namespace
}  // namespace berth::client
