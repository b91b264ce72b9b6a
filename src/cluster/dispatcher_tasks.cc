// The dispatcher's task half (dispatcher.h): the nodes' long polls for their assignments and
// their task status reports.

#include <algorithm>
#include <map>
#include <set>

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

int StateOrder(const std::string& state) {
  int i = 0;
  for (const char* s : spec::kTaskStates) {
    if (state == s) return i;
    ++i;
  }
  return -1;
}

// Whether a task's containers still need its secrets and configs.
bool Live(const spec::Task& t) {
  return (t.desired_state == "running" || t.desired_state == "ready") &&
         StateOrder(t.status.state) <= StateOrder("running");
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

// The node's assignment set: every task record on the node with its service's name, and the
// secrets and configs of its live tasks (opened: the node keeps them in memory only).
static StatusOr<nlohmann::json> BuildAssignments(Manager& m, const std::string& node_id) {
  Store& store = m.store();
  ASSIGN_OR_RETURN(std::vector<spec::Task> tasks, store.ListTasks());
  tasks.erase(std::remove_if(tasks.begin(), tasks.end(),
                             [&](const spec::Task& t) { return t.node_id != node_id; }),
              tasks.end());
  std::sort(tasks.begin(), tasks.end(),
            [](const spec::Task& a, const spec::Task& b) { return a.id < b.id; });
  std::map<std::string, std::string> service_names;
  bool wants_secrets = false, wants_configs = false;
  for (const spec::Task& t : tasks) {
    service_names[t.service_id];
    if (Live(t) && t.spec.container_spec.has_value()) {
      wants_secrets |= !t.spec.container_spec->secrets.empty();
      wants_configs |= !t.spec.container_spec->configs.empty();
    }
  }
  for (auto& [id, name] : service_names) {
    StatusOr<spec::Service> s = store.GetService(id);
    if (s.ok()) name = s->spec.annotations.name;
  }
  std::map<std::string, nlohmann::json> secrets, configs;
  if (wants_secrets) {
    ASSIGN_OR_RETURN(std::vector<spec::Secret> all, store.ListSecrets());
    for (const spec::Secret& s : all) {
      StatusOr<std::string> data = m.OpenSealed(s.spec.data.value_or(""), s.id);
      if (!data.ok()) return Annotate(data.status(), absl::StrCat("secret ", s.id));
      secrets[s.id] = {
          {"id", s.id}, {"name", s.spec.annotations.name}, {"data", absl::Base64Escape(*data)}};
    }
  }
  if (wants_configs) {
    ASSIGN_OR_RETURN(std::vector<spec::Config> all, store.ListConfigs());
    for (const spec::Config& c : all) {
      StatusOr<std::string> data = m.OpenSealed(c.spec.data.value_or(""), c.id);
      if (!data.ok()) return Annotate(data.status(), absl::StrCat("config ", c.id));
      configs[c.id] = {
          {"id", c.id}, {"name", c.spec.annotations.name}, {"data", absl::Base64Escape(*data)}};
    }
  }
  nlohmann::json out = nlohmann::json::array();
  for (const spec::Task& t : tasks) {
    std::vector<std::pair<std::string, std::string>> secret_refs, config_refs;
    if (Live(t) && t.spec.container_spec.has_value()) {
      for (const spec::SecretReference& r : t.spec.container_spec->secrets)
        secret_refs.emplace_back(r.secret_id, r.secret_name);
      for (const spec::ServiceConfigReference& r : t.spec.container_spec->configs)
        config_refs.emplace_back(r.config_id, r.config_name);
    }
    out.push_back({{"task", nlohmann::json::parse(spec::RenderTask(t).dump())},
                   {"service_name", service_names[t.service_id]},
                   {"secrets", Payloads(secret_refs, secrets)},
                   {"configs", Payloads(config_refs, configs)}});
  }
  return out;
}

void Dispatcher::HandleAssignments(api::Request& req, api::Conn& conn) {
  if (!manager_.IsLeader()) {
    std::optional<LeaderRecord> leader = manager_.Leader();
    conn.SendJson(200, {{"leader", false}, {"leader_addr", leader ? leader->addr : ""}});
    return;
  }
  StatusOr<spec::Node> node = AuthenticateNode(manager_, conn);
  if (!node.ok()) return Fail(conn, node.status());
  StatusOr<nlohmann::json> body = req.Json();
  if (!body.ok()) return Fail(conn, body.status());
  std::string have = body->value("digest", "");
  MonoTime until = clock_.Monotonic() + kAssignmentPoll;
  for (;;) {
    uint64_t generation;
    {
      StateLock l(mu_);
      generation = tasks_generation_;
    }
    StatusOr<nlohmann::json> set = BuildAssignments(manager_, node->id);
    if (!set.ok()) return Fail(conn, set.status());
    std::string digest = absl::StrCat(std::hash<std::string>()(set->dump()));
    bool answer = digest != have || clock_.Monotonic() >= until;
    if (!answer) {
      StateLock l(mu_);
      WaitFor(clock_, mu_, tasks_cv_, until - clock_.Monotonic(),
              [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
                return shutdown_ || !leading_ || tasks_generation_ != generation;
              });
      answer = shutdown_ || !leading_;
      if (!answer) continue;
    }
    conn.SendJson(200, {{"leader", true}, {"digest", digest}, {"assignments", std::move(*set)}});
    return;
  }
}

void Dispatcher::HandleTaskStatus(api::Request& req, api::Conn& conn) {
  if (!manager_.IsLeader()) {
    std::optional<LeaderRecord> leader = manager_.Leader();
    conn.SendJson(200, {{"leader", false}, {"leader_addr", leader ? leader->addr : ""}});
    return;
  }
  StatusOr<spec::Node> node = AuthenticateNode(manager_, conn);
  if (!node.ok()) return Fail(conn, node.status());
  StatusOr<nlohmann::json> body = req.Json();
  if (!body.ok()) return Fail(conn, body.status());
  Store& store = manager_.store();
  const nlohmann::json& updates = (*body)["updates"];
  if (!updates.is_array()) return Fail(conn, absl::InvalidArgumentError("updates: not a list"));
  for (const nlohmann::json& u : updates) {
    StatusOr<spec::Task> sent = spec::ParseTask(u.dump());
    if (!sent.ok()) return Fail(conn, sent.status());
    for (int attempt = 0; attempt < 5; ++attempt) {
      StatusOr<spec::Task> task = store.GetTask(sent->id);
      if (absl::IsNotFound(task.status())) break;  // removed meanwhile: nothing to record
      if (!task.ok()) return Fail(conn, task.status());
      if (task->node_id != node->id) break;  // not this node's task (any more)
      // A state never goes backwards (a late report after a newer one, a re-sent batch).
      if (StateOrder(sent->status.state) < StateOrder(task->status.state)) break;
      if (sent->status == task->status) break;
      spec::Task want = *task;
      want.status = sent->status;
      want.meta.updated_at = UnixNanos(clock_.Now());
      Status s = store.UpdateTask(want, task->meta.version.index);
      if (s.ok() || !absl::IsFailedPrecondition(s)) {
        if (!s.ok()) return Fail(conn, s);
        break;
      }
    }
  }
  conn.SendJson(200, {{"leader", true}});
}

void Dispatcher::TasksChanged() {
  StateLock l(mu_);
  ++tasks_generation_;
  tasks_cv_.SignalAll();
}

void Dispatcher::Shutdown() {
  StateLock l(mu_);
  shutdown_ = true;
  tasks_cv_.SignalAll();
}

}  // namespace berth::cluster
