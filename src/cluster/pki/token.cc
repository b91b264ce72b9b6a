// Join tokens exactly as swarmkit's GenerateJoinToken and ParseJoinToken (ca/config.go) write
// and read them: "SWMTKN-1-" + the root digest's 256-bit integer in base 36, zero-padded to 50
// characters + "-" + 16 random bytes in base 36, zero-padded to 25.

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>

#include "cluster/pki/openssl_util.h"
#include "cluster/pki/pki.h"

namespace berth::cluster::pki {
namespace {

using internal::BnPtr;

constexpr std::string_view kTokenPrefix = "SWMTKN";
constexpr std::string_view kDigestPrefix = "sha256:";
constexpr size_t kBase36DigestLen = 50;  // swarmkit's base36DigestLen
constexpr size_t kSecretLen = 25;        // swarmkit's maxGeneratedSecretLength
constexpr size_t kSecretBytes = 16;      // swarmkit's generatedSecretEntropyBytes
constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";

// n in base 36 (Go's big.Int.Text(36): lower case), zero-padded on the left to width.
std::string ToBase36(const BIGNUM* n, size_t width) {
  BnPtr v(BN_dup(n));
  BERTH_CHECK(v != nullptr);
  std::string out;
  while (!BN_is_zero(v.get())) {
    BN_ULONG r = BN_div_word(v.get(), 36);
    BERTH_CHECK(r != static_cast<BN_ULONG>(-1));
    out += kDigits[r];
  }
  if (out.size() < width) out.append(width - out.size(), '0');
  std::reverse(out.begin(), out.end());
  return out;
}

int Base36Digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  return -1;
}

// Go's big.Int.SetString(s, 36) reads upper-case letters as lower-case ones; the digest part is
// read the same way. nullptr for anything that is not base 36.
BnPtr FromBase36(std::string_view s) {
  BnPtr n(BN_new());
  BERTH_CHECK(n != nullptr);
  for (char c : s) {
    int d = Base36Digit(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    if (d < 0) return nullptr;
    BERTH_CHECK(BN_mul_word(n.get(), 36) == 1 && BN_add_word(n.get(), d) == 1);
  }
  return n;
}

bool IsHexDigest(std::string_view d) {
  if (d.size() != kDigestPrefix.size() + 64 || d.substr(0, kDigestPrefix.size()) != kDigestPrefix) {
    return false;
  }
  return std::all_of(d.begin() + kDigestPrefix.size(), d.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool IsSecret(std::string_view s) {
  return s.size() == kSecretLen &&
         std::all_of(s.begin(), s.end(), [](char c) { return Base36Digit(c) >= 0; });
}

Status InvalidToken() { return absl::InvalidArgumentError("invalid join token"); }

}  // namespace

std::string NewTokenSecret() {
  unsigned char bytes[kSecretBytes];
  // Without randomness there is no safe token; this cannot happen on Linux with getrandom(2).
  BERTH_CHECK(RAND_bytes(bytes, sizeof bytes) == 1);
  BnPtr n(BN_bin2bn(bytes, sizeof bytes, nullptr));
  BERTH_CHECK(n != nullptr);
  return ToBase36(n.get(), kSecretLen);
}

std::string FormatJoinToken(std::string_view ca_digest, std::string_view secret) {
  // Both come from this component (RootCa::Digest, NewTokenSecret or a parsed token): anything
  // else is a broken invariant, not bad input.
  BERTH_CHECK(IsHexDigest(ca_digest));
  BERTH_CHECK(IsSecret(secret));
  std::string hex(ca_digest.substr(kDigestPrefix.size()));
  BIGNUM* raw = nullptr;
  BERTH_CHECK(BN_hex2bn(&raw, hex.c_str()) == 64);
  BnPtr n(raw);
  return absl::StrCat(Av(kTokenPrefix), "-1-", ToBase36(n.get(), kBase36DigestLen), "-",
                      Av(secret));
}

StatusOr<JoinToken> ParseJoinToken(std::string_view token) {
  // "SWMTKN-1-<digest>-<secret>". swarmkit also reads "SWMTKN-2-<fips>-..." (FIPS clusters),
  // which Berth never issues: refused like any other malformed token.
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t dash = token.find('-', start);
    parts.push_back(token.substr(start, dash == std::string_view::npos ? dash : dash - start));
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  if (parts.size() != 4 || parts[0] != kTokenPrefix || parts[1] != "1") return InvalidToken();
  std::string_view digest = parts[2];
  std::string_view secret = parts[3];
  if (digest.size() != kBase36DigestLen || !IsSecret(secret)) return InvalidToken();
  BnPtr n = FromBase36(digest);
  // 50 base-36 digits hold up to ~2^258: a value past 256 bits is no sha256 digest.
  if (n == nullptr || BN_num_bits(n.get()) > 256) return InvalidToken();

  unsigned char bytes[32];
  BERTH_CHECK(BN_bn2binpad(n.get(), bytes, sizeof bytes) == 32);
  static constexpr char kHex[] = "0123456789abcdef";
  JoinToken out;
  out.ca_digest = std::string(kDigestPrefix);
  for (unsigned char b : bytes) {
    out.ca_digest += kHex[b >> 4];
    out.ca_digest += kHex[b & 0xf];
  }
  out.secret = std::string(secret);
  return out;
}

Status CheckRootAgainstToken(const JoinToken& token, std::string_view root_pem) {
  // The digest covers the whole text the manager showed (swarmkit's GetRemoteCA), so no extra
  // certificate can ride along with a matching one.
  std::string digest = internal::Sha256Digest(root_pem);
  if (digest != token.ca_digest) {
    std::string expected =
        token.ca_digest.substr(std::min(token.ca_digest.size(), kDigestPrefix.size()));
    return absl::PermissionDeniedError(
        absl::StrCat("remote CA does not match fingerprint. Expected: ", expected));
  }
  return absl::OkStatus();
}

}  // namespace berth::cluster::pki
