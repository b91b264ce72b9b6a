// The API's request path (api/http_conn.cc: ServeHttp over a transport::Stream, the Router,
// Request's query and version parsing) on arbitrary bytes from a client: whatever arrives on the
// connection, pipelined requests included.
//
// Invariants:
//   - ServeHttp returns once the client's stream ends (no hang, no crash, no throw);
//   - everything the server wrote is a sequence of well-formed HTTP/1.1 responses (Beast's
//     response parser reads each to its end) with a status the API uses;
//   - a handler sees a body of exactly the length the request declared, and non-empty path
//     parameters;
//   - an upload's temporary file is gone when the connection ends.

#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "api/http_conn.h"
#include "api/server.h"
#include "fuzz_check.h"

namespace berth::api {
namespace {

std::string Show(std::string_view s) {
  s = s.substr(0, 2000);
  return absl::StrCat("\"", absl::CHexEscape(absl::string_view(s.data(), s.size())), "\"");
}

const std::string& TmpDir() {
  static const std::string dir = [] {
    std::string d =
        std::filesystem::temp_directory_path() / ("berth-http-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

void CheckParams(const Request& req, std::string_view input) {
  for (const auto& [k, v] : req.params) {
    FUZZ_CHECK(!v.empty(), absl::StrCat("empty param ", k, " for ", Show(input)));
  }
}

void CheckBody(const Request& req, std::string_view input) {
  auto cl = req.headers.find("content-length");
  if (cl == req.headers.end() || req.headers.count("transfer-encoding")) return;
  uint64_t declared = 0;  // as a number: "07" declares 7
  if (!absl::SimpleAtoi(cl->second, &declared)) return;
  // An upload's body is in a file, any other in memory.
  std::error_code ec;
  uint64_t size = req.body_file.empty() ? req.body.size()
                                        : std::filesystem::file_size(req.body_file, ec);
  FUZZ_CHECK(!ec && size == declared,
             absl::StrCat("body of ", size, " bytes (", ec.message(), "), Content-Length ",
                          cl->second, " for ", Show(input)));
}

// The input being served, for the handlers' messages (they run on ServeHttp's thread).
thread_local std::string_view current_input;

Handler Checked(Handler h) {
  return [h = std::move(h)](Request& req, Conn& c) {
    CheckParams(req, current_input);
    CheckBody(req, current_input);
    h(req, c);
  };
}

// Routes shaped like the API's: versioned paths, path parameters, a JSON body, an upload
// streamed to a file, a chunked stream.
const Router& Routes() {
  static const Router* router = [] {
    auto* r = new Router;
    r->Add("GET", "/containers/{id}/json", Checked([](Request& req, Conn& c) {
             c.SendJson(200, {{"Id", req.params["id"]},
                              {"size", req.QueryBool("size")},
                              {"n", req.QueryInt("n", 0)},
                              {"all", req.query_all.size()}});
           }));
    r->Add("POST", "/containers/create", Checked([](Request& req, Conn& c) {
             auto j = req.Json();
             if (!j.ok()) return c.SendError(j.status());
             c.SendJson(201, {{"Id", std::string(64, 'a')}, {"Warnings", nlohmann::json::array()}});
           }));
    r->Add("POST", "/images/load", Checked([](Request& req, Conn& c) {
             std::error_code ec;
             auto size = std::filesystem::file_size(req.body_file, ec);
             c.SendJson(200, {{"size", ec ? -1 : static_cast<int64_t>(size)}});
           }),
           /*upload=*/true);
    r->Add("GET", "/events", Checked([](Request& req, Conn& c) {
             if (!c.BeginStream(200, "application/json")) return;
             c.WriteChunk(R"({"status":"x"})"
                          "\n");
             c.WriteChunk(req.Query("since"));
             c.EndStream();
           }));
    r->Add("DELETE", "/networks/{name*}", Checked([](Request&, Conn& c) { c.SendEmpty(204); }));
    return r;
  }();
  return *router;
}

}  // namespace
}  // namespace berth::api

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth;
  using namespace berth::api;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  int sv[2];
  FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
  UniqueFd server_fd(sv[0]);
  UniqueFd client_fd(sv[1]);

  // The client: writes the input, ends its side, reads every response to the end. On a thread
  // of its own, so neither side can fill a socket buffer and wait on the other.
  std::string out;
  std::thread client([&, fd = client_fd.get()] {
    size_t off = 0;
    while (off < input.size()) {
      ssize_t n = ::send(fd, input.data() + off, input.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;  // the server closed (after an error); the rest is never read
      off += static_cast<size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  });

  ServerOptions opts;
  opts.tmp_dir = TmpDir();
  opts.max_body = 64 * 1024;
  opts.max_upload = 128 * 1024;
  opts.max_header = 8 * 1024;
  opts.header_timeout = std::chrono::milliseconds(2000);
  opts.idle_timeout = std::chrono::milliseconds(2000);
  {
    transport::Stream stream(std::move(server_fd));
    current_input = input;
    ServeHttp(stream, Routes(), opts, transport::After(opts.header_timeout),
              /*reject=*/(size > 0 && data[0] == 0x01));
  }  // the stream closes: the client reads its end
  client.join();

  // Every response is well-formed, with a status the API sends.
  static const std::set<unsigned> kStatuses = {101, 200, 201, 204, 304, 400, 403, 404, 405,
                                               408, 409, 413, 431, 500, 501, 503, 505};
  boost::beast::flat_buffer buf;
  buf.commit(boost::asio::buffer_copy(buf.prepare(out.size()), boost::asio::buffer(out)));
  while (buf.size() > 0) {
    boost::beast::http::response_parser<boost::beast::http::string_body> p;
    p.body_limit(16 << 20);
    boost::beast::error_code ec;
    for (;;) {
      size_t n = p.put(buf.data(), ec);
      buf.consume(n);
      if (ec == boost::beast::http::error::need_more) {
        // The whole output is there: a response cut short is malformed, except one without a
        // length, which ends with the connection.
        p.put_eof(ec);
        break;
      }
      if (ec || p.is_done() || n == 0) break;
    }
    FUZZ_CHECK(!ec && p.is_done(),
               absl::StrCat("malformed response (", ec.message(), ") in ", berth::api::Show(out),
                            " for ", berth::api::Show(input)));
    FUZZ_CHECK(kStatuses.count(p.get().result_int()),
               absl::StrCat("status ", p.get().result_int(), " for ", berth::api::Show(input)));
  }

  // No upload file outlives its connection.
  for (const auto& e : std::filesystem::directory_iterator(berth::api::TmpDir())) {
    FUZZ_CHECK(false,
               absl::StrCat("left behind: ", e.path().string(), " for ", berth::api::Show(input)));
  }
  return 0;
}
