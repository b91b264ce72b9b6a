#include "cluster/orchestrator/constraints.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "cluster/orchestrator/reconcile.h"

namespace berth::cluster::orch {
namespace {

constexpr std::string_view kNodeLabelPrefix = "node.labels.";
constexpr std::string_view kEngineLabelPrefix = "engine.labels.";

bool IsGoSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

// swarmkit: ^(?i)[a-z_][a-z0-9\-_.]+$
bool ValidKey(std::string_view k) {
  if (k.size() < 2) return false;
  char c0 = absl::ascii_tolower(k[0]);
  if (!((c0 >= 'a' && c0 <= 'z') || c0 == '_')) return false;
  for (char c : k.substr(1)) {
    char l = absl::ascii_tolower(c);
    if (!((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '_' || l == '.')) {
      return false;
    }
  }
  return true;
}

// swarmkit: ^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$
bool ValidValue(std::string_view v) {
  if (v.empty()) return false;
  for (char c : v) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || IsGoSpace(c)) continue;
    if (std::strchr(":-_.*()?+[]\\^$|/", c) == nullptr || c == '\0') return false;
  }
  return true;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (IsGoSpace(s.front()) || s.front() == '\v')) s.remove_prefix(1);
  while (!s.empty() && (IsGoSpace(s.back()) || s.back() == '\v')) s.remove_suffix(1);
  return s;
}

bool MatchValue(const Constraint& c, std::string_view what) {
  bool match = absl::EqualsIgnoreCase(Av(c.value), Av(what));
  return c.equal ? match : !match;
}

// node.ip: an address or a CIDR network, compared with the node's status address.
bool MatchIp(const Constraint& c, const std::string& node_addr) {
  auto parse = [](const std::string& s, unsigned char out[16], int* family) {
    if (inet_pton(AF_INET, s.c_str(), out) == 1) {
      *family = AF_INET;
      return true;
    }
    if (inet_pton(AF_INET6, s.c_str(), out) == 1) {
      *family = AF_INET6;
      return true;
    }
    return false;
  };
  unsigned char node[16] = {}, want[16] = {};
  int node_family = 0, want_family = 0;
  bool node_ok = parse(node_addr, node, &node_family);
  bool inside = false;
  if (parse(c.value, want, &want_family)) {
    inside = node_ok && node_family == want_family &&
             std::memcmp(node, want, want_family == AF_INET ? 4 : 16) == 0;
  } else {
    auto slash = c.value.find('/');
    if (slash == std::string::npos) return false;
    int bits = 0;
    try {
      bits = std::stoi(c.value.substr(slash + 1));
    } catch (...) {
      return false;
    }
    if (!parse(c.value.substr(0, slash), want, &want_family)) return false;
    int max_bits = want_family == AF_INET ? 32 : 128;
    if (bits < 0 || bits > max_bits) return false;
    inside = node_ok && node_family == want_family;
    for (int b = 0; inside && b < bits; ++b) {
      int mask = 0x80 >> (b % 8);
      inside = (node[b / 8] & mask) == (want[b / 8] & mask);
    }
  }
  return c.equal ? inside : !inside;
}

std::string NodeRole(const spec::Node& node) {
  if (!node.spec.role.empty()) return node.spec.role;
  return node.manager_status ? "manager" : "worker";
}

std::string NormalizeArch(std::string arch) {
  arch = absl::AsciiStrToLower(arch);
  if (arch == "x86_64") return "amd64";
  if (arch == "aarch64") return "arm64";
  return arch;
}

}  // namespace

StatusOr<std::vector<Constraint>> ParseConstraints(const std::vector<std::string>& exprs) {
  std::vector<Constraint> out;
  out.reserve(exprs.size());
  for (const std::string& e : exprs) {
    bool found = false;
    for (std::string_view op : {std::string_view("=="), std::string_view("!=")}) {
      auto pos = e.find(op);
      if (pos == std::string::npos) continue;
      std::string_view key = TrimSpace(std::string_view(e).substr(0, pos));
      if (!ValidKey(key)) {
        return absl::InvalidArgumentError(absl::StrFormat("key '%s' is invalid", Av(key)));
      }
      std::string_view value = TrimSpace(std::string_view(e).substr(pos + op.size()));
      if (!ValidValue(value)) {
        return absl::InvalidArgumentError(absl::StrFormat("value '%s' is invalid", Av(value)));
      }
      out.push_back(Constraint{std::string(key), op == "==", std::string(value)});
      found = true;
      break;
    }
    if (!found) {
      return absl::InvalidArgumentError("constraint expected one operator from ==, !=");
    }
  }
  return out;
}

bool NodeMatches(const std::vector<Constraint>& constraints, const spec::Node& node) {
  for (const Constraint& c : constraints) {
    std::string_view key = c.key;
    auto starts = [&](std::string_view prefix) {
      return key.size() > prefix.size() &&
             absl::EqualsIgnoreCase(Av(key.substr(0, prefix.size())), Av(prefix));
    };
    if (absl::EqualsIgnoreCase(Av(key), "node.id")) {
      if (!MatchValue(c, node.id)) return false;
    } else if (absl::EqualsIgnoreCase(Av(key), "node.hostname")) {
      if (!MatchValue(c, node.description.hostname)) return false;
    } else if (absl::EqualsIgnoreCase(Av(key), "node.ip")) {
      if (!MatchIp(c, node.status.addr)) return false;
    } else if (absl::EqualsIgnoreCase(Av(key), "node.role")) {
      if (!MatchValue(c, NodeRole(node))) return false;
    } else if (absl::EqualsIgnoreCase(Av(key), "node.platform.os")) {
      if (!MatchValue(c, node.description.platform.os)) return false;
    } else if (absl::EqualsIgnoreCase(Av(key), "node.platform.arch")) {
      if (!MatchValue(c, node.description.platform.architecture)) return false;
    } else if (starts(kNodeLabelPrefix)) {
      // The label name keeps its case: labels are case-sensitive, values are not.
      auto it = node.spec.annotations.labels.find(std::string(key.substr(kNodeLabelPrefix.size())));
      if (!MatchValue(c, it == node.spec.annotations.labels.end() ? "" : it->second)) return false;
    } else if (starts(kEngineLabelPrefix)) {
      std::string value;
      if (node.description.engine.labels) {
        auto it = node.description.engine.labels->find(
            std::string(key.substr(kEngineLabelPrefix.size())));
        if (it != node.description.engine.labels->end()) value = it->second;
      }
      if (!MatchValue(c, value)) return false;
    } else {
      return false;  // an unknown key matches no node
    }
  }
  return true;
}

bool PlatformMatches(const std::vector<spec::Platform>& platforms, const spec::Node& node) {
  if (platforms.empty()) return true;
  std::string node_arch = NormalizeArch(node.description.platform.architecture);
  std::string node_os = absl::AsciiStrToLower(node.description.platform.os);
  for (const spec::Platform& p : platforms) {
    std::string arch = NormalizeArch(p.architecture);
    std::string os = absl::AsciiStrToLower(p.os);
    if ((arch.empty() || arch == node_arch) && (os.empty() || os == node_os)) return true;
  }
  return false;
}

std::string SpreadValue(const std::string& descriptor, const spec::Node& node) {
  std::string_view d = descriptor;
  auto starts = [&](std::string_view prefix) {
    return d.size() > prefix.size() &&
           absl::EqualsIgnoreCase(Av(d.substr(0, prefix.size())), Av(prefix));
  };
  if (starts(kNodeLabelPrefix)) {
    auto it = node.spec.annotations.labels.find(std::string(d.substr(kNodeLabelPrefix.size())));
    return it == node.spec.annotations.labels.end() ? "" : it->second;
  }
  if (starts(kEngineLabelPrefix) && node.description.engine.labels) {
    auto it = node.description.engine.labels->find(std::string(d.substr(kEngineLabelPrefix.size())));
    return it == node.description.engine.labels->end() ? "" : it->second;
  }
  return "";
}

// --- reconcile.h ---------------------------------------------------------------------------------

Status ValidateConstraints(const std::vector<std::string>& constraints) {
  return ParseConstraints(constraints).status();
}

bool NodeMatches(const spec::Node& node, const std::vector<std::string>& constraints) {
  auto parsed = ParseConstraints(constraints);
  return parsed.ok() && NodeMatches(*parsed, node);
}

}  // namespace berth::cluster::orch
