// The berth CLI's parsing of --ulimit, --device, --security-opt and --tmpfs, as docker's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "cli/host_opts.h"

namespace berth::cli {
namespace {

using nlohmann::json;

TEST(CliHostOpts, Ulimits) {
  auto u = ParseUlimits({"nofile=1024:2048", "core=0", "nofile=10:20"});
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(
      *u,
      json::parse(R"([{"Name":"nofile","Hard":20,"Soft":10},{"Name":"core","Hard":0,"Soft":0}])"));
  EXPECT_EQ(ParseUlimits({"nofile"}).status().message(),
            "invalid argument \"nofile\" for \"--ulimit\" flag: invalid ulimit argument: nofile");
  EXPECT_EQ(ParseUlimits({"bogus=1"}).status().message(),
            "invalid argument \"bogus=1\" for \"--ulimit\" flag: invalid ulimit type: bogus");
  EXPECT_EQ(
      ParseUlimits({"nofile=2:1"}).status().message(),
      "invalid argument \"nofile=2:1\" for \"--ulimit\" flag: ulimit soft limit must be less than "
      "or equal to hard limit: 2 > 1");
  EXPECT_EQ(ParseUlimits({"nofile=x"}).status().message(),
            "invalid argument \"nofile=x\" for \"--ulimit\" flag: strconv.ParseInt: parsing \"x\": "
            "invalid syntax");
  EXPECT_TRUE(ParseUlimits({"core=-1"}).ok());  // unlimited
}

TEST(CliHostOpts, Devices) {
  auto d = ParseDevices({"/dev/fuse", "/dev/sda:/dev/xvda", "/dev/sdb:r", "/dev/sdc:/dev/c:rw"});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)[0], json({{"PathOnHost", "/dev/fuse"},
                           {"PathInContainer", "/dev/fuse"},
                           {"CgroupPermissions", "rwm"}}));
  EXPECT_EQ((*d)[1]["PathInContainer"], "/dev/xvda");
  EXPECT_EQ((*d)[2]["CgroupPermissions"], "r");
  EXPECT_EQ((*d)[2]["PathInContainer"], "/dev/sdb");
  EXPECT_EQ((*d)[3]["CgroupPermissions"], "rw");
  EXPECT_FALSE(ParseDevices({"/dev/a:/dev/b:xyz"}).ok());
  EXPECT_FALSE(ParseDevices({"/dev/a:rel"}).ok());
}

TEST(CliHostOpts, SecurityOptsReadSeccompFiles) {
  char dir[] = "/tmp/berth-cli-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/p.json";
  std::ofstream(path) << "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": []\n}\n";
  auto s = ParseSecurityOpts({"no-new-privileges", "seccomp=" + path, "systempaths=unconfined"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->security_opt, json({"no-new-privileges",
                                   R"(seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]})"}));
  EXPECT_TRUE(s->unconfined_paths);
  EXPECT_EQ(ParseSecurityOpts({"seccomp=unconfined"})->security_opt, json({"seccomp=unconfined"}));
  EXPECT_TRUE(ParseSecurityOpts({})->security_opt.is_null());
  EXPECT_EQ(ParseSecurityOpts({"seccomp=/no/such.json"}).status().message(),
            "opening seccomp profile (/no/such.json) failed: open /no/such.json: no such file or "
            "directory");
  EXPECT_EQ(ParseSecurityOpts({"label"}).status().message(), "invalid --security-opt: \"label\"");
  std::ofstream(path) << "{not json";
  EXPECT_FALSE(ParseSecurityOpts({"seccomp=" + path}).ok());
  ::unlink(path.c_str());
  ::rmdir(dir);
}

TEST(CliHostOpts, Tmpfs) {
  EXPECT_EQ(ParseTmpfs({"/t", "/run:size=64m"}), json({{"/t", ""}, {"/run", "size=64m"}}));
}

}  // namespace
}  // namespace berth::cli
