#pragma once
// Docker's stdcopy framing, used on attach/exec/logs streams of containers without a TTY:
// every frame is an 8-byte header [stream, 0, 0, 0, size as big-endian uint32] then `size` bytes.
// Stream 0 is stdin, 1 stdout, 2 stderr (3 is "systemerr": an error the daemon reports in-band).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace berth::client {

enum class StdStream : uint8_t { kStdin = 0, kStdout = 1, kStderr = 2, kSystemErr = 3 };

// Incremental demultiplexer: feed it bytes as they arrive, in pieces of any size; complete frame
// payloads (or parts of them, as they come in) go to the sink.
class StdcopyDemuxer {
 public:
  using Sink = std::function<void(StdStream stream, std::string_view payload)>;
  explicit StdcopyDemuxer(Sink sink) : sink_(std::move(sink)) {}

  // INVALID_ARGUMENT on a stream byte above 3 (the stream is not stdcopy framed).
  Status Feed(std::string_view data);
  // True between frames (no partial header or payload pending).
  bool AtFrameBoundary() const { return header_len_ == 0 && remaining_ == 0; }

 private:
  Sink sink_;
  unsigned char header_[8] = {};
  size_t header_len_ = 0;
  uint32_t remaining_ = 0;
  StdStream current_ = StdStream::kStdout;
};

// One frame, as the daemon writes it (tests and fakes use this).
std::string StdcopyFrame(StdStream stream, std::string_view payload);

}  // namespace berth::client
