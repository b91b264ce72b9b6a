#include "api/transport/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace berth::transport {
namespace {

// Go's wording for a file that is not there, as docker prints it.
Status CheckReadable(const std::string& path) {
  if (::access(path.c_str(), R_OK) == 0) return absl::OkStatus();
  std::string err = std::strerror(errno);
  for (auto& c : err) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return absl::InvalidArgumentError(absl::StrCat("open ", path, ": ", err));
}

std::string Asn1ToUtf8(const ASN1_STRING* s) {
  unsigned char* out = nullptr;
  int n = ASN1_STRING_to_UTF8(&out, s);
  if (n < 0) return "";
  std::string text(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  return text;
}

}  // namespace

std::string OpenSslErrors() {
  std::string out;
  char buf[256];
  while (unsigned long e = ERR_get_error()) {
    // "error:0A000086:SSL routines::certificate verify failed": the reason is what people read.
    const char* reason = ERR_reason_error_string(e);
    if (reason == nullptr) {
      ERR_error_string_n(e, buf, sizeof buf);
      reason = buf;
    }
    if (!out.empty()) out += "; ";
    out += reason;
  }
  return out.empty() ? "unknown TLS error" : out;
}

StatusOr<std::shared_ptr<const TlsContext>> TlsContext::Create(Role role, const TlsConfig& cfg) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(role == Role::kServer ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + OpenSslErrors());
  // Owned from here on: every early return frees it.
  std::shared_ptr<const TlsContext> out(new TlsContext(role, cfg.verify_peer, ctx));

  // TLS 1.2 is docker's floor too. No renegotiation (a TLS 1.2 feature with a history of
  // attacks, and the only way a read could need a write); a peer that closes TCP without
  // close_notify reads as an ordinary end of stream, as it does for Go's clients.
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  if (!cfg.cert_file.empty() || !cfg.key_file.empty() || role == Role::kServer) {
    if (cfg.cert_file.empty() || cfg.key_file.empty()) {
      return absl::InvalidArgumentError(
          "TLS needs both a certificate and its key (--tlscert and --tlskey)");
    }
    Status readable = CheckReadable(cfg.cert_file);
    if (readable.ok()) readable = CheckReadable(cfg.key_file);
    if (readable.ok() &&
        (SSL_CTX_use_certificate_chain_file(ctx, cfg.cert_file.c_str()) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx, cfg.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(ctx) != 1)) {
      readable = absl::InvalidArgumentError(OpenSslErrors());
    }
    if (!readable.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("Could not load X509 key pair (cert: \"",
                                                     cfg.cert_file, "\", key: \"", cfg.key_file,
                                                     "\"): ", readable.message()));
    }
  }

  if (cfg.verify_peer) {
    if (cfg.ca_file.empty() && !cfg.system_cas && cfg.extra_ca_files.empty()) {
      return absl::InvalidArgumentError("TLS verification needs a CA certificate (--tlscacert)");
    }
    if (cfg.system_cas && SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return absl::InternalError("load the system CA certificates: " + OpenSslErrors());
    }
    std::vector<std::string> ca_files = cfg.extra_ca_files;
    if (!cfg.ca_file.empty()) ca_files.insert(ca_files.begin(), cfg.ca_file);
    for (const std::string& ca_file : ca_files) {
      Status readable = CheckReadable(ca_file);
      if (readable.ok() && SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
        readable = absl::InvalidArgumentError(OpenSslErrors());
      }
      if (!readable.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("Could not read CA certificate \"", ca_file, "\": ", readable.message()));
      }
    }
    if (role == Role::kServer) {
      SSL_CTX_set_verify(ctx,
                         cfg.client_cert_optional
                             ? SSL_VERIFY_PEER
                             : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                         nullptr);
      // Tells clients which CA their certificate must come from (Go picks its certificate by it).
      if (STACK_OF(X509_NAME)* names =
              cfg.ca_file.empty() ? nullptr : SSL_load_client_CA_file(cfg.ca_file.c_str()))
        SSL_CTX_set_client_CA_list(ctx, names);
    } else {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }

  if (role == Role::kServer) {
    // Clients are fresh processes that never resume a session: no TLS 1.3 session tickets, which
    // would otherwise arrive as post-handshake records at the client. The session id context is
    // required by OpenSSL whenever client certificates are verified.
    SSL_CTX_set_num_tickets(ctx, 0);
    static const unsigned char kSid[] = "berth-api";
    SSL_CTX_set_session_id_context(ctx, kSid, sizeof kSid - 1);
  }
  return out;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

PeerIdentity PeerIdentityOf(SSL* ssl) {
  PeerIdentity id;
  if (ssl == nullptr) return id;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return id;
  id.verified = SSL_get_verify_result(ssl) == X509_V_OK;
  X509_NAME* name = X509_get_subject_name(cert);
  if (BIO* mem = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(mem, name, 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    long n = BIO_get_mem_data(mem, &data);
    if (n > 0) id.subject.assign(data, static_cast<size_t>(n));
    BIO_free(mem);
  }
  auto field = [name](int nid) {
    int i = X509_NAME_get_index_by_NID(name, nid, -1);
    return i < 0 ? std::string() : Asn1ToUtf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
  };
  id.common_name = field(NID_commonName);
  id.organizational_unit = field(NID_organizationalUnitName);
  id.organization = field(NID_organizationName);
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
    if (gn->type == GEN_DNS) {
      id.dns_names.push_back(Asn1ToUtf8(gn->d.dNSName));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = gn->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int len = ASN1_STRING_length(ip);
      if ((len == 4 || len == 16) &&
          ::inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), text, sizeof text))
        id.ip_addresses.emplace_back(text);
    }
  }
  GENERAL_NAMES_free(sans);
  X509_free(cert);
  // The chain as sent (on a client, the server's leaf first; a server sees the client's chain
  // without its leaf, so the leaf is put in front there).
  auto pem_of = [](X509* c) {
    std::string out;
    if (BIO* mem = BIO_new(BIO_s_mem())) {
      if (PEM_write_bio_X509(mem, c) == 1) {
        char* data = nullptr;
        long n = BIO_get_mem_data(mem, &data);
        if (n > 0) out.assign(data, static_cast<size_t>(n));
      }
      BIO_free(mem);
    }
    return out;
  };
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (!SSL_is_server(ssl)) {
    for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i)
      id.chain_pem.push_back(pem_of(sk_X509_value(chain, i)));
  } else if (X509* leaf = SSL_get0_peer_certificate(ssl)) {
    id.chain_pem.push_back(pem_of(leaf));
    for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i)
      id.chain_pem.push_back(pem_of(sk_X509_value(chain, i)));
  }
  return id;
}

}  // namespace berth::transport
