#pragma once
// The create body's wrapper, shared by the request parser and the persistence codec.

#include <string_view>

#include "spec/container_create.h"
#include "spec/json/go_codec.h"

namespace berth::spec::json {

// Decodes a ContainerConfigWrapper value; validate adds the checks Docker makes on create
// (stored specs were checked when they were created).
StatusOr<ContainerCreateRequest> DecodeContainerCreate(const GoValue& v, std::string_view name,
                                                       bool validate);
// The wrapper as clients send it: Config fields, then HostConfig and NetworkingConfig.
Json EncodeContainerCreateBody(const ContainerCreateRequest& request);

}  // namespace berth::spec::json
