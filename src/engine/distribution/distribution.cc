// Distribution: the constructor and GET /distribution/{name}/json (pull and push live in
// puller.cc and pusher.cc).
#include "engine/distribution/distribution.h"

#include "engine/distribution/distribution_util.h"
#include "sys/fs.h"

namespace berth::engine {

Distribution::Distribution(ImageStore& images, registry::Registries& registries, int max_downloads,
                           int max_uploads, std::string tmp_dir)
    : images_(images),
      registries_(registries),
      max_downloads_(max_downloads),
      max_uploads_(max_uploads),
      tmp_dir_(std::move(tmp_dir)) {}

StatusOr<DistributionInspect> Distribution::Inspect(const registry::Reference& ref,
                                                    const registry::AuthConfig& auth) {
  registry::Reference r = ref;
  if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
  ASSIGN_OR_RETURN(std::unique_ptr<registry::Repository> repo,
                   registries_.Open(r, auth, registry::Access::kPull));
  auto m = repo->GetManifest(internal::TagOrDigest(r));
  if (!m.ok()) return internal::ManifestError(m.status(), r);
  auto parsed = registry::ParseManifest(m->media_type, m->body);
  if (!parsed.ok()) return internal::WithReference(parsed.status(), r);

  DistributionInspect out;
  out.descriptor.media_type =
      parsed->is_index ? parsed->index.media_type : parsed->manifest.media_type;
  out.descriptor.digest = m->digest;
  out.descriptor.size = static_cast<int64_t>(m->body.size());
  if (parsed->is_index) {
    for (const registry::Descriptor& d : parsed->index.manifests) {
      if (d.platform) out.platforms.push_back(*d.platform);
    }
    return out;
  }
  // A single manifest: its platform is the config's.
  RETURN_IF_ERROR(sys::MkdirAll(tmp_dir_, 0700));
  auto config = internal::FetchSmallBlob(*repo, parsed->manifest.config, tmp_dir_, nullptr);
  if (!config.ok()) return Annotate(config.status(), "error pulling image configuration");
  ASSIGN_OR_RETURN(registry::ImageConfigSummary info, registry::ParseImageConfig(*config));
  out.platforms.push_back(info.platform);
  return out;
}

}  // namespace berth::engine
