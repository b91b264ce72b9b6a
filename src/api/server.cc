#include "api/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstring>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace berth::api {

namespace http = boost::beast::http;
using stream_protocol = boost::asio::local::stream_protocol;

namespace {

std::string UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && isxdigit(s[i + 1]) && isxdigit(s[i + 2])) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool VersionGreater(const std::string& a, const std::string& b) {
  int amaj = 0, amin = 0, bmaj = 0, bmin = 0;
  sscanf(a.c_str(), "%d.%d", &amaj, &amin);
  sscanf(b.c_str(), "%d.%d", &bmaj, &bmin);
  return amaj != bmaj ? amaj > bmaj : amin > bmin;
}

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
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return ErrnoStatus(errno, "socket");
    struct sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) return absl::InvalidArgumentError("socket path too long: " + path);
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    ::unlink(path.c_str());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      return ErrnoStatus(errno, "bind " + path);
    ::chmod(path.c_str(), 0660);
    if (::listen(fd.get(), 128) != 0) return ErrnoStatus(errno, "listen " + path);
    listeners_.push_back(std::move(fd));
    unix_paths_.push_back(path);
    return absl::OkStatus();
  }
  if (absl::StartsWith(addr, "tcp://")) {
    std::string hp = addr.substr(6);
    auto colon = hp.find_last_of(':');
    if (colon == std::string::npos) return absl::InvalidArgumentError("missing port in " + addr);
    std::string host = hp.substr(0, colon);
    int port = std::atoi(hp.substr(colon + 1).c_str());
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host.empty() ? "127.0.0.1" : host.c_str(), &sa.sin_addr) != 1)
      return absl::InvalidArgumentError("invalid address " + addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
      return ErrnoStatus(errno, "bind " + addr);
    if (::listen(fd.get(), 128) != 0) return ErrnoStatus(errno, "listen " + addr);
    listeners_.push_back(std::move(fd));
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError("unsupported host address " + addr +
                                    " (use unix:///path or tcp://ip:port)");
}

void ApiServer::Serve() {
  for (auto& l : listeners_) {
    int fd = l.get();
    acceptors_.emplace_back([this, fd] { AcceptLoop(fd); });
  }
}

void ApiServer::Stop() {
  if (stopping_.exchange(true)) return;
  for (auto& l : listeners_) ::shutdown(l.get(), SHUT_RDWR);
  for (auto& t : acceptors_)
    if (t.joinable()) t.join();
  for (auto& p : unix_paths_) ::unlink(p.c_str());
}

void ApiServer::AcceptLoop(int listen_fd) {
  while (!stopping_) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (stopping_) return;
      if (errno == EINVAL) return;  // shut down
      spdlog::warn("accept: {}", std::strerror(errno));
      continue;
    }
    std::thread([this, fd] { ServeConn(fd); }).detach();
  }
}

void ApiServer::ServeConn(int raw_fd) {
  boost::asio::io_context io;
  stream_protocol::socket sock(io);
  boost::system::error_code ec;
  sock.assign(stream_protocol(), raw_fd, ec);
  if (ec) {
    ::close(raw_fd);
    return;
  }
  boost::beast::flat_buffer buffer;
  static const std::regex kVersioned("^/v([0-9]+\\.[0-9]+)(/.*)$");
  for (;;) {
    http::request_parser<http::empty_body> head;
    head.header_limit(64 * 1024);
    // Beast checks Content-Length against the body limit while parsing the header; the
    // per-route limits are applied when the body is read below.
    head.body_limit(static_cast<uint64_t>(max_upload_));
    http::read_header(sock, buffer, head, ec);
    if (ec) {
      if (ec != http::error::end_of_stream && ec != boost::asio::error::eof &&
          ec != boost::asio::error::connection_reset) {
        Conn(raw_fd).SendError(absl::InvalidArgumentError("bad request: " + ec.message()));
      }
      break;
    }
    Request req;
    auto& h = head.get();
    // Read everything needed from the header now: `head` is moved into the body parser below.
    bool keep_alive = h.keep_alive();
    req.method = std::string(h.method_string());
    std::string target(h.target());
    auto q = target.find('?');
    std::string path = q == std::string::npos ? target : target.substr(0, q);
    if (q != std::string::npos) {
      for (absl::string_view kv : absl::StrSplit(target.substr(q + 1), '&', absl::SkipEmpty())) {
        auto eq = kv.find('=');
        std::string k = UrlDecode(std::string_view(kv.data(), eq == absl::string_view::npos ? kv.size() : eq));
        std::string v = eq == absl::string_view::npos ? "" : UrlDecode(std::string_view(kv.data() + eq + 1, kv.size() - eq - 1));
        req.query[k] = v;
        req.query_all[k].push_back(v);
      }
    }
    for (auto& f : h) {
      std::string name(f.name_string());
      for (auto& ch : name) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
      req.headers[name] = std::string(f.value());
    }
    std::smatch m;
    req.version = kApiVersion;
    if (std::regex_match(path, m, kVersioned)) {
      req.version = m[1];
      path = m[2];
    }
    req.path = path;
    Conn conn(raw_fd);
    bool upload = false, known = false;
    const Handler* handler = router_.Match(req, &upload, &known);

    // Read the body: to a file for uploads (image load/import), into memory otherwise.
    bool body_ok = true;
    if (upload && handler) {
      req.body_file = tmp_dir_ + "/upload-" + NewId().substr(0, 16);
      http::request_parser<http::file_body> p{std::move(head)};
      p.body_limit(static_cast<uint64_t>(max_upload_));
      p.get().body().open(req.body_file.c_str(), boost::beast::file_mode::write, ec);
      if (!ec) http::read(sock, buffer, p, ec);
      if (ec) {
        ::unlink(req.body_file.c_str());
        conn.SendError(ec == http::error::body_limit
                           ? absl::InvalidArgumentError("request body too large")
                           : absl::InvalidArgumentError("read request body: " + ec.message() +
                                                        " (truncated upload?)"));
        break;
      }
      p.get().body().close();
    } else {
      http::request_parser<http::string_body> p{std::move(head)};
      p.body_limit(64 * 1024 * 1024);
      http::read(sock, buffer, p, ec);
      if (ec) {
        conn.SendError(absl::InvalidArgumentError("read request body: " + ec.message()));
        break;
      }
      req.body = std::move(p.get().body());
    }
    (void)body_ok;
    if (buffer.size() > 0) {
      auto d = buffer.data();
      conn.leftover.assign(static_cast<const char*>(d.data()), d.size());
      buffer.consume(buffer.size());
    }
    spdlog::debug("{} {}", req.method, target);
    if (VersionGreater(req.version, kApiVersion)) {
      conn.SendError(absl::InvalidArgumentError("client version " + req.version +
                                                " is too new. Maximum supported API version is " +
                                                kApiVersion));
    } else if (handler == nullptr) {
      conn.SendJson(404, {{"message", known ? "page not found" : "page not found"}});
    } else {
      // No exception crosses the API boundary: a JSON field of the wrong type deep in a
      // manager is the client's error (400), anything else a 500; the daemon lives on.
      try {
        (*handler)(req, conn);
      } catch (const nlohmann::json::exception& e) {
        if (!conn.closed())
          conn.SendError(absl::InvalidArgumentError(std::string("invalid JSON: ") + e.what()));
      } catch (const std::exception& e) {
        spdlog::error("{} {}: {}", req.method, req.path, e.what());
        if (!conn.closed()) conn.SendError(absl::InternalError(e.what()));
      }
    }
    if (!req.body_file.empty()) ::unlink(req.body_file.c_str());
    if (conn.closed() || !keep_alive) break;
  }
  sock.shutdown(stream_protocol::socket::shutdown_both, ec);
  sock.close(ec);
}

}  // namespace berth::api
