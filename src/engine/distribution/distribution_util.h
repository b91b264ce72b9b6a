#pragma once
// What pull, push and inspect share: Docker's names for a reference, Docker's errors for a
// manifest the registry would not give, image configs as a registry serves them, small blobs.

#include <atomic>
#include <string>
#include <vector>

#include "common/status.h"
#include "registry/client/registry.h"
#include "registry/manifest.h"
#include "registry/reference.h"

namespace berth::engine::internal {

// "busybox:latest", "localhost:5000/x@sha256:..." (reference.FamiliarString).
std::string FamiliarString(const registry::Reference& ref);
// "docker.io/library/busybox:latest" (the reference's String() in Go).
std::string FullString(const registry::Reference& ref);
// The tag, or the digest when there is one (what GET /v2/<name>/manifests/<x> names).
std::string TagOrDigest(const registry::Reference& ref);
// "sha256:<hex>" -> the first 12 hex (a layer's id in the progress stream).
std::string ShortDigest(const std::string& digest);

// Docker's words for a manifest GET that failed (moby distribution/errors.go notFoundError):
// Docker Hub answers an unknown or private repository with 401/403, which Docker reports as
// "pull access denied for X, repository does not exist or may require 'docker login': denied:
// requested access to the resource is denied"; elsewhere a 404 is "manifest for X not found:
// manifest unknown: manifest unknown". Both NotFound. Other errors pass through.
Status ManifestError(const Status& st, const registry::Reference& ref);
// ParseManifest's schema 1 refusal with "Suggest the author of <ref> ..." as Docker words it.
Status WithReference(const Status& st, const registry::Reference& ref);

// A blob small enough to hold in memory (an image config), fetched through a temporary file in
// tmp_dir that is unlinked at once and verified against its digest.
StatusOr<std::string> FetchSmallBlob(registry::Repository& repo, const registry::Descriptor& d,
                                     const std::string& tmp_dir, const std::atomic<bool>* cancel);

// An unlinked temporary file in dir holding `data`, positioned at its start.
StatusOr<int> TempFileWith(const std::string& dir, std::string_view data);

}  // namespace berth::engine::internal
