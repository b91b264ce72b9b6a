#pragma once
// Distribution: docker pull and push, between an ImageStore and registries.
//
// A pull resolves the reference to a manifest (choosing the platform's entry of an index),
// fetches the config, then the layers the store lacks, up to max_downloads at once, each into a
// temporary file verified against its digest before the store unpacks it; the image is committed
// (config, tag, repo digest) only when every layer is stored, so an interrupted pull leaves no
// image, and a retry fetches only the layers that did not complete. A push sends each layer's
// compressed blob unless the registry has it (HEAD) or can mount it from another repository,
// then the config and the manifest.
//
// Progress is typed (the API renders it as Docker's JSON message stream). The sink is called
// only on the thread that called Pull/Push, never with a lock held, so it may block on the
// client's connection; layer workers hand their events to that thread.

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/images.h"
#include "registry/client/registry.h"
#include "registry/manifest.h"
#include "registry/reference.h"

namespace berth::engine {

// One message of Docker's progress stream (jsonmessage.JSONMessage).
struct PullProgress {
  std::string id;      // a layer's short id (12 hex), a tag ("latest"), or "" for a plain line
  std::string status;  // "Pulling fs layer", "Downloading", "Pull complete", "Digest: sha256:..."
  bool has_detail = false;  // progressDetail present (as {} when current/total are unset)
  int64_t current = -1, total = -1;
  // The final error of a stream (errorDetail.message); status is empty then.
  std::string error;
  // Push's "aux" record ({"Tag","Digest","Size"}), set on the last message of a push.
  bool has_aux = false;
  std::string aux_tag, aux_digest;
  int64_t aux_size = 0;
};
using ProgressSink = std::function<void(const PullProgress&)>;

struct PullOptions {
  registry::AuthConfig auth;
  std::string platform;  // "" = the host's (linux/amd64)
  bool all_tags = false;
  const std::atomic<bool>* cancel = nullptr;  // the client went away
};

struct DistributionInspect {
  registry::Descriptor descriptor;  // media type, digest and size of what the reference names
  std::vector<registry::Platform> platforms;
};

class Distribution {
 public:
  Distribution(ImageStore& images, registry::Registries& registries, int max_downloads,
               int max_uploads, std::string tmp_dir);

  // docker pull (and run/create's implicit pull). Returns the image id (for all_tags, of the
  // last tag). The Docker-shaped errors: "manifest for X not found: manifest unknown: ...",
  // "pull access denied for X, repository does not exist or may require 'docker login'",
  // "no matching manifest for linux/arm64 in the manifest list entries", digest mismatches.
  StatusOr<std::string> Pull(const registry::Reference& ref, const PullOptions& opts,
                             const ProgressSink& sink);
  // docker push of a local image by reference (every tag of the repository when ref has none).
  Status Push(const registry::Reference& ref, const registry::AuthConfig& auth,
              const ProgressSink& sink);
  // GET /distribution/{name}/json.
  StatusOr<DistributionInspect> Inspect(const registry::Reference& ref,
                                        const registry::AuthConfig& auth);

 private:
  ImageStore& images_;
  registry::Registries& registries_;
  const int max_downloads_, max_uploads_;
  const std::string tmp_dir_;
};

}  // namespace berth::engine
