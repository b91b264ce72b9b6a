#include "cluster/node_state.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cluster/pki/pki.h"
#include "nlohmann/json.hpp"
#include "sys/fs.h"

namespace berth::cluster {
namespace {

bool IsIp(const std::string& s) {
  in_addr a4;
  in6_addr a6;
  return ::inet_pton(AF_INET, s.c_str(), &a4) == 1 || ::inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

}  // namespace

StatusOr<NodeState> LoadNodeState(const NodePaths& paths) {
  StatusOr<std::string> text = sys::ReadFile(paths.state());
  if (!text.ok()) return absl::NotFoundError("not in a swarm");
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return absl::DataLossError(absl::StrCat(paths.state(), " is not valid JSON"));
  NodeState s;
  s.node_id = j.value("node_id", "");
  s.cluster_id = j.value("cluster_id", "");
  s.role = j.value("role", "");
  s.advertise_addr = j.value("advertise_addr", "");
  s.listen_addr = j.value("listen_addr", "");
  s.data_path_addr = j.value("data_path_addr", "");
  if (j.contains("managers") && j["managers"].is_array()) {
    for (const auto& m : j["managers"])
      s.managers.push_back({m.value("node_id", ""), m.value("addr", "")});
  }
  if (s.node_id.empty() || (s.role != "manager" && s.role != "worker"))
    return absl::DataLossError(absl::StrCat(paths.state(), " lacks the node id or role"));
  return s;
}

Status SaveNodeState(const NodePaths& paths, const NodeState& s) {
  nlohmann::json managers = nlohmann::json::array();
  for (const ManagerPeer& m : s.managers) managers.push_back({{"node_id", m.node_id}, {"addr", m.addr}});
  nlohmann::json j = {{"node_id", s.node_id},           {"cluster_id", s.cluster_id},
                      {"role", s.role},                 {"advertise_addr", s.advertise_addr},
                      {"listen_addr", s.listen_addr},   {"data_path_addr", s.data_path_addr},
                      {"managers", managers}};
  return pki::WriteSecretFile(paths.state(), j.dump(1) + "\n");
}

Status SaveNodeCerts(const NodePaths& paths, const std::string& root_pem,
                     const std::string& cert_pem, const std::string& key_pem) {
  RETURN_IF_ERROR(pki::WriteSecretFile(paths.root_ca(), root_pem));
  RETURN_IF_ERROR(pki::WriteSecretFile(paths.node_key(), key_pem));
  return pki::WriteSecretFile(paths.node_cert(), cert_pem + root_pem);
}

Status WipeNodeState(const NodePaths& paths) {
  std::error_code ec;
  std::filesystem::remove_all(paths.dir(), ec);
  if (ec) return absl::InternalError(absl::StrCat("remove ", paths.dir(), ": ", ec.message()));
  return absl::OkStatus();
}

StatusOr<std::shared_ptr<const transport::TlsContext>> ServerTls(const NodePaths& paths) {
  transport::TlsConfig cfg;
  cfg.ca_file = paths.root_ca();
  cfg.cert_file = paths.node_cert();
  cfg.key_file = paths.node_key();
  cfg.verify_peer = true;
  cfg.client_cert_optional = true;
  return transport::TlsContext::Create(transport::TlsContext::Role::kServer, cfg);
}

StatusOr<std::shared_ptr<const transport::TlsContext>> ClientTls(const NodePaths& paths) {
  transport::TlsConfig cfg;
  cfg.ca_file = paths.root_ca();
  cfg.cert_file = paths.node_cert();
  cfg.key_file = paths.node_key();
  cfg.verify_peer = true;
  return transport::TlsContext::Create(transport::TlsContext::Role::kClient, cfg);
}

std::string HostOf(const std::string& addr) {
  size_t colon = addr.rfind(':');
  std::string host = colon == std::string::npos ? addr : addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host;
}

StatusOr<std::string> WithPort(const std::string& addr, int default_port) {
  std::string host = addr, port = std::to_string(default_port);
  if (IsIp(addr)) {
    host = addr;
  } else {
    size_t colon = addr.rfind(':');
    if (colon != std::string::npos) {
      host = addr.substr(0, colon);
      port = addr.substr(colon + 1);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    }
    int p = 0;
    if (!absl::SimpleAtoi(port, &p) || p <= 0 || p > 65535)
      return absl::InvalidArgumentError(absl::StrCat("invalid port in address ", addr));
  }
  if (!IsIp(host))
    return absl::InvalidArgumentError(absl::StrCat(
        "advertise address must be a non-zero IP address or network interface (with optional "
        "port number); Berth takes IP addresses only: ",
        addr));
  return host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", port)
                                              : absl::StrCat(host, ":", port);
}

StatusOr<std::string> DefaultAdvertiseIp() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return ErrnoStatus(errno, "getifaddrs");
  std::vector<std::pair<std::string, std::string>> found;  // ip, interface
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    if ((a->ifa_flags & IFF_LOOPBACK) != 0 || (a->ifa_flags & IFF_UP) == 0) continue;
    std::string name = a->ifa_name;
    // Berth's own bridges are not the host's addresses.
    if (name.starts_with("berth") || name.starts_with("br-") || name.starts_with("docker"))
      continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    found.emplace_back(text, name);
  }
  ::freeifaddrs(list);
  if (found.empty())
    return absl::InvalidArgumentError(
        "could not find the system's IP address - specify one with --advertise-addr");
  if (found.size() > 1)
    return absl::InvalidArgumentError(absl::StrCat(
        "could not choose an IP address to advertise since this system has multiple addresses on "
        "different interfaces (",
        found[0].first, " on ", found[0].second, " and ", found[1].first, " on ", found[1].second,
        ")"));
  return found[0].first;
}

}  // namespace berth::cluster
