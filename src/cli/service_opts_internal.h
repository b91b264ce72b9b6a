#pragma once
// Helpers shared by service create's spec building (service_opts.cc) and service update's
// merge (service_update.cc); not for other callers.

#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "cli/flags.h"
#include "cli/service_opts.h"
#include "common/status.h"
#include "spec/service.h"

namespace berth::cli::service_internal {

// opts.ConvertKVStringsToMap: "k=v" (or "k") strings as a map.
spec::StringMap KvMap(const std::vector<std::string>& kvs);
// The key of "KEY=value".
std::string EnvKey(const std::string& v);
// --env's value: a bare KEY takes this process's value when set (opts.ValidateEnv).
std::string ValidatedEnv(const std::string& v);
// opts.CapabilitiesMap: "net_admin" -> "CAP_NET_ADMIN"; ALL and RESET kept.
std::set<std::string> CapSet(const std::vector<std::string>& caps);
// --ulimit values by name (a later one replaces), sorted by name.
StatusOr<std::vector<spec::ServiceUlimit>> Ulimits(const std::vector<std::string>& values);
// "host:ip" -> swarmkit's "ip host".
std::vector<std::string> SwarmHosts(const std::vector<std::string>& extra);
// swarmkit's default UpdateConfig / RollbackConfig and RestartPolicy.
spec::ServiceUpdateConfig UpdateDefaults();
spec::ServiceRestartPolicy DefaultRestartPolicy();
bool AnyChanged(const FlagSet& f, std::initializer_list<const char*> names);
// The --restart-* flags that were given, onto p.
void ApplyRestartFlags(const ServiceOptions& o, const FlagSet& f, spec::ServiceRestartPolicy* p);
// --secret / --config values resolved to references with IDs (docker's ParseSecrets/ParseConfigs).
StatusOr<std::vector<spec::SecretReference>> ResolveSecrets(const std::vector<std::string>& flags,
                                                            ServiceLookups& lookups);
StatusOr<std::vector<spec::ServiceConfigReference>> ResolveConfigs(
    const std::vector<std::string>& flags, ServiceLookups& lookups);
// All --publish values' ports.
StatusOr<std::vector<spec::ServicePortConfig>> Ports(const std::vector<std::string>& flags);

}  // namespace berth::cli::service_internal
