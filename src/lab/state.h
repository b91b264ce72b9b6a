#pragma once
// A lab's state file (/run/berth-lab/<name>/lab.json): the plan plus the pid of each node's
// berthd, so that separate `berth lab` invocations find what `lab up` made. It is rewritten
// atomically after every object `lab up` creates, so `lab down` can take apart a lab whose `up`
// failed half-way.
//
// Invocations that change a lab hold its lock (flock on /run/berth-lab/<name>/lock) for their
// whole run; read-only ones (ls, env, exec) do not take it.

#include <string>

#include "common/fd.h"
#include "common/status.h"
#include "lab/plan.h"

namespace berth::lab {

std::string EncodeState(const Lab& lab);
StatusOr<Lab> DecodeState(const std::string& text);

// NotFound "no lab named X (berth lab up --name X)" when there is no state file.
StatusOr<Lab> LoadLab(const std::string& name);
Status SaveLab(const Lab& lab);

class LabLock {
 public:
  // Blocks until the lock is ours. create: make the run directory of the lab if needed (`up`);
  // otherwise a lab without one is NotFound, so that a command on a lab that is gone leaves no
  // directory behind.
  static StatusOr<LabLock> Acquire(const std::string& name, bool create);

 private:
  explicit LabLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace berth::lab
