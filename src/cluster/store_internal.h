#pragma once
// What store.cc and store_services.cc share: record decoding and Docker's conflict error.

#include "cluster/etcd/client.h"
#include "common/status.h"
#include "spec/service.h"
#include "spec/swarm.h"

namespace berth::cluster {

// A node record with its Version.Index set to the key's mod revision.
StatusOr<spec::Node> DecodeNode(const etcd::KeyValue& kv);
// swarmkit's answer to a write at a version that is not the record's.
Status OutOfSequence();
// A service record: the API's JSON (Version.Index zeroed, no ServiceStatus) and, beside it,
// Berth's sealed registry auths ("BerthRegistryAuth", "BerthPreviousRegistryAuth").
std::string EncodeServiceRecord(spec::Service s);
StatusOr<spec::Service> DecodeServiceRecord(std::string_view text);

}  // namespace berth::cluster
