#pragma once
// What one node balances, from the cluster's MeshSpec (network/swarm.h): the Model of the node's
// own namespace (the routing mesh: the services' ingress ports, balanced across their tasks on the
// ingress network), the Model of each local container's namespace (the VIPs of the swarm networks
// it is on), the ports the mesh holds on the node, and the names the embedded DNS answers with a
// VIP. Pure (unit-tested); the network controller (controller_mesh.cc) applies them.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "network/mesh/mesh.h"
#include "network/swarm.h"

namespace berth::network::mesh {

// A published port of the mesh on the node: (proto, port), "tcp"/"udp".
using NodePort = std::pair<std::string, int>;

// The ports the mesh publishes on this node: every ingress port of every service, when the node
// has an ingress endpoint (mesh.ingress_address); none otherwise.
std::set<NodePort> MeshNodePorts(const MeshSpec& mesh);

// The node's Model: ingress set (SNAT to ingress_address, hairpin_subnets as given), and each
// service with ingress ports, its backends those of its entry on the ingress network (with their
// `local` flags), no VIP. Ports in `refused` (held by something else on the node) are left out,
// and a service left without ports with them. nullopt when nothing is published: no ingress
// address, or no service with a port that is not refused.
std::optional<Model> NodeModel(const MeshSpec& mesh, const std::vector<std::string>& hairpin_subnets,
                               const std::set<NodePort>& refused = {});

// The Model of a container on the swarm networks `network_ids`: every service with a VIP on one of
// them, that VIP with the backends there. A service with VIPs on two of the container's networks
// appears twice, the second entry's id suffixed with "n" and the network id's first 10 characters
// (one backend map per VIP). No ingress; empty services when there is nothing to balance.
Model ContainerModel(const MeshSpec& mesh, const std::set<std::string>& network_ids);

// The names the embedded DNS answers with a VIP, per network id: (vip, names) pairs, in the
// spec's order; entries without a VIP or without names are left out.
std::map<std::string, std::vector<std::pair<std::string, std::vector<std::string>>>> VipNames(
    const MeshSpec& mesh);

}  // namespace berth::network::mesh
