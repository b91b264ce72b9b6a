#pragma once
// Node-to-manager calls on the cluster port (2377): one HTTP/1.1 POST of a JSON body over mutual
// TLS, with a deadline on every step (connect, handshake, request, response), so a cut or dead
// manager costs a bounded wait and never a hung thread. Connections are kept alive between calls
// (a few per manager, for up to 10 s) and one the manager closed meanwhile is replaced once.
//
// A joining node has no certificate yet: it connects without verifying, and `check_peer` looks
// at the chain the manager showed (the root's digest against the join token) before a byte of the
// request, and so the token, is sent.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "api/transport/tls.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace berth::cluster {

// The server name a node checks in a manager's certificate (a DNS SAN of every manager's).
inline constexpr char kManagerServerName[] = "swarm-manager";

// Aborts a call in flight from another thread (a long poll when its owner stops): the call's
// socket is shut down, so whatever it waits for ends at once, and the call returns CANCELLED.
class RpcCancel {
 public:
  void Cancel();
  bool cancelled() const;
  // Call's side: the socket of the call in flight (-1 when none). false: already cancelled.
  bool Attach(int fd);
  void Detach();

 private:
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
};

struct RpcOptions {
  std::shared_ptr<const transport::TlsContext> tls;  // client context
  std::string server_name = kManagerServerName;
  std::chrono::milliseconds timeout{5000};  // the whole call
  // Called after the handshake with the manager's identity; an error stops the call unsent.
  std::function<Status(const transport::PeerIdentity&)> check_peer;
  // Optional: lets another thread abort the call.
  std::shared_ptr<RpcCancel> cancel;
};

struct RpcReply {
  int status = 0;
  nlohmann::json body;  // the parsed JSON answer (null when empty)
};

// POSTs body to https://addr/path ("10.0.0.1:2377"). A transport failure is UNAVAILABLE naming
// addr; a non-JSON answer is INTERNAL; the HTTP status is returned, not turned into an error.
StatusOr<RpcReply> Call(const std::string& addr, std::string_view path, const nlohmann::json& body,
                        const RpcOptions& opts);

// The status an error answer ({"message": ..., "code": ...}) stands for.
Status ReplyError(const RpcReply& reply);

// An answer for the server side: {"message": ..., "code": <absl code number>}.
nlohmann::json ErrorBody(const Status& s);

}  // namespace berth::cluster
