#pragma once
// The firewall of Berth's bridge networks and published ports (STYLE.md: moby's nftables backend,
// kube-proxy's nftables mode). Berth owns exactly one nftables table, `inet berth`; the network
// controller keeps the wanted state as a Model and calls Firewall::Apply after every change, which
// makes the table match it in one atomic transaction. Per-container state lives in sets and maps
// (one map element per published port), so the rules themselves only change when a bridge network
// comes or goes.
//
// Rendering is pure (Validate, Render: the whole table; RenderPortDelta: only the port elements
// that changed; RenderDelete) and golden-tested. The kernel is reached through a separate program,
// never a library linked into berthd: libnftables is GPL-2.0-only and berthd is Apache-2.0.
// berthd's firewall (NewNftHelperFirewall) keeps one long-running `berth-nft` (src/nft_helper,
// GPL-2.0) and sends it each script over a pipe. With 20 bridges and 200 published ports a
// container's ports coming or going take ~0.5 ms that way (a delta), a bridge network coming or
// going ~2.3 ms (the whole table), where an `nft -f -` subprocess per change (NewNftCommandFirewall,
// kept for tests) takes ~20 ms (bench/firewall_bench.cc). Applier (applier.h) serialises and
// coalesces the applications of many threads. Both families: a bridge with an IPv6 subnet gets the
// same hairpin and masquerade rules for IPv6, and a port published on every address of the host
// is DNATed for IPv6 too when its container has an IPv6 address (Docker with --ipv6 and no
// userland proxy).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace berth::sys {
class Rtnl;
}  // namespace berth::sys

namespace berth::network::firewall {

// The name of the one table Berth owns, family inet.
inline constexpr char kTableName[] = "berth";

struct Bridge {            // one Linux bridge network
  std::string ifname;      // "berth0", "br-0123456789ab", "linuxbridge1"
  std::string subnet;      // "172.17.0.0/16"
  std::string gateway;     // "172.17.0.1"
  std::string subnet6{};   // "fd00:30::/64", "" for an IPv4-only network
  bool masquerade = true;  // com.docker.network.bridge.enable_ip_masquerade
  bool icc = true;         // com.docker.network.bridge.enable_icc: containers on the same bridge may talk
  bool internal = false;   // --internal: no traffic to/from outside the bridge (and no masquerade)
  bool redirect = true;    // berth.bridge.redirect: eBPF shortcuts (here: published ports, fast_publish.cc)
};

struct PortMapping {       // -p [host_ip:]host_port:container_port[/proto]
  std::string proto;       // "tcp" | "udp"
  // "" = every host address, both families (IPv6 when container_ip6 is set); "0.0.0.0" = every
  // IPv4 address; "::" = every IPv6 address; "127.0.0.1" = loopback only; an IPv6 address = that one.
  std::string host_ip;
  int host_port = 0;
  std::string container_ip;
  int container_port = 0;
  std::string bridge;      // ifname of the container's bridge
  std::string container_ip6{};  // "" when the container has no IPv6 address on that bridge
  // The container's endpoint on that bridge: its host-side veth and its MAC (the eBPF fast path's;
  // nftables does not need them). "" where unknown: then the port is published by nftables only.
  std::string host_ifname{};
  std::string container_mac{};
};

struct Model {
  std::vector<Bridge> bridges;
  std::vector<PortMapping> ports;
};

// Checks what Render relies on: interface names that are safe to quote, addresses of the right
// family, ports in 1..65535, tcp/udp, every mapping on a bridge of the model (an IPv6 host address
// only with an IPv6 container address), no two bridges with overlapping IPv4 or IPv6 subnets, no two
// mappings on the same (proto, host_ip, host_port). InvalidArgument / AlreadyExists.
Status Validate(const Model& m);

// The whole table as one nft script that replaces it atomically (`table inet berth {}`,
// `delete table inet berth`, then the full definition), so sets, maps and chains that are no longer
// wanted disappear too. Deterministic (sorted) output. Assumes Validate(m) passed. Mappings whose
// bridge is internal are not rendered: an internal network publishes nothing.
std::string Render(const Model& m);

// Removes the table if present, in one transaction; no error if it is absent.
std::string RenderDelete();

// What turns the table Render(from) made into Render(to)'s when only the published ports differ:
// one transaction of `delete element` and `add element` on the two port maps, which is what a
// container start or stop changes (nft takes ~0.15 ms for it, where the whole table of a host with
// 200 published ports takes ~2 ms). nullopt when the bridges differ (Render(to) it is, then); ""
// when nothing changes. Assumes Validate passed for both and the kernel holds Render(from).
std::optional<std::string> RenderPortDelta(const Model& from, const Model& to);

// The network controller's view of the firewall. Implementations serialize their calls.
class Firewall {
 public:
  virtual ~Firewall() = default;
  // Makes the table match m (idempotent). On failure nothing changed. The table is berthd's: what
  // others change in it is undone at the latest when the whole table is next written.
  virtual Status Apply(const Model& m) = 0;
  // Removes the table; OK if it was not there.
  virtual Status Remove() = 0;
  // Can the table be applied here (the helper or nft binary present, nf_tables with nat/fib/ct,
  // CAP_NET_ADMIN)? A clear error otherwise, e.g. "nft not found: install the nftables package".
  virtual Status Check() = 0;
};

// berthd's firewall: the scripts go to one long-running berth-nft (src/nft_helper), started on
// first use and kept, over a socket pair on its stdin/stdout (protocol in berth_nft.cc). Each call
// is one request and one reply: a failed Apply changes nothing and its error carries nft's text.
// It remembers the model of the last transaction that went through, so that when only ports
// changed Apply sends RenderPortDelta's element changes; anything else, or a delta the kernel
// refuses (the table was changed behind berthd's back), gets the whole table. A helper that died
// (killed, crashed) is started again and the call retried once. The helper works in the network
// namespace of the thread that created this object, whichever thread later (re)starts it.
// Threading: calls are serialised on the helper's channel.
class NftHelperFirewall : public Firewall {
 public:
  // The running helper's pid, -1 when none runs (before the first call, or after it died and
  // before the next). For tests, which kill it to prove the restart.
  virtual int HelperPid() = 0;
};
std::unique_ptr<NftHelperFirewall> NewNftHelperFirewall(std::string helper_path);

// Each script through a `<nft_binary> -f -` subprocess per change (a fork and exec each time; tests
// wrap nft to aim it at a namespace or to break a script on purpose).
std::unique_ptr<Firewall> NewNftCommandFirewall(std::string nft_binary = "nft");

// berthd --iptables=false: every call succeeds and nothing is touched.
std::unique_ptr<Firewall> NewNoopFirewall();

// Published ports without netfilter for connections from other hosts (docs/networking.md,
// sys/publish_nat.h): `inner` applies each model as before, then the eBPF programs' maps are made
// to match its TCP ports over IPv4 on bridges with berth.bridge.redirect on (the default), the
// uplinks (the daemon namespace's Ethernet interfaces other than loopback, bridges, bridge
// ports, VXLAN and containers' veths) get the inbound program and each published container's
// host-side veth the reply program. nftables' DNAT stays in place for everything: the programs
// only take the packets they can carry whole. A previous berthd's maps are adopted, so connections
// live across a restart. Where the kernel cannot load the programs, one warning and `inner` alone.
// A failure of the fast path is logged, never returned: nftables still publishes. `host` is a
// netlink socket of the daemon's namespace.
std::unique_ptr<Firewall> NewFastPublishFirewall(std::unique_ptr<Firewall> inner, sys::Rtnl& host);

// Removes the programs a previous berthd attached (berthd --iptables=false; a kernel that cannot
// load them any more). Failures are logged.
void DetachFastPublish(sys::Rtnl& host);

}  // namespace berth::network::firewall
