// Placeholder until the service codecs land (issue 11).
#include "spec/json/service_json.h"

namespace berth::spec {
namespace {
Status Todo() { return Status(absl::StatusCode::kUnimplemented, "service codecs: not yet"); }
}  // namespace
StatusOr<ServiceSpec> ParseServiceSpec(std::string_view) { return Todo(); }
StatusOr<SecretSpec> ParseSecretSpec(std::string_view) { return Todo(); }
StatusOr<ConfigSpec> ParseConfigSpec(std::string_view) { return Todo(); }
StatusOr<Service> ParseService(std::string_view) { return Todo(); }
StatusOr<std::vector<Service>> ParseServices(std::string_view) { return Todo(); }
StatusOr<Task> ParseTask(std::string_view) { return Todo(); }
StatusOr<std::vector<Task>> ParseTasks(std::string_view) { return Todo(); }
StatusOr<Secret> ParseSecret(std::string_view) { return Todo(); }
StatusOr<std::vector<Secret>> ParseSecrets(std::string_view) { return Todo(); }
StatusOr<Config> ParseConfig(std::string_view) { return Todo(); }
StatusOr<std::vector<Config>> ParseConfigs(std::string_view) { return Todo(); }
StatusOr<ServiceCreateResponse> ParseServiceCreateResponse(std::string_view) { return Todo(); }
StatusOr<ServiceUpdateResponse> ParseServiceUpdateResponse(std::string_view) { return Todo(); }
Status ValidateServiceSpec(const ServiceSpec&) { return absl::OkStatus(); }
nlohmann::ordered_json RenderServiceSpec(const ServiceSpec&) { return {}; }
nlohmann::ordered_json RenderTaskSpec(const TaskSpec&) { return {}; }
nlohmann::ordered_json RenderService(const Service&) { return {}; }
nlohmann::ordered_json RenderTask(const Task&) { return {}; }
nlohmann::ordered_json RenderSecretSpec(const SecretSpec&) { return {}; }
nlohmann::ordered_json RenderSecret(const Secret&) { return {}; }
nlohmann::ordered_json RenderConfigSpec(const ConfigSpec&) { return {}; }
nlohmann::ordered_json RenderConfig(const Config&) { return {}; }
nlohmann::ordered_json RenderServiceCreateResponse(const ServiceCreateResponse&) { return {}; }
nlohmann::ordered_json RenderServiceUpdateResponse(const ServiceUpdateResponse&) { return {}; }
}  // namespace berth::spec
