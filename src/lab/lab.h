#pragma once
// `berth lab`: a learner's multi-host lab on one machine (docs/lab.md). Each node is a network
// namespace on an underlay bridge with a berthd of its own (own hostname, data and exec roots,
// socket); see plan.h for the names and addresses, state.h for how invocations find a lab.
//
// Every operation that changes a lab holds the lab's lock for its whole run, so two invocations
// never interleave; nothing here keeps a lock of memory across the kernel or a subprocess (the
// lab has no threads of its own except the per-node workers of Down, which share nothing).

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/status.h"
#include "lab/plan.h"

namespace berth::lab {

// berthd beside the running program (/proc/self/exe).
std::string DefaultBerthd();

struct NodeStatus {
  bool running = false;       // the recorded pid is that node's berthd
  bool cut = false;           // its underlay link is down
  int pid = 0;                // when running
  std::string State() const;  // running | stopped | cut | stopped,cut
};
// One per node of lab.nodes, in order. Reads only; no lock.
std::vector<NodeStatus> Inspect(const Lab& lab);

// Builds the lab and starts every node's daemon in parallel; returns once each answers /_ping.
// On failure nothing is left: whatever was made is taken apart again.
StatusOr<Lab> Up(const UpOptions& opts);

// Starts a stopped node's berthd and waits until it answers (up to `timeout`).
Status StartNode(const std::string& lab_name, const std::string& node, absl::Duration timeout);
// SIGTERM, then waits up to `timeout` for it to exit; SIGKILL after that (*killed says so).
Status StopNode(const std::string& lab_name, const std::string& node, absl::Duration timeout,
                bool* killed);
// SIGKILL, and waits for the process to be gone.
Status KillNode(const std::string& lab_name, const std::string& node);
// Takes the node's underlay link down (a partition: its peers and the host no longer reach it,
// its daemon keeps running) or up again.
Status SetCut(const std::string& lab_name, const std::string& node, bool cut);

struct DownReport {
  std::vector<std::string> notes;  // what had to be forced (a SIGKILL, a stray process)
  std::vector<std::string> leaks;  // the census: empty when nothing of the lab is left
};
// Removes every container through its node's daemon, stops every daemon, then removes the
// namespaces, links, mounts and directories, and takes the census.
StatusOr<DownReport> Down(const std::string& lab_name);

// Moves the calling process into the node's network namespace (and its daemon's UTS namespace
// when it runs, so `hostname` says the node's name). For `lab exec`, just before exec: the calling
// thread must be the only one.
Status EnterNode(const Lab& lab, const Node& node);

}  // namespace berth::lab
