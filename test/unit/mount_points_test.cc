// The container mount parsing of engine/mount_points.h against moby's linux parser.

#include "engine/mount_points.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

std::string Err(const StatusOr<MountRequest>& r) { return std::string(r.status().message()); }

TEST(ParseBind, BindsVolumesAndModes) {
  auto b = ParseBind("/src/../srv/:/data/:ro,rshared");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->type, "bind");
  EXPECT_EQ(b->source, "/srv");
  EXPECT_EQ(b->destination, "/data");
  EXPECT_FALSE(b->rw);
  EXPECT_EQ(b->mode, "ro,rshared");
  EXPECT_EQ(b->propagation, "rshared");
  EXPECT_TRUE(b->create_source);

  auto plain = ParseBind("/a:/b");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->propagation, "rprivate");
  EXPECT_EQ(plain->mode, "");
  EXPECT_TRUE(plain->rw);

  auto v = ParseBind("data:/d");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->type, "volume");
  EXPECT_EQ(v->source, "data");
  EXPECT_EQ(v->mode, "z");  // a local volume without a mode: Docker's setBindModeIfNull
  EXPECT_EQ(v->propagation, "");
  EXPECT_TRUE(v->copy_data);

  auto nc = ParseBind("data:/d:nocopy");
  ASSERT_TRUE(nc.ok());
  EXPECT_FALSE(nc->copy_data);
  EXPECT_EQ(nc->mode, "nocopy");

  auto anon = ParseBind("/only");
  ASSERT_TRUE(anon.ok());
  EXPECT_EQ(anon->type, "volume");
  EXPECT_EQ(anon->source, "");
}

TEST(ParseBind, DockersErrors) {
  EXPECT_EQ(Err(ParseBind(":/x")), "invalid volume specification: ':/x'");
  EXPECT_EQ(Err(ParseBind("/x:rw")), "invalid volume specification: '/x:rw'");
  EXPECT_EQ(Err(ParseBind("a:b:c:d:e")), "invalid volume specification: 'a:b:c:d:e'");
  EXPECT_EQ(Err(ParseBind("/a:/b:bogus")), "invalid mode: bogus");
  EXPECT_EQ(Err(ParseBind("/a:/b:ro,rw")), "invalid mode: ro,rw");
  EXPECT_EQ(Err(ParseBind("/a:/")),
            "invalid volume specification: '/a:/': invalid mount config for type \"bind\": "
            "invalid specification: destination can't be '/'");
  EXPECT_EQ(Err(ParseBind("v:rel")),
            "invalid volume specification: 'v:rel': invalid mount config for type \"volume\": "
            "invalid mount path: 'rel' mount path must be absolute");
  EXPECT_EQ(Err(ParseBind("v:/x:rshared")),
            "invalid volume specification: 'v:/x:rshared': invalid mount config for type "
            "\"volume\": field BindOptions must not be specified");
  EXPECT_EQ(Err(ParseBind("/a:/x:nocopy")),
            "invalid volume specification: '/a:/x:nocopy': invalid mount config for type "
            "\"bind\": field VolumeOptions must not be specified");
}

TEST(ParseMount, TypesAndOptions) {
  spec::Mount t;
  t.type = "tmpfs";
  t.target = "/t";
  t.tmpfs_options = spec::TmpfsOptions{3 << 20, 01770};
  auto r = ParseMount(t);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tmpfs_options, "mode=1770,size=3m");
  t.tmpfs_options = spec::TmpfsOptions{1000, 0};
  t.read_only = true;
  EXPECT_EQ(ParseMount(t)->tmpfs_options, "ro,size=1000");
  t.source = "x";
  EXPECT_EQ(Err(ParseMount(t)), "invalid mount config for type \"tmpfs\": field Source must not be specified");

  spec::Mount v;
  v.type = "volume";
  v.source = "named";
  v.target = "/v";
  v.volume_options = spec::VolumeOptions{true, {{"a", "b"}}, spec::MountDriver{"local", {{"type", "tmpfs"}}}};
  r = ParseMount(v);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->copy_data);
  EXPECT_EQ(r->labels.at("a"), "b");
  EXPECT_EQ(r->driver, "local");
  EXPECT_EQ(r->driver_opts.at("type"), "tmpfs");
  EXPECT_EQ(r->mode, "z");

  spec::Mount b;
  b.type = "bind";
  b.target = "/b";
  EXPECT_EQ(Err(ParseMount(b)), "invalid mount config for type \"bind\": field Source must not be empty");
  b.source = "/src";
  b.bind_options = spec::BindOptions{"bogus", false};
  EXPECT_EQ(Err(ParseMount(b)), "invalid mount config for type \"bind\": invalid propagation mode: bogus");
  b.bind_options = spec::BindOptions{"rslave", false};
  EXPECT_EQ(ParseMount(b)->propagation, "rslave");
  EXPECT_FALSE(ParseMount(b)->create_source);  // --mount needs the source to exist

  spec::Mount u;
  u.type = "npipe";
  u.target = "/x";
  EXPECT_EQ(Err(ParseMount(u)), "invalid mount config for type \"npipe\": mount type unknown");
  u.type = "tmpfs";
  u.target = "";
  EXPECT_EQ(Err(ParseMount(u)), "invalid mount config for type \"tmpfs\": field Target must not be empty");
}

TEST(CollectMounts, OrderDuplicatesAndImageVolumes) {
  spec::ContainerConfig config;
  config.volumes = std::set<std::string>{"/data", "/cache/"};
  spec::HostConfig hc;
  hc.binds = std::vector<std::string>{"v1:/data"};
  spec::Mount t;
  t.type = "tmpfs";
  t.target = "/t";
  hc.mounts.push_back(t);
  auto all = CollectMounts(config, hc);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].source, "v1");  // the bind wins over the image's /data
  EXPECT_EQ((*all)[1].type, "tmpfs");
  EXPECT_EQ((*all)[2].destination, "/cache");
  EXPECT_TRUE((*all)[2].from_config);
  EXPECT_EQ((*all)[2].mode, "");

  hc.binds->push_back("v2:/t");
  EXPECT_EQ(CollectMounts(config, hc).status().message(), "Duplicate mount point: /t");
  hc.binds = std::vector<std::string>{};
  hc.mounts.clear();
  spec::Mount missing;
  missing.type = "bind";
  missing.source = "/nonexistent-berth-test";
  missing.target = "/m";
  hc.mounts.push_back(missing);
  EXPECT_EQ(CollectMounts(config, hc).status().message(),
            "invalid mount config for type \"bind\": bind source path does not exist: "
            "/nonexistent-berth-test");
}

TEST(VolumeNames, DockersRule) {
  EXPECT_TRUE(ValidVolumeName("my-vol_1.x").ok());
  EXPECT_FALSE(ValidVolumeName("v").ok());  // [a-zA-Z0-9][a-zA-Z0-9_.-]+: two at least
  EXPECT_FALSE(ValidVolumeName("-v").ok());
  EXPECT_FALSE(ValidVolumeName("a b").ok());
  EXPECT_FALSE(ValidVolumeName("a/b").ok());
}

TEST(CleanPath, GoPathClean) {
  EXPECT_EQ(CleanPath("/a/b/../c/./"), "/a/c");
  EXPECT_EQ(CleanPath("/../x"), "/x");
  EXPECT_EQ(CleanPath("//"), "/");
  EXPECT_EQ(CleanPath("a//b"), "a/b");
}

}  // namespace
}  // namespace berth::engine
