#pragma once
// Internal to the PKI component: owners for OpenSSL objects, PEM and DER conversions, and what a
// certificate says (CertInfo). Nothing outside src/cluster/pki includes it.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/pki/pki.h"
#include "common/status.h"

namespace berth::cluster::pki::internal {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;

// OpenSSL's error queue as one line ("; "-separated), emptied; "unknown error" when empty.
std::string OpenSslErrors();

// The certificates of a PEM text, in order (blocks of other types are skipped). InvalidArgument
// for a malformed certificate block or when there is none.
StatusOr<std::vector<X509Ptr>> ReadCerts(std::string_view pem, std::string_view what);
// The first certificate of a PEM text.
StatusOr<X509Ptr> ReadCert(std::string_view pem, std::string_view what);
StatusOr<PkeyPtr> ReadPrivateKey(std::string_view pem, std::string_view what);
StatusOr<std::string> CertToPem(X509* cert);
StatusOr<std::string> KeyToPem(EVP_PKEY* key);

// Seconds since the epoch <-> ASN1_TIME.
WallTime FromAsn1Time(const ASN1_TIME* t);

// What a certificate says: subject CN/OU/O, validity, subjectAltName DNS and IP entries.
CertInfo InfoOf(X509* cert);

// "sha256:<64 lowercase hex>" of data.
std::string Sha256Digest(std::string_view data);

}  // namespace berth::cluster::pki::internal
