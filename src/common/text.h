#pragma once
// Text as Go's libraries write it, for the messages and columns Docker users read: go-units'
// sizes and strconv's quoting of the short strings Docker puts in error messages.

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace berth {

// go-units HumanSizeWithPrecision: decimal units, "%.<precision>g": 2160000 -> "2.16MB".
std::string HumanSize(double bytes, int precision = 4);
// go-units BytesSize: binary units, "%.4g": 1048576 -> "1MiB".
std::string BytesSize(double bytes);
// Go's %q of a byte string as Docker's messages show it: quotes, backslashes and control bytes
// escaped, other bytes as they are (the template engine's %q, which decodes UTF-8 and escapes
// unprintable runes, is Go's full strconv.Quote).
std::string GoQuote(std::string_view s);

// The code for an HTTP error status: 4xx by meaning, 501 Unimplemented, 503 Unavailable, any
// other 5xx `other_5xx` (a daemon's internal error; a registry's, which callers may retry).
absl::StatusCode CodeForHttpStatus(int status,
                                   absl::StatusCode other_5xx = absl::StatusCode::kInternal);

}  // namespace berth
