#pragma once
// NetKernel: the kernel operations the network controller does itself (drivers do the rest):
// sandbox namespaces, and the daemon namespace's links that recovery reconciles. The Linux one is
// the real thing; controller tests give a fake, with fake drivers, and run without root.

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "network/driver.h"
#include "sys/netlink.h"

namespace berth::network {

class NetKernel {
 public:
  virtual ~NetKernel() = default;
  // A new namespace bind-mounted at `path` (lo up), with a netlink socket inside it.
  virtual StatusOr<std::unique_ptr<SandboxKernel>> CreateSandbox(const std::string& path) = 0;
  // The sandbox at `path` as a restart finds it.
  virtual StatusOr<std::unique_ptr<SandboxKernel>> OpenSandbox(const std::string& path) = 0;
  // Unmounts and removes `path` (fine when missing); the namespace goes with its last user.
  virtual Status RemoveSandbox(const std::string& path) = 0;
  // Links of the daemon's own namespace.
  virtual StatusOr<std::vector<sys::LinkInfo>> HostLinks() = 0;
  virtual Status DeleteHostLink(const std::string& name) = 0;
  // net.ipv4.ip_forward=1 in the daemon's namespace. (IPv6 forwarding is the bridge driver's, when
  // an IPv6 network is made.)
  virtual Status EnableForwarding() = 0;
  // Deletes the daemon namespace's conntrack entries of UDP flows to host port `port` (a
  // just-published port: a client that streamed to it while nothing published it has an entry
  // without the DNAT, moby#8795). Best effort: a failure is logged.
  virtual void ForgetUdpPortFlows(int port) {}
};

// The real kernel; `host` is a netlink socket of the daemon's namespace.
std::unique_ptr<NetKernel> NewLinuxNetKernel(sys::Rtnl& host);

}  // namespace berth::network
