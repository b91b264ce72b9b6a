// The image store's registry side: layers that arrive as registry blobs, the record of which blob
// carries which layer where (Docker's "v2 metadata"), the compressed form a push sends, and the
// repo digests of pulled and pushed images. The record formats are JSON documents in the Store
// (kinds "layer" and "layer_blob"), read back by ImageStore::Recover.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fd.h"
#include "common/ids.h"
#include "engine/images.h"
#include "nlohmann/json.hpp"
#include "registry/manifest.h"
#include "sys/fs.h"
#include "sys/tar.h"

namespace berth::engine {
namespace {

using nlohmann::json;

// Moves a file into place, copying when it lives on another filesystem.
Status MoveFile(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) == 0) return absl::OkStatus();
  if (errno != EXDEV) return ErrnoStatus(errno, "rename " + from);
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return ErrnoStatus(errno, "open " + from);
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid()) return ErrnoStatus(errno, "create " + to);
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read " + from);
    if (n == 0) break;
    if (::write(out.get(), buf.data(), static_cast<size_t>(n)) != n)
      return ErrnoStatus(errno, "write " + to);
  }
  ::unlink(from.c_str());
  return absl::OkStatus();
}

// gzip of src into dst (fast level: a push's cost is dominated by this), with the sha256 and size
// of what was written. Deterministic: no name or time in the gzip header.
struct Compressed {
  std::string digest;
  int64_t size = 0;
};
StatusOr<Compressed> GzipFile(const std::string& src, const std::string& dst) {
  UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return ErrnoStatus(errno, "open " + src);
  UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out.valid()) return ErrnoStatus(errno, "create " + dst);
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return absl::InternalError("gzip: deflateInit2 failed");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!sha || EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr) != 1)
    return absl::InternalError("sha256: init failed");
  Compressed res;
  std::vector<unsigned char> ibuf(1 << 20), obuf(1 << 20);
  Status st;
  bool eof = false;
  while (st.ok() && !eof) {
    ssize_t n = ::read(in.get(), ibuf.data(), ibuf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = ErrnoStatus(errno, "read " + src);
      break;
    }
    eof = n == 0;
    zs.next_in = ibuf.data();
    zs.avail_in = static_cast<uInt>(n);
    do {
      zs.next_out = obuf.data();
      zs.avail_out = static_cast<uInt>(obuf.size());
      int rc = deflate(&zs, eof ? Z_FINISH : Z_NO_FLUSH);
      if (rc == Z_STREAM_ERROR) {
        st = absl::InternalError("gzip: deflate failed");
        break;
      }
      size_t have = obuf.size() - zs.avail_out;
      if (have > 0) {
        if (::write(out.get(), obuf.data(), have) != static_cast<ssize_t>(have)) {
          st = ErrnoStatus(errno, "write " + dst);
          break;
        }
        EVP_DigestUpdate(sha.get(), obuf.data(), have);
        res.size += static_cast<int64_t>(have);
      }
    } while (zs.avail_out == 0);
  }
  deflateEnd(&zs);
  RETURN_IF_ERROR(st);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_DigestFinal_ex(sha.get(), md, &md_len);
  static constexpr char kHex[] = "0123456789abcdef";
  res.digest = "sha256:";
  for (unsigned i = 0; i < md_len; ++i) {
    res.digest += kHex[md[i] >> 4];
    res.digest += kHex[md[i] & 15];
  }
  return res;
}

}  // namespace

bool ImageStore::HasLayer(const std::string& diff_id) const {
  StateLock lock(mu_);
  return layer_sizes_.count(diff_id) > 0;
}

std::optional<std::string> ImageStore::DiffIdForBlob(const std::string& blob_digest) const {
  StateLock lock(mu_);
  auto it = blob_diff_.find(blob_digest);
  if (it == blob_diff_.end() || !layer_sizes_.count(it->second)) return std::nullopt;
  return it->second;
}

StatusOr<std::string> ImageStore::AddLayerBlob(
    const std::string& blob_path, const LayerBlob& blob, const std::string& expected_diff_id,
    const std::function<void(int64_t done, int64_t total)>& progress) {
  struct Consume {
    const std::string& path;
    ~Consume() { ::unlink(path.c_str()); }
  } consume{blob_path};
  if (!expected_diff_id.empty() && HasLayer(expected_diff_id)) {
    if (!blob.repository.empty()) RETURN_IF_ERROR(RecordBlob(expected_diff_id, blob));
    return expected_diff_id;
  }
  std::string tmp = root_ + "/tmp/layer-" + NewId().substr(0, 16);
  struct Cleanup {
    std::string d;
    ~Cleanup() { (void)sys::RemoveAll(d); }
  } cleanup{tmp};
  RETURN_IF_ERROR(sys::MkdirAll(tmp + "/diff", 0755));
  UniqueFd fd(::open(blob_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open " + blob_path);
  tar::ExtractOptions opts;
  if (progress) opts.on_input = [&](int64_t done) { progress(done, blob.size); };
  auto res = tar::ExtractLayer(fd.get(), tmp + "/diff", opts);
  if (!res.ok()) return Annotate(res.status(), "unpack layer " + blob.digest);
  if (!expected_diff_id.empty() && res->diff_id != expected_diff_id)
    return absl::InvalidArgumentError(absl::StrCat("invalid diffID for layer: expected \"",
                                                   expected_diff_id, "\", got \"", res->diff_id,
                                                   "\""));
  RETURN_IF_ERROR(MoveFile(blob_path, tmp + "/blob"));
  RETURN_IF_ERROR(PublishLayer(tmp, res->diff_id, res->size, blob));
  if (!blob.repository.empty()) RETURN_IF_ERROR(RecordBlob(res->diff_id, blob));
  {
    StateLock lock(mu_);
    blob_diff_.emplace(blob.digest, res->diff_id);
  }
  return res->diff_id;
}

Status ImageStore::RecordBlob(const std::string& diff_id, const LayerBlob& blob) {
  if (blob.repository.empty()) return absl::InvalidArgumentError("blob record without repository");
  absl::MutexLock op(&op_mu_);
  if (!HasLayer(diff_id)) return absl::NotFoundError("no such layer: " + diff_id);
  json doc = {{"diff_id", diff_id},       {"digest", blob.digest}, {"media_type", blob.media_type},
              {"size", blob.size},         {"repository", blob.repository},
              {"at", UnixNanos(clock_.Now())}};
  RETURN_IF_ERROR(store_.Put("layer_blob", blob.repository + "@" + blob.digest, "", doc.dump()));
  StateLock lock(mu_);
  auto& v = blobs_[diff_id];
  v.erase(std::remove_if(v.begin(), v.end(),
                         [&](const LayerBlob& b) {
                           return b.digest == blob.digest && b.repository == blob.repository;
                         }),
          v.end());
  v.insert(v.begin(), blob);
  blob_diff_[blob.digest] = diff_id;
  return absl::OkStatus();
}

std::vector<LayerBlob> ImageStore::BlobsFor(const std::string& diff_id) const {
  StateLock lock(mu_);
  auto it = blobs_.find(diff_id);
  return it == blobs_.end() ? std::vector<LayerBlob>{} : it->second;
}

StatusOr<ImageStore::PushBlob> ImageStore::BlobForPush(const std::string& diff_id) {
  {
    StateLock lock(mu_);
    if (!layer_sizes_.count(diff_id)) return absl::NotFoundError("no such layer: " + diff_id);
    if (auto it = layer_blob_.find(diff_id); it != layer_blob_.end())
      return PushBlob{LayerDir(diff_id) + "/blob", it->second};
  }
  // Compress outside every lock; the first to finish publishes, the others use it.
  std::string tmp = root_ + "/tmp/push-" + NewId().substr(0, 16);
  auto gz = GzipFile(LayerDir(diff_id) + "/layer.tar", tmp);
  if (!gz.ok()) {
    ::unlink(tmp.c_str());
    return Annotate(gz.status(), "compress layer " + diff_id);
  }
  LayerBlob blob{gz->digest, std::string(registry::media::kDockerLayerGzip), gz->size, ""};
  absl::MutexLock op(&op_mu_);
  int64_t size;
  {
    StateLock lock(mu_);
    if (!layer_sizes_.count(diff_id)) {
      ::unlink(tmp.c_str());
      return absl::NotFoundError("no such layer: " + diff_id);
    }
    if (auto it = layer_blob_.find(diff_id); it != layer_blob_.end()) {
      ::unlink(tmp.c_str());
      return PushBlob{LayerDir(diff_id) + "/blob", it->second};
    }
    size = layer_sizes_.at(diff_id);
  }
  std::string path = LayerDir(diff_id) + "/blob";
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status st = ErrnoStatus(errno, "rename " + tmp);
    ::unlink(tmp.c_str());
    return st;
  }
  json doc = {{"size", size},
              {"blob", {{"digest", blob.digest}, {"media_type", blob.media_type}, {"size", blob.size}}}};
  if (Status st = store_.Put("layer", diff_id, "", doc.dump()); !st.ok()) {
    ::unlink(path.c_str());
    return st;
  }
  StateLock lock(mu_);
  layer_blob_[diff_id] = blob;
  blob_diff_.emplace(blob.digest, diff_id);
  return PushBlob{path, blob};
}

StatusOr<std::string> ImageStore::CommitPulled(const std::string& config_raw,
                                               const std::vector<std::string>& diff_ids,
                                               const std::string& tag,
                                               const std::string& repo_digest) {
  Image probe;
  probe.config_raw = config_raw;
  RETURN_IF_ERROR(ParseConfig(&probe));
  if (probe.diff_ids != diff_ids)
    return absl::InvalidArgumentError("image config's rootfs.diff_ids do not match its layers");
  std::vector<std::string> tags;
  if (!tag.empty()) {
    std::string t = NormalizeRef(tag);
    if (t.empty()) return absl::InvalidArgumentError("invalid reference format: " + tag);
    tags.push_back(t);
  }
  std::string rd;
  if (!repo_digest.empty()) {
    rd = NormalizeDigestRef(repo_digest);
    if (rd.empty()) return absl::InvalidArgumentError("invalid reference format: " + repo_digest);
  }
  std::string id;
  RETURN_IF_ERROR(Commit(config_raw, diff_ids, tags, rd, &id));
  return id;
}

Status ImageStore::AddRepoDigest(const std::string& image_id, const std::string& repo_digest) {
  std::string rd = NormalizeDigestRef(repo_digest);
  if (rd.empty()) return absl::InvalidArgumentError("invalid reference format: " + repo_digest);
  ASSIGN_OR_RETURN(Image img, Get(image_id));
  std::string id;
  return Commit(img.config_raw, img.diff_ids, {}, rd, &id);
}

}  // namespace berth::engine
