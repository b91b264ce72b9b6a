// The CLI's TLS settings as the docker CLI resolves them: --tls, --tlsverify (any value turns
// TLS on), DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, default files that are not there; and berth's
// global flags for them.

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>

#include "api/client/tls_flags.h"
#include "cli/cli.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scoped_env.h"

namespace berth::client {
namespace {

using ::testing::HasSubstr;

using berth::testing::ScopedEnv;

TEST(ClientTlsFlagsTest, ResolvedAsTheDockerCliDoes) {
  ScopedEnv verify_env("DOCKER_TLS_VERIFY", nullptr);
  ScopedEnv tls_env("DOCKER_TLS", nullptr);
  ScopedEnv cert_env("DOCKER_CERT_PATH", "/nonexistent/certs");
  EXPECT_FALSE(ResolveTls(TlsFlags{}).has_value());

  auto v = ResolveTls(TlsFlags{std::nullopt, true, "", "", ""});
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->verify_peer);
  EXPECT_EQ(v->ca_file, "/nonexistent/certs/ca.pem");
  EXPECT_EQ(v->cert_file, "") << "a default client certificate that is not there is not sent";
  EXPECT_EQ(v->key_file, "");

  // Any --tlsverify turns TLS on, even =false (which skips checking the daemon).
  auto nv = ResolveTls(TlsFlags{std::nullopt, false, "", "/x/cert.pem", "/x/key.pem"});
  ASSERT_TRUE(nv.has_value());
  EXPECT_FALSE(nv->verify_peer);
  EXPECT_EQ(nv->cert_file, "/x/cert.pem") << "a certificate named on the command line is kept";

  ScopedEnv verify_on("DOCKER_TLS_VERIFY", "1");
  auto env = ResolveTls(TlsFlags{});
  ASSERT_TRUE(env.has_value());
  EXPECT_TRUE(env->verify_peer);
  auto off = ResolveTls(TlsFlags{std::nullopt, false, "", "", ""});
  ASSERT_TRUE(off.has_value());
  EXPECT_FALSE(off->verify_peer);

  auto ctx = ClientTlsContext(TlsFlags{});
  ASSERT_FALSE(ctx.ok()) << "DOCKER_TLS_VERIFY needs the CA";
  EXPECT_THAT(std::string(ctx.status().message()),
              HasSubstr("Could not read CA certificate \"/nonexistent/certs/ca.pem\""));
}

TEST(ClientTlsFlagsTest, BerthTakesDockersGlobalTlsFlags) {
  ScopedEnv verify_env("DOCKER_TLS_VERIFY", nullptr);
  std::ostringstream out, err;
  EXPECT_EQ(cli::Run({"--tlsverify=maybe", "ps"}, out, err), 125);
  EXPECT_EQ(err.str(),
            "invalid argument \"maybe\" for \"--tlsverify\" flag: strconv.ParseBool: parsing "
            "\"maybe\": invalid syntax\n");
  std::ostringstream out2, err2;
  EXPECT_EQ(cli::Run({"--tlsverify", "--tlscacert", "/nonexistent/ca.pem", "-H",
                      "tcp://127.0.0.1:1", "ps"},
                     out2, err2),
            1);
  EXPECT_THAT(err2.str(), HasSubstr("Could not read CA certificate \"/nonexistent/ca.pem\""));
}

}  // namespace
}  // namespace berth::client
