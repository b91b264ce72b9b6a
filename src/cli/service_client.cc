#include "cli/service_client.h"

#include "absl/strings/str_cat.h"
#include "cli/registry_auth.h"
#include "cli/swarm_client.h"
#include "spec/json/go_codec.h"
#include "spec/json/service_json.h"

namespace berth::cli {
namespace {

// A daemon answer that is not the JSON it should be.
Status BadAnswer(const Status& s) {
  return absl::Status(s.code(),
                      absl::StrCat("Error: unexpected response from daemon: ", s.message()));
}

template <class T>
StatusOr<T> Parsed(StatusOr<T> v) {
  if (!v.ok()) return BadAnswer(v.status());
  return v;
}

std::string FiltersQuery(const Filters& filters) {
  return client::QueryEscape(client::DumpJson(client::FiltersJson(filters)));
}

std::string Body(const nlohmann::ordered_json& j) { return spec::json::Dump(j); }

client::RequestOptions AuthHeader(const std::string& encoded_auth) {
  client::RequestOptions o;
  if (!encoded_auth.empty()) o.headers["X-Registry-Auth"] = encoded_auth;
  return o;
}

std::string Familiar(const ImageRef& r) {
  std::string s = r.FamiliarName();
  if (!r.tag.empty()) s += ":" + r.tag;
  if (!r.digest.empty()) s += "@" + r.digest;
  return s;
}

// resolveContainerSpecImage: pins the image to the registry's digest, or says why it could not.
std::string ResolveImage(const client::Client& api, spec::TaskSpec* task,
                         const std::string& encoded_auth) {
  std::string& image = task->container_spec->image;
  auto r = api.Call("GET", "/distribution/" + image + "/json", {}, AuthHeader(encoded_auth));
  if (!r.ok()) return DigestWarning(image);
  auto j = r->Json();
  if (!j.ok() || !j->is_object()) return DigestWarning(image);
  std::string digest;
  if (auto d = j->find("Descriptor"); d != j->end() && d->is_object()) {
    digest = d->value("digest", "");
  }
  auto ref = ParseImageRef(image);
  if (ref.ok() && ref->digest.empty() && !digest.empty()) {
    ref->digest = digest;
    image = Familiar(*ref);
  }
  std::vector<spec::Platform> platforms;
  if (auto p = j->find("Platforms"); p != j->end() && p->is_array()) {
    for (const auto& pl : *p) {
      std::string arch = pl.value("architecture", "");
      // docker clears "arm": nodes report "armv7l" and would never match.
      if (arch == "arm" || arch == "ARM") arch.clear();
      platforms.push_back(spec::Platform{arch, pl.value("os", "")});
    }
  }
  if (!platforms.empty()) {
    if (!task->placement) task->placement.emplace();
    task->placement->platforms = platforms;
  }
  return "";
}

}  // namespace

StatusOr<std::string> InspectServiceRaw(const client::Client& api, const std::string& ref,
                                        bool insert_defaults) {
  ASSIGN_OR_RETURN(client::Response r,
                   api.Call("GET", absl::StrCat("/services/", client::QueryEscape(ref),
                                                "?insertDefaults=",
                                                insert_defaults ? "true" : "false")));
  return r.body;
}

StatusOr<spec::Service> InspectService(const client::Client& api, const std::string& ref,
                                       bool insert_defaults) {
  ASSIGN_OR_RETURN(std::string body, InspectServiceRaw(api, ref, insert_defaults));
  return Parsed(spec::ParseService(body));
}

StatusOr<std::vector<spec::Service>> ListServices(const client::Client& api,
                                                  const Filters& filters, bool status) {
  std::string path = "/services";
  std::string sep = "?";
  if (!filters.empty()) {
    path += sep + "filters=" + FiltersQuery(filters);
    sep = "&";
  }
  if (status) path += sep + "status=true";
  ASSIGN_OR_RETURN(client::Response r, api.Call("GET", path));
  return Parsed(spec::ParseServices(r.body));
}

StatusOr<std::vector<spec::Task>> ListTasks(const client::Client& api, const Filters& filters) {
  std::string path = "/tasks";
  if (!filters.empty()) path += "?filters=" + FiltersQuery(filters);
  ASSIGN_OR_RETURN(client::Response r, api.Call("GET", path));
  return Parsed(spec::ParseTasks(r.body));
}

std::string ImageWithTag(const std::string& image) {
  auto ref = ParseImageRef(image);
  if (!ref.ok()) return image;
  if (ref->tag.empty() && ref->digest.empty()) ref->tag = "latest";
  return Familiar(*ref);
}

std::string DigestWarning(const std::string& image) {
  return absl::StrCat("image ", image,
                      " could not be accessed on a registry to record\nits digest. Each node "
                      "will access ",
                      image,
                      " independently,\npossibly leading to different nodes running different\n"
                      "versions of the image.\n");
}

StatusOr<spec::ServiceCreateResponse> CreateService(const client::Client& api,
                                                    spec::ServiceSpec spec,
                                                    const std::string& encoded_auth,
                                                    bool query_registry) {
  std::string warning;
  if (spec.task_template.container_spec) {
    std::string& image = spec.task_template.container_spec->image;
    image = ImageWithTag(image);
    if (query_registry) warning = ResolveImage(api, &spec.task_template, encoded_auth);
  }
  ASSIGN_OR_RETURN(client::Response r, api.Call("POST", "/services/create",
                                                Body(spec::RenderServiceSpec(spec)),
                                                AuthHeader(encoded_auth)));
  ASSIGN_OR_RETURN(spec::ServiceCreateResponse created,
                   Parsed(spec::ParseServiceCreateResponse(r.body)));
  if (!warning.empty()) created.warnings.push_back(warning);
  return created;
}

StatusOr<spec::ServiceUpdateResponse> UpdateService(const client::Client& api,
                                                    const std::string& id, uint64_t version,
                                                    spec::ServiceSpec spec,
                                                    const ServiceUpdateOptions& options) {
  std::string warning;
  if (spec.task_template.container_spec) {
    std::string& image = spec.task_template.container_spec->image;
    image = ImageWithTag(image);
    if (options.query_registry) {
      warning = ResolveImage(api, &spec.task_template, options.encoded_auth);
    }
  }
  // url.Values.Encode: keys sorted.
  std::string query;
  if (!options.registry_auth_from.empty()) {
    query += "registryAuthFrom=" + client::QueryEscape(options.registry_auth_from) + "&";
  }
  if (!options.rollback.empty()) query += "rollback=" + client::QueryEscape(options.rollback) + "&";
  query += absl::StrCat("version=", version);
  ASSIGN_OR_RETURN(client::Response r,
                   api.Call("POST",
                            absl::StrCat("/services/", client::QueryEscape(id), "/update?", query),
                            Body(spec::RenderServiceSpec(spec)), AuthHeader(options.encoded_auth)));
  ASSIGN_OR_RETURN(spec::ServiceUpdateResponse updated,
                   Parsed(spec::ParseServiceUpdateResponse(r.body)));
  if (!warning.empty()) updated.warnings.push_back(warning);
  return updated;
}

StatusOr<std::vector<spec::Secret>> ListSecrets(const client::Client& api, const Filters& filters) {
  std::string path = "/secrets";
  if (!filters.empty()) path += "?filters=" + FiltersQuery(filters);
  ASSIGN_OR_RETURN(client::Response r, api.Call("GET", path));
  return Parsed(spec::ParseSecrets(r.body));
}

StatusOr<std::vector<spec::Config>> ListConfigs(const client::Client& api, const Filters& filters) {
  std::string path = "/configs";
  if (!filters.empty()) path += "?filters=" + FiltersQuery(filters);
  ASSIGN_OR_RETURN(client::Response r, api.Call("GET", path));
  return Parsed(spec::ParseConfigs(r.body));
}

StatusOr<std::string> ApiServiceLookups::NetworkId(const std::string& name_or_id) {
  ASSIGN_OR_RETURN(client::Response r,
                   api_.Call("GET", "/networks/" + client::QueryEscape(name_or_id) + "?scope=swarm"));
  ASSIGN_OR_RETURN(nlohmann::json j, r.Json());
  if (!j.is_object() || !j.contains("Id") || !j["Id"].is_string()) {
    return BadAnswer(absl::InvalidArgumentError(r.body));
  }
  return j["Id"].get<std::string>();
}

StatusOr<std::map<std::string, std::string>> ApiServiceLookups::SecretIds(
    const std::vector<std::string>& names) {
  ASSIGN_OR_RETURN(auto secrets, ListSecrets(api_, Filters{{"name", names}}));
  std::map<std::string, std::string> out;
  for (const auto& s : secrets) out[s.spec.annotations.name] = s.id;
  return out;
}

StatusOr<std::map<std::string, std::string>> ApiServiceLookups::ConfigIds(
    const std::vector<std::string>& names) {
  ASSIGN_OR_RETURN(auto configs, ListConfigs(api_, Filters{{"name", names}}));
  std::map<std::string, std::string> out;
  for (const auto& c : configs) out[c.spec.annotations.name] = c.id;
  return out;
}

StatusOr<spec::Service> ApiProgressSource::InspectService(const std::string& ref) {
  return cli::InspectService(api_, ref, false);
}

StatusOr<std::vector<spec::Task>> ApiProgressSource::UpToDateTasks(const std::string& service_id) {
  return ListTasks(api_, Filters{{"_up-to-date", {"true"}}, {"service", {service_id}}});
}

StatusOr<std::set<std::string>> ApiProgressSource::ActiveNodes() {
  ASSIGN_OR_RETURN(std::vector<spec::Node> nodes, ListNodes(api_, {}));
  std::set<std::string> out;
  for (const auto& n : nodes) {
    if (n.status.state != "down") out.insert(n.id);
  }
  return out;
}

}  // namespace berth::cli
