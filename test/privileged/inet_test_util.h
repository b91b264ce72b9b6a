#pragma once
// Small socket helpers the privileged tests share.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

namespace berth::testing {

// An IPv4 socket address from dotted-quad text and a port.
inline sockaddr_in Ipv4SockAddr(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

}  // namespace berth::testing
