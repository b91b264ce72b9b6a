// The docker-style flag parser: run's non-interspersed syntax, bundled shorthands, pflag's
// error messages.

#include "cli/flags.h"
#include "gtest/gtest.h"

namespace berth::cli {
namespace {

struct RunFlags {
  bool d = false, i = false, t = false, rm = false;
  std::string name, workdir;
  std::vector<std::string> env, publish;
  int64_t time = 0;
  FlagSet f;
  RunFlags() {
    f.Bool("detach", 'd', &d);
    f.Bool("interactive", 'i', &i);
    f.Bool("tty", 't', &t);
    f.Bool("rm", 0, &rm);
    f.String("name", 0, &name);
    f.String("workdir", 'w', &workdir);
    f.StringList("env", 'e', &env);
    f.StringList("publish", 'p', &publish);
    f.Int("time", 0, &time);
  }
};

TEST(CliFlagsTest, StopsAtTheImageWhenNotInterspersed) {
  RunFlags r;
  r.f.SetInterspersed(false);
  std::vector<std::string> pos;
  ASSERT_TRUE(r.f.Parse({"-d", "--name", "x", "busybox", "sh", "-c", "ls -l", "--rm"}, &pos).ok());
  EXPECT_TRUE(r.d);
  EXPECT_FALSE(r.rm);  // after the image: part of the command
  EXPECT_EQ(r.name, "x");
  EXPECT_EQ(pos, (std::vector<std::string>{"busybox", "sh", "-c", "ls -l", "--rm"}));
}

TEST(CliFlagsTest, InterspersedFlagsAfterPositionals) {
  RunFlags r;
  std::vector<std::string> pos;
  ASSERT_TRUE(r.f.Parse({"c1", "--time", "3", "c2", "--", "-x"}, &pos).ok());
  EXPECT_EQ(r.time, 3);
  EXPECT_EQ(pos, (std::vector<std::string>{"c1", "c2", "-x"}));
}

TEST(CliFlagsTest, BundledShorthandsAndAttachedValues) {
  RunFlags r;
  std::vector<std::string> pos;
  ASSERT_TRUE(r.f.Parse({"-itd", "-p8080:80", "-eA=1", "-e", "B=2", "--name=b1", "-w=/tmp",
                         "--rm=false", "img"},
                        &pos)
                  .ok());
  EXPECT_TRUE(r.i && r.t && r.d);
  EXPECT_FALSE(r.rm);
  EXPECT_EQ(r.publish, (std::vector<std::string>{"8080:80"}));
  EXPECT_EQ(r.env, (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ(r.name, "b1");
  EXPECT_EQ(r.workdir, "/tmp");
  EXPECT_TRUE(r.f.Changed("rm"));
  EXPECT_FALSE(r.f.Changed("time"));
  EXPECT_EQ(pos, (std::vector<std::string>{"img"}));
}

TEST(CliFlagsTest, ShorthandTakingTheValueAfterBools) {
  RunFlags r;
  std::vector<std::string> pos;
  ASSERT_TRUE(r.f.Parse({"-dp", "80:80", "img"}, &pos).ok());
  EXPECT_TRUE(r.d);
  EXPECT_EQ(r.publish, (std::vector<std::string>{"80:80"}));
}

TEST(CliFlagsTest, PflagErrorMessages) {
  std::vector<std::string> pos;
  RunFlags a;
  EXPECT_EQ(a.f.Parse({"--foo"}, &pos).message(), "unknown flag: --foo");
  RunFlags b;
  EXPECT_EQ(b.f.Parse({"-x"}, &pos).message(), "unknown shorthand flag: 'x' in -x");
  RunFlags c;
  EXPECT_EQ(c.f.Parse({"--name"}, &pos).message(), "flag needs an argument: --name");
  RunFlags d;
  EXPECT_EQ(d.f.Parse({"-e"}, &pos).message(), "flag needs an argument: 'e' in -e");
  RunFlags e;
  EXPECT_EQ(e.f.Parse({"--time", "abc"}, &pos).message(),
            "invalid argument \"abc\" for \"--time\" flag: strconv.ParseInt: parsing \"abc\": "
            "invalid syntax");
}

TEST(CliFlagsTest, HelpIsRecognisedUnlessHIsTaken) {
  FlagSet f;
  std::string hostname;
  std::vector<std::string> pos;
  ASSERT_TRUE(f.Parse({"--help"}, &pos).ok());
  EXPECT_TRUE(f.help());
  FlagSet g;
  g.String("hostname", 'h', &hostname);
  ASSERT_TRUE(g.Parse({"-h", "box"}, &pos).ok());
  EXPECT_FALSE(g.help());
  EXPECT_EQ(hostname, "box");
}

TEST(CliFlagsTest, LoneDashIsPositional) {
  FlagSet f;
  std::vector<std::string> pos;
  ASSERT_TRUE(f.Parse({"-", "repo:tag"}, &pos).ok());
  EXPECT_EQ(pos, (std::vector<std::string>{"-", "repo:tag"}));
}

}  // namespace
}  // namespace berth::cli
