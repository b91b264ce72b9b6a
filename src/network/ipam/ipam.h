#pragma once
// The `default` IPAM driver: IPv4 and IPv6 address pools (one subnet each, optionally narrowed by an
// ip-range) and the addresses handed out of them, with the behaviour Docker Engine 20.10 shows
// (see /work/shared/reference, sections 1.5 and 1.6 of the tutorial transcript):
//   - the gateway (default: the subnet's first usable address) and every aux-address are reserved;
//   - addresses are handed out lowest free first, freed ones reused lowest first;
//   - with an ip-range that is not the whole subnet, the range's own network and broadcast
//     addresses are usable (172.28.5.0 is the first address of --ip-range 172.28.5.0/24 in
//     172.28.0.0/16); the subnet's network and broadcast addresses never are;
//   - a preferred (static) address may lie outside the ip-range but must be inside the subnet.
//   - IPv6 pools work the same way, except that they have no broadcast address and no default
//     pools (Docker 20.10: --ipv6 needs an IPv6 --subnet); the subnet's first address is reserved,
//     so the default gateway is ::1 and the first container gets ::2.
// Pure logic, no kernel. Nothing of it is stored: after a restart the network controller asks
// for each network's pool again and re-takes the addresses of the running containers' endpoints.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"

namespace berth::network::ipam {

// ---- IPv4 helpers (also used by the network drivers) ----

// Dotted quad -> host-order integer. Strict: four decimal octets, no leading zeros (as Go's
// net.ParseIP, which Docker uses).
StatusOr<uint32_t> ParseIp(std::string_view s);
std::string FormatIp(uint32_t ip);
// Docker's MAC scheme for an IPv4 endpoint: "02:42:" + the address bytes, 172.17.0.2 -> 02:42:ac:11:00:02.
std::string MacFromIp(uint32_t ip);
// Whether an address or CIDR is IPv6 (it holds a colon), as Go's net.ParseIP tells them apart.
bool IsIpv6(std::string_view address_or_cidr);
// Whether ip lies in cidr, either family; false when either is malformed or the families differ.
bool SubnetContains(std::string_view cidr, std::string_view ip);

struct Cidr {
  uint32_t addr = 0;  // host-order integer, host bits kept as written ("10.0.0.5/24" keeps .5)
  int prefix = 0;     // 0..32

  // "a.b.c.d/n"; on failure InvalidArgument "invalid CIDR address: <input>" (Go's text).
  static StatusOr<Cidr> Parse(std::string_view s);
  std::string ToString() const;  // addr/prefix as stored
  uint32_t Mask() const;
  uint32_t Network() const;
  uint32_t Broadcast() const;
  uint64_t Size() const { return uint64_t{1} << (32 - prefix); }
  Cidr Canonical() const { return Cidr{Network(), prefix}; }  // host bits cleared
  bool Contains(uint32_t ip) const;
  bool Contains(const Cidr& inner) const;  // all of inner lies within this
  bool Overlaps(const Cidr& other) const;
};

// ---- The allocator ----

struct PoolRequest {
  std::string subnet;    // "" = pick from the default pools
  std::string ip_range;  // "" = whole subnet
  std::string gateway;   // "" = the subnet's first usable address
  std::map<std::string, std::string> aux;  // key -> IP, reserved, never handed out
  bool default_bridge = false;             // the default bridge network gets 172.17.0.0/16
  bool ipv6 = false;                       // an IPv6 pool: subnet (required), range, gateway are IPv6
};

struct Pool {
  std::string id;        // "default/<subnet>"; unique because pools never overlap
  std::string subnet;    // canonical ("10.15.20.0/24" even if "10.15.20.7/24" was asked for)
  std::string ip_range;  // canonical, "" when not set
  std::string gateway;   // always set (the default gateway is filled in)
  std::map<std::string, std::string> aux;
  bool ipv6 = false;
};

// Docker's predefined local-scope pools, in the order they are tried: 172.17.0.0/16 ...
// 172.31.0.0/16 (one /16 each), then 192.168.0.0/16 split into /20s. 172.17.0.0/16 is in the
// list as in Docker: when the default bridge holds it (the normal case) it is skipped as
// overlapping, so the first user network gets 172.18.0.0/16.
std::vector<Cidr> DefaultPools();

// Thread-safe: one mutex guards all pools and their bitmaps.
class Allocator {
 public:
  Allocator();
  ~Allocator();
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  // Errors (Docker's texts):
  //   PermissionDenied "Pool overlaps with other one on this address space" (explicit subnet, or
  //     the default bridge's 172.17.0.0/16, overlapping an existing pool);
  //   InvalidArgument "invalid CIDR address: X" (subnet or ip-range malformed),
  //     "no matching subnet for range X" / "... for gateway X" / "... for aux-address X" (outside
  //     the subnet, malformed, or no subnet given at all; checked in that order, as the CLI does),
  //     "failed to allocate gateway (X): Address already in use" (gateway = subnet network/broadcast),
  //     "failed to allocate secondary ip address (KEY:X): Address already in use" (aux on the gateway
  //     or on another aux);
  //   ResourceExhausted "could not find an available, non-overlapping IPv4 address pool among the
  //     defaults to assign to the network".
  StatusOr<Pool> RequestPool(const PoolRequest& req);
  // NotFound for an unknown id. Releases every address of the pool with it.
  Status ReleasePool(const std::string& pool_id);

  // preferred "" = the lowest free address of the ip-range (or subnet). Errors:
  //   NotFound "ipam pool X not found";
  //   InvalidArgument "Invalid address X: It does not belong to any of this network's subnets"
  //     (Docker 20.10's text; also for a malformed preferred address);
  //   AlreadyExists "Address already in use" (allocated, or reserved: gateway, aux, network, broadcast);
  //   ResourceExhausted "no available IPv4 addresses on this network's address pools: NAME (ID)",
  //     where ID is network_id, or the subnet when network_id is empty; without a name just the subnet.
  StatusOr<std::string> RequestAddress(const std::string& pool_id, const std::string& preferred = "",
                                       std::string_view network_name = "", std::string_view network_id = "");
  // Idempotent: releasing a free address is OK. NotFound for an unknown pool; InvalidArgument for
  // an address outside the subnet or a reserved one (gateway, aux, network, broadcast).
  Status ReleaseAddress(const std::string& pool_id, const std::string& ip);

  std::vector<Pool> Pools() const;  // ordered by id
  StatusOr<Pool> GetPool(const std::string& pool_id) const;
  // Addresses handed out by RequestAddress (reserved ones excluded), ascending.
  StatusOr<std::vector<std::string>> Allocated(const std::string& pool_id) const;


 private:
  struct PoolState;

  StatusOr<Pool> RequestPoolLocked(const PoolRequest& req, const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<PoolState>> pools_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::network::ipam
