#pragma once
// Rtnl: typed rtnetlink over libmnl (the model is netavark). One NETLINK_ROUTE socket per namespace, opened
// inside that namespace once and reused for the process lifetime; strict checking (NETLINK_GET_STRICT_CHK);
// every change carries NLM_F_ACK (creates also NLM_F_CREATE|NLM_F_EXCL); replies are checked against the
// request's sequence number and our port id; the kernel's extended-ack text is kept in the error:
//   "RTM_NEWLINK linuxbridge1: File exists", "RTM_NEWLINK vx0: Numerical result out of range: VXLAN ID must
//   be lower than 16777216".
// errno maps through berth::ErrnoStatus (EEXIST -> AlreadyExists, ENODEV/ENOENT/ESRCH -> NotFound,
// EOPNOTSUPP -> Unimplemented); EADDRNOTAVAIL (deleting an address that is not there) is NotFound too.
//
// Threading: an Rtnl is safe to share; one mutex serialises request/reply pairs on its socket.

#include <linux/netlink.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "sys/netns.h"

struct mnl_socket;
struct nlmsghdr;

namespace berth::sys {

// ---- Address parsing (pure; unit-tested) ----
using Mac = std::array<uint8_t, 6>;
// "02:42:ac:11:00:02" (case-insensitive, exactly six two-digit groups).
StatusOr<Mac> ParseMac(const std::string& s);
std::string FormatMac(const uint8_t* mac);  // lower case

struct IpAddr {
  int family = AF_INET;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};  // network order; the first 4 for IPv4
  size_t size() const { return family == AF_INET ? 4 : 16; }
  std::string ToString() const;
};
StatusOr<IpAddr> ParseIp(const std::string& s);
struct IpPrefix {
  IpAddr addr;
  int len = 0;
  std::string ToString() const;  // "10.0.0.2/24"
};
// "10.0.0.2/24", "fd00::1/64". The prefix length is required.
StatusOr<IpPrefix> ParseCidr(const std::string& s);
// IPv4 broadcast of a prefix ("10.0.0.2/24" -> 10.0.0.255).
IpAddr Ipv4Broadcast(const IpPrefix& p);

// ---- What the kernel reports ----
struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;  // IFLA_INFO_KIND: "bridge", "veth", "macvlan", "vxlan", "" (lo, physical)
  std::string mac;
  int mtu = 0;
  bool up = false;  // administratively (IFF_UP)
  int master = 0;   // IFLA_MASTER, 0 = none
  int parent = 0;   // IFLA_LINK (for a veth: the peer's index, possibly in another namespace)
  int type = 0;     // ifi_type: ARPHRD_ETHER, ARPHRD_LOOPBACK, ARPHRD_NONE (wireguard, tun)...
};
struct AddrInfo {
  std::string link;
  int index = 0;
  std::string cidr;  // "10.0.0.2/24"
};
struct RouteInfo {
  std::string dst;  // "default" or "10.1.0.0/16"
  std::string gateway;  // "" when on-link
  int index = 0;  // RTA_OIF
  std::string link;
};
struct NeighInfo {  // an ARP/NDP entry, or an FDB entry (then ip is the VXLAN remote, NDA_DST)
  std::string link;
  int index = 0;
  std::string ip;
  std::string mac;
  bool permanent = false;
  // FDB entries: one of the bridge the link is a port of (NDA_MASTER), added as static
  // (NUD_NOARP: not learned, not the port's own address).
  bool bridge = false;
  bool is_static = false;
};

// A VXLAN device as CreateVxlan makes it.
struct VxlanSpec {
  std::string name;
  uint32_t vni = 0;
  std::string local_ip;  // "" = none
  int dst_port = 0;      // 0 = the kernel's default
  std::string dev;       // underlay link of this namespace, "" = none
  int mtu = 0;
  bool learning = false;
  // ARP/ND reduction: the device answers ARP requests from its own neighbour table instead of
  // sending them out (IFLA_VXLAN_PROXY).
  bool proxy = false;
  // Born in target_ns (nullptr: this namespace). The device's UDP socket stays in the namespace of
  // the socket that made it (the kernel's link net), so a device made in the daemon's namespace
  // and born in another still sends and receives on the daemon's underlay.
  const NetNs* target_ns = nullptr;
};

class Rtnl {
 public:
  // nullptr: the caller's namespace. The socket is created on a thread inside ns and stays bound to it.
  // protocol: NETLINK_ROUTE, or NETLINK_NETFILTER for the conntrack calls below (the framing,
  // acks and dumps are the same).
  static StatusOr<std::unique_ptr<Rtnl>> Open(const NetNs* ns = nullptr, int protocol = NETLINK_ROUTE);
  // A socket of `protocol` in this socket's namespace (SIOCGSKNS), wherever the caller is.
  StatusOr<std::unique_ptr<Rtnl>> OpenSibling(int protocol) const;
  ~Rtnl();
  Rtnl(const Rtnl&) = delete;
  Rtnl& operator=(const Rtnl&) = delete;

  // One RTM_GETLINK by IFLA_IFNAME; NotFound "link NAME not found".
  StatusOr<LinkInfo> GetLink(const std::string& name);
  StatusOr<std::vector<LinkInfo>> ListLinks();

  Status CreateBridge(const std::string& name, int mtu = 0, const std::string& mac = "");
  // A veth pair in ONE RTM_NEWLINK: the peer is born in peer_ns (nullptr: this namespace) under its final
  // name, MAC and MTU, so there is never a half-made pair or a container interface with a random MAC.
  Status CreateVeth(const std::string& name, const std::string& peer_name, int mtu = 0,
                    const NetNs* peer_ns = nullptr, const std::string& peer_mac = "");
  // A macvlan on `parent` (a link of THIS namespace), born in target_ns as `name`.
  // mode: bridge | private | vepa | passthru.
  Status CreateMacvlan(const std::string& name, const std::string& parent, const std::string& mode,
                       const NetNs* target_ns = nullptr, const std::string& mac = "", int mtu = 0);
  // local_ip and dev may be empty; dst_port 0 leaves the kernel default.
  Status CreateVxlan(const std::string& name, uint32_t vni, const std::string& local_ip, int dst_port,
                     const std::string& dev, bool learning = false, int mtu = 0);
  Status CreateVxlan(const VxlanSpec& spec);
  Status DeleteLink(const std::string& name);  // NotFound if missing

  Status SetUp(const std::string& name, bool up = true);
  Status SetMaster(const std::string& name, const std::string& master);  // "" = nomaster
  Status SetMtu(const std::string& name, int mtu);
  Status SetMac(const std::string& name, const std::string& mac);
  Status SetName(const std::string& name, const std::string& new_name);
  Status MoveToNs(const std::string& name, const NetNs& ns);
  // IFLA_PROTINFO/IFLA_BRPORT_MODE on a bridge port.
  Status SetBridgePortHairpin(const std::string& port, bool on);
  StatusOr<bool> GetBridgePortHairpin(const std::string& port);
  // IFLA_PROTINFO/IFLA_BRPORT_LEARNING: whether the bridge learns source MACs on this port.
  Status SetBridgePortLearning(const std::string& port, bool on);
  StatusOr<bool> GetBridgePortLearning(const std::string& port);

  // EEXIST -> AlreadyExists. no_dad (IFA_F_NODAD, IPv6): usable at once instead of tentative for the
  // ~1 s duplicate address detection takes; Docker adds its IPv6 addresses so.
  Status AddAddr(const std::string& link, const std::string& cidr, bool no_dad = false);
  Status DelAddr(const std::string& link, const std::string& cidr);  // NotFound if missing
  // link "" = all links; family AF_INET or AF_INET6.
  StatusOr<std::vector<AddrInfo>> ListAddrs(const std::string& link = "", int family = AF_INET);

  // dst_cidr "default" or a prefix; gateway "" = on-link (scope link); link "" = let the kernel choose.
  Status AddRoute(const std::string& dst_cidr, const std::string& gateway, const std::string& link);
  // `ip route add unreachable DST`: sending there fails at once (EHOSTUNREACH).
  Status AddUnreachableRoute(const std::string& dst_cidr);
  Status DelRoute(const std::string& dst_cidr, const std::string& gateway, const std::string& link);
  // Routes of the main table.
  StatusOr<std::vector<RouteInfo>> ListRoutes(int family = AF_INET);

  Status AddNeigh(const std::string& link, const std::string& ip, const std::string& mac);  // permanent
  Status DelNeigh(const std::string& link, const std::string& ip);
  StatusOr<std::vector<NeighInfo>> ListNeighs(const std::string& link = "", int family = AF_INET);
  // VXLAN forwarding entries (AF_BRIDGE, NTF_SELF, permanent): frames for mac go to dst_ip.
  Status AddFdb(const std::string& link, const std::string& mac, const std::string& dst_ip);
  Status DelFdb(const std::string& link, const std::string& mac, const std::string& dst_ip);
  StatusOr<std::vector<NeighInfo>> ListFdb(const std::string& link);
  // A static entry in the FDB of the bridge `port` belongs to (`bridge fdb add MAC dev PORT
  // master static`): frames to mac go out of that port. EEXIST -> AlreadyExists; NotFound if
  // missing on delete.
  Status AddBridgeFdb(const std::string& port, const std::string& mac);
  Status DelBridgeFdb(const std::string& port, const std::string& mac);

  // Traffic control: a clsact qdisc on `link` (kept when it is there) and, at its ingress, one
  // direct-action cls_bpf filter running prog_fd (`tc filter replace dev LINK ingress prio 1
  // handle 1 bpf da fd PROG`): a second call replaces the program. Filters run in the order of
  // their prio; one that returns TC_ACT_UNSPEC hands the packet to the next.
  Status AttachIngressBpf(const std::string& link, int prog_fd, const std::string& name, uint16_t prio = 1);
  // The same for a link whose index the caller has (`link` names it in errors only).
  Status AttachIngressBpf(int index, const std::string& link, int prog_fd, const std::string& name,
                          uint16_t prio = 1);
  // Deletes the ingress filter at prio (`tc filter del dev LINK ingress prio PRIO`); OK when the
  // link, its clsact qdisc or the filter is not there.
  Status DetachIngressBpf(int index, const std::string& link, uint16_t prio);
  // The names of the cls_bpf programs at `link`'s ingress (none: no clsact qdisc, or no filter).
  StatusOr<std::vector<std::string>> IngressBpfNames(const std::string& link);
  // The same with each filter's prio and the kernel's id of its program (BPF_PROG_GET_FD_BY_ID).
  struct IngressBpf {
    std::string name;
    uint16_t prio = 0;
    uint32_t prog_id = 0;
  };
  StatusOr<std::vector<IngressBpf>> IngressBpfFilters(int index, const std::string& link);

  // ctnetlink (a NETLINK_NETFILTER socket): deletes every conntrack entry of this namespace that
  // has `ip` (IPv4 or IPv6) as the source or the destination of either direction; returns how
  // many. An entry that goes meanwhile is not an error.
  StatusOr<int> DeleteConntrackOf(const std::string& ip);
  // The same for every entry (any family) of protocol `proto` (IPPROTO_UDP...) whose original
  // direction goes to destination port `port`. After a failed delete the others are still
  // tried; the first failure is returned.
  StatusOr<int> DeleteConntrackToPort(uint8_t proto, uint16_t port);

 private:
  class Request;
  explicit Rtnl(mnl_socket* nl);
  // Dumps the conntrack table (family, AF_UNSPEC: all) and deletes each entry `match` takes.
  StatusOr<int> DeleteConntrackMatching(
      uint8_t family, const std::function<bool(const nlattr* orig, const nlattr* reply)>& match,
      const std::string& what);
  // Sends `req` and reads replies until its ack (or NLMSG_DONE for a dump), handing each data message to
  // on_reply. `what` prefixes errors.
  Status Transact(Request& req, const std::string& what,
                  const std::function<Status(const nlmsghdr*)>& on_reply = nullptr);
  // A dump, retried from scratch (after reset()) when the kernel says it raced with a change.
  Status Dump(Request& req, const std::string& what, const std::function<void()>& reset,
              const std::function<Status(const nlmsghdr*)>& on_reply);
  StatusOr<int> Index(const std::string& name);
  Status NewLink(Request& req, const std::string& name);
  Status ChangeLink(const std::string& name, const std::string& what,
                    const std::function<void(Request&)>& fill);
  StatusOr<std::vector<NeighInfo>> ListNeighTable(const std::string& link, int family);
  // RTM_NEWROUTE of a type (RTN_UNICAST, RTN_UNREACHABLE) in the main table.
  Status NewRoute(const std::string& dst_cidr, const std::string& gateway, const std::string& link, uint8_t type);
  // Adds or deletes an FDB entry of `link`'s: the device's own table (NTF_SELF: a VXLAN device's,
  // with its remote dst_ip) or the bridge's it is a port of (NTF_MASTER, no dst_ip).
  Status ChangeFdb(bool add, uint8_t table, const std::string& link, const std::string& mac,
                   const std::string& dst_ip);
  // One u8 attribute of a bridge port's IFLA_PROTINFO.
  Status SetBridgePortFlag(const std::string& port, uint16_t attr, uint8_t value, const std::string& what);
  StatusOr<bool> GetBridgePortFlag(const std::string& port, uint16_t attr);

  absl::Mutex mu_;
  mnl_socket* const nl_ ABSL_PT_GUARDED_BY(mu_);
  const int fd_;  // nl_'s, for calls that do not use the socket's messages (SIOCGSKNS)
  const uint32_t portid_;
  uint32_t seq_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::sys
