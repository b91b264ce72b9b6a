// /networks: the node's networks from the network controller and, on a swarm manager, the swarm's
// networks from the cluster store (scope "swarm"). A swarm network present on this node is shown
// once, as the controller sees it (with its containers here).

#include <set>

#include "api/render.h"
#include "api/routes.h"
#include "cluster/cluster.h"
#include "engine/host_options.h"
#include "network/network_service.h"
#include "spec/json/network_json.h"

namespace berth::api {
namespace {

// The cluster when this node is a manager (the swarm's networks are read there), else null.
cluster::Cluster* Manager(Backend& b) {
  return b.cluster != nullptr && b.cluster->IsManager() ? b.cluster : nullptr;
}

bool SwarmScoped(const spec::NetworkCreateRequest& r) {
  return r.driver == "overlay" || r.scope == "swarm" || r.ingress;
}

bool MatchSwarm(const spec::Filters& f, const cluster::NetworkRecord& n) {
  if (!f.Match("name", n.name) || !f.FuzzyMatch("id", n.id)) return false;
  if (!f.ExactMatch("driver", n.driver) || !f.ExactMatch("scope", "swarm")) return false;
  if (!f.ExactMatch("type", "custom") || !f.MatchKVList("label", n.labels)) return false;
  // dangling=true lists the networks nothing uses: Berth counts a swarm network as used (its
  // services are not consulted here), so it is never dangling.
  bool dangling_only = false;
  (void)f.WalkValues("dangling", [&](const std::string& v) {
    dangling_only |= v == "true" || v == "1";
    return absl::OkStatus();
  });
  return !dangling_only;
}

}  // namespace

void AddNetworkRoutes(Router& r, Backend& b, network::NetworkService& net) {
  r.Add("GET", "/networks", [&net, &b](Request& req, Conn& c) {
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
    std::set<std::string> shown;
    for (auto& n : *list) {
      shown.insert(n.id);
      out.push_back(RenderNetwork(n));
    }
    if (cluster::Cluster* cl = Manager(b)) {
      auto swarm = cl->Networks();
      if (!swarm.ok()) {
        c.SendError(swarm.status());
        return;
      }
      for (const cluster::NetworkRecord& n : *swarm)
        if (!shown.count(n.id) && MatchSwarm(*filters, n)) out.push_back(RenderNetwork(cluster::ViewOf(n)));
    }
    SendOrdered(c, 200, out);
  });
  r.Add("POST", "/networks/create", [&net, &b](Request& req, Conn& c) {
    auto body = spec::ParseNetworkCreate(req.body);
    if (!body.ok()) {
      c.SendError(body.status());
      return;
    }
    if (cluster::Cluster* cl = Manager(b); cl != nullptr && SwarmScoped(*body)) {
      auto id = cl->CreateNetwork(*body);
      if (!id.ok()) c.SendError(id.status());
      else SendOrdered(c, 201, {{"Id", *id}, {"Warning", ""}});
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
  r.Add("GET", "/networks/{id}", [&net, &b](Request& req, Conn& c) {
    auto res = net.InspectNetwork(req.params["id"]);
    cluster::Cluster* cl = Manager(b);
    if (!res.ok() && absl::IsNotFound(res.status()) && cl != nullptr) {
      auto swarm = cl->GetNetwork(req.params["id"]);
      if (swarm.ok()) SendOrdered(c, 200, RenderNetwork(cluster::ViewOf(*swarm)));
      else c.SendError(absl::IsNotFound(swarm.status()) ? res.status() : swarm.status());
      return;
    }
    if (!res.ok()) c.SendError(res.status());
    else SendOrdered(c, 200, RenderNetwork(*res));
  });
  r.Add("DELETE", "/networks/{id}", [&net, &b](Request& req, Conn& c) {
    // A swarm network is removed through the managers, wherever it is present.
    if (cluster::Cluster* cl = Manager(b)) {
      auto swarm = cl->GetNetwork(req.params["id"]);
      if (swarm.ok() || !absl::IsNotFound(swarm.status())) {
        Status st = swarm.ok() ? cl->RemoveNetwork(swarm->id) : swarm.status();
        if (!st.ok()) c.SendError(st);
        else c.SendEmpty(204);
        return;
      }
    }
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
    // The endpoint settings create checks too: refused, never dropped.
    if (body->endpoint_config) {
      spec::NetworkingConfig nc;
      nc.endpoints_config.emplace();
      (*nc.endpoints_config)[req.params["id"]] = *body->endpoint_config;
      if (Status st = engine::VerifyEndpointSettings(nc); !st.ok()) {
        c.SendError(st);
        return;
      }
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
