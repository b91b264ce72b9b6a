// The pure pieces of docker diff / cp: in-scope symlink resolution, Docker's archive path rules,
// the path stat header.

#include "engine/container_fs.h"

#include "api/routes.h"

#include <sys/stat.h>

#include <map>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace berth::engine {
namespace {

// A container tree of symlinks only: path -> target.
ReadlinkFn Links(std::map<std::string, std::string> links) {
  return [links](const std::string& p) -> StatusOr<std::optional<std::string>> {
    auto it = links.find(p);
    if (it == links.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  };
}

TEST(ResolveInScopeTest, PlainPathsAreCleaned) {
  auto r = Links({});
  EXPECT_EQ(*ResolveInScope("/etc/passwd", r), "/etc/passwd");
  EXPECT_EQ(*ResolveInScope("etc//./passwd/", r), "/etc/passwd");
  EXPECT_EQ(*ResolveInScope("/", r), "/");
  EXPECT_EQ(*ResolveInScope("", r), "/");
}

TEST(ResolveInScopeTest, DotDotNeverClimbsAboveTheRoot) {
  auto r = Links({});
  EXPECT_EQ(*ResolveInScope("/../../etc/shadow", r), "/etc/shadow");
  EXPECT_EQ(*ResolveInScope("/a/../../../b", r), "/b");
}

TEST(ResolveInScopeTest, SymlinksResolveInsideTheRoot) {
  auto r = Links({{"/abs", "/etc"},
                  {"/rel", "../../../../etc"},
                  {"/d/up", ".."},
                  {"/host", "/proc/1/root"},
                  {"/chain1", "chain2"},
                  {"/chain2", "/etc/passwd"}});
  EXPECT_EQ(*ResolveInScope("/abs/passwd", r), "/etc/passwd");
  // ".." in a target stops at the container's root, not the host's.
  EXPECT_EQ(*ResolveInScope("/rel/passwd", r), "/etc/passwd");
  EXPECT_EQ(*ResolveInScope("/d/up/abs", r), "/etc");
  EXPECT_EQ(*ResolveInScope("/chain1", r), "/etc/passwd");
  // A symlink to /proc/... is the container's own /proc path, resolved no further here.
  EXPECT_EQ(*ResolveInScope("/host/x", r), "/proc/1/root/x");
}

TEST(ResolveInScopeTest, LoopsAreRefused) {
  auto r = Links({{"/a", "/b"}, {"/b", "/a"}});
  auto st = ResolveInScope("/a/x", r);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.status().message(), ::testing::HasSubstr("too many links"));
}

TEST(ResolveInScopeTest, ErrorsOfTheReadlinkComeBack) {
  ReadlinkFn failing = [](const std::string&) -> StatusOr<std::optional<std::string>> {
    return absl::PermissionDeniedError("nope");
  };
  EXPECT_EQ(ResolveInScope("/x", failing).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(ParseArchivePathTest, DockerRules) {
  struct Case {
    std::string in, abs, dir, base, name;
  } cases[] = {
      {"/etc", "/etc", "/", "etc", "etc"},
      {"etc/", "/etc/", "/etc/", "", "etc"},
      {"/etc/.", "/etc/.", "/etc/", ".", "."},
      {"/", "/", "/", "", "/"},
      {".", "/.", "/", ".", "."},
      {"/a/../b//c", "/b/c", "/b/", "c", "c"},
      {"/../..", "/", "/", "", "/"},
  };
  for (const auto& c : cases) {
    CpPath a = ParseArchivePath(c.in);
    EXPECT_EQ(a.abs, c.abs) << c.in;
    EXPECT_EQ(a.dir, c.dir) << c.in;
    EXPECT_EQ(a.base, c.base) << c.in;
    EXPECT_EQ(a.name, c.name) << c.in;
  }
}

TEST(PathStatTest, GoFileModeBits) {
  EXPECT_EQ(GoFileMode(S_IFREG | 0644), 0644u);
  EXPECT_EQ(GoFileMode(S_IFDIR | 0755), 0x80000000u | 0755);
  EXPECT_EQ(GoFileMode(S_IFLNK | 0777), 0x8000000u | 0777);
  EXPECT_EQ(GoFileMode(S_IFCHR | 0620), 0x4000000u | 0x200000u | 0620);
  EXPECT_EQ(GoFileMode(S_IFIFO | 0600), 0x2000000u | 0600);
  EXPECT_EQ(GoFileMode(S_IFREG | S_ISUID | 0755), 0x800000u | 0755);
  EXPECT_EQ(GoFileMode(S_IFDIR | S_ISVTX | 0777), 0x80000000u | 0x100000u | 0777);
}

TEST(PathStatTest, HeaderIsBase64JsonInDockersFieldOrder) {
  PathStat s;
  s.name = "passwd";
  s.size = 1234;
  s.mode = 0644;
  s.mtime_nanos = int64_t{1764640000} * 1000000000 + 500000000;
  s.link_target = "";
  std::string raw;
  ASSERT_TRUE(absl::Base64Unescape(api::PathStatHeader(s), &raw));
  EXPECT_EQ(raw, R"({"name":"passwd","size":1234,"mode":420,"mtime":"2025-12-02T01:46:40.5Z","linkTarget":""})");
  s.mode = GoFileMode(S_IFLNK | 0777);
  s.link_target = "/etc/passwd";
  ASSERT_TRUE(absl::Base64Unescape(api::PathStatHeader(s), &raw));
  auto j = nlohmann::json::parse(raw);
  EXPECT_EQ(j["linkTarget"], "/etc/passwd");
  EXPECT_EQ(j["mode"], 134218239);  // os.ModeSymlink|0777 as dockerd sends it
}

}  // namespace
}  // namespace berth::engine
