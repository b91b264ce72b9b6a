#pragma once
// The docker CLI's TLS settings (cli/flags/options.go), resolved the way docker resolves them:
//   --tls               use TLS, without checking the daemon's certificate ($DOCKER_TLS);
//   --tlsverify         use TLS and verify the daemon against --tlscacert, by the host name
//                       dialled; any --tlsverify, even =false, turns TLS on ($DOCKER_TLS_VERIFY);
//   --tlscacert/--tlscert/--tlskey default to ca.pem, cert.pem, key.pem in $DOCKER_CERT_PATH,
//                       else in the config directory ($DOCKER_CONFIG or ~/.docker); a default
//                       client certificate or key that does not exist is simply not sent.

#include <memory>
#include <optional>
#include <string>

#include "api/transport/tls.h"
#include "common/status.h"

namespace berth::client {

struct TlsFlags {
  std::optional<bool> tls;        // --tls[=BOOL]; unset: not on the command line
  std::optional<bool> tlsverify;  // --tlsverify[=BOOL]
  std::string ca_file;            // --tlscacert; empty: the default
  std::string cert_file;          // --tlscert
  std::string key_file;           // --tlskey
};

// The client's TLS configuration from flags and the environment; nullopt when TLS is off.
std::optional<transport::TlsConfig> ResolveTls(const TlsFlags& flags);

// ResolveTls, then the context (its files read now); null when TLS is off.
StatusOr<std::shared_ptr<const transport::TlsContext>> ClientTlsContext(const TlsFlags& flags);

}  // namespace berth::client
