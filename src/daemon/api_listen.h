#pragma once
// How the API listens on tcp:// hosts: dockerd's TLS settings, and Docker 27's rule against
// serving the API in plain text on the network.
//
// The API is root on the host. A tcp:// host on a non-loopback address is refused unless
// clients must show a certificate (--tlsverify) or the operator said explicitly that they need
// not (--tls=false, or --tlsverify=false with --tls); with that explicit opt-out, and on
// loopback, berthd starts but warns. unix sockets are never TLS and are unaffected.

#include <chrono>
#include <memory>
#include <string>

#include "api/transport/tls.h"
#include "common/status.h"
#include "daemon/daemon.h"

namespace berth::daemon {

// Validates the TLS settings against the hosts (warning or refusing as above) and loads the
// server's TLS context; null when TLS is off.
StatusOr<std::shared_ptr<const transport::TlsContext>> ApiTls(const Config& cfg);

// The certificate paths dockerd defaults to: ca.pem, cert.pem, key.pem in $DOCKER_CERT_PATH,
// else ~/.docker.
std::string DefaultCertPath(const std::string& file);

// Whether the host of a tcp:// address is loopback (127.0.0.0/8, ::1, localhost, or empty,
// which berthd binds as 127.0.0.1).
bool IsLoopbackHost(const std::string& tcp_addr);

// A duration flag: Go's syntax ("30s", "500ms", "2m") or a number of seconds.
StatusOr<std::chrono::milliseconds> ParseDurationFlag(const std::string& flag,
                                                      const std::string& value);

}  // namespace berth::daemon
