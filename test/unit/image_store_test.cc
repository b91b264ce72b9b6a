// The image store's registry side (image_blobs.cc) and its references: layers from compressed
// blobs (gzip, zstd, plain), diff id checks that leave nothing behind, the blob records a push
// and a pull consult, repo digests and Docker's rules for removing references, and all of it
// surviving a restart (Recover).

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <memory>
#include <string>

#include "common/clock.h"
#include "common/fd.h"
#include "common/ids.h"
#include "engine/images.h"
#include "engine/store.h"
#include "gtest/gtest.h"
#include "sys/fs.h"
#include "sys/tar.h"

namespace berth::engine {
namespace {

std::string ReadAll(const std::string& path) {
  auto s = sys::ReadFile(path);
  return s.ok() ? *s : "";
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bt-images-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Open();
  }
  void TearDown() override {
    images_.reset();
    store_.reset();
    (void)sys::RemoveAll(dir_);
  }
  void Open() {
    images_.reset();
    store_.reset();
    store_ = *Store::Open(dir_ + "/berth.db");
    images_ = std::make_unique<ImageStore>(*store_, clock_, dir_ + "/image");
    ASSERT_TRUE(images_->Recover().ok());
  }
  // A one-file layer tarball; returns its bytes.
  std::string LayerTar(const std::string& file, const std::string& content) {
    std::string path = dir_ + "/build.tar";
    {
      UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      tar::Writer w(fd.get());
      EXPECT_TRUE(w.AddFile(file, content).ok());
      EXPECT_TRUE(w.Finish().ok());
    }
    return ReadAll(path);
  }
  static std::string Gzip(const std::string& data) {
    z_stream zs{};
    deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::string out(deflateBound(&zs, data.size()) + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
  }
  static std::string Zstd(const std::string& data) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3));
    return out;
  }
  // Writes a blob file as a puller leaves it; returns its path.
  std::string BlobFile(const std::string& bytes) {
    std::string p = dir_ + "/image/tmp/blob-" + NewId().substr(0, 8);
    EXPECT_TRUE(sys::WriteFile(p, bytes, 0600).ok());
    return p;
  }
  static std::string Config(const std::vector<std::string>& diff_ids, const std::string& arch = "amd64") {
    std::string ids;
    for (auto& d : diff_ids) ids += (ids.empty() ? "\"" : ",\"") + d + "\"";
    return R"({"architecture":")" + arch + R"(","config":{"Cmd":["sh"]},"os":"linux","rootfs":{"type":"layers","diff_ids":[)" +
           ids + "]}}";
  }

  std::string dir_;
  SystemClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ImageStore> images_;
};

TEST_F(ImageStoreTest, GzipZstdAndPlainBlobsBecomeLayersKeepingTheCompressedBytes) {
  struct Case {
    std::string name, bytes, media, content;
  };
  std::string t1 = LayerTar("a.txt", "gzip layer"), t2 = LayerTar("b.txt", "zstd layer"),
              t3 = LayerTar("c.txt", "plain layer");
  std::vector<Case> cases = {{"a.txt", Gzip(t1), "application/vnd.docker.image.rootfs.diff.tar.gzip", "gzip layer"},
                             {"b.txt", Zstd(t2), "application/vnd.oci.image.layer.v1.tar+zstd", "zstd layer"},
                             {"c.txt", t3, "application/vnd.oci.image.layer.v1.tar", "plain layer"}};
  std::vector<std::string> raw = {t1, t2, t3};
  for (size_t i = 0; i < cases.size(); ++i) {
    auto& c = cases[i];
    std::string digest = "sha256:" + Sha256Hex(c.bytes);
    std::string want = "sha256:" + Sha256Hex(raw[i]);
    std::string blob_path = BlobFile(c.bytes);
    int64_t last = 0;
    auto diff = images_->AddLayerBlob(
        blob_path, LayerBlob{digest, c.media, static_cast<int64_t>(c.bytes.size()), "docker.io/library/x"},
        want, [&](int64_t done, int64_t total) {
          EXPECT_EQ(total, static_cast<int64_t>(c.bytes.size()));
          last = done;
        });
    ASSERT_TRUE(diff.ok()) << diff.status();
    EXPECT_EQ(*diff, want);
    EXPECT_EQ(last, static_cast<int64_t>(c.bytes.size())) << "progress reaches the total";
    EXPECT_FALSE(sys::Exists(blob_path)) << "the blob file is consumed";
    std::string layer = dir_ + "/image/layers/" + want.substr(7);
    EXPECT_EQ(ReadAll(layer + "/diff/" + c.name), c.content);
    EXPECT_EQ(ReadAll(layer + "/blob"), c.bytes) << "the registry's bytes, kept for push";
    EXPECT_FALSE(sys::Exists(layer + "/layer.tar"));
    EXPECT_TRUE(images_->HasLayer(want));
    EXPECT_EQ(images_->DiffIdForBlob(digest), want);
    auto push = images_->BlobForPush(want);
    ASSERT_TRUE(push.ok());
    EXPECT_EQ(push->blob.digest, digest) << "a push sends the pulled bytes again";
  }
}

TEST_F(ImageStoreTest, WrongDiffIdOrCorruptBlobLeavesNothing) {
  std::string tar = LayerTar("a", "x");
  std::string gz = Gzip(tar);
  std::string digest = "sha256:" + Sha256Hex(gz);
  auto bad = images_->AddLayerBlob(BlobFile(gz), LayerBlob{digest, "", 1, "r"},
                                   "sha256:" + std::string(64, '0'));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("invalid diffID for layer"), std::string::npos);
  std::string cut = gz.substr(0, gz.size() / 2);
  auto trunc = images_->AddLayerBlob(BlobFile(cut), LayerBlob{"sha256:" + Sha256Hex(cut), "", 1, "r"}, "");
  EXPECT_FALSE(trunc.ok());
  auto layers = sys::ListDir(dir_ + "/image/layers");
  ASSERT_TRUE(layers.ok());
  EXPECT_TRUE(layers->empty());
  auto tmp = sys::ListDir(dir_ + "/image/tmp");
  ASSERT_TRUE(tmp.ok());
  EXPECT_TRUE(tmp->empty()) << "no temporary file or consumed blob left";
  EXPECT_FALSE(images_->DiffIdForBlob(digest).has_value());
}

TEST_F(ImageStoreTest, PulledImageHasRepoDigestAndRemovalFollowsDocker) {
  std::string tar = LayerTar("a", "x");
  std::string gz = Gzip(tar);
  std::string digest = "sha256:" + Sha256Hex(gz), diff = "sha256:" + Sha256Hex(tar);
  ASSERT_TRUE(images_->AddLayerBlob(BlobFile(gz), LayerBlob{digest, "m", 3, "docker.io/library/bb"}, diff).ok());
  std::string manifest = "sha256:" + std::string(64, 'a');
  // A config whose layers are not all stored is refused.
  EXPECT_FALSE(images_->CommitPulled(Config({diff, "sha256:" + std::string(64, 'b')}),
                                     {diff, "sha256:" + std::string(64, 'b')}, "bb:latest", "")
                   .ok());
  auto id = images_->CommitPulled(Config({diff}), {diff}, "bb:latest", "bb@" + manifest);
  ASSERT_TRUE(id.ok()) << id.status();
  auto img = images_->Get("bb@" + manifest);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->id, *id);
  EXPECT_EQ(img->repo_digests, std::vector<std::string>{"bb@" + manifest});
  EXPECT_TRUE(images_->Get("docker.io/library/bb:whatever@" + manifest).ok());
  EXPECT_EQ(images_->Get("bb@sha256:" + std::string(64, 'c')).status().code(), absl::StatusCode::kNotFound);

  // Survives a restart.
  Open();
  img = images_->Get("bb@" + manifest);
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(img->tags, std::vector<std::string>{"bb:latest"});
  ASSERT_EQ(images_->BlobsFor(diff).size(), 1u);
  EXPECT_EQ(images_->BlobsFor(diff)[0].repository, "docker.io/library/bb");
  EXPECT_EQ(images_->DiffIdForBlob(digest), diff);

  // A second tag in another repository: removing by that tag only untags it.
  ASSERT_TRUE(images_->Tag("bb:latest", "other:1").ok());
  auto r = images_->Remove("other:1", false);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].untagged, "other:1");
  // The repository's last tag takes its digest references with it, then the image goes.
  r = images_->Remove("bb", false);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].untagged, "bb:latest");
  EXPECT_EQ((*r)[1].untagged, "bb@" + manifest);
  EXPECT_EQ((*r)[2].deleted, *id);
  EXPECT_EQ((*r)[3].deleted, diff);
  EXPECT_FALSE(images_->HasLayer(diff));
  EXPECT_FALSE(images_->DiffIdForBlob(digest).has_value());
  EXPECT_TRUE(images_->BlobsFor(diff).empty());
  Open();
  EXPECT_TRUE(images_->List().empty());
  EXPECT_TRUE(images_->BlobsFor(diff).empty());
}

TEST_F(ImageStoreTest, RemovingByDigestKeepsTheTag) {
  std::string tar = LayerTar("a", "y");
  std::string gz = Gzip(tar);
  std::string diff = "sha256:" + Sha256Hex(tar);
  ASSERT_TRUE(images_->AddLayerBlob(BlobFile(gz), LayerBlob{"sha256:" + Sha256Hex(gz), "m", 3, "r"}, diff).ok());
  std::string manifest = "sha256:" + std::string(64, 'd');
  auto id = images_->CommitPulled(Config({diff}), {diff}, "localhost:5000/x:v1",
                                  "localhost:5000/x@" + manifest);
  ASSERT_TRUE(id.ok());
  auto r = images_->Remove("localhost:5000/x@" + manifest, false);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].untagged, "localhost:5000/x@" + manifest);
  auto img = images_->Get("localhost:5000/x:v1");
  ASSERT_TRUE(img.ok());
  EXPECT_TRUE(img->repo_digests.empty());
  Open();
  EXPECT_TRUE(images_->Get("localhost:5000/x:v1")->repo_digests.empty());
}

TEST_F(ImageStoreTest, ImportedLayerIsGzippedOnceForPushAndSavedFromItsBlob) {
  std::string tar = LayerTar("f", std::string(100000, 'z'));
  std::string tar_path = dir_ + "/rootfs.tar";
  ASSERT_TRUE(sys::WriteFile(tar_path, tar).ok());
  auto id = images_->Import(tar_path, "imp:1", {}, "");
  ASSERT_TRUE(id.ok()) << id.status();
  std::string diff = "sha256:" + Sha256Hex(tar);
  auto a = images_->BlobForPush(diff);
  ASSERT_TRUE(a.ok()) << a.status();
  std::string bytes = ReadAll(a->path);
  EXPECT_EQ(a->blob.digest, "sha256:" + Sha256Hex(bytes));
  EXPECT_EQ(a->blob.size, static_cast<int64_t>(bytes.size()));
  EXPECT_LT(a->blob.size, 10000) << "compressed";
  EXPECT_EQ(a->blob.media_type, "application/vnd.docker.image.rootfs.diff.tar.gzip");
  auto b = images_->BlobForPush(diff);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->blob.digest, a->blob.digest) << "made once";
  ASSERT_TRUE(images_->RecordBlob(diff, LayerBlob{a->blob.digest, a->blob.media_type, a->blob.size,
                                                  "127.0.0.1:5000/imp"}).ok());
  ASSERT_TRUE(images_->AddRepoDigest(*id, "127.0.0.1:5000/imp@sha256:" + std::string(64, 'e')).ok());
  Open();
  EXPECT_EQ(images_->BlobForPush(diff)->blob.digest, a->blob.digest);
  EXPECT_EQ(images_->BlobsFor(diff).at(0).repository, "127.0.0.1:5000/imp");
  EXPECT_EQ(images_->Get("imp:1")->repo_digests.size(), 1u);
}

TEST_F(ImageStoreTest, SaveOfAPulledImageSendsTheUncompressedLayer) {
  std::string tar = LayerTar("s", "saved");
  std::string z = Zstd(tar);
  std::string diff = "sha256:" + Sha256Hex(tar);
  ASSERT_TRUE(images_->AddLayerBlob(BlobFile(z), LayerBlob{"sha256:" + Sha256Hex(z), "m", 1, "r"}, diff).ok());
  ASSERT_TRUE(images_->CommitPulled(Config({diff}), {diff}, "saved:1", "").ok());
  std::string out = dir_ + "/save.tar";
  {
    UniqueFd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_TRUE(images_->Save({"saved:1"}, fd.get()).ok());
  }
  UniqueFd in(::open(out.c_str(), O_RDONLY | O_CLOEXEC));
  tar::Reader r(in.get());
  tar::Entry e;
  bool found = false;
  while (*r.Next(&e)) {
    if (e.name == diff.substr(7) + "/layer.tar") {
      std::string data;
      ASSERT_TRUE(r.ReadAll(&data, 1 << 20).ok());
      EXPECT_EQ(data, tar);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(ImageStoreTest, LayersOfAFailedPullStayForTheRetryUntilPruneWithNoPullInFlight) {
  std::string tar = LayerTar("o", "orphan");
  std::string gz = Gzip(tar);
  std::string diff = "sha256:" + Sha256Hex(tar);
  ASSERT_TRUE(images_->AddLayerBlob(BlobFile(gz), LayerBlob{"sha256:" + Sha256Hex(gz), "m", 1, "r"}, diff).ok());
  Open();  // a restart keeps it for the retry
  EXPECT_TRUE(images_->HasLayer(diff));
  {
    ImageStore::PullHold hold(*images_);
    auto r = images_->Prune(false);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->deleted.empty());
    EXPECT_TRUE(images_->HasLayer(diff)) << "a pull in flight may be about to commit it";
  }
  auto r = images_->Prune(false);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->deleted.size(), 1u);
  EXPECT_EQ(r->deleted[0].deleted, diff);
  EXPECT_GT(r->reclaimed, 0);
  EXPECT_FALSE(images_->HasLayer(diff));
  EXPECT_FALSE(sys::Exists(dir_ + "/image/layers/" + diff.substr(7)));
  Open();
  EXPECT_FALSE(images_->HasLayer(diff));
}

}  // namespace
}  // namespace berth::engine
