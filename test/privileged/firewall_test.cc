// The firewall against the real kernel: real packets through throwaway namespaces.
//
//   outside ns "out" 192.0.2.2 ── veth ── "host" ns 192.0.2.1 (the berthd host; table inet berth here)
//                                          ├─ br-fwa 10.231.0.1/24 (icc, masquerade): c1 .2, c2 .3
//                                          ├─ br-fwb 10.231.1.1/24 (icc off):           c3 .2, c6 .3
//                                          └─ br-fwi 10.231.2.1/24 (internal):          c4 .2, c5 .3
//
// Every container and the outside run busybox httpd on :80, serving their name at / and the peer
// address they see at /cgi-bin/peer. Clients are sockets opened in a thread that has joined the
// namespace, so each check is one connect with a short timeout. The table is applied as berthd
// applies it, through berth-nft ($BERTH_BIN/berth-nft): the firewall is made on a thread inside
// "host", and its helper works there whichever thread talks to it. Needs root, nft, nsenter and
// busybox; skips with the reason otherwise. Every namespace and process is removed in TearDown, by
// name/PID.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "inet_test_util.h"
#include "network/firewall/firewall.h"
#include "sys/subprocess.h"

namespace berth::network::firewall {
namespace {

constexpr int kQuickMs = 2000;   // a check that must succeed
constexpr int kDeniedMs = 700;   // how long a dropped connection is given before it counts as refused

bool Exists(const char* path) { return ::access(path, X_OK) == 0; }

struct Result {
  bool ok = false;
  std::string body;   // the HTTP body (or the UDP payload)
  std::string error;  // why not
};

// Runs fn on a thread that has joined /run/netns/<ns>; the test's own thread never moves.
std::string InNetnsThread(const std::string& ns, const std::function<void()>& fn) {
  std::string error;
  std::thread t([&] {
    int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
      error = "setns " + ns + ": " + std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return;
    }
    ::close(fd);
    fn();
  });
  t.join();
  return error;
}

Result InNetns(const std::string& ns, const std::function<Result()>& fn) {
  Result r;
  std::string error = InNetnsThread(ns, [&] { r = fn(); });
  if (!error.empty()) r.error = error;
  return r;
}

// The network namespace a path (/run/netns/X, /proc/PID/ns/net) stands for: (device, inode).
std::pair<dev_t, ino_t> NetnsId(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {0, 0};
  return {st.st_dev, st.st_ino};
}

using ::berth::testing::Ipv4SockAddr;

bool WaitFd(int fd, short events, int ms) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, ms) == 1;
}

// One HTTP/1.0 GET with a deadline; the body on success.
Result HttpGet(const std::string& ip, int port, const std::string& path, int timeout_ms) {
  Result r;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in a = Ipv4SockAddr(ip, port);
  auto done = [&](const std::string& e) {
    ::close(fd);
    r.error = e;
    return r;
  };
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS)
    return done(std::string("connect: ") + std::strerror(errno));
  if (!WaitFd(fd, POLLOUT, timeout_ms)) return done("connect: timed out");
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) return done(std::string("connect: ") + std::strerror(err));
  std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return done("send");
  std::string resp;
  for (;;) {
    if (!WaitFd(fd, POLLIN, timeout_ms)) return done("read: timed out");
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) return done(std::string("read: ") + std::strerror(errno));
    if (n == 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  auto at = resp.find("\r\n\r\n");
  if (resp.rfind("HTTP/1.", 0) != 0 || resp.find(" 200 ") == std::string::npos || at == std::string::npos) {
    r.error = "bad response: " + resp;
    return r;
  }
  r.ok = true;
  r.body = resp.substr(at + 4);
  while (!r.body.empty() && (r.body.back() == '\n' || r.body.back() == '\r')) r.body.pop_back();
  return r;
}

class FirewallNet : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    for (const char* p : {"/usr/sbin/nft", "/usr/bin/nsenter", "/usr/bin/busybox", "/usr/sbin/ip"})
      if (!Exists(p)) GTEST_SKIP() << "needs " << p;
    char tmpl[] = "/tmp/berth-fw-priv-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;

    host_ = NewNs("host");
    out_ = NewNs("out");
    Sys(host_, "net.ipv4.ip_forward=1");
    // The controller's job (see firewall.h): replies to the host's 127.0.0.1 connections to a
    // published port come back over the bridge to a loopback address.
    for (const auto& [br, gw] : std::vector<std::pair<std::string, std::string>>{
             {"br-fwa", "10.231.0.1/24"}, {"br-fwb", "10.231.1.1/24"}, {"br-fwi", "10.231.2.1/24"}}) {
      Ip(host_, "link add " + br + " type bridge");
      Ip(host_, "addr add " + gw + " dev " + br);
      Ip(host_, "link set " + br + " up");
      Sys(host_, "net.ipv4.conf." + br + ".route_localnet=1");
    }
    Container("c1", "br-fwa", "10.231.0.2", "10.231.0.1");
    Container("c2", "br-fwa", "10.231.0.3", "10.231.0.1");
    Container("c3", "br-fwb", "10.231.1.2", "10.231.1.1");
    Container("c6", "br-fwb", "10.231.1.3", "10.231.1.1");
    Container("c4", "br-fwi", "10.231.2.2", "10.231.2.1");
    Container("c5", "br-fwi", "10.231.2.3", "10.231.2.1");
    Ip(host_, "link add vout type veth peer name eth0 netns " + out_);
    Ip(host_, "addr add 192.0.2.1/24 dev vout");
    Ip(host_, "link set vout up");
    Ip(out_, "addr add 192.0.2.2/24 dev eth0");
    Ip(out_, "link set eth0 up");
    // The outside could route to the containers directly: the firewall must stop that.
    Ip(out_, "route add 10.231.0.0/16 via 192.0.2.1");
    Httpd("out");
    Httpd("host");  // a service on the host itself, for the "containers reach the gateway" check

    // berthd's firewall, made (and first used) on a thread inside the test's host namespace.
    const char* bin = std::getenv("BERTH_BIN");
    if (bin == nullptr) GTEST_SKIP() << "needs BERTH_BIN (ctest sets it) to find berth-nft";
    helper_ = std::string(bin) + "/berth-nft";
    ASSERT_TRUE(Exists(helper_.c_str())) << helper_ << " is not built";
    Status check, applied;
    ASSERT_EQ(InNetnsThread(host_, [&] {
                fw_ = NewNftHelperFirewall(helper_);
                check = fw_->Check();
                applied = fw_->Apply(TestModel());
              }),
              "");
    ASSERT_TRUE(check.ok()) << check;
    ASSERT_TRUE(applied.ok()) << applied;
    ASSERT_EQ(NetnsId("/proc/" + std::to_string(fw_->HelperPid()) + "/ns/net"), NetnsId("/run/netns/" + host_));
  }

  void TearDown() override {
    fw_.reset();  // its helper ends (EOF on its stdin) and is reaped
    for (pid_t pid : pids_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    for (const auto& ns : namespaces_) Run({"ip", "netns", "del", ns});
    if (!dir_.empty()) Run({"rm", "-rf", dir_});
  }

  static Model TestModel() {
    Model m;
    m.bridges.push_back({"br-fwa", "10.231.0.0/24", "10.231.0.1"});
    Bridge b{"br-fwb", "10.231.1.0/24", "10.231.1.1"};
    b.icc = false;
    m.bridges.push_back(b);
    Bridge i{"br-fwi", "10.231.2.0/24", "10.231.2.1"};
    i.internal = true;
    m.bridges.push_back(i);
    m.ports.push_back({"tcp", "0.0.0.0", 8080, "10.231.0.2", 80, "br-fwa"});     // c1
    m.ports.push_back({"tcp", "127.0.0.1", 8081, "10.231.0.3", 80, "br-fwa"});   // c2, loopback only
    m.ports.push_back({"tcp", "192.0.2.1", 8082, "10.231.1.2", 80, "br-fwb"});   // c3, one address
    m.ports.push_back({"tcp", "", 8083, "10.231.1.2", 80, "br-fwb"});            // c3
    m.ports.push_back({"udp", "", 5353, "10.231.0.2", 5353, "br-fwa"});          // c1
    return m;
  }

  // The namespace names of this test: bt-fw-<pid>-<n>.
  std::string NewNs(const std::string& role) {
    static int n = 0;
    std::string ns = "bt-fw-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    Must({"ip", "netns", "add", ns});
    namespaces_.push_back(ns);
    names_[role] = ns;
    Ip(ns, "link set lo up");
    return ns;
  }

  void Container(const std::string& name, const std::string& bridge, const std::string& ip,
                 const std::string& gw) {
    std::string ns = NewNs(name);
    std::string veth = "v" + name;
    Ip(host_, "link add " + veth + " type veth peer name eth0 netns " + ns);
    Ip(host_, "link set " + veth + " master " + bridge);
    // With br_netfilter the DNAT of a container's packet to its own published port happens while the
    // frame is still being bridged, and the bridge must send it back out the port it came in on.
    Ip(host_, "link set " + veth + " type bridge_slave hairpin on");
    Ip(host_, "link set " + veth + " up");
    Ip(ns, "addr add " + ip + "/24 dev eth0");
    Ip(ns, "link set eth0 up");
    Ip(ns, "route add default via " + gw);
    Httpd(name);
  }

  // busybox httpd in the namespace of `role`, serving the name at / and the peer at /cgi-bin/peer.
  void Httpd(const std::string& role) {
    std::string root = dir_ + "/www-" + role;
    ::mkdir(root.c_str(), 0755);
    ::mkdir((root + "/cgi-bin").c_str(), 0755);
    std::ofstream(root + "/index.html") << role << "\n";
    std::string cgi = root + "/cgi-bin/peer";
    std::ofstream(cgi) << "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' \"$REMOTE_ADDR\"\n";
    ::chmod(cgi.c_str(), 0755);
    auto pid = sys::Spawn({"/usr/bin/nsenter", "--net=/run/netns/" + names_[role], "/usr/bin/busybox", "httpd",
                           "-f", "-p", "80", "-h", root});
    ASSERT_TRUE(pid.ok()) << pid.status();
    pids_.push_back(*pid);
    for (int i = 0; i < 100; ++i) {
      if (InNetns(names_[role], [] { return HttpGet("127.0.0.1", 80, "/", 200); }).ok) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "httpd in " << role << " did not start";
  }

  // GET http://ip:port/path from the namespace of `role`.
  Result Get(const std::string& role, const std::string& ip, int port, const std::string& path = "/",
             int timeout_ms = kQuickMs) {
    return InNetns(names_[role], [&] { return HttpGet(ip, port, path, timeout_ms); });
  }
  // Asserts the request is answered by `who`.
  void ExpectServedBy(const std::string& role, const std::string& ip, int port, const std::string& who) {
    Result r = Get(role, ip, port);
    EXPECT_TRUE(r.ok) << role << " -> " << ip << ":" << port << ": " << r.error;
    EXPECT_EQ(r.body, who) << role << " -> " << ip << ":" << port;
  }
  void ExpectPeerSeen(const std::string& role, const std::string& ip, int port, const std::string& peer) {
    Result r = Get(role, ip, port, "/cgi-bin/peer");
    EXPECT_TRUE(r.ok) << role << " -> " << ip << ":" << port << "/cgi-bin/peer: " << r.error;
    // busybox httpd listens on a dual-stack socket: "[::ffff:192.0.2.1]".
    std::string seen = r.body;
    if (seen.rfind("[::ffff:", 0) == 0 && seen.back() == ']') seen = seen.substr(8, seen.size() - 9);
    EXPECT_EQ(seen, peer) << "source address seen by " << ip << ":" << port << " for " << role;
  }
  void ExpectDenied(const std::string& role, const std::string& ip, int port) {
    Result r = Get(role, ip, port, "/", kDeniedMs);
    EXPECT_FALSE(r.ok) << role << " -> " << ip << ":" << port << " should not connect, got: " << r.body;
  }

  std::string NftList() {
    auto r = sys::Run({"/usr/bin/nsenter", "--net=/run/netns/" + host_, "/usr/sbin/nft", "list", "table", "inet",
                       "berth"});
    return r.ok() && r->exit_code == 0 ? r->out : "";
  }

  // The table's handle: a new one each time the table is replaced whole, the same while only its
  // elements change. "" when there is no table.
  std::string TableHandle() {
    auto r = sys::Run({"/usr/bin/nsenter", "--net=/run/netns/" + host_, "/usr/sbin/nft", "-a", "list", "table",
                       "inet", "berth"});
    if (!r.ok() || r->exit_code != 0) return "";
    auto at = r->out.find("# handle ");
    return at == std::string::npos ? "" : r->out.substr(at, r->out.find('\n', at) - at);
  }

  static sys::RunResult Run(const std::vector<std::string>& argv) {
    auto r = sys::Run(argv);
    if (!r.ok()) return sys::RunResult{-1, "", std::string(r.status().message())};
    return *r;
  }
  void Must(const std::vector<std::string>& argv) {
    auto r = Run(argv);
    std::string cmd;
    for (const auto& a : argv) cmd += a + " ";
    ASSERT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
  }
  void Ip(const std::string& ns, const std::string& args) {
    std::vector<std::string> argv = {"/usr/sbin/ip", "-n", ns};
    size_t pos = 0;
    while (pos < args.size()) {
      size_t sp = args.find(' ', pos);
      if (sp == std::string::npos) sp = args.size();
      argv.push_back(args.substr(pos, sp - pos));
      pos = sp + 1;
    }
    Must(argv);
  }
  void Sys(const std::string& ns, const std::string& kv) {
    Must({"/usr/bin/nsenter", "--net=/run/netns/" + ns, "sysctl", "-q", "-w", kv});
  }

  std::string dir_, host_, out_;
  std::vector<std::string> namespaces_;
  std::map<std::string, std::string> names_;  // role -> namespace
  std::vector<pid_t> pids_;
  std::string helper_;  // $BERTH_BIN/berth-nft
  std::unique_ptr<NftHelperFirewall> fw_;
};

TEST_F(FirewallNet, ContainersReachTheOutsideMasqueraded) {
  ExpectServedBy("c1", "192.0.2.2", 80, "out");
  ExpectPeerSeen("c1", "192.0.2.2", 80, "192.0.2.1");
  ExpectPeerSeen("c3", "192.0.2.2", 80, "192.0.2.1");
}

TEST_F(FirewallNet, PublishedPortFromOutside) {
  ExpectServedBy("out", "192.0.2.1", 8080, "c1");
  ExpectPeerSeen("out", "192.0.2.1", 8080, "192.0.2.2");  // DNAT only: the container sees the client
  ExpectServedBy("out", "192.0.2.1", 8082, "c3");         // bound to that very address
  ExpectServedBy("out", "192.0.2.1", 8083, "c3");
}

TEST_F(FirewallNet, PublishedPortFromTheHostItself) {
  ExpectServedBy("host", "127.0.0.1", 8080, "c1");
  ExpectServedBy("host", "192.0.2.1", 8080, "c1");
  ExpectServedBy("host", "10.231.0.1", 8080, "c1");
  ExpectServedBy("host", "127.0.0.1", 8081, "c2");  // the loopback-only port
  ExpectPeerSeen("host", "127.0.0.1", 8081, "10.231.0.1");  // masqueraded off loopback
  ExpectServedBy("host", "192.0.2.1", 8082, "c3");
  ExpectDenied("host", "127.0.0.1", 8082);  // bound to 192.0.2.1 only
}

TEST_F(FirewallNet, LoopbackBoundPortIsNotReachableFromElsewhere) {
  ExpectDenied("out", "192.0.2.1", 8081);
  ExpectDenied("c1", "10.231.0.1", 8081);
  ExpectDenied("c3", "192.0.2.1", 8081);
  ExpectDenied("out", "192.0.2.1", 8084);  // nothing published there
}

TEST_F(FirewallNet, ContainersAreNotReachableDirectlyFromOutside) {
  // Docker's filter rules accepted this for published container ports whatever the bind address.
  ExpectDenied("out", "10.231.0.2", 80);
  ExpectDenied("out", "10.231.0.3", 80);
  ExpectDenied("out", "10.231.1.2", 80);
}

// A container with route_localnet-style tricks sends to 127.0.0.1 through its gateway: the bridge has
// route_localnet on, so only the raw_prerouting guard stops it reaching the host's loopback services
// (CVE-2020-8558) and the loopback-bound published port.
TEST_F(FirewallNet, SpoofedLoopbackDestinationFromAContainerIsDropped) {
  std::string c3 = names_["c3"];
  Sys(c3, "net.ipv4.conf.eth0.route_localnet=1");
  Ip(c3, "route add 127.0.0.1/32 via 10.231.1.1 dev eth0 table 100");
  Ip(c3, "rule add pref 10 to 127.0.0.1/32 ipproto tcp dport 80 lookup 100");
  Ip(c3, "rule add pref 11 to 127.0.0.1/32 ipproto tcp dport 8081 lookup 100");
  // The local table is consulted at preference 0: move it behind our rules.
  Ip(c3, "rule add pref 100 lookup local");
  Ip(c3, "rule del pref 0 lookup local");
  ExpectDenied("c3", "127.0.0.1", 80);    // the host's httpd listens on every address, 127.0.0.1 too
  ExpectDenied("c3", "127.0.0.1", 8081);
  // Proof that the packets really leave for the host: without our table the host's loopback answers.
  ASSERT_TRUE(fw_->Remove().ok());
  ExpectServedBy("c3", "127.0.0.1", 80, "host");
}

TEST_F(FirewallNet, HairpinThroughAHostAddress) {
  ExpectServedBy("c1", "10.231.0.1", 8080, "c1");  // its own published port
  ExpectServedBy("c1", "192.0.2.1", 8080, "c1");
  ExpectServedBy("c2", "192.0.2.1", 8080, "c1");   // a sibling's
  ExpectPeerSeen("c2", "192.0.2.1", 8080, "10.231.0.1");
  ExpectPeerSeen("c1", "10.231.0.1", 8080, "10.231.0.1");
  // With icc off, the published port stays the way in.
  ExpectServedBy("c6", "10.231.1.1", 8083, "c3");
  // A published port is public: containers of other networks reach it as the outside does.
  ExpectServedBy("c3", "192.0.2.1", 8080, "c1");
}

TEST_F(FirewallNet, BridgesAreIsolatedAndIccOffIsolatesContainers) {
  ExpectServedBy("c1", "10.231.0.3", 80, "c2");  // icc on
  ExpectDenied("c1", "10.231.1.2", 80);
  ExpectDenied("c3", "10.231.0.2", 80);
  if (::access("/proc/sys/net/bridge/bridge-nf-call-iptables", F_OK) != 0)
    GTEST_SKIP() << "icc=false needs br_netfilter here (or bridge port isolation by the driver)";
  ExpectDenied("c6", "10.231.1.2", 80);  // icc off
  ExpectDenied("c3", "10.231.1.3", 80);
}

TEST_F(FirewallNet, InternalNetworkTalksOnlyToItselfAndTheGateway) {
  ExpectServedBy("c4", "10.231.2.3", 80, "c5");
  ExpectServedBy("c4", "10.231.2.1", 80, "host");  // the gateway address is the host's
  ExpectDenied("c4", "192.0.2.2", 80);
  ExpectDenied("c4", "10.231.0.2", 80);
  ExpectDenied("c4", "192.0.2.1", 8080);  // not even through a published port
  ExpectDenied("c1", "10.231.2.2", 80);
  ExpectDenied("out", "10.231.2.2", 80);
}

TEST_F(FirewallNet, PublishedUdpPort) {
  Result r = InNetns(names_["c1"], [&]() -> Result {
    Result res;
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = Ipv4SockAddr("0.0.0.0", 5353);
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      res.error = "bind";
      ::close(s);
      return res;
    }
    std::thread sender([&] {
      InNetns(names_["out"], [] {
        int c = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in to = Ipv4SockAddr("192.0.2.1", 5353);
        for (int i = 0; i < 5; ++i) {  // the first datagram may meet an unresolved neighbour
          ::sendto(c, "ping", 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        ::close(c);
        return Result{};
      });
    });
    if (WaitFd(s, POLLIN, kQuickMs)) {
      char buf[16];
      sockaddr_in from{};
      socklen_t fl = sizeof from;
      ssize_t n = ::recvfrom(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
      char ip[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
      res.ok = n > 0;
      res.body = std::string(buf, n > 0 ? static_cast<size_t>(n) : 0) + " from " + ip;
    } else {
      res.error = "no datagram";
    }
    sender.join();
    ::close(s);
    return res;
  });
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.body, "ping from 192.0.2.2");
}

TEST_F(FirewallNet, ApplyIsIdempotentAndFollowsTheModelAndRemoveLeavesNothing) {
  std::string first = NftList();
  ASSERT_NE(first, "");
  ASSERT_TRUE(fw_->Apply(TestModel()).ok());
  EXPECT_EQ(NftList(), first);
  ExpectServedBy("out", "192.0.2.1", 8080, "c1");

  // A mapping removed from the model is gone: no stale element, no stale rule.
  Model m = TestModel();
  m.ports.erase(m.ports.begin());
  ASSERT_TRUE(fw_->Apply(m).ok());
  ExpectDenied("out", "192.0.2.1", 8080);
  EXPECT_EQ(NftList().find("10.231.0.2 . 80"), std::string::npos);

  ASSERT_TRUE(fw_->Remove().ok());
  EXPECT_EQ(NftList(), "");
  ASSERT_TRUE(fw_->Remove().ok()) << "Remove of an absent table must succeed";
  auto r = sys::Run({"/usr/bin/nsenter", "--net=/run/netns/" + host_, "/usr/sbin/nft", "list", "ruleset"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "");
}

TEST_F(FirewallNet, FailedTransactionChangesNothing) {
  std::string before = NftList();
  // An nft that appends a broken line to a valid script: the whole transaction must be refused.
  std::string broken = dir_ + "/nft-broken";
  std::ofstream(broken) << "#!/bin/sh\n{ cat; echo 'add rule inet berth nosuchchain drop'; } | "
                        << "exec /usr/bin/nsenter --net=/run/netns/" << host_ << " /usr/sbin/nft \"$@\"\n";
  ::chmod(broken.c_str(), 0755);
  Model m = TestModel();
  m.ports.clear();
  Status st = NewNftCommandFirewall(broken)->Apply(m);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(std::string(st.message()).find("nosuchchain"), std::string::npos) << st;
  EXPECT_EQ(NftList(), before);
  ExpectServedBy("out", "192.0.2.1", 8080, "c1");
}

// The command firewall (an `nft -f -` per change, kept for tests) makes the very table the helper does.
TEST_F(FirewallNet, NftCommandMakesTheSameTableAsTheHelper) {
  std::string applied = NftList();  // by the helper in SetUp
  std::string wrapper = dir_ + "/nft";
  std::ofstream(wrapper) << "#!/bin/sh\nexec /usr/bin/nsenter --net=/run/netns/" << host_
                         << " /usr/sbin/nft \"$@\"\n";
  ::chmod(wrapper.c_str(), 0755);
  auto fw = NewNftCommandFirewall(wrapper);
  ASSERT_TRUE(fw->Check().ok()) << fw->Check();
  ASSERT_TRUE(fw->Remove().ok());
  EXPECT_EQ(NftList(), "");
  ASSERT_TRUE(fw->Apply(TestModel()).ok());
  EXPECT_EQ(NftList(), applied);
  ExpectServedBy("out", "192.0.2.1", 8080, "c1");
}

// A container's ports coming and going are sent as element changes (RenderPortDelta): the table
// they leave lists exactly as the one Render writes whole for the same model.
TEST_F(FirewallNet, PortChangesByElementsLeaveTheTableRenderWouldMake) {
  std::string wrapper = dir_ + "/nft";
  std::ofstream(wrapper) << "#!/bin/sh\nexec /usr/bin/nsenter --net=/run/netns/" << host_
                         << " /usr/sbin/nft \"$@\"\n";
  ::chmod(wrapper.c_str(), 0755);
  auto whole = NewNftCommandFirewall(wrapper);
  std::vector<Model> steps;
  Model m = TestModel();
  m.ports.push_back({"tcp", "", 8090, "10.231.0.3", 80, "br-fwa"});  // c2 published
  steps.push_back(m);
  m.ports.erase(m.ports.begin());  // c1's 8080 gone
  steps.push_back(m);
  m.ports[0].container_ip = "10.231.0.2";  // 8081 now to c1
  m.ports.push_back({"tcp", "127.0.0.1", 8091, "10.231.2.2", 80, "br-fwi"});  // internal: no element
  steps.push_back(m);
  m.ports.clear();
  steps.push_back(m);
  steps.push_back(TestModel());
  for (size_t i = 0; i < steps.size(); ++i) {
    ASSERT_TRUE(RenderPortDelta(i == 0 ? TestModel() : steps[i - 1], steps[i]).has_value());
    std::string handle = TableHandle();
    ASSERT_NE(handle, "");
    Status st = fw_->Apply(steps[i]);
    ASSERT_TRUE(st.ok()) << "step " << i << ": " << st;
    EXPECT_EQ(TableHandle(), handle) << "step " << i << ": the table was replaced, not updated";
    std::string by_delta = NftList();
    ASSERT_TRUE(whole->Apply(steps[i]).ok());
    EXPECT_EQ(by_delta, NftList()) << "step " << i;
  }
  ExpectServedBy("out", "192.0.2.1", 8080, "c1");
}

// The table changed behind berthd's back: the element update is refused, and the table is replaced
// whole instead, in the same call.
TEST_F(FirewallNet, ATableChangedBehindOurBackIsReplacedWhole) {
  auto r = sys::Run({"/usr/bin/nsenter", "--net=/run/netns/" + host_, "/usr/sbin/nft", "delete", "element",
                     "inet", "berth", "published_any", "{", "tcp", ".", "8083", "}"});
  ASSERT_TRUE(r.ok() && r->exit_code == 0) << (r.ok() ? r->err : r.status().ToString());
  ExpectDenied("out", "192.0.2.1", 8083);
  std::string handle = TableHandle();
  Model m = TestModel();
  m.ports.erase(m.ports.begin() + 3);  // 8083: its deletion finds nothing in the kernel
  m.ports.push_back({"tcp", "", 8084, "10.231.1.2", 80, "br-fwb"});
  Status st = fw_->Apply(m);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_NE(TableHandle(), handle) << "the table should have been replaced whole";
  ExpectServedBy("out", "192.0.2.1", 8084, "c3");
  ExpectServedBy("out", "192.0.2.1", 8080, "c1");
  ExpectDenied("out", "192.0.2.1", 8083);
}

// The helper lives in the namespace the firewall was made in: restarted from this thread, which is
// in the test process's own namespace, it still works in "host". A Check (a dry run, which changes
// nothing wherever it runs) restarts it first, so its namespace is proven before anything is applied.
TEST_F(FirewallNet, AKilledHelperIsRestartedInTheSameNamespaceAndTheChangeGoesThrough) {
  int first = fw_->HelperPid();
  ASSERT_GT(first, 0);
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  Status st = fw_->Check();
  ASSERT_TRUE(st.ok()) << st;
  int second = fw_->HelperPid();
  ASSERT_GT(second, 0);
  EXPECT_NE(second, first);
  ASSERT_EQ(NetnsId("/proc/" + std::to_string(second) + "/ns/net"), NetnsId("/run/netns/" + host_));
  ASSERT_NE(NetnsId("/proc/self/ns/net"), NetnsId("/run/netns/" + host_));

  // Killed again, between changes: the next Apply finds it gone, restarts it and applies.
  ASSERT_EQ(::kill(second, SIGKILL), 0);
  Model m = TestModel();
  m.ports.erase(m.ports.begin());  // c1's 8080
  st = fw_->Apply(m);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_NE(fw_->HelperPid(), second);
  EXPECT_EQ(NftList().find("10.231.0.2 . 80"), std::string::npos);
  ExpectDenied("out", "192.0.2.1", 8080);
  ExpectServedBy("out", "192.0.2.1", 8082, "c3");
}

// A transaction nft refuses, through the real helper: a wrapper breaks one rule of the script on its
// way in (same length, so the frame stays valid). nft's text comes back; the table is as it was.
TEST_F(FirewallNet, AScriptNftRefusesComesBackWithNftsTextAndChangesNothing) {
  std::string before = NftList();
  std::string broken = dir_ + "/berth-nft-broken";
  std::ofstream(broken) << "#!/bin/sh\nsed -u 's/jump from_bridge$/jump from_bridgX/' | exec " << helper_
                        << " \"$@\"\n";
  ::chmod(broken.c_str(), 0755);
  std::unique_ptr<NftHelperFirewall> fw;
  Status st;
  ASSERT_EQ(InNetnsThread(host_, [&] {
              fw = NewNftHelperFirewall(broken);
              Model m = TestModel();
              m.ports.clear();
              st = fw->Apply(m);
            }),
            "");
  EXPECT_TRUE(absl::IsInternal(st)) << st;
  // nft's own text, pointing at the line at fault.
  EXPECT_EQ(std::string(st.message()).rfind("apply table inet berth: nft: script:", 0), 0u) << st;
  EXPECT_NE(std::string(st.message()).find("Error: Could not process rule: No such file or directory\n"
                                           "\t\tiifname @bridges jump from_bridgX\n"),
            std::string::npos)
      << st;
  EXPECT_GT(fw->HelperPid(), 0) << "a refused script is an answer, not a dead helper";
  fw.reset();
  EXPECT_EQ(NftList(), before);
  ExpectServedBy("out", "192.0.2.1", 8080, "c1");
}

TEST_F(FirewallNet, AMissingHelperIsAClearErrorAndChangesNothing) {
  std::string before = NftList();
  auto fw = NewNftHelperFirewall(dir_ + "/no-berth-nft-here");
  Status st = fw->Apply(Model{});
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(std::string(st.message()).find("berth-nft not found at " + dir_ + "/no-berth-nft-here"),
            std::string::npos)
      << st;
  EXPECT_EQ(NftList(), before);
}

}  // namespace
}  // namespace berth::network::firewall
