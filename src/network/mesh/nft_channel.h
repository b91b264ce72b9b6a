#pragma once
// A channel to one berth-nft helper process (src/nft_helper: GPL-2.0, links libnftables so that
// berthd does not) working in one network namespace: scripts go in, nft's verdict comes back. It
// speaks the protocol berth_nft.cc documents (frames of a kind byte, a big-endian u32 length and
// the payload; a hello frame when the helper is ready, then one reply per request).
//
// DUPLICATE, to fold later: the transport half of src/network/firewall/nft_helper_firewall.cc,
// copied (that directory is not the mesh's to edit) and cut loose from the firewall's Model, so
// the firewall's HelperFirewall can become a user of this class. Kept the same: the socket pair
// with MSG_NOSIGNAL (a dead helper is an EPIPE here, not a SIGPIPE), the 30 s reply deadline, one
// restart and retry when the helper is found gone.
//
// Threading: calls are serialised on mu_, which is held for one request and its reply (they must
// not interleave with another's); nothing else takes it.

#include <chrono>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/fd.h"
#include "common/status.h"

namespace berth::network::mesh {

class NftChannel {
 public:
  // netns: an open fd of the namespace every helper this channel starts is to join (with
  // --netns-fd), or an invalid fd to inherit the namespace of whichever thread starts it.
  NftChannel(std::string helper_path, UniqueFd netns);
  ~NftChannel();
  NftChannel(const NftChannel&) = delete;
  NftChannel& operator=(const NftChannel&) = delete;

  // Runs the script in one atomic transaction (the helper is started first if none runs). A
  // refused script changed nothing; its error carries nft's text ("script:12:3-9: Error: ...").
  Status Apply(const std::string& script) ABSL_LOCKS_EXCLUDED(mu_);
  // The same as a dry run (`nft -c`): the kernel checks the whole transaction and aborts it.
  Status DryRun(const std::string& script) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the helper (EOF on its stdin; it exits 0) and reaps it; the next call starts another.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // The running helper's pid, -1 when none runs.
  int Pid() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Exchange;
  using Deadline = std::chrono::steady_clock::time_point;
  Status CallLocked(char kind, const std::string& script) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Status StartLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int StopLocked(bool kill_first) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Exchange RoundTripLocked(char kind, const std::string& script) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Exchange WaitLocked(short events, Deadline deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Exchange WriteLocked(const char* p, size_t n, Deadline deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Exchange ReadLocked(char* out, size_t n, Deadline deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Exchange ReadFrameLocked(Deadline deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string path_;
  const UniqueFd netns_;
  absl::Mutex mu_;
  int pid_ ABSL_GUARDED_BY(mu_) = -1;
  UniqueFd sock_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::network::mesh
