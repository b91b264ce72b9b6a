#include "common/ipv4.h"

#include <arpa/inet.h>

namespace berth {

bool ParseIpv4(const std::string& s, uint32_t* host_order) {
  in_addr a{};
  if (::inet_pton(AF_INET, s.c_str(), &a) != 1) return false;
  *host_order = ntohl(a.s_addr);
  return true;
}

std::string FormatIpv4(uint32_t host_order) {
  in_addr a{};
  a.s_addr = htonl(host_order);
  char buf[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

}  // namespace berth
