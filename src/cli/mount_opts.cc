#include "cli/mount_opts.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "cli/opts.h"

namespace berth::cli {
namespace {

using nlohmann::json;

// Go's strconv.ParseBool.
bool ParseBool(const std::string& v, bool* out) {
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") *out = true;
  else if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False") *out = false;
  else return false;
  return true;
}

}  // namespace

StatusOr<json> ParseMountFlag(const std::string& value) {
  json m = {{"Type", "volume"}};
  json bind = json::object(), volume = json::object(), tmpfs = json::object();
  auto volume_driver = [&]() -> json& {
    if (!volume.contains("DriverConfig")) volume["DriverConfig"] = json::object();
    return volume["DriverConfig"];
  };
  for (absl::string_view field_view : absl::StrSplit(value, ',')) {
    std::string field(field_view);
    std::vector<std::string> kv = absl::StrSplit(field, absl::MaxSplits('=', 1));
    std::string key = absl::AsciiStrToLower(kv[0]);
    if (kv.size() == 1) {
      // A bare boolean flag means true.
      if (key == "readonly" || key == "ro") {
        m["ReadOnly"] = true;
        continue;
      }
      if (key == "volume-nocopy") {
        volume["NoCopy"] = true;
        continue;
      }
      if (key == "bind-nonrecursive") {
        bind["NonRecursive"] = true;
        continue;
      }
      return absl::InvalidArgumentError("invalid field '" + field + "' must be a key=value pair");
    }
    const std::string& val = kv[1];
    bool b = false;
    if (key == "type") m["Type"] = val;
    else if (key == "source" || key == "src") m["Source"] = val;
    else if (key == "target" || key == "dst" || key == "destination") m["Target"] = val;
    else if (key == "readonly" || key == "ro") {
      if (!ParseBool(val, &b)) return absl::InvalidArgumentError("invalid value for " + key + ": " + val);
      m["ReadOnly"] = b;
    } else if (key == "consistency") m["Consistency"] = val;
    else if (key == "bind-propagation") bind["Propagation"] = absl::AsciiStrToLower(val);
    else if (key == "bind-nonrecursive") {
      if (!ParseBool(val, &b)) return absl::InvalidArgumentError("invalid value for " + key + ": " + val);
      bind["NonRecursive"] = b;
    } else if (key == "volume-nocopy") {
      if (!ParseBool(val, &b)) return absl::InvalidArgumentError("invalid value for volume-nocopy: " + val);
      volume["NoCopy"] = b;
    } else if (key == "volume-label") {
      std::vector<std::string> l = absl::StrSplit(val, absl::MaxSplits('=', 1));
      volume["Labels"][l[0]] = l.size() > 1 ? l[1] : "";
    } else if (key == "volume-driver") volume_driver()["Name"] = val;
    else if (key == "volume-opt") {
      std::vector<std::string> o = absl::StrSplit(val, absl::MaxSplits('=', 1));
      volume_driver()["Options"][o[0]] = o.size() > 1 ? o[1] : "";
    } else if (key == "tmpfs-size") {
      auto size = RamInBytes(val);
      if (!size.ok()) return absl::InvalidArgumentError("invalid value for " + key + ": " + val);
      tmpfs["SizeBytes"] = *size;
    } else if (key == "tmpfs-mode") {
      char* end = nullptr;
      unsigned long mode = std::strtoul(val.c_str(), &end, 8);
      if (val.empty() || *end != '\0' || mode > 0xffffffffUL)
        return absl::InvalidArgumentError("invalid value for " + key + ": " + val);
      tmpfs["Mode"] = static_cast<uint32_t>(mode);
    } else {
      return absl::InvalidArgumentError("unexpected key '" + key + "' in '" + field + "'");
    }
  }
  std::string type = m["Type"];
  if (!m.contains("Target")) return absl::InvalidArgumentError("target is required");
  if (!volume.empty() && type != "volume")
    return absl::InvalidArgumentError("cannot mix 'volume-*' options with mount type '" + type + "'");
  if (!bind.empty() && type != "bind")
    return absl::InvalidArgumentError("cannot mix 'bind-*' options with mount type '" + type + "'");
  if (!tmpfs.empty() && type != "tmpfs")
    return absl::InvalidArgumentError("cannot mix 'tmpfs-*' options with mount type '" + type + "'");
  if (!bind.empty()) m["BindOptions"] = bind;
  if (!volume.empty()) m["VolumeOptions"] = volume;
  if (!tmpfs.empty()) m["TmpfsOptions"] = tmpfs;
  return m;
}

}  // namespace berth::cli
