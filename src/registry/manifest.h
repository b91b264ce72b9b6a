#pragma once
// Registry documents (OCI image spec / Docker image manifest v2 schema 2): image indexes and
// manifest lists, image manifests, descriptors and platforms; parsing what a registry serves and
// rendering what a push sends. Schema 1 manifests are refused with Docker's message.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace berth::registry {

namespace media {
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerForeignLayerGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
// The Accept header of a manifest GET/HEAD: every kind above that Berth reads.
std::string AcceptHeader();
}  // namespace media

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64", "arm64"
  std::string variant;       // "v8", ""
  std::string os_version;
  std::vector<std::string> os_features;
  std::string String() const;  // "linux/arm64/v8", "linux/amd64"
};

// "linux/arm64/v8", "linux/amd64", "arm64" (os defaults to linux); normalised as containerd's
// platforms package does (aarch64 -> arm64, x86_64 -> amd64, arm64 variant v8 dropped).
// Docker's message on a bad one.
StatusOr<Platform> ParsePlatform(std::string_view s);
// The platform this daemon runs: linux/amd64.
Platform HostPlatform();
// Whether an index entry (or an image config's os/architecture/variant) serves `want`.
bool PlatformMatches(const Platform& have, const Platform& want);

struct Descriptor {
  std::string media_type;
  std::string digest;  // "sha256:..."
  int64_t size = 0;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;  // index entries
};

struct ImageManifest {
  int schema_version = 2;
  std::string media_type;  // kDockerManifest or kOciManifest
  Descriptor config;
  std::vector<Descriptor> layers;
};

struct ImageIndex {
  int schema_version = 2;
  std::string media_type;  // kDockerManifestList or kOciIndex
  std::vector<Descriptor> manifests;
};

// What a manifest GET returned, parsed. The media type is the body's own "mediaType" when it has
// one, else the response's Content-Type, else guessed from the shape (OCI allows omitting it).
struct ParsedManifest {
  bool is_index = false;
  ImageIndex index;        // when is_index
  ImageManifest manifest;  // otherwise
};
StatusOr<ParsedManifest> ParseManifest(std::string_view content_type, std::string_view body);

// The index entry for `want`; Docker's "no matching manifest for linux/arm64 in the manifest
// list entries" (NotFound) when there is none.
StatusOr<Descriptor> SelectPlatform(const ImageIndex& index, const Platform& want);

// What a pull reads of an image config (the blob a manifest's config descriptor names): its
// platform (os, architecture, variant, os.version, os.features) and rootfs.diff_ids. A config
// without a usable rootfs is Docker's "invalid rootfs in image configuration".
struct ImageConfigSummary {
  Platform platform;
  std::vector<std::string> diff_ids;
};
StatusOr<ImageConfigSummary> ParseImageConfig(std::string_view config);

// Bytes of a manifest for a push: Docker schema 2 (the media type of `m`), fields in the order
// Docker writes them, no insignificant whitespace differences between runs (its digest is the
// sha256 of exactly these bytes).
std::string RenderManifest(const ImageManifest& m);
// Bytes of an image index (for tests that build multi-platform images, and `push` of one).
std::string RenderIndex(const ImageIndex& idx);

}  // namespace berth::registry
