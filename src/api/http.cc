#include "api/http.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"

namespace berth::api {

int HttpStatusFor(const Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted: return 409;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kUnauthenticated: return 401;  // errdefs.Unauthorized (docker login)
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

static const char* Reason(int status) {
  switch (status) {
    case 101: return "UPGRADED";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Request Entity Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

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

std::string Request::Query(const std::string& k, const std::string& def) const {
  auto it = query.find(k);
  return it == query.end() ? def : it->second;
}

bool Request::QueryBool(const std::string& k, bool def) const {
  auto it = query.find(k);
  if (it == query.end()) return def;
  // httputils.BoolValue: present but empty, 0, no, false or none (any case, spaces around) is
  // false; anything else is true.
  std::string v = absl::AsciiStrToLower(absl::StripAsciiWhitespace(it->second));
  return !(v.empty() || v == "0" || v == "no" || v == "false" || v == "none");
}

int Request::QueryInt(const std::string& k, int def) const {
  int v;
  auto it = query.find(k);
  if (it == query.end() || !absl::SimpleAtoi(it->second, &v)) return def;
  return v;
}

StatusOr<nlohmann::json> Request::Json() const {
  if (body.empty()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError("invalid JSON: malformed request body");
  return j;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Non-blocking while a connection thread watches it (transport::FdWatch): wait for room.
      struct pollfd p = {fd, POLLOUT, 0};
      if (::poll(&p, 1, -1) < 0 && errno != EINTR) return false;
      continue;
    }
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool Conn::WriteAll(std::string_view data) {
  if (!stream_.WriteAll(data).ok()) {
    closed_ = true;
    return false;
  }
  return true;
}

std::string Conn::Headers(int status) const {
  return absl::StrFormat(
      "HTTP/1.1 %d %s\r\nApi-Version: %s\r\nDocker-Experimental: false\r\nOstype: linux\r\n"
      "Server: %s\r\n%s%s",
      status, Reason(status), kApiVersion, kServerHeader,
      announce_close_ ? "Connection: close\r\n" : "", extra_headers_);
}

void Conn::SendRaw(int status, const std::string& content_type, std::string_view body) {
  std::string out = Headers(status);
  if (!content_type.empty()) out += "Content-Type: " + content_type + "\r\n";
  if (status != 204 && status != 304) out += absl::StrFormat("Content-Length: %d\r\n", body.size());
  out += "\r\n";
  out.append(body);
  WriteAll(out);
}

void Conn::SendJson(int status, const nlohmann::json& body) {
  SendRaw(status, "application/json", body.dump() + "\n");
}

void Conn::SendEmpty(int status) { SendRaw(status, "", ""); }

void Conn::SendError(const Status& st) {
  SendJson(HttpStatusFor(st), {{"message", std::string(st.message())}});
}

bool Conn::BeginStream(int status, const std::string& content_type) {
  std::string out = Headers(status);
  out += "Content-Type: " + content_type + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  return WriteAll(out);
}

bool Conn::WriteChunk(std::string_view data) {
  if (data.empty() || closed_) return !closed_;
  std::string out = absl::StrFormat("%x\r\n", data.size());
  out.append(data);
  out += "\r\n";
  return WriteAll(out);
}

void Conn::EndStream() {
  if (!closed_) WriteAll("0\r\n\r\n");
}

bool Conn::Hijack(bool upgrade, const std::string& content_type) {
  std::string out = upgrade ? Headers(101) + "Connection: Upgrade\r\nUpgrade: tcp\r\n" : Headers(200);
  out += "Content-Type: " + content_type + "\r\n\r\n";
  closed_ = true;  // no further HTTP on this connection
  return stream_.WriteAll(out).ok();
}

}  // namespace berth::api
