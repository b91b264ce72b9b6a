// Unit tests for the registry documents: manifest/index parsing, platforms, rendering.
#include "registry/manifest.h"

#include <gtest/gtest.h>

#include <string>

#include "common/ids.h"

namespace berth::registry {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

std::string Schema2Body(std::string_view media_type_field) {
  return std::string("{\"schemaVersion\":2,") + std::string(media_type_field) +
         "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
         "\"size\":1469,\"digest\":\"" +
         kA +
         "\"},\"layers\":[{\"mediaType\":\"application/"
         "vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":2814,\"digest\":\"" +
         kB + "\"}]}";
}

TEST(ParseManifest, DockerSchema2FromTheBody) {
  auto p = ParseManifest(
      "application/json",
      Schema2Body("\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->is_index);
  EXPECT_EQ(p->manifest.media_type, media::kDockerManifest);
  EXPECT_EQ(p->manifest.config.digest, kA);
  EXPECT_EQ(p->manifest.config.size, 1469);
  ASSERT_EQ(p->manifest.layers.size(), 1u);
  EXPECT_EQ(p->manifest.layers[0].media_type, media::kDockerLayerGzip);
  EXPECT_EQ(p->manifest.layers[0].size, 2814);
}

TEST(ParseManifest, MediaTypeFromContentTypeThenShape) {
  auto ct = ParseManifest("application/vnd.docker.distribution.manifest.v2+json; charset=utf-8",
                          Schema2Body(""));
  ASSERT_TRUE(ct.ok()) << ct.status();
  EXPECT_EQ(ct->manifest.media_type, media::kDockerManifest);
  auto shape = ParseManifest("application/octet-stream", Schema2Body(""));
  ASSERT_TRUE(shape.ok()) << shape.status();
  EXPECT_EQ(shape->manifest.media_type, media::kOciManifest);
  auto idx = ParseManifest("", "{\"schemaVersion\":2,\"manifests\":[]}");
  ASSERT_TRUE(idx.ok()) << idx.status();
  EXPECT_TRUE(idx->is_index);
  EXPECT_EQ(idx->index.media_type, media::kOciIndex);
}

TEST(ParseManifest, IndexWithPlatforms) {
  std::string body =
      "{\"schemaVersion\":2,\"mediaType\":\"application/"
      "vnd.docker.distribution.manifest.list.v2+json\",\"manifests\":["
      "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":527,"
      "\"digest\":\"" +
      kA +
      "\",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
      "{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":527,"
      "\"digest\":\"" +
      kB +
      "\",\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
      "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":800,"
      "\"digest\":\"" +
      kC + "\",\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"}}]}";
  auto p = ParseManifest("", body);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->is_index);
  ASSERT_EQ(p->index.manifests.size(), 3u);
  EXPECT_EQ(p->index.manifests[1].platform->variant, "v8");

  auto amd = SelectPlatform(p->index, HostPlatform());
  ASSERT_TRUE(amd.ok()) << amd.status();
  EXPECT_EQ(amd->digest, kA);
  for (const char* spec : {"linux/arm64", "linux/arm64/v8", "linux/aarch64", "arm64"}) {
    auto want = ParsePlatform(spec);
    ASSERT_TRUE(want.ok()) << want.status();
    auto arm = SelectPlatform(p->index, *want);
    ASSERT_TRUE(arm.ok()) << spec << ": " << arm.status();
    EXPECT_EQ(arm->digest, kB) << spec;
  }
  auto s390 = SelectPlatform(p->index, *ParsePlatform("linux/s390x"));
  EXPECT_EQ(s390.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s390.status().message(),
            "no matching manifest for linux/s390x in the manifest list entries");
  // An index with only amd64 asked for arm64: Docker's words.
  ImageIndex only_amd;
  only_amd.manifests.push_back(p->index.manifests[0]);
  auto none = SelectPlatform(only_amd, *ParsePlatform("linux/arm64"));
  EXPECT_EQ(none.status().message(),
            "no matching manifest for linux/arm64 in the manifest list entries");
}

TEST(ParseManifest, Schema1IsRefusedWithDockersMessage) {
  for (const char* ct : {"application/vnd.docker.distribution.manifest.v1+prettyjws",
                         "application/vnd.docker.distribution.manifest.v1+json", ""}) {
    auto p = ParseManifest(ct,
                           "{\"schemaVersion\":1,\"name\":\"x\",\"tag\":\"latest\","
                           "\"fsLayers\":[],\"history\":[]}");
    ASSERT_FALSE(p.ok()) << ct;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(p.status().message().find("Docker Image manifest version 2, schema 1 support has "
                                        "been removed"),
              std::string::npos)
        << p.status();
  }
}

TEST(ParseManifest, BadDocumentsAreRefused) {
  EXPECT_FALSE(ParseManifest("", "not json").ok());
  EXPECT_FALSE(ParseManifest("", "[]").ok());
  EXPECT_FALSE(ParseManifest("", "{\"schemaVersion\":2}").ok());
  auto other = ParseManifest("", "{\"schemaVersion\":2,\"mediaType\":\"text/html\"}");
  EXPECT_EQ(other.status().message(),
            "unsupported manifest media type and no default available: text/html");
  // A bad digest in a descriptor.
  std::string bad = Schema2Body("");
  bad.replace(bad.find(kB), kB.size(), "sha256:xyz");
  EXPECT_FALSE(ParseManifest("", bad).ok());
  std::string sha512 = Schema2Body("");
  sha512.replace(sha512.find(kB), kB.size(), "sha512:" + std::string(128, 'a'));
  auto s = ParseManifest("", sha512);
  EXPECT_NE(s.status().message().find("unsupported digest algorithm"), std::string::npos);
}

TEST(ParsePlatform, ContainerdNormalisation) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"linux/amd64", "linux/amd64"},   {"linux/x86_64", "linux/amd64"},
      {"linux/aarch64", "linux/arm64"}, {"linux/arm64/v8", "linux/arm64"},
      {"arm64", "linux/arm64"},         {"linux", "linux/amd64"},
      {"Linux/AMD64", "linux/amd64"},   {"linux/arm", "linux/arm"},
      {"linux/arm/v6", "linux/arm/v6"}, {"linux/armhf", "linux/arm"},
      {"linux/i386", "linux/386"},      {"windows/amd64", "windows/amd64"},
  };
  for (const auto& c : cases) {
    auto p = ParsePlatform(c.in);
    ASSERT_TRUE(p.ok()) << c.in << ": " << p.status();
    EXPECT_EQ(p->String(), c.out) << c.in;
  }
}

TEST(ParsePlatform, BadSpecifiersGetContainerdsMessages) {
  auto unknown = ParsePlatform("foo");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(unknown.status().message(),
            "\"foo\": unknown operating system or architecture: invalid argument");
  EXPECT_EQ(ParsePlatform("linux/*").status().message(),
            "\"linux/*\": wildcards not yet supported: invalid argument");
  EXPECT_EQ(ParsePlatform("linux/arm/v7/x").status().message(),
            "\"linux/arm/v7/x\": cannot parse platform specifier: invalid argument");
  auto space = ParsePlatform("linux/am d64");
  EXPECT_NE(space.status().message().find("\"am d64\" is an invalid component of"),
            std::string::npos)
      << space.status();
  EXPECT_FALSE(ParsePlatform("").ok());
}

TEST(PlatformMatches, VariantsAsContainerd) {
  Platform arm64{"linux", "arm64", "", "", {}}, arm64v8{"linux", "arm64", "v8", "", {}};
  EXPECT_TRUE(PlatformMatches(arm64v8, arm64));
  EXPECT_TRUE(PlatformMatches(arm64, arm64v8));
  EXPECT_FALSE(PlatformMatches(arm64, HostPlatform()));
  Platform armv7{"linux", "arm", "v7", "", {}}, arm{"linux", "arm", "", "", {}};
  EXPECT_TRUE(PlatformMatches(armv7, arm));
  EXPECT_FALSE(PlatformMatches(Platform{"linux", "arm", "v6", "", {}}, arm));
}

TEST(RenderManifest, DockersFieldOrderAndStableBytes) {
  ImageManifest m;
  m.media_type = std::string(media::kDockerManifest);
  m.config = {std::string(media::kDockerConfig), kA, 1469, {}, {}, std::nullopt};
  m.layers.push_back({std::string(media::kDockerLayerGzip), kB, 2814, {}, {}, std::nullopt});
  std::string body = RenderManifest(m);
  EXPECT_EQ(body,
            "{\n"
            "   \"schemaVersion\": 2,\n"
            "   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
            "   \"config\": {\n"
            "      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
            "      \"size\": 1469,\n"
            "      \"digest\": \"" +
                kA +
                "\"\n"
                "   },\n"
                "   \"layers\": [\n"
                "      {\n"
                "         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
                "         \"size\": 2814,\n"
                "         \"digest\": \"" +
                kB +
                "\"\n"
                "      }\n"
                "   ]\n"
                "}");
  EXPECT_EQ(Sha256Hex(RenderManifest(m)), Sha256Hex(body));
  // It reads back as what it was.
  auto back = ParseManifest("", body);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->manifest.layers[0].digest, kB);
  EXPECT_EQ(back->manifest.config.size, 1469);
}

TEST(RenderIndex, RoundTripsPlatforms) {
  ImageIndex idx;
  idx.media_type = std::string(media::kOciIndex);
  Descriptor a{std::string(media::kOciManifest),      kA, 100, {}, {},
               Platform{"linux", "amd64", "", "", {}}};
  Descriptor b{std::string(media::kOciManifest),        kB, 200, {}, {},
               Platform{"linux", "arm64", "v8", "", {}}};
  idx.manifests = {a, b};
  std::string body = RenderIndex(idx);
  EXPECT_LT(body.find("\"schemaVersion\""), body.find("\"mediaType\""));
  EXPECT_LT(body.find("\"mediaType\""), body.find("\"manifests\""));
  auto back = ParseManifest("", body);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->is_index);
  ASSERT_EQ(back->index.manifests.size(), 2u);
  EXPECT_EQ(back->index.manifests[1].platform->String(), "linux/arm64/v8");
  EXPECT_EQ(back->index.manifests[1].size, 200);
}

TEST(AcceptHeader, ListsEveryReadableKind) {
  std::string a = media::AcceptHeader();
  for (auto mt : {media::kDockerManifestList, media::kDockerManifest, media::kOciIndex,
                  media::kOciManifest}) {
    EXPECT_NE(a.find(mt), std::string::npos) << mt;
  }
}

}  // namespace
}  // namespace berth::registry

namespace berth::registry {
namespace {

TEST(ParseImageConfig, PlatformAndDiffIds) {
  auto c = ParseImageConfig(
      "{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\",\"config\":{},"
      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" +
      kA + "\",\"" + kB + "\"]}}");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->platform.String(), "linux/arm64/v8");
  EXPECT_EQ(c->diff_ids, (std::vector<std::string>{kA, kB}));
  auto empty = ParseImageConfig(
      "{\"os\":\"linux\",\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\"}}");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->diff_ids.empty());
  EXPECT_EQ(ParseImageConfig("{\"os\":\"linux\"}").status().message(),
            "invalid rootfs in image configuration");
  EXPECT_FALSE(ParseImageConfig("{\"rootfs\":{\"diff_ids\":[1]}}").ok());
  EXPECT_FALSE(ParseImageConfig("nope").ok());
}

}  // namespace
}  // namespace berth::registry
