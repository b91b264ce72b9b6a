#pragma once
// POST /containers/{id}/update as Docker does it (moby 20.10 daemon/update.go,
// container.UpdateContainer, verifyPlatformContainerResources with update=true): the pure part.
// Checking the request, merging it into the container's HostConfig with Docker's conflict rules,
// and the cgroup resources runc gets (at create and from `runc update`) live here so they can be
// tested without a container; ContainerManager::Update (container_lifecycle.cc) applies them.

#include <string>

#include "common/status.h"
#include "engine/host_options.h"
#include "spec/host_config.h"

namespace berth::engine {

// Docker's checks of the resources in an update body (InvalidArgument, Docker's words), plus the
// fields Docker's update ignores, which Berth refuses rather than drop (Devices, Ulimits, ...).
Status VerifyUpdate(const spec::UpdateConfig& update, const HostFacts& host);

// Merges `update` into `hc` as container.UpdateContainer does: zero fields leave a setting as it
// is. FailedPrecondition (409, as Docker's conflictingUpdateOptions) for a NanoCpus/CpuPeriod/
// CpuQuota mix with what is set, a memory limit above the swap limit already set without a new
// swap limit, or a restart policy for an AutoRemove container. `hc` is unchanged on error.
Status MergeUpdate(const spec::UpdateConfig& update, spec::HostConfig& hc);

// The swap limit runc gets: Docker's MemorySwap 0 with a memory limit means twice the limit,
// -1 unlimited; 0 when there is no memory limit.
int64_t EffectiveMemorySwap(const spec::Resources& r);

// runc's linux.resources (without devices) for these settings, as a JSON object: what
// BuildOciSpec writes at start and what `runc update --resources` reads for a live container.
std::string OciCgroupResourcesJson(const spec::Resources& r);

}  // namespace berth::engine
