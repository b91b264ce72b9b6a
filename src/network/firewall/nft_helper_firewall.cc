// berthd's Firewall: the nft scripts go to one long-running berth-nft (src/nft_helper, GPL-2.0,
// which links libnftables so that berthd does not have to). This side speaks the protocol that
// berth_nft.cc documents: frames of a kind byte, a big-endian u32 length and the payload; a hello
// frame from the helper when it is ready, then one reply per request.
//
// The channel is a socket pair rather than two pipes: writes use MSG_NOSIGNAL, so a helper that
// died is an EPIPE here and not a SIGPIPE that would end a process that does not block it (tests,
// the benchmarks). The helper sees it as its stdin and stdout all the same.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/fd.h"
#include "network/firewall/firewall.h"
#include "network/firewall/nft_error.h"
#include "spdlog/spdlog.h"
#include "sys/subprocess.h"

namespace berth::network::firewall {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr char kHello[] = "berth-nft 1";  // the protocol version this side speaks
// A whole table of a few hundred elements takes a couple of milliseconds; a helper that says
// nothing for this long is stuck (or was stopped) and is killed, so the network controller does not
// hang on it.
constexpr std::chrono::seconds kReplyTimeout{30};
constexpr uint32_t kMaxReply = 1u << 20;  // nft's error texts are a few hundred bytes

// One reply frame, or why there is none. gone: the helper is no longer there to answer (EOF,
// EPIPE, ECONNRESET), so restarting it and asking again is the cure.
struct Exchange {
  bool gone = false;
  Status status;     // transport error (gone or not); OK when a frame came
  char kind = 0;     // 'O' or 'E'
  std::string text;  // the frame's payload
};

class HelperFirewall final : public NftHelperFirewall {
 public:
  explicit HelperFirewall(std::string path) : path_(std::move(path)) {
    // The namespace of the creating thread, handed to every helper we start (see firewall.h). When
    // /proc is not there the helper simply inherits the namespace of the thread that starts it.
    netns_.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  }

  ~HelperFirewall() override {
    absl::MutexLock lock(&mu_);
    StopLocked(/*kill_first=*/false);
  }

  Status Apply(const Model& m) override {
    RETURN_IF_ERROR(Validate(m));
    absl::MutexLock lock(&mu_);
    // The common change, a container's published ports coming or going, as element changes only.
    if (in_kernel_.has_value()) {
      if (std::optional<std::string> delta = RenderPortDelta(*in_kernel_, m)) {
        if (delta->empty()) return absl::OkStatus();
        Status st = CallLocked('A', *delta);
        if (st.ok()) {
          in_kernel_ = m;
          return st;
        }
        // The table is not the one we made last (changed behind berthd's back, or the repeat of a
        // delta that went through just before the helper died): replace it whole.
        spdlog::info("firewall: element update refused, replacing the table whole: {}",
                     std::string(st.message()));
      }
    }
    in_kernel_.reset();
    Status st = CallLocked('A', Render(m));
    if (st.ok()) in_kernel_ = m;
    return Annotate(st, "apply table inet berth");
  }

  Status Remove() override {
    absl::MutexLock lock(&mu_);
    in_kernel_.reset();
    return Annotate(CallLocked('A', RenderDelete()), "remove table inet berth");
  }

  // A dry run (`nft -c`) goes through the kernel's whole transaction and then aborts it, so the
  // empty model's script proves the helper, the privileges and every kernel feature the table
  // uses (nat, fib, ct, concatenated interval sets) without changing anything.
  Status Check() override {
    absl::MutexLock lock(&mu_);
    return Annotate(CallLocked('C', Render(Model{})), "nftables check");
  }

  int HelperPid() override {
    absl::MutexLock lock(&mu_);
    return pid_;
  }

 private:
  // One request, one reply. A helper found gone is started again and the request sent once more.
  // A whole table or a check repeats harmlessly; a delta that went through just before the helper
  // died may be refused on repeat (an element to delete is gone), and Apply then sends the whole
  // table.
  //
  // mu_ is the helper channel's operation lock, held for the exchange: a request and its reply
  // must not interleave with another's. Nothing but these calls takes it, and Applier gives the
  // firewall a single caller anyway.
  Status CallLocked(char kind, const std::string& script) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (int attempt = 0;; ++attempt) {
      if (pid_ < 0) RETURN_IF_ERROR(StartLocked());
      Exchange x = RoundTripLocked(kind, script);
      if (x.status.ok()) {
        if (x.kind == 'O') return absl::OkStatus();
        if (x.kind == 'E') return NftError("nft", x.text);
        StopLocked(/*kill_first=*/true);
        return absl::InternalError(
            absl::StrCat("berth-nft: unexpected reply kind ",
                         static_cast<int>(static_cast<unsigned char>(x.kind))));
      }
      int old_pid = pid_;
      int exit_code = StopLocked(/*kill_first=*/!x.gone);
      if (!x.gone || attempt > 0)
        return Annotate(x.status,
                        absl::StrCat("berth-nft (pid ", old_pid, ", ", ExitText(exit_code), ")"));
      spdlog::warn("berth-nft (pid {}) is gone ({}): starting it again", old_pid,
                   ExitText(exit_code));
    }
  }

  // Starts the helper and reads its hello.
  Status StartLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return ErrnoStatus(errno, "socketpair");
    UniqueFd ours(sv[0]), theirs(sv[1]);
    sys::SpawnOptions opts;
    opts.fds = {{0, theirs.get()}, {1, theirs.get()}, {2, STDERR_FILENO}};
    std::vector<std::string> argv = {path_};
    if (netns_.valid()) {
      opts.fds.push_back({3, netns_.get()});
      argv.insert(argv.end(), {"--netns-fd", "3"});
    }
    auto pid = sys::Spawn(argv, opts);
    if (!pid.ok()) {
      std::string why(pid.status().message());
      if (absl::IsNotFound(pid.status()))
        return absl::FailedPreconditionError(absl::StrCat(
            "nftables helper berth-nft not found at ", path_,
            ": it is built and installed beside berthd (or give --nft-helper PATH); ", why));
      return absl::FailedPreconditionError(
          absl::StrCat("cannot start the nftables helper ", path_, ": ", why));
    }
    pid_ = *pid;
    sock_ = std::move(ours);
    theirs.reset();
    Exchange hello = ReadFrameLocked(SteadyClock::now() + kReplyTimeout);
    Status st;
    bool ends_itself = hello.gone;  // or it says why it cannot work and exits
    if (!hello.status.ok()) {
      st = hello.status;
    } else if (hello.kind == 'E') {
      st = absl::FailedPreconditionError(hello.text);
      ends_itself = true;
    } else if (hello.kind != 'O' || hello.text != kHello) {
      st = absl::FailedPreconditionError(absl::StrCat("speaks another protocol (hello \"",
                                                      hello.text, "\"; this berthd wants \"",
                                                      kHello, "\")"));
    }
    if (st.ok()) return st;
    int old_pid = pid_;
    int exit_code = StopLocked(/*kill_first=*/!ends_itself);
    return Annotate(st, absl::StrCat("start the nftables helper ", path_, " (pid ", old_pid, ", ",
                                     ExitText(exit_code), ")"));
  }

  // Closes the channel and reaps the helper; its exit code (128+signal), -1 when none ran.
  // kill_first: it may be alive but unable to answer (a timeout, a garbled frame), so end it.
  int StopLocked(bool kill_first) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (pid_ < 0) return -1;
    if (kill_first) ::kill(pid_, SIGKILL);
    sock_.reset();  // EOF on its stdin: a live helper finishes its loop and exits 0
    auto code = sys::Wait(pid_);
    pid_ = -1;
    return code.ok() ? *code : -1;
  }

  static std::string ExitText(int code) {
    if (code < 0) return "still running";
    if (code > 128) return absl::StrCat("killed by signal ", code - 128);
    return absl::StrCat("exit status ", code);
  }

  Exchange RoundTripLocked(char kind, const std::string& script)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto deadline = SteadyClock::now() + kReplyTimeout;
    uint32_t n = static_cast<uint32_t>(script.size());
    char head[5] = {kind, static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                    static_cast<char>(n >> 8), static_cast<char>(n)};
    Exchange x = WriteLocked(head, sizeof head, deadline);
    if (x.status.ok()) x = WriteLocked(script.data(), script.size(), deadline);
    if (!x.status.ok()) return x;
    return ReadFrameLocked(deadline);
  }

  // Waits until the channel is ready for `events`; an error Exchange on timeout or poll failure.
  Exchange WaitLocked(short events, SteadyClock::time_point deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Exchange x;
    for (;;) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      if (left.count() <= 0) {
        x.status = absl::DeadlineExceededError(
            absl::StrCat("no answer within ", kReplyTimeout.count(),
                         " s (the helper is ended; the next change starts it again)"));
        return x;
      }
      pollfd p{sock_.get(), events, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r > 0) return x;  // readable, writable, or hung up: the read or write says which
      if (r < 0 && errno != EINTR) {
        x.status = ErrnoStatus(errno, "poll");
        return x;
      }
    }
  }

  Exchange WriteLocked(const char* p, size_t n, SteadyClock::time_point deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (n > 0) {
      Exchange x = WaitLocked(POLLOUT, deadline);
      if (!x.status.ok()) return x;
      ssize_t w = ::send(sock_.get(), p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (w < 0) {
        x.gone = errno == EPIPE || errno == ECONNRESET;
        x.status = ErrnoStatus(errno, "send to berth-nft");
        return x;
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return {};
  }

  // Exactly n bytes into out; the helper closing the channel first is `gone`.
  Exchange ReadLocked(char* out, size_t n, SteadyClock::time_point deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    while (n > 0) {
      Exchange x = WaitLocked(POLLIN, deadline);
      if (!x.status.ok()) return x;
      ssize_t r = ::recv(sock_.get(), out, n, MSG_DONTWAIT);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) {
        x.gone = r == 0 || errno == ECONNRESET;
        x.status = r == 0 ? absl::UnavailableError("berth-nft closed the channel")
                          : ErrnoStatus(errno, "receive from berth-nft");
        return x;
      }
      out += r;
      n -= static_cast<size_t>(r);
    }
    return {};
  }

  Exchange ReadFrameLocked(SteadyClock::time_point deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    char head[5];
    Exchange x = ReadLocked(head, sizeof head, deadline);
    if (!x.status.ok()) return x;
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(head[1])) << 24 |
                 static_cast<uint32_t>(static_cast<unsigned char>(head[2])) << 16 |
                 static_cast<uint32_t>(static_cast<unsigned char>(head[3])) << 8 |
                 static_cast<uint32_t>(static_cast<unsigned char>(head[4]));
    if (n > kMaxReply) {
      x.status = absl::InternalError(
          absl::StrCat("berth-nft sent a reply of ", n, " bytes (garbled frame)"));
      return x;
    }
    std::string text(n, '\0');
    x = ReadLocked(text.data(), n, deadline);
    if (!x.status.ok()) return x;
    x.kind = head[0];
    x.text = std::move(text);
    return x;
  }

  const std::string path_;
  UniqueFd netns_;  // the network namespace the helper is to work in; invalid: inherit
  absl::Mutex mu_;
  int pid_ ABSL_GUARDED_BY(mu_) = -1;
  UniqueFd sock_ ABSL_GUARDED_BY(mu_);
  // What the table holds: the model of the last transaction that went through, so the next one can
  // be a delta. Unknown (nullopt) at first, after Remove and after any failure.
  std::optional<Model> in_kernel_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<NftHelperFirewall> NewNftHelperFirewall(std::string helper_path) {
  return std::make_unique<HelperFirewall>(std::move(helper_path));
}

}  // namespace berth::network::firewall
