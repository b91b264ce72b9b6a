#include "registry/client/errors.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "common/text.h"
#include "registry/client/auth.h"

namespace berth::registry {
namespace {

// The codes distribution registers (errcode and the v2 API), with their default messages. A code
// a registry sends that is not here renders as "unknown", as errcode's UnmarshalText does.
struct KnownCode {
  std::string_view value;
  std::string_view message;
};
constexpr KnownCode kCodes[] = {
    {"UNKNOWN", "unknown error"},
    {"UNSUPPORTED", "The operation is unsupported."},
    {"UNAUTHORIZED", "authentication required"},
    {"DENIED", "requested access to the resource is denied"},
    {"UNAVAILABLE", "service unavailable"},
    {"TOOMANYREQUESTS", "too many requests"},
    {"DIGEST_INVALID", "provided digest did not match uploaded content"},
    {"SIZE_INVALID", "provided length did not match content length"},
    {"NAME_INVALID", "invalid repository name"},
    {"TAG_INVALID", "manifest tag did not match URI"},
    {"NAME_UNKNOWN", "repository name not known to registry"},
    {"MANIFEST_UNKNOWN", "manifest unknown"},
    {"MANIFEST_INVALID", "manifest invalid"},
    {"MANIFEST_UNVERIFIED", "manifest failed signature verification"},
    {"MANIFEST_BLOB_UNKNOWN", "blob unknown to registry"},
    {"BLOB_UNKNOWN", "blob unknown to registry"},
    {"BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry"},
    {"BLOB_UPLOAD_INVALID", "blob upload invalid"},
    {"PAGINATION_NUMBER_INVALID", "invalid number of results requested"},
    {"RANGE_INVALID", "invalid content range"},
};

const KnownCode& Known(std::string_view value) {
  for (const auto& k : kCodes)
    if (k.value == value) return k;
  return kCodes[0];
}

// errcode.ErrorCode.Error(): the value in lower case with '_' as ' '.
std::string CodeWords(std::string_view value) {
  std::string s(value);
  for (char& c : s)
    c = c == '_' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string One(std::string_view code, std::string_view message) {
  const KnownCode& k = Known(code);
  return CodeWords(k.value) + ": " + std::string(message.empty() ? k.message : message);
}

// Go's encoding/json words for a body that is not JSON.
std::string JsonSyntaxError(std::string_view body) {
  size_t i = body.find_first_not_of(" \t\r\n");
  if (i == std::string_view::npos) return "unexpected end of JSON input";
  return std::string("invalid character '") + body[i] + "' looking for beginning of value";
}

std::string StatusText(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 416:
      return "Requested Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

// parseHTTPErrorResponse: the body's errors, rendered; "" with *unparsed set when it has none.
std::string ParseBody(int status, std::string_view body, bool* unparsed) {
  *unparsed = false;
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("details") && j["details"].is_string() &&
      !j["details"].get<std::string>().empty()) {
    std::string details = j["details"].get<std::string>();
    if (status == 401) return One("UNAUTHORIZED", details);
    if (status == 429) return One("TOOMANYREQUESTS", details);
    return One("UNKNOWN", details);
  }
  std::string why;
  if (j.is_discarded()) {
    why = JsonSyntaxError(body);
  } else if (j.is_object() && j.contains("errors") && j["errors"].is_array() &&
             !j["errors"].empty()) {
    std::vector<std::string> errs;
    for (const auto& e : j["errors"]) {
      std::string code = e.is_object() && e.contains("code") && e["code"].is_string()
                             ? e["code"].get<std::string>()
                             : "UNKNOWN";
      std::string msg = e.is_object() && e.contains("message") && e["message"].is_string()
                            ? e["message"].get<std::string>()
                            : "";
      errs.push_back(One(code, msg));
    }
    if (errs.size() == 1) return errs[0];
    std::string out = "errors:\n";
    for (const auto& e : errs) out += e + "\n";
    return out;
  } else {
    why = "no error details found in HTTP response body";
  }
  *unparsed = true;
  return "error parsing HTTP " + std::to_string(status) + " response body: " + why + ": " +
         GoQuote(body);
}

}  // namespace

std::string RenderRegistryError(int status, std::string_view reason,
                                const std::vector<std::string>& www_authenticate,
                                std::string_view body) {
  if (status < 400 || status >= 500) {
    std::string text = reason.empty() ? StatusText(status) : std::string(reason);
    return "received unexpected HTTP status: " + std::to_string(status) +
           (text.empty() ? "" : " " + text);
  }
  // RFC 6750 errors in a bearer challenge come first.
  for (const auto& header : www_authenticate) {
    for (const auto& c : ParseChallenges(header)) {
      if (c.scheme != "bearer") continue;
      auto err = c.params.find("error");
      if (err == c.params.end()) continue;
      std::string code;
      if (err->second == "invalid_token")
        code = "UNAUTHORIZED";
      else if (err->second == "insufficient_scope")
        code = "DENIED";
      else
        continue;
      auto desc = c.params.find("error_description");
      std::string first = One(code, desc != c.params.end() ? desc->second : "");
      bool unparsed = false;
      std::string rest = ParseBody(status, body, &unparsed);
      // mergeErrors: the challenge's error and the body's, when the body had any.
      if (unparsed) return first;
      return "errors:\n" + first + "\n" +
             (rest.starts_with("errors:\n") ? rest.substr(8) : rest + "\n");
    }
  }
  bool unparsed = false;
  std::string text = ParseBody(status, body, &unparsed);
  if (unparsed && status == 401) return One("UNAUTHORIZED", "");
  return text;
}

Status RegistryError(int status, std::string_view reason,
                     const std::vector<std::string>& www_authenticate, std::string_view body) {
  return Status(CodeForHttpStatus(status),
                RenderRegistryError(status, reason, www_authenticate, body));
}

}  // namespace berth::registry
