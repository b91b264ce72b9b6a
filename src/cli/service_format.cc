#include "cli/service_format.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/format/template.h"
#include "cli/registry_auth.h"
#include "cli/swarm_format.h"
#include "common/clock.h"
#include "common/text.h"

namespace berth::cli {
namespace {

using nlohmann::json;

constexpr std::string_view kServiceTable =
    "table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}\t{{.Ports}}";
constexpr std::string_view kServiceRaw =
    "id: {{.ID}}\\nname: {{.Name}}\\nmode: {{.Mode}}\\nreplicas: {{.Replicas}}\\nimage: "
    "{{.Image}}\\nports: {{.Ports}}\\n";
constexpr std::string_view kSecretTable =
    "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}";
constexpr std::string_view kConfigTable = "table {{.ID}}\t{{.Name}}\t{{.CreatedAt}}\t{{.UpdatedAt}}";

std::string Bool(bool b) { return b ? "true" : "false"; }

// fmt's %v of a []string: "[a b]".
std::string GoList(const std::vector<std::string>& v) { return "[" + absl::StrJoin(v, " ") + "]"; }

// "5 seconds ago" style (units.HumanDuration, not lower-cased).
std::string Ago(int64_t now_nanos, int64_t then_nanos) {
  return HumanDuration(std::chrono::nanoseconds(now_nanos - then_nanos)) + " ago";
}

// The image as service ls shows it: a tagged reference loses its digest, in familiar form.
std::string ListImage(const std::string& image) {
  auto ref = ParseImageRef(image);
  if (!ref.ok() || ref->tag.empty()) return image;
  return ref->FamiliarName() + ":" + ref->tag;
}

struct PortRange {
  uint32_t p_start = 0, p_end = 0, t_start = 0, t_end = 0;
  std::string protocol;
  std::string String() const {
    std::string pub = p_end > p_start ? absl::StrCat(p_start, "-", p_end) : absl::StrCat(p_start);
    std::string tgt = t_end > t_start ? absl::StrCat(t_start, "-", t_end) : absl::StrCat(t_start);
    return absl::StrCat("*:", pub, "->", tgt, "/", protocol);
  }
};

// serviceContext.Ports: the ingress ports, consecutive ones grouped into ranges.
std::string ListPorts(const spec::Service& s) {
  std::vector<spec::ServicePortConfig> ports = s.endpoint.ports;
  if (ports.empty()) return "";
  std::stable_sort(ports.begin(), ports.end(), [](const auto& a, const auto& b) {
    if (a.protocol == b.protocol) return a.published_port < b.published_port;
    return a.protocol < b.protocol;
  });
  PortRange pr;
  std::vector<std::string> out;
  for (const auto& p : ports) {
    if (p.publish_mode != "ingress") continue;
    bool is_range = pr.t_end != pr.t_start;
    bool overlaps = p.target_port <= pr.t_end;
    // Unsigned differences, as Go's uint32 arithmetic: a smaller port wraps around, "not next".
    if (p.protocol != pr.protocol || p.published_port - pr.p_end > 1 ||
        p.target_port - pr.t_end > 1 || (is_range && overlaps)) {
      if (pr.p_start > 0) out.push_back(pr.String());
      pr = PortRange{p.published_port, p.published_port, p.target_port, p.target_port, p.protocol};
      continue;
    }
    pr.p_end = p.published_port;
    pr.t_end = p.target_port;
  }
  if (pr.p_start > 0) out.push_back(pr.String());
  return absl::StrJoin(out, ", ");
}

std::string ListMode(const spec::ServiceMode& m) {
  if (m.global) return "global";
  if (m.replicated) return "replicated";
  return "";
}

// A list's --format: "table" (the default table, or {{.ID}} with -q), "raw", or the user's.
std::string ListFormat(std::string_view format, bool quiet, std::string_view table,
                       std::string_view raw) {
  std::string f(format.empty() ? "table" : format);
  if (f == "table") return quiet ? "{{.ID}}" : std::string(table);
  if (f == "raw" && !raw.empty()) return quiet ? "id: {{.ID}}" : std::string(raw);
  return f;
}

std::string Labels(const spec::StringMap& labels) {
  std::vector<std::string> kv;
  for (const auto& [k, v] : labels) kv.push_back(k + "=" + v);
  return absl::StrJoin(kv, ",");
}

std::string PrettyTime(int64_t nanos) { return PrettyPrint(GoUtcTimeString(nanos)); }

std::string PrettyLabels(const spec::StringMap& labels) {
  if (labels.empty()) return "";
  std::string out = "\nLabels:";
  for (const auto& [k, v] : labels) out += "\n - " + k + (v.empty() ? "" : "=" + v);
  return out;
}

void AppendUpdateConfig(std::string* out, const char* title, const char* order_label,
                        const spec::ServiceUpdateConfig& c) {
  *out += absl::StrCat("\n", title, ":\n Parallelism:\t", c.parallelism);
  if (c.delay > 0) *out += "\n Delay:\t\t" + GoDurationString(c.delay);
  *out += "\n On failure:\t" + c.failure_action;
  if (c.monitor > 0) *out += "\n Monitoring Period: " + GoDurationString(c.monitor);
  *out += "\n Max failure ratio: " + GoFloat32String(static_cast<float>(c.max_failure_ratio));
  *out += absl::StrCat("\n ", order_label, c.order);
}

}  // namespace

std::string GoDurationString(int64_t nanos) {
  if (nanos == 0) return "0s";
  bool neg = nanos < 0;
  uint64_t u = neg ? static_cast<uint64_t>(-(nanos + 1)) + 1 : static_cast<uint64_t>(nanos);
  auto frac = [](uint64_t v, uint64_t unit) {
    std::string s = std::to_string(v / unit);
    uint64_t rest = v % unit;
    if (rest == 0) return s;
    int width = 0;
    for (uint64_t x = unit; x > 1; x /= 10) ++width;
    std::string digits = std::to_string(rest);
    digits.insert(0, static_cast<size_t>(width) - digits.size(), '0');
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
    return s + "." + digits;
  };
  std::string out;
  if (u < 1000) {
    out = std::to_string(u) + "ns";
  } else if (u < 1000000) {
    out = frac(u, 1000) + "µs";
  } else if (u < 1000000000) {
    out = frac(u, 1000000) + "ms";
  } else {
    uint64_t secs = u / 1000000000;
    std::string s = frac(u % 60000000000ULL, 1000000000) + "s";
    uint64_t mins = secs / 60;
    if (mins > 0) {
      uint64_t hours = mins / 60;
      s = std::to_string(mins % 60) + "m" + s;
      if (hours > 0) s = std::to_string(hours) + "h" + s;
    }
    out = s;
  }
  return neg ? "-" + out : out;
}

namespace {

template <class F>
std::string ShortestFloat(F v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  F a = std::fabs(v);
  // %v switches to an exponent below 1e-4 and from 1e21 on.
  auto fmt = (a != 0 && (a < F(1e-4) || a >= F(1e21))) ? std::chars_format::scientific
                                                      : std::chars_format::fixed;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, fmt);
  std::string s(buf, end);
  if (fmt == std::chars_format::scientific) {
    // Go writes at least two exponent digits: 1e-05.
    size_t e = s.find('e');
    if (e != std::string::npos) {
      std::string mant = s.substr(0, e), exp = s.substr(e + 1);
      char sign = exp[0] == '-' ? '-' : '+';
      if (exp[0] == '-' || exp[0] == '+') exp = exp.substr(1);
      if (exp.size() < 2) exp = "0" + exp;
      s = mant + "e" + sign + exp;
    }
  }
  return s;
}

}  // namespace

std::string GoFloatString(double v) { return ShortestFloat(v); }
std::string GoFloat32String(float v) { return ShortestFloat(v); }

json ServiceListItem(const spec::Service& s) {
  uint64_t running = 0, desired = 0;
  if (s.service_status) {
    running = s.service_status->running_tasks;
    desired = s.service_status->desired_tasks;
  }
  std::string replicas = absl::StrCat(running, "/", desired);
  const auto& placement = s.spec.task_template.placement;
  if (s.spec.mode.replicated && placement && placement->max_replicas > 0) {
    replicas += absl::StrCat(" (max ", placement->max_replicas, " per node)");
  }
  std::string image;
  if (s.spec.task_template.container_spec) image = s.spec.task_template.container_spec->image;
  return json{{"ID", s.id.substr(0, 12)},
              {"Name", s.spec.annotations.name},
              {"Mode", ListMode(s.spec.mode)},
              {"Replicas", replicas},
              {"Image", ListImage(image)},
              {"Ports", ListPorts(s)}};
}

StatusOr<std::string> FormatServiceList(std::vector<spec::Service> services,
                                        std::string_view format, bool quiet) {
  std::stable_sort(services.begin(), services.end(), [](const auto& a, const auto& b) {
    return NaturalLess(a.spec.annotations.name, b.spec.annotations.name);
  });
  std::vector<json> items;
  for (const auto& s : services) items.push_back(ServiceListItem(s));
  json header = {{"ID", "ID"},           {"Name", "NAME"},   {"Mode", "MODE"},
                 {"Replicas", "REPLICAS"}, {"Image", "IMAGE"}, {"Ports", "PORTS"}};
  return format::RenderList(ListFormat(format, quiet, kServiceTable, kServiceRaw), header, items);
}

std::string ServiceInspectPretty(const spec::Service& s,
                                 const std::map<std::string, std::string>& network_names,
                                 int64_t now_nanos) {
  const spec::ServiceSpec& sp = s.spec;
  const spec::TaskSpec& t = sp.task_template;
  static const spec::ServiceContainerSpec kNoContainer;
  const spec::ServiceContainerSpec& c = t.container_spec ? *t.container_spec : kNoContainer;

  std::string out = "\nID:\t\t" + s.id + "\nName:\t\t" + sp.annotations.name;
  if (!sp.annotations.labels.empty()) {
    out += "\nLabels:";
    for (const auto& [k, v] : sp.annotations.labels) out += "\n " + k + (v.empty() ? "" : "=" + v);
  }
  out += "\nService Mode:";
  if (sp.mode.global) {
    out += "\tGlobal";
  } else if (sp.mode.replicated) {
    out += "\tReplicated";
    if (sp.mode.replicas) out += absl::StrCat("\n Replicas:\t", *sp.mode.replicas);
  }
  if (s.update_status && !s.update_status->state.empty()) {
    const spec::UpdateStatus& u = *s.update_status;
    out += "\nUpdateStatus:\n State:\t\t" + u.state;
    if (u.started_at) out += "\n Started:\t" + Ago(now_nanos, *u.started_at);
    if (u.state == spec::kUpdateCompleted && u.completed_at) {
      out += "\n Completed:\t" + Ago(now_nanos, *u.completed_at);
    }
    out += "\n Message:\t" + u.message;
  }
  out += "\nPlacement:";
  if (t.placement) {
    if (!t.placement->constraints.empty()) {
      out += "\n Constraints:\t" + GoList(t.placement->constraints);
    }
    std::vector<std::string> prefs;
    for (const auto& p : t.placement->preferences) prefs.push_back("spread=" + p.spread_descriptor);
    if (!prefs.empty()) out += "\n Preferences:   " + GoList(prefs);
    if (t.placement->max_replicas > 0) {
      out += absl::StrCat("\n Max Replicas Per Node:   ", t.placement->max_replicas);
    }
  }
  if (sp.update_config) AppendUpdateConfig(&out, "UpdateConfig", "Update order:      ", *sp.update_config);
  if (sp.rollback_config) {
    AppendUpdateConfig(&out, "RollbackConfig", "Rollback order:    ", *sp.rollback_config);
  }
  out += "\nContainerSpec:\n Image:\t\t" + c.image;
  if (!c.args.empty()) {
    out += "\n Args:\t\t";
    for (const auto& a : c.args) out += a + " ";
  }
  if (!c.env.empty()) {
    out += "\n Env:\t\t";
    for (const auto& e : c.env) out += e + " ";
  }
  if (!c.dir.empty()) out += "\n Dir:\t\t" + c.dir;
  if (c.init) out += "\n Init:\t\t" + Bool(*c.init);
  if (!c.user.empty()) out += "\n User: " + c.user;
  if (!c.capability_add.empty() || !c.capability_drop.empty()) {
    out += "\nCapabilities:";
    if (!c.capability_add.empty()) out += "\n Add: " + absl::StrJoin(c.capability_add, ", ");
    if (!c.capability_drop.empty()) out += "\n Drop: " + absl::StrJoin(c.capability_drop, ", ");
  }
  if (!c.sysctls.empty()) {
    out += "\nSysCtls:";
    for (const auto& [k, v] : c.sysctls) out += "\n " + k + (v.empty() ? "" : ": " + v);
  }
  if (!c.ulimits.empty()) {
    std::map<std::string, std::string> limits;
    for (const auto& u : c.ulimits) limits[u.name] = absl::StrCat(u.soft, ":", u.hard);
    out += "\nUlimits:";
    for (const auto& [k, v] : limits) out += "\n " + k + ": " + v;
  }
  if (!c.mounts.empty()) out += "\nMounts:";
  for (const auto& m : c.mounts) {
    out += "\n Target:\t" + m.target + "\n  Source:\t" + m.source + "\n  ReadOnly:\t" +
           Bool(m.read_only) + "\n  Type:\t\t" + m.type;
  }
  if (!c.configs.empty()) {
    out += "\nConfigs:";
    for (const auto& cf : c.configs) {
      out += "\n Target:\t" + (cf.file ? cf.file->name : "") + "\n  Source:\t" + cf.config_name;
    }
  }
  if (!c.secrets.empty()) {
    out += "\nSecrets:";
    for (const auto& sc : c.secrets) {
      out += "\n Target:\t" + (sc.file ? sc.file->name : "") + "\n  Source:\t" + sc.secret_name;
    }
  }
  if (t.log_driver) {
    out += "\nLog Driver:";
    if (!t.log_driver->name.empty()) out += "\n Name:\t\t" + t.log_driver->name;
    if (t.log_driver->options && !t.log_driver->options->empty()) {
      out += "\n LogOpts:";
      for (const auto& [k, v] : *t.log_driver->options) {
        out += "\n  " + k + (v.empty() ? "" : ":       " + v);
      }
    }
    // The template's own newline before its {{ end }}: a blank line follows the section.
    out += "\n";
  }
  int64_t pids = 0;
  if (t.resources) {
    out += "\nResources:";
    const auto& res = t.resources->reservations;
    if (res && (res->nano_cpus > 0 || res->memory_bytes > 0)) {
      out += "\n Reservations:";
      if (res->nano_cpus > 0) {
        out += "\n  CPU:\t\t" + GoFloatString(static_cast<double>(res->nano_cpus) / 1e9);
      }
      if (res->memory_bytes != 0) {
        out += "\n  Memory:\t" + BytesSize(static_cast<double>(res->memory_bytes));
      }
    }
    const auto& lim = t.resources->limits;
    if (lim && (lim->nano_cpus > 0 || lim->memory_bytes > 0 || lim->pids > 0)) {
      out += "\n Limits:";
      if (lim->nano_cpus > 0) {
        out += "\n  CPU:\t\t" + GoFloatString(static_cast<double>(lim->nano_cpus) / 1e9);
      }
      if (lim->memory_bytes != 0) {
        out += "\n  Memory:\t" + BytesSize(static_cast<double>(lim->memory_bytes));
      }
    }
    if (lim) pids = lim->pids;
  }
  if (pids > 0) out += absl::StrCat("\n  PIDs:\t\t", pids);
  if (!t.networks.empty()) {
    out += "\nNetworks:";
    for (const auto& n : t.networks) {
      auto it = network_names.find(n.target);
      out += " " + (it == network_names.end() ? n.target : it->second);
    }
    out += " ";
  }
  out += "\nEndpoint Mode:\t" + (sp.endpoint_spec ? sp.endpoint_spec->mode : std::string());
  if (!s.endpoint.ports.empty()) {
    out += "\nPorts:";
    for (const auto& p : s.endpoint.ports) {
      out += absl::StrCat("\n PublishedPort = ", p.published_port, "\n  Protocol = ", p.protocol,
                          "\n  TargetPort = ", p.target_port, "\n  PublishMode = ", p.publish_mode);
    }
    out += " ";
  }
  if (c.healthcheck) {
    const spec::HealthConfig& h = *c.healthcheck;
    out += "\n Healthcheck:\n  Interval = " + GoDurationString(h.interval) +
           absl::StrCat("\n  Retries = ", h.retries) +
           "\n  StartPeriod =\t" + GoDurationString(h.start_period) + "\n  Timeout =\t" +
           GoDurationString(h.timeout);
    if (!h.test.empty()) {
      out += "\n  Tests:";
      for (const auto& test : h.test) out += "\n\t Test = " + test;
      out += " ";
    }
  }
  // The template's last newline, and the one docker's formatter writes after each item.
  return out + "\n\n";
}

StatusOr<std::string> FormatSecretList(std::vector<spec::Secret> secrets, std::string_view format,
                                       bool quiet, int64_t now_nanos) {
  std::stable_sort(secrets.begin(), secrets.end(), [](const auto& a, const auto& b) {
    return NaturalLess(a.spec.annotations.name, b.spec.annotations.name);
  });
  std::vector<json> items;
  for (const auto& s : secrets) {
    items.push_back(json{{"ID", s.id},
                         {"Name", s.spec.annotations.name},
                         {"Driver", s.spec.driver ? s.spec.driver->name : ""},
                         {"CreatedAt", Ago(now_nanos, s.meta.created_at)},
                         {"UpdatedAt", Ago(now_nanos, s.meta.updated_at)},
                         {"Labels", Labels(s.spec.annotations.labels)}});
  }
  json header = {{"ID", "ID"},         {"Name", "NAME"},           {"Driver", "DRIVER"},
                 {"CreatedAt", "CREATED"}, {"UpdatedAt", "UPDATED"}, {"Labels", "LABELS"}};
  return format::RenderList(ListFormat(format, quiet, kSecretTable, ""), header, items);
}

std::string SecretInspectPretty(const spec::Secret& s) {
  return "ID:              " + s.id + "\nName:              " + s.spec.annotations.name +
         PrettyLabels(s.spec.annotations.labels) +
         "\nDriver:            " + (s.spec.driver ? s.spec.driver->name : "") +
         "\nCreated at:        " + PrettyTime(s.meta.created_at) +
         "\nUpdated at:        " + PrettyTime(s.meta.updated_at) + "\n";
}

StatusOr<std::string> FormatConfigList(std::vector<spec::Config> configs, std::string_view format,
                                       bool quiet, int64_t now_nanos) {
  std::stable_sort(configs.begin(), configs.end(), [](const auto& a, const auto& b) {
    return NaturalLess(a.spec.annotations.name, b.spec.annotations.name);
  });
  std::vector<json> items;
  for (const auto& c : configs) {
    items.push_back(json{{"ID", c.id},
                         {"Name", c.spec.annotations.name},
                         {"CreatedAt", Ago(now_nanos, c.meta.created_at)},
                         {"UpdatedAt", Ago(now_nanos, c.meta.updated_at)},
                         {"Labels", Labels(c.spec.annotations.labels)}});
  }
  json header = {{"ID", "ID"},
                 {"Name", "NAME"},
                 {"CreatedAt", "CREATED"},
                 {"UpdatedAt", "UPDATED"},
                 {"Labels", "LABELS"}};
  return format::RenderList(ListFormat(format, quiet, kConfigTable, ""), header, items);
}

std::string ConfigInspectPretty(const spec::Config& c) {
  return "ID:\t\t\t" + c.id + "\nName:\t\t\t" + c.spec.annotations.name +
         PrettyLabels(c.spec.annotations.labels) +
         "\nCreated at:            \t" + PrettyTime(c.meta.created_at) +
         "\nUpdated at:            \t" + PrettyTime(c.meta.updated_at) + "\nData:\n" +
         c.spec.data.value_or("") + "\n";
}

}  // namespace berth::cli
