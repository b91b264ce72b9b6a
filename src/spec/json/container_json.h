#pragma once
// Container requests and inspect sections as Docker's JSON. Parsers take the request text and
// answer InvalidArgument with Docker 20.10's / Go's wording (the API maps it to 400);
// renderers give nlohmann::ordered_json in Docker's key order (Go struct order) with Docker's
// null-vs-empty choices.

#include <string_view>
#include <vector>

#include "common/status.h"
#include "nlohmann/json.hpp"
#include "spec/container_create.h"

namespace berth::spec {

// POST /containers/create?name=NAME. The body is Docker's runconfig.ContainerConfigWrapper:
// the Config fields at the top level, "HostConfig", "NetworkingConfig", plus the deprecated
// top-level HostConfig fields and "Cpuset" old clients sent, merged as Docker merges them.
// Then as Docker: NetworkMode "" becomes "default", Volumes becomes {} when there is a
// HostConfig, the network-mode conflicts are refused ("conflicting options: ..."), and a body
// without any Config field is "Config cannot be empty in order to create a container". A
// non-empty name must match Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]+ ("Invalid container name").
StatusOr<ContainerCreateRequest> ParseContainerCreate(std::string_view body, std::string_view name);

// POST /containers/{id}/update (container.UpdateConfig). A PidsLimit <= 0 becomes 0
// (unlimited), as Docker's route does.
StatusOr<UpdateConfig> ParseContainerUpdate(std::string_view body);

// One container.Config / container.HostConfig JSON object on its own (image configs, stored
// specs).
StatusOr<ContainerConfig> ParseContainerConfig(std::string_view text);
StatusOr<HostConfig> ParseHostConfig(std::string_view text);

// The "Config" and "HostConfig" sections of container inspect, and one entry of its "Mounts".
nlohmann::ordered_json RenderContainerConfig(const ContainerConfig& config);
nlohmann::ordered_json RenderHostConfig(const HostConfig& host_config);
nlohmann::ordered_json RenderMountPoint(const MountPoint& mount);
nlohmann::ordered_json RenderMountPoints(const std::vector<MountPoint>& mounts);
// The create body as a client sends it (the name is not in it: it goes in the query).
nlohmann::ordered_json RenderContainerCreateBody(const ContainerCreateRequest& request);
nlohmann::ordered_json RenderUpdateConfig(const UpdateConfig& update);

}  // namespace berth::spec
