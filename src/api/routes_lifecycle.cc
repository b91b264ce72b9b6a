// POST /containers/{id}/pause, /unpause and /update (docker pause, unpause, update).

#include "api/render.h"
#include "api/routes.h"
#include "spec/json/container_json.h"

namespace berth::api {

void AddLifecycleRoutes(Router& r, Backend& b) {
  r.Add("POST", "/containers/{id}/pause", [&b](Request& req, Conn& c) {
    Status st = b.containers.Pause(req.params["id"]);
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(204);
  });

  r.Add("POST", "/containers/{id}/unpause", [&b](Request& req, Conn& c) {
    Status st = b.containers.Unpause(req.params["id"]);
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(204);
  });

  // docker rm --link /parent/alias: the CLI trims the slashes, so the link name arrives as two
  // path segments.
  r.Add("DELETE", "/containers/{parent}/{alias}", [&b](Request& req, Conn& c) {
    std::string name = req.params["parent"] + "/" + req.params["alias"];
    if (!req.QueryBool("link")) {
      c.SendError(absl::NotFoundError("No such container: " + name));
      return;
    }
    Status st = b.containers.RemoveLink(name);
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(204);
  });

  r.Add("POST", "/containers/{id}/update", [&b](Request& req, Conn& c) {
    auto update = spec::ParseContainerUpdate(req.body);
    if (!update.ok()) {
      c.SendError(update.status());
      return;
    }
    auto warnings = b.containers.Update(req.params["id"], *update);
    if (!warnings.ok()) c.SendError(warnings.status());
    else SendOrdered(c, 200, {{"Warnings", *warnings}});
  });
}

}  // namespace berth::api
