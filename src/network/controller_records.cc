// The network controller's records as store documents (controller_state.h).

#include "network/controller_state.h"

namespace berth::network {

using nlohmann::json;

json Controller::Network::ToDoc() const {
  return {{"id", spec.id},           {"name", spec.name},       {"driver", spec.driver},
          {"subnet", spec.subnet},   {"gateway", spec.gateway}, {"internal", spec.internal},
          {"options", spec.options}, {"ifname", spec.ifname},   {"mtu", spec.mtu},
          {"created", created},      {"pool_id", pool_id},      {"ipam_config", ipam_config},
          {"ipam_options", ipam_options}, {"labels", labels},   {"attachable", attachable},
          {"builtin", builtin}};
}

std::unique_ptr<Controller::Network> Controller::Network::FromDoc(const json& d) {
  auto n = std::make_unique<Network>();
  n->spec.id = d.value("id", "");
  n->spec.name = d.value("name", "");
  n->spec.driver = d.value("driver", "");
  n->spec.subnet = d.value("subnet", "");
  n->spec.gateway = d.value("gateway", "");
  n->spec.internal = d.value("internal", false);
  n->spec.options = d.value("options", std::map<std::string, std::string>{});
  n->spec.ifname = d.value("ifname", "");
  n->spec.mtu = d.value("mtu", 1500);
  n->created = d.value("created", "");
  n->pool_id = d.value("pool_id", "");
  n->ipam_config = d.value("ipam_config", json::array());
  n->ipam_options = d.value("ipam_options", json(nullptr));
  n->labels = d.value("labels", json::object());
  n->attachable = d.value("attachable", false);
  n->builtin = d.value("builtin", false);
  return n;
}

ipam::PoolRequest Controller::Network::PoolRequestFromConfig() const {
  ipam::PoolRequest req;
  req.subnet = spec.subnet;
  req.gateway = spec.gateway;
  if (ipam_config.is_array() && !ipam_config.empty() && ipam_config[0].is_object()) {
    const json& c = ipam_config[0];
    req.ip_range = c.value("IPRange", "");
    if (c.contains("AuxiliaryAddresses") && c["AuxiliaryAddresses"].is_object())
      for (auto& [k, v] : c["AuxiliaryAddresses"].items())
        if (v.is_string()) req.aux[k] = v.get<std::string>();
  }
  return req;
}

json Controller::Attachment::ToDoc() const {
  return {{"network_id", network_id}, {"aliases", aliases}, {"static_ip", static_ip},
          {"mac", mac}, {"ipam_config", ipam_config}};
}

Controller::Attachment Controller::Attachment::FromEndpointConfig(const std::string& network_id,
                                                                  const json& cfg) {
  Attachment a;
  a.network_id = network_id;
  if (!cfg.is_object()) return a;
  if (cfg.contains("Aliases") && cfg["Aliases"].is_array())
    for (auto& al : cfg["Aliases"])
      if (al.is_string()) a.aliases.push_back(al.get<std::string>());
  json ipamc = cfg.value("IPAMConfig", json(nullptr));
  if (ipamc.is_object()) {
    a.static_ip = ipamc.value("IPv4Address", "");
    a.ipam_config = ipamc;
  }
  return a;
}

Controller::Attachment Controller::Attachment::FromDoc(const json& d) {
  Attachment a;
  a.network_id = d.value("network_id", "");
  a.aliases = d.value("aliases", std::vector<std::string>{});
  a.static_ip = d.value("static_ip", "");
  a.mac = d.value("mac", "");
  a.ipam_config = d.value("ipam_config", json(nullptr));
  return a;
}

json Controller::ContainerNet::ToDoc() const {
  json a = json::array();
  for (auto& x : attachments) a.push_back(x.ToDoc());
  return {{"id", id}, {"name", name}, {"mode", mode}, {"attachments", a}, {"dns", dns}, {"search", search}};
}

std::unique_ptr<Controller::ContainerNet> Controller::ContainerNet::FromDoc(const json& d) {
  auto c = std::make_unique<ContainerNet>();
  c->id = d.value("id", "");
  c->name = d.value("name", "");
  c->mode = d.value("mode", "");
  c->dns = d.value("dns", std::vector<std::string>{});
  c->search = d.value("search", std::vector<std::string>{});
  for (auto& a : d.value("attachments", json::array())) c->attachments.push_back(Attachment::FromDoc(a));
  return c;
}

json Controller::SandboxState::ToDoc() const {
  json eps = json::array();
  for (auto& e : endpoints)
    eps.push_back({{"id", e.spec.id}, {"ifname", e.spec.ifname}, {"host_ifname", e.spec.host_ifname},
                   {"ip", e.spec.ip}, {"prefix", e.spec.prefix}, {"mac", e.spec.mac},
                   {"default_route", e.spec.default_route}, {"network_id", e.network_id}});
  json ports_j = json::array();
  for (auto& p : ports)
    ports_j.push_back({{"proto", p.proto}, {"host_ip", p.host_ip}, {"host_port", p.host_port},
                       {"container_port", p.container_port}, {"container_ip", p.container_ip},
                       {"bridge", p.bridge}, {"network_id", p.network_id}});
  return {{"container_id", container_id}, {"id", id}, {"path", path}, {"endpoints", eps},
          {"ports", ports_j}, {"dns", dns}, {"next_if", next_if}};
}

std::unique_ptr<Controller::SandboxState> Controller::SandboxState::FromDoc(const json& d) {
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
    pm.bridge = p.value("bridge", "");
    pm.network_id = p.value("network_id", "");
    sb->ports.push_back(std::move(pm));
  }
  return sb;
}

}  // namespace berth::network
