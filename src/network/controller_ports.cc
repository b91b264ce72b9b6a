// The network controller's published ports (controller.h): the sockets that hold host ports while
// their mappings live, on one family or both, and the mappings a container's -p/-P ask for.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <random>

#include "absl/strings/numbers.h"
#include "network/controller.h"
#include "network/controller_state.h"
#include "sys/fs.h"

namespace berth::network {

StatusOr<UniqueFd> ReservePort(const std::string& proto, const std::string& host_ip, int port) {
  const bool v6 = host_ip.find(':') != std::string::npos;
  UniqueFd fd(::socket(v6 ? AF_INET6 : AF_INET, (proto == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus(errno, "socket");
  std::string ip = host_ip.empty() ? "0.0.0.0" : host_ip;
  sockaddr_storage ss = {};
  socklen_t len = 0;
  if (v6) {
    auto* sa6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sa6->sin6_family = AF_INET6;
    sa6->sin6_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET6, ip.c_str(), &sa6->sin6_addr) != 1)
      return absl::InvalidArgumentError("invalid host IP " + ip);
    // [::] must not take the IPv4 port too: that is the IPv4 mapping's own reservation.
    int one = 1;
    if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
      return ErrnoStatus(errno, "setsockopt IPV6_V6ONLY");
    len = sizeof(sockaddr_in6);
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, ip.c_str(), &sa->sin_addr) != 1)
      return absl::InvalidArgumentError("invalid host IP " + ip);
    len = sizeof(sockaddr_in);
  }
  int bound = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len);
  if (bound != 0 && errno == EADDRINUSE && proto != "udp") {
    // A TCP port whose last server has gone may still have connections in TIME_WAIT, which only
    // SO_REUSEADDR binds past (as every server does; Docker's proxy too). It does not bind past a
    // listener or a socket without it. Off again once bound: a later SO_REUSEADDR bind (someone
    // else's server) must still find the port taken.
    int one = 1, zero = 0;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0) {
      bound = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len);
      if (bound == 0 && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &zero, sizeof zero) != 0)
        return ErrnoStatus(errno, "setsockopt SO_REUSEADDR");
    } else {
      errno = EADDRINUSE;
    }
  }
  if (bound != 0) {
    int e = errno;
    if (e == EADDRINUSE)
      return absl::AlreadyExistsError("Bind for " + ip + ":" + std::to_string(port) +
                                      " failed: port is already allocated");
    return ErrnoStatus(e, "listen " + proto + " " + ip + ":" + std::to_string(port));
  }
  return fd;
}

StatusOr<std::vector<Controller::PortMap>> Controller::ReservePorts(const PortTarget& t,
                                                                    const spec::ContainerConfig& config,
                                                                    const spec::HostConfig& hc) {
  std::vector<PortMap> out;
  spec::PortMap bindings = spec::OrEmpty(hc.port_bindings);
  if (hc.publish_all_ports)
    for (const std::string& port : config.exposed_ports)
      if (!bindings.count(port)) bindings[port] = std::vector<spec::PortBinding>{spec::PortBinding{}};
  if (bindings.empty()) return out;
  // Ephemeral ports: the kernel's local port range, as Docker.
  int lo = 32768, hi = 60999;
  if (auto r = sys::ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); r.ok())
    sscanf(r->c_str(), "%d %d", &lo, &hi);
  static thread_local std::mt19937 rng(std::random_device{}());
  for (auto& [port, list_in] : bindings) {
    auto slash = port.find('/');
    std::string proto = slash == std::string::npos ? "tcp" : port.substr(slash + 1);
    int cport = 0;
    if (!absl::SimpleAtoi(port.substr(0, slash), &cport) || cport <= 0 || cport > 65535)
      return absl::InvalidArgumentError("invalid port specification: \"" + port + "\"");
    if (proto != "tcp" && proto != "udp")
      return absl::InvalidArgumentError("invalid proto \"" + proto + "\" (tcp and udp are supported)");
    std::vector<spec::PortBinding> list = list_in.value_or(std::vector<spec::PortBinding>{});
    if (list.empty()) list.push_back(spec::PortBinding{});
    for (auto& b : list) {
      std::string host_ip = b.host_ip;
      std::string hp = b.host_port;
      if (host_ip.empty()) host_ip = t.default_host_ip;
      int first = 0, last = 0;
      if (!hp.empty()) {
        auto dash = hp.find('-');
        if (!absl::SimpleAtoi(hp.substr(0, dash), &first) ||
            (dash != std::string::npos && !absl::SimpleAtoi(hp.substr(dash + 1), &last)))
          return absl::InvalidArgumentError("invalid host port \"" + hp + "\"");
        if (dash == std::string::npos) last = first;
      }
      PortMap pm;
      pm.proto = proto;
      pm.host_ip = host_ip;
      pm.container_port = cport;
      pm.container_ip = t.container_ip;
      pm.bridge = t.bridge;
      const bool host6 = host_ip.find(':') != std::string::npos;
      if (host6 && t.container_ip6.empty())
        return absl::InvalidArgumentError("cannot publish on IPv6 host address " + host_ip + ": the container has no IPv6 address on " + t.bridge);
      // An unspecified host address publishes on both families when the container has IPv6.
      if (host6 || host_ip.empty()) pm.container_ip6 = t.container_ip6;
      // Holds the port on every family it is published on; false (and the first error) if taken.
      auto reserve = [&](int p, Status* err) -> bool {
        UniqueFd fd4, fd6;
        if (!host6) {
          auto r = ReservePort(proto, host_ip, p);
          if (!r.ok()) {
            *err = r.status();
            return false;
          }
          fd4 = std::move(*r);
        }
        if (!pm.container_ip6.empty()) {
          auto r = ReservePort(proto, host6 ? host_ip : "::", p);
          if (!r.ok()) {
            *err = r.status();
            return false;
          }
          fd6 = std::move(*r);
        }
        pm.reservation = std::move(fd4);
        pm.reservation6 = std::move(fd6);
        pm.host_port = p;
        return true;
      };
      pm.network_id = t.network_id;
      if (first > 0) {
        // A fixed port (or a range, where the first free one is taken).
        Status err;
        bool held = false;
        for (int p = first; p <= last && !held; ++p) held = reserve(p, &err);
        if (!held) return err;
      } else {
        Status ignored;
        bool held = false;
        for (int tries = 0; tries < 200 && !held; ++tries)
          held = reserve(lo + static_cast<int>(rng() % static_cast<unsigned>(hi - lo + 1)), &ignored);
        if (!held) return absl::ResourceExhaustedError("no free host port for " + port);
      }
      out.push_back(std::move(pm));
    }
  }
  return out;
}

}  // namespace berth::network
