// NewFastPublishFirewall and DetachFastPublish (firewall.h): nftables first, then the eBPF
// published-port path made to match the same model.
#include <arpa/inet.h>
#include <net/if_arp.h>
#include <netinet/in.h>

#include <map>
#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "network/firewall/firewall.h"
#include "common/ipv4.h"
#include "spdlog/spdlog.h"
#include "sys/netlink.h"
#include "sys/publish_nat.h"

namespace berth::network::firewall {
namespace {

// Filter priorities: on an uplink, below tc's automatic ones (49152 and down), so that a filter
// an administrator adds later without a prio runs after this one; on a container's veth, after
// the same-bridge shortcut (prio 1).
constexpr uint16_t kUplinkPrio = 0xbe00;
constexpr uint16_t kVethPrio = 2;
constexpr char kIn[] = "berth_nat_in";
constexpr char kOut[] = "berth_nat_out";

void Warn(const Status& st, const std::string& what) {
  if (!st.ok()) spdlog::warn("published ports: eBPF fast path: {}: {}", what, st.ToString());
}

// An interface that connections from other hosts come in on: an Ethernet link of the daemon's
// namespace other than loopback, a bridge, a bridge port, VXLAN or a container's veth (a swarm
// node's berth_ingress is one: what it would carry there nftables would DNAT the same way).
bool Uplink(const sys::LinkInfo& l) {
  if (l.type != ARPHRD_ETHER || l.name == "lo" || l.master != 0) return false;
  if (l.kind == "bridge" || l.kind == "vxlan") return false;
  if (l.kind == "veth" && absl::StartsWith(l.name, "veth") && l.name.size() == 11) return false;
  return true;
}

// The berth_nat_* filters on every link: link index and name -> filters.
std::map<std::pair<int, std::string>, std::vector<sys::Rtnl::IngressBpf>> NatFilters(
    sys::Rtnl& host, const std::vector<sys::LinkInfo>& links) {
  std::map<std::pair<int, std::string>, std::vector<sys::Rtnl::IngressBpf>> out;
  for (const sys::LinkInfo& l : links) {
    auto filters = host.IngressBpfFilters(l.index, l.name);
    if (!filters.ok()) continue;
    for (const auto& f : *filters)
      if (f.name == kIn || f.name == kOut) out[{l.index, l.name}].push_back(f);
  }
  return out;
}

// The owner thread of the Applier is the only caller (Firewall's contract): no lock.
class FastPublish : public Firewall {
 public:
  FastPublish(std::unique_ptr<Firewall> inner, sys::Rtnl& host) : inner_(std::move(inner)), host_(host) {
    // A previous berthd's programs: their maps are adopted (the flows of live connections go on),
    // and uplinks that no longer are get theirs removed at the first Sync.
    uint32_t previous = 0;
    auto links = host_.ListLinks();
    if (links.ok()) {
      for (auto& [link, filters] : NatFilters(host_, *links))
        for (const auto& f : filters)
          if (f.name == kIn) {
            previous = previous != 0 ? previous : f.prog_id;
            uplinks_.insert(static_cast<uint32_t>(link.first));
          }
    }
    auto nat = sys::PublishNat::Load(previous);
    if (!nat.ok()) {
      spdlog::warn("published ports: no eBPF fast path, nftables alone carries them: {}", nat.status().ToString());
      DetachFastPublish(host_);
      return;
    }
    nat_.emplace(std::move(*nat));
    if (nat_->adopted()) {
      // What the maps hold is what the previous berthd left: the first Sync starts from it.
      if (auto ports = nat_->Ports(); ports.ok())
        for (auto& [port, b] : *ports) current_[port] = Want{b, ""};
      if (auto locals = nat_->Locals(); locals.ok()) locals_.insert(locals->begin(), locals->end());
      spdlog::info("published ports: eBPF fast path: adopted the maps of the previous berthd ({} ports)",
                   current_.size());
    }
  }

  Status Apply(const Model& m) override {
    RETURN_IF_ERROR(inner_->Apply(m));
    if (nat_) Sync(m);
    return absl::OkStatus();
  }
  Status Remove() override {
    RETURN_IF_ERROR(inner_->Remove());
    DetachFastPublish(host_);
    return absl::OkStatus();
  }
  Status Check() override { return inner_->Check(); }

 private:
  struct Want {
    sys::PublishNat::Backend backend;
    std::string veth;
  };
  // The same container's endpoint (a MAC or the bridge's MAC may change without its flows going).
  static bool SameWay(const sys::PublishNat::Backend& a, const sys::PublishNat::Backend& b) {
    return a.addr == b.addr && a.port == b.port && a.ifindex == b.ifindex;
  }

  // The fast path's ports for m: TCP over IPv4 to an address other than loopback, on a bridge
  // that is neither internal nor without the eBPF paths, with a known endpoint.
  std::map<sys::PublishNat::Port, Want> Wanted(const Model& m, const std::map<std::string, sys::LinkInfo>& links) {
    std::map<std::string, const Bridge*> bridges;
    for (const Bridge& b : m.bridges) bridges[b.ifname] = &b;
    std::map<sys::PublishNat::Port, Want> want;
    for (const PortMapping& p : m.ports) {
      auto b = bridges.find(p.bridge);
      if (p.proto != "tcp" || b == bridges.end() || b->second->internal || !b->second->redirect) continue;
      if (p.host_ifname.empty() || p.container_mac.empty()) continue;
      if (p.host_ip.find(':') != std::string::npos) continue;  // IPv6: nftables
      uint32_t host = 0;
      if (!p.host_ip.empty() && p.host_ip != "0.0.0.0" && !ParseIpv4(p.host_ip, &host)) continue;
      if ((host >> 24) == 127) continue;  // loopback: only the host's own connections, nftables'
      auto veth = links.find(p.host_ifname);
      auto bridge = links.find(p.bridge);
      auto mac = sys::ParseMac(p.container_mac);
      if (veth == links.end() || bridge == links.end() || !mac.ok()) continue;
      auto gw = sys::ParseMac(bridge->second.mac);
      Want w;
      if (!gw.ok() || !ParseIpv4(p.container_ip, &w.backend.addr)) continue;
      w.backend.port = static_cast<uint16_t>(p.container_port);
      w.backend.ifindex = static_cast<uint32_t>(veth->second.index);
      w.backend.mac = *mac;
      w.backend.gateway_mac = *gw;
      w.veth = p.host_ifname;
      want[{host, static_cast<uint16_t>(p.host_port), IPPROTO_TCP}] = std::move(w);
    }
    return want;
  }

  void Sync(const Model& m) {
    // Nothing to do for a model without ports once the uplinks are set up (most transactions of
    // a host that publishes nothing).
    bool any_tcp = false;
    for (const PortMapping& p : m.ports) any_tcp |= p.proto == "tcp";
    if (synced_once_ && !any_tcp && current_.empty()) return;
    auto listed = host_.ListLinks();
    if (!listed.ok()) return Warn(listed.status(), "list links");
    std::map<std::string, sys::LinkInfo> links;
    for (const sys::LinkInfo& l : *listed) links[l.name] = l;
    std::map<sys::PublishNat::Port, Want> want = Wanted(m, links);
    bool changed = !synced_once_ || want.size() != current_.size();
    for (auto it = want.begin(); !changed && it != want.end(); ++it) {
      auto c = current_.find(it->first);
      changed = c == current_.end() || !(c->second.backend == it->second.backend);
    }
    if (!changed) return;
    synced_once_ = true;
    SyncUplinks(*listed);
    SyncLocals();

    // Gone or moved: no new packet takes the old way, then the old way's flows go (one pass).
    std::set<std::pair<uint32_t, uint16_t>> forget;
    std::map<sys::PublishNat::Port, Want> now;
    for (auto& [port, old] : current_) {
      auto w = want.find(port);
      if (w != want.end() && SameWay(w->second.backend, old.backend)) continue;
      forget.insert({old.backend.addr, old.backend.port});
      if (w != want.end()) continue;  // replaced below
      if (Status st = nat_->ErasePort(port); !st.ok()) {
        Warn(st, "unpublish");
        now.insert({port, old});  // still in the map: tried again at the next change
      }
    }
    if (auto n = nat_->ForgetFlowsTo(forget); !n.ok()) Warn(n.status(), "forget flows");
    std::set<uint32_t> veths;
    for (auto& [port, w] : want) {
      auto c = current_.find(port);
      bool same = c != current_.end() && c->second.backend == w.backend;
      // The replies' program before the first packet in: never a DNAT without its way back.
      Status st = absl::OkStatus();
      if (!veths_.count(w.backend.ifindex) && !veths.count(w.backend.ifindex))
        st = host_.AttachIngressBpf(static_cast<int>(w.backend.ifindex), w.veth, nat_->out_fd(), kOut, kVethPrio);
      if (st.ok() && !same) st = nat_->SetPort(port, w.backend);
      if (!st.ok()) {
        Warn(st, "port " + std::to_string(port.port) + " of " + w.veth);
        if (Status e = nat_->ErasePort(port); !e.ok()) {
          Warn(e, "unpublish");
          if (c != current_.end()) now.insert({port, c->second});
        }
        continue;
      }
      now[port] = w;
      veths.insert(w.backend.ifindex);
    }
    current_ = std::move(now);
    veths_ = std::move(veths);
  }

  // The inbound program on every uplink, and the uplinks map to match; a link that stopped being
  // one loses the program.
  void SyncUplinks(const std::vector<sys::LinkInfo>& links) {
    std::set<uint32_t> now;
    std::map<uint32_t, const sys::LinkInfo*> by_index;
    for (const sys::LinkInfo& l : links) {
      by_index[static_cast<uint32_t>(l.index)] = &l;
      if (!Uplink(l)) continue;
      auto index = static_cast<uint32_t>(l.index);
      Status st = attached_.count(index) ? absl::OkStatus()
                                         : host_.AttachIngressBpf(l.index, l.name, nat_->in_fd(), kIn, kUplinkPrio);
      if (st.ok()) st = nat_->SetUplink(index);
      if (!st.ok()) {
        Warn(st, "uplink " + l.name);
        continue;
      }
      now.insert(index);
    }
    for (uint32_t gone : uplinks_) {
      if (now.count(gone)) continue;
      Warn(nat_->EraseUplink(gone), "uplink gone");
      if (auto l = by_index.find(gone); l != by_index.end())
        Warn(host_.DetachIngressBpf(l->second->index, l->second->name, kUplinkPrio), "detach " + l->second->name);
    }
    uplinks_ = now;
    attached_ = std::move(now);
  }

  // The host's IPv4 addresses, for berth_nat_in's "is it for this host" check.
  void SyncLocals() {
    auto addrs = host_.ListAddrs("", AF_INET);
    if (!addrs.ok()) return Warn(addrs.status(), "list addresses");
    std::set<uint32_t> now;
    for (const sys::AddrInfo& a : *addrs) {
      uint32_t v = 0;
      if (ParseIpv4(a.cidr.substr(0, a.cidr.find('/')), &v) && (v >> 24) != 127) now.insert(v);
    }
    for (uint32_t a : now)
      if (!locals_.count(a)) Warn(nat_->SetLocal(a), "local address");
    for (uint32_t a : locals_)
      if (!now.count(a)) Warn(nat_->EraseLocal(a), "local address gone");
    locals_ = std::move(now);
  }

  const std::unique_ptr<Firewall> inner_;
  sys::Rtnl& host_;
  std::optional<sys::PublishNat> nat_;
  std::map<sys::PublishNat::Port, Want> current_;  // what the ports map holds
  std::set<uint32_t> uplinks_;                     // in the uplinks map (or a previous berthd's)
  std::set<uint32_t> attached_;                    // links with this berthd's berth_nat_in
  std::set<uint32_t> veths_;                       // host-side veths with berth_nat_out
  std::set<uint32_t> locals_;                      // in the local map
  bool synced_once_ = false;
};

}  // namespace

std::unique_ptr<Firewall> NewFastPublishFirewall(std::unique_ptr<Firewall> inner, sys::Rtnl& host) {
  return std::make_unique<FastPublish>(std::move(inner), host);
}

void DetachFastPublish(sys::Rtnl& host) {
  auto links = host.ListLinks();
  if (!links.ok()) return Warn(links.status(), "list links");
  for (auto& [link, filters] : NatFilters(host, *links))
    for (const auto& f : filters) Warn(host.DetachIngressBpf(link.first, link.second, f.prio), "detach " + link.second);
}

}  // namespace berth::network::firewall
