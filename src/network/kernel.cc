#include "network/kernel.h"

#include <netinet/in.h>

#include "spdlog/spdlog.h"
#include "sys/netns.h"

namespace berth::network {
namespace {

class LinuxSandbox : public SandboxKernel {
 public:
  LinuxSandbox(sys::NetNs ns, std::unique_ptr<sys::Rtnl> rtnl) : ns_(std::move(ns)), rtnl_(std::move(rtnl)) {}
  const sys::NetNs& ns() const override { return ns_; }
  sys::Rtnl& rtnl() override { return *rtnl_; }

 private:
  sys::NetNs ns_;
  std::unique_ptr<sys::Rtnl> rtnl_;
};

class LinuxNetKernel : public NetKernel {
 public:
  explicit LinuxNetKernel(sys::Rtnl& host) : host_(host) {
    auto ct = host_.OpenSibling(NETLINK_NETFILTER);
    if (ct.ok()) conntrack_ = std::move(*ct);
  }

  StatusOr<std::unique_ptr<SandboxKernel>> CreateSandbox(const std::string& path) override {
    // IPv6 is off on every interface born in the sandbox unless its network has IPv6 (Docker 26+:
    // an interface of an IPv4-only network would otherwise join IPv6 multicast groups and take
    // router advertisements). Set as the namespace's default at creation, so IPv4-only endpoints
    // cost nothing more; a driver enables it on the interfaces of IPv6 networks. lo keeps ::1.
    auto init = [] {
      Status st = sys::WriteSysctl(nullptr, "net.ipv6.conf.default.disable_ipv6", "1");
      return absl::IsNotFound(st) ? absl::OkStatus() : st;  // a kernel without IPv6
    };
    ASSIGN_OR_RETURN(sys::NetNs ns, sys::NetNs::Create(path, init));
    auto rtnl = sys::Rtnl::Open(&ns);
    if (!rtnl.ok()) {
      (void)sys::NetNs::Remove(path);
      return rtnl.status();
    }
    return std::unique_ptr<SandboxKernel>(std::make_unique<LinuxSandbox>(std::move(ns), std::move(*rtnl)));
  }

  StatusOr<std::unique_ptr<SandboxKernel>> OpenSandbox(const std::string& path) override {
    ASSIGN_OR_RETURN(sys::NetNs ns, sys::NetNs::Open(path));
    ASSIGN_OR_RETURN(auto rtnl, sys::Rtnl::Open(&ns));
    return std::unique_ptr<SandboxKernel>(std::make_unique<LinuxSandbox>(std::move(ns), std::move(rtnl)));
  }

  Status RemoveSandbox(const std::string& path) override { return sys::NetNs::Remove(path); }
  StatusOr<std::vector<sys::LinkInfo>> HostLinks() override { return host_.ListLinks(); }
  Status DeleteHostLink(const std::string& name) override { return host_.DeleteLink(name); }
  Status EnableForwarding() override { return sys::WriteSysctl(nullptr, "net.ipv4.ip_forward", "1"); }
  void ForgetUdpPortFlows(int port) override {
    if (conntrack_ == nullptr || port <= 0 || port > 65535) return;
    auto n = conntrack_->DeleteConntrackToPort(IPPROTO_UDP, static_cast<uint16_t>(port));
    if (!n.ok()) spdlog::warn("conntrack entries to UDP port {}: {}", port, n.status().ToString());
  }

 private:
  sys::Rtnl& host_;
  std::unique_ptr<sys::Rtnl> conntrack_;  // ctnetlink in host_'s namespace; null: none
};

}  // namespace

std::unique_ptr<NetKernel> NewLinuxNetKernel(sys::Rtnl& host) { return std::make_unique<LinuxNetKernel>(host); }

}  // namespace berth::network
