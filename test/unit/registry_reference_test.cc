// Image references: distribution/reference's own test tables (reference_test.go's
// TestReferenceParse and normalize_test.go's TestValidateReferenceName, TestValidateRemoteName,
// TestParseRepositoryInfo, TestNormalizedSplitHostname), run through ParseNormalized, plus
// Docker's error texts.

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "registry/reference.h"

namespace berth::registry {
namespace {

using ::testing::HasSubstr;

const std::string kF64(64, 'f');

TEST(ReferenceTest, ValidReferenceNames) {
  for (std::string name : std::vector<std::string>{
           "docker/docker",
           "library/debian",
           "debian",
           "docker.io/docker/docker",
           "docker.io/library/debian",
           "docker.io/debian",
           "index.docker.io/docker/docker",
           "index.docker.io/library/debian",
           "index.docker.io/debian",
           "127.0.0.1:5000/docker/docker",
           "127.0.0.1:5000/library/debian",
           "127.0.0.1:5000/debian",
           "192.168.0.1",
           "192.168.0.1:80",
           "192.168.0.1:8/debian",
           "192.168.0.2:25000/debian",
           "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
           "[fc00::1]:5000/docker",
           "[fc00::1]:5000/docker/docker",
           "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
           "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
           "Docker/docker",
           "DOCKER/docker",
           "docker-rules/docker",
           "docker---rules/docker",
           "doc/docker",
           "d/docker",
           "jess/t",
           "dock__er/docker"}) {
    EXPECT_TRUE(ParseNormalized(name).ok()) << name << ": " << ParseNormalized(name).status();
  }
}

TEST(ReferenceTest, InvalidReferenceNames) {
  for (std::string name : std::vector<std::string>{
           "https://github.com/docker/docker",
           "docker/Docker",
           "-docker",
           "-docker/docker",
           "-docker.io/docker/docker",
           "docker///docker",
           "docker.io/docker/Docker",
           "docker.io/docker///docker",
           "[fc00::1]",
           "[fc00::1]:5000",
           "fc00::1:5000/debian",
           "[fe80::1%eth0]:5000/debian",
           "[2001:db8:3:4::192.0.2.33]:5000/debian",
           "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
           "docker-/docker",
           "-docker-/docker",
           "____/____",
           "_docker/_docker",
           "dock..er/docker",
           "dock_.er/docker",
           "dock-.er/docker",
           "docker/",
           "",
           ":justtag",
           "@sha256:" + kF64,
           "aa/asdf$$^/aa",
           "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_"
           "valid_"
           "namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_"
           "its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_"
           "greater_than_255/docker"}) {
    EXPECT_FALSE(ParseNormalized(name).ok()) << name;
  }
}

struct ParseCase {
  std::string input;
  std::string name;  // Name() after normalisation
  std::string tag;
  std::string digest;
};

TEST(ReferenceTest, ParsePieces) {
  const std::vector<ParseCase> cases = {
      {"test_com", "docker.io/library/test_com", "", ""},
      {"test.com:tag", "docker.io/library/test.com", "tag", ""},
      {"test.com:5000", "docker.io/library/test.com", "5000", ""},
      {"test.com/repo:tag", "test.com/repo", "tag", ""},
      {"test:5000/repo", "test:5000/repo", "", ""},
      {"test:5000/repo:tag", "test:5000/repo", "tag", ""},
      {"test:5000/repo@sha256:" + kF64, "test:5000/repo", "", "sha256:" + kF64},
      {"test:5000/repo:tag@sha256:" + kF64, "test:5000/repo", "tag", "sha256:" + kF64},
      {"lowercase:Uppercase", "docker.io/library/lowercase", "Uppercase", ""},
      {"sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com/bar/baz/quux",
       "some-long-tag", ""},
      {"b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io/test.example.com/my-app",
       "test.example.com", ""},
      {"xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com/myimage", "xn--n3h.com", ""},
      {"foo_bar.com:8080", "docker.io/library/foo_bar.com", "8080", ""},
      {"foo/foo_bar.com:8080", "docker.io/foo/foo_bar.com", "8080", ""},
      {"192.168.1.1", "docker.io/library/192.168.1.1", "", ""},
      {"192.168.1.1:5000/repo:5050", "192.168.1.1:5000/repo", "5050", ""},
      {"[2001:db8::1]/repo", "[2001:db8::1]/repo", "", ""},
      {"[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]/repo", "tag", ""},
      {"[2001:db8::1]:5000/repo:tag@sha256:" + kF64, "[2001:db8::1]:5000/repo", "tag",
       "sha256:" + kF64},
      {"[::1]:5000/repo", "[::1]:5000/repo", "", ""},
      {"localhost/repo", "localhost/repo", "", ""},
      {"localhost:5000/a/b:v1", "localhost:5000/a/b", "v1", ""},
  };
  for (const auto& c : cases) {
    auto r = ParseNormalized(c.input);
    ASSERT_TRUE(r.ok()) << c.input << ": " << r.status();
    EXPECT_EQ(r->Name(), c.name) << c.input;
    EXPECT_EQ(r->tag, c.tag) << c.input;
    EXPECT_EQ(r->digest, c.digest) << c.input;
  }
}

struct RepoInfo {
  std::string remote, familiar, full, ambiguous, domain;
};

TEST(ReferenceTest, RepositoryInfo) {
  const std::vector<RepoInfo> cases = {
      {"fooo/bar", "fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", "docker.io"},
      {"library/ubuntu", "ubuntu", "docker.io/library/ubuntu", "library/ubuntu", "docker.io"},
      {"nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "", "docker.io"},
      {"other/library", "other/library", "docker.io/other/library", "", "docker.io"},
      {"private/moonbase", "127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase", "",
       "127.0.0.1:8000"},
      {"privatebase", "127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase", "",
       "127.0.0.1:8000"},
      {"private/moonbase", "example.com/private/moonbase", "example.com/private/moonbase", "",
       "example.com"},
      {"privatebase", "example.com:8000/privatebase", "example.com:8000/privatebase", "",
       "example.com:8000"},
      {"library/ubuntu-12.04-base", "ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base",
       "index.docker.io/library/ubuntu-12.04-base", "docker.io"},
      {"library/foo", "foo", "docker.io/library/foo", "docker.io/foo", "docker.io"},
      {"library/foo/bar", "library/foo/bar", "docker.io/library/foo/bar", "", "docker.io"},
      {"store/foo/bar", "store/foo/bar", "docker.io/store/foo/bar", "", "docker.io"},
      {"bar", "Foo/bar", "Foo/bar", "", "Foo"},
      {"bar", "FOO/bar", "FOO/bar", "", "FOO"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> inputs = {c.familiar, c.full};
    if (!c.ambiguous.empty()) inputs.push_back(c.ambiguous);
    for (const auto& in : inputs) {
      auto r = ParseNormalized(in);
      ASSERT_TRUE(r.ok()) << in << ": " << r.status();
      EXPECT_EQ(r->FamiliarName(), c.familiar) << in;
      EXPECT_EQ(r->String(), c.full) << in;
      EXPECT_EQ(r->domain, c.domain) << in;
      EXPECT_EQ(r->path, c.remote) << in;
    }
  }
}

TEST(ReferenceTest, TagAndDigestTogether) {
  const std::string short_ref =
      "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
  auto r = ParseNormalized(short_ref);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->String(), "docker.io/library/" + short_ref);
  EXPECT_EQ(r->FamiliarString(), short_ref);
}

TEST(ReferenceTest, DefaultTag) {
  auto r = ParseNormalized("busybox");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(WithDefaultTag(*r).FamiliarString(), "busybox:latest");
  EXPECT_EQ(WithDefaultTag(*r).String(), "docker.io/library/busybox:latest");
  auto d = ParseNormalized("busybox@sha256:" + kF64);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(WithDefaultTag(*d).FamiliarString(), "busybox@sha256:" + kF64);
  auto t = ParseNormalized("localhost:5000/a/b:v1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(WithDefaultTag(*t).FamiliarString(), "localhost:5000/a/b:v1");
}

TEST(ReferenceTest, DockerErrorTexts) {
  EXPECT_EQ(ParseNormalized("Busybox").status().message(),
            "invalid reference format: repository name (library/Busybox) must be lowercase");
  EXPECT_EQ(ParseNormalized("aa/asdf$$^/aa").status().message(), "invalid reference format");
  EXPECT_EQ(ParseNormalized("busybox:-tag").status().message(), "invalid reference format");
  EXPECT_EQ(ParseNormalized("test:5000/Uppercase/lowercase:tag").status().message(),
            "invalid reference format: repository name (Uppercase/lowercase) must be lowercase");
  EXPECT_EQ(ParseNormalized("1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a")
                .status()
                .message(),
            "invalid repository name "
            "(1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a), cannot specify "
            "64-byte hexadecimal strings");
  std::string long_name = "a.com";
  for (int i = 0; i < 125; ++i) long_name += "/a";  // 255 characters
  EXPECT_EQ(ParseNormalized(long_name + "/a:tag").status().message(),
            "repository name must not be more than 255 characters");
  EXPECT_TRUE(ParseNormalized(long_name + ":tag-puts-this-over-max").ok());
  EXPECT_EQ(ParseNormalized("repo@sha256:ffffffffffffffffffffffffffffffffff").status().message(),
            "invalid checksum digest length");
  EXPECT_EQ(ParseNormalized("validname@invaliddigest:" + kF64).status().message(),
            "unsupported digest algorithm");
  EXPECT_EQ(ParseNormalized("busybox@sha256:" + std::string(64, 'F')).status().message(),
            "invalid checksum digest format");
  EXPECT_EQ(ParseNormalized("busybox:" + std::string(129, 'a')).status().message(),
            "invalid reference format");
  EXPECT_TRUE(ParseNormalized("busybox:" + std::string(128, 'a')).ok());
  EXPECT_EQ(ParseNormalized("busybox").status().code(), absl::StatusCode::kOk);
  EXPECT_EQ(ParseNormalized("Busybox").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReferenceTest, ValidDigest) {
  EXPECT_TRUE(ValidDigest("sha256:" + kF64));
  EXPECT_FALSE(ValidDigest("sha256:" + std::string(63, 'f')));
  EXPECT_FALSE(ValidDigest("sha256:" + std::string(64, 'F')));
  EXPECT_FALSE(ValidDigest("sha512:" + std::string(128, 'f')));
  EXPECT_FALSE(ValidDigest(kF64));
  EXPECT_FALSE(ValidDigest(""));
}

}  // namespace
}  // namespace berth::registry
