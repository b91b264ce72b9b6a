// Placeholder until the image store's registry side lands (issue 9): every call is
// Unimplemented.
#include "engine/images.h"

namespace berth::engine {

bool ImageStore::HasLayer(const std::string&) const { return false; }
std::optional<std::string> ImageStore::DiffIdForBlob(const std::string&) const {
  return std::nullopt;
}
StatusOr<std::string> ImageStore::AddLayerBlob(const std::string&, const LayerBlob&,
                                               const std::string&) {
  return absl::UnimplementedError("layers from registries are not stored yet");
}
Status ImageStore::RecordBlob(const std::string&, const LayerBlob&) {
  return absl::UnimplementedError("layers from registries are not stored yet");
}
std::vector<LayerBlob> ImageStore::BlobsFor(const std::string&) const { return {}; }
StatusOr<ImageStore::PushBlob> ImageStore::BlobForPush(const std::string&) {
  return absl::UnimplementedError("layers from registries are not stored yet");
}
StatusOr<std::string> ImageStore::CommitPulled(const std::string&, const std::vector<std::string>&,
                                               const std::string&, const std::string&) {
  return absl::UnimplementedError("layers from registries are not stored yet");
}
Status ImageStore::AddRepoDigest(const std::string&, const std::string&) {
  return absl::UnimplementedError("layers from registries are not stored yet");
}

}  // namespace berth::engine
