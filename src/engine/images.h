#pragma once
// ImageStore: images and their layers, stored once and unpacked once.
//
// On disk (under <data-root>/image):
//   layers/<hex of diff id>/diff       the unpacked layer, an overlayfs lower dir
//   layers/<hex of diff id>/layer.tar  the uncompressed layer tarball, kept for `save`
// In the Store: kind "image" (id "sha256:<hex of config>", doc: exact config bytes, sizes),
// kind "tag" (id "repo:tag", doc: image id). Layers are shared between images by diff id and
// removed when the last image using them goes.
//
// Image configs, manifests and indexes are JSON documents: this store is where that format is
// read and written (images.cc); what it hands out is typed.
//
// Thread-safe: a state lock guards the maps (short sections, never across SQLite or the disk);
// an operation lock serialises writers; layer unpacking and compression run outside both.
//
// Registries add (image_blobs.cc): pulled layers keep their compressed blob
// (layers/<hex>/blob) instead of layer.tar; kind "layer_blob" records which blob digest carries
// which diff id in which repository; an image's doc lists its repo digests.

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/sync.h"
#include "common/status.h"
#include "engine/store.h"
#include "spec/container.h"

namespace berth::engine {

struct Image {
  std::string id;          // "sha256:<64 hex>"
  std::string config_raw;  // the config exactly as loaded (its digest is the id)
  spec::ContainerConfig container_config;  // its "config": the defaults a container inherits
  std::string created;     // its "created" (RFC 3339), "" when absent
  std::vector<std::string> diff_ids;
  int64_t size = 0;  // bytes of the unpacked layers
  std::vector<int64_t> layer_sizes;  // bytes of each, in diff_ids order (for history)
  int64_t loaded_at = 0;  // unix nanos
  std::vector<std::string> tags;  // "repo:tag", sorted
  std::vector<std::string> repo_digests;  // "repo@sha256:<manifest digest>" (familiar), sorted
};

// A layer's compressed form as a registry knows it (Docker's "v2 metadata"): which blob digest
// carries which diff id in which repository, so pulls skip layers already present ("Already
// exists") and pushes check or mount blobs instead of uploading them again.
struct LayerBlob {
  std::string digest;      // "sha256:..." of the compressed bytes
  std::string media_type;  // registry::media::kDockerLayerGzip etc.
  int64_t size = 0;
  std::string repository;  // "docker.io/library/busybox", "" when not known to any
};

// "busybox" -> "busybox:latest"; "docker.io/library/busybox:1" -> "busybox:1". Empty on a
// malformed reference.
std::string NormalizeRef(std::string_view ref);
// "busybox@sha256:<hex>" -> itself; "docker.io/library/busybox:1@sha256:<hex>" ->
// "busybox@sha256:<hex>" (the tag of a digested reference is ignored, as Docker). Empty when
// malformed or without a digest.
std::string NormalizeDigestRef(std::string_view ref);

// A Dockerfile HEALTHCHECK's arguments (`docker import --change`): "NONE", or
// "[--interval=D] [--timeout=D] [--start-period=D] [--retries=N] CMD command" (the JSON array
// form is CMD, the shell form CMD-SHELL), with the builder's messages.
StatusOr<spec::HealthConfig> ParseHealthcheckInstruction(std::string_view args);

class ImageStore {
 public:
  // Says which container (if any) uses an image, so rmi/prune leave it alone.
  using UserLookup = std::function<std::optional<std::string>(const std::string& image_id)>;

  ImageStore(Store& store, const Clock& clock, std::string root);
  Status Recover();
  void SetUserLookup(UserLookup lookup) { user_lookup_ = std::move(lookup); }

  // Loads a docker-archive or OCI-layout tarball. Returns the lines docker prints
  // ("Loaded image: busybox:latest" or "Loaded image ID: sha256:...").
  StatusOr<std::vector<std::string>> Load(const std::string& tar_path);
  // Imports a rootfs tarball as a one-layer image; changes are Dockerfile instructions
  // (CMD, ENTRYPOINT, ENV, WORKDIR, EXPOSE, USER, LABEL, VOLUME, STOPSIGNAL, HEALTHCHECK).
  StatusOr<std::string> Import(const std::string& tar_path, const std::string& ref,
                               const std::vector<std::string>& changes, const std::string& message);
  // docker commit: a child of `parent` with one more layer (the tarball at layer_tar; none when
  // empty, marked empty_layer in its history), `config` (the container's) as its config with `changes` applied (CMD ENTRYPOINT ENV EXPOSE LABEL ONBUILD USER VOLUME
  // WORKDIR; others refused as Docker), a history entry, and the tag `ref` when given.
  struct CommitRequest {
    std::string parent;
    std::string layer_tar;
    spec::ContainerConfig config;
    std::string container_id;
    std::string created_by, comment, author;
    std::vector<std::string> changes;
    std::string ref;
  };
  StatusOr<std::string> CommitContainer(const CommitRequest& req);
  // Writes a docker-archive tarball of the named images to fd.
  Status Save(const std::vector<std::string>& names, int fd);

  // By full or short id (with or without "sha256:"), by reference, or by "repo@sha256:..." digest.
  StatusOr<Image> Get(std::string_view name) const;
  std::vector<Image> List() const;
  Status Tag(std::string_view source, std::string_view target);
  // Docker's DELETE /images/{name} result: what was untagged and deleted, in order.
  struct DeleteItem {
    std::string untagged;  // one of the two is set
    std::string deleted;
  };
  StatusOr<std::vector<DeleteItem>> Remove(std::string_view name, bool force);
  // Removes dangling (untagged) images, or with all every image no container uses.
  struct PruneReport {
    std::vector<DeleteItem> deleted;
    int64_t reclaimed = 0;
  };
  // `select` (when given) further narrows which of those go: the prune filters.
  StatusOr<PruneReport> Prune(bool all, const std::function<bool(const Image&)>& select = nullptr);

  // ---- Registries (image_blobs.cc) ----
  bool HasLayer(const std::string& diff_id) const;
  // The diff id a blob digest was seen to carry (any repository), if any.
  std::optional<std::string> DiffIdForBlob(const std::string& blob_digest) const;
  // Stores a layer from a registry blob that the caller already verified against
  // blob.digest: unpacks it (gzip, zstd or plain tar), checks its diff id against expected (when
  // given; Docker's "invalid diffID" message), keeps the compressed file as the layer's blob (so
  // a push sends the same bytes and `save` decompresses it), and records the blob (RecordBlob).
  // Stored once: a diff id already present is not unpacked again. The blob file is consumed
  // (moved or removed). Nothing is left behind on error.
  // `progress` (when given) is called with the compressed bytes consumed so far and the total
  // (docker pull's "Extracting"), on the calling thread.
  StatusOr<std::string> AddLayerBlob(
      const std::string& blob_path, const LayerBlob& blob, const std::string& expected_diff_id,
      const std::function<void(int64_t done, int64_t total)>& progress = nullptr);
  // Remembers that blob.digest in blob.repository carries diff_id.
  Status RecordBlob(const std::string& diff_id, const LayerBlob& blob);
  // What registries know of a layer, most recently recorded first.
  std::vector<LayerBlob> BlobsFor(const std::string& diff_id) const;
  // The compressed bytes a push sends for a layer: its stored blob when it has one, else a gzip
  // of its layer.tar, made once and kept. `path` is readable until the layer is removed.
  struct PushBlob {
    std::string path;
    LayerBlob blob;  // repository ""
  };
  StatusOr<PushBlob> BlobForPush(const std::string& diff_id);
  // Stores a pulled image in one transaction: the config (its sha256 is the id; every diff id
  // must be stored already), the tag (familiar "repo:tag", or "" for a pull by digest) and the
  // repo digest (familiar "repo@sha256:..."). Returns the image id.
  StatusOr<std::string> CommitPulled(const std::string& config_raw,
                                     const std::vector<std::string>& diff_ids,
                                     const std::string& tag, const std::string& repo_digest);
  // While a pull holds one of these, prune leaves layers that no image uses yet alone (they are
  // the pull's, waiting for CommitPulled). Without pulls in flight, prune removes them: the
  // layers a failed pull completed stay for its retry until then.
  class PullHold {
   public:
    explicit PullHold(ImageStore& s) : s_(s) { s_.pulls_.fetch_add(1); }
    ~PullHold() { s_.pulls_.fetch_sub(1); }
    PullHold(const PullHold&) = delete;
    PullHold& operator=(const PullHold&) = delete;

   private:
    ImageStore& s_;
  };
  // Adds a repo digest to an image (after a push).
  Status AddRepoDigest(const std::string& image_id, const std::string& repo_digest);

  // Overlayfs lower dirs for an image, top-most first.
  std::vector<std::string> LowerDirs(const Image& image) const;

 private:
  std::string LayerDir(const std::string& diff_id) const;
  // Unpacks one layer tarball; returns its diff id, verified against `expected` when given.
  StatusOr<std::string> AddLayer(const std::string& tar_path, const std::string& expected);
  // Moves an unpacked layer (tmp holds diff/ and layer.tar or blob) into its place and records
  // it, with its compressed blob when it has one. A diff id already stored keeps the copy it has
  // (tmp is removed).
  Status PublishLayer(const std::string& tmp, const std::string& diff_id, int64_t size,
                      const std::optional<LayerBlob>& blob);
  // Stores an image (once: its id is the config's digest) and points the tags and the repo
  // digest (when not empty) at it.
  Status Commit(const std::string& config_raw, const std::vector<std::string>& diff_ids,
                const std::vector<std::string>& tags, const std::string& repo_digest,
                std::string* id);
  StatusOr<std::string> ResolveLocked(std::string_view name) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes an image with its references and the layers no other image uses.
  Status DeleteImage(const std::string& id, std::vector<DeleteItem>* report)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // Drops layers (and what is known of their blobs) from the maps.
  void ForgetLayersLocked(const std::vector<std::string>& diff_ids) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the layers no image uses.
  Status DeleteOrphanLayers(std::vector<DeleteItem>* report) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // Removes references (tags or repo digests) of one image from the store and the maps.
  Status DropRefs(const std::string& id, const std::vector<std::string>& refs)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // Fills the typed fields of an image from its config_raw.
  static Status ParseConfig(Image* img);

  Store& store_;
  const Clock& clock_;
  const std::string root_;
  UserLookup user_lookup_;
  // Operation lock: serialises the writers (held across SQLite, renames and removals; readers
  // never take it). Taken before mu_.
  absl::Mutex op_mu_;
  std::atomic<int> pulls_{0};  // PullHolds alive
  mutable StateMutex mu_;
  std::map<std::string, Image> images_ ABSL_GUARDED_BY(mu_);         // by id
  std::map<std::string, std::string> tags_ ABSL_GUARDED_BY(mu_);     // "repo:tag" -> id
  std::map<std::string, std::string> digests_ ABSL_GUARDED_BY(mu_);  // "repo@sha256:.." -> id
  std::map<std::string, int64_t> layer_sizes_ ABSL_GUARDED_BY(mu_);  // diff id -> bytes
  // diff id -> the compressed blob stored with the layer (layers/<hex>/blob)
  std::map<std::string, LayerBlob> layer_blob_ ABSL_GUARDED_BY(mu_);
  // diff id -> the registry blobs known to carry it, most recently recorded first
  std::map<std::string, std::vector<LayerBlob>> blobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> blob_diff_ ABSL_GUARDED_BY(mu_);  // blob digest -> diff id
};

}  // namespace berth::engine
