#include "common/sync.h"

#include <cstdio>
#include <cstdlib>

#include "spdlog/spdlog.h"

namespace berth {

namespace internal {
int& StateLocksHeld() {
  static thread_local int held = 0;
  return held;
}
}  // namespace internal

void CheckNoStateLock(const char* what) {
  if (internal::StateLocksHeld() == 0) return;
#ifdef NDEBUG
  spdlog::error("lock discipline violated: {} called while holding a state lock", what);
#else
  std::fprintf(stderr, "lock discipline violated: %s called while holding a state lock\n", what);
  std::abort();
#endif
}

}  // namespace berth
