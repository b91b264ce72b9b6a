#pragma once
// Small helpers shared by the container manager's files.

#include <cstdint>
#include <map>
#include <string>
#include <vector>


namespace berth::engine {

// Docker's "adjective_scientist" name for a container or service created without one.
std::string RandomName();
// "KILL", "SIGKILL", "9" -> 9; `fallback` for ""; -1 for an unknown name or number.
int ParseSignal(const std::string& s, int fallback);
// A container's /etc/hosts before its network adds lines.
extern const char* const kHosts;
// The shim's exit file: "<code> <finished unix nanos>".
bool ReadExitFile(const std::string& state_dir, int* code, int64_t* nanos);

}  // namespace berth::engine
