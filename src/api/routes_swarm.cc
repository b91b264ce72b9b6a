// The swarm-mode routes of a node that is not in a swarm. Docker answers every one of them 503
// "This node is not part of a swarm", and clients rely on it: tear-downs call
// `swarm/leave?force=1` unconditionally and read the 503 as "nothing to leave". Swarm mode itself
// (init, join, services, nodes, tasks, secrets, configs) is issues 10-12; until then init and
// join are refused with 501 rather than answered with a 404.

#include "api/routes.h"

namespace berth::api {

void AddSwarmRoutes(Router& r) {
  auto not_in_swarm = [](Request&, Conn& c) {
    c.SendError(absl::UnavailableError("This node is not part of a swarm"));
  };
  auto not_implemented = [](Request&, Conn& c) {
    c.SendError(absl::UnimplementedError(
        "Berth does not implement swarm mode yet: this node cannot init or join a swarm"));
  };
  r.Add("POST", "/swarm/init", not_implemented);
  r.Add("POST", "/swarm/join", not_implemented);
  for (const char* path : {"/swarm", "/swarm/unlockkey"}) r.Add("GET", path, not_in_swarm);
  for (const char* path : {"/swarm/leave", "/swarm/update", "/swarm/unlock"})
    r.Add("POST", path, not_in_swarm);
  // The collections, with the routes API 1.41 gives each.
  struct Kind {
    const char* base;
    bool create, update, remove, logs;
  };
  for (const Kind& k :
       {Kind{"/services", true, true, true, true}, Kind{"/nodes", false, true, true, false},
        Kind{"/tasks", false, false, false, true}, Kind{"/secrets", true, true, true, false},
        Kind{"/configs", true, true, true, false}}) {
    const std::string base = k.base;
    r.Add("GET", base, not_in_swarm);
    r.Add("GET", base + "/{id}", not_in_swarm);
    if (k.create) r.Add("POST", base + "/create", not_in_swarm);
    if (k.update) r.Add("POST", base + "/{id}/update", not_in_swarm);
    if (k.remove) r.Add("DELETE", base + "/{id}", not_in_swarm);
    if (k.logs) r.Add("GET", base + "/{id}/logs", not_in_swarm);
  }
}

}  // namespace berth::api
