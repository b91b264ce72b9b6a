#include "spec/json/container_json.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/text.h"
#include "spec/json/codecs.h"
#include "spec/json/container_wrapper.h"

namespace berth::spec {

using json::Json;

namespace {

bool IsContainerMode(std::string_view mode) {
  std::vector<absl::string_view> parts = absl::StrSplit(Av(mode), absl::MaxSplits(':', 1));
  return parts.size() > 1 && parts[0] == "container";
}

Status Invalid(std::string_view message) { return absl::InvalidArgumentError(Av(message)); }

// Docker's names.RestrictedNamePattern, ^[a-zA-Z0-9][a-zA-Z0-9_.-]+$ after an optional "/":
// note the "+", so a one-character name is refused too.
constexpr const char* kContainerNameChars = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

bool ValidContainerName(std::string_view name) {
  if (!name.empty() && name[0] == '/') name.remove_prefix(1);
  if (name.size() < 2 || !absl::ascii_isalnum(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

// runconfig's validateNetMode, validateIsolation, validateQoS and the part of
// validateResources that needs no kernel facts (moby 20.10, runconfig/hostconfig*.go).
Status ValidateCreate(const ContainerConfig& c, const HostConfig& hc) {
  std::vector<absl::string_view> parts = absl::StrSplit(Av(hc.network_mode), ':');
  if (parts[0] == "container" && (parts.size() < 2 || parts[1].empty())) {
    return Invalid("Invalid network mode: invalid container format container:<name|id>");
  }
  bool container = IsContainerMode(hc.network_mode);
  bool host = hc.network_mode == "host";
  if (container && !c.hostname.empty()) return Invalid("conflicting options: hostname and the network mode");
  if (container && !OrEmpty(hc.links).empty()) {
    return Invalid(
        "conflicting options: container type network can't be used with links. This would "
        "result in undefined behavior");
  }
  if (container && !OrEmpty(hc.dns).empty()) return Invalid("conflicting options: dns and the network mode");
  if (container && !OrEmpty(hc.extra_hosts).empty()) {
    return Invalid("conflicting options: custom host-to-IP mapping and the network mode");
  }
  if ((container || host) && !c.mac_address.empty()) {
    return Invalid("conflicting options: mac-address and the network mode");
  }
  if (container && (!OrEmpty(hc.port_bindings).empty() || hc.publish_all_ports)) {
    return Invalid("conflicting options: port publishing and the container type network mode");
  }
  if (container && !c.exposed_ports.empty()) {
    return Invalid("conflicting options: port exposing and the container type network mode");
  }
  if (hc.uts_mode == "host" && !c.hostname.empty()) {
    return Invalid("conflicting options: hostname and the UTS mode");
  }
  if (host && !OrEmpty(hc.links).empty()) {
    return Invalid(
        "conflicting options: host type networking can't be used with links. This would result "
        "in undefined behavior");
  }
  if (!hc.isolation.empty() && absl::AsciiStrToLower(hc.isolation) != "default") {
    return Invalid(absl::StrCat("Invalid isolation: ", GoQuote(hc.isolation),
                                " - linux only supports 'default'"));
  }
  if (hc.resources.io_maximum_bandwidth != 0) {
    return Invalid("Invalid QoS settings: linux does not support configuration of maximum bandwidth");
  }
  if (hc.resources.io_maximum_iops != 0) {
    return Invalid("Invalid QoS settings: linux does not support configuration of maximum IOPs");
  }
  const Resources& r = hc.resources;
  if (r.cpu_realtime_period != 0 && r.cpu_realtime_runtime != 0 &&
      r.cpu_realtime_runtime > r.cpu_realtime_period) {
    return Invalid("cpu real-time runtime cannot be higher than cpu real-time period");
  }
  return absl::OkStatus();
}

}  // namespace

StatusOr<ContainerCreateRequest> ParseContainerCreate(std::string_view body, std::string_view name) {
  // Docker 20.10 hands Go's own "EOF" back for an empty body here.
  ASSIGN_OR_RETURN(json::GoValue v, json::ReadGoJson(body, json::GoJsonMode::kDecoder));
  return json::DecodeContainerCreate(v, name, /*validate=*/true);
}

StatusOr<UpdateConfig> ParseContainerUpdate(std::string_view body) {
  ASSIGN_OR_RETURN(UpdateConfig update, json::ParseRequestBody(body, json::UpdateConfigCodec()));
  // "Both `0` and `-1` are accepted to set 'unlimited' when updating" (Docker's route).
  if (update.resources.pids_limit && *update.resources.pids_limit <= 0) update.resources.pids_limit = 0;
  return update;
}

StatusOr<ContainerConfig> ParseContainerConfig(std::string_view text) {
  return json::ParseRequestBody(text, json::ContainerConfigCodec());
}

StatusOr<HostConfig> ParseHostConfig(std::string_view text) {
  return json::ParseRequestBody(text, json::HostConfigCodec());
}

Json RenderContainerConfig(const ContainerConfig& config) {
  return json::ContainerConfigCodec().encode(config);
}

Json RenderHostConfig(const HostConfig& host_config) { return json::HostConfigCodec().encode(host_config); }

Json RenderMountPoint(const MountPoint& mount) { return json::MountPointCodec().encode(mount); }

Json RenderMountPoints(const std::vector<MountPoint>& mounts) {
  Json a = Json::array();
  for (const auto& m : mounts) a.push_back(RenderMountPoint(m));
  return a;
}

Json RenderContainerCreateBody(const ContainerCreateRequest& request) {
  return json::EncodeContainerCreateBody(request);
}

Json RenderUpdateConfig(const UpdateConfig& update) { return json::UpdateConfigCodec().encode(update); }

namespace json {

namespace {

// runconfig.ContainerConfigWrapper: *container.Config embedded, the inner HostConfig, the old
// top-level Cpuset, NetworkingConfig, and *container.HostConfig embedded too (old clients put
// HostConfig fields at the top level).
struct Wrapper {
  std::optional<ContainerConfig> config;
  std::optional<HostConfig> inner_host_config;
  std::string cpuset;
  std::optional<NetworkingConfig> networking_config;
  std::optional<HostConfig> host_config;
};

const Codec<Wrapper>& WrapperCodec() {
  static const auto* codec = new Codec<Wrapper>(Struct<Wrapper>(
      "ContainerConfigWrapper", "runconfig.ContainerConfigWrapper",
      Concat<Wrapper>({PromoteOptional(&Wrapper::config, ContainerConfigFields()),
                       {Field("HostConfig", &Wrapper::inner_host_config, Optional(HostConfigCodec()), true),
                        Field("Cpuset", &Wrapper::cpuset, String(), true),
                        Field("NetworkingConfig", &Wrapper::networking_config,
                              Optional(NetworkingConfigCodec()), true)},
                       PromoteOptional(&Wrapper::host_config, HostConfigFields())})));
  return *codec;
}

// runconfig's getHostConfig: the inner HostConfig wins; a few top-level fields fill its gaps.
std::optional<HostConfig> MergedHostConfig(Wrapper& w) {
  std::optional<HostConfig> hc = std::move(w.host_config);
  if (!hc && w.inner_host_config) {
    hc = std::move(w.inner_host_config);
  } else if (w.inner_host_config) {
    Resources& inner = w.inner_host_config->resources;
    if (hc->resources.memory != 0 && inner.memory == 0) inner.memory = hc->resources.memory;
    if (hc->resources.memory_swap != 0 && inner.memory_swap == 0) inner.memory_swap = hc->resources.memory_swap;
    if (hc->resources.cpu_shares != 0 && inner.cpu_shares == 0) inner.cpu_shares = hc->resources.cpu_shares;
    if (!hc->resources.cpuset_cpus.empty() && inner.cpuset_cpus.empty()) {
      inner.cpuset_cpus = hc->resources.cpuset_cpus;
    }
    if (!hc->volume_driver.empty() && w.inner_host_config->volume_driver.empty()) {
      w.inner_host_config->volume_driver = hc->volume_driver;
    }
    hc = std::move(w.inner_host_config);
  }
  if (hc) {
    if (!w.cpuset.empty() && hc->resources.cpuset_cpus.empty()) hc->resources.cpuset_cpus = w.cpuset;
    if (hc->network_mode.empty()) hc->network_mode = "default";
  }
  return hc;
}

}  // namespace

StatusOr<ContainerCreateRequest> DecodeContainerCreate(const GoValue& v, std::string_view name,
                                                       bool validate) {
  Wrapper w;
  RETURN_IF_ERROR(DecodeValue(v, WrapperCodec(), w));
  std::optional<HostConfig> hc = MergedHostConfig(w);
  if (w.config && hc && !w.config->volumes) w.config->volumes.emplace();
  if (validate && hc) {
    static const ContainerConfig kNoConfig;
    RETURN_IF_ERROR(ValidateCreate(w.config ? *w.config : kNoConfig, *hc));
  }
  if (!w.config) return Invalid("Config cannot be empty in order to create a container");
  if (validate && !name.empty() && !ValidContainerName(name)) {
    // Docker checks the name last, when it reserves it (daemon/names.go).
    return Invalid(absl::StrCat("Invalid container name (", Av(name), "), only ",
                                kContainerNameChars, " are allowed"));
  }
  ContainerCreateRequest request;
  request.name = std::string(name);
  request.config = std::move(*w.config);
  request.host_config = std::move(hc);
  request.networking_config = std::move(w.networking_config);
  return request;
}

Json EncodeContainerCreateBody(const ContainerCreateRequest& request) {
  Wrapper w;
  w.config = request.config;
  w.inner_host_config = request.host_config;
  w.networking_config = request.networking_config;
  return WrapperCodec().encode(w);
}

}  // namespace json
}  // namespace berth::spec
