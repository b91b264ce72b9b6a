#pragma once
// ApiServer: the Docker Engine API over unix sockets (and tcp:// for tests that want it).
// One thread per connection: attach, exec, logs -f, events and wait hold their connection for
// a long time, and a blocked thread is the simplest correct owner of such a stream.
//
// Routes are registered once before Serve(); handlers run on connection threads and must be
// thread-safe (the managers they call are).

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/http.h"
#include "common/fd.h"
#include "common/status.h"

namespace berth::api {

using Handler = std::function<void(Request&, Conn&)>;

class Router {
 public:
  // Pattern segments: literal, "{name}" (one segment) or "{name*}" (the rest, at least one
  // segment, minus any literal segments that follow it).
  void Add(const std::string& method, const std::string& pattern, Handler h,
           bool upload = false);
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

class ApiServer {
 public:
  ApiServer(Router& router, std::string tmp_dir, int64_t max_upload)
      : router_(router), tmp_dir_(std::move(tmp_dir)), max_upload_(max_upload) {}
  ~ApiServer();
  // "unix:///run/berth.sock" or "tcp://127.0.0.1:2375"; the socket is created (0660) now.
  Status Listen(const std::string& addr);
  void Serve();  // starts the accept threads
  void Stop();

 private:
  void AcceptLoop(int listen_fd);
  void ServeConn(int fd);

  Router& router_;
  std::string tmp_dir_;
  int64_t max_upload_;
  std::vector<UniqueFd> listeners_;
  std::vector<std::string> unix_paths_;
  std::vector<std::thread> acceptors_;
  std::atomic<bool> stopping_{false};
};

}  // namespace berth::api
