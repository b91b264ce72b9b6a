#pragma once
// The swarm's public-key infrastructure, as swarmkit lays it out so that Docker's shapes carry
// over (TLSInfo, join tokens, node certificate subjects):
// - a cluster root CA: ECDSA P-256, self-signed, subject CN=swarm-ca, valid 20 years;
// - node certificates signed by it: ECDSA P-256 keys, subject CN=<node id>, OU=<role>
//   ("swarm-manager" or "swarm-worker"), O=<cluster id>; subjectAltName DNS:<node id> and
//   DNS:<role> (a node dials a manager with server name "swarm-manager"; a manager also has
//   DNS:swarm-ca, the name swarmkit's joining nodes dial for their first certificate), plus
//   the IP addresses asked for (a manager's advertise address and 127.0.0.1, which etcd's peer
//   and client TLS check); extended key usage serverAuth and clientAuth; valid for the cluster's
//   NodeCertExpiry (default 90 days), back-dated a little for clock skew as swarmkit does;
// - join tokens "SWMTKN-1-<digest>-<secret>": the digest is the sha256 of the root's PEM as
//   base 36, zero-padded to 50 characters; the secret 16 random bytes as base 36, zero-padded to
//   25 (swarmkit's GenerateJoinToken). A joining node checks the digest against the root the
//   manager shows before it sends the token.
//
// Pure functions over PEM text (OpenSSL); no files except WriteSecretFile. Thread-safe.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace berth::cluster::pki {

inline constexpr char kManagerRole[] = "swarm-manager";
inline constexpr char kWorkerRole[] = "swarm-worker";
inline constexpr char kRootCommonName[] = "swarm-ca";
inline constexpr Duration kDefaultNodeCertExpiry = std::chrono::hours(24 * 90);

// What a node certificate says about its holder.
struct NodeIdentity {
  std::string node_id;     // CN
  std::string role;        // OU: kManagerRole or kWorkerRole
  std::string cluster_id;  // O
};

struct CertInfo {
  NodeIdentity identity;
  WallTime not_before;
  WallTime not_after;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
};

class RootCa {
 public:
  // A new root key and self-signed certificate, valid from now for 20 years.
  static StatusOr<RootCa> Create(WallTime now);
  // A root from its PEM; key_pem may be empty (a worker: verification only, no signing).
  // InvalidArgument when the certificate is not a CA, or the key does not match it.
  static StatusOr<RootCa> FromPem(std::string cert_pem, std::string key_pem);

  const std::string& cert_pem() const { return cert_pem_; }
  const std::string& key_pem() const { return key_pem_; }
  bool can_sign() const { return !key_pem_.empty(); }
  // "sha256:<64 hex>" of cert_pem's bytes: what a join token carries (base 36).
  std::string Digest() const;
  // TLSInfo.CertIssuerSubject and CertIssuerPublicKey: the root's DER subject and DER
  // SubjectPublicKeyInfo (the API shows them base64).
  std::string IssuerSubjectDer() const;
  std::string IssuerPublicKeyDer() const;

  // Signs a node's certificate request (PEM) with this root. The subject and SANs come from id
  // and ip_sans, never from the request (only its public key is used, and its self-signature is
  // checked). FailedPrecondition when this root cannot sign.
  StatusOr<std::string> SignCsr(std::string_view csr_pem, const NodeIdentity& id,
                                const std::vector<std::string>& ip_sans, WallTime now,
                                Duration validity) const;
  // Checks that cert_pem (a leaf, or a leaf followed by this root) was signed by this root and
  // is valid at `now`; returns what it says. PermissionDenied with the reason otherwise.
  StatusOr<CertInfo> Verify(std::string_view cert_pem, WallTime now) const;

 private:
  std::string cert_pem_;
  std::string key_pem_;
};

// A node's new key (PEM, ECDSA P-256) and a certificate request for it (PEM; subject CN=node_id,
// which the signer ignores).
struct NodeKey {
  std::string key_pem;
  std::string csr_pem;
};
StatusOr<NodeKey> NewNodeKey(std::string_view node_id);

// Reads a certificate without verifying it (a node looking at its own, for renewal).
StatusOr<CertInfo> ParseCert(std::string_view cert_pem);
// The certificates of a PEM bundle, in order, each as PEM (a server's chain: leaf, then root).
StatusOr<std::vector<std::string>> SplitPem(std::string_view bundle);
// When a certificate valid from not_before to not_after should be renewed: swarmkit's rule, a
// point between 50% and 80% of its life (random, so nodes do not renew together).
WallTime RenewalTime(WallTime not_before, WallTime not_after);

// Join tokens.
struct JoinToken {
  std::string ca_digest;  // "sha256:<64 hex>"
  std::string secret;     // the 25 base-36 characters
};
// 16 random bytes as 25 base-36 characters.
std::string NewTokenSecret();
// "SWMTKN-1-<50 base-36 digest>-<secret>" for a root digest "sha256:<hex>".
std::string FormatJoinToken(std::string_view ca_digest, std::string_view secret);
// InvalidArgument "invalid join token" (Docker's words) for anything else.
StatusOr<JoinToken> ParseJoinToken(std::string_view token);
// OK when root_pem's digest is the token's. Otherwise PermissionDenied: the node must not send
// the token to whoever showed this root.
Status CheckRootAgainstToken(const JoinToken& token, std::string_view root_pem);

// Writes data to path with mode 0600 atomically (a temporary file in the same directory, fsync,
// rename), creating the directory with mode 0700 if it is missing.
Status WriteSecretFile(const std::string& path, std::string_view data);

}  // namespace berth::cluster::pki
