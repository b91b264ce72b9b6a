// Model -> nft script. The layout of the table is described once, in Render's template below;
// everything that varies with the model is an element of a set or map.

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "network/firewall/firewall.h"
#include "common/ipv4.h"

namespace berth::network::firewall {

namespace {

struct Cidr {
  uint32_t addr = 0;  // network address (host bits cleared)
  int len = 0;
  uint32_t Mask() const { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }
  uint32_t Last() const { return addr | ~Mask(); }
  std::string ToString() const { return absl::StrCat(FormatIpv4(addr), "/", len); }
};

bool ParseCidr(const std::string& s, Cidr* out) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return false;
  uint32_t a;
  if (!ParseIpv4(s.substr(0, slash), &a)) return false;
  std::string len = s.substr(slash + 1);
  if (len.empty() || len.size() > 2 || !std::all_of(len.begin(), len.end(), ::isdigit)) return false;
  int n = std::stoi(len);
  if (n > 32) return false;
  out->len = n;
  out->addr = a & out->Mask();
  return true;
}

// IPv6, canonical (RFC 5952) so golden files and deltas agree on one spelling.
bool ParseIpv6(const std::string& s, in6_addr* out) { return ::inet_pton(AF_INET6, s.c_str(), out) == 1; }

std::string FormatIpv6(const in6_addr& a) {
  char buf[INET6_ADDRSTRLEN];
  ::inet_ntop(AF_INET6, &a, buf, sizeof buf);
  return buf;
}

struct Cidr6 {
  in6_addr addr{};  // host bits cleared
  int len = 0;
  std::string ToString() const { return absl::StrCat(FormatIpv6(addr), "/", len); }
  bool Overlaps(const Cidr6& o) const {
    int n = std::min(len, o.len);
    for (int i = 0; i < 16 && n > 0; ++i, n -= 8) {
      uint8_t mask = n >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - n));
      if ((addr.s6_addr[i] & mask) != (o.addr.s6_addr[i] & mask)) return false;
    }
    return true;
  }
};

bool ParseCidr6(const std::string& s, Cidr6* out) {
  auto slash = s.find('/');
  if (slash == std::string::npos || !ParseIpv6(s.substr(0, slash), &out->addr)) return false;
  std::string len = s.substr(slash + 1);
  if (len.empty() || len.size() > 3 || !std::all_of(len.begin(), len.end(), ::isdigit)) return false;
  int n = std::stoi(len);
  if (n > 128) return false;
  out->len = n;
  for (int i = 0; i < 16; ++i) {
    int keep = std::clamp(n - 8 * i, 0, 8);
    out->addr.s6_addr[i] &= static_cast<uint8_t>(keep == 0 ? 0 : 0xff << (8 - keep));
  }
  return true;
}

// Where a mapping is published, per family (see PortMapping::host_ip).
bool PublishedOnIpv4(const PortMapping& p) { return p.host_ip.find(':') == std::string::npos; }
bool PublishedOnIpv6(const PortMapping& p) {
  return p.host_ip.find(':') != std::string::npos || (p.host_ip.empty() && !p.container_ip6.empty());
}
bool AnyAddress6(const std::string& host_ip) { return host_ip.empty() || host_ip == "::"; }

// Interface names are rendered inside double quotes; anything the kernel accepts as a name but that
// could end the quote or start a comment is refused rather than escaped.
bool ValidIfname(const std::string& s) {
  if (s.empty() || s.size() > 15) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return ::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool AnyAddress(const std::string& host_ip) { return host_ip.empty() || host_ip == "0.0.0.0"; }

std::string Quote(const std::string& s) { return absl::StrCat("\"", s, "\""); }

// A set or map declaration; nft wants no `elements` clause at all when there are none.
std::string Declare(const std::string& kind, const std::string& name, const std::string& type,
                    bool interval, const std::vector<std::string>& elements, const std::string& comment) {
  std::string out = absl::StrCat("\t# ", comment, "\n\t", kind, " ", name, " {\n\t\ttype ", type, "\n");
  if (interval) out += "\t\tflags interval\n";
  if (!elements.empty())
    absl::StrAppend(&out, "\t\telements = {\n\t\t\t", absl::StrJoin(elements, ",\n\t\t\t"), "\n\t\t}\n");
  out += "\t}\n";
  return out;
}

// The fixed part of the table: base chains at the standard priorities and the rules that read the
// sets and maps above. Kept as one literal so the layout can be read top to bottom.
constexpr char kChains[] = R"(
	# Packets from another interface with a loopback destination are spoofed: the controller enables
	# route_localnet on the bridges (so replies to the host's 127.0.0.1 connections to published ports
	# can be routed), and without this a container could reach the host's loopback-only services.
	chain raw_prerouting {
		type filter hook prerouting priority raw; policy accept;
		iifname != "lo" ip daddr 127.0.0.0/8 drop
	}

	# Our chains only ever drop: an accept here does not override a drop in another table.
	chain forward {
		type filter hook forward priority filter; policy accept;
		iifname @bridges jump from_bridge
		oifname @bridges jump into_bridge
	}

	# Leaving a bridge: to the same bridge, another bridge or the outside.
	chain from_bridge {
		# To the outside from a bridge that is not internal: no rule below drops it, and it is
		# most of this chain's traffic (with the replies of published ports), so it skips them.
		oifname != @bridges iifname != @internal_bridges accept
		iifname . oifname @icc accept
		iifname . oifname @same_bridge ct state established,related accept
		# Hairpin through a published port stays allowed when icc is off.
		iifname . oifname @same_bridge ct status dnat accept
		iifname . oifname @same_bridge drop
		iifname @internal_bridges drop
		oifname @internal_bridges drop
		# A published port is public, also to containers of other networks.
		oifname @bridges ct status dnat accept
		oifname @bridges drop
		accept
	}

	# Entering a bridge from a non-Berth interface: replies and published ports only; containers are
	# not reachable at their own addresses from other hosts (Docker's leak past the bind address).
	chain into_bridge {
		oifname @internal_bridges drop
		ct state established,related accept
		ct status dnat accept
		drop
	}

	# Published ports for traffic from other hosts and from containers. Loopback destinations never
	# come from there, so a port bound to 127.0.0.1 is only reachable from the host itself (output).
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr != 127.0.0.0/8 fib daddr type local jump published
		ip6 daddr != ::1 fib daddr type local jump published
	}

	# Published ports for traffic from the host to one of its own addresses, 127.0.0.1 included.
	# Not ::1: IPv6 has no route_localnet, a packet from ::1 cannot leave for a bridge.
	chain output {
		type nat hook output priority -100; policy accept;
		ip6 daddr ::1 return
		fib daddr type local jump published
	}

	# A port bound to one address wins over the same port bound to every address. A NAT of one
	# family does nothing to a packet of the other, so each packet meets only its family's maps.
	chain published {
		dnat ip to ip daddr . meta l4proto . th dport map @published_addr
		dnat ip to meta l4proto . th dport map @published_any
		dnat ip6 to ip6 daddr . meta l4proto . th dport map @published_addr6
		dnat ip6 to meta l4proto . th dport map @published_any6
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		# The host's 127.0.0.1 reaching a published port: the container cannot answer a loopback source.
		oifname @bridges ip saddr 127.0.0.0/8 masquerade
		# Hairpin: a container reaching its own or a sibling's published port through a host address
		# would get the answer straight from the sibling, not from the address it talked to.
		ct status dnat oifname . ip saddr @bridge_subnets masquerade
		ct status dnat oifname . ip6 saddr @bridge_subnets6 masquerade
		ip saddr @masquerade_subnets oifname != @bridges masquerade
		ip6 saddr @masquerade_subnets6 oifname != @bridges masquerade
	}
}
)";

}  // namespace

Status Validate(const Model& m) {
  std::map<std::string, const Bridge*> bridges;
  std::vector<std::pair<Cidr, std::string>> subnets;
  std::vector<std::pair<Cidr6, std::string>> subnets6;
  for (const Bridge& b : m.bridges) {
    if (!ValidIfname(b.ifname))
      return absl::InvalidArgumentError(absl::StrCat("bridge \"", b.ifname, "\": bad interface name"));
    if (!bridges.emplace(b.ifname, &b).second)
      return absl::AlreadyExistsError(absl::StrCat("bridge ", b.ifname, " listed twice"));
    Cidr c;
    if (!ParseCidr(b.subnet, &c))
      return absl::InvalidArgumentError(absl::StrCat("bridge ", b.ifname, ": bad IPv4 subnet \"", b.subnet, "\""));
    uint32_t gw;
    if (!b.gateway.empty() && !ParseIpv4(b.gateway, &gw))
      return absl::InvalidArgumentError(absl::StrCat("bridge ", b.ifname, ": bad gateway \"", b.gateway, "\""));
    for (const auto& [other, name] : subnets)
      if (c.addr <= other.Last() && other.addr <= c.Last())
        return absl::AlreadyExistsError(absl::StrCat("bridge ", b.ifname, ": subnet ", c.ToString(),
                                                     " overlaps ", other.ToString(), " of bridge ", name));
    subnets.emplace_back(c, b.ifname);
    if (b.subnet6.empty()) continue;
    Cidr6 c6;
    if (!ParseCidr6(b.subnet6, &c6))
      return absl::InvalidArgumentError(absl::StrCat("bridge ", b.ifname, ": bad IPv6 subnet \"", b.subnet6, "\""));
    for (const auto& [other, name] : subnets6)
      if (c6.Overlaps(other))
        return absl::AlreadyExistsError(absl::StrCat("bridge ", b.ifname, ": subnet ", c6.ToString(),
                                                     " overlaps ", other.ToString(), " of bridge ", name));
    subnets6.emplace_back(c6, b.ifname);
  }
  std::set<std::tuple<std::string, std::string, int>> bound;
  for (const PortMapping& p : m.ports) {
    std::string what = absl::StrCat("port ", p.host_ip.empty() ? "0.0.0.0" : p.host_ip, ":", p.host_port, "->",
                                    p.container_ip, ":", p.container_port, "/", p.proto);
    if (p.proto != "tcp" && p.proto != "udp")
      return absl::InvalidArgumentError(absl::StrCat(what, ": protocol must be tcp or udp"));
    uint32_t a;
    in6_addr a6;
    bool host6 = p.host_ip.find(':') != std::string::npos;
    if (host6 ? !ParseIpv6(p.host_ip, &a6) : (!AnyAddress(p.host_ip) && !ParseIpv4(p.host_ip, &a)))
      return absl::InvalidArgumentError(absl::StrCat(what, ": bad host address"));
    if (!ParseIpv4(p.container_ip, &a))
      return absl::InvalidArgumentError(absl::StrCat(what, ": container address is not IPv4"));
    if (!p.container_ip6.empty() && !ParseIpv6(p.container_ip6, &a6))
      return absl::InvalidArgumentError(absl::StrCat(what, ": container address ", p.container_ip6, " is not IPv6"));
    if (host6 && p.container_ip6.empty())
      return absl::InvalidArgumentError(absl::StrCat(what, ": an IPv6 host address needs an IPv6 container address"));
    if (p.host_port < 1 || p.host_port > 65535 || p.container_port < 1 || p.container_port > 65535)
      return absl::InvalidArgumentError(absl::StrCat(what, ": port out of range"));
    if (!bridges.count(p.bridge))
      return absl::InvalidArgumentError(absl::StrCat(what, ": unknown bridge \"", p.bridge, "\""));
    bool dup = false;
    if (PublishedOnIpv4(p)) dup |= !bound.emplace(p.proto, AnyAddress(p.host_ip) ? "" : p.host_ip, p.host_port).second;
    if (PublishedOnIpv6(p)) {
      std::string host6 = "::";
      if (!AnyAddress6(p.host_ip) && ParseIpv6(p.host_ip, &a6)) host6 = FormatIpv6(a6);
      dup |= !bound.emplace(p.proto, "[" + host6 + "]", p.host_port).second;
    }
    if (dup) return absl::AlreadyExistsError(absl::StrCat(what, ": host port already published"));
  }
  return absl::OkStatus();
}

std::string Render(const Model& m) {
  std::vector<Bridge> bridges = m.bridges;
  std::sort(bridges.begin(), bridges.end(), [](const Bridge& a, const Bridge& b) { return a.ifname < b.ifname; });
  std::set<std::string> internal;
  std::vector<std::string> all, internal_el, same, icc, bridge_subnets, masq, bridge_subnets6, masq6;
  std::vector<std::pair<uint32_t, int>> masq_nets;
  for (const Bridge& b : bridges) {
    Cidr c;
    ParseCidr(b.subnet, &c);
    std::string q = Quote(b.ifname);
    all.push_back(q);
    same.push_back(absl::StrCat(q, " . ", q));
    if (b.icc) icc.push_back(absl::StrCat(q, " . ", q));
    bridge_subnets.push_back(absl::StrCat(q, " . ", c.ToString()));
    Cidr6 c6;
    bool v6 = !b.subnet6.empty() && ParseCidr6(b.subnet6, &c6);
    if (v6) bridge_subnets6.push_back(absl::StrCat(q, " . ", c6.ToString()));
    if (b.internal) {
      internal.insert(b.ifname);
      internal_el.push_back(q);
    } else if (b.masquerade) {
      masq_nets.emplace_back(c.addr, c.len);
      if (v6) masq6.push_back(c6.ToString());
    }
  }
  std::sort(masq6.begin(), masq6.end());
  std::sort(masq_nets.begin(), masq_nets.end());  // numerically, not as strings
  for (auto [addr, len] : masq_nets) masq.push_back(Cidr{addr, len}.ToString());

  // Sorted by (proto, host address, port) so the golden files do not depend on the model's order.
  using Key = std::tuple<std::string, uint32_t, int>;
  std::map<Key, std::string> addr_el, any_el;
  std::map<std::tuple<std::string, std::string, int>, std::string> addr6_el, any6_el;
  for (const PortMapping& p : m.ports) {
    if (internal.count(p.bridge)) continue;
    if (PublishedOnIpv6(p)) {
      in6_addr c6{};
      ParseIpv6(p.container_ip6, &c6);
      std::string target6 = absl::StrCat(FormatIpv6(c6), " . ", p.container_port);
      if (AnyAddress6(p.host_ip)) {
        any6_el[{p.proto, "", p.host_port}] = absl::StrCat(p.proto, " . ", p.host_port, " : ", target6);
      } else {
        in6_addr h6{};
        ParseIpv6(p.host_ip, &h6);
        addr6_el[{p.proto, FormatIpv6(h6), p.host_port}] =
            absl::StrCat(FormatIpv6(h6), " . ", p.proto, " . ", p.host_port, " : ", target6);
      }
    }
    if (!PublishedOnIpv4(p)) continue;
    std::string target = absl::StrCat(p.container_ip, " . ", p.container_port);
    if (AnyAddress(p.host_ip)) {
      any_el[Key{p.proto, 0, p.host_port}] = absl::StrCat(p.proto, " . ", p.host_port, " : ", target);
    } else {
      uint32_t a = 0;
      ParseIpv4(p.host_ip, &a);
      addr_el[Key{p.proto, a, p.host_port}] =
          absl::StrCat(FormatIpv4(a), " . ", p.proto, " . ", p.host_port, " : ", target);
    }
  }
  std::vector<std::string> addr_list, any_list;
  for (auto& [k, v] : addr_el) addr_list.push_back(v);
  for (auto& [k, v] : any_el) any_list.push_back(v);
  std::vector<std::string> addr6_list, any6_list;
  for (auto& [k, v] : addr6_el) addr6_list.push_back(v);
  for (auto& [k, v] : any6_el) any6_list.push_back(v);

  std::string out =
      "# Generated by berthd from its network state and replaced whole on every change: do not edit.\n"
      "# Creating the table first makes the delete succeed when it does not exist yet.\n"
      "table inet berth {}\n"
      "delete table inet berth\n"
      "table inet berth {\n";
  out += Declare("set", "bridges", "ifname", false, all, "Every Berth bridge.");
  out += Declare("set", "internal_bridges", "ifname", false, internal_el, "Bridges of --internal networks.");
  out += Declare("set", "same_bridge", "ifname . ifname", false, same,
                 "(in, out) pairs of traffic that stays on one bridge.");
  out += Declare("set", "icc", "ifname . ifname", false, icc,
                 "The same, for bridges whose containers may talk to each other (enable_icc).");
  out += Declare("set", "bridge_subnets", "ifname . ipv4_addr", true, bridge_subnets,
                 "Each bridge with its subnet.");
  out += Declare("set", "masquerade_subnets", "ipv4_addr", true, masq,
                 "Subnets masqueraded on their way out (enable_ip_masquerade, not internal).");
  out += Declare("set", "bridge_subnets6", "ifname . ipv6_addr", true, bridge_subnets6,
                 "Each bridge of an IPv6 network with its IPv6 subnet.");
  out += Declare("set", "masquerade_subnets6", "ipv6_addr", true, masq6, "The same as masquerade_subnets, for IPv6.");
  out += Declare("map", "published_addr", "ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service",
                 false, addr_list, "Ports published on one host address: one element per mapping.");
  out += Declare("map", "published_any", "inet_proto . inet_service : ipv4_addr . inet_service", false, any_list,
                 "Ports published on every host address: one element per mapping.");
  out += Declare("map", "published_addr6", "ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service",
                 false, addr6_list, "Ports published on one host IPv6 address.");
  out += Declare("map", "published_any6", "inet_proto . inet_service : ipv6_addr . inet_service", false,
                 any6_list, "Ports published on every host IPv6 address, to containers' IPv6 addresses.");
  out += kChains;
  return out;
}

std::string RenderDelete() {
  return "# Creating the table first makes the delete succeed when it does not exist.\n"
         "table inet berth {}\n"
         "delete table inet berth\n";
}

}  // namespace berth::network::firewall
