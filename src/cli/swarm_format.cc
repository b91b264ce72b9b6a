#include "cli/swarm_format.h"

#include "cli/cli.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/format/template.h"
#include "cli/opts.h"
#include "common/clock.h"
#include "common/text.h"

namespace berth::cli {
namespace {

using nlohmann::json;

constexpr std::string_view kNodeTable =
    "table {{.ID}} {{if .Self}}*{{else}} {{ end }}\t{{.Hostname}}\t{{.Status}}\t"
    "{{.Availability}}\t{{.ManagerStatus}}\t{{.EngineVersion}}";
constexpr std::string_view kNodeRaw =
    "node_id: {{.ID}}\\nhostname: {{.Hostname}}\\nstatus: {{.Status}}\\navailability: "
    "{{.Availability}}\\nmanager_status: {{.ManagerStatus}}\\n";
constexpr std::string_view kTaskTable =
    "table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t"
    "{{.Error}}\t{{.Ports}}";
constexpr std::string_view kTaskRaw =
    "id: {{.ID}}\\nname: {{.Name}}\\nimage: {{.Image}}\\nnode: {{.Node}}\\ndesired_state: "
    "{{.DesiredState}}\\ncurrent_state: {{.CurrentState}}\\nerror: {{.Error}}\\nports: "
    "{{.Ports}}\\n";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool EmptyTls(const spec::TLSInfo& t) { return t == spec::TLSInfo{}; }

// " - k=v" lines of a label map (Go's range over a map: sorted keys).
std::string LabelLines(const spec::StringMap& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += "\n - " + k + (v.empty() ? "" : "=" + v);
  return out;
}

std::string Str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

const json& Member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object() || !j.contains(key)) return kNull;
  return j[key];
}

// reference.FamiliarString of a name: docker.io/library/x -> x, docker.io/u/x -> u/x.
std::string FamiliarName(std::string name) {
  for (std::string_view prefix : {"docker.io/library/", "index.docker.io/library/"}) {
    if (name.rfind(prefix, 0) == 0 && name.find('/', prefix.size()) == std::string::npos) {
      return name.substr(prefix.size());
    }
  }
  for (std::string_view prefix : {"docker.io/", "index.docker.io/"}) {
    if (name.rfind(prefix, 0) == 0) return name.substr(prefix.size());
  }
  return name;
}

// The task's image as `docker node ps` shows it when truncating: a tagged reference loses its
// digest ("web:v2@sha256:..." -> "web:v2"); others stay as they are.
std::string TaskImage(const std::string& image, bool trunc) {
  if (!trunc) return image;
  std::string name = image.substr(0, image.find('@'));
  size_t slash = name.rfind('/');
  size_t colon = name.rfind(':');
  bool tagged = colon != std::string::npos && (slash == std::string::npos || colon > slash);
  if (!tagged) return image;
  return FamiliarName(name);
}

}  // namespace

std::string PrettyPrint(std::string_view s) {
  if (s.empty()) return "";
  if (s.size() == 1) return absl::AsciiStrToLower(Av(s));
  std::string out = absl::AsciiStrToLower(Av(s));
  out[0] = absl::ascii_toupper(s[0]);
  return out;
}

std::string GoUtcTimeString(int64_t unix_nanos) {
  // The zero time.Time, as Go prints it.
  if (unix_nanos == 0) return "0001-01-01 00:00:00 +0000 UTC";
  return GoTimeOf(unix_nanos, true);
}

bool NaturalLess(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    bool da = IsDigit(a[i]), db = IsDigit(b[j]);
    if (da != db) return da;  // digits before other characters
    if (!da) {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i;
      ++j;
      continue;
    }
    while (i < a.size() && a[i] == '0') ++i;
    while (j < b.size() && b[j] == '0') ++j;
    size_t nz_a = i, nz_b = j;
    while (i < a.size() && IsDigit(a[i])) ++i;
    while (j < b.size() && IsDigit(b[j])) ++j;
    if (i - nz_a != j - nz_b) return i - nz_a < j - nz_b;
    std::string_view na = a.substr(nz_a, i - nz_a), nb = b.substr(nz_b, j - nz_b);
    if (na != nb) return na < nb;
    if (nz_a != nz_b) return nz_a < nz_b;
  }
  return a.size() < b.size();
}

json NodeListItem(const spec::Node& node, const spec::SwarmInfo& info) {
  std::string reachability;
  if (node.manager_status) {
    reachability = node.manager_status->leader ? "Leader" : node.manager_status->reachability;
  }
  std::string tls;
  if (!info.cluster || EmptyTls(info.cluster->tls_info) || EmptyTls(node.description.tls_info)) {
    tls = "Unknown";
  } else if (node.description.tls_info == info.cluster->tls_info) {
    tls = "Ready";
  } else {
    tls = "Needs Rotation";
  }
  return json{{"ID", node.id},
              {"Self", node.id == info.node_id},
              {"Hostname", node.description.hostname},
              {"Status", PrettyPrint(node.status.state)},
              {"Availability", PrettyPrint(node.spec.availability)},
              {"ManagerStatus", PrettyPrint(reachability)},
              {"EngineVersion", node.description.engine.engine_version},
              {"TLSStatus", tls}};
}

StatusOr<std::string> FormatNodeList(std::vector<spec::Node> nodes, const spec::SwarmInfo& info,
                                     std::string_view format, bool quiet) {
  // docker's NewFormat: "table" and "raw" are names of formats; -q keeps only the ID.
  std::string f(format.empty() ? "table" : format);
  if (f == "table") {
    f = quiet ? "{{.ID}}" : std::string(kNodeTable);
  } else if (f == "raw") {
    f = quiet ? "node_id: {{.ID}}" : std::string(kNodeRaw);
  }
  // sort.Slice over so few elements keeps equal hostnames in the daemon's order.
  std::stable_sort(nodes.begin(), nodes.end(), [](const spec::Node& a, const spec::Node& b) {
    return NaturalLess(a.description.hostname, b.description.hostname);
  });
  std::vector<json> items;
  for (const auto& n : nodes) items.push_back(NodeListItem(n, info));
  json header = {{"ID", "ID"},
                 {"Self", ""},
                 {"Hostname", "HOSTNAME"},
                 {"Status", "STATUS"},
                 {"Availability", "AVAILABILITY"},
                 {"ManagerStatus", "MANAGER STATUS"},
                 {"EngineVersion", "ENGINE VERSION"},
                 {"TLSStatus", "TLS STATUS"}};
  return format::RenderList(f, header, items);
}

std::string NodeInspectPretty(const spec::Node& n) {
  std::string out = "ID:\t\t\t" + n.id;
  if (!n.spec.annotations.name.empty()) out += "\nName:\t\t\t" + n.spec.annotations.name;
  if (!n.spec.annotations.labels.empty()) {
    out += "\nLabels:" + LabelLines(n.spec.annotations.labels);
  }
  out += "\nHostname:              \t" + n.description.hostname;
  out += "\nJoined at:             \t" + PrettyPrint(GoUtcTimeString(n.meta.created_at));
  out += "\nStatus:\n State:\t\t\t" + PrettyPrint(n.status.state);
  if (!n.status.message.empty()) {
    out += "\n Message:              \t" + PrettyPrint(n.status.message);
  }
  out += "\n Availability:         \t" + PrettyPrint(n.spec.availability);
  if (!n.status.addr.empty()) out += "\n Address:\t\t" + n.status.addr;
  if (n.manager_status) {
    out += "\nManager Status:\n Address:\t\t" + n.manager_status->addr;
    out += "\n Raft Status:\t\t" + PrettyPrint(n.manager_status->reachability);
    out += n.manager_status->leader ? "\n Leader:\t\tYes" : "\n Leader:\t\tNo";
  }
  out += "\nPlatform:\n Operating System:\t" + n.description.platform.os;
  out += "\n Architecture:\t\t" + n.description.platform.architecture;
  out += "\nResources:\n CPUs:\t\t\t" +
         std::to_string(n.description.resources.nano_cpus / 1000000000LL);
  out += "\n Memory:\t\t";
  if (n.description.resources.memory_bytes != 0) {
    out += BytesSize(static_cast<double>(n.description.resources.memory_bytes));
  }
  const auto& plugins = n.description.engine.plugins;
  if (plugins && !plugins->empty()) {
    std::map<std::string, std::vector<std::string>> by_type;
    for (const auto& p : *plugins) by_type[p.type].push_back(p.name);
    out += "\nPlugins:";
    for (const auto& [type, names] : by_type) {
      std::string joined = absl::StrJoin(names, ", ");
      out += "\n " + type + ":" + (joined.empty() ? "" : "\t\t" + joined);
    }
  }
  out += "\nEngine Version:\t\t" + n.description.engine.engine_version;
  const auto& engine_labels = n.description.engine.labels;
  if (engine_labels && !engine_labels->empty()) {
    out += "\nEngine Labels:" + LabelLines(*engine_labels);
  }
  if (!EmptyTls(n.description.tls_info)) {
    const spec::TLSInfo& t = n.description.tls_info;
    out += "\nTLS Info:\n TrustRoot:\n" + t.trust_root;
    out += "\n Issuer Subject:\t" + absl::Base64Escape(t.cert_issuer_subject);
    out += "\n Issuer Public Key:\t" + absl::Base64Escape(t.cert_issuer_public_key);
  }
  return out + "\n";
}

std::string SwarmInfoSection(const spec::SwarmInfo& info) {
  auto yn = [](bool b) { return b ? std::string("true") : std::string("false"); };
  std::string out = " Swarm: " + info.local_node_state + "\n";
  if (info.local_node_state == "inactive" || info.local_node_state == "locked") return out;
  out += "  NodeID: " + info.node_id + "\n";
  if (!info.error.empty()) out += "  Error: " + info.error + "\n";
  out += "  Is Manager: " + yn(info.control_available) + "\n";
  if (info.cluster && info.control_available && info.error.empty() &&
      info.local_node_state != "error") {
    const spec::ClusterInfo& c = *info.cluster;
    const spec::SwarmSpec& s = c.spec;
    out += "  ClusterID: " + c.id + "\n";
    out += absl::StrCat("  Managers: ", info.managers, "\n");
    out += absl::StrCat("  Nodes: ", info.nodes, "\n");
    if (c.default_addr_pool) {
      std::string pools;
      for (const auto& p : *c.default_addr_pool) pools += p + "  ";
      out += "  Default Address Pool: " + pools + "\n";
      out += absl::StrCat("  SubnetSize: ", c.subnet_size, "\n");
    }
    if (c.data_path_port > 0) out += absl::StrCat("  Data Path Port: ", c.data_path_port, "\n");
    out += "  Orchestration:\n";
    out += absl::StrCat("   Task History Retention Limit: ",
                        s.orchestration.task_history_retention_limit.value_or(0), "\n");
    out += "  Raft:\n";
    out += absl::StrCat("   Snapshot Interval: ", s.raft.snapshot_interval, "\n");
    if (s.raft.keep_old_snapshots) {
      out +=
          absl::StrCat("   Number of Old Snapshots to Retain: ", *s.raft.keep_old_snapshots, "\n");
    }
    out += absl::StrCat("   Heartbeat Tick: ", s.raft.heartbeat_tick, "\n");
    out += absl::StrCat("   Election Tick: ", s.raft.election_tick, "\n");
    out += "  Dispatcher:\n";
    out += "   Heartbeat Period: " +
           HumanDuration(std::chrono::nanoseconds(s.dispatcher.heartbeat_period)) + "\n";
    out += "  CA Configuration:\n";
    out += "   Expiry Duration: " +
           HumanDuration(std::chrono::nanoseconds(s.ca_config.node_cert_expiry)) + "\n";
    out += absl::StrCat("   Force Rotate: ", s.ca_config.force_rotate, "\n");
    std::string ca_cert(absl::StripAsciiWhitespace(s.ca_config.signing_ca_cert));
    if (!ca_cert.empty()) out += "   Signing CA Certificate: \n" + ca_cert + "\n\n";
    if (s.ca_config.external_cas && !s.ca_config.external_cas->empty()) {
      out += "   External CAs:\n";
      for (const auto& e : *s.ca_config.external_cas) {
        out += "     " + e.protocol + ": " + e.url + "\n";
      }
    }
    out += "  Autolock Managers: " + yn(s.encryption_config.auto_lock_managers) + "\n";
    out += "  Root Rotation In Progress: " + yn(c.root_rotation_in_progress) + "\n";
  }
  out += "  Node Address: " + info.node_addr + "\n";
  if (info.remote_managers && !info.remote_managers->empty()) {
    std::vector<std::string> addrs;
    for (const auto& m : *info.remote_managers) addrs.push_back(m.addr);
    std::sort(addrs.begin(), addrs.end());
    out += "  Manager Addresses:\n";
    for (const auto& a : addrs) out += "   " + a + "\n";
  }
  return out;
}

std::string JoinCommandText(const spec::Swarm& swarm, const spec::Node& self, bool worker,
                            bool manager) {
  if (!self.manager_status) return "";
  std::string out;
  const std::string& addr = self.manager_status->addr;
  if (worker) {
    out +=
        "To add a worker to this swarm, run the following command:\n\n    docker swarm join "
        "--token " +
        swarm.join_tokens.worker + " " + addr + "\n\n";
  }
  if (manager) {
    out +=
        "To add a manager to this swarm, run the following command:\n\n    docker swarm join "
        "--token " +
        swarm.join_tokens.manager + " " + addr + "\n\n";
  }
  return out;
}

StatusOr<std::string> FormatTaskList(const std::vector<json>& tasks,
                                     const std::map<std::string, std::string>& names,
                                     const std::map<std::string, std::string>& nodes,
                                     std::string_view format, bool quiet, bool trunc,
                                     int64_t now_unix_nanos) {
  std::string f(format.empty() ? "table" : format);
  if (f == "table") {
    f = quiet ? "{{.ID}}" : std::string(kTaskTable);
  } else if (f == "raw") {
    f = quiet ? "id: {{.ID}}" : std::string(kTaskRaw);
  }
  auto name_of = [&](const json& t) {
    auto it = names.find(Str(t, "ID"));
    return it == names.end() ? std::string() : it->second;
  };
  auto created = [](const json& t) {
    int64_t nanos = 0;
    ParseRfc3339(Str(t, "CreatedAt"), &nanos);
    return nanos;
  };
  // Tasks of one slot together, the most recent first (task.Print's sort).
  std::vector<json> sorted = tasks;
  std::stable_sort(sorted.begin(), sorted.end(), [&](const json& a, const json& b) {
    std::string na = name_of(a), nb = name_of(b);
    if (na != nb) return NaturalLess(na, nb);
    return created(b) < created(a);
  });
  bool table = format::IsTableFormat(f);
  std::vector<json> items;
  std::string prev;
  for (const json& t : sorted) {
    std::string id = Str(t, "ID");
    std::string name = name_of(t);
    std::string shown = (name == prev && table) ? " \\_ " + name : name;
    prev = name;
    const json& status = Member(t, "Status");
    int64_t stamp = 0;
    ParseRfc3339(Str(status, "Timestamp"), &stamp);
    std::string ago =
        absl::AsciiStrToLower(HumanDuration(std::chrono::nanoseconds(now_unix_nanos - stamp)));
    std::string err = Str(status, "Err");
    if (trunc) err = Ellipsis(err, 30);
    if (!err.empty()) err = "\"" + err + "\"";
    std::vector<std::string> ports;
    const json& port_list = Member(Member(status, "PortStatus"), "Ports");
    if (port_list.is_array()) {
      for (const json& p : port_list) {
        ports.push_back(absl::StrCat("*:", p.value("PublishedPort", 0), "->",
                                     p.value("TargetPort", 0), "/", Str(p, "Protocol")));
      }
    }
    auto node_it = nodes.find(id);
    items.push_back(
        json{{"ID", trunc ? id.substr(0, 12) : id},
             {"Name", shown},
             {"Image", TaskImage(Str(Member(Member(t, "Spec"), "ContainerSpec"), "Image"), trunc)},
             {"Node", node_it == nodes.end() ? "" : node_it->second},
             {"DesiredState", PrettyPrint(Str(t, "DesiredState"))},
             {"CurrentState", PrettyPrint(Str(status, "State")) + " " + ago + " ago"},
             {"Error", err},
             {"Ports", absl::StrJoin(ports, ",")}});
  }
  json header = {{"ID", "ID"},
                 {"Name", "NAME"},
                 {"Image", "IMAGE"},
                 {"Node", "NODE"},
                 {"DesiredState", "DESIRED STATE"},
                 {"CurrentState", "CURRENT STATE"},
                 {"Error", "ERROR"},
                 {"Ports", "PORTS"}};
  return format::RenderList(f, header, items);
}

}  // namespace berth::cli
