// Model -> Model as element changes of the published-port maps: what a container start or stop
// changes, in one small transaction instead of the whole table. The element text must be Render's
// own, byte for byte (render.cc builds the same strings for the same maps); the unit tests check
// every element written here against Render's output, and the privileged tests check that a table
// built by deltas lists exactly as the one Render builds.

#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "network/firewall/firewall.h"

namespace berth::network::firewall {
namespace {

bool AnyAddress(const std::string& host_ip) { return host_ip.empty() || host_ip == "0.0.0.0"; }

// Bridges are compared whole, in name order: the sets they fill and which ports are rendered at all
// (none on an internal bridge) follow from them alone.
bool SameBridges(const Model& a, const Model& b) {
  if (a.bridges.size() != b.bridges.size()) return false;
  auto sorted = [](const Model& m) {
    std::vector<const Bridge*> v;
    for (const Bridge& br : m.bridges) v.push_back(&br);
    std::sort(v.begin(), v.end(),
              [](const Bridge* x, const Bridge* y) { return x->ifname < y->ifname; });
    return v;
  };
  auto as = sorted(a), bs = sorted(b);
  for (size_t i = 0; i < as.size(); ++i) {
    const Bridge &x = *as[i], &y = *bs[i];
    if (std::tie(x.ifname, x.subnet, x.gateway, x.subnet6, x.masquerade, x.icc, x.internal) !=
        std::tie(y.ifname, y.subnet, y.gateway, y.subnet6, y.masquerade, y.icc, y.internal))
      return false;
  }
  return true;
}

// One map's elements: key text -> whole element text ("tcp . 8080" -> "tcp . 8080 : 10.0.0.2 .
// 80").
using Elements = std::map<std::string, std::string>;

std::string Canonical6(const std::string& s) {
  in6_addr a{};
  ::inet_pton(AF_INET6, s.c_str(), &a);
  char buf[INET6_ADDRSTRLEN];
  ::inet_ntop(AF_INET6, &a, buf, sizeof buf);
  return buf;
}

// The elements of the four port maps that Render writes for m (see PublishedOnIpv4/6 there).
void PortElements(const Model& m, Elements* addr, Elements* any, Elements* addr6, Elements* any6) {
  std::set<std::string> internal;
  for (const Bridge& b : m.bridges)
    if (b.internal) internal.insert(b.ifname);
  for (const PortMapping& p : m.ports) {
    if (internal.count(p.bridge)) continue;
    bool host6 = p.host_ip.find(':') != std::string::npos;
    if (host6 || (p.host_ip.empty() && !p.container_ip6.empty())) {
      std::string target6 = absl::StrCat(Canonical6(p.container_ip6), " . ", p.container_port);
      if (p.host_ip.empty() || p.host_ip == "::") {
        std::string key = absl::StrCat(p.proto, " . ", p.host_port);
        (*any6)[key] = absl::StrCat(key, " : ", target6);
      } else {
        std::string key = absl::StrCat(Canonical6(p.host_ip), " . ", p.proto, " . ", p.host_port);
        (*addr6)[key] = absl::StrCat(key, " : ", target6);
      }
    }
    if (host6) continue;
    std::string target = absl::StrCat(p.container_ip, " . ", p.container_port);
    if (AnyAddress(p.host_ip)) {
      std::string key = absl::StrCat(p.proto, " . ", p.host_port);
      (*any)[key] = absl::StrCat(key, " : ", target);
    } else {
      in_addr a{};
      ::inet_pton(AF_INET, p.host_ip.c_str(),
                  &a);  // Render's form: inet_ntop of the parsed address
      char ip[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, &a, ip, sizeof ip);
      std::string key = absl::StrCat(ip, " . ", p.proto, " . ", p.host_port);
      (*addr)[key] = absl::StrCat(key, " : ", target);
    }
  }
}

// Appends `delete element` for what leaves map (or changes its target) and collects what comes.
void Diff(const std::string& map, const Elements& from, const Elements& to, std::string* deletes,
          std::string* adds) {
  std::vector<std::string> gone, come;
  for (const auto& [key, el] : from) {
    auto it = to.find(key);
    if (it == to.end() || it->second != el) gone.push_back(key);
  }
  for (const auto& [key, el] : to) {
    auto it = from.find(key);
    if (it == from.end() || it->second != el) come.push_back(el);
  }
  if (!gone.empty())
    absl::StrAppend(deletes, "delete element inet berth ", map, " { ", absl::StrJoin(gone, ", "),
                    " }\n");
  if (!come.empty())
    absl::StrAppend(adds, "add element inet berth ", map, " { ", absl::StrJoin(come, ", "), " }\n");
}

}  // namespace

std::optional<std::string> RenderPortDelta(const Model& from, const Model& to) {
  if (!SameBridges(from, to)) return std::nullopt;
  Elements from_addr, from_any, to_addr, to_any, from_addr6, from_any6, to_addr6, to_any6;
  PortElements(from, &from_addr, &from_any, &from_addr6, &from_any6);
  PortElements(to, &to_addr, &to_any, &to_addr6, &to_any6);
  // Deletions first: a mapping whose target changed is deleted and added again in the same
  // transaction (`add element` does not replace an element's data).
  std::string deletes, adds;
  Diff("published_addr", from_addr, to_addr, &deletes, &adds);
  Diff("published_any", from_any, to_any, &deletes, &adds);
  Diff("published_addr6", from_addr6, to_addr6, &deletes, &adds);
  Diff("published_any6", from_any6, to_any6, &deletes, &adds);
  return deletes + adds;
}

}  // namespace berth::network::firewall
