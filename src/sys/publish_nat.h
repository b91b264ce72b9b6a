#pragma once
// Published ports without netfilter: sys/bpf/publish_nat.bpf.c's two tc programs and their maps
// (what they do is described there). The object is compiled by clang at build time and embedded
// in this library; Load() reads its ELF, creates the maps, points the programs' map references at
// them and loads both with bpf(2). No libbpf.
//
// The caller (network/firewall/fast_publish.cc) attaches berth_nat_in at tc ingress of the
// uplinks it lists with SetUplink and berth_nat_out at tc ingress of the published containers'
// host-side veths, lists the host's addresses with SetLocal, and keeps the ports map equal to the
// TCP ports nftables publishes. Threading: the
// kernel's maps are the only state; calls may come from any thread.

#include <cstdint>
#include <set>
#include <tuple>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/status.h"
#include "sys/netlink.h"

namespace berth::sys {

class PublishNat {
 public:
  // A published port's key: addr 0 = every local address. Host byte order here.
  struct Port {
    uint32_t addr = 0;
    uint16_t port = 0;
    uint8_t proto = 0;  // IPPROTO_TCP
    bool operator<(const Port& o) const {
      return std::tie(addr, port, proto) < std::tie(o.addr, o.port, o.proto);
    }
    bool operator==(const Port& o) const = default;
  };
  // Where a published port's packets go.
  struct Backend {
    uint32_t addr = 0;       // the container's address
    uint16_t port = 0;       // ... and port
    uint32_t ifindex = 0;    // its host-side veth
    Mac mac{};               // its MAC
    Mac gateway_mac{};       // its bridge's MAC
    bool operator==(const Backend& o) const = default;
  };

  // Makes the maps and loads both programs. With adopt_prog_id (a berth_nat_in a previous berthd
  // left attached), its maps are used instead of new ones where all five are there with this
  // build's layouts: the ports and the flows of live connections carry over. Unimplemented with
  // the kernel's reason where it cannot (no bpf(2), a verifier that refuses a program, a helper
  // it lacks).
  static StatusOr<PublishNat> Load(uint32_t adopt_prog_id = 0);
  bool adopted() const { return adopted_; }

  int in_fd() const { return in_.get(); }
  int out_fd() const { return out_.get(); }

  Status SetPort(const Port& p, const Backend& b) const;
  Status ErasePort(const Port& p) const;  // OK when absent
  // berth_nat_in acts only on packets that came in on a listed uplink...
  Status SetUplink(uint32_t ifindex) const;
  Status EraseUplink(uint32_t ifindex) const;
  // ... to one of the listed local addresses (host byte order).
  Status SetLocal(uint32_t addr) const;
  Status EraseLocal(uint32_t addr) const;
  // Deletes the remembered flows to any of these backends (address and port; their containers
  // are gone, or the ports now go elsewhere), in one pass over the map. Returns how many.
  StatusOr<int> ForgetFlowsTo(const std::set<std::pair<uint32_t, uint16_t>>& backends) const;
  // What the maps hold (restart, tests) and the packets each program has handled (summed over
  // CPUs).
  StatusOr<std::vector<std::pair<Port, Backend>>> Ports() const;
  StatusOr<std::vector<uint32_t>> Uplinks() const;
  StatusOr<std::vector<uint32_t>> Locals() const;
  StatusOr<int> FlowCount() const;
  StatusOr<uint64_t> PacketsIn() const { return Packets(0); }
  StatusOr<uint64_t> PacketsOut() const { return Packets(1); }

 private:
  PublishNat() = default;
  StatusOr<uint64_t> Packets(uint32_t which) const;

  UniqueFd ports_, flows_, uplinks_, local_, stats_;
  UniqueFd in_, out_;
  bool adopted_ = false;
};

}  // namespace berth::sys
