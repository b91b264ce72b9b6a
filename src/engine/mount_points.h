#pragma once
// A container's mounts as Docker works them out at create (moby volume/mounts, linux parser;
// daemon registerMountPoints): HostConfig.Binds ("src:dst[:mode]"), HostConfig.Mounts (--mount)
// and Config.Volumes (the image's VOLUMEs and `-v /path`), checked with Docker's messages. Pure:
// nothing here touches the host except the existence check of a --mount bind source.

#include <string>
#include <vector>

#include "common/status.h"
#include "spec/container.h"
#include "spec/host_config.h"

namespace berth::engine {

// One mount a container asked for, before any volume exists.
struct MountRequest {
  std::string type;         // "bind", "volume" or "tmpfs"
  std::string source;       // bind: the host path; volume: the name ("" = anonymous)
  std::string destination;  // cleaned
  bool rw = true;
  std::string mode;         // -v's raw mode ("ro,rshared"), "z" for a local volume without one
  std::string propagation;  // bind: rprivate unless asked; volume and tmpfs: ""
  bool copy_data = true;    // volume: copy the image's content into it while it is empty
  bool create_source = false;  // bind from -v: a missing host directory is created (Docker)
  std::string driver;          // volume: "" = local
  spec::StringMap driver_opts;
  spec::StringMap labels;       // volume: labels of a volume this mount creates
  std::string tmpfs_options;    // tmpfs: "size=64m,mode=1777" (moby ConvertTmpfsOptions)
  bool from_config = false;     // from Config.Volumes (inspect's Mode stays "")
};

// One entry of HostConfig.Binds. Errors are Docker's ("invalid volume specification: '...'",
// "invalid mode: ...").
StatusOr<MountRequest> ParseBind(const std::string& raw);
// One entry of HostConfig.Mounts ("invalid mount config for type \"bind\": ...").
StatusOr<MountRequest> ParseMount(const spec::Mount& m);
// Every mount of a container: binds, then Mounts, then Config.Volumes not mounted already;
// a destination given twice is "Duplicate mount point: DST".
StatusOr<std::vector<MountRequest>> CollectMounts(const spec::ContainerConfig& config,
                                                  const spec::HostConfig& host_config);

// Docker's rule for local volume names.
Status ValidVolumeName(const std::string& name);

// path.Clean of an absolute path.
std::string CleanPath(const std::string& p);

}  // namespace berth::engine

namespace berth::engine {

// One entry of runc's config.json "mounts".
struct OciMount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

}  // namespace berth::engine
