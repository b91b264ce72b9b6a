#pragma once
// Object identities as Docker has them: 64 lowercase hex ids, 12-character short ids, and the
// container name rule [a-zA-Z0-9][a-zA-Z0-9_.-]+.

#include <string>
#include <string_view>

namespace berth {

// 32 random bytes from getrandom(2), hex encoded.
std::string NewId();
inline std::string ShortId(std::string_view id) { return std::string(id.substr(0, 12)); }
bool IsFullId(std::string_view s);
bool IsHexPrefix(std::string_view s);
// Docker's rule for container and network names.
bool ValidName(std::string_view name);
std::string Sha256Hex(std::string_view data);

}  // namespace berth
