#pragma once
// The docker CLI's side of registry credentials and image references:
//   - credentials live in the docker CLI's config file, $DOCKER_CONFIG/config.json or
//     ~/.docker/config.json (the file berth already reads for detachKeys): "auths" maps a
//     server key ("https://index.docker.io/v1/" for Docker Hub, else "host[:port]") to
//     {"auth": base64("user:password")} or {"identitytoken": ...}. Other keys are kept.
//   - X-Registry-Auth: base64url (padded) of the AuthConfig JSON, as the docker CLI sends it.
//   - image references split and checked as the CLI does before it calls the daemon.

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace berth::cli {

// "https://index.docker.io/v1/": Docker Hub's key in config.json.
inline constexpr std::string_view kIndexServer = "https://index.docker.io/v1/";

struct ImageRef {
  std::string domain;  // "docker.io", "localhost:5000"
  std::string path;    // "library/busybox"
  std::string tag;     // "" when none
  std::string digest;  // "" when none
  // reference.FamiliarName: "busybox", "user/x", "localhost:5000/x".
  std::string FamiliarName() const;
  // "docker.io/library/busybox:latest" (Name[:tag][@digest]).
  std::string String() const;
};
// reference.ParseNormalizedNamed's grammar; Docker's messages ("invalid reference format",
// "invalid reference format: repository name must be lowercase").
StatusOr<ImageRef> ParseImageRef(std::string_view s);

// The config.json key of a registry domain.
std::string AuthConfigKey(std::string_view domain);
// registry.ConvertToHostname: "https://host:5000/v1/" -> "host:5000".
std::string ConvertToHostname(std::string_view url);

struct AuthEntry {
  std::string username, password, server_address, identity_token;
};

// The docker CLI's config directory: $DOCKER_CONFIG, else $HOME/.docker.
std::string DockerConfigDir();
// The credentials stored for `key` (also found under a legacy "https://host/v1/"-style key
// whose hostname matches), with server_address set to the key; none: an empty entry.
StatusOr<AuthEntry> LoadAuth(const std::string& config_dir, const std::string& key);
// Stores credentials under `key` (0600, written to a temporary file and renamed).
Status StoreAuth(const std::string& config_dir, const std::string& key, const AuthEntry& auth);
// Removes every key of `keys` present; false when none was.
StatusOr<bool> RemoveAuth(const std::string& config_dir, const std::vector<std::string>& keys);
// The credential helper config.json names for `key` ("credHelpers", else "credsStore"), or "":
// berth does not run helpers, so login refuses to write plain-text credentials beside one.
std::string CredentialHelper(const std::string& config_dir, const std::string& key);
// True when config.json has an entry under `key`.
bool HasAuth(const std::string& config_dir, const std::string& key);

// X-Registry-Auth: base64url of {"username","password","serveraddress","identitytoken"} (the
// empty ones left out, as Go's omitempty).
std::string EncodeRegistryAuth(const AuthEntry& auth);
// The X-Registry-Auth the docker CLI sends for an image reference: the stored credentials of
// its registry, or an empty AuthConfig.
std::string RegistryAuthForImage(const std::string& image);

}  // namespace berth::cli
