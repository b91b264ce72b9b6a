#pragma once
// The network controller's records (private to src/network/controller*.cc): what it keeps in
// memory and, as JSON documents, in the store.

#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "network/controller.h"
#include "network/driver.h"
#include "sys/netlink.h"
#include "sys/netns.h"

namespace berth::network {

struct Controller::Network {
  enum class Phase { kCreating, kReady, kRemoving };
  NetworkSpec spec;
  std::string created;
  std::string pool_id;   // "" for host/null
  std::string pool6_id;  // the IPv6 pool of an --ipv6 network, else ""
  // The pools as configured (the IPv4 entry, then the IPv6 one; defaults filled in) and the IPAM
  // options, as inspect shows.
  std::vector<spec::IPAMConfig> ipam_config;
  std::optional<spec::StringMap> ipam_options;  // null for the predefined networks, as Docker
  spec::StringMap labels;
  bool attachable = false;
  bool builtin = false;
  // A swarm network (controller_swarm.cc): in memory only, never stored; `wanted` while the
  // agent lists it.
  bool swarm = false;
  bool ingress = false;
  bool wanted = false;
  std::vector<SwarmNetworkSpec::PeerNode> peer_nodes;  // as the agent last listed them
  // Only kReady networks are found by name, listed, joined or removed; the others are in the
  // middle of a create or remove whose kernel work runs without the controller's lock.
  Phase phase = Phase::kReady;
  std::unique_ptr<DriverNetwork> kernel;  // null for host and null networks

  bool UserDefined() const { return !builtin; }
  std::string ToDoc() const;
  static StatusOr<std::unique_ptr<Network>> FromDoc(const std::string& doc);
  // The pool this network's addresses of one family come from, as it was requested (recovery asks
  // again).
  ipam::PoolRequest PoolRequestFromConfig(bool ipv6 = false) const;
};

// A container's membership of one network (kept while the container exists).
struct Controller::Attachment {
  std::string network_id;
  std::vector<std::string> aliases;
  std::string static_ip;
  std::string static_ip6;  // --ip6
  std::string mac;
  std::optional<spec::EndpointIPAMConfig> ipam_config;
  // Legacy links as the request gave them ("name:alias"): shown in inspect; on a user-defined
  // network each alias resolves, for this container only, to the linked container.
  std::vector<std::string> links;
  std::map<std::string, std::string> driver_opts;  // shown as given (see Validate)
  // From an EndpointSettings of a create or connect request: aliases, address, MAC.
  static Attachment FromEndpointConfig(const std::string& network_id,
                                       const spec::EndpointSettings& cfg);
};

struct Controller::ContainerNet {
  std::string id;
  std::string name;
  std::string mode;  // "bridge"-like (networks below), "host", "none", "container:<id>"
  std::vector<Attachment> attachments;
  std::vector<std::string> dns;     // --dns: where the embedded DNS forwards this container's queries
  std::vector<std::string> search;  // the search domains of its resolv.conf
  std::string ToDoc() const;
  static StatusOr<std::unique_ptr<ContainerNet>> FromDoc(const std::string& doc);
};

struct Controller::Endpoint {
  EndpointSpec spec;
  std::string network_id;
  std::string pool_id;   // where its address goes back to
  std::string pool6_id;  // and its IPv6 address
};

struct Controller::PortMap {
  std::string proto;
  std::string host_ip;
  int host_port = 0;
  int container_port = 0;
  std::string container_ip;
  std::string container_ip6;  // also published on the host's IPv6 addresses when set
  std::string bridge;
  std::string network_id;
  // A bound socket holding host_ip:host_port while the mapping lives (see ReservePort); it travels
  // with its mapping, so no recovery or disconnect can pair a port with another's socket.
  UniqueFd reservation;
  UniqueFd reservation6;  // the same on [::] (IPV6_V6ONLY) when published over IPv6
};

struct Controller::SandboxState {
  std::string container_id;
  std::string id;    // SandboxID
  std::string path;  // SandboxKey
  // The namespace and its netlink socket are made before the sandbox is committed and used without
  // mu_ by whoever holds the container's operation lock; readers under mu_ never touch them.
  std::unique_ptr<SandboxKernel> kernel;
  std::vector<Endpoint> endpoints;
  std::vector<PortMap> ports;
  bool dns = false;  // served by the embedded DNS (it has a user-defined network)
  int next_if = 0;

  std::string ToDoc() const;
  static StatusOr<std::unique_ptr<SandboxState>> FromDoc(const std::string& doc);
};

// Where a sandbox's published ports go: its first bridge endpoint, as in Docker.
struct Controller::PortTarget {
  std::string container_ip;
  std::string container_ip6;
  std::string bridge;
  std::string network_id;
  std::string default_host_ip;  // com.docker.network.bridge.host_binding_ipv4 unless 0.0.0.0
  std::string container_name;   // for the error text
  std::string endpoint_id;
};

// A sandbox taken out of the table, with what tearing it down needs from the table.
struct Controller::Removal {
  std::unique_ptr<SandboxState> sandbox;
  std::vector<DriverNetwork*> kernels;  // per endpoint (null: no driver); live until Detach
  std::vector<std::pair<std::string, std::string>> networks;  // per endpoint: name, driver
  uint64_t generation = 0;
  firewall::Model model;
  std::shared_ptr<const NameIndex> names;
};

// Holds host_ip:port for a published port: ports in use on the host are refused, as with Docker's
// proxy, and nothing else can take the port while the mapping lives. The socket is bound, never
// listening: the kernel's DNAT sends the traffic to the container. A TCP port with only
// connections in TIME_WAIT on it (a server that just stopped) is free, as for any server.
// host_ip "" or "0.0.0.0" (every IPv4 address), an IPv4 address, "::" (every IPv6 address, IPv6
// only) or an IPv6 address.
StatusOr<UniqueFd> ReservePort(const std::string& proto, const std::string& host_ip, int port);

}  // namespace berth::network
