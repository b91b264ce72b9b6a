#pragma once
// Seccomp profiles in Docker's format (the file `--security-opt seccomp=PROFILE.json` names, and
// Berth's own default, which allows what Docker's default profile allows) and their resolution
// into the filter runc takes in linux.seccomp: conditions on architecture, capabilities and kernel
// version are decided here, for one container, as moby's profiles/seccomp does.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace berth::engine {

struct SeccompArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ, ...
  bool operator==(const SeccompArg&) const = default;
};

// A rule applies when every condition of `includes` holds and none of `excludes` does.
struct SeccompFilter {
  std::vector<std::string> arches;  // Go's names: "amd64", "arm64", "s390x", ...
  std::vector<std::string> caps;    // includes: all held; excludes: any held
  std::string min_kernel;           // "4.8"
  bool operator==(const SeccompFilter&) const = default;
};

struct SeccompRule {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, ...
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
  SeccompFilter includes, excludes;
  bool operator==(const SeccompRule&) const = default;
};

struct SeccompArchMap {
  std::string arch;  // SCMP_ARCH_X86_64
  std::vector<std::string> sub_arches;
  bool operator==(const SeccompArchMap&) const = default;
};

struct SeccompProfile {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // either these...
  std::vector<SeccompArchMap> arch_map;    // ...or a map from the native arch to its sub-arches
  std::vector<std::string> flags;
  std::string listener_path, listener_metadata;
  std::vector<SeccompRule> syscalls;
  bool operator==(const SeccompProfile&) const = default;
};

// The profile every container gets unless it is privileged or asks otherwise: an allow-list with
// EPERM for everything else, written from Docker's documentation of its default profile (which
// calls are allowed, which only with a capability, the clone flag and personality restrictions).
const SeccompProfile& DefaultSeccompProfile();

// Decodes a profile in Docker's JSON format, with Go's encoding/json rules (keys match without
// regard to case, unknown keys are ignored) and Docker's checks; the message is Docker's
// "Decoding seccomp profile failed: ..." for JSON that is not a profile.
StatusOr<SeccompProfile> ParseSeccompProfile(std::string_view json);

struct KernelVersion {
  int major = 0, minor = 0;
};
// This machine's (uname), and the "4.8" form of a profile's minKernel.
KernelVersion RunningKernel();
StatusOr<KernelVersion> ParseKernelVersion(std::string_view s);

// The build's architecture in Go's words ("amd64") and libseccomp's (SCMP_ARCH_X86_64).
std::string_view NativeArch();
std::string_view NativeSeccompArch();

// What runc gets: the rules that apply to a container whose bounding set is `caps` on this
// architecture and kernel, with no conditions left. nullopt when the profile disables seccomp (no
// default action and no rules, as Docker reads it).
std::optional<SeccompProfile> ResolveSeccomp(const SeccompProfile& profile,
                                             const std::vector<std::string>& caps,
                                             std::string_view arch, KernelVersion kernel);

}  // namespace berth::engine
