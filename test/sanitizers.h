#pragma once
// What a test may not assert in a sanitizer build: ThreadSanitizer's runtime starts a background
// thread of its own in each process (thread and task counts are one higher) and maps shadow
// memory (RSS bounds do not hold).

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BERTH_TSAN_BUILD 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define BERTH_TSAN_BUILD 1
#endif

namespace berth::testing {
#ifdef BERTH_TSAN_BUILD
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif
}  // namespace berth::testing
