#pragma once
// Berth's embedded DNS server: what containers reach at 127.0.0.11:53 (UDP and TCP).
//
// Flow: AddSandbox() creates the two listening sockets inside the sandbox's network namespace (a
// socket stays in the namespace it was created in, whichever thread uses it later), then hands them
// to the server thread. That one thread polls every sandbox's sockets with one epoll set, answers
// names its sandbox's Lookup knows, and forwards everything else to the sandbox's own upstreams
// (the container's --dns) or, when it has none, to the host's resolvers, with sockets it creates
// itself, i.e. in berthd's own namespace, which is why a loopback upstream such as
// systemd-resolved's 127.0.0.53 works although a container could never reach it.
//
// Threading contract: every public method may be called from any thread except the server thread
// (a Lookup that calls RemoveSandbox gets it applied after the current query, without waiting).
// Lookups run on the server thread and must not block: they sit on every query's path.

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/fd.h"
#include "common/status.h"
#include "network/dns/message.h"

namespace berth::network::dns {

// What a sandbox may resolve: called on the server thread for each query name (lowercased, without
// the trailing dot). Returns IPv4 addresses (empty = not ours -> forward).
using Lookup = std::function<std::vector<std::string>(const std::string& name)>;
// Optional reverse lookup: dotted IPv4 -> names (e.g. "c1.testnet"); empty = not ours -> forward.
using ReverseLookup = std::function<std::vector<std::string>(const std::string& ip)>;

class Server {
 public:
  // upstreams: "ip", "ip:port", "[ipv6]:port" or a bare IPv6 (from the host's /etc/resolv.conf).
  // Unparseable entries are logged and dropped. No upstreams at all is allowed: unknown names then
  // get SERVFAIL (we never invent public resolvers, unlike Docker's 8.8.8.8 fallback).
  // Forwarding deadlines run on `clock` (tests advance a FakeClock); null: the system's.
  explicit Server(std::vector<std::string> upstreams, int forward_timeout_ms = 2000,
                  const berth::Clock* clock = nullptr);
  ~Server();  // stops the thread, closes everything
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts the server thread. Sandboxes added before Start() are served from then on.
  Status Start();
  // Binds 127.0.0.11:53 UDP+TCP inside the namespace at netns_path (its lo must be up) and serves
  // it with `lookup` (and `reverse`, for PTR queries, when given). AlreadyExists for a known id.
  // When it returns, queries sent to the sandbox are answered (or queued in the socket until the
  // server thread picks them up, if Start() has not been called yet).
  // `upstreams` (the container's --dns, in the constructor's forms) replace the server's for this
  // sandbox: its unknown names go to these only, in order, with the same timeout, fallback and
  // SERVFAIL rules; empty = the server's (the host's resolv.conf). An entry that is not an address
  // is InvalidArgument naming it, and nothing is registered (the id stays free).
  Status AddSandbox(const std::string& sandbox_id, const std::string& netns_path, Lookup lookup,
                    ReverseLookup reverse = nullptr, std::vector<std::string> upstreams = {});
  // Closes the sandbox's sockets (127.0.0.11:53 is free again in that namespace when this returns)
  // and drops its pending forwards. Unknown ids are ignored.
  void RemoveSandbox(const std::string& sandbox_id);

  // nameserver lines of a resolv.conf, in order; skips 127.0.0.11 (ourselves, from a container's
  // point of view) and anything that is not an IP address.
  static std::vector<std::string> UpstreamsFromResolvConf(const std::string& content);

  // How many of the constructor's upstream addresses were accepted (tests, diagnostics).
  size_t upstream_count() const { return upstreams_->size(); }

 private:
  using TimePoint = MonoTime;
  struct Sandbox;
  struct TcpConn;
  struct Forward;
  struct Attempt;
  struct Upstream {
    sockaddr_storage addr{};
    socklen_t len = 0;
  };

  void Loop();
  void RunTasks();
  // Posts fn to the server thread (or runs it inline when the thread is not running); waits for it
  // when `wait`.
  void Post(std::function<void()> fn, bool wait);

  Status Register(std::unique_ptr<Sandbox>& sb);
  void Unregister(const std::string& id);

  void OnUdpReadable(Sandbox& sb);
  void OnTcpAccept(Sandbox& sb);
  void OnTcpConnEvent(uint64_t serial, uint32_t events);
  void OnAttemptEvent(uint64_t serial, uint32_t events);
  void OnTimers();

  // Answers `msg` locally into out_ when it can; returns false when it must be forwarded (then
  // query_ holds the parsed query). Drops (returns true with an empty out_) what deserves no
  // answer.
  bool Answer(Sandbox& sb, std::span<const uint8_t> msg, bool tcp);

  // Starts forwarding query_ (parsed from msg). False when it cannot even start (no upstreams, too
  // many pending, no socket): the caller answers SERVFAIL at once.
  bool StartForward(Sandbox& sb, std::span<const uint8_t> msg, bool tcp, const sockaddr_in* client,
                    uint64_t conn_serial);
  // Opens the next upstream attempt(s) until one is in flight; false when none is left.
  bool StartNextAttempt(Forward& f);
  void AttemptFailed(Forward& f, uint64_t attempt_serial);
  void AttemptAnswered(Forward& f, uint64_t attempt_serial, std::span<uint8_t> msg);
  void FinishForward(Forward& f, std::span<uint8_t> response);  // empty response -> SERVFAIL
  void DropForward(uint64_t serial);
  void ArmForwardTimer(Forward& f);

  void TcpProcessInput(TcpConn& c);
  void TcpSend(TcpConn& c, std::span<const uint8_t> msg);  // adds the length prefix
  void TcpFlush(TcpConn& c);
  // Closes the connection when it broke, or when the peer is done and nothing is left to send.
  void MaybeCloseConn(uint64_t serial);
  void CloseConn(uint64_t serial);

  uint16_t RandomId();

  // The one parser for both the constructor's and AddSandbox's lists (the forms the constructor
  // documents); entries that are not addresses are left out and appended to *rejected, for the
  // caller's policy (the constructor logs them, AddSandbox refuses).
  static std::vector<Upstream> ParseUpstreams(const std::vector<std::string>& texts,
                                              std::vector<std::string>* rejected);

  // The host's. Sandboxes without their own list share this one; a Forward copies its sandbox's
  // pointer (a reference count, not the vector) so it can walk the list without finding its
  // sandbox again.
  std::shared_ptr<const std::vector<Upstream>> upstreams_;
  const std::chrono::milliseconds forward_timeout_;
  const berth::Clock& clock_;

  Status init_;  // why the constructor could not create the epoll set, if it could not
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: tasks queued or stop requested

  // The sandbox table and the task queue (the only lock; never taken per query).
  absl::Mutex mu_;
  std::set<std::string> ids_ ABSL_GUARDED_BY(mu_);  // ids added and not removed
  std::vector<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;

  // Server-thread state (or the caller's while the thread is not running, under mu_).
  uint64_t next_serial_ = 1;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Sandbox>> sandboxes_;
  absl::flat_hash_map<std::string, uint64_t> sandbox_by_id_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<TcpConn>> conns_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Forward>> forwards_;
  absl::flat_hash_map<uint64_t, uint64_t> attempt_owner_;  // attempt serial -> forward serial
  std::multimap<TimePoint, uint64_t> timers_;      // forward deadlines -> forward serial
  TimePoint next_sweep_{};
  // The one clock timer that wakes the loop for the earliest deadline (server thread only).
  void ArmWakeup();
  berth::Clock::TimerId wake_timer_ = 0;
  TimePoint wake_at_ = TimePoint::max();
  // What a wake-up timer writes to; outlives the server while a callback may still run.
  struct WakeFd {
    absl::Mutex mu;
    int fd ABSL_GUARDED_BY(mu) = -1;
  };
  std::shared_ptr<WakeFd> wake_fd_ = std::make_shared<WakeFd>();
  uint64_t rng_ = 0;

  // Hot-path scratch, reused so a known-name query allocates nothing of ours.
  Query query_;
  std::string out_;
  std::string scratch_;
  std::vector<uint32_t> addrs_;
  std::vector<Ipv6Bytes> addrs6_;
  std::vector<uint8_t> rxbuf_;
};

}  // namespace berth::network::dns
