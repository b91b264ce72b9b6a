// The registry side of the API and the daemon: the progress stream as dockerd's
// streamformatter writes it, AuthConfig bodies, GET /info's RegistryConfig, the platform check
// of container create, and the registry settings of daemon.json and berthd's flags.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "api/routes.h"
#include "daemon/daemon.h"
#include "engine/distribution/distribution.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth {
namespace {

using ::testing::HasSubstr;

TEST(ApiRegistryTest, ProgressLinesAsStreamformatter) {
  engine::PullProgress p;
  p.id = "e5d9363303dd";
  p.status = "Pulling fs layer";
  p.has_detail = true;
  EXPECT_EQ(api::EncodeProgressMessage(p),
            "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"e5d9363303dd\"}\r\n");
  p.status = "Downloading";
  p.current = 1230000;
  p.total = 4560000;
  EXPECT_EQ(api::EncodeProgressMessage(p),
            "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1230000,\"total\":4560000},"
            "\"progress\":\"[=============\\u003e                                     ]   1.23MB/4.56MB\","
            "\"id\":\"e5d9363303dd\"}\r\n");
  engine::PullProgress plain;
  plain.status = "Digest: sha256:abc";
  EXPECT_EQ(api::EncodeProgressMessage(plain), "{\"status\":\"Digest: sha256:abc\"}\r\n");
  engine::PullProgress tag;
  tag.id = "latest";
  tag.status = "Pulling from library/busybox";
  EXPECT_EQ(api::EncodeProgressMessage(tag),
            "{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\r\n");
  engine::PullProgress err;
  err.error = "manifest unknown <x> & y";
  EXPECT_EQ(api::EncodeProgressMessage(err),
            "{\"errorDetail\":{\"message\":\"manifest unknown \\u003cx\\u003e \\u0026 y\"},"
            "\"error\":\"manifest unknown \\u003cx\\u003e \\u0026 y\"}\r\n");
  engine::PullProgress aux;
  aux.has_aux = true;
  aux.aux_tag = "latest";
  aux.aux_digest = "sha256:0123";
  aux.aux_size = 527;
  EXPECT_EQ(api::EncodeProgressMessage(aux),
            "{\"progressDetail\":{},\"aux\":{\"Tag\":\"latest\",\"Digest\":\"sha256:0123\",\"Size\":527}}\r\n");
}

TEST(ApiRegistryTest, AuthConfigBodiesAsGoDecodesThem) {
  auto a = api::ParseAuthConfigJson(
      R"({"Username":"u","password":"p","serveraddress":"localhost:5000","IdentityToken":"t"})");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->username, "u");
  EXPECT_EQ(a->password, "p");
  EXPECT_EQ(a->server_address, "localhost:5000");
  EXPECT_EQ(a->identity_token, "t");
  auto empty = api::ParseAuthConfigJson("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message(), "invalid JSON: got EOF while reading request body");
  EXPECT_FALSE(api::ParseAuthConfigJson("{bad").ok());
  auto typed = api::ParseAuthConfigJson(R"({"username": 5})");
  ASSERT_FALSE(typed.ok());
  EXPECT_THAT(std::string(typed.status().message()), HasSubstr("AuthConfig.username of type string"));
  EXPECT_FALSE(api::ParseAuthConfigJson("[]").ok());
}

TEST(ApiRegistryTest, RegistryConfigAsDockerd) {
  registry::RegistryOptions opts;
  EXPECT_EQ(api::RenderRegistryConfig(opts).dump(),
            R"({"AllowNondistributableArtifactsCIDRs":[],"AllowNondistributableArtifactsHostnames":[],)"
            R"("InsecureRegistryCIDRs":["127.0.0.0/8"],"IndexConfigs":{"docker.io":{"Name":"docker.io",)"
            R"("Mirrors":[],"Secure":true,"Official":true}},"Mirrors":[]})");
  opts.insecure_registries = {"10.0.0.0/8", "myreg:5000", "127.0.0.0/8"};
  opts.mirrors = {"https://mirror.example/"};
  auto j = api::RenderRegistryConfig(opts);
  EXPECT_EQ(j["InsecureRegistryCIDRs"].dump(), R"(["10.0.0.0/8","127.0.0.0/8"])");
  EXPECT_EQ(j["IndexConfigs"].dump(),
            R"({"docker.io":{"Name":"docker.io","Mirrors":["https://mirror.example/"],"Secure":true,)"
            R"("Official":true},"myreg:5000":{"Name":"myreg:5000","Mirrors":[],"Secure":false,"Official":false}})");
  EXPECT_EQ(j["Mirrors"].dump(), R"(["https://mirror.example/"])");
}

TEST(ApiRegistryTest, OnlyLinuxAmd64ImagesRun) {
  engine::Image img;
  img.config_raw = R"({"architecture":"amd64","os":"linux"})";
  EXPECT_TRUE(api::CheckRunnablePlatform(img, "busybox", "").ok());
  img.config_raw = R"({"architecture":"arm64","variant":"v8","os":"linux"})";
  Status arm = api::CheckRunnablePlatform(img, "localhost:5000/multi:arm", "");
  EXPECT_EQ(arm.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(arm.message()),
              HasSubstr("image with reference localhost:5000/multi:arm was found but its platform (linux/arm64"));
  EXPECT_THAT(std::string(arm.message()), HasSubstr("Berth runs linux/amd64 images only"));
  img.config_raw = "{}";  // an import without architecture: Docker defaults it to the host's
  EXPECT_TRUE(api::CheckRunnablePlatform(img, "x", "").ok());
}

TEST(ApiRegistryTest, CreatePlatformMustMatchTheImage) {
  if (!registry::ParsePlatform("linux/amd64").ok()) GTEST_SKIP() << "registry::ParsePlatform has not landed";
  engine::Image img;
  img.config_raw = R"({"architecture":"amd64","os":"linux"})";
  EXPECT_TRUE(api::CheckRunnablePlatform(img, "busybox", "linux/amd64").ok());
  Status want_arm = api::CheckRunnablePlatform(img, "busybox", "linux/arm64");
  EXPECT_EQ(want_arm.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(want_arm.message()),
              HasSubstr("image with reference busybox was found but does not match the specified platform"));
}

TEST(DaemonRegistryConfigTest, DaemonJsonKeysAndChecks) {
  char tmpl[] = "/tmp/berth-regcfg-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string path = dir + "/daemon.json";
  std::ofstream(path) << R"({"insecure-registries": ["http://myreg:5000", "10.1.0.0/16"],
    "registry-mirrors": ["https://mirror.example"], "max-concurrent-downloads": 6,
    "max-concurrent-uploads": 2})";
  daemon::Config c;
  ASSERT_TRUE(daemon::LoadConfigFile(path, &c).ok());
  ASSERT_TRUE(daemon::ValidateRegistryConfig(&c).ok());
  EXPECT_EQ(c.insecure_registries, (std::vector<std::string>{"myreg:5000", "10.1.0.0/16"}));
  EXPECT_EQ(c.registry_mirrors, (std::vector<std::string>{"https://mirror.example/"}));
  EXPECT_EQ(c.max_concurrent_downloads, 6);
  EXPECT_EQ(c.max_concurrent_uploads, 2);
  EXPECT_EQ(c.registry_certs_dirs, (std::vector<std::string>{"/etc/docker/certs.d", "/etc/berth/certs.d"}));
  std::remove(path.c_str());
  ::rmdir(dir.c_str());

  daemon::Config d;
  EXPECT_EQ(d.max_concurrent_downloads, 3);
  EXPECT_EQ(d.max_concurrent_uploads, 5);
  d.registry_certs_dirs = {"/tmp/certs"};
  ASSERT_TRUE(daemon::ValidateRegistryConfig(&d).ok());
  EXPECT_EQ(d.registry_certs_dirs, (std::vector<std::string>{"/tmp/certs"}));

  daemon::Config bad_mirror;
  bad_mirror.registry_mirrors = {"ftp://m"};
  EXPECT_EQ(daemon::ValidateRegistryConfig(&bad_mirror).message(),
            "invalid mirror: unsupported scheme \"ftp\" in \"ftp://m\"");
  bad_mirror.registry_mirrors = {"https://m/path"};
  EXPECT_EQ(daemon::ValidateRegistryConfig(&bad_mirror).message(),
            "invalid mirror: path, query, or fragment at end of the URI \"https://m/path\"");
  daemon::Config bad_insecure;
  bad_insecure.insecure_registries = {"tcp://r:5000"};
  EXPECT_EQ(daemon::ValidateRegistryConfig(&bad_insecure).message(),
            "insecure registry tcp://r:5000 should not contain '://'");
  daemon::Config bad_dl;
  bad_dl.max_concurrent_downloads = -1;
  EXPECT_THAT(std::string(daemon::ValidateRegistryConfig(&bad_dl).message()),
              HasSubstr("invalid max concurrent downloads: -1"));
}

}  // namespace
}  // namespace berth
