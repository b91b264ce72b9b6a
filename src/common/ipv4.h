#pragma once
// Dotted-quad IPv4 text to and from a host-order number: the nft renderers (firewall, mesh) and
// the eBPF NAT's maps keep addresses as numbers.

#include <cstdint>
#include <string>

namespace berth {

// False where s is not an IPv4 address.
bool ParseIpv4(const std::string& s, uint32_t* host_order);

// "10.0.0.3" for 0x0a000003.
std::string FormatIpv4(uint32_t host_order);

}  // namespace berth
