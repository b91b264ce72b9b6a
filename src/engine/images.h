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
// Thread-safe: one mutex guards the tag/image maps; layer unpacking runs outside it.

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
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
};

// "busybox" -> "busybox:latest"; "docker.io/library/busybox:1" -> "busybox:1". Empty on a
// malformed reference.
std::string NormalizeRef(std::string_view ref);

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

  // By full or short id (with or without "sha256:"), or by reference.
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

  // Overlayfs lower dirs for an image, top-most first.
  std::vector<std::string> LowerDirs(const Image& image) const;

 private:
  std::string LayerDir(const std::string& diff_id) const;
  // Unpacks one layer tarball; returns its diff id, verified against `expected` when given.
  StatusOr<std::string> AddLayer(const std::string& tar_path, const std::string& expected);
  Status Commit(const std::string& config_raw, const std::vector<std::string>& diff_ids,
                const std::vector<std::string>& tags, std::string* id);
  StatusOr<std::string> ResolveLocked(std::string_view name) const;
  Status DeleteImageLocked(const std::string& id, std::vector<DeleteItem>* report);
  // Fills the typed fields of an image from its config_raw.
  static Status ParseConfig(Image* img);

  Store& store_;
  const Clock& clock_;
  const std::string root_;
  UserLookup user_lookup_;
  mutable std::mutex mu_;
  std::map<std::string, Image> images_;             // guarded by mu_; by id
  std::map<std::string, std::string> tags_;         // guarded by mu_; ref -> id
  std::map<std::string, int64_t> layer_sizes_;      // guarded by mu_; diff id -> bytes
};

}  // namespace berth::engine
