// Unit and port parsing, humanized sizes and durations, restart policies, timestamps, the ps
// Ports column: docker's rules and outputs.

#include <cstdlib>
#include <ctime>
#include <fstream>

#include "cli/cli.h"
#include "cli/opts.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

using nlohmann::json;

// Go's encoding/csv on one line, errors included (what the docker CLI prints for a bad value).
TEST(CliOptsTest, GoCsvRecordReadsOneLineAsEncodingCsv) {
  using V = std::vector<std::string>;
  EXPECT_EQ(*GoCsvRecord("a,b,c"), (V{"a", "b", "c"}));
  EXPECT_EQ(*GoCsvRecord("a,,"), (V{"a", "", ""}));
  EXPECT_EQ(*GoCsvRecord("\"x,y\",z"), (V{"x,y", "z"}));
  EXPECT_EQ(*GoCsvRecord("\"say \"\"hi\"\"\""), (V{"say \"hi\""}));
  EXPECT_EQ(GoCsvRecord("").status().message(), "EOF");
  EXPECT_EQ(GoCsvRecord("a\"b").status().message(), "parse error on line 1, column 2: bare \" in non-quoted-field");
  EXPECT_EQ(GoCsvRecord("x,\"a\"b").status().message(),
            "parse error on line 1, column 5: extraneous or missing \" in quoted-field");
  EXPECT_EQ(GoCsvRecord("\"all").status().message(),
            "parse error on line 1, column 5: extraneous or missing \" in quoted-field");
}

TEST(CliOptsTest, MemoryUnitsAreBinary) {
  EXPECT_EQ(*RamInBytes("512m"), 512LL * 1024 * 1024);
  EXPECT_EQ(*RamInBytes("1g"), 1LL << 30);
  EXPECT_EQ(*RamInBytes("1GiB"), 1LL << 30);
  EXPECT_EQ(*RamInBytes("64k"), 65536);
  EXPECT_EQ(*RamInBytes("100b"), 100);
  EXPECT_EQ(*RamInBytes("100"), 100);
  EXPECT_EQ(*RamInBytes("1.5m"), 1572864);
  EXPECT_FALSE(RamInBytes("12x").ok());
  EXPECT_FALSE(RamInBytes("m").ok());
  EXPECT_EQ(RamInBytes("10mbx").status().message(), "invalid suffix: 'mbx'");
}

TEST(CliOptsTest, CpusToNanoCpus) {
  EXPECT_EQ(*ParseNanoCpus("1.5"), 1500000000);
  EXPECT_EQ(*ParseNanoCpus("0.25"), 250000000);
  EXPECT_EQ(*ParseNanoCpus("2"), 2000000000);
  EXPECT_FALSE(ParseNanoCpus("abc").ok());
  EXPECT_FALSE(ParseNanoCpus("-1").ok());
}

TEST(CliOptsTest, HumanSizesMatchGoUnits) {
  EXPECT_EQ(HumanSize(2160000, 3), "2.16MB");
  EXPECT_EQ(HumanSize(2157568, 3), "2.16MB");
  EXPECT_EQ(HumanSize(0, 3), "0B");
  EXPECT_EQ(HumanSize(999, 3), "999B");
  EXPECT_EQ(HumanSize(1000, 4), "1kB");
  EXPECT_EQ(HumanSize(1234567), "1.235MB");
  EXPECT_EQ(BytesSize(1048576), "1MiB");
  EXPECT_EQ(BytesSize(1536), "1.5KiB");
  EXPECT_EQ(BytesSize(2147483648.0), "2GiB");
}

TEST(CliOptsTest, TimeAgoLikeDocker) {
  EXPECT_EQ(TimeAgo(1000, 1000), "Less than a second ago");
  EXPECT_EQ(TimeAgo(1000, 1001), "1 second ago");
  EXPECT_EQ(TimeAgo(1000, 1045), "45 seconds ago");
  EXPECT_EQ(TimeAgo(1000, 1090), "About a minute ago");
  EXPECT_EQ(TimeAgo(1000, 1000 + 120), "2 minutes ago");
  EXPECT_EQ(TimeAgo(1000, 1000 + 3600), "About an hour ago");
  EXPECT_EQ(TimeAgo(0, 3 * 86400), "3 days ago");
}

TEST(CliOptsTest, PortSpecsMatchTheTraceOfPweb4) {
  // docker run -d -p 127.0.0.1:8082:80/tcp -p 5353:53/udp --name pweb4 web
  auto p = ParsePortSpecs({"127.0.0.1:8082:80/tcp", "5353:53/udp"});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(ExposedPortsJson(*p), json::parse(R"({"53/udp": {}, "80/tcp": {}})"));
  EXPECT_EQ(PortBindingsJson(*p), json::parse(R"({
    "53/udp": [{"HostIp": "", "HostPort": "5353"}],
    "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8082"}]})"));
}

TEST(CliOptsTest, PortSpecForms) {
  auto only = ParsePortSpecs({"80"});
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(PortBindingsJson(*only), json::parse(R"({"80/tcp":[{"HostIp":"","HostPort":""}]})"));
  auto range = ParsePortSpecs({"8000-8001:80-81"});
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(PortBindingsJson(*range), json::parse(R"({
    "80/tcp":[{"HostIp":"","HostPort":"8000"}],"81/tcp":[{"HostIp":"","HostPort":"8001"}]})"));
  auto v6 = ParsePortSpecs({"[::1]:8080:80"});
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(PortBindingsJson(*v6),
            json::parse(R"({"80/tcp":[{"HostIp":"::1","HostPort":"8080"}]})"));
  auto two = ParsePortSpecs({"8080:80", "8081:80"});
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(PortBindingsJson(*two)["80/tcp"].size(), 2u);
  EXPECT_FALSE(ParsePortSpecs({"abc"}).ok());
  EXPECT_FALSE(ParsePortSpecs({"80/xyz"}).ok());
  EXPECT_FALSE(ParsePortSpecs({"1.2.3:80:80"}).ok());
  EXPECT_FALSE(ParsePortSpecs({"99999:80"}).ok());
}

TEST(CliOptsTest, RestartPolicies) {
  EXPECT_EQ(*ParseRestartPolicy(""), json::parse(R"({"Name":"no","MaximumRetryCount":0})"));
  EXPECT_EQ(*ParseRestartPolicy("always"),
            json::parse(R"({"Name":"always","MaximumRetryCount":0})"));
  EXPECT_EQ(*ParseRestartPolicy("unless-stopped"),
            json::parse(R"({"Name":"unless-stopped","MaximumRetryCount":0})"));
  EXPECT_EQ(*ParseRestartPolicy("on-failure:3"),
            json::parse(R"({"Name":"on-failure","MaximumRetryCount":3})"));
  EXPECT_EQ(ParseRestartPolicy("sometimes").status().message(),
            "invalid restart policy 'sometimes'");
  EXPECT_FALSE(ParseRestartPolicy("always:3").ok());
  EXPECT_FALSE(ParseRestartPolicy("on-failure:x").ok());
}

TEST(CliOptsTest, GoDurationsAndTimestamps) {
  EXPECT_EQ(ParseGoDuration("1h30m")->count(), 5400LL * 1000000000LL);
  EXPECT_EQ(ParseGoDuration("300ms")->count(), 300000000LL);
  EXPECT_EQ(ParseGoDuration("1.5s")->count(), 1500000000LL);
  EXPECT_FALSE(ParseGoDuration("10").ok());
  EXPECT_FALSE(ParseGoDuration("5x").ok());
  EXPECT_EQ(*ParseTimestamp("10m", 1000000), "999400");
  EXPECT_EQ(*ParseTimestamp("1700000000", 0), "1700000000");
  EXPECT_EQ(*ParseTimestamp("1700000000.5", 0), "1700000000.5");
  EXPECT_EQ(*ParseTimestamp("2023-11-14T22:13:20Z", 0), "1700000000.000000000");
  EXPECT_EQ(*ParseTimestamp("2023-11-14", 0), "1699920000.000000000");
  EXPECT_FALSE(ParseTimestamp("yesterday", 0).ok());
}

TEST(CliOptsTest, EnvFileAndExpansion) {
  char path[] = "/tmp/berth-envfile-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  {
    std::ofstream f(path);
    f << "# comment\n\nA=1\n  B=two words\nBERTH_TEST_FROM_ENV\nBERTH_TEST_UNSET\n";
  }
  ::setenv("BERTH_TEST_FROM_ENV", "x", 1);
  ::unsetenv("BERTH_TEST_UNSET");
  auto lines = ParseEnvFile(path);
  ::unlink(path);
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_EQ(*lines, (std::vector<std::string>{"A=1", "B=two words", "BERTH_TEST_FROM_ENV=x"}));
  EXPECT_EQ(ExpandEnv("BERTH_TEST_FROM_ENV"), "BERTH_TEST_FROM_ENV=x");
  EXPECT_EQ(ExpandEnv("BERTH_TEST_UNSET"), "BERTH_TEST_UNSET");
  EXPECT_EQ(ExpandEnv("K=v=w"), "K=v=w");
  EXPECT_FALSE(ParseEnvFile("/nonexistent/env").ok());
}

TEST(CliOptsTest, Filters) {
  std::map<std::string, std::vector<std::string>> f;
  ASSERT_TRUE(AddFilter("name=pweb", &f).ok());
  ASSERT_TRUE(AddFilter("status=exited", &f).ok());
  ASSERT_TRUE(AddFilter("status=created", &f).ok());
  EXPECT_EQ(f["status"].size(), 2u);
  EXPECT_EQ(AddFilter("bogus", &f).message(), "bad format of filter (expected name=value)");
}

TEST(CliOptsTest, QuoteAndEllipsisAsPsPrintsCommands) {
  EXPECT_EQ(GoQuote("httpd -f -p 80 -h /www"), "\"httpd -f -p 80 -h /www\"");
  EXPECT_EQ(GoQuote("sh -c \"x\""), "\"sh -c \\\"x\\\"\"");
  EXPECT_EQ(Ellipsis("httpd -f -p 80 -h /www", 20), "httpd -f -p 80 -h /…");
  EXPECT_EQ(Ellipsis("short", 20), "short");
}

TEST(CliOptsTest, DisplayablePortsLikeTheTranscript) {
  // ps-all: pweb4's ports, as the daemon listed them.
  json ports = json::parse(R"([
    {"IP":"0.0.0.0","PrivatePort":53,"PublicPort":5353,"Type":"udp"},
    {"IP":"::","PrivatePort":53,"PublicPort":5353,"Type":"udp"},
    {"IP":"127.0.0.1","PrivatePort":80,"PublicPort":8082,"Type":"tcp"}])");
  EXPECT_EQ(DisplayablePorts(ports),
            "0.0.0.0:5353->53/udp, [::]:5353->53/udp, 127.0.0.1:8082->80/tcp");
  json pweb = json::parse(R"([
    {"IP":"::","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},
    {"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}])");
  EXPECT_EQ(DisplayablePorts(pweb), "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp");
  json exposed = json::parse(R"([
    {"PrivatePort":80,"Type":"tcp"},{"PrivatePort":81,"Type":"tcp"},{"PrivatePort":53,"Type":"udp"}])");
  EXPECT_EQ(DisplayablePorts(exposed), "53/udp, 80-81/tcp");
  json same = json::parse(R"([{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":80,"Type":"tcp"}])");
  EXPECT_EQ(DisplayablePorts(same), "0.0.0.0:80->80/tcp");
  EXPECT_EQ(DisplayablePorts(json::array()), "");
}

}  // namespace
}  // namespace berth::cli

namespace berth::cli {
namespace {

TEST(CliOptsTest, QueryParametersInGoOrder) {
  EXPECT_EQ(SortedQuery("/containers/x/attach?stream=1&stdin=1&stdout=1&stderr=1"),
            "/containers/x/attach?stderr=1&stdin=1&stdout=1&stream=1");
  EXPECT_EQ(SortedQuery("/images/create?fromSrc=-&repo=web&changes=A&changes=B"),
            "/images/create?changes=A&changes=B&fromSrc=-&repo=web");
  EXPECT_EQ(SortedQuery("/networks"), "/networks");
}

TEST(CliOptsTest, GoTimeStringOfRfc3339) {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
  EXPECT_EQ(GoTimeString("2026-11-28T03:25:50.218523531Z"),
            "2026-11-28 03:25:50.218523531 +0000 UTC");
  EXPECT_EQ(GoTimeString("2026-11-28T03:25:50.5Z"), "2026-11-28 03:25:50.5 +0000 UTC");
  EXPECT_EQ(GoTimeString("2026-11-28T03:25:50Z"), "2026-11-28 03:25:50 +0000 UTC");
  EXPECT_EQ(GoTimeString("garbage"), "garbage");
}

}  // namespace
}  // namespace berth::cli
