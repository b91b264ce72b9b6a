// Registry authentication pieces: WWW-Authenticate challenges, X-Registry-Auth decoding (the
// docker CLI's base64url JSON), basic credentials, token server answers, scopes.

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/client/auth.h"
#include "api/transport/http_client.h"

namespace berth::registry {
namespace {

using ::testing::HasSubstr;

TEST(RegistryAuthTest, BearerChallenge) {
  auto cs = ParseChallenges(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push")");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].scheme, "bearer");
  EXPECT_EQ(cs[0].params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(cs[0].params["service"], "registry.docker.io");
  EXPECT_EQ(cs[0].params["scope"], "repository:library/busybox:pull,push");
}

TEST(RegistryAuthTest, BasicChallengeAndSpacing) {
  auto cs = ParseChallenges(R"(Basic realm="Registry Realm")");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].scheme, "basic");
  EXPECT_EQ(cs[0].params["realm"], "Registry Realm");

  cs = ParseChallenges(R"(  BEARER Realm = "a\"b\\c" , error=insufficient_scope,Service=x )");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].scheme, "bearer");
  EXPECT_EQ(cs[0].params["realm"], "a\"b\\c");
  EXPECT_EQ(cs[0].params["error"], "insufficient_scope");
  EXPECT_EQ(cs[0].params["service"], "x");
}

TEST(RegistryAuthTest, BadChallenges) {
  EXPECT_TRUE(ParseChallenges("").empty());
  // An unterminated quoted string ends the parameters; what came before stays.
  auto cs = ParseChallenges(R"(Bearer service="s",realm="https://x)");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].params.count("realm"), 0u);
  EXPECT_EQ(cs[0].params["service"], "s");
}

TEST(RegistryAuthTest, DecodeRegistryAuth) {
  // base64url of {"username":"u","password":"p?>","serveraddress":"localhost:5000"} as the
  // docker CLI sends it (URL alphabet, padded).
  std::string json =
      R"({"username":"u","password":"p?>","auth":"","email":"","serveraddress":"localhost:5000","identitytoken":"it","registrytoken":"rt"})";
  std::string b64 = Base64Encode(json);
  for (char& c : b64) c = c == '+' ? '-' : c == '/' ? '_' : c;
  auto a = DecodeRegistryAuth(b64);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->username, "u");
  EXPECT_EQ(a->password, "p?>");
  EXPECT_EQ(a->server_address, "localhost:5000");
  EXPECT_EQ(a->identity_token, "it");
  EXPECT_EQ(a->registry_token, "rt");
  EXPECT_FALSE(a->empty());

  // Unpadded and standard alphabet both read.
  std::string std_b64 = Base64Encode(R"({"username":"x","password":"y"})");
  while (std_b64.back() == '=') std_b64.pop_back();
  auto b = DecodeRegistryAuth(std_b64);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->username, "x");

  auto empty = DecodeRegistryAuth("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto braces = DecodeRegistryAuth(Base64Encode("{}"));
  ASSERT_TRUE(braces.ok());
  EXPECT_TRUE(braces->empty());

  EXPECT_EQ(DecodeRegistryAuth("!!!").status().code(), absl::StatusCode::kInvalidArgument);
  auto not_json = DecodeRegistryAuth(Base64Encode("nope"));
  EXPECT_EQ(not_json.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(not_json.status().message()),
              HasSubstr("invalid X-Registry-Auth header"));
}

TEST(RegistryAuthTest, Base64) {
  for (std::string s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", "user:pa:ss",
                                                std::string("\xff\xfe\x00", 3)}) {
    std::string out;
    ASSERT_TRUE(Base64Decode(Base64Encode(s), &out)) << s;
    EXPECT_EQ(out, s);
  }
  EXPECT_EQ(Base64Encode("user:pass"), "dXNlcjpwYXNz");
  std::string out;
  EXPECT_FALSE(Base64Decode("a", &out));
  EXPECT_FALSE(Base64Decode("ab c", &out));
}

TEST(RegistryAuthTest, BasicCredentials) {
  std::string u, p;
  AuthConfig a;
  EXPECT_FALSE(BasicCredentials(a, &u, &p));
  a.auth = Base64Encode("alice:se:cret");
  ASSERT_TRUE(BasicCredentials(a, &u, &p));
  EXPECT_EQ(u, "alice");
  EXPECT_EQ(p, "se:cret");
  a.username = "bob";
  a.password = "pw";
  ASSERT_TRUE(BasicCredentials(a, &u, &p));
  EXPECT_EQ(u, "bob");
  EXPECT_EQ(p, "pw");
}

TEST(RegistryAuthTest, TokenResponses) {
  auto t =
      ParseTokenResponse(R"({"token":"abc","expires_in":300,"issued_at":"2026-01-01T00:00:00Z"})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->token, "abc");
  EXPECT_GT(t->expires, std::chrono::steady_clock::now() + std::chrono::seconds(290));
  auto oauth = ParseTokenResponse(R"({"access_token":"xyz","refresh_token":"r1","expires_in":5})");
  ASSERT_TRUE(oauth.ok());
  EXPECT_EQ(oauth->token, "xyz");
  EXPECT_EQ(oauth->refresh_token, "r1");
  // Shorter than a minute counts as a minute, as distribution's client.
  EXPECT_GT(oauth->expires, std::chrono::steady_clock::now() + std::chrono::seconds(55));
  EXPECT_EQ(ParseTokenResponse("{}").status().message(),
            "authorization server did not include a token in the response");
  EXPECT_FALSE(ParseTokenResponse("<html>").ok());
}

TEST(RegistryAuthTest, Scopes) {
  EXPECT_EQ(RepositoryScope("library/busybox", false), "repository:library/busybox:pull");
  EXPECT_EQ(RepositoryScope("a/b", true), "repository:a/b:pull,push");
}

TEST(RegistryHttpTest, Urls) {
  auto u = http::ParseUrl("http://127.0.0.1:5000/v2/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 5000);
  EXPECT_EQ(u->String(), "http://127.0.0.1:5000/v2/");
  auto h = http::ParseUrl("https://registry-1.docker.io");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->port, 443);
  EXPECT_EQ(h->target, "/");
  EXPECT_EQ(h->Authority(), "registry-1.docker.io");
  EXPECT_EQ(h->HostPort(), "registry-1.docker.io:443");
  auto v6 = http::ParseUrl("https://[::1]:5000/v2/x?y=1");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->HostPort(), "[::1]:5000");
  EXPECT_EQ(v6->target, "/v2/x?y=1");
  EXPECT_FALSE(http::ParseUrl("ftp://x/").ok());
  EXPECT_FALSE(http::ParseUrl("http://x:99999/").ok());

  auto rel = http::ResolveUrl(*u, "/v2/a/blobs/uploads/1?_state=x");
  ASSERT_TRUE(rel.ok());
  EXPECT_EQ(rel->String(), "http://127.0.0.1:5000/v2/a/blobs/uploads/1?_state=x");
  auto abs = http::ResolveUrl(*u, "https://storage.example.com/b/c");
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(abs->String(), "https://storage.example.com/b/c");
  EXPECT_EQ(http::QueryEscape("sha256:ab/c d"), "sha256%3Aab%2Fc+d");
  EXPECT_EQ(http::HttpClient::ErrorPrefix("HEAD", *u), "Head \"http://127.0.0.1:5000/v2/\": ");
}

}  // namespace
}  // namespace berth::registry
