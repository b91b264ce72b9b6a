// Docker's seccomp profile format (a file format, hence JSON here) and the resolution of a
// profile for one container (moby profiles/seccomp setupSeccomp).

#include <sys/utsname.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/seccomp.h"
#include "nlohmann/json.hpp"

namespace berth::engine {

using nlohmann::json;

namespace {

const std::set<std::string>& Actions() {
  static const std::set<std::string> k = {
      "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
      "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
      "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY"};
  return k;
}
const std::set<std::string>& Operators() {
  static const std::set<std::string> k = {"SCMP_CMP_NE",       "SCMP_CMP_LT", "SCMP_CMP_LE",
                                          "SCMP_CMP_EQ",       "SCMP_CMP_GE", "SCMP_CMP_GT",
                                          "SCMP_CMP_MASKED_EQ"};
  return k;
}

// Go's encoding/json: a key matches a field whatever its case; a null leaves the field alone.
class Decoder {
 public:
  explicit Decoder(std::string* error) : error_(error) {}

  const json* Field(const json& obj, std::string_view name) {
    if (!obj.is_object()) return nullptr;
    const json* found = nullptr;
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if (it.key() == name) return it->is_null() ? nullptr : &*it;
      if (!found && absl::EqualsIgnoreCase(it.key(), Av(name))) found = &*it;
    }
    return found && !found->is_null() ? found : nullptr;
  }

  void Fail(std::string_view where, const json& v, std::string_view want) {
    if (!error_->empty()) return;
    *error_ = absl::StrCat("json: cannot unmarshal ", TypeName(v), " into Go struct field ",
                           Av(where), " of type ", Av(want));
  }

  std::string String(const json& obj, std::string_view name, std::string_view where) {
    const json* v = Field(obj, name);
    if (!v) return "";
    if (!v->is_string()) {
      Fail(where, *v, "string");
      return "";
    }
    return v->get<std::string>();
  }

  std::vector<std::string> Strings(const json& obj, std::string_view name, std::string_view where) {
    std::vector<std::string> out;
    const json* v = Field(obj, name);
    if (!v) return out;
    if (!v->is_array()) {
      Fail(where, *v, "[]string");
      return out;
    }
    for (const json& s : *v) {
      if (!s.is_string())
        Fail(where, s, "string");
      else
        out.push_back(s.get<std::string>());
    }
    return out;
  }

  std::optional<uint64_t> Unsigned(const json& obj, std::string_view name, std::string_view where,
                                   uint64_t max) {
    const json* v = Field(obj, name);
    if (!v) return std::nullopt;
    if (v->is_number_unsigned() && v->get<uint64_t>() <= max) return v->get<uint64_t>();
    if (v->is_number()) {
      Fail(where, *v, max == UINT32_MAX ? "uint32" : "uint64");
      return std::nullopt;
    }
    Fail(where, *v, max == UINT32_MAX ? "uint" : "uint64");
    return std::nullopt;
  }

  SeccompFilter Filter(const json& obj, std::string_view name, std::string_view where) {
    SeccompFilter f;
    const json* v = Field(obj, name);
    if (!v) return f;
    if (!v->is_object()) {
      Fail(where, *v, "seccomp.Filter");
      return f;
    }
    f.arches = Strings(*v, "arches", absl::StrCat(Av(where), ".arches"));
    f.caps = Strings(*v, "caps", absl::StrCat(Av(where), ".caps"));
    f.min_kernel = String(*v, "minKernel", absl::StrCat(Av(where), ".minKernel"));
    return f;
  }

 private:
  static std::string TypeName(const json& v) {
    if (v.is_string()) return "string";
    if (v.is_boolean()) return "bool";
    if (v.is_number()) return absl::StrCat("number ", v.dump());
    if (v.is_array()) return "array";
    return "object";
  }
  std::string* error_;
};

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool AtLeast(KernelVersion have, KernelVersion want) {
  return have.major != want.major ? have.major > want.major : have.minor >= want.minor;
}

}  // namespace

StatusOr<KernelVersion> ParseKernelVersion(std::string_view s) {
  // "6.18.44-fc-v1045", "4.8": the first two numbers.
  std::vector<std::string> parts = absl::StrSplit(Av(s), absl::ByAnyChar(".-+"));
  KernelVersion k;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &k.major) ||
      !absl::SimpleAtoi(parts[1], &k.minor) || k.major < 0 || k.minor < 0)
    return absl::InvalidArgumentError(absl::StrCat("invalid kernel version \"", Av(s), "\""));
  return k;
}

KernelVersion RunningKernel() {
  static const KernelVersion kKernel = [] {
    struct utsname u;
    if (::uname(&u) != 0) return KernelVersion{};
    auto k = ParseKernelVersion(u.release);
    return k.ok() ? *k : KernelVersion{};
  }();
  return kKernel;
}

std::string_view NativeArch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__i386__)
  return "x86";
#elif defined(__arm__)
  return "arm";
#else
  return "";
#endif
}

std::string_view NativeSeccompArch() {
  std::string_view a = NativeArch();
  if (a == "amd64") return "SCMP_ARCH_X86_64";
  if (a == "arm64") return "SCMP_ARCH_AARCH64";
  if (a == "s390x") return "SCMP_ARCH_S390X";
  if (a == "ppc64le") return "SCMP_ARCH_PPC64LE";
  if (a == "riscv64") return "SCMP_ARCH_RISCV64";
  if (a == "x86") return "SCMP_ARCH_X86";
  if (a == "arm") return "SCMP_ARCH_ARM";
  return "";
}

StatusOr<SeccompProfile> ParseSeccompProfile(std::string_view text) {
  auto fail = [](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("Decoding seccomp profile failed: ", Av(why)));
  };
  json doc = json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded()) return fail("invalid JSON");
  if (!doc.is_object())
    return fail("json: cannot unmarshal non-object into Go value of type seccomp.Seccomp");
  std::string error;
  Decoder d(&error);
  SeccompProfile p;
  p.default_action = d.String(doc, "defaultAction", "Seccomp.defaultAction");
  if (auto e = d.Unsigned(doc, "defaultErrnoRet", "Seccomp.defaultErrnoRet", UINT32_MAX))
    p.default_errno_ret = static_cast<uint32_t>(*e);
  p.architectures = d.Strings(doc, "architectures", "Seccomp.architectures");
  p.flags = d.Strings(doc, "flags", "Seccomp.flags");
  p.listener_path = d.String(doc, "listenerPath", "Seccomp.listenerPath");
  p.listener_metadata = d.String(doc, "listenerMetadata", "Seccomp.listenerMetadata");
  if (const json* am = d.Field(doc, "archMap")) {
    if (!am->is_array())
      d.Fail("Seccomp.archMap", *am, "[]seccomp.Architecture");
    else
      for (const json& a : *am) {
        SeccompArchMap m;
        m.arch = d.String(a, "architecture", "Architecture.architecture");
        m.sub_arches = d.Strings(a, "subArchitectures", "Architecture.subArchitectures");
        p.arch_map.push_back(std::move(m));
      }
  }
  if (const json* calls = d.Field(doc, "syscalls")) {
    if (!calls->is_array())
      d.Fail("Seccomp.syscalls", *calls, "[]*seccomp.Syscall");
    else
      for (const json& c : *calls) {
        SeccompRule r;
        std::string name = d.String(c, "name", "Syscall.name");
        r.names = d.Strings(c, "names", "Syscall.names");
        if (!name.empty() && !r.names.empty())
          return absl::InvalidArgumentError(
              "'name' and 'names' were specified in the seccomp profile, use either 'name' or "
              "'names'");
        if (!name.empty()) r.names = {name};
        r.action = d.String(c, "action", "Syscall.action");
        if (auto e = d.Unsigned(c, "errnoRet", "Syscall.errnoRet", UINT32_MAX))
          r.errno_ret = static_cast<uint32_t>(*e);
        if (const json* args = d.Field(c, "args")) {
          if (!args->is_array())
            d.Fail("Syscall.args", *args, "[]*seccomp.Arg");
          else
            for (const json& a : *args) {
              SeccompArg arg;
              arg.index = static_cast<uint32_t>(
                  d.Unsigned(a, "index", "Arg.index", UINT32_MAX).value_or(0));
              arg.value = d.Unsigned(a, "value", "Arg.value", UINT64_MAX).value_or(0);
              arg.value_two = d.Unsigned(a, "valueTwo", "Arg.valueTwo", UINT64_MAX).value_or(0);
              arg.op = d.String(a, "op", "Arg.op");
              r.args.push_back(std::move(arg));
            }
        }
        r.includes = d.Filter(c, "includes", "Syscall.includes");
        r.excludes = d.Filter(c, "excludes", "Syscall.excludes");
        p.syscalls.push_back(std::move(r));
      }
  }
  if (!error.empty()) return fail(error);
  if (!p.architectures.empty() && !p.arch_map.empty())
    return absl::InvalidArgumentError(
        "'architectures' and 'archMap' were specified in the seccomp profile, use either "
        "'architectures' or 'archMap'");
  // What runc would refuse at start is refused now, before anything is made.
  auto bad_action = [&](const std::string& a) {
    return absl::InvalidArgumentError(absl::StrCat("seccomp profile: unknown action \"", a, "\""));
  };
  if (!p.default_action.empty() && !Actions().count(p.default_action))
    return bad_action(p.default_action);
  if (p.default_action.empty() && !p.syscalls.empty())
    return absl::InvalidArgumentError("seccomp profile: defaultAction is required");
  for (const SeccompRule& r : p.syscalls) {
    if (!Actions().count(r.action)) return bad_action(r.action);
    if (r.names.empty())
      return absl::InvalidArgumentError("seccomp profile: a syscall rule names no syscall");
    for (const SeccompArg& a : r.args)
      if (!Operators().count(a.op))
        return absl::InvalidArgumentError(
            absl::StrCat("seccomp profile: unknown operator \"", a.op, "\""));
    for (const SeccompFilter* f : {&r.includes, &r.excludes})
      if (!f->min_kernel.empty())
        if (auto k = ParseKernelVersion(f->min_kernel); !k.ok())
          return Annotate(k.status(), "seccomp profile");
  }
  if (p.default_action == "SCMP_ACT_NOTIFY" ||
      std::any_of(p.syscalls.begin(), p.syscalls.end(),
                  [](const SeccompRule& r) { return r.action == "SCMP_ACT_NOTIFY"; })) {
    if (p.listener_path.empty())
      return absl::InvalidArgumentError("seccomp profile: SCMP_ACT_NOTIFY needs a listenerPath");
  }
  return p;
}

std::optional<SeccompProfile> ResolveSeccomp(const SeccompProfile& profile,
                                             const std::vector<std::string>& caps,
                                             std::string_view arch, KernelVersion kernel) {
  // No default action and no rules: the profile turns seccomp off (as Docker reads it).
  if (profile.default_action.empty() && profile.syscalls.empty()) return std::nullopt;
  SeccompProfile out;
  out.default_action = profile.default_action;
  out.default_errno_ret = profile.default_errno_ret;
  out.flags = profile.flags;
  out.listener_path = profile.listener_path;
  out.listener_metadata = profile.listener_metadata;
  out.architectures = profile.architectures;
  std::string_view native = NativeSeccompArch();
  if (arch != NativeArch()) native = "";  // a test resolving for another architecture
  for (const SeccompArchMap& m : profile.arch_map) {
    if (native.empty() || m.arch != native) continue;
    out.architectures.push_back(m.arch);
    out.architectures.insert(out.architectures.end(), m.sub_arches.begin(), m.sub_arches.end());
    break;
  }
  auto kernel_at_least = [&](const std::string& v) {
    auto k = ParseKernelVersion(v);
    return k.ok() && AtLeast(kernel, *k);
  };
  for (const SeccompRule& r : profile.syscalls) {
    const SeccompFilter& ex = r.excludes;
    const SeccompFilter& in = r.includes;
    if (!ex.arches.empty() && Contains(ex.arches, arch)) continue;
    if (std::any_of(ex.caps.begin(), ex.caps.end(),
                    [&](const std::string& c) { return Contains(caps, c); }))
      continue;
    if (!ex.min_kernel.empty() && kernel_at_least(ex.min_kernel)) continue;
    if (!in.arches.empty() && !Contains(in.arches, arch)) continue;
    if (!std::all_of(in.caps.begin(), in.caps.end(),
                     [&](const std::string& c) { return Contains(caps, c); }))
      continue;
    if (!in.min_kernel.empty() && !kernel_at_least(in.min_kernel)) continue;
    SeccompRule kept = r;
    kept.includes = kept.excludes = SeccompFilter();
    out.syscalls.push_back(std::move(kept));
  }
  return out;
}

}  // namespace berth::engine
