#pragma once
// ProxyStream: the two-way copy between a hijacked client connection (attach, exec) and a
// container's shim stream. The client's side is a transport::Stream (plain or TLS); the thread
// waits on both at once and on nothing else.

#include "absl/synchronization/mutex.h"
#include "api/http.h"

namespace berth::api {

// ProxyStream's answer when the client typed the detach keys.
inline constexpr int kProxyDetached = -2;

// Proxies a hijacked client connection and a shim stream until the shim sends its exit frame
// or closes. With tty, output goes to the client raw; otherwise in stdcopy frames. detach_keys
// (parsed, spec::ParseDetachKeys; empty: none) end the proxy when the client types them; Docker
// looks for them only on a TTY's input, so callers pass them only then. Returns the exit code
// from the exit frame, kProxyDetached, or -1 (the client or the shim went away, or the daemon is
// shutting down). On a detach the container's stdin is left open and the shim stream is the
// caller's to close or hand on, with what was read of it but not yet sent (a part of a frame)
// in *unread if given. The caller ends the client's stream (conn.stream().CloseWrite())
// once it has recorded what must be visible when the client sees the end.
int ProxyStream(Conn& conn, int shim_fd, bool tty, bool client_stdin, absl::Mutex* write_mu,
                const std::string& detach_keys = "", std::string* unread = nullptr);

}  // namespace berth::api
