// Registries: from a reference's domain to endpoints (Docker Hub's registry-1.docker.io and its
// mirrors, any other host:port), whether an endpoint is insecure, and the TLS context for a host
// from the system CAs and Docker's certs.d layout.
#include <arpa/inet.h>
#include <dirent.h>
#include <netdb.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "registry/client/auth.h"
#include "api/transport/http_client.h"
#include "registry/client/registry.h"
#include "registry/client/repository.h"

namespace berth::registry {
namespace {

constexpr std::string_view kHubRegistryHost = "registry-1.docker.io";

bool IsHub(std::string_view domain) {
  return domain == kDefaultDomain || domain == "index.docker.io" || domain == kHubRegistryHost;
}

// "127.0.0.1:5000" -> host "127.0.0.1", port 5000; "[::1]:5000" -> "::1"; "example.com" -> port 0.
Status SplitDomain(std::string_view domain, std::string* host, int* port) {
  auto u = http::ParseUrl("https://" + std::string(domain) + "/");
  if (!u.ok())
    return absl::InvalidArgumentError(absl::StrCat("invalid registry \"", Av(domain), "\""));
  *host = u->host;
  bool explicit_port = domain.size() > 0 && domain.back() != ']' &&
                       domain.rfind(':') != std::string_view::npos &&
                       (domain.front() != '[' || domain.rfind(']') < domain.rfind(':'));
  *port = explicit_port ? u->port : 0;
  return absl::OkStatus();
}

bool ParseIp(const std::string& s, int* family, unsigned char out[16]) {
  if (::inet_pton(AF_INET, s.c_str(), out) == 1) {
    *family = AF_INET;
    return true;
  }
  if (::inet_pton(AF_INET6, s.c_str(), out) == 1) {
    *family = AF_INET6;
    return true;
  }
  return false;
}

bool InCidr(int family, const unsigned char ip[16], std::string_view cidr) {
  size_t slash = cidr.find('/');
  if (slash == std::string_view::npos) return false;
  unsigned char net[16] = {};
  int nf = 0;
  if (!ParseIp(std::string(cidr.substr(0, slash)), &nf, net) || nf != family) return false;
  int bits = std::atoi(std::string(cidr.substr(slash + 1)).c_str());
  int len = family == AF_INET ? 4 : 16;
  if (bits < 0 || bits > len * 8) return false;
  for (int i = 0; i < len && bits > 0; ++i, bits -= 8) {
    unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((ip[i] & mask) != (net[i] & mask)) return false;
  }
  return true;
}

bool IsLoopback(int family, const unsigned char ip[16]) {
  if (family == AF_INET) return ip[0] == 127;
  static const unsigned char kOne[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(ip, kOne, 16) == 0;
}

// Docker's isSecureIndex: an insecure-registries entry names the registry (host or host:port),
// or a CIDR (or loopback) holds one of its addresses (a name is resolved, as Docker does).
bool IsInsecure(const RegistryOptions& opts, const std::string& host,
                const std::string& authority) {
  for (const auto& entry : opts.insecure_registries) {
    std::string e = entry;
    for (std::string_view scheme : {"http://", "https://"})
      if (e.starts_with(scheme)) e = e.substr(scheme.size());
    while (!e.empty() && e.back() == '/') e.pop_back();
    if (e == authority || e == host) return true;
  }
  std::vector<std::pair<int, std::array<unsigned char, 16>>> addrs;
  std::array<unsigned char, 16> ip{};
  int family = 0;
  if (ParseIp(host, &family, ip.data())) {
    addrs.emplace_back(family, ip);
  } else if (host == "localhost") {
    return true;
  } else {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) == 0) {
      for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        std::array<unsigned char, 16> a{};
        if (ai->ai_family == AF_INET)
          std::memcpy(a.data(), &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, 4);
        else if (ai->ai_family == AF_INET6)
          std::memcpy(a.data(), &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, 16);
        else
          continue;
        addrs.emplace_back(ai->ai_family, a);
      }
      ::freeaddrinfo(res);
    }
  }
  for (const auto& [f, a] : addrs) {
    if (IsLoopback(f, a.data())) return true;
    for (const auto& entry : opts.insecure_registries)
      if (InCidr(f, a.data(), entry)) return true;
  }
  return false;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// The TLS context for a registry origin: certificate checks off for an insecure one (Docker
// reads no certs.d then); otherwise the system CAs plus certs.d/<host[:port]>/*.crt, and the
// client certificate *.cert with its *.key.
StatusOr<http::HostTls> TlsForUrl(const RegistryOptions& opts, const http::Url& url) {
  http::HostTls out;
  transport::TlsConfig cfg;
  out.verify = !IsInsecure(opts, url.host, url.Authority());
  cfg.verify_peer = out.verify;
  if (out.verify) {
    if (opts.system_ca_file.empty())
      cfg.system_cas = true;
    else
      cfg.ca_file = opts.system_ca_file;
    std::vector<std::string> names = {url.Authority()};
    if (url.HostPort() != url.Authority()) names.push_back(url.HostPort());
    for (const auto& base : opts.certs_dirs) {
      for (const std::string& name : names) {
        std::string dir = base + "/" + name;
        for (const auto& f : ListDir(dir)) {
          std::string path = dir + "/" + f;
          if (f.ends_with(".crt")) {
            cfg.extra_ca_files.push_back(path);
          } else if (f.ends_with(".cert")) {
            std::string key = path.substr(0, path.size() - 5) + ".key";
            if (!Exists(key))
              return absl::InvalidArgumentError(
                  absl::StrCat("missing key ", key, " for client certificate ", path,
                               ". CA certificates must use the extension .crt"));
            if (cfg.cert_file.empty()) {
              cfg.cert_file = path;
              cfg.key_file = key;
            }
          } else if (f.ends_with(".key")) {
            std::string cert = path.substr(0, path.size() - 4) + ".cert";
            if (!Exists(cert))
              return absl::InvalidArgumentError(
                  absl::StrCat("missing client certificate ", cert, " for key ", path));
          }
        }
      }
    }
  }
  ASSIGN_OR_RETURN(out.context,
                   transport::TlsContext::Create(transport::TlsContext::Role::kClient, cfg));
  return out;
}

// TLS contexts by origin for one Repository's connections: built once (the CA files are read
// then), not per connection. Built outside the lock; a race builds one twice and keeps one.
http::TlsFor CachedTlsFor(const RegistryOptions& opts) {
  struct Cache {
    absl::Mutex mu;
    std::map<std::string, http::HostTls> by_origin ABSL_GUARDED_BY(mu);
  };
  auto cache = std::make_shared<Cache>();
  return [opts, cache](const http::Url& url) -> StatusOr<http::HostTls> {
    {
      absl::MutexLock lock(&cache->mu);
      auto it = cache->by_origin.find(url.Origin());
      if (it != cache->by_origin.end()) return it->second;
    }
    ASSIGN_OR_RETURN(http::HostTls tls, TlsForUrl(opts, url));
    absl::MutexLock lock(&cache->mu);
    cache->by_origin.emplace(url.Origin(), tls);
    return tls;
  };
}

http::HttpOptions HttpOptionsOf(const RegistryOptions& opts) {
  http::HttpOptions h;
  h.user_agent = opts.user_agent;
  h.connect_timeout_ms = opts.connect_timeout_ms;
  h.idle_timeout_ms = opts.idle_timeout_ms;
  return h;
}

// An endpoint for a registry domain as written in a reference ("localhost:5000", "docker.io").
StatusOr<Endpoint> EndpointFor(const RegistryOptions& opts, std::string_view domain) {
  Endpoint ep;
  std::string d = IsHub(domain) ? std::string(kHubRegistryHost) : std::string(domain);
  RETURN_IF_ERROR(SplitDomain(d, &ep.host, &ep.port));
  std::string host = ep.host;
  std::string authority = d;
  ep.insecure = [opts, host, authority] { return IsInsecure(opts, host, authority); };
  return ep;
}

StatusOr<Endpoint> MirrorEndpoint(const RegistryOptions& opts, const std::string& mirror) {
  ASSIGN_OR_RETURN(http::Url u, http::ParseUrl(mirror));
  Endpoint ep;
  ep.host = u.host;
  ep.port = u.port;
  std::string path = u.target;
  while (!path.empty() && path.back() == '/') path.pop_back();
  ep.mirror_path = path;
  bool plain = u.scheme == "http";
  std::string host = u.host, authority = u.Authority();
  ep.insecure = [opts, host, authority, plain] {
    return plain || IsInsecure(opts, host, authority);
  };
  return ep;
}

}  // namespace

Registries::Registries(RegistryOptions opts) : opts_(std::move(opts)) {}

StatusOr<std::unique_ptr<Repository>> Registries::Open(const Reference& ref, const AuthConfig& auth,
                                                       Access access,
                                                       const std::vector<std::string>& mount_from) {
  if (ref.path.empty())
    return absl::InvalidArgumentError("repository name must have at least one component");
  std::vector<std::string> scopes = {RepositoryScope(ref.path, access == Access::kPush)};
  for (const auto& other : mount_from)
    if (other != ref.path) scopes.push_back(RepositoryScope(other, false));
  http::TlsFor tls_for = CachedTlsFor(opts_);

  std::vector<std::unique_ptr<Repository>> repos;
  if (IsHub(ref.domain) && access == Access::kPull) {
    for (const auto& mirror : opts_.mirrors) {
      ASSIGN_OR_RETURN(Endpoint ep, MirrorEndpoint(opts_, mirror));
      repos.push_back(
          NewEndpointRepository(std::move(ep), ref, auth, scopes, HttpOptionsOf(opts_), tls_for));
    }
  }
  ASSIGN_OR_RETURN(Endpoint ep, EndpointFor(opts_, ref.domain));
  repos.push_back(
      NewEndpointRepository(std::move(ep), ref, auth, scopes, HttpOptionsOf(opts_), tls_for));
  return NewFallbackRepository(std::move(repos));
}

StatusOr<std::string> Registries::Login(const AuthConfig& auth) {
  // The server address as docker login sends it: "", "https://index.docker.io/v1/",
  // "localhost:5000", "https://registry.example.com".
  std::string server = auth.server_address;
  for (std::string_view scheme : {"https://", "http://"})
    if (server.starts_with(scheme)) server = server.substr(scheme.size());
  if (size_t slash = server.find('/'); slash != std::string::npos) server.resize(slash);
  if (server.empty()) server = std::string(kDefaultDomain);
  ASSIGN_OR_RETURN(Endpoint ep, EndpointFor(opts_, server));
  return LoginEndpoint(std::move(ep), auth, HttpOptionsOf(opts_), CachedTlsFor(opts_));
}

}  // namespace berth::registry
