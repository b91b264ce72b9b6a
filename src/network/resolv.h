#pragma once
// What a container finds in /etc/resolv.conf and the extra lines of /etc/hosts, from the host's
// resolv.conf and the HostConfig's Dns, DnsSearch, DnsOptions and ExtraHosts, as Docker writes them.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "spec/host_config.h"

namespace berth::network {

struct ResolvInputs {
  std::string_view host;  // the host's /etc/resolv.conf
  bool embedded = false;  // user-defined network: nameserver 127.0.0.11, answered by berthd
  bool host_network = false;  // --net=host: loopback nameservers stay usable
};

// Embedded: "nameserver 127.0.0.11", the search and options lines (DnsSearch/DnsOptions or the
// host's), plus "options ndots:0" unless an ndots option is given. Otherwise the nameservers are
// Dns or the host's (without loopback ones, which a container cannot reach, unless host_network),
// with the same search and options rules. --net=host without overrides: the host file unchanged.
std::string ContainerResolvConf(const ResolvInputs& in, const spec::HostConfig& host_config);

// The resolvers the embedded DNS forwards to for this container: HostConfig.Dns (empty = the host's).
std::vector<std::string> DnsUpstreams(const spec::HostConfig& host_config);

// The search domains the container's resolv.conf lists: DnsSearch, or the host's /etc/resolv.conf's.
std::vector<std::string> SearchDomains(const spec::HostConfig& host_config, std::string_view host_resolv);
std::vector<std::string> SearchDomains(const spec::HostConfig& host_config);  // reads /etc/resolv.conf

// HostConfig.ExtraHosts ("name:ip" or "name=ip"; "host-gateway" = host_gateway) as /etc/hosts lines.
std::string ExtraHostsLines(const spec::HostConfig& host_config, const std::string& host_gateway);

// Dns entries must be IP addresses, ExtraHosts "name:ip"; InvalidArgument with Docker's wording.
Status ValidateDnsConfig(const spec::HostConfig& host_config);

}  // namespace berth::network
