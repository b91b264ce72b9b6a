#include "cli/network_opts.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_join.h"
#include "cli/cli.h"
#include "cli/opts.h"

namespace berth::cli {
namespace {

using nlohmann::json;

struct Prefix {
  int family = 0;
  unsigned char addr[16] = {};
  int bits = 0;
};

bool ParsePrefix(const std::string& s, Prefix* p) {
  size_t slash = s.find('/');
  std::string ip = s.substr(0, slash);
  if (inet_pton(AF_INET, ip.c_str(), p->addr) == 1) {
    p->family = AF_INET;
    p->bits = 32;
  } else if (inet_pton(AF_INET6, ip.c_str(), p->addr) == 1) {
    p->family = AF_INET6;
    p->bits = 128;
  } else {
    return false;
  }
  if (slash != std::string::npos) {
    std::string b = s.substr(slash + 1);
    if (b.empty() || b.size() > 3 || !std::all_of(b.begin(), b.end(), ::isdigit)) return false;
    int bits = std::stoi(b);
    if (bits > p->bits) return false;
    p->bits = bits;
  }
  return true;
}

}  // namespace

StatusOr<bool> SubnetContains(const std::string& subnet, const std::string& ip) {
  Prefix net, addr;
  if (!ParsePrefix(subnet, &net) || subnet.find('/') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid CIDR address: ", subnet));
  }
  if (!ParsePrefix(ip, &addr)) {
    // docker's message for an address it cannot parse in a subnet comparison.
    return false;
  }
  if (net.family != addr.family) return false;
  // A prefix is inside the subnet when it is at least as long and its address matches.
  if (addr.bits < net.bits) return false;
  int full = net.bits / 8, rest = net.bits % 8;
  if (std::memcmp(net.addr, addr.addr, static_cast<size_t>(full)) != 0) return false;
  if (rest != 0) {
    unsigned char mask = static_cast<unsigned char>(0xFF << (8 - rest));
    if ((net.addr[full] & mask) != (addr.addr[full] & mask)) return false;
  }
  return true;
}

StatusOr<json> BuildNetworkCreateBody(const NetworkCreateOptions& o) {
  if (o.subnets.size() < o.ip_ranges.size() || o.subnets.size() < o.gateways.size()) {
    return absl::InvalidArgumentError("every ip-range or gateway must have a corresponding subnet");
  }
  struct Cfg {
    std::string subnet, range, gateway;
    std::vector<std::pair<std::string, std::string>> aux;
  };
  std::vector<Cfg> cfgs;
  for (const auto& s : o.subnets) {
    for (const auto& c : cfgs) {
      ASSIGN_OR_RETURN(bool a, SubnetContains(s, c.subnet));
      ASSIGN_OR_RETURN(bool b, SubnetContains(c.subnet, s));
      if (a || b) {
        return absl::InvalidArgumentError(
            "multiple overlapping subnet configuration is not supported");
      }
    }
    Prefix p;
    if (!ParsePrefix(s, &p) || s.find('/') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid argument \"", s, "\" for \"--subnet\" flag: invalid CIDR address: ", s));
    }
    cfgs.push_back({s, "", "", {}});
  }
  for (const auto& r : o.ip_ranges) {
    bool match = false;
    for (auto& c : cfgs) {
      ASSIGN_OR_RETURN(bool ok, SubnetContains(c.subnet, r));
      if (!ok) continue;
      if (!c.range.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("cannot configure multiple ranges (", r,
                                                       ", ", c.range, ") on the same subnet (",
                                                       c.subnet, ")"));
      }
      c.range = r;
      match = true;
    }
    if (!match) return absl::InvalidArgumentError(absl::StrCat("no matching subnet for range ", r));
  }
  for (const auto& g : o.gateways) {
    bool match = false;
    for (auto& c : cfgs) {
      ASSIGN_OR_RETURN(bool ok, SubnetContains(c.subnet, g));
      if (!ok) continue;
      if (!c.gateway.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("cannot configure multiple gateways (", g,
                                                       ", ", c.gateway, ") for the same subnet (",
                                                       c.subnet, ")"));
      }
      c.gateway = g;
      match = true;
    }
    if (!match) {
      return absl::InvalidArgumentError(absl::StrCat("no matching subnet for gateway ", g));
    }
  }
  for (const auto& kv : o.aux_addresses) {
    // A bare value has no key: docker 28 reads it as an empty address, which matches no subnet
    // (its message then ends in a space: "no matching subnet for aux-address ").
    size_t eq = kv.find('=');
    std::string key = eq == std::string::npos ? kv : kv.substr(0, eq);
    std::string ip = eq == std::string::npos ? "" : kv.substr(eq + 1);
    bool match = false;
    for (auto& c : cfgs) {
      ASSIGN_OR_RETURN(bool ok, SubnetContains(c.subnet, ip));
      if (!ok) continue;
      c.aux.emplace_back(key, ip);
      match = true;
    }
    if (!match) {
      return absl::InvalidArgumentError(absl::StrCat("no matching subnet for aux-address ", ip));
    }
  }
  json config = json::array();
  for (const auto& c : cfgs) {
    json e = {{"Subnet", c.subnet}};
    if (!c.range.empty()) e["IPRange"] = c.range;
    if (!c.gateway.empty()) e["Gateway"] = c.gateway;
    if (!c.aux.empty()) {
      json aux = json::object();
      for (const auto& [k, v] : c.aux) aux[k] = v;
      e["AuxiliaryAddresses"] = aux;
    }
    config.push_back(e);
  }
  json body = {
      {"Driver", o.driver},
      {"Scope", o.scope},
      {"IPAM",
       {{"Driver", o.ipam_driver}, {"Options", KeyValueMap(o.ipam_opts)}, {"Config", config}}},
      {"Internal", o.internal},
      {"Attachable", o.attachable},
      {"Ingress", o.ingress},
      {"ConfigOnly", o.config_only},
      {"ConfigFrom", o.config_from.empty() ? json(nullptr) : json{{"Network", o.config_from}}},
      {"Options", KeyValueMap(o.opts)},
      {"Labels", KeyValueMap(o.labels)},
      {"Name", o.name},
      {"CheckDuplicate", true},
  };
  if (o.ipv6_set) body["EnableIPv6"] = o.ipv6;
  return body;
}

json NetworkListItem(const json& n, bool trunc) {
  json item;
  std::string id = n.value("Id", "");
  item["ID"] = trunc ? id.substr(0, 12) : id;
  item["Name"] = n.value("Name", "");
  item["Driver"] = n.value("Driver", "");
  item["Scope"] = n.value("Scope", "");
  item["IPv6"] = n.value("EnableIPv6", false) ? "true" : "false";
  // API 1.41 has no EnableIPv4; docker's zero value then prints "false".
  item["IPv4"] = n.value("EnableIPv4", false) ? "true" : "false";
  item["Internal"] = n.value("Internal", false) ? "true" : "false";
  std::vector<std::string> labels;
  if (n.contains("Labels") && n["Labels"].is_object()) {
    for (const auto& [k, v] : n["Labels"].items()) {
      labels.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
    }
  }
  std::sort(labels.begin(), labels.end());
  item["Labels"] = absl::StrJoin(labels, ",");
  item["CreatedAt"] = GoTimeString(n.value("Created", ""));
  return item;
}

}  // namespace berth::cli
