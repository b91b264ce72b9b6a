#include "api/client/client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/text.h"
#include "api/transport/beast_stream.h"

namespace berth::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

constexpr std::string_view kUserAgent = "Berth-Client/0.1.0 (linux)";

// Debian's Abseil has its own string_view type (ABSL_OPTION_USE_STD_STRING_VIEW is 0), which
// does not convert from std::string_view.
// Boost 1.74 compares a Content-Length against an unset optional limit as "exceeded", so an
// explicit maximum stands for "no limit".
constexpr std::uint64_t kNoBodyLimit = std::numeric_limits<std::uint64_t>::max();

absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
// Boost 1.74's string_view is boost::string_view, likewise.
beast::string_view Bv(std::string_view s) { return beast::string_view(s.data(), s.size()); }

// Compares "1.41" and "1.9" numerically, part by part.
bool VersionLess(std::string_view a, std::string_view b) {
  std::vector<absl::string_view> pa = absl::StrSplit(Av(a), '.');
  std::vector<absl::string_view> pb = absl::StrSplit(Av(b), '.');
  for (size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    int x = 0, y = 0;
    if (i < pa.size() && !absl::SimpleAtoi(pa[i], &x)) x = 0;
    if (i < pb.size() && !absl::SimpleAtoi(pb[i], &y)) y = 0;
    if (x != y) return x < y;
  }
  return false;
}

template <class Message>
Headers LowercaseHeaders(const Message& msg) {
  Headers h;
  for (const auto& field : msg) {
    h[absl::AsciiStrToLower(std::string(field.name_string()))] = std::string(field.value());
  }
  return h;
}

http::request<http::string_body> BuildRequest(std::string_view method, std::string target,
                                              std::string_view body, const RequestOptions& opts) {
  http::request<http::string_body> req;
  http::verb verb = http::string_to_verb(Bv(method));
  if (verb == http::verb::unknown) {
    req.method_string(Bv(method));
  } else {
    req.method(verb);
  }
  req.target(target);
  req.version(11);
  req.set(http::field::host, "api.moby.localhost");
  req.set(http::field::user_agent, Bv(kUserAgent));
  for (const auto& [k, v] : opts.headers) req.set(k, v);
  if (!body.empty()) {
    req.set(http::field::content_type, opts.content_type);
    req.body() = std::string(body);
  }
  // POSTs without a body still carry "Content-Length: 0", which some servers insist on.
  if (!body.empty() || verb == http::verb::post || verb == http::verb::put) req.prepare_payload();
  return req;
}

// The stream's own account of a failure says more than Beast's code ("TLS read: tlsv13 alert
// certificate required" rather than "connection reset").
Status IoError(std::string_view what, const beast::error_code& ec,
               const transport::BeastStream& stream) {
  std::string why = stream.last_error().ok() ? ec.message()
                                             : std::string(stream.last_error().message());
  return absl::UnavailableError(absl::StrCat("error during connect: ", Av(what), ": ", why));
}

// How long a TLS handshake may take (the dial itself is a blocking connect, as before).
constexpr auto kHandshakeTimeout = std::chrono::seconds(30);

}  // namespace

StatusOr<Endpoint> ParseHost(std::string_view host) {
  Endpoint ep;
  ep.raw = std::string(host);
  if (host.starts_with("unix://")) {
    host.remove_prefix(7);
    ep.kind = Endpoint::Kind::kUnix;
    ep.path = std::string(host);
    if (ep.path.empty()) return absl::InvalidArgumentError("unix socket path is empty");
    return ep;
  }
  if (!host.empty() && host.front() == '/') {
    ep.kind = Endpoint::Kind::kUnix;
    ep.path = std::string(host);
    ep.raw = absl::StrCat("unix://", Av(host));
    return ep;
  }
  if (host.starts_with("tcp://")) {
    host.remove_prefix(6);
  } else if (host.starts_with("http://")) {
    host.remove_prefix(7);
  } else if (host.find("://") != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported protocol in host: ", ep.raw));
  }
  while (!host.empty() && host.back() == '/') host.remove_suffix(1);
  size_t colon = host.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid host (no port): ", ep.raw));
  }
  int port = 0;
  if (!absl::SimpleAtoi(Av(host.substr(colon + 1)), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("invalid port in host: ", ep.raw));
  }
  ep.kind = Endpoint::Kind::kTcp;
  ep.host = std::string(host.substr(0, colon));
  if (ep.host.size() >= 2 && ep.host.front() == '[' && ep.host.back() == ']') {
    ep.host = ep.host.substr(1, ep.host.size() - 2);
  }
  if (ep.host.empty()) ep.host = "127.0.0.1";
  ep.port = static_cast<uint16_t>(port);
  return ep;
}

std::string ResolveHost(std::string_view flag_value) {
  if (!flag_value.empty()) return std::string(flag_value);
  for (const char* var : {"BERTH_HOST", "DOCKER_HOST"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') return v;
  }
  return std::string(kDefaultHost);
}

std::string Response::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

StatusOr<nlohmann::json> Response::Json() const {
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    return absl::InternalError(absl::StrCat("invalid JSON from daemon: ", e.what()));
  }
}

std::string DaemonMessage(int status, std::string_view body) {
  try {
    nlohmann::json j = nlohmann::json::parse(body);
    if (j.is_object() && j.contains("message") && j["message"].is_string()) {
      return j["message"].get<std::string>();
    }
  } catch (const nlohmann::json::exception&) {
    // Not JSON: fall through to the raw body.
  }
  std::string text(absl::StripTrailingAsciiWhitespace(Av(body)));
  if (!text.empty()) return text;
  return std::string(http::obsolete_reason(static_cast<http::status>(status)));
}

Status ErrorFromResponse(int status, std::string_view body) {
  return Status(CodeForHttpStatus(status),
                absl::StrCat("Error response from daemon: ", DaemonMessage(status, body)));
}

Client::Client(Endpoint endpoint, std::shared_ptr<const transport::TlsContext> tls)
    : endpoint_(std::move(endpoint)), tls_(std::move(tls)) {}

StatusOr<std::unique_ptr<Client>> Client::Connect(
    std::string_view host, std::shared_ptr<const transport::TlsContext> tls) {
  ASSIGN_OR_RETURN(Endpoint ep, ParseHost(host));
  auto c = std::make_unique<Client>(std::move(ep), std::move(tls));
  RETURN_IF_ERROR(c->Negotiate());
  return c;
}

Status Client::ConnectError(std::string_view detail) const {
  return absl::UnavailableError(absl::StrCat("Cannot connect to the Docker daemon at ",
                                             endpoint_.raw, ". Is the docker daemon running?"));
}

// The connected socket (a blocking connect, then the stream makes it non-blocking).
static StatusOr<UniqueFd> DialSocket(const Endpoint& ep,
                              const std::function<Status(std::string_view)>& connect_error) {
  if (ep.kind == Endpoint::Kind::kUnix) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return ErrnoStatus(errno, "socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (ep.path.size() >= sizeof addr.sun_path) {
      return absl::InvalidArgumentError(absl::StrCat("socket path too long: ", ep.path));
    }
    std::memcpy(addr.sun_path, ep.path.data(), ep.path.size());
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return connect_error(std::strerror(errno));
    }
    return fd;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(ep.port);
  if (int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("error during connect: ", ep.host, ": ", gai_strerror(rc)));
  }
  Status last = connect_error("no address");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd.valid()) continue;
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
      int one = 1;
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::freeaddrinfo(res);
      return fd;
    }
    last = connect_error(std::strerror(errno));
  }
  ::freeaddrinfo(res);
  return last;
}

StatusOr<std::unique_ptr<transport::Stream>> Client::Dial() const {
  ASSIGN_OR_RETURN(UniqueFd fd,
                   DialSocket(endpoint_, [this](std::string_view d) { return ConnectError(d); }));
  auto stream = std::make_unique<transport::Stream>(
      std::move(fd), tls_, endpoint_.kind == Endpoint::Kind::kTcp ? endpoint_.host : "");
  if (tls_ != nullptr) {
    Status hs = stream->Handshake(transport::After(kHandshakeTimeout));
    if (!hs.ok())
      return absl::UnavailableError(absl::StrCat("error during connect: ", hs.message()));
  }
  return stream;
}

Status Client::Negotiate() {
  StatusOr<Response> r = Do("HEAD", "/_ping");
  if (r.ok() && r->status == 405) r = Do("GET", "/_ping");
  if (!r.ok()) return r.status();
  if (r->status >= 400 && r->status != 404) return ErrorFromResponse(r->status, r->body);
  ping_headers_ = r->headers;
  std::string v = r->Header("api-version");
  if (v.empty() || VersionLess(kDefaultApiVersion, v)) v = std::string(kDefaultApiVersion);
  api_version_ = v;
  return absl::OkStatus();
}

std::string Client::VersionedPath(std::string_view path) const {
  if (api_version_.empty() || path.starts_with("/_ping")) return std::string(path);
  return absl::StrCat("/v", api_version_, Av(path));
}

StatusOr<Response> Client::Do(std::string_view method, std::string_view path, std::string_view body,
                              const RequestOptions& opts) const {
  ASSIGN_OR_RETURN(auto conn, Dial());
  transport::BeastStream stream(*conn);
  beast::error_code ec;
  auto req = BuildRequest(method, VersionedPath(path), body, opts);
  http::write(stream, req, ec);
  if (ec) return IoError("write request", ec, stream);
  if (opts.on_sent) opts.on_sent();
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kNoBodyLimit);
  if (method == "HEAD") parser.skip(true);
  http::read(stream, buf, parser, ec);
  if (ec) return IoError("read response", ec, stream);
  Response out;
  auto& msg = parser.get();
  out.status = static_cast<int>(msg.result_int());
  out.headers = LowercaseHeaders(msg);
  out.body = std::move(msg.body());
  return out;
}

StatusOr<Response> Client::Call(std::string_view method, std::string_view path,
                                std::string_view body, const RequestOptions& opts) const {
  ASSIGN_OR_RETURN(Response r, Do(method, path, body, opts));
  if (r.status >= 400) return ErrorFromResponse(r.status, r.body);
  return r;
}

StatusOr<Response> Client::CallJson(std::string_view method, std::string_view path,
                                    const nlohmann::json& body) const {
  return Call(method, path, DumpJson(body));
}

StatusOr<Response> Client::Stream(std::string_view method, std::string_view path,
                                  std::string_view body,
                                  const std::function<bool(std::string_view)>& on_data,
                                  const RequestOptions& opts) const {
  ASSIGN_OR_RETURN(auto conn, Dial());
  transport::BeastStream stream(*conn);
  beast::error_code ec;
  auto req = BuildRequest(method, VersionedPath(path), body, opts);
  http::write(stream, req, ec);
  if (ec) return IoError("write request", ec, stream);
  if (opts.on_sent) opts.on_sent();
  beast::flat_buffer buf;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(kNoBodyLimit);
  http::read_header(stream, buf, parser, ec);
  if (ec) return IoError("read response", ec, stream);
  Response out;
  out.status = static_cast<int>(parser.get().result_int());
  out.headers = LowercaseHeaders(parser.get());
  if (opts.on_headers) opts.on_headers(out.status);
  bool deliver = out.status < 400;
  char chunk[64 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    // read_some, not read: read would wait until the buffer is full, holding back events.
    http::read_some(stream, buf, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    size_t n = sizeof chunk - parser.get().body().size;
    if (n > 0) {
      if (deliver) {
        if (!on_data(std::string_view(chunk, n))) break;
      } else {
        out.body.append(chunk, n);
      }
    }
    // A body delimited by the connection closing ends with EOF (or a reset when the daemon
    // tears the connection down); what was read so far is the body.
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == http::error::partial_message) {
      break;
    }
    if (ec) return IoError("read response body", ec, stream);
  }
  if (!deliver) return ErrorFromResponse(out.status, out.body);
  return out;
}

StatusOr<HijackedConn> Client::Hijack(std::string_view method, std::string_view path,
                                      std::string_view body, const RequestOptions& opts) const {
  ASSIGN_OR_RETURN(auto conn, Dial());
  transport::BeastStream stream(*conn);
  beast::error_code ec;
  auto req = BuildRequest(method, VersionedPath(path), body, opts);
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::upgrade, "tcp");
  http::write(stream, req, ec);
  if (ec) return IoError("write request", ec, stream);
  if (opts.on_sent) opts.on_sent();
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kNoBodyLimit);
  http::read_header(stream, buf, parser, ec);
  if (ec) return IoError("read response", ec, stream);
  int status = static_cast<int>(parser.get().result_int());
  if (status != 101 && status != 200) {
    // An error: read its (small, content-length delimited) body for the message.
    http::read(stream, buf, parser, ec);
    return ErrorFromResponse(status, parser.get().body());
  }
  HijackedConn out;
  out.status = status;
  out.headers = LowercaseHeaders(parser.get());
  // Bytes past the headers that the parser buffered belong to the raw stream.
  auto data = buf.data();
  out.leftover.assign(static_cast<const char*>(data.data()), data.size());
  out.stream = std::move(conn);
  return out;
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

nlohmann::json FiltersJson(const std::map<std::string, std::vector<std::string>>& filters) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, values] : filters) {
    for (const auto& v : values) j[k][v] = true;
  }
  return j;
}

}  // namespace berth::client
