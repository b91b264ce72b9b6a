// /volumes: Docker's volume routes over the container manager's VolumeStore (engine/volumes.h).

#include "absl/time/time.h"
#include "api/render.h"
#include "api/routes.h"

namespace berth::api {
namespace {

OrderedJson Labels(const std::optional<spec::StringMap>& m) {
  return m ? OrderedJson(*m) : OrderedJson(nullptr);
}

OrderedJson RenderVolume(const engine::Volume& v) {
  // The local driver's CreatedAt: RFC 3339 to the second.
  std::string created = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixNanos(v.created),
                                         absl::UTCTimeZone());
  return OrderedJson{{"CreatedAt", created},    {"Driver", v.driver},
                     {"Labels", Labels(v.labels)}, {"Mountpoint", v.mountpoint},
                     {"Name", v.name},          {"Options", Labels(v.options)},
                     {"Scope", "local"}};
}

// A JSON object of strings, or null; anything else is Go's unmarshal error.
StatusOr<std::optional<spec::StringMap>> StringMapField(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<spec::StringMap>();
  spec::StringMap out;
  bool ok = it->is_object();
  if (ok)
    for (auto& [k, v] : it->items()) {
      if (!v.is_string()) {
        ok = false;
        break;
      }
      out[k] = v.get<std::string>();
    }
  if (!ok)
    return absl::InvalidArgumentError(std::string("json: cannot unmarshal ") + it->type_name() +
                                      " into Go struct field VolumeCreateBody." + key +
                                      " of type map[string]string");
  return std::optional<spec::StringMap>(std::move(out));
}

StatusOr<std::string> StringField(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::string();
  if (!it->is_string())
    return absl::InvalidArgumentError(std::string("json: cannot unmarshal ") + it->type_name() +
                                      " into Go struct field VolumeCreateBody." + key +
                                      " of type string");
  return it->get<std::string>();
}

StatusOr<engine::VolumeCreateRequest> ParseCreate(const Request& req) {
  ASSIGN_OR_RETURN(nlohmann::json body, req.Json());
  if (!body.is_object())
    return absl::InvalidArgumentError(std::string("json: cannot unmarshal ") + body.type_name() +
                                      " into Go value of type volume.VolumeCreateBody");
  engine::VolumeCreateRequest r;
  ASSIGN_OR_RETURN(r.name, StringField(body, "Name"));
  ASSIGN_OR_RETURN(r.driver, StringField(body, "Driver"));
  ASSIGN_OR_RETURN(r.driver_opts, StringMapField(body, "DriverOpts"));
  ASSIGN_OR_RETURN(r.labels, StringMapField(body, "Labels"));
  return r;
}

}  // namespace

void AddVolumeRoutes(Router& r, Backend& b) {
  engine::VolumeStore& vols = b.containers.Volumes();
  r.Add("GET", "/volumes", [&vols](Request& req, Conn& c) {
    auto filters = RequestFilters(req);
    if (!filters.ok()) {
      c.SendError(filters.status());
      return;
    }
    auto list = vols.List(*filters);
    if (!list.ok()) {
      c.SendError(list.status());
      return;
    }
    OrderedJson out = OrderedJson::array();
    for (auto& v : *list) out.push_back(RenderVolume(v));
    SendOrdered(c, 200, OrderedJson{{"Volumes", out}, {"Warnings", nullptr}});
  });
  r.Add("POST", "/volumes/create", [&vols](Request& req, Conn& c) {
    auto body = ParseCreate(req);
    if (!body.ok()) {
      c.SendError(body.status());
      return;
    }
    auto v = vols.Create(*body);
    if (!v.ok()) c.SendError(v.status());
    else SendOrdered(c, 201, RenderVolume(*v));
  });
  r.Add("POST", "/volumes/prune", [&vols](Request& req, Conn& c) {
    auto filters = RequestFilters(req);
    if (!filters.ok()) {
      c.SendError(filters.status());
      return;
    }
    auto res = vols.Prune(*filters);
    if (!res.ok()) {
      c.SendError(res.status());
      return;
    }
    SendOrdered(c, 200,
                OrderedJson{{"VolumesDeleted", res->deleted.empty() ? OrderedJson(nullptr)
                                                                    : OrderedJson(res->deleted)},
                            {"SpaceReclaimed", res->space_reclaimed}});
  });
  r.Add("GET", "/volumes/{name}", [&vols](Request& req, Conn& c) {
    auto v = vols.Get(req.params["name"]);
    if (!v.ok()) c.SendError(v.status());
    else SendOrdered(c, 200, RenderVolume(*v));
  });
  r.Add("DELETE", "/volumes/{name}", [&vols](Request& req, Conn& c) {
    Status st = vols.Remove(req.params["name"], req.QueryBool("force"));
    if (!st.ok()) c.SendError(st);
    else c.SendEmpty(204);
  });
}

}  // namespace berth::api
