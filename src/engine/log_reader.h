#pragma once
// Reads a container's log back for `docker logs` and attach?logs=1: one reader for both. It reads
// the rotated files (NAME.N[.gz] .. NAME.1[.gz], oldest first) and then the live NAME, parses
// json-file entries on a fast path (the shape the shim writes; anything else goes through a full
// JSON parser), and renders Docker's stdcopy stream with many entries of one stream per frame,
// handed out in large buffers. The `local` driver's files have the same format (docs/differences.md).
//
// Follow: the caller waits for inotify events on the log's directory (IN_MODIFY, IN_CREATE,
// IN_MOVED_TO) and calls ReadAvailable again. A rotation is noticed when the path names another
// file than the one open: the open one is read to its end first (the shim writes no more to it
// once it is renamed), then the new one from its start, so no line is lost or repeated.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "common/status.h"

namespace berth::engine {

struct LogReadOptions {
  bool want_stdout = true, want_stderr = true;
  int64_t since = 0;  // unix nanos; entries before it are skipped (0: from the start)
  int64_t until = 0;  // unix nanos; entries after it are skipped, and end a follow (0: no end)
  int tail = -1;      // the last N lines of the log (counted before the other filters); -1: all
  bool timestamps = false;  // "<RFC3339 with 9 fraction digits> " before each entry
  bool details = false;     // Docker's attrs prefix: Berth's entries have none, so just " "
  bool raw = false;         // a TTY container's stream: no stdcopy frames
};

// One json-file entry. `log` points into the caller's scratch (escapes decoded) or the line.
struct LogLine {
  bool is_stderr = false;
  std::string_view log;
  std::string_view time;  // as written, e.g. 2026-11-28T03:24:58.42852458Z
};

// Parses one json-file line (without its '\n'). `scratch` holds the decoded text when the
// message has escapes. False if the line is not a json-file entry.
bool ParseJsonLogLine(std::string_view line, std::string* scratch, LogLine* out);

// RFC 3339 (as Docker writes it: UTC "Z" or a numeric offset, any fraction) to unix nanos.
bool ParseLogTime(std::string_view s, int64_t* unix_nanos);
// Go's RFC3339NanoFixed of what ParseLogTime reads: 2026-11-28T03:24:58.428524580Z.
void AppendLogTimeFixed(std::string& out, int64_t unix_nanos);

class LogReader {
 public:
  // Receives rendered output in large pieces; false stops the reading (the client went away).
  using Sink = std::function<bool(std::string_view)>;

  LogReader(std::string path, LogReadOptions options);
  // Finds the rotated files and the live one and, with a tail, where reading starts. A log that
  // does not exist yet reads as empty (the live file is opened when it appears).
  Status Open();
  // Renders everything readable now, rotated files first. False if the sink refused output.
  bool ReadAvailable(const Sink& sink);
  // An entry after `until` was seen: a follow ends.
  bool past_until() const { return past_until_; }

 private:
  struct Source {
    UniqueFd fd;
    bool gz = false;
    bool loaded = false;  // data holds the file (decompressed), read from offset
    std::string data;
    size_t offset = 0;
  };
  bool ReadRotated(Source& s, const Sink& sink);
  bool ReadLive(const Sink& sink);
  bool FollowRotation(const Sink& sink);
  bool Consume(std::string_view data, const Sink& sink);
  void Emit(const LogLine& line);
  void CloseFrame();
  bool Flush(const Sink& sink);

  std::string path_;
  LogReadOptions opt_;
  std::vector<Source> rotated_;  // oldest first
  UniqueFd live_;
  int64_t live_ino_ = -1;
  int64_t live_offset_ = 0;
  std::string pending_;  // a partial line at the end of the last read
  std::string out_;      // rendered output not yet handed to the sink
  size_t frame_start_ = std::string::npos;  // header offset of the open frame in out_
  bool frame_stderr_ = false;
  std::string scratch_;
  std::string read_buf_;  // one read() of a log file
  std::string& ReadBuffer();
  bool past_until_ = false;
};

}  // namespace berth::engine
