// The docker CLI's registry side in berth: config.json credentials (docker login/logout's
// file), the X-Registry-Auth header, reference parsing, and images --digests rows.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "cli/registry_auth.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "scoped_env.h"

namespace berth::cli {
namespace {

using nlohmann::json;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-dockercfg-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::remove((path_ + "/config.json").c_str());
    ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::string Read() const {
    std::ifstream in(path_ + "/config.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string path_;
};

TEST(CliRegistryTest, ReferencesAsTheDockerCli) {
  auto r = ParseImageRef("busybox");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->domain, "docker.io");
  EXPECT_EQ(r->path, "library/busybox");
  EXPECT_EQ(r->FamiliarName(), "busybox");
  r->tag = "latest";
  EXPECT_EQ(r->String(), "docker.io/library/busybox:latest");
  auto local = ParseImageRef("localhost:5000/a/b:v1");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->domain, "localhost:5000");
  EXPECT_EQ(local->path, "a/b");
  EXPECT_EQ(local->tag, "v1");
  EXPECT_EQ(local->FamiliarName(), "localhost:5000/a/b");
  std::string digest = "sha256:" + std::string(64, 'a');
  auto dig = ParseImageRef("user/x@" + digest);
  ASSERT_TRUE(dig.ok());
  EXPECT_EQ(dig->digest, digest);
  EXPECT_EQ(dig->FamiliarName(), "user/x");
  EXPECT_EQ(ParseImageRef("Busybox").status().message(),
            "invalid reference format: repository name must be lowercase");
  EXPECT_EQ(ParseImageRef("bad::ref").status().message(), "invalid reference format");
  EXPECT_EQ(ParseImageRef("").status().message(), "invalid reference format");
}

TEST(CliRegistryTest, ConfigKeysAsDocker) {
  EXPECT_EQ(AuthConfigKey("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(AuthConfigKey("localhost:5000"), "localhost:5000");
  EXPECT_EQ(ConvertToHostname("https://reg.example:5000/v1/"), "reg.example:5000");
  EXPECT_EQ(ConvertToHostname("reg.example"), "reg.example");
}

TEST(CliRegistryTest, CredentialsInConfigJson) {
  TempDir dir;
  {
    std::ofstream(dir.path() + "/config.json") << R"({"detachKeys": "ctrl-x,x"})";
  }
  ASSERT_TRUE(StoreAuth(dir.path(), "localhost:5000", {"user", "pa:ss", "localhost:5000", ""}).ok());
  json j = json::parse(dir.Read());
  EXPECT_EQ(j["detachKeys"], "ctrl-x,x");  // other settings are kept
  EXPECT_EQ(j["auths"]["localhost:5000"], json({{"auth", absl::Base64Escape("user:pa:ss")}}));
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/config.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto a = LoadAuth(dir.path(), "localhost:5000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->username, "user");
  EXPECT_EQ(a->password, "pa:ss");
  EXPECT_EQ(a->server_address, "localhost:5000");
  EXPECT_TRUE(HasAuth(dir.path(), "localhost:5000"));

  // A registry's identity token replaces the password.
  ASSERT_TRUE(StoreAuth(dir.path(), "https://index.docker.io/v1/", {"me", "", "", "tok"}).ok());
  json hub = json::parse(dir.Read())["auths"]["https://index.docker.io/v1/"];
  EXPECT_EQ(hub["identitytoken"], "tok");
  EXPECT_EQ(hub["auth"], absl::Base64Escape("me:"));

  auto removed = RemoveAuth(dir.path(), {"localhost:5000", "http://localhost:5000"});
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(HasAuth(dir.path(), "localhost:5000"));
  auto again = RemoveAuth(dir.path(), {"localhost:5000"});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  auto none = LoadAuth(dir.path(), "localhost:5000");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->username, "");

  // A legacy URL key is found by its hostname.
  std::ofstream(dir.path() + "/config.json")
      << R"({"auths": {"http://old.example:5000/v1/": {"auth": ")" << absl::Base64Escape("o:p") << R"("}}})";
  auto legacy = LoadAuth(dir.path(), "old.example:5000");
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(legacy->username, "o");

  // A credential helper named in config.json: berth does not run it.
  std::ofstream(dir.path() + "/config.json")
      << R"({"credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud"}})";
  EXPECT_EQ(CredentialHelper(dir.path(), "gcr.io"), "gcloud");
  EXPECT_EQ(CredentialHelper(dir.path(), "localhost:5000"), "desktop");
  std::ofstream(dir.path() + "/config.json") << "{}";
  EXPECT_EQ(CredentialHelper(dir.path(), "localhost:5000"), "");

  std::ofstream(dir.path() + "/config.json") << "{not json";
  EXPECT_FALSE(LoadAuth(dir.path(), "x").ok());
}

TEST(CliRegistryTest, RegistryAuthHeader) {
  // base64url, padded, of the AuthConfig JSON with the empty fields left out.
  std::string h = EncodeRegistryAuth({"user", "p+s/w?", "localhost:5000", ""});
  std::string raw;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(h, &raw));
  EXPECT_EQ(raw, R"({"username":"user","password":"p+s/w?","serveraddress":"localhost:5000"})");
  EXPECT_EQ(h.size() % 4, 0u);
  EXPECT_EQ(h.find_first_of("+/"), std::string::npos);
  EXPECT_EQ(EncodeRegistryAuth({}), "e30=");  // {}

  TempDir dir;
  berth::testing::ScopedEnv env("DOCKER_CONFIG", dir.path().c_str());
  EXPECT_EQ(DockerConfigDir(), dir.path());
  ASSERT_TRUE(StoreAuth(dir.path(), "localhost:5000", {"u", "p", "", ""}).ok());
  ASSERT_TRUE(absl::WebSafeBase64Unescape(RegistryAuthForImage("localhost:5000/x:1"), &raw));
  EXPECT_EQ(raw, R"({"username":"u","password":"p","serveraddress":"localhost:5000"})");
  // Docker Hub images use Docker Hub's key; nothing stored there: no credentials.
  EXPECT_EQ(RegistryAuthForImage("busybox"), "e30=");
}

}  // namespace
}  // namespace berth::cli
