#include "engine/health.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace berth::engine {

namespace {

using std::chrono::nanoseconds;

nanoseconds OrDefault(int64_t v, nanoseconds def) { return v == 0 ? def : nanoseconds(v); }

// "int.frac" of v in units of `unit` ns, the fraction without trailing zeros (Go's fmtFrac).
std::string Fixed(uint64_t v, uint64_t unit, int digits) {
  std::string out = std::to_string(v / unit);
  uint64_t frac = v % unit;
  if (frac == 0) return out;
  std::string f = std::to_string(frac);
  f.insert(0, static_cast<size_t>(digits) - f.size(), '0');
  while (!f.empty() && f.back() == '0') f.pop_back();
  return out + "." + f;
}

}  // namespace

std::optional<Probe> ProbeOf(const spec::ContainerConfig& config) {
  if (!config.healthcheck) return std::nullopt;
  const spec::HealthConfig& h = *config.healthcheck;
  if (h.test.empty()) return std::nullopt;
  Probe p;
  if (h.test[0] == "CMD") {
    p.argv.assign(h.test.begin() + 1, h.test.end());
  } else if (h.test[0] == "CMD-SHELL") {
    p.argv = config.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : config.shell;
    p.argv.insert(p.argv.end(), h.test.begin() + 1, h.test.end());
  } else {
    return std::nullopt;  // NONE, or a type dockerd does not know
  }
  if (p.argv.empty()) return std::nullopt;
  p.interval = OrDefault(h.interval, kDefaultProbeInterval);
  p.timeout = OrDefault(h.timeout, kDefaultProbeTimeout);
  p.start_period = OrDefault(h.start_period, nanoseconds(0));
  p.retries = h.retries <= 0 ? kDefaultProbeRetries : static_cast<int>(h.retries);
  return p;
}

Status VerifyHealthConfig(const std::optional<spec::HealthConfig>& health) {
  if (!health) return absl::OkStatus();
  constexpr int64_t kMinimum = 1000000;  // container.MinimumDuration: 1ms
  if (health->interval != 0 && health->interval < kMinimum)
    return absl::InvalidArgumentError("Interval in Healthcheck cannot be less than 1ms");
  if (health->timeout != 0 && health->timeout < kMinimum)
    return absl::InvalidArgumentError("Timeout in Healthcheck cannot be less than 1ms");
  if (health->retries < 0)
    return absl::InvalidArgumentError("Retries in Healthcheck cannot be negative");
  if (health->start_period != 0 && health->start_period < kMinimum)
    return absl::InvalidArgumentError("StartPeriod in Healthcheck cannot be less than 1ms");
  return absl::OkStatus();
}

void MergeHealthcheck(const std::optional<spec::HealthConfig>& image,
                      std::optional<spec::HealthConfig>& container) {
  if (!image) return;
  if (!container) {
    container = image;
    return;
  }
  if (container->test.empty()) container->test = image->test;
  if (container->interval == 0) container->interval = image->interval;
  if (container->timeout == 0) container->timeout = image->timeout;
  if (container->start_period == 0) container->start_period = image->start_period;
  if (container->retries == 0) container->retries = image->retries;
}

void ResetHealthForStart(HealthState* h) {
  h->status = "starting";
  h->failing_streak = 0;
}

bool ApplyProbeResult(HealthState* h, const Probe& probe, int64_t started_at, HealthResult result) {
  std::string old = h->status;
  int64_t since_start = result.start - started_at;
  int exit_code = result.exit_code;
  h->log.push_back(std::move(result));
  while (h->log.size() > kMaxHealthLog) h->log.pop_front();
  if (exit_code == 0) {
    h->failing_streak = 0;
    h->status = "healthy";
  } else if (!(h->status == "starting" && since_start < probe.start_period.count())) {
    // Any other code is a failure (dockerd: "including invalid exit code").
    if (++h->failing_streak >= probe.retries) h->status = "unhealthy";
  }
  return h->status != old;
}

HealthResult TimeoutResult(const Probe& probe, int64_t start, int64_t end) {
  return HealthResult{start, end, -1,
                      "Health check exceeded timeout (" + GoDurationString(probe.timeout) + ")"};
}

std::string GoDurationString(nanoseconds d) {
  int64_t n = d.count();
  if (n == 0) return "0s";
  std::string sign = n < 0 ? "-" : "";
  uint64_t u = n < 0 ? static_cast<uint64_t>(-(n + 1)) + 1 : static_cast<uint64_t>(n);
  if (u < 1000) return sign + std::to_string(u) + "ns";
  if (u < 1000000) return sign + Fixed(u, 1000, 3) + "µs";
  if (u < 1000000000) return sign + Fixed(u, 1000000, 6) + "ms";
  uint64_t secs = u / 1000000000;
  std::string out = sign;
  uint64_t h = secs / 3600, m = secs / 60 % 60;
  if (h > 0) absl::StrAppend(&out, h, "h");
  if (h > 0 || m > 0) absl::StrAppend(&out, m, "m");
  return out + Fixed(u % 60000000000ULL, 1000000000, 9) + "s";
}

void AppendProbeOutput(std::string* out, bool* truncated, std::string_view data) {
  size_t room = kMaxProbeOutput - std::min(out->size(), kMaxProbeOutput);
  out->append(data.substr(0, room));
  if (data.size() > room) *truncated = true;
}

std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    uint32_t cp = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (size_t k = 1; ok && k < n; ++k) {
      auto cb = static_cast<unsigned char>(s[i + k]);
      ok = (cb & 0xC0) == 0x80;
      cp = (cp << 6) | (cb & 0x3F);
    }
    // No overlong forms, no surrogates, nothing past U+10FFFF.
    if (ok && ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
               (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF))
      ok = false;
    if (!ok) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace berth::engine
