#pragma once
// The cluster port's handlers on a manager (JSON over mutual TLS; wire shapes in docs/swarm.md):
// - POST /join {token, csr, advertise_addr, availability, description}: a node without a
//   certificate joins with a join token; it gets a node id and a certificate for the token's role
//   (a manager also its etcd --initial-cluster).
// - POST /heartbeat {description}: a node with a certificate (its id from the certificate's CN)
//   reports in. The leader records it (Ready) and answers the period, the managers and the node's
//   desired role; a follower answers where the leader is.
// - POST /renew {csr}: a new certificate for the node's current role (renewal before expiry, or
//   after promote/demote); a promoted node also gets its etcd --initial-cluster.
// A node whose certificate is not from this cluster, or was removed, is refused.
//
// The leader's dispatcher also watches the heartbeats: a node silent for 2.5 periods is marked
// Down (so within 3 periods of its last heartbeat).
// Threading: handlers on the server's connection threads, CheckDown on the manager's checker
// thread; mu_ guards the heartbeat table only and is never held across etcd.

#include <map>
#include <string>

#include "api/http.h"
#include "common/clock.h"
#include "common/sync.h"

namespace berth::cluster {

class Manager;

class Dispatcher {
 public:
  Dispatcher(Manager& manager, const Clock& clock) : manager_(manager), clock_(clock) {}

  void HandleJoin(api::Request& req, api::Conn& conn);
  void HandleHeartbeat(api::Request& req, api::Conn& conn);
  void HandleRenew(api::Request& req, api::Conn& conn);

  // This manager became the leader: every node gets a full grace period from now.
  void BecomeLeader();
  void LoseLeadership();
  // Marks nodes Down whose last heartbeat is older than 2.5 periods (leader only).
  void CheckDown(Duration period);

 private:
  Manager& manager_;
  const Clock& clock_;
  StateMutex mu_;
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  MonoTime leading_since_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, MonoTime> last_seen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::cluster
