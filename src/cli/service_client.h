#pragma once
// Typed calls of the service, task, secret and config endpoints for the CLI, as docker's Go
// client (moby client/service_*.go, task_*.go, secret_*.go, config_*.go) makes them: requests
// rendered and answers parsed with spec/json/service_json.h.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "api/client/client.h"
#include "cli/service_opts.h"
#include "cli/service_progress.h"
#include "common/status.h"
#include "spec/service.h"

namespace berth::cli {

using Filters = std::map<std::string, std::vector<std::string>>;

// GET /services/{ref}?insertDefaults=...; the raw answer too for inspect.
StatusOr<spec::Service> InspectService(const client::Client& api, const std::string& ref,
                                       bool insert_defaults);
StatusOr<std::string> InspectServiceRaw(const client::Client& api, const std::string& ref,
                                        bool insert_defaults);
// GET /services[?filters=..][&status=true]
StatusOr<std::vector<spec::Service>> ListServices(const client::Client& api,
                                                  const Filters& filters, bool status);
// GET /tasks?filters=...
StatusOr<std::vector<spec::Task>> ListTasks(const client::Client& api, const Filters& filters);

// The image as the client sends it: familiar, with ":latest" when it has neither tag nor
// digest ("web" -> "web:latest"); unchanged when it does not parse.
std::string ImageWithTag(const std::string& image);
// docker's warning when the registry cannot be asked for the image's digest.
std::string DigestWarning(const std::string& image);

// POST /services/create (X-Registry-Auth when encoded_auth is set). With query_registry the
// client first asks GET /distribution/{image}/json: its digest pins the image
// ("web:latest@sha256:..."), its platforms become placement platforms; when that fails the
// answer carries DigestWarning. Returns the answer, warnings in docker's order.
StatusOr<spec::ServiceCreateResponse> CreateService(const client::Client& api,
                                                    spec::ServiceSpec spec,
                                                    const std::string& encoded_auth,
                                                    bool query_registry);

struct ServiceUpdateOptions {
  std::string encoded_auth;       // X-Registry-Auth
  std::string registry_auth_from;  // "spec", "previous-spec" or ""
  std::string rollback;           // "previous" or ""
  bool query_registry = false;
};
// POST /services/{id}/update?registryAuthFrom=..&rollback=..&version=N
StatusOr<spec::ServiceUpdateResponse> UpdateService(const client::Client& api,
                                                    const std::string& id, uint64_t version,
                                                    spec::ServiceSpec spec,
                                                    const ServiceUpdateOptions& options);

StatusOr<std::vector<spec::Secret>> ListSecrets(const client::Client& api, const Filters& filters);
StatusOr<std::vector<spec::Config>> ListConfigs(const client::Client& api, const Filters& filters);

// The daemon behind ServiceLookups and ServiceProgressSource.
class ApiServiceLookups : public ServiceLookups {
 public:
  explicit ApiServiceLookups(const client::Client& api) : api_(api) {}
  StatusOr<std::string> NetworkId(const std::string& name_or_id) override;
  StatusOr<std::map<std::string, std::string>> SecretIds(
      const std::vector<std::string>& names) override;
  StatusOr<std::map<std::string, std::string>> ConfigIds(
      const std::vector<std::string>& names) override;

 private:
  const client::Client& api_;
};

class ApiProgressSource : public ServiceProgressSource {
 public:
  explicit ApiProgressSource(const client::Client& api) : api_(api) {}
  StatusOr<spec::Service> InspectService(const std::string& ref) override;
  StatusOr<std::vector<spec::Task>> UpToDateTasks(const std::string& service_id) override;
  StatusOr<std::set<std::string>> ActiveNodes() override;

 private:
  const client::Client& api_;
};

}  // namespace berth::cli
