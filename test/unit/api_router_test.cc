// Unit tests for the API's routing and status mapping.
#include <gtest/gtest.h>

#include "api/http.h"
#include "api/server.h"

namespace berth::api {
namespace {

TEST(Router, ParamsAndGreedyImageNames) {
  Router r;
  std::string hit;
  r.Add("GET", "/containers/{id}/json", [&](Request&, Conn&) { hit = "inspect"; });
  r.Add("GET", "/images/{name*}/json", [&](Request&, Conn&) { hit = "image"; });
  r.Add("DELETE", "/images/{name*}", [&](Request&, Conn&) { hit = "rmi"; });
  r.Add("POST", "/images/load", [&](Request&, Conn&) { hit = "load"; }, true);
  Request req;
  bool upload = false, known = false;
  req.method = "GET";
  req.path = "/containers/abc/json";
  ASSERT_NE(r.Match(req, &upload, &known), nullptr);
  EXPECT_EQ(req.params["id"], "abc");
  req.path = "/images/localhost:5000/team/app:1/json";
  ASSERT_NE(r.Match(req, &upload, &known), nullptr);
  EXPECT_EQ(req.params["name"], "localhost:5000/team/app:1");
  req.method = "DELETE";
  req.path = "/images/library/busybox";
  ASSERT_NE(r.Match(req, &upload, &known), nullptr);
  EXPECT_EQ(req.params["name"], "library/busybox");
  req.method = "POST";
  req.path = "/images/load";
  ASSERT_NE(r.Match(req, &upload, &known), nullptr);
  EXPECT_TRUE(upload);
  req.method = "GET";
  req.path = "/nope";
  EXPECT_EQ(r.Match(req, &upload, &known), nullptr);
  EXPECT_FALSE(known);
}

TEST(Router, UrlDecodesSegments) {
  Router r;
  r.Add("GET", "/containers/{id}/json", [](Request&, Conn&) {});
  Request req;
  req.method = "GET";
  req.path = "/containers/a%2Fb/json";
  bool upload, known;
  ASSERT_NE(r.Match(req, &upload, &known), nullptr);
  EXPECT_EQ(req.params["id"], "a/b");
}

TEST(HttpStatus, DockerMapping) {
  EXPECT_EQ(HttpStatusFor(absl::InvalidArgumentError("x")), 400);
  EXPECT_EQ(HttpStatusFor(absl::NotFoundError("x")), 404);
  EXPECT_EQ(HttpStatusFor(absl::AlreadyExistsError("x")), 409);
  EXPECT_EQ(HttpStatusFor(absl::FailedPreconditionError("x")), 409);
  EXPECT_EQ(HttpStatusFor(absl::PermissionDeniedError("x")), 403);
  EXPECT_EQ(HttpStatusFor(absl::UnavailableError("x")), 503);
  EXPECT_EQ(HttpStatusFor(absl::InternalError("x")), 500);
}

TEST(Request, JsonBodyErrors) {
  Request req;
  EXPECT_TRUE(req.Json().ok());  // empty body = {}
  req.body = "{\"a\":";
  EXPECT_EQ(req.Json().status().code(), absl::StatusCode::kInvalidArgument);
}

// httputils.BoolValue / BoolValueOrDefault: docker-py sends force=False, others stream= or NONE.
TEST(Request, QueryBoolAsDocker) {
  Request req;
  for (const char* f : {"", "0", "no", "false", "False", "FALSE", " none ", "NO"}) {
    req.query["k"] = f;
    EXPECT_FALSE(req.QueryBool("k", true)) << "'" << f << "'";
  }
  for (const char* t : {"1", "true", "True", "yes", "on", "x"}) {
    req.query["k"] = t;
    EXPECT_TRUE(req.QueryBool("k")) << t;
  }
  req.query.erase("k");
  EXPECT_TRUE(req.QueryBool("k", true));
  EXPECT_FALSE(req.QueryBool("k"));
}

}  // namespace
}  // namespace berth::api
