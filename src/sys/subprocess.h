#pragma once
// Spawning helper programs (runc, nft, berth-shim) without a shell.

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace berth::sys {

struct SpawnOptions {
  // fd numbers in the child -> fd in the parent (-1 = /dev/null). 0, 1 and 2 default to /dev/null.
  std::vector<std::pair<int, int>> fds;
  std::string cwd;
  std::vector<std::string> env;  // empty: inherit
  // Non-zero: the signal the child gets when the thread that spawned it ends (PR_SET_PDEATHSIG;
  // berthd's own death included). Spawn from a thread that lives as long as the child should.
  int parent_death_signal = 0;
};

// Starts argv[0] (looked up in PATH) and returns the child's pid; an exec failure is an error
// here. The child gets exactly the fds listed (and 0-2), an empty signal mask, and inherits
// ignored signals. posix_spawn (vfork-like: nothing of the parent is copied), or fork+exec
// when a parent death signal is asked for. A file without a #! line is not run by /bin/sh.
StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const SpawnOptions& opts = {});

struct RunResult {
  int exit_code = -1;  // 128+signal when signalled
  std::string out;
  std::string err;
};
// Runs to completion, feeding `input` to stdin and collecting stdout/stderr.
StatusOr<RunResult> Run(const std::vector<std::string>& argv, std::string_view input = {});
// waitpid with EINTR handled; returns the exit code (128+signal when signalled).
StatusOr<int> Wait(pid_t pid);

}  // namespace berth::sys
