#include "registry/client/auth.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "registry/client/errors.h"

namespace berth::registry {
namespace {

constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr auto kMinTokenLifetime = std::chrono::seconds(60);

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string JsonString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

bool AuthConfig::empty() const {
  return username.empty() && password.empty() && auth.empty() && identity_token.empty() &&
         registry_token.empty();
}

std::string Base64Encode(std::string_view data) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  if (i + 1 == data.size()) {
    uint32_t v = uint8_t(data[i]) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

bool Base64Decode(std::string_view in, std::string* out) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return bits < 6;  // one leftover sextet cannot be a whole byte's start
}

StatusOr<AuthConfig> DecodeRegistryAuth(std::string_view header) {
  AuthConfig a;
  while (!header.empty() && std::isspace(static_cast<unsigned char>(header.back())))
    header.remove_suffix(1);
  if (header.empty()) return a;
  std::string json;
  if (!Base64Decode(header, &json)) {
    return absl::InvalidArgumentError("invalid X-Registry-Auth header: illegal base64 data");
  }
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        "invalid X-Registry-Auth header: the value is not a JSON object");
  }
  a.username = JsonString(j, "username");
  a.password = JsonString(j, "password");
  a.auth = JsonString(j, "auth");
  a.server_address = JsonString(j, "serveraddress");
  a.identity_token = JsonString(j, "identitytoken");
  a.registry_token = JsonString(j, "registrytoken");
  return a;
}

std::vector<Challenge> ParseChallenges(std::string_view h) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  auto token = [&] {
    size_t start = i;
    while (i < h.size() && IsTokenChar(h[i])) ++i;
    return std::string(h.substr(start, i - start));
  };
  skip_space();
  Challenge c;
  c.scheme = Lower(token());
  if (c.scheme.empty()) return {};
  for (;;) {
    skip_space();
    std::string name = Lower(token());
    if (name.empty()) break;
    skip_space();
    if (i >= h.size() || h[i] != '=') break;
    ++i;
    skip_space();
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      bool closed = false;
      while (i < h.size()) {
        char ch = h[i++];
        if (ch == '\\' && i < h.size()) {
          value += h[i++];
        } else if (ch == '"') {
          closed = true;
          break;
        } else {
          value += ch;
        }
      }
      if (!closed) break;
    } else {
      value = token();
    }
    c.params[name] = value;
    skip_space();
    if (i >= h.size() || h[i] != ',') break;
    ++i;
  }
  return {c};
}

bool BasicCredentials(const AuthConfig& auth, std::string* user, std::string* password) {
  if (!auth.username.empty()) {
    *user = auth.username;
    *password = auth.password;
    return true;
  }
  std::string decoded;
  if (auth.auth.empty() || !Base64Decode(auth.auth, &decoded)) return false;
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  *user = decoded.substr(0, colon);
  *password = decoded.substr(colon + 1);
  return !user->empty();
}

std::string RepositoryScope(std::string_view path, bool push) {
  return absl::StrCat("repository:", Av(path), push ? ":pull,push" : ":pull");
}

StatusOr<Token> ParseTokenResponse(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return absl::UnavailableError("unable to decode token response: invalid JSON");
  Token t;
  t.token = JsonString(j, "token");
  if (t.token.empty()) t.token = JsonString(j, "access_token");
  if (t.token.empty())
    return absl::UnauthenticatedError(
        "authorization server did not include a token in the response");
  t.refresh_token = JsonString(j, "refresh_token");
  std::chrono::seconds life = kMinTokenLifetime;
  if (auto it = j.find("expires_in"); it != j.end() && it->is_number_integer())
    life = std::max(kMinTokenLifetime, std::chrono::seconds(it->get<int64_t>()));
  t.expires = std::chrono::steady_clock::now() + life;
  return t;
}

Authorizer::Authorizer(http::HttpClient* client, std::string registry_host_port, AuthConfig auth,
                       std::vector<std::string> scopes)
    : client_(client),
      host_port_(std::move(registry_host_port)),
      auth_(std::move(auth)),
      scopes_(std::move(scopes)) {}

std::string Authorizer::refresh_token() {
  absl::MutexLock lock(&mu_);
  return token_.refresh_token;
}

StatusOr<std::string> Authorizer::HeaderFor(const http::Url& url) {
  if (url.HostPort() != host_port_) return std::string();
  if (!auth_.registry_token.empty()) return "Bearer " + auth_.registry_token;
  Challenge bearer;
  {
    absl::MutexLock lock(&mu_);
    if (scheme_ == "basic") {
      std::string user, password;
      BasicCredentials(auth_, &user, &password);
      return "Basic " + Base64Encode(user + ":" + password);
    }
    if (scheme_ != "bearer") return std::string();
    // A little early, so that a token does not expire in flight.
    if (std::chrono::steady_clock::now() + std::chrono::seconds(5) < token_.expires)
      return "Bearer " + token_.token;
    bearer = bearer_;
  }
  ASSIGN_OR_RETURN(Token t, FetchToken(bearer));
  absl::MutexLock lock(&mu_);
  token_ = t;
  return "Bearer " + t.token;
}

StatusOr<bool> Authorizer::OnChallenge(const std::vector<std::string>& www_authenticate) {
  std::vector<Challenge> all;
  for (const auto& h : www_authenticate)
    for (auto& c : ParseChallenges(h)) all.push_back(std::move(c));
  for (const auto& c : all) {
    if (c.scheme == "bearer" && c.params.count("realm")) {
      ASSIGN_OR_RETURN(Token t, FetchToken(c));
      absl::MutexLock lock(&mu_);
      scheme_ = "bearer";
      bearer_ = c;
      token_ = t;
      return true;
    }
  }
  for (const auto& c : all) {
    if (c.scheme != "basic") continue;
    std::string user, password;
    if (!BasicCredentials(auth_, &user, &password))
      // A plain Go error in dockerd, so a 500 there: a 401 would make the docker CLI prompt for
      // a login ("Login prior to pull") instead of showing this.
      return absl::UnknownError("no basic auth credentials");
    absl::MutexLock lock(&mu_);
    if (scheme_ == "basic") return false;  // these credentials were refused
    scheme_ = "basic";
    return true;
  }
  return false;
}

StatusOr<Token> Authorizer::FetchToken(const Challenge& c) {
  auto realm_it = c.params.find("realm");
  if (realm_it == c.params.end())
    return absl::UnauthenticatedError("no realm specified for token auth challenge");
  ASSIGN_OR_RETURN(http::Url realm, http::ParseUrl(realm_it->second));
  std::string service;
  if (auto it = c.params.find("service"); it != c.params.end()) service = it->second;
  std::string user, password;
  bool has_basic = BasicCredentials(auth_, &user, &password);

  http::Request req;
  if (!auth_.identity_token.empty()) {
    // OAuth2: the identity token from a login is a refresh token.
    std::string scope;
    for (const auto& s : scopes_) scope += (scope.empty() ? "" : " ") + s;
    req.method = "POST";
    req.url = realm;
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    req.body = "grant_type=refresh_token&refresh_token=" + http::QueryEscape(auth_.identity_token) +
               "&service=" + http::QueryEscape(service) +
               "&client_id=docker&scope=" + http::QueryEscape(scope);
  } else {
    std::string query;
    auto add = [&](std::string_view k, std::string_view v) {
      query += (query.empty() && realm.target.find('?') == std::string::npos ? "?" : "&");
      query += std::string(k) + "=" + http::QueryEscape(v);
    };
    if (!service.empty()) add("service", service);
    for (const auto& s : scopes_) add("scope", s);
    if (has_basic) {
      add("offline_token", "true");
      add("client_id", "docker");
      req.headers.emplace_back("Authorization", "Basic " + Base64Encode(user + ":" + password));
    }
    req.url = realm;
    req.url.target += query;
  }
  ASSIGN_OR_RETURN(auto resp, client_->Send(req));
  if (resp->status() < 200 || resp->status() >= 300) {
    auto body = resp->ReadAll(64 * 1024);
    return Status(CodeForHttpStatus(resp->status()),
                  RenderRegistryError(resp->status(), resp->reason(),
                                      resp->Headers("WWW-Authenticate"), body.ok() ? *body : ""));
  }
  ASSIGN_OR_RETURN(std::string body, resp->ReadAll(1 << 20));
  return ParseTokenResponse(body);
}

}  // namespace berth::registry
