#pragma once
// The overlay driver (Docker's "overlay", scope swarm): one swarm network on this node is, as in
// Docker,
//   - a network namespace of its own, bind-mounted at <netns dir>/ov-<vni> (so the subnets of two
//     overlays may overlap, and `nsenter --net=<exec-root>/netns/ov-4097` shows it), holding
//   - a bridge `br0` with the network's gateway address, MTU 1450 unless
//     com.docker.network.driver.mtu says otherwise, and
//   - a VXLAN device `vxlan0` (the network's VNI, UDP 4789, local = this node's VTEP address)
//     enslaved to br0. It is made by a netlink socket of the daemon's namespace and born in the
//     overlay namespace, so its UDP socket lives on the underlay while the device does not.
//     Learning is off and nothing is flooded (no all-zeros FDB entry): frames for a MAC go to the
//     node that its static FDB entry names, or nowhere; ARP requests are answered by the device
//     itself from its static neighbour entries (proxy).
// An endpoint is a veth pair: one end (veth<7 hex>) on br0, the other born in the sandbox under
// its final name, address and MAC (02:42 + the IPv4 address, swarm.h's OverlayMac). An overlay
// endpoint never carries the default route (Docker gives it to the docker_gwbridge endpoint).
//
// Nothing lives in the daemon's namespace, so nothing there is for recovery to find; an overlay
// namespace left by an earlier run is adopted when its VNI is asked for again (the running
// containers' endpoints stay connected across a daemon restart), or removed by RemoveOrphans.
//
// Threading: as driver.h. SetPeers calls on one network are serialised by that network's
// operation lock (held while the kernel works, as per-object operation locks are).

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "network/driver.h"
#include "network/swarm.h"

namespace berth::network {

// Docker's option key holding an overlay's VNI (comma-separated; Berth uses the first).
inline constexpr char kVxlanIdOption[] = "com.docker.network.driver.overlay.vxlanid_list";
inline constexpr int kOverlayMtu = 1450;  // 1500 - 50 bytes of VXLAN, UDP, IP and Ethernet headers
inline constexpr int kVxlanPort = 4789;

// An overlay network's kernel objects on this node, as the controller drives them.
class OverlayNetwork : public DriverNetwork {
 public:
  // Makes the VXLAN device's FDB and neighbour entries equal to `peers` (the other nodes'
  // endpoints): entries that are not wanted are removed, missing ones added. Peers on this node's
  // own VTEP are skipped. Idempotent.
  virtual Status SetPeers(const std::vector<OverlayPeer>& peers) = 0;
};

// What the controller needs of a swarm-scoped driver beyond Driver (controller tests fake it).
// CreateNetwork returns an OverlayNetwork; its NetworkSpec carries the VNI in kVxlanIdOption.
class SwarmDriver : public Driver {
 public:
  Scope scope() const override { return Scope::kSwarm; }
  // The underlay address the VXLAN devices made from now on send from (the node's advertise
  // address). Networks already made keep theirs.
  virtual Status SetVtep(const std::string& local_ip) = 0;
  // Removes the overlay namespaces left by an earlier run whose VNI is not in `keep`.
  virtual void RemoveOrphans(const std::set<uint32_t>& keep) = 0;
};

// ---- Pure planning (unit-tested) ----

// The VNI of a swarm network's options; InvalidArgument when missing or not in 1..2^24-1.
StatusOr<uint32_t> OverlayVni(const std::map<std::string, std::string>& options);

// What SetPeers changes: FDB entries (mac -> vtep) and neighbour entries (ip -> mac) to delete,
// then to add. `fdb` and `neighs` are what the kernel holds on the VXLAN device now.
// The bridge's static entries for the VXLAN port (bridge_del, bridge_add: MACs) follow the
// device's own: the bridge sends a remote peer's frames to the VXLAN port only, instead of
// flooding them to every local port (it learns nothing on that port).
struct PeerPlan {
  std::vector<std::pair<std::string, std::string>> fdb_del, fdb_add;      // mac, vtep
  std::vector<std::pair<std::string, std::string>> neigh_del, neigh_add;  // ip, mac
  std::vector<std::string> bridge_del, bridge_add;                        // mac
  bool empty() const {
    return fdb_del.empty() && fdb_add.empty() && neigh_del.empty() && neigh_add.empty() && bridge_del.empty() &&
           bridge_add.empty();
  }
};
PeerPlan PlanPeers(const std::vector<OverlayPeer>& wanted, const std::string& local_vtep,
                   const std::vector<sys::NeighInfo>& fdb, const std::vector<sys::NeighInfo>& neighs);

// ---- The driver ----

class OverlayDriver : public SwarmDriver {
 public:
  // host: a netlink socket of the daemon's namespace (the underlay); netns_dir: where overlay
  // namespaces are bind-mounted (the controller's <exec-root>/netns; it leaves ov-* alone).
  OverlayDriver(sys::Rtnl& host, std::string netns_dir);
  std::string Name() const override { return "overlay"; }
  // Refuses --opt encrypted (ValidateSwarmNetworkOptions); FailedPrecondition before SetVtep.
  StatusOr<std::unique_ptr<DriverNetwork>> CreateNetwork(NetworkSpec* n) override;
  Status SetVtep(const std::string& local_ip) override ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveOrphans(const std::set<uint32_t>& keep) override;

  // "<netns dir>/ov-<vni>".
  std::string NamespacePath(uint32_t vni) const;

 private:
  sys::Rtnl& host_;
  const std::string netns_dir_;
  absl::Mutex mu_;
  std::string vtep_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::network
