#pragma once
// The plan of a lab (pure, unit-tested): which nodes it has, their addresses on the underlay, the
// names of every kernel object and directory it makes. Everything `berth lab` creates is named
// from the lab's name, so a later invocation (or a census) finds it again:
//   underlay bridge   lab-<tag>                 in the host's namespace, <subnet>.1
//   node namespace    /run/netns/<name>-<node>  one per node (m1.., w1..)
//   veth              <tag>-<node> on the bridge, eth0 inside the node
//   node directories  /var/lib/berth-lab/<name>/<node>  (berthd's --data-root)
//                     /run/berth-lab/<name>/<node>      (--exec-root, berthd.sock, berthd.pid)
//   state             /run/berth-lab/<name>/lab.json
// <tag> is the name itself when it is at most 8 characters, else its first 3 characters and 5
// hex digits of its hash, because link names are limited to 15 bytes and truncation alone would
// give two labs the same links.
// Addresses: managers <net>+11.. (at most 9), workers <net>+21.., the bridge <net>+1.

#include <string>
#include <vector>

#include "common/status.h"

namespace berth::lab {

inline constexpr char kDefaultName[] = "lab";
inline constexpr char kDefaultSubnet[] = "10.77.0.0/24";
inline constexpr int kMaxManagers = 9;
inline constexpr char kRunRoot[] = "/run/berth-lab";
inline constexpr char kDataRoot[] = "/var/lib/berth-lab";
inline constexpr char kNetnsDir[] = "/run/netns";

struct Node {
  std::string name;       // m1, w1
  std::string role;       // manager | worker
  std::string ip;         // 10.77.0.11
  std::string netns;      // lab-m1 (a file of /run/netns)
  std::string host_link;  // the bridge side of the node's veth
  std::string data_root;
  std::string exec_root;
  std::string socket;   // <exec_root>/berthd.sock
  std::string pidfile;  // <exec_root>/berthd.pid
  std::string log;      // <data dir of the lab>/<node>.log
  int pid = 0;          // the berthd last started (0: none); checked against /proc before use

  std::string NetnsPath() const { return std::string(kNetnsDir) + "/" + netns; }
  std::string Host() const { return "unix://" + socket; }
};

struct Lab {
  std::string name;
  std::string subnet;  // 10.77.0.0/24 (the network address)
  int prefix_len = 24;
  std::string gateway;  // the bridge's address, 10.77.0.1
  std::string bridge;
  std::string berthd;                    // the berthd binary
  std::vector<std::string> berthd_args;  // extra flags for every node's berthd
  std::vector<Node> nodes;

  std::string RunDir() const { return std::string(kRunRoot) + "/" + name; }
  std::string DataDir() const { return std::string(kDataRoot) + "/" + name; }
  std::string StatePath() const { return RunDir() + "/lab.json"; }
  const Node* Find(const std::string& node) const;
  Node* Find(const std::string& node);
};

struct UpOptions {
  std::string name = kDefaultName;
  int managers = 1;
  int workers = 2;
  std::string subnet = kDefaultSubnet;
  std::string berthd;  // binary; empty: berthd beside the running berth
  std::vector<std::string> berthd_args;
};

// Letters, digits, '-', '_' and '.', starting with a letter or digit, at most 32 characters.
Status ValidateName(const std::string& name);
// The short form of the name used in link names (see above).
std::string LinkTag(const std::string& name);
// The whole plan, or InvalidArgument (bad name, counts, subnet, or a subnet too small).
StatusOr<Lab> PlanLab(const UpOptions& opts);
// The berthd command line of a node (without argv[0]).
std::vector<std::string> DaemonArgs(const Lab& lab, const Node& node);

}  // namespace berth::lab
