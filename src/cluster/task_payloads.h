#pragma once
// Where a node keeps the secrets and configs of its tasks: a tmpfs per task at
// <run_root>/<task id>, so a payload never reaches the node's disk (Docker's secrets directory).
// An interface, so that the runner's unit tests run unprivileged with an in-memory store.
//
// Threading: called from the task runner's workers, one task's directory from one thread at a
// time.

#include <memory>
#include <string>

#include "cluster/task_container.h"
#include "common/status.h"

namespace berth::cluster {

class PayloadStore {
 public:
  virtual ~PayloadStore() = default;
  // Creates dir and mounts a fresh tmpfs there (mode 0700, nodev, nosuid, noexec); one already
  // mounted there (a restarted berthd's) is kept.
  virtual Status Mount(const std::string& dir) = 0;
  // Writes one file (its parent directories made 0700) with its mode and owner.
  virtual Status Write(const PayloadFile& file) = 0;
  // Unmounts dir when it is mounted and removes it; a missing dir is fine.
  virtual Status Remove(const std::string& dir) = 0;
};

// The real one: mount(2) "tmpfs" (needs CAP_SYS_ADMIN, as berthd has).
std::unique_ptr<PayloadStore> NewTmpfsPayloadStore();

}  // namespace berth::cluster
