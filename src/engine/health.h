#pragma once
// Docker's container health checks (moby daemon/health.go), as pure logic: which probe a
// container's Config.Healthcheck asks for, the defaults, the state machine that turns probe
// results into State.Health (starting -> healthy/unhealthy, FailingStreak, the last five results)
// and the image/container merge. The scheduling (timers on the Clock, execs through the shim)
// is ContainerManager's, in container_health.cc.

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "spec/container.h"

namespace berth::engine {

// Docker's defaults for a zero field, and its limits.
inline constexpr std::chrono::nanoseconds kDefaultProbeInterval = std::chrono::seconds(30);
inline constexpr std::chrono::nanoseconds kDefaultProbeTimeout = std::chrono::seconds(30);
inline constexpr int kDefaultProbeRetries = 3;
inline constexpr size_t kMaxHealthLog = 5;
inline constexpr size_t kMaxProbeOutput = 4096;
// After a timed-out probe's SIGTERM, how long it has before SIGKILL (dockerd's termProcessTimeout).
inline constexpr std::chrono::nanoseconds kProbeKillGrace = std::chrono::seconds(10);

// types.HealthcheckResult.
struct HealthResult {
  int64_t start = 0;  // unix nanos
  int64_t end = 0;
  int exit_code = 0;
  std::string output;
  bool operator==(const HealthResult&) const = default;
};

// types.Health: State.Health of inspect. An empty status means "no health check" (nil).
struct HealthState {
  std::string status;  // "", "starting", "healthy", "unhealthy"
  int failing_streak = 0;
  std::deque<HealthResult> log;  // oldest first, at most kMaxHealthLog
  bool operator==(const HealthState&) const = default;
};

// What one probe runs and when, with Docker's defaults applied.
struct Probe {
  std::vector<std::string> argv;  // the exec's command
  std::chrono::nanoseconds interval{0}, timeout{0}, start_period{0};
  int retries = 0;
};

// The probe a container's config asks for; nullopt for none: no Healthcheck, an empty Test,
// ["NONE"], or a type other than CMD and CMD-SHELL (which dockerd only warns about). CMD-SHELL
// runs through Config.Shell, or /bin/sh -c.
std::optional<Probe> ProbeOf(const spec::ContainerConfig& config);

// Docker's create-time checks of Config.Healthcheck, with its messages.
Status VerifyHealthConfig(const std::optional<spec::HealthConfig>& health);

// The image's HEALTHCHECK under the container's: a container field that is unset (empty Test,
// zero duration or retries) takes the image's (daemon/commit.go merge).
void MergeHealthcheck(const std::optional<spec::HealthConfig>& image,
                      std::optional<spec::HealthConfig>& container);

// A container (re)started, or berthd restored it running: "starting", no failing streak; the log
// stays (initHealthMonitor).
void ResetHealthForStart(HealthState* h);

// Records one probe result; returns true when the status changed (a health_status event is due).
// A failure while still "starting" and within the start period (counted from `started_at`, unix
// nanos, to the probe's start) does not count towards the retries.
bool ApplyProbeResult(HealthState* h, const Probe& probe, int64_t started_at, HealthResult result);

// The result dockerd records for a probe that outlived its timeout.
HealthResult TimeoutResult(const Probe& probe, int64_t start, int64_t end);

// Go's time.Duration.String(): "30s", "1.5s", "500ms", "1m30s", "2h0m0s".
std::string GoDurationString(std::chrono::nanoseconds d);

// Appends to a probe's output, keeping at most kMaxProbeOutput bytes; *truncated records a loss
// (the output then ends in "...", as dockerd's limitedBuffer).
void AppendProbeOutput(std::string* out, bool* truncated, std::string_view data);

// The output as Go's JSON encoder writes it: each byte of invalid UTF-8 becomes U+FFFD.
std::string ValidUtf8(std::string_view s);

}  // namespace berth::engine
