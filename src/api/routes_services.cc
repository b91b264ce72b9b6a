// /services, /tasks, /secrets and /configs: swarm mode's objects, on a manager (a worker and a
// node outside a swarm answer 503 as for /nodes). Specs go to the cluster store through
// cluster::Cluster; the leader's orchestrator makes the tasks.

#include "absl/strings/numbers.h"
#include "api/routes.h"
#include "cluster/cluster.h"
#include "cluster/node_state.h"
#include "cluster/task_logs.h"
#include "spec/json/service_json.h"

namespace berth::api {
namespace {

// A task as the API shows it: the task spec without the service's runtime.
nlohmann::ordered_json RenderApiTask(spec::Task t) {
  t.spec.runtime.clear();
  return spec::RenderTask(t);
}

bool TaskUpToDate(const spec::Task& t, const std::vector<spec::Service>& services) {
  for (const spec::Service& s : services)
    if (s.id == t.service_id) {
      spec::TaskSpec want = s.spec.task_template;
      spec::TaskSpec have = t.spec;
      want.runtime.clear();
      have.runtime.clear();
      return want == have;
    }
  return false;
}

void AddServiceRoutesTo(Router& r, cluster::Cluster* cl) {
  r.Add("GET", "/services", [cl](Request& req, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<spec::Filters> filters = RequestFilters(req);
    if (!filters.ok()) return c.SendError(filters.status());
    if (Status v = filters->Validate({"id", "label", "mode", "name"}); !v.ok())
      return c.SendError(v);
    StatusOr<std::vector<spec::Service>> all = cl->Services(req.QueryBool("status"));
    if (!all.ok()) return c.SendError(all.status());
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const spec::Service& s : *all) {
      if (!filters->FuzzyMatch("id", s.id)) continue;
      if (!filters->Match("name", s.spec.annotations.name)) continue;
      if (!filters->ExactMatch("mode", s.spec.mode.global ? "global" : "replicated")) continue;
      if (!filters->MatchKVList("label", s.spec.annotations.labels)) continue;
      out.push_back(spec::RenderService(s));
    }
    c.SendJson(200, out);
  });
  r.Add("POST", "/services/create", [cl](Request& req, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<spec::ServiceSpec> body = spec::ParseServiceSpec(req.body);
    if (!body.ok()) return c.SendError(body.status());
    // --with-registry-auth: kept (sealed) for the nodes' pulls, as dockerd keeps it in the spec.
    StatusOr<spec::ServiceCreateResponse> created =
        cl->CreateService(*body, req.headers["x-registry-auth"]);
    if (!created.ok()) return c.SendError(created.status());
    c.SendJson(201, spec::RenderServiceCreateResponse(*created));
  });
  r.Add("GET", "/services/{id}", [cl](Request& req, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<spec::Service> svc = cl->GetService(req.params["id"]);
    if (!svc.ok()) return c.SendError(svc.status());
    c.SendJson(200, spec::RenderService(*svc));
  });
  r.Add("POST", "/services/{id}/update", [cl](Request& req, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<uint64_t> version = SwarmVersionQuery(req, "service");
    if (!version.ok()) return c.SendError(version.status());
    StatusOr<spec::ServiceSpec> body = spec::ParseServiceSpec(req.body);
    if (!body.ok()) return c.SendError(body.status());
    std::string rollback = req.Query("rollback");
    if (!rollback.empty() && rollback != "previous")
      return c.SendError(
          absl::InvalidArgumentError(absl::StrCat("unrecognized rollback option ", rollback)));
    StatusOr<spec::ServiceUpdateResponse> updated =
        cl->UpdateService(req.params["id"], *version, *body, rollback == "previous",
                          req.headers["x-registry-auth"], req.Query("registryAuthFrom"));
    if (!updated.ok()) return c.SendError(updated.status());
    c.SendJson(200, spec::RenderServiceUpdateResponse(*updated));
  });
  r.Add("DELETE", "/services/{id}", [cl](Request& req, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    Status s = cl->RemoveService(req.params["id"]);
    if (!s.ok()) return c.SendError(s);
    c.SendEmpty(200);
  });

  r.Add("GET", "/tasks", [cl](Request& req, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<spec::Filters> filters = RequestFilters(req);
    if (!filters.ok()) return c.SendError(filters.status());
    if (Status v = filters->Validate(
            {"_up-to-date", "desired-state", "id", "label", "name", "node", "service"});
        !v.ok())
      return c.SendError(v);
    StatusOr<std::vector<spec::Task>> tasks = cl->Tasks();
    if (!tasks.ok()) return c.SendError(tasks.status());
    StatusOr<std::vector<spec::Service>> services = cl->Services(false);
    if (!services.ok()) return c.SendError(services.status());
    std::vector<std::string> service_ids;
    for (const std::string& ref : filters->Get("service")) {
      StatusOr<spec::Service> s = cl->GetService(ref);
      if (!s.ok()) return c.SendError(s.status());
      service_ids.push_back(s->id);
    }
    std::vector<std::string> node_ids;
    for (const std::string& ref : filters->Get("node")) {
      StatusOr<spec::Node> n = cl->GetNode(ref);
      if (!n.ok()) return c.SendError(n.status());
      node_ids.push_back(n->id);
    }
    std::map<std::string, std::string> service_names;
    std::map<std::string, const spec::StringMap*> service_labels;
    for (const spec::Service& s : *services) {
      service_names[s.id] = s.spec.annotations.name;
      service_labels[s.id] = &s.spec.annotations.labels;
    }
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const spec::Task& t : *tasks) {
      if (!filters->FuzzyMatch("id", t.id)) continue;
      if (!service_ids.empty() &&
          std::find(service_ids.begin(), service_ids.end(), t.service_id) == service_ids.end())
        continue;
      if (!node_ids.empty() &&
          std::find(node_ids.begin(), node_ids.end(), t.node_id) == node_ids.end())
        continue;
      if (filters->Contains("desired-state") &&
          !filters->ExactMatch("desired-state", t.desired_state))
        continue;
      if (filters->Contains("name")) {
        // A task's name: <service>.<slot> (global: <service>.<node id>), as the CLI shows it.
        std::string name = absl::StrCat(service_names[t.service_id], ".",
                                        t.slot != 0 ? std::to_string(t.slot) : t.node_id);
        if (!filters->Match("name", name)) continue;
      }
      // swarmkit matches a task's label filter against its service's labels
      // (ServiceAnnotations): `docker stack ps` finds a stack's tasks by its namespace label.
      auto labels = service_labels.find(t.service_id);
      if (!filters->MatchKVList("label", labels != service_labels.end() ? *labels->second
                                                                         : t.annotations.labels))
        continue;
      if (filters->Contains("_up-to-date") && !TaskUpToDate(t, *services)) continue;
      out.push_back(RenderApiTask(t));
    }
    c.SendJson(200, out);
  });
  r.Add("GET", "/tasks/{id}", [cl](Request& req, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<spec::Task> t = cl->GetTask(req.params["id"]);
    if (!t.ok()) return c.SendError(t.status());
    c.SendJson(200, RenderApiTask(*t));
  });
}

// /secrets and /configs share their shape.
template <typename Spec, typename Obj>
struct ObjectRoutes {
  const char* base;  // "/secrets"
  const char* noun;  // "secret"
  StatusOr<Spec> (*parse)(std::string_view);
  nlohmann::ordered_json (*render)(const Obj&);
  StatusOr<std::string> (cluster::Cluster::*create)(const Spec&);
  StatusOr<std::vector<Obj>> (cluster::Cluster::*list)();
  StatusOr<Obj> (cluster::Cluster::*get)(const std::string&);
  Status (cluster::Cluster::*update)(const std::string&, uint64_t, const Spec&);
  Status (cluster::Cluster::*remove)(const std::string&);

  void AddTo(Router& r, cluster::Cluster* cl) const {
    ObjectRoutes k = *this;
    std::string b = base;
    r.Add("GET", b, [cl, k](Request& req, Conn& c) {
      if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
      StatusOr<spec::Filters> filters = RequestFilters(req);
      if (!filters.ok()) return c.SendError(filters.status());
      if (Status v = filters->Validate({"id", "label", "name", "names"}); !v.ok())
        return c.SendError(v);
      StatusOr<std::vector<Obj>> all = (cl->*k.list)();
      if (!all.ok()) return c.SendError(all.status());
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const Obj& o : *all) {
        if (!filters->FuzzyMatch("id", o.id)) continue;
        if (!filters->Match("name", o.spec.annotations.name)) continue;
        if (filters->Contains("names") && !filters->ExactMatch("names", o.spec.annotations.name))
          continue;
        if (!filters->MatchKVList("label", o.spec.annotations.labels)) continue;
        out.push_back(k.render(o));
      }
      c.SendJson(200, out);
    });
    r.Add("POST", b + "/create", [cl, k](Request& req, Conn& c) {
      if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
      StatusOr<Spec> body = k.parse(req.body);
      if (!body.ok()) return c.SendError(body.status());
      StatusOr<std::string> id = (cl->*k.create)(*body);
      if (!id.ok()) return c.SendError(id.status());
      nlohmann::ordered_json out;
      out["ID"] = *id;
      c.SendJson(201, out);
    });
    r.Add("GET", b + "/{id}", [cl, k](Request& req, Conn& c) {
      if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
      StatusOr<Obj> o = (cl->*k.get)(req.params["id"]);
      if (!o.ok()) return c.SendError(o.status());
      c.SendJson(200, k.render(*o));
    });
    r.Add("POST", b + "/{id}/update", [cl, k](Request& req, Conn& c) {
      if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
      StatusOr<uint64_t> version = SwarmVersionQuery(req, k.noun);
      if (!version.ok()) return c.SendError(version.status());
      StatusOr<Spec> body = k.parse(req.body);
      if (!body.ok()) return c.SendError(body.status());
      Status s = (cl->*k.update)(req.params["id"], *version, *body);
      if (!s.ok()) return c.SendError(s);
      c.SendEmpty(200);
    });
    r.Add("DELETE", b + "/{id}", [cl, k](Request& req, Conn& c) {
      if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
      Status s = (cl->*k.remove)(req.params["id"]);
      if (!s.ok()) return c.SendError(s);
      c.SendEmpty(204);
    });
  }
};

// "<seconds>.<nanoseconds>" as the CLI sends since and until (Go's GetTimestamp), or RFC 3339.
bool ParseLogsTime(const std::string& s, int64_t* out) {
  if (s.empty()) return true;
  size_t dot = s.find('.');
  int64_t secs = 0, frac = 0;
  std::string f = dot == std::string::npos ? "" : s.substr(dot + 1);
  if (absl::SimpleAtoi(s.substr(0, dot), &secs) && f.size() <= 9 &&
      (f.empty() || absl::SimpleAtoi(f, &frac))) {
    for (size_t i = f.size(); i < 9; ++i) frac *= 10;
    *out = secs * 1000000000 + frac;
    return true;
  }
  return ParseRfc3339(s, out);
}

// GET /services/{id}/logs, /tasks/{id}/logs: the tasks' logs, read on the nodes that ran them
// (cluster/task_logs.h) and merged as dockerd's swarm log stream: stdcopy frames, one message
// each, with the node, service and task ids in front when `details` (the CLI asks, and prints
// them as "web.1.abc123@node"). The content type is raw-stream below API 1.42, as dockerd's.
void ServiceLogs(Backend& b, Request& req, Conn& c, bool service) {
  cluster::Cluster* cl = b.cluster;
  if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
  cluster::TaskLogOptions o;
  o.want_stdout = req.QueryBool("stdout");
  o.want_stderr = req.QueryBool("stderr");
  if (!o.want_stdout && !o.want_stderr)
    return c.SendError(
        absl::InvalidArgumentError("Bad parameters: you must choose at least one stream"));
  o.follow = req.QueryBool("follow");
  o.timestamps = req.QueryBool("timestamps");
  o.details = req.QueryBool("details");
  if (!ParseLogsTime(req.Query("since"), &o.since))
    return c.SendError(absl::InvalidArgumentError(
        absl::StrCat("could not parse since timestamp: ", req.Query("since"))));
  if (!ParseLogsTime(req.Query("until"), &o.until))
    return c.SendError(absl::InvalidArgumentError(
        absl::StrCat("could not parse until timestamp: ", req.Query("until"))));
  // dockerd's swarm logs refuse what container logs would read as "all".
  std::string tail = req.Query("tail", "all");
  if (tail != "all" && !tail.empty()) {
    if (!absl::SimpleAtoi(tail, &o.tail))
      return c.SendError(
          absl::InvalidArgumentError("tail value must be a positive integer or \"all\""));
    if (o.tail < 0)
      return c.SendError(absl::InvalidArgumentError("negative tail values not supported"));
  }

  std::string service_id, task_id;
  bool tty = false;
  if (service) {
    StatusOr<spec::Service> svc = cl->GetService(req.params["id"]);
    if (!svc.ok()) return c.SendError(svc.status());
    service_id = svc->id;
    const auto& cs = svc->spec.task_template.container_spec;
    tty = cs.has_value() && cs->tty;
  } else {
    StatusOr<spec::Task> t = cl->GetTask(req.params["id"]);
    if (!t.ok()) return c.SendError(t.status());
    task_id = t->id;
    tty = t->spec.container_spec.has_value() && t->spec.container_spec->tty;
  }
  // A TTY's output has no streams to tell apart: the bare text, as dockerd sends it.
  o.multiplexed = !tty;

  cluster::TaskLogSelection selection(service_id, task_id, o.follow);
  auto next =
      [&](std::vector<std::string>* unplaced) -> StatusOr<std::vector<cluster::NodeLogTarget>> {
    ASSIGN_OR_RETURN(std::vector<spec::Task> tasks, cl->Tasks());
    ASSIGN_OR_RETURN(std::vector<spec::Node> nodes, cl->Nodes());
    return cluster::GroupByNode(selection.Take(tasks), nodes, unplaced);
  };
  std::vector<std::string> unplaced;
  StatusOr<std::vector<cluster::NodeLogTarget>> targets = next(&unplaced);
  if (!targets.ok()) return c.SendError(targets.status());
  StatusOr<std::shared_ptr<const transport::TlsContext>> tls =
      cluster::ClientTls(cluster::NodePaths(b.info.data_root));
  if (!tls.ok()) return c.SendError(tls.status());

  cluster::TaskLogMerger merger(o, cluster::DialNodeLogs(*tls), b.clock);
  for (const std::string& id : unplaced)
    merger.AddReason(absl::StrCat("task ", id, " has not been scheduled"));
  for (const cluster::NodeLogTarget& t : *targets) merger.Add(t);
  if (!c.BeginStream(200, "application/vnd.docker.raw-stream")) return;
  cluster::LogClientSink sink{[&c](std::string_view data) { return c.WriteChunk(data); },
                              [&c] { return c.ClientGone(); }};
  std::function<std::vector<cluster::NodeLogTarget>()> more;
  if (o.follow) {
    more = [&]() -> std::vector<cluster::NodeLogTarget> {
      StatusOr<std::vector<cluster::NodeLogTarget>> t = next(nullptr);
      return t.ok() ? std::move(*t) : std::vector<cluster::NodeLogTarget>{};
    };
  }
  if (!merger.Run(sink, more)) return;  // the client left: the merger's nodes are let go
  c.EndStream();
  c.MarkClosed();
}

}  // namespace

void AddServiceRoutes(Router& r, Backend& b) {
  cluster::Cluster* cl = b.cluster;
  AddServiceRoutesTo(r, cl);
  r.Add("GET", "/services/{id}/logs",
        [&b](Request& req, Conn& c) { ServiceLogs(b, req, c, /*service=*/true); });
  r.Add("GET", "/tasks/{id}/logs",
        [&b](Request& req, Conn& c) { ServiceLogs(b, req, c, /*service=*/false); });
  ObjectRoutes<spec::SecretSpec, spec::Secret>{"/secrets",
                                               "secret",
                                               spec::ParseSecretSpec,
                                               spec::RenderSecret,
                                               &cluster::Cluster::CreateSecret,
                                               &cluster::Cluster::Secrets,
                                               &cluster::Cluster::GetSecret,
                                               &cluster::Cluster::UpdateSecret,
                                               &cluster::Cluster::RemoveSecret}
      .AddTo(r, cl);
  ObjectRoutes<spec::ConfigSpec, spec::Config>{"/configs",
                                               "config",
                                               spec::ParseConfigSpec,
                                               spec::RenderConfig,
                                               &cluster::Cluster::CreateConfig,
                                               &cluster::Cluster::Configs,
                                               &cluster::Cluster::GetConfig,
                                               &cluster::Cluster::UpdateConfig,
                                               &cluster::Cluster::RemoveConfig}
      .AddTo(r, cl);
}

}  // namespace berth::api
