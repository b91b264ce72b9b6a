#pragma once
// Docker's legacy container links (--link NAME[:ALIAS]) on the default bridge: the pure part
// (moby 20.10 runconfig/opts ParseLink, daemon/links/links.go). ContainerManager keeps the link
// graph (Container::links) and applies it at start (container_links.cc).

#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "spec/container.h"

namespace berth::engine {

// "name" -> {name, name}; "name:alias" -> {name, alias}; a leading '/' of the name is dropped.
StatusOr<std::pair<std::string, std::string>> ParseLink(const std::string& link);

// The environment a link gives its parent, in Docker's order: ALIAS_PORT (the lowest exposed
// port, tcp first), the _START/_END block of each run of contiguous ports, each port's
// ALIAS_PORT_<n>_<PROTO>[_ADDR|_PORT|_PROTO], ALIAS_NAME, then ALIAS_ENV_<key> for the child's
// environment (HOME and PATH left out). `link_name` is "/parent/alias".
std::vector<std::string> LinkEnv(const std::string& link_name, const std::string& child_ip,
                                 const spec::PortSet& exposed_ports,
                                 const std::vector<std::string>& child_env);

// The parent's /etc/hosts line for a link: "IP\talias hostname[ name]" (the name when it differs
// from the alias).
std::string LinkHostsLine(const std::string& ip, const std::string& alias,
                          const std::string& child_hostname, const std::string& child_name);

}  // namespace berth::engine
