#pragma once
// Dotted-quad IPv4 text to a host-order number, for the firewall's files (render.cc,
// fast_publish.cc).

#include <cstdint>
#include <string>

namespace berth::network::firewall {

// False where s is not an IPv4 address.
bool ParseIpv4(const std::string& s, uint32_t* host_order);

}  // namespace berth::network::firewall
