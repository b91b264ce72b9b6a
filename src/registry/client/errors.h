#pragma once
// A registry's error answers in Docker's words. A registry explains a 4xx with a JSON body
// ({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":...}]}), which
// distribution's errcode package renders "<code in lower case, words>: <message>" ("manifest
// unknown: manifest unknown", "unauthorized: authentication required", "denied: requested
// access to the resource is denied", "blob unknown: blob unknown to registry"); a bearer
// challenge's error="invalid_token"/"insufficient_scope" counts as unauthorized/denied; a body
// that says nothing is "unauthorized: authentication required" for a 401 and "error parsing HTTP
// 404 response body: ..." otherwise; a 5xx is "received unexpected HTTP status: 500 Internal
// Server Error". The status maps to the absl code: 400 InvalidArgument, 401 Unauthenticated,
// 403 PermissionDenied, 404 NotFound, 409 AlreadyExists... 429 ResourceExhausted, 5xx Unavailable.

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/text.h"

namespace berth::registry {

// A registry's HTTP error status as a code: every 5xx is Unavailable (worth a retry).
inline absl::StatusCode CodeForHttpStatus(int status) {
  return berth::CodeForHttpStatus(status, absl::StatusCode::kUnavailable);
}

// distribution's errcode rendering of an error body ("manifest unknown: manifest unknown"; several
// errors as "errors:\n<one>\n<two>\n"), with the WWW-Authenticate headers for bearer errors.
std::string RenderRegistryError(int status, std::string_view reason,
                                const std::vector<std::string>& www_authenticate,
                                std::string_view body);

// Both together: the Status for an unexpected answer.
Status RegistryError(int status, std::string_view reason,
                     const std::vector<std::string>& www_authenticate, std::string_view body);

}  // namespace berth::registry
