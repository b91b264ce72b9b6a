// The network controller's records as store documents (controller_state.h): the one file of the
// controller that handles JSON.

#include "network/controller_state.h"
#include "nlohmann/json.hpp"

namespace berth::network {

using nlohmann::json;

namespace {

json IpamConfigToJson(const spec::IPAMConfig& c) {
  json j = json::object();
  if (!c.subnet.empty()) j["Subnet"] = c.subnet;
  if (!c.ip_range.empty()) j["IPRange"] = c.ip_range;
  if (!c.gateway.empty()) j["Gateway"] = c.gateway;
  if (!c.aux_addresses.empty()) j["AuxiliaryAddresses"] = c.aux_addresses;
  return j;
}

spec::IPAMConfig IpamConfigFromJson(const json& j) {
  spec::IPAMConfig c;
  if (!j.is_object()) return c;
  c.subnet = j.value("Subnet", "");
  c.ip_range = j.value("IPRange", "");
  c.gateway = j.value("Gateway", "");
  if (j.contains("AuxiliaryAddresses") && j["AuxiliaryAddresses"].is_object())
    for (auto& [k, v] : j["AuxiliaryAddresses"].items())
      if (v.is_string()) c.aux_addresses[k] = v.get<std::string>();
  return c;
}

spec::StringMap StringMapFrom(const json& j) {
  spec::StringMap m;
  if (j.is_object())
    for (auto& [k, v] : j.items())
      if (v.is_string()) m[k] = v.get<std::string>();
  return m;
}

// Runs a decoder; a field of the wrong type in our own record is reported, never thrown past here.
template <typename T, typename F>
StatusOr<T> Decode(const std::string& text, const char* what, F fn) {
  json d = json::parse(text, nullptr, false);
  if (!d.is_object()) return absl::InvalidArgumentError(std::string(what) + " record is not a JSON object");
  try {
    return fn(d);
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(std::string(what) + " record: " + e.what());
  }
}

}  // namespace

std::string Controller::Network::ToDoc() const {
  json cfg = json::array();
  for (auto& c : ipam_config) cfg.push_back(IpamConfigToJson(c));
  return json{{"id", spec.id},           {"name", spec.name},       {"driver", spec.driver},
              {"subnet", spec.subnet},   {"gateway", spec.gateway}, {"internal", spec.internal},
              {"ipv6", spec.ipv6},       {"subnet6", spec.subnet6}, {"gateway6", spec.gateway6},
              {"pool6_id", pool6_id},
              {"options", spec.options}, {"ifname", spec.ifname},   {"mtu", spec.mtu},
              {"created", created},      {"pool_id", pool_id},      {"ipam_config", cfg},
              {"ipam_options", ipam_options ? json(*ipam_options) : json(nullptr)}, {"labels", labels},   {"attachable", attachable},
              {"builtin", builtin}}
      .dump();
}

StatusOr<std::unique_ptr<Controller::Network>> Controller::Network::FromDoc(const std::string& text) {
  return Decode<std::unique_ptr<Network>>(text, "network", [](const json& d) {
    auto n = std::make_unique<Network>();
    n->spec.id = d.value("id", "");
    n->spec.name = d.value("name", "");
    n->spec.driver = d.value("driver", "");
    n->spec.subnet = d.value("subnet", "");
    n->spec.gateway = d.value("gateway", "");
    n->spec.internal = d.value("internal", false);
    n->spec.ipv6 = d.value("ipv6", false);
    n->spec.subnet6 = d.value("subnet6", "");
    n->spec.gateway6 = d.value("gateway6", "");
    n->pool6_id = d.value("pool6_id", "");
    n->spec.options = StringMapFrom(d.value("options", json::object()));
    n->spec.ifname = d.value("ifname", "");
    n->spec.mtu = d.value("mtu", 1500);
    n->created = d.value("created", "");
    n->pool_id = d.value("pool_id", "");
    for (auto& c : d.value("ipam_config", json::array())) n->ipam_config.push_back(IpamConfigFromJson(c));
    if (d.contains("ipam_options") && d["ipam_options"].is_object())
      n->ipam_options = StringMapFrom(d["ipam_options"]);
    n->labels = StringMapFrom(d.value("labels", json::object()));
    n->attachable = d.value("attachable", false);
    n->builtin = d.value("builtin", false);
    return n;
  });
}

ipam::PoolRequest Controller::Network::PoolRequestFromConfig(bool ipv6) const {
  ipam::PoolRequest req;
  req.ipv6 = ipv6;
  req.subnet = ipv6 ? spec.subnet6 : spec.subnet;
  req.gateway = ipv6 ? spec.gateway6 : spec.gateway;
  for (const spec::IPAMConfig& c : ipam_config) {
    if (ipam::IsIpv6(c.subnet) != ipv6) continue;
    req.ip_range = c.ip_range;
    req.aux = std::map<std::string, std::string>(c.aux_addresses.begin(), c.aux_addresses.end());
    break;
  }
  return req;
}

Controller::Attachment Controller::Attachment::FromEndpointConfig(const std::string& network_id,
                                                                  const spec::EndpointSettings& cfg) {
  Attachment a;
  a.network_id = network_id;
  a.aliases = spec::OrEmpty(cfg.aliases);
  if (cfg.ipam_config) {
    a.static_ip = cfg.ipam_config->ipv4_address;
    a.static_ip6 = cfg.ipam_config->ipv6_address;
    a.ipam_config = cfg.ipam_config;
  }
  a.mac = cfg.mac_address;
  a.links = spec::OrEmpty(cfg.links);
  for (auto& [k, v] : spec::OrEmpty(cfg.driver_opts)) a.driver_opts[k] = v;
  return a;
}

std::string Controller::ContainerNet::ToDoc() const {
  json a = json::array();
  for (auto& x : attachments) {
    json ipamc = nullptr;
    if (x.ipam_config) {
      ipamc = json::object();
      if (!x.ipam_config->ipv4_address.empty()) ipamc["IPv4Address"] = x.ipam_config->ipv4_address;
      if (!x.ipam_config->ipv6_address.empty()) ipamc["IPv6Address"] = x.ipam_config->ipv6_address;
      if (!x.ipam_config->link_local_ips.empty()) ipamc["LinkLocalIPs"] = x.ipam_config->link_local_ips;
    }
    a.push_back({{"network_id", x.network_id}, {"aliases", x.aliases}, {"static_ip", x.static_ip},
                 {"static_ip6", x.static_ip6},
                 {"mac", x.mac}, {"ipam_config", ipamc}, {"links", x.links},
                 {"driver_opts", x.driver_opts}});
  }
  return json{{"id", id}, {"name", name}, {"mode", mode}, {"attachments", a}, {"dns", dns}, {"search", search}}
      .dump();
}

StatusOr<std::unique_ptr<Controller::ContainerNet>> Controller::ContainerNet::FromDoc(const std::string& text) {
  return Decode<std::unique_ptr<ContainerNet>>(text, "network attachment", [](const json& d) {
    auto c = std::make_unique<ContainerNet>();
    c->id = d.value("id", "");
    c->name = d.value("name", "");
    c->mode = d.value("mode", "");
    c->dns = d.value("dns", std::vector<std::string>{});
    c->search = d.value("search", std::vector<std::string>{});
    for (auto& x : d.value("attachments", json::array())) {
      Attachment a;
      a.network_id = x.value("network_id", "");
      a.aliases = x.value("aliases", std::vector<std::string>{});
      a.static_ip = x.value("static_ip", "");
      a.static_ip6 = x.value("static_ip6", "");
      a.mac = x.value("mac", "");
      a.links = x.value("links", std::vector<std::string>{});
      a.driver_opts = x.value("driver_opts", std::map<std::string, std::string>{});
      json ipamc = x.value("ipam_config", json(nullptr));
      if (ipamc.is_object()) {
        spec::EndpointIPAMConfig e;
        e.ipv4_address = ipamc.value("IPv4Address", "");
        e.ipv6_address = ipamc.value("IPv6Address", "");
        e.link_local_ips = ipamc.value("LinkLocalIPs", std::vector<std::string>{});
        a.ipam_config = e;
      }
      c->attachments.push_back(std::move(a));
    }
    return c;
  });
}

std::string Controller::SandboxState::ToDoc() const {
  json eps = json::array();
  for (auto& e : endpoints)
    eps.push_back({{"id", e.spec.id}, {"ifname", e.spec.ifname}, {"host_ifname", e.spec.host_ifname},
                   {"ip", e.spec.ip}, {"prefix", e.spec.prefix}, {"mac", e.spec.mac},
                   {"ip6", e.spec.ip6}, {"prefix6", e.spec.prefix6},
                   {"default_route", e.spec.default_route}, {"network_id", e.network_id}});
  json ports_j = json::array();
  for (auto& p : ports)
    ports_j.push_back({{"proto", p.proto}, {"host_ip", p.host_ip}, {"host_port", p.host_port},
                       {"container_port", p.container_port}, {"container_ip", p.container_ip},
                       {"container_ip6", p.container_ip6},
                       {"bridge", p.bridge}, {"network_id", p.network_id}});
  return json{{"container_id", container_id}, {"id", id}, {"path", path}, {"endpoints", eps},
              {"ports", ports_j}, {"dns", dns}, {"next_if", next_if}}
      .dump();
}

StatusOr<std::unique_ptr<Controller::SandboxState>> Controller::SandboxState::FromDoc(const std::string& text) {
  return Decode<std::unique_ptr<SandboxState>>(text, "sandbox", [](const json& d) {
    auto sb = std::make_unique<SandboxState>();
    sb->container_id = d.value("container_id", "");
    sb->id = d.value("id", "");
    sb->path = d.value("path", "");
    sb->dns = d.value("dns", false);
    sb->next_if = d.value("next_if", 0);
    for (auto& e : d.value("endpoints", json::array())) {
      Endpoint ep;
      ep.spec.id = e.value("id", "");
      ep.spec.ifname = e.value("ifname", "");
      ep.spec.host_ifname = e.value("host_ifname", "");
      ep.spec.ip = e.value("ip", "");
      ep.spec.prefix = e.value("prefix", 24);
      ep.spec.mac = e.value("mac", "");
      ep.spec.ip6 = e.value("ip6", "");
      ep.spec.prefix6 = e.value("prefix6", 64);
      ep.spec.default_route = e.value("default_route", false);
      ep.network_id = e.value("network_id", "");
      sb->endpoints.push_back(std::move(ep));
    }
    for (auto& p : d.value("ports", json::array())) {
      PortMap pm;
      pm.proto = p.value("proto", "tcp");
      pm.host_ip = p.value("host_ip", "");
      pm.host_port = p.value("host_port", 0);
      pm.container_port = p.value("container_port", 0);
      pm.container_ip = p.value("container_ip", "");
      pm.container_ip6 = p.value("container_ip6", "");
      pm.bridge = p.value("bridge", "");
      pm.network_id = p.value("network_id", "");
      sb->ports.push_back(std::move(pm));
    }
    return sb;
  });
}

}  // namespace berth::network
