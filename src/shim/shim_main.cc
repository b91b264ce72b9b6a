// berth-shim: see shim.h and docs/shim.md.

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "shim.h"

int main(int argc, char** argv) {
  berth::shim::Options options;
  std::string error;
  if (!berth::shim::ParseOptions(argc, argv, &options, &error)) {
    fprintf(stderr,
            "berth-shim: %s\nusage: berth-shim --id ID --bundle DIR --state-dir DIR --runtime PATH "
            "--runtime-root DIR --log-path FILE --ready-fd N [--tty] [--stdin] [--stdin-once] "
            "[--rows R --cols C]\n",
            error.c_str());
    return 2;
  }
  // berthd's child exits at once so berthd never reaps a long-lived process; the grandchild is
  // the shim, and is re-parented away from berthd (and survives its restarts).
  pid_t pid = fork();
  if (pid < 0) {
    std::string line = std::string("error shim: fork: ") + strerror(errno) + "\n";
    ssize_t ignored = write(options.ready_fd, line.data(), line.size());
    (void)ignored;
    return 1;
  }
  if (pid > 0) _exit(0);
  berth::shim::Shim shim(std::move(options));
  return shim.Run();
}
