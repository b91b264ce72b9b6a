#pragma once
// The berthd of a lab node as a process: started inside the node's network namespace and a UTS
// namespace of its own (its hostname is the node's name), detached from the caller; checked,
// signalled and waited for by pid without ever touching a process that is not that berthd.
//
// Why not `ip netns exec`: it remounts /sys in a new mount namespace, which hides the cgroup mounts
// berthd needs. The daemon keeps the host's mount namespace; only its network and UTS namespaces
// differ.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/status.h"

namespace berth::lab {

struct SpawnSpec {
  std::string binary;             // berthd
  std::vector<std::string> args;  // without argv[0]
  std::string netns_path;         // /run/netns/<ns>
  std::string hostname;           // m1
  std::string log_path;           // stdout and stderr (appended)
};

// Starts the program detached (its own session, reparented away from the caller, stdin
// /dev/null, no inherited descriptor but 0-2) and returns its pid once it has exec'd; an error
// from any step before exec (setns, sethostname, exec itself) is returned instead.
StatusOr<pid_t> SpawnInNamespace(const SpawnSpec& spec);

// True when pid is alive (not a zombie) and its command line is berthd with --data-root
// data_root: a recorded pid that now belongs to someone else is never signalled.
bool IsNodeDaemon(pid_t pid, const std::string& data_root);

// Sends sig to pid only if it is still the node's berthd (IsNodeDaemon), through a pidfd taken
// before the check, so the pid cannot be reused by a stranger between check and signal.
// False if it was not that daemon (or is gone).
bool SignalNodeDaemon(pid_t pid, const std::string& data_root, int sig);
// The same for a process found by the census: signalled only if its command name is still comm.
bool SignalProcess(pid_t pid, const std::string& comm, int sig);

// GET /_ping on a unix socket: OK when the answer is 200.
Status Ping(const std::string& socket_path, absl::Duration timeout);

struct ReadyWait {
  pid_t pid = 0;
  std::string socket_path;  // its directory must exist (it is watched)
};
// Waits until each socket answers /_ping, its process exits, or the deadline passes; one status
// per entry. Woken by inotify (the socket appearing) and pidfds (a daemon dying), not by sleeps.
std::vector<Status> WaitReady(const std::vector<ReadyWait>& waits, absl::Time deadline);

// Waits until pid has exited (a pidfd, not polling). True if it did before the timeout.
bool WaitExit(pid_t pid, absl::Duration timeout);

}  // namespace berth::lab
