// The root CA and the node certificates it signs, shaped as swarmkit's (cfssl's) so that what
// Docker shows of them (TLSInfo, node certificate subjects) carries over:
// - root: initca with a 20-year expiry and cfssl's default back-dating of 5 minutes from the
//   current time rounded to the minute; extensions keyUsage (critical: certSign, cRLSign),
//   basicConstraints (critical: CA), subjectKeyIdentifier, in that order (Go's order);
// - node: cfssl's signer with swarmkit's SigningPolicy: back-dated 1 hour (CertBackdate), valid
//   until the rounded time plus the cluster's NodeCertExpiry; keyUsage (critical:
//   digitalSignature, keyEncipherment), extKeyUsage (serverAuth, clientAuth),
//   basicConstraints (critical: not a CA), subject and authority key identifiers,
//   subjectAltName DNS:<role>, DNS:<node id> (and DNS:swarm-ca for a manager), then the IP
//   addresses;
// - serial numbers: 20 random bytes with the top bit cleared (cfssl);
// - names as Go writes them: PrintableString when the text allows it, else UTF8String; the
//   node subject in Go's order O, OU, CN.

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstring>

#include "cluster/pki/openssl_util.h"
#include "cluster/pki/pki.h"

namespace berth::cluster::pki {

using internal::OpenSslErrors;

namespace {

using internal::BnPtr;
using internal::ExtPtr;
using internal::GeneralNamesPtr;
using internal::PkeyPtr;
using internal::ReqPtr;
using internal::StoreCtxPtr;
using internal::StorePtr;
using internal::X509Ptr;

constexpr std::chrono::seconds kRootValidity(630720000);  // swarmkit's RootCAExpiration
constexpr std::chrono::minutes kRootBackdate(5);          // cfssl's default back-dating
constexpr std::chrono::hours kNodeBackdate(1);            // swarmkit's CertBackdate
constexpr size_t kMaxNameLength = 64;                     // X.520's upper bound for CN, OU, O

// Unix seconds of t rounded to the nearest minute, halves up (Go's Time.Round(time.Minute),
// which cfssl applies before back-dating).
int64_t RoundToMinute(WallTime t) {
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  constexpr int64_t kMinute = 60'000'000'000;
  int64_t floor = ns / kMinute - (ns % kMinute < 0 ? 1 : 0);
  int64_t rem = ns - floor * kMinute;
  return (floor + (rem * 2 >= kMinute ? 1 : 0)) * 60;
}

int64_t Seconds(Duration d) { return std::chrono::duration_cast<std::chrono::seconds>(d).count(); }

Status SetValidity(X509* x, int64_t not_before, int64_t not_after) {
  if (ASN1_TIME_set(X509_getm_notBefore(x), static_cast<time_t>(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x), static_cast<time_t>(not_after)) == nullptr) {
    return absl::InternalError(absl::StrCat("set validity: ", OpenSslErrors()));
  }
  return absl::OkStatus();
}

Status SetRandomSerial(X509* x) {
  unsigned char bytes[20];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return absl::InternalError(absl::StrCat("random serial number: ", OpenSslErrors()));
  }
  bytes[0] &= 0x7f;  // a positive INTEGER of at most 20 octets (RFC 5280 4.1.2.2)
  BnPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x)) == nullptr) {
    return absl::InternalError(absl::StrCat("set serial number: ", OpenSslErrors()));
  }
  return absl::OkStatus();
}

// Go's encoding/asn1 writes a PrintableString when every character allows it.
bool IsPrintableString(std::string_view s) {
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::strchr(" '()+,-./:=?", c) != nullptr;
    if (!ok || c == '\0') return false;
  }
  return true;
}

Status AddNameEntry(X509_NAME* name, int nid, std::string_view value) {
  int type = IsPrintableString(value) ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING;
  if (X509_NAME_add_entry_by_NID(name, nid, type,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return absl::InternalError(absl::StrCat("certificate subject: ", OpenSslErrors()));
  }
  return absl::OkStatus();
}

// An extension from OpenSSL's configuration syntax (only for fixed texts: never user input).
Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return absl::InternalError(
        absl::StrCat("certificate extension ", OBJ_nid2sn(nid), ": ", OpenSslErrors()));
  }
  return absl::OkStatus();
}

// subjectAltName from typed values (not the configuration syntax, which a comma in a value
// would extend).
Status AddSubjectAltName(X509* cert, const std::vector<std::string>& dns,
                         const std::vector<std::string>& ips) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) return absl::InternalError("subjectAltName: out of memory");
  auto push = [&](int type, ASN1_STRING* value) -> Status {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    if (gn == nullptr) {
      ASN1_STRING_free(value);
      return absl::InternalError("subjectAltName: out of memory");
    }
    GENERAL_NAME_set0_value(gn, type, value);
    if (sk_GENERAL_NAME_push(names.get(), gn) == 0) {
      GENERAL_NAME_free(gn);
      return absl::InternalError("subjectAltName: out of memory");
    }
    return absl::OkStatus();
  };
  for (const std::string& d : dns) {
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    if (s == nullptr || ASN1_STRING_set(s, d.data(), static_cast<int>(d.size())) != 1) {
      ASN1_IA5STRING_free(s);
      return absl::InternalError("subjectAltName: out of memory");
    }
    RETURN_IF_ERROR(push(GEN_DNS, s));
  }
  for (const std::string& ip : ips) {
    ASN1_OCTET_STRING* o = a2i_IPADDRESS(ip.c_str());
    if (o == nullptr) {
      ERR_clear_error();
      return absl::InvalidArgumentError(absl::StrCat("invalid IP address \"", ip, "\""));
    }
    RETURN_IF_ERROR(push(GEN_IPADD, o));
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_APPEND) != 1) {
    return absl::InternalError(absl::StrCat("subjectAltName: ", OpenSslErrors()));
  }
  return absl::OkStatus();
}

Status SignCert(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    return absl::InternalError(absl::StrCat("sign certificate: ", OpenSslErrors()));
  }
  return absl::OkStatus();
}

// Node ids and cluster ids are Berth's own base-36 ids; anything that could not be a DNS name
// is refused rather than encoded (the node id is also a subjectAltName).
Status CheckIdentityName(std::string_view what, std::string_view s) {
  if (s.empty() || s.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(what), " must be 1 to ", kMaxNameLength, " characters"));
  }
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.' || c == '_')) {
      return absl::InvalidArgumentError(
          absl::StrCat(Av(what), " \"", Av(s), "\" has characters other than [A-Za-z0-9._-]"));
    }
  }
  return absl::OkStatus();
}

bool IsNodeRole(std::string_view role) { return role == kManagerRole || role == kWorkerRole; }

bool IsP256(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") != 1) return false;
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) return false;
  std::string_view g(group, len);
  return g == "prime256v1" || g == "P-256" || g == "secp256r1";
}

std::string FormatUtc(WallTime t) {
  time_t secs = std::chrono::system_clock::to_time_t(t);
  struct tm tm = {};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Status Refused(std::string_view why) {
  return absl::PermissionDeniedError(absl::StrCat("node certificate refused: ", Av(why)));
}

// DER of an OpenSSL object through its i2d function ("" on failure).
template <typename T>
std::string ToDer(int (*i2d)(const T*, unsigned char**), const T* obj) {
  unsigned char* buf = nullptr;
  int n = i2d(obj, &buf);
  if (n <= 0 || buf == nullptr) return "";
  std::string out(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
  OPENSSL_free(buf);
  return out;
}

}  // namespace

StatusOr<RootCa> RootCa::Create(WallTime now) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return absl::InternalError(absl::StrCat("root CA key: ", OpenSslErrors()));
  X509Ptr x(X509_new());
  if (x == nullptr || X509_set_version(x.get(), X509_VERSION_3) != 1) {
    return absl::InternalError(absl::StrCat("root CA certificate: ", OpenSslErrors()));
  }
  RETURN_IF_ERROR(SetRandomSerial(x.get()));
  int64_t not_before = RoundToMinute(now) - Seconds(kRootBackdate);
  RETURN_IF_ERROR(SetValidity(x.get(), not_before, not_before + Seconds(kRootValidity)));
  X509_NAME* subject = X509_get_subject_name(x.get());
  RETURN_IF_ERROR(AddNameEntry(subject, NID_commonName, kRootCommonName));
  if (X509_set_issuer_name(x.get(), subject) != 1 || X509_set_pubkey(x.get(), key.get()) != 1) {
    return absl::InternalError(absl::StrCat("root CA certificate: ", OpenSslErrors()));
  }
  RETURN_IF_ERROR(AddExtension(x.get(), x.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddExtension(x.get(), x.get(), NID_basic_constraints, "critical,CA:TRUE"));
  RETURN_IF_ERROR(AddExtension(x.get(), x.get(), NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(SignCert(x.get(), key.get()));

  RootCa ca;
  ASSIGN_OR_RETURN(ca.cert_pem_, internal::CertToPem(x.get()));
  ASSIGN_OR_RETURN(ca.key_pem_, internal::KeyToPem(key.get()));
  return ca;
}

StatusOr<RootCa> RootCa::FromPem(std::string cert_pem, std::string key_pem) {
  ASSIGN_OR_RETURN(std::vector<X509Ptr> certs, internal::ReadCerts(cert_pem, "root CA"));
  if (certs.size() != 1) {
    // swarmkit accepts a bundle of roots while a root rotation runs; Berth has no rotation.
    return absl::InvalidArgumentError(absl::StrCat("root CA: expected one certificate, found ",
                                                   certs.size(), " (root bundles unsupported)"));
  }
  X509* x = certs.front().get();
  if (X509_check_ca(x) == 0) {
    return absl::InvalidArgumentError("root CA: the certificate is not a CA certificate");
  }
  if (X509_check_issued(x, x) != X509_V_OK || X509_verify(x, X509_get0_pubkey(x)) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("root CA: the certificate is not self-signed");
  }
  if (!key_pem.empty()) {
    ASSIGN_OR_RETURN(PkeyPtr key, internal::ReadPrivateKey(key_pem, "root CA key"));
    if (X509_check_private_key(x, key.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError("root CA: the key does not match the certificate");
    }
  }
  RootCa ca;
  ca.cert_pem_ = std::move(cert_pem);
  ca.key_pem_ = std::move(key_pem);
  return ca;
}

std::string RootCa::Digest() const { return internal::Sha256Digest(cert_pem_); }

std::string RootCa::IssuerSubjectDer() const {
  auto x = internal::ReadCert(cert_pem_, "root CA");
  if (!x.ok()) return "";
  return ToDer<X509_NAME>(i2d_X509_NAME, X509_get_subject_name(x->get()));
}

std::string RootCa::IssuerPublicKeyDer() const {
  auto x = internal::ReadCert(cert_pem_, "root CA");
  if (!x.ok()) return "";
  return ToDer<X509_PUBKEY>(i2d_X509_PUBKEY, X509_get_X509_PUBKEY(x->get()));
}

StatusOr<std::string> RootCa::SignCsr(std::string_view csr_pem, const NodeIdentity& id,
                                      const std::vector<std::string>& ip_sans, WallTime now,
                                      Duration validity) const {
  if (!can_sign()) {
    return absl::FailedPreconditionError("this node holds no root CA key: it cannot sign");
  }
  if (!IsNodeRole(id.role)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid node role \"", id.role, "\" (want ",
                                                   kManagerRole, " or ", kWorkerRole, ")"));
  }
  RETURN_IF_ERROR(CheckIdentityName("node id", id.node_id));
  RETURN_IF_ERROR(CheckIdentityName("cluster id", id.cluster_id));
  if (validity <= Duration::zero()) {
    return absl::InvalidArgumentError("node certificate validity must be positive");
  }

  internal::BioPtr bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (req == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid certificate request: ", OpenSslErrors()));
  }
  EVP_PKEY* node_key = X509_REQ_get0_pubkey(req.get());
  if (node_key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate request without a public key: ", OpenSslErrors()));
  }
  // The request's self-signature proves its sender holds the private key.
  if (X509_REQ_verify(req.get(), node_key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("certificate request: its signature does not verify");
  }
  if (!IsP256(node_key)) {
    return absl::InvalidArgumentError("certificate request: the key must be ECDSA P-256");
  }

  ASSIGN_OR_RETURN(X509Ptr root, internal::ReadCert(cert_pem_, "root CA"));
  ASSIGN_OR_RETURN(PkeyPtr root_key, internal::ReadPrivateKey(key_pem_, "root CA key"));

  X509Ptr x(X509_new());
  if (x == nullptr || X509_set_version(x.get(), X509_VERSION_3) != 1) {
    return absl::InternalError(absl::StrCat("node certificate: ", OpenSslErrors()));
  }
  RETURN_IF_ERROR(SetRandomSerial(x.get()));
  int64_t not_before = RoundToMinute(now) - Seconds(kNodeBackdate);
  RETURN_IF_ERROR(
      SetValidity(x.get(), not_before, not_before + Seconds(kNodeBackdate) + Seconds(validity)));
  X509_NAME* subject = X509_get_subject_name(x.get());
  RETURN_IF_ERROR(AddNameEntry(subject, NID_organizationName, id.cluster_id));
  RETURN_IF_ERROR(AddNameEntry(subject, NID_organizationalUnitName, id.role));
  RETURN_IF_ERROR(AddNameEntry(subject, NID_commonName, id.node_id));
  if (X509_set_issuer_name(x.get(), X509_get_subject_name(root.get())) != 1 ||
      X509_set_pubkey(x.get(), node_key) != 1) {
    return absl::InternalError(absl::StrCat("node certificate: ", OpenSslErrors()));
  }
  RETURN_IF_ERROR(AddExtension(x.get(), root.get(), NID_key_usage,
                               "critical,digitalSignature,keyEncipherment"));
  RETURN_IF_ERROR(AddExtension(x.get(), root.get(), NID_ext_key_usage, "serverAuth,clientAuth"));
  RETURN_IF_ERROR(AddExtension(x.get(), root.get(), NID_basic_constraints, "critical,CA:FALSE"));
  RETURN_IF_ERROR(AddExtension(x.get(), root.get(), NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(AddExtension(x.get(), root.get(), NID_authority_key_identifier, "keyid:always"));
  // swarmkit's PrepareCSR: a manager is also "swarm-ca", the name a joining node dials to have
  // its first certificate signed.
  std::vector<std::string> dns = {id.role, id.node_id};
  if (id.role == kManagerRole) dns.push_back(kRootCommonName);
  RETURN_IF_ERROR(AddSubjectAltName(x.get(), dns, ip_sans));
  RETURN_IF_ERROR(SignCert(x.get(), root_key.get()));
  return internal::CertToPem(x.get());
}

StatusOr<CertInfo> RootCa::Verify(std::string_view cert_pem, WallTime now) const {
  auto certs = internal::ReadCerts(cert_pem, "certificate");
  if (!certs.ok()) return Refused(std::string(certs.status().message()));
  ASSIGN_OR_RETURN(X509Ptr root, internal::ReadCert(cert_pem_, "root CA"));
  X509* leaf = certs->front().get();
  // A chain may repeat the root after the leaf (a server's chain); anything else would be an
  // intermediate, which this PKI never issues.
  for (size_t i = 1; i < certs->size(); ++i) {
    if (X509_cmp((*certs)[i].get(), root.get()) != 0) {
      return Refused("the chain holds a certificate other than this cluster's root CA");
    }
  }

  StorePtr store(X509_STORE_new());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (store == nullptr || ctx == nullptr || X509_STORE_add_cert(store.get(), root.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) != 1) {
    return absl::InternalError(absl::StrCat("verify node certificate: ", OpenSslErrors()));
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_ANY);
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()),
                             std::chrono::system_clock::to_time_t(now));
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    X509* bad = X509_STORE_CTX_get_current_cert(ctx.get());
    if (bad == nullptr) bad = leaf;
    switch (err) {
      case X509_V_ERR_CERT_HAS_EXPIRED:
        return Refused(absl::StrCat(bad == leaf ? "the certificate" : "the root CA", " expired at ",
                                    FormatUtc(internal::FromAsn1Time(X509_get0_notAfter(bad)))));
      case X509_V_ERR_CERT_NOT_YET_VALID:
        return Refused(absl::StrCat(bad == leaf ? "the certificate" : "the root CA",
                                    " is not valid before ",
                                    FormatUtc(internal::FromAsn1Time(X509_get0_notBefore(bad)))));
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return Refused("it is not signed by this cluster's root CA");
      default:
        return Refused(X509_verify_cert_error_string(err));
    }
  }
  if (X509_check_ca(leaf) != 0) return Refused("it is a CA certificate, not a node certificate");
  CertInfo info = internal::InfoOf(leaf);
  if (!IsNodeRole(info.identity.role) || info.identity.node_id.empty() ||
      info.identity.cluster_id.empty()) {
    return Refused(absl::StrCat("not a node certificate (subject CN=\"", info.identity.node_id,
                                "\" OU=\"", info.identity.role, "\" O=\"", info.identity.cluster_id,
                                "\")"));
  }
  return info;
}

StatusOr<NodeKey> NewNodeKey(std::string_view node_id) {
  if (node_id.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("node id must be at most ", kMaxNameLength, " characters"));
  }
  PkeyPtr key(EVP_EC_gen("P-256"));
  ReqPtr req(X509_REQ_new());
  if (key == nullptr || req == nullptr ||
      X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_pubkey(req.get(), key.get()) != 1) {
    return absl::InternalError(absl::StrCat("node key: ", OpenSslErrors()));
  }
  if (!node_id.empty()) {
    RETURN_IF_ERROR(AddNameEntry(X509_REQ_get_subject_name(req.get()), NID_commonName, node_id));
  }
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return absl::InternalError(absl::StrCat("sign certificate request: ", OpenSslErrors()));
  }
  internal::BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return absl::InternalError(absl::StrCat("encode certificate request: ", OpenSslErrors()));
  }
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  NodeKey out;
  out.csr_pem.assign(p, static_cast<size_t>(n));
  ASSIGN_OR_RETURN(out.key_pem, internal::KeyToPem(key.get()));
  return out;
}

WallTime RenewalTime(WallTime not_before, WallTime not_after) {
  // swarmkit's calculateRandomExpiry: a random point between 50% and 80% of the validity, so
  // that nodes whose certificates were issued together do not all renew at once. (swarmkit
  // counts in minutes; seconds keep short test validities meaningful.)
  int64_t life = Seconds(not_after - not_before);
  if (life <= 0) return not_before;
  int64_t lo = life / 2;
  int64_t hi = life * 8 / 10;
  int64_t offset = lo;
  if (hi > lo) {
    uint64_t r = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&r), sizeof r) != 1) ERR_clear_error();
    offset = lo + static_cast<int64_t>(r % static_cast<uint64_t>(hi - lo));
  }
  return not_before + std::chrono::seconds(offset);
}

}  // namespace berth::cluster::pki
