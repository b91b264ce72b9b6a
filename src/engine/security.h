#pragma once
// A container's privileges: its capability sets and `--security-opt` (no-new-privileges, seccomp),
// as Docker computes them, bounded by what berthd itself holds: runc cannot hand a container a
// capability its parent lacks, so "every capability" (--privileged, --cap-add ALL) means every
// one berthd has, as Podman does.

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/seccomp.h"
#include "spec/host_config.h"

namespace berth::engine {

// Every capability the kernel defines, in bit order (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE).
const std::vector<std::string>& AllCapabilities();

// The capabilities berthd holds (its bounding set and its permitted set both), read once from
// /proc/self/status.
const std::vector<std::string>& HostCapabilities();

// Docker's default set with HostConfig CapAdd/CapDrop/Privileged applied; `available` bounds
// --privileged and ALL (empty: every capability).
std::vector<std::string> Capabilities(const spec::HostConfig& host_config,
                                      const std::vector<std::string>& available = {});

// CapAdd and CapDrop name known capabilities, and each one added is one berthd can give.
Status VerifyCapabilities(const spec::HostConfig& host_config,
                          const std::vector<std::string>& available);

struct SecurityOptions {
  bool no_new_privileges = false;
  enum class Seccomp { kDefault, kUnconfined, kProfile } seccomp = Seccomp::kDefault;
  SeccompProfile profile;  // kProfile: decoded from "seccomp=<json>"
};

// HostConfig.SecurityOpt as dockerd reads it: "no-new-privileges[=bool]", "seccomp=unconfined",
// "seccomp=builtin", "seccomp=<profile JSON>" (the CLI sends a file's content), "apparmor=" and
// "label=" (Berth applies neither: only the values that ask for nothing are taken), ":" as the
// old separator. Docker's messages: `invalid --security-opt 1: "x"` (no value), `... 2: "k=v"`.
StatusOr<SecurityOptions> ParseSecurityOpts(const std::vector<std::string>& opts);

// The profile to apply (not yet resolved for the container's capabilities), or nullopt for none:
// privileged containers and seccomp=unconfined run without one, as in Docker.
std::optional<SeccompProfile> ContainerSeccomp(const SecurityOptions& opts, bool privileged);

}  // namespace berth::engine
