// A registry's error answers rendered as Docker shows them (distribution's errcode package and
// registry/client's HandleErrorResponse), and their absl codes.

#include <string>

#include "gtest/gtest.h"
#include "registry/client/errors.h"

namespace berth::registry {
namespace {

TEST(RegistryErrorsTest, ErrcodeBodies) {
  EXPECT_EQ(
      RenderRegistryError(
          404, "Not Found", {},
          R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"nope"}}]})"),
      "manifest unknown: manifest unknown");
  EXPECT_EQ(
      RenderRegistryError(
          401, "Unauthorized", {R"(Basic realm="Registry Realm")"},
          R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]})"),
      "unauthorized: authentication required");
  EXPECT_EQ(
      RenderRegistryError(
          403, "Forbidden", {},
          R"({"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]})"),
      "denied: requested access to the resource is denied");
  EXPECT_EQ(
      RenderRegistryError(
          404, "Not Found", {},
          R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:00"}]})"),
      "blob unknown: blob unknown to registry");
  EXPECT_EQ(RenderRegistryError(404, "Not Found", {},
                                R"({"errors":[{"code":"NAME_UNKNOWN","message":""}]})"),
            "name unknown: repository name not known to registry");
  // A code distribution does not know renders as "unknown".
  EXPECT_EQ(RenderRegistryError(400, "", {}, R"({"errors":[{"code":"WHATEVER","message":"m"}]})"),
            "unknown: m");
  EXPECT_EQ(
      RenderRegistryError(
          400, "", {},
          R"({"errors":[{"code":"DIGEST_INVALID","message":"a"},{"code":"SIZE_INVALID","message":"b"}]})"),
      "errors:\ndigest invalid: a\nsize invalid: b\n");
}

TEST(RegistryErrorsTest, IrregularBodies) {
  // The old {"details": ...} form (Docker Hub's token server).
  EXPECT_EQ(RenderRegistryError(401, "Unauthorized", {},
                                R"({"details":"incorrect username or password"})"),
            "unauthorized: incorrect username or password");
  EXPECT_EQ(RenderRegistryError(429, "", {}, R"({"details":"slow down"})"),
            "toomanyrequests: slow down");
  // A 401 that explains nothing is "authentication required".
  EXPECT_EQ(RenderRegistryError(401, "Unauthorized", {}, ""),
            "unauthorized: authentication required");
  EXPECT_EQ(RenderRegistryError(404, "Not Found", {}, ""),
            "error parsing HTTP 404 response body: unexpected end of JSON input: \"\"");
  EXPECT_EQ(RenderRegistryError(404, "Not Found", {}, "404 page not found\n"),
            "error parsing HTTP 404 response body: invalid character '4' looking for beginning of "
            "value: \"404 page not found\\n\"");
  EXPECT_EQ(RenderRegistryError(400, "", {}, R"({"errors":[]})"),
            "error parsing HTTP 400 response body: no error details found in HTTP response body: "
            "\"{\\\"errors\\\":[]}\"");
}

TEST(RegistryErrorsTest, BearerChallengeErrors) {
  EXPECT_EQ(RenderRegistryError(
                401, "Unauthorized",
                {R"(Bearer realm="https://a/token",service="s",error="invalid_token")"}, ""),
            "unauthorized: authentication required");
  EXPECT_EQ(
      RenderRegistryError(
          403, "Forbidden",
          {R"(Bearer realm="https://a/token",error="insufficient_scope",error_description="no push")"},
          ""),
      "denied: no push");
}

TEST(RegistryErrorsTest, ServerErrors) {
  EXPECT_EQ(RenderRegistryError(500, "Internal Server Error", {}, "boom"),
            "received unexpected HTTP status: 500 Internal Server Error");
  EXPECT_EQ(RenderRegistryError(503, "", {}, ""),
            "received unexpected HTTP status: 503 Service Unavailable");
}

TEST(RegistryErrorsTest, Codes) {
  EXPECT_EQ(CodeForHttpStatus(404), absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeForHttpStatus(401), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CodeForHttpStatus(403), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CodeForHttpStatus(500), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeForHttpStatus(502), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CodeForHttpStatus(429), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(
      RegistryError(404, "", {},
                    R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})")
          .code(),
      absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace berth::registry
