#pragma once
// A throwaway PKI for TLS tests, made with OpenSSL's API in a temp dir: a CA, a server
// certificate for 127.0.0.1 and localhost, a client certificate from the CA, and a client
// certificate from another CA (which the server must refuse). EC P-256 keys: fast to make.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace berth::testing {

struct TestPki {
  std::string dir;
  std::string ca;                       // CA certificate (PEM)
  std::string server_cert, server_key;  // CN=berthd, SAN IP:127.0.0.1, DNS:localhost
  std::string client_cert, client_key;  // CN=client-1 from the CA
  std::string rogue_cert, rogue_key;    // CN=rogue, from a CA the server does not trust

  ~TestPki() {
    if (!dir.empty()) std::system(("rm -rf " + dir).c_str());
  }
};

namespace pki_detail {

inline void AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) std::abort();
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// issuer == nullptr: self-signed CA.
inline X509* MakeCert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key,
                      const char* san, const char* eku) {
  static long serial = 1;
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("berth-test"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : x;
  X509_set_issuer_name(x, X509_get_subject_name(signer));
  AddExt(x, signer, NID_subject_key_identifier, "hash");
  if (issuer == nullptr) {
    AddExt(x, signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExt(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExt(x, signer, NID_authority_key_identifier, "keyid");
    AddExt(x, signer, NID_basic_constraints, "critical,CA:FALSE");
    AddExt(x, signer, NID_key_usage, "critical,digitalSignature");
    AddExt(x, signer, NID_ext_key_usage, eku);
    if (san != nullptr) AddExt(x, signer, NID_subject_alt_name, san);
  }
  X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256());
  return x;
}

inline void WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) std::abort();
  if (cert != nullptr) PEM_write_X509(f, cert);
  if (key != nullptr) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

}  // namespace pki_detail

inline void MakeTestPki(TestPki* p) {
  using namespace pki_detail;
  char tmpl[] = "/tmp/berth-pki-XXXXXX";
  p->dir = ::mkdtemp(tmpl);
  EVP_PKEY* ca_key = EVP_EC_gen("P-256");
  X509* ca = MakeCert(ca_key, "berth-test-ca", nullptr, nullptr, nullptr, nullptr);
  EVP_PKEY* other_ca_key = EVP_EC_gen("P-256");
  X509* other_ca = MakeCert(other_ca_key, "other-ca", nullptr, nullptr, nullptr, nullptr);
  EVP_PKEY* server_key = EVP_EC_gen("P-256");
  X509* server =
      MakeCert(server_key, "berthd", ca, ca_key, "IP:127.0.0.1,DNS:localhost", "serverAuth");
  EVP_PKEY* client_key = EVP_EC_gen("P-256");
  X509* client =
      MakeCert(client_key, "client-1", ca, ca_key, "DNS:client-1.test,IP:10.0.0.7", "clientAuth");
  EVP_PKEY* rogue_key = EVP_EC_gen("P-256");
  X509* rogue = MakeCert(rogue_key, "rogue", other_ca, other_ca_key, nullptr, "clientAuth");
  p->ca = p->dir + "/ca.pem";
  p->server_cert = p->dir + "/server-cert.pem";
  p->server_key = p->dir + "/server-key.pem";
  p->client_cert = p->dir + "/cert.pem";
  p->client_key = p->dir + "/key.pem";
  p->rogue_cert = p->dir + "/rogue-cert.pem";
  p->rogue_key = p->dir + "/rogue-key.pem";
  WritePem(p->ca, ca, nullptr);
  WritePem(p->server_cert, server, nullptr);
  WritePem(p->server_key, nullptr, server_key);
  WritePem(p->client_cert, client, nullptr);
  WritePem(p->client_key, nullptr, client_key);
  WritePem(p->rogue_cert, rogue, nullptr);
  WritePem(p->rogue_key, nullptr, rogue_key);
  for (X509* x : {ca, other_ca, server, client, rogue}) X509_free(x);
  for (EVP_PKEY* k : {ca_key, other_ca_key, server_key, client_key, rogue_key}) EVP_PKEY_free(k);
}

}  // namespace berth::testing
