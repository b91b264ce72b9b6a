#pragma once
// What a node keeps of its swarm membership on disk, under <data-root>/swarm:
//   state.json                       NodeState below
//   certificates/swarm-root-ca.crt   the cluster root (PEM)
//   certificates/swarm-node.crt      this node's certificate, then the root (the chain it shows)
//   certificates/swarm-node.key      its key (mode 0600)
//   etcd/                            a manager's etcd member data; etcd.log its output
// Files are written atomically (temp + rename), so a crash leaves the old or the new version.

#include <string>
#include <vector>

#include "api/transport/tls.h"
#include "common/status.h"

namespace berth::cluster {

struct ManagerPeer {
  std::string node_id;
  std::string addr;  // "IP:2377"
};

struct NodeState {
  std::string node_id;
  std::string cluster_id;
  std::string role;            // "manager" or "worker": what its certificate says
  std::string advertise_addr;  // "IP:2377"
  std::string listen_addr;     // "0.0.0.0:2377"
  std::string data_path_addr;
  std::vector<ManagerPeer> managers;  // as last heard from the dispatcher
};

class NodePaths {
 public:
  explicit NodePaths(const std::string& data_root) : dir_(data_root + "/swarm") {}
  const std::string& dir() const { return dir_; }
  std::string state() const { return dir_ + "/state.json"; }
  std::string certs() const { return dir_ + "/certificates"; }
  std::string root_ca() const { return certs() + "/swarm-root-ca.crt"; }
  std::string node_cert() const { return certs() + "/swarm-node.crt"; }
  std::string node_key() const { return certs() + "/swarm-node.key"; }
  // A manager's key for secrets and configs at rest (cluster/secret_box.h), mode 0600.
  std::string data_key() const { return certs() + "/swarm-data.key"; }
  std::string etcd_dir() const { return dir_ + "/etcd"; }
  std::string etcd_log() const { return dir_ + "/etcd.log"; }

 private:
  std::string dir_;
};

// NOT_FOUND when the node is in no swarm.
StatusOr<NodeState> LoadNodeState(const NodePaths& paths);
Status SaveNodeState(const NodePaths& paths, const NodeState& state);
// Writes the root, the node's certificate (with the root after it) and key.
Status SaveNodeCerts(const NodePaths& paths, const std::string& root_pem,
                     const std::string& cert_pem, const std::string& key_pem);
// Removes everything under <data-root>/swarm.
Status WipeNodeState(const NodePaths& paths);

// The node's TLS contexts from its files: the cluster port's server (node certificate; client
// certificates verified against the root but optional, for joining nodes), and a client to
// managers and to etcd (verifies the root, shows the node certificate).
StatusOr<std::shared_ptr<const transport::TlsContext>> ServerTls(const NodePaths& paths);
StatusOr<std::shared_ptr<const transport::TlsContext>> ClientTls(const NodePaths& paths);

// "IP:PORT" from an address that may lack the port (Docker's --advertise-addr takes both);
// InvalidArgument for anything that is not an IP address (interface names are not supported).
StatusOr<std::string> WithPort(const std::string& addr, int default_port);
// The IP part of "IP:PORT".
std::string HostOf(const std::string& addr);
// The one IPv4 address of this network namespace's non-loopback interfaces, for an
// --advertise-addr left out; Docker's error when there are none or several.
StatusOr<std::string> DefaultAdvertiseIp();

}  // namespace berth::cluster
