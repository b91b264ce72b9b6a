#pragma once
// The store's records of volumes (kind "volume") and of each container's mounts (kind "mounts").

#include <string>
#include <vector>

#include "common/status.h"
#include "engine/volumes.h"

namespace berth::engine {

std::string VolumeDoc(const Volume& v);
StatusOr<Volume> VolumeFromDoc(const std::string& doc);
std::string MountsDoc(const std::vector<ContainerMount>& mounts);
std::vector<ContainerMount> MountsFromDoc(const std::string& doc);

}  // namespace berth::engine
