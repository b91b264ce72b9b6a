#pragma once
// Docker Engine API 1.41 container configuration, field for field as moby 20.10 declares it
// (api/types/container/config.go, go-connections/nat). Plain structs: the JSON side lives in
// spec/json/, so the engine can take these without seeing a JSON library.
//
// Conventions across src/spec: a Go pointer is a std::optional; a Go slice or map that Docker
// renders as `null` when nil and `[]`/`{}` when empty (no `omitempty`) is a std::optional
// container, so inspect shows what the client sent; an `omitempty` slice or map is a plain
// container (nil and empty both vanish). Go's `int` is 64-bit here, so it is int64_t.
// std::map/std::set keep keys sorted, which is also the order Go renders map keys in.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace berth::spec {

using StringMap = std::map<std::string, std::string>;

// strslice.StrSlice: Go decodes it from a JSON string ("sh") or an array (["sh", "-c"]).
using StrSlice = std::vector<std::string>;

// nat.PortSet: "80/tcp" -> {}.
using PortSet = std::set<std::string>;

// nat.PortBinding.
struct PortBinding {
  std::string host_ip;  // "HostIp"
  std::string host_port;
  bool operator==(const PortBinding&) const = default;
};

// nat.PortMap: "80/tcp" -> bindings; a null value (exposed, not published) stays distinct from [].
using PortMap = std::map<std::string, std::optional<std::vector<PortBinding>>>;

// container.HealthConfig. Durations are Go time.Duration: nanoseconds.
struct HealthConfig {
  std::vector<std::string> test;  // omitempty; ["NONE"], ["CMD", ...], ["CMD-SHELL", "..."]
  int64_t interval = 0;
  int64_t timeout = 0;
  int64_t start_period = 0;
  int64_t retries = 0;
  bool operator==(const HealthConfig&) const = default;
};

// container.Config: what the image and the client say the container runs.
struct ContainerConfig {
  std::string hostname;
  std::string domainname;
  std::string user;
  bool attach_stdin = false;
  bool attach_stdout = false;
  bool attach_stderr = false;
  PortSet exposed_ports;  // omitempty
  bool tty = false;
  bool open_stdin = false;
  bool stdin_once = false;
  std::optional<std::vector<std::string>> env;
  std::optional<StrSlice> cmd;
  std::optional<HealthConfig> healthcheck;  // omitempty
  bool args_escaped = false;                // omitempty (Windows)
  std::string image;
  std::optional<std::set<std::string>> volumes;  // map[string]struct{}
  std::string working_dir;
  std::optional<StrSlice> entrypoint;
  bool network_disabled = false;  // omitempty
  std::string mac_address;        // omitempty
  std::optional<std::vector<std::string>> on_build;
  std::optional<StringMap> labels;
  std::string stop_signal;             // omitempty
  std::optional<int64_t> stop_timeout;  // omitempty; seconds
  StrSlice shell;                      // omitempty
  bool operator==(const ContainerConfig&) const = default;
};

// types.MountPoint: one entry of the top-level "Mounts" list that container inspect shows.
struct MountPoint {
  std::string type;  // omitempty
  std::string name;  // omitempty
  std::string source;
  std::string destination;
  std::string driver;  // omitempty
  std::string mode;
  bool rw = false;  // "RW"
  std::string propagation;
  bool operator==(const MountPoint&) const = default;
};

// Returns the container, or an empty one for std::nullopt: for reading optional lists and maps.
template <class C>
const C& OrEmpty(const std::optional<C>& c) {
  static const C kEmpty{};
  return c ? *c : kEmpty;
}

}  // namespace berth::spec
