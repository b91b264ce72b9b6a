#include "network/name_index.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace berth::network {

NameIndex::NameIndex(const std::vector<Entry>& entries, std::map<std::string, Asker> askers,
                     const std::map<std::string, std::string>& network_names)
    : askers_(std::move(askers)) {
  for (auto& [id, name] : network_names) networks_[id].name_lower = absl::AsciiStrToLower(name);
  for (const Entry& e : entries) {
    Net& net = networks_[e.network_id];
    for (const std::string& n : e.names) {
      if (n.empty()) continue;
      auto& ips = net.names[absl::AsciiStrToLower(n)];
      for (const std::string* ip : {&e.ip, &e.ip6})
        if (!ip->empty() && std::find(ips.begin(), ips.end(), *ip) == ips.end()) ips.push_back(*ip);
    }
  }
  for (auto& [id, a] : askers_)
    for (auto& d : a.search) d = absl::AsciiStrToLower(d);
}

void NameIndex::Add(const std::string& network_id, const std::string& name,
                    std::vector<std::string>* out) const {
  auto nit = networks_.find(network_id);
  if (nit == networks_.end()) return;
  auto it = nit->second.names.find(name);
  if (it == nit->second.names.end()) return;
  for (const std::string& ip : it->second)
    if (std::find(out->begin(), out->end(), ip) == out->end()) out->push_back(ip);
}

std::vector<std::string> NameIndex::Resolve(const std::string& asker_id, const std::string& q) const {
  std::vector<std::string> out;
  auto ait = askers_.find(asker_id);
  if (ait == askers_.end()) return out;
  const Asker& asker = ait->second;
  std::string name = absl::AsciiStrToLower(q);
  if (!name.empty() && name.back() == '.') name.pop_back();
  std::vector<std::string> names = {name};
  for (const std::string& d : asker.search) {
    std::string suffix = "." + d;
    if (name.size() > suffix.size() && absl::EndsWith(name, suffix))
      names.push_back(name.substr(0, name.size() - suffix.size()));
  }
  for (std::string& n : names)
    if (auto lit = asker.links.find(n); lit != asker.links.end()) n = lit->second;
  for (const std::string& n : names) {
    for (const std::string& net : asker.network_ids) {
      Add(net, n, &out);
      auto nit = networks_.find(net);
      if (nit == networks_.end()) continue;
      std::string suffix = "." + nit->second.name_lower;
      if (n.size() > suffix.size() && absl::EndsWith(n, suffix))
        Add(net, n.substr(0, n.size() - suffix.size()), &out);
    }
    if (!out.empty()) break;
  }
  return out;
}

}  // namespace berth::network
