#pragma once
// Docker's json-file log format, written by the shim without a JSON library (the shim must stay
// under 1.5 MB RSS, see CMakeLists.txt).

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <string_view>

namespace berth::shim {

// Appends `in` to `out` as the inside of a JSON string the way Go's encoding/json does: ", \ and
// control characters escaped (\n \r \t \b \f short, others \u00XX), <, >, & as \u003c \u003e
// \u0026, U+2028/U+2029 escaped, and each byte of invalid UTF-8 replaced by \ufffd.
void AppendJsonEscaped(std::string& out, std::string_view in);

// Appends `unix_nanos` as RFC 3339 UTC with nanoseconds, trailing zeros of the fraction trimmed
// (Go's time.RFC3339Nano), e.g. 2026-11-28T03:24:58.42852458Z.
void AppendRfc3339Nano(std::string& out, int64_t unix_nanos);

// Wall-clock time in nanoseconds since the epoch.
int64_t NowUnixNanos();

// Appends one json-file entry: {"log":"<line escaped>","stream":"<stream>","time":"<time>"}\n.
void AppendJsonLogEntry(std::string& out, std::string_view line, const char* stream,
                        std::string_view time);

// Renders one chunk read from a container stream as json-file lines: one entry per line (with its
// '\n'); a trailing partial line becomes an entry of its own, as Docker does for partial
// messages. All entries of a chunk share one timestamp. `stream` is "stdout" or "stderr".
void AppendJsonLogEntries(std::string& out, std::string_view chunk, const char* stream,
                          int64_t unix_nanos);

// Extracts the "msg" of the last line with "level":"error" from runc's --log-format json output;
// empty if there is none. Understands exactly what logrus writes: one flat object per line.
std::string LastRuncError(std::string_view log);

}  // namespace berth::shim
