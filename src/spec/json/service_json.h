#pragma once
// Service, task, secret and config values as Docker's JSON (spec/service.h): parsers with Go's /
// Docker 20.10's wording (InvalidArgument, 400) and renderers in moby's key order. The daemon
// parses requests and renders answers; the berth CLI renders requests and parses answers; the
// cluster store keeps service, task, secret and config records in this same JSON, and the
// cluster port carries tasks in it.

#include <string_view>
#include <vector>

#include "common/status.h"
#include "nlohmann/json.hpp"
#include "spec/service.h"

namespace berth::spec {

// Request bodies. An empty body is "got EOF while reading request body".
StatusOr<ServiceSpec> ParseServiceSpec(std::string_view body);  // POST /services/create, update
StatusOr<SecretSpec> ParseSecretSpec(std::string_view body);    // POST /secrets/create, update
StatusOr<ConfigSpec> ParseConfigSpec(std::string_view body);    // POST /configs/create, update

// Answers and stored records.
StatusOr<Service> ParseService(std::string_view text);
StatusOr<std::vector<Service>> ParseServices(std::string_view text);
StatusOr<Task> ParseTask(std::string_view text);
StatusOr<std::vector<Task>> ParseTasks(std::string_view text);
StatusOr<Secret> ParseSecret(std::string_view text);
StatusOr<std::vector<Secret>> ParseSecrets(std::string_view text);
StatusOr<Config> ParseConfig(std::string_view text);
StatusOr<std::vector<Config>> ParseConfigs(std::string_view text);
StatusOr<ServiceCreateResponse> ParseServiceCreateResponse(std::string_view text);
StatusOr<ServiceUpdateResponse> ParseServiceUpdateResponse(std::string_view text);
StatusOr<IdResponse> ParseIdResponse(std::string_view text);  // secret/config create answers

nlohmann::ordered_json RenderServiceSpec(const ServiceSpec& s);
nlohmann::ordered_json RenderTaskSpec(const TaskSpec& s);
nlohmann::ordered_json RenderService(const Service& s);
nlohmann::ordered_json RenderTask(const Task& t);
nlohmann::ordered_json RenderSecretSpec(const SecretSpec& s);
nlohmann::ordered_json RenderSecret(const Secret& s);
nlohmann::ordered_json RenderConfigSpec(const ConfigSpec& s);
nlohmann::ordered_json RenderConfig(const Config& c);
nlohmann::ordered_json RenderServiceCreateResponse(const ServiceCreateResponse& r);
nlohmann::ordered_json RenderServiceUpdateResponse(const ServiceUpdateResponse& r);
nlohmann::ordered_json RenderIdResponse(const IdResponse& r);

// What Docker 20.10 refuses before storing a spec (service_validate.cc), in its order and
// words: the daemon's own checks as plain InvalidArgument ("invalid RestartCondition: \"x\"",
// "must specify only one service mode"), swarmkit's as the API shows gRPC errors
// ("rpc error: code = InvalidArgument desc = ContainerSpec: image reference must be
// provided"; an invalid constraint is code Unknown, a 500, as in Docker). Checks that need the
// store (published-port conflicts with other services, secrets and configs that exist, the
// ingress network) are the caller's. An empty service name passes: the daemon names an
// unnamed service before swarmkit sees it.
Status ValidateServiceSpec(const ServiceSpec& spec);
// POST /services/{id}/update: ValidateServiceSpec(next), then swarmkit's refusals of a
// rename, a mode change and a change of the deprecated Spec.Networks alone (Unimplemented,
// 501).
Status ValidateServiceUpdate(const ServiceSpec& current, const ServiceSpec& next);
// POST /secrets/create, /configs/create: the name ("invalid name, only 64 [a-zA-Z0-9-_.]
// characters allowed, ..."), the data's size, a secret driver's name.
Status ValidateSecretSpec(const SecretSpec& spec);
Status ValidateConfigSpec(const ConfigSpec& spec);

}  // namespace berth::spec
