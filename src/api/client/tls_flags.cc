#include "api/client/tls_flags.h"

#include <unistd.h>

#include <cstdlib>

namespace berth::client {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// $DOCKER_CERT_PATH, else docker's config directory.
std::string CertDir() {
  std::string dir = Env("DOCKER_CERT_PATH");
  if (!dir.empty()) return dir;
  dir = Env("DOCKER_CONFIG");
  if (!dir.empty()) return dir;
  return Env("HOME") + "/.docker";
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

std::optional<transport::TlsConfig> ResolveTls(const TlsFlags& f) {
  bool verify = f.tlsverify.value_or(!Env("DOCKER_TLS_VERIFY").empty());
  bool tls = f.tls.value_or(!Env("DOCKER_TLS").empty());
  // docker: "if they specify --tlsverify at all then we need to turn on TLS".
  if (f.tlsverify.has_value() || verify) tls = true;
  if (!tls) return std::nullopt;
  std::string dir = CertDir();
  transport::TlsConfig cfg;
  cfg.verify_peer = verify;
  cfg.ca_file = f.ca_file.empty() ? dir + "/ca.pem" : f.ca_file;
  cfg.cert_file = f.cert_file.empty() ? dir + "/cert.pem" : f.cert_file;
  cfg.key_file = f.key_file.empty() ? dir + "/key.pem" : f.key_file;
  if (f.cert_file.empty() && !Exists(cfg.cert_file)) cfg.cert_file.clear();
  if (f.key_file.empty() && !Exists(cfg.key_file)) cfg.key_file.clear();
  if (!verify) cfg.ca_file.clear();  // the daemon's certificate is not checked
  return cfg;
}

StatusOr<std::shared_ptr<const transport::TlsContext>> ClientTlsContext(const TlsFlags& flags) {
  auto cfg = ResolveTls(flags);
  if (!cfg) return std::shared_ptr<const transport::TlsContext>();
  return transport::TlsContext::Create(transport::TlsContext::Role::kClient, *cfg);
}

}  // namespace berth::client
