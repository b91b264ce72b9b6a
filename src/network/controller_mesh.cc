// The routing mesh and service VIPs on this node (swarm.h's SetMesh): being built, see issue 12.

#include "network/controller.h"

namespace berth::network {

Status Controller::SetMesh(const MeshSpec& mesh) {
  if (mesh.ingress_address.empty() && mesh.services.empty()) return absl::OkStatus();
  return absl::UnimplementedError("the routing mesh is not wired to the network controller yet");
}

}  // namespace berth::network
