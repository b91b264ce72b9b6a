#include "spec/json/service_json.h"

#include "spec/json/service_codecs.h"

namespace berth::spec {

using json::Json;

namespace {
// moby 20.10's service, secret and config routes answer an empty body with this instead of
// Go's "EOF".
constexpr std::string_view kEofMessage = "got EOF while reading request body";
}  // namespace

StatusOr<ServiceSpec> ParseServiceSpec(std::string_view body) {
  return json::ParseRequestBody(body, json::ServiceSpecCodec(), kEofMessage);
}

StatusOr<SecretSpec> ParseSecretSpec(std::string_view body) {
  return json::ParseRequestBody(body, json::SecretSpecCodec(), kEofMessage);
}

StatusOr<ConfigSpec> ParseConfigSpec(std::string_view body) {
  return json::ParseRequestBody(body, json::ConfigSpecCodec(), kEofMessage);
}

StatusOr<Service> ParseService(std::string_view text) {
  return json::ParseRequestBody(text, json::ServiceCodec());
}

StatusOr<std::vector<Service>> ParseServices(std::string_view text) {
  return json::ParseRequestBody(text, json::Slice(json::ServiceCodec(), "[]swarm.Service"));
}

StatusOr<Task> ParseTask(std::string_view text) {
  return json::ParseRequestBody(text, json::TaskCodec());
}

StatusOr<std::vector<Task>> ParseTasks(std::string_view text) {
  return json::ParseRequestBody(text, json::Slice(json::TaskCodec(), "[]swarm.Task"));
}

StatusOr<Secret> ParseSecret(std::string_view text) {
  return json::ParseRequestBody(text, json::SecretCodec());
}

StatusOr<std::vector<Secret>> ParseSecrets(std::string_view text) {
  return json::ParseRequestBody(text, json::Slice(json::SecretCodec(), "[]swarm.Secret"));
}

StatusOr<Config> ParseConfig(std::string_view text) {
  return json::ParseRequestBody(text, json::ConfigCodec());
}

StatusOr<std::vector<Config>> ParseConfigs(std::string_view text) {
  return json::ParseRequestBody(text, json::Slice(json::ConfigCodec(), "[]swarm.Config"));
}

StatusOr<ServiceCreateResponse> ParseServiceCreateResponse(std::string_view text) {
  return json::ParseRequestBody(text, json::ServiceCreateResponseCodec());
}

StatusOr<ServiceUpdateResponse> ParseServiceUpdateResponse(std::string_view text) {
  return json::ParseRequestBody(text, json::ServiceUpdateResponseCodec());
}

StatusOr<IdResponse> ParseIdResponse(std::string_view text) {
  return json::ParseRequestBody(text, json::IdResponseCodec());
}

Json RenderServiceSpec(const ServiceSpec& s) { return json::ServiceSpecCodec().encode(s); }

Json RenderTaskSpec(const TaskSpec& s) { return json::TaskSpecCodec().encode(s); }

Json RenderService(const Service& s) { return json::ServiceCodec().encode(s); }

Json RenderTask(const Task& t) { return json::TaskCodec().encode(t); }

Json RenderSecretSpec(const SecretSpec& s) { return json::SecretSpecCodec().encode(s); }

Json RenderSecret(const Secret& s) { return json::SecretCodec().encode(s); }

Json RenderConfigSpec(const ConfigSpec& s) { return json::ConfigSpecCodec().encode(s); }

Json RenderConfig(const Config& c) { return json::ConfigCodec().encode(c); }

Json RenderServiceCreateResponse(const ServiceCreateResponse& r) {
  return json::ServiceCreateResponseCodec().encode(r);
}

Json RenderServiceUpdateResponse(const ServiceUpdateResponse& r) {
  return json::ServiceUpdateResponseCodec().encode(r);
}

Json RenderIdResponse(const IdResponse& r) { return json::IdResponseCodec().encode(r); }

}  // namespace berth::spec
