// The mesh table (network/mesh/mesh.h) against the real kernel: real connections through
// throwaway namespaces, the table applied as berthd applies it, through berth-nft.
//
//   client ns 192.0.2.2 ── veth ── node ns 192.0.2.1 (table ip berth-mesh with ingress here)
//                                   └─ br-mesh 10.233.0.1/24 (route_localnet on)
//                                       ├─ b1 10.233.0.11   local backend
//                                       ├─ b2 10.233.0.12   local backend
//                                       ├─ b3 10.233.0.13   "remote" backend (SNATed to 10.233.0.1)
//                                       └─ c  10.233.0.20   a container: table ip berth-mesh, VIPs only
//
// b3 stands in for a task on another node: it is reached the same way, but the model marks it
// remote, so the node must SNAT what it hands it (and the test sees that it does). Each backend
// runs a TCP server on :80, a thread of this test with its listening socket made inside the
// backend's namespace: on accept it sends "<name> <peer address>\n", then answers every chunk it
// reads with "<name>\n" until EOF. Clients are sockets made inside the client's namespace. Every
// namespace is named bt-mesh-<pid>-<n> and removed in TearDown (their links, bridge and tables go
// with them); the helpers end with their tables, the server threads are joined.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "inet_test_util.h"
#include "network/mesh/mesh.h"
#include "sys/subprocess.h"

namespace berth::network::mesh {
namespace {

constexpr int kTimeoutMs = 2000;
constexpr char kNode[] = "10.233.0.1";
constexpr char kVip[] = "10.233.0.100";
constexpr int kPublished = 8080;
constexpr int kPublishedUdp = 5353;

bool Exists(const char* path) { return ::access(path, X_OK) == 0; }

// Runs fn on a thread that has joined /run/netns/<ns>; the test's own thread never moves.
std::string InNetns(const std::string& ns, const std::function<void()>& fn) {
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

// A socket of the given type made in namespace ns (a socket stays in the namespace it was made in).
int SocketIn(const std::string& ns, int type) {
  int fd = -1;
  InNetns(ns, [&] { fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0); });
  return fd;
}

using ::berth::testing::Ipv4SockAddr;

bool WaitFd(int fd, short events, int ms) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, ms) == 1;
}

// One line (up to '\n', without it) from fd, "" on EOF, error or timeout.
std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (WaitFd(fd, POLLIN, kTimeoutMs) && ::read(fd, &c, 1) == 1) {
    if (c == '\n') return line;
    line += c;
  }
  return "";
}

// An open connection from a namespace to ip:port, with the server's greeting read.
struct Conn {
  int fd = -1;
  int error = 0;          // errno of a failed connect (ECONNREFUSED, ETIMEDOUT)
  std::string backend;    // who answered
  std::string peer_seen;  // the client address the backend saw
  Conn() = default;
  Conn(Conn&& o) noexcept : fd(o.fd), error(o.error), backend(std::move(o.backend)), peer_seen(std::move(o.peer_seen)) {
    o.fd = -1;
  }
  Conn& operator=(Conn&& o) noexcept {
    std::swap(fd, o.fd);
    error = o.error;
    backend = std::move(o.backend);
    peer_seen = std::move(o.peer_seen);
    return *this;
  }
  ~Conn() {
    if (fd >= 0) ::close(fd);
  }
  bool ok() const { return fd >= 0 && !backend.empty(); }
  // Sends a chunk on the open connection; the backend's answer ("" if none).
  std::string Ask() {
    if (::send(fd, "?\n", 2, MSG_NOSIGNAL) != 2) return "";
    return ReadLine(fd);
  }
};

Conn Connect(const std::string& ns, const std::string& ip, int port) {
  Conn c;
  int fd = SocketIn(ns, SOCK_STREAM | SOCK_NONBLOCK);
  if (fd < 0) {
    c.error = errno;
    return c;
  }
  sockaddr_in a = Ipv4SockAddr(ip, port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    c.error = errno;
    ::close(fd);
    return c;
  }
  if (!WaitFd(fd, POLLOUT, kTimeoutMs)) {
    c.error = ETIMEDOUT;
    ::close(fd);
    return c;
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    c.error = err;
    ::close(fd);
    return c;
  }
  c.fd = fd;
  std::string hello = ReadLine(fd);
  auto sp = hello.find(' ');
  if (sp != std::string::npos) {
    c.backend = hello.substr(0, sp);
    c.peer_seen = hello.substr(sp + 1);
  }
  return c;
}

// The backends' servers: one accepting thread for all, one short thread per connection.
class Servers {
 public:
  Servers() : stop_(::eventfd(0, EFD_CLOEXEC)) {}
  ~Servers() { Stop(); }

  // Listens on 0.0.0.0:port inside ns; connections are answered as `name`.
  bool Listen(const std::string& ns, const std::string& name, int port) {
    int fd = SocketIn(ns, SOCK_STREAM | SOCK_NONBLOCK);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = Ipv4SockAddr("0.0.0.0", port);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 512) != 0) return false;
    listeners_.push_back({fd, name});
    return true;
  }

  // Answers every datagram on 0.0.0.0:port inside ns with "<name> <peer address>".
  bool ListenUdp(const std::string& ns, const std::string& name, int port) {
    int fd = SocketIn(ns, SOCK_DGRAM | SOCK_NONBLOCK);
    sockaddr_in a = Ipv4SockAddr("0.0.0.0", port);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    listeners_.push_back({fd, name, true});
    return true;
  }

  void Start() {
    acceptor_ = std::thread([this] { Accept(); });
  }

  void Stop() {
    if (stopping_.exchange(true)) return;
    uint64_t one = 1;
    (void)!::write(stop_, &one, sizeof one);
    if (acceptor_.joinable()) acceptor_.join();
    for (auto& t : handlers_) t.join();
    for (auto& l : listeners_) ::close(l.fd);
    ::close(stop_);
  }

 private:
  struct Listener {
    int fd;
    std::string name;
    bool udp = false;
  };

  void Accept() {
    std::vector<pollfd> fds;
    for (auto& l : listeners_) fds.push_back({l.fd, POLLIN, 0});
    fds.push_back({stop_, POLLIN, 0});
    for (;;) {
      if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
      if (fds.back().revents) return;
      for (size_t i = 0; i < listeners_.size(); ++i) {
        if (!fds[i].revents) continue;
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        char ip[INET_ADDRSTRLEN];
        if (listeners_[i].udp) {
          char buf[256];
          if (::recvfrom(listeners_[i].fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &len) < 0) continue;
          ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
          std::string answer = listeners_[i].name + " " + ip + "\n";
          ::sendto(listeners_[i].fd, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&peer), len);
          continue;
        }
        int c = ::accept4(listeners_[i].fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
        if (c < 0) continue;
        ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
        handlers_.emplace_back([this, c, name = listeners_[i].name, peer_ip = std::string(ip)] {
          Serve(c, name, peer_ip);
        });
      }
    }
  }

  // Greets, then answers each chunk until the client closes (or the servers stop).
  void Serve(int c, const std::string& name, const std::string& peer) {
    std::string hello = name + " " + peer + "\n";
    (void)!::send(c, hello.data(), hello.size(), MSG_NOSIGNAL);
    pollfd p[2] = {{c, POLLIN, 0}, {stop_, POLLIN, 0}};
    for (;;) {
      if (::poll(p, 2, -1) < 0 && errno != EINTR) break;
      if (p[1].revents) break;
      char buf[256];
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      std::string answer = name + "\n";
      (void)!::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
    }
    ::close(c);
  }

  int stop_;
  std::atomic<bool> stopping_{false};
  std::vector<Listener> listeners_;
  std::thread acceptor_;
  std::vector<std::thread> handlers_;  // touched by the acceptor only, joined after it
};

// One datagram from a new socket of ns (so a new conntrack flow) to ip:port: "<backend> <peer>",
// "refused" when an ICMP port unreachable came back, "send refused" when the datagram was
// dropped on its way out of this very namespace (a reject in the output hook: send() fails with
// EPERM, and the ICMP error follows), "" on silence.
std::string UdpAsk(const std::string& ns, const std::string& ip, int port) {
  int fd = SocketIn(ns, SOCK_DGRAM);
  sockaddr_in a = Ipv4SockAddr(ip, port);
  std::string answer;
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::send(fd, "?", 1, 0) != 1 &&
      errno == EPERM) {
    answer = "send refused";
  } else if (fd >= 0 && WaitFd(fd, POLLIN, kTimeoutMs)) {
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) answer.assign(buf, static_cast<size_t>(n) - 1);  // without the newline
    if (n < 0 && errno == ECONNREFUSED) answer = "refused";
  }
  if (fd >= 0) ::close(fd);
  return answer;
}

class MeshNet : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    for (const char* p : {"/usr/sbin/nft", "/usr/bin/nsenter", "/usr/sbin/ip"})
      if (!Exists(p)) GTEST_SKIP() << "needs " << p;
    const char* bin = std::getenv("BERTH_BIN");
    if (bin == nullptr) GTEST_SKIP() << "needs BERTH_BIN (ctest sets it) to find berth-nft";
    helper_ = std::string(bin) + "/berth-nft";
    ASSERT_TRUE(Exists(helper_.c_str())) << helper_ << " is not built";

    node_ = NewNs("node");
    client_ = NewNs("client");
    Sys(node_, "net.ipv4.ip_forward=1");
    Ip(node_, "link add br-mesh type bridge");
    Ip(node_, std::string("addr add ") + kNode + "/24 dev br-mesh");
    Ip(node_, "link set br-mesh up");
    // The caller's job (mesh.h): a connection from the node's own 127.0.0.1 leaves over the bridge.
    Sys(node_, "net.ipv4.conf.br-mesh.route_localnet=1");
    // Also the caller's: without br_netfilter a hairpin is forwarded back out the bridge it came
    // from, and the ICMP redirect the kernel would send for that makes the caller route the node's
    // address straight to the backend's MAC, where nothing answers (the 30th connection or so
    // times out).
    Sys(node_, "net.ipv4.conf.all.send_redirects=0");
    Sys(node_, "net.ipv4.conf.br-mesh.send_redirects=0");
    Ip(node_, "link add vclient type veth peer name eth0 netns " + client_);
    Ip(node_, "addr add 192.0.2.1/24 dev vclient");
    Ip(node_, "link set vclient up");
    Ip(client_, "addr add 192.0.2.2/24 dev eth0");
    Ip(client_, "link set eth0 up");
    Ip(client_, "route add default via 192.0.2.1");
    for (const auto& [name, ip] : std::vector<std::pair<std::string, std::string>>{
             {"b1", "10.233.0.11"}, {"b2", "10.233.0.12"}, {"b3", "10.233.0.13"}, {"c", "10.233.0.20"}}) {
      std::string ns = Attach(name, ip);
      if (name == "c") continue;
      ASSERT_TRUE(servers_.Listen(ns, name, 80)) << name << ": " << std::strerror(errno);
      ASSERT_TRUE(servers_.ListenUdp(ns, name, 53)) << name << ": " << std::strerror(errno);
    }
    servers_.Start();

    auto node_table = NewHelperTable({helper_, "/run/netns/" + node_, true});
    ASSERT_TRUE(node_table.ok()) << node_table.status();
    node_table_ = std::move(*node_table);
    Status st = node_table_->Check();
    ASSERT_TRUE(st.ok()) << st;
    st = node_table_->Apply(NodeModel());
    ASSERT_TRUE(st.ok()) << st;
  }

  void TearDown() override {
    node_table_.reset();  // the helpers end (EOF on their stdin) and are reaped
    servers_.Stop();
    for (const auto& ns : namespaces_) Run({"/usr/sbin/ip", "netns", "del", ns});
  }

  static Service Web(std::vector<Backend> backends) {
    Service s;
    s.id = "web1";
    s.name = "web";
    s.ports = {{"tcp", kPublished, 80, "ingress"}, {"udp", kPublishedUdp, 53, "ingress"}};
    s.backends = std::move(backends);
    return s;
  }
  static std::vector<Backend> AllThree() {
    return {{"10.233.0.11", true}, {"10.233.0.12", true}, {"10.233.0.13", false}};
  }
  static Model NodeModel(std::vector<Backend> backends = AllThree()) {
    Model m;
    m.services = {Web(std::move(backends))};
    m.ingress = Ingress{kNode, {}};
    return m;
  }
  static Model ContainerModel(std::vector<Backend> backends = AllThree()) {
    Model m;
    Service s = Web(std::move(backends));
    s.vip = kVip;
    m.services = {s};
    return m;
  }

  // n connections from ns to ip:port: how many each backend answered ("" for failures).
  std::map<std::string, int> Spread(const std::string& ns, const std::string& ip, int port, int n) {
    std::map<std::string, int> by;
    for (int i = 0; i < n; ++i) ++by[Connect(ns, ip, port).backend];
    return by;
  }
  void ExpectEven(const std::map<std::string, int>& by, int n, const std::string& what) {
    EXPECT_EQ(by.count(""), 0u) << what << ": " << (by.count("") ? by.at("") : 0) << " connections failed";
    for (const char* b : {"b1", "b2", "b3"}) {
      int got = by.count(b) ? by.at(b) : 0;
      EXPECT_GT(got * 100, n * 15) << what << ": " << b << " answered " << got << " of " << n;
    }
    std::string summary;
    for (const auto& [b, k] : by) summary += " " + (b.empty() ? "failed" : b) + "=" + std::to_string(k);
    std::printf("[ %s over %d connections:%s ]\n", what.c_str(), n, summary.c_str());
  }

  std::string NftList(const std::string& ns, bool handles = false) {
    std::vector<std::string> argv = {"/usr/bin/nsenter", "--net=/run/netns/" + ns, "/usr/sbin/nft"};
    if (handles) argv.push_back("-a");
    argv.insert(argv.end(), {"list", "table", "ip", "berth-mesh"});
    auto r = sys::Run(argv);
    return r.ok() && r->exit_code == 0 ? r->out : "";
  }
  // The table's handle: a new one each time the table is replaced whole.
  std::string TableHandle(const std::string& ns) {
    std::string out = NftList(ns, true);
    auto at = out.find("# handle ");
    return at == std::string::npos ? "" : out.substr(at, out.find('\n', at) - at);
  }

  std::string NewNs(const std::string& role) {
    static int n = 0;
    std::string ns = "bt-mesh-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    Must({"/usr/sbin/ip", "netns", "add", ns});
    namespaces_.push_back(ns);
    names_[role] = ns;
    Ip(ns, "link set lo up");
    return ns;
  }
  std::string Attach(const std::string& name, const std::string& ip) {
    std::string ns = NewNs(name);
    Ip(node_, "link add v" + name + " type veth peer name eth0 netns " + ns);
    Ip(node_, "link set v" + name + " master br-mesh");
    // The driver's job: with br_netfilter loaded, a task reaching itself through the node's
    // published port is DNATed while the frame is bridged, and must go back out its own port.
    Ip(node_, "link set v" + name + " type bridge_slave hairpin on");
    Ip(node_, "link set v" + name + " up");
    Ip(ns, "addr add " + ip + "/24 dev eth0");
    Ip(ns, "link set eth0 up");
    Ip(ns, std::string("route add default via ") + kNode);
    return ns;
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

  std::string helper_, node_, client_;
  std::vector<std::string> namespaces_;
  std::map<std::string, std::string> names_;  // role -> namespace
  Servers servers_;
  std::unique_ptr<Table> node_table_;
};

TEST_F(MeshNet, PublishedPortAnswersFromOutsideAndFromTheNodeItself) {
  Conn out = Connect(client_, "192.0.2.1", kPublished);
  EXPECT_TRUE(out.ok()) << std::strerror(out.error);
  for (const char* ip : {"192.0.2.1", kNode, "127.0.0.1"}) {
    Conn self = Connect(node_, ip, kPublished);
    EXPECT_TRUE(self.ok()) << "from the node to " << ip << ": " << std::strerror(self.error);
  }
  // Nothing else of the node's is taken over.
  EXPECT_EQ(Connect(client_, "192.0.2.1", kPublished + 1).error, ECONNREFUSED);
}

TEST_F(MeshNet, ThreeHundredConnectionsCoverEveryBackendEvenly) {
  ExpectEven(Spread(client_, "192.0.2.1", kPublished, 300), 300, "published port from the client");
}

// A local backend sees the client's own address; the one "on another node" sees the node's ingress
// address (its replies must come back through the node); a loopback client is masqueraded.
TEST_F(MeshNet, SourceAddressesSeenByTheBackends) {
  std::map<std::string, std::string> seen, seen_from_loopback;
  for (int i = 0; i < 120 && (seen.size() < 3 || seen_from_loopback.size() < 3); ++i) {
    Conn c = Connect(client_, "192.0.2.1", kPublished);
    if (c.ok()) seen[c.backend] = c.peer_seen;
    Conn l = Connect(node_, "127.0.0.1", kPublished);
    if (l.ok()) seen_from_loopback[l.backend] = l.peer_seen;
  }
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen["b1"], "192.0.2.2");
  EXPECT_EQ(seen["b2"], "192.0.2.2");
  EXPECT_EQ(seen["b3"], kNode) << "a remote backend's connection is SNATed to the ingress address";
  ASSERT_EQ(seen_from_loopback.size(), 3u);
  for (const auto& [b, peer] : seen_from_loopback) EXPECT_EQ(peer, kNode) << b;
}

// A task calling a published port of the node it runs on: the backend (maybe the caller itself)
// would answer it straight over the bridge, so its subnet is listed as a hairpin subnet and the
// node masquerades it.
TEST_F(MeshNet, AHairpinThroughTheNodeIsMasqueraded) {
  Model m = NodeModel();
  m.ingress->hairpin_subnets = {"10.233.0.0/24"};
  ASSERT_TRUE(node_table_->Apply(m).ok());
  std::map<std::string, int> by;
  for (int i = 0; i < 60; ++i) {
    Conn c = Connect(names_["b1"], "192.0.2.1", kPublished);
    ASSERT_TRUE(c.ok()) << "connection " << i << ": " << std::strerror(c.error);
    EXPECT_EQ(c.peer_seen, kNode);
    ++by[c.backend];
  }
  EXPECT_GT(by["b1"], 0) << "b1 reaches itself through the node too";
  // The client outside keeps its address all the same.
  for (int i = 0; i < 30; ++i) {
    Conn c = Connect(client_, "192.0.2.1", kPublished);
    ASSERT_TRUE(c.ok());
    if (c.backend != "b3") EXPECT_EQ(c.peer_seen, "192.0.2.2");
  }
}

TEST_F(MeshNet, ABackendLeavesAtOnceButItsConnectionsKeepWorking) {
  // One connection that landed on b2, kept open.
  Conn kept;
  for (int i = 0; i < 100 && kept.backend != "b2"; ++i) kept = Connect(client_, "192.0.2.1", kPublished);
  ASSERT_EQ(kept.backend, "b2");
  std::string handle = TableHandle(node_);

  Status st = node_table_->Apply(NodeModel({{"10.233.0.11", true}, {"10.233.0.13", false}}));
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(TableHandle(node_), handle) << "a backend leaving should change elements, not the table";
  auto by = Spread(client_, "192.0.2.1", kPublished, 60);
  EXPECT_EQ(by.count("b2"), 0u) << "b2 answered " << by["b2"] << " new connections after it left";
  EXPECT_EQ(by.count(""), 0u);
  EXPECT_GT(by["b1"], 0);
  EXPECT_GT(by["b3"], 0);
  EXPECT_EQ(kept.Ask(), "b2") << "the established connection should stay on its backend (conntrack)";

  // And back: b2 takes new connections again.
  ASSERT_TRUE(node_table_->Apply(NodeModel()).ok());
  by = Spread(client_, "192.0.2.1", kPublished, 60);
  EXPECT_GT(by["b2"], 0);
}

TEST_F(MeshNet, PublishedUdpPortIsBalancedPerFlowAndRefusedWithoutBackends) {
  std::map<std::string, int> by;
  for (int i = 0; i < 90; ++i) {
    std::string a = UdpAsk(client_, "192.0.2.1", kPublishedUdp);
    ++by[a.substr(0, a.find(' '))];
    if (a.rfind("b1 ", 0) == 0) EXPECT_EQ(a, "b1 192.0.2.2");
    if (a.rfind("b3 ", 0) == 0) EXPECT_EQ(a, std::string("b3 ") + kNode);
  }
  ExpectEven(by, 90, "published UDP port from the client");
  ASSERT_TRUE(node_table_->Apply(NodeModel({})).ok());
  EXPECT_EQ(UdpAsk(client_, "192.0.2.1", kPublishedUdp), "refused");
}

TEST_F(MeshNet, NoBackendRefusesAtOnce) {
  ASSERT_TRUE(node_table_->Apply(NodeModel({})).ok());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Connect(client_, "192.0.2.1", kPublished).error, ECONNREFUSED);
  EXPECT_EQ(Connect(node_, "127.0.0.1", kPublished).error, ECONNREFUSED);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1000)) << "refused, not dropped";
  ASSERT_TRUE(node_table_->Apply(NodeModel()).ok());
  EXPECT_TRUE(Connect(client_, "192.0.2.1", kPublished).ok());
}

// The service's VIP inside a container's namespace: its own table, VIPs only, the helper started for
// each change and stopped after it (a container's namespace keeps no resident helper).
TEST_F(MeshNet, VipBalancesInsideAContainerNamespace) {
  auto table = NewHelperTable({helper_, "/run/netns/" + names_["c"], /*keep_helper=*/false});
  ASSERT_TRUE(table.ok()) << table.status();
  Status st = (*table)->Apply(ContainerModel());
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ((*table)->HelperPid(), -1) << "the helper should be stopped after the change";
  EXPECT_EQ(NftList(node_).find(kVip), std::string::npos) << "the VIP lives in the container's table only";

  ExpectEven(Spread(names_["c"], kVip, 80, 150), 150, "VIP from a container");
  Conn c = Connect(names_["c"], kVip, 80);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.peer_seen, "10.233.0.20") << "no SNAT inside a container: the backend sees the container";
  std::string udp = UdpAsk(names_["c"], kVip, 53);  // every port of the VIP, UDP too
  EXPECT_EQ(udp.substr(udp.find(' ') + 1), "10.233.0.20") << udp;
  EXPECT_EQ(Connect(names_["client"], kVip, 80).error != 0, true) << "the VIP is the container's only";

  ASSERT_TRUE((*table)->Apply(ContainerModel({{"10.233.0.12", true}})).ok());
  auto by = Spread(names_["c"], kVip, 80, 20);
  EXPECT_EQ(by["b2"], 20);
  ASSERT_TRUE((*table)->Apply(ContainerModel({})).ok());
  EXPECT_EQ(Connect(names_["c"], kVip, 80).error, ECONNREFUSED) << NftList(names_["c"]);
  // The same from a whole table with no dnat in it at all (conntrack must stay on: render.cc).
  ASSERT_TRUE((*table)->Remove().ok());
  ASSERT_TRUE((*table)->Apply(ContainerModel({})).ok());
  EXPECT_EQ(Connect(names_["c"], kVip, 80).error, ECONNREFUSED) << NftList(names_["c"]);
  EXPECT_EQ(UdpAsk(names_["c"], kVip, 53), "send refused");

  ASSERT_TRUE((*table)->Remove().ok());
  EXPECT_EQ(NftList(names_["c"]), "");
  ASSERT_TRUE((*table)->Remove().ok()) << "removing an absent table succeeds";
}

// Backends changed by deltas leave the table the kernel lists exactly as the one Render writes.
TEST_F(MeshNet, DeltasLeaveTheTableRenderWouldMake) {
  std::vector<Model> steps = {
      NodeModel({{"10.233.0.11", true}}),
      NodeModel({{"10.233.0.11", true}, {"10.233.0.12", false}, {"10.233.0.13", false}}),
      NodeModel({}),
      NodeModel({{"10.233.0.13", true}, {"10.233.0.12", true}}),
      NodeModel(),
  };
  std::string handle = TableHandle(node_);
  for (size_t i = 0; i < steps.size(); ++i) {
    Status st = node_table_->Apply(steps[i]);
    ASSERT_TRUE(st.ok()) << "step " << i << ": " << st;
    EXPECT_EQ(TableHandle(node_), handle) << "step " << i << ": the table was replaced, not updated";
    std::string by_delta = NftList(node_);
    auto fresh = NewHelperTable({helper_, "/run/netns/" + node_, false});  // knows nothing: whole table
    ASSERT_TRUE(fresh.ok());
    ASSERT_TRUE((*fresh)->Apply(steps[i]).ok());
    EXPECT_EQ(NftList(node_), by_delta) << "step " << i;
    handle = TableHandle(node_);
  }
  ExpectEven(Spread(client_, "192.0.2.1", kPublished, 150), 150, "after the deltas");
}

// The table changed behind berthd's back: the delta is refused and the table replaced whole, in
// the same call.
TEST_F(MeshNet, ATableChangedBehindOurBackIsReplacedWhole) {
  auto r = Run({"/usr/bin/nsenter", "--net=/run/netns/" + node_, "/usr/sbin/nft", "delete", "element", "ip",
                "berth-mesh", "backends", "{", "10.233.0.12", "}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string handle = TableHandle(node_);
  Status st = node_table_->Apply(NodeModel({{"10.233.0.11", true}, {"10.233.0.13", false}}));
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_NE(TableHandle(node_), handle) << "the table should have been replaced whole";
  auto by = Spread(client_, "192.0.2.1", kPublished, 30);
  EXPECT_EQ(by.count("b2"), 0u);
  EXPECT_EQ(by.count(""), 0u);
}

TEST_F(MeshNet, AKilledHelperIsRestartedAndTheChangeGoesThrough) {
  int pid = node_table_->HelperPid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  Status st = node_table_->Apply(NodeModel({{"10.233.0.11", true}}));
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_NE(node_table_->HelperPid(), pid);
  EXPECT_EQ(Spread(client_, "192.0.2.1", kPublished, 10)["b1"], 10);
}

TEST_F(MeshNet, RemoveLeavesNothing) {
  ASSERT_TRUE(node_table_->Remove().ok());
  EXPECT_EQ(NftList(node_), "");
  auto r = Run({"/usr/bin/nsenter", "--net=/run/netns/" + node_, "/usr/sbin/nft", "list", "ruleset"});
  EXPECT_EQ(r.out, "");
  EXPECT_NE(Connect(client_, "192.0.2.1", kPublished).error, 0);
}

TEST(MeshTable, AMissingNamespaceIsNotFound) {
  auto t = NewHelperTable({"/nonexistent/berth-nft", "/run/netns/bt-mesh-does-not-exist", true});
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound) << t.status();
}

}  // namespace
}  // namespace berth::network::mesh
