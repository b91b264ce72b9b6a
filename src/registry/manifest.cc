// Registry documents: parsing what a registry serves (Docker schema 2 manifests and manifest
// lists, OCI manifests and indexes), platform specifiers as containerd's platforms package reads
// them, and the bytes of a manifest Docker would push.
#include "registry/manifest.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace berth::registry {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::string_view kSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
constexpr std::string_view kSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

// moby's DeprecatedSchema1ImageError without a reference (the caller adds "Suggest the author of
// <ref> ..." where it knows the reference).
Status Schema1Error() {
  return absl::InvalidArgumentError(
      "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been "
      "removed. More information at https://docs.docker.com/go/deprecated-image-specs/");
}

// Go's %q for the plain strings a platform specifier holds.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsKnownOs(std::string_view os) {
  static constexpr std::string_view kOses[] = {
      "aix",   "android", "darwin", "dragonfly", "freebsd", "hurd",    "illumos", "ios", "js",
      "linux", "nacl",    "netbsd", "openbsd",   "plan9",   "solaris", "windows", "zos"};
  return std::find(std::begin(kOses), std::end(kOses), os) != std::end(kOses);
}

bool IsKnownArch(std::string_view arch) {
  static constexpr std::string_view kArches[] = {
      "386",     "amd64",   "amd64p32", "arm",    "armbe",  "arm64",    "arm64be",   "ppc64",
      "ppc64le", "loong64", "mips",     "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le",
      "ppc",     "riscv",   "riscv64",  "s390",   "s390x",  "sparc",    "sparc64",   "wasm"};
  return std::find(std::begin(kArches), std::end(kArches), arch) != std::end(kArches);
}

std::string NormalizeOs(std::string_view os) {
  if (os.empty()) return "linux";
  std::string out = Lower(os);
  if (out == "macos") out = "darwin";
  return out;
}

// containerd's normalizeArch.
void NormalizeArch(std::string& arch, std::string& variant) {
  arch = Lower(arch);
  variant = Lower(variant);
  if (arch == "i386") {
    arch = "386";
    variant.clear();
  } else if (arch == "x86_64" || arch == "x86-64" || arch == "amd64") {
    arch = "amd64";
    if (variant == "v1") variant.clear();
  } else if (arch == "aarch64" || arch == "arm64") {
    arch = "arm64";
    if (variant == "8" || variant == "v8" || variant == "v8.0") variant.clear();
    if (variant == "9" || variant == "9.0" || variant == "v9.0") variant = "v9";
  } else if (arch == "armhf") {
    arch = "arm";
    variant = "v7";
  } else if (arch == "armel") {
    arch = "arm";
    variant = "v6";
  } else if (arch == "arm") {
    if (variant.empty() || variant == "7") variant = "v7";
    if (variant == "5" || variant == "6" || variant == "8") variant = "v" + variant;
  }
}

Platform Normalized(Platform p) {
  p.os = NormalizeOs(p.os);
  NormalizeArch(p.architecture, p.variant);
  return p;
}

bool SpecifierChars(std::string_view s, bool allow_dot) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
          (allow_dot && c == '.'))) {
      return false;
    }
  }
  return true;
}

bool ValidSha256Digest(std::string_view d) {
  if (d.size() != 71 || d.substr(0, 7) != "sha256:") return false;
  return std::all_of(d.begin() + 7, d.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Status Bad(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid manifest: ", Av(what)));
}

StatusOr<Platform> PlatformFromJson(const json& j) {
  if (!j.is_object()) return Bad("platform is not an object");
  Platform p;
  auto str = [&](const char* key, std::string* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return absl::OkStatus();
    if (!it->is_string()) return Bad(absl::StrCat("platform ", key, " is not a string"));
    *out = it->get<std::string>();
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(str("os", &p.os));
  RETURN_IF_ERROR(str("architecture", &p.architecture));
  RETURN_IF_ERROR(str("variant", &p.variant));
  RETURN_IF_ERROR(str("os.version", &p.os_version));
  if (auto it = j.find("os.features"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Bad("platform os.features is not an array");
    for (const auto& f : *it) {
      if (!f.is_string()) return Bad("platform os.features holds a non-string");
      p.os_features.push_back(f.get<std::string>());
    }
  }
  return p;
}

StatusOr<Descriptor> DescriptorFromJson(const json& j) {
  if (!j.is_object()) return Bad("descriptor is not an object");
  Descriptor d;
  if (auto it = j.find("mediaType"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) return Bad("descriptor mediaType is not a string");
    d.media_type = it->get<std::string>();
  }
  auto dg = j.find("digest");
  if (dg == j.end() || !dg->is_string()) return Bad("descriptor has no digest");
  d.digest = dg->get<std::string>();
  if (d.digest.rfind("sha256:", 0) != 0 && d.digest.find(':') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported digest algorithm: ", d.digest.substr(0, d.digest.find(':'))));
  }
  if (!ValidSha256Digest(d.digest)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid checksum digest format: ", d.digest));
  }
  auto sz = j.find("size");
  if (sz == j.end() || !sz->is_number_integer() || sz->get<int64_t>() < 0) {
    return Bad(absl::StrCat("descriptor ", d.digest, " has no valid size"));
  }
  d.size = sz->get<int64_t>();
  if (auto it = j.find("urls"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Bad("descriptor urls is not an array");
    for (const auto& u : *it) {
      if (!u.is_string()) return Bad("descriptor urls holds a non-string");
      d.urls.push_back(u.get<std::string>());
    }
  }
  if (auto it = j.find("annotations"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return Bad("descriptor annotations is not an object");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) return Bad("descriptor annotation is not a string");
      d.annotations[k] = v.get<std::string>();
    }
  }
  if (auto it = j.find("platform"); it != j.end() && !it->is_null()) {
    ASSIGN_OR_RETURN(Platform p, PlatformFromJson(*it));
    d.platform = std::move(p);
  }
  return d;
}

// The bare media type of a Content-Type header ("application/json; charset=utf-8" -> the first).
std::string BareMediaType(std::string_view ct) {
  auto semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && std::isspace(static_cast<unsigned char>(ct.front()))) ct.remove_prefix(1);
  while (!ct.empty() && std::isspace(static_cast<unsigned char>(ct.back()))) ct.remove_suffix(1);
  return Lower(ct);
}

bool IsIndexType(std::string_view mt) {
  return mt == media::kDockerManifestList || mt == media::kOciIndex;
}
bool IsManifestType(std::string_view mt) {
  return mt == media::kDockerManifest || mt == media::kOciManifest;
}
bool IsSchema1Type(std::string_view mt) { return mt == kSchema1 || mt == kSchema1Signed; }

ordered_json PlatformJson(const Platform& p) {
  ordered_json j;
  j["architecture"] = p.architecture;
  j["os"] = p.os;
  if (!p.os_version.empty()) j["os.version"] = p.os_version;
  if (!p.os_features.empty()) j["os.features"] = p.os_features;
  if (!p.variant.empty()) j["variant"] = p.variant;
  return j;
}

// A descriptor in the field order of Go's distribution.Descriptor.
ordered_json DescriptorJson(const Descriptor& d) {
  ordered_json j;
  j["mediaType"] = d.media_type;
  j["size"] = d.size;
  j["digest"] = d.digest;
  if (!d.urls.empty()) j["urls"] = d.urls;
  if (!d.annotations.empty()) {
    ordered_json a = ordered_json::object();
    for (const auto& [k, v] : d.annotations) a[k] = v;  // std::map: sorted, as Go marshals maps
    j["annotations"] = std::move(a);
  }
  if (d.platform) j["platform"] = PlatformJson(*d.platform);
  return j;
}

// Docker marshals manifests with json.MarshalIndent(m, "", "   ").
std::string Dump(const ordered_json& j) {
  return j.dump(3, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace

std::string media::AcceptHeader() {
  std::string out;
  for (std::string_view mt : {kDockerManifestList, kDockerManifest, kOciIndex, kOciManifest}) {
    if (!out.empty()) out += ", ";
    out += mt;
  }
  return out;
}

std::string Platform::String() const {
  std::string s = absl::StrCat(Av(os), "/", Av(architecture));
  if (!variant.empty()) absl::StrAppend(&s, "/", Av(variant));
  return s;
}

StatusOr<Platform> ParsePlatform(std::string_view s) {
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(Quote(s), Av(why), ": invalid argument"));
  };
  if (s.find('*') != std::string_view::npos) return invalid(": wildcards not yet supported");
  std::vector<std::string> parts;
  {
    std::string_view rest = s;
    while (parts.size() < 3) {
      auto slash = rest.find('/');
      if (slash == std::string_view::npos) break;
      parts.emplace_back(rest.substr(0, slash));
      rest.remove_prefix(slash + 1);
    }
    parts.emplace_back(rest);
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i == 0 && !SpecifierChars(parts[0], false)) {
      return absl::InvalidArgumentError(absl::StrCat(
          Quote(parts[0]), " is an invalid OS component of ", Quote(s),
          ": OSAndVersion specifier component must match "
          "\"^([A-Za-z0-9_-]+)(?:\\\\(([A-Za-z0-9_.%-]*)((?:\\\\+[A-Za-z0-9_.%-]+)*)\\\\))?$\": "
          "invalid argument"));
    }
    if (i > 0 && !SpecifierChars(parts[i], true)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Quote(parts[i]), " is an invalid component of ", Quote(s),
                       ": platform specifier component must match \"^[A-Za-z0-9_.-]+$\": "
                       "invalid argument"));
    }
  }
  Platform p;
  p.os = NormalizeOs(parts[0]);
  switch (parts.size()) {
    case 1:
      if (IsKnownOs(p.os)) {
        p.architecture = HostPlatform().architecture;
        return p;
      }
      p.architecture = parts[0];
      NormalizeArch(p.architecture, p.variant);
      if (p.architecture == "arm" && p.variant == "v7") p.variant.clear();
      if (IsKnownArch(p.architecture)) {
        p.os = HostPlatform().os;
        return p;
      }
      return invalid(": unknown operating system or architecture");
    case 2:
      p.architecture = parts[1];
      NormalizeArch(p.architecture, p.variant);
      if (p.architecture == "arm" && p.variant == "v7") p.variant.clear();
      return p;
    case 3:
      p.architecture = parts[1];
      p.variant = parts[2];
      NormalizeArch(p.architecture, p.variant);  // arm64/v8 -> arm64, as platforms.Normalize
      return p;
    default:
      return invalid(": cannot parse platform specifier");
  }
}

Platform HostPlatform() { return Platform{"linux", "amd64", "", "", {}}; }

bool PlatformMatches(const Platform& have, const Platform& want) {
  Platform h = Normalized(have), w = Normalized(want);
  if (h.os != w.os || h.architecture != w.architecture || h.variant != w.variant) return false;
  if (!w.os_version.empty() && !h.os_version.empty() && w.os_version != h.os_version) return false;
  return true;
}

StatusOr<ParsedManifest> ParseManifest(std::string_view content_type, std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("unsupported manifest format");
  }
  std::string mt;
  if (auto it = j.find("mediaType"); it != j.end() && it->is_string()) mt = it->get<std::string>();
  if (mt.empty()) {
    std::string ct = BareMediaType(content_type);
    if (IsIndexType(ct) || IsManifestType(ct) || IsSchema1Type(ct)) mt = ct;
  }
  int schema_version = 0;
  if (auto it = j.find("schemaVersion"); it != j.end() && it->is_number_integer()) {
    schema_version = it->get<int>();
  }
  if (mt.empty()) {  // OCI lets both omit it: tell by the shape
    if (schema_version == 1 || j.contains("fsLayers") || j.contains("signatures")) {
      mt = std::string(kSchema1);
    } else if (j.contains("manifests")) {
      mt = std::string(media::kOciIndex);
    } else if (j.contains("config") && j.contains("layers")) {
      mt = std::string(media::kOciManifest);
    } else {
      return absl::InvalidArgumentError("unsupported manifest format");
    }
  }
  if (IsSchema1Type(mt) || schema_version == 1) return Schema1Error();
  if (!IsIndexType(mt) && !IsManifestType(mt)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported manifest media type and no default available: ", mt));
  }
  if (schema_version != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported manifest format: schemaVersion ", schema_version));
  }
  ParsedManifest out;
  if (IsIndexType(mt)) {
    out.is_index = true;
    out.index.media_type = mt;
    auto it = j.find("manifests");
    if (it == j.end() || !it->is_array()) return Bad("index has no manifests array");
    for (const auto& e : *it) {
      ASSIGN_OR_RETURN(Descriptor d, DescriptorFromJson(e));
      out.index.manifests.push_back(std::move(d));
    }
    return out;
  }
  out.manifest.media_type = mt;
  auto cfg = j.find("config");
  if (cfg == j.end()) return Bad("manifest has no config");
  ASSIGN_OR_RETURN(out.manifest.config, DescriptorFromJson(*cfg));
  auto layers = j.find("layers");
  if (layers == j.end() || !layers->is_array()) return Bad("manifest has no layers array");
  for (const auto& l : *layers) {
    ASSIGN_OR_RETURN(Descriptor d, DescriptorFromJson(l));
    out.manifest.layers.push_back(std::move(d));
  }
  return out;
}

StatusOr<Descriptor> SelectPlatform(const ImageIndex& index, const Platform& want) {
  for (const Descriptor& d : index.manifests) {
    if (d.platform && PlatformMatches(*d.platform, want)) return d;
  }
  return absl::NotFoundError(absl::StrCat("no matching manifest for ", Normalized(want).String(),
                                          " in the manifest list entries"));
}

StatusOr<ImageConfigSummary> ParseImageConfig(std::string_view config) {
  json j = json::parse(config, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("invalid image configuration: not a JSON object");
  }
  ImageConfigSummary info;
  auto str = [&](const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  info.platform.os = str("os");
  info.platform.architecture = str("architecture");
  info.platform.variant = str("variant");
  info.platform.os_version = str("os.version");
  if (auto it = j.find("os.features"); it != j.end() && it->is_array()) {
    for (const auto& f : *it) {
      if (f.is_string()) info.platform.os_features.push_back(f.get<std::string>());
    }
  }
  auto rootfs = j.find("rootfs");
  if (rootfs == j.end() || !rootfs->is_object()) {
    return absl::InvalidArgumentError("invalid rootfs in image configuration");
  }
  auto ids = rootfs->find("diff_ids");
  if (ids == rootfs->end() || !ids->is_array()) {
    if (ids == rootfs->end() || ids->is_null()) return info;  // an image with no layers
    return absl::InvalidArgumentError("invalid rootfs in image configuration");
  }
  for (const auto& d : *ids) {
    if (!d.is_string()) return absl::InvalidArgumentError("invalid rootfs in image configuration");
    info.diff_ids.push_back(d.get<std::string>());
  }
  return info;
}

std::string RenderManifest(const ImageManifest& m) {
  ordered_json j;
  j["schemaVersion"] = m.schema_version;
  j["mediaType"] = m.media_type;
  j["config"] = DescriptorJson(m.config);
  j["layers"] = ordered_json::array();
  for (const Descriptor& l : m.layers) j["layers"].push_back(DescriptorJson(l));
  return Dump(j);
}

std::string RenderIndex(const ImageIndex& idx) {
  ordered_json j;
  j["schemaVersion"] = idx.schema_version;
  j["mediaType"] = idx.media_type;
  j["manifests"] = ordered_json::array();
  for (const Descriptor& d : idx.manifests) j["manifests"].push_back(DescriptorJson(d));
  return Dump(j);
}

}  // namespace berth::registry
