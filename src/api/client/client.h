#pragma once
// berth::client: a small synchronous Docker Engine API client (Boost.Beast over a unix or tcp
// socket, or TLS over tcp, through transport::Stream). Used by the `berth` CLI, by tests and by
// benchmarks.
//
// Threading: a Client holds no connection; every call opens its own socket, so one Client may be
// used from several threads at once once Negotiate() has run (it only reads its members).
//
// Errors: a transport failure is UNAVAILABLE with docker's "Cannot connect to the Docker daemon
// at ..." text; a daemon error (HTTP status >= 400) becomes a status whose code follows the HTTP
// status and whose message is docker's "Error response from daemon: <message>".

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/transport/stream.h"
#include "api/transport/tls.h"
#include "common/fd.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace berth::client {

inline constexpr std::string_view kDefaultHost = "unix:///run/berth.sock";
// The API version spoken when the daemon's ping carries no Api-Version header.
inline constexpr std::string_view kDefaultApiVersion = "1.41";

struct Endpoint {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;  // kUnix: socket path
  std::string host;  // kTcp
  uint16_t port = 0;
  std::string raw;  // as given, for messages ("unix:///run/berth.sock")
};

// "unix:///path", "tcp://host:port" (also "host:port" and a bare "/path").
StatusOr<Endpoint> ParseHost(std::string_view host);
// The first non-empty of: flag_value, $BERTH_HOST, $DOCKER_HOST, kDefaultHost.
std::string ResolveHost(std::string_view flag_value);

// Header names are lowercased.
using Headers = std::map<std::string, std::string>;

struct Response {
  int status = 0;
  Headers headers;
  std::string body;

  std::string Header(std::string_view name) const;  // lowercase name; "" if absent
  StatusOr<nlohmann::json> Json() const;
};

// The message the daemon put in an error body ({"message": "..."}), else the body text, else the
// HTTP reason.
std::string DaemonMessage(int status, std::string_view body);
// A non-OK status for an error response: code from the HTTP status, message
// "Error response from daemon: <DaemonMessage>".
Status ErrorFromResponse(int status, std::string_view body);

// A connection taken over after an upgrade (attach, exec start): the raw stream (plain or TLS)
// plus any bytes the HTTP parser had already read past the response headers.
struct HijackedConn {
  std::unique_ptr<transport::Stream> stream;
  std::string leftover;
  int status = 0;
  Headers headers;
};

struct RequestOptions {
  std::string content_type = "application/json";
  Headers headers;
  // Streaming: called before the body is read, once the request has been written; lets a caller
  // sequence a second request after this one was sent (run sends wait before start).
  std::function<void()> on_sent;
  // Streaming: called once the response headers have been read, before the body.
  std::function<void(int status)> on_headers;
};

class Client {
 public:
  // tls: speak TLS on every connection (docker's --tls/--tlsverify); null: plain.
  explicit Client(Endpoint endpoint, std::shared_ptr<const transport::TlsContext> tls = nullptr);

  // Connects to host (see ParseHost) and negotiates the API version with HEAD /_ping.
  static StatusOr<std::unique_ptr<Client>> Connect(
      std::string_view host, std::shared_ptr<const transport::TlsContext> tls = nullptr);

  // HEAD /_ping (GET when HEAD is refused); uses the lower of the daemon's Api-Version and
  // kDefaultApiVersion, as docker's client downgrades to what the daemon speaks.
  Status Negotiate();
  const std::string& api_version() const { return api_version_; }
  // "Docker/20.10.24 (linux)"-style Server header and OSType seen on the ping.
  const Headers& ping_headers() const { return ping_headers_; }
  const Endpoint& endpoint() const { return endpoint_; }
  // "/v1.41" + path_and_query once negotiated; the path as given before.
  std::string VersionedPath(std::string_view path_and_query) const;

  // A plain request; the whole body is buffered. Returns the response whatever its status; use
  // Call() to turn >= 400 into a status.
  StatusOr<Response> Do(std::string_view method, std::string_view path, std::string_view body = {},
                        const RequestOptions& opts = {}) const;
  // Do(), then ErrorFromResponse on status >= 400.
  StatusOr<Response> Call(std::string_view method, std::string_view path,
                          std::string_view body = {}, const RequestOptions& opts = {}) const;
  StatusOr<Response> CallJson(std::string_view method, std::string_view path,
                              const nlohmann::json& body) const;

  // A request whose response body is handed over as it arrives (chunked or not). on_data returns
  // false to stop reading. For status >= 400 the body is buffered into the returned Response
  // instead (and on_data is not called).
  StatusOr<Response> Stream(std::string_view method, std::string_view path, std::string_view body,
                            const std::function<bool(std::string_view)>& on_data,
                            const RequestOptions& opts = {}) const;

  // Sends the request with "Connection: Upgrade" and "Upgrade: tcp"; on 101 (or 200) returns
  // the raw connection. Any other status becomes ErrorFromResponse.
  StatusOr<HijackedConn> Hijack(std::string_view method, std::string_view path,
                                std::string_view body = {}, const RequestOptions& opts = {}) const;

 private:
  // A connected stream; for TLS, with the handshake done.
  StatusOr<std::unique_ptr<transport::Stream>> Dial() const;
  Status ConnectError(std::string_view detail) const;

  Endpoint endpoint_;
  std::shared_ptr<const transport::TlsContext> tls_;
  std::string api_version_;
  Headers ping_headers_;
};

// Compact JSON for a request body; invalid UTF-8 in user input is replaced (U+FFFD) rather than
// throwing, as nlohmann's default does.
std::string DumpJson(const nlohmann::json& j);

// URL query escaping (RFC 3986 unreserved characters pass through).
std::string QueryEscape(std::string_view s);
// {"key":{"value":true}} as the filters= parameter expects, from "key=value" strings.
nlohmann::json FiltersJson(const std::map<std::string, std::vector<std::string>>& filters);

}  // namespace berth::client
