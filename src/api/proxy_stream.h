#pragma once
// ProxyStream: the two-way copy between a hijacked client connection (attach, exec) and a
// container's shim stream. The client's side is a transport::Stream (plain or TLS); the thread
// waits on both at once and on nothing else.

#include <mutex>

#include "api/http.h"

namespace berth::api {

// Proxies a hijacked client connection and a shim stream until the shim sends its exit frame
// or closes. With tty, output goes to the client raw; otherwise in stdcopy frames. Returns the
// exit code from the exit frame, or -1 (the client or the shim went away, or the daemon is
// shutting down). The caller ends the client's stream (conn.stream().CloseWrite()) once it has
// recorded what must be visible when the client sees the end.
int ProxyStream(Conn& conn, int shim_fd, bool tty, bool client_stdin, std::mutex* write_mu);

}  // namespace berth::api
