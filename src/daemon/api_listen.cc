#include "daemon/api_listen.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"

namespace berth::daemon {

std::string DefaultCertPath(const std::string& file) {
  const char* dir = std::getenv("DOCKER_CERT_PATH");
  if (dir != nullptr && *dir != '\0') return std::string(dir) + "/" + file;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "/root") + "/.docker/" + file;
}

bool IsLoopbackHost(const std::string& addr) {
  std::string hp = absl::StartsWith(addr, "tcp://") ? addr.substr(6) : addr;
  auto colon = hp.find_last_of(':');
  std::string host = colon == std::string::npos ? hp : hp.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "localhost") return true;
  in_addr v4;
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;  // a name other than localhost: not known to be loopback
}

StatusOr<std::chrono::milliseconds> ParseDurationFlag(const std::string& flag,
                                                      const std::string& value) {
  int64_t secs = 0;
  absl::Duration d;
  if (absl::SimpleAtoi(value, &secs)) {
    d = absl::Seconds(secs);
  } else if (!absl::ParseDuration(value, &d)) {
    return absl::InvalidArgumentError("invalid value \"" + value + "\" for " + flag +
                                      ": want a duration such as 30s, 500ms or 2m");
  }
  if (d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("invalid value \"" + value + "\" for " + flag +
                                      ": must be positive");
  }
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

StatusOr<std::shared_ptr<const transport::TlsContext>> ApiTls(const Config& cfg) {
  bool tls_off = cfg.tls.has_value() && !*cfg.tls;
  bool verify = cfg.tls_verify.value_or(false);
  if (tls_off && verify) {
    return absl::InvalidArgumentError(
        "--tls=false conflicts with --tlsverify: verifying clients needs TLS");
  }
  // As dockerd: giving --tlsverify at all turns TLS on; --tlsverify=false means TLS without
  // client certificates.
  bool tls_on = cfg.tls.value_or(false) || (cfg.tls_verify.has_value() && !tls_off);
  bool opted_out = tls_off || (cfg.tls_verify.has_value() && !*cfg.tls_verify);
  std::vector<std::string> tcp;
  for (const auto& h : cfg.hosts)
    if (absl::StartsWith(h, "tcp://")) tcp.push_back(h);
  for (const auto& h : tcp) {
    if (tls_on && verify) continue;
    bool loopback = IsLoopbackHost(h);
    if (!loopback && !opted_out) {
      return absl::FailedPreconditionError(
          "refusing to listen on " + h +
          (tls_on ? " with TLS but without client verification" : " without TLS") +
          ": binding to an IP address without --tlsverify is insecure and gives root access on "
          "this machine to everyone who has access to your network. Use --tlsverify with "
          "--tlscacert, --tlscert and --tlskey, or give " +
          (tls_on ? "--tlsverify=false" : "--tls=false") + " explicitly to accept the risk");
    }
    spdlog::warn(
        "Binding to IP address without --tlsverify is insecure and gives root access on this "
        "machine to everyone who has access to your network. host={}",
        h);
    if (!loopback) {
      spdlog::warn(
          "!!! {} serves the Engine API {} to anyone who can reach it: that is root on "
          "this host, granted because {} was given explicitly !!!",
          h, tls_on ? "over TLS without client certificates" : "in plain text",
          tls_off ? "--tls=false" : "--tlsverify=false");
    }
  }
  if (!tls_on) return std::shared_ptr<const transport::TlsContext>();
  if (tcp.empty()) {
    spdlog::warn(
        "--tls/--tlsverify apply to tcp:// hosts, and there is none: the unix sockets "
        "are served without TLS, as dockerd does");
  }
  transport::TlsConfig t;
  t.ca_file = cfg.tls_ca.empty() ? DefaultCertPath("ca.pem") : cfg.tls_ca;
  t.cert_file = cfg.tls_cert.empty() ? DefaultCertPath("cert.pem") : cfg.tls_cert;
  t.key_file = cfg.tls_key.empty() ? DefaultCertPath("key.pem") : cfg.tls_key;
  t.verify_peer = verify;
  auto ctx = transport::TlsContext::Create(transport::TlsContext::Role::kServer, t);
  if (!ctx.ok()) return Annotate(ctx.status(), "TLS for the API");
  return ctx;
}

}  // namespace berth::daemon
