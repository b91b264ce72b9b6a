#pragma once
// VolumeStore: Docker's named volumes with the `local` driver. A volume's data is
// <data-root>/volumes/<name>/_data (Docker's layout); its record is in the Store (kind "volume"),
// and so is each container's resolved mounts (kind "mounts", keyed by the container id), which
// say who uses which volume. A local volume made with `-o type/device/o` (a tmpfs, a bind of a
// host path, any filesystem mount(2) takes) is mounted on _data when its first container starts
// and unmounted when its last one stops, as Docker's local driver.
//
// Threading: op_mu_ is the operation lock (taken first; held across the store, mounts and the
// copy-up, so two creates or a create and a remove never interleave); mu_ is the state lock over
// the maps, held only to read or change them. The container manager calls in without its own
// state lock.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "common/sync.h"
#include "engine/mount_points.h"
#include "engine/store.h"
#include "spec/container.h"
#include "spec/filters.h"
#include "spec/host_config.h"

namespace berth::engine {

struct Volume {
  std::string name;
  std::string driver = "local";
  std::optional<spec::StringMap> labels;
  std::optional<spec::StringMap> options;  // DriverOpts: type, device, o
  int64_t created = 0;                     // unix nanos
  std::string mountpoint;                  // <root>/<name>/_data
};

struct VolumeCreateRequest {
  std::string name;
  std::string driver;
  std::optional<spec::StringMap> driver_opts;
  std::optional<spec::StringMap> labels;
};

struct VolumePruneReport {
  std::vector<std::string> deleted;
  uint64_t space_reclaimed = 0;
};

// A container's mount as resolved at create.
struct ContainerMount {
  spec::MountPoint point;      // what inspect shows
  bool copy_data = false;      // volume: fill it from the image while it is empty
  bool create_source = false;  // bind from -v: make a missing host directory
  bool anonymous = false;      // volume without a name in the request: `rm -v` removes it
  std::string tmpfs_options;   // tmpfs
};

// What the container's runc spec gets at start.
struct StartMounts {
  std::vector<OciMount> mounts;
  std::string rootfs_propagation;  // "rshared"/"rslave" when a bind asks for it, else ""
};

class VolumeStore {
 public:
  VolumeStore(Store& store, const Clock& clock, std::string root);

  // Loads the records (before the containers recover).
  Status Recover();
  // After the containers recovered: forgets the mounts of containers that are gone and mounts
  // (or unmounts) local volumes to match the containers that run.
  void Reconcile(const std::set<std::string>& containers, const std::set<std::string>& running);

  StatusOr<Volume> Create(const VolumeCreateRequest& req);
  StatusOr<Volume> Get(const std::string& name);
  // Docker's filters: dangling, driver, label, name.
  StatusOr<std::vector<Volume>> List(const spec::Filters& filters);
  Status Remove(const std::string& name, bool force);
  // Unused volumes matching label / label!.
  StatusOr<VolumePruneReport> Prune(const spec::Filters& filters);
  // Ids of the containers that use the volume.
  std::vector<std::string> Users(const std::string& name);

  // Create: resolves the container's mounts (creating the volumes it names that do not exist
  // and one for each anonymous volume) and records them. Nothing is left behind on an error.
  StatusOr<std::vector<ContainerMount>> Attach(const std::string& id,
                                               const spec::ContainerConfig& config,
                                               const spec::HostConfig& host_config);
  // Remove: forgets the container's mounts; with remove_anonymous its anonymous volumes go too
  // (`rm -v`, `--rm`), unless another container uses them.
  void Detach(const std::string& id, bool remove_anonymous);
  // The container's mounts as inspect shows them (empty if it has none).
  std::vector<spec::MountPoint> MountPoints(const std::string& id);
  // Start: mounts the local volumes that need it, fills empty volumes from the image under
  // rootfs, makes missing -v sources, and returns the runc mounts.
  StatusOr<StartMounts> Mount(const std::string& id, const std::string& rootfs);
  // Stop: the container no longer uses its volumes' mounts (idempotent).
  void Unmount(const std::string& id);

 private:
  std::string DataDir(const std::string& name) const { return root_ + "/" + name + "/_data"; }
  StatusOr<Volume> CreateLocked(const VolumeCreateRequest& req) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  Status RemoveLocked(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // Mounts the volume's device on _data if it needs one and is not mounted yet.
  Status MountVolume(const Volume& v) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  void UnmountLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  std::vector<std::string> UsersLocked(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Store& store_;
  const Clock& clock_;
  const std::string root_;

  absl::Mutex op_mu_;
  StateMutex mu_;
  std::map<std::string, Volume> volumes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<ContainerMount>> mounts_ ABSL_GUARDED_BY(mu_);  // by container
  // Volumes mounted for running containers: name -> the container ids that use the mount.
  std::map<std::string, std::set<std::string>> active_ ABSL_GUARDED_BY(mu_);
};

// Whether a local volume with these options is mounted at first use.
bool NeedsMount(const Volume& v);

}  // namespace berth::engine
