// NewFastPublishFirewall (firewall.h): nftables first, then the eBPF published-port path made to
// match the same model.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <map>
#include <optional>
#include <set>

#include "network/firewall/firewall.h"
#include "spdlog/spdlog.h"
#include "sys/netlink.h"
#include "sys/publish_nat.h"

namespace berth::network::firewall {
namespace {

// Filter priorities: the uplinks' filter runs after any of lower prio that an administrator put
// there (a filter that passes or drops a packet first keeps it from the fast path); on a
// container's veth it runs after the same-bridge shortcut (prio 1).
constexpr uint16_t kUplinkPrio = 0xbe00;
constexpr uint16_t kVethPrio = 2;

bool Ipv4(const std::string& s, uint32_t* host_order) {
  in_addr a{};
  if (::inet_pton(AF_INET, s.c_str(), &a) != 1) return false;
  *host_order = ntohl(a.s_addr);
  return true;
}

// The owner thread of the Applier is the only caller (Firewall's contract): no lock.
class FastPublish : public Firewall {
 public:
  FastPublish(std::unique_ptr<Firewall> inner, sys::Rtnl& host) : inner_(std::move(inner)), host_(host) {
    auto nat = sys::PublishNat::Load();
    if (nat.ok()) {
      nat_.emplace(std::move(*nat));
    } else {
      spdlog::warn("published ports: no eBPF fast path, nftables alone carries them: {}", nat.status().ToString());
    }
  }

  Status Apply(const Model& m) override {
    RETURN_IF_ERROR(inner_->Apply(m));
    if (nat_) Sync(m);
    return absl::OkStatus();
  }
  Status Remove() override { return inner_->Remove(); }
  Status Check() override { return inner_->Check(); }

 private:
  struct Want {
    sys::PublishNat::Backend backend;
    std::string veth;
  };

  // The fast path's ports for m: IPv4, on a bridge that is neither internal nor without the
  // shortcuts, with a known endpoint.
  std::map<sys::PublishNat::Port, Want> Wanted(const Model& m) {
    std::map<std::string, const Bridge*> bridges;
    for (const Bridge& b : m.bridges) bridges[b.ifname] = &b;
    std::map<std::string, std::optional<sys::LinkInfo>> links;  // bridges and veths, looked up once
    auto link = [&](const std::string& name) -> const std::optional<sys::LinkInfo>& {
      auto it = links.find(name);
      if (it != links.end()) return it->second;
      auto l = host_.GetLink(name);
      return links[name] = l.ok() ? std::optional<sys::LinkInfo>(*l) : std::nullopt;
    };
    std::map<sys::PublishNat::Port, Want> want;
    for (const PortMapping& p : m.ports) {
      auto b = bridges.find(p.bridge);
      if (b == bridges.end() || b->second->internal || !b->second->redirect) continue;
      if (p.host_ifname.empty() || p.container_mac.empty()) continue;
      if (p.host_ip.find(':') != std::string::npos) continue;  // IPv6: nftables
      uint32_t host = 0;
      if (!p.host_ip.empty() && p.host_ip != "0.0.0.0" && !Ipv4(p.host_ip, &host)) continue;
      if ((host >> 24) == 127) continue;  // loopback: only the host's own connections, nftables'
      Want w;
      auto mac = sys::ParseMac(p.container_mac);
      const auto& veth = link(p.host_ifname);
      const auto& bridge = link(p.bridge);
      if (!mac.ok() || !veth || !bridge || !Ipv4(p.container_ip, &w.backend.addr)) continue;
      auto gw = sys::ParseMac(bridge->mac);
      if (!gw.ok()) continue;
      w.backend.port = static_cast<uint16_t>(p.container_port);
      w.backend.mtu = static_cast<uint16_t>(veth->mtu);
      w.backend.ifindex = static_cast<uint32_t>(veth->index);
      w.backend.mac = *mac;
      w.backend.gateway_mac = *gw;
      w.veth = p.host_ifname;
      uint8_t proto = p.proto == "udp" ? IPPROTO_UDP : IPPROTO_TCP;
      want[{host, static_cast<uint16_t>(p.host_port), proto}] = std::move(w);
    }
    return want;
  }

  void Sync(const Model& m) {
    std::map<sys::PublishNat::Port, Want> want = Wanted(m);
    bool changed = !looked_for_uplinks_ || want.size() != current_.size();
    for (auto it = want.begin(); !changed && it != want.end(); ++it) {
      auto c = current_.find(it->first);
      changed = c == current_.end() || !(c->second.backend == it->second.backend);
    }
    if (!changed) return;
    SyncUplinks();
    // Gone or moved: no new packet takes the old way, then the old way's flows go.
    for (auto& [port, old] : current_) {
      auto w = want.find(port);
      if (w != want.end() && w->second.backend == old.backend) continue;
      if (w == want.end()) Warn(nat_->ErasePort(port), "unpublish");
      auto n = nat_->ForgetFlowsTo(old.backend.addr, old.backend.port);
      if (!n.ok()) Warn(n.status(), "forget flows");
    }
    std::map<sys::PublishNat::Port, Want> now;
    std::set<uint32_t> veths;
    for (auto& [port, w] : want) {
      auto c = current_.find(port);
      if (c != current_.end() && c->second.backend == w.backend) {
        now.insert({port, w});
        veths.insert(w.backend.ifindex);
        continue;
      }
      // The replies' program before the first packet in: never a DNAT without its way back.
      Status st = absl::OkStatus();
      if (!veths_.count(w.backend.ifindex) && !veths.count(w.backend.ifindex))
        st = host_.AttachIngressBpf(static_cast<int>(w.backend.ifindex), w.veth, nat_->out_fd(), "berth_nat_out",
                                    kVethPrio);
      if (st.ok()) st = nat_->SetPort(port, w.backend);
      if (!st.ok()) {
        Warn(nat_->ErasePort(port), "unpublish");
        Warn(st, "port " + std::to_string(port.port) + " of " + w.veth);
        continue;
      }
      now.insert({port, w});
      veths.insert(w.backend.ifindex);
    }
    current_ = std::move(now);
    veths_ = std::move(veths);
  }

  // The inbound program on every uplink, and the uplinks map to match.
  void SyncUplinks() {
    looked_for_uplinks_ = true;
    auto links = host_.ListLinks();
    if (!links.ok()) return Warn(links.status(), "list links");
    std::set<uint32_t> now;
    for (const sys::LinkInfo& l : *links) {
      if (l.name == "lo" || l.kind == "bridge" || l.kind == "vxlan" || l.master != 0) continue;
      auto index = static_cast<uint32_t>(l.index);
      Status st = uplinks_.count(index)
                      ? absl::OkStatus()
                      : host_.AttachIngressBpf(l.index, l.name, nat_->in_fd(), "berth_nat_in", kUplinkPrio);
      if (st.ok()) st = nat_->SetUplink(index, static_cast<uint32_t>(l.mtu));
      if (!st.ok()) {
        Warn(st, "uplink " + l.name);
        continue;
      }
      now.insert(index);
    }
    for (uint32_t gone : uplinks_)
      if (!now.count(gone)) Warn(nat_->EraseUplink(gone), "uplink gone");
    uplinks_ = std::move(now);
  }

  static void Warn(const Status& st, const std::string& what) {
    if (!st.ok()) spdlog::warn("published ports: eBPF fast path: {}: {}", what, st.ToString());
  }

  const std::unique_ptr<Firewall> inner_;
  sys::Rtnl& host_;
  std::optional<sys::PublishNat> nat_;
  std::map<sys::PublishNat::Port, Want> current_;  // what the ports map holds
  std::set<uint32_t> uplinks_;                     // links with berth_nat_in
  std::set<uint32_t> veths_;                       // host-side veths with berth_nat_out
  bool looked_for_uplinks_ = false;
};

}  // namespace

std::unique_ptr<Firewall> NewFastPublishFirewall(std::unique_ptr<Firewall> inner, sys::Rtnl& host) {
  return std::make_unique<FastPublish>(std::move(inner), host);
}

}  // namespace berth::network::firewall
