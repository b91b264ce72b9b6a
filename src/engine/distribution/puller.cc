// docker pull (moby distribution/pull_v2.go, xfer/download.go): resolve the reference to an
// image manifest, fetch its config, download the layers the store lacks into temporary files (up
// to max_downloads at once), store each verified blob as a layer, then commit the image record.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fd.h"
#include "engine/distribution/distribution.h"
#include "engine/distribution/distribution_util.h"
#include "engine/distribution/progress_queue.h"
#include "sys/fs.h"

namespace berth::engine {

namespace {

using internal::Bytes;
using internal::Message;
using internal::Update;

bool IsForeign(const registry::Descriptor& d) {
  return !d.urls.empty() || absl::StrContains(d.media_type, "foreign") ||
         absl::StrContains(d.media_type, "nondistributable");
}

Status CheckConfigMediaType(std::string_view mt) {
  if (mt.empty() || mt == registry::media::kDockerConfig || mt == registry::media::kOciConfig) {
    return absl::OkStatus();
  }
  // moby's invalidManifestClassError: a plugin, a Helm chart, a model... is not an image.
  std::string cls = "unknown";
  if (mt == "application/vnd.docker.plugin.v1+json") cls = "plugin";
  return absl::InvalidArgumentError(
      absl::StrCat("Encountered remote \"", Av(mt), "\"(", cls, ") when fetching"));
}

// One blob to download (layers that share a blob share its download).
struct LayerTask {
  registry::Descriptor desc;
  std::string diff_id;  // from the config, what the unpacked blob must hash to
};

// What one pull works with.
struct Puller {
  ImageStore& images;
  const int max_downloads;
  const std::string& tmp_dir;
};

// One tag or digest of a repository. `updated` says whether the image was new to this reference.
struct PullOneResult {
  std::string id;
  bool updated = false;
};

StatusOr<PullOneResult> PullOne(const Puller& p, registry::Repository& repo,
                                const registry::Reference& ref, const registry::Platform& want,
                                bool platform_given, const PullOptions& opts,
                                const ProgressSink& sink) {
  ImageStore& images = p.images;
  const std::string& tmp_dir = p.tmp_dir;
  const std::string tag_or_digest = internal::TagOrDigest(ref);
  ASSIGN_OR_RETURN(registry::Repository::Manifest top,
                   [&]() -> StatusOr<registry::Repository::Manifest> {
                     auto m = repo.GetManifest(tag_or_digest);
                     if (!m.ok()) return internal::ManifestError(m.status(), ref);
                     return m;
                   }());
  ASSIGN_OR_RETURN(registry::ParsedManifest parsed, [&]() -> StatusOr<registry::ParsedManifest> {
    auto p = registry::ParseManifest(top.media_type, top.body);
    if (!p.ok()) return internal::WithReference(p.status(), ref);
    return p;
  }());
  // Docker names a digest pull by its whole reference ("docker.io/library/busybox@sha256:..").
  const std::string stream_id = ref.digest.empty() ? ref.tag : ref.Name() + "@" + ref.digest;
  if (sink) sink(Message(stream_id, "Pulling from " + ref.path));

  registry::ImageManifest manifest;
  if (parsed.is_index) {
    ASSIGN_OR_RETURN(registry::Descriptor entry, registry::SelectPlatform(parsed.index, want));
    auto m = repo.GetManifest(entry.digest);
    if (!m.ok()) return internal::ManifestError(m.status(), ref);
    auto p = registry::ParseManifest(m->media_type, m->body);
    if (!p.ok()) return internal::WithReference(p.status(), ref);
    if (p->is_index) {
      return absl::InvalidArgumentError(
          absl::StrCat("the manifest list entry ", entry.digest, " for ", want.String(),
                       " is itself a manifest list; nested indexes are not supported"));
    }
    manifest = std::move(p->manifest);
  } else {
    manifest = std::move(parsed.manifest);
  }
  RETURN_IF_ERROR(CheckConfigMediaType(manifest.config.media_type));

  ASSIGN_OR_RETURN(std::string config, [&]() -> StatusOr<std::string> {
    auto c = internal::FetchSmallBlob(repo, manifest.config, tmp_dir, opts.cancel);
    if (!c.ok()) return Annotate(c.status(), "error pulling image configuration");
    return c;
  }());
  ASSIGN_OR_RETURN(registry::ImageConfigSummary info, registry::ParseImageConfig(config));
  // A single-platform image asked for with another --platform: refused before any download
  // (Docker pulls it and then warns; storing an image the user said they did not want is what
  // the issue forbids). An index entry was chosen by its platform already.
  if (platform_given && !parsed.is_index && !registry::PlatformMatches(info.platform, want)) {
    return absl::NotFoundError(absl::StrCat(
        "image with reference ", internal::FamiliarString(ref), " was found but its platform (",
        info.platform.String(), ") does not match the specified platform (", want.String(), ")"));
  }
  if (info.diff_ids.size() != manifest.layers.size()) {
    return absl::InvalidArgumentError("layers from manifest don't match image configuration");
  }

  // Which layers are there, which to fetch.
  const std::string repo_name = ref.Name();
  std::vector<LayerTask> tasks;
  std::map<std::string, int> task_of_blob;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const registry::Descriptor& d = manifest.layers[i];
    const std::string id = internal::ShortDigest(d.digest);
    if (images.HasLayer(info.diff_ids[i])) {
      // Remember that this repository serves the blob (a later push checks it there first);
      // a cache, as Docker's v2 metadata: a failure to record it fails nothing.
      (void)images.RecordBlob(info.diff_ids[i],
                              LayerBlob{d.digest, d.media_type, d.size, repo_name});
      if (sink) sink(Update(id, "Already exists"));
      continue;
    }
    if (task_of_blob.count(d.digest)) continue;
    if (IsForeign(d)) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", d.digest, " is a foreign layer (", d.media_type,
                       d.urls.empty() ? std::string() : ", served from " + d.urls.front(),
                       "): Berth fetches layers only from the registry"));
    }
    task_of_blob[d.digest] = static_cast<int>(tasks.size());
    tasks.push_back({d, info.diff_ids[i]});
    if (sink) sink(Update(id, "Pulling fs layer"));
  }
  for (size_t t = static_cast<size_t>(std::max(p.max_downloads, 1)); t < tasks.size(); ++t) {
    if (sink) sink(Update(internal::ShortDigest(tasks[t].desc.digest), "Waiting"));
  }

  internal::ProgressQueue queue;
  std::atomic<bool> stop{false};
  auto fetch = [&](int t) -> Status {
    const LayerTask& task = tasks[t];
    const registry::Descriptor& d = task.desc;
    const std::string id = internal::ShortDigest(d.digest);
    std::string path = tmp_dir + "/pull-" + id + "-XXXXXX";
    UniqueFd fd(::mkostemp(path.data(), O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus(errno, "create a temporary file in " + tmp_dir);
    internal::ProgressThrottle throttle;
    Status st = repo.FetchBlob(
        d, fd.get(),
        [&](int64_t done, int64_t total) {
          if (total < 0) total = d.size;
          if (throttle.Allow(done, total)) queue.Post(Bytes(id, "Downloading", done, total));
        },
        &stop);
    fd.reset();
    if (!st.ok()) {
      ::unlink(path.c_str());
      return st;
    }
    queue.Post(Update(id, "Verifying Checksum"));
    queue.Post(Update(id, "Download complete"));
    queue.Post(Bytes(id, "Extracting", 0, d.size));
    internal::ProgressThrottle unpack_throttle;
    auto stored = images.AddLayerBlob(
        path, LayerBlob{d.digest, d.media_type, d.size, repo_name}, task.diff_id,
        [&](int64_t done, int64_t total) {
          if (done < total && unpack_throttle.Allow(done, total))
            queue.Post(Bytes(id, "Extracting", done, total));
        });
    ::unlink(path.c_str());  // consumed on success; gone either way
    if (!stored.ok()) return stored.status();
    queue.Post(Bytes(id, "Extracting", d.size, d.size));
    queue.Post(Update(id, "Pull complete"));
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(internal::RunPool(p.max_downloads, static_cast<int>(tasks.size()), fetch, queue,
                                    sink, opts.cancel, &stop));
  if (opts.cancel != nullptr && opts.cancel->load()) {
    return absl::CancelledError("context canceled");
  }

  // The image record, only now that every layer is in.
  const std::string familiar = ref.FamiliarName();
  const std::string tag_ref = ref.digest.empty() ? familiar + ":" + ref.tag : std::string();
  const std::string repo_digest = familiar + "@" + top.digest;
  auto before = images.Get(ref.digest.empty() ? tag_ref : repo_digest);
  ASSIGN_OR_RETURN(std::string id,
                   images.CommitPulled(config, info.diff_ids, tag_ref, repo_digest));
  if (sink) sink(Message("", "Digest: " + top.digest));
  return PullOneResult{id, !(before.ok() && before->id == id)};
}

}  // namespace

StatusOr<std::string> Distribution::Pull(const registry::Reference& ref, const PullOptions& opts,
                                         const ProgressSink& sink) {
  registry::Platform want = registry::HostPlatform();
  const bool platform_given = !opts.platform.empty();
  if (platform_given) {
    ASSIGN_OR_RETURN(want, registry::ParsePlatform(opts.platform));
  }
  if (opts.all_tags && (!ref.tag.empty() || !ref.digest.empty())) {
    return absl::InvalidArgumentError("tag can't be used with --all-tags/-a");
  }
  if (opts.cancel != nullptr && opts.cancel->load()) {
    return absl::CancelledError("context canceled");
  }
  RETURN_IF_ERROR(sys::MkdirAll(tmp_dir_, 0700));
  ImageStore::PullHold hold(images_);  // prune leaves this pull's layers alone
  ASSIGN_OR_RETURN(std::unique_ptr<registry::Repository> repo,
                   registries_.Open(ref, opts.auth, registry::Access::kPull));
  const Puller puller{images_, max_downloads_, tmp_dir_};

  if (!opts.all_tags) {
    registry::Reference one = ref;
    if (one.tag.empty() && one.digest.empty()) one.tag = "latest";
    ASSIGN_OR_RETURN(PullOneResult r,
                     PullOne(puller, *repo, one, want, platform_given, opts, sink));
    if (sink) {
      sink(internal::Message("", (r.updated ? "Status: Downloaded newer image for "
                                            : "Status: Image is up to date for ") +
                                     internal::FamiliarString(one)));
    }
    return r.id;
  }

  auto tags = repo->Tags();
  if (!tags.ok()) return internal::ManifestError(tags.status(), ref);
  if (tags->empty()) {
    return absl::NotFoundError(
        absl::StrCat("repository ", ref.FamiliarName(), " has no tags to pull"));
  }
  std::string last;
  bool updated = false;
  for (const std::string& tag : *tags) {
    registry::Reference one = ref;
    one.tag = tag;
    ASSIGN_OR_RETURN(PullOneResult r,
                     PullOne(puller, *repo, one, want, platform_given, opts, sink));
    updated = updated || r.updated;
    last = r.id;
  }
  if (sink) {
    sink(internal::Message(
        "", (updated ? "Status: Downloaded newer image for " : "Status: Image is up to date for ") +
                ref.FamiliarName()));
  }
  return last;
}

}  // namespace berth::engine
