// What one node balances, from the cluster's MeshSpec (node.h).

#include "network/mesh/node.h"

namespace berth::network::mesh {

std::set<NodePort> MeshNodePorts(const MeshSpec& mesh) {
  std::set<NodePort> out;
  if (mesh.ingress_address.empty()) return out;
  for (const MeshService& s : mesh.services)
    for (const MeshPort& p : s.ingress_ports) out.emplace(p.proto, p.published);
  return out;
}

std::optional<Model> NodeModel(const MeshSpec& mesh, const std::vector<std::string>& hairpin_subnets,
                               const std::set<NodePort>& refused) {
  if (mesh.ingress_address.empty()) return std::nullopt;
  Model m;
  m.ingress = Ingress{mesh.ingress_address, hairpin_subnets};
  for (const MeshService& s : mesh.services) {
    Service out;
    out.id = s.id;
    out.name = s.name;
    for (const MeshPort& p : s.ingress_ports)
      if (!refused.count({p.proto, p.published})) out.ports.push_back(Port{p.proto, p.published, p.target, "ingress"});
    if (out.ports.empty()) continue;
    for (const MeshServiceNetwork& n : s.networks)
      if (n.network_id == mesh.ingress_network_id)
        for (const MeshBackend& b : n.backends) out.backends.push_back(Backend{b.ip, b.local});
    m.services.push_back(std::move(out));
  }
  if (m.services.empty()) return std::nullopt;
  return m;
}

Model ContainerModel(const MeshSpec& mesh, const std::set<std::string>& network_ids) {
  Model m;
  for (const MeshService& s : mesh.services) {
    bool first = true;
    for (const MeshServiceNetwork& n : s.networks) {
      if (n.vip.empty() || !network_ids.count(n.network_id)) continue;
      Service out;
      out.id = first ? s.id : s.id + "n" + n.network_id.substr(0, 10);
      out.name = s.name;
      out.vip = n.vip;
      for (const MeshBackend& b : n.backends) out.backends.push_back(Backend{b.ip, b.local});
      m.services.push_back(std::move(out));
      first = false;
    }
  }
  return m;
}

std::map<std::string, std::vector<std::pair<std::string, std::vector<std::string>>>> VipNames(
    const MeshSpec& mesh) {
  std::map<std::string, std::vector<std::pair<std::string, std::vector<std::string>>>> out;
  for (const MeshService& s : mesh.services)
    for (const MeshServiceNetwork& n : s.networks)
      if (!n.vip.empty() && !n.names.empty()) out[n.network_id].emplace_back(n.vip, n.names);
  return out;
}

}  // namespace berth::network::mesh
