#pragma once
// ProxyStream: the two-way copy between a hijacked client connection (attach, exec) and a
// container's shim stream.

#include <mutex>

#include "api/http.h"

namespace berth::api {

// Proxies a hijacked client connection and a shim stream until the shim sends its exit frame
// or closes. With tty, output goes to the client raw; otherwise in stdcopy frames. Returns the
// exit code from the exit frame, or -1. The caller ends the client's stream (shutdown SHUT_WR)
// once it has recorded what must be visible when the client sees the end.
int ProxyStream(Conn& conn, int shim_fd, bool tty, bool client_stdin, std::mutex* write_mu);

}  // namespace berth::api
