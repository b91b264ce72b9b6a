// /services, /tasks, /secrets and /configs: swarm mode's objects, on a manager (a worker and a
// node outside a swarm answer 503 as for /nodes). Specs go to the cluster store through
// cluster::Cluster; the leader's orchestrator makes the tasks.

#include "absl/strings/numbers.h"
#include "api/routes.h"
#include "cluster/cluster.h"
#include "spec/json/service_json.h"

namespace berth::api {
namespace {

Status RequireManager(cluster::Cluster& cl) {
  if (cl.IsManager()) return absl::OkStatus();
  spec::SwarmInfo info = cl.Info();
  if (info.local_node_state != "active") return absl::UnavailableError(cluster::kNotInSwarm);
  return absl::UnavailableError(cluster::kNotManager);
}

// ?version= of an update, with Docker's wording for each object.
StatusOr<uint64_t> VersionQuery(const Request& req, std::string_view what) {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(req.Query("version"), &v))
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid ", Av(what), " version '", req.Query("version"),
        "': strconv.ParseUint: parsing \"", req.Query("version"), "\": invalid syntax"));
  return v;
}

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
    if (Status s = RequireManager(*cl); !s.ok()) return c.SendError(s);
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
    if (Status s = RequireManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<spec::ServiceSpec> body = spec::ParseServiceSpec(req.body);
    if (!body.ok()) return c.SendError(body.status());
    StatusOr<spec::ServiceCreateResponse> created = cl->CreateService(*body);
    if (!created.ok()) return c.SendError(created.status());
    c.SendJson(201, spec::RenderServiceCreateResponse(*created));
  });
  r.Add("GET", "/services/{id}", [cl](Request& req, Conn& c) {
    if (Status s = RequireManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<spec::Service> svc = cl->GetService(req.params["id"]);
    if (!svc.ok()) return c.SendError(svc.status());
    c.SendJson(200, spec::RenderService(*svc));
  });
  r.Add("POST", "/services/{id}/update", [cl](Request& req, Conn& c) {
    if (Status s = RequireManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<uint64_t> version = VersionQuery(req, "service");
    if (!version.ok()) return c.SendError(version.status());
    StatusOr<spec::ServiceSpec> body = spec::ParseServiceSpec(req.body);
    if (!body.ok()) return c.SendError(body.status());
    std::string rollback = req.Query("rollback");
    if (!rollback.empty() && rollback != "previous")
      return c.SendError(
          absl::InvalidArgumentError(absl::StrCat("unrecognized rollback option ", rollback)));
    StatusOr<spec::ServiceUpdateResponse> updated =
        cl->UpdateService(req.params["id"], *version, *body, rollback == "previous");
    if (!updated.ok()) return c.SendError(updated.status());
    c.SendJson(200, spec::RenderServiceUpdateResponse(*updated));
  });
  r.Add("DELETE", "/services/{id}", [cl](Request& req, Conn& c) {
    if (Status s = RequireManager(*cl); !s.ok()) return c.SendError(s);
    Status s = cl->RemoveService(req.params["id"]);
    if (!s.ok()) return c.SendError(s);
    c.SendEmpty(200);
  });

  r.Add("GET", "/tasks", [cl](Request& req, Conn& c) {
    if (Status s = RequireManager(*cl); !s.ok()) return c.SendError(s);
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
    for (const spec::Service& s : *services) service_names[s.id] = s.spec.annotations.name;
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
      if (!filters->MatchKVList("label", t.annotations.labels)) continue;
      if (filters->Contains("_up-to-date") && !TaskUpToDate(t, *services)) continue;
      out.push_back(RenderApiTask(t));
    }
    c.SendJson(200, out);
  });
  r.Add("GET", "/tasks/{id}", [cl](Request& req, Conn& c) {
    if (Status s = RequireManager(*cl); !s.ok()) return c.SendError(s);
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
      if (Status s = RequireManager(*cl); !s.ok()) return c.SendError(s);
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
      if (Status s = RequireManager(*cl); !s.ok()) return c.SendError(s);
      StatusOr<Spec> body = k.parse(req.body);
      if (!body.ok()) return c.SendError(body.status());
      StatusOr<std::string> id = (cl->*k.create)(*body);
      if (!id.ok()) return c.SendError(id.status());
      nlohmann::ordered_json out;
      out["ID"] = *id;
      c.SendJson(201, out);
    });
    r.Add("GET", b + "/{id}", [cl, k](Request& req, Conn& c) {
      if (Status s = RequireManager(*cl); !s.ok()) return c.SendError(s);
      StatusOr<Obj> o = (cl->*k.get)(req.params["id"]);
      if (!o.ok()) return c.SendError(o.status());
      c.SendJson(200, k.render(*o));
    });
    r.Add("POST", b + "/{id}/update", [cl, k](Request& req, Conn& c) {
      if (Status s = RequireManager(*cl); !s.ok()) return c.SendError(s);
      StatusOr<uint64_t> version = VersionQuery(req, k.noun);
      if (!version.ok()) return c.SendError(version.status());
      StatusOr<Spec> body = k.parse(req.body);
      if (!body.ok()) return c.SendError(body.status());
      Status s = (cl->*k.update)(req.params["id"], *version, *body);
      if (!s.ok()) return c.SendError(s);
      c.SendEmpty(200);
    });
    r.Add("DELETE", b + "/{id}", [cl, k](Request& req, Conn& c) {
      if (Status s = RequireManager(*cl); !s.ok()) return c.SendError(s);
      Status s = (cl->*k.remove)(req.params["id"]);
      if (!s.ok()) return c.SendError(s);
      c.SendEmpty(204);
    });
  }
};

}  // namespace

void AddServiceRoutes(Router& r, Backend& b) {
  cluster::Cluster* cl = b.cluster;
  AddServiceRoutesTo(r, cl);
  for (const char* path : {"/services/{id}/logs", "/tasks/{id}/logs"}) {
    r.Add("GET", path, [cl](Request&, Conn& c) {
      if (Status s = RequireManager(*cl); !s.ok()) return c.SendError(s);
      c.SendError(absl::UnimplementedError("Berth cannot show service and task logs yet"));
    });
  }
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
