#pragma once
// What Render and RenderDelta both read: the model reduced to what the table holds, in the order
// and spelling the script uses. Both build their text from one Plan, so an element written by a
// delta is byte for byte the element Render writes. Internal to this directory.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "network/mesh/mesh.h"

namespace berth::network::mesh::internal {

struct PlannedPort {
  std::string proto;
  int published = 0;
  int target = 0;
  bool operator==(const PlannedPort&) const = default;
};

struct PlannedService {
  std::string id;
  std::string vip;                   // canonical, "" for none
  std::vector<PlannedPort> ports;    // ingress ports, by (proto, published); none without ingress
  std::vector<std::string> backends; // canonical, numerically sorted, unique
  // Everything but the backends: what the rules and the vmaps hold for this service.
  bool SameShape(const PlannedService& o) const {
    return id == o.id && vip == o.vip && ports == o.ports;
  }
};

struct Plan {
  std::vector<PlannedService> services;  // the services with a VIP or an ingress port, by id
  bool ingress = false;
  std::string snat_address;                  // canonical
  std::vector<std::string> hairpin_subnets;  // canonical CIDRs, numerically sorted
  std::vector<std::string> backends;         // with ingress: every backend of the services above
  std::vector<std::string> remote_backends;  // with ingress: those on other nodes
};

// Assumes Validate(m) passed.
Plan MakePlan(const Model& m);

// The name of a service's backend map, "be_<id>".
std::string BackendMap(const std::string& id);

// A backend map's elements: 0..65535 split into backends.size() ranges as even as can be
// ("0-21844 : 10.0.0.3, 21845-43689 : 10.0.0.4, 43690-65535 : 10.0.0.5"); "" for none.
std::string BackendElements(const std::vector<std::string>& backends);

}  // namespace berth::network::mesh::internal
