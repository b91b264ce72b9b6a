#pragma once
// The Repository of one registry endpoint (internal to the client; Registries builds them):
// the Registry HTTP API v2 calls over an HttpClient, with authentication, redirects and
// Docker's error texts.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/transport/http_client.h"
#include "registry/client/registry.h"

namespace berth::registry {

struct Endpoint {
  std::string host;  // "127.0.0.1", "registry-1.docker.io", "::1"
  int port = 0;      // 0: the scheme's default
  // Insecure registries (loopback, insecure-registries) are tried over HTTPS without checking
  // the certificate and then over plain HTTP, as Docker; a secure one over HTTPS only.
  std::function<bool()> insecure;
  std::string mirror_path;  // a mirror's base path ("" or "/prefix"), in front of /v2/
};

std::unique_ptr<Repository> NewEndpointRepository(Endpoint ep, const Reference& ref,
                                                  const AuthConfig& auth,
                                                  std::vector<std::string> scopes,
                                                  http::HttpOptions http_opts,
                                                  http::TlsFor tls_for);

// docker login against one endpoint: GET /v2/ with the credentials. The identity token the
// token server issued, if any; Docker's "login attempt to ... failed with status: 401
// Unauthorized" (Unauthenticated) when the registry refuses.
StatusOr<std::string> LoginEndpoint(Endpoint ep, const AuthConfig& auth,
                                    http::HttpOptions http_opts, http::TlsFor tls_for);

// Tries each repository in turn (registry mirrors, then the registry itself) and keeps to the
// first that answers; a digest mismatch or a cancel is not a reason to try the next.
std::unique_ptr<Repository> NewFallbackRepository(std::vector<std::unique_ptr<Repository>> repos);

}  // namespace berth::registry
