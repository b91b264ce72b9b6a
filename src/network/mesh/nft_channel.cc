// berthd's side of the berth-nft protocol (see nft_channel.h; a copy of the firewall's, to fold).

#include "network/mesh/nft_channel.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "spdlog/spdlog.h"
#include "sys/subprocess.h"

namespace berth::network::mesh {
namespace {

constexpr char kHello[] = "berth-nft 1";  // the protocol version this side speaks
// A whole table of a thousand elements takes a few milliseconds; a helper silent for this long is
// stuck (or stopped) and is killed, so the caller does not hang on it.
constexpr std::chrono::seconds kReplyTimeout{30};
constexpr uint32_t kMaxReply = 1u << 20;  // nft's error texts are a few hundred bytes

std::string ExitText(int code) {
  if (code < 0) return "still running";
  if (code > 128) return absl::StrCat("killed by signal ", code - 128);
  return absl::StrCat("exit status ", code);
}

// nft's refusal as a status; PermissionDenied when the kernel refused for want of privileges.
Status NftError(const std::string& err) {
  std::string msg = absl::StrCat("nft: ", err);
  if (absl::StrContains(err, "Operation not permitted"))
    return absl::PermissionDeniedError(msg + " (berthd needs CAP_NET_ADMIN)");
  return absl::InternalError(msg);
}

}  // namespace

// One reply frame, or why there is none. gone: the helper is no longer there to answer (EOF,
// EPIPE, ECONNRESET), so restarting it and asking again is the cure.
struct NftChannel::Exchange {
  bool gone = false;
  Status status;     // transport error (gone or not); OK when a frame came
  char kind = 0;     // 'O' or 'E'
  std::string text;  // the frame's payload
};

NftChannel::NftChannel(std::string helper_path, UniqueFd netns)
    : path_(std::move(helper_path)), netns_(std::move(netns)) {}

NftChannel::~NftChannel() { Stop(); }

Status NftChannel::Apply(const std::string& script) {
  absl::MutexLock lock(&mu_);
  return CallLocked('A', script);
}

Status NftChannel::DryRun(const std::string& script) {
  absl::MutexLock lock(&mu_);
  return CallLocked('C', script);
}

void NftChannel::Stop() {
  absl::MutexLock lock(&mu_);
  StopLocked(/*kill_first=*/false);
}

int NftChannel::Pid() {
  absl::MutexLock lock(&mu_);
  return pid_;
}

// One request, one reply; a helper found gone is started again and the request sent once more. A
// whole table or a dry run repeats harmlessly; a delta that went through just before the helper
// died may be refused on repeat, and the caller then sends the whole table.
Status NftChannel::CallLocked(char kind, const std::string& script) {
  for (int attempt = 0;; ++attempt) {
    if (pid_ < 0) RETURN_IF_ERROR(StartLocked());
    Exchange x = RoundTripLocked(kind, script);
    if (x.status.ok()) {
      if (x.kind == 'O') return absl::OkStatus();
      if (x.kind == 'E') return NftError(x.text);
      StopLocked(/*kill_first=*/true);
      return absl::InternalError(absl::StrCat("berth-nft: unexpected reply kind ",
                                              static_cast<int>(static_cast<unsigned char>(x.kind))));
    }
    int old_pid = pid_;
    int exit_code = StopLocked(/*kill_first=*/!x.gone);
    if (!x.gone || attempt > 0)
      return Annotate(x.status, absl::StrCat("berth-nft (pid ", old_pid, ", ", ExitText(exit_code), ")"));
    spdlog::warn("mesh: berth-nft (pid {}) is gone ({}): starting it again", old_pid, ExitText(exit_code));
  }
}

// Starts the helper and reads its hello.
Status NftChannel::StartLocked() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return ErrnoStatus(errno, "socketpair");
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
    return absl::FailedPreconditionError(absl::StrCat("cannot start the nftables helper ", path_, ": ", why));
  }
  pid_ = *pid;
  sock_ = std::move(ours);
  theirs.reset();
  Exchange hello = ReadFrameLocked(std::chrono::steady_clock::now() + kReplyTimeout);
  Status st;
  bool ends_itself = hello.gone;  // or it says why it cannot work and exits
  if (!hello.status.ok()) {
    st = hello.status;
  } else if (hello.kind == 'E') {
    st = absl::FailedPreconditionError(hello.text);
    ends_itself = true;
  } else if (hello.kind != 'O' || hello.text != kHello) {
    st = absl::FailedPreconditionError(absl::StrCat("speaks another protocol (hello \"", hello.text,
                                                    "\"; this berthd wants \"", kHello, "\")"));
  }
  if (st.ok()) return st;
  int old_pid = pid_;
  int exit_code = StopLocked(/*kill_first=*/!ends_itself);
  return Annotate(st, absl::StrCat("start the nftables helper ", path_, " (pid ", old_pid, ", ",
                                   ExitText(exit_code), ")"));
}

// Closes the channel and reaps the helper; its exit code (128+signal), -1 when none ran.
// kill_first: it may be alive but unable to answer (a timeout, a garbled frame), so end it.
int NftChannel::StopLocked(bool kill_first) {
  if (pid_ < 0) return -1;
  if (kill_first) ::kill(pid_, SIGKILL);
  sock_.reset();  // EOF on its stdin: a live helper finishes its loop and exits 0
  auto code = sys::Wait(pid_);
  pid_ = -1;
  return code.ok() ? *code : -1;
}

NftChannel::Exchange NftChannel::RoundTripLocked(char kind, const std::string& script) {
  Deadline deadline = std::chrono::steady_clock::now() + kReplyTimeout;
  uint32_t n = static_cast<uint32_t>(script.size());
  char head[5] = {kind, static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                  static_cast<char>(n)};
  Exchange x = WriteLocked(head, sizeof head, deadline);
  if (x.status.ok()) x = WriteLocked(script.data(), script.size(), deadline);
  if (!x.status.ok()) return x;
  return ReadFrameLocked(deadline);
}

// Waits until the channel is ready for `events`; an error Exchange on timeout or poll failure.
NftChannel::Exchange NftChannel::WaitLocked(short events, Deadline deadline) {
  Exchange x;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      x.status = absl::DeadlineExceededError(absl::StrCat(
          "no answer within ", kReplyTimeout.count(), " s (the helper is ended; the next change starts it again)"));
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

NftChannel::Exchange NftChannel::WriteLocked(const char* p, size_t n, Deadline deadline) {
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
NftChannel::Exchange NftChannel::ReadLocked(char* out, size_t n, Deadline deadline) {
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

NftChannel::Exchange NftChannel::ReadFrameLocked(Deadline deadline) {
  char head[5];
  Exchange x = ReadLocked(head, sizeof head, deadline);
  if (!x.status.ok()) return x;
  uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(head[1])) << 24 |
               static_cast<uint32_t>(static_cast<unsigned char>(head[2])) << 16 |
               static_cast<uint32_t>(static_cast<unsigned char>(head[3])) << 8 |
               static_cast<uint32_t>(static_cast<unsigned char>(head[4]));
  if (n > kMaxReply) {
    x.status = absl::InternalError(absl::StrCat("berth-nft sent a reply of ", n, " bytes (garbled frame)"));
    return x;
  }
  std::string text(n, '\0');
  x = ReadLocked(text.data(), n, deadline);
  if (!x.status.ok()) return x;
  x.kind = head[0];
  x.text = std::move(text);
  return x;
}

}  // namespace berth::network::mesh
