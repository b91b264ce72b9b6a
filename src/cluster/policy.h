#pragma once
// Rules of the swarm that several entry points share: init, join and node update (availability),
// init and swarm update (what a spec may ask for), and init, join and renewal (how a node's
// certificate is signed).

#include <string>

#include "cluster/pki/pki.h"
#include "common/clock.h"
#include "common/status.h"
#include "spec/swarm.h"

namespace berth::cluster {

// "" is "active"; otherwise one of active, pause, drain ("invalid Availability: X").
StatusOr<std::string> NormalizeAvailability(const std::string& availability);

// Refuses what Berth cannot honour in a swarm spec (external CAs, autolock) and what is invalid
// (a negative heartbeat period, a certificate expiry under swarmkit's minimum of 1 h; 0 means
// the default).
Status CheckSupportedSpec(const spec::SwarmSpec& s);

// A node certificate for the node's role ("manager" or "worker"), valid for node_cert_expiry
// (nanoseconds; 0: the 90-day default), naming its IP and, for a manager, 127.0.0.1 (etcd's
// loopback client port checks it).
StatusOr<std::string> SignNodeCertificate(const pki::RootCa& root, std::string_view csr_pem,
                                          const std::string& node_id, const std::string& role,
                                          const std::string& cluster_id, const std::string& ip,
                                          int64_t node_cert_expiry, WallTime now);

}  // namespace berth::cluster
