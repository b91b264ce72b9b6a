#pragma once
// The etcd member of a manager node: berthd starts Debian's etcd (`/usr/bin/etcd`, 3.4) as a
// child process, supervises it (restarts it if it dies, with back-off), and stops it (SIGTERM,
// then SIGKILL after a grace period). Its data lives under the data root; peers talk TLS on
// <advertise ip>:2380; the client URL is on loopback only, also TLS, with client certificates
// required (the cluster CA, the node's certificate).
//
// Threading: Start/Stop from one owner thread; the supervisor is a thread of the Member's own
// that waits for the child (no polling) and never holds a lock while it waits.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace berth::cluster::etcd {

struct MemberConfig {
  std::string binary = "etcd";
  std::string name;      // the member's name: the node id
  std::string data_dir;  // <data-root>/swarm/etcd
  std::string log_file;  // etcd's stderr and stdout go here (appended)
  std::string peer_ip;   // the advertise address: peers reach https://peer_ip:peer_port
  int peer_port = 2380;
  int client_port = 2379;  // on 127.0.0.1 only
  // PEM files: the cluster root, and this node's certificate and key (SANs: peer_ip, 127.0.0.1).
  std::string ca_file, cert_file, key_file;
  // A new one-member cluster ("new"), or joining one that already has this member added
  // ("existing", with every member's name=peer URL in initial_cluster).
  bool new_cluster = true;
  std::string initial_cluster;  // "node1=https://10.0.0.1:2380,node2=https://10.0.0.2:2380"
  std::string cluster_token;    // --initial-cluster-token: the swarm's cluster id
  std::chrono::milliseconds heartbeat{100};
  std::chrono::milliseconds election{1000};
  // etcd's --strict-reconfig-check: refuses a member add ("etcdserver: unhealthy cluster") until
  // every member has been connected for 5 s, and one that would leave fewer started members
  // than the new quorum. Off by default: managers joining one after another would each wait
  // 5 s; the manager checks instead that every member answers before it adds one.
  bool strict_reconfig_check = false;
};

class Member {
 public:
  // Spawns etcd. Returns once the process runs; Ready() tells when it answers.
  static StatusOr<std::unique_ptr<Member>> Start(MemberConfig cfg);
  ~Member();  // Stop()
  Member(const Member&) = delete;
  Member& operator=(const Member&) = delete;

  // Waits until the client URL answers /health with {"health":"true"} or the timeout passes.
  berth::Status WaitHealthy(std::chrono::milliseconds timeout);
  // Ends etcd and the supervision: SIGTERM, SIGKILL after grace. Idempotent.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  // The running child's pid (0 while it is being restarted or after Stop).
  int pid() const;
  const MemberConfig& config() const { return cfg_; }
  std::string ClientUrl() const;  // "https://127.0.0.1:<client_port>"
  std::string PeerUrl() const;    // "https://<peer_ip>:<peer_port>"

 private:
  explicit Member(MemberConfig cfg);
  class Supervisor;
  MemberConfig cfg_;
  std::unique_ptr<Supervisor> sup_;
};

}  // namespace berth::cluster::etcd
