#pragma once
// The container create request: POST /containers/create?name=NAME with Docker's
// ContainerConfigWrapper body (the Config fields at the top level, then HostConfig and
// NetworkingConfig).

#include <optional>
#include <string>

#include "spec/container.h"
#include "spec/host_config.h"
#include "spec/network.h"

namespace berth::spec {

struct ContainerCreateRequest {
  std::string name;  // from the query; may be empty
  ContainerConfig config;
  // Absent when the body had none (Docker then uses a zero HostConfig). When present its
  // NetworkMode is never empty ("default" if the client left it blank), as Docker sets it.
  std::optional<HostConfig> host_config;
  std::optional<NetworkingConfig> networking_config;
  bool operator==(const ContainerCreateRequest&) const = default;
};

}  // namespace berth::spec
