#pragma once
// A small HTTP/1.1 client (the registry client's and the etcd client's): requests over
// transport::Stream (plain TCP or TLS) with Beast's response parser, a small pool of idle
// keep-alive connections per scheme://host:port, response bodies read piece by piece (a layer is
// never held in memory), and Go net/http's wording for failures, since that is what Docker
// shows: `Get "http://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused`.
//
// Threading: an HttpClient may be shared by several threads (the blob calls of one registry
// Repository, the requests of one etcd Client); each call takes a connection of its own (from
// the pool or a new one), and the pool's mutex is never held while connecting, reading or
// writing.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "api/transport/stream.h"
#include "api/transport/tls.h"
#include "common/status.h"

namespace berth::http {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // "127.0.0.1", "registry-1.docker.io", "::1" (no brackets)
  int port = 0;
  std::string target;  // "/v2/a/b/manifests/latest?x=y"

  std::string HostPort() const;   // "127.0.0.1:5000", "[::1]:5000"; the port always
  std::string Authority() const;  // the Host header: without the scheme's default port
  std::string Origin() const;     // "https://host:port"
  std::string String() const;     // "http://127.0.0.1:5000/v2/"
};
// An absolute http(s) URL.
StatusOr<Url> ParseUrl(std::string_view s);
// A Location header against the URL it answered: absolute, or a path ("/v2/...").
StatusOr<Url> ResolveUrl(const Url& base, std::string_view location);
// "%XX" escaping of a query value.
std::string QueryEscape(std::string_view s);

// How connections to a host are secured. Decided per host by the owner (the registry client's
// Registries, the etcd client).
struct HostTls {
  std::shared_ptr<const transport::TlsContext> context;  // for https
  bool verify = true;  // false: insecure registry (certificate not checked, as Docker)
};
// Gives the TLS context for the origin of a URL (a registry's certs.d, system CAs, insecure or
// not; the cluster CA).
using TlsFor = std::function<StatusOr<HostTls>(const Url& url)>;

struct Request {
  std::string method = "GET";
  Url url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // A body streamed from a descriptor instead (body_size bytes from its offset; 0 for none).
  int body_fd = -1;
  int64_t body_size = 0;
  std::function<void(int64_t done, int64_t total)> upload_progress;
  // Whether the response to a HEAD has no body (set automatically for HEAD).
  bool head = false;
  // A deadline for the whole exchange: connecting, sending, the response header and the body.
  // kForever: the client's connect and idle (stall) timeouts alone.
  transport::Deadline deadline = transport::kForever;
  // A response that streams for as long as the server likes (an etcd watch): once the header is
  // in, body reads wait without a time limit; Response::Abort() ends them.
  bool streaming = false;
};

class Connection;

class Response {
 public:
  ~Response();
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;

  int status() const { return status_; }
  const std::string& reason() const { return reason_; }
  // The first value of a header (case-insensitive), "" when absent.
  std::string Header(std::string_view name) const;
  std::vector<std::string> Headers(std::string_view name) const;
  // -1 when the response did not say.
  int64_t content_length() const { return content_length_; }
  const std::string& method() const { return method_; }
  const Url& url() const { return url_; }

  // Reads up to n body bytes; 0 at the end (the connection then goes back to the pool).
  // Failures read as Go's ("unexpected EOF"), with the request in front.
  StatusOr<size_t> Read(char* buf, size_t n, const std::atomic<bool>* cancel = nullptr);
  // The whole body, refused past `limit` bytes.
  StatusOr<std::string> ReadAll(size_t limit);
  // Reads and drops a small rest (so the connection can be reused) or closes it.
  void Discard();
  // Thread-safe: a Read blocked on this response (and every later one) fails with CANCELLED,
  // and the connection is not reused.
  void Abort();

 private:
  friend class HttpClient;
  Response() = default;
  class Impl;
  std::unique_ptr<Impl> impl_;
  int status_ = 0;
  std::string reason_;
  std::vector<std::pair<std::string, std::string>> headers_;  // lowercase names
  int64_t content_length_ = -1;
  std::string method_;
  Url url_;
};

struct HttpOptions {
  std::string user_agent;
  int connect_timeout_ms = 15000;
  int idle_timeout_ms = 60000;
  size_t max_idle_per_host = 4;
};

class HttpClient {
 public:
  HttpClient(HttpOptions opts, TlsFor tls_for);
  ~HttpClient();

  // Sends the request and reads the response's header; the body is read through the Response.
  // A reused connection that turns out closed is replaced once (when the body can be sent
  // again). Transport failures: UNAVAILABLE with Go's words; CANCELLED when `cancel` is set.
  StatusOr<std::unique_ptr<Response>> Send(const Request& req,
                                           const std::atomic<bool>* cancel = nullptr);
  // Connects (and, for https, completes the handshake) to the origin of url, and keeps the
  // connection for the next request. Used to find out whether an insecure registry speaks TLS.
  Status Probe(const Url& url);

  // "Get", "Head", ...: Go's request error prefix: `Get "URL": `.
  static std::string ErrorPrefix(std::string_view method, const Url& url);

 private:
  friend class Response;
  StatusOr<std::unique_ptr<Connection>> Connect(const Url& url,
                                                transport::Deadline deadline = transport::kForever);
  std::unique_ptr<Connection> TakeIdle(const std::string& origin);
  void PutIdle(std::unique_ptr<Connection> c);

  HttpOptions opts_;
  TlsFor tls_for_;
  absl::Mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::http
