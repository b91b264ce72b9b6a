// The swarm PKI (src/cluster/pki): root CA and node certificates in swarmkit's shape, checked
// field by field with OpenSSL; refusals (other root, expired, tampered requests, mismatched
// keys); join tokens against swarmkit's format and Docker's real root; secret files' modes; and
// a mutual-TLS handshake between two node certificates through transport::TlsContext.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "api/transport/stream.h"
#include "api/transport/tls.h"
#include "cluster/pki/pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::cluster::pki {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Docker 20.10's swarm root CA from the reference trace swarm-init.md (TLSInfo.TrustRoot), with
// the CertIssuerSubject and CertIssuerPublicKey Docker showed beside it.
constexpr char kDockerRoot[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBazCCARCgAwIBAgIUfwK3wsf3F74JrKRG5PtR2Q4zpNMwCgYIKoZIzj0EAwIw\n"
    "EzERMA8GA1UEAxMIc3dhcm0tY2EwHhcNMjYxMTI4MDMyMzAwWhcNNDYxMTIzMDMy\n"
    "MzAwWjATMREwDwYDVQQDEwhzd2FybS1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH\n"
    "A0IABJKULPLZOZ3rnPnmkNL8dtjCm4gFpRFmGk1j3VpoyxaeYGoQJc32Klbow5Kx\n"
    "trqdfWRI6TCccCB5vRXpEblwriejQjBAMA4GA1UdDwEB/wQEAwIBBjAPBgNVHRMB\n"
    "Af8EBTADAQH/MB0GA1UdDgQWBBR+4HjPJo7p9NOC8gimAMXug0F8KjAKBggqhkjO\n"
    "PQQDAgNJADBGAiEApjfaiYyheMw5HWiF96gsoHsAJJNypTM9Dzo2MBEgTjQCIQCz\n"
    "wDV7gJQPBURk6k8Q95YVjzsntTj81HQPFjRJYjIxrg==\n"
    "-----END CERTIFICATE-----\n";
constexpr char kDockerIssuerSubject[] = "MBMxETAPBgNVBAMTCHN3YXJtLWNh";
constexpr char kDockerIssuerPublicKey[] =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkpQs8tk5neuc+eaQ0vx22MKbiAWlEWYaTWPdWmjLFp5gahAlzfYqVuj"
    "DkrG2up19ZEjpMJxwIHm9FekRuXCuJw==";
// sha256 of kDockerRoot's bytes and its 256-bit integer in base 36, computed independently
// (coreutils sha256sum; Python's int(hex, 16) in base 36, zero-padded to 50). The trace's join
// tokens are redacted, so this is the middle part Docker's worker token had for that root.
constexpr char kDockerRootDigest[] =
    "sha256:15eb26d7be57fe3c0741dfa7208c339e55df756e09a75ef72389e711191927af";
constexpr char kDockerRootBase36[] = "0jo00djncazfbfijby1xibaou83chu50egg58xwil2tampsqsv";

// Unix time 2026-12-02T09:00:20Z (rounds down to the minute) and 09:00:40Z (rounds up).
const WallTime kNow = std::chrono::system_clock::from_time_t(1796202020);
const WallTime kNowRoundsUp = std::chrono::system_clock::from_time_t(1796202040);

struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

X509Ptr ParsePem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return X509Ptr(x);
}

int64_t UnixSeconds(const ASN1_TIME* t) {
  struct tm tm = {};
  EXPECT_EQ(ASN1_TIME_to_tm(t, &tm), 1);
  return static_cast<int64_t>(timegm(&tm));
}

int64_t UnixSeconds(WallTime t) { return std::chrono::system_clock::to_time_t(t); }

std::vector<std::string> ExtensionOrder(X509* x) {
  std::vector<std::string> out;
  for (int i = 0; i < X509_get_ext_count(x); ++i) {
    X509_EXTENSION* e = X509_get_ext(x, i);
    std::string name = OBJ_nid2sn(OBJ_obj2nid(X509_EXTENSION_get_object(e)));
    if (X509_EXTENSION_get_critical(e)) name += "!";
    out.push_back(name);
  }
  return out;
}

std::string SubjectText(X509* x) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
  char* p = nullptr;
  long n = BIO_get_mem_data(bio, &p);
  std::string out(p, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string Hex(const ASN1_OCTET_STRING* s) {
  std::string out;
  char buf[3];
  for (int i = 0; i < ASN1_STRING_length(s); ++i) {
    std::snprintf(buf, sizeof buf, "%02x", ASN1_STRING_get0_data(s)[i]);
    out += buf;
  }
  return out;
}

std::string Unbase64(std::string_view b64) {
  std::string out;
  EXPECT_TRUE(absl::Base64Unescape(absl::string_view(b64.data(), b64.size()), &out));
  return out;
}

// A P-384 key and a request for it, which SignCsr must refuse (not the cluster's key type).
std::string P384Csr() {
  EVP_PKEY* key = EVP_EC_gen("P-384");
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_pubkey(req, key);
  X509_REQ_sign(req, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(bio, req);
  char* p = nullptr;
  long n = BIO_get_mem_data(bio, &p);
  std::string out(p, static_cast<size_t>(n));
  BIO_free(bio);
  X509_REQ_free(req);
  EVP_PKEY_free(key);
  return out;
}

// The request's DER with one byte of its public key flipped, back as PEM: its self-signature no
// longer matches.
std::string TamperedCsr(const std::string& csr_pem) {
  BIO* in = BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size()));
  X509_REQ* req = PEM_read_bio_X509_REQ(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  unsigned char* der = nullptr;
  int n = i2d_X509_REQ(req, &der);
  X509_REQ_free(req);
  std::string bytes(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  // The uncompressed point 04||X||Y ends the SubjectPublicKeyInfo; flip a byte of Y, which keeps
  // the structure parseable. Find the point after the P-256 OID (06 08 2a 86 48 ce 3d 03 01 07).
  const std::string oid("\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10);
  size_t at = bytes.find(oid);
  EXPECT_NE(at, std::string::npos);
  size_t point = at + oid.size() + 3;  // BIT STRING tag, length, unused-bits octet
  EXPECT_EQ(static_cast<unsigned char>(bytes[point]), 0x04);
  // Flipping a coordinate bit would usually leave the point off the curve (a parse error, also
  // a refusal); re-signing is what an attacker cannot do, so swap in another valid key instead.
  EVP_PKEY* other = EVP_EC_gen("P-256");
  unsigned char pub[65];
  size_t publen = 0;
  EXPECT_EQ(EVP_PKEY_get_octet_string_param(other, "encoded-pub-key", pub, sizeof pub, &publen), 1);
  EVP_PKEY_free(other);
  EXPECT_EQ(publen, 65u);
  bytes.replace(point, 65, reinterpret_cast<char*>(pub), 65);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
  X509_REQ* forged = d2i_X509_REQ(nullptr, &p, static_cast<long>(bytes.size()));
  EXPECT_NE(forged, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(out, forged);
  X509_REQ_free(forged);
  char* text = nullptr;
  long len = BIO_get_mem_data(out, &text);
  std::string pem(text, static_cast<size_t>(len));
  BIO_free(out);
  return pem;
}

class PkiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto root = RootCa::Create(kNow);
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = new RootCa(*root);
    auto other = RootCa::Create(kNow);
    ASSERT_TRUE(other.ok()) << other.status();
    other_ = new RootCa(*other);
  }
  static void TearDownTestSuite() {
    delete root_;
    delete other_;
  }

  // A key and a certificate for it signed by root.
  static std::pair<NodeKey, std::string> Issue(const RootCa& root, const NodeIdentity& id,
                                               std::vector<std::string> ips = {},
                                               WallTime now = kNow,
                                               Duration validity = kDefaultNodeCertExpiry) {
    auto key = NewNodeKey(id.node_id);
    EXPECT_TRUE(key.ok()) << key.status();
    auto cert = root.SignCsr(key->csr_pem, id, ips, now, validity);
    EXPECT_TRUE(cert.ok()) << cert.status();
    return {*key, cert.ok() ? *cert : ""};
  }

  static RootCa* root_;
  static RootCa* other_;
};

RootCa* PkiTest::root_ = nullptr;
RootCa* PkiTest::other_ = nullptr;

const NodeIdentity kManager{"t9nqvnrsvd2ms9uw7qcod4k0k", kManagerRole, "p4185nqqk2dxj3pk63zdp501b"};
const NodeIdentity kWorker{"9xlhwvb7g0f5kbq1dylr3l3dq", kWorkerRole, "p4185nqqk2dxj3pk63zdp501b"};

TEST_F(PkiTest, RootHasSwarmkitsShape) {
  X509Ptr x = ParsePem(root_->cert_pem());
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(X509_get_version(x.get()), X509_VERSION_3);
  EXPECT_EQ(SubjectText(x.get()), "CN=swarm-ca");
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(x.get()), X509_get_issuer_name(x.get())), 0);
  // Docker's root encodes CN as a PrintableString: the DER subject is byte for byte the same.
  EXPECT_EQ(root_->IssuerSubjectDer(), Unbase64(kDockerIssuerSubject));
  // cfssl: the current time rounded to the minute, back-dated 5 minutes; 630720000 s of life.
  int64_t minute = UnixSeconds(kNow) / 60 * 60;
  EXPECT_EQ(UnixSeconds(X509_get0_notBefore(x.get())), minute - 300);
  EXPECT_EQ(UnixSeconds(X509_get0_notAfter(x.get())), minute - 300 + 630720000);
  // The same extensions, criticality and order as Docker's root.
  EXPECT_THAT(ExtensionOrder(x.get()),
              ElementsAre("keyUsage!", "basicConstraints!", "subjectKeyIdentifier"));
  EXPECT_EQ(X509_get_key_usage(x.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_check_ca(x.get()), 1);
  // The key identifier is the SHA-1 of the public key's bits, as Go and cfssl compute it.
  unsigned char sha1[20];
  unsigned int len = 0;
  X509_pubkey_digest(x.get(), EVP_sha1(), sha1, &len);
  std::string want;
  for (unsigned int i = 0; i < len; ++i) want += absl::StrFormat("%02x", sha1[i]);
  EXPECT_EQ(Hex(X509_get0_subject_key_id(x.get())), want);
  // A positive serial of 20 random octets at most, ECDSA P-256 with SHA-256.
  const ASN1_INTEGER* serial = X509_get0_serialNumber(x.get());
  EXPECT_LE(ASN1_STRING_length(serial), 20);
  EXPECT_GE(ASN1_STRING_length(serial), 16);
  EXPECT_EQ(X509_get_signature_nid(x.get()), NID_ecdsa_with_SHA256);
  EVP_PKEY* pub = X509_get0_pubkey(x.get());
  EXPECT_EQ(EVP_PKEY_get_bits(pub), 256);
  EXPECT_EQ(X509_verify(x.get(), pub), 1);
  EXPECT_TRUE(root_->can_sign());
  EXPECT_EQ(root_->IssuerPublicKeyDer().size(), Unbase64(kDockerIssuerPublicKey).size());
  // Each root is new: another has another key and serial.
  EXPECT_NE(root_->cert_pem(), other_->cert_pem());
  EXPECT_NE(root_->IssuerPublicKeyDer(), other_->IssuerPublicKeyDer());
}

TEST_F(PkiTest, RootValidityRoundsToTheNearestMinuteAsGoDoes) {
  auto root = RootCa::Create(kNowRoundsUp);
  ASSERT_TRUE(root.ok()) << root.status();
  X509Ptr x = ParsePem(root->cert_pem());
  int64_t next_minute = UnixSeconds(kNowRoundsUp) / 60 * 60 + 60;
  EXPECT_EQ(UnixSeconds(X509_get0_notBefore(x.get())), next_minute - 300);
}

TEST_F(PkiTest, DockersRootLoadsAndShowsTheSameTlsInfo) {
  auto root = RootCa::FromPem(kDockerRoot, "");
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_FALSE(root->can_sign());
  EXPECT_EQ(root->cert_pem(), kDockerRoot);
  EXPECT_EQ(root->Digest(), kDockerRootDigest);
  EXPECT_EQ(root->IssuerSubjectDer(), Unbase64(kDockerIssuerSubject));
  EXPECT_EQ(root->IssuerPublicKeyDer(), Unbase64(kDockerIssuerPublicKey));
  auto info = ParseCert(kDockerRoot);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->identity.node_id, "swarm-ca");
  EXPECT_EQ(UnixSeconds(info->not_before), 1795836180);  // 2026-11-28T03:23:00Z
  EXPECT_EQ(UnixSeconds(info->not_after), 2426556180);   // 2046-11-23T03:23:00Z
  // A root without its key verifies but cannot sign.
  auto key = NewNodeKey("n1");
  ASSERT_TRUE(key.ok());
  auto signed_cert = root->SignCsr(key->csr_pem, kWorker, {}, kNow, kDefaultNodeCertExpiry);
  EXPECT_EQ(signed_cert.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(PkiTest, NodeCertificateHasSwarmkitsShape) {
  auto [key, cert] = Issue(*root_, kManager, {"192.168.77.11", "127.0.0.1", "fd00::11"});
  X509Ptr x = ParsePem(cert);
  X509Ptr root = ParsePem(root_->cert_pem());
  ASSERT_NE(x, nullptr);
  // Go writes O, OU, CN in that order: RFC 2253 prints them reversed.
  EXPECT_EQ(SubjectText(x.get()),
            "CN=t9nqvnrsvd2ms9uw7qcod4k0k,OU=swarm-manager,O=p4185nqqk2dxj3pk63zdp501b");
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(x.get()), X509_get_subject_name(root.get())), 0);
  EXPECT_THAT(ExtensionOrder(x.get()),
              ElementsAre("keyUsage!", "extendedKeyUsage", "basicConstraints!",
                          "subjectKeyIdentifier", "authorityKeyIdentifier", "subjectAltName"));
  EXPECT_EQ(X509_get_key_usage(x.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_get_extended_key_usage(x.get()),
            static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  EXPECT_EQ(X509_check_ca(x.get()), 0);
  EXPECT_EQ(Hex(X509_get0_authority_key_id(x.get())), Hex(X509_get0_subject_key_id(root.get())));
  // swarmkit back-dates 1 hour from the rounded time and adds the hour to the expiry.
  int64_t minute = UnixSeconds(kNow) / 60 * 60;
  EXPECT_EQ(UnixSeconds(X509_get0_notBefore(x.get())), minute - 3600);
  EXPECT_EQ(UnixSeconds(X509_get0_notAfter(x.get())), minute + 90 * 24 * 3600);
  EXPECT_EQ(X509_verify(x.get(), X509_get0_pubkey(root.get())), 1);
  EXPECT_EQ(X509_get_signature_nid(x.get()), NID_ecdsa_with_SHA256);

  auto info = ParseCert(cert);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->identity.node_id, kManager.node_id);
  EXPECT_EQ(info->identity.role, kManagerRole);
  EXPECT_EQ(info->identity.cluster_id, kManager.cluster_id);
  EXPECT_THAT(info->dns_names,
              ElementsAre("swarm-manager", "t9nqvnrsvd2ms9uw7qcod4k0k", "swarm-ca"));
  EXPECT_THAT(info->ip_addresses, ElementsAre("192.168.77.11", "127.0.0.1", "fd00::11"));

  // The certificate carries the request's key: it pairs with the node's private key.
  BIO* bio = BIO_new_mem_buf(key.key_pem.data(), static_cast<int>(key.key_pem.size()));
  EVP_PKEY* priv = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(priv, nullptr);
  EXPECT_EQ(X509_check_private_key(x.get(), priv), 1);
  EXPECT_EQ(EVP_PKEY_get_bits(priv), 256);
  EVP_PKEY_free(priv);
}

TEST_F(PkiTest, SubjectComesFromTheSignerNotTheRequest) {
  // A worker asks with a request naming itself a manager of another cluster.
  auto key = NewNodeKey("evil-manager");
  ASSERT_TRUE(key.ok());
  auto cert = root_->SignCsr(key->csr_pem, kWorker, {}, kNow, kDefaultNodeCertExpiry);
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto info = ParseCert(*cert);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->identity.node_id, kWorker.node_id);
  EXPECT_EQ(info->identity.role, kWorkerRole);
  EXPECT_THAT(info->dns_names, ElementsAre("swarm-worker", kWorker.node_id));
  EXPECT_TRUE(info->ip_addresses.empty());
}

TEST_F(PkiTest, NewNodeKeyMakesAVerifiableRequest) {
  auto key = NewNodeKey("node-7");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_THAT(key->key_pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  BIO* bio = BIO_new_mem_buf(key->csr_pem.data(), static_cast<int>(key->csr_pem.size()));
  X509_REQ* req = PEM_read_bio_X509_REQ(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "node-7");
  X509_REQ_free(req);
  auto other = NewNodeKey("node-7");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->key_pem, key->key_pem);
}

TEST_F(PkiTest, SignCsrRefusesBadRequestsAndIdentities) {
  auto key = NewNodeKey("n1");
  ASSERT_TRUE(key.ok());
  auto sign = [&](std::string_view csr, NodeIdentity id, std::vector<std::string> ips = {},
                  Duration validity = kDefaultNodeCertExpiry) {
    return root_->SignCsr(csr, id, ips, kNow, validity).status();
  };
  // A request whose key was swapped after signing: its sender does not hold that key.
  Status tampered = sign(TamperedCsr(key->csr_pem), kWorker);
  EXPECT_EQ(tampered.code(), absl::StatusCode::kInvalidArgument) << tampered;
  EXPECT_THAT(tampered.message(), HasSubstr("signature does not verify"));
  EXPECT_EQ(sign(P384Csr(), kWorker).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(sign(P384Csr(), kWorker).message(), HasSubstr("P-256"));
  EXPECT_EQ(sign("not a request", kWorker).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sign(root_->cert_pem(), kWorker).code(), absl::StatusCode::kInvalidArgument);

  for (const char* role : {"", "manager", "worker", "swarm-ca", "SWARM-MANAGER"}) {
    Status s = sign(key->csr_pem, {"n1", role, "c1"});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << role;
    EXPECT_THAT(s.message(), HasSubstr("invalid node role")) << role;
  }
  EXPECT_EQ(sign(key->csr_pem, {"", kWorkerRole, "c1"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sign(key->csr_pem, {"n1", kWorkerRole, ""}).code(), absl::StatusCode::kInvalidArgument);
  // A comma or an equals sign must not smuggle another name into the subject or the SANs.
  EXPECT_EQ(sign(key->csr_pem, {"n1,DNS:evil", kWorkerRole, "c1"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sign(key->csr_pem, {"n1", kWorkerRole, "c1/OU=swarm-manager"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sign(key->csr_pem, {std::string(65, 'a'), kWorkerRole, "c1"}).code(),
            absl::StatusCode::kInvalidArgument);
  Status bad_ip = sign(key->csr_pem, kWorker, {"192.168.77.300"});
  EXPECT_EQ(bad_ip.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_ip.message(), HasSubstr("192.168.77.300"));
  EXPECT_EQ(sign(key->csr_pem, kWorker, {"node-1.example"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sign(key->csr_pem, kWorker, {}, Duration::zero()).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PkiTest, VerifyAcceptsItsOwnNodeCertificates) {
  auto [key, cert] = Issue(*root_, kWorker, {"10.0.0.2"});
  auto info = root_->Verify(cert, kNow);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->identity.node_id, kWorker.node_id);
  EXPECT_EQ(info->identity.role, kWorkerRole);
  EXPECT_EQ(info->identity.cluster_id, kWorker.cluster_id);
  EXPECT_THAT(info->ip_addresses, ElementsAre("10.0.0.2"));
  // A server's chain: the leaf followed by the root.
  auto chained = root_->Verify(cert + root_->cert_pem(), kNow);
  EXPECT_TRUE(chained.ok()) << chained.status();
  // A worker's copy of the root (no key) verifies the same.
  auto worker_root = RootCa::FromPem(root_->cert_pem(), "");
  ASSERT_TRUE(worker_root.ok());
  EXPECT_TRUE(worker_root->Verify(cert, kNow).ok());
  // Back-dating covers a peer whose clock is behind, back to the root's own start (5 minutes
  // before it was made); the node certificate starts an hour back.
  EXPECT_TRUE(root_->Verify(cert, kNow - 4min).ok());
  auto before_root = root_->Verify(cert, kNow - 6min);
  EXPECT_THAT(before_root.status().message(), HasSubstr("the root CA is not valid before"));
}

TEST_F(PkiTest, VerifyRefusesWithTheReason) {
  auto [key, cert] = Issue(*root_, kWorker, {}, kNow, 24h);
  auto expect_refused = [&](std::string_view pem, WallTime now, std::string_view why) {
    auto info = root_->Verify(pem, now);
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.status().code(), absl::StatusCode::kPermissionDenied) << info.status();
    EXPECT_THAT(info.status().message(), HasSubstr(why));
  };
  // Signed by another cluster's root (same subject CN=swarm-ca, other key).
  auto [other_key, foreign] = Issue(*other_, kWorker);
  expect_refused(foreign, kNow, "not signed by this cluster's root CA");
  // Expired: `now` past not_after (kNow + 24 h, rounded).
  expect_refused(cert, kNow + 25h, "expired at");
  // Not yet valid: before the back-dated not_before.
  expect_refused(cert, kNow - 2h, "not valid before");
  // The root itself is no node certificate.
  expect_refused(root_->cert_pem(), kNow, "CA certificate");
  // A chain with a certificate other than the root after the leaf.
  expect_refused(cert + other_->cert_pem(), kNow, "other than this cluster's root CA");
  // A forged signature: the leaf with its last signature byte changed.
  X509Ptr x = ParsePem(cert);
  const ASN1_BIT_STRING* sig = nullptr;
  X509_get0_signature(&sig, nullptr, x.get());
  std::string forged_sig(reinterpret_cast<const char*>(ASN1_STRING_get0_data(sig)),
                         static_cast<size_t>(ASN1_STRING_length(sig)));
  unsigned char* der = nullptr;
  int n = i2d_X509(x.get(), &der);
  std::string bytes(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  size_t at = bytes.rfind(forged_sig);
  ASSERT_NE(at, std::string::npos);
  bytes[at + forged_sig.size() - 5] ^= 0x01;  // inside the ECDSA s integer
  const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
  X509Ptr forged(d2i_X509(nullptr, &p, static_cast<long>(bytes.size())));
  ASSERT_NE(forged, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, forged.get());
  char* text = nullptr;
  long len = BIO_get_mem_data(bio, &text);
  std::string forged_pem(text, static_cast<size_t>(len));
  BIO_free(bio);
  expect_refused(forged_pem, kNow, "not signed by this cluster's root CA");
  expect_refused("garbage", kNow, "no certificate");
  expect_refused("", kNow, "no certificate");
}

TEST_F(PkiTest, FromPemChecksTheRootAndItsKey) {
  auto same = RootCa::FromPem(root_->cert_pem(), root_->key_pem());
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_TRUE(same->can_sign());
  EXPECT_EQ(same->Digest(), root_->Digest());
  // A root loaded from disk signs certificates the original verifies.
  auto [key, cert] = Issue(*same, kManager);
  EXPECT_TRUE(root_->Verify(cert, kNow).ok());

  auto mismatched = RootCa::FromPem(root_->cert_pem(), other_->key_pem());
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(mismatched.status().message(), HasSubstr("key does not match"));
  auto node_key = NewNodeKey("n1");
  ASSERT_TRUE(node_key.ok());
  EXPECT_EQ(RootCa::FromPem(root_->cert_pem(), node_key->key_pem).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RootCa::FromPem(root_->cert_pem(), "not a key").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto leaf = RootCa::FromPem(cert, "");
  EXPECT_EQ(leaf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(leaf.status().message(), HasSubstr("not a CA"));
  EXPECT_EQ(RootCa::FromPem(root_->cert_pem() + other_->cert_pem(), "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RootCa::FromPem("", "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PkiTest, DigestIsOverTheStoredBytes) {
  std::string pem = root_->cert_pem();
  EXPECT_THAT(root_->Digest(), ::testing::MatchesRegex("sha256:[0-9a-f]{64}"));
  // The same certificate with CRLF line ends is the same certificate but another digest:
  // swarmkit hashes the text, so a token names one exact text.
  std::string crlf;
  for (char c : pem) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  auto crlf_root = RootCa::FromPem(crlf, "");
  ASSERT_TRUE(crlf_root.ok()) << crlf_root.status();
  EXPECT_NE(crlf_root->Digest(), root_->Digest());
}

TEST(JoinTokenTest, DockersRootGivesTheTokenDigestPart) {
  auto root = RootCa::FromPem(kDockerRoot, "");
  ASSERT_TRUE(root.ok()) << root.status();
  std::string secret = "0117z3s2ytr6egmmnlr6gd37n";
  std::string token = FormatJoinToken(root->Digest(), secret);
  EXPECT_EQ(token, absl::StrCat("SWMTKN-1-", kDockerRootBase36, "-", secret));
  auto parsed = ParseJoinToken(token);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ca_digest, kDockerRootDigest);
  EXPECT_EQ(parsed->secret, secret);
  EXPECT_TRUE(CheckRootAgainstToken(*parsed, kDockerRoot).ok());
}

TEST(JoinTokenTest, SwarmkitsOwnTokensReadAndWriteBack) {
  // From swarmkit's README and ca/config_test.go; their digests computed with Python.
  struct {
    const char* token;
    const char* digest;
  } cases[] = {
      {"SWMTKN-1-3vi7ajem0jed8guusgvyl98nfg18ibg4pclify6wzac6ucrhg3-0117z3s2ytr6egmmnlr6gd37n",
       "sha256:9b7ab9889d419f005d114713572a48a9643597064f53e689ee4439506c41b513"},
      {"SWMTKN-1-1kxftv4ofnc6mt30lmgipg6ngf9luhwqopfk1tz6bdmnkubg0e-4myj5xihyto11dg1cn55w8p61",
       "sha256:3f72881f0095fc4e38ad6749af77f610c0b2d0506554c559a64b1b47935ac3ce"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseJoinToken(c.token);
    ASSERT_TRUE(parsed.ok()) << c.token << ": " << parsed.status();
    EXPECT_EQ(parsed->ca_digest, c.digest);
    EXPECT_EQ(FormatJoinToken(parsed->ca_digest, parsed->secret), c.token);
  }
}

TEST(JoinTokenTest, RoundTripWithNewSecrets) {
  auto root = RootCa::Create(kNow);
  ASSERT_TRUE(root.ok());
  std::set<std::string> secrets;
  for (int i = 0; i < 50; ++i) {
    std::string secret = NewTokenSecret();
    ASSERT_THAT(secret, ::testing::MatchesRegex("[0-9a-z]{25}"));
    secrets.insert(secret);
    std::string token = FormatJoinToken(root->Digest(), secret);
    ASSERT_THAT(token, ::testing::MatchesRegex("SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}"));
    auto parsed = ParseJoinToken(token);
    ASSERT_TRUE(parsed.ok()) << token;
    EXPECT_EQ(parsed->ca_digest, root->Digest());
    EXPECT_EQ(parsed->secret, secret);
  }
  EXPECT_EQ(secrets.size(), 50u);
  // All-zero digest and secret: the padding carries the whole value.
  std::string zeros = "sha256:" + std::string(64, '0');
  std::string token = FormatJoinToken(zeros, std::string(25, '0'));
  EXPECT_EQ(token, "SWMTKN-1-" + std::string(50, '0') + "-" + std::string(25, '0'));
  auto parsed = ParseJoinToken(token);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->ca_digest, zeros);
}

TEST(JoinTokenTest, MalformedTokensAreInvalid) {
  const std::string d50 = kDockerRootBase36;
  const std::string s25 = "0117z3s2ytr6egmmnlr6gd37n";
  const std::vector<std::string> bad = {
      "",
      "invalidtoken",
      "SWMTKN",
      "SWMTKN-1",
      "SWMTKN-1-" + d50,
      "SWMTKN-1-" + d50 + "-",
      "SWMTKM-1-" + d50 + "-" + s25,                 // wrong prefix
      "swmtkn-1-" + d50 + "-" + s25,                 // prefix is case-sensitive
      "SWMTKN-0-" + d50 + "-" + s25,                 // unknown version
      "SWMTKN-2-" + d50 + "-" + s25,                 // version 2 has five parts
      "SWMTKN-2-0-" + d50 + "-" + s25,               // FIPS-era v2: never issued by Berth
      "SWMTKN-1-" + d50 + "-" + s25 + "-x",          // extra part
      "SWMTKN-1-" + d50.substr(1) + "-" + s25,       // digest 49 characters
      "SWMTKN-1-0" + d50 + "-" + s25,                // digest 51 characters
      "SWMTKN-1-" + d50 + "-" + s25.substr(1),       // secret 24 (swarmkit's "mistyped" case)
      "SWMTKN-1-" + d50 + "-" + s25 + "0",           // secret 26
      "SWMTKN-1-" + d50.substr(0, 49) + "_-" + s25,  // not base 36
      "SWMTKN-1-" + d50.substr(0, 49) + "+-" + s25,
      "SWMTKN-1-+" + d50.substr(1) + "-" + s25,  // Go's SetString sign: still not a digit
      "SWMTKN-1-" + d50 + "-" + s25.substr(0, 24) + "!",
      "SWMTKN-1-" + d50 + "-" + s25.substr(0, 24) + "N",  // secrets are lower case
      "SWMTKN-1-" + std::string(50, 'z') + "-" + s25,     // past 2^256: no sha256 digest
      " SWMTKN-1-" + d50 + "-" + s25,
      "SWMTKN-1-" + d50 + "-" + s25 + "\n",
      "SWMTKN-1-3wkodtpeoipd1u1hi0ykdcdwhw16dk73ulqqtn14b3indz68rf-4myj5xihyto11dg1cn55w8p6",
  };
  for (const std::string& t : bad) {
    auto parsed = ParseJoinToken(t);
    ASSERT_FALSE(parsed.ok()) << "accepted: " << t;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << t;
    EXPECT_EQ(parsed.status().message(), "invalid join token") << t;
  }
  // Go reads the digest's letters case-insensitively; so does Berth (the secret is compared as
  // text by the manager, so it is not).
  std::string upper = d50;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto parsed = ParseJoinToken("SWMTKN-1-" + upper + "-" + s25);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->ca_digest, kDockerRootDigest);
}

TEST_F(PkiTest, CheckRootAgainstTokenRefusesAForgedRoot) {
  auto token = ParseJoinToken(FormatJoinToken(root_->Digest(), NewTokenSecret()));
  ASSERT_TRUE(token.ok());
  EXPECT_TRUE(CheckRootAgainstToken(*token, root_->cert_pem()).ok());
  Status forged = CheckRootAgainstToken(*token, other_->cert_pem());
  EXPECT_EQ(forged.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(forged.message(),
            "remote CA does not match fingerprint. Expected: " + root_->Digest().substr(7));
  // The right root with another certificate riding along is refused too.
  EXPECT_EQ(CheckRootAgainstToken(*token, root_->cert_pem() + other_->cert_pem()).code(),
            absl::StatusCode::kPermissionDenied);
  std::string trimmed = root_->cert_pem();
  trimmed.pop_back();
  EXPECT_EQ(CheckRootAgainstToken(*token, trimmed).code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(PkiTest, SplitPemReturnsTheCertificatesInOrder) {
  auto [key, cert] = Issue(*root_, kManager);
  auto parts = SplitPem(cert + root_->cert_pem());
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_THAT(*parts, ElementsAre(cert, root_->cert_pem()));
  // Text between blocks and other block types (a key) are skipped.
  auto mixed = SplitPem("chain:\n" + cert + key.key_pem + root_->cert_pem() + "\n");
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_THAT(*mixed, ElementsAre(cert, root_->cert_pem()));
  auto docker = SplitPem(kDockerRoot);
  ASSERT_TRUE(docker.ok());
  EXPECT_THAT(*docker, ElementsAre(kDockerRoot));
  EXPECT_EQ(SplitPem("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SplitPem(key.key_pem).status().code(), absl::StatusCode::kInvalidArgument);
  std::string broken = cert;
  broken.replace(broken.find('\n') + 5, 4, "!!!!");
  EXPECT_EQ(SplitPem(broken).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCert(broken).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RenewalTimeTest, BetweenHalfAndFourFifthsOfTheLife) {
  const WallTime from = kNow;
  const WallTime until = kNow + kDefaultNodeCertExpiry;
  std::set<int64_t> seen;
  for (int i = 0; i < 200; ++i) {
    WallTime t = RenewalTime(from, until);
    EXPECT_GE(t, from + kDefaultNodeCertExpiry / 2);
    EXPECT_LT(t, from + kDefaultNodeCertExpiry * 8 / 10);
    seen.insert(UnixSeconds(t));
  }
  EXPECT_GT(seen.size(), 150u);  // random, so nodes do not renew together
  EXPECT_EQ(RenewalTime(from, from), from);
  EXPECT_EQ(RenewalTime(from, from - 1h), from);
  WallTime short_life = RenewalTime(from, from + 2s);
  EXPECT_EQ(short_life, from + 1s);
}

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-pki-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    old_umask_ = ::umask(0);  // the modes must not depend on the caller's umask
  }
  void TearDown() override {
    ::umask(old_umask_);
    std::filesystem::remove_all(dir_);
  }
  static int Mode(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static std::vector<std::string> List(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      out.push_back(e.path().filename());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string dir_;
  mode_t old_umask_ = 022;
};

TEST_F(SecretFileTest, CreatesDirectoriesAndFileWithPrivateModes) {
  std::string path = dir_ + "/swarm/certificates/swarm-node.key";
  ASSERT_TRUE(WriteSecretFile(path, "key one").ok());
  EXPECT_EQ(Read(path), "key one");
  EXPECT_EQ(Mode(path), 0600);
  EXPECT_EQ(Mode(dir_ + "/swarm"), 0700);
  EXPECT_EQ(Mode(dir_ + "/swarm/certificates"), 0700);
  EXPECT_THAT(List(dir_ + "/swarm/certificates"), ElementsAre("swarm-node.key"));
}

TEST_F(SecretFileTest, ReplacesAtomicallyAndTightensTheMode) {
  std::string path = dir_ + "/key.pem";
  {
    std::ofstream out(path);
    out << "old and longer content";
  }
  ::chmod(path.c_str(), 0644);
  ASSERT_TRUE(WriteSecretFile(path, "new").ok());
  EXPECT_EQ(Read(path), "new");
  EXPECT_EQ(Mode(path), 0600);
  // An existing directory keeps its mode (the data root is not ours to change).
  EXPECT_EQ(Mode(dir_), 0700);
  EXPECT_THAT(List(dir_), ElementsAre("key.pem"));  // no temporary file left
  ASSERT_TRUE(WriteSecretFile(path, std::string(100000, 'x')).ok());
  EXPECT_EQ(Read(path).size(), 100000u);
}

TEST_F(SecretFileTest, FailsCleanly) {
  std::string file = dir_ + "/plain";
  ASSERT_TRUE(WriteSecretFile(file, "x").ok());
  // A parent that is a file.
  EXPECT_FALSE(WriteSecretFile(file + "/key.pem", "x").ok());
  EXPECT_FALSE(WriteSecretFile(dir_ + "/dir/", "x").ok());
  // A target that is a directory: the rename fails and the temporary file is removed.
  ASSERT_EQ(::mkdir((dir_ + "/sub").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((dir_ + "/sub/key.pem").c_str(), 0700), 0);
  EXPECT_FALSE(WriteSecretFile(dir_ + "/sub/key.pem", "x").ok());
  EXPECT_THAT(List(dir_ + "/sub"), ElementsAre("key.pem"));
}

// A manager's and a worker's certificates from the same root make a mutual-TLS pair through
// the transport the cluster port uses; the server learns the worker's node id, role and
// cluster from the handshake, and the worker checks the manager by the name "swarm-manager".
TEST_F(PkiTest, NodeCertificatesMakeAMutualTlsPair) {
  char tmpl[] = "/tmp/berth-pki-tls-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() { std::filesystem::remove_all(dir); }
  } cleanup{dir};
  // OpenSSL checks validity against the real clock here.
  const WallTime now = std::chrono::system_clock::now();
  auto root = RootCa::Create(now);
  auto other = RootCa::Create(now);
  ASSERT_TRUE(root.ok() && other.ok());
  auto [mkey, mcert] = Issue(*root, kManager, {"127.0.0.1"}, now);
  auto [wkey, wcert] = Issue(*root, kWorker, {}, now);
  auto [rkey, rogue] = Issue(*other, kManager, {}, now);
  ASSERT_TRUE(WriteSecretFile(dir + "/ca.pem", root->cert_pem()).ok());
  ASSERT_TRUE(WriteSecretFile(dir + "/m.crt", mcert + root->cert_pem()).ok());
  ASSERT_TRUE(WriteSecretFile(dir + "/m.key", mkey.key_pem).ok());
  ASSERT_TRUE(WriteSecretFile(dir + "/w.crt", wcert).ok());
  ASSERT_TRUE(WriteSecretFile(dir + "/w.key", wkey.key_pem).ok());
  ASSERT_TRUE(WriteSecretFile(dir + "/r.crt", rogue).ok());
  ASSERT_TRUE(WriteSecretFile(dir + "/r.key", rkey.key_pem).ok());

  using transport::Stream;
  using transport::TlsConfig;
  using transport::TlsContext;
  auto server_ctx = TlsContext::Create(
      TlsContext::Role::kServer, TlsConfig{dir + "/ca.pem", dir + "/m.crt", dir + "/m.key", true});
  ASSERT_TRUE(server_ctx.ok()) << server_ctx.status();
  auto handshake = [&](const std::string& name, const std::string& server_name) {
    auto client_ctx = TlsContext::Create(
        TlsContext::Role::kClient,
        TlsConfig{dir + "/ca.pem", dir + "/" + name + ".crt", dir + "/" + name + ".key", true});
    EXPECT_TRUE(client_ctx.ok()) << client_ctx.status();
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    auto server = std::make_unique<Stream>(UniqueFd(sv[0]), *server_ctx);
    auto client = std::make_unique<Stream>(UniqueFd(sv[1]), *client_ctx, server_name);
    Status s;
    std::thread t([&] { s = server->Handshake(transport::After(5s)); });
    Status c = client->Handshake(transport::After(5s));
    if (!c.ok()) (void)client->CloseWrite();
    t.join();
    return std::make_tuple(s, c, server->peer(), client->peer());
  };

  auto [s, c, server_saw, client_saw] = handshake("w", "swarm-manager");
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(c.ok()) << c;
  EXPECT_TRUE(server_saw.verified);
  EXPECT_EQ(server_saw.common_name, kWorker.node_id);
  EXPECT_EQ(server_saw.organizational_unit, kWorkerRole);
  EXPECT_EQ(server_saw.organization, kWorker.cluster_id);
  EXPECT_TRUE(client_saw.verified);
  EXPECT_EQ(client_saw.organizational_unit, kManagerRole);
  EXPECT_THAT(client_saw.ip_addresses, ElementsAre("127.0.0.1"));
  // The manager is also reachable by its address (etcd's peers dial IPs).
  auto [s2, c2, unused1, unused2] = handshake("w", "127.0.0.1");
  EXPECT_TRUE(s2.ok() && c2.ok()) << s2 << " / " << c2;
  // A node of another cluster is refused.
  auto [s3, c3, unused3, unused4] = handshake("r", "swarm-manager");
  EXPECT_FALSE(s3.ok()) << "the manager accepted a node of another cluster";
  EXPECT_THAT(s3.message(), HasSubstr("certificate verify failed"));
  (void)c3;  // with TLS 1.3 the client may finish before the server refuses
}

}  // namespace
}  // namespace berth::cluster::pki
