#include "api/routes.h"
#include "network/controller.h"

namespace berth::api {

using nlohmann::json;

void AddNetworkRoutes(Router& r, Backend& b, network::Controller& net) {
  auto filters = [](const Request& req) {
    auto fj = json::parse(req.Query("filters", "{}"), nullptr, false);
    return fj.is_object() ? fj : json::object();
  };
  r.Add("GET", "/networks", [&net, filters](Request& req, Conn& c) {
    auto list = net.ListNetworks(filters(req));
    if (!list.ok()) c.SendError(list.status());
    else c.SendJson(200, *list);
  });
  r.Add("POST", "/networks/create", [&net](Request& req, Conn& c) {
    auto body = req.Json();
    if (!body.ok()) {
      c.SendError(body.status());
      return;
    }
    auto res = net.CreateNetwork(*body);
    if (!res.ok()) c.SendError(res.status());
    else c.SendJson(201, *res);
  });
  r.Add("POST", "/networks/prune", [&net, filters](Request& req, Conn& c) {
    auto res = net.Prune(filters(req));
    if (!res.ok()) c.SendError(res.status());
    else c.SendJson(200, *res);
  });
  r.Add("GET", "/networks/{id}", [&net](Request& req, Conn& c) {
    auto res = net.InspectNetwork(req.params["id"]);
    if (!res.ok()) c.SendError(res.status());
    else c.SendJson(200, *res);
  });
  r.Add("DELETE", "/networks/{id}", [&net](Request& req, Conn& c) {
    Status st = net.RemoveNetwork(req.params["id"]);
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(204);
  });
  r.Add("POST", "/networks/{id}/connect", [&net](Request& req, Conn& c) {
    auto body = req.Json();
    if (!body.ok()) {
      c.SendError(body.status());
      return;
    }
    Status st = net.Connect(req.params["id"], body->value("Container", ""),
                            body->value("EndpointConfig", json::object()));
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(200);
  });
  r.Add("POST", "/networks/{id}/disconnect", [&net](Request& req, Conn& c) {
    auto body = req.Json();
    if (!body.ok()) {
      c.SendError(body.status());
      return;
    }
    Status st = net.Disconnect(req.params["id"], body->value("Container", ""), body->value("Force", false));
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(200);
  });
}

}  // namespace berth::api
