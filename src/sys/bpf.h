#pragma once
// A bridge network's same-bridge shortcut, an eBPF program of 23 instructions written out in bpf.cc
// and loaded with bpf(2) (the published ports' NAT, larger, is C: sys/publish_nat.h).
//
// Attached at tc ingress of each container's host-side veth, it looks the frame's destination MAC
// up in the network's map (a container's MAC -> the ifindex of that container's host-side veth)
// and, on a hit, hands the frame straight to the other container's interface with
// bpf_redirect_peer: no bridge, no br_netfilter, no conntrack. A miss (broadcast, the gateway's
// MAC, anything routed) goes on to the next filter (berth_nat_out), then to the bridge as before.
// Frames between two containers of one network are all it takes, so it is only used where such
// frames are accepted unconditionally (enable_icc on): docs/networking.md.

#include <cstdint>

#include "common/fd.h"
#include "common/status.h"
#include "sys/netlink.h"

namespace berth::sys {

class PeerRedirect {
 public:
  // Makes the map (room for 1024 entries: a bridge takes at most 1024 ports) and loads the
  // program. Unimplemented with the kernel's reason where the kernel cannot (no bpf(2), no
  // bpf_redirect_peer, a verifier that refuses it).
  static StatusOr<PeerRedirect> Load();

  // The program's descriptor, for a tc filter (Rtnl::AttachIngressBpf).
  int prog_fd() const { return prog_.get(); }
  // Frames to mac go to the peer of host link ifindex.
  Status Set(const Mac& mac, uint32_t ifindex) const;
  // No more shortcut to mac (OK when there was none).
  Status Erase(const Mac& mac) const;
  // The map's entries (tests).
  StatusOr<std::vector<std::pair<Mac, uint32_t>>> Entries() const;

 private:
  PeerRedirect(UniqueFd map, UniqueFd prog) : map_(std::move(map)), prog_(std::move(prog)) {}
  UniqueFd map_;
  UniqueFd prog_;
};

}  // namespace berth::sys
