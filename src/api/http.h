#pragma once
// The HTTP side of the Engine API: one request at a time on a connection, with the three
// response kinds Docker uses: a plain JSON body, a chunked stream (wait, logs, events, load
// progress), and a hijacked raw stream (attach, exec).

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/transport/stream.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace berth::api {

constexpr const char* kApiVersion = "1.41";
constexpr const char* kMinApiVersion = "1.12";
constexpr const char* kServerHeader = "Berth/0.1.0 (linux)";

int HttpStatusFor(const Status& st);
// %XX and "+" decoding of a URL path segment or query value.
std::string UrlDecode(std::string_view s);

struct Request {
  std::string method;
  std::string path;  // without the /v1.xx prefix
  std::string version;  // requested API version, or kApiVersion
  std::map<std::string, std::string> query;  // last value of each key
  std::map<std::string, std::vector<std::string>> query_all;  // every value (changes=, names=)
  std::map<std::string, std::string> params;  // from the route pattern
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  std::string body_file;  // for upload routes: where the body was streamed to

  std::string Query(const std::string& k, const std::string& def = "") const;
  bool QueryBool(const std::string& k, bool def = false) const;
  int QueryInt(const std::string& k, int def) const;
  // The JSON body; an empty body is an empty object. Malformed JSON: InvalidArgument.
  StatusOr<nlohmann::json> Json() const;
};

// The HTTP side of one client connection, for a handler: the response writers over the
// connection's transport::Stream (plain or TLS). Not thread-safe: owned by its connection thread.
class Conn {
 public:
  explicit Conn(transport::Stream& stream) : stream_(stream) {}
  // The connection itself, for hijacked streams (attach, exec): after Hijack(), read and write
  // it directly; bytes the client sent past its request are read first.
  transport::Stream& stream() { return stream_; }

  void SendJson(int status, const nlohmann::json& body);
  void SendError(const Status& st);
  void SendEmpty(int status);
  void SendRaw(int status, const std::string& content_type, std::string_view body);
  // A response the handler formatted whole (status line, headers, body).
  bool WriteResponse(std::string_view raw) { return WriteAll(raw); }
  // Chunked streaming response.
  bool BeginStream(int status, const std::string& content_type);
  bool WriteChunk(std::string_view data);
  void EndStream();
  // 101 UPGRADED (or 200 when the client did not ask to upgrade); after this the connection is
  // a raw byte stream.
  bool Hijack(bool upgrade, const std::string& content_type);
  // Without blocking: has the client closed or reset its connection (or is the daemon shutting
  // down)? For handlers that wait on something else (wait, events).
  bool ClientGone() { return stream_.PeerClosed(); }
  // The TLS client's certificate (the cluster port authorises nodes by it); empty when plain.
  const transport::PeerIdentity& peer() const { return stream_.peer(); }
  // An extra header for the next response (X-Docker-Container-Path-Stat).
  void AddHeader(const std::string& name, const std::string& value) {
    extra_headers_ += name + ": " + value + "\r\n";
  }
  // Responses say "Connection: close" (the server ends the connection after an error).
  void AnnounceClose() { announce_close_ = true; }
  // The connection ends after this response (streams and hijacks end it).
  bool closed() const { return closed_; }
  void MarkClosed() { closed_ = true; }

 private:
  bool WriteAll(std::string_view data);
  std::string Headers(int status) const;
  transport::Stream& stream_;
  bool closed_ = false;
  bool announce_close_ = false;
  std::string extra_headers_;
};

// Writes all of data to a descriptor (a shim's stream), waiting for room when it is
// non-blocking. False when the peer went away.
bool SendAll(int fd, std::string_view data);

}  // namespace berth::api
