#include "api/render.h"
#include "api/routes.h"
#include "network/network_service.h"
#include "spec/json/network_json.h"

namespace berth::api {

void AddNetworkRoutes(Router& r, Backend& b, network::NetworkService& net) {
  r.Add("GET", "/networks", [&net](Request& req, Conn& c) {
    auto filters = RequestFilters(req);
    if (!filters.ok()) {
      c.SendError(filters.status());
      return;
    }
    auto list = net.ListNetworks(*filters);
    if (!list.ok()) {
      c.SendError(list.status());
      return;
    }
    OrderedJson out = OrderedJson::array();
    for (auto& n : *list) out.push_back(RenderNetwork(n));
    SendOrdered(c, 200, out);
  });
  r.Add("POST", "/networks/create", [&net](Request& req, Conn& c) {
    auto body = spec::ParseNetworkCreate(req.body);
    if (!body.ok()) {
      c.SendError(body.status());
      return;
    }
    auto res = net.CreateNetwork(*body);
    if (!res.ok()) c.SendError(res.status());
    else SendOrdered(c, 201, {{"Id", res->id}, {"Warning", res->warning}});
  });
  r.Add("POST", "/networks/prune", [&net](Request& req, Conn& c) {
    auto filters = RequestFilters(req);
    if (!filters.ok()) {
      c.SendError(filters.status());
      return;
    }
    auto res = net.PruneNetworks(*filters);
    if (!res.ok()) c.SendError(res.status());
    else SendOrdered(c, 200, {{"NetworksDeleted", res->empty() ? OrderedJson(nullptr) : OrderedJson(*res)}});
  });
  r.Add("GET", "/networks/{id}", [&net](Request& req, Conn& c) {
    auto res = net.InspectNetwork(req.params["id"]);
    if (!res.ok()) c.SendError(res.status());
    else SendOrdered(c, 200, RenderNetwork(*res));
  });
  r.Add("DELETE", "/networks/{id}", [&net](Request& req, Conn& c) {
    Status st = net.RemoveNetwork(req.params["id"]);
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(204);
  });
  r.Add("POST", "/networks/{id}/connect", [&net](Request& req, Conn& c) {
    auto body = spec::ParseNetworkConnect(req.body);
    if (!body.ok()) {
      c.SendError(body.status());
      return;
    }
    Status st = net.Connect(req.params["id"], *body);
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(200);
  });
  r.Add("POST", "/networks/{id}/disconnect", [&net](Request& req, Conn& c) {
    auto body = spec::ParseNetworkDisconnect(req.body);
    if (!body.ok()) {
      c.SendError(body.status());
      return;
    }
    Status st = net.Disconnect(req.params["id"], *body);
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(200);
  });
}

}  // namespace berth::api
