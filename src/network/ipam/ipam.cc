#include "network/ipam/ipam.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdio>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "network/ipam/address_bitmap.h"

namespace berth::network::ipam {

namespace {

constexpr char kOverlap[] = "Pool overlaps with other one on this address space";
constexpr char kInUse[] = "Address already in use";

// Parses a decimal number of at most max_digits digits; false on anything else.
bool ParseDecimal(std::string_view s, size_t max_digits, uint32_t* out) {
  if (s.empty() || s.size() > max_digits) return false;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  *out = v;
  return true;
}

bool ParseIpRaw(std::string_view s, uint32_t* out) {
  uint32_t ip = 0;
  for (int i = 0; i < 4; ++i) {
    size_t dot = s.find('.');
    std::string_view part = i < 3 ? s.substr(0, dot) : s;
    if (i < 3 && dot == std::string_view::npos) return false;
    uint32_t octet = 0;
    // Go's net.ParseIP rejects "010" (ambiguous octal), so does Docker, so do we.
    if (!ParseDecimal(part, 3, &octet) || octet > 255 || (part.size() > 1 && part[0] == '0')) return false;
    ip = (ip << 8) | octet;
    if (i < 3) s.remove_prefix(dot + 1);
  }
  *out = ip;
  return true;
}

Status NoMatchingSubnet(std::string_view what, std::string_view value) {
  return absl::InvalidArgumentError(absl::StrCat("no matching subnet for ", Av(what), " ", Av(value)));
}

}  // namespace

StatusOr<uint32_t> ParseIp(std::string_view s) {
  uint32_t ip = 0;
  if (!ParseIpRaw(s, &ip)) return absl::InvalidArgumentError(absl::StrCat("invalid IP address: ", Av(s)));
  return ip;
}

std::string FormatIp(uint32_t ip) {
  return absl::StrCat(ip >> 24, ".", (ip >> 16) & 0xff, ".", (ip >> 8) & 0xff, ".", ip & 0xff);
}

std::string MacFromIp(uint32_t ip) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "02:42:%02x:%02x:%02x:%02x", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
                ip & 0xff);
  return buf;
}

StatusOr<Cidr> Cidr::Parse(std::string_view s) {
  auto bad = [s] { return absl::InvalidArgumentError(absl::StrCat("invalid CIDR address: ", Av(s))); };
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return bad();
  Cidr c;
  uint32_t prefix = 0;
  if (!ParseIpRaw(s.substr(0, slash), &c.addr) || !ParseDecimal(s.substr(slash + 1), 2, &prefix) || prefix > 32) {
    return bad();
  }
  c.prefix = static_cast<int>(prefix);
  return c;
}

std::string Cidr::ToString() const { return absl::StrCat(FormatIp(addr), "/", prefix); }
// A shift by 32 is undefined, hence the special case for /0.
uint32_t Cidr::Mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
uint32_t Cidr::Network() const { return addr & Mask(); }
uint32_t Cidr::Broadcast() const { return Network() | ~Mask(); }
bool Cidr::Contains(uint32_t ip) const { return (ip & Mask()) == Network(); }
bool Cidr::Contains(const Cidr& inner) const { return inner.prefix >= prefix && Contains(inner.addr); }
bool Cidr::Overlaps(const Cidr& other) const { return Contains(other.Network()) || other.Contains(Network()); }

std::vector<Cidr> DefaultPools() {
  std::vector<Cidr> pools;
  for (uint32_t second = 17; second <= 31; ++second) pools.push_back(Cidr{(172u << 24) | (second << 16), 16});
  for (uint32_t third = 0; third < 256; third += 16) pools.push_back(Cidr{(192u << 24) | (168u << 16) | (third << 8), 20});
  return pools;
}

// An address of either family as one 128-bit integer (IPv4 in the low 32 bits), so one pool type
// serves both: a pool is a subnet, an allocation range inside it and a bitmap window over the range.
__extension__ typedef unsigned __int128 U128;

namespace {

struct Net {
  int family = 4;  // 4 or 6
  U128 addr = 0;   // host bits kept as written
  int prefix = 0;

  int Bits() const { return family == 4 ? 32 : 128; }
  U128 HostMask() const { return prefix >= Bits() ? 0 : (~U128{0} >> (128 - Bits() + prefix)); }
  U128 Network() const { return addr & ~HostMask() & (family == 4 ? U128{0xffffffffu} : ~U128{0}); }
  U128 Last() const { return Network() | HostMask(); }
  U128 Size() const { return HostMask() + 1; }  // 0 for a whole IPv6 /0, which no one asks for
  bool Contains(U128 ip) const { return ip >= Network() && ip <= Last(); }
  bool Contains(const Net& inner) const { return inner.family == family && inner.prefix >= prefix && Contains(inner.addr); }
  bool Overlaps(const Net& o) const {
    return o.family == family && (Contains(o.Network()) || o.Contains(Network()));
  }
};

bool ParseIp6Raw(std::string_view s, U128* out) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN || s.find(':') == std::string_view::npos) return false;
  std::string text(s);
  in6_addr a{};
  if (::inet_pton(AF_INET6, text.c_str(), &a) != 1) return false;
  U128 v = 0;
  for (uint8_t b : a.s6_addr) v = (v << 8) | b;
  *out = v;
  return true;
}

// One address of either family: an IPv6 one holds a colon, as Go's net.ParseIP tells them apart.
bool ParseAnyIp(std::string_view s, int* family, U128* out) {
  if (s.find(':') != std::string_view::npos) {
    *family = 6;
    return ParseIp6Raw(s, out);
  }
  uint32_t v4 = 0;
  *family = 4;
  if (!ParseIpRaw(s, &v4)) return false;
  *out = v4;
  return true;
}

std::string FormatAny(int family, U128 ip) {
  if (family == 4) return FormatIp(static_cast<uint32_t>(ip));
  in6_addr a{};
  for (int i = 15; i >= 0; --i) {
    a.s6_addr[i] = static_cast<uint8_t>(ip & 0xff);
    ip >>= 8;
  }
  char buf[INET6_ADDRSTRLEN];
  ::inet_ntop(AF_INET6, &a, buf, sizeof buf);  // RFC 5952, as Go's net.IP.String
  return buf;
}

bool ParseNet(std::string_view s, Net* out) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  uint32_t prefix = 0;
  if (!ParseAnyIp(s.substr(0, slash), &out->family, &out->addr)) return false;
  if (!ParseDecimal(s.substr(slash + 1), 3, &prefix) || prefix > static_cast<uint32_t>(out->Bits())) return false;
  out->prefix = static_cast<int>(prefix);
  return true;
}

std::string NetString(const Net& n) { return absl::StrCat(FormatAny(n.family, n.Network()), "/", n.prefix); }

StatusOr<Net> ParseNetOrError(std::string_view s) {
  Net n;
  if (!ParseNet(s, &n)) return absl::InvalidArgumentError(absl::StrCat("invalid CIDR address: ", Av(s)));
  return n;
}

// "no matching subnet for gateway X" covers a malformed value too: the CLI checks with
// subnet.Contains(net.ParseIP(x)), which is false for nil, and we keep its text.
StatusOr<U128> AnyIpInSubnet(const Net& subnet, std::string_view what, std::string_view value) {
  int family = 0;
  U128 ip = 0;
  if (!ParseAnyIp(value, &family, &ip) || family != subnet.family || !subnet.Contains(ip))
    return NoMatchingSubnet(what, value);
  return ip;
}

}  // namespace

bool IsIpv6(std::string_view address_or_cidr) { return address_or_cidr.find(':') != std::string_view::npos; }

bool SubnetContains(std::string_view cidr, std::string_view ip) {
  Net net;
  int family = 0;
  U128 addr = 0;
  return ParseNet(cidr, &net) && ParseAnyIp(ip, &family, &addr) && family == net.family && net.Contains(addr);
}

struct Allocator::PoolState {
  Pool info;
  Net subnet;  // canonical
  // Absolute bounds of automatic allocation: the ip-range, or the whole subnet. With a range
  // narrower than the subnet, its network/broadcast addresses are ordinary hosts of the subnet
  // and Docker hands them out (the 172.28.5.0 quirk); the subnet's own ones are in reserved.
  U128 range_lo = 0;
  U128 range_hi = 0;
  std::set<U128> reserved;  // absolute: network, broadcast, gateway, aux
  // The bitmap covers a window of at most 2^32 addresses from window_base: an IPv4 subnet whole,
  // the first 2^32 addresses of an IPv6 range (a /64 could never be walked, and lowest-free never
  // gets that far). Taken addresses outside the window (a static --ip6 far away, a reserved one
  // before the range) are kept in `far`.
  U128 window_base = 0;
  AddressBitmap bits;
  std::set<U128> far;

  PoolState(const Net& s, U128 base, uint64_t window) : subnet(s), window_base(base), bits(window) {}
  bool InWindow(U128 ip) const { return ip >= window_base && ip - window_base < bits.size(); }
  bool Test(U128 ip) const {
    return InWindow(ip) ? bits.Test(static_cast<uint32_t>(ip - window_base)) : far.count(ip) > 0;
  }
  void Set(U128 ip) {
    if (InWindow(ip)) bits.Set(static_cast<uint32_t>(ip - window_base));
    else far.insert(ip);
  }
  void Clear(U128 ip) {
    if (InWindow(ip)) bits.Clear(static_cast<uint32_t>(ip - window_base));
    else far.erase(ip);
  }
  void Reserve(U128 ip) {
    reserved.insert(ip);
    Set(ip);
  }
};

Allocator::Allocator() = default;
Allocator::~Allocator() = default;

StatusOr<Pool> Allocator::RequestPool(const PoolRequest& req) {
  absl::MutexLock lock(&mu_);
  return RequestPoolLocked(req, "");
}

StatusOr<Pool> Allocator::RequestPoolLocked(const PoolRequest& req, const std::string& id) {
  const int family = req.ipv6 ? 6 : 4;
  auto overlaps_existing = [this](const Net& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& [unused, p] : pools_) {
      if (p->subnet.Overlaps(c)) return true;
    }
    return false;
  };

  Net subnet;
  subnet.family = family;
  if (req.subnet.empty()) {
    // Same order as the CLI's consolidateIpam: ranges, then gateways, then aux addresses.
    if (!req.ip_range.empty()) return NoMatchingSubnet("range", req.ip_range);
    if (!req.gateway.empty()) return NoMatchingSubnet("gateway", req.gateway);
    if (!req.aux.empty()) return NoMatchingSubnet("aux-address", req.aux.begin()->second);
    if (family == 6) {
      // Docker 20.10 has no predefined IPv6 pools: --ipv6 needs an IPv6 --subnet.
      return absl::ResourceExhaustedError(
          "could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the "
          "network");
    }
    if (req.default_bridge) {
      subnet.addr = (172u << 24) | (17u << 16);
      subnet.prefix = 16;
      if (overlaps_existing(subnet)) return absl::PermissionDeniedError(kOverlap);
    } else {
      bool found = false;
      for (const Cidr& c : DefaultPools()) {
        Net candidate{4, c.Network(), c.prefix};
        if (!overlaps_existing(candidate)) {
          subnet = candidate;
          found = true;
          break;
        }
      }
      if (!found) {
        return absl::ResourceExhaustedError(
            "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the "
            "network");
      }
    }
  } else {
    ASSIGN_OR_RETURN(Net parsed, ParseNetOrError(req.subnet));
    if (parsed.family != family) {
      return absl::InvalidArgumentError(
          absl::StrCat("subnet ", req.subnet, " is not an IPv", family, " subnet"));
    }
    subnet = parsed;
    subnet.addr = subnet.Network();
  }

  Net range = subnet;
  if (!req.ip_range.empty()) {
    Net parsed;
    if (!ParseNet(req.ip_range, &parsed)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid CIDR address: ", Av(req.ip_range)));
    }
    range = parsed;
    range.addr = range.Network();
    if (!subnet.Contains(range)) return NoMatchingSubnet("range", req.ip_range);
  }
  U128 gateway = 0;
  if (!req.gateway.empty()) {
    ASSIGN_OR_RETURN(gateway, AnyIpInSubnet(subnet, "gateway", req.gateway));
  }
  std::vector<std::pair<std::string, U128>> aux;
  for (const auto& [key, value] : req.aux) {
    // An empty value gives "no matching subnet for aux-address " with the trailing space, as the
    // CLI prints for a bare --aux-address IP.
    ASSIGN_OR_RETURN(U128 ip, AnyIpInSubnet(subnet, "aux-address", value));
    aux.emplace_back(key, ip);
  }
  if (!req.subnet.empty() && overlaps_existing(subnet)) return absl::PermissionDeniedError(kOverlap);

  U128 base = family == 4 ? subnet.Network() : range.Network();
  U128 span = family == 4 ? subnet.Size() : range.Size();
  uint64_t window = (span == 0 || span > (U128{1} << 32)) ? (uint64_t{1} << 32) : static_cast<uint64_t>(span);
  auto state = std::make_unique<PoolState>(subnet, base, window);
  // IPv4: /31 and /32 have no network or broadcast address (RFC 3021): every address is a host.
  // IPv6 has no broadcast; its subnet-router anycast address (the subnet's first) is kept back as
  // Docker's IPAM does, so the gateway is ::1.
  bool has_network_address = family == 4 ? subnet.prefix <= 30 : subnet.prefix <= 126;
  if (has_network_address) {
    state->Reserve(subnet.Network());
    if (family == 4) state->Reserve(subnet.Last());
  }
  if (req.gateway.empty()) {
    gateway = has_network_address ? subnet.Network() + 1 : subnet.Network();
  } else if (state->reserved.count(gateway)) {
    return absl::InvalidArgumentError(absl::StrCat("failed to allocate gateway (", req.gateway, "): ", kInUse));
  }
  state->Reserve(gateway);
  // Docker reserves aux addresses one by one after the gateway; a clash is an "in use" error.
  for (const auto& [key, ip] : aux) {
    if (state->reserved.count(ip)) {
      return absl::InvalidArgumentError(absl::StrCat("failed to allocate secondary ip address (", key, ":",
                                                     FormatAny(family, ip), "): ", kInUse));
    }
    state->Reserve(ip);
  }
  state->range_lo = range.Network();
  state->range_hi = range.Last();

  Pool& info = state->info;
  info.id = id.empty() ? absl::StrCat("default/", NetString(subnet)) : id;
  info.subnet = NetString(subnet);
  info.ip_range = req.ip_range.empty() ? "" : NetString(range);
  info.gateway = FormatAny(family, gateway);
  info.ipv6 = family == 6;
  for (const auto& [key, ip] : aux) info.aux[key] = FormatAny(family, ip);
  if (pools_.count(info.id)) return absl::AlreadyExistsError(absl::StrCat("ipam pool ", info.id, " already exists"));
  Pool result = info;
  pools_.emplace(result.id, std::move(state));
  return result;
}

Status Allocator::ReleasePool(const std::string& pool_id) {
  absl::MutexLock lock(&mu_);
  if (pools_.erase(pool_id) == 0) return absl::NotFoundError(absl::StrCat("ipam pool ", pool_id, " not found"));
  return absl::OkStatus();
}

StatusOr<std::string> Allocator::RequestAddress(const std::string& pool_id, const std::string& preferred,
                                                std::string_view network_name, std::string_view network_id) {
  absl::MutexLock lock(&mu_);
  auto it = pools_.find(pool_id);
  if (it == pools_.end()) return absl::NotFoundError(absl::StrCat("ipam pool ", pool_id, " not found"));
  PoolState& p = *it->second;
  const int family = p.subnet.family;

  if (!preferred.empty()) {
    int got_family = 0;
    U128 ip = 0;
    if (!ParseAnyIp(preferred, &got_family, &ip) || got_family != family || !p.subnet.Contains(ip)) {
      // Docker 20.10's endpoint-level text (capitalised as it was then).
      return absl::InvalidArgumentError(
          absl::StrCat("Invalid address ", preferred, ": It does not belong to any of this network's subnets"));
    }
    if (p.Test(ip)) return absl::AlreadyExistsError(kInUse);
    p.Set(ip);
    return FormatAny(family, ip);
  }

  U128 hi = p.range_hi;
  if (hi - p.window_base >= p.bits.size()) hi = p.window_base + p.bits.size() - 1;
  int64_t off = p.bits.FindClear(static_cast<uint64_t>(p.range_lo - p.window_base),
                                 static_cast<uint64_t>(hi - p.window_base));
  if (off < 0) {
    std::string where = network_name.empty()
                            ? p.info.subnet
                            : absl::StrCat(Av(network_name), " (",
                                           network_id.empty() ? p.info.subnet : std::string(network_id), ")");
    return absl::ResourceExhaustedError(
        absl::StrCat("no available IPv", family, " addresses on this network's address pools: ", where));
  }
  p.bits.Set(static_cast<uint32_t>(off));
  return FormatAny(family, p.window_base + static_cast<U128>(off));
}

Status Allocator::ReleaseAddress(const std::string& pool_id, const std::string& ip_text) {
  absl::MutexLock lock(&mu_);
  auto it = pools_.find(pool_id);
  if (it == pools_.end()) return absl::NotFoundError(absl::StrCat("ipam pool ", pool_id, " not found"));
  PoolState& p = *it->second;
  int family = 0;
  U128 ip = 0;
  if (!ParseAnyIp(ip_text, &family, &ip)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid IP address: ", Av(ip_text)));
  }
  if (family != p.subnet.family || !p.subnet.Contains(ip)) {
    return absl::InvalidArgumentError(absl::StrCat("address ", ip_text, " does not belong to pool ", pool_id));
  }
  if (p.reserved.count(ip)) {
    return absl::InvalidArgumentError(
        absl::StrCat("address ", ip_text, " is reserved in pool ", pool_id, " (gateway, aux, network or broadcast)"));
  }
  p.Clear(ip);
  return absl::OkStatus();
}

std::vector<Pool> Allocator::Pools() const {
  absl::MutexLock lock(&mu_);
  std::vector<Pool> out;
  out.reserve(pools_.size());
  for (const auto& [unused, p] : pools_) out.push_back(p->info);
  return out;
}

StatusOr<Pool> Allocator::GetPool(const std::string& pool_id) const {
  absl::MutexLock lock(&mu_);
  auto it = pools_.find(pool_id);
  if (it == pools_.end()) return absl::NotFoundError(absl::StrCat("ipam pool ", pool_id, " not found"));
  return it->second->info;
}

StatusOr<std::vector<std::string>> Allocator::Allocated(const std::string& pool_id) const {
  absl::MutexLock lock(&mu_);
  auto it = pools_.find(pool_id);
  if (it == pools_.end()) return absl::NotFoundError(absl::StrCat("ipam pool ", pool_id, " not found"));
  const PoolState& p = *it->second;
  std::set<U128> taken(p.far.begin(), p.far.end());
  p.bits.ForEachSet([&](uint32_t off) { taken.insert(p.window_base + off); });
  std::vector<std::string> out;
  for (U128 ip : taken)
    if (!p.reserved.count(ip)) out.push_back(FormatAny(p.subnet.family, ip));
  return out;
}

}  // namespace berth::network::ipam
