// docker push (moby distribution/push_v2.go, xfer/upload.go): for each tag of the repository,
// each layer (top-down, up to max_uploads at once) is skipped when the registry has its blob,
// mounted from another repository of the same registry when one is known to hold it, or
// uploaded; then the config blob, the schema 2 manifest, and the repo digest recorded locally.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/fd.h"
#include "common/ids.h"
#include "engine/distribution/distribution.h"
#include "engine/distribution/distribution_util.h"
#include "engine/distribution/progress_queue.h"
#include "sys/fs.h"

namespace berth::engine {

namespace {

using internal::Bytes;
using internal::Message;
using internal::Update;

// What the registry is known to hold, by diff id, across the tags of one push (moby's
// pushState.remoteLayers).
class RemoteLayers {
 public:
  std::optional<LayerBlob> Find(const std::string& diff_id) {
    absl::MutexLock lock(&mu_);
    auto it = layers_.find(diff_id);
    if (it == layers_.end()) return std::nullopt;
    return it->second;
  }
  void Add(const std::string& diff_id, const LayerBlob& blob) {
    absl::MutexLock lock(&mu_);
    layers_[diff_id] = blob;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, LayerBlob> layers_ ABSL_GUARDED_BY(mu_);
};

struct Pusher {
  ImageStore& images;
  registry::Repository& repo;
  const registry::Reference& ref;
  int max_uploads;
  const std::string& tmp_dir;
  RemoteLayers remote;
};

// The path of a repository of the same registry as `ref` ("docker.io/library/x" -> "library/x"),
// "" when it is of another registry.
std::string SameRegistryPath(const registry::Reference& ref, const std::string& repository) {
  const std::string prefix = ref.domain + "/";
  if (!absl::StartsWith(repository, prefix)) return "";
  return repository.substr(prefix.size());
}

// One layer: exists, mounted, or uploaded. Returns the blob the manifest names.
StatusOr<LayerBlob> PushLayer(Pusher& p, const std::string& diff_id,
                              internal::ProgressQueue& queue) {
  const std::string id = internal::ShortDigest(diff_id);
  if (auto known = p.remote.Find(diff_id)) {
    queue.Post(Update(id, "Layer already exists"));
    return *known;
  }
  const std::string target = p.ref.Name();
  const std::vector<LayerBlob> blobs = p.images.BlobsFor(diff_id);
  std::set<std::string> checked;
  auto done = [&](LayerBlob blob, std::string status) -> LayerBlob {
    blob.repository = target;
    // A cache, as Docker's v2 metadata: the push itself succeeded either way.
    (void)p.images.RecordBlob(diff_id, blob);
    p.remote.Add(diff_id, blob);
    queue.Post(Update(id, std::move(status)));
    return blob;
  };
  // Blobs this repository (or no known one) served: does the registry still have them?
  for (const LayerBlob& b : blobs) {
    if (!(b.repository.empty() || b.repository == target) || !checked.insert(b.digest).second) {
      continue;
    }
    auto exists = p.repo.BlobExists(b.digest);
    if (exists.ok() && *exists) return done(b, "Layer already exists");
  }
  // Blobs another repository of the same registry holds: mount instead of upload.
  for (const LayerBlob& b : blobs) {
    std::string from = SameRegistryPath(p.ref, b.repository);
    if (from.empty() || b.repository == target) continue;
    auto mounted = p.repo.MountBlob(b.digest, from);
    if (mounted.ok() && *mounted) return done(b, "Mounted from " + from);
  }
  ASSIGN_OR_RETURN(ImageStore::PushBlob pb, p.images.BlobForPush(diff_id));
  if (checked.insert(pb.blob.digest).second) {
    auto exists = p.repo.BlobExists(pb.blob.digest);
    if (exists.ok() && *exists) return done(pb.blob, "Layer already exists");
  }
  UniqueFd fd(::open(pb.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open the blob of layer " + diff_id);
  internal::ProgressThrottle throttle;
  const int64_t size = pb.blob.size;
  RETURN_IF_ERROR(p.repo.PushBlob(pb.blob.digest, fd.get(), size, [&](int64_t n, int64_t total) {
    if (total < 0) total = size;
    if (throttle.Allow(n, total)) queue.Post(Bytes(id, "Pushing", n, total));
  }));
  return done(pb.blob, "Pushed");
}

Status PushTag(Pusher& p, const std::string& tag, const Image& image, const ProgressSink& sink) {
  // Top-down, as Docker lists them; a layer that appears twice is pushed once.
  std::vector<std::string> order;
  for (auto it = image.diff_ids.rbegin(); it != image.diff_ids.rend(); ++it) {
    if (std::find(order.begin(), order.end(), *it) == order.end()) order.push_back(*it);
  }
  for (const std::string& d : order) {
    if (sink) sink(Update(internal::ShortDigest(d), "Preparing"));
  }
  for (size_t i = static_cast<size_t>(std::max(p.max_uploads, 1)); i < order.size(); ++i) {
    if (sink) sink(Update(internal::ShortDigest(order[i]), "Waiting"));
  }
  std::vector<LayerBlob> pushed(order.size());
  internal::ProgressQueue queue;
  std::atomic<bool> stop{false};
  RETURN_IF_ERROR(internal::RunPool(
      p.max_uploads, static_cast<int>(order.size()),
      [&](int i) -> Status {
        if (stop.load()) return absl::CancelledError("context canceled");
        ASSIGN_OR_RETURN(pushed[i], PushLayer(p, order[i], queue));
        return absl::OkStatus();
      },
      queue, sink, nullptr, &stop));

  // The config: a blob like the layers (HEAD first).
  auto have_config = p.repo.BlobExists(image.id);
  if (!have_config.ok() || !*have_config) {
    ASSIGN_OR_RETURN(int raw, internal::TempFileWith(p.tmp_dir, image.config_raw));
    UniqueFd fd(raw);
    RETURN_IF_ERROR(p.repo.PushBlob(image.id, fd.get(),
                                    static_cast<int64_t>(image.config_raw.size()),
                                    [](int64_t, int64_t) {}));
  }

  registry::ImageManifest m;
  m.media_type = std::string(registry::media::kDockerManifest);
  m.config.media_type = std::string(registry::media::kDockerConfig);
  m.config.digest = image.id;
  m.config.size = static_cast<int64_t>(image.config_raw.size());
  for (const std::string& d : image.diff_ids) {
    size_t i = std::find(order.begin(), order.end(), d) - order.begin();
    registry::Descriptor l;
    l.media_type = pushed[i].media_type.empty() ? std::string(registry::media::kDockerLayerGzip)
                                                : pushed[i].media_type;
    l.digest = pushed[i].digest;
    l.size = pushed[i].size;
    m.layers.push_back(std::move(l));
  }
  const std::string body = registry::RenderManifest(m);
  const std::string digest = "sha256:" + Sha256Hex(body);
  RETURN_IF_ERROR(p.repo.PutManifest(tag, registry::media::kDockerManifest, body).status());
  RETURN_IF_ERROR(p.images.AddRepoDigest(image.id, p.ref.FamiliarName() + "@" + digest));
  if (sink) {
    sink(Message("", absl::StrCat(tag, ": digest: ", digest, " size: ", body.size())));
    PullProgress aux = Update("", "");
    aux.has_aux = true;
    aux.aux_tag = tag;
    aux.aux_digest = digest;
    aux.aux_size = static_cast<int64_t>(body.size());
    sink(aux);
  }
  return absl::OkStatus();
}

}  // namespace

Status Distribution::Push(const registry::Reference& ref, const registry::AuthConfig& auth,
                          const ProgressSink& sink) {
  if (!ref.digest.empty()) return absl::InvalidArgumentError("cannot push a digest reference");
  const std::string name = ref.FamiliarName();
  // Every tag of the repository, or the one asked for.
  std::vector<std::pair<std::string, Image>> tagged;
  bool any = false;
  for (const Image& img : images_.List()) {
    for (const std::string& t : img.tags) {
      if (!absl::StartsWith(t, name + ":")) continue;
      std::string tag = t.substr(name.size() + 1);
      if (tag.find('/') != std::string::npos) continue;  // "a:5000/b:c" is another repository
      any = true;
      if (ref.tag.empty() || ref.tag == tag) tagged.emplace_back(tag, img);
    }
  }
  if (!any) {
    return absl::NotFoundError("An image does not exist locally with the tag: " + name);
  }
  if (tagged.empty()) return absl::NotFoundError("tag does not exist: " + name + ":" + ref.tag);
  std::sort(tagged.begin(), tagged.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  // Repositories of this registry that hold some of these layers: the token must let us read
  // them to mount from them.
  std::set<std::string> mount_from;
  for (const auto& [tag, img] : tagged) {
    for (const std::string& d : img.diff_ids) {
      for (const LayerBlob& b : images_.BlobsFor(d)) {
        std::string path = SameRegistryPath(ref, b.repository);
        if (!path.empty() && path != ref.path) mount_from.insert(path);
      }
    }
  }
  ASSIGN_OR_RETURN(
      std::unique_ptr<registry::Repository> repo,
      registries_.Open(ref, auth, registry::Access::kPush, {mount_from.begin(), mount_from.end()}));
  RETURN_IF_ERROR(sys::MkdirAll(tmp_dir_, 0700));
  if (sink) sink(Message("", "The push refers to repository [" + ref.Name() + "]"));
  Pusher p{images_, *repo, ref, max_uploads_, tmp_dir_, {}};
  for (const auto& [tag, img] : tagged) RETURN_IF_ERROR(PushTag(p, tag, img, sink));
  return absl::OkStatus();
}

}  // namespace berth::engine
