#pragma once
// A client of the Registry HTTP API v2 (the OCI distribution spec): the seam through which
// berthd pulls and pushes. Registries holds the daemon's registry settings and opens a
// Repository per (registry, repository path, credentials); a Repository does the blob and
// manifest requests with authentication (basic, or bearer tokens from the WWW-Authenticate
// challenge, anonymous when no credentials are given) and transport (HTTPS with the system CAs
// plus certs.d; plain HTTP only for loopback and insecure-registries) handled inside.
//
// Threading: Registries is immutable after construction and shared by every pull and push. A
// Repository is used by one pull or push at a time but its blob calls may run on several
// threads at once (up to max-concurrent-downloads/uploads layers): it serialises its own token
// cache and opens one connection per concurrent call. Every call blocks its calling thread;
// none holds a lock while it waits on the network.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "registry/manifest.h"
#include "registry/reference.h"

namespace berth::registry {

// Docker's AuthConfig (the X-Registry-Auth header, base64url JSON; the POST /auth body).
struct AuthConfig {
  std::string username;
  std::string password;
  std::string auth;            // base64("user:password"), used when username is empty
  std::string server_address;  // for /auth: "https://index.docker.io/v1/", "localhost:5000"
  std::string identity_token;  // an OAuth refresh token a registry gave at login
  std::string registry_token;  // a bearer token to send as is
  bool empty() const;
};
// Decodes X-Registry-Auth (base64url or standard base64, padded or not, of a JSON AuthConfig).
// An empty header is an empty AuthConfig; a bad one is InvalidArgument as dockerd's.
StatusOr<AuthConfig> DecodeRegistryAuth(std::string_view header);

struct RegistryOptions {
  // daemon.json "insecure-registries": "host:port" or CIDRs; plain HTTP allowed to them (HTTPS
  // is still tried first, as Docker). Loopback (localhost, 127.0.0.0/8, ::1) is always insecure.
  std::vector<std::string> insecure_registries;
  // daemon.json "registry-mirrors": base URLs tried before Docker Hub, for docker.io only.
  std::vector<std::string> mirrors;
  // Directories of <host:port>/{ca.crt,*.cert,*.key} (Docker's certs.d layout), in order:
  // /etc/docker/certs.d and Berth's own /etc/berth/certs.d by default (berthd
  // --registry-certs-dir replaces the list; tests point it at a directory they make).
  std::vector<std::string> certs_dirs;
  // System trust anchors (OpenSSL's default paths when empty).
  std::string system_ca_file;
  std::string user_agent = "berth/0.1.0";
  // Per-request timeouts: connecting and the wait for any byte while receiving.
  int connect_timeout_ms = 15000;
  int idle_timeout_ms = 60000;
};

// Called as a blob's bytes move: bytes done so far and the total (-1 when unknown).
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

class Repository {
 public:
  virtual ~Repository() = default;

  struct Manifest {
    std::string media_type;  // the response's Content-Type (or the body's mediaType)
    std::string digest;      // sha256 of body (Docker-Content-Digest checked against it)
    std::string body;
  };
  // GET /v2/<path>/manifests/<tag or digest>. A digest reference is verified against the body.
  // Unknown repository or tag: NotFound with Docker's "manifest unknown"-style message
  // ("manifest for localhost:5000/x:nope not found: manifest unknown: manifest unknown").
  virtual StatusOr<Manifest> GetManifest(std::string_view tag_or_digest) = 0;
  // HEAD of the same: media type, digest and size without the body (the size is the body's).
  virtual StatusOr<Descriptor> HeadManifest(std::string_view tag_or_digest) = 0;

  // GET /v2/<path>/blobs/<digest> into out_fd (following redirects), checking the size and the
  // sha256 as the bytes arrive; a mismatch is DataLoss "filesystem layer verification failed
  // for digest sha256:..." and the caller discards what was written. `cancel` (when given) is
  // polled between reads: set, the call ends with Cancelled within one read.
  virtual Status FetchBlob(const Descriptor& blob, int out_fd, const ProgressFn& progress,
                           const std::atomic<bool>* cancel = nullptr) = 0;

  // GET /v2/<path>/tags/list (following Link pagination): every tag, as the registry lists them.
  virtual StatusOr<std::vector<std::string>> Tags() = 0;

  // HEAD /v2/<path>/blobs/<digest>.
  virtual StatusOr<bool> BlobExists(std::string_view digest) = 0;
  // POST /v2/<path>/blobs/uploads/?mount=<digest>&from=<repo path>: true when the registry
  // mounted it (201), false when it opened an upload instead (202; that upload is cancelled).
  virtual StatusOr<bool> MountBlob(std::string_view digest, std::string_view from_path) = 0;
  // Uploads `size` bytes read from in_fd (from its current offset) as blob `digest`: POST, then
  // PATCH chunks and the closing PUT ?digest= (or one monolithic PUT); progress as it goes.
  virtual Status PushBlob(std::string_view digest, int in_fd, int64_t size,
                          const ProgressFn& progress) = 0;
  // PUT /v2/<path>/manifests/<tag or digest>; returns the digest the registry reports.
  virtual StatusOr<std::string> PutManifest(std::string_view tag_or_digest,
                                            std::string_view media_type,
                                            std::string_view body) = 0;
};

enum class Access { kPull, kPush };  // push implies pull (scope "pull,push")

class Registries {
 public:
  explicit Registries(RegistryOptions opts);
  virtual ~Registries() = default;

  // A repository of `ref`'s registry (mirrors first for docker.io pulls). Nothing is sent
  // until the first call. `mount_from` names other repository paths of the same registry
  // whose pull scope the token should also carry (cross-repository mounts).
  virtual StatusOr<std::unique_ptr<Repository>> Open(const Reference& ref, const AuthConfig& auth,
                                                      Access access,
                                                      const std::vector<std::string>& mount_from = {});

  // docker login: checks the credentials against <server>/v2/ (the token endpoint when it
  // challenges for a bearer token). Returns the identity token the registry issued, if any.
  // Wrong credentials: Unauthenticated with Docker's message.
  virtual StatusOr<std::string> Login(const AuthConfig& auth);

  const RegistryOptions& options() const { return opts_; }

 protected:
  RegistryOptions opts_;
};

}  // namespace berth::registry
