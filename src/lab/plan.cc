#include "lab/plan.h"

#include <cstdint>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/ipv4.h"
#include "sys/netlink.h"

namespace berth::lab {

const Node* Lab::Find(const std::string& node) const {
  for (const Node& n : nodes)
    if (n.name == node) return &n;
  return nullptr;
}

Node* Lab::Find(const std::string& node) {
  for (Node& n : nodes)
    if (n.name == node) return &n;
  return nullptr;
}

Status ValidateName(const std::string& name) {
  auto ok_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  };
  bool valid =
      !name.empty() && name.size() <= 32 && name[0] != '-' && name[0] != '_' && name[0] != '.';
  for (char c : name) valid = valid && ok_char(c);
  if (!valid)
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid lab name \"", name,
        "\": use 1 to 32 letters, digits, '-', '_' or '.', starting with a letter or digit"));
  return absl::OkStatus();
}

std::string LinkTag(const std::string& name) {
  if (name.size() <= 8) return name;
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : name) h = (h ^ c) * 16777619u;
  char hex[9];
  std::snprintf(hex, sizeof hex, "%05x", h & 0xfffffu);
  return name.substr(0, 3) + hex;
}

StatusOr<Lab> PlanLab(const UpOptions& opts) {
  RETURN_IF_ERROR(ValidateName(opts.name));
  if (opts.managers < 0 || opts.workers < 0 || opts.managers + opts.workers == 0)
    return absl::InvalidArgumentError("a lab needs at least one node (--managers, --workers)");
  if (opts.managers > kMaxManagers)
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxManagers, " managers (addresses .11 to .19)"));
  auto cidr = sys::ParseCidr(opts.subnet);
  if (!cidr.ok() || cidr->addr.family != AF_INET)
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid --subnet \"", opts.subnet, "\": want an IPv4 CIDR such as ", kDefaultSubnet));
  if (cidr->len < 8 || cidr->len > 27)
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --subnet \"", opts.subnet, "\": the prefix length must be 8 to 27"));
  uint32_t addr = (uint32_t{cidr->addr.bytes[0]} << 24) | (uint32_t{cidr->addr.bytes[1]} << 16) |
                  (uint32_t{cidr->addr.bytes[2]} << 8) | cidr->addr.bytes[3];
  uint32_t mask = ~uint32_t{0} << (32 - cidr->len);
  uint32_t net = addr & mask;
  uint32_t broadcast = net | ~mask;
  uint32_t last_worker = net + 21 + static_cast<uint32_t>(opts.workers) - 1;
  if (opts.workers > 0 && last_worker >= broadcast)
    return absl::InvalidArgumentError(absl::StrCat("subnet ", opts.subnet, " is too small for ",
                                                   opts.workers, " workers (they start at .21)"));

  Lab lab;
  lab.name = opts.name;
  lab.subnet = absl::StrCat(FormatIpv4(net), "/", cidr->len);
  lab.prefix_len = cidr->len;
  lab.gateway = FormatIpv4(net + 1);
  const std::string tag = LinkTag(opts.name);
  lab.bridge = "lab-" + tag;
  lab.berthd = opts.berthd;
  lab.berthd_args = opts.berthd_args;
  auto add = [&](const std::string& node, const std::string& role, uint32_t ip) {
    Node n;
    n.name = node;
    n.role = role;
    n.ip = FormatIpv4(ip);
    n.netns = opts.name + "-" + node;
    n.host_link = tag + "-" + node;
    n.data_root = lab.DataDir() + "/" + node;
    n.exec_root = lab.RunDir() + "/" + node;
    n.socket = n.exec_root + "/berthd.sock";
    n.pidfile = n.exec_root + "/berthd.pid";
    n.log = lab.DataDir() + "/" + node + ".log";
    lab.nodes.push_back(std::move(n));
  };
  for (int i = 0; i < opts.managers; ++i)
    add(absl::StrCat("m", i + 1), "manager", net + 11 + static_cast<uint32_t>(i));
  for (int i = 0; i < opts.workers; ++i)
    add(absl::StrCat("w", i + 1), "worker", net + 21 + static_cast<uint32_t>(i));
  return lab;
}

std::vector<std::string> DaemonArgs(const Lab& lab, const Node& node) {
  std::vector<std::string> args = {"-H",          node.Host(),    "--data-root", node.data_root,
                                   "--exec-root", node.exec_root, "--pidfile",   node.pidfile};
  args.insert(args.end(), lab.berthd_args.begin(), lab.berthd_args.end());
  return args;
}

}  // namespace berth::lab
