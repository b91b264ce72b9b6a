// berthd's tcp:// rules (Docker 27's): plain text on a non-loopback address is refused unless
// --tls=false says so explicitly; dockerd's TLS flags and daemon.json keys; duration flags.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "daemon/api_listen.h"
#include "daemon/daemon.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tls_test_pki.h"
#include "scoped_env.h"

namespace berth::daemon {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

using berth::testing::ScopedEnv;

Config Hosts(std::vector<std::string> hosts) {
  Config c;
  c.hosts = std::move(hosts);
  return c;
}

TEST(ApiListenTest, LoopbackHosts) {
  EXPECT_TRUE(IsLoopbackHost("tcp://127.0.0.1:2375"));
  EXPECT_TRUE(IsLoopbackHost("tcp://127.3.4.5:2375"));
  EXPECT_TRUE(IsLoopbackHost("tcp://[::1]:2375"));
  EXPECT_TRUE(IsLoopbackHost("tcp://localhost:2375"));
  EXPECT_TRUE(IsLoopbackHost("tcp://:2375"));
  EXPECT_FALSE(IsLoopbackHost("tcp://0.0.0.0:2375"));
  EXPECT_FALSE(IsLoopbackHost("tcp://10.0.0.1:2375"));
  EXPECT_FALSE(IsLoopbackHost("tcp://[::]:2375"));
  EXPECT_FALSE(IsLoopbackHost("tcp://docker.example:2375"));
}

TEST(ApiListenTest, PlainTextOnTheNetworkIsRefusedWithoutAnExplicitOptOut) {
  auto r = ApiTls(Hosts({"unix:///run/berth.sock", "tcp://0.0.0.0:2375"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(std::string(r.status().message()),
            "refusing to listen on tcp://0.0.0.0:2375 without TLS: binding to an IP address "
            "without --tlsverify is insecure and gives root access on this machine to everyone "
            "who has access to your network. Use --tlsverify with --tlscacert, --tlscert and "
            "--tlskey, or give --tls=false explicitly to accept the risk");

  Config opt_out = Hosts({"tcp://0.0.0.0:2375"});
  opt_out.tls = false;
  auto ok = ApiTls(opt_out);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, nullptr);  // plain text, as asked (with a loud warning)

  auto loopback = ApiTls(Hosts({"tcp://127.0.0.1:2375"}));
  ASSERT_TRUE(loopback.ok()) << loopback.status();
  EXPECT_EQ(*loopback, nullptr);
  auto unix_only = ApiTls(Hosts({"unix:///run/berth.sock"}));
  ASSERT_TRUE(unix_only.ok());
  EXPECT_EQ(*unix_only, nullptr);
}

TEST(ApiListenTest, TlsWithoutClientVerificationNeedsTlsverifyFalseOnTheNetwork) {
  berth::testing::TestPki pki;
  berth::testing::MakeTestPki(&pki);
  Config c = Hosts({"tcp://10.0.0.1:2376"});
  c.tls = true;
  c.tls_cert = pki.server_cert;
  c.tls_key = pki.server_key;
  auto refused = ApiTls(c);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("with TLS but without client verification"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("give --tlsverify=false"));
  c.tls_verify = false;
  auto ok = ApiTls(c);
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_NE(*ok, nullptr);
  EXPECT_FALSE((*ok)->verify_peer());
}

TEST(ApiListenTest, TlsverifyLoadsTheFilesAndRequiresClientCertificates) {
  berth::testing::TestPki pki;
  berth::testing::MakeTestPki(&pki);
  Config c = Hosts({"tcp://0.0.0.0:2376"});
  c.tls_verify = true;  // implies --tls
  c.tls_ca = pki.ca;
  c.tls_cert = pki.server_cert;
  c.tls_key = pki.server_key;
  auto ctx = ApiTls(c);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  ASSERT_NE(*ctx, nullptr);
  EXPECT_TRUE((*ctx)->verify_peer());

  c.tls = false;  // contradicts --tlsverify
  auto conflict = ApiTls(c);
  ASSERT_FALSE(conflict.ok());
  EXPECT_THAT(std::string(conflict.status().message()), HasSubstr("--tls=false conflicts"));
}

TEST(ApiListenTest, CertificatePathsDefaultToDockerCertPath) {
  ScopedEnv cert_path("DOCKER_CERT_PATH", "/etc/berth/certs");
  EXPECT_EQ(DefaultCertPath("ca.pem"), "/etc/berth/certs/ca.pem");
  Config c = Hosts({"tcp://127.0.0.1:2376"});
  c.tls_verify = true;
  auto r = ApiTls(c);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("open /etc/berth/certs/cert.pem: no such file or directory"));
  ScopedEnv none("DOCKER_CERT_PATH", nullptr);
  ScopedEnv home("HOME", "/home/op");
  EXPECT_EQ(DefaultCertPath("key.pem"), "/home/op/.docker/key.pem");
}

TEST(ApiListenTest, DurationFlags) {
  EXPECT_EQ(*ParseDurationFlag("--header-timeout", "30s"), 30s);
  EXPECT_EQ(*ParseDurationFlag("--header-timeout", "500ms"), 500ms);
  EXPECT_EQ(*ParseDurationFlag("--idle-timeout", "2m"), 120s);
  EXPECT_EQ(*ParseDurationFlag("--idle-timeout", "45"), 45s);
  EXPECT_FALSE(ParseDurationFlag("--idle-timeout", "0").ok());
  auto bad = ParseDurationFlag("--header-timeout", "soon");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("--header-timeout"));
}

TEST(ApiListenTest, DaemonJsonTakesDockerdTlsKeys) {
  char tmpl[] = "/tmp/berth-cfg-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string path = dir + "/daemon.json";
  std::ofstream(path) << R"({"hosts": ["tcp://127.0.0.1:2376"], "tls": true, "tlsverify": true,
    "tlscacert": "/c/ca.pem", "tlscert": "/c/cert.pem", "tlskey": "/c/key.pem"})";
  Config c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.tls, true);
  EXPECT_EQ(c.tls_verify, true);
  EXPECT_EQ(c.tls_ca, "/c/ca.pem");
  EXPECT_EQ(c.tls_cert, "/c/cert.pem");
  EXPECT_EQ(c.tls_key, "/c/key.pem");
  std::ofstream(path) << R"({"tlsverify": "yes"})";
  Config bad;
  EXPECT_FALSE(LoadConfigFile(path, &bad).ok());
  std::remove(path.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace berth::daemon
