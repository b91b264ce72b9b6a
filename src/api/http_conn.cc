#include "api/http_conn.h"

#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <limits>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "api/transport/beast_stream.h"
#include "common/ids.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace berth::api {

namespace http = boost::beast::http;
using transport::Deadline;

namespace {

// Boost 1.74 compares a Content-Length against an unset optional limit as "exceeded", so an
// explicit maximum stands for "no limit".
constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();
// How long an early error answer waits for the client to stop sending before closing.
constexpr std::chrono::seconds kLinger{1};
// What is read and dropped at most in that time.
constexpr size_t kLingerBytes = 4 << 20;

std::string Bytes(int64_t n) {
  if (n % (int64_t{1} << 30) == 0) return absl::StrCat(n >> 30, " GiB");
  if (n % (int64_t{1} << 20) == 0) return absl::StrCat(n >> 20, " MiB");
  if (n % 1024 == 0) return absl::StrCat(n >> 10, " KiB");
  return absl::StrCat(n, " bytes");
}

std::string Duration(std::chrono::milliseconds d) {
  return absl::FormatDuration(absl::Milliseconds(d.count()));
}

bool VersionGreater(const std::string& a, const std::string& b) {
  int amaj = 0, amin = 0, bmaj = 0, bmin = 0;
  std::sscanf(a.c_str(), "%d.%d", &amaj, &amin);
  std::sscanf(b.c_str(), "%d.%d", &bmaj, &bmin);
  return amaj != bmaj ? amaj > bmaj : amin > bmin;
}

bool ClientLeft(const boost::system::error_code& ec) {
  return ec == http::error::end_of_stream || ec == boost::asio::error::eof ||
         ec == boost::asio::error::connection_reset || ec == boost::asio::error::operation_aborted;
}

// Answers an error that ends the connection before its request was read to the end, then
// closes our side and reads and drops what the client still sends, for a moment: closing with
// unread data would reset the connection, and the client could lose the answer unread.
void FailAndClose(transport::Stream& s, int status, const std::string& message) {
  Conn c(s);
  c.AnnounceClose();
  c.SendJson(status, {{"message", message}});
  if (s.tls()) (void)s.CloseWrite(transport::After(kLinger));
  s.Linger(transport::After(kLinger), kLingerBytes);
}

// The error that ended reading a request body, as the client hears it.
void FailBody(transport::Stream& s, const boost::system::error_code& ec, uint64_t limit,
              const ServerOptions& opts, bool upload) {
  if (ec == boost::asio::error::connection_reset || ec == boost::asio::error::operation_aborted)
    return;
  if (ec == http::error::body_limit) {
    FailAndClose(s, 413,
                 "request body too large: the limit is " + Bytes(static_cast<int64_t>(limit)));
  } else if (ec == boost::beast::error::timeout) {
    FailAndClose(s, 408, "timeout: the request body stalled for " + Duration(opts.header_timeout));
  } else {
    FailAndClose(s, 400,
                 "read request body: " + ec.message() + (upload ? " (truncated upload?)" : ""));
  }
}

}  // namespace

void ServeHttp(transport::Stream& s, const Router& router, const ServerOptions& opts,
               Deadline header_deadline, bool reject) {
  if (s.tls()) {
    Status hs = s.Handshake(header_deadline);
    if (!hs.ok()) {
      // A client without a certificate under --tlsverify, a plain-HTTP client on a TLS port,
      // a scanner: worth a line, not a warning.
      if (s.aborted()) return;
      spdlog::info("API connection refused: {}", std::string(hs.message()));
      // OpenSSL has sent its alert ("certificate required"): let the client read it.
      s.Linger(transport::After(kLinger), kLingerBytes);
      return;
    }
  }
  static const std::regex kVersioned("^/v([0-9]+\\.[0-9]+)(/.*)$");
  transport::BeastStream io(s);
  boost::beast::flat_buffer buffer;
  for (bool first = true;; first = false) {
    if (!first) {
      // Keep-alive: the next request may take idle_timeout to begin, then header_timeout.
      if (!s.Buffered()) {
        transport::WaitResult w = s.Wait(true, nullptr, transport::After(opts.idle_timeout));
        if (!w.stream) break;  // idle, or shutting down: closed quietly, as Go's server does
      }
      header_deadline = transport::After(opts.header_timeout);
    }
    io.set_deadline(header_deadline);
    boost::system::error_code ec;
    http::request_parser<http::empty_body> head;
    head.header_limit(static_cast<std::uint32_t>(opts.max_header));
    head.body_limit(kNoLimit);  // per route, once the route is known
    http::read_header(io, buffer, head, ec);
    if (ec) {
      if (ec == boost::beast::error::timeout) {
        FailAndClose(
            s, 408,
            "timeout: the request header was not received within " + Duration(opts.header_timeout));
      } else if (ec == http::error::header_limit) {
        FailAndClose(s, 431,
                     "request header too large: the limit is " +
                         Bytes(static_cast<int64_t>(opts.max_header)));
      } else if (!ClientLeft(ec)) {
        FailAndClose(s, 400, "bad request: " + ec.message());
      }
      break;
    }
    if (reject) {
      FailAndClose(
          s, 503,
          absl::StrCat("too many connections: the daemon serves at most ", opts.max_connections,
                       " at once (--max-connections); try again later"));
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
        std::string k =
            UrlDecode(std::string_view(kv.data(), eq == absl::string_view::npos ? kv.size() : eq));
        std::string v = eq == absl::string_view::npos
                            ? ""
                            : UrlDecode(std::string_view(kv.data() + eq + 1, kv.size() - eq - 1));
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
    bool upload = false, known = false;
    const Handler* handler = router.Match(req, &upload, &known);
    bool to_file = upload && handler != nullptr;
    uint64_t limit = static_cast<uint64_t>(to_file ? opts.max_upload : opts.max_body);

    // The body: to a file for uploads (image load/import), into memory otherwise. A declared
    // length over the limit is refused before a byte of it is read.
    if (auto len = head.content_length(); len && *len > limit) {
      FailBody(s, http::error::body_limit, limit, opts, to_file);
      break;
    }
    bool has_body = head.chunked() || head.content_length().value_or(0) > 0;
    auto expect = req.headers.find("expect");
    if (has_body && expect != req.headers.end() &&
        absl::EqualsIgnoreCase(expect->second, "100-continue") &&
        !s.WriteAll("HTTP/1.1 100 Continue\r\n\r\n").ok()) {
      break;
    }
    io.set_stall_timeout(opts.header_timeout);
    if (to_file) {
      req.body_file = opts.tmp_dir + "/upload-" + NewId().substr(0, 16);
      http::request_parser<http::file_body> p{std::move(head)};
      p.body_limit(limit);
      p.get().body().open(req.body_file.c_str(), boost::beast::file_mode::write, ec);
      if (ec) {
        FailAndClose(s, 500, "store upload: " + ec.message());
        break;
      }
      http::read(io, buffer, p, ec);
      p.get().body().close();
      if (ec) {
        ::unlink(req.body_file.c_str());
        FailBody(s, ec, limit, opts, true);
        break;
      }
    } else {
      http::request_parser<http::string_body> p{std::move(head)};
      p.body_limit(limit);
      http::read(io, buffer, p, ec);
      if (ec) {
        FailBody(s, ec, limit, opts, false);
        break;
      }
      req.body = std::move(p.get().body());
    }
    // What the parser read past the request (a pipelined request, or the first bytes of a
    // hijacked stream) goes back to the stream, to be read first.
    if (buffer.size() > 0) {
      auto d = buffer.data();
      s.Unread(std::string_view(static_cast<const char*>(d.data()), d.size()));
      buffer.consume(buffer.size());
    }
    spdlog::debug("{} {}", req.method, target);
    Conn conn(s);
    if (VersionGreater(req.version, kApiVersion)) {
      conn.SendError(absl::InvalidArgumentError("client version " + req.version +
                                                " is too new. Maximum supported API version is " +
                                                kApiVersion));
    } else if (handler == nullptr) {
      conn.SendJson(404, {{"message", "page not found"}});
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
  // TLS: our close_notify, so that the client reads a clean end, not a truncated stream.
  if (s.tls() && !s.aborted()) (void)s.CloseWrite(transport::After(kLinger));
}

}  // namespace berth::api
