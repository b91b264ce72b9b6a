// Swarm network records (networks.h).

#include "cluster/networks.h"

#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "network/ipam/ipam.h"

namespace berth::cluster {
namespace {

using Json = nlohmann::json;

constexpr char kDefaultPool[] = "10.0.0.0/8";
constexpr char kMtuOption[] = "com.docker.network.driver.mtu";

}  // namespace

std::string EncodeNetworkRecord(const NetworkRecord& n) {
  Json j = {{"id", n.id},
            {"created_at", n.created_at},
            {"name", n.name},
            {"labels", n.labels},
            {"driver", n.driver},
            {"options", n.options},
            {"internal", n.internal},
            {"attachable", n.attachable},
            {"ingress", n.ingress},
            {"ipam_driver", n.ipam_driver},
            {"ipam_options", n.ipam_options},
            {"subnet", n.subnet},
            {"gateway", n.gateway},
            {"subnet_allocated", n.subnet_allocated},
            {"vni", n.vni}};
  return j.dump();
}

StatusOr<NetworkRecord> DecodeNetworkRecord(std::string_view text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return absl::DataLossError("network record is not JSON");
  NetworkRecord n;
  try {
    n.id = j.at("id").get<std::string>();
    n.created_at = j.at("created_at").get<int64_t>();
    n.name = j.at("name").get<std::string>();
    n.labels = j.at("labels").get<std::map<std::string, std::string>>();
    n.driver = j.at("driver").get<std::string>();
    n.options = j.at("options").get<std::map<std::string, std::string>>();
    n.internal = j.at("internal").get<bool>();
    n.attachable = j.at("attachable").get<bool>();
    n.ingress = j.at("ingress").get<bool>();
    n.ipam_driver = j.at("ipam_driver").get<std::string>();
    n.ipam_options = j.at("ipam_options").get<std::map<std::string, std::string>>();
    n.subnet = j.at("subnet").get<std::string>();
    n.gateway = j.at("gateway").get<std::string>();
    n.subnet_allocated = j.at("subnet_allocated").get<bool>();
    n.vni = j.at("vni").get<uint32_t>();
  } catch (const Json::exception& e) {
    return absl::DataLossError(absl::StrCat("network record: ", e.what()));
  }
  return n;
}

std::string EncodeAttachmentRecord(const AttachmentRecord& a) {
  return Json{{"id", a.id},
              {"network_id", a.network_id},
              {"node_id", a.node_id},
              {"container_id", a.container_id},
              {"container_name", a.container_name},
              {"ip", a.ip},
              {"created_at", a.created_at}}
      .dump();
}

StatusOr<AttachmentRecord> DecodeAttachmentRecord(std::string_view text) {
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return absl::DataLossError("attachment record is not JSON");
  AttachmentRecord a;
  try {
    a.id = j.at("id").get<std::string>();
    a.network_id = j.at("network_id").get<std::string>();
    a.node_id = j.at("node_id").get<std::string>();
    a.container_id = j.at("container_id").get<std::string>();
    a.container_name = j.value("container_name", "");
    a.ip = j.at("ip").get<std::string>();
    a.created_at = j.at("created_at").get<int64_t>();
  } catch (const Json::exception& e) {
    return absl::DataLossError(absl::StrCat("attachment record: ", e.what()));
  }
  return a;
}

StatusOr<std::string> NextAddress(const NetworkRecord& n, const std::vector<std::string>& used) {
  using network::ipam::Cidr;
  ASSIGN_OR_RETURN(Cidr c, Cidr::Parse(n.subnet));
  std::set<uint32_t> taken;
  for (const std::string& u : used) {
    StatusOr<uint32_t> ip = network::ipam::ParseIp(u);
    if (ip.ok()) taken.insert(*ip);
  }
  StatusOr<uint32_t> gw = network::ipam::ParseIp(n.gateway);
  if (gw.ok()) taken.insert(*gw);
  for (uint64_t a = uint64_t{c.Network()} + 1; a < c.Broadcast(); ++a)
    if (!taken.count(static_cast<uint32_t>(a))) return network::ipam::FormatIp(static_cast<uint32_t>(a));
  return absl::ResourceExhaustedError(
      absl::StrCat("no address is left on network ", n.name, " (", n.subnet, ")"));
}

StatusOr<NetworkRecord> NetworkFromRequest(const spec::NetworkCreateRequest& req) {
  NetworkRecord n;
  n.name = req.name;
  n.driver = req.driver.empty() ? "overlay" : req.driver;
  if (n.driver != "overlay")
    return absl::InvalidArgumentError(absl::StrCat(
        "Berth's swarm networks use the overlay driver; driver \"", n.driver,
        "\" cannot make a swarm-scoped network"));
  if (req.config_only || (req.config_from.has_value() && !req.config_from->network.empty()))
    return absl::InvalidArgumentError("Berth does not support config-only swarm networks yet");
  if (req.enable_ipv6)
    return absl::InvalidArgumentError("Berth's overlay networks are IPv4-only: --ipv6 is refused");
  if (req.options.has_value()) n.options = *req.options;
  if (n.options.count("encrypted"))
    return absl::InvalidArgumentError(
        "encrypted overlay networks are not supported: this kernel has neither IPsec (xfrm) nor "
        "WireGuard, which encrypting VXLAN traffic between nodes would need");
  if (auto it = n.options.find(kMtuOption); it != n.options.end()) {
    int mtu = 0;
    if (!absl::SimpleAtoi(it->second, &mtu) || mtu < 68 || mtu > 65535)
      return absl::InvalidArgumentError(
          absl::StrCat("invalid MTU ", it->second, " in ", kMtuOption));
  }
  if (req.labels.has_value()) n.labels = *req.labels;
  n.internal = req.internal;
  n.attachable = req.attachable;
  n.ingress = req.ingress;
  if (req.ipam.has_value()) {
    if (!req.ipam->driver.empty() && req.ipam->driver != "default")
      return absl::InvalidArgumentError(
          absl::StrCat("IPAM driver \"", req.ipam->driver, "\" is not supported: only default"));
    if (req.ipam->options.has_value()) n.ipam_options = *req.ipam->options;
    const auto& configs = req.ipam->config;
    if (configs.has_value() && configs->size() > 1)
      return absl::InvalidArgumentError(
          "Berth's overlay networks take one IPAM config (one IPv4 subnet)");
    if (configs.has_value() && !configs->empty()) {
      const spec::IPAMConfig& c = configs->front();
      if (!c.ip_range.empty() || !c.aux_addresses.empty())
        return absl::InvalidArgumentError(
            "--ip-range and --aux-address are not supported on overlay networks yet");
      if (c.subnet.empty() && !c.gateway.empty())
        return absl::InvalidArgumentError("a gateway needs a subnet (--subnet)");
      if (!c.subnet.empty()) {
        if (network::ipam::IsIpv6(c.subnet))
          return absl::InvalidArgumentError(
              "Berth's overlay networks are IPv4-only: an IPv6 subnet is refused");
        ASSIGN_OR_RETURN(network::ipam::Cidr cidr, network::ipam::Cidr::Parse(c.subnet));
        if (cidr.prefix > 30)
          return absl::InvalidArgumentError(
              absl::StrCat("subnet ", c.subnet, " is too small for a network"));
        n.subnet = cidr.Canonical().ToString();
        if (c.gateway.empty()) {
          ASSIGN_OR_RETURN(n.gateway, FirstHost(n.subnet));
        } else {
          ASSIGN_OR_RETURN(uint32_t gw, network::ipam::ParseIp(c.gateway));
          if (!cidr.Contains(gw) || gw == cidr.Network() || gw == cidr.Broadcast())
            return absl::InvalidArgumentError(
                absl::StrCat("gateway ", c.gateway, " is not a host address of ", n.subnet));
          n.gateway = c.gateway;
        }
      }
    }
  }
  return n;
}

uint32_t NextVni(const std::vector<NetworkRecord>& all) {
  std::vector<bool> used;
  for (const NetworkRecord& n : all) {
    if (n.vni < kFirstVni) continue;
    size_t i = n.vni - kFirstVni;
    if (i >= used.size()) used.resize(i + 1, false);
    used[i] = true;
  }
  size_t i = 0;
  while (i < used.size() && used[i]) ++i;
  return kFirstVni + static_cast<uint32_t>(i);
}

StatusOr<std::string> NextSubnet(const std::vector<NetworkRecord>& all,
                                 const std::vector<std::string>& pools, uint32_t size) {
  using network::ipam::Cidr;
  std::vector<Cidr> taken;
  for (const NetworkRecord& n : all) {
    StatusOr<Cidr> c = Cidr::Parse(n.subnet);
    if (c.ok()) taken.push_back(c->Canonical());
  }
  std::vector<std::string> tried = pools.empty() ? std::vector<std::string>{kDefaultPool} : pools;
  for (const std::string& p : tried) {
    ASSIGN_OR_RETURN(Cidr pool, Cidr::Parse(p));
    pool = pool.Canonical();
    if (size < static_cast<uint32_t>(pool.prefix) || size > 30) continue;
    uint64_t step = uint64_t{1} << (32 - size);
    for (uint64_t a = pool.Network(); a + step - 1 <= pool.Broadcast(); a += step) {
      Cidr cand{static_cast<uint32_t>(a), static_cast<int>(size)};
      bool free = true;
      for (const Cidr& t : taken)
        if (t.Overlaps(cand)) {
          free = false;
          break;
        }
      if (free) return cand.ToString();
    }
  }
  return absl::ResourceExhaustedError(
      "could not find an available, non-overlapping IPv4 address pool among the defaults to "
      "assign to the network");
}

StatusOr<std::string> FirstHost(const std::string& subnet) {
  ASSIGN_OR_RETURN(network::ipam::Cidr c, network::ipam::Cidr::Parse(subnet));
  if (c.prefix > 30)
    return absl::InvalidArgumentError(absl::StrCat("subnet ", subnet, " has no host addresses"));
  return network::ipam::FormatIp(c.Network() + 1);
}

network::NetworkView ViewOf(const NetworkRecord& n) {
  network::NetworkView v;
  v.name = n.name;
  v.id = n.id;
  v.created = FormatRfc3339Nano(n.created_at);
  v.scope = "swarm";
  v.driver = n.driver;
  v.ipam.driver = n.ipam_driver;
  if (!n.ipam_options.empty()) v.ipam.options = n.ipam_options;
  v.ipam.config = std::vector<spec::IPAMConfig>{{n.subnet, "", n.gateway, {}}};
  v.internal = n.internal;
  v.attachable = n.attachable;
  v.ingress = n.ingress;
  v.options = n.options;
  v.options[kVxlanIdOption] = std::to_string(n.vni);
  v.labels = n.labels;
  return v;
}

network::SwarmNetworkSpec SwarmSpecOf(const NetworkRecord& n) {
  network::SwarmNetworkSpec s;
  s.id = n.id;
  s.name = n.name;
  s.created = FormatRfc3339Nano(n.created_at);
  s.driver = n.driver;
  s.vni = n.vni;
  s.subnet = n.subnet;
  s.gateway = n.gateway;
  if (auto it = n.options.find(kMtuOption); it != n.options.end())
    (void)absl::SimpleAtoi(it->second, &s.mtu);
  s.attachable = n.attachable;
  s.ingress = n.ingress;
  s.internal = n.internal;
  s.options = n.options;
  s.labels = n.labels;
  return s;
}

}  // namespace berth::cluster
