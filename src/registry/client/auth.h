#pragma once
// Registry authentication: WWW-Authenticate challenges, basic credentials, and bearer tokens
// from the challenge's realm (the Docker token protocol: GET <realm>?service=&scope=, with basic
// credentials when there are any; or an OAuth2 POST with the identity token as refresh_token).
//
// An Authorizer belongs to one Repository (one registry origin and one set of scopes) and
// caches what the last challenge taught it: the scheme, and for bearer the token and its
// expiry. Its mutex guards that cache only; token requests run without it (two threads that
// both find the token missing may both fetch one, which costs a request and nothing else).

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "api/transport/http_client.h"
#include "registry/client/registry.h"

namespace berth::registry {

struct Challenge {
  std::string scheme;                         // lower case: "basic", "bearer"
  std::map<std::string, std::string> params;  // lower-case names: realm, service, scope, error
};
// One WWW-Authenticate header value: `Bearer realm="https://auth/token",service="reg",
// scope="repository:a/b:pull"` (quoted strings with backslash escapes, or tokens). A header
// that does not parse gives no challenge.
std::vector<Challenge> ParseChallenges(std::string_view header);

// The user name and password of an AuthConfig: its own fields, or its "auth" (base64 of
// "user:password") when the user name is empty. False when it has none.
bool BasicCredentials(const AuthConfig& auth, std::string* user, std::string* password);

std::string Base64Encode(std::string_view data);
// Standard or URL alphabet, padded or not. False on anything else.
bool Base64Decode(std::string_view in, std::string* out);

// "repository:<path>:pull" or ":pull,push".
std::string RepositoryScope(std::string_view path, bool push);

struct Token {
  std::string token;
  std::string refresh_token;  // an identity token to keep (docker login)
  std::chrono::steady_clock::time_point expires;
};
// A token server's answer: {"token"} or {"access_token"}, expires_in (at least 60 s, as
// distribution's client), refresh_token.
StatusOr<Token> ParseTokenResponse(std::string_view body);

class Authorizer {
 public:
  // registry_host_port: Url::HostPort() of the registry (whatever the scheme turns out to be).
  Authorizer(http::HttpClient* client, std::string registry_host_port, AuthConfig auth,
             std::vector<std::string> scopes);

  // The Authorization header for a request to `url` ("" for none, and always for another
  // origin: a redirect to storage does not get the registry's credentials).
  StatusOr<std::string> HeaderFor(const http::Url& url);
  // Learns from a 401's challenges. True when the request is worth sending again with
  // HeaderFor(); false when there is nothing more to try (the 401 itself is the answer); an
  // error when getting credentials failed (a token server's refusal, "no basic auth
  // credentials"), which Go's client reports with the original request in front.
  StatusOr<bool> OnChallenge(const std::vector<std::string>& www_authenticate);
  // The identity token a token server issued (a refresh token), if any.
  std::string refresh_token();

 private:
  StatusOr<Token> FetchToken(const Challenge& c);

  http::HttpClient* client_;
  const std::string host_port_;
  const AuthConfig auth_;
  const std::vector<std::string> scopes_;

  absl::Mutex mu_;
  std::string scheme_ ABSL_GUARDED_BY(mu_);  // "", "basic", "bearer"
  Challenge bearer_ ABSL_GUARDED_BY(mu_);
  Token token_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::registry
