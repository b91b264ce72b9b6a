#pragma once
// Time as the Engine API writes it (RFC 3339 with nanoseconds, UTC) and an injectable clock
// (STYLE.md habit 7).

#include <chrono>
#include <cstdint>
#include <string>

namespace berth {

using WallTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime Now() const = 0;
};

class SystemClock : public Clock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::now(); }
};

// "2026-11-28T03:24:58.42852458Z" (trailing zeros of the fraction dropped, as Go does);
// the zero time prints as "0001-01-01T00:00:00Z".
std::string FormatRfc3339Nano(WallTime t);
std::string FormatRfc3339Nano(int64_t unix_nanos);
int64_t UnixNanos(WallTime t);
// Parses what FormatRfc3339Nano writes (and whole-second forms); 0 for the zero time.
bool ParseRfc3339(const std::string& s, int64_t* unix_nanos);
// "Up 3 seconds", "About a minute", "2 hours": Go's units.HumanDuration, which docker ps uses.
std::string HumanDuration(std::chrono::nanoseconds d);

}  // namespace berth
