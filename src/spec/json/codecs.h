#pragma once
// The Go-shaped codec of each spec type (go_codec.h), shared by the parsers, renderers and the
// persistence codec of spec/json. Each is built once, on first use.

#include <vector>

#include "spec/container_create.h"
#include "spec/exec.h"
#include "spec/json/go_codec.h"

namespace berth::spec::json {

// container.Config's fields: the create body promotes them to its top level.
const std::vector<FieldSpec<ContainerConfig>>& ContainerConfigFields();
const Codec<ContainerConfig>& ContainerConfigCodec();
const Codec<HealthConfig>& HealthConfigCodec();  // also swarm.ContainerSpec's Healthcheck
const Codec<MountPoint>& MountPointCodec();

const std::vector<FieldSpec<Resources>>& ResourcesFields();
const std::vector<FieldSpec<HostConfig>>& HostConfigFields();
const Codec<HostConfig>& HostConfigCodec();
const Codec<RestartPolicy>& RestartPolicyCodec();
const Codec<Mount>& MountCodec();
const Codec<UpdateConfig>& UpdateConfigCodec();

const Codec<EndpointSettings>& EndpointSettingsCodec();
const Codec<NetworkingConfig>& NetworkingConfigCodec();
const Codec<IPAM>& IpamCodec();
const Codec<NetworkCreateRequest>& NetworkCreateRequestCodec();
const Codec<NetworkConnect>& NetworkConnectCodec();
const Codec<NetworkDisconnect>& NetworkDisconnectCodec();

const Codec<ExecConfig>& ExecConfigCodec();
const Codec<ExecStartCheck>& ExecStartCheckCodec();

}  // namespace berth::spec::json
