// Placeholder until pull and push land (issue 9).
#include "engine/distribution/distribution.h"

namespace berth::engine {

Distribution::Distribution(ImageStore& images, registry::Registries& registries, int max_downloads,
                           int max_uploads, std::string tmp_dir)
    : images_(images),
      registries_(registries),
      max_downloads_(max_downloads),
      max_uploads_(max_uploads),
      tmp_dir_(std::move(tmp_dir)) {}
StatusOr<std::string> Distribution::Pull(const registry::Reference&, const PullOptions&,
                                         const ProgressSink&) {
  (void)images_, (void)registries_, (void)max_downloads_, (void)max_uploads_;
  return absl::UnimplementedError("pull is not implemented yet");
}
Status Distribution::Push(const registry::Reference&, const registry::AuthConfig&,
                          const ProgressSink&) {
  return absl::UnimplementedError("push is not implemented yet");
}
StatusOr<DistributionInspect> Distribution::Inspect(const registry::Reference&,
                                                    const registry::AuthConfig&) {
  return absl::UnimplementedError("distribution inspect is not implemented yet");
}

}  // namespace berth::engine
