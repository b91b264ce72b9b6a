// Node commands: node ls, inspect, ps, rm, update, promote, demote, as docker CLI 28 has them
// (cli/command/node).

#include <chrono>
#include <functional>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/cli.h"
#include "cli/swarm_client.h"
#include "cli/swarm_format.h"
#include "common/clock.h"
#include "spec/json/go_codec.h"
#include "spec/json/swarm_json.h"

namespace berth::cli {
namespace {

using nlohmann::json;

// updateNodes' "already in that role": skip the node, no update, no error.
constexpr const char* kNoRoleChange = "role was already set to the requested value";

// docker's updateNodes: for each node, inspect, merge, update; the first error ends it.
int UpdateNodes(Cli& cli, const std::vector<std::string>& refs,
                const std::function<Status(spec::Node&)>& merge,
                const std::function<void(const std::string&)>& success) {
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  for (const auto& ref : refs) {
    auto node = InspectNode(**api, ref);
    if (!node.ok()) return PrintError(cli, node.status());
    Status m = merge(*node);
    if (!m.ok()) {
      if (m.message() == kNoRoleChange) continue;
      return PrintError(cli, m);
    }
    Status u = UpdateNode(**api, node->id, node->meta.version.index, node->spec);
    if (!u.ok()) return PrintError(cli, u);
    success(ref);
  }
  return 0;
}

int ChangeRole(Cli& cli, const Invocation& inv, const std::string& role) {
  FlagSet f;
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  bool promote = role == "manager";
  return UpdateNodes(
      cli, pos,
      [&](spec::Node& n) -> Status {
        if (n.spec.role == role) {
          cli.out() << "Node " << n.id
                    << (promote ? " is already a manager.\n" : " is already a worker.\n");
          return absl::AlreadyExistsError(kNoRoleChange);
        }
        n.spec.role = role;
        return absl::OkStatus();
      },
      [&](const std::string& id) {
        if (promote) {
          cli.out() << "Node " << id << " promoted to a manager in the swarm.\n";
        } else {
          cli.out() << "Manager " << id << " demoted in the swarm.\n";
        }
      });
}

}  // namespace

int CmdNodeLs(Cli& cli, const Invocation& inv) {
  bool quiet = false;
  std::string format;
  std::vector<std::string> filters;
  FlagSet f;
  f.Bool("quiet", 'q', &quiet);
  f.String("format", 0, &format);
  f.StringList("filter", 'f', &filters);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 0, 0, &rc)) return rc;
  auto fm = ParseFilters(filters);
  if (!fm.ok()) return PrintError(cli, fm.status());
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto nodes = ListNodes(**api, *fm);
  if (!nodes.ok()) return PrintError(cli, nodes.status());
  spec::SwarmInfo info;
  // Only a non-empty list, and not -q, needs /info (to mark the current node).
  if (!nodes->empty() && !quiet) {
    auto i = InspectSwarmInfo(**api);
    if (!i.ok()) return PrintError(cli, i.status());
    info = std::move(*i);
  }
  auto out = FormatNodeList(std::move(*nodes), info, format, quiet);
  if (!out.ok()) return PrintError(cli, out.status());
  cli.out() << *out;
  return 0;
}

int CmdNodeInspect(Cli& cli, const Invocation& inv) {
  std::string format;
  bool pretty = false;
  FlagSet f;
  f.String("format", 'f', &format);
  f.Bool("pretty", 0, &pretty);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  if (pretty) format = "pretty";
  if (absl::StartsWith(format, "pretty") && format != "pretty") {
    return PrintError(cli, absl::InvalidArgumentError(
                               "cannot supply extra formatting options to the pretty template"));
  }
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  auto get = [&](const std::string& ref) -> StatusOr<spec::Node> {
    ASSIGN_OR_RETURN(std::string id, NodeReference(**api, ref));
    return InspectNode(**api, id);
  };
  if (format == "pretty") {
    // docker renders into a buffer and prints nothing when one node fails.
    std::string out;
    for (const auto& ref : pos) {
      auto node = get(ref);
      if (!node.ok()) return PrintError(cli, node.status());
      out += NodeInspectPretty(*node);
    }
    cli.out() << out;
    return 0;
  }
  // docker marshals the typed node again: the daemon's answer in swarm.Node's field order.
  return InspectObjects(cli, pos, format, [&](const std::string& ref) -> StatusOr<std::string> {
    ASSIGN_OR_RETURN(spec::Node node, get(ref));
    return spec::json::Dump(spec::RenderNode(node));
  });
}

int CmdNodePs(Cli& cli, const Invocation& inv) {
  bool no_trunc = false, no_resolve = false, quiet = false;
  std::string format;
  std::vector<std::string> filters;
  FlagSet f;
  f.Bool("no-trunc", 0, &no_trunc);
  f.Bool("no-resolve", 0, &no_resolve);
  f.StringList("filter", 'f', &filters);
  f.String("format", 0, &format);
  f.Bool("quiet", 'q', &quiet);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (pos.empty()) pos = {"self"};
  auto fm = ParseFilters(filters);
  if (!fm.ok()) return PrintError(cli, fm.status());
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::vector<std::string> errs;
  std::vector<json> tasks;
  for (const auto& ref : pos) {
    auto id = NodeReference(**api, ref);
    if (!id.ok()) {
      errs.emplace_back(id.status().message());
      continue;
    }
    auto node = InspectNode(**api, *id);
    if (!node.ok()) {
      errs.emplace_back(node.status().message());
      continue;
    }
    auto filter = *fm;
    filter["node"].push_back(node->id);
    auto r = (*api)->Call("GET", "/tasks?filters=" + FiltersParam(filter));
    if (!r.ok()) {
      errs.emplace_back(r.status().message());
      continue;
    }
    auto list = r->Json();
    if (!list.ok() || !list->is_array()) {
      errs.push_back("Error: unexpected response from daemon: " + r->body);
      continue;
    }
    for (const auto& t : *list) tasks.push_back(t);
  }
  if (errs.empty() || !tasks.empty()) {
    // idresolver: service and node names, looked up once each (unless --no-resolve).
    std::map<std::string, std::string> service_names, node_names, names, nodes;
    auto resolve_service = [&](const std::string& id) -> std::string {
      if (no_resolve || id.empty()) return id;
      auto [it, fresh] = service_names.try_emplace(id, id);
      if (fresh) {
        auto r = (*api)->Call("GET", "/services/" + client::QueryEscape(id));
        if (r.ok()) {
          auto j = r->Json();
          if (j.ok() && j->is_object() && (*j)["Spec"].is_object()) {
            it->second = (*j)["Spec"].value("Name", "");
          }
        }
      }
      return it->second;
    };
    auto resolve_node = [&](const std::string& id) -> std::string {
      if (no_resolve || id.empty()) return id;
      auto [it, fresh] = node_names.try_emplace(id, id);
      if (fresh) {
        auto n = InspectNode(**api, id);
        if (n.ok()) {
          if (!n->spec.annotations.name.empty()) {
            it->second = n->spec.annotations.name;
          } else if (!n->description.hostname.empty()) {
            it->second = n->description.hostname;
          }
        }
      }
      return it->second;
    };
    for (const json& t : tasks) {
      std::string id = t.value("ID", "");
      std::string service = resolve_service(t.value("ServiceID", ""));
      int64_t slot =
          t.contains("Slot") && t["Slot"].is_number_integer() ? t["Slot"].get<int64_t>() : 0;
      names[id] = slot != 0 ? absl::StrCat(service, ".", slot)
                            : absl::StrCat(service, ".", t.value("NodeID", ""));
      nodes[id] = resolve_node(t.value("NodeID", ""));
    }
    int64_t now = UnixNanos(std::chrono::system_clock::now());
    auto out = FormatTaskList(tasks, names, nodes, format, quiet, !no_trunc, now);
    if (!out.ok()) {
      errs.emplace_back(out.status().message());
    } else {
      cli.out() << *out;
    }
  }
  if (!errs.empty()) {
    cli.err() << absl::StrJoin(errs, "\n") << "\n";
    return 1;
  }
  return 0;
}

int CmdNodeRm(Cli& cli, const Invocation& inv) {
  bool force = false;
  FlagSet f;
  f.Bool("force", 'f', &force);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, -1, &rc)) return rc;
  auto api = cli.Api();
  if (!api.ok()) return PrintError(cli, api.status());
  std::vector<std::string> errs;
  for (const auto& id : pos) {
    std::string path = "/nodes/" + client::QueryEscape(id) + (force ? "?force=1" : "");
    auto r = (*api)->Call("DELETE", path);
    if (!r.ok()) {
      errs.emplace_back(r.status().message());
      continue;
    }
    cli.out() << id << "\n";
  }
  if (errs.empty()) return 0;
  cli.err() << absl::StrJoin(errs, "\n") << "\n";
  return 1;
}

int CmdNodeUpdate(Cli& cli, const Invocation& inv) {
  std::string role, availability;
  std::vector<std::string> label_add, label_rm;
  FlagSet f;
  f.String("role", 0, &role);
  f.String("availability", 0, &availability);
  f.StringList("label-add", 0, &label_add);
  f.StringList("label-rm", 0, &label_rm);
  std::vector<std::string> pos;
  int rc = 0;
  if (!ParseFlags(cli, inv, f, &pos, &rc)) return rc;
  if (!CheckArgs(cli, inv, pos, 1, 1, &rc)) return rc;
  const std::string ref = pos[0];
  return UpdateNodes(
      cli, pos,
      [&](spec::Node& n) -> Status {
        // The daemon checks the values (docker's CLI sends them as typed).
        if (f.Changed("role")) n.spec.role = role;
        if (f.Changed("availability")) n.spec.availability = availability;
        for (const auto& kv : label_add) {
          size_t eq = kv.find('=');
          n.spec.annotations.labels[kv.substr(0, eq)] =
              eq == std::string::npos ? "" : kv.substr(eq + 1);
        }
        for (const auto& k : label_rm) {
          if (n.spec.annotations.labels.erase(k) == 0) {
            return absl::NotFoundError("key " + k + " doesn't exist in node's labels");
          }
        }
        return absl::OkStatus();
      },
      [&](const std::string&) { cli.out() << ref << "\n"; });
}

int CmdNodePromote(Cli& cli, const Invocation& inv) { return ChangeRole(cli, inv, "manager"); }

int CmdNodeDemote(Cli& cli, const Invocation& inv) { return ChangeRole(cli, inv, "worker"); }

}  // namespace berth::cli
