#include "sys/netlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/neighbour.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/sync.h"

namespace berth::sys {

// ---------------------------------------------------------------------------------------------------------
// Address parsing

StatusOr<Mac> ParseMac(const std::string& s) {
  auto bad = [&] { return absl::InvalidArgumentError("invalid MAC address \"" + s + "\""); };
  if (s.size() != 17) return bad();
  Mac mac;
  for (size_t i = 0; i < 6; ++i) {
    uint8_t v = 0;
    for (size_t j = 0; j < 2; ++j) {
      char c = s[i * 3 + j];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return bad();
      v = static_cast<uint8_t>(v * 16 + d);
    }
    if (i < 5 && s[i * 3 + 2] != ':') return bad();
    mac[i] = v;
  }
  return mac;
}

std::string FormatMac(const uint8_t* m) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

std::string IpAddr::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  if (::inet_ntop(family, bytes.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

StatusOr<IpAddr> ParseIp(const std::string& s) {
  IpAddr a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return absl::InvalidArgumentError("invalid IP address \"" + s + "\"");
}

std::string IpPrefix::ToString() const { return absl::StrCat(addr.ToString(), "/", len); }

StatusOr<IpPrefix> ParseCidr(const std::string& s) {
  auto bad = [&] { return absl::InvalidArgumentError("invalid CIDR \"" + s + "\""); };
  size_t slash = s.find('/');
  if (slash == std::string::npos || slash + 1 == s.size() || s.size() - slash > 4) return bad();
  IpPrefix p;
  auto ip = ParseIp(s.substr(0, slash));
  if (!ip.ok()) return bad();
  p.addr = *ip;
  p.len = 0;
  for (size_t i = slash + 1; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return bad();
    p.len = p.len * 10 + (s[i] - '0');
  }
  if (p.len > static_cast<int>(p.addr.size() * 8)) return bad();
  return p;
}

IpAddr Ipv4Broadcast(const IpPrefix& p) {
  uint32_t host;
  std::memcpy(&host, p.addr.bytes.data(), 4);
  host = ntohl(host);
  uint32_t mask = p.len == 0 ? 0 : ~uint32_t{0} << (32 - p.len);
  uint32_t b = htonl(host | ~mask);
  IpAddr out;
  out.family = AF_INET;
  std::memcpy(out.bytes.data(), &b, 4);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Request building and reply parsing

namespace {

constexpr size_t kRequestSize = 4096;  // the largest request (a veth pair) is a few hundred bytes
// A dump datagram is at most 32 KiB (netlink caps skbs at that); a recv into a smaller buffer would fail
// with MSG_TRUNC, so leave room.
constexpr size_t kReplySize = 65536;
constexpr int kReplyTimeoutSeconds = 30;

// Iterates the attributes in [start, start+len) and calls f for each well-formed one.
template <class F>
void ForEachAttr(const void* start, size_t len, F f) {
  const auto* a = static_cast<const nlattr*>(start);
  int rem = static_cast<int>(len);
  while (mnl_attr_ok(a, rem)) {
    f(a);
    rem -= static_cast<int>(MNL_ALIGN(a->nla_len));
    a = mnl_attr_next(a);
  }
}

// The attributes of a message after its family header of hdr_len bytes; false if the message is too short.
template <class F>
bool ForEachMsgAttr(const nlmsghdr* h, size_t hdr_len, F f) {
  size_t off = MNL_NLMSG_HDRLEN + MNL_ALIGN(hdr_len);
  if (h->nlmsg_len < off) return false;
  ForEachAttr(mnl_nlmsg_get_payload_offset(h, hdr_len), h->nlmsg_len - off, f);
  return true;
}

template <class F>
void ForEachNested(const nlattr* nest, F f) {
  ForEachAttr(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), f);
}

std::string AttrStr(const nlattr* a) {
  const char* p = static_cast<const char*>(mnl_attr_get_payload(a));
  return std::string(p, ::strnlen(p, mnl_attr_get_payload_len(a)));
}

bool AttrU32(const nlattr* a, uint32_t* out) {
  if (mnl_attr_get_payload_len(a) < sizeof(uint32_t)) return false;
  std::memcpy(out, mnl_attr_get_payload(a), sizeof(uint32_t));
  return true;
}

std::string AttrMac(const nlattr* a) {
  if (mnl_attr_get_payload_len(a) != 6) return "";
  return FormatMac(static_cast<const uint8_t*>(mnl_attr_get_payload(a)));
}

std::string AttrIp(const nlattr* a, int family) {
  IpAddr ip;
  ip.family = family;
  if (mnl_attr_get_payload_len(a) != ip.size()) return "";
  std::memcpy(ip.bytes.data(), mnl_attr_get_payload(a), ip.size());
  return ip.ToString();
}

// The extended-ack message in the TLVs starting `off` bytes into h's payload, or "".
std::string ExtAckMessage(const nlmsghdr* h, size_t off) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  size_t payload = h->nlmsg_len - MNL_NLMSG_HDRLEN;
  off = MNL_ALIGN(off);
  if (off >= payload) return "";
  std::string msg;
  ForEachAttr(static_cast<const char*>(mnl_nlmsg_get_payload(h)) + off, payload - off, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG) msg = AttrStr(a);
  });
  return msg;
}

// errno + the kernel's own words: "RTM_NEWLINK vx0: Numerical result out of range: VXLAN ID must be ...".
Status NetlinkError(int err, const std::string& what, const std::string& ext) {
  Status st = ErrnoStatus(err, what);
  // Deleting an address that is not there.
  if (err == EADDRNOTAVAIL) st = absl::NotFoundError(st.message());
  if (ext.empty()) return st;
  return Status(st.code(), absl::StrCat(st.message(), ": ", ext));
}

// Names the links of one namespace by index, for replies that only carry an index.
std::map<int, std::string> IndexNames(const std::vector<LinkInfo>& links) {
  std::map<int, std::string> m;
  for (const auto& l : links) m[l.index] = l.name;
  return m;
}

}  // namespace

// One netlink request in a fixed buffer. Every put is bounds-checked; an overflow is reported when the
// request is sent, so building code stays linear.
class Rtnl::Request {
 public:
  Request(uint16_t type, uint16_t flags) {
    nlh_ = mnl_nlmsg_put_header(buf_);
    nlh_->nlmsg_type = type;
    nlh_->nlmsg_flags = NLM_F_REQUEST | flags;
  }
  // The zeroed family header (ifinfomsg, ifaddrmsg, ...) that follows nlmsghdr, or inside a nest (the veth
  // peer's ifinfomsg).
  template <class T>
  T* Header() {
    size_t n = MNL_ALIGN(sizeof(T));
    static_assert(sizeof(T) <= sizeof spare_);
    if (nlh_->nlmsg_len + n > sizeof buf_) {
      overflow_ = true;  // reported at send; the caller may still fill the header in
      return reinterpret_cast<T*>(spare_);
    }
    void* p = mnl_nlmsg_get_payload_tail(nlh_);
    std::memset(p, 0, n);
    nlh_->nlmsg_len += static_cast<uint32_t>(n);
    return static_cast<T*>(p);
  }
  void Str(uint16_t type, const std::string& s) {
    Check(mnl_attr_put_strz_check(nlh_, sizeof buf_, type, s.c_str()));
  }
  void U8(uint16_t type, uint8_t v) { Check(mnl_attr_put_u8_check(nlh_, sizeof buf_, type, v)); }
  void U16(uint16_t type, uint16_t v) { Check(mnl_attr_put_u16_check(nlh_, sizeof buf_, type, v)); }
  void U32(uint16_t type, uint32_t v) { Check(mnl_attr_put_u32_check(nlh_, sizeof buf_, type, v)); }
  void Bytes(uint16_t type, const void* data, size_t len) {
    Check(mnl_attr_put_check(nlh_, sizeof buf_, type, len, data));
  }
  void Ip(uint16_t type, const IpAddr& ip) { Bytes(type, ip.bytes.data(), ip.size()); }
  // An attribute as another message carried it (header, payload and nests), copied whole.
  void RawAttr(const nlattr* a) {
    size_t n = MNL_ALIGN(a->nla_len);
    if (nlh_->nlmsg_len + n > sizeof buf_) {
      overflow_ = true;
      return;
    }
    std::memcpy(mnl_nlmsg_get_payload_tail(nlh_), a, a->nla_len);
    std::memset(static_cast<char*>(mnl_nlmsg_get_payload_tail(nlh_)) + a->nla_len, 0, n - a->nla_len);
    nlh_->nlmsg_len += static_cast<uint32_t>(n);
  }
  void MacAttr(uint16_t type, const Mac& m) { Bytes(type, m.data(), m.size()); }
  // libmnl marks the nest with NLA_F_NESTED, which the bridge's IFLA_PROTINFO parser requires.
  nlattr* Nest(uint16_t type) {
    nlattr* n = mnl_attr_nest_start_check(nlh_, sizeof buf_, type);
    Check(n != nullptr);
    return n;
  }
  void End(nlattr* nest) {
    if (nest != nullptr) mnl_attr_nest_end(nlh_, nest);
  }

  nlmsghdr* nlh() { return nlh_; }
  bool overflow() const { return overflow_; }

 private:
  void Check(bool ok) { overflow_ = overflow_ || !ok; }
  alignas(NLMSG_ALIGNTO * 2) char buf_[kRequestSize] = {};
  alignas(NLMSG_ALIGNTO * 2) char spare_[64] = {};
  nlmsghdr* nlh_;
  bool overflow_ = false;
};

// ---------------------------------------------------------------------------------------------------------
// The socket

Rtnl::Rtnl(mnl_socket* nl)
    : nl_(nl), fd_(mnl_socket_get_fd(nl)), portid_(mnl_socket_get_portid(nl)), seq_(0) {}
Rtnl::~Rtnl() { mnl_socket_close(nl_); }

StatusOr<std::unique_ptr<Rtnl>> Rtnl::Open(const NetNs* ns, int protocol) {
  mnl_socket* nl = nullptr;
  auto open = [&]() -> Status {
    nl = mnl_socket_open2(protocol, SOCK_CLOEXEC);
    if (nl == nullptr) return ErrnoStatus(errno, "netlink socket");
    auto fail = [&](const char* what) {
      Status st = ErrnoStatus(errno, what);
      mnl_socket_close(nl);
      nl = nullptr;
      return st;
    };
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) return fail("netlink bind");
    int one = 1;
    // Extended acks carry the kernel's reason; capped acks do not echo our request back; strict checking
    // makes the kernel reject malformed headers and honour dump filters instead of ignoring them.
    if (mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof one) < 0) return fail("NETLINK_EXT_ACK");
    if (mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof one) < 0) return fail("NETLINK_CAP_ACK");
    if (mnl_socket_setsockopt(nl, NETLINK_GET_STRICT_CHK, &one, sizeof one) < 0)
      return fail("NETLINK_GET_STRICT_CHK");
    // The kernel always answers; a bound on the wait keeps a wedged socket from hanging a caller forever.
    timeval tv{kReplyTimeoutSeconds, 0};
    if (::setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
      return fail("SO_RCVTIMEO");
    return absl::OkStatus();
  };
  // A netlink socket belongs to the namespace it was created in, wherever it is used from later.
  Status st = ns == nullptr ? open() : ns->Run(open);
  if (!st.ok()) return Annotate(st, protocol == NETLINK_ROUTE ? "open rtnetlink" : "open netlink");
  return std::unique_ptr<Rtnl>(new Rtnl(nl));
}

StatusOr<std::unique_ptr<Rtnl>> Rtnl::OpenSibling(int protocol) const {
  UniqueFd ns_fd(::ioctl(fd_, SIOCGSKNS));
  if (!ns_fd.valid()) return ErrnoStatus(errno, "netlink socket's namespace (SIOCGSKNS)");
  ASSIGN_OR_RETURN(NetNs ns, NetNs::Open("/proc/self/fd/" + std::to_string(ns_fd.get())));
  return Open(&ns, protocol);
}

Status Rtnl::Transact(Request& req, const std::string& what,
                      const std::function<Status(const nlmsghdr*)>& on_reply) {
  CheckNoStateLock("netlink request");
  if (req.overflow()) return absl::InvalidArgumentError(what + ": request too large");
  nlmsghdr* nlh = req.nlh();
  // NLM_F_DUMP is two bits, one of which (NLM_F_MATCH) doubles as NLM_F_EXCL on a new-request.
  const bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  // Every non-dump request is acked, so the end of its reply is never guessed.
  if (!dump) nlh->nlmsg_flags |= NLM_F_ACK;

  absl::MutexLock lock(&mu_);
  const uint32_t seq = ++seq_;
  nlh->nlmsg_seq = seq;
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return ErrnoStatus(errno, what + ": send");

  // Thread-local so concurrent Rtnl objects do not share it and a request does not allocate 64 KiB.
  static thread_local std::vector<char> buf(kReplySize);
  Status result;  // the first failure of on_reply; the rest of the reply is still drained
  bool interrupted = false;
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return absl::DeadlineExceededError(what + ": no reply from the kernel");
      return ErrnoStatus(errno, what + ": recv");
    }
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(h, len);
         h = mnl_nlmsg_next(h, &len)) {
      if (h->nlmsg_seq != seq) {
        // Replies to an earlier request that timed out may still be queued: drop them. A sequence number
        // from the future means the socket is shared or corrupted.
        if (static_cast<int32_t>(seq - h->nlmsg_seq) > 0) continue;
        return absl::InternalError(absl::StrFormat("%s: reply with sequence %u, expected %u", what,
                                                   h->nlmsg_seq, seq));
      }
      if (h->nlmsg_pid != portid_)
        return absl::InternalError(
            absl::StrFormat("%s: reply for port %u, we are %u", what, h->nlmsg_pid, portid_));
      if (h->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      switch (h->nlmsg_type) {
        case NLMSG_NOOP:
          continue;
        case NLMSG_OVERRUN:
          return absl::DataLossError(what + ": netlink overrun");
        case NLMSG_ERROR: {
          if (h->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(nlmsgerr))
            return absl::InternalError(what + ": truncated netlink error");
          const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(h));
          if (err->error == 0) return result;  // the ack
          // Unless capped, the kernel echoes our whole request between nlmsgerr and the TLVs.
          size_t off = sizeof(nlmsgerr);
          if (!(h->nlmsg_flags & NLM_F_CAPPED)) off += err->msg.nlmsg_len - sizeof(nlmsghdr);
          return NetlinkError(-err->error, what, ExtAckMessage(h, off));
        }
        case NLMSG_DONE: {
          // A dump that failed part way reports its errno (and extended ack) in NLMSG_DONE.
          int err = 0;
          if (h->nlmsg_len >= MNL_NLMSG_HDRLEN + sizeof(int))
            std::memcpy(&err, mnl_nlmsg_get_payload(h), sizeof err);
          if (err < 0) return NetlinkError(-err, what, ExtAckMessage(h, sizeof(int)));
          if (interrupted && result.ok())
            return absl::AbortedError(what + ": dump interrupted by a concurrent change");
          return result;
        }
        default:
          if (result.ok() && on_reply) result = on_reply(h);
      }
    }
    if (len != 0) return absl::InternalError(what + ": truncated netlink reply");
  }
}

Status Rtnl::Dump(Request& req, const std::string& what, const std::function<void()>& reset,
                  const std::function<Status(const nlmsghdr*)>& on_reply) {
  CheckNoStateLock("netlink dump");
  req.nlh()->nlmsg_flags |= NLM_F_DUMP;
  // The kernel flags a dump that raced with a change (NLM_F_DUMP_INTR); a fresh one is consistent.
  Status st;
  for (int attempt = 0; attempt < 5; ++attempt) {
    reset();
    st = Transact(req, what, on_reply);
    if (st.code() != absl::StatusCode::kAborted) return st;
  }
  return st;
}

// ---------------------------------------------------------------------------------------------------------
// Links

namespace {

bool ParseLink(const nlmsghdr* h, LinkInfo* l) {
  if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(ifinfomsg)) return false;
  const auto* ifm = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(h));
  *l = LinkInfo{};
  l->index = ifm->ifi_index;
  l->up = ifm->ifi_flags & IFF_UP;
  l->type = ifm->ifi_type;
  return ForEachMsgAttr(h, sizeof(ifinfomsg), [&](const nlattr* a) {
    uint32_t v = 0;
    switch (mnl_attr_get_type(a)) {
      case IFLA_IFNAME: l->name = AttrStr(a); break;
      case IFLA_ADDRESS: l->mac = AttrMac(a); break;
      case IFLA_MTU: if (AttrU32(a, &v)) l->mtu = static_cast<int>(v); break;
      case IFLA_MASTER: if (AttrU32(a, &v)) l->master = static_cast<int>(v); break;
      case IFLA_LINK: if (AttrU32(a, &v)) l->parent = static_cast<int>(v); break;
      case IFLA_LINKINFO:
        ForEachNested(a, [&](const nlattr* in) {
          if (mnl_attr_get_type(in) == IFLA_INFO_KIND) l->kind = AttrStr(in);
        });
        break;
    }
  });
}

}  // namespace

StatusOr<LinkInfo> Rtnl::GetLink(const std::string& name) {
  Request req(RTM_GETLINK, 0);
  req.Header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  req.Str(IFLA_IFNAME, name);
  req.U32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::optional<LinkInfo> found;
  Status st = Transact(req, "RTM_GETLINK " + name, [&](const nlmsghdr* h) {
    LinkInfo l;
    if (ParseLink(h, &l)) found = l;
    return absl::OkStatus();
  });
  if (st.code() == absl::StatusCode::kNotFound || (st.ok() && !found))
    return absl::NotFoundError("link " + name + " not found");
  RETURN_IF_ERROR(st);
  return *found;
}

StatusOr<std::vector<LinkInfo>> Rtnl::ListLinks() {
  Request req(RTM_GETLINK, 0);
  req.Header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  req.U32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::vector<LinkInfo> links;
  RETURN_IF_ERROR(Dump(req, "RTM_GETLINK dump", [&] { links.clear(); }, [&](const nlmsghdr* h) {
    LinkInfo l;
    if (ParseLink(h, &l)) links.push_back(std::move(l));
    return absl::OkStatus();
  }));
  return links;
}

StatusOr<int> Rtnl::Index(const std::string& name) {
  ASSIGN_OR_RETURN(LinkInfo l, GetLink(name));
  return l.index;
}

Status Rtnl::NewLink(Request& req, const std::string& name) { return Transact(req, "RTM_NEWLINK " + name); }

Status Rtnl::CreateBridge(const std::string& name, int mtu, const std::string& mac) {
  Mac m{};
  if (!mac.empty()) {
    ASSIGN_OR_RETURN(m, ParseMac(mac));
  }
  Request req(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  req.Header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  req.Str(IFLA_IFNAME, name);
  if (mtu > 0) req.U32(IFLA_MTU, static_cast<uint32_t>(mtu));
  if (!mac.empty()) req.MacAttr(IFLA_ADDRESS, m);
  nlattr* info = req.Nest(IFLA_LINKINFO);
  req.Str(IFLA_INFO_KIND, "bridge");
  req.End(info);
  return NewLink(req, name);
}

Status Rtnl::CreateVeth(const std::string& name, const std::string& peer_name, int mtu, const NetNs* peer_ns,
                        const std::string& peer_mac) {
  Mac m{};
  if (!peer_mac.empty()) {
    ASSIGN_OR_RETURN(m, ParseMac(peer_mac));
  }
  Request req(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  req.Header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  req.Str(IFLA_IFNAME, name);
  if (mtu > 0) req.U32(IFLA_MTU, static_cast<uint32_t>(mtu));
  nlattr* info = req.Nest(IFLA_LINKINFO);
  req.Str(IFLA_INFO_KIND, "veth");
  nlattr* data = req.Nest(IFLA_INFO_DATA);
  // VETH_INFO_PEER holds a whole link description: its own ifinfomsg, then its attributes.
  nlattr* peer = req.Nest(VETH_INFO_PEER);
  req.Header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  req.Str(IFLA_IFNAME, peer_name);
  if (mtu > 0) req.U32(IFLA_MTU, static_cast<uint32_t>(mtu));
  // The MAC is set in the create message: a container never sees its eth0 with a random address, and
  // there is no window where a second request could fail and leave a half-configured pair.
  if (!peer_mac.empty()) req.MacAttr(IFLA_ADDRESS, m);
  if (peer_ns != nullptr) req.U32(IFLA_NET_NS_FD, static_cast<uint32_t>(peer_ns->fd()));
  req.End(peer);
  req.End(data);
  req.End(info);
  return NewLink(req, name);
}

Status Rtnl::CreateMacvlan(const std::string& name, const std::string& parent, const std::string& mode,
                           const NetNs* target_ns, const std::string& mac, int mtu) {
  uint32_t m;
  if (mode == "bridge" || mode.empty()) m = MACVLAN_MODE_BRIDGE;
  else if (mode == "private") m = MACVLAN_MODE_PRIVATE;
  else if (mode == "vepa") m = MACVLAN_MODE_VEPA;
  else if (mode == "passthru") m = MACVLAN_MODE_PASSTHRU;
  else return absl::InvalidArgumentError("macvlan mode \"" + mode + "\": want bridge, private, vepa or passthru");
  Mac hw{};
  if (!mac.empty()) {
    ASSIGN_OR_RETURN(hw, ParseMac(mac));
  }
  ASSIGN_OR_RETURN(int parent_index, Index(parent));
  Request req(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  req.Header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  req.Str(IFLA_IFNAME, name);
  // IFLA_LINK is resolved in the socket's namespace, the new link is born in IFLA_NET_NS_FD's: the
  // macvlan never appears in the host namespace under a name that could clash.
  req.U32(IFLA_LINK, static_cast<uint32_t>(parent_index));
  if (target_ns != nullptr) req.U32(IFLA_NET_NS_FD, static_cast<uint32_t>(target_ns->fd()));
  if (mtu > 0) req.U32(IFLA_MTU, static_cast<uint32_t>(mtu));
  if (!mac.empty()) req.MacAttr(IFLA_ADDRESS, hw);
  nlattr* info = req.Nest(IFLA_LINKINFO);
  req.Str(IFLA_INFO_KIND, "macvlan");
  nlattr* data = req.Nest(IFLA_INFO_DATA);
  req.U32(IFLA_MACVLAN_MODE, m);
  req.End(data);
  req.End(info);
  return NewLink(req, name);
}

Status Rtnl::CreateVxlan(const std::string& name, uint32_t vni, const std::string& local_ip, int dst_port,
                         const std::string& dev, bool learning, int mtu) {
  VxlanSpec spec;
  spec.name = name;
  spec.vni = vni;
  spec.local_ip = local_ip;
  spec.dst_port = dst_port;
  spec.dev = dev;
  spec.learning = learning;
  spec.mtu = mtu;
  return CreateVxlan(spec);
}

Status Rtnl::CreateVxlan(const VxlanSpec& spec) {
  std::optional<IpAddr> local;
  if (!spec.local_ip.empty()) {
    ASSIGN_OR_RETURN(local, ParseIp(spec.local_ip));
  }
  if (spec.dst_port < 0 || spec.dst_port > 65535)
    return absl::InvalidArgumentError(absl::StrCat("vxlan port ", spec.dst_port, " out of range"));
  int dev_index = 0;
  if (!spec.dev.empty()) {
    ASSIGN_OR_RETURN(dev_index, Index(spec.dev));
  }
  Request req(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  req.Header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  req.Str(IFLA_IFNAME, spec.name);
  if (spec.mtu > 0) req.U32(IFLA_MTU, static_cast<uint32_t>(spec.mtu));
  if (spec.target_ns != nullptr) req.U32(IFLA_NET_NS_FD, static_cast<uint32_t>(spec.target_ns->fd()));
  nlattr* info = req.Nest(IFLA_LINKINFO);
  req.Str(IFLA_INFO_KIND, "vxlan");
  nlattr* data = req.Nest(IFLA_INFO_DATA);
  // The VNI is not range-checked here on purpose: the kernel's refusal says why in its own words.
  req.U32(IFLA_VXLAN_ID, spec.vni);
  if (local) req.Ip(local->family == AF_INET ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, *local);
  if (dev_index > 0) req.U32(IFLA_VXLAN_LINK, static_cast<uint32_t>(dev_index));
  if (spec.dst_port > 0) req.U16(IFLA_VXLAN_PORT, htons(static_cast<uint16_t>(spec.dst_port)));  // __be16
  req.U8(IFLA_VXLAN_LEARNING, spec.learning ? 1 : 0);
  if (spec.proxy) req.U8(IFLA_VXLAN_PROXY, 1);
  req.End(data);
  req.End(info);
  return NewLink(req, spec.name);
}

Status Rtnl::DeleteLink(const std::string& name) {
  Request req(RTM_DELLINK, 0);
  req.Header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  req.Str(IFLA_IFNAME, name);
  return Transact(req, "RTM_DELLINK " + name);
}

// RTM_SETLINK finds the link by IFLA_IFNAME when ifi_index is 0, and unlike RTM_NEWLINK can never create.
Status Rtnl::ChangeLink(const std::string& name, const std::string& what,
                        const std::function<void(Request&)>& fill) {
  Request req(RTM_SETLINK, 0);
  req.Header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  req.Str(IFLA_IFNAME, name);
  fill(req);
  return Transact(req, "RTM_SETLINK " + name + " " + what);
}

Status Rtnl::SetUp(const std::string& name, bool up) {
  Request req(RTM_SETLINK, 0);
  auto* ifm = req.Header<ifinfomsg>();
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_change = IFF_UP;
  ifm->ifi_flags = up ? IFF_UP : 0;
  req.Str(IFLA_IFNAME, name);
  return Transact(req, "RTM_SETLINK " + name + (up ? " up" : " down"));
}

Status Rtnl::SetMaster(const std::string& name, const std::string& master) {
  int master_index = 0;
  if (!master.empty()) {
    ASSIGN_OR_RETURN(master_index, Index(master));
  }
  return ChangeLink(name, master.empty() ? "nomaster" : "master " + master,
                    [&](Request& r) { r.U32(IFLA_MASTER, static_cast<uint32_t>(master_index)); });
}

Status Rtnl::SetMtu(const std::string& name, int mtu) {
  if (mtu <= 0) return absl::InvalidArgumentError(absl::StrCat("mtu ", mtu));
  return ChangeLink(name, absl::StrCat("mtu ", mtu),
                    [&](Request& r) { r.U32(IFLA_MTU, static_cast<uint32_t>(mtu)); });
}

Status Rtnl::SetMac(const std::string& name, const std::string& mac) {
  ASSIGN_OR_RETURN(Mac m, ParseMac(mac));
  return ChangeLink(name, "address " + mac, [&](Request& r) { r.MacAttr(IFLA_ADDRESS, m); });
}

Status Rtnl::SetName(const std::string& name, const std::string& new_name) {
  // With an index, IFLA_IFNAME is the new name rather than the key.
  ASSIGN_OR_RETURN(int index, Index(name));
  Request req(RTM_SETLINK, 0);
  auto* ifm = req.Header<ifinfomsg>();
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = index;
  req.Str(IFLA_IFNAME, new_name);
  return Transact(req, "RTM_SETLINK " + name + " name " + new_name);
}

Status Rtnl::MoveToNs(const std::string& name, const NetNs& ns) {
  return ChangeLink(name, "netns", [&](Request& r) { r.U32(IFLA_NET_NS_FD, static_cast<uint32_t>(ns.fd())); });
}

Status Rtnl::SetBridgePortFlag(const std::string& port, uint16_t attr, uint8_t value, const std::string& what) {
  // The bridge's own RTM_SETLINK handler (family AF_BRIDGE) only looks links up by index.
  ASSIGN_OR_RETURN(int index, Index(port));
  Request req(RTM_SETLINK, 0);
  auto* ifm = req.Header<ifinfomsg>();
  ifm->ifi_family = AF_BRIDGE;
  ifm->ifi_index = index;
  nlattr* proto = req.Nest(IFLA_PROTINFO);
  req.U8(attr, value);
  req.End(proto);
  return Transact(req, "RTM_SETLINK " + port + " " + what);
}

Status Rtnl::SetBridgePortHairpin(const std::string& port, bool on) {
  return SetBridgePortFlag(port, IFLA_BRPORT_MODE, on ? BRIDGE_MODE_HAIRPIN : BRIDGE_MODE_VEB,
                           on ? "hairpin on" : "hairpin off");
}

Status Rtnl::SetBridgePortLearning(const std::string& port, bool on) {
  return SetBridgePortFlag(port, IFLA_BRPORT_LEARNING, on ? 1 : 0, on ? "learning on" : "learning off");
}

StatusOr<bool> Rtnl::GetBridgePortFlag(const std::string& port, uint16_t attr) {
  ASSIGN_OR_RETURN(int index, Index(port));
  // Bridge port state is only reported by the AF_BRIDGE dump, which strict checking will not filter.
  Request req(RTM_GETLINK, 0);
  req.Header<ifinfomsg>()->ifi_family = AF_BRIDGE;
  std::optional<bool> value;
  RETURN_IF_ERROR(Dump(req, "RTM_GETLINK bridge dump", [&] { value.reset(); }, [&](const nlmsghdr* h) {
    if (h->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(ifinfomsg)) return absl::OkStatus();
    if (static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(h))->ifi_index != index) return absl::OkStatus();
    ForEachMsgAttr(h, sizeof(ifinfomsg), [&](const nlattr* a) {
      if (mnl_attr_get_type(a) != IFLA_PROTINFO) return;
      ForEachNested(a, [&](const nlattr* in) {
        if (mnl_attr_get_type(in) == attr && mnl_attr_get_payload_len(in) >= 1) value = mnl_attr_get_u8(in) != 0;
      });
    });
    return absl::OkStatus();
  }));
  if (!value) return absl::NotFoundError("link " + port + " is not a bridge port");
  return *value;
}

StatusOr<bool> Rtnl::GetBridgePortHairpin(const std::string& port) { return GetBridgePortFlag(port, IFLA_BRPORT_MODE); }

StatusOr<bool> Rtnl::GetBridgePortLearning(const std::string& port) {
  return GetBridgePortFlag(port, IFLA_BRPORT_LEARNING);
}

// ---------------------------------------------------------------------------------------------------------
// Addresses

namespace {

void FillAddrHeader(ifaddrmsg* ifa, const IpPrefix& p, int index) {
  ifa->ifa_family = static_cast<uint8_t>(p.addr.family);
  ifa->ifa_prefixlen = static_cast<uint8_t>(p.len);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(index);
}

}  // namespace

Status Rtnl::AddAddr(const std::string& link, const std::string& cidr, bool no_dad) {
  ASSIGN_OR_RETURN(IpPrefix p, ParseCidr(cidr));
  ASSIGN_OR_RETURN(int index, Index(link));
  Request req(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = req.Header<ifaddrmsg>();
  FillAddrHeader(ifa, p, index);
  if (no_dad && p.addr.family == AF_INET6) ifa->ifa_flags |= IFA_F_NODAD;
  req.Ip(IFA_LOCAL, p.addr);
  req.Ip(IFA_ADDRESS, p.addr);
  // Like docker (vishvananda/netlink), give IPv4 addresses their broadcast so the kernel answers
  // subnet broadcasts; /31 and /32 have none.
  if (p.addr.family == AF_INET && p.len < 31) req.Ip(IFA_BROADCAST, Ipv4Broadcast(p));
  return Transact(req, "RTM_NEWADDR " + link + " " + cidr);
}

Status Rtnl::DelAddr(const std::string& link, const std::string& cidr) {
  ASSIGN_OR_RETURN(IpPrefix p, ParseCidr(cidr));
  ASSIGN_OR_RETURN(int index, Index(link));
  Request req(RTM_DELADDR, 0);
  FillAddrHeader(req.Header<ifaddrmsg>(), p, index);
  req.Ip(IFA_LOCAL, p.addr);
  req.Ip(IFA_ADDRESS, p.addr);
  return Transact(req, "RTM_DELADDR " + link + " " + cidr);
}

StatusOr<std::vector<AddrInfo>> Rtnl::ListAddrs(const std::string& link, int family) {
  int index = 0;
  std::map<int, std::string> names;
  if (!link.empty()) {
    ASSIGN_OR_RETURN(index, Index(link));
    names[index] = link;
  } else {
    ASSIGN_OR_RETURN(auto links, ListLinks());
    names = IndexNames(links);
  }
  Request req(RTM_GETADDR, 0);
  auto* ifa = req.Header<ifaddrmsg>();
  ifa->ifa_family = static_cast<uint8_t>(family);
  ifa->ifa_index = static_cast<uint32_t>(index);  // a filter under strict checking
  std::vector<AddrInfo> out;
  RETURN_IF_ERROR(Dump(req, "RTM_GETADDR dump", [&] { out.clear(); }, [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(ifaddrmsg))
      return absl::OkStatus();
    const auto* m = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(h));
    if (m->ifa_family != family || (index != 0 && static_cast<int>(m->ifa_index) != index))
      return absl::OkStatus();
    std::string local, address;
    ForEachMsgAttr(h, sizeof(ifaddrmsg), [&](const nlattr* a) {
      if (mnl_attr_get_type(a) == IFA_LOCAL) local = AttrIp(a, family);
      if (mnl_attr_get_type(a) == IFA_ADDRESS) address = AttrIp(a, family);
    });
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS differs from it only on point-to-point links.
    std::string ip = local.empty() ? address : local;
    if (ip.empty()) return absl::OkStatus();
    AddrInfo ai;
    ai.index = static_cast<int>(m->ifa_index);
    ai.link = names.count(ai.index) ? names[ai.index] : "";
    ai.cidr = absl::StrCat(ip, "/", m->ifa_prefixlen);
    out.push_back(std::move(ai));
    return absl::OkStatus();
  }));
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Routes

namespace {

struct RouteSpec {
  IpPrefix dst;
  std::optional<IpAddr> gateway;
};

StatusOr<RouteSpec> ParseRoute(const std::string& dst_cidr, const std::string& gateway) {
  RouteSpec r;
  if (!gateway.empty()) {
    ASSIGN_OR_RETURN(r.gateway, ParseIp(gateway));
  }
  if (dst_cidr == "default") {
    r.dst.addr.family = r.gateway ? r.gateway->family : AF_INET;
    r.dst.len = 0;
  } else {
    ASSIGN_OR_RETURN(r.dst, ParseCidr(dst_cidr));
  }
  if (r.gateway && r.gateway->family != r.dst.addr.family)
    return absl::InvalidArgumentError("route " + dst_cidr + " via " + gateway + ": address families differ");
  return r;
}

}  // namespace

Status Rtnl::NewRoute(const std::string& dst_cidr, const std::string& gateway, const std::string& link,
                      uint8_t type) {
  ASSIGN_OR_RETURN(RouteSpec r, ParseRoute(dst_cidr, gateway));
  int index = 0;
  if (!link.empty()) {
    ASSIGN_OR_RETURN(index, Index(link));
  }
  Request req(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  auto* rtm = req.Header<rtmsg>();
  rtm->rtm_family = static_cast<uint8_t>(r.dst.addr.family);
  rtm->rtm_dst_len = static_cast<uint8_t>(r.dst.len);
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_BOOT;
  rtm->rtm_scope = r.gateway || type != RTN_UNICAST ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
  rtm->rtm_type = type;
  if (r.dst.len > 0) req.Ip(RTA_DST, r.dst.addr);
  if (r.gateway) req.Ip(RTA_GATEWAY, *r.gateway);
  if (index > 0) req.U32(RTA_OIF, static_cast<uint32_t>(index));
  return Transact(req, std::string("RTM_NEWROUTE ") + (type == RTN_UNREACHABLE ? "unreachable " : "") + dst_cidr +
                           (gateway.empty() ? "" : " via " + gateway) + (link.empty() ? "" : " dev " + link));
}

Status Rtnl::AddRoute(const std::string& dst_cidr, const std::string& gateway, const std::string& link) {
  return NewRoute(dst_cidr, gateway, link, RTN_UNICAST);
}

Status Rtnl::AddUnreachableRoute(const std::string& dst_cidr) { return NewRoute(dst_cidr, "", "", RTN_UNREACHABLE); }

Status Rtnl::DelRoute(const std::string& dst_cidr, const std::string& gateway, const std::string& link) {
  ASSIGN_OR_RETURN(RouteSpec r, ParseRoute(dst_cidr, gateway));
  int index = 0;
  if (!link.empty()) {
    ASSIGN_OR_RETURN(index, Index(link));
  }
  Request req(RTM_DELROUTE, 0);
  auto* rtm = req.Header<rtmsg>();
  rtm->rtm_family = static_cast<uint8_t>(r.dst.addr.family);
  rtm->rtm_dst_len = static_cast<uint8_t>(r.dst.len);
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_scope = RT_SCOPE_NOWHERE;  // matches any scope, as `ip route del` does
  rtm->rtm_type = RTN_UNICAST;
  if (r.dst.len > 0) req.Ip(RTA_DST, r.dst.addr);
  if (r.gateway) req.Ip(RTA_GATEWAY, *r.gateway);
  if (index > 0) req.U32(RTA_OIF, static_cast<uint32_t>(index));
  return Transact(req, "RTM_DELROUTE " + dst_cidr + (gateway.empty() ? "" : " via " + gateway) +
                           (link.empty() ? "" : " dev " + link));
}

StatusOr<std::vector<RouteInfo>> Rtnl::ListRoutes(int family) {
  ASSIGN_OR_RETURN(auto links, ListLinks());
  auto names = IndexNames(links);
  Request req(RTM_GETROUTE, 0);
  req.Header<rtmsg>()->rtm_family = static_cast<uint8_t>(family);
  std::vector<RouteInfo> out;
  RETURN_IF_ERROR(Dump(req, "RTM_GETROUTE dump", [&] { out.clear(); }, [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(rtmsg))
      return absl::OkStatus();
    const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(h));
    uint32_t table = rtm->rtm_table;
    RouteInfo ri;
    std::string dst;
    ForEachMsgAttr(h, sizeof(rtmsg), [&](const nlattr* a) {
      uint32_t v = 0;
      switch (mnl_attr_get_type(a)) {
        case RTA_TABLE: if (AttrU32(a, &v)) table = v; break;
        case RTA_DST: dst = AttrIp(a, family); break;
        case RTA_GATEWAY: ri.gateway = AttrIp(a, family); break;
        case RTA_OIF: if (AttrU32(a, &v)) ri.index = static_cast<int>(v); break;
      }
    });
    if (rtm->rtm_family != family || table != RT_TABLE_MAIN || rtm->rtm_type != RTN_UNICAST)
      return absl::OkStatus();
    ri.dst = rtm->rtm_dst_len == 0 ? "default" : absl::StrCat(dst, "/", rtm->rtm_dst_len);
    ri.link = names.count(ri.index) ? names[ri.index] : "";
    out.push_back(std::move(ri));
    return absl::OkStatus();
  }));
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Neighbours and VXLAN forwarding entries

Status Rtnl::AddNeigh(const std::string& link, const std::string& ip, const std::string& mac) {
  ASSIGN_OR_RETURN(IpAddr dst, ParseIp(ip));
  ASSIGN_OR_RETURN(Mac m, ParseMac(mac));
  ASSIGN_OR_RETURN(int index, Index(link));
  Request req(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_EXCL);
  auto* nd = req.Header<ndmsg>();
  nd->ndm_family = static_cast<uint8_t>(dst.family);
  nd->ndm_ifindex = index;
  nd->ndm_state = NUD_PERMANENT;
  req.Ip(NDA_DST, dst);
  req.MacAttr(NDA_LLADDR, m);
  return Transact(req, "RTM_NEWNEIGH " + ip + " lladdr " + mac + " dev " + link);
}

Status Rtnl::DelNeigh(const std::string& link, const std::string& ip) {
  ASSIGN_OR_RETURN(IpAddr dst, ParseIp(ip));
  ASSIGN_OR_RETURN(int index, Index(link));
  Request req(RTM_DELNEIGH, 0);
  auto* nd = req.Header<ndmsg>();
  nd->ndm_family = static_cast<uint8_t>(dst.family);
  nd->ndm_ifindex = index;
  req.Ip(NDA_DST, dst);
  return Transact(req, "RTM_DELNEIGH " + ip + " dev " + link);
}

Status Rtnl::ChangeFdb(bool add, uint8_t table, const std::string& link, const std::string& mac,
                       const std::string& dst_ip) {
  ASSIGN_OR_RETURN(Mac m, ParseMac(mac));
  std::optional<IpAddr> dst;
  if (!dst_ip.empty()) {
    ASSIGN_OR_RETURN(dst, ParseIp(dst_ip));
  }
  ASSIGN_OR_RETURN(int index, Index(link));
  Request req(add ? RTM_NEWNEIGH : RTM_DELNEIGH, add ? NLM_F_CREATE | NLM_F_EXCL : 0);
  auto* nd = req.Header<ndmsg>();
  nd->ndm_family = AF_BRIDGE;
  nd->ndm_ifindex = index;
  // The VXLAN device's own entries are permanent; the bridge's that Berth adds are static.
  if (add) nd->ndm_state = table == NTF_SELF ? NUD_PERMANENT : NUD_NOARP;
  nd->ndm_flags = table;
  req.MacAttr(NDA_LLADDR, m);
  if (dst) req.Ip(NDA_DST, *dst);
  return Transact(req, std::string(add ? "RTM_NEWNEIGH " : "RTM_DELNEIGH ") +
                           (table == NTF_SELF ? "fdb " : "bridge fdb ") + mac +
                           (dst ? " dst " + dst_ip : "") + " dev " + link);
}

Status Rtnl::AddFdb(const std::string& link, const std::string& mac, const std::string& dst_ip) {
  return ChangeFdb(true, NTF_SELF, link, mac, dst_ip);
}

Status Rtnl::DelFdb(const std::string& link, const std::string& mac, const std::string& dst_ip) {
  return ChangeFdb(false, NTF_SELF, link, mac, dst_ip);
}

Status Rtnl::AddBridgeFdb(const std::string& port, const std::string& mac) {
  return ChangeFdb(true, NTF_MASTER, port, mac, "");
}

Status Rtnl::DelBridgeFdb(const std::string& port, const std::string& mac) {
  return ChangeFdb(false, NTF_MASTER, port, mac, "");
}

StatusOr<std::vector<NeighInfo>> Rtnl::ListNeighTable(const std::string& link, int family) {
  int index = 0;
  std::map<int, std::string> names;
  if (!link.empty()) {
    ASSIGN_OR_RETURN(index, Index(link));
    names[index] = link;
  } else {
    ASSIGN_OR_RETURN(auto links, ListLinks());
    names = IndexNames(links);
  }
  Request req(RTM_GETNEIGH, 0);
  req.Header<ndmsg>()->ndm_family = static_cast<uint8_t>(family);
  // Strict checking wants the filter as an attribute, not in ndm_ifindex.
  if (index > 0) req.U32(NDA_IFINDEX, static_cast<uint32_t>(index));
  std::vector<NeighInfo> out;
  RETURN_IF_ERROR(Dump(req, family == AF_BRIDGE ? "RTM_GETNEIGH fdb dump" : "RTM_GETNEIGH dump",
                       [&] { out.clear(); }, [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWNEIGH || h->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(ndmsg))
      return absl::OkStatus();
    const auto* nd = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(h));
    if (nd->ndm_family != family || (index != 0 && nd->ndm_ifindex != index)) return absl::OkStatus();
    NeighInfo n;
    n.index = nd->ndm_ifindex;
    n.link = names.count(n.index) ? names[n.index] : "";
    n.permanent = nd->ndm_state & NUD_PERMANENT;
    n.is_static = nd->ndm_state & NUD_NOARP;
    ForEachMsgAttr(h, sizeof(ndmsg), [&](const nlattr* a) {
      if (mnl_attr_get_type(a) == NDA_LLADDR) n.mac = AttrMac(a);
      if (mnl_attr_get_type(a) == NDA_MASTER) n.bridge = true;
      if (mnl_attr_get_type(a) == NDA_DST) {
        // A VXLAN FDB entry's NDA_DST is the remote endpoint, of either family.
        int f = mnl_attr_get_payload_len(a) == 4 ? AF_INET : AF_INET6;
        n.ip = AttrIp(a, f);
      }
    });
    out.push_back(std::move(n));
    return absl::OkStatus();
  }));
  return out;
}

StatusOr<std::vector<NeighInfo>> Rtnl::ListNeighs(const std::string& link, int family) {
  return ListNeighTable(link, family);
}

StatusOr<std::vector<NeighInfo>> Rtnl::ListFdb(const std::string& link) { return ListNeighTable(link, AF_BRIDGE); }

// ---------------------------------------------------------------------------------------------------------
// Traffic control

Status Rtnl::AttachIngressBpf(const std::string& link, int prog_fd, const std::string& name, uint16_t prio) {
  ASSIGN_OR_RETURN(int index, Index(link));
  return AttachIngressBpf(index, link, prog_fd, name, prio);
}

Status Rtnl::AttachIngressBpf(int index, const std::string& link, int prog_fd, const std::string& name,
                              uint16_t prio) {
  {
    Request req(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL);
    auto* tc = req.Header<tcmsg>();
    tc->tcm_family = AF_UNSPEC;
    tc->tcm_ifindex = index;
    tc->tcm_handle = TC_H_MAKE(TC_H_CLSACT, 0);
    tc->tcm_parent = TC_H_CLSACT;
    req.Str(TCA_KIND, "clsact");
    Status st = Transact(req, "RTM_NEWQDISC clsact dev " + link);
    if (!st.ok() && !absl::IsAlreadyExists(st)) return st;
  }
  Request req(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_REPLACE);
  auto* tc = req.Header<tcmsg>();
  tc->tcm_family = AF_UNSPEC;
  tc->tcm_ifindex = index;
  tc->tcm_parent = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS);
  tc->tcm_handle = 1;
  tc->tcm_info = TC_H_MAKE(uint32_t{prio} << 16, htons(ETH_P_ALL));
  req.Str(TCA_KIND, "bpf");
  nlattr* opts = req.Nest(TCA_OPTIONS);
  req.U32(TCA_BPF_FD, static_cast<uint32_t>(prog_fd));
  req.Str(TCA_BPF_NAME, name);
  req.U32(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
  req.End(opts);
  return Transact(req, "RTM_NEWTFILTER ingress bpf " + name + " dev " + link);
}

Status Rtnl::DetachIngressBpf(int index, const std::string& link, uint16_t prio) {
  Request req(RTM_DELTFILTER, 0);
  auto* tc = req.Header<tcmsg>();
  tc->tcm_family = AF_UNSPEC;
  tc->tcm_ifindex = index;
  tc->tcm_parent = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS);
  tc->tcm_info = TC_H_MAKE(uint32_t{prio} << 16, htons(ETH_P_ALL));
  Status st = Transact(req, "RTM_DELTFILTER ingress prio " + std::to_string(prio) + " dev " + link);
  // No link (ENODEV), no qdisc (EINVAL), no filter at that prio (ENOENT).
  if (absl::IsNotFound(st) || absl::IsInvalidArgument(st)) return absl::OkStatus();
  return st;
}

StatusOr<std::vector<std::string>> Rtnl::IngressBpfNames(const std::string& link) {
  ASSIGN_OR_RETURN(int index, Index(link));
  ASSIGN_OR_RETURN(std::vector<IngressBpf> filters, IngressBpfFilters(index, link));
  std::vector<std::string> names;
  for (const IngressBpf& f : filters) names.push_back(f.name);
  return names;
}

StatusOr<std::vector<Rtnl::IngressBpf>> Rtnl::IngressBpfFilters(int index, const std::string& link) {
  Request req(RTM_GETTFILTER, NLM_F_DUMP);
  auto* tc = req.Header<tcmsg>();
  tc->tcm_family = AF_UNSPEC;
  tc->tcm_ifindex = index;
  tc->tcm_parent = TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS);
  std::vector<IngressBpf> filters;
  Status st = Dump(req, "RTM_GETTFILTER dev " + link, [&] { filters.clear(); }, [&](const nlmsghdr* h) {
    bool bpf = false;
    IngressBpf f;
    f.prio = static_cast<uint16_t>(TC_H_MAJ(static_cast<const tcmsg*>(mnl_nlmsg_get_payload(h))->tcm_info) >> 16);
    ForEachMsgAttr(h, sizeof(tcmsg), [&](const nlattr* a) {
      if (mnl_attr_get_type(a) == TCA_KIND) bpf = std::strcmp(mnl_attr_get_str(a), "bpf") == 0;
      if (mnl_attr_get_type(a) != TCA_OPTIONS) return;
      ForEachNested(a, [&](const nlattr* in) {
        if (mnl_attr_get_type(in) == TCA_BPF_NAME) f.name = mnl_attr_get_str(in);
        uint32_t v = 0;
        if (mnl_attr_get_type(in) == TCA_BPF_ID && AttrU32(in, &v)) f.prog_id = v;
      });
    });
    if (bpf && !f.name.empty()) filters.push_back(std::move(f));
    return absl::OkStatus();
  });
  // No link, no clsact qdisc: no filter.
  if (absl::IsInvalidArgument(st) || absl::IsNotFound(st)) return filters;
  RETURN_IF_ERROR(st);
  return filters;
}

// ---------------------------------------------------------------------------------------------------------
// Conntrack (ctnetlink)

namespace {

// Whether a CTA_TUPLE_ORIG/REPLY nest has `ip` as its source or destination address.
bool TupleHasIp(const nlattr* tuple, const IpAddr& ip) {
  bool found = false;
  ForEachNested(tuple, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) != CTA_TUPLE_IP) return;
    ForEachNested(a, [&](const nlattr* addr) {
      uint16_t t = mnl_attr_get_type(addr);
      bool v4 = t == CTA_IP_V4_SRC || t == CTA_IP_V4_DST;
      bool v6 = t == CTA_IP_V6_SRC || t == CTA_IP_V6_DST;
      if (!(v4 && ip.family == AF_INET) && !(v6 && ip.family == AF_INET6)) return;
      if (mnl_attr_get_payload_len(addr) == ip.size() &&
          std::memcmp(mnl_attr_get_payload(addr), ip.bytes.data(), ip.size()) == 0)
        found = true;
    });
  });
  return found;
}

// Whether a CTA_TUPLE_ORIG nest is of protocol `proto` to destination port `port`.
bool TupleToPort(const nlattr* tuple, uint8_t proto, uint16_t port) {
  bool proto_ok = false, port_ok = false;
  ForEachNested(tuple, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) != CTA_TUPLE_PROTO) return;
    ForEachNested(a, [&](const nlattr* f) {
      uint16_t t = mnl_attr_get_type(f);
      if (t == CTA_PROTO_NUM && mnl_attr_get_payload_len(f) >= 1)
        proto_ok = mnl_attr_get_u8(f) == proto;
      if (t == CTA_PROTO_DST_PORT && mnl_attr_get_payload_len(f) >= 2)
        port_ok = ntohs(mnl_attr_get_u16(f)) == port;
    });
  });
  return proto_ok && port_ok;
}

}  // namespace

StatusOr<int> Rtnl::DeleteConntrackMatching(
    uint8_t family, const std::function<bool(const nlattr* orig, const nlattr* reply)>& match,
    const std::string& what) {
  // The dump first (deleting while it runs could make it skip entries), then one delete per entry,
  // by its original tuple (and zone) copied from the dump, so no protocol's fields need knowing.
  struct Doomed {
    uint8_t family;
    std::string attrs;  // the entry's CTA_TUPLE_ORIG attribute [+ CTA_ZONE]
  };
  std::vector<Doomed> doomed;
  Request dump((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET, 0);
  auto* g = dump.Header<nfgenmsg>();
  g->nfgen_family = family;  // AF_UNSPEC: every family
  g->version = NFNETLINK_V0;
  RETURN_IF_ERROR(Dump(dump, "conntrack dump", [&] { doomed.clear(); }, [&](const nlmsghdr* h) {
    if (h->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(nfgenmsg)) return absl::OkStatus();
    const auto* eg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(h));
    const nlattr* orig = nullptr;
    const nlattr* reply = nullptr;
    const nlattr* zone = nullptr;
    ForEachMsgAttr(h, sizeof(nfgenmsg), [&](const nlattr* a) {
      uint16_t t = mnl_attr_get_type(a);
      if (t == CTA_TUPLE_ORIG) orig = a;
      if (t == CTA_TUPLE_REPLY) reply = a;
      if (t == CTA_ZONE) zone = a;
    });
    if (orig == nullptr || orig->nla_len <= NLA_HDRLEN || !match(orig, reply)) return absl::OkStatus();
    std::string raw(reinterpret_cast<const char*>(orig), orig->nla_len);
    raw.resize(MNL_ALIGN(raw.size()), '\0');
    if (zone != nullptr) raw.append(reinterpret_cast<const char*>(zone), zone->nla_len);
    doomed.push_back({eg->nfgen_family, std::move(raw)});
    return absl::OkStatus();
  }));
  int deleted = 0;
  Status first_error;
  for (const Doomed& d : doomed) {
    const auto* first = reinterpret_cast<const nlattr*>(d.attrs.data());
    // A delete without a tuple would flush the whole table: never sent.
    BERTH_CHECK(mnl_attr_get_type(first) == CTA_TUPLE_ORIG && first->nla_len > NLA_HDRLEN);
    Request del((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE, 0);
    auto* dg = del.Header<nfgenmsg>();
    dg->nfgen_family = d.family;
    dg->version = NFNETLINK_V0;
    del.RawAttr(first);
    size_t off = MNL_ALIGN(first->nla_len);
    if (off < d.attrs.size()) del.RawAttr(reinterpret_cast<const nlattr*>(d.attrs.data() + off));
    Status st = Transact(del, "conntrack delete " + what);
    if (st.ok()) {
      ++deleted;
    } else if (!absl::IsNotFound(st) && first_error.ok()) {  // NotFound: gone meanwhile
      first_error = st;  // the others are still tried
    }
  }
  if (!first_error.ok()) return first_error;
  return deleted;
}

StatusOr<int> Rtnl::DeleteConntrackOf(const std::string& ip_text) {
  ASSIGN_OR_RETURN(IpAddr ip, ParseIp(ip_text));
  return DeleteConntrackMatching(
      static_cast<uint8_t>(ip.family),
      [&](const nlattr* orig, const nlattr* reply) {
        return TupleHasIp(orig, ip) || (reply != nullptr && TupleHasIp(reply, ip));
      },
      ip_text);
}

StatusOr<int> Rtnl::DeleteConntrackToPort(uint8_t proto, uint16_t port) {
  return DeleteConntrackMatching(
      AF_UNSPEC, [&](const nlattr* orig, const nlattr*) { return TupleToPort(orig, proto, port); },
      absl::StrCat("to port ", port));
}

}  // namespace berth::sys
