// Unit tests (no root) for the engine's pure logic: references, the store, OCI specs, users.
#include <gtest/gtest.h>
#include <unistd.h>

#include "engine/images.h"
#include "engine/runtime.h"
#include "engine/security.h"
#include "engine/store.h"
#include "nlohmann/json.hpp"
#include "oci_test_util.h"
#include "spec/json/container_json.h"
#include "sys/fs.h"

namespace berth::engine {
namespace {

using nlohmann::json;
using oci_test::Hc;

TEST(NormalizeRef, DockerForms) {
  EXPECT_EQ(NormalizeRef("busybox"), "busybox:latest");
  EXPECT_EQ(NormalizeRef("busybox:1.35"), "busybox:1.35");
  EXPECT_EQ(NormalizeRef("docker.io/library/busybox:1"), "busybox:1");
  EXPECT_EQ(NormalizeRef("localhost:5000/team/app"), "localhost:5000/team/app:latest");
  EXPECT_EQ(NormalizeRef("Busybox"), "");        // repositories are lowercase
  EXPECT_EQ(NormalizeRef("bad name"), "");
  EXPECT_EQ(NormalizeRef("busybox@sha256:ab"), "");  // a digest is not a tag
  EXPECT_EQ(NormalizeRef("index.docker.io/library/busybox"), "busybox:latest");
  EXPECT_EQ(NormalizeRef("docker.io/team/app:v1"), "team/app:v1");
  const std::string hex(64, 'a');
  EXPECT_EQ(NormalizeDigestRef("busybox@sha256:" + hex), "busybox@sha256:" + hex);
  EXPECT_EQ(NormalizeDigestRef("docker.io/library/busybox:1@sha256:" + hex), "busybox@sha256:" + hex);
  EXPECT_EQ(NormalizeDigestRef("127.0.0.1:5000/x@sha256:" + hex), "127.0.0.1:5000/x@sha256:" + hex);
  EXPECT_EQ(NormalizeDigestRef("busybox@sha256:ab"), "");
  EXPECT_EQ(NormalizeDigestRef("busybox:1"), "");
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bt-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto s = Store::Open(dir_ + "/berth.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    (void)sys::RemoveAll(dir_);
  }
  std::string dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, PutGetListDelete) {
  ASSERT_TRUE(store_->Put("container", "a1", "web", json{{"x", 1}}.dump()).ok());
  ASSERT_TRUE(store_->Put("container", "b2", "db", json{{"x", 2}}.dump()).ok());
  auto got = store_->Get("container", "a1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->name, "web");
  EXPECT_EQ(json::parse(got->doc)["x"], 1);
  EXPECT_EQ(store_->List("container").size(), 2u);
  ASSERT_TRUE(store_->Delete("container", "a1").ok());
  EXPECT_FALSE(store_->Get("container", "a1").has_value());
}

TEST_F(StoreTest, NameIsUniquePerKindAndNotSilentlyReplaced) {
  ASSERT_TRUE(store_->Put("container", "a1", "web", "{}").ok());
  Status st = store_->Put("container", "b2", "web", "{}");
  EXPECT_EQ(st.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(store_->Get("container", "a1").has_value());  // the holder is untouched
  EXPECT_TRUE(store_->Put("network", "n1", "web", "{}").ok());  // other kind: fine
}

TEST_F(StoreTest, BatchRollsBackOnError) {
  Status st = store_->Batch([&]() -> Status {
    RETURN_IF_ERROR(store_->Put("image", "i1", "", "{}"));
    return absl::InternalError("boom");
  });
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(store_->Get("image", "i1").has_value());
}

TEST_F(StoreTest, SurvivesReopen) {
  ASSERT_TRUE(store_->Put("tag", "busybox:latest", "", json{{"image", "sha256:aa"}}.dump()).ok());
  store_.reset();
  auto s = Store::Open(dir_ + "/berth.db");
  ASSERT_TRUE(s.ok());
  auto got = (*s)->Get("tag", "busybox:latest");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(json::parse(got->doc)["image"], "sha256:aa");
}

TEST(Frame, StdcopyHeader) {
  std::string f = Frame(kStderr, "hello");
  ASSERT_EQ(f.size(), 13u);
  EXPECT_EQ(f[0], 2);
  EXPECT_EQ(f.substr(1, 3), std::string(3, '\0'));
  EXPECT_EQ(static_cast<unsigned char>(f[7]), 5);
  EXPECT_EQ(f.substr(8), "hello");
}

TEST(Capabilities, DockerDefaultsAddDrop) {
  auto caps = Capabilities(spec::HostConfig());
  EXPECT_EQ(caps.size(), 14u);
  EXPECT_NE(std::find(caps.begin(), caps.end(), "CAP_NET_RAW"), caps.end());
  EXPECT_EQ(std::find(caps.begin(), caps.end(), "CAP_SYS_ADMIN"), caps.end());
  caps = Capabilities(Hc({{"CapAdd", {"NET_ADMIN"}}, {"CapDrop", {"net_raw"}}}));
  EXPECT_NE(std::find(caps.begin(), caps.end(), "CAP_NET_ADMIN"), caps.end());
  EXPECT_EQ(std::find(caps.begin(), caps.end(), "CAP_NET_RAW"), caps.end());
  EXPECT_TRUE(Capabilities(Hc({{"CapDrop", {"ALL"}}})).empty());
  EXPECT_GT(Capabilities(Hc({{"Privileged", true}})).size(), 30u);
}

TEST(OciSpec, LimitsNamespacesAndMounts) {
  spec::HostConfig hc = Hc({{"Memory", 64 << 20}, {"NanoCpus", 500000000}});
  OciInputs in;
  in.mounts = {{"/dst", "bind", "/src", {"rbind", "ro", "rprivate"}}};
  in.id = "abc";
  in.hostname = "h";
  in.args = {"sh"};
  in.container_dir = "/c";
  in.netns_path = "/run/berth/netns/x";
  in.host_config = &hc;
  json spec = json::parse(BuildOciSpec(in).value());
  EXPECT_EQ(spec["linux"]["resources"]["memory"]["limit"], 64 << 20);
  EXPECT_EQ(spec["linux"]["resources"]["memory"]["swap"], 128 << 20);  // docker: 2x by default
  EXPECT_EQ(spec["linux"]["resources"]["cpu"]["quota"], 50000);
  EXPECT_EQ(spec["linux"]["cgroupsPath"], "/berth/abc");
  bool netns = false, bind = false, hosts = false;
  for (auto& ns : spec["linux"]["namespaces"])
    if (ns["type"] == "network") netns = ns.value("path", "") == "/run/berth/netns/x";
  for (auto& m : spec["mounts"]) {
    if (m["destination"] == "/dst") bind = m["source"] == "/src" && m["options"][1] == "ro";
    if (m["destination"] == "/etc/hosts") hosts = m["source"] == "/c/hosts";
  }
  EXPECT_TRUE(netns);
  EXPECT_TRUE(bind);
  EXPECT_TRUE(hosts);
  in.netns_path = "host";
  json host_spec = json::parse(BuildOciSpec(in).value());
  for (auto& ns : host_spec["linux"]["namespaces"]) EXPECT_NE(ns["type"], "network");
}

TEST(ResolveUser, NamesNumbersAndGroups) {
  char tmpl[] = "/tmp/bt-user-XXXXXX";
  std::string root = mkdtemp(tmpl);
  ASSERT_TRUE(sys::MkdirAll(root + "/etc").ok());
  ASSERT_TRUE(sys::WriteFile(root + "/etc/passwd", "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65533::/:/bin/false\n").ok());
  ASSERT_TRUE(sys::WriteFile(root + "/etc/group", "root:x:0:\nstaff:x:50:\n").ok());
  uint32_t uid, gid;
  std::vector<uint32_t> extra;
  ASSERT_TRUE(ResolveUser(root, "nobody", &uid, &gid, &extra).ok());
  EXPECT_EQ(uid, 65534u);
  EXPECT_EQ(gid, 65533u);
  ASSERT_TRUE(ResolveUser(root, "1000:50", &uid, &gid, &extra).ok());
  EXPECT_EQ(uid, 1000u);
  EXPECT_EQ(gid, 50u);
  ASSERT_TRUE(ResolveUser(root, "root:staff", &uid, &gid, &extra).ok());
  EXPECT_EQ(gid, 50u);
  Status st = ResolveUser(root, "ghost", &uid, &gid, &extra);
  EXPECT_EQ(st.message(), "unable to find user ghost: no matching entries in passwd file");
  (void)sys::RemoveAll(root);
}

}  // namespace
}  // namespace berth::engine
