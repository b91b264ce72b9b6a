#include "engine/security.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sys/fs.h"

namespace berth::engine {
namespace {

std::string NormalizeCap(std::string c) {
  c = absl::AsciiStrToUpper(c);
  if (!absl::StartsWith(c, "CAP_") && c != "ALL") c = "CAP_" + c;
  return c;
}

bool KnownCap(const std::string& c) {
  for (const std::string& k : AllCapabilities())
    if (k == c) return true;
  return false;
}

// "CapBnd:\t000001fffeffffff" -> the mask.
uint64_t StatusMask(const std::string& status, std::string_view key) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::StartsWith(line, Av(key))) continue;
    uint64_t mask = 0;
    absl::string_view v = absl::StripAsciiWhitespace(line.substr(key.size()));
    if (absl::SimpleHexAtoi(v, &mask)) return mask;
  }
  return 0;
}

// Go's strconv.ParseBool.
std::optional<bool> ParseBool(std::string_view s) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"})
    if (s == t) return true;
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"})
    if (s == f) return false;
  return std::nullopt;
}

}  // namespace

const std::vector<std::string>& AllCapabilities() {
  static const std::vector<std::string> kAll = {"CAP_CHOWN",
                                                "CAP_DAC_OVERRIDE",
                                                "CAP_DAC_READ_SEARCH",
                                                "CAP_FOWNER",
                                                "CAP_FSETID",
                                                "CAP_KILL",
                                                "CAP_SETGID",
                                                "CAP_SETUID",
                                                "CAP_SETPCAP",
                                                "CAP_LINUX_IMMUTABLE",
                                                "CAP_NET_BIND_SERVICE",
                                                "CAP_NET_BROADCAST",
                                                "CAP_NET_ADMIN",
                                                "CAP_NET_RAW",
                                                "CAP_IPC_LOCK",
                                                "CAP_IPC_OWNER",
                                                "CAP_SYS_MODULE",
                                                "CAP_SYS_RAWIO",
                                                "CAP_SYS_CHROOT",
                                                "CAP_SYS_PTRACE",
                                                "CAP_SYS_PACCT",
                                                "CAP_SYS_ADMIN",
                                                "CAP_SYS_BOOT",
                                                "CAP_SYS_NICE",
                                                "CAP_SYS_RESOURCE",
                                                "CAP_SYS_TIME",
                                                "CAP_SYS_TTY_CONFIG",
                                                "CAP_MKNOD",
                                                "CAP_LEASE",
                                                "CAP_AUDIT_WRITE",
                                                "CAP_AUDIT_CONTROL",
                                                "CAP_SETFCAP",
                                                "CAP_MAC_OVERRIDE",
                                                "CAP_MAC_ADMIN",
                                                "CAP_SYSLOG",
                                                "CAP_WAKE_ALARM",
                                                "CAP_BLOCK_SUSPEND",
                                                "CAP_AUDIT_READ",
                                                "CAP_PERFMON",
                                                "CAP_BPF",
                                                "CAP_CHECKPOINT_RESTORE"};
  return kAll;
}

const std::vector<std::string>& HostCapabilities() {
  static const std::vector<std::string> kHost = [] {
    std::vector<std::string> out;
    auto status = sys::ReadFile("/proc/self/status");
    if (!status.ok()) return AllCapabilities();
    uint64_t mask = StatusMask(*status, "CapBnd:") & StatusMask(*status, "CapPrm:");
    const auto& all = AllCapabilities();
    for (size_t bit = 0; bit < all.size(); ++bit)
      if (mask & (uint64_t{1} << bit)) out.push_back(all[bit]);
    return out;
  }();
  return kHost;
}

std::vector<std::string> Capabilities(const spec::HostConfig& hc,
                                      const std::vector<std::string>& available) {
  // Docker's default set (moby oci/caps/defaults.go).
  static const std::vector<std::string> kDefault = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE"};
  const std::vector<std::string>& every = available.empty() ? AllCapabilities() : available;
  if (hc.privileged) return every;
  // moby oci/caps TweakCapabilities: ALL added is everything but the drops; ALL dropped is only
  // the adds; otherwise the defaults less the drops, plus the adds.
  std::set<std::string> add, drop;
  for (auto& c : spec::OrEmpty(hc.cap_add)) add.insert(NormalizeCap(c));
  for (auto& c : spec::OrEmpty(hc.cap_drop)) drop.insert(NormalizeCap(c));
  std::set<std::string> caps;
  if (add.count("ALL")) {
    for (const std::string& c : every)
      if (!drop.count(c)) caps.insert(c);
  } else if (drop.count("ALL")) {
    caps = add;
  } else {
    for (const std::string& c : kDefault)
      if (!drop.count(c)) caps.insert(c);
    caps.insert(add.begin(), add.end());
  }
  return {caps.begin(), caps.end()};
}

Status VerifyCapabilities(const spec::HostConfig& hc, const std::vector<std::string>& available) {
  for (const auto* list : {&hc.cap_add, &hc.cap_drop})
    for (const std::string& c : spec::OrEmpty(*list)) {
      std::string n = NormalizeCap(c);
      if (n != "ALL" && !KnownCap(n))
        return absl::InvalidArgumentError(absl::StrCat("unknown capability: \"", n, "\""));
    }
  if (hc.privileged) return absl::OkStatus();
  for (const std::string& c : spec::OrEmpty(hc.cap_add)) {
    std::string n = NormalizeCap(c);
    if (n == "ALL" || available.empty()) continue;
    if (std::find(available.begin(), available.end(), n) == available.end())
      return absl::InvalidArgumentError(
          absl::StrCat("cannot add capability ", n,
                       ": berthd does not hold it on this machine, so no container "
                       "it starts can"));
  }
  return absl::OkStatus();
}

StatusOr<SecurityOptions> ParseSecurityOpts(const std::vector<std::string>& opts) {
  SecurityOptions out;
  for (const std::string& opt : opts) {
    if (opt == "no-new-privileges") {
      out.no_new_privileges = true;
      continue;
    }
    if (opt == "disable")
      continue;  // label=disable's short form: there is no SELinux label to drop
    size_t sep = opt.find('=');
    if (sep == std::string::npos) sep = opt.find(':');
    if (sep == std::string::npos)
      return absl::InvalidArgumentError(absl::StrCat("invalid --security-opt 1: \"", opt, "\""));
    std::string key = opt.substr(0, sep), value = opt.substr(sep + 1);
    if (key == "no-new-privileges") {
      auto b = ParseBool(value);
      if (!b)
        return absl::InvalidArgumentError(absl::StrCat("invalid --security-opt 2: \"", opt, "\""));
      out.no_new_privileges = *b;
    } else if (key == "seccomp") {
      if (value == "unconfined") {
        out.seccomp = SecurityOptions::Seccomp::kUnconfined;
      } else if (value == "builtin" || value.empty()) {
        out.seccomp = SecurityOptions::Seccomp::kDefault;
      } else {
        ASSIGN_OR_RETURN(out.profile, ParseSeccompProfile(value));
        out.seccomp = SecurityOptions::Seccomp::kProfile;
      }
    } else if (key == "apparmor") {
      // No AppArmor here: "unconfined" asks for what every container gets; a profile cannot be had.
      if (value != "unconfined")
        return absl::InvalidArgumentError(
            absl::StrCat("--security-opt ", opt,
                         ": Berth does not apply AppArmor profiles (only apparmor=unconfined)"));
    } else if (key == "label") {
      if (value != "disable")
        return absl::InvalidArgumentError(absl::StrCat(
            "--security-opt ", opt, ": Berth does not apply SELinux labels (only label=disable)"));
    } else {
      return absl::InvalidArgumentError(absl::StrCat("invalid --security-opt 2: \"", opt, "\""));
    }
  }
  return out;
}

std::optional<SeccompProfile> ContainerSeccomp(const SecurityOptions& opts, bool privileged) {
  if (privileged) return std::nullopt;
  switch (opts.seccomp) {
    case SecurityOptions::Seccomp::kUnconfined:
      return std::nullopt;
    case SecurityOptions::Seccomp::kProfile:
      return opts.profile;
    case SecurityOptions::Seccomp::kDefault:
      break;
  }
  return DefaultSeccompProfile();
}

}  // namespace berth::engine
