#include "log_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "json_log.h"

namespace berth::shim {
namespace {

bool WriteAllFd(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string Numbered(const std::string& path, int i, bool gz) {
  char buf[32];
  snprintf(buf, sizeof buf, ".%d%s", i, gz ? ".gz" : "");
  return path + buf;
}

}  // namespace

LogFile::~LogFile() {
  if (fd_ >= 0) close(fd_);
}

bool LogFile::Open(const std::string& path, int64_t max_size, int max_file, bool compress,
                   std::string* error) {
  path_ = path;
  max_size_ = max_size > 0 ? max_size : -1;
  max_file_ = max_file < 1 ? 1 : max_file;
  compress_ = compress && max_file_ > 1;
  fd_ = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    *error = "open log " + path + ": " + strerror(errno);
    return false;
  }
  struct stat st;
  size_ = fstat(fd_, &st) == 0 ? st.st_size : 0;
  return true;
}

void LogFile::Append(std::string_view chunk, const char* stream, int64_t unix_nanos) {
  if (fd_ < 0) return;
  scratch_.clear();
  if (max_size_ < 0) {
    AppendJsonLogEntries(scratch_, chunk, stream, unix_nanos);
    Flush();
    return;
  }
  time_.clear();
  AppendRfc3339Nano(time_, unix_nanos);
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    size_t len = nl == std::string_view::npos ? chunk.size() : nl + 1;
    // dockerd checks before each write whether the file is full: the entry that fills it stays.
    if (size_ + static_cast<int64_t>(scratch_.size()) >= max_size_) {
      Flush();
      Rotate();
    }
    AppendJsonLogEntry(scratch_, chunk.substr(0, len), stream, time_);
    chunk.remove_prefix(len);
  }
  Flush();
}

void LogFile::Flush() {
  if (scratch_.empty()) return;
  // A full disk must not stop the container's output from reaching attached clients.
  if (WriteAllFd(fd_, scratch_)) size_ += static_cast<int64_t>(scratch_.size());
  scratch_.clear();
}

void LogFile::Rotate() {
  if (max_file_ <= 1) {
    if (ftruncate(fd_, 0) == 0) size_ = 0;
    return;
  }
  WaitCompressor();  // it still works on NAME.1, which is about to be renamed
  unlink(Numbered(path_, max_file_ - 1, compress_).c_str());
  for (int i = max_file_ - 1; i > 1; --i)
    rename(Numbered(path_, i - 1, compress_).c_str(), Numbered(path_, i, compress_).c_str());
  std::string first = Numbered(path_, 1, false);
  if (rename(path_.c_str(), first.c_str()) != 0) return;  // keep writing where we are
  int fd = open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    rename(first.c_str(), path_.c_str());
    return;
  }
  close(fd_);
  fd_ = fd;
  size_ = 0;
  if (compress_) StartCompressor(first);
}

void LogFile::StartCompressor(const std::string& src) {
  pid_t pid = fork();
  if (pid == 0) _exit(GzipFile(src, src + ".gz") ? 0 : 1);
  // fork failed: NAME.1 stays uncompressed, which readers accept as well.
  compressor_ = pid > 0 ? pid : -1;
}

void LogFile::WaitCompressor() {
  if (compressor_ < 0) return;
  int status;
  while (waitpid(compressor_, &status, 0) < 0 && errno == EINTR) {
  }
  compressor_ = -1;  // ECHILD too: the shim's own reaper got it first
}

bool LogFile::ChildExited(pid_t pid) {
  if (pid <= 0 || pid != compressor_) return false;
  compressor_ = -1;
  return true;
}

bool GzipFile(const std::string& src, const std::string& dst) {
  int in = open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return false;
  std::string tmp = dst + ".tmp";
  gzFile out = gzopen(tmp.c_str(), "wb1");
  bool ok = out != nullptr;
  static char buf[256 * 1024];
  while (ok) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ok = false;
    if (n <= 0) break;
    ok = gzwrite(out, buf, static_cast<unsigned>(n)) == n;
  }
  close(in);
  if (out != nullptr && gzclose(out) != Z_OK) ok = false;
  // The .gz appears complete or not at all; then NAME.1 goes (a reader that sees both uses .1).
  if (ok && rename(tmp.c_str(), dst.c_str()) == 0) {
    unlink(src.c_str());
    return true;
  }
  unlink(tmp.c_str());
  return false;
}

}  // namespace berth::shim
