// The dispatcher's task half (dispatcher.h): the nodes' long polls for their assignments and
// their task status reports.

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cluster/dispatcher.h"
#include "cluster/manager.h"
#include "cluster/rpc.h"
#include "spdlog/spdlog.h"
#include "spec/json/service_json.h"

namespace berth::cluster {
namespace {

// How long a long poll waits for a change before answering with the same set.
constexpr Duration kAssignmentPoll = std::chrono::seconds(15);

void Fail(api::Conn& c, const Status& s) { c.SendJson(api::HttpStatusFor(s), ErrorBody(s)); }

// Whether a task's containers still need its secrets and configs.
bool Live(const spec::Task& t) {
  return (t.desired_state == "running" || t.desired_state == "ready") &&
         spec::TaskStateRank(t.status.state) <= spec::TaskStateRank("running");
}

// The sealed registry auth of the spec `t` was made from: the service's spec or its previous
// one (placement aside, which a task keeps when only constraints changed); null: neither.
const std::string* AuthOfTaskSpec(const spec::Service& s, const spec::Task& t) {
  auto same = [&t](spec::TaskSpec want) {
    want.placement = t.spec.placement;
    return want == t.spec;
  };
  if (same(s.spec.task_template)) return &s.registry_auth;
  if (s.previous_spec && same(s.previous_spec->task_template)) return &s.previous_registry_auth;
  return nullptr;
}

nlohmann::json Payloads(const std::vector<std::pair<std::string, std::string>>& refs,
                        const std::map<std::string, nlohmann::json>& by_id) {
  nlohmann::json out = nlohmann::json::array();
  std::set<std::string> seen;
  for (const auto& [id, name] : refs) {
    auto it = by_id.find(id);
    if (it == by_id.end() || !seen.insert(id).second) continue;
    out.push_back(it->second);
  }
  return out;
}

}  // namespace

// The payloads of these secrets or configs (`get` reads one), opened with the data key. One that
// cannot be read or opened is left out with a warning.
template <typename Get>
static std::map<std::string, nlohmann::json> OpenPayloads(Manager& m, const std::string& node_id,
                                                          const std::set<std::string>& ids,
                                                          const char* noun, Get get) {
  std::map<std::string, nlohmann::json> out;
  for (const std::string& id : ids) {
    auto record = get(id);
    StatusOr<std::string> data = record.ok()
                                     ? m.OpenSealed(record->spec.data.value_or(""), record->id)
                                     : StatusOr<std::string>(record.status());
    if (!data.ok()) {
      spdlog::warn("swarm: {} {} for node {}: {}", noun, id, node_id, data.status().ToString());
      continue;
    }
    out[id] = {
        {"id", id}, {"name", record->spec.annotations.name}, {"data", absl::Base64Escape(*data)}};
  }
  return out;
}

// The node's assignment set: every task record on the node with its service's name, and the
// secrets and configs of its live tasks (opened: the node keeps them in memory only); and the
// swarm networks the node needs with their peers. {"tasks": [...], "networks": [...]}
// `hold` names, of the node's tasks, the leaving backends still draining: they are sent as still
// wanted running (their node's own mesh, made from the stored tasks, has dropped them already).
static StatusOr<nlohmann::json> BuildAssignments(
    Manager& m, const std::string& node_id,
    const std::function<std::set<std::string>(const std::vector<spec::Task>&)>& hold) {
  // Tasks, services and payloads from the leader's copy of the store when it has one (the polls
  // are woken by its changes, so what woke them is in it), and so are the networks, nodes and
  // attachments (BuildNodeNetworks; a later snapshot, perhaps: the next change wakes the poll).
  Store store = m.ReadStore();
  ASSIGN_OR_RETURN(std::vector<spec::Task> tasks, store.ListTasks());
  ASSIGN_OR_RETURN(std::vector<spec::Service> services, store.ListServices());
  ASSIGN_OR_RETURN(NodeNetworking networking, BuildNodeNetworks(m, node_id, tasks, services));
  tasks.erase(std::remove_if(tasks.begin(), tasks.end(),
                             [&](const spec::Task& t) { return t.node_id != node_id; }),
              tasks.end());
  std::sort(tasks.begin(), tasks.end(),
            [](const spec::Task& a, const spec::Task& b) { return a.id < b.id; });
  const std::set<std::string> held = hold(tasks);
  for (spec::Task& t : tasks)
    if (held.count(t.id)) t.desired_state = "running";
  std::map<std::string, const spec::Service*> by_id;
  for (const spec::Service& s : services) by_id[s.id] = &s;
  // Only the secrets and configs live tasks use, opened one by one: one that cannot be opened
  // is left out (the node rejects the tasks that need it), not the node's whole set.
  std::set<std::string> secret_ids, config_ids;
  for (const spec::Task& t : tasks) {
    if (!Live(t) || !t.spec.container_spec.has_value()) continue;
    for (const spec::SecretReference& r : t.spec.container_spec->secrets)
      secret_ids.insert(r.secret_id);
    for (const spec::ServiceConfigReference& r : t.spec.container_spec->configs)
      config_ids.insert(r.config_id);
  }
  std::map<std::string, nlohmann::json> secrets = OpenPayloads(
      m, node_id, secret_ids, "secret", [&](const std::string& id) { return store.GetSecret(id); });
  std::map<std::string, nlohmann::json> configs = OpenPayloads(
      m, node_id, config_ids, "config", [&](const std::string& id) { return store.GetConfig(id); });
  nlohmann::json out = nlohmann::json::array();
  for (const spec::Task& t : tasks) {
    std::vector<std::pair<std::string, std::string>> secret_refs, config_refs;
    if (Live(t) && t.spec.container_spec.has_value()) {
      for (const spec::SecretReference& r : t.spec.container_spec->secrets)
        secret_refs.emplace_back(r.secret_id, r.secret_name);
      for (const spec::ServiceConfigReference& r : t.spec.container_spec->configs)
        config_refs.emplace_back(r.config_id, r.config_name);
    }
    auto svc = by_id.find(t.service_id);
    std::string service_name, endpoint_mode = "vip", registry_auth;
    nlohmann::json host_ports = nlohmann::json::array();
    if (svc != by_id.end()) {
      const spec::Service& s = *svc->second;
      service_name = s.spec.annotations.name;
      // --with-registry-auth: for the pull of a task that may still need one (opened: the node
      // keeps it in memory only), the auth of the spec the task was made from (swarmkit keeps
      // it in each task's spec: an old-spec task of a rolling update keeps the old one). One that
      // cannot be opened is left out: the pull is anonymous.
      if (Live(t)) {
        const std::string* sealed = AuthOfTaskSpec(s, t);
        if (sealed != nullptr && !sealed->empty()) {
          StatusOr<std::string> auth = m.OpenSealed(*sealed, s.id);
          if (auth.ok()) {
            registry_auth = std::move(*auth);
          } else {
            spdlog::warn("swarm: registry auth of service {} for node {}: {}", s.id, node_id,
                         auth.status().ToString());
          }
        }
      }
      if (Dnsrr(s)) endpoint_mode = "dnsrr";
      for (const spec::ServicePortConfig& p : s.endpoint.ports)
        if (p.publish_mode == "host")
          host_ports.push_back(
              {{"protocol", p.protocol}, {"target", p.target_port}, {"published", p.published_port}});
    }
    out.push_back({{"task", nlohmann::json::parse(spec::RenderTask(t).dump())},
                   {"service_name", service_name},
                   {"endpoint_mode", endpoint_mode},
                   {"host_ports", std::move(host_ports)},
                   {"secrets", Payloads(secret_refs, secrets)},
                   {"configs", Payloads(config_refs, configs)}});
    if (!registry_auth.empty()) out.back()["registry_auth"] = std::move(registry_auth);
  }
  return nlohmann::json{{"tasks", std::move(out)},
                        {"networks", std::move(networking.networks)},
                        {"mesh", std::move(networking.mesh)}};
}

std::set<std::string> MeshBackendKeys(const nlohmann::json& mesh) {
  std::set<std::string> out;
  if (!mesh.is_object() || mesh.empty()) return out;
  for (const network::MeshService& s : ParseMeshSpec(mesh).services)
    for (const network::MeshServiceNetwork& n : s.networks)
      for (const network::MeshBackend& b : n.backends) out.insert(n.network_id + "/" + b.ip);
  return out;
}

std::set<std::string> TaskBackendKeys(const spec::Task& t) {
  std::set<std::string> out;
  for (const spec::NetworkAttachment& a : t.networks_attachments)
    for (const std::string& addr : a.addresses)
      out.insert(a.network.id + "/" + addr.substr(0, addr.find('/')));
  return out;
}

bool LeavingBackend(const spec::Task& t) {
  return t.desired_state != "running" && t.desired_state != "ready" &&
         t.status.state == "running" && !TaskBackendKeys(t).empty();
}

std::set<std::string> HeldBackends(const std::string& node_id, const std::vector<spec::Task>& tasks,
                                   const std::map<std::string, std::set<std::string>>& applied,
                                   const std::map<std::string, MonoTime>& since, MonoTime now) {
  std::set<std::string> out;
  for (const spec::Task& t : tasks) {
    if (!LeavingBackend(t)) continue;
    auto s = since.find(t.id);
    if (s != since.end() && now - s->second >= kDrainLimit) continue;
    std::set<std::string> keys = TaskBackendKeys(t);
    bool in_use = false;
    for (const auto& [node, backends] : applied) {
      if (node == node_id) continue;  // the node applies its own mesh before it acts on its tasks
      for (const std::string& k : keys) in_use = in_use || backends.count(k) > 0;
    }
    if (in_use) out.insert(t.id);
  }
  return out;
}

std::string AssignmentDigest(const nlohmann::json& set) {
  nlohmann::json stable = set;
  nlohmann::json& tasks = stable["tasks"];
  if (tasks.is_array())
    for (nlohmann::json& a : tasks) {
      if (!a.is_object() || !a.contains("task") || !a["task"].is_object()) continue;
      for (const char* key : {"Status", "Version", "UpdatedAt"}) a["task"].erase(key);
    }
  return absl::StrCat(std::hash<std::string>()(stable.dump()));
}

void Dispatcher::HandleAssignments(api::Request& req, api::Conn& conn) {
  if (RedirectToLeader(conn)) return;
  StatusOr<spec::Node> node = AuthenticateNode(manager_, conn);
  if (!node.ok()) return Fail(conn, node.status());
  StatusOr<nlohmann::json> body = req.Json();
  if (!body.ok()) return Fail(conn, body.status());
  std::string have = body->value("digest", "");
  const std::string& id = node->id;
  {
    // Asking with the digest last answered: the node has applied that set (the agent applies the
    // networks and the mesh before it polls again). A backend draining elsewhere may be released.
    StateLock l(mu_);
    auto it = answered_.find(id);
    if (it != answered_.end() && it->second.digest == have && applied_[id] != it->second.backends) {
      applied_[id] = it->second.backends;
      bool draining = false;
      for (const auto& [n, leaving] : leaving_since_) draining = draining || !leaving.empty();
      if (draining) {
        ++tasks_generation_;
        tasks_cv_.SignalAll();
      }
    }
  }
  MonoTime until = clock_.Monotonic() + kAssignmentPoll;
  for (;;) {
    uint64_t generation;
    {
      StateLock l(mu_);
      generation = tasks_generation_;
    }
    MonoTime release = until;  // when the first backend held here is let go regardless
    auto hold = [&](const std::vector<spec::Task>& mine) {
      StateLock l(mu_);
      MonoTime now = clock_.Monotonic();
      std::map<std::string, MonoTime>& since = leaving_since_[id];
      std::map<std::string, MonoTime> still;
      for (const spec::Task& t : mine)
        if (LeavingBackend(t)) still[t.id] = since.count(t.id) ? since[t.id] : now;
      since = std::move(still);
      std::set<std::string> held = HeldBackends(id, mine, applied_, since, now);
      for (const std::string& t : held) release = std::min(release, since[t] + kDrainLimit);
      return held;
    };
    StatusOr<nlohmann::json> set = BuildAssignments(manager_, id, hold);
    if (!set.ok()) return Fail(conn, set.status());
    std::string digest = AssignmentDigest(*set);
    bool answer = digest != have || clock_.Monotonic() >= until;
    if (!answer) {
      StateLock l(mu_);
      WaitFor(clock_, mu_, tasks_cv_, std::min(until, release) - clock_.Monotonic(),
              [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
                return shutdown_ || !leading_ || tasks_generation_ != generation;
              });
      if (shutdown_ || !leading_) {
        // Stepping down or stopping: the node looks for the leader elsewhere (and backs off).
        conn.SendJson(200, {{"leader", false}, {"leader_addr", ""}});
        return;
      }
      continue;
    }
    {
      StateLock l(mu_);
      answered_[id] = {digest, MeshBackendKeys((*set)["mesh"])};
    }
    conn.SendJson(200, {{"leader", true},
                        {"digest", digest},
                        {"assignments", std::move((*set)["tasks"])},
                        {"networks", std::move((*set)["networks"])},
                        {"mesh", std::move((*set)["mesh"])}});
    return;
  }
}

void Dispatcher::HandleTaskStatus(api::Request& req, api::Conn& conn) {
  if (RedirectToLeader(conn)) return;
  StatusOr<spec::Node> node = AuthenticateNode(manager_, conn);
  if (!node.ok()) return Fail(conn, node.status());
  StatusOr<nlohmann::json> body = req.Json();
  if (!body.ok()) return Fail(conn, body.status());
  Store& store = manager_.store();
  const nlohmann::json& updates = (*body)["updates"];
  if (!updates.is_array()) return Fail(conn, absl::InvalidArgumentError("updates: not a list"));
  // The newest state the batch has of each task.
  std::vector<spec::Task> sent;
  std::map<std::string, size_t> index;
  for (const nlohmann::json& u : updates) {
    StatusOr<spec::Task> t = spec::ParseTask(u.dump());
    if (!t.ok()) return Fail(conn, t.status());
    auto [it, fresh] = index.emplace(t->id, sent.size());
    if (fresh)
      sent.push_back(std::move(*t));
    else if (spec::TaskStateRank(t->status.state) >= spec::TaskStateRank(sent[it->second].status.state))
      sent[it->second] = std::move(*t);
  }
  // The record to write for a reported state, at the version read; none when there is nothing
  // to record: removed meanwhile, not this node's task (any more), or older than what is recorded
  // (a state never goes backwards: a late report, a re-sent batch).
  using Write = std::pair<spec::Task, uint64_t>;
  auto write_for = [&](const spec::Task& t) -> StatusOr<std::optional<Write>> {
    StatusOr<spec::Task> task = store.GetTask(t.id);
    if (absl::IsNotFound(task.status())) return std::nullopt;
    if (!task.ok()) return task.status();
    if (task->node_id != node->id ||
        spec::TaskStateRank(t.status.state) < spec::TaskStateRank(task->status.state) ||
        t.status == task->status)
      return std::nullopt;
    Write w{*task, task->meta.version.index};
    w.first.status = t.status;
    w.first.meta.updated_at = UnixNanos(clock_.Now());
    return w;
  };
  // One transaction for the batch (a scale reports states by the dozen); task by task, each
  // read again, when a record moved on meanwhile (the orchestrator changed its desired state).
  std::vector<Write> writes;
  for (const spec::Task& t : sent) {
    StatusOr<std::optional<Write>> w = write_for(t);
    if (!w.ok()) return Fail(conn, w.status());
    if (w->has_value()) writes.push_back(std::move(**w));
  }
  Status all = store.UpdateTasks(writes);
  if (!all.ok() && !absl::IsFailedPrecondition(all)) return Fail(conn, all);
  for (size_t i = 0; !all.ok() && i < sent.size(); ++i) {
    bool recorded = false;
    for (int attempt = 0; attempt < 5 && !recorded; ++attempt) {
      StatusOr<std::optional<Write>> w = write_for(sent[i]);
      if (!w.ok()) return Fail(conn, w.status());
      if (!w->has_value()) {
        recorded = true;  // nothing (left) to record
        break;
      }
      Status s = store.UpdateTask((*w)->first, (*w)->second);
      if (!s.ok() && !absl::IsFailedPrecondition(s)) return Fail(conn, s);
      recorded = s.ok();
    }
    // Still conflicting after the retries: the node sends the batch again.
    if (!recorded)
      return Fail(conn, absl::UnavailableError(absl::StrCat("task ", sent[i].id, " is busy")));
  }
  conn.SendJson(200, {{"leader", true}});
}

void Dispatcher::TasksChanged() {
  StateLock l(mu_);
  task_shapes_.clear();  // a change not seen here (a broken watch): compare afresh
  ++tasks_generation_;
  tasks_cv_.SignalAll();
}

std::optional<std::string> TaskShape(std::string_view record) {
  nlohmann::json t = nlohmann::json::parse(record, nullptr, /*allow_exceptions=*/false);
  if (!t.is_object()) return std::nullopt;
  const nlohmann::json& attachments = t.value("NetworksAttachments", nlohmann::json());
  if (attachments.is_array() && !attachments.empty()) return std::nullopt;
  std::string state;
  if (t.contains("Status") && t["Status"].is_object()) state = t["Status"].value("State", "");
  bool live = spec::TaskStateRank(state) <= spec::TaskStateRank("running");
  for (const char* key : {"Status", "Version", "UpdatedAt"}) t.erase(key);
  return absl::StrCat(live ? "live " : "done ", t.dump());
}

void Dispatcher::TaskEvents(const std::vector<etcd::WatchEvent>& events) {
  StateLock l(mu_);
  bool changed = false;
  for (const etcd::WatchEvent& ev : events) {
    const std::string& key = ev.kv.key;
    std::optional<std::string> shape;
    if (ev.type == etcd::WatchEvent::Type::kPut) shape = TaskShape(ev.kv.value);
    auto it = task_shapes_.find(key);
    if (shape.has_value() && it != task_shapes_.end() && it->second == *shape) continue;
    changed = true;
    if (shape.has_value())
      task_shapes_[key] = std::move(*shape);
    else if (it != task_shapes_.end())
      task_shapes_.erase(it);
  }
  if (!changed) return;
  ++tasks_generation_;
  tasks_cv_.SignalAll();
}

void Dispatcher::Shutdown() {
  StateLock l(mu_);
  shutdown_ = true;
  tasks_cv_.SignalAll();
}

}  // namespace berth::cluster
