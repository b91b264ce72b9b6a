#pragma once
// ServeHttp: the HTTP/1.1 request loop of one API connection, on its connection thread.
//
// Limits, each answered with Go's net/http status and a JSON message, then the connection is
// closed (the request was not read to its end, so nothing after it can be trusted):
//   - the request header (request line and fields) over ServerOptions::max_header: 431;
//   - a header not complete header_timeout after the connection (or, on a keep-alive
//     connection, after its first byte): 408 (a slowloris client holds no thread for longer);
//   - a body over max_body (max_upload for image load/import): 413, before any of it is read
//     when Content-Length says so; a body that stalls for header_timeout: 408.
// A keep-alive connection idle for idle_timeout is closed quietly. Once a handler has begun a
// streamed or hijacked response (attach, exec, logs -f, events, wait) no timeout applies.

#include "api/server.h"
#include "api/transport/stream.h"

namespace berth::api {

// Serves requests on `stream` until the client closes, a limit or timeout ends the connection,
// or a handler streams or hijacks it. header_deadline: when the first request's header must be
// complete (and, for TLS, the handshake). reject: the server is at its connection limit: read
// the request, answer 503 and close.
void ServeHttp(transport::Stream& stream, const Router& router, const ServerOptions& opts,
               transport::Deadline header_deadline, bool reject);

}  // namespace berth::api
