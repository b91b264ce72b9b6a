#pragma once
// NameIndex: what the embedded DNS answers, as an immutable value. The network controller builds a
// new one whenever a name, an alias or an endpoint changes and swaps it into a Snapshot; the DNS
// thread resolves against the version it holds and never waits for the controller (once, a lookup
// that took the controller's lock while the controller waited for the DNS thread froze berthd).
//
// Docker's rules: a container resolves the names of the containers that share one of its
// user-defined networks (container name, network-scoped aliases, short and full id), scoped per
// network; a name may be qualified by the network's name ("c1.testNetwork"); a name carrying one of
// the asker's search domains is tried without it too (busybox appends them whatever ndots says).

#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace berth::network {

class NameIndex {
 public:
  // Builder input: one endpoint of a running container on a network with DNS.
  struct Entry {
    std::string container_id;
    std::string network_id;
    std::vector<std::string> names;  // name, aliases, ids: matched case-insensitively
    std::string ip;
    std::string ip6{};  // "" when the network has no IPv6
  };
  struct Asker {
    std::vector<std::string> network_ids;  // its user-defined networks, in endpoint order
    std::vector<std::string> search;       // its resolv.conf search domains
    // Its legacy links on user-defined networks (--link NAME:ALIAS): lowercase alias -> lowercase
    // name of the linked container; an alias stands for that name in this container's lookups.
    std::map<std::string, std::string> links{};
  };
  NameIndex() = default;
  // network_names: network id -> name, for qualified names.
  NameIndex(const std::vector<Entry>& entries, std::map<std::string, Asker> askers,
            const std::map<std::string, std::string>& network_names);

  // The addresses `name` (as asked: any case, maybe with a trailing dot) has for the container
  // `asker_id`, IPv4 and IPv6 (the DNS server picks by the query's type); empty when the name is
  // not one of its peers' (the DNS server forwards it then).
  std::vector<std::string> Resolve(const std::string& asker_id, const std::string& name) const;

 private:
  struct Net {
    std::string name_lower;
    absl::flat_hash_map<std::string, std::vector<std::string>> names;  // lowercase name -> ips
  };
  void Add(const std::string& network_id, const std::string& name, std::vector<std::string>* out) const;

  absl::flat_hash_map<std::string, Net> networks_;
  std::map<std::string, Asker> askers_;
};

}  // namespace berth::network
