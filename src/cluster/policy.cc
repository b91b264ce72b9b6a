#include "cluster/policy.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace berth::cluster {

StatusOr<std::string> NormalizeAvailability(const std::string& availability) {
  if (availability.empty()) return std::string("active");
  if (availability != "active" && availability != "pause" && availability != "drain")
    return absl::InvalidArgumentError(absl::StrCat("invalid Availability: ", availability));
  return availability;
}

Status CheckSupportedSpec(const spec::SwarmSpec& s) {
  if (s.ca_config.external_cas.has_value() && !s.ca_config.external_cas->empty())
    return absl::InvalidArgumentError("Berth does not support external CAs (--external-ca)");
  if (s.encryption_config.auto_lock_managers)
    return absl::InvalidArgumentError("Berth does not support autolock (--autolock)");
  if (s.dispatcher.heartbeat_period < 0)
    return absl::InvalidArgumentError("invalid dispatcher heartbeat period");
  if (s.ca_config.node_cert_expiry != 0 &&
      s.ca_config.node_cert_expiry < int64_t{3600} * 1'000'000'000)
    return absl::InvalidArgumentError(
        "rpc error: code = InvalidArgument desc = minimum certificate expiry time is: 1h0m0s");
  return absl::OkStatus();
}

StatusOr<std::string> SignNodeCertificate(const pki::RootCa& root, std::string_view csr_pem,
                                          const std::string& node_id, const std::string& role,
                                          const std::string& cluster_id, const std::string& ip,
                                          int64_t node_cert_expiry, WallTime now) {
  bool manager = role == "manager";
  std::vector<std::string> sans = {ip};
  if (manager) sans.push_back("127.0.0.1");
  Duration expiry =
      node_cert_expiry > 0 ? Duration(node_cert_expiry) : pki::kDefaultNodeCertExpiry;
  return root.SignCsr(csr_pem, {node_id, manager ? pki::kManagerRole : pki::kWorkerRole, cluster_id},
                      sans, now, expiry);
}

}  // namespace berth::cluster
