#include "network/ipam/ipam.h"

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

// "no matching subnet for gateway X" covers a malformed value too: the CLI checks with
// subnet.Contains(net.ParseIP(x)), which is false for nil, and we keep its text.
StatusOr<uint32_t> IpInSubnet(const Cidr& subnet, std::string_view what, std::string_view value) {
  uint32_t ip = 0;
  if (!ParseIpRaw(value, &ip) || !subnet.Contains(ip)) return NoMatchingSubnet(what, value);
  return ip;
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

struct Allocator::PoolState {
  Pool info;
  Cidr subnet;  // canonical
  // Absolute bounds of automatic allocation: the ip-range, or the whole subnet. With a range
  // narrower than the subnet, its network/broadcast addresses are ordinary hosts of the subnet
  // and Docker hands them out (the 172.28.5.0 quirk); the subnet's own ones are in reserved.
  uint32_t range_lo = 0;
  uint32_t range_hi = 0;
  std::set<uint32_t> reserved;  // absolute: network, broadcast, gateway, aux
  AddressBitmap bits;           // offsets from subnet.Network(); reserved ones are set too

  explicit PoolState(const Cidr& s) : subnet(s), bits(s.Size()) {}
  uint32_t Offset(uint32_t ip) const { return ip - subnet.Network(); }
  void Reserve(uint32_t ip) {
    reserved.insert(ip);
    bits.Set(Offset(ip));
  }
};

Allocator::Allocator() = default;
Allocator::~Allocator() = default;

StatusOr<Pool> Allocator::RequestPool(const PoolRequest& req) {
  std::lock_guard<std::mutex> lock(mu_);
  return RequestPoolLocked(req, "");
}

StatusOr<Pool> Allocator::RequestPoolLocked(const PoolRequest& req, const std::string& id) {
  auto overlaps_existing = [this](const Cidr& c) {
    for (const auto& [unused, p] : pools_) {
      if (p->subnet.Overlaps(c)) return true;
    }
    return false;
  };

  Cidr subnet;
  if (req.subnet.empty()) {
    // Same order as the CLI's consolidateIpam: ranges, then gateways, then aux addresses.
    if (!req.ip_range.empty()) return NoMatchingSubnet("range", req.ip_range);
    if (!req.gateway.empty()) return NoMatchingSubnet("gateway", req.gateway);
    if (!req.aux.empty()) return NoMatchingSubnet("aux-address", req.aux.begin()->second);
    if (req.default_bridge) {
      subnet = Cidr{(172u << 24) | (17u << 16), 16};
      if (overlaps_existing(subnet)) return absl::PermissionDeniedError(kOverlap);
    } else {
      bool found = false;
      for (const Cidr& c : DefaultPools()) {
        if (!overlaps_existing(c)) {
          subnet = c;
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
    ASSIGN_OR_RETURN(Cidr parsed, Cidr::Parse(req.subnet));
    subnet = parsed.Canonical();
  }

  Cidr range = subnet;
  if (!req.ip_range.empty()) {
    ASSIGN_OR_RETURN(Cidr parsed, Cidr::Parse(req.ip_range));
    range = parsed.Canonical();
    if (!subnet.Contains(range)) return NoMatchingSubnet("range", req.ip_range);
  }
  uint32_t gateway = 0;
  if (!req.gateway.empty()) {
    ASSIGN_OR_RETURN(gateway, IpInSubnet(subnet, "gateway", req.gateway));
  }
  std::vector<std::pair<std::string, uint32_t>> aux;
  for (const auto& [key, value] : req.aux) {
    // An empty value gives "no matching subnet for aux-address " with the trailing space, as the
    // CLI prints for a bare --aux-address IP.
    ASSIGN_OR_RETURN(uint32_t ip, IpInSubnet(subnet, "aux-address", value));
    aux.emplace_back(key, ip);
  }
  if (!req.subnet.empty() && overlaps_existing(subnet)) return absl::PermissionDeniedError(kOverlap);

  auto state = std::make_unique<PoolState>(subnet);
  // /31 and /32 have no network or broadcast address (RFC 3021): every address is a host.
  if (subnet.prefix <= 30) {
    state->Reserve(subnet.Network());
    state->Reserve(subnet.Broadcast());
  }
  if (req.gateway.empty()) {
    gateway = subnet.prefix <= 30 ? subnet.Network() + 1 : subnet.Network();
  } else if (state->reserved.count(gateway)) {
    return absl::InvalidArgumentError(absl::StrCat("failed to allocate gateway (", req.gateway, "): ", kInUse));
  }
  state->Reserve(gateway);
  // Docker reserves aux addresses one by one after the gateway; a clash is an "in use" error.
  for (const auto& [key, ip] : aux) {
    if (state->reserved.count(ip)) {
      return absl::InvalidArgumentError(
          absl::StrCat("failed to allocate secondary ip address (", key, ":", FormatIp(ip), "): ", kInUse));
    }
    state->Reserve(ip);
  }
  state->range_lo = range.Network();
  state->range_hi = range.Broadcast();

  Pool& info = state->info;
  info.id = id.empty() ? absl::StrCat("default/", subnet.ToString()) : id;
  info.subnet = subnet.ToString();
  info.ip_range = req.ip_range.empty() ? "" : range.ToString();
  info.gateway = FormatIp(gateway);
  for (const auto& [key, ip] : aux) info.aux[key] = FormatIp(ip);
  if (pools_.count(info.id)) return absl::AlreadyExistsError(absl::StrCat("ipam pool ", info.id, " already exists"));
  Pool result = info;
  pools_.emplace(result.id, std::move(state));
  return result;
}

Status Allocator::ReleasePool(const std::string& pool_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pools_.erase(pool_id) == 0) return absl::NotFoundError(absl::StrCat("ipam pool ", pool_id, " not found"));
  return absl::OkStatus();
}

StatusOr<std::string> Allocator::RequestAddress(const std::string& pool_id, const std::string& preferred,
                                                std::string_view network_name, std::string_view network_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_.find(pool_id);
  if (it == pools_.end()) return absl::NotFoundError(absl::StrCat("ipam pool ", pool_id, " not found"));
  PoolState& p = *it->second;

  if (!preferred.empty()) {
    uint32_t ip = 0;
    if (!ParseIpRaw(preferred, &ip) || !p.subnet.Contains(ip)) {
      // Docker 20.10's endpoint-level text (capitalised as it was then).
      return absl::InvalidArgumentError(
          absl::StrCat("Invalid address ", preferred, ": It does not belong to any of this network's subnets"));
    }
    if (p.bits.Test(p.Offset(ip))) return absl::AlreadyExistsError(kInUse);
    p.bits.Set(p.Offset(ip));
    return FormatIp(ip);
  }

  int64_t off = p.bits.FindClear(p.Offset(p.range_lo), p.Offset(p.range_hi));
  if (off < 0) {
    std::string where = network_name.empty()
                            ? p.info.subnet
                            : absl::StrCat(Av(network_name), " (",
                                           network_id.empty() ? p.info.subnet : std::string(network_id), ")");
    return absl::ResourceExhaustedError(
        absl::StrCat("no available IPv4 addresses on this network's address pools: ", where));
  }
  p.bits.Set(static_cast<uint32_t>(off));
  return FormatIp(p.subnet.Network() + static_cast<uint32_t>(off));
}

Status Allocator::ReleaseAddress(const std::string& pool_id, const std::string& ip_text) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_.find(pool_id);
  if (it == pools_.end()) return absl::NotFoundError(absl::StrCat("ipam pool ", pool_id, " not found"));
  PoolState& p = *it->second;
  ASSIGN_OR_RETURN(uint32_t ip, ParseIp(ip_text));
  if (!p.subnet.Contains(ip)) {
    return absl::InvalidArgumentError(absl::StrCat("address ", ip_text, " does not belong to pool ", pool_id));
  }
  if (p.reserved.count(ip)) {
    return absl::InvalidArgumentError(
        absl::StrCat("address ", ip_text, " is reserved in pool ", pool_id, " (gateway, aux, network or broadcast)"));
  }
  p.bits.Clear(p.Offset(ip));
  return absl::OkStatus();
}

std::vector<Pool> Allocator::Pools() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Pool> out;
  out.reserve(pools_.size());
  for (const auto& [unused, p] : pools_) out.push_back(p->info);
  return out;
}

StatusOr<Pool> Allocator::GetPool(const std::string& pool_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_.find(pool_id);
  if (it == pools_.end()) return absl::NotFoundError(absl::StrCat("ipam pool ", pool_id, " not found"));
  return it->second->info;
}

namespace {

// Ascending runs of handed-out (set, not reserved) absolute addresses.
template <typename PoolStateT, typename F>
void ForEachAllocatedRun(const PoolStateT& p, F&& emit) {
  bool open = false;
  uint32_t first = 0, last = 0;
  p.bits.ForEachSet([&](uint32_t off) {
    uint32_t ip = p.subnet.Network() + off;
    if (p.reserved.count(ip)) return;
    if (open && ip == last + 1) {
      last = ip;
      return;
    }
    if (open) emit(first, last);
    open = true;
    first = last = ip;
  });
  if (open) emit(first, last);
}

}  // namespace

StatusOr<std::vector<std::string>> Allocator::Allocated(const std::string& pool_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pools_.find(pool_id);
  if (it == pools_.end()) return absl::NotFoundError(absl::StrCat("ipam pool ", pool_id, " not found"));
  std::vector<std::string> out;
  ForEachAllocatedRun(*it->second, [&](uint32_t first, uint32_t last) {
    for (uint64_t ip = first; ip <= last; ++ip) out.push_back(FormatIp(static_cast<uint32_t>(ip)));
  });
  return out;
}


}  // namespace berth::network::ipam
