#include "cluster/secret_box.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cluster/pki/pki.h"
#include "sys/fs.h"

namespace berth::cluster {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr std::string_view kPrefix = "v1:";

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

Status CryptoError(std::string_view what) {
  return absl::InternalError(absl::StrCat(Av(what), ": OpenSSL failed"));
}

}  // namespace

StatusOr<SecretBox> SecretBox::FromKey(std::string_view key, const std::string& path) {
  if (key.size() != kKeyBytes)
    return absl::DataLossError("the swarm's data key has the wrong length");
  if (!path.empty()) RETURN_IF_ERROR(pki::WriteSecretFile(path, key));
  return SecretBox(std::string(key));
}

StatusOr<SecretBox> SecretBox::Generate(const std::string& path) {
  std::string key(kKeyBytes, '\0');
  if (RAND_bytes(U(key), static_cast<int>(key.size())) != 1) return CryptoError("data key");
  return FromKey(key, path);
}

StatusOr<SecretBox> SecretBox::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::string key, sys::ReadFile(path));
  return FromKey(key, "");
}

StatusOr<std::string> SecretBox::Seal(std::string_view plain, std::string_view record_id) const {
  std::string out(kNonceBytes + plain.size() + kTagBytes, '\0');
  if (RAND_bytes(U(out), kNonceBytes) != 1) return CryptoError("nonce");
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key_), U(out)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(record_id),
                        static_cast<int>(record_id.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), U(out) + kNonceBytes, &len, U(plain),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), U(out) + kNonceBytes + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          U(out) + kNonceBytes + plain.size()) != 1)
    return CryptoError("seal");
  return absl::StrCat(Av(kPrefix), absl::Base64Escape(out));
}

StatusOr<std::string> SecretBox::Open(std::string_view sealed, std::string_view record_id) const {
  std::string raw;
  if (!absl::StartsWith(Av(sealed), Av(kPrefix)) ||
      !absl::Base64Unescape(Av(sealed.substr(kPrefix.size())), &raw) ||
      raw.size() < kNonceBytes + kTagBytes)
    return absl::DataLossError("a sealed value in the cluster store is malformed");
  size_t n = raw.size() - kNonceBytes - kTagBytes;
  std::string plain(n, '\0');
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  std::string tag = raw.substr(kNonceBytes + n);
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key_), U(raw)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(record_id),
                        static_cast<int>(record_id.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), U(plain), &len, U(raw) + kNonceBytes, static_cast<int>(n)) !=
          1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, U(tag)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), U(plain) + len, &len) != 1)
    return absl::DataLossError(
        "a sealed value in the cluster store does not open with this "
        "manager's data key");
  return plain;
}

}  // namespace berth::cluster
