#include "api/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "api/http_conn.h"
#include "spdlog/spdlog.h"

namespace berth::api {

namespace asio = boost::asio;

namespace {

// Threads kept beyond max_connections only to answer 503; past them a connection is closed.
constexpr int kRejectThreads = 8;
// A connection thread idle this long ends (the pool shrinks back after a burst).
constexpr absl::Duration kIdleThreadExit = absl::Seconds(60);
}  // namespace

void Router::Add(const std::string& method, const std::string& pattern, Handler h, bool upload) {
  Route r;
  r.method = method;
  for (absl::string_view s : absl::StrSplit(pattern, '/', absl::SkipEmpty())) r.segs.emplace_back(s);
  r.handler = std::move(h);
  r.upload = upload;
  routes_.push_back(std::move(r));
}

const Handler* Router::Match(Request& req, bool* upload, bool* path_known) const {
  std::vector<std::string> segs;
  for (absl::string_view s : absl::StrSplit(req.path, '/', absl::SkipEmpty()))
    segs.push_back(UrlDecode(std::string_view(s.data(), s.size())));
  *path_known = false;
  for (const Route& r : routes_) {
    std::map<std::string, std::string> params;
    size_t i = 0, j = 0;
    bool ok = true;
    for (; j < r.segs.size() && ok; ++j) {
      const std::string& p = r.segs[j];
      if (p.size() > 3 && p.front() == '{' && p.substr(p.size() - 2) == "*}") {
        size_t tail = r.segs.size() - j - 1;  // literal segments after the greedy one
        if (segs.size() < i + 1 + tail) {
          ok = false;
          break;
        }
        size_t end = segs.size() - tail;
        std::string v;
        for (size_t k = i; k < end; ++k) v += (k == i ? "" : "/") + segs[k];
        params[p.substr(1, p.size() - 3)] = v;
        i = end;
      } else if (p.front() == '{') {
        if (i >= segs.size()) {
          ok = false;
          break;
        }
        params[p.substr(1, p.size() - 2)] = segs[i++];
      } else {
        if (i >= segs.size() || segs[i] != p) {
          ok = false;
          break;
        }
        ++i;
      }
    }
    if (!ok || i != segs.size()) continue;
    *path_known = true;
    if (r.method != req.method && !(req.method == "HEAD" && r.method == "GET")) continue;
    req.params = std::move(params);
    *upload = r.upload;
    return &r.handler;
  }
  return nullptr;
}

ApiServer::~ApiServer() { Stop(); }

Status ApiServer::Listen(const std::string& addr) {
  if (absl::StartsWith(addr, "unix://")) {
    std::string path = addr.substr(7);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return ErrnoStatus(errno, "socket");
    struct sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) return absl::InvalidArgumentError("socket path too long: " + path);
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    ::unlink(path.c_str());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      return ErrnoStatus(errno, "bind " + path);
    ::chmod(path.c_str(), 0660);
    if (::listen(fd.get(), 1024) != 0) return ErrnoStatus(errno, "listen " + path);
    listeners_.push_back({std::move(fd), false, false, path});
    return absl::OkStatus();
  }
  if (absl::StartsWith(addr, "tcp://")) {
    std::string hp = addr.substr(6);
    auto colon = hp.find_last_of(':');
    if (colon == std::string::npos) return absl::InvalidArgumentError("missing port in " + addr);
    std::string host = hp.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty() || host == "localhost") host = "127.0.0.1";
    int port = 0;
    if (!absl::SimpleAtoi(hp.substr(colon + 1), &port) || port < 0 || port > 65535)
      return absl::InvalidArgumentError("invalid port in " + addr);
    sockaddr_storage ss = {};
    socklen_t len = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(port));
      len = sizeof *v4;
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(port));
      len = sizeof *v6;
    } else {
      return absl::InvalidArgumentError("invalid address " + addr +
                                        " (tcp:// takes an IP address or localhost)");
    }
    UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return ErrnoStatus(errno, "socket");
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
      return ErrnoStatus(errno, "bind " + addr);
    if (::listen(fd.get(), 1024) != 0) return ErrnoStatus(errno, "listen " + addr);
    listeners_.push_back({std::move(fd), true, opts_.tls != nullptr, ""});
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("unsupported host address " + addr +
                                    " (use unix:///path or tcp://ip:port)");
}

void ApiServer::Serve() {
  for (size_t i = 0; i < listeners_.size(); ++i) {
    accept_watch_.push_back(
        std::make_unique<asio::posix::stream_descriptor>(accept_io_, listeners_[i].fd.get()));
    accept_backoff_.push_back(std::make_unique<asio::steady_timer>(accept_io_));
    // Accept first, then wait: connections may be queued already.
    asio::post(accept_io_, [this, i] { AcceptReady(i); });
  }
  acceptor_ = std::thread([this] { accept_io_.run(); });
}

void ApiServer::ArmAccept(size_t i) {
  accept_watch_[i]->async_wait(asio::posix::stream_descriptor::wait_read,
                               [this, i](const boost::system::error_code& ec) {
                                 if (!ec) AcceptReady(i);
                               });
}

void ApiServer::AcceptReady(size_t i) {
  const Listener& l = listeners_[i];
  for (;;) {
    int fd = ::accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      if (l.tcp) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      Dispatch(Accepted{UniqueFd(fd), l.tls, false, transport::After(opts_.header_timeout)});
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    // Out of descriptors or memory: the connection stays queued and the socket readable, so
    // waiting for readiness would spin. Try again in a moment.
    spdlog::warn("accept: {}; retrying in 100 ms", std::strerror(errno));
    accept_backoff_[i]->expires_after(std::chrono::milliseconds(100));
    accept_backoff_[i]->async_wait([this, i](const boost::system::error_code& ec) {
      if (!ec) AcceptReady(i);
    });
    return;
  }
  ArmAccept(i);
}

void ApiServer::Dispatch(Accepted a) {
  std::vector<std::unique_ptr<Worker>> finished;
  bool full = false, dropped = false;
  std::string spawn_error;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    for (auto it = workers_.begin(); it != workers_.end();) {
      if ((*it)->done) {
        finished.push_back(std::move(*it));
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    if (serving_ < opts_.max_connections) {
      ++serving_;
    } else if (rejecting_ < kRejectThreads) {
      ++rejecting_;
      a.reject = full = true;
    } else {
      dropped = true;
    }
    if (!dropped) {
      bool reject = a.reject;
      queue_.push_back(std::move(a));
      // A thread for every queued connection that no idle thread will take.
      if (static_cast<int>(queue_.size()) > idle_) {
        auto w = std::make_unique<Worker>();
        Worker* raw = w.get();
        try {
          w->thread = std::thread([this, raw] { WorkerLoop(raw); });
          workers_.push_back(std::move(w));
        } catch (const std::system_error& e) {
          // No thread to be had (out of memory or a limit): this connection is closed.
          queue_.pop_back();
          if (reject) --rejecting_;
          else --serving_;
          spawn_error = e.what();
        }
      }
    }
  }
  if (!spawn_error.empty()) spdlog::error("API connection thread: {}", spawn_error);
  // Threads that ended are joined outside the lock (they have returned already).
  for (auto& w : finished) w->thread.join();
  if (full || dropped) {
    auto now = transport::SteadyClock::now();
    if (now - last_full_warning_ > std::chrono::seconds(10)) {
      last_full_warning_ = now;
      spdlog::warn("{} connections are being served (--max-connections): new connections are "
                   "refused with 503 until some end",
                   opts_.max_connections);
    }
  }
}

void ApiServer::WorkerLoop(Worker* self) {
  // One io_context for every connection this thread serves: a connection then costs no
  // epoll instance of its own.
  std::optional<asio::io_context> io;
  try {
    io.emplace(1);
  } catch (const std::exception& e) {
    spdlog::error("API connection thread: {}", e.what());  // out of descriptors: EMFILE
    absl::MutexLock lock(&mu_);
    self->done = true;
    return;  // the queued connection goes to another thread, or is closed by Stop()
  }
  for (;;) {
    Accepted a;
    {
      absl::MutexLock lock(&mu_);
      ++idle_;
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || stopping_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&ready), kIdleThreadExit);
      --idle_;
      if (stopping_ || queue_.empty()) {
        self->done = true;
        return;
      }
      a = std::move(queue_.front());
      queue_.pop_front();
    }
    bool reject = a.reject;
    ServeOne(a, *io, self);
    absl::MutexLock lock(&mu_);
    if (reject) --rejecting_;
    else --serving_;
  }
}

void ApiServer::ServeOne(Accepted& a, asio::io_context& io, Worker* self) {
  transport::Stream stream(io, std::move(a.fd), a.tls ? opts_.tls : nullptr);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    self->stream = &stream;  // from here Stop() can abort it
  }
  ServeHttp(stream, router_, opts_, a.header_deadline, a.reject);
  absl::MutexLock lock(&mu_);
  self->stream = nullptr;
}

void ApiServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (auto& w : workers_)
      if (w->stream != nullptr) w->stream->Abort();
  }
  accept_io_.stop();
  if (acceptor_.joinable()) acceptor_.join();
  std::list<std::unique_ptr<Worker>> workers;
  std::deque<Accepted> queued;
  {
    absl::MutexLock lock(&mu_);
    workers.swap(workers_);
    queued.swap(queue_);
  }
  queued.clear();  // connections no thread took: closed
  for (auto& w : workers) w->thread.join();
  // The listening descriptors belong to listeners_; the watches only borrowed them.
  for (auto& w : accept_watch_) w->release();
  for (auto& l : listeners_) {
    l.fd.reset();
    if (!l.unix_path.empty()) ::unlink(l.unix_path.c_str());
  }
}

std::vector<std::string> ApiServer::Addresses() const {
  std::vector<std::string> out;
  for (const auto& l : listeners_) {
    if (!l.unix_path.empty()) {
      out.push_back("unix://" + l.unix_path);
      continue;
    }
    sockaddr_storage ss = {};
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = {};
    if (::getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) continue;
    if (ss.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
      out.push_back(absl::StrCat("tcp://", host, ":", ntohs(a->sin_port)));
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
      out.push_back(absl::StrCat("tcp://[", host, "]:", ntohs(a->sin6_port)));
    }
  }
  return out;
}

int ApiServer::ConnectionThreads() const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& w : workers_)
    if (!w->done) ++n;
  return n;
}

}  // namespace berth::api
