#pragma once
// Daemon: the object graph of berthd, wired in one place (STYLE.md habit 1). Construction
// order is dependency order; Run() recovers every subsystem from the store and the kernel, then
// serves the API until Stop().

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace berth::daemon {

struct Config {
  std::vector<std::string> hosts;  // -H
  std::string data_root = "/var/lib/berth";
  std::string exec_root = "/run/berth";
  std::string pidfile;  // default <exec-root>/berthd.pid... dockerd uses /var/run/docker.pid
  std::string log_level = "info";
  // Containers' default log driver and its options (--log-driver, --log-opt; daemon.json
  // "log-driver", "log-opts"), dockerd's json-file when unset.
  std::string log_driver = "json-file";
  std::map<std::string, std::string> log_opts;
  bool debug = false;
  std::string runc = "runc";
  std::string shim;  // default: berth-shim beside the berthd binary
  std::string nft_helper;  // default: berth-nft beside the berthd binary (the firewall's helper)
  std::string init_path;   // --init-path: the static init for --init (default: Debian's tini-static)
  int64_t max_upload = int64_t{16} << 30;
  bool iptables = true;  // --iptables=false: leave the firewall alone
  std::string bridge_ip = "172.17.0.1/16";  // --bip
  // --ipv6 and --fixed-cidr-v6 (daemon.json "ipv6", "fixed-cidr-v6"): IPv6 on the default bridge,
  // from that subnet. Docker 20.10's rules: --ipv6 needs the subnet; the subnet alone is refused.
  bool ipv6 = false;
  std::string fixed_cidr_v6;
  // TLS for tcp:// hosts, dockerd's --tls, --tlsverify, --tlscacert, --tlscert, --tlskey (and
  // daemon.json keys). Unset differs from false: --tls=false is the explicit opt-out that
  // lets a non-loopback tcp:// host serve plain text (daemon/api_listen.h).
  std::optional<bool> tls;
  std::optional<bool> tls_verify;
  std::string tls_ca, tls_cert, tls_key;  // empty: ca.pem, cert.pem, key.pem in ~/.docker
  // Registries (dockerd's --insecure-registry, --registry-mirror, --max-concurrent-downloads,
  // --max-concurrent-uploads and their daemon.json keys "insecure-registries",
  // "registry-mirrors", "max-concurrent-downloads", "max-concurrent-uploads"), and Berth's
  // --registry-certs-dir: where <host:port>/ca.crt and client certificates are looked up, in
  // order (default /etc/docker/certs.d then /etc/berth/certs.d).
  std::vector<std::string> insecure_registries;
  std::vector<std::string> registry_mirrors;
  int max_concurrent_downloads = 3;
  int max_concurrent_uploads = 5;
  std::vector<std::string> registry_certs_dirs;
  // Swarm mode: the etcd binary a manager runs, and its client port (on 127.0.0.1 only).
  std::string etcd_binary = "etcd";  // --swarm-etcd
  int etcd_client_port = 2379;       // --swarm-etcd-client-port
  // API connection limits (api::ServerOptions).
  int max_connections = 512;                       // --max-connections
  std::chrono::milliseconds header_timeout{30'000};  // --header-timeout
  std::chrono::milliseconds idle_timeout{120'000};   // --idle-timeout
};

// Reads a daemon.json-style file ("hosts", "data-root", "exec-root", "pidfile", "init-path",
// "log-level", "log-driver", "log-opts", "debug", "tls", "tlsverify", "tlscacert", "tlscert", "tlskey", "ipv6",
// "fixed-cidr-v6", "insecure-registries", "registry-mirrors", "max-concurrent-downloads",
// "max-concurrent-uploads") into cfg; flags given on the
// command line win (the caller applies them after).
Status LoadConfigFile(const std::string& path, Config* cfg);
// Checks and normalises the registry settings as dockerd does (mirrors end in "/", an
// insecure registry is a CIDR or host[:port] without a scheme, the concurrency limits are
// positive) and fills the default certs.d list.
Status ValidateRegistryConfig(Config* cfg);
// The default bridge's IPv6 settings make sense together (see Config::ipv6).
Status CheckDefaultIpv6(const Config& cfg);

class Daemon {
 public:
  explicit Daemon(Config cfg);
  ~Daemon();
  // Recovers state and starts serving; returns once the API is listening.
  Status Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::daemon
