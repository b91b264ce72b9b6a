// A container's record in the store: its typed specs as Docker's own create body (through the
// spec codec) and its run state. The one file of the container manager that handles JSON.

#include "engine/container_state.h"
#include "nlohmann/json.hpp"
#include "spec/codec.h"

namespace berth::engine {

using nlohmann::json;

namespace {

// State.Health as dockerd stores it.
json HealthDoc(const HealthState& h) {
  json log = json::array();
  for (const HealthResult& r : h.log)
    log.push_back({{"Start", r.start}, {"End", r.end}, {"ExitCode", r.exit_code}, {"Output", r.output}});
  return {{"Status", h.status}, {"FailingStreak", h.failing_streak}, {"Log", log}};
}

HealthState HealthFromDoc(const json& d) {
  HealthState h;
  if (!d.is_object()) return h;
  h.status = d.value("Status", "");
  h.failing_streak = d.value("FailingStreak", 0);
  if (d.contains("Log") && d["Log"].is_array())
    for (const json& r : d["Log"])
      h.log.push_back(HealthResult{r.value("Start", int64_t{0}), r.value("End", int64_t{0}),
                                   r.value("ExitCode", 0), r.value("Output", "")});
  return h;
}

}  // namespace

std::string Container::ToDoc() const {
  spec::ContainerCreateRequest spec{name, config, host_config, networking};
  return json{{"id", id},
              {"name", name},
              {"image_id", image_id},
              {"spec", spec::EncodeContainerCreate(spec)},
              {"path", path},
              {"args", args},
              {"created", created},
              {"status", status},
              {"pid", pid},
              {"exit_code", exit_code},
              {"error", error},
              {"started_at", started_at},
              {"finished_at", finished_at},
              {"restart_count", restart_count},
              {"manually_stopped", manually_stopped},
              {"health", health.status.empty() ? json(nullptr) : HealthDoc(health)},
              {"paused", paused},
              {"links", links}}
      .dump();
}

StatusOr<std::shared_ptr<Container>> Container::FromDoc(const std::string& text) {
  json d = json::parse(text, nullptr, false);
  if (!d.is_object()) return absl::InvalidArgumentError("container record is not a JSON object");
  try {
    auto c = std::make_shared<Container>();
    c->id = d.value("id", "");
    c->name = d.value("name", "");
    c->image_id = d.value("image_id", "");
    std::string spec_text;
    if (d.contains("spec") && d["spec"].is_string()) {
      spec_text = d["spec"].get<std::string>();
    } else {
      // A record of an earlier version: Config, HostConfig and NetworkingConfig as objects.
      json body = d.value("config", json::object());
      body["HostConfig"] = d.value("host_config", json::object());
      body["NetworkingConfig"] = d.value("networking", json::object());
      spec_text = body.dump();
    }
    auto spec = spec::DecodeContainerCreate(spec_text);
    if (!spec.ok()) return Annotate(spec.status(), "container " + c->id);
    c->config = std::move(spec->config);
    c->host_config = spec->host_config.value_or(spec::HostConfig());
    c->networking = spec->networking_config.value_or(spec::NetworkingConfig());
    c->path = d.value("path", "");
    c->args = d.value("args", std::vector<std::string>{});
    c->created = d.value("created", int64_t{0});
    c->status = d.value("status", "created");
    c->pid = d.value("pid", 0);
    c->exit_code = d.value("exit_code", 0);
    c->error = d.value("error", "");
    c->started_at = d.value("started_at", int64_t{0});
    c->finished_at = d.value("finished_at", int64_t{0});
    c->restart_count = d.value("restart_count", 0);
    c->manually_stopped = d.value("manually_stopped", false);
    if (d.contains("health")) c->health = HealthFromDoc(d["health"]);
    c->paused = d.value("paused", false);
    c->links = d.value("links", std::map<std::string, std::string>{});
    return c;
  } catch (const json::exception& e) {
    // A field of the wrong type in our own record: report it, do not throw past this file.
    return absl::InvalidArgumentError(std::string("container record: ") + e.what());
  }
}

}  // namespace berth::engine
