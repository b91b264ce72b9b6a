// --mount's CSV syntax (cli/mount_opts.h) against docker/cli opts/mount.go.

#include "cli/mount_opts.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

using nlohmann::json;

std::string Err(const std::string& v) { return std::string(ParseMountFlag(v).status().message()); }

TEST(MountFlag, EveryType) {
  auto b = ParseMountFlag("type=bind,src=/a,dst=/b,readonly,bind-propagation=rshared");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b, json({{"Type", "bind"}, {"Source", "/a"}, {"Target", "/b"}, {"ReadOnly", true},
                      {"BindOptions", {{"Propagation", "rshared"}}}}));
  auto v = ParseMountFlag("source=data,target=/d,volume-nocopy,volume-label=a=b,volume-opt=type=tmpfs,volume-driver=local");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ((*v)["Type"], "volume");  // docker's default type
  EXPECT_EQ((*v)["VolumeOptions"]["NoCopy"], true);
  EXPECT_EQ((*v)["VolumeOptions"]["Labels"]["a"], "b");
  EXPECT_EQ((*v)["VolumeOptions"]["DriverConfig"]["Name"], "local");
  EXPECT_EQ((*v)["VolumeOptions"]["DriverConfig"]["Options"]["type"], "tmpfs");
  auto t = ParseMountFlag("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770,ro=false");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)["TmpfsOptions"]["SizeBytes"], 1 << 20);
  EXPECT_EQ((*t)["TmpfsOptions"]["Mode"], 01770);
  EXPECT_EQ((*t)["ReadOnly"], false);
}

TEST(MountFlag, DockersErrors) {
  EXPECT_EQ(Err("type=bind,source=/a"), "target is required");
  EXPECT_EQ(Err("type=bind,bogus,target=/b"), "invalid field 'bogus' must be a key=value pair");
  EXPECT_EQ(Err("type=bind,foo=1,target=/b"), "unexpected key 'foo' in 'foo=1'");
  EXPECT_EQ(Err("type=bind,target=/b,volume-nocopy"), "cannot mix 'volume-*' options with mount type 'bind'");
  EXPECT_EQ(Err("type=volume,target=/b,bind-propagation=shared"),
            "cannot mix 'bind-*' options with mount type 'volume'");
  EXPECT_EQ(Err("type=bind,target=/b,tmpfs-size=1m"), "cannot mix 'tmpfs-*' options with mount type 'bind'");
  EXPECT_EQ(Err("type=tmpfs,target=/b,tmpfs-mode=9"), "invalid value for tmpfs-mode: 9");
  EXPECT_EQ(Err("type=bind,target=/b,readonly=maybe"), "invalid value for readonly: maybe");
}

}  // namespace
}  // namespace berth::cli
