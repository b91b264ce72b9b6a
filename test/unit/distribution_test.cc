// Unit tests for pull and push: a real ImageStore in a temporary data root against an honest
// in-memory registry (it stores blobs and manifests by digest, verifies what it is given and
// what it serves as the real client does, and can be told to corrupt a blob, drop a connection
// after N bytes, or require credentials).
#include "engine/distribution/distribution.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "common/fd.h"
#include "common/ids.h"
#include "engine/distribution/progress_queue.h"
#include "engine/images.h"
#include "engine/store.h"
#include "nlohmann/json.hpp"
#include "sys/fs.h"
#include "sys/tar.h"

namespace berth::engine {
namespace {

using registry::Reference;

std::string Digest(std::string_view data) { return "sha256:" + Sha256Hex(data); }

// ---- The fake registry -----------------------------------------------------------------------

struct FakeRegistryState {
  std::mutex mu;
  std::map<std::string, std::string> blobs;  // digest -> bytes
  struct Repo {
    std::set<std::string> blobs;
    std::map<std::string, std::pair<std::string, std::string>> manifests;  // digest -> mt, body
    std::map<std::string, std::string> tags;
  };
  std::map<std::string, Repo> repos;  // by path
  // Faults and counters.
  std::set<std::string> corrupt;              // served with one byte flipped
  std::map<std::string, int64_t> fail_after;  // the next GET drops after N bytes
  std::map<std::string, int> fetches;         // blob GETs by digest
  int mounts = 0, uploads = 0;
  std::string user, password;  // required when set
};

class FakeRepository : public registry::Repository {
 public:
  FakeRepository(FakeRegistryState& s, std::string path, registry::AuthConfig auth)
      : s_(s), path_(std::move(path)), auth_(std::move(auth)) {}

  StatusOr<Manifest> GetManifest(std::string_view ref) override {
    RETURN_IF_ERROR(CheckAuth());
    std::lock_guard<std::mutex> lock(s_.mu);
    auto r = s_.repos.find(path_);
    if (r == s_.repos.end())
      return absl::NotFoundError("name unknown: repository name not known to registry");
    std::string digest(ref);
    if (!absl::StartsWith(Av(ref), "sha256:")) {
      auto t = r->second.tags.find(std::string(ref));
      if (t == r->second.tags.end())
        return absl::NotFoundError("manifest unknown: manifest unknown");
      digest = t->second;
    }
    auto m = r->second.manifests.find(digest);
    if (m == r->second.manifests.end())
      return absl::NotFoundError("manifest unknown: manifest unknown");
    return Manifest{m->second.first, digest, m->second.second};
  }
  StatusOr<registry::Descriptor> HeadManifest(std::string_view ref) override {
    ASSIGN_OR_RETURN(Manifest m, GetManifest(ref));
    registry::Descriptor d;
    d.media_type = m.media_type;
    d.digest = m.digest;
    d.size = static_cast<int64_t>(m.body.size());
    return d;
  }
  Status FetchBlob(const registry::Descriptor& blob, int out_fd,
                   const registry::ProgressFn& progress, const std::atomic<bool>* cancel) override {
    RETURN_IF_ERROR(CheckAuth());
    std::string data;
    int64_t fail_at = -1;
    {
      std::lock_guard<std::mutex> lock(s_.mu);
      ++s_.fetches[blob.digest];
      auto& repo = s_.repos[path_];
      if (!repo.blobs.count(blob.digest))
        return absl::NotFoundError("blob unknown: blob unknown to registry");
      data = s_.blobs[blob.digest];
      if (s_.corrupt.count(blob.digest)) data.back() ^= 1;
      if (auto f = s_.fail_after.find(blob.digest); f != s_.fail_after.end()) {
        fail_at = f->second;
        s_.fail_after.erase(f);
      }
    }
    constexpr size_t kChunk = 4096;
    size_t off = 0;
    while (off < data.size()) {
      if (cancel != nullptr && cancel->load()) return absl::CancelledError("context canceled");
      size_t n = std::min(kChunk, data.size() - off);
      if (fail_at >= 0 && static_cast<int64_t>(off + n) > fail_at) {
        return absl::UnavailableError("unexpected EOF");
      }
      if (::write(out_fd, data.data() + off, n) != static_cast<ssize_t>(n)) {
        return absl::InternalError("short write");
      }
      off += n;
      if (progress) progress(static_cast<int64_t>(off), static_cast<int64_t>(data.size()));
    }
    if (static_cast<int64_t>(data.size()) != blob.size || Digest(data) != blob.digest) {
      return absl::DataLossError("filesystem layer verification failed for digest " + blob.digest);
    }
    return absl::OkStatus();
  }
  StatusOr<std::vector<std::string>> Tags() override {
    RETURN_IF_ERROR(CheckAuth());
    std::lock_guard<std::mutex> lock(s_.mu);
    auto r = s_.repos.find(path_);
    if (r == s_.repos.end())
      return absl::NotFoundError("name unknown: repository name not known to registry");
    std::vector<std::string> out;
    for (const auto& [t, d] : r->second.tags) out.push_back(t);
    return out;
  }
  StatusOr<bool> BlobExists(std::string_view digest) override {
    RETURN_IF_ERROR(CheckAuth());
    std::lock_guard<std::mutex> lock(s_.mu);
    return s_.repos[path_].blobs.count(std::string(digest)) > 0;
  }
  StatusOr<bool> MountBlob(std::string_view digest, std::string_view from) override {
    RETURN_IF_ERROR(CheckAuth());
    std::lock_guard<std::mutex> lock(s_.mu);
    auto r = s_.repos.find(std::string(from));
    if (r == s_.repos.end() || !r->second.blobs.count(std::string(digest))) return false;
    s_.repos[path_].blobs.insert(std::string(digest));
    ++s_.mounts;
    return true;
  }
  Status PushBlob(std::string_view digest, int in_fd, int64_t size,
                  const registry::ProgressFn& progress) override {
    RETURN_IF_ERROR(CheckAuth());
    std::string data(static_cast<size_t>(size), '\0');
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::read(in_fd, data.data() + off, data.size() - off);
      if (n <= 0) return absl::InternalError("short read of the blob to push");
      off += static_cast<size_t>(n);
      if (progress) progress(static_cast<int64_t>(off), size);
    }
    if (Digest(data) != digest) {
      return absl::InvalidArgumentError(
          "digest invalid: provided digest did not match uploaded content");
    }
    std::lock_guard<std::mutex> lock(s_.mu);
    s_.blobs[std::string(digest)] = data;
    s_.repos[path_].blobs.insert(std::string(digest));
    ++s_.uploads;
    return absl::OkStatus();
  }
  StatusOr<std::string> PutManifest(std::string_view ref, std::string_view media_type,
                                    std::string_view body) override {
    RETURN_IF_ERROR(CheckAuth());
    ASSIGN_OR_RETURN(registry::ParsedManifest p, registry::ParseManifest(media_type, body));
    std::lock_guard<std::mutex> lock(s_.mu);
    auto& repo = s_.repos[path_];
    std::vector<std::string> refs;
    if (p.is_index) {
      for (const auto& d : p.index.manifests) {
        if (!repo.manifests.count(d.digest))
          return absl::InvalidArgumentError("manifest blob unknown: blob unknown to registry");
      }
    } else {
      refs.push_back(p.manifest.config.digest);
      for (const auto& l : p.manifest.layers) refs.push_back(l.digest);
    }
    for (const auto& d : refs) {
      if (!repo.blobs.count(d))
        return absl::InvalidArgumentError("blob unknown: blob unknown to registry");
    }
    std::string digest = Digest(body);
    repo.manifests[digest] = {std::string(media_type), std::string(body)};
    if (!absl::StartsWith(Av(ref), "sha256:")) repo.tags[std::string(ref)] = digest;
    return digest;
  }

 private:
  Status CheckAuth() {
    std::lock_guard<std::mutex> lock(s_.mu);
    if (!s_.user.empty() && (auth_.username != s_.user || auth_.password != s_.password)) {
      return absl::UnauthenticatedError("unauthorized: authentication required");
    }
    return absl::OkStatus();
  }
  FakeRegistryState& s_;
  std::string path_;
  registry::AuthConfig auth_;
};

class FakeRegistries : public registry::Registries {
 public:
  explicit FakeRegistries(FakeRegistryState& s) : Registries(registry::RegistryOptions{}), s_(s) {}
  StatusOr<std::unique_ptr<registry::Repository>> Open(
      const Reference& ref, const registry::AuthConfig& auth, registry::Access,
      const std::vector<std::string>& mount_from) override {
    last_mount_from = mount_from;
    return std::unique_ptr<registry::Repository>(new FakeRepository(s_, ref.path, auth));
  }
  std::vector<std::string> last_mount_from;

 private:
  FakeRegistryState& s_;
};

// ---- Images built for the registry ----------------------------------------------------------

std::string Gzip(std::string_view data) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// A layer tarball with one file of `size` bytes of pseudo-random (hardly compressible) content.
std::string LayerTar(const std::string& dir, const std::string& name, size_t size, uint32_t seed) {
  std::string content(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    seed = seed * 1103515245u + 12345u;
    content[i] = static_cast<char>(seed >> 16);
  }
  std::string path = dir + "/layer-" + name + ".tar";
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    tar::Writer w(fd.get());
    EXPECT_TRUE(w.AddDir("data").ok());
    EXPECT_TRUE(w.AddFile("data/" + name, content, 0644).ok());
    EXPECT_TRUE(w.Finish().ok());
  }
  auto bytes = sys::ReadFile(path);
  ::unlink(path.c_str());
  return bytes.ok() ? *bytes : std::string();
}

struct BuiltImage {
  std::string config, config_digest;
  std::vector<std::string> blobs, blob_digests, diff_ids;
  std::string manifest, manifest_digest;
};

BuiltImage BuildImage(const std::string& dir, const std::string& arch, int layers, size_t size,
                      uint32_t seed) {
  BuiltImage img;
  for (int i = 0; i < layers; ++i) {
    std::string tar = LayerTar(dir, absl::StrCat(arch, "-", i), size, seed + i);
    img.diff_ids.push_back(Digest(tar));
    img.blobs.push_back(Gzip(tar));
    img.blob_digests.push_back(Digest(img.blobs.back()));
  }
  nlohmann::ordered_json cfg;
  cfg["architecture"] = arch;
  cfg["os"] = "linux";
  if (arch == "arm64") cfg["variant"] = "v8";
  cfg["config"] = {{"Cmd", {"/bin/sh"}}, {"Env", {"PATH=/bin"}}};
  cfg["created"] = "2026-12-01T00:00:00Z";
  cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", img.diff_ids}};
  img.config = cfg.dump();
  img.config_digest = Digest(img.config);
  registry::ImageManifest m;
  m.media_type = std::string(registry::media::kDockerManifest);
  m.config = {std::string(registry::media::kDockerConfig),
              img.config_digest,
              static_cast<int64_t>(img.config.size()),
              {},
              {},
              std::nullopt};
  for (int i = 0; i < layers; ++i) {
    m.layers.push_back({std::string(registry::media::kDockerLayerGzip),
                        img.blob_digests[i],
                        static_cast<int64_t>(img.blobs[i].size()),
                        {},
                        {},
                        std::nullopt});
  }
  img.manifest = registry::RenderManifest(m);
  img.manifest_digest = Digest(img.manifest);
  return img;
}

void Publish(FakeRegistryState& s, const std::string& path, const std::string& tag,
             const BuiltImage& img) {
  std::lock_guard<std::mutex> lock(s.mu);
  auto& repo = s.repos[path];
  for (size_t i = 0; i < img.blobs.size(); ++i) {
    s.blobs[img.blob_digests[i]] = img.blobs[i];
    repo.blobs.insert(img.blob_digests[i]);
  }
  s.blobs[img.config_digest] = img.config;
  repo.blobs.insert(img.config_digest);
  repo.manifests[img.manifest_digest] = {std::string(registry::media::kDockerManifest),
                                         img.manifest};
  if (!tag.empty()) repo.tags[tag] = img.manifest_digest;
}

// ---- The fixture -----------------------------------------------------------------------------

std::string Line(const PullProgress& p) {
  std::string s = p.id.empty() ? p.status : p.id + ": " + p.status;
  if (p.has_aux) s = absl::StrCat("aux ", p.aux_tag, " ", p.aux_digest, " ", p.aux_size);
  return s;
}

class DistributionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bt-dist-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = *Store::Open(dir_ + "/berth.db");
    images_ = std::make_unique<ImageStore>(*store_, clock_, dir_ + "/image");
    ASSERT_TRUE(images_->Recover().ok());
    registries_ = std::make_unique<FakeRegistries>(reg_);
    dist_ = std::make_unique<Distribution>(*images_, *registries_, 3, 5, dir_ + "/tmp");
  }
  void TearDown() override {
    dist_.reset();
    images_.reset();
    store_.reset();
    (void)sys::RemoveAll(dir_);
  }

  static Reference Ref(const std::string& path, const std::string& tag = "latest",
                       const std::string& digest = "") {
    return Reference{"localhost:5000", path, tag, digest};
  }
  StatusOr<std::string> Pull(const Reference& ref, PullOptions opts = {}) {
    const auto caller = std::this_thread::get_id();
    lines_.clear();
    msgs_.clear();
    return dist_->Pull(ref, opts, [&](const PullProgress& p) {
      // Only ever on the thread that called Pull (the workers hand their messages over).
      EXPECT_EQ(std::this_thread::get_id(), caller);
      msgs_.push_back(p);
      lines_.push_back(Line(p));
    });
  }
  Status Push(const Reference& ref) {
    lines_.clear();
    msgs_.clear();
    return dist_->Push(ref, {}, [&](const PullProgress& p) {
      msgs_.push_back(p);
      lines_.push_back(Line(p));
    });
  }
  // The lines about one layer id, in order, with "Downloading"/"Pushing" runs folded to one.
  std::vector<std::string> LayerLines(const std::string& id) const {
    std::vector<std::string> out;
    for (const auto& l : lines_) {
      if (!absl::StartsWith(l, id + ": ")) continue;
      if (!out.empty() && out.back() == l) continue;
      out.push_back(l);
    }
    return out;
  }
  bool Contains(const std::string& line) const {
    return std::find(lines_.begin(), lines_.end(), line) != lines_.end();
  }
  size_t TmpFiles() const {
    auto l = sys::ListDir(dir_ + "/tmp");
    return l.ok() ? l->size() : 0;
  }
  // A one-layer local image from a rootfs tarball.
  std::string ImportImage(const std::string& ref) {
    std::string tar = dir_ + "/rootfs.tar";
    std::string bytes = LayerTar(dir_, "rootfs", 20000, 7);
    EXPECT_TRUE(sys::WriteFile(tar, bytes).ok());
    auto id = images_->Import(tar, ref, {"CMD [\"/bin/sh\"]"}, "");
    EXPECT_TRUE(id.ok()) << id.status();
    ::unlink(tar.c_str());
    return id.ok() ? *id : "";
  }

  std::string dir_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ImageStore> images_;
  FakeRegistryState reg_;
  std::unique_ptr<FakeRegistries> registries_;
  std::unique_ptr<Distribution> dist_;
  std::vector<std::string> lines_;
  std::vector<PullProgress> msgs_;
};

TEST_F(DistributionTest, PullsATwoLayerImageWithDockersProgress) {
  BuiltImage img = BuildImage(dir_, "amd64", 2, 300000, 1);
  Publish(reg_, "test/app", "latest", img);
  auto id = Pull(Ref("test/app"));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, img.config_digest);  // the image id is the sha256 of the config

  const std::string l0 = ShortId(img.blob_digests[0].substr(7));
  const std::string l1 = ShortId(img.blob_digests[1].substr(7));
  ASSERT_GE(lines_.size(), 5u);
  EXPECT_EQ(lines_[0], "latest: Pulling from test/app");
  EXPECT_FALSE(msgs_[0].has_detail);
  EXPECT_EQ(lines_[1], l0 + ": Pulling fs layer");
  EXPECT_TRUE(msgs_[1].has_detail);
  EXPECT_EQ(lines_[2], l1 + ": Pulling fs layer");
  EXPECT_EQ(lines_[lines_.size() - 2], "Digest: " + img.manifest_digest);
  EXPECT_EQ(lines_.back(), "Status: Downloaded newer image for localhost:5000/test/app:latest");
  for (const std::string& l : {l0, l1}) {
    std::vector<std::string> want = {l + ": Pulling fs layer",   l + ": Downloading",
                                     l + ": Verifying Checksum", l + ": Download complete",
                                     l + ": Extracting",         l + ": Pull complete"};
    EXPECT_EQ(LayerLines(l), want);
  }
  // Byte counts: growing, ending at the blob's size.
  int64_t last = -1;
  for (const auto& m : msgs_) {
    if (m.id != l0 || m.status != "Downloading") continue;
    EXPECT_GT(m.current, last);
    EXPECT_EQ(m.total, static_cast<int64_t>(img.blobs[0].size()));
    last = m.current;
  }
  EXPECT_EQ(last, static_cast<int64_t>(img.blobs[0].size()));

  auto got = images_->Get("localhost:5000/test/app:latest");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id, img.config_digest);
  EXPECT_EQ(got->diff_ids, img.diff_ids);
  EXPECT_EQ(got->repo_digests,
            std::vector<std::string>{"localhost:5000/test/app@" + img.manifest_digest});
  EXPECT_EQ(TmpFiles(), 0u);

  // Again: nothing fetched, Docker's "Already exists" and "up to date".
  auto again = Pull(Ref("test/app"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *id);
  EXPECT_EQ(lines_, (std::vector<std::string>{
                        "latest: Pulling from test/app", l0 + ": Already exists",
                        l1 + ": Already exists", "Digest: " + img.manifest_digest,
                        "Status: Image is up to date for localhost:5000/test/app:latest"}));
  EXPECT_EQ(reg_.fetches[img.blob_digests[0]], 1);
  EXPECT_EQ(reg_.fetches[img.blob_digests[1]], 1);
}

TEST_F(DistributionTest, PullByDigest) {
  BuiltImage img = BuildImage(dir_, "amd64", 1, 1000, 3);
  Publish(reg_, "test/app", "", img);
  auto id = Pull(Ref("test/app", "", img.manifest_digest));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(lines_[0],
            "localhost:5000/test/app@" + img.manifest_digest + ": Pulling from test/app");
  EXPECT_EQ(lines_.back(),
            "Status: Downloaded newer image for localhost:5000/test/app@" + img.manifest_digest);
  auto got = images_->Get("localhost:5000/test/app@" + img.manifest_digest);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->tags.empty());
}

TEST_F(DistributionTest, IndexPicksTheHostPlatformOrTheOneAskedFor) {
  BuiltImage amd = BuildImage(dir_, "amd64", 1, 2000, 10);
  BuiltImage arm = BuildImage(dir_, "arm64", 1, 2000, 20);
  Publish(reg_, "test/multi", "", amd);
  Publish(reg_, "test/multi", "", arm);
  registry::ImageIndex idx;
  idx.media_type = std::string(registry::media::kOciIndex);
  idx.manifests.push_back({std::string(registry::media::kDockerManifest),
                           amd.manifest_digest,
                           static_cast<int64_t>(amd.manifest.size()),
                           {},
                           {},
                           registry::Platform{"linux", "amd64", "", "", {}}});
  idx.manifests.push_back({std::string(registry::media::kDockerManifest),
                           arm.manifest_digest,
                           static_cast<int64_t>(arm.manifest.size()),
                           {},
                           {},
                           registry::Platform{"linux", "arm64", "v8", "", {}}});
  std::string body = registry::RenderIndex(idx);
  {
    std::lock_guard<std::mutex> lock(reg_.mu);
    reg_.repos["test/multi"].manifests[Digest(body)] = {std::string(registry::media::kOciIndex),
                                                        body};
    reg_.repos["test/multi"].tags["latest"] = Digest(body);
  }
  auto a = Pull(Ref("test/multi"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, amd.config_digest);
  EXPECT_TRUE(Contains("Digest: " + Digest(body)));  // the index's digest, as Docker shows it
  PullOptions arm64;
  arm64.platform = "linux/arm64";
  auto b = Pull(Ref("test/multi"), arm64);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b, arm.config_digest);
  auto got = images_->Get(arm.config_digest);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->repo_digests,
            std::vector<std::string>{"localhost:5000/test/multi@" + Digest(body)});
  PullOptions s390;
  s390.platform = "linux/s390x";
  auto c = Pull(Ref("test/multi"), s390);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(),
            "no matching manifest for linux/s390x in the manifest list entries");
  PullOptions bad;
  bad.platform = "nonsense";
  EXPECT_EQ(Pull(Ref("test/multi"), bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(DistributionTest, ASinglePlatformImageOfAnotherPlatformIsRefused) {
  BuiltImage amd = BuildImage(dir_, "amd64", 1, 1000, 30);
  Publish(reg_, "test/app", "latest", amd);
  PullOptions arm64;
  arm64.platform = "linux/arm64";
  auto r = Pull(Ref("test/app"), arm64);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(),
            "image with reference localhost:5000/test/app:latest was found but its platform "
            "(linux/amd64) does not match the specified platform (linux/arm64)");
  EXPECT_EQ(reg_.fetches[amd.blob_digests[0]], 0);
  EXPECT_TRUE(images_->List().empty());
}

TEST_F(DistributionTest, MissingTagsAndRepositoriesInDockersWords) {
  BuiltImage img = BuildImage(dir_, "amd64", 1, 1000, 40);
  Publish(reg_, "test/app", "latest", img);
  auto r = Pull(Ref("test/app", "nope"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(
      r.status().message(),
      "manifest for localhost:5000/test/app:nope not found: manifest unknown: manifest unknown");
  // Docker Hub answers an unknown (or private) repository with a denial.
  reg_.user = "u";
  reg_.password = "p";
  Reference hub{"docker.io", "library/nosuchimage", "latest", ""};
  auto h = Pull(hub);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(h.status().message(),
            "pull access denied for " + hub.FamiliarName() +
                ", repository does not exist or may require 'docker login': denied: requested "
                "access to the resource is denied");
  // Elsewhere the registry's own answer.
  auto u = Pull(Ref("test/app"));
  EXPECT_EQ(u.status().code(), absl::StatusCode::kUnauthenticated);
  PullOptions creds;
  creds.auth.username = "u";
  creds.auth.password = "p";
  EXPECT_TRUE(Pull(Ref("test/app"), creds).ok());
}

TEST_F(DistributionTest, Schema1IsRefused) {
  std::string body =
      "{\"schemaVersion\":1,\"name\":\"test/old\",\"tag\":\"latest\",\"fsLayers\":[]}";
  {
    std::lock_guard<std::mutex> lock(reg_.mu);
    reg_.repos["test/old"].manifests[Digest(body)] = {
        "application/vnd.docker.distribution.manifest.v1+prettyjws", body};
    reg_.repos["test/old"].tags["latest"] = Digest(body);
  }
  auto r = Pull(Ref("test/old"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been "
            "removed. Suggest the author of localhost:5000/test/old:latest to upgrade the image to "
            "the OCI Format or Docker Image manifest v2, schema 2. More information at "
            "https://docs.docker.com/go/deprecated-image-specs/");
}

TEST_F(DistributionTest, ACorruptedBlobStoresNothing) {
  BuiltImage img = BuildImage(dir_, "amd64", 1, 50000, 50);
  Publish(reg_, "test/app", "latest", img);
  reg_.corrupt.insert(img.blob_digests[0]);
  auto r = Pull(Ref("test/app"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(r.status().message(),
            "filesystem layer verification failed for digest " + img.blob_digests[0]);
  EXPECT_TRUE(images_->List().empty());
  EXPECT_FALSE(images_->HasLayer(img.diff_ids[0]));
  EXPECT_EQ(TmpFiles(), 0u);
}

TEST_F(DistributionTest, ADroppedConnectionThenARetryFetchesOnlyWhatIsMissing) {
  Distribution one_at_a_time(*images_, *registries_, 1, 1, dir_ + "/tmp");
  BuiltImage img = BuildImage(dir_, "amd64", 2, 200000, 60);
  Publish(reg_, "test/app", "latest", img);
  reg_.fail_after[img.blob_digests[1]] = 50000;
  std::vector<std::string> lines;
  auto sink = [&](const PullProgress& p) { lines.push_back(Line(p)); };
  auto r = one_at_a_time.Pull(Ref("test/app"), {}, sink);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "unexpected EOF");
  EXPECT_TRUE(images_->List().empty());  // no image record without every layer
  EXPECT_EQ(TmpFiles(), 0u);
  const std::string l1 = ShortId(img.blob_digests[1].substr(7));
  EXPECT_NE(std::find(lines.begin(), lines.end(), l1 + ": Waiting"), lines.end());

  lines.clear();
  auto again = one_at_a_time.Pull(Ref("test/app"), {}, sink);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(reg_.fetches[img.blob_digests[0]], 1);  // kept from the first try
  EXPECT_EQ(reg_.fetches[img.blob_digests[1]], 2);
  const std::string l0 = ShortId(img.blob_digests[0].substr(7));
  EXPECT_NE(std::find(lines.begin(), lines.end(), l0 + ": Already exists"), lines.end());
  EXPECT_EQ(TmpFiles(), 0u);
}

TEST_F(DistributionTest, ACancelledPullStoresNoImage) {
  BuiltImage img = BuildImage(dir_, "amd64", 2, 100000, 70);
  Publish(reg_, "test/app", "latest", img);
  std::atomic<bool> cancel{true};
  PullOptions opts;
  opts.cancel = &cancel;
  auto r = Pull(Ref("test/app"), opts);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(images_->List().empty());
  EXPECT_EQ(TmpFiles(), 0u);
}

TEST_F(DistributionTest, AllTags) {
  BuiltImage a = BuildImage(dir_, "amd64", 1, 1000, 80);
  BuiltImage b = BuildImage(dir_, "amd64", 1, 1000, 90);
  Publish(reg_, "test/app", "v1", a);
  Publish(reg_, "test/app", "v2", b);
  PullOptions all;
  all.all_tags = true;
  auto r = Pull(Ref("test/app", ""), all);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(images_->Get("localhost:5000/test/app:v1").ok());
  EXPECT_TRUE(images_->Get("localhost:5000/test/app:v2").ok());
  EXPECT_TRUE(Contains("v1: Pulling from test/app"));
  EXPECT_TRUE(Contains("v2: Pulling from test/app"));
  EXPECT_EQ(lines_.back(), "Status: Downloaded newer image for localhost:5000/test/app");
}

TEST_F(DistributionTest, PushThenPullRoundTrip) {
  std::string id = ImportImage("localhost:5000/test/pushed:v1");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(Push(Ref("test/pushed", "v1")).ok());
  auto local = images_->Get(id);
  ASSERT_TRUE(local.ok());
  const std::string layer = ShortId(local->diff_ids[0].substr(7));
  EXPECT_EQ(lines_[0], "The push refers to repository [localhost:5000/test/pushed]");
  EXPECT_EQ(LayerLines(layer), (std::vector<std::string>{layer + ": Preparing", layer + ": Pushing",
                                                         layer + ": Pushed"}));
  ASSERT_TRUE(msgs_.back().has_aux);
  const std::string digest = msgs_.back().aux_digest;
  EXPECT_EQ(msgs_.back().aux_tag, "v1");
  EXPECT_EQ(lines_[lines_.size() - 2],
            absl::StrCat("v1: digest: ", digest, " size: ", msgs_.back().aux_size));
  auto pushed = images_->Get(id);
  ASSERT_TRUE(pushed.ok());
  EXPECT_EQ(pushed->repo_digests, std::vector<std::string>{"localhost:5000/test/pushed@" + digest});

  // Push again: every blob is there.
  ASSERT_TRUE(Push(Ref("test/pushed", "v1")).ok());
  EXPECT_TRUE(Contains(layer + ": Layer already exists"));
  EXPECT_EQ(msgs_.back().aux_digest, digest);  // the same bytes, the same digest
  int uploads = reg_.uploads;

  // Remove and pull back: the same image id and digest.
  ASSERT_TRUE(images_->Remove(id, true).ok());
  ASSERT_FALSE(images_->Get(id).ok());
  auto back = Pull(Ref("test/pushed", "v1"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, id);
  EXPECT_TRUE(Contains("Digest: " + digest));
  EXPECT_EQ(reg_.uploads, uploads);
}

TEST_F(DistributionTest, PushMountsFromAnotherRepository) {
  std::string id = ImportImage("localhost:5000/test/a:v1");
  ASSERT_TRUE(Push(Ref("test/a", "v1")).ok());
  ASSERT_TRUE(images_->Tag(id, "localhost:5000/test/b:v1").ok());
  ASSERT_TRUE(Push(Ref("test/b", "")).ok());  // no tag: every tag of the repository
  EXPECT_EQ(registries_->last_mount_from, std::vector<std::string>{"test/a"});
  auto local = images_->Get(id);
  ASSERT_TRUE(local.ok());
  const std::string layer = ShortId(local->diff_ids[0].substr(7));
  EXPECT_TRUE(Contains(layer + ": Mounted from test/a"));
  EXPECT_EQ(reg_.mounts, 1);
  EXPECT_EQ(lines_[0], "The push refers to repository [localhost:5000/test/b]");
}

TEST_F(DistributionTest, PushOfWhatIsNotThere) {
  auto none = Push(Ref("test/none", ""));
  EXPECT_EQ(none.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(none.message(),
            "An image does not exist locally with the tag: localhost:5000/test/none");
  ImportImage("localhost:5000/test/x:v1");
  auto tag = Push(Ref("test/x", "v2"));
  EXPECT_EQ(tag.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(tag.message(), "tag does not exist: localhost:5000/test/x:v2");
  EXPECT_EQ(Push(Ref("test/x", "", "sha256:" + std::string(64, 'a'))).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DistributionTest, InspectGivesTheDescriptorAndPlatforms) {
  BuiltImage img = BuildImage(dir_, "arm64", 1, 1000, 100);
  Publish(reg_, "test/app", "latest", img);
  auto r = dist_->Inspect(Ref("test/app"), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->descriptor.media_type, registry::media::kDockerManifest);
  EXPECT_EQ(r->descriptor.digest, img.manifest_digest);
  EXPECT_EQ(r->descriptor.size, static_cast<int64_t>(img.manifest.size()));
  ASSERT_EQ(r->platforms.size(), 1u);
  EXPECT_EQ(r->platforms[0].String(), "linux/arm64/v8");
  EXPECT_EQ(dist_->Inspect(Ref("test/app", "nope"), {}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(TmpFiles(), 0u);
}

TEST(RunPool, KeepsTheFirstRealErrorAndStopsTheRest) {
  internal::ProgressQueue queue;
  std::atomic<bool> stop{false};
  std::atomic<int> ran{0};
  const auto caller = std::this_thread::get_id();
  std::vector<std::string> seen;
  Status st = internal::RunPool(
      2, 10,
      [&](int i) -> Status {
        ++ran;
        queue.Post(internal::Update(std::to_string(i), "Working"));
        if (i == 1) return absl::DataLossError("layer 1 is bad");
        // The others end as a fetch does when told to stop.
        for (int spin = 0; spin < 1000000 && !stop.load(); ++spin) std::this_thread::yield();
        return stop.load() ? absl::CancelledError("context canceled") : absl::OkStatus();
      },
      queue,
      [&](const PullProgress& p) {
        EXPECT_EQ(std::this_thread::get_id(), caller);
        seen.push_back(p.id);
      },
      nullptr, &stop);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(st.message(), "layer 1 is bad");
  EXPECT_LE(ran.load(), 3);  // nothing new starts once one failed
  EXPECT_EQ(seen.size(), static_cast<size_t>(ran.load()));
}

TEST(RunPool, ACancelByTheClientIsContextCanceled) {
  internal::ProgressQueue queue;
  std::atomic<bool> stop{false}, cancel{true};
  Status st = internal::RunPool(
      3, 3,
      [&](int) -> Status {
        for (int spin = 0; spin < 100000000 && !stop.load(); ++spin) std::this_thread::yield();
        return absl::CancelledError("context canceled");
      },
      queue, nullptr, &cancel, &stop);
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(st.message(), "context canceled");
}

}  // namespace
}  // namespace berth::engine
