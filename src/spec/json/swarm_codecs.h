#pragma once
// The Go-shaped codecs of the swarm and node types (spec/swarm.h), in moby 20.10's field order
// (api/types/swarm/{swarm,node,common}.go). Built once, on first use.

#include <vector>

#include "spec/json/go_codec.h"
#include "spec/swarm.h"

namespace berth::spec::json {

// time.Time as Go marshals it (RFC 3339 with nanoseconds, "0001-01-01T00:00:00Z" for the zero
// time), held as Unix nanoseconds.
Codec<int64_t> TimeCodec();
// []byte: base64 (standard, padded) in JSON, the raw bytes in the string.
Codec<std::string> BytesCodec();

// Pieces the service, task, secret and config codecs share (service_codec.cc).
std::vector<FieldSpec<SwarmMeta>> MetaFields();  // swarm.Meta, embedded
std::vector<FieldSpec<Annotations>> AnnotationsFields();  // swarm.Annotations, embedded
Codec<SwarmVersion> VersionCodec();
Codec<LogDriver> DriverCodec();  // swarm.Driver
Codec<Platform> PlatformCodec();
Codec<NodeResources> ResourcesCodec();  // swarm.Resources

const Codec<SwarmSpec>& SwarmSpecCodec();
const Codec<ClusterInfo>& ClusterInfoCodec();
const Codec<Swarm>& SwarmCodec();
const Codec<SwarmInitRequest>& SwarmInitRequestCodec();
const Codec<SwarmJoinRequest>& SwarmJoinRequestCodec();
const Codec<NodeSpec>& NodeSpecCodec();
const Codec<Node>& NodeCodec();
const Codec<SwarmInfo>& SwarmInfoCodec();

}  // namespace berth::spec::json
