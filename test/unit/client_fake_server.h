#pragma once
// A tiny in-process HTTP server on a unix socket in a temp dir, for the client and CLI tests.
// Each connection runs on its own thread (run keeps its wait request open while it starts the
// container), reads one request and hands it to the test's handler, which writes whatever raw
// bytes it wants (a plain response, a chunked one in pieces, a 101 upgrade...).

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berth::testing {

struct FakeRequest {
  std::string method;
  std::string target;                          // path and query, as sent
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

inline bool FakeWriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// "HTTP/1.1 <status>" response with a JSON (or other) body and Content-Length.
inline std::string FakeResponse(int status, std::string_view body,
                                std::string_view content_type = "application/json",
                                std::string_view extra_headers = "") {
  std::string reason = status == 200   ? "OK"
                       : status == 201 ? "Created"
                       : status == 204 ? "No Content"
                       : status == 404 ? "Not Found"
                                       : "Error";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  out += "Api-Version: 1.41\r\n";
  if (!body.empty() || status != 204) {
    out += "Content-Type: " + std::string(content_type) + "\r\n";
  }
  out += std::string(extra_headers);
  if (status != 204) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

class FakeServer {
 public:
  using Handler = std::function<void(const FakeRequest&, int fd)>;

  explicit FakeServer(Handler handler) : handler_(std::move(handler)) {
    char tmpl[] = "/tmp/berth-fake-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/engine.sock";
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 16);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~FakeServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    for (auto& t : conns_) t.join();
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }

  std::string host() const { return "unix://" + path_; }

  std::vector<FakeRequest> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  // "METHOD target" of every request so far, in arrival order.
  std::vector<std::string> calls() {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<std::string> out;
    for (const auto& r : requests_) out.push_back(r.method + " " + r.target);
    return out;
  }
  // Blocks until a request whose target contains `needle` has arrived.
  void WaitFor(const std::string& needle) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] {
      for (const auto& r : requests_) {
        if (r.target.find(needle) != std::string::npos) return true;
      }
      return false;
    });
  }

 private:
  void AcceptLoop() {
    for (;;) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_) return;
        continue;
      }
      conns_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    std::string buf;
    char tmp[4096];
    size_t header_end;
    while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::read(fd, tmp, sizeof tmp);
      if (n <= 0) {
        ::close(fd);
        return;
      }
      buf.append(tmp, static_cast<size_t>(n));
    }
    FakeRequest req;
    std::string head = buf.substr(0, header_end);
    size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
    req.method = first.substr(0, sp1);
    req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value[0] == ' ') value.erase(0, 1);
        req.headers[name] = value;
      }
      pos = e + 2;
    }
    req.body = buf.substr(header_end + 4);
    size_t want = 0;
    if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
      want = std::strtoul(it->second.c_str(), nullptr, 10);
    }
    while (req.body.size() < want) {
      ssize_t n = ::read(fd, tmp, sizeof tmp);
      if (n <= 0) break;
      req.body.append(tmp, static_cast<size_t>(n));
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      requests_.push_back(req);
    }
    cv_.notify_all();
    handler_(req, fd);
    ::close(fd);
  }

  Handler handler_;
  std::string dir_, path_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::vector<std::thread> conns_;  // only touched by the acceptor thread and the destructor
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<FakeRequest> requests_;
};

// The ping every command starts with.
inline bool ServePing(const FakeRequest& r, int fd) {
  if (r.target != "/_ping") return false;
  FakeWriteAll(fd,
               "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nOstype: linux\r\nServer: "
               "Berth/0.1.0 (linux)\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\n");
  return true;
}

}  // namespace berth::testing
