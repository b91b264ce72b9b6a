#pragma once
// Fakes for the network controller's swarm side (no root, no kernel): a kernel whose sandboxes
// do nothing, a firewall that accepts everything, and bridge and overlay drivers that record what
// they are asked in a Record. Shared by overlay_controller_test.cc and mesh_node_controller_test.cc.

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "network/controller.h"
#include "network/overlay_driver.h"

namespace berth::network::fakes {

class FakeSandbox : public SandboxKernel {
 public:
  const sys::NetNs& ns() const override { std::abort(); }
  sys::Rtnl& rtnl() override { std::abort(); }
};

class FakeKernel : public NetKernel {
 public:
  StatusOr<std::unique_ptr<SandboxKernel>> CreateSandbox(const std::string&) override {
    return std::unique_ptr<SandboxKernel>(std::make_unique<FakeSandbox>());
  }
  StatusOr<std::unique_ptr<SandboxKernel>> OpenSandbox(const std::string& path) override {
    return absl::NotFoundError(path);
  }
  Status RemoveSandbox(const std::string&) override { return absl::OkStatus(); }
  StatusOr<std::vector<sys::LinkInfo>> HostLinks() override { return std::vector<sys::LinkInfo>{}; }
  Status DeleteHostLink(const std::string&) override { return absl::OkStatus(); }
  Status EnableForwarding() override { return absl::OkStatus(); }
};

class FakeFirewall : public firewall::Firewall {
 public:
  Status Apply(const firewall::Model& m) override {
    absl::MutexLock l(&mu);
    last = m;
    return absl::OkStatus();
  }
  Status Remove() override { return absl::OkStatus(); }
  Status Check() override { return absl::OkStatus(); }
  absl::Mutex mu;
  firewall::Model last ABSL_GUARDED_BY(mu);
};

// What the fake drivers saw: joins (network name -> "ip mac default-route"), live networks, peers.
struct Record {
  absl::Mutex mu;
  std::multimap<std::string, std::string> joins ABSL_GUARDED_BY(mu);
  std::set<std::string> live ABSL_GUARDED_BY(mu);  // network names
  std::map<std::string, std::vector<OverlayPeer>> peers ABSL_GUARDED_BY(mu);
  std::string vtep ABSL_GUARDED_BY(mu);
  std::set<uint32_t> orphan_keep ABSL_GUARDED_BY(mu);
  int orphan_calls ABSL_GUARDED_BY(mu) = 0;
};

class FakeNet : public OverlayNetwork {
 public:
  FakeNet(Record& r, NetworkSpec spec) : r_(r), spec_(std::move(spec)) {}
  Status Join(EndpointSpec* ep, SandboxKernel&) override {
    absl::MutexLock l(&r_.mu);
    r_.joins.emplace(spec_.name, ep->ip + " " + ep->mac + (ep->default_route ? " default" : ""));
    return absl::OkStatus();
  }
  Status Leave(const EndpointSpec& ep, SandboxKernel*, bool) override {
    absl::MutexLock l(&r_.mu);
    for (auto it = r_.joins.begin(); it != r_.joins.end(); ++it)
      if (it->first == spec_.name && absl::StartsWith(it->second, ep.ip + " ")) {
        r_.joins.erase(it);
        break;
      }
    return absl::OkStatus();
  }
  Status Delete() override {
    absl::MutexLock l(&r_.mu);
    r_.live.erase(spec_.name);
    return absl::OkStatus();
  }
  Status SetPeers(const std::vector<OverlayPeer>& peers) override {
    absl::MutexLock l(&r_.mu);
    r_.peers[spec_.name] = peers;
    return absl::OkStatus();
  }

 private:
  Record& r_;
  NetworkSpec spec_;
};

class FakeBridge : public Driver {
 public:
  explicit FakeBridge(Record& r) : r_(r) {}
  std::string Name() const override { return "bridge"; }
  Scope scope() const override { return Scope::kLocal; }
  StatusOr<std::unique_ptr<DriverNetwork>> CreateNetwork(NetworkSpec* n) override {
    if (n->ifname.empty()) n->ifname = n->name == "bridge" ? "berth0" : "br-" + n->id.substr(0, 12);
    if (auto it = n->options.find("com.docker.network.bridge.name"); it != n->options.end()) n->ifname = it->second;
    absl::MutexLock l(&r_.mu);
    r_.live.insert(n->name);
    return std::unique_ptr<DriverNetwork>(std::make_unique<FakeNet>(r_, *n));
  }

 private:
  Record& r_;
};

class FakeOverlay : public SwarmDriver {
 public:
  explicit FakeOverlay(Record& r) : r_(r) {}
  std::string Name() const override { return "overlay"; }
  StatusOr<std::unique_ptr<DriverNetwork>> CreateNetwork(NetworkSpec* n) override {
    RETURN_IF_ERROR(OverlayVni(n->options).status());
    absl::MutexLock l(&r_.mu);
    if (r_.vtep.empty()) return absl::FailedPreconditionError("no vtep");
    r_.live.insert(n->name);
    return std::unique_ptr<DriverNetwork>(std::make_unique<FakeNet>(r_, *n));
  }
  Status SetVtep(const std::string& ip) override {
    absl::MutexLock l(&r_.mu);
    r_.vtep = ip;
    return absl::OkStatus();
  }
  void RemoveOrphans(const std::set<uint32_t>& keep) override {
    absl::MutexLock l(&r_.mu);
    r_.orphan_keep = keep;
    ++r_.orphan_calls;
  }

 private:
  Record& r_;
};

}  // namespace berth::network::fakes
