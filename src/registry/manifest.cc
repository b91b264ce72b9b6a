// Placeholder until the manifest codec lands (issue 9): every call is Unimplemented.
#include "registry/manifest.h"

namespace berth::registry {

std::string media::AcceptHeader() { return ""; }
std::string Platform::String() const { return os + "/" + architecture; }
StatusOr<Platform> ParsePlatform(std::string_view) {
  return absl::UnimplementedError("platforms are not parsed yet");
}
Platform HostPlatform() { return Platform{"linux", "amd64", "", "", {}}; }
bool PlatformMatches(const Platform&, const Platform&) { return false; }
StatusOr<ParsedManifest> ParseManifest(std::string_view, std::string_view) {
  return absl::UnimplementedError("manifests are not parsed yet");
}
StatusOr<Descriptor> SelectPlatform(const ImageIndex&, const Platform&) {
  return absl::UnimplementedError("manifests are not parsed yet");
}
std::string RenderManifest(const ImageManifest&) { return ""; }
std::string RenderIndex(const ImageIndex&) { return ""; }

}  // namespace berth::registry
