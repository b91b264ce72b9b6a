#pragma once
// TLS configuration shared by every end of Berth that speaks TLS: the API server's tcp://
// listeners (dockerd's --tls/--tlsverify), the berth CLI (docker's --tls/--tlsverify), and the
// cluster's mutual TLS on :2377, which builds its contexts from the same TlsConfig.
//
// A TlsContext is immutable once created and may be shared by any number of connections on any
// threads (OpenSSL's SSL_CTX is thread-safe once configured).

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

struct ssl_st;
struct ssl_ctx_st;

namespace berth::transport {

struct TlsConfig {
  std::string ca_file;    // PEM trust anchors; required when verify_peer
  std::string cert_file;  // PEM certificate (chain) shown to the peer; a client may have none
  std::string key_file;   // PEM private key of cert_file
  // Server: require a client certificate and verify it against ca_file (dockerd --tlsverify).
  // Client: verify the server's certificate against ca_file and the host name dialled
  // (docker --tlsverify); without it the server is not checked (docker --tls).
  bool verify_peer = false;
  // Client: also trust OpenSSL's default trust store (the system CAs) and these PEM files, so
  // ca_file may be empty (a registry client: system CAs plus certs.d/<host>/*.crt).
  bool system_cas = false;
  std::vector<std::string> extra_ca_files = {};
  // Server with verify_peer: a client may show no certificate (the handler then sees an
  // unverified PeerIdentity), but one it shows must chain to ca_file. The cluster port takes
  // joining nodes, which have no certificate yet, beside nodes with one.
  bool client_cert_optional = false;
};

// Who is at the other end of a TLS connection, from its certificate (the cluster authorises
// nodes by it). Empty for plain connections and for TLS peers that showed no certificate.
struct PeerIdentity {
  bool verified = false;  // a certificate was presented and chains to the CA
  std::string subject;    // RFC 2253: "CN=node-1,OU=swarm-manager,O=<cluster id>"
  std::string common_name;
  std::string organizational_unit;  // the first OU ("swarm-manager" in a node certificate)
  std::string organization;         // the first O (a node certificate's cluster id)
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries, as text
  // Every certificate the peer sent, leaf first, as PEM (verified or not: a node joining a swarm
  // checks the root it is shown against its token's digest before it trusts anything).
  std::vector<std::string> chain_pem;
};

class TlsContext {
 public:
  enum class Role { kServer, kClient };

  // Loads the files now, so a missing or mismatched file is an error at start-up, with the
  // file named, rather than a failed handshake later.
  static StatusOr<std::shared_ptr<const TlsContext>> Create(Role role, const TlsConfig& cfg);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  Role role() const { return role_; }
  bool verify_peer() const { return verify_peer_; }
  ssl_ctx_st* native() const { return ctx_; }

 private:
  TlsContext(Role role, bool verify_peer, ssl_ctx_st* ctx)
      : role_(role), verify_peer_(verify_peer), ctx_(ctx) {}
  Role role_;
  bool verify_peer_;
  ssl_ctx_st* ctx_;
};

// The identity in the peer certificate of an established connection.
PeerIdentity PeerIdentityOf(ssl_st* ssl);

// OpenSSL's error queue as one line ("certificate verify failed; ..."), emptied.
std::string OpenSslErrors();

}  // namespace berth::transport
