#pragma once
// Berth's error policy (STYLE.md habit 3): likely failures travel as absl::Status with context
// added at each layer; the API maps canonical codes to HTTP statuses in one place
// (api/http_status.cc). Broken invariants abort via BERTH_CHECK.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace berth {

using absl::Status;
using absl::StatusOr;

// Debian's Abseil (20220623) has its own string_view that does not convert from std::string_view.
inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Prefixes a status message with what was being done: "create container c1: <cause>".
inline Status Annotate(const Status& s, std::string_view context) {
  if (s.ok()) return s;
  return Status(s.code(), absl::StrCat(Av(context), ": ", s.message()));
}

// errno -> canonical code, so EEXIST becomes a 409 and ENOENT a 404 without each caller deciding.
Status ErrnoStatus(int err, std::string_view what);

}  // namespace berth

#define BERTH_CONCAT_INNER(a, b) a##b
#define BERTH_CONCAT(a, b) BERTH_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                   \
  do {                                          \
    ::absl::Status berth_status_ = (expr);      \
    if (!berth_status_.ok()) return berth_status_; \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(*tmp)

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(BERTH_CONCAT(berth_statusor_, __LINE__), lhs, expr)

#define BERTH_CHECK(cond)                                                              \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)
