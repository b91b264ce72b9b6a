#include "cluster/pki/openssl_util.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <time.h>

#include <cstdio>

namespace berth::cluster::pki {
namespace internal {

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown error" : out;
}

namespace {

BioPtr MemBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

StatusOr<std::string> BioText(BIO* bio) {
  char* p = nullptr;
  long n = BIO_get_mem_data(bio, &p);
  if (n < 0 || p == nullptr) return absl::InternalError("PEM encoding: empty memory BIO");
  return std::string(p, static_cast<size_t>(n));
}

// The subject's first entry of type nid as UTF-8 ("" when absent).
std::string NameEntry(X509_NAME* name, int nid) {
  int i = X509_NAME_get_index_by_NID(name, nid, -1);
  if (i < 0) return "";
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return "";
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace

StatusOr<std::vector<X509Ptr>> ReadCerts(std::string_view pem, std::string_view what) {
  if (pem.size() > (1u << 24)) {
    return absl::InvalidArgumentError(absl::StrCat(Av(what), ": PEM text too large"));
  }
  BioPtr bio = MemBio(pem);
  std::vector<X509Ptr> certs;
  ERR_clear_error();
  for (;;) {
    X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (x == nullptr) break;
    certs.emplace_back(x);
  }
  // The loop ends at the end of the text (PEM_R_NO_START_LINE) or at a malformed block.
  unsigned long e = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
  if (e != 0 && !clean_end) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(what), ": malformed certificate PEM: ", OpenSslErrors()));
  }
  ERR_clear_error();
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(Av(what), ": no certificate in PEM text"));
  }
  return certs;
}

StatusOr<X509Ptr> ReadCert(std::string_view pem, std::string_view what) {
  ASSIGN_OR_RETURN(std::vector<X509Ptr> certs, ReadCerts(pem, what));
  return std::move(certs.front());
}

StatusOr<PkeyPtr> ReadPrivateKey(std::string_view pem, std::string_view what) {
  BioPtr bio = MemBio(pem);
  ERR_clear_error();
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(Av(what), ": not a PEM private key: ", OpenSslErrors()));
  }
  return key;
}

StatusOr<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return absl::InternalError(absl::StrCat("encode certificate: ", OpenSslErrors()));
  }
  return BioText(bio.get());
}

StatusOr<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return absl::InternalError(absl::StrCat("encode private key: ", OpenSslErrors()));
  }
  return BioText(bio.get());
}

WallTime FromAsn1Time(const ASN1_TIME* t) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return WallTime{};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

CertInfo InfoOf(X509* cert) {
  CertInfo info;
  X509_NAME* subject = X509_get_subject_name(cert);
  info.identity.node_id = NameEntry(subject, NID_commonName);
  info.identity.role = NameEntry(subject, NID_organizationalUnitName);
  info.identity.cluster_id = NameEntry(subject, NID_organizationName);
  info.not_before = FromAsn1Time(X509_get0_notBefore(cert));
  info.not_after = FromAsn1Time(X509_get0_notAfter(cert));
  GeneralNamesPtr sans(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
    if (gn->type == GEN_DNS) {
      const ASN1_IA5STRING* s = gn->d.dNSName;
      info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                  static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gn->d.iPAddress;
      int len = ASN1_STRING_length(s);
      char text[INET6_ADDRSTRLEN] = {};
      int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : -1;
      if (family >= 0 && inet_ntop(family, ASN1_STRING_get0_data(s), text, sizeof text)) {
        info.ip_addresses.emplace_back(text);
      }
    }
  }
  return info;
}

std::string Sha256Digest(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  // SHA-256 over memory cannot fail short of a broken OpenSSL.
  BERTH_CHECK(EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr) == 1);
  std::string out = "sha256:";
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

}  // namespace internal

StatusOr<CertInfo> ParseCert(std::string_view cert_pem) {
  ASSIGN_OR_RETURN(internal::X509Ptr cert, internal::ReadCert(cert_pem, "certificate"));
  return internal::InfoOf(cert.get());
}

StatusOr<std::vector<std::string>> SplitPem(std::string_view bundle) {
  ASSIGN_OR_RETURN(std::vector<internal::X509Ptr> certs,
                   internal::ReadCerts(bundle, "certificate bundle"));
  std::vector<std::string> out;
  for (const internal::X509Ptr& c : certs) {
    ASSIGN_OR_RETURN(std::string pem, internal::CertToPem(c.get()));
    out.push_back(std::move(pem));
  }
  return out;
}

}  // namespace berth::cluster::pki
