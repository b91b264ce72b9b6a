// Small helpers shared by the container manager's files (container_util.h).

#include "engine/container_util.h"

#include <signal.h>

#include <iterator>
#include <map>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "sys/fs.h"

namespace berth::engine {

std::string RandomName() {
  static const char* kLeft[] = {"admiring", "brave",   "clever",  "dazzling", "eager",
                                "focused",  "gallant", "happy",   "inspiring", "jolly",
                                "keen",     "lucid",   "modest",  "nifty",    "optimistic",
                                "peaceful", "quirky",  "relaxed", "serene",   "tender",
                                "upbeat",   "vibrant", "wizardly", "youthful", "zealous"};
  static const char* kRight[] = {"babbage", "curie",   "dijkstra", "einstein", "feynman",
                                 "galileo", "hopper",  "jepsen",   "knuth",    "lamport",
                                 "lovelace", "mccarthy", "noether", "pike",    "ritchie",
                                 "shannon", "thompson", "turing",  "wozniak",  "yonath"};
  std::random_device rd;
  return std::string(kLeft[rd() % std::size(kLeft)]) + "_" + kRight[rd() % std::size(kRight)];
}


int ParseSignal(const std::string& s, int fallback) {
  if (s.empty()) return fallback;
  int n;
  if (absl::SimpleAtoi(s, &n)) return n > 0 && n < 65 ? n : -1;
  std::string u = s;
  for (auto& ch : u) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  if (absl::StartsWith(u, "SIG")) u = u.substr(3);
  static const std::map<std::string, int> kSignals = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},
      {"TRAP", SIGTRAP}, {"ABRT", SIGABRT}, {"BUS", SIGBUS},   {"FPE", SIGFPE},
      {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
      {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"CHLD", SIGCHLD},
      {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
      {"TTOU", SIGTTOU}, {"URG", SIGURG},   {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
      {"WINCH", SIGWINCH}, {"IO", SIGIO},   {"SYS", SIGSYS}};
  auto it = kSignals.find(u);
  return it == kSignals.end() ? -1 : it->second;
}

const char* const kHosts =
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

bool ReadExitFile(const std::string& state_dir, int* code, int64_t* nanos) {
  auto data = sys::ReadFile(state_dir + "/exit");
  if (!data.ok()) return false;
  std::vector<std::string> parts = absl::StrSplit(absl::StripAsciiWhitespace(*data), ' ');
  return parts.size() == 2 && absl::SimpleAtoi(parts[0], code) && absl::SimpleAtoi(parts[1], nanos);
}


}  // namespace berth::engine
