// Placeholder until the registry client lands (issue 9): every call is Unimplemented.
#include "registry/client/registry.h"

namespace berth::registry {

bool AuthConfig::empty() const {
  return username.empty() && password.empty() && auth.empty() && identity_token.empty() &&
         registry_token.empty();
}
StatusOr<AuthConfig> DecodeRegistryAuth(std::string_view header) {
  if (header.empty()) return AuthConfig{};
  return absl::UnimplementedError("X-Registry-Auth is not read yet");
}
Registries::Registries(RegistryOptions opts) : opts_(std::move(opts)) {}
StatusOr<std::unique_ptr<Repository>> Registries::Open(const Reference&, const AuthConfig&, Access,
                                                       const std::vector<std::string>&) {
  return absl::UnimplementedError("registries are not reachable yet");
}
StatusOr<std::string> Registries::Login(const AuthConfig&) {
  return absl::UnimplementedError("registries are not reachable yet");
}

}  // namespace berth::registry
