#pragma once
// ApiServer: the Docker Engine API on unix sockets and TCP listeners (plain, or TLS with
// dockerd's --tls/--tlsverify).
//
// Threads: one acceptor thread takes connections off every listener (an Asio io_context waiting
// on the listening sockets) and hands each to a connection thread from a counted pool. A
// connection thread serves its connection to the end (see ServeHttp): attach, exec, `logs -f`,
// `events` and `wait` hold a connection for a long time, and a blocked thread is the simplest
// correct owner of such a stream. Threads are reused; one idle for a minute ends. At most
// max_connections connections are served at once: past that, a few extra threads answer 503
// with a JSON message and close, and beyond those a connection is closed at once. Stop() aborts
// every connection's stream (so even a thread in an attach or a `logs -f` returns) and joins
// every thread.
//
// Routes are registered once before Serve(); handlers run on connection threads and must be
// thread-safe (the managers they call are).

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "api/http.h"
#include "api/transport/stream.h"
#include "api/transport/tls.h"
#include "common/fd.h"
#include "common/status.h"

namespace berth::api {

using Handler = std::function<void(Request&, Conn&)>;

class Router {
 public:
  // Pattern segments: literal, "{name}" (one segment) or "{name*}" (the rest, at least one
  // segment, minus any literal segments that follow it).
  void Add(const std::string& method, const std::string& pattern, Handler h, bool upload = false);
  // Finds the handler; fills req.params. Returns nullptr if none; *upload tells whether the
  // body should be streamed to a file.
  const Handler* Match(Request& req, bool* upload, bool* path_known) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segs;
    Handler handler;
    bool upload;
  };
  std::vector<Route> routes_;
};

struct ServerOptions {
  std::string tmp_dir;                     // upload bodies are streamed to files here
  int64_t max_upload = int64_t{16} << 30;  // body of an upload route (image load, import)
  int64_t max_body = int64_t{16} << 20;    // body of any other route; past it, 413
  size_t max_header = 64 * 1024;           // request line and headers; past it, 431
  int max_connections = 512;               // served at once; past it, 503
  // A request header (and a TLS handshake) must be complete this long after the connection
  // or its first byte came, or the client gets 408 (slowloris); a body may not stall longer.
  std::chrono::milliseconds header_timeout{30'000};
  // A keep-alive connection waiting for its next request is closed after this.
  std::chrono::milliseconds idle_timeout{120'000};
  // TLS for tcp:// listeners; null: plain. unix sockets are never TLS (as dockerd).
  std::shared_ptr<const transport::TlsContext> tls;
};

class ApiServer {
 public:
  ApiServer(Router& router, ServerOptions opts) : router_(router), opts_(std::move(opts)) {}
  ~ApiServer();
  // "unix:///run/berth.sock" (created now, mode 0660) or "tcp://IP:PORT" ("[::1]:PORT",
  // "localhost:PORT"), bound now.
  Status Listen(const std::string& addr);
  void Serve();  // starts the acceptor thread
  void Stop();   // idempotent; returns once every thread has been joined

  // The addresses listened on, as bound ("tcp://127.0.0.1:2375" for a tcp://...:0 host).
  std::vector<std::string> Addresses() const;
  // Connection threads alive now (busy or idle), for tests and the curious.
  int ConnectionThreads() const;

 private:
  struct Listener {
    UniqueFd fd;
    bool tcp = false;
    bool tls = false;
    std::string unix_path;
  };
  struct Accepted {
    UniqueFd fd;
    bool tls = false;
    bool reject = false;  // over the limit: answer 503 and close
    transport::Deadline header_deadline;
  };
  struct Worker {
    std::thread thread;
    transport::Stream* stream = nullptr;  // the connection being served; guarded by mu_
    bool done = false;                    // the thread has left its loop; guarded by mu_
  };

  void AcceptReady(size_t listener);
  void ArmAccept(size_t listener);
  void Dispatch(Accepted a);
  void WorkerLoop(Worker* self);
  void ServeOne(Accepted& a, boost::asio::io_context& io, Worker* self);

  Router& router_;
  const ServerOptions opts_;
  std::vector<Listener> listeners_;  // set before Serve(), then read by the acceptor only

  // The acceptor: its io_context watches the listening sockets; run by acceptor_.
  boost::asio::io_context accept_io_{1};
  std::vector<std::unique_ptr<boost::asio::posix::stream_descriptor>> accept_watch_;
  std::vector<std::unique_ptr<boost::asio::steady_timer>> accept_backoff_;
  std::thread acceptor_;
  transport::SteadyClock::time_point last_full_warning_;  // acceptor thread only

  mutable absl::Mutex mu_;
  std::list<std::unique_ptr<Worker>> workers_ ABSL_GUARDED_BY(mu_);
  std::deque<Accepted> queue_ ABSL_GUARDED_BY(mu_);  // accepted, waiting for a thread
  int idle_ ABSL_GUARDED_BY(mu_) = 0;                // threads waiting for work
  int serving_ ABSL_GUARDED_BY(mu_) = 0;             // admitted connections not finished
  int rejecting_ ABSL_GUARDED_BY(mu_) = 0;           // connections being answered 503
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ = false;  // Stop() has run (Stop is called from one thread)
};

}  // namespace berth::api
