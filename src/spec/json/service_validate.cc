// What Docker 20.10 refuses in a service, secret or config spec before storing it, in its
// order and words. Two layers speak: the daemon's conversion to swarmkit's types
// (moby daemon/cluster/convert/{service,container}.go), whose errors the API answers as they
// are (400), and swarmkit's control API (manager/controlapi/{service,common,secret,config}.go
// at the commit 20.10 vendors, cf1e0f8d), whose gRPC errors reach the client as
// "rpc error: code = InvalidArgument desc = ..." (400; Unknown is a 500, Unimplemented a 501).
//
// Not checked here (they need the store or are not kept): port conflicts with other services,
// that referenced secrets/configs exist, attaching to the ingress network, the Go templates
// of the container spec (swarmkit expands them on a dummy task first), plugin runtimes.

#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "registry/reference.h"
#include "spec/json/service_json.h"

namespace berth::spec {
namespace {

constexpr int64_t kMillisecond = 1000000;

std::string_view GrpcCodeName(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument: return "InvalidArgument";
    case absl::StatusCode::kUnimplemented: return "Unimplemented";
    case absl::StatusCode::kFailedPrecondition: return "FailedPrecondition";
    default: return "Unknown";
  }
}

// A swarmkit error as the API shows it.
Status Swarmkit(absl::StatusCode code, std::string_view desc) {
  return Status(code, absl::StrCat("rpc error: code = ", Av(GrpcCodeName(code)),
                                   " desc = ", Av(desc)));
}

Status Swarmkit(std::string_view desc) {
  return Swarmkit(absl::StatusCode::kInvalidArgument, desc);
}

// An error of the daemon's conversion (errdefs.InvalidParameter).
Status Daemon(std::string_view message) { return absl::InvalidArgumentError(Av(message)); }

// Go's %q for the strings these messages quote (ASCII escapes; other bytes kept).
std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += absl::StrFormat("\\x%02x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// Go's %g of a float64: the shortest digits, in exponent form when the exponent is below -4
// or at least 6 (strconv's 'g' with precision -1 decides with a precision of 6).
std::string GoFormatG(double x) {
  char buf[64];
  auto sci = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string s(buf, sci.ptr);
  size_t e = s.find('e');
  int exp = std::stoi(s.substr(e + 1));
  if (exp < -4 || exp >= 6) return s;  // "1e-05", "1.5e+06", as Go writes them
  auto fixed = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }

// ^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$
bool ValidDnsName(std::string_view name) {
  if (name.empty() || !IsAlnum(name.front()) || !IsAlnum(name.back())) return false;
  for (char c : name) {
    if (!IsAlnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

// ^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$
bool ValidConfigOrSecretName(std::string_view name) {
  if (name.empty() || !IsAlnum(name.front()) || !IsAlnum(name.back())) return false;
  for (char c : name) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string_view TrimSpace(std::string_view s) {
  absl::string_view t = absl::StripAsciiWhitespace(Av(s));
  return std::string_view(t.data(), t.size());
}

// swarmkit's constraint.Parse. Its errors are plain Go errors, which gRPC sends as Unknown.
Status ValidateConstraints(const std::vector<std::string>& constraints) {
  for (const std::string& e : constraints) {
    bool found = false;
    for (std::string_view op : {"==", "!="}) {
      size_t at = e.find(op);
      if (at == std::string::npos) continue;
      std::string_view key = TrimSpace(std::string_view(e).substr(0, at));
      std::string_view value = TrimSpace(std::string_view(e).substr(at + op.size()));
      // ^(?i)[a-z_][a-z0-9\-_.]+$
      bool key_ok = key.size() >= 2 &&
                    (absl::ascii_isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_');
      for (size_t i = 1; key_ok && i < key.size(); ++i) {
        char c = key[i];
        key_ok = IsAlnum(c) || c == '-' || c == '_' || c == '.';
      }
      if (!key_ok) {
        return Swarmkit(absl::StatusCode::kUnknown, absl::StrCat("key '", Av(key), "' is invalid"));
      }
      // ^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$
      static constexpr std::string_view kValueChars = ":-_ \t\n\f\r.*()?+[]\\^$|/";
      bool value_ok = !value.empty();
      for (char c : value) {
        if (!IsAlnum(c) && kValueChars.find(c) == std::string_view::npos) value_ok = false;
      }
      if (!value_ok) {
        return Swarmkit(absl::StatusCode::kUnknown,
                        absl::StrCat("value '", Av(value), "' is invalid"));
      }
      found = true;
      break;
    }
    if (!found) {
      return Swarmkit(absl::StatusCode::kUnknown, "constraint expected one operator from ==, !=");
    }
  }
  return absl::OkStatus();
}

// --- the daemon's conversion (convert.ServiceSpecToGRPC) ------------------------------------

Status CredentialSpecToGrpc(const CredentialSpec& c) {
  std::vector<std::string> opts;
  if (!c.config.empty()) opts.push_back("\"config\"");
  if (!c.file.empty()) opts.push_back("\"file\"");
  if (!c.registry.empty()) opts.push_back("\"registry\"");
  std::string why;
  if (opts.empty()) {
    why = "must either provide \"file\", \"registry\", or \"config\" for credential spec";
  } else if (opts.size() == 2) {
    why = absl::StrCat("cannot specify both ", opts[0], " and ", opts[1], " credential specs");
  } else if (opts.size() > 2) {
    why = absl::StrCat("cannot specify both ", opts[0], ", ", opts[1], ", and ", opts[2],
                       " credential specs");
  } else {
    return absl::OkStatus();
  }
  return Daemon(absl::StrCat("invalid CredentialSpec: ", why));
}

bool OneOfUpper(std::string_view value, std::initializer_list<std::string_view> names) {
  std::string upper = absl::AsciiStrToUpper(Av(value));
  for (std::string_view n : names) {
    if (upper == n) return true;
  }
  return false;
}

Status ContainerToGrpc(const ServiceContainerSpec& c) {
  if (c.privileges && c.privileges->credential_spec) {
    RETURN_IF_ERROR(CredentialSpecToGrpc(*c.privileges->credential_spec));
  }
  for (const ServiceConfigReference& ref : c.configs) {
    if (!ref.runtime && !ref.file) {
      return Daemon("invalid Config: either File or Runtime should be set");
    }
    if (ref.runtime && ref.file) return Daemon("invalid Config: cannot specify both File and Runtime");
  }
  for (const Mount& m : c.mounts) {
    // swarmkit's enum names, matched upper-cased.
    if (!m.type.empty() && !OneOfUpper(m.type, {"BIND", "VOLUME", "TMPFS", "NPIPE"})) {
      return Daemon(absl::StrCat("invalid MountType: ", GoQuote(m.type)));
    }
    if (m.bind_options && !m.bind_options->propagation.empty() &&
        !OneOfUpper(m.bind_options->propagation,
                    {"RPRIVATE", "PRIVATE", "RSHARED", "SHARED", "RSLAVE", "SLAVE"})) {
      return Daemon(
          absl::StrCat("invalid MountPropagation: ", GoQuote(m.bind_options->propagation)));
    }
  }
  return absl::OkStatus();
}

Status UpdateConfigToGrpc(const std::optional<ServiceUpdateConfig>& u) {
  if (!u) return absl::OkStatus();
  const std::string& action = u->failure_action;
  if (!action.empty() && action != "pause" && action != "continue" && action != "rollback") {
    return Daemon(absl::StrCat("unrecognized update failure action ", action));
  }
  if (!u->order.empty() && u->order != "stop-first" && u->order != "start-first") {
    return Daemon(absl::StrCat("unrecognized update order ", u->order));
  }
  return absl::OkStatus();
}

Status ServiceSpecToGrpc(const ServiceSpec& s) {
  const TaskSpec& t = s.task_template;
  if (t.runtime.empty() || t.runtime == "container") {
    if (!t.container_spec) return Daemon("mismatched Runtime and *Spec fields");
    RETURN_IF_ERROR(ContainerToGrpc(*t.container_spec));
  } else if (t.runtime == "plugin") {
    // Berth keeps no PluginSpec, so a plugin service is what Docker says of one without it.
    return Daemon("mismatched Runtime and *Spec fields");
  } else {
    return Daemon("unsupported runtime");
  }
  if (t.restart_policy) {
    const std::string& c = t.restart_policy->condition;
    if (!c.empty() && c != "none" && c != "on-failure" && c != "any") {
      return Daemon(absl::StrCat("invalid RestartCondition: ", GoQuote(c)));
    }
  }
  RETURN_IF_ERROR(UpdateConfigToGrpc(s.update_config));
  RETURN_IF_ERROR(UpdateConfigToGrpc(s.rollback_config));
  if (s.endpoint_spec && !s.endpoint_spec->mode.empty() && s.endpoint_spec->mode != "vip" &&
      s.endpoint_spec->mode != "dnsrr") {
    return Daemon(absl::StrCat("invalid resolution mode: ", GoQuote(s.endpoint_spec->mode)));
  }
  int modes = int{s.mode.replicated} + int{s.mode.global} + int{s.mode.replicated_job.has_value()} +
              int{s.mode.global_job};
  if (modes > 1) return Daemon("must specify only one service mode");
  return absl::OkStatus();
}

// --- swarmkit (controlapi.validateServiceSpec) -----------------------------------------------

Status ValidateResources(int64_t nano_cpus, int64_t memory_bytes) {
  if (nano_cpus != 0 && nano_cpus < 1000000) {
    return Swarmkit(absl::StrCat("invalid cpu value ", GoFormatG(nano_cpus / 1e9),
                                 ": Must be at least ", GoFormatG(1e6 / 1e9)));
  }
  if (memory_bytes != 0 && memory_bytes < 4 * 1024 * 1024) {
    return Swarmkit(absl::StrCat("invalid memory value ", memory_bytes, ": Must be at least 4MiB"));
  }
  return absl::OkStatus();
}

Status ValidateSecretRefs(const ServiceContainerSpec& c) {
  std::map<std::string, std::string> targets;
  for (const SecretReference& ref : c.secrets) {
    if (ref.secret_id.empty() || ref.secret_name.empty()) {
      return Swarmkit("malformed secret reference");
    }
    if (!ref.file) return Swarmkit("malformed secret reference, no target provided");
    const std::string& name = ref.file->name;
    if (name.empty()) {
      return Swarmkit("malformed file secret reference, invalid target file name provided");
    }
    if (auto it = targets.find(name); it != targets.end()) {
      return Swarmkit(absl::StrCat("secret references '", it->second, "' and '", ref.secret_name,
                                   "' have a conflicting target: '", name, "'"));
    }
    targets[name] = ref.secret_name;
  }
  return absl::OkStatus();
}

Status ValidateConfigRefs(const ServiceContainerSpec& c) {
  std::string cred_spec_config;
  if (c.privileges && c.privileges->credential_spec) {
    cred_spec_config = c.privileges->credential_spec->config;
  }
  bool cred_spec_config_found = false;
  std::map<std::string, std::string> targets;
  for (const ServiceConfigReference& ref : c.configs) {
    if (ref.config_id.empty() || ref.config_name.empty()) {
      return Swarmkit("malformed config reference");
    }
    // The conversion gave every reference a target (File wins only without Runtime).
    if (ref.file && !ref.runtime) {
      const std::string& name = ref.file->name;
      if (name.empty()) {
        return Swarmkit("malformed file config reference, invalid target file name provided");
      }
      if (auto it = targets.find(name); it != targets.end()) {
        return Swarmkit(absl::StrCat("config references '", it->second, "' and '",
                                     ref.config_name, "' have a conflicting target: '", name,
                                     "'"));
      }
      targets[name] = ref.config_name;
    }
    if (ref.runtime && ref.config_id == cred_spec_config) cred_spec_config_found = true;
  }
  if (!cred_spec_config.empty() && !cred_spec_config_found) {
    return Swarmkit(absl::StrCat("CredentialSpec references config '", cred_spec_config,
                                 "', but that config isn't in config references with "
                                 "RuntimeTarget"));
  }
  return absl::OkStatus();
}

Status ValidateContainerSpec(const ServiceContainerSpec& c) {
  if (c.image.empty()) return Swarmkit("ContainerSpec: image reference must be provided");
  if (!registry::ParseNormalized(c.image).ok()) {
    return Swarmkit(
        absl::StrCat("ContainerSpec: ", GoQuote(c.image), " is not a valid repository/tag"));
  }
  std::set<std::string> targets;
  for (const Mount& m : c.mounts) {
    if (!targets.insert(m.target).second) {
      return Swarmkit(absl::StrCat("ContainerSpec: duplicate mount point: ", m.target));
    }
  }
  if (c.healthcheck) {
    const HealthConfig& h = *c.healthcheck;
    auto too_short = [](int64_t d) { return d != 0 && d < kMillisecond; };
    if (too_short(h.interval)) {
      return Swarmkit("ContainerSpec: Interval in HealthConfig cannot be less than 1ms");
    }
    if (too_short(h.timeout)) {
      return Swarmkit("ContainerSpec: Timeout in HealthConfig cannot be less than 1ms");
    }
    if (too_short(h.start_period)) {
      return Swarmkit("ContainerSpec: StartPeriod in HealthConfig cannot be less than 1ms");
    }
    if (h.retries < 0) return Swarmkit("ContainerSpec: Retries in HealthConfig cannot be negative");
  }
  return absl::OkStatus();
}

Status ValidateTaskSpec(const TaskSpec& t) {
  if (t.resources) {
    if (const auto& l = t.resources->limits) {
      RETURN_IF_ERROR(ValidateResources(l->nano_cpus, l->memory_bytes));
    }
    if (const auto& r = t.resources->reservations) {
      RETURN_IF_ERROR(ValidateResources(r->nano_cpus, r->memory_bytes));
    }
  }
  if (t.restart_policy) {
    if (t.restart_policy->delay.value_or(0) < 0) {
      return Swarmkit("TaskSpec: restart-delay cannot be negative");
    }
    if (t.restart_policy->window.value_or(0) < 0) {
      return Swarmkit("TaskSpec: restart-window cannot be negative");
    }
  }
  if (t.placement) RETURN_IF_ERROR(ValidateConstraints(t.placement->constraints));
  // The conversion refused every runtime but a container with its spec.
  const ServiceContainerSpec& c = *t.container_spec;
  RETURN_IF_ERROR(ValidateSecretRefs(c));
  RETURN_IF_ERROR(ValidateConfigRefs(c));
  return ValidateContainerSpec(c);
}

Status ValidateMode(const ServiceMode& m) {
  constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  // swarmkit casts to int64: a uint64 above its range reads as negative.
  if (m.global || m.global_job) return absl::OkStatus();
  if (m.replicated_job) {
    uint64_t max_concurrent = m.replicated_job->max_concurrent.value_or(1);
    uint64_t total = m.replicated_job->total_completions.value_or(max_concurrent);
    if (max_concurrent > kInt64Max) return Swarmkit("Maximum concurrent jobs must not be negative");
    if (total > kInt64Max) return Swarmkit("Total completed jobs must not be negative");
    return absl::OkStatus();
  }
  if (m.replicas.value_or(1) > kInt64Max) {
    return Swarmkit("Number of replicas must be non-negative");
  }
  return absl::OkStatus();
}

Status ValidateUpdate(const std::optional<ServiceUpdateConfig>& u) {
  if (!u) return absl::OkStatus();
  if (u->delay < 0) return Swarmkit("TaskSpec: update-delay cannot be negative");
  if (u->monitor < 0) return Swarmkit("TaskSpec: update-monitor cannot be negative");
  if (u->max_failure_ratio < 0 || u->max_failure_ratio > 1) {
    return Swarmkit("TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1");
  }
  return absl::OkStatus();
}

Status ValidateEndpointSpec(const std::optional<EndpointSpec>& e) {
  if (!e) return absl::OkStatus();
  // The conversion maps unknown protocols to TCP and unknown publish modes to ingress.
  auto protocol = [](const std::string& p) {
    std::string upper = absl::AsciiStrToUpper(p);
    return upper == "UDP" || upper == "SCTP" ? upper : std::string("TCP");
  };
  std::set<std::pair<uint32_t, std::string>> published;
  for (const ServicePortConfig& p : e->ports) {
    bool ingress = absl::AsciiStrToUpper(p.publish_mode) != "HOST";
    if (e->mode == "dnsrr" && ingress) {
      return Swarmkit(
          "EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
    }
    if (p.published_port == 0) continue;
    if (!published.insert({p.published_port, protocol(p.protocol)}).second) {
      return Swarmkit("EndpointSpec: duplicate published ports provided");
    }
  }
  return absl::OkStatus();
}

Status ValidateConfigOrSecretName(const std::string& name) {
  if (name.empty()) return Swarmkit("name must be provided");
  if (name.size() > 64 || !ValidConfigOrSecretName(name)) {
    return Swarmkit(
        "invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end "
        "character must be [a-zA-Z0-9]");
  }
  return absl::OkStatus();
}

enum class ModeKind { kReplicated, kGlobal, kReplicatedJob, kGlobalJob };

// The mode swarmkit stores: the daemon's conversion makes an unset mode replicated.
ModeKind KindOf(const ServiceMode& m) {
  if (m.global) return ModeKind::kGlobal;
  if (m.global_job) return ModeKind::kGlobalJob;
  if (m.replicated_job) return ModeKind::kReplicatedJob;
  return ModeKind::kReplicated;
}

}  // namespace

Status ValidateServiceSpec(const ServiceSpec& spec) {
  RETURN_IF_ERROR(ServiceSpecToGrpc(spec));
  // An unnamed service is named by the daemon (namesgenerator) before swarmkit sees it, so
  // "meta: name must be provided" never reaches the API.
  const std::string& name = spec.annotations.name;
  if (!name.empty()) {
    if (!ValidDnsName(name)) return Swarmkit("name must be valid as a DNS name component");
    if (name.size() > 63) return Swarmkit("name must be 63 characters or fewer");
  }
  RETURN_IF_ERROR(ValidateTaskSpec(spec.task_template));
  RETURN_IF_ERROR(ValidateMode(spec.mode));
  if (spec.mode.replicated_job || spec.mode.global_job) {
    if (spec.update_config) return Swarmkit("Jobs may not have an update config");
  } else {
    RETURN_IF_ERROR(ValidateUpdate(spec.update_config));
  }
  return ValidateEndpointSpec(spec.endpoint_spec);
}

Status ValidateServiceUpdate(const ServiceSpec& current, const ServiceSpec& next) {
  RETURN_IF_ERROR(ValidateServiceSpec(next));
  if ((!next.networks.empty() || !current.networks.empty()) &&
      next.networks != current.networks &&
      next.task_template.networks == current.task_template.networks) {
    return Swarmkit(absl::StatusCode::kUnimplemented,
                    "networks must be migrated to TaskSpec before being changed");
  }
  if (KindOf(current.mode) != KindOf(next.mode)) {
    return Swarmkit(absl::StatusCode::kUnimplemented, "service mode change is not allowed");
  }
  if (current.annotations.name != next.annotations.name) {
    return Swarmkit(absl::StatusCode::kUnimplemented, "renaming services is not supported");
  }
  return absl::OkStatus();
}

Status ValidateSecretSpec(const SecretSpec& spec) {
  RETURN_IF_ERROR(ValidateConfigOrSecretName(spec.annotations.name));
  if (spec.driver) {
    if (spec.driver->name.empty()) return Swarmkit("secret driver must have a name");
    return absl::OkStatus();
  }
  size_t size = spec.data ? spec.data->size() : 0;
  if (size < 1 || size >= 500 * 1024) {
    return Swarmkit("secret data must be larger than 0 and less than 512000 bytes");
  }
  return absl::OkStatus();
}

Status ValidateConfigSpec(const ConfigSpec& spec) {
  RETURN_IF_ERROR(ValidateConfigOrSecretName(spec.annotations.name));
  size_t size = spec.data ? spec.data->size() : 0;
  if (size < 1 || size >= 1000 * 1024) {
    return Swarmkit("config data must be larger than 0 and less than 1024000 bytes");
  }
  return absl::OkStatus();
}

}  // namespace berth::spec
