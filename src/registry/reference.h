#pragma once
// Image references as Docker reads them (github.com/distribution/reference): an optional
// registry domain, a repository path, a tag and/or a digest.
//
//   busybox                      -> docker.io / library/busybox, no tag (callers default "latest")
//   localhost:5000/a/b:v1        -> localhost:5000 / a/b, tag v1
//   busybox@sha256:<64 hex>      -> digest only
//
// The first component is a domain when it has a '.' or a ':' or is "localhost" (and is not
// uppercase); "index.docker.io" is "docker.io"; a one-component Docker Hub path gets "library/".
// Errors carry Docker's texts: "invalid reference format", "invalid reference format: repository
// name (library/Busybox) must be lowercase".

#include <string>
#include <string_view>

#include "common/status.h"

namespace berth::registry {

inline constexpr std::string_view kDefaultDomain = "docker.io";

struct Reference {
  std::string domain;  // "docker.io", "localhost:5000", "registry.example.com"
  std::string path;    // "library/busybox"
  std::string tag;     // "" when none
  std::string digest;  // "sha256:<64 hex>" or ""

  std::string Name() const;          // "docker.io/library/busybox"
  std::string FamiliarName() const;  // "busybox", "localhost:5000/a/b" (Docker's short form)
  // Name[:tag][@digest] and its familiar form ("busybox:latest", "busybox@sha256:...").
  std::string String() const;
  std::string FamiliarString() const;
};

// Parses and normalises; no default tag is added.
StatusOr<Reference> ParseNormalized(std::string_view s);
// The reference with tag "latest" when it has neither a tag nor a digest.
Reference WithDefaultTag(Reference r);
// "sha256:<64 lowercase hex>" (other algorithms are refused as Docker's "unsupported digest
// algorithm").
bool ValidDigest(std::string_view d);

}  // namespace berth::registry
