// Model -> Plan -> nft script. The layout of the table is written out once, in Render below;
// what varies with the tasks is elements of maps and sets only.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/ipv4.h"
#include "network/mesh/mesh.h"
#include "network/mesh/plan.h"

namespace berth::network::mesh {
namespace {

constexpr size_t kMaxBackends = 65536;  // a sane bound on one service's map
constexpr size_t kMaxIdLength = 64;   // swarmkit's ids are 25 characters

// "10.0.0.0/24" -> (network address, prefix length); host bits cleared.
bool ParseCidr(const std::string& s, uint32_t* addr, int* len) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return false;
  std::string n = s.substr(slash + 1);
  if (n.empty() || n.size() > 2 || !std::all_of(n.begin(), n.end(), ::isdigit)) return false;
  *len = std::stoi(n);
  if (*len > 32 || !ParseIpv4(s.substr(0, slash), addr)) return false;
  *addr &= *len == 0 ? 0 : ~uint32_t{0} << (32 - *len);
  return true;
}

// Ids name chains and maps ("be_<id>"): letters and digits only, so nothing needs quoting.
bool ValidId(const std::string& id) {
  return !id.empty() && id.size() <= kMaxIdLength &&
         std::all_of(id.begin(), id.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
}

bool IsIngress(const Port& p) { return p.mode.empty() || p.mode == "ingress"; }

std::string Who(const Service& s) {
  return absl::StrCat("service '", s.name.empty() ? s.id : s.name, "' (", s.id, ")");
}

void SortUnique(std::vector<uint32_t>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

// A set or map declaration; nft wants no `elements` clause at all when there are none.
std::string Declare(const std::string& kind, const std::string& name, const std::string& type,
                    const std::string& flags, const std::string& elements, const std::string& comment) {
  std::string out = absl::StrCat("\t# ", comment, "\n\t", kind, " ", name, " {\n\t\t", type, "\n");
  if (!flags.empty()) absl::StrAppend(&out, "\t\tflags ", flags, "\n");
  if (!elements.empty()) absl::StrAppend(&out, "\t\telements = { ", elements, " }\n");
  out += "\t}\n";
  return out;
}

std::string Elements(const std::vector<std::string>& v) { return absl::StrJoin(v, ", "); }


}  // namespace

Status Validate(const Model& m) {
  std::set<std::string> ids;
  std::map<uint32_t, const Service*> vips;
  // backend -> (local, first seen in); a hash map: a node's model holds a thousand backends and is
  // checked on every change
  absl::flat_hash_map<uint32_t, std::pair<bool, const Service*>> locality;
  std::map<std::pair<std::string, int>, const Service*> ingress_ports;
  for (const Service& s : m.services) {
    if (!ValidId(s.id))
      return absl::InvalidArgumentError(absl::StrCat(
          "service id \"", s.id, "\": want 1 to ", kMaxIdLength, " letters and digits"));
    if (!ids.insert(s.id).second)
      return absl::InvalidArgumentError(absl::StrCat("service id ", s.id, " listed twice"));
    uint32_t a = 0;
    if (!s.vip.empty()) {
      if (!ParseIpv4(s.vip, &a))
        return absl::InvalidArgumentError(absl::StrCat(Who(s), ": VIP \"", s.vip, "\" is not an IPv4 address"));
      auto [it, fresh] = vips.emplace(a, &s);
      if (!fresh)
        return absl::InvalidArgumentError(
            absl::StrCat(Who(s), ": VIP ", s.vip, " is already the VIP of ", Who(*it->second)));
    }
    std::set<std::pair<std::string, int>> own;
    for (const Port& p : s.ports) {
      std::string what = absl::StrCat(Who(s), ": port ", p.published, ":", p.target, "/", p.proto);
      if (p.proto != "tcp" && p.proto != "udp")
        return absl::InvalidArgumentError(absl::StrCat(what, ": protocol must be tcp or udp"));
      if (p.published < 1 || p.published > 65535 || p.target < 1 || p.target > 65535)
        return absl::InvalidArgumentError(absl::StrCat(what, ": ports must be in 1..65535"));
      if (!p.mode.empty() && p.mode != "ingress" && p.mode != "host")
        return absl::InvalidArgumentError(absl::StrCat(what, ": publish mode must be ingress or host"));
      if (!own.emplace(p.proto, p.published).second)
        return absl::InvalidArgumentError(absl::StrCat(Who(s), ": EndpointSpec: duplicate published ports provided"));
      if (!IsIngress(p)) continue;
      auto [it, fresh] = ingress_ports.emplace(std::make_pair(p.proto, p.published), &s);
      if (!fresh)  // swarmkit's allocator, word for word
        return absl::InvalidArgumentError(absl::StrCat(
            "port '", p.published, "' is already in use by service '", it->second->name, "' (",
            it->second->id, ") as an ingress port"));
    }
    if (s.backends.size() > kMaxBackends)
      return absl::InvalidArgumentError(
          absl::StrCat(Who(s), ": ", s.backends.size(), " backends, at most ", kMaxBackends, " are balanced"));
    std::vector<uint32_t> mine;
    mine.reserve(s.backends.size());
    for (const Backend& b : s.backends) {
      if (!ParseIpv4(b.ip, &a))
        return absl::InvalidArgumentError(absl::StrCat(Who(s), ": backend \"", b.ip, "\" is not an IPv4 address"));
      mine.push_back(a);
      auto [it, fresh] = locality.emplace(a, std::make_pair(b.local, &s));
      if (!fresh && it->second.second != &s && it->second.first != b.local)
        return absl::InvalidArgumentError(absl::StrCat(Who(s), ": backend ", b.ip, " is ",
                                                       b.local ? "local" : "remote", " here but ",
                                                       it->second.first ? "local" : "remote", " in ",
                                                       Who(*it->second.second)));
    }
    std::sort(mine.begin(), mine.end());
    if (auto dup = std::adjacent_find(mine.begin(), mine.end()); dup != mine.end())
      return absl::InvalidArgumentError(absl::StrCat(Who(s), ": backend ", FormatIpv4(*dup), " listed twice"));
  }
  if (m.ingress.has_value()) {
    uint32_t a = 0;
    int len = 0;
    if (!ParseIpv4(m.ingress->snat_address, &a))
      return absl::InvalidArgumentError(absl::StrCat("ingress: SNAT address \"", m.ingress->snat_address,
                                                     "\" is not an IPv4 address"));
    for (const std::string& c : m.ingress->hairpin_subnets)
      if (!ParseCidr(c, &a, &len))
        return absl::InvalidArgumentError(absl::StrCat("ingress: hairpin subnet \"", c, "\" is not an IPv4 CIDR"));
  }
  return absl::OkStatus();
}

namespace internal {

std::string BackendMap(const std::string& id) { return "be_" + id; }

std::string VipChain(const std::string& id) { return "vip_" + id; }
std::string PortChain(const std::string& id, const PlannedPort& p) {
  return absl::StrCat("ing_", id, "_", p.proto, "_", p.published);
}

std::string AddressElements(const std::vector<uint32_t>& addresses) {
  std::string out;
  for (uint32_t a : addresses) absl::StrAppend(&out, out.empty() ? "" : ", ", FormatIpv4(a));
  return out;
}

std::string BackendElements(const std::vector<uint32_t>& backends) {
  std::string out;
  for (size_t i = 0; i < backends.size(); ++i)
    absl::StrAppend(&out, i == 0 ? "" : ", ", i, " : ", FormatIpv4(backends[i]));
  return out;
}

// No backend, no draw: `mod 0` is not a thing, and the chain's refusals take the connection.
std::vector<std::string> VipRules(const PlannedService& s) {
  std::vector<std::string> rules;
  if (!s.backends.empty())
    rules.push_back(absl::StrCat("meta l4proto { tcp, udp } dnat ip to numgen random mod ", s.backends.size(),
                                 " map @", BackendMap(s.id)));
  rules.push_back("meta l4proto tcp reject with tcp reset");
  rules.push_back("meta l4proto udp reject");
  return rules;
}

std::vector<std::string> PortRules(const PlannedService& s, const PlannedPort& p) {
  std::vector<std::string> rules;
  if (!s.backends.empty())
    rules.push_back(absl::StrCat("meta l4proto ", p.proto, " dnat ip to numgen random mod ", s.backends.size(),
                                 " map @", BackendMap(s.id), " : ", p.target));
  rules.push_back(absl::StrCat("meta l4proto ", p.proto, p.proto == "tcp" ? " reject with tcp reset" : " reject"));
  return rules;
}

Plan MakePlan(const Model& m) {
  Plan plan;
  plan.ingress = m.ingress.has_value();
  std::vector<uint32_t> all, remote;
  for (const Service& s : m.services) {
    PlannedService ps;
    ps.id = s.id;
    uint32_t a = 0;
    if (!s.vip.empty() && ParseIpv4(s.vip, &a)) ps.vip = FormatIpv4(a);
    if (plan.ingress)
      for (const Port& p : s.ports)
        if (IsIngress(p)) ps.ports.push_back({p.proto, p.published, p.target});
    if (ps.vip.empty() && ps.ports.empty()) continue;  // nothing of it lives in this namespace
    std::sort(ps.ports.begin(), ps.ports.end(), [](const PlannedPort& x, const PlannedPort& y) {
      return std::tie(x.proto, x.published) < std::tie(y.proto, y.published);
    });
    ps.backends.reserve(s.backends.size());
    for (const Backend& b : s.backends) {
      if (!ParseIpv4(b.ip, &a)) continue;
      ps.backends.push_back(a);
      if (!plan.ingress) continue;
      all.push_back(a);
      if (!b.local) remote.push_back(a);
    }
    SortUnique(&ps.backends);
    plan.services.push_back(std::move(ps));
  }
  std::sort(plan.services.begin(), plan.services.end(),
            [](const PlannedService& x, const PlannedService& y) { return x.id < y.id; });
  if (plan.ingress) {
    uint32_t a = 0;
    ParseIpv4(m.ingress->snat_address, &a);
    plan.snat_address = FormatIpv4(a);
    std::set<std::pair<uint32_t, int>> nets;
    for (const std::string& c : m.ingress->hairpin_subnets) {
      int len = 0;
      if (ParseCidr(c, &a, &len)) nets.emplace(a, len);
    }
    // CIDRs overlap only by containment: in address order, one inside the last kept is dropped
    // (an interval set refuses overlapping elements).
    uint64_t kept_end = 0;  // one past the last address of the last subnet kept; 0: none yet
    for (auto [addr, len] : nets) {
      uint64_t end = uint64_t{addr} + (uint64_t{1} << (32 - len));
      if (kept_end != 0 && end <= kept_end) continue;
      kept_end = end;
      plan.hairpin_subnets.push_back(absl::StrCat(FormatIpv4(addr), "/", len));
    }
    SortUnique(&all);
    SortUnique(&remote);
    plan.backends = std::move(all);
    plan.remote_backends = std::move(remote);
  }
  return plan;
}

}  // namespace internal

std::string Render(const Model& m) { return internal::RenderPlan(internal::MakePlan(m)); }

std::string internal::RenderPlan(const Plan& plan) {
  std::vector<std::string> vips, ports;
  for (const internal::PlannedService& s : plan.services) {
    if (!s.vip.empty()) vips.push_back(absl::StrCat(s.vip, " : goto ", internal::VipChain(s.id)));
    for (const internal::PlannedPort& p : s.ports)
      ports.push_back(absl::StrCat(p.proto, " . ", p.published, " : goto ", internal::PortChain(s.id, p)));
  }

  std::string out = absl::StrCat(
      "# Generated by berthd from the services it balances here and replaced whole when one comes\n"
      "# or goes (tasks coming and going change elements only): do not edit.\n"
      "# Creating the table first makes the delete succeed when it does not exist yet.\n"
      "table ip ", kTableName, " {}\ndelete table ip ", kTableName, "\ntable ip ", kTableName, " {\n");
  out += Declare("map", "vips", "type ipv4_addr : verdict", "", Elements(vips),
                 "Each service's VIP, to the service's chain: every TCP and UDP port, kept.");
  if (plan.ingress) {
    out += Declare("map", "ingress_ports", "type inet_proto . inet_service : verdict", "", Elements(ports),
                   "Ports published on every address of this node (the routing mesh), to their chain.");
    out += Declare("set", "backends", "type ipv4_addr", "", internal::AddressElements(plan.backends),
                   "Every backend of the services below.");
    out += Declare("set", "remote_backends", "type ipv4_addr", "", internal::AddressElements(plan.remote_backends),
                   "The backends on other nodes: their replies must come back through this node.");
    out += Declare("set", "hairpin_subnets", "type ipv4_addr", "interval", Elements(plan.hairpin_subnets),
                   "Clients a local backend would answer directly, not through this node.");
  }
  auto chain = [&out](const std::string& name, const std::vector<std::string>& rules) {
    absl::StrAppend(&out, "\tchain ", name, " {\n");
    for (const std::string& r : rules) absl::StrAppend(&out, "\t\t", r, "\n");
    out += "\t}\n";
  };
  for (const internal::PlannedService& s : plan.services) {
    out += Declare("map", internal::BackendMap(s.id), "typeof numgen random mod 65536 : ip daddr", "",
                   internal::BackendElements(s.backends),
                   absl::StrCat("Service ", s.id, ": its backends, numbered from 0 for numgen random mod N."));
    if (!s.vip.empty()) chain(internal::VipChain(s.id), internal::VipRules(s));
    for (const internal::PlannedPort& p : s.ports) chain(internal::PortChain(s.id, p), internal::PortRules(s, p));
  }

  // The base chains. Published ports are matched on any local address, as Docker's routing mesh
  // does; from this node itself (output) too, 127.0.0.1 included. The `ct state new` is needed,
  // not decoration: the kernel tracks connections in a namespace only while some rule there uses
  // conntrack (a dnat, snat or ct expression), and NAT chains see no packet without it, so in a
  // container whose services have all lost their backends the refusals would never run.
  std::string ingress_rule =
      plan.ingress ? "\t\tct state new fib daddr type local meta l4proto . th dport vmap @ingress_ports\n" : "";
  absl::StrAppend(&out,
                  "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
                  "\t\tct state new ip daddr vmap @vips\n",
                  ingress_rule,
                  "\t}\n\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n"
                  "\t\tct state new ip daddr vmap @vips\n",
                  ingress_rule, "\t}\n");
  if (plan.ingress)
    absl::StrAppend(
        &out,
        "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        "\t\t# A backend on another node would answer the client straight: make it answer us.\n"
        "\t\tct status dnat ip daddr @remote_backends snat ip to ", plan.snat_address, "\n"
        "\t\t# A local backend cannot answer a loopback address, nor route a hairpin back through us.\n"
        "\t\tct status dnat ip daddr @backends ip saddr 127.0.0.0/8 masquerade\n"
        "\t\tct status dnat ip daddr @backends ip saddr @hairpin_subnets masquerade\n"
        "\t}\n");
  out += "}\n";
  return out;
}

std::string RenderDelete() {
  return absl::StrCat("# Creating the table first makes the delete succeed when it does not exist.\n",
                      "table ip ", kTableName, " {}\ndelete table ip ", kTableName, "\n");
}

}  // namespace berth::network::mesh
