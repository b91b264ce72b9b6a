#pragma once
// The container's log file as the shim writes it: json-file entries (json_log.h), rotated the way
// dockerd's json-file driver rotates (moby daemon/logger/loggerutils): once the live file has
// reached max-size, the next write first renames NAME.(i-1) to NAME.i down to NAME -> NAME.1
// (the oldest, NAME.(max-file - 1), is removed), then starts a new NAME. With compress, rotated
// files are NAME.i.gz: a child process gzips NAME.1 into NAME.1.gz beside it and removes NAME.1,
// so that the shim's loop never waits on zlib; the next rotation waits for that child first. With
// max-file 1 the live file is truncated instead, as dockerd does.
//
// A reader that follows the file sees every line once: a line is written whole to one file, the
// rename happens between two writes, and the file it had open stays readable to its end
// (src/engine/log_reader.h).

#include <stdint.h>
#include <sys/types.h>

#include <string>
#include <string_view>

namespace berth::shim {

class LogFile {
 public:
  LogFile() = default;
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // Opens (appends to) `path`. max_size <= 0: never rotated. False with *error on failure.
  bool Open(const std::string& path, int64_t max_size, int max_file, bool compress,
            std::string* error);
  // Appends the json-file entries of one chunk of a stream ("stdout"/"stderr"), all stamped
  // `unix_nanos`, rotating between entries where the file is full. A failed write (a full disk)
  // loses those entries and nothing else.
  void Append(std::string_view chunk, const char* stream, int64_t unix_nanos);
  // The shim reaps every child with waitpid(-1): true if `pid` was this file's compressor.
  bool ChildExited(pid_t pid);
  bool is_open() const { return fd_ >= 0; }

 private:
  void Flush();
  void Rotate();
  void WaitCompressor();
  void StartCompressor(const std::string& src);

  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
  int64_t max_size_ = -1;
  int max_file_ = 1;
  bool compress_ = false;
  pid_t compressor_ = -1;
  std::string scratch_;  // reused, so that steady output does not allocate
  std::string time_;
};

// Gzips `src` into `dst` (through dst + ".tmp", renamed when complete) and removes src; the
// work of the compressor child, apart so it can be tested. False on any failure (src is kept).
bool GzipFile(const std::string& src, const std::string& dst);

}  // namespace berth::shim
