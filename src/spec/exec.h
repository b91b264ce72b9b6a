#pragma once
// Docker Engine API 1.41 exec requests (api/types/configs.go ExecConfig, types.go ExecStartCheck).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace berth::spec {

// types.ExecConfig: the body of POST /containers/{id}/exec.
struct ExecConfig {
  std::string user;
  bool privileged = false;
  bool tty = false;
  bool attach_stdin = false;
  bool attach_stderr = false;
  bool attach_stdout = false;
  bool detach = false;
  std::string detach_keys;
  std::optional<std::vector<std::string>> env;
  std::string working_dir;
  std::optional<std::vector<std::string>> cmd;  // never empty once parsed
  // API 1.42 (`*[2]uint`, omitempty); docker 28 sends it with -t even to a 1.41 daemon.
  std::optional<std::array<uint64_t, 2>> console_size;
  bool operator==(const ExecConfig&) const = default;
};

// types.ExecStartCheck: the body of POST /exec/{id}/start.
struct ExecStartCheck {
  bool detach = false;
  bool tty = false;
  // API 1.42 (`*[2]uint`, omitempty); docker 28 sends it with -t. Height, width.
  std::optional<std::array<uint64_t, 2>> console_size;
  bool operator==(const ExecStartCheck&) const = default;
};

}  // namespace berth::spec
