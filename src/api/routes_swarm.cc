// /swarm and /nodes (services, tasks, secrets and configs: routes_services.cc). A node outside
// a swarm answers 503 "This node is not part of a swarm" everywhere, and clients rely on it:
// tear-downs call `swarm/leave?force=1` unconditionally and read the 503 as "nothing to leave";
// a worker answers 503 "This node is not a swarm manager..." for cluster state.

#include "absl/strings/numbers.h"
#include "api/routes.h"
#include "cluster/cluster.h"
#include "spec/json/swarm_json.h"

namespace berth::api {
// ?version= of an update: Docker's "invalid swarm version" / "invalid node version" otherwise.
StatusOr<uint64_t> SwarmVersionQuery(const Request& req, std::string_view what) {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(req.Query("version"), &v))
    return absl::InvalidArgumentError(absl::StrCat("invalid ", Av(what), " version '",
                                                   req.Query("version"),
                                                   "': strconv.ParseUint: "
                                                   "parsing \"",
                                                   req.Query("version"), "\": invalid syntax"));
  return v;
}

// The cluster's state for a read or write: refused on a node outside a swarm or a worker.
Status RequireSwarmManager(cluster::Cluster& cl) {
  if (cl.IsManager()) return absl::OkStatus();
  spec::SwarmInfo info = cl.Info();
  if (info.local_node_state != "active") return absl::UnavailableError(cluster::kNotInSwarm);
  return absl::UnavailableError(cluster::kNotManager);
}

void AddSwarmRoutes(Router& r, Backend& b) {
  cluster::Cluster* cl = b.cluster;
  r.Add("POST", "/swarm/init", [cl](Request& req, Conn& c) {
    StatusOr<spec::SwarmInitRequest> body = spec::ParseSwarmInitRequest(req.body);
    if (!body.ok()) return c.SendError(body.status());
    StatusOr<std::string> id = cl->Init(*body);
    if (!id.ok()) return c.SendError(id.status());
    c.SendJson(200, *id);
  });
  r.Add("POST", "/swarm/join", [cl](Request& req, Conn& c) {
    StatusOr<spec::SwarmJoinRequest> body = spec::ParseSwarmJoinRequest(req.body);
    if (!body.ok()) return c.SendError(body.status());
    Status s = cl->Join(*body);
    if (!s.ok()) return c.SendError(s);
    c.SendEmpty(200);
  });
  r.Add("POST", "/swarm/leave", [cl](Request& req, Conn& c) {
    Status s = cl->Leave(req.QueryBool("force"));
    if (!s.ok()) return c.SendError(s);
    c.SendEmpty(200);
  });
  r.Add("GET", "/swarm", [cl](Request&, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<spec::Swarm> sw = cl->Inspect();
    if (!sw.ok()) return c.SendError(sw.status());
    c.SendJson(200, spec::RenderSwarm(*sw));
  });
  r.Add("POST", "/swarm/update", [cl](Request& req, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<uint64_t> version = SwarmVersionQuery(req, "swarm");
    if (!version.ok()) return c.SendError(version.status());
    StatusOr<spec::SwarmSpec> spec = spec::ParseSwarmSpec(req.body);
    if (!spec.ok()) return c.SendError(spec.status());
    cluster::SwarmUpdateFlags flags;
    flags.rotate_worker_token = req.QueryBool("rotateWorkerToken");
    flags.rotate_manager_token = req.QueryBool("rotateManagerToken");
    flags.rotate_manager_unlock_key = req.QueryBool("rotateManagerUnlockKey");
    Status s = cl->Update(*spec, *version, flags);
    if (!s.ok()) return c.SendError(s);
    c.SendEmpty(200);
  });
  for (const char* path : {"/swarm/unlockkey"}) {
    r.Add("GET", path, [cl](Request&, Conn& c) {
      if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
      c.SendError(
          absl::UnimplementedError("Berth does not support autolock, so there is no unlock key"));
    });
  }
  r.Add("POST", "/swarm/unlock", [cl](Request&, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    c.SendError(absl::FailedPreconditionError("swarm is not locked"));
  });

  r.Add("GET", "/nodes", [cl](Request& req, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<spec::Filters> filters = RequestFilters(req);
    if (!filters.ok()) return c.SendError(filters.status());
    Status valid = filters->Validate({"id", "label", "name", "membership", "role", "node.label"});
    if (!valid.ok()) return c.SendError(valid);
    StatusOr<std::vector<spec::Node>> nodes = cl->Nodes();
    if (!nodes.ok()) return c.SendError(nodes.status());
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const spec::Node& n : *nodes) {
      if (!filters->FuzzyMatch("id", n.id)) continue;
      if (!filters->Match("name", n.description.hostname)) continue;
      if (!filters->ExactMatch("role", n.spec.role)) continue;
      if (!filters->ExactMatch("membership", "accepted")) continue;
      if (!filters->MatchKVList("label", n.description.engine.labels.value_or(spec::StringMap())))
        continue;
      if (!filters->MatchKVList("node.label", n.spec.annotations.labels)) continue;
      out.push_back(spec::RenderNode(n));
    }
    c.SendJson(200, out);
  });
  r.Add("GET", "/nodes/{id}", [cl](Request& req, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<spec::Node> n = cl->GetNode(req.params["id"]);
    if (!n.ok()) return c.SendError(n.status());
    c.SendJson(200, spec::RenderNode(*n));
  });
  r.Add("POST", "/nodes/{id}/update", [cl](Request& req, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    StatusOr<uint64_t> version = SwarmVersionQuery(req, "node");
    if (!version.ok()) return c.SendError(version.status());
    StatusOr<spec::NodeSpec> spec = spec::ParseNodeSpec(req.body);
    if (!spec.ok()) return c.SendError(spec.status());
    Status s = cl->UpdateNode(req.params["id"], *version, *spec);
    if (!s.ok()) return c.SendError(s);
    c.SendEmpty(200);
  });
  r.Add("DELETE", "/nodes/{id}", [cl](Request& req, Conn& c) {
    if (Status s = RequireSwarmManager(*cl); !s.ok()) return c.SendError(s);
    Status s = cl->RemoveNode(req.params["id"], req.QueryBool("force"));
    if (!s.ok()) return c.SendError(s);
    c.SendEmpty(200);
  });
}

}  // namespace berth::api
