// NetNs and Rtnl against the real kernel. Every test works only inside namespaces it creates itself
// (/run/netns/bt-nl-<pid>-<n>) and removes them, with everything in them, even when an assertion fails:
// the root namespace's links are never touched. Traffic only flows between two throwaway namespaces.
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inet_test_util.h"
#include "sys/bpf.h"
#include "sys/netlink.h"
#include "sys/netns.h"
#include "sys/publish_nat.h"
#include "sys/subprocess.h"

namespace berth::sys {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Status ToStatus(const Status& s) { return s; }
template <class T>
Status ToStatus(const StatusOr<T>& s) {
  return s.status();
}
#define ASSERT_OK(e)                          \
  do {                                        \
    ::absl::Status s_ = ToStatus(e);          \
    ASSERT_TRUE(s_.ok()) << #e << ": " << s_; \
  } while (0)
#define EXPECT_OK(e)                          \
  do {                                        \
    ::absl::Status s_ = ToStatus(e);          \
    EXPECT_TRUE(s_.ok()) << #e << ": " << s_; \
  } while (0)

bool PathExists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

// Whether path is a mount point in our mount namespace (field 5 of mountinfo).
bool Mounted(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mnt;
    f >> id >> parent >> dev >> root >> mnt;
    if (mnt == path) return true;
  }
  return false;
}

std::string NextNsPath() {
  static std::atomic<int> n{0};
  return absl::StrCat("/run/netns/bt-nl-", ::getpid(), "-", n++);
}

// A throwaway namespace with an Rtnl opened inside it. The socket and the fd pin the namespace, so they
// are closed before the mount goes; then the kernel frees the namespace and every link in it (a veth
// whose peer lives elsewhere takes the peer with it).
class ScratchNs {
 public:
  static StatusOr<std::unique_ptr<ScratchNs>> Make() {
    std::string path = NextNsPath();
    ASSIGN_OR_RETURN(NetNs ns, NetNs::Create(path));
    std::unique_ptr<ScratchNs> s(new ScratchNs(path, std::move(ns)));
    ASSIGN_OR_RETURN(s->rtnl_, Rtnl::Open(&*s->ns_));
    return s;
  }
  ~ScratchNs() {
    rtnl_.reset();
    ns_.reset();
    Status st = NetNs::Remove(path_);
    EXPECT_TRUE(st.ok()) << st;
  }
  const NetNs& ns() const { return *ns_; }
  Rtnl& rtnl() { return *rtnl_; }
  const std::string& path() const { return path_; }

 private:
  ScratchNs(std::string path, NetNs ns) : path_(std::move(path)), ns_(std::move(ns)) {}
  std::string path_;
  std::optional<NetNs> ns_;
  std::unique_ptr<Rtnl> rtnl_;
};

// Removes a namespace path on scope exit, for tests that drive NetNs::Create/Remove by hand.
struct RemoveOnExit {
  std::string path;
  ~RemoveOnExit() { (void)NetNs::Remove(path); }
};

class NetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN for netns mounts, CAP_NET_ADMIN for links)";
    ::mkdir("/run", 0755);
    ::mkdir("/run/netns", 0755);
  }
  // A namespace owned by the fixture, removed in TearDown even if the test fails; nullptr (and a failure)
  // if it cannot be made.
  ScratchNs* NewNs() {
    auto s = ScratchNs::Make();
    if (!s.ok()) {
      ADD_FAILURE() << "scratch namespace: " << s.status();
      return nullptr;
    }
    spaces_.push_back(std::move(*s));
    return spaces_.back().get();
  }
  void TearDown() override { spaces_.clear(); }

  std::vector<std::unique_ptr<ScratchNs>> spaces_;
};

// Binds a UDP socket to ip:port (port 0 = any) inside ns; returns the fd and the bound port.
std::pair<UniqueFd, int> UdpSocketIn(const NetNs& ns, const std::string& ip) {
  UniqueFd fd;
  int port = 0;
  Status st = ns.Run([&]() -> Status {
    fd.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return ErrnoStatus(errno, "socket");
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return ErrnoStatus(errno, "bind " + ip);
    socklen_t len = sizeof sa;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len);
    port = ntohs(sa.sin_port);
    return absl::OkStatus();
  });
  EXPECT_TRUE(st.ok()) << st;
  return {std::move(fd), port};
}

// Sends `payload` from a socket of `from` to ip:port and waits for it on `rx`, retrying while the veth
// carrier comes up. Returns the payload received and the sender's address, or "" on timeout.
std::pair<std::string, std::string> SendAndReceive(const NetNs& from, const std::string& ip, int port, int rx,
                                                   const std::string& payload, int* send_errno = nullptr,
                                                   int attempts = 30) {
  UniqueFd tx;
  Status st = from.Run([&]() -> Status {
    tx.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    return tx.valid() ? absl::OkStatus() : ErrnoStatus(errno, "socket");
  });
  EXPECT_TRUE(st.ok()) << st;
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &dst.sin_addr);
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (::sendto(tx.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst) < 0) {
      if (send_errno != nullptr) *send_errno = errno;
      return {"", ""};
    }
    pollfd p{rx, POLLIN, 0};
    if (::poll(&p, 1, 200) == 1) {
      char buf[256];
      sockaddr_in src{};
      socklen_t len = sizeof src;
      ssize_t n = ::recvfrom(rx, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&src), &len);
      if (n < 0) return {"", ""};
      char s[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, &src.sin_addr, s, sizeof s);
      return {std::string(buf, static_cast<size_t>(n)), s};
    }
  }
  return {"", ""};
}

TEST_F(NetlinkTest, CreateAndRemoveNamespace) {
  auto before = NetNs::Current();
  ASSERT_OK(before);
  std::string path = NextNsPath();
  RemoveOnExit cleanup{path};
  {
    auto ns = NetNs::Create(path);
    ASSERT_OK(ns);
    EXPECT_TRUE(PathExists(path));
    EXPECT_TRUE(Mounted(path));
    EXPECT_NE(ns->Inode(), before->Inode());
    // Create ran on a helper thread: the caller is still where it was.
    auto after = NetNs::Current();
    ASSERT_OK(after);
    EXPECT_EQ(after->Inode(), before->Inode());
    auto reopened = NetNs::Open(path);
    ASSERT_OK(reopened);
    EXPECT_EQ(reopened->Inode(), ns->Inode());
    EXPECT_EQ(NetNs::Create(path).status().code(), absl::StatusCode::kAlreadyExists);

    // lo comes up with the namespace, and is the only link.
    auto rtnl = Rtnl::Open(&*ns);
    ASSERT_OK(rtnl);
    auto lo = (*rtnl)->GetLink("lo");
    ASSERT_OK(lo);
    EXPECT_TRUE(lo->up);
    auto links = (*rtnl)->ListLinks();
    ASSERT_OK(links);
    ASSERT_EQ(links->size(), 1u);
    EXPECT_EQ((*links)[0].name, "lo");

    // Run executes inside the namespace, and only there.
    ino_t seen = 0;
    ASSERT_OK(ns->Run([&]() -> Status {
      ASSIGN_OR_RETURN(NetNs cur, NetNs::Current());
      seen = cur.Inode();
      return absl::OkStatus();
    }));
    EXPECT_EQ(seen, ns->Inode());
    // Run passes fn's status through.
    EXPECT_EQ(ns->Run([] { return absl::NotFoundError("x"); }).code(), absl::StatusCode::kNotFound);
  }
  ASSERT_OK(NetNs::Remove(path));
  EXPECT_FALSE(PathExists(path));
  EXPECT_FALSE(Mounted(path));
  EXPECT_OK(NetNs::Remove(path));  // missing is fine
  EXPECT_EQ(NetNs::Open(path).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(NetNs::Open("/proc/self/status").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(NetlinkTest, BridgeMtuMacAndAddresses) {
  ScratchNs* a = NewNs();
  ASSERT_NE(a, nullptr);
  Rtnl& r = a->rtnl();
  ASSERT_OK(r.CreateBridge("br-nl0", 1400, "02:42:00:00:00:01"));
  auto br = r.GetLink("br-nl0");
  ASSERT_OK(br);
  EXPECT_EQ(br->kind, "bridge");
  EXPECT_EQ(br->mtu, 1400);
  EXPECT_EQ(br->mac, "02:42:00:00:00:01");
  EXPECT_FALSE(br->up);

  ASSERT_OK(r.SetUp("br-nl0"));
  ASSERT_OK(r.SetMtu("br-nl0", 1450));
  ASSERT_OK(r.SetMac("br-nl0", "02:42:00:00:00:09"));
  br = r.GetLink("br-nl0");
  ASSERT_OK(br);
  EXPECT_TRUE(br->up);
  EXPECT_EQ(br->mtu, 1450);
  EXPECT_EQ(br->mac, "02:42:00:00:00:09");

  Status dup = r.CreateBridge("br-nl0");
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.message(), "RTM_NEWLINK br-nl0: File exists");
  EXPECT_EQ(r.CreateBridge("br-nl9", 0, "not-a-mac").code(), absl::StatusCode::kInvalidArgument);

  ASSERT_OK(r.AddAddr("br-nl0", "10.77.0.1/24"));
  auto addrs = r.ListAddrs("br-nl0");
  ASSERT_OK(addrs);
  ASSERT_EQ(addrs->size(), 1u);
  EXPECT_EQ((*addrs)[0].cidr, "10.77.0.1/24");
  EXPECT_EQ((*addrs)[0].link, "br-nl0");
  EXPECT_EQ((*addrs)[0].index, br->index);
  auto all = r.ListAddrs();
  ASSERT_OK(all);
  std::vector<std::string> seen;
  for (const auto& ai : *all) seen.push_back(ai.link + " " + ai.cidr);
  EXPECT_THAT(seen, ::testing::UnorderedElementsAre("lo 127.0.0.1/8", "br-nl0 10.77.0.1/24"));

  Status again = r.AddAddr("br-nl0", "10.77.0.1/24");
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(again.message()), StartsWith("RTM_NEWADDR br-nl0 10.77.0.1/24: File exists"));
  EXPECT_EQ(r.AddAddr("br-nl0", "10.77.0.1").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddAddr("nope0", "10.77.0.1/24").code(), absl::StatusCode::kNotFound);

  ASSERT_OK(r.DelAddr("br-nl0", "10.77.0.1/24"));
  addrs = r.ListAddrs("br-nl0");
  ASSERT_OK(addrs);
  EXPECT_TRUE(addrs->empty());
  EXPECT_EQ(r.DelAddr("br-nl0", "10.77.0.1/24").code(), absl::StatusCode::kNotFound);

  ASSERT_OK(r.SetUp("br-nl0", false));
  ASSERT_OK(r.SetName("br-nl0", "br-nl1"));
  auto renamed = r.GetLink("br-nl1");
  ASSERT_OK(renamed);
  EXPECT_EQ(renamed->index, br->index);
  ASSERT_OK(r.DeleteLink("br-nl1"));
  auto gone = r.GetLink("br-nl1");
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(gone.status().message(), "link br-nl1 not found");
}

TEST_F(NetlinkTest, KernelExtendedAckIsKept) {
  ScratchNs* a = NewNs();
  ASSERT_NE(a, nullptr);
  // VNIs are 24 bits; the kernel refuses with ERANGE and says why in an extended ack.
  Status st = a->rtnl().CreateVxlan("vx-bad", 1u << 24, "", 4789, "");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(std::string(st.message()), StartsWith("RTM_NEWLINK vx-bad: "));
  EXPECT_THAT(std::string(st.message()), HasSubstr("16777216")) << st;
  // A bridge MTU above the device maximum: EINVAL plus the kernel's sentence.
  st = a->rtnl().CreateBridge("br-big", 1 << 20);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(std::string(st.message()), StartsWith("RTM_NEWLINK br-big: Invalid argument: ")) << st;
  EXPECT_EQ(a->rtnl().GetLink("br-big").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(NetlinkTest, MissingLinksAreNotFound) {
  ScratchNs* a = NewNs();
  ASSERT_NE(a, nullptr);
  Rtnl& r = a->rtnl();
  Status del = r.DeleteLink("nope0");
  EXPECT_EQ(del.code(), absl::StatusCode::kNotFound) << del;
  EXPECT_THAT(std::string(del.message()), StartsWith("RTM_DELLINK nope0: "));
  auto get = r.GetLink("nope0");
  EXPECT_EQ(get.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(get.status().message(), "link nope0 not found");
  EXPECT_EQ(r.SetUp("nope0").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.SetMtu("nope0", 1400).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.SetMaster("lo", "nope0").code(), absl::StatusCode::kNotFound);
}

TEST_F(NetlinkTest, VethPeerBornInOtherNamespaceJoinsBridge) {
  ScratchNs* host = NewNs();
  ScratchNs* ctr = NewNs();
  ASSERT_TRUE(host && ctr);
  Rtnl& h = host->rtnl();
  ASSERT_OK(h.CreateBridge("br-nl0"));
  ASSERT_OK(h.SetUp("br-nl0"));
  ASSERT_OK(h.CreateVeth("vethnl0", "eth0", 1400, &ctr->ns(), "02:42:ac:11:00:02"));

  auto eth0 = ctr->rtnl().GetLink("eth0");
  ASSERT_OK(eth0);
  EXPECT_EQ(eth0->kind, "veth");
  EXPECT_EQ(eth0->mac, "02:42:ac:11:00:02");
  EXPECT_EQ(eth0->mtu, 1400);
  // The peer was born in the container namespace: it never existed in the host one.
  EXPECT_EQ(h.GetLink("eth0").status().code(), absl::StatusCode::kNotFound);
  auto veth = h.GetLink("vethnl0");
  ASSERT_OK(veth);
  EXPECT_EQ(veth->kind, "veth");
  EXPECT_EQ(veth->mtu, 1400);
  EXPECT_EQ(veth->parent, eth0->index);
  EXPECT_EQ(eth0->parent, veth->index);

  auto br = h.GetLink("br-nl0");
  ASSERT_OK(br);
  ASSERT_OK(h.SetMaster("vethnl0", "br-nl0"));
  veth = h.GetLink("vethnl0");
  ASSERT_OK(veth);
  EXPECT_EQ(veth->master, br->index);
  ASSERT_OK(h.SetBridgePortHairpin("vethnl0", true));
  auto hp = h.GetBridgePortHairpin("vethnl0");
  ASSERT_OK(hp);
  EXPECT_TRUE(*hp);
  ASSERT_OK(h.SetBridgePortHairpin("vethnl0", false));
  hp = h.GetBridgePortHairpin("vethnl0");
  ASSERT_OK(hp);
  EXPECT_FALSE(*hp);
  ASSERT_OK(h.SetMaster("vethnl0", ""));
  veth = h.GetLink("vethnl0");
  ASSERT_OK(veth);
  EXPECT_EQ(veth->master, 0);
  EXPECT_EQ(h.GetBridgePortHairpin("vethnl0").status().code(), absl::StatusCode::kNotFound);

  // One message, so a clash on the peer's side leaves no half-made pair behind.
  Status clash = h.CreateVeth("vethnl1", "eth0", 0, &ctr->ns());
  EXPECT_EQ(clash.code(), absl::StatusCode::kAlreadyExists) << clash;
  EXPECT_EQ(h.GetLink("vethnl1").status().code(), absl::StatusCode::kNotFound);

  // A link made on the host side can also be moved afterwards.
  ASSERT_OK(h.CreateVeth("vethnl2", "vethnl3"));
  ASSERT_OK(h.MoveToNs("vethnl3", ctr->ns()));
  EXPECT_OK(ctr->rtnl().GetLink("vethnl3"));
  EXPECT_EQ(h.GetLink("vethnl3").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(NetlinkTest, UdpTrafficRoutesAndNeighbours) {
  ScratchNs* a = NewNs();
  ScratchNs* b = NewNs();
  ASSERT_TRUE(a && b);
  Rtnl& ra = a->rtnl();
  Rtnl& rb = b->rtnl();
  ASSERT_OK(ra.CreateVeth("nla0", "nlb0", 0, &b->ns(), "02:42:0a:63:00:02"));
  ASSERT_OK(ra.AddAddr("nla0", "10.99.0.1/24"));
  ASSERT_OK(rb.AddAddr("nlb0", "10.99.0.2/24"));
  ASSERT_OK(ra.SetUp("nla0"));
  ASSERT_OK(rb.SetUp("nlb0"));

  // A permanent neighbour: a never needs to ARP for b.
  ASSERT_OK(ra.AddNeigh("nla0", "10.99.0.2", "02:42:0a:63:00:02"));
  EXPECT_EQ(ra.AddNeigh("nla0", "10.99.0.2", "02:42:0a:63:00:02").code(), absl::StatusCode::kAlreadyExists);
  auto neighs = ra.ListNeighs("nla0");
  ASSERT_OK(neighs);
  bool found = false;
  for (const auto& n : *neighs)
    if (n.ip == "10.99.0.2") {
      found = true;
      EXPECT_EQ(n.mac, "02:42:0a:63:00:02");
      EXPECT_TRUE(n.permanent);
      EXPECT_EQ(n.link, "nla0");
    }
  EXPECT_TRUE(found);

  // Real traffic across the pair: b listens, a sends.
  auto [rx_b, port_b] = UdpSocketIn(b->ns(), "10.99.0.2");
  ASSERT_TRUE(rx_b.valid());
  auto [got, from] = SendAndReceive(a->ns(), "10.99.0.2", port_b, rx_b.get(), "hello over veth");
  EXPECT_EQ(got, "hello over veth");
  EXPECT_EQ(from, "10.99.0.1");

  // An address of a's beyond the shared subnet is reachable from b only through its default route.
  ASSERT_OK(ra.AddAddr("lo", "10.98.7.1/32"));
  auto [rx_a, port_a] = UdpSocketIn(a->ns(), "10.98.7.1");
  ASSERT_TRUE(rx_a.valid());
  int err = 0;
  auto [none, none_from] = SendAndReceive(b->ns(), "10.98.7.1", port_a, rx_a.get(), "x", &err);
  EXPECT_EQ(none, "");
  EXPECT_EQ(err, ENETUNREACH);

  ASSERT_OK(rb.AddRoute("default", "10.99.0.1", "nlb0"));
  EXPECT_EQ(rb.AddRoute("default", "10.99.0.1", "nlb0").code(), absl::StatusCode::kAlreadyExists);
  ASSERT_OK(rb.AddRoute("10.200.0.0/16", "", "nlb0"));
  auto routes = rb.ListRoutes();
  ASSERT_OK(routes);
  std::vector<std::string> rs;
  for (const auto& rt : *routes) rs.push_back(rt.dst + " via " + rt.gateway + " dev " + rt.link);
  EXPECT_THAT(rs, ::testing::IsSupersetOf({"default via 10.99.0.1 dev nlb0", "10.200.0.0/16 via  dev nlb0",
                                           "10.99.0.0/24 via  dev nlb0"}));
  auto [routed, routed_from] = SendAndReceive(b->ns(), "10.98.7.1", port_a, rx_a.get(), "hello via gateway");
  EXPECT_EQ(routed, "hello via gateway");
  EXPECT_EQ(routed_from, "10.99.0.2");

  ASSERT_OK(rb.DelRoute("default", "10.99.0.1", "nlb0"));
  EXPECT_EQ(rb.DelRoute("default", "10.99.0.1", "nlb0").code(), absl::StatusCode::kNotFound);
  ASSERT_OK(rb.DelRoute("10.200.0.0/16", "", ""));
  routes = rb.ListRoutes();
  ASSERT_OK(routes);
  for (const auto& rt : *routes) {
    EXPECT_NE(rt.dst, "default");
    EXPECT_NE(rt.dst, "10.200.0.0/16");
  }
  ASSERT_OK(ra.DelNeigh("nla0", "10.99.0.2"));
  EXPECT_EQ(ra.DelNeigh("nla0", "10.99.0.2").code(), absl::StatusCode::kNotFound);
}

TEST_F(NetlinkTest, MacvlanBornInTargetNamespace) {
  ScratchNs* host = NewNs();
  ScratchNs* ctr = NewNs();
  ASSERT_TRUE(host && ctr);
  Rtnl& h = host->rtnl();
  // The parent stands in for a physical NIC: a veth end that is not a bridge port.
  ASSERT_OK(h.CreateVeth("mvpar0", "mvpar1"));
  ASSERT_OK(h.SetUp("mvpar0"));
  ASSERT_OK(h.CreateMacvlan("eth1", "mvpar0", "bridge", &ctr->ns(), "02:42:c0:a8:00:05", 1400));
  auto eth1 = ctr->rtnl().GetLink("eth1");
  ASSERT_OK(eth1);
  EXPECT_EQ(eth1->kind, "macvlan");
  EXPECT_EQ(eth1->mac, "02:42:c0:a8:00:05");
  EXPECT_EQ(eth1->mtu, 1400);
  EXPECT_EQ(h.GetLink("eth1").status().code(), absl::StatusCode::kNotFound);

  // Without a target namespace it lands beside its parent.
  ASSERT_OK(h.CreateMacvlan("mvnl0", "mvpar0", "private"));
  auto local = h.GetLink("mvnl0");
  ASSERT_OK(local);
  EXPECT_EQ(local->kind, "macvlan");

  EXPECT_EQ(h.CreateMacvlan("mvnl1", "mvpar0", "sideways").code(), absl::StatusCode::kInvalidArgument);
  Status missing = h.CreateMacvlan("mvnl1", "nope0", "bridge", &ctr->ns());
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "link nope0 not found");
}

TEST_F(NetlinkTest, VxlanAndForwardingEntries) {
  ScratchNs* a = NewNs();
  ASSERT_NE(a, nullptr);
  Rtnl& r = a->rtnl();
  ASSERT_OK(r.CreateVeth("ulnl0", "ulnl1"));
  ASSERT_OK(r.AddAddr("ulnl0", "10.96.0.1/24"));
  ASSERT_OK(r.SetUp("ulnl0"));
  ASSERT_OK(r.CreateVxlan("vx-nl42", 42, "10.96.0.1", 4789, "ulnl0", false, 1450));
  auto vx = r.GetLink("vx-nl42");
  ASSERT_OK(vx);
  EXPECT_EQ(vx->kind, "vxlan");
  EXPECT_EQ(vx->mtu, 1450);
  ASSERT_OK(r.SetUp("vx-nl42"));
  EXPECT_EQ(r.CreateVxlan("vx-nl42", 43, "", 4789, "").code(), absl::StatusCode::kAlreadyExists);

  ASSERT_OK(r.AddFdb("vx-nl42", "02:42:0a:00:00:05", "10.96.0.2"));
  EXPECT_EQ(r.AddFdb("vx-nl42", "02:42:0a:00:00:05", "10.96.0.2").code(), absl::StatusCode::kAlreadyExists);
  auto fdb = r.ListFdb("vx-nl42");
  ASSERT_OK(fdb);
  bool found = false;
  for (const auto& e : *fdb)
    if (e.mac == "02:42:0a:00:00:05") {
      found = true;
      EXPECT_EQ(e.ip, "10.96.0.2");
      EXPECT_EQ(e.link, "vx-nl42");
      EXPECT_TRUE(e.permanent);
    }
  EXPECT_TRUE(found);
  ASSERT_OK(r.DelFdb("vx-nl42", "02:42:0a:00:00:05", "10.96.0.2"));
  fdb = r.ListFdb("vx-nl42");
  ASSERT_OK(fdb);
  for (const auto& e : *fdb) EXPECT_NE(e.mac, "02:42:0a:00:00:05");
  EXPECT_EQ(r.DelFdb("vx-nl42", "02:42:0a:00:00:05", "10.96.0.2").code(), absl::StatusCode::kNotFound);
}

TEST_F(NetlinkTest, ListLinksReportsKindsAndPeers) {
  ScratchNs* a = NewNs();
  ASSERT_NE(a, nullptr);
  Rtnl& r = a->rtnl();
  ASSERT_OK(r.CreateBridge("br-nl0"));
  ASSERT_OK(r.CreateVeth("lsnl0", "lsnl1"));
  ASSERT_OK(r.SetMaster("lsnl0", "br-nl0"));
  auto links = r.ListLinks();
  ASSERT_OK(links);
  std::map<std::string, LinkInfo> by_name;
  for (const auto& l : *links) by_name[l.name] = l;
  ASSERT_EQ(by_name.size(), 4u);
  EXPECT_EQ(by_name["lo"].kind, "");
  EXPECT_EQ(by_name["lo"].index, 1);
  EXPECT_EQ(by_name["br-nl0"].kind, "bridge");
  EXPECT_EQ(by_name["lsnl0"].kind, "veth");
  EXPECT_EQ(by_name["lsnl0"].master, by_name["br-nl0"].index);
  EXPECT_EQ(by_name["lsnl0"].parent, by_name["lsnl1"].index);
  EXPECT_EQ(by_name["lsnl1"].parent, by_name["lsnl0"].index);
}

TEST_F(NetlinkTest, OneSocketSharedByThreads) {
  ScratchNs* a = NewNs();
  ASSERT_NE(a, nullptr);
  Rtnl& r = a->rtnl();
  ASSERT_OK(r.CreateBridge("br-nl0"));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (t % 2 == 0) {
          auto l = r.GetLink("br-nl0");
          if (!l.ok() || l->kind != "bridge") ++failures;
        } else {
          auto ls = r.ListLinks();
          if (!ls.ok() || ls->size() != 2) ++failures;
        }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(NetlinkTest, SysctlWritesStayInsideTheNamespace) {
  auto root_before = ReadSysctl(nullptr, "net.ipv4.ip_forward");
  ASSERT_OK(root_before);
  ScratchNs* a = NewNs();
  ScratchNs* b = NewNs();
  ASSERT_TRUE(a && b);
  ASSERT_OK(WriteSysctl(&a->ns(), "net.ipv4.ip_forward", "1"));
  auto in_a = ReadSysctl(&a->ns(), "net.ipv4.ip_forward");
  ASSERT_OK(in_a);
  EXPECT_EQ(*in_a, "1");
  auto in_b = ReadSysctl(&b->ns(), "net.ipv4.ip_forward");
  ASSERT_OK(in_b);
  EXPECT_EQ(*in_b, "0");
  auto root_after = ReadSysctl(nullptr, "net.ipv4.ip_forward");
  ASSERT_OK(root_after);
  EXPECT_EQ(*root_after, *root_before);

  // Interface names may contain dots; the per-interface tree keeps them whole.
  ASSERT_OK(a->rtnl().CreateBridge("br.nl"));
  ASSERT_OK(WriteSysctl(&a->ns(), "net.ipv4.conf.br.nl.route_localnet", "1"));
  auto v = ReadSysctl(&a->ns(), "net.ipv4.conf.br.nl.route_localnet");
  ASSERT_OK(v);
  EXPECT_EQ(*v, "1");
  EXPECT_EQ(ReadSysctl(&b->ns(), "net.ipv4.conf.br.nl.route_localnet").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(WriteSysctl(&a->ns(), "net.ipv4.no_such_key", "1").code(), absl::StatusCode::kNotFound);
}

// The flags column of /proc/net/if_inet6 for addr on link, read inside ns (/proc/thread-self: the
// helper thread's namespace, not the process's); -1 when absent.
int Ipv6AddrFlags(const NetNs& ns, const std::string& hex_addr, const std::string& link) {
  int flags = -1;
  Status st = ns.Run([&]() -> Status {
    std::ifstream in("/proc/thread-self/net/if_inet6");
    std::string addr, index, prefix, scope, fl, name;
    while (in >> addr >> index >> prefix >> scope >> fl >> name)
      if (addr == hex_addr && name == link) flags = std::stoi(fl, nullptr, 16);
    return absl::OkStatus();
  });
  EXPECT_TRUE(st.ok()) << st;
  return flags;
}

// What the bridge driver does for an IPv6 endpoint: the namespace is made with IPv6 disabled on
// new interfaces (NetNs::Create's init), the interface gets it back, an address without DAD (at
// once usable, not tentative) and a default route via the peer; UDP then flows over IPv6.
TEST_F(NetlinkTest, Ipv6AddressWithoutDadRoutesAndTraffic) {
  if (!PathExists("/proc/sys/net/ipv6")) GTEST_SKIP() << "this kernel has no IPv6";
  std::string path = NextNsPath();
  RemoveOnExit cleanup{path};
  auto init = [] { return WriteSysctl(nullptr, "net.ipv6.conf.default.disable_ipv6", "1"); };
  auto made = NetNs::Create(path, init);
  ASSERT_OK(made);
  auto a_rtnl = Rtnl::Open(&*made);
  ASSERT_OK(a_rtnl);
  Rtnl& ra = **a_rtnl;
  ScratchNs* b = NewNs();
  ASSERT_TRUE(b);
  Rtnl& rb = b->rtnl();
  // Born in b, made from a: the a end inherits a's default (disabled), the b end b's (enabled).
  ASSERT_OK(ra.CreateVeth("n6a0", "n6b0", 0, &b->ns()));
  auto disabled = ReadSysctl(&*made, "net.ipv6.conf.n6a0.disable_ipv6");
  ASSERT_OK(disabled);
  EXPECT_EQ(*disabled, "1");
  EXPECT_EQ(ra.AddAddr("n6a0", "fd00:66::2/64", true).code(), absl::StatusCode::kPermissionDenied)
      << "IPv6 disabled on the link: the kernel refuses the address";
  ASSERT_OK(WriteSysctl(&*made, "net.ipv6.conf.n6a0.disable_ipv6", "0"));
  ASSERT_OK(ra.AddAddr("n6a0", "fd00:66::2/64", /*no_dad=*/true));
  ASSERT_OK(rb.AddAddr("n6b0", "fd00:66::1/64", /*no_dad=*/true));
  ASSERT_OK(ra.SetUp("n6a0"));
  ASSERT_OK(rb.SetUp("n6b0"));
  ASSERT_OK(ra.AddRoute("default", "fd00:66::1", "n6a0"));
  auto routes = ra.ListRoutes(AF_INET6);
  ASSERT_OK(routes);
  bool default6 = false;
  for (const auto& r : *routes) default6 |= r.dst == "default" && r.gateway == "fd00:66::1" && r.link == "n6a0";
  EXPECT_TRUE(default6);
  auto addrs = ra.ListAddrs("n6a0", AF_INET6);
  ASSERT_OK(addrs);
  bool listed = false;
  for (const auto& x : *addrs) listed |= x.cidr == "fd00:66::2/64";
  EXPECT_TRUE(listed);
  // IFA_F_NODAD (0x02) and not IFA_F_TENTATIVE (0x40).
  int flags = Ipv6AddrFlags(*made, "fd000066000000000000000000000002", "n6a0");
  ASSERT_NE(flags, -1);
  EXPECT_TRUE(flags & 0x02) << flags;
  EXPECT_FALSE(flags & 0x40) << flags;

  // b listens on its IPv6 address; a sends (retrying while the carrier comes up).
  UniqueFd rx;
  ASSERT_OK(b->ns().Run([&]() -> Status {
    rx.reset(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(16666);
    ::inet_pton(AF_INET6, "fd00:66::1", &sa.sin6_addr);
    if (::bind(rx.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return ErrnoStatus(errno, "bind");
    return absl::OkStatus();
  }));
  UniqueFd tx;
  ASSERT_OK(made->Run([&]() -> Status {
    tx.reset(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    return tx.valid() ? absl::OkStatus() : ErrnoStatus(errno, "socket");
  }));
  sockaddr_in6 dst{};
  dst.sin6_family = AF_INET6;
  dst.sin6_port = htons(16666);
  ::inet_pton(AF_INET6, "fd00:66::1", &dst.sin6_addr);
  std::string got, from;
  for (int attempt = 0; attempt < 30 && got.empty(); ++attempt) {
    ASSERT_GE(::sendto(tx.get(), "over v6", 7, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst), 0) << errno;
    pollfd p{rx.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) != 1) continue;
    char buf[64];
    sockaddr_in6 src{};
    socklen_t len = sizeof src;
    ssize_t n = ::recvfrom(rx.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&src), &len);
    ASSERT_GT(n, 0);
    got.assign(buf, static_cast<size_t>(n));
    char s6[INET6_ADDRSTRLEN];
    ::inet_ntop(AF_INET6, &src.sin6_addr, s6, sizeof s6);
    from = s6;
  }
  EXPECT_EQ(got, "over v6");
  EXPECT_EQ(from, "fd00:66::2");
  a_rtnl->reset();
}

// The bridge driver's same-bridge shortcut (sys/bpf.h), with no bridge at all: two "containers"
// joined to a "host" namespace by veth pairs whose host ends are not connected to anything. Frames
// from one can reach the other only through the program at the host ends' ingress.
TEST_F(NetlinkTest, PeerRedirectCarriesFramesBetweenVethPeers) {
  ScratchNs* host = NewNs();
  ScratchNs* a = NewNs();
  ScratchNs* b = NewNs();
  ASSERT_TRUE(host && a && b);
  auto redirect = PeerRedirect::Load();
  ASSERT_OK(redirect);
  Rtnl& h = host->rtnl();
  const std::string mac_a = "02:42:0a:61:00:02", mac_b = "02:42:0a:61:00:03";
  ASSERT_OK(h.CreateVeth("rda", "eth0", 0, &a->ns(), mac_a));
  ASSERT_OK(h.CreateVeth("rdb", "eth0", 0, &b->ns(), mac_b));
  for (const char* l : {"rda", "rdb"}) ASSERT_OK(h.SetUp(l));
  ASSERT_OK(a->rtnl().AddAddr("eth0", "10.97.0.2/24"));
  ASSERT_OK(b->rtnl().AddAddr("eth0", "10.97.0.3/24"));
  ASSERT_OK(a->rtnl().SetUp("eth0"));
  ASSERT_OK(b->rtnl().SetUp("eth0"));
  // No ARP: the host ends would drop the broadcasts.
  ASSERT_OK(a->rtnl().AddNeigh("eth0", "10.97.0.3", mac_b));
  ASSERT_OK(b->rtnl().AddNeigh("eth0", "10.97.0.2", mac_a));
  auto [rx_b, port_b] = UdpSocketIn(b->ns(), "10.97.0.3");
  auto [rx_a, port_a] = UdpSocketIn(a->ns(), "10.97.0.2");
  ASSERT_TRUE(rx_a.valid() && rx_b.valid());

  // Unattached: nothing crosses.
  EXPECT_EQ(SendAndReceive(a->ns(), "10.97.0.3", port_b, rx_b.get(), "lost", nullptr, 3).first, "");
  auto names = h.IngressBpfNames("rda");
  ASSERT_OK(names);
  EXPECT_TRUE(names->empty());

  auto ia = h.GetLink("rda");
  auto ib = h.GetLink("rdb");
  ASSERT_OK(ia);
  ASSERT_OK(ib);
  // By name, and by the index the caller has (the bridge driver's way).
  ASSERT_OK(h.AttachIngressBpf("rda", redirect->prog_fd(), "berth_peer"));
  ASSERT_OK(h.AttachIngressBpf(ib->index, "rdb", redirect->prog_fd(), "berth_peer"));
  ASSERT_OK(redirect->Set(*ParseMac(mac_a), static_cast<uint32_t>(ia->index)));
  ASSERT_OK(redirect->Set(*ParseMac(mac_b), static_cast<uint32_t>(ib->index)));
  auto entries = redirect->Entries();
  ASSERT_OK(entries);
  EXPECT_EQ(entries->size(), 2u);

  auto [got, from] = SendAndReceive(a->ns(), "10.97.0.3", port_b, rx_b.get(), "a to b");
  EXPECT_EQ(got, "a to b");
  EXPECT_EQ(from, "10.97.0.2");
  EXPECT_EQ(SendAndReceive(b->ns(), "10.97.0.2", port_a, rx_a.get(), "b to a").first, "b to a");

  // Attaching again replaces the filter (a restarted daemon's new program), never adds one.
  auto second = PeerRedirect::Load();
  ASSERT_OK(second);
  ASSERT_OK(h.AttachIngressBpf("rda", second->prog_fd(), "berth_peer"));
  names = h.IngressBpfNames("rda");
  ASSERT_OK(names);
  EXPECT_EQ(*names, std::vector<std::string>{"berth_peer"});
  // rda now looks up the second map, which is empty: a's frames go nowhere until it is filled.
  EXPECT_EQ(SendAndReceive(a->ns(), "10.97.0.3", port_b, rx_b.get(), "lost again", nullptr, 3).first, "");
  ASSERT_OK(second->Set(*ParseMac(mac_b), static_cast<uint32_t>(ib->index)));
  EXPECT_EQ(SendAndReceive(a->ns(), "10.97.0.3", port_b, rx_b.get(), "refilled").first, "refilled");

  // An erased entry stops the shortcut at once; erasing it twice is fine.
  ASSERT_OK(second->Erase(*ParseMac(mac_b)));
  ASSERT_OK(second->Erase(*ParseMac(mac_b)));
  EXPECT_EQ(SendAndReceive(a->ns(), "10.97.0.3", port_b, rx_b.get(), "erased", nullptr, 3).first, "");
}

// Turns off the transmit checksum offload of `link` in ns: its packets leave with full checksums,
// which the receiving stack checks (a veth otherwise passes a partial checksum nobody verifies).
Status FullChecksumsFrom(const NetNs& ns, const std::string& link) {
  return ns.Run([&]() -> Status {
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ethtool_value ev{ETHTOOL_STXCSUM, 0};
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, link.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = reinterpret_cast<char*>(&ev);
    if (::ioctl(s.get(), SIOCETHTOOL, &ifr) != 0) return ErrnoStatus(errno, "ETHTOOL_STXCSUM " + link);
    return absl::OkStatus();
  });
}

// The Internet checksum of len bytes (0 over a block that carries its own correct checksum).
uint16_t InetChecksum(const uint8_t* p, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len % 2) sum += static_cast<uint32_t>(p[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<uint16_t>(~sum));
}

using ::berth::testing::Ipv4SockAddr;

std::string AddrOf(const sockaddr_in& sa) {
  char s[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &sa.sin_addr, s, sizeof s);
  return absl::StrCat(s, ":", ntohs(sa.sin_port));
}

// A TCP connection from ns to ip:port (nullopt, and errno in *err, when it fails within 2 s).
std::optional<UniqueFd> ConnectFrom(const NetNs& ns, const std::string& ip, int port, const std::string& bind_ip = "") {
  UniqueFd fd;
  Status st = ns.Run([&]() -> Status {
    fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{2, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (!bind_ip.empty()) {
      sockaddr_in b = Ipv4SockAddr(bind_ip, 0);
      if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&b), sizeof b) != 0) return ErrnoStatus(errno, "bind");
    }
    sockaddr_in sa = Ipv4SockAddr(ip, port);
    return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 ? absl::OkStatus()
                                                                                : ErrnoStatus(errno, "connect");
  });
  if (!st.ok()) return std::nullopt;
  return fd;
}

// The published-port NAT (sys/publish_nat.h) with no nftables at all: a client namespace C on an
// uplink of a "host" H, and a "container" K whose host-side veth in H is connected to nothing.
// Packets to H's address and the published port reach K only through berth_nat_in, and K's replies
// reach C only through berth_nat_out; K sees the client's own address.
TEST_F(NetlinkTest, PublishNatCarriesAPublishedPortBothWays) {
  ScratchNs* c = NewNs();
  ScratchNs* h = NewNs();
  ScratchNs* k = NewNs();
  ASSERT_TRUE(c && h && k);
  auto nat = PublishNat::Load();
  ASSERT_OK(nat);
  EXPECT_FALSE(nat->adopted());
  Rtnl& host = h->rtnl();
  const std::string mac_k = "02:42:0a:61:00:02", gw_mac = "02:42:0a:61:00:01";
  ASSERT_OK(host.CreateVeth("upl", "eth0", 0, &c->ns()));
  ASSERT_OK(host.CreateVeth("vk", "eth0", 0, &k->ns(), mac_k));
  ASSERT_OK(host.AddAddr("upl", "10.98.0.1/24"));
  for (const char* l : {"upl", "vk"}) ASSERT_OK(host.SetUp(l));
  ASSERT_OK(c->rtnl().AddAddr("eth0", "10.98.0.2/24"));
  // An address H has no route back to: its packets fail the reverse-path check.
  ASSERT_OK(c->rtnl().AddAddr("eth0", "10.96.0.5/32"));
  ASSERT_OK(c->rtnl().SetUp("eth0"));
  ASSERT_OK(k->rtnl().AddAddr("eth0", "10.97.0.2/24"));
  ASSERT_OK(k->rtnl().SetUp("eth0"));
  ASSERT_OK(k->rtnl().AddNeigh("eth0", "10.97.0.1", gw_mac));
  ASSERT_OK(k->rtnl().AddRoute("default", "10.97.0.1", "eth0"));
  // bpf_fib_lookup answers only where the uplink forwards.
  ASSERT_OK(WriteSysctl(&h->ns(), "net.ipv4.ip_forward", "1"));
  ASSERT_OK(FullChecksumsFrom(c->ns(), "eth0"));
  ASSERT_OK(FullChecksumsFrom(k->ns(), "eth0"));

  auto upl = host.GetLink("upl");
  auto vk = host.GetLink("vk");
  ASSERT_OK(upl);
  ASSERT_OK(vk);
  ASSERT_OK(host.AttachIngressBpf(upl->index, "upl", nat->in_fd(), "berth_nat_in", 0xbe00));
  ASSERT_OK(host.AttachIngressBpf(vk->index, "vk", nat->out_fd(), "berth_nat_out", 2));
  ASSERT_OK(nat->SetUplink(static_cast<uint32_t>(upl->index)));
  const uint32_t h_addr = ntohl(Ipv4SockAddr("10.98.0.1", 0).sin_addr.s_addr);
  ASSERT_OK(nat->SetLocal(h_addr));

  UniqueFd listener;
  int tcp_port = 0;
  ASSERT_OK(k->ns().Run([&]() -> Status {
    listener.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sa = Ipv4SockAddr("10.97.0.2", 0);
    if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return ErrnoStatus(errno, "bind");
    socklen_t len = sizeof sa;
    ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&sa), &len);
    tcp_port = ntohs(sa.sin_port);
    return ::listen(listener.get(), 4) == 0 ? absl::OkStatus() : ErrnoStatus(errno, "listen");
  }));
  PublishNat::Backend b;
  b.addr = ntohl(Ipv4SockAddr("10.97.0.2", 0).sin_addr.s_addr);
  b.port = static_cast<uint16_t>(tcp_port);
  b.ifindex = static_cast<uint32_t>(vk->index);
  b.mac = *ParseMac(mac_k);
  b.gateway_mac = *ParseMac(gw_mac);
  ASSERT_OK(nat->SetPort({0, 8080, IPPROTO_TCP}, b));
  auto ports = nat->Ports();
  ASSERT_OK(ports);
  ASSERT_EQ(ports->size(), 1u);
  EXPECT_EQ((*ports)[0].second, b);

  // TCP, 1 MB each way with full checksums: a wrong checksum update would stall it. K sees C's
  // own address; C's socket is connected to the address it asked for.
  const std::string data(1 << 20, 'x');
  std::string tcp_peer;
  std::thread server([&] {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    UniqueFd conn(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&from), &len, SOCK_CLOEXEC));
    if (!conn.valid()) return;
    tcp_peer = AddrOf(from);
    std::string got;
    char buf[65536];
    while (got.size() < data.size()) {
      ssize_t n = ::read(conn.get(), buf, sizeof buf);
      if (n <= 0) return;
      got.append(buf, static_cast<size_t>(n));
    }
    (void)!::write(conn.get(), got.data(), got.size());
  });
  auto client = ConnectFrom(c->ns(), "10.98.0.1", 8080);
  if (!client) {
    ::shutdown(listener.get(), SHUT_RDWR);
    server.join();
    FAIL() << "connect through the published port";
  }
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::write(client->get(), data.data() + sent, data.size() - sent);
    ASSERT_GT(n, 0) << std::strerror(errno);
    sent += static_cast<size_t>(n);
  }
  std::string echoed;
  char buf[65536];
  while (echoed.size() < data.size()) {
    ssize_t n = ::read(client->get(), buf, sizeof buf);
    if (n <= 0) break;
    echoed.append(buf, static_cast<size_t>(n));
  }
  server.join();
  EXPECT_EQ(echoed.size(), data.size());
  EXPECT_TRUE(echoed == data);
  sockaddr_in mine{};
  socklen_t mine_len = sizeof mine;
  ::getsockname(client->get(), reinterpret_cast<sockaddr*>(&mine), &mine_len);
  EXPECT_EQ(tcp_peer, AddrOf(mine)) << "the client's own address and port";
  auto in = nat->PacketsIn();
  auto out = nat->PacketsOut();
  ASSERT_OK(in);
  ASSERT_OK(out);
  EXPECT_GT(*in, 10u);
  EXPECT_GT(*out, 10u);
  auto flows = nat->FlowCount();
  ASSERT_OK(flows);
  EXPECT_EQ(*flows, 1);

  // An ICMP "fragmentation needed" about the answer reaches K as about its own packet.
  {
    UniqueFd icmp_k;
    ASSERT_OK(k->ns().Run([&]() -> Status {
      icmp_k.reset(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
      return icmp_k.valid() ? absl::OkStatus() : ErrnoStatus(errno, "raw socket");
    }));
    std::vector<uint8_t> msg(8 + 20 + 8, 0);
    msg[0] = 3;  // destination unreachable
    msg[1] = 4;  // fragmentation needed
    msg[6] = 1400 >> 8;
    msg[7] = 1400 & 0xff;
    uint8_t* q = msg.data() + 8;  // a segment of the answer as C got it: 10.98.0.1:8080 -> C
    q[0] = 0x45;
    q[3] = 40;
    q[8] = 64;
    q[9] = IPPROTO_TCP;
    uint32_t a = Ipv4SockAddr("10.98.0.1", 0).sin_addr.s_addr;
    std::memcpy(q + 12, &a, 4);
    std::memcpy(q + 16, &mine.sin_addr.s_addr, 4);
    uint16_t v = InetChecksum(q, 20);
    std::memcpy(q + 10, &v, 2);
    v = htons(8080);
    std::memcpy(q + 20, &v, 2);
    std::memcpy(q + 22, &mine.sin_port, 2);
    v = InetChecksum(msg.data(), msg.size());
    std::memcpy(msg.data() + 2, &v, 2);
    UniqueFd raw_c;
    ASSERT_OK(c->ns().Run([&]() -> Status {
      raw_c.reset(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
      return raw_c.valid() ? absl::OkStatus() : ErrnoStatus(errno, "raw socket");
    }));
    sockaddr_in to = Ipv4SockAddr("10.98.0.1", 0);
    ASSERT_EQ(::sendto(raw_c.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(msg.size()));
    pollfd p{icmp_k.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1) << "K got no ICMP error";
    uint8_t got[128];
    ssize_t n = ::recv(icmp_k.get(), got, sizeof got, 0);
    ASSERT_EQ(n, 20 + static_cast<ssize_t>(msg.size()));
    char dst[INET_ADDRSTRLEN], quoted_src[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, got + 16, dst, sizeof dst);
    ::inet_ntop(AF_INET, got + 20 + 8 + 12, quoted_src, sizeof quoted_src);
    EXPECT_STREQ(dst, "10.97.0.2");
    EXPECT_STREQ(quoted_src, "10.97.0.2");
    EXPECT_EQ((got[20 + 28] << 8) | got[20 + 29], tcp_port) << "the quoted source port";
    EXPECT_EQ(InetChecksum(got, 20), 0) << "outer IP header checksum";
    EXPECT_EQ(InetChecksum(got + 20, static_cast<size_t>(n) - 20), 0) << "ICMP checksum";
    EXPECT_EQ(InetChecksum(got + 28, 20), 0) << "quoted IP header checksum";
  }

  // A source the host would not route back through the uplink gets no flow and no DNAT.
  EXPECT_FALSE(ConnectFrom(c->ns(), "10.98.0.1", 8080, "10.96.0.5").has_value());
  flows = nat->FlowCount();
  ASSERT_OK(flows);
  EXPECT_EQ(*flows, 1);
  // Nor does an address that is not in the local map, nor UDP (left to nftables' conntrack).
  ASSERT_OK(nat->EraseLocal(h_addr));
  EXPECT_FALSE(ConnectFrom(c->ns(), "10.98.0.1", 8080).has_value());
  ASSERT_OK(nat->SetLocal(h_addr));
  auto [rx_k, port_k] = UdpSocketIn(k->ns(), "10.97.0.2");
  ASSERT_TRUE(rx_k.valid());
  b.port = static_cast<uint16_t>(port_k);
  ASSERT_OK(nat->SetPort({0, 8080, IPPROTO_UDP}, b));
  EXPECT_EQ(SendAndReceive(c->ns(), "10.98.0.1", 8080, rx_k.get(), "udp", nullptr, 3).first, "");
  ASSERT_OK(nat->ErasePort({0, 8080, IPPROTO_UDP}));

  // A restarted berthd adopts the maps of the program it finds attached: ports and flows go on.
  auto filters = host.IngressBpfFilters(upl->index, "upl");
  ASSERT_OK(filters);
  ASSERT_EQ(filters->size(), 1u);
  EXPECT_EQ((*filters)[0].prio, 0xbe00);
  auto again = PublishNat::Load((*filters)[0].prog_id);
  ASSERT_OK(again);
  EXPECT_TRUE(again->adopted());
  flows = again->FlowCount();
  ASSERT_OK(flows);
  EXPECT_EQ(*flows, 1);
  ports = again->Ports();
  ASSERT_OK(ports);
  EXPECT_EQ(ports->size(), 1u);
  auto fresh = PublishNat::Load(12345678);
  ASSERT_OK(fresh);
  EXPECT_FALSE(fresh->adopted()) << "no such program: new maps";

  // The flows to a backend go with it; an erased port is no longer published.
  auto forgot = nat->ForgetFlowsTo({{b.addr, static_cast<uint16_t>(tcp_port)}});
  ASSERT_OK(forgot);
  EXPECT_EQ(*forgot, 1);
  ASSERT_OK(nat->ErasePort({0, 8080, IPPROTO_TCP}));
  ASSERT_OK(nat->ErasePort({0, 8080, IPPROTO_TCP}));
  EXPECT_FALSE(ConnectFrom(c->ns(), "10.98.0.1", 8080).has_value());

  // Detaching twice is fine, and leaves no filter.
  ASSERT_OK(host.DetachIngressBpf(upl->index, "upl", 0xbe00));
  ASSERT_OK(host.DetachIngressBpf(upl->index, "upl", 0xbe00));
  auto names = host.IngressBpfNames("upl");
  ASSERT_OK(names);
  EXPECT_TRUE(names->empty());
}

// ctnetlink through a sibling socket of the namespace's rtnetlink one: each call deletes exactly
// the entries with the address in either direction, and only in that namespace (the entries
// exist nowhere else, so the counts prove where the socket is).
TEST_F(NetlinkTest, ConntrackEntriesOfAnAddressAreDeleted) {
  ScratchNs* a = NewNs();
  ASSERT_TRUE(a);
  Rtnl& ra = a->rtnl();
  ASSERT_OK(ra.AddAddr("lo", "10.97.0.2/32"));
  ASSERT_OK(ra.AddAddr("lo", "10.97.0.3/32"));
  // Conntrack tracks a namespace's packets once some rule there needs it.
  auto nft = sys::Run({"nsenter", "--net=" + a->path(), "nft", "-f", "-"},
                 "table ip bt_ct {\n chain out {\n  type filter hook output priority 0;\n  ct state new accept\n }\n}\n");
  ASSERT_OK(nft);
  ASSERT_EQ(nft->exit_code, 0) << nft->err;
  auto ct = ra.OpenSibling(NETLINK_NETFILTER);
  ASSERT_OK(ct);
  Rtnl& c = **ct;

  // Two flows on lo: each from the address to itself (the local route's source).
  auto [rx2, port2] = UdpSocketIn(a->ns(), "10.97.0.2");
  auto [rx3, port3] = UdpSocketIn(a->ns(), "10.97.0.3");
  ASSERT_TRUE(rx2.valid() && rx3.valid());
  EXPECT_EQ(SendAndReceive(a->ns(), "10.97.0.2", port2, rx2.get(), "two").first, "two");
  EXPECT_EQ(SendAndReceive(a->ns(), "10.97.0.3", port3, rx3.get(), "three").first, "three");

  // By destination port: only the flow to that port (UDP; TCP to it has none).
  auto n = c.DeleteConntrackToPort(IPPROTO_TCP, static_cast<uint16_t>(port3));
  ASSERT_OK(n);
  EXPECT_EQ(*n, 0);
  n = c.DeleteConntrackToPort(IPPROTO_UDP, static_cast<uint16_t>(port3));
  ASSERT_OK(n);
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(SendAndReceive(a->ns(), "10.97.0.3", port3, rx3.get(), "three again").first, "three again");

  n = c.DeleteConntrackOf("10.97.0.2");
  ASSERT_OK(n);
  EXPECT_EQ(*n, 1);
  n = c.DeleteConntrackOf("10.97.0.2");
  ASSERT_OK(n);
  EXPECT_EQ(*n, 0) << "deleted once";
  n = c.DeleteConntrackOf("10.97.0.3");
  ASSERT_OK(n);
  EXPECT_EQ(*n, 1) << "the other flow was left alone by the first call";
  n = c.DeleteConntrackOf("fd00::2");
  ASSERT_OK(n);
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(c.DeleteConntrackOf("10.97.0").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::sys
