#include "network/dns/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <future>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/sync.h"
#include "spdlog/spdlog.h"

namespace berth::network::dns {
namespace {

constexpr size_t kMaxForwards = 1024;       // pending forwards over all sandboxes; more -> SERVFAIL
constexpr size_t kMaxConnsPerSandbox = 64;  // TCP clients per sandbox; more are refused
constexpr size_t kMaxTcpInput = 2 * 65537;  // buffered TCP input per client
constexpr auto kTcpIdle = std::chrono::seconds(10);
constexpr int kUdpBatch = 64;  // datagrams read per wakeup before serving others

enum Kind : uint64_t { kWake = 1, kUdp = 2, kListen = 3, kConn = 4, kAttempt = 5 };
uint64_t Token(Kind k, uint64_t serial) { return static_cast<uint64_t>(k) << 56 | serial; }

// Creates the sandbox's listening sockets inside its namespace. A helper thread enters the
// namespace (setns affects only the calling thread) and exits afterwards; the sockets stay bound to
// that namespace for their whole life, so the server thread can poll them from berthd's own.
// TODO: switch to sys::NetNs::Run once src/sys/netns.h lands.
Status BindInNetns(const std::string& netns_path, UniqueFd* udp, UniqueFd* tcp) {
  UniqueFd ns(open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.valid()) return ErrnoStatus(errno, absl::StrCat("open ", netns_path));
  Status result;
  std::thread t([&] {
    if (setns(ns.get(), CLONE_NEWNET) != 0) {
      result = ErrnoStatus(errno, "setns");
      return;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(53);
    addr.sin_addr.s_addr = htonl(0x7f00000b);  // 127.0.0.11
    auto bind_one = [&](int type, UniqueFd* out) -> Status {
      UniqueFd fd(socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!fd.valid()) return ErrnoStatus(errno, "socket");
      int one = 1;
      // TCP: lets a re-added sandbox bind again while old connections sit in TIME_WAIT.
      if (type == SOCK_STREAM) setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int err = errno;
        std::string what =
            type == SOCK_STREAM ? "bind 127.0.0.11:53/tcp" : "bind 127.0.0.11:53/udp";
        if (err == EADDRNOTAVAIL) what += " (is lo up in the namespace?)";
        return ErrnoStatus(err, what);
      }
      if (type == SOCK_STREAM && listen(fd.get(), 64) != 0) return ErrnoStatus(errno, "listen");
      *out = std::move(fd);
      return absl::OkStatus();
    };
    result = bind_one(SOCK_DGRAM, udp);
    if (result.ok()) result = bind_one(SOCK_STREAM, tcp);
  });
  t.join();
  return Annotate(result, absl::StrCat("embedded DNS in ", netns_path));
}

// "1.2.3.4", "1.2.3.4:5353", "[fe80::1%eth0]:53", "::1", "fe80::1%eth0".
bool ParseUpstream(std::string_view s, sockaddr_storage* ss, socklen_t* len) {
  std::string host(s);
  uint32_t port = 53;
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    if (close == std::string::npos) return false;
    std::string rest = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!rest.empty()) {
      if (rest[0] != ':' || !absl::SimpleAtoi(Av(rest.substr(1)), &port)) return false;
    }
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    size_t colon = host.find(':');
    if (!absl::SimpleAtoi(Av(host.substr(colon + 1)), &port)) return false;
    host.resize(colon);
  }
  if (port == 0 || port > 65535) return false;
  std::memset(ss, 0, sizeof *ss);
  auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
  std::string zone;
  if (size_t pct = host.find('%'); pct != std::string::npos) {
    zone = host.substr(pct + 1);
    host.resize(pct);
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) != 1) return false;
  v6->sin6_family = AF_INET6;
  v6->sin6_port = htons(static_cast<uint16_t>(port));
  if (!zone.empty()) {
    v6->sin6_scope_id = if_nametoindex(zone.c_str());
    if (v6->sin6_scope_id == 0 && !absl::SimpleAtoi(Av(zone), &v6->sin6_scope_id)) return false;
  }
  *len = sizeof(sockaddr_in6);
  return true;
}

}  // namespace

struct Server::Sandbox {
  uint64_t serial = 0;
  std::string id;
  Lookup lookup;
  ReverseLookup reverse;
  UniqueFd udp;
  UniqueFd tcp;
  size_t rotate = 0;  // round robin over a name's addresses, advanced per answered query
  size_t conns = 0;
  std::shared_ptr<const std::vector<Upstream>> upstreams;  // its own (--dns) or the server's
};

struct Server::TcpConn {
  uint64_t serial = 0;
  uint64_t sandbox = 0;
  UniqueFd fd;
  std::string in;
  std::string out;
  size_t out_off = 0;
  bool polling_out = false;
  bool forwarding = false;  // one forwarded query at a time per connection; the rest waits in `in`
  bool peer_closed = false;
  bool broken = false;
  TimePoint last_active;
};

struct Server::Attempt {
  uint64_t serial = 0;
  UniqueFd fd;
  bool tcp = false;
  bool connected = false;  // TCP: connect() finished and the query is being written
  std::string out;         // TCP: length-prefixed query
  size_t out_off = 0;
  std::string in;  // TCP: response being read
};

struct Server::Forward {
  uint64_t serial = 0;
  uint64_t sandbox = 0;
  bool tcp = false;
  sockaddr_in client{};  // UDP clients
  uint64_t conn = 0;     // TCP clients
  Query q;               // q.id is the client's id
  uint16_t upstream_id = 0;
  std::string msg;                                         // the query as sent upstream (our id)
  std::shared_ptr<const std::vector<Upstream>> upstreams;  // the sandbox's, kept alive here
  size_t next = 0;                                         // next upstream index to try
  std::vector<std::unique_ptr<Attempt>> attempts;          // in flight
  TimePoint start, deadline;
  std::string fallback;  // a SERVFAIL/REFUSED some upstream gave, relayed if no one does better
  bool has_timer = false;
  std::multimap<TimePoint, uint64_t>::iterator timer;
};

namespace {
const berth::Clock& SystemTime() {
  static const berth::SystemClock clock;
  return clock;
}
}  // namespace

Server::Server(std::vector<std::string> upstreams, int forward_timeout_ms, const berth::Clock* clock)
    : forward_timeout_(forward_timeout_ms), clock_(clock ? *clock : SystemTime()) {
  std::vector<std::string> rejected;
  upstreams_ = std::make_shared<const std::vector<Upstream>>(ParseUpstreams(upstreams, &rejected));
  for (const std::string& u : rejected) {
    spdlog::warn("embedded DNS: ignoring upstream \"{}\": not an address", u);
  }
  epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  wake_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!epoll_.valid() || !wake_.valid()) {
    init_ = ErrnoStatus(errno, "embedded DNS: epoll/eventfd");
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = Token(kWake, 0);
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0) {
    init_ = ErrnoStatus(errno, "embedded DNS: epoll_ctl");
  }
  {
    absl::MutexLock l(&wake_fd_->mu);
    wake_fd_->fd = wake_.get();
  }
  if (getrandom(&rng_, sizeof rng_, 0) != sizeof rng_ || rng_ == 0) {
    rng_ = static_cast<uint64_t>(clock_.Monotonic().time_since_epoch().count()) | 1;
  }
  rxbuf_.resize(65536);
  out_.reserve(1024);
  addrs_.reserve(16);
}

Server::~Server() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  uint64_t one = 1;
  if (wake_.valid()) (void)!write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  if (wake_timer_ != 0) clock_.Cancel(wake_timer_);
  absl::MutexLock l(&wake_fd_->mu);  // a timer callback running now finishes first
  wake_fd_->fd = -1;
}

void Server::ArmWakeup() {
  TimePoint next = TimePoint::max();
  if (!timers_.empty()) next = timers_.begin()->first;
  if (!conns_.empty()) next = std::min(next, next_sweep_);
  if (next == wake_at_) return;
  if (wake_timer_ != 0) clock_.Cancel(wake_timer_);
  wake_timer_ = 0;
  wake_at_ = next;
  if (next == TimePoint::max()) return;
  // The deadlines run on the injected clock: its timer wakes the loop, which then handles every
  // deadline that has passed on that clock.
  std::weak_ptr<WakeFd> weak = wake_fd_;
  wake_timer_ = clock_.Schedule(std::max(Duration::zero(), Duration(next - clock_.Monotonic())), [weak] {
    if (auto w = weak.lock()) {
      absl::MutexLock l(&w->mu);
      uint64_t one = 1;
      if (w->fd >= 0) (void)!write(w->fd, &one, sizeof one);
    }
  });
}

Status Server::Start() {
  RETURN_IF_ERROR(init_);
  absl::MutexLock l(&mu_);
  if (running_ || thread_.joinable())
    return absl::FailedPreconditionError("embedded DNS already started");
  running_ = true;
  thread_ = std::thread(&Server::Loop, this);
  return absl::OkStatus();
}

void Server::Post(std::function<void()> fn, bool wait) {
  absl::ReleasableMutexLock l(&mu_);
  if (!running_) {
    fn();  // no server thread: the state is ours, serialized by mu_
    return;
  }
  if (std::this_thread::get_id() == thread_.get_id()) wait = false;  // would wait for ourselves
  std::future<void> done;
  if (wait) {
    auto p = std::make_shared<std::promise<void>>();
    done = p->get_future();
    tasks_.push_back([fn = std::move(fn), p] {
      fn();
      p->set_value();
    });
  } else {
    tasks_.push_back(std::move(fn));
  }
  l.Release();
  uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof one);
  if (wait) done.wait();
}

std::vector<Server::Upstream> Server::ParseUpstreams(const std::vector<std::string>& texts,
                                                     std::vector<std::string>* rejected) {
  std::vector<Upstream> out;
  out.reserve(texts.size());
  for (const std::string& u : texts) {
    Upstream up;
    if (ParseUpstream(u, &up.addr, &up.len)) {
      out.push_back(up);
    } else {
      rejected->push_back(u);
    }
  }
  return out;
}

Status Server::AddSandbox(const std::string& sandbox_id, const std::string& netns_path,
                          Lookup lookup, ReverseLookup reverse,
                          std::vector<std::string> upstreams) {
  CheckNoStateLock("dns::Server::AddSandbox");
  RETURN_IF_ERROR(init_);
  // Parsed before anything is reserved or bound, so a bad entry leaves no trace. Unlike the
  // constructor's (the host's resolv.conf, which we do not control), these come from --dns, which
  // the caller has validated: a bad one is a bug upstream of us, not something to skip quietly.
  std::shared_ptr<const std::vector<Upstream>> ups = upstreams_;
  if (!upstreams.empty()) {
    std::vector<std::string> rejected;
    auto own = std::make_shared<const std::vector<Upstream>>(ParseUpstreams(upstreams, &rejected));
    if (!rejected.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("embedded DNS: sandbox ", sandbox_id,
                                                     ": upstream \"", rejected.front(),
                                                     "\" is not an address"));
    }
    ups = std::move(own);
  }
  if (std::this_thread::get_id() == thread_.get_id()) {
    return absl::FailedPreconditionError("AddSandbox called from a DNS lookup");
  }
  {
    absl::MutexLock l(&mu_);
    if (!ids_.insert(sandbox_id).second) {
      return absl::AlreadyExistsError(
          absl::StrCat("embedded DNS: sandbox ", sandbox_id, " already served"));
    }
  }
  auto sb = std::make_unique<Sandbox>();
  sb->id = sandbox_id;
  sb->lookup = std::move(lookup);
  sb->reverse = std::move(reverse);
  sb->upstreams = std::move(ups);
  Status st = BindInNetns(netns_path, &sb->udp, &sb->tcp);
  if (st.ok()) Post([&] { st = Register(sb); }, /*wait=*/true);
  if (!st.ok()) {
    absl::MutexLock l(&mu_);
    ids_.erase(sandbox_id);
  }
  return Annotate(st, absl::StrCat("sandbox ", sandbox_id));
}

void Server::RemoveSandbox(const std::string& sandbox_id) {
  CheckNoStateLock("dns::Server::RemoveSandbox");
  {
    absl::MutexLock l(&mu_);
    if (ids_.erase(sandbox_id) == 0) return;
  }
  Post([this, sandbox_id] { Unregister(sandbox_id); }, /*wait=*/true);
}

Status Server::Register(std::unique_ptr<Sandbox>& sb) {
  sb->serial = next_serial_++;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = Token(kUdp, sb->serial);
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, sb->udp.get(), &ev) != 0)
    return ErrnoStatus(errno, "epoll_ctl");
  ev.data.u64 = Token(kListen, sb->serial);
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, sb->tcp.get(), &ev) != 0)
    return ErrnoStatus(errno, "epoll_ctl");
  sandbox_by_id_[sb->id] = sb->serial;
  uint64_t serial = sb->serial;
  sandboxes_[serial] = std::move(sb);
  return absl::OkStatus();
}

void Server::Unregister(const std::string& id) {
  auto it = sandbox_by_id_.find(id);
  if (it == sandbox_by_id_.end()) return;
  uint64_t serial = it->second;
  sandbox_by_id_.erase(it);
  std::vector<uint64_t> doomed;
  for (const auto& [s, c] : conns_) {
    if (c->sandbox == serial) doomed.push_back(s);
  }
  for (uint64_t s : doomed) CloseConn(s);
  doomed.clear();
  for (const auto& [s, f] : forwards_) {
    if (f->sandbox == serial) doomed.push_back(s);
  }
  for (uint64_t s : doomed) DropForward(s);
  sandboxes_.erase(serial);  // closing the fds also takes them out of the epoll set
}

uint16_t Server::RandomId() {
  // xorshift64*: forwarded ids must not be guessable from the client's, not cryptographic.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return static_cast<uint16_t>((rng_ * 0x2545F4914F6CDD1DULL) >> 48);
}

void Server::Loop() {
  epoll_event events[64];
  for (;;) {
    ArmWakeup();
    int n = epoll_wait(epoll_.get(), events, 64, -1);
    if (n < 0 && errno != EINTR) {
      spdlog::error("embedded DNS: epoll_wait: {}", strerror(errno));
      absl::MutexLock l(&mu_);
      running_ = false;  // Posts run inline from now on instead of waiting for a dead loop
      // Tasks queued before that: run as inline Posts are, under mu_ (a Post waiting for one
      // would otherwise wait for ever).
      std::vector<std::function<void()>> tasks;
      tasks.swap(tasks_);
      for (auto& t : tasks) t();
      return;
    }
    bool woken = false;
    for (int i = 0; i < n; ++i) {
      uint64_t token = events[i].data.u64;
      uint64_t serial = token & ((uint64_t{1} << 56) - 1);
      // Objects are found by serial, never by pointer: an event earlier in this batch may have
      // closed the object a later event refers to.
      switch (static_cast<Kind>(token >> 56)) {
        case kWake: {
          uint64_t v;
          (void)!read(wake_.get(), &v, sizeof v);
          woken = true;
          break;
        }
        case kUdp:
          if (auto it = sandboxes_.find(serial); it != sandboxes_.end()) OnUdpReadable(*it->second);
          break;
        case kListen:
          if (auto it = sandboxes_.find(serial); it != sandboxes_.end()) OnTcpAccept(*it->second);
          break;
        case kConn:
          OnTcpConnEvent(serial, events[i].events);
          break;
        case kAttempt:
          OnAttemptEvent(serial, events[i].events);
          break;
      }
    }
    if (woken) wake_at_ = TimePoint::max();  // the timer that woke us (if one did) has fired
    OnTimers();
    if (woken) {
      std::vector<std::function<void()>> tasks;
      bool stop;
      {
        absl::MutexLock l(&mu_);
        tasks.swap(tasks_);
        stop = stop_;
        if (stop) running_ = false;  // later Posts run inline; the destructor joins us next
      }
      for (auto& t : tasks) t();
      if (stop) return;
    }
  }
}

bool Server::Answer(Sandbox& sb, std::span<const uint8_t> msg, bool tcp) {
  out_.clear();
  if (!ParseQuery(msg, &query_).ok()) {
    // Responses and runts get no answer (answering them invites reflection loops); other garbage
    // gets FORMERR, as miekg/dns (Docker's resolver) does.
    if (msg.size() < kHeaderSize || (ReadU16(msg.data() + 2) & kFlagQr)) return true;
    BuildErrorResponse(msg, kRcodeFormErr, &out_);
    return true;
  }
  if ((query_.flags >> 11 & 0xf) != 0) {  // only standard queries
    BuildEmptyResponse(msg, query_, kRcodeNotImp, &out_);
    return true;
  }
  if (query_.qclass != kClassIn || query_.name.empty()) return false;
  size_t max_size =
      tcp ? 65535 : std::min<size_t>(std::max<size_t>(query_.edns_udp_size, kMaxUdpPlain), 4096);
  if (query_.qtype == kTypePtr) {
    if (!sb.reverse || !ReverseNameToIpv4(query_.name, &scratch_)) return false;
    std::vector<std::string> names = sb.reverse(scratch_);
    if (names.empty()) return false;
    if (!BuildPtrResponse(msg, query_, names, max_size, &out_).ok()) {
      BuildEmptyResponse(msg, query_, kRcodeServFail, &out_);
    }
    return true;
  }
  std::vector<std::string> found = sb.lookup(query_.name);
  if (found.empty()) return false;
  if (query_.qtype == kTypeAaaa) {
    addrs6_.clear();
    for (const std::string& a : found) {
      Ipv6Bytes v6;
      if (inet_pton(AF_INET6, a.c_str(), v6.data()) == 1) addrs6_.push_back(v6);
    }
    // A name of ours without IPv6 (an IPv4-only network) gets an empty NOERROR, as Docker answers,
    // rather than leaking the container's name upstream.
    if (addrs6_.empty()) BuildEmptyResponse(msg, query_, kRcodeNoError, &out_);
    else BuildAaaaResponse(msg, query_, addrs6_, sb.rotate++, max_size, &out_);
    return true;
  }
  if (query_.qtype != kTypeA && query_.qtype != kTypeAny) {
    // The name is ours but has no record of that type: an empty NOERROR, as above.
    BuildEmptyResponse(msg, query_, kRcodeNoError, &out_);
    return true;
  }
  addrs_.clear();
  for (const std::string& a : found) {
    in_addr v4;
    if (inet_pton(AF_INET, a.c_str(), &v4) == 1) addrs_.push_back(v4.s_addr);
  }
  if (addrs_.empty()) {
    BuildEmptyResponse(msg, query_, kRcodeNoError, &out_);
    return true;
  }
  BuildAResponse(msg, query_, addrs_, sb.rotate++, max_size, &out_);
  return true;
}

void Server::OnUdpReadable(Sandbox& sb) {
  for (int i = 0; i < kUdpBatch; ++i) {
    sockaddr_in from{};
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(sb.udp.get(), rxbuf_.data(), rxbuf_.size(), MSG_DONTWAIT,
                         reinterpret_cast<sockaddr*>(&from), &fromlen);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        spdlog::debug("embedded DNS {}: recvfrom: {}", sb.id, strerror(errno));
      }
      return;
    }
    std::span<const uint8_t> msg(rxbuf_.data(), static_cast<size_t>(n));
    if (!Answer(sb, msg, /*tcp=*/false)) {
      if (StartForward(sb, msg, /*tcp=*/false, &from, 0)) continue;
      // Docker sends nothing here and the client waits out its own timeout (3 s with glibc
      // defaults, then tries again); an immediate SERVFAIL lets it fail or move on at once.
      BuildEmptyResponse(msg, query_, kRcodeServFail, &out_);
    }
    if (!out_.empty()) {
      sendto(sb.udp.get(), out_.data(), out_.size(), MSG_DONTWAIT,
             reinterpret_cast<sockaddr*>(&from), fromlen);
    }
  }
}

void Server::OnTcpAccept(Sandbox& sb) {
  for (;;) {
    UniqueFd fd(accept4(sb.tcp.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) return;
    if (sb.conns >= kMaxConnsPerSandbox) continue;  // closed at once: a client cannot pin our fds
    auto c = std::make_unique<TcpConn>();
    c->serial = next_serial_++;
    c->sandbox = sb.serial;
    c->fd = std::move(fd);
    c->last_active = clock_.Monotonic();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = Token(kConn, c->serial);
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev) != 0) continue;
    ++sb.conns;
    if (conns_.empty()) next_sweep_ = clock_.Monotonic() + std::chrono::seconds(1);
    conns_[c->serial] = std::move(c);
  }
}

void Server::OnTcpConnEvent(uint64_t serial, uint32_t events) {
  auto it = conns_.find(serial);
  if (it == conns_.end()) return;
  TcpConn& c = *it->second;
  c.last_active = clock_.Monotonic();
  if (events & EPOLLOUT) TcpFlush(c);
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    for (;;) {
      ssize_t n = recv(c.fd.get(), rxbuf_.data(), rxbuf_.size(), MSG_DONTWAIT);
      if (n > 0) {
        c.in.append(reinterpret_cast<const char*>(rxbuf_.data()), static_cast<size_t>(n));
        if (c.in.size() > kMaxTcpInput) {
          c.broken = true;
          break;
        }
        continue;
      }
      if (n == 0) {
        c.peer_closed = true;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        c.broken = true;
      }
      break;
    }
    if (!c.broken) TcpProcessInput(c);
  }
  MaybeCloseConn(serial);
}

void Server::TcpProcessInput(TcpConn& c) {
  auto sit = sandboxes_.find(c.sandbox);
  if (sit == sandboxes_.end()) {
    c.broken = true;
    return;
  }
  Sandbox& sb = *sit->second;
  while (!c.forwarding && !c.broken && c.in.size() >= 2) {
    size_t len = ReadU16(reinterpret_cast<const uint8_t*>(c.in.data()));
    if (c.in.size() < 2 + len) break;
    std::span<const uint8_t> msg(reinterpret_cast<const uint8_t*>(c.in.data()) + 2, len);
    if (!Answer(sb, msg, /*tcp=*/true)) {
      if (StartForward(sb, msg, /*tcp=*/true, nullptr, c.serial)) {
        c.forwarding = true;
      } else {
        BuildEmptyResponse(msg, query_, kRcodeServFail, &out_);
      }
    }
    if (!out_.empty() && !c.forwarding) TcpSend(c, AsBytes(out_));
    c.in.erase(0, 2 + len);
  }
}

void Server::TcpSend(TcpConn& c, std::span<const uint8_t> msg) {
  if (c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
  }
  c.out.push_back(static_cast<char>(msg.size() >> 8));
  c.out.push_back(static_cast<char>(msg.size() & 0xff));
  c.out.append(reinterpret_cast<const char*>(msg.data()), msg.size());
  TcpFlush(c);
}

void Server::TcpFlush(TcpConn& c) {
  while (c.out_off < c.out.size()) {
    ssize_t n = send(c.fd.get(), c.out.data() + c.out_off, c.out.size() - c.out_off,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        c.broken = true;
        return;
      }
      break;
    }
    c.out_off += static_cast<size_t>(n);
  }
  bool want_out = c.out_off < c.out.size();
  if (want_out != c.polling_out) {
    epoll_event ev{};
    ev.events = EPOLLIN | (want_out ? uint32_t{EPOLLOUT} : 0u);
    ev.data.u64 = Token(kConn, c.serial);
    epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
    c.polling_out = want_out;
  }
}

void Server::MaybeCloseConn(uint64_t serial) {
  auto it = conns_.find(serial);
  if (it == conns_.end()) return;
  TcpConn& c = *it->second;
  if (c.broken || (c.peer_closed && !c.forwarding && c.out_off == c.out.size())) CloseConn(serial);
}

void Server::CloseConn(uint64_t serial) {
  auto it = conns_.find(serial);
  if (it == conns_.end()) return;
  if (auto sit = sandboxes_.find(it->second->sandbox); sit != sandboxes_.end())
    --sit->second->conns;
  std::vector<uint64_t> doomed;
  for (const auto& [s, f] : forwards_) {
    if (f->tcp && f->conn == serial) doomed.push_back(s);
  }
  for (uint64_t s : doomed) DropForward(s);
  conns_.erase(it);
}

bool Server::StartForward(Sandbox& sb, std::span<const uint8_t> msg, bool tcp,
                          const sockaddr_in* client, uint64_t conn_serial) {
  if (sb.upstreams->empty() || forwards_.size() >= kMaxForwards) return false;
  auto f = std::make_unique<Forward>();
  f->serial = next_serial_++;
  f->sandbox = sb.serial;
  f->tcp = tcp;
  if (client) f->client = *client;
  f->conn = conn_serial;
  f->upstreams = sb.upstreams;
  f->q = query_;
  f->upstream_id = RandomId();
  f->msg.assign(reinterpret_cast<const char*>(msg.data()), msg.size());
  SetId(reinterpret_cast<uint8_t*>(f->msg.data()), f->upstream_id);
  f->start = clock_.Monotonic();
  f->deadline = f->start + forward_timeout_;
  if (!StartNextAttempt(*f)) return false;
  ArmForwardTimer(*f);
  forwards_[f->serial] = std::move(f);
  return true;
}

bool Server::StartNextAttempt(Forward& f) {
  while (f.next < f.upstreams->size()) {
    const Upstream& up = (*f.upstreams)[f.next++];
    auto a = std::make_unique<Attempt>();
    a->serial = next_serial_++;
    a->tcp = f.tcp;
    // A fresh socket per attempt: a random source port per query, and the kernel reports an
    // unreachable upstream (ICMP port unreachable -> ECONNREFUSED) on exactly this query.
    a->fd.reset(socket(up.addr.ss_family,
                       (f.tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!a->fd.valid()) {
      spdlog::warn("embedded DNS: upstream socket: {}", strerror(errno));
      continue;
    }
    int rc = connect(a->fd.get(), reinterpret_cast<const sockaddr*>(&up.addr), up.len);
    if (rc != 0 && !(f.tcp && errno == EINPROGRESS)) continue;
    uint32_t events = EPOLLIN;
    if (f.tcp) {
      a->out.push_back(static_cast<char>(f.msg.size() >> 8));
      a->out.push_back(static_cast<char>(f.msg.size() & 0xff));
      a->out += f.msg;
      events |= EPOLLOUT;  // connect completion, then the query
      int one = 1;
      setsockopt(a->fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    } else if (send(a->fd.get(), f.msg.data(), f.msg.size(), MSG_DONTWAIT) < 0) {
      continue;
    }
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = Token(kAttempt, a->serial);
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, a->fd.get(), &ev) != 0) continue;
    attempt_owner_[a->serial] = f.serial;
    f.attempts.push_back(std::move(a));
    return true;
  }
  return false;
}

void Server::ArmForwardTimer(Forward& f) {
  if (f.has_timer) timers_.erase(f.timer);
  auto when = f.deadline;
  // Upstreams are tried in order, staggered over the timeout: the next one starts when the
  // previous has had its share of the time without answering (or at once when it failed).
  if (f.next < f.upstreams->size()) {
    when = std::min(when, f.start + forward_timeout_ * static_cast<int64_t>(f.next) /
                                        static_cast<int64_t>(f.upstreams->size()));
  }
  f.timer = timers_.emplace(when, f.serial);
  f.has_timer = true;
}

void Server::OnTimers() {
  auto now = clock_.Monotonic();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    uint64_t serial = timers_.begin()->second;
    auto it = forwards_.find(serial);
    BERTH_CHECK(it != forwards_.end());
    Forward& f = *it->second;
    timers_.erase(timers_.begin());
    f.has_timer = false;
    if (now >= f.deadline) {
      FinishForward(f, {});
      continue;
    }
    StartNextAttempt(f);
    if (f.attempts.empty()) {
      FinishForward(f, {});
      continue;
    }
    ArmForwardTimer(f);
  }
  if (!conns_.empty() && now >= next_sweep_) {
    next_sweep_ = now + std::chrono::seconds(1);
    std::vector<uint64_t> idle;
    for (const auto& [s, c] : conns_) {
      if (!c->forwarding && now - c->last_active > kTcpIdle) idle.push_back(s);
    }
    for (uint64_t s : idle) CloseConn(s);
  }
}

void Server::OnAttemptEvent(uint64_t serial, uint32_t events) {
  auto oit = attempt_owner_.find(serial);
  if (oit == attempt_owner_.end()) return;
  Forward& f = *forwards_.at(oit->second);
  Attempt* a = nullptr;
  for (auto& p : f.attempts) {
    if (p->serial == serial) a = p.get();
  }
  BERTH_CHECK(a != nullptr);
  if (!a->tcp) {
    for (;;) {
      ssize_t n = recv(a->fd.get(), rxbuf_.data(), rxbuf_.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR) continue;
        AttemptFailed(f, serial);  // ECONNREFUSED: nobody listens there
        return;
      }
      std::span<uint8_t> msg(rxbuf_.data(), static_cast<size_t>(n));
      // Anything but the answer to our question with our id is ignored (stray or spoofed).
      if (ResponseMatches(msg, f.upstream_id, f.q, &scratch_)) {
        AttemptAnswered(f, serial, msg);
        return;
      }
    }
  }
  if (!a->connected && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(a->fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      AttemptFailed(f, serial);
      return;
    }
    a->connected = true;
  }
  if (a->connected && a->out_off < a->out.size()) {
    ssize_t n = send(a->fd.get(), a->out.data() + a->out_off, a->out.size() - a->out_off,
                     MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      AttemptFailed(f, serial);
      return;
    }
    if (n > 0) a->out_off += static_cast<size_t>(n);
    if (a->out_off == a->out.size()) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = Token(kAttempt, serial);
      epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, a->fd.get(), &ev);
    }
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    for (;;) {
      ssize_t n = recv(a->fd.get(), rxbuf_.data(), rxbuf_.size(), MSG_DONTWAIT);
      if (n > 0) {
        a->in.append(reinterpret_cast<const char*>(rxbuf_.data()), static_cast<size_t>(n));
        if (a->in.size() >= 2) {
          size_t len = ReadU16(reinterpret_cast<const uint8_t*>(a->in.data()));
          if (a->in.size() >= 2 + len) {
            std::span<uint8_t> msg(reinterpret_cast<uint8_t*>(a->in.data()) + 2, len);
            if (ResponseMatches(msg, f.upstream_id, f.q, &scratch_)) {
              AttemptAnswered(f, serial, msg);
            } else {
              AttemptFailed(f, serial);
            }
            return;
          }
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
      AttemptFailed(f, serial);  // closed or reset before a whole answer
      return;
    }
  }
}

void Server::AttemptFailed(Forward& f, uint64_t attempt_serial) {
  attempt_owner_.erase(attempt_serial);
  std::erase_if(f.attempts, [&](const auto& a) { return a->serial == attempt_serial; });
  if (!f.attempts.empty()) return;  // an earlier upstream may still answer
  if (StartNextAttempt(f)) {
    ArmForwardTimer(f);
    return;
  }
  // Nobody left to ask: relay the best we got (an upstream's SERVFAIL/REFUSED) or SERVFAIL now.
  std::span<uint8_t> fb(reinterpret_cast<uint8_t*>(f.fallback.data()), f.fallback.size());
  FinishForward(f, fb);
}

void Server::AttemptAnswered(Forward& f, uint64_t attempt_serial, std::span<uint8_t> msg) {
  uint8_t rcode = msg[3] & 0xf;
  if (rcode == kRcodeServFail || rcode == kRcodeRefused) {
    // That upstream cannot help; another might (Docker moves on too). Keep it in case none can.
    f.fallback.assign(reinterpret_cast<const char*>(msg.data()), msg.size());
    AttemptFailed(f, attempt_serial);
    return;
  }
  FinishForward(f, msg);
}

void Server::FinishForward(Forward& f, std::span<uint8_t> response) {
  uint64_t serial = f.serial;
  if (response.empty()) {
    BuildEmptyResponse(AsBytes(f.msg), f.q, kRcodeServFail, &out_);  // f.q.id is the client's
  } else {
    out_.assign(reinterpret_cast<const char*>(response.data()), response.size());
    SetId(reinterpret_cast<uint8_t*>(out_.data()), f.q.id);
  }
  bool tcp = f.tcp;
  uint64_t conn = f.conn;
  auto sit = sandboxes_.find(f.sandbox);
  if (!tcp && sit != sandboxes_.end()) {
    sendto(sit->second->udp.get(), out_.data(), out_.size(), MSG_DONTWAIT,
           reinterpret_cast<const sockaddr*>(&f.client), sizeof f.client);
  }
  DropForward(serial);  // f is gone from here on
  if (tcp) {
    auto cit = conns_.find(conn);
    if (cit == conns_.end()) return;
    TcpConn& c = *cit->second;
    c.forwarding = false;
    TcpSend(c, AsBytes(out_));
    TcpProcessInput(c);  // queries that arrived while this one was out
    MaybeCloseConn(conn);
  }
}

void Server::DropForward(uint64_t serial) {
  auto it = forwards_.find(serial);
  if (it == forwards_.end()) return;
  Forward& f = *it->second;
  for (const auto& a : f.attempts) attempt_owner_.erase(a->serial);
  if (f.has_timer) timers_.erase(f.timer);
  forwards_.erase(it);
}

std::vector<std::string> Server::UpstreamsFromResolvConf(const std::string& content) {
  std::vector<std::string> out;
  std::istringstream in(content);
  std::string line;
  while (std::getline(in, line)) {
    if (size_t c = line.find_first_of("#;"); c != std::string::npos) line.resize(c);
    std::istringstream words(line);
    std::string key, value;
    if (!(words >> key >> value) || key != "nameserver") continue;
    if (value == "127.0.0.11") continue;  // our own address inside a container: a loop
    sockaddr_storage ss;
    socklen_t len;
    // resolv.conf carries no ports; "1.2.3.4:53" there would be a typo, not an address.
    if (value.find('[') != std::string::npos || std::count(value.begin(), value.end(), ':') == 1)
      continue;
    if (!ParseUpstream(value, &ss, &len)) continue;
    out.push_back(value);
  }
  return out;
}

}  // namespace berth::network::dns
