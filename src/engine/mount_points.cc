#include "engine/mount_points.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "sys/fs.h"

namespace berth::engine {
namespace {

const std::set<std::string>& PropagationModes() {
  static const std::set<std::string> k = {"private", "rprivate", "slave",
                                          "rslave",  "shared",   "rshared"};
  return k;
}

Status InvalidSpec(const std::string& raw) {
  return absl::InvalidArgumentError("invalid volume specification: '" + raw + "'");
}

Status MountConfigError(const spec::Mount& m, const std::string& why) {
  return absl::InvalidArgumentError("invalid mount config for type \"" + m.type + "\": " + why);
}

// moby linuxValidMountMode: comma-separated, at most one of each kind.
bool ValidMode(const std::string& mode) {
  if (mode.empty()) return true;
  int rw = 0, label = 0, prop = 0, copy = 0, consistency = 0;
  for (absl::string_view o : absl::StrSplit(mode, ',')) {
    if (o == "rw" || o == "ro") ++rw;
    else if (o == "z" || o == "Z") ++label;
    else if (PropagationModes().count(std::string(o))) ++prop;
    else if (o == "nocopy") ++copy;
    else if (o == "consistent" || o == "cached" || o == "delegated") ++consistency;
    else return false;
  }
  return rw <= 1 && label <= 1 && prop <= 1 && copy <= 1 && consistency <= 1;
}

bool HasOption(const std::string& mode, absl::string_view want) {
  for (absl::string_view o : absl::StrSplit(mode, ','))
    if (o == want) return true;
  return false;
}

std::string PropagationOf(const std::string& mode) {
  for (absl::string_view o : absl::StrSplit(mode, ','))
    if (PropagationModes().count(std::string(o))) return std::string(o);
  return "";
}

// moby ConvertTmpfsOptions: a size with the largest suffix that divides it, the mode in octal.
std::string TmpfsData(const spec::Mount& m) {
  std::vector<std::string> out;
  if (m.read_only) out.push_back("ro");
  if (m.tmpfs_options && m.tmpfs_options->mode != 0)
    out.push_back(absl::StrFormat("mode=%o", m.tmpfs_options->mode & 07777));
  if (m.tmpfs_options && m.tmpfs_options->size_bytes != 0) {
    int64_t size = m.tmpfs_options->size_bytes;
    std::string suffix;
    for (auto [s, d] : {std::pair<const char*, int64_t>{"g", 1LL << 30}, {"m", 1LL << 20}, {"k", 1LL << 10}})
      if (size % d == 0) {
        size /= d;
        suffix = s;
        break;
      }
    out.push_back(absl::StrCat("size=", size, suffix));
  }
  return absl::StrJoin(out, ",");
}

}  // namespace

std::string CleanPath(const std::string& p) {
  std::vector<std::string> parts;
  for (absl::string_view s : absl::StrSplit(p, '/', absl::SkipEmpty())) {
    if (s == ".") continue;
    if (s == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.emplace_back(s);
  }
  std::string out = absl::StrCat(absl::StartsWith(p, "/") ? "/" : "", absl::StrJoin(parts, "/"));
  return out.empty() ? "." : out;
}

Status ValidVolumeName(const std::string& name) {
  bool ok = name.size() >= 2 && absl::ascii_isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name)
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      "\"" + name +
      "\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" "
      "are allowed. If you intended to pass a host directory, use absolute path");
}

StatusOr<MountRequest> ParseMount(const spec::Mount& m) {
  if (m.target.empty()) return MountConfigError(m, "field Target must not be empty");
  if (m.target[0] != '/')
    return MountConfigError(m, "invalid mount path: '" + m.target + "' mount path must be absolute");
  if (CleanPath(m.target) == "/")
    return MountConfigError(m, "invalid specification: destination can't be '/'");
  MountRequest r;
  r.type = m.type;
  r.destination = CleanPath(m.target);
  r.rw = !m.read_only;
  if (m.type == "bind") {
    if (m.source.empty()) return MountConfigError(m, "field Source must not be empty");
    if (m.bind_options && !m.bind_options->propagation.empty() &&
        !PropagationModes().count(m.bind_options->propagation))
      return MountConfigError(m, "invalid propagation mode: " + m.bind_options->propagation);
    if (m.volume_options) return MountConfigError(m, "field VolumeOptions must not be specified");
    if (m.tmpfs_options) return MountConfigError(m, "field TmpfsOptions must not be specified");
    if (m.source[0] != '/')
      return MountConfigError(m, "invalid mount path: '" + m.source + "' mount path must be absolute");
    if (m.bind_options && m.bind_options->non_recursive)
      return MountConfigError(m, "BindOptions.NonRecursive is not supported by Berth");
    r.source = CleanPath(m.source);
    r.propagation = m.bind_options && !m.bind_options->propagation.empty()
                        ? m.bind_options->propagation
                        : "rprivate";
    return r;
  }
  if (m.type == "volume") {
    if (m.bind_options) return MountConfigError(m, "field BindOptions must not be specified");
    if (m.tmpfs_options) return MountConfigError(m, "field TmpfsOptions must not be specified");
    r.source = m.source;
    r.mode = "z";
    if (m.volume_options) {
      r.copy_data = !m.volume_options->no_copy;
      r.labels = m.volume_options->labels;
      if (m.volume_options->driver_config) {
        r.driver = m.volume_options->driver_config->name;
        r.driver_opts = m.volume_options->driver_config->options;
      }
    }
    return r;
  }
  if (m.type == "tmpfs") {
    if (m.bind_options) return MountConfigError(m, "field BindOptions must not be specified");
    if (m.volume_options) return MountConfigError(m, "field VolumeOptions must not be specified");
    if (!m.source.empty()) return MountConfigError(m, "field Source must not be specified");
    r.tmpfs_options = TmpfsData(m);
    return r;
  }
  if (m.type == "npipe") return MountConfigError(m, "mount type unknown");
  return MountConfigError(m, "mount type unknown");
}

StatusOr<MountRequest> ParseBind(const std::string& raw) {
  std::vector<std::string> arr = absl::StrSplit(raw, absl::MaxSplits(':', 3));
  if (arr[0].empty()) return InvalidSpec(raw);
  spec::Mount m;
  std::string mode;
  switch (arr.size()) {
    case 1:
      m.target = arr[0];
      break;
    case 2:
      if (ValidMode(arr[1])) return InvalidSpec(raw);  // "/foo:rw": a destination with a mode
      m.source = arr[0];
      m.target = arr[1];
      break;
    case 3:
      m.source = arr[0];
      m.target = arr[1];
      mode = arr[2];
      break;
    default:
      return InvalidSpec(raw);
  }
  if (!ValidMode(mode)) return absl::InvalidArgumentError("invalid mode: " + mode);
  m.type = absl::StartsWith(m.source, "/") ? "bind" : "volume";
  m.read_only = HasOption(mode, "ro");
  if (HasOption(mode, "nocopy")) m.volume_options.emplace().no_copy = true;
  if (std::string p = PropagationOf(mode); !p.empty()) m.bind_options.emplace().propagation = p;
  auto r = ParseMount(m);
  if (!r.ok()) return absl::InvalidArgumentError(absl::StrCat("invalid volume specification: '", raw, "': ",
                                                              r.status().message()));
  r->mode = mode;
  if (r->type == "volume" && r->mode.empty() && !r->source.empty()) r->mode = "z";
  r->create_source = r->type == "bind";
  return r;
}

StatusOr<std::vector<MountRequest>> CollectMounts(const spec::ContainerConfig& config,
                                                  const spec::HostConfig& hc) {
  std::vector<MountRequest> out;
  std::set<std::string> bound;
  for (const std::string& b : spec::OrEmpty(hc.binds)) {
    ASSIGN_OR_RETURN(MountRequest r, ParseBind(b));
    if (!bound.insert(r.destination).second)
      return absl::InvalidArgumentError("Duplicate mount point: " + r.destination);
    out.push_back(std::move(r));
  }
  for (const spec::Mount& m : hc.mounts) {
    ASSIGN_OR_RETURN(MountRequest r, ParseMount(m));
    if (r.type == "bind" && !sys::Exists(r.source))
      return MountConfigError(m, "bind source path does not exist: " + r.source);
    if (!bound.insert(r.destination).second)
      return absl::InvalidArgumentError("Duplicate mount point: " + r.destination);
    out.push_back(std::move(r));
  }
  for (const std::string& v : spec::OrEmpty(config.volumes)) {
    if (v.empty() || v[0] != '/')
      return absl::InvalidArgumentError("invalid mount config for type \"volume\": invalid mount path: '" +
                                        v + "' mount path must be absolute");
    std::string dst = CleanPath(v);
    if (dst == "/")
      return absl::InvalidArgumentError("invalid volume specification: '" + v +
                                        "': invalid mount config for type \"volume\": invalid "
                                        "specification: destination can't be '/'");
    if (!bound.insert(dst).second) continue;  // a bind or --mount there wins
    MountRequest r;
    r.type = "volume";
    r.destination = dst;
    r.from_config = true;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace berth::engine
