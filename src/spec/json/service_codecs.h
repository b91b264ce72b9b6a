#pragma once
// The Go-shaped codecs of the service, task, secret and config types (spec/service.h), in moby
// 20.10's field order (api/types/swarm/{service,task,container,network,runtime,secret,
// config}.go). Built once, on first use.

#include "spec/json/go_codec.h"
#include "spec/service.h"

namespace berth::spec::json {

// float32 as Go reads and writes it: the value is rounded to a float on the way in, and
// rendered with a float's shortest digits ("0.2", not 0.20000000298023224), an integral value
// without a fraction ("0").
Codec<double> Float32Codec();

const Codec<TaskSpec>& TaskSpecCodec();
const Codec<ServiceSpec>& ServiceSpecCodec();
const Codec<Service>& ServiceCodec();
const Codec<Task>& TaskCodec();
const Codec<SecretSpec>& SecretSpecCodec();
const Codec<Secret>& SecretCodec();
const Codec<ConfigSpec>& ConfigSpecCodec();
const Codec<Config>& ConfigCodec();
const Codec<ServiceCreateResponse>& ServiceCreateResponseCodec();
const Codec<ServiceUpdateResponse>& ServiceUpdateResponseCodec();
const Codec<IdResponse>& IdResponseCodec();

}  // namespace berth::spec::json
