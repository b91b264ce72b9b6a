// berthd: the Berth daemon. Flags carry dockerd's names.
#include <signal.h>

#include <cstdio>
#include <tuple>

#include "CLI/CLI.hpp"
#include "daemon/api_listen.h"
#include "daemon/daemon.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  berth::daemon::Config cfg;
  CLI::App app{"berthd: a container engine that speaks the Docker Engine API"};
  std::vector<std::string> hosts;
  std::string config_file, data_root, exec_root, pidfile, log_level;
  bool debug = false;
  app.add_option("-H,--host", hosts, "Daemon socket(s) to listen on (unix:///path, tcp://ip:port)");
  app.add_option("--data-root", data_root, "Root directory of persistent state (default /var/lib/berth)");
  app.add_option("--exec-root", exec_root, "Root directory of runtime state (default /run/berth)");
  app.add_option("-p,--pidfile", pidfile, "Path of the pid file (default <exec-root>/berthd.pid)");
  app.add_option("-l,--log-level", log_level, "Log level: debug, info, warn, error");
  app.add_flag("-D,--debug", debug, "Debug logging");
  std::string log_driver;
  std::vector<std::string> log_opts;
  app.add_option("--log-driver", log_driver, "Default driver for container logs (json-file, local, none)");
  app.add_option("--log-opt", log_opts, "Default log driver options (KEY=VALUE, repeatable)");
  app.add_option("--config-file", config_file, "Daemon configuration file (JSON, dockerd's keys)");
  app.add_option("--runc", cfg.runc, "OCI runtime binary");
  app.add_option("--swarm-etcd", cfg.etcd_binary, "etcd binary a swarm manager runs (default etcd)");
  app.add_option("--swarm-etcd-client-port", cfg.etcd_client_port,
                 "Port of a swarm manager's etcd on 127.0.0.1 (default 2379)");
  app.add_option("--shim", cfg.shim, "berth-shim binary (default: beside berthd)");
  app.add_option("--init-path", cfg.init_path,
                 "Static init bound into --init containers (default /usr/bin/tini-static)");
  app.add_option("--nft-helper", cfg.nft_helper,
                 "berth-nft binary, which applies the nftables table (default: beside berthd)");
  app.add_option("--iptables", cfg.iptables, "Manage the nftables table inet berth (default true)");
  app.add_option("--bip", cfg.bridge_ip, "Default bridge address and subnet (default 172.17.0.1/16)");
  bool ipv6 = false;
  std::string fixed_cidr_v6;
  auto* ipv6_flag = app.add_flag("--ipv6", ipv6, "Enable IPv6 on the default bridge (needs --fixed-cidr-v6)");
  app.add_option("--fixed-cidr-v6", fixed_cidr_v6, "IPv6 subnet of the default bridge");
  bool tls = false, tls_verify = false;
  std::string tls_ca, tls_cert, tls_key;
  auto* tls_flag = app.add_flag("--tls", tls, "Use TLS on tcp:// hosts; implied by --tlsverify");
  auto* verify_flag = app.add_flag("--tlsverify", tls_verify,
                                   "Use TLS and require client certificates signed by --tlscacert");
  app.add_option("--tlscacert", tls_ca,
                 "Trust client certificates signed only by this CA (default ~/.docker/ca.pem)");
  app.add_option("--tlscert", tls_cert, "TLS certificate file (default ~/.docker/cert.pem)");
  app.add_option("--tlskey", tls_key, "TLS key file (default ~/.docker/key.pem)");
  std::string header_timeout, idle_timeout;
  app.add_option("--max-connections", cfg.max_connections,
                 "API connections served at once; past it, 503 (default 512)")
      ->check(CLI::PositiveNumber);
  app.add_option("--header-timeout", header_timeout,
                 "A request header must arrive within this, or 408 (default 30s)");
  app.add_option("--idle-timeout", idle_timeout,
                 "An idle keep-alive API connection is closed after this (default 2m)");
  std::vector<std::string> insecure_registries, registry_mirrors, certs_dirs;
  int max_downloads = 0, max_uploads = 0;
  app.add_option("--insecure-registry", insecure_registries,
                 "Registries (host:port or CIDR) that may be reached over plain HTTP (repeatable)");
  app.add_option("--registry-mirror", registry_mirrors, "Preferred Docker registry mirror (repeatable)");
  auto* dl_flag = app.add_option("--max-concurrent-downloads", max_downloads,
                                 "Layers downloaded at once per pull (default 3)");
  auto* ul_flag = app.add_option("--max-concurrent-uploads", max_uploads,
                                 "Layers uploaded at once per push (default 5)");
  app.add_option("--registry-certs-dir", certs_dirs,
                 "Directory of <host:port>/ca.crt, client.cert, client.key (repeatable; default "
                 "/etc/docker/certs.d then /etc/berth/certs.d)");
  CLI11_PARSE(app, argc, argv);

  if (!config_file.empty()) {
    auto st = berth::daemon::LoadConfigFile(config_file, &cfg);
    if (!st.ok()) {
      std::fprintf(stderr, "berthd: %s\n", std::string(st.message()).c_str());
      return 1;
    }
  }
  if (!hosts.empty()) cfg.hosts = hosts;
  if (!data_root.empty()) cfg.data_root = data_root;
  if (!exec_root.empty()) cfg.exec_root = exec_root;
  if (!pidfile.empty()) cfg.pidfile = pidfile;
  if (!log_level.empty()) cfg.log_level = log_level;
  if (debug) cfg.debug = true;
  if (!log_driver.empty()) cfg.log_driver = log_driver;
  if (!log_opts.empty()) {
    cfg.log_opts.clear();
    for (const std::string& kv : log_opts) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "berthd: invalid --log-opt %s: want KEY=VALUE\n", kv.c_str());
        return 1;
      }
      cfg.log_opts[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  // Given on the command line at all (even =false) wins over daemon.json; --tls=false given
  // explicitly is the opt-out that api_listen.h describes.
  if (tls_flag->count() > 0) cfg.tls = tls;
  if (verify_flag->count() > 0) cfg.tls_verify = tls_verify;
  if (!tls_ca.empty()) cfg.tls_ca = tls_ca;
  if (!tls_cert.empty()) cfg.tls_cert = tls_cert;
  if (!tls_key.empty()) cfg.tls_key = tls_key;
  if (!insecure_registries.empty()) cfg.insecure_registries = insecure_registries;
  if (!registry_mirrors.empty()) cfg.registry_mirrors = registry_mirrors;
  if (!certs_dirs.empty()) cfg.registry_certs_dirs = certs_dirs;
  if (dl_flag->count() > 0) cfg.max_concurrent_downloads = max_downloads;
  if (ul_flag->count() > 0) cfg.max_concurrent_uploads = max_uploads;
  if (auto st = berth::daemon::ValidateRegistryConfig(&cfg); !st.ok()) {
    std::fprintf(stderr, "berthd: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  if (ipv6_flag->count() > 0) cfg.ipv6 = ipv6;
  if (!fixed_cidr_v6.empty()) cfg.fixed_cidr_v6 = fixed_cidr_v6;
  for (auto [flag, value, out] :
       {std::tuple{"--header-timeout", &header_timeout, &cfg.header_timeout},
        std::tuple{"--idle-timeout", &idle_timeout, &cfg.idle_timeout}}) {
    if (value->empty()) continue;
    auto d = berth::daemon::ParseDurationFlag(flag, *value);
    if (!d.ok()) {
      std::fprintf(stderr, "berthd: %s\n", std::string(d.status().message()).c_str());
      return 1;
    }
    *out = *d;
  }
  spdlog::set_level(cfg.debug ? spdlog::level::debug : spdlog::level::from_str(cfg.log_level));

  // Signals are taken synchronously below; every thread inherits the blocked mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  berth::daemon::Daemon daemon(cfg);
  auto st = daemon.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "berthd: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGINT || sig == SIGTERM) break;
  }
  spdlog::info("berthd shutting down; containers keep running");
  daemon.Stop();
  return 0;
}
