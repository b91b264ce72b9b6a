#pragma once
// FUZZ_CHECK(cond, detail): an invariant of the code under test. On failure it prints what broke
// and aborts, which libFuzzer reports as a crash and saves the input that caused it.

#include <cstdio>
#include <cstdlib>
#include <string>

namespace berth::fuzz {

[[noreturn]] inline void Fail(const char* cond, const char* file, int line, const std::string& detail) {
  std::fprintf(stderr, "\n==== invariant broken: %s\n     at %s:%d\n     %s\n", cond, file, line,
               detail.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace berth::fuzz

#define FUZZ_CHECK(cond, detail)                                        \
  do {                                                                  \
    if (!(cond)) ::berth::fuzz::Fail(#cond, __FILE__, __LINE__, std::string(detail)); \
  } while (0)
