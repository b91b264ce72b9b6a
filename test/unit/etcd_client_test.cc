// The etcd client's JSON (requests as the v3 gateway wants them, its answers and errors decoded,
// as etcd 3.4.23 really sent them here) and, against a fake gateway on loopback TCP, endpoint
// failover, the leader-required header, error mapping and the request deadline.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd/client.h"
#include "cluster/etcd/codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cluster::etcd {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

TEST(EtcdCodecTest, PrefixEnd) {
  EXPECT_EQ(PrefixEnd("/berth/nodes/"), "/berth/nodes0");
  EXPECT_EQ(PrefixEnd("a\xff"), "b");
  EXPECT_EQ(PrefixEnd("\xff\xff"), std::string(1, '\0'));
  EXPECT_EQ(PrefixEnd(""), std::string(1, '\0'));
}

TEST(EtcdCodecTest, Requests) {
  GetOptions g;
  g.prefix = true;
  g.revision = 7;
  g.limit = 2;
  g.serializable = true;
  EXPECT_EQ(codec::RangeRequest("foo", g),
            json::parse(R"({"key":"Zm9v","range_end":"Zm9w","revision":"7","limit":"2",
                            "serializable":true})"));
  EXPECT_EQ(codec::RangeRequest("foo", {}), json::parse(R"({"key":"Zm9v"})"));
  // Every key: "\0" to "\0" (etcd refuses an empty key).
  EXPECT_EQ(codec::DeleteRequest("", true), json::parse(R"({"key":"AA==","range_end":"AA=="})"));
  EXPECT_EQ(codec::PutRequest("foo", "bar", 0), json::parse(R"({"key":"Zm9v","value":"YmFy"})"));
  EXPECT_EQ(codec::PutRequest("foo", "", 1234567890123456789),
            json::parse(R"({"key":"Zm9v","value":"","lease":"1234567890123456789"})"));
  EXPECT_EQ(codec::WatchCreateRequest("/a/", 12),
            json::parse(R"({"create_request":{"key":"L2Ev","range_end":"L2Ew",
                            "start_revision":"12"}})"));
  EXPECT_EQ(codec::WatchCreateRequest("/a/", 0),
            json::parse(R"({"create_request":{"key":"L2Ev","range_end":"L2Ew"}})"));
}

TEST(EtcdCodecTest, Txn) {
  json t = codec::TxnRequest(
      {Compare::Missing("foo"), Compare::ModRevisionIs("b", 5), Compare::ValueIs("c", "x")},
      {Op::Put("foo", "x", 9)}, {Op::Get("foo"), Op::Delete("p/", true)});
  EXPECT_EQ(t, json::parse(R"({
    "compare":[
      {"key":"Zm9v","target":"CREATE","result":"EQUAL","create_revision":"0"},
      {"key":"Yg==","target":"MOD","result":"EQUAL","mod_revision":"5"},
      {"key":"Yw==","target":"VALUE","result":"EQUAL","value":"eA=="}],
    "success":[{"request_put":{"key":"Zm9v","value":"eA==","lease":"9"}}],
    "failure":[{"request_range":{"key":"Zm9v"}},
               {"request_delete_range":{"key":"cC8=","range_end":"cDA="}}]})"));
}

TEST(EtcdCodecTest, Responses) {
  // Answers of etcd 3.4.23, as sent.
  auto range = codec::DecodeRange(json::parse(
      R"({"header":{"cluster_id":"2037210783374497686","member_id":"13195394291058371180",
          "revision":"2","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"2",
          "mod_revision":"2","version":"1","value":"YmFy","lease":"77"}],"count":"1"})"));
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(range->header.cluster_id, 2037210783374497686u);
  EXPECT_EQ(range->header.member_id, 13195394291058371180u);
  EXPECT_EQ(range->header.revision, 2);
  EXPECT_EQ(range->header.raft_term, 2u);
  ASSERT_EQ(range->kvs.size(), 1u);
  EXPECT_EQ(range->kvs[0].key, "foo");
  EXPECT_EQ(range->kvs[0].value, "bar");
  EXPECT_EQ(range->kvs[0].mod_revision, 2);
  EXPECT_EQ(range->kvs[0].lease, 77);
  EXPECT_EQ(range->count, 1);
  EXPECT_FALSE(range->more);
  EXPECT_FALSE(codec::DecodeRange(json::parse(R"({"kvs":[{"key":"%%%"}]})")).ok());

  auto txn = codec::DecodeTxn(json::parse(
      R"({"header":{"revision":"2"},"responses":[{"response_range":{"header":{"revision":"2"},
          "kvs":[{"key":"Zm9v","value":"YmFy"}],"count":"1"}},
          {"response_delete_range":{"header":{"revision":"2"}}}]})"));
  ASSERT_TRUE(txn.ok());
  EXPECT_FALSE(txn->succeeded);
  ASSERT_EQ(txn->ranges.size(), 1u);
  EXPECT_EQ(txn->ranges[0].kvs[0].value, "bar");

  auto members = codec::DecodeMembers(json::parse(
      R"({"members":[{"ID":"13195394291058371180","name":"a","peerURLs":["http://127.0.0.1:2380"],
          "clientURLs":["http://127.0.0.1:2379"]},{"ID":"5","peerURLs":["https://10.0.0.2:2380"],
          "isLearner":true}]})"));
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ((*members)[0].id, 13195394291058371180u);
  EXPECT_EQ((*members)[0].name, "a");
  EXPECT_EQ((*members)[1].name, "");  // added, not started yet
  EXPECT_TRUE((*members)[1].is_learner);
  EXPECT_EQ((*members)[1].peer_urls, std::vector<std::string>{"https://10.0.0.2:2380"});

  MemberStatus st = codec::DecodeStatus(json::parse(
      R"({"header":{"member_id":"9"},"version":"3.4.23","dbSize":"20480",
          "leader":"13195394291058371180","raftIndex":"9","raftTerm":"2"})"));
  EXPECT_EQ(st.version, "3.4.23");
  EXPECT_EQ(st.leader, 13195394291058371180u);
  EXPECT_EQ(st.raft_index, 9u);
  EXPECT_EQ(st.raft_term, 2u);
  EXPECT_EQ(st.db_size, 20480);
}

TEST(EtcdCodecTest, WatchMessages) {
  auto created = codec::DecodeWatchMessage(
      R"({"result":{"header":{"revision":"4","raft_term":"2"},"created":true}})");
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->header.revision, 4);

  auto ev = codec::DecodeWatchMessage(
      R"({"result":{"header":{"revision":"6"},"events":[{"kv":{"key":"Zm9v","create_revision":"4",
          "mod_revision":"5","version":"2","value":"YmFy"}},{"type":"DELETE","kv":{"key":"Zm9v",
          "mod_revision":"6"}}]}})");
  ASSERT_TRUE(ev.ok());
  ASSERT_EQ(ev->events.size(), 2u);
  EXPECT_EQ(ev->events[0].type, WatchEvent::Type::kPut);  // PUT is the zero value: left out
  EXPECT_EQ(ev->events[0].kv.value, "bar");
  EXPECT_EQ(ev->events[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(ev->events[1].kv.mod_revision, 6);

  auto compacted = codec::DecodeWatchMessage(
      R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"3"}})");
  ASSERT_TRUE(compacted.ok());
  EXPECT_TRUE(compacted->canceled);
  EXPECT_EQ(compacted->compact_revision, 3);

  auto err = codec::DecodeWatchMessage(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader",
          "http_status":"Service Unavailable"}})");
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsNoQuorum(err->error));

  EXPECT_FALSE(codec::DecodeWatchMessage("not json").ok());
}

TEST(EtcdCodecTest, Errors) {
  // Bodies as etcd 3.4.23 sent them.
  Status lease = codec::MapError(
      404,
      R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})",
      "lease revoke 1");
  EXPECT_EQ(lease.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(lease.message(), "etcd lease revoke 1: etcdserver: requested lease not found");
  EXPECT_FALSE(IsNoQuorum(lease));

  Status compacted = codec::MapError(
      400,
      R"({"error":"etcdserver: mvcc: required revision has been compacted","message":"etcdserver: mvcc: required revision has been compacted","code":11})",
      "get /a");
  EXPECT_EQ(compacted.code(), absl::StatusCode::kFailedPrecondition);

  Status no_leader = codec::MapError(
      503, R"({"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14})",
      "put /a");
  EXPECT_EQ(no_leader.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsNoQuorum(no_leader));
  EXPECT_TRUE(IsNoQuorum(codec::MapError(
      503,
      R"({"message":"etcdserver: request timed out, possibly due to previous leader failure","code":14})",
      "put /a")));
  EXPECT_TRUE(IsNoQuorum(
      codec::MapError(503, R"({"message":"etcdserver: leader changed","code":14})", "put /a")));

  Status bad =
      codec::MapError(400, R"({"error":"etcdserver: key is not provided","code":3})", "put ");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(), "etcd put : etcdserver: key is not provided");
  EXPECT_FALSE(IsNoQuorum(bad));

  EXPECT_EQ(codec::MapError(404, "404 page not found\n", "status").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(codec::MapError(503, "", "status").code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(IsNoQuorum(codec::MapError(503, "", "status")));
  EXPECT_TRUE(IsNoQuorum(absl::DeadlineExceededError("etcd put /a: no answer within 1s")));
  EXPECT_FALSE(IsNoQuorum(absl::UnavailableError("something else")));
}

// A fake JSON gateway on 127.0.0.1: one request per connection, answered by the handler's
// raw response (or not at all, while it sleeps).
class FakeGateway {
 public:
  struct Seen {
    std::string target, body, hasleader;
  };
  using Handler = std::function<std::string(const Seen&)>;

  explicit FakeGateway(Handler h) : handler_(std::move(h)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 8);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeGateway() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }

 private:
  void Loop() {
    for (;;) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string in;
      char buf[4096];
      size_t header_end = std::string::npos;
      size_t want = 0;
      for (;;) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
        if (header_end == std::string::npos) {
          header_end = in.find("\r\n\r\n");
          if (header_end != std::string::npos) {
            size_t cl = in.find("Content-Length: ");
            want = cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16));
          }
        }
        if (header_end != std::string::npos && in.size() >= header_end + 4 + want) break;
      }
      Seen s;
      size_t sp = in.find(' ');
      s.target = in.substr(sp + 1, in.find(' ', sp + 1) - sp - 1);
      s.body = in.substr(std::min(in.size(), header_end + 4));
      if (size_t h = in.find("Grpc-Metadata-Hasleader: "); h != std::string::npos)
        s.hasleader = in.substr(h + 25, in.find("\r\n", h) - h - 25);
      {
        std::lock_guard<std::mutex> l(mu_);
        seen_.push_back(s);
      }
      std::string out = handler_(s);
      if (!out.empty()) (void)!::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      ::close(c);
      if (stop_) return;
    }
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Seen> seen_;
  std::thread thread_;
};

std::string Json(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// A port nothing listens on: bound, never listening.
int DeadPort(int* keep) {
  *keep = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(*keep, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(*keep, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

TEST(EtcdClientTest, EndpointsInOrderAndLeaderRequired) {
  FakeGateway gw([](const FakeGateway::Seen& s) {
    if (s.target == "/v3/kv/put")
      return Json(200, R"({"header":{"revision":"12","raft_term":"3"}})");
    return Json(200, R"({"header":{"revision":"12"},"count":"0"})");
  });
  int keep = -1;
  int dead = DeadPort(&keep);
  Client c(ClientOptions{.endpoints = {"http://127.0.0.1:" + std::to_string(dead), gw.url()},
                         .request_timeout = 2000ms});
  auto put = c.Put("/k", "v");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->revision, 12);
  GetOptions ser;
  ser.serializable = true;
  ASSERT_TRUE(c.Get("/k", ser).ok());
  auto seen = gw.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target, "/v3/kv/put");
  EXPECT_EQ(json::parse(seen[0].body), json::parse(R"({"key":"L2s=","value":"dg=="})"));
  EXPECT_EQ(seen[0].hasleader, "true");
  EXPECT_EQ(seen[1].hasleader, "");  // a serializable read needs no leader
  ::close(keep);
}

TEST(EtcdClientTest, UnreachableIsNoQuorum) {
  int keep = -1;
  int dead = DeadPort(&keep);
  Client c(ClientOptions{.endpoints = {"http://127.0.0.1:" + std::to_string(dead)},
                         .request_timeout = 1000ms});
  auto put = c.Put("/k", "v");
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(put.status().message(), HasSubstr("etcd put /k: etcd member unreachable: "));
  EXPECT_THAT(put.status().message(), HasSubstr("connection refused"));
  EXPECT_TRUE(IsNoQuorum(put.status()));
  ::close(keep);
}

TEST(EtcdClientTest, ErrorsAndLeases) {
  FakeGateway gw([](const FakeGateway::Seen& s) {
    if (s.target == "/v3/kv/put")
      return Json(
          503, R"({"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14})");
    if (s.target == "/v3/lease/grant")
      return Json(200, R"({"header":{},"ID":"7668682617929507080","TTL":"5"})");
    // An expired lease: the keep-alive stream's one answer has no TTL.
    return Json(200, R"({"result":{"header":{"revision":"2"},"ID":"1"}})"
                     "\n");
  });
  Client c(ClientOptions{.endpoints = {gw.url()}, .request_timeout = 2000ms});
  auto put = c.Put("/k", "v");
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(put.status().message(), "etcd put /k: etcdserver: no leader");
  EXPECT_TRUE(IsNoQuorum(put.status()));
  auto lease = c.LeaseGrant(5s);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(*lease, 7668682617929507080);
  EXPECT_EQ(json::parse(gw.seen()[1].body), json::parse(R"({"TTL":"5"})"));
  auto ka = c.LeaseKeepAlive(1);
  EXPECT_EQ(ka.status().code(), absl::StatusCode::kNotFound);
}

TEST(EtcdClientTest, DeadlineIsKept) {
  std::atomic<bool> release{false};
  FakeGateway gw([&](const FakeGateway::Seen&) {
    // A member without quorum holds a write: no answer until the test ends.
    while (!release) std::this_thread::sleep_for(10ms);
    return std::string();
  });
  Client c(ClientOptions{.endpoints = {gw.url()}, .request_timeout = 300ms});
  auto t0 = std::chrono::steady_clock::now();
  auto put = c.Put("/k", "v");
  auto took = std::chrono::steady_clock::now() - t0;
  release = true;
  EXPECT_EQ(put.status().code(), absl::StatusCode::kDeadlineExceeded) << put.status();
  EXPECT_TRUE(IsNoQuorum(put.status()));
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 800ms);
}

TEST(EtcdClientTest, BadOptions) {
  Client c(ClientOptions{.endpoints = {"ftp://x"}, .request_timeout = 1000ms});
  EXPECT_EQ(c.Put("/k", "v").status().code(), absl::StatusCode::kInvalidArgument);
  Client none(ClientOptions{.request_timeout = 1000ms});
  EXPECT_EQ(none.Put("/k", "v").status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace berth::cluster::etcd
