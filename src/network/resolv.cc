#include "network/resolv.h"

#include <arpa/inet.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "sys/fs.h"

namespace berth::network {
namespace {

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool IsLoopback(const std::string& s) {
  return absl::StartsWith(s, "127.") || s == "::1";
}

// Splits "name:ip" or "name=ip" at the first separator (an IPv6 address keeps its colons).
bool SplitExtraHost(const std::string& entry, std::string* name, std::string* ip) {
  size_t sep = entry.find_first_of(":=");
  if (sep == std::string::npos || sep == 0) return false;
  *name = entry.substr(0, sep);
  *ip = entry.substr(sep + 1);
  if (ip->size() > 2 && ip->front() == '[' && ip->back() == ']') *ip = ip->substr(1, ip->size() - 2);
  return !ip->empty();
}

struct Parsed {
  std::vector<std::string> nameservers, search, options, other;
};

Parsed Parse(std::string_view text) {
  Parsed p;
  for (absl::string_view line : absl::StrSplit(Av(text), '\n')) {
    absl::string_view t = absl::StripAsciiWhitespace(line);
    std::vector<std::string> f = absl::StrSplit(t, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.empty() || f[0][0] == '#' || f[0][0] == ';') continue;
    if (f[0] == "nameserver" && f.size() > 1) {
      p.nameservers.push_back(f[1]);
    } else if (f[0] == "search" || f[0] == "domain") {
      p.search.assign(f.begin() + 1, f.end());
    } else if (f[0] == "options") {
      p.options.insert(p.options.end(), f.begin() + 1, f.end());
    } else {
      p.other.emplace_back(t);
    }
  }
  return p;
}

}  // namespace

std::vector<std::string> SearchDomains(const spec::HostConfig& hc, std::string_view host_resolv) {
  std::vector<std::string> search = spec::OrEmpty(hc.dns_search);
  if (search.empty()) search = Parse(host_resolv).search;
  if (search.size() == 1 && search[0] == ".") search.clear();  // --dns-search . : none
  return search;
}

std::vector<std::string> SearchDomains(const spec::HostConfig& hc) {
  auto host = sys::ReadFile("/etc/resolv.conf");
  return SearchDomains(hc, host.ok() ? *host : "");
}

std::string ContainerResolvConf(const ResolvInputs& in, const spec::HostConfig& hc) {
  std::vector<std::string> dns = spec::OrEmpty(hc.dns);
  std::vector<std::string> search = spec::OrEmpty(hc.dns_search);
  std::vector<std::string> options = spec::OrEmpty(hc.dns_options);
  if (!in.embedded && dns.empty() && search.empty() && options.empty() && in.host_network)
    return std::string(in.host);

  Parsed host = Parse(in.host);
  std::vector<std::string> host_ns;
  for (auto& ns : host.nameservers)
    if (in.host_network || !IsLoopback(ns)) host_ns.push_back(ns);
  search = SearchDomains(hc, in.host);
  if (options.empty()) options = host.options;
  const std::vector<std::string>& other = host.other;
  std::vector<std::string> servers = in.embedded ? std::vector<std::string>{"127.0.0.11"}
                                                 : (dns.empty() ? host_ns : dns);
  if (in.embedded) {
    bool ndots = false;
    for (auto& o : options) ndots |= absl::StartsWith(o, "ndots:");
    if (!ndots) options.push_back("ndots:0");
  }
  std::string out;
  for (auto& s : servers) out += "nameserver " + s + "\n";
  if (!search.empty()) {
    out += "search";
    for (auto& s : search) out += " " + s;
    out += "\n";
  }
  if (!options.empty()) {
    out += "options";
    for (auto& o : options) out += " " + o;
    out += "\n";
  }
  for (auto& l : other) out += l + "\n";
  return out;
}

std::vector<std::string> DnsUpstreams(const spec::HostConfig& hc) { return spec::OrEmpty(hc.dns); }

std::string ExtraHostsLines(const spec::HostConfig& hc, const std::string& host_gateway) {
  std::string out;
  for (const std::string& e : spec::OrEmpty(hc.extra_hosts)) {
    std::string name, ip;
    if (!SplitExtraHost(e, &name, &ip)) continue;
    if (ip == "host-gateway") ip = host_gateway;
    if (ip.empty()) continue;
    out += ip + "\t" + name + "\n";
  }
  return out;
}

Status ValidateDnsConfig(const spec::HostConfig& hc) {
  for (const std::string& d : spec::OrEmpty(hc.dns))
    if (!IsIp(d)) return absl::InvalidArgumentError("IP address is not correctly formatted: " + d);
  for (const std::string& e : spec::OrEmpty(hc.extra_hosts)) {
    std::string name, ip;
    if (!SplitExtraHost(e, &name, &ip)) return absl::InvalidArgumentError("bad format for add-host: \"" + e + "\"");
    if (ip != "host-gateway" && !IsIp(ip))
      return absl::InvalidArgumentError("invalid IP address in add-host: \"" + ip + "\"");
  }
  return absl::OkStatus();
}

}  // namespace berth::network
