#pragma once
// What Render and RenderDelta both read: the model reduced to what the table holds, in the order
// the script uses (addresses stay numbers until they are written: a task's change plans 1000
// backends and writes a dozen). Both build their text from one Plan, so an element written by a
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
  std::vector<uint32_t> backends;    // IPv4 in host order, sorted, unique (formatted only when written)
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
  std::vector<uint32_t> backends;         // with ingress: every backend of the services above
  std::vector<uint32_t> remote_backends;  // with ingress: those on other nodes
};

// Assumes Validate(m) passed.
Plan MakePlan(const Model& m);

// RenderDelta on plans: what Table keeps of the kernel's state is the plan, so each change plans
// only the new model.
std::optional<std::string> RenderPlanDelta(const Plan& from, const Plan& to);

// Render of a plan made by MakePlan.
std::string RenderPlan(const Plan& plan);

// The names of a service's backend map and chains: "be_<id>", "vip_<id>", "ing_<id>_tcp_8080".
std::string BackendMap(const std::string& id);
std::string VipChain(const std::string& id);
std::string PortChain(const std::string& id, const PlannedPort& p);

// A set's elements: "10.0.0.3, 10.0.0.4"; "" for none.
std::string AddressElements(const std::vector<uint32_t>& addresses);

// A backend map's elements: "0 : 10.0.0.3, 1 : 10.0.0.4, 2 : 10.0.0.5"; "" for none.
std::string BackendElements(const std::vector<uint32_t>& backends);

// The rules of a service's VIP chain and of one of its port chains, in order, as `add rule`
// takes them and Render writes them (the first draws among the backends; there is none without
// backends, and the rest refuse).
std::vector<std::string> VipRules(const PlannedService& s);
std::vector<std::string> PortRules(const PlannedService& s, const PlannedPort& p);

}  // namespace berth::network::mesh::internal
