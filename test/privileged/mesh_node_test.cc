// The node side of the routing mesh and the VIPs (controller_mesh.cc) against the real kernel: two
// simulated nodes, each a namespace with a real network Controller (real bridge and overlay
// drivers, the mesh tables applied through berth-nft) driven as the cluster's agent drives it,
// and a client namespace outside both:
//
//   client ns bt-mn-<pid>-client: lan0 192.168.214.100/24, a bridge with one port per node
//     ├─ node A ns (u0 192.168.214.1): Controller A, berth_ingress 10.0.0.2, the mesh's table
//     └─ node B ns (u0 192.168.214.2): Controller B, berth_ingress 10.0.0.3, the task web.1
//                                      (10.0.0.5 on ingress) serving :80
//
// Every controller call runs on a thread that joined its node's namespace, as berthd's threads
// live in berthd's: sysctls, sockets holding ports, and tables made for "the calling thread's
// namespace" all land in the node's namespace. The "tasks" and "containers" are sandboxes made by
// the controller (Attach + Setup, as for a container), with a TCP server thread of this test
// listening inside them that answers "<name> <peer address>\n". Everything lives in namespaces
// named bt-mn-<pid>-* (and the controllers' exec roots under /run/bt-mn-<pid>-*), removed in
// TearDown even when an assertion failed.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "common/fake_clock.h"
#include "common/fd.h"
#include "engine/events.h"
#include "engine/store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "network/controller.h"
#include "network/firewall/applier.h"
#include "network/kernel.h"
#include "network/overlay_driver.h"
#include "sys/fs.h"
#include "sys/netlink.h"
#include "sys/netns.h"
#include "sys/subprocess.h"

namespace berth::network {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr int kTimeoutMs = 2000;
constexpr char kIngressId[] = "ingressnetworkid000000001";
constexpr char kOv1Id[] = "overlay1networkid00000001";
constexpr char kWebId[] = "websvcid000000000000000001";
constexpr char kApiId[] = "apisvcid000000000000000001";

std::string Unique(const std::string& what) { return absl::StrCat("bt-mn-", ::getpid(), "-", what); }

// Runs fn on a new thread that joined the namespace at path, and waits for it.
void InNs(const std::string& path, const std::function<void()>& fn) {
  std::thread t([&] {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid() || ::setns(fd.get(), CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "setns " << path << ": " << std::strerror(errno);
      return;
    }
    fn();
  });
  t.join();
}

// argv, output and exit code; failures are the caller's to assert.
int Exec(std::vector<std::string> argv, std::string* out = nullptr) {
  auto r = sys::Run(argv);
  if (!r.ok()) return -1;
  if (out) *out = r->out + r->err;
  return r->exit_code;
}
void Must(std::vector<std::string> argv) {
  std::string out;
  ASSERT_EQ(Exec(argv, &out), 0) << absl::StrJoin(argv, " ") << ": " << out;
}
std::string In(const std::string& netns_path) { return "--net=" + netns_path; }

class FakeFirewall : public firewall::Firewall {
 public:
  Status Apply(const firewall::Model&) override { return absl::OkStatus(); }
  Status Remove() override { return absl::OkStatus(); }
  Status Check() override { return absl::OkStatus(); }
};

// A TCP server on :port inside the namespace at path, answering each connection with
// "<name> <peer address>\n", on its own thread until destroyed.
class Server {
 public:
  Server(const std::string& path, int port, std::string name) : name_(std::move(name)) {
    auto ns = sys::NetNs::Open(path);
    EXPECT_TRUE(ns.ok()) << ns.status();
    if (!ns.ok()) return;
    Status st = ns->Run([&]() -> Status {
      fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      int one = 1;
      ::setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(static_cast<uint16_t>(port));
      if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return ErrnoStatus(errno, "bind");
      if (::listen(fd_.get(), 16) != 0) return ErrnoStatus(errno, "listen");
      return absl::OkStatus();
    });
    EXPECT_TRUE(st.ok()) << st;
    thread_ = std::thread([this] { Serve(); });
  }
  ~Server() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      UniqueFd c(::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
      if (!c.valid()) continue;
      char ip[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
      std::string reply = name_ + " " + ip + "\n";
      (void)!::write(c.get(), reply.data(), reply.size());
    }
  }
  std::string name_;
  UniqueFd fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Connects from inside the namespace at path to ip:port and reads until EOF; "" on failure or
// timeout.
std::string Fetch(const std::string& path, const std::string& ip, int port) {
  std::string got;
  auto ns = sys::NetNs::Open(path);
  if (!ns.ok()) return "";
  (void)ns->Run([&]() -> Status {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS)
      return absl::OkStatus();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
    char buf[256];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      if (n == 0 || (n < 0 && errno != EAGAIN)) break;
    }
    return absl::OkStatus();
  });
  return got;
}

// One simulated node: its namespace, a controller working there, its exec root.
struct Node {
  std::string name;     // bt-mn-<pid>-a
  std::string path;     // /run/netns/<name>
  std::string address;  // on the underlay
  std::string ingress;  // its ingress endpoint's address
  std::string dir;      // exec root and store
  FakeClock clock;
  std::unique_ptr<engine::Store> store;
  std::unique_ptr<engine::EventBus> events;
  std::unique_ptr<firewall::Applier> applier;
  std::unique_ptr<sys::Rtnl> rtnl;
  std::unique_ptr<NetKernel> kernel;
  std::unique_ptr<Controller> ctl;

  // Runs fn with the controller, on a thread inside the node's namespace.
  Status Do(const std::function<Status(Controller&)>& fn) {
    Status st = absl::InternalError("not run");
    InNs(path, [&] { st = fn(*ctl); });
    return st;
  }
};

SwarmNetworkSpec Ingress() {
  SwarmNetworkSpec s;
  s.id = kIngressId;
  s.name = "ingress";
  s.vni = 4096;
  s.subnet = "10.0.0.0/24";
  s.gateway = "10.0.0.1";
  s.ingress = true;
  return s;
}
SwarmNetworkSpec Ov1() {
  SwarmNetworkSpec s;
  s.id = kOv1Id;
  s.name = "ov1";
  s.vni = 4097;
  s.subnet = "10.0.1.0/24";
  s.gateway = "10.0.1.1";
  s.attachable = true;
  return s;
}
OverlayPeer Peer(const std::string& ip, const Node& on, std::vector<std::string> names = {}) {
  return OverlayPeer{ip, OverlayMac(ip), on.address, std::move(names)};
}

class MeshNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, links, nftables)";
    const char* bin = std::getenv("BERTH_BIN");
    if (bin == nullptr) GTEST_SKIP() << "needs BERTH_BIN (ctest sets it) to find berth-nft";
    helper_ = std::string(bin) + "/berth-nft";
    ::mkdir("/run/netns", 0755);
    client_ = Unique("client");
    Must({"ip", "netns", "add", client_});
    made_.push_back(client_);
    Must({"ip", "-n", client_, "link", "add", "lan0", "type", "bridge"});
    Must({"ip", "-n", client_, "addr", "add", "192.168.214.100/24", "dev", "lan0"});
    Must({"ip", "-n", client_, "link", "set", "lan0", "up"});
    for (int i = 0; i < 2; ++i) {
      Node& n = nodes_[i];
      n.name = Unique(i == 0 ? "a" : "b");
      n.path = "/run/netns/" + n.name;
      n.address = absl::StrCat("192.168.214.", i + 1);
      n.ingress = absl::StrCat("10.0.0.", i + 2);
      Must({"ip", "netns", "add", n.name});
      made_.push_back(n.name);
      std::string port = absl::StrCat("lan-", i);
      Must({"ip", "-n", n.name, "link", "add", "u0", "type", "veth", "peer", "name", port, "netns", client_});
      Must({"ip", "-n", n.name, "addr", "add", n.address + "/24", "dev", "u0"});
      Must({"ip", "-n", n.name, "link", "set", "u0", "up"});
      Must({"ip", "-n", n.name, "link", "set", "lo", "up"});
      Must({"ip", "-n", client_, "link", "set", port, "master", "lan0", "up"});

      n.dir = "/run/" + Unique(i == 0 ? "exec-a" : "exec-b");
      ASSERT_TRUE(sys::MkdirAll(n.dir + "/exec/netns").ok());
      auto store = engine::Store::Open(n.dir + "/berth.db");
      ASSERT_TRUE(store.ok()) << store.status();
      n.store = std::move(*store);
      n.events = std::make_unique<engine::EventBus>(n.clock);
      n.applier = std::make_unique<firewall::Applier>(std::make_unique<FakeFirewall>());
      Status st = StartController(n);
      ASSERT_TRUE(st.ok()) << st;
    }
  }

  // berthd's start on node n: a controller on its store and exec root, recovered, with its VTEP.
  Status StartController(Node& n) {
    Status st;
    InNs(n.path, [&] {
      auto rtnl = sys::Rtnl::Open(nullptr);
      if (!rtnl.ok()) {
        st = rtnl.status();
        return;
      }
      n.rtnl = std::move(*rtnl);
      n.kernel = NewLinuxNetKernel(*n.rtnl);
      ControllerOptions opts;
      opts.exec_root = n.dir + "/exec";
      n.ctl = std::make_unique<Controller>(*n.store, *n.events, n.clock, opts, *n.kernel, *n.applier, nullptr);
      n.ctl->AddDriver(std::make_unique<BridgeDriver>(*n.rtnl, opts.default_bridge));
      n.ctl->AddDriver(std::make_unique<OverlayDriver>(*n.rtnl, opts.exec_root + "/netns"));
      n.ctl->SetMeshOptions({helper_, nullptr});
      st = n.ctl->Recover();
      if (st.ok()) st = n.ctl->SetVtep(n.address);
    });
    return st;
  }

  void TearDown() override {
    servers_.clear();
    for (Node& n : nodes_) {
      if (!n.ctl) continue;
      InNs(n.path, [&] {
        for (const std::string& id : containers_) n.ctl->Detach(id);
        (void)n.ctl->SetMesh(MeshSpec{});
        (void)n.ctl->SetSwarmNetworks({});
        n.ctl.reset();
      });
      n.kernel.reset();
      n.rtnl.reset();
      n.applier.reset();
      // Whatever a failure left mounted under the exec root (sandboxes, overlay namespaces).
      if (auto files = sys::ListDir(n.dir + "/exec/netns"); files.ok())
        for (const std::string& f : *files) (void)sys::NetNs::Remove(n.dir + "/exec/netns/" + f);
      n.store.reset();
      (void)sys::RemoveAll(n.dir);
    }
    for (const std::string& ns : made_) (void)Exec({"ip", "netns", "del", ns});
  }

  // The agent's calls for both nodes: networks, the peer tables of everything on the other node,
  // then the mesh (each node's spec the same but for its ingress address and the locality of
  // the backends).
  void Assign(const std::vector<SwarmNetworkSpec>& nets, const std::vector<MeshService>& services,
              const std::map<std::string, int>& backend_node, std::vector<Status>* mesh_status = nullptr) {
    for (int i = 0; i < 2; ++i) {
      Node& n = nodes_[i];
      Node& other = nodes_[1 - i];
      ASSERT_TRUE(n.Do([&](Controller& c) { return c.SetSwarmNetworks(nets); }).ok());
      for (const SwarmNetworkSpec& net : nets) {
        std::vector<OverlayPeer> peers;
        if (net.ingress) peers.push_back(Peer(other.ingress, other));
        for (auto& [ip, on] : backend_node)
          if (on == 1 - i && ipam_net(ip) == net.id) peers.push_back(Peer(ip, other, {"task-" + ip}));
        ASSERT_TRUE(n.Do([&](Controller& c) { return c.SetPeers(net.id, peers); }).ok());
      }
      MeshSpec m;
      m.ingress_network_id = kIngressId;
      m.ingress_address = n.ingress;
      m.services = services;
      for (MeshService& s : m.services)
        for (MeshServiceNetwork& sn : s.networks)
          for (MeshBackend& b : sn.backends) b.local = backend_node.at(b.ip) == i;
      Status st = n.Do([&](Controller& c) { return c.SetMesh(m); });
      if (mesh_status) mesh_status->push_back(st);
      else ASSERT_TRUE(st.ok()) << "node " << i << ": " << st;
    }
  }
  static std::string ipam_net(const std::string& ip) {
    return absl::StartsWith(ip, "10.0.0.") ? kIngressId : kOv1Id;
  }

  // A container (a task) on node i on `network` with a static address, started: its namespace.
  std::string Start(int i, const std::string& id, const std::string& network, const std::string& ip,
                    std::vector<std::string> publish = {}) {
    containers_.insert(id);
    spec::HostConfig hc;
    hc.network_mode = network;
    if (!publish.empty()) {
      hc.port_bindings.emplace();
      for (const std::string& p : publish)
        (*hc.port_bindings)["80/tcp"] = std::vector<spec::PortBinding>{spec::PortBinding{"", p}};
    }
    spec::NetworkingConfig nc;
    if (!ip.empty()) {
      spec::EndpointSettings es;
      es.ipam_config = spec::EndpointIPAMConfig{ip, "", {}};
      nc.endpoints_config = std::map<std::string, spec::EndpointSettings>{{network, es}};
    }
    std::string path;
    Status st = nodes_[i].Do([&](Controller& c) -> Status {
      RETURN_IF_ERROR(c.Validate(hc, nc));
      RETURN_IF_ERROR(c.Attach(id, "c" + id.substr(0, 6), hc, nc));
      ASSIGN_OR_RETURN(auto sb, c.Setup(id, "c" + id.substr(0, 6), spec::ContainerConfig{}, hc));
      path = sb.netns_path;
      return absl::OkStatus();
    });
    EXPECT_TRUE(st.ok()) << id << ": " << st;
    return path;
  }
  void Serve(const std::string& path, const std::string& name) {
    servers_.push_back(std::make_unique<Server>(path, 80, name));
  }
  static std::string Id(char c) { return std::string(64, c); }
  // The ingress network on both nodes, before a task is started on it.
  void MakeIngress() {
    for (Node& n : nodes_) ASSERT_TRUE(n.Do([&](Controller& c) { return c.SetSwarmNetworks({Ingress()}); }).ok());
  }
  std::string Nft(const std::string& netns_path) {
    std::string out;
    Exec({"nsenter", In(netns_path), "--", "nft", "list", "tables"}, &out);
    return out;
  }

  std::string helper_;
  std::string client_;
  std::string client_path() const { return "/run/netns/" + client_; }
  std::vector<std::string> made_;
  Node nodes_[2];
  std::set<std::string> containers_;
  std::vector<std::unique_ptr<Server>> servers_;
};

MeshService Web() {
  MeshService web;
  web.id = kWebId;
  web.name = "web";
  web.ingress_ports = {{"tcp", 8080, 80}};
  web.networks = {{kIngressId, "", {}, {{"10.0.0.5", false}}}};
  return web;
}

// (a) a published port answers on both nodes, whichever holds the task; (b) the node that holds
// it hands it the client's own address; the other SNATs to its ingress address.
TEST_F(MeshNodeTest, APublishedPortAnswersOnEveryNodeAndALocalTaskSeesTheClient) {
  MakeIngress();
  std::string task = Start(1, Id('w'), "ingress", "10.0.0.5");
  ASSERT_FALSE(task.empty());
  Serve(task, "web.1");
  // Strict reverse-path checks everywhere (as many distributions set them): the connection node B
  // hands its own task keeps the client's address, arrives on the task's overlay interface and is
  // answered through docker_gwbridge; the controller loosens what that path needs.
  for (const Node& n : nodes_) Must({"ip", "netns", "exec", n.name, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1"});
  Must({"nsenter", In(task), "--", "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1"});
  Assign({Ingress()}, {Web()}, {{"10.0.0.5", 1}});

  // The ingress endpoint, as Docker's ingress-sbox.
  for (Node& n : nodes_) {
    std::string out;
    ASSERT_EQ(Exec({"ip", "-n", n.name, "-br", "addr", "show", "berth_ingress"}, &out), 0) << out;
    EXPECT_THAT(out, HasSubstr(n.ingress + "/24"));
    ASSERT_EQ(Exec({"ip", "-n", n.name, "-br", "link", "show", "berth_ingress"}, &out), 0);
    EXPECT_THAT(out, HasSubstr(OverlayMac(n.ingress)));
    StatusOr<NetworkView> v = absl::UnknownError("");
    (void)n.Do([&](Controller& c) {
      v = c.InspectNetwork("ingress");
      return v.status();
    });
    ASSERT_TRUE(v.ok()) << v.status();
    ASSERT_TRUE(v->containers.count("ingress-sbox"));
    EXPECT_EQ(v->containers["ingress-sbox"].name, "ingress-endpoint");
    EXPECT_EQ(v->containers["ingress-sbox"].ipv4_address, n.ingress + "/24");
    EXPECT_EQ(v->containers["ingress-sbox"].mac_address, OverlayMac(n.ingress));
    EXPECT_THAT(Nft(n.path), HasSubstr("table ip berth-mesh"));
  }

  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(Fetch(client_path(), "192.168.214.2", 8080), "web.1 192.168.214.100\n");  // local: the client
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(Fetch(client_path(), "192.168.214.1", 8080), "web.1 10.0.0.2\n");  // remote: node A's ingress address
  auto t2 = std::chrono::steady_clock::now();
  std::printf("[ measured ] first connection via node B (local task) %.1f ms, via node A (over VXLAN) %.1f ms\n",
              std::chrono::duration<double, std::milli>(t1 - t0).count(),
              std::chrono::duration<double, std::milli>(t2 - t1).count());
  // Again, and from node B's own loopback.
  EXPECT_EQ(Fetch(client_path(), "192.168.214.1", 8080), "web.1 10.0.0.2\n");
  EXPECT_THAT(Fetch(nodes_[1].path, "127.0.0.1", 8080), HasSubstr("web.1 "));
  // The task itself through its node's docker_gwbridge address (hairpin: masqueraded).
  std::string gw;
  Exec({"ip", "-n", nodes_[1].name, "-4", "-o", "addr", "show", "docker_gwbridge"}, &gw);
  auto at = gw.find("inet ");
  ASSERT_NE(at, std::string::npos) << gw;
  gw = gw.substr(at + 5, gw.find('/', at) - at - 5);
  EXPECT_EQ(Fetch(task, gw, 8080), "web.1 10.0.0.3\n") << "via " << gw;

  // The same assignment again changes nothing and still answers.
  Assign({Ingress()}, {Web()}, {{"10.0.0.5", 1}});
  EXPECT_EQ(Fetch(client_path(), "192.168.214.1", 8080), "web.1 10.0.0.2\n");
}

// berthd restarting on node A (its namespaces and links stay, its helper and sockets go): the next
// assignment adopts the ingress endpoint and the overlay's namespace, and the port answers again.
TEST_F(MeshNodeTest, ARestartAdoptsTheIngressEndpoint) {
  MakeIngress();
  std::string task = Start(1, Id('w'), "ingress", "10.0.0.5");
  Serve(task, "web.1");
  Assign({Ingress()}, {Web()}, {{"10.0.0.5", 1}});
  ASSERT_EQ(Fetch(client_path(), "192.168.214.1", 8080), "web.1 10.0.0.2\n");
  Node& a = nodes_[0];
  auto index = [&] {
    int i = -1;
    InNs(a.path, [&] {
      auto r = sys::Rtnl::Open(nullptr);
      if (!r.ok()) return;
      auto l = (*r)->GetLink("berth_ingress");
      if (l.ok()) i = l->index;
    });
    return i;
  };
  const int before = index();
  ASSERT_GT(before, 0);
  InNs(a.path, [&] { a.ctl.reset(); });
  a.kernel.reset();
  a.rtnl.reset();
  ASSERT_TRUE(StartController(a).ok());
  Assign({Ingress()}, {Web()}, {{"10.0.0.5", 1}});
  EXPECT_EQ(index(), before);  // the same link, kept
  EXPECT_EQ(Fetch(client_path(), "192.168.214.1", 8080), "web.1 10.0.0.2\n");
  // A new address for the node: replaced.
  a.ingress = "10.0.0.12";
  Assign({Ingress()}, {Web()}, {{"10.0.0.5", 1}});
  std::string out;
  Exec({"ip", "-n", a.name, "-br", "addr", "show", "berth_ingress"}, &out);
  EXPECT_THAT(out, HasSubstr("10.0.0.12/24"));
  EXPECT_THAT(out, Not(HasSubstr("10.0.0.2/")));
  EXPECT_EQ(Fetch(client_path(), "192.168.214.1", 8080), "web.1 10.0.0.12\n");
}

// A port the mesh publishes is refused to a container (and changes nothing); a port a container
// holds is left out of the mesh, which says so and applies the rest.
TEST_F(MeshNodeTest, PortConflictsBetweenTheMeshAndContainers) {
  MakeIngress();
  std::string task = Start(1, Id('w'), "ingress", "10.0.0.5");
  Serve(task, "web.1");
  ASSERT_FALSE(Start(0, Id('p'), "bridge", "", {"9090"}).empty());  // a plain container with -p 9090:80
  MeshService web = Web();
  web.ingress_ports.push_back({"tcp", 9090, 80});
  std::vector<Status> st;
  Assign({Ingress()}, {web}, {{"10.0.0.5", 1}}, &st);
  ASSERT_EQ(st.size(), 2u);
  EXPECT_TRUE(st[1].ok()) << st[1];
  EXPECT_FALSE(st[0].ok());
  EXPECT_THAT(std::string(st[0].message()), HasSubstr("9090"));
  EXPECT_THAT(std::string(st[0].message()), HasSubstr("port is already allocated"));
  // The rest applied: 8080 answers on node A.
  EXPECT_EQ(Fetch(client_path(), "192.168.214.1", 8080), "web.1 10.0.0.2\n");

  // docker run -p 8080:80 on a node of the mesh: Docker's words, and nothing made.
  spec::HostConfig hc;
  hc.network_mode = "bridge";
  hc.port_bindings.emplace();
  (*hc.port_bindings)["80/tcp"] = std::vector<spec::PortBinding>{spec::PortBinding{"", "8080"}};
  Status v = nodes_[0].Do([&](Controller& c) { return c.Validate(hc, spec::NetworkingConfig{}); });
  EXPECT_THAT(std::string(v.message()), HasSubstr("Bind for 0.0.0.0:8080 failed: port is already allocated"));
  EXPECT_TRUE(absl::IsAlreadyExists(v)) << v;
}

// (c) a VIP inside a container's namespace balances across tasks on both nodes; (d) its name
// resolves to the VIP on that network only.
TEST_F(MeshNodeTest, AVipInAContainerBalancesAndItsNameResolvesOnItsNetworkOnly) {
  ASSERT_TRUE(nodes_[0].Do([&](Controller& c) { return c.SetSwarmNetworks({Ingress(), Ov1()}); }).ok());
  ASSERT_TRUE(nodes_[1].Do([&](Controller& c) { return c.SetSwarmNetworks({Ingress(), Ov1()}); }).ok());
  std::string api1 = Start(0, Id('1'), "ov1", "10.0.1.5");
  std::string api2 = Start(1, Id('2'), "ov1", "10.0.1.6");
  std::string other = Start(0, Id('o'), "ingress", "10.0.0.9");  // not on ov1
  ASSERT_FALSE(api1.empty());
  ASSERT_FALSE(api2.empty());
  Serve(api1, "api.1");
  Serve(api2, "api.2");
  MeshService api;
  api.id = kApiId;
  api.name = "api";
  api.networks = {{kOv1Id, "10.0.1.2", {"api", "api-alias"}, {{"10.0.1.5", false}, {"10.0.1.6", false}}}};
  std::map<std::string, int> where = {{"10.0.1.5", 0}, {"10.0.1.6", 1}, {"10.0.1.9", 0}, {"10.0.0.9", 0}};
  Assign({Ingress(), Ov1()}, {api}, where);
  // A client container started after the mesh was set: its table comes with its join.
  std::string client = Start(0, Id('c'), "ov1", "10.0.1.9");
  ASSERT_FALSE(client.empty());
  Assign({Ingress(), Ov1()}, {api}, where);  // node B learns the client as a peer
  EXPECT_THAT(Nft(client), HasSubstr("table ip berth-mesh"));
  EXPECT_THAT(Nft(other), Not(HasSubstr("berth-mesh")));

  std::map<std::string, int> seen;
  for (int k = 0; k < 24; ++k) {
    std::string got = Fetch(client, "10.0.1.2", 80);
    ASSERT_THAT(got, HasSubstr(" 10.0.1.9\n")) << "connection " << k;  // the client's own address
    ++seen[got.substr(0, got.find(' '))];
  }
  std::printf("[ measured ] 24 connections to the VIP: api.1 %d, api.2 %d\n", seen["api.1"], seen["api.2"]);
  EXPECT_GT(seen["api.1"], 0);
  EXPECT_GT(seen["api.2"], 0);

  std::vector<std::string> a, b, o;
  (void)nodes_[0].Do([&](Controller& c) {
    a = c.Resolve(Id('c'), "api");
    b = c.Resolve(Id('c'), "api-alias.ov1");
    o = c.Resolve(Id('o'), "api");
    return absl::OkStatus();
  });
  EXPECT_THAT(a, ElementsAre("10.0.1.2"));
  EXPECT_THAT(b, ElementsAre("10.0.1.2"));
  EXPECT_THAT(o, IsEmpty());  // on ingress only

  // api.2 leaves: node A's containers' tables change (the client's only), nothing else runs.
  MeshSpec m;
  m.ingress_network_id = kIngressId;
  m.ingress_address = nodes_[0].ingress;
  m.services = {api};
  m.services[0].networks[0].backends = {{"10.0.1.5", true}, {"10.0.1.6", false}};
  auto time = [&](const MeshSpec& spec) {
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(nodes_[0].Do([&](Controller& c) { return c.SetMesh(spec); }).ok());
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  double same = time(m);
  m.services[0].networks[0].backends = {{"10.0.1.5", true}};
  double changed = time(m);
  std::printf("[ measured ] SetMesh on node A: unchanged %.2f ms, one backend gone (one container's table) %.2f ms\n",
              same, changed);
  for (int k = 0; k < 6; ++k) EXPECT_EQ(Fetch(client, "10.0.1.2", 80), "api.1 10.0.1.9\n");
}

// (e) swarm leave: no table, no ingress endpoint, no address, no held port, no VIP table.
TEST_F(MeshNodeTest, AnEmptySpecLeavesNothingBehind) {
  ASSERT_TRUE(nodes_[0].Do([&](Controller& c) { return c.SetSwarmNetworks({Ingress(), Ov1()}); }).ok());
  std::string client = Start(0, Id('c'), "ov1", "10.0.1.9");
  MeshService api;
  api.id = kApiId;
  api.name = "api";
  api.networks = {{kOv1Id, "10.0.1.2", {"api"}, {{"10.0.1.5", false}}}};
  Assign({Ingress(), Ov1()}, {Web(), api}, {{"10.0.0.5", 1}, {"10.0.1.5", 1}, {"10.0.1.9", 0}});
  Node& a = nodes_[0];
  ASSERT_THAT(Nft(a.path), HasSubstr("berth-mesh"));
  ASSERT_THAT(Nft(client), HasSubstr("berth-mesh"));

  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(a.Do([&](Controller& c) { return c.SetMesh(MeshSpec{}); }).ok());
  std::printf("[ measured ] SetMesh({}) with one container: %.1f ms\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  EXPECT_THAT(Nft(a.path), Not(HasSubstr("berth-mesh")));
  EXPECT_THAT(Nft(client), Not(HasSubstr("berth-mesh")));
  std::string out;
  EXPECT_NE(Exec({"ip", "-n", a.name, "link", "show", "berth_ingress"}, &out), 0) << out;
  Exec({"ip", "-n", a.name, "-br", "addr"}, &out);
  EXPECT_THAT(out, Not(HasSubstr("10.0.0.2")));
  // The port is free again on the node.
  int bound = -1;
  InNs(a.path, [&] {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(8080);
    bound = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  });
  EXPECT_EQ(bound, 0) << "port 8080 still held on node A";
  std::vector<std::string> names;
  (void)a.Do([&](Controller& c) {
    names = c.Resolve(Id('c'), "api");
    return absl::OkStatus();
  });
  EXPECT_THAT(names, IsEmpty());
  StatusOr<NetworkView> v = absl::UnknownError("");
  (void)a.Do([&](Controller& c) {
    v = c.InspectNetwork("ingress");
    return v.status();
  });
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->containers.count("ingress-sbox"));
}

}  // namespace
}  // namespace berth::network
