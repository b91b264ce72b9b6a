// Image references with distribution/reference's grammar, written as a small hand parser rather
// than its regular expressions (std::regex recurses per character and would let a long argument
// overflow the stack). The grammar:
//
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [domain '/'] path-component ['/' path-component]*
//   domain           := host [':' port-number]
//   host             := domain-name | '[' IPv6 hex and colons ']'
//   domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//   path-component   := [a-z0-9]+ ( ([._] | __ | -+) [a-z0-9]+ )*
//   tag              := [\w][\w.-]{0,127}
//   digest           := algorithm ':' hex{32,}
#include "registry/reference.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace berth::registry {
namespace {

constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
constexpr std::string_view kOfficialRepoPrefix = "library/";
constexpr size_t kNameTotalLengthMax = 255;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> SplitSlash(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    size_t p = s.find('/');
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) return out;
    s.remove_prefix(p + 1);
  }
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsWord(char c) { return IsAlnum(c) || c == '_'; }
bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// [a-z0-9]+ ( ([._] | __ | -+) [a-z0-9]+ )*
bool ValidPathComponent(std::string_view s) {
  size_t i = 0;
  auto alnum_run = [&] {
    size_t start = i;
    while (i < s.size() && IsLowerAlnum(s[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < s.size()) {
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < s.size() && s[i] == '_') ++i;
    } else if (s[i] == '-') {
      while (i < s.size() && s[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

bool ValidDomainComponent(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '-'; });
}

std::vector<std::string_view> SplitDots(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    size_t p = s.find('.');
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) return out;
    s.remove_prefix(p + 1);
  }
}

// host [':' port]
bool ValidDomain(std::string_view s) {
  std::string_view host = s;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : s.substr(1, close - 1))
      if (!IsHex(c) && c != ':') return false;
    host = {};
    s.remove_prefix(close + 1);
  } else {
    size_t colon = s.find(':');
    host = s.substr(0, colon);
    s = colon == std::string_view::npos ? std::string_view() : s.substr(colon);
    for (std::string_view part : SplitDots(host))
      if (!ValidDomainComponent(part)) return false;
  }
  if (s.empty()) return true;
  if (s.front() != ':' || s.size() == 1) return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > 128 || !IsWord(t.front())) return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return IsWord(c) || c == '.' || c == '-'; });
}

// algorithm ':' hex{32,}, the shape distribution/reference accepts before go-digest looks.
bool DigestShape(std::string_view d) {
  size_t colon = d.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view alg = d.substr(0, colon), hex = d.substr(colon + 1);
  if (hex.size() < 32 || !std::all_of(hex.begin(), hex.end(), IsHex)) return false;
  bool want_alpha = true;
  for (char c : alg) {
    if (want_alpha) {
      if (!std::isalpha(static_cast<unsigned char>(c))) return false;
      want_alpha = false;
    } else if (c == '-' || c == '_' || c == '+' || c == '.') {
      want_alpha = true;
    } else if (!IsAlnum(c)) {
      return false;
    }
  }
  return !want_alpha;
}

struct Split {
  std::string_view name, tag, digest;
};

// Whether s matches the reference grammar as a whole; its pieces when it does.
bool MatchReference(std::string_view s, Split* out) {
  Split sp;
  size_t at = s.find('@');
  std::string_view rest = s;
  if (at != std::string_view::npos) {
    sp.digest = s.substr(at + 1);
    rest = s.substr(0, at);
    if (!DigestShape(sp.digest)) return false;
  }
  size_t slash = rest.rfind('/');
  size_t colon = rest.find(':', slash == std::string_view::npos ? 0 : slash);
  if (colon != std::string_view::npos) {
    sp.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (!ValidTag(sp.tag)) return false;
  }
  sp.name = rest;
  std::vector<std::string_view> parts = SplitSlash(rest);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (ValidPathComponent(parts[i])) continue;
    if (i == 0 && parts.size() > 1 && ValidDomain(parts[0])) continue;
    return false;
  }
  *out = sp;
  return true;
}

Status InvalidFormat() { return absl::InvalidArgumentError("invalid reference format"); }

// go-digest's Parse for the algorithms Berth stores (sha256 only).
Status CheckDigest(std::string_view d) {
  size_t colon = d.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == d.size())
    return absl::InvalidArgumentError("invalid checksum digest format");
  if (d.substr(0, colon) != "sha256") {
    return absl::InvalidArgumentError("unsupported digest algorithm");
  }
  std::string_view hex = d.substr(colon + 1);
  if (hex.size() != 64) return absl::InvalidArgumentError("invalid checksum digest length");
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return absl::InvalidArgumentError("invalid checksum digest format");
  return absl::OkStatus();
}

bool IsIdentifier(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return IsLowerAlnum(c) && IsHex(c); });
}

// distribution/reference's Parse of a name that already has its domain: pieces and errors.
StatusOr<Reference> ParseFull(std::string_view s) {
  if (s.empty())
    return absl::InvalidArgumentError("repository name must have at least one component");
  Split sp;
  if (!MatchReference(s, &sp)) {
    std::string lower = Lower(s);
    Split ignored;
    if (lower != s && MatchReference(lower, &ignored))
      return absl::InvalidArgumentError("repository name must be lowercase");
    return InvalidFormat();
  }
  if (sp.name.size() > kNameTotalLengthMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("repository name must not be more than ", kNameTotalLengthMax, " characters"));
  }
  if (!sp.digest.empty()) RETURN_IF_ERROR(CheckDigest(sp.digest));
  Reference r;
  size_t slash = sp.name.find('/');
  r.domain = std::string(sp.name.substr(0, slash));
  r.path = std::string(sp.name.substr(slash + 1));
  r.tag = std::string(sp.tag);
  r.digest = std::string(sp.digest);
  return r;
}

}  // namespace

std::string Reference::Name() const { return domain.empty() ? path : domain + "/" + path; }

std::string Reference::FamiliarName() const {
  if (domain != kDefaultDomain) return Name();
  if (path.starts_with(kOfficialRepoPrefix)) {
    std::string_view rest = std::string_view(path).substr(kOfficialRepoPrefix.size());
    if (rest.find('/') == std::string_view::npos) return std::string(rest);
  }
  return path;
}

namespace {
std::string Suffix(const Reference& r) {
  std::string s;
  if (!r.tag.empty()) s += ":" + r.tag;
  if (!r.digest.empty()) s += "@" + r.digest;
  return s;
}
}  // namespace

std::string Reference::String() const { return Name() + Suffix(*this); }
std::string Reference::FamiliarString() const { return FamiliarName() + Suffix(*this); }

StatusOr<Reference> ParseNormalized(std::string_view s) {
  if (IsIdentifier(s)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid repository name (", Av(s), "), cannot specify 64-byte hexadecimal strings"));
  }
  // splitDockerDomain: the first component is a domain when it has a '.' or ':', is
  // "localhost", or is not lowercase (uppercase is not allowed in a path).
  std::string domain;
  std::string remainder;
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) {
    domain = std::string(kDefaultDomain);
    remainder = std::string(kOfficialRepoPrefix) + std::string(s);
  } else {
    std::string_view first = s.substr(0, slash), rest = s.substr(slash + 1);
    if (first == "localhost") {
      domain = std::string(first);
      remainder = std::string(rest);
    } else if (first == kLegacyDefaultDomain) {
      domain = std::string(kDefaultDomain);
      remainder = std::string(rest);
    } else if (first.find_first_of(".:") != std::string_view::npos || Lower(first) != first) {
      domain = std::string(first);
      remainder = std::string(rest);
    } else {
      domain = std::string(kDefaultDomain);
      remainder = std::string(s);
    }
    if (domain == kDefaultDomain && remainder.find('/') == std::string::npos)
      remainder = std::string(kOfficialRepoPrefix) + remainder;
  }
  std::string_view remote = remainder;
  if (size_t colon = remote.find(':'); colon != std::string_view::npos)
    remote = remote.substr(0, colon);
  if (Lower(remote) != remote) {
    return absl::InvalidArgumentError(absl::StrCat("invalid reference format: repository name (",
                                                   Av(remote), ") must be lowercase"));
  }
  return ParseFull(domain + "/" + remainder);
}

Reference WithDefaultTag(Reference r) {
  if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
  return r;
}

bool ValidDigest(std::string_view d) { return d.starts_with("sha256:") && CheckDigest(d).ok(); }

}  // namespace berth::registry
