#include "engine/log_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/utf8.h"
#include "nlohmann/json.hpp"

namespace berth::engine {
namespace {

constexpr size_t kReadBlock = 1 << 20;    // one read() of a log file
constexpr size_t kFlushAt = 1 << 20;      // rendered bytes handed to the sink at once
constexpr size_t kMaxFrame = 1 << 20;     // payload of one stdcopy frame, at most
constexpr std::string_view kHead = "{\"log\":\"";
constexpr std::string_view kStream = ",\"stream\":\"";
constexpr std::string_view kTime = "\",\"time\":\"";

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Hex4(const char* p, const char* end, uint32_t* v) {
  if (end - p < 4) return false;
  *v = 0;
  for (int k = 0; k < 4; ++k) {
    int h = Hex(p[k]);
    if (h < 0) return false;
    *v = *v * 16 + static_cast<uint32_t>(h);
  }
  return true;
}

// Decodes the escape at p ('\\'); returns the position after it, or nullptr if it is not JSON.
const char* DecodeEscape(const char* p, const char* end, std::string& out) {
  if (end - p < 2) return nullptr;
  switch (p[1]) {
    case '"': out += '"'; return p + 2;
    case '\\': out += '\\'; return p + 2;
    case '/': out += '/'; return p + 2;
    case 'b': out += '\b'; return p + 2;
    case 'f': out += '\f'; return p + 2;
    case 'n': out += '\n'; return p + 2;
    case 'r': out += '\r'; return p + 2;
    case 't': out += '\t'; return p + 2;
    case 'u': {
      uint32_t cp;
      if (!Hex4(p + 2, end, &cp)) return nullptr;
      p += 6;
      if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair, as JSON writes U+10000 and up
        uint32_t lo;
        if (end - p >= 6 && p[0] == '\\' && p[1] == 'u' && Hex4(p + 2, end, &lo) && lo >= 0xDC00 &&
            lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          p += 6;
        } else {
          cp = 0xFFFD;
        }
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        cp = 0xFFFD;
      }
      AppendUtf8(out, cp);
      return p;
    }
    default: return nullptr;
  }
}

// Anything that is not the shim's exact shape (dockerd's attrs, other key orders, spaces).
bool ParseSlow(std::string_view line, std::string* scratch, LogLine* out) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return false;
  auto log = j.find("log");
  if (log == j.end() || !log->is_string()) return false;
  auto stream = j.find("stream");
  auto time = j.find("time");
  *scratch = log->get<std::string>();
  size_t n = scratch->size();
  if (time != j.end() && time->is_string()) *scratch += time->get<std::string>();
  out->log = std::string_view(*scratch).substr(0, n);
  out->time = std::string_view(*scratch).substr(n);
  out->is_stderr = stream != j.end() && stream->is_string() && *stream == "stderr";
  return true;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t at, size_t n, int* v) {
  if (at + n > s.size()) return false;
  *v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    *v = *v * 10 + (s[i] - '0');
  }
  return true;
}

// `fraction` of 9 digits for a time written with a "Z": the fixed form without a conversion.
bool FixedFromZulu(std::string_view t, std::string& out) {
  if (t.size() < 20 || t.back() != 'Z') return false;
  if (t.size() == 20 ? t[19] != 'Z' : t[19] != '.') return false;
  size_t digits = t.size() == 20 ? 0 : t.size() - 21;
  if (digits > 9) return false;
  out.append(t.data(), 19);
  out += '.';
  if (digits > 0) out.append(t.data() + 20, digits);
  out.append(9 - digits, '0');
  out += 'Z';
  return true;
}

void EncodeFrameHeader(char* h, bool is_stderr, size_t size) {
  h[0] = is_stderr ? 2 : 1;
  h[1] = h[2] = h[3] = 0;
  h[4] = static_cast<char>((size >> 24) & 0xFF);
  h[5] = static_cast<char>((size >> 16) & 0xFF);
  h[6] = static_cast<char>((size >> 8) & 0xFF);
  h[7] = static_cast<char>(size & 0xFF);
}

bool ReadAll(int fd, std::string* out) {
  std::string buf(65536, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf.data(), static_cast<size_t>(n));
  }
}

// A rotated file, whole: gunzipped if `gz`.
bool LoadRotated(int fd, bool gz, std::string* out) {
  out->clear();
  if (!gz) return ReadAll(fd, out);
  int copy = ::dup(fd);
  if (copy < 0) return false;
  gzFile f = gzdopen(copy, "rb");
  if (f == nullptr) {
    ::close(copy);
    return false;
  }
  gzbuffer(f, 256 * 1024);
  std::string buf(256 * 1024, '\0');  // not on the stack: API threads' stacks are small
  int n;
  while ((n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()))) > 0)
    out->append(buf.data(), static_cast<size_t>(n));
  gzclose(f);
  return n == 0;
}

// Where the last `*need` lines of `data` start. Returns 0 and lowers *need by the lines found
// when `data` holds fewer.
size_t TailStart(std::string_view data, int* need) {
  if (*need <= 0) return data.size();
  size_t i = data.size();
  if (i > 0 && data[i - 1] == '\n') --i;
  int found = 0;
  while (i > 0) {
    const void* nl = memrchr(data.data(), '\n', i);
    if (nl == nullptr) break;
    i = static_cast<size_t>(static_cast<const char*>(nl) - data.data());
    if (++found == *need) {
      *need = 0;
      return i + 1;
    }
  }
  if (!data.empty()) ++found;  // the first line
  *need -= found;
  if (*need < 0) *need = 0;
  return 0;
}

}  // namespace

bool ParseJsonLogLine(std::string_view line, std::string* scratch, LogLine* out) {
  if (line.substr(0, kHead.size()) != kHead) return ParseSlow(line, scratch, out);
  const char* p = line.data() + kHead.size();
  const char* end = line.data() + line.size();
  const char* seg = p;
  bool escaped = false;
  for (;;) {
    const char* q = static_cast<const char*>(memchr(p, '"', static_cast<size_t>(end - p)));
    if (q == nullptr) return ParseSlow(line, scratch, out);
    const char* b = static_cast<const char*>(memchr(p, '\\', static_cast<size_t>(q - p)));
    if (b == nullptr) {
      if (escaped) {
        scratch->append(seg, static_cast<size_t>(q - seg));
        out->log = *scratch;
      } else {
        out->log = std::string_view(seg, static_cast<size_t>(q - seg));
      }
      p = q + 1;
      break;
    }
    if (!escaped) scratch->clear();
    escaped = true;
    scratch->append(seg, static_cast<size_t>(b - seg));
    p = DecodeEscape(b, end, *scratch);
    if (p == nullptr) return ParseSlow(line, scratch, out);
    seg = p;
  }
  std::string_view rest(p, static_cast<size_t>(end - p));
  if (rest.substr(0, kStream.size()) != kStream) return ParseSlow(line, scratch, out);
  rest.remove_prefix(kStream.size());
  if (rest.substr(0, 6) == "stdout") out->is_stderr = false;
  else if (rest.substr(0, 6) == "stderr") out->is_stderr = true;
  else return ParseSlow(line, scratch, out);
  rest.remove_prefix(6);
  if (rest.substr(0, kTime.size()) != kTime) return ParseSlow(line, scratch, out);
  rest.remove_prefix(kTime.size());
  if (rest.size() < 2 || rest.substr(rest.size() - 2) != "\"}") return ParseSlow(line, scratch, out);
  out->time = rest.substr(0, rest.size() - 2);
  if (out->time.find('"') != std::string_view::npos) return ParseSlow(line, scratch, out);
  return true;
}

bool ParseLogTime(std::string_view s, int64_t* unix_nanos) {
  int y, mo, d, h, mi, se;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':' || !Digits(s, 0, 4, &y) || !Digits(s, 5, 2, &mo) ||
      !Digits(s, 8, 2, &d) || !Digits(s, 11, 2, &h) || !Digits(s, 14, 2, &mi) ||
      !Digits(s, 17, 2, &se) || mo < 1 || mo > 12 || d < 1 || d > 31)
    return false;
  size_t i = 19;
  int64_t frac = 0;
  if (s[i] == '.') {
    ++i;
    int n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n < 9) frac = frac * 10 + (s[i] - '0');
      ++n;
      ++i;
    }
    if (n == 0) return false;
    for (; n < 9; ++n) frac *= 10;
  }
  int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (!Digits(s, i + 1, 2, &oh) || !Digits(s, i + 4, 2, &om)) return false;
    offset = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  int64_t secs = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
                 h * 3600 + mi * 60 + se - offset;
  *unix_nanos = secs * 1000000000 + frac;
  return true;
}

void AppendLogTimeFixed(std::string& out, int64_t unix_nanos) {
  std::string t = FormatRfc3339Nano(unix_nanos);
  if (!FixedFromZulu(t, out)) out += t;
}

LogReader::LogReader(std::string path, LogReadOptions options)
    : path_(std::move(path)), opt_(options) {}

Status LogReader::Open() {
  // Rotated files first (NAME.1 is the newest): opened now, so that a rotation while we read
  // renames them under us without changing what we read.
  std::vector<Source> newest_first;
  for (int i = 1;; ++i) {
    std::string base = absl::StrCat(path_, ".", i);
    Source s;
    int fd = ::open(base.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fd = ::open((base + ".gz").c_str(), O_RDONLY | O_CLOEXEC);
      s.gz = true;
    }
    if (fd < 0) break;
    s.fd.reset(fd);
    newest_first.push_back(std::move(s));
  }
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    live_.reset(fd);
    struct stat st;
    if (::fstat(fd, &st) == 0) live_ino_ = static_cast<int64_t>(st.st_ino);
  }
  if (opt_.tail >= 0) {
    int need = opt_.tail;
    // The live file, from its end, a block at a time.
    if (live_.valid()) {
      struct stat st;
      int64_t size = ::fstat(live_.get(), &st) == 0 ? st.st_size : 0;
      int64_t pos = size, start = 0;
      int found = 0;
      bool done = need == 0;
      if (done) start = size;
      std::string block;
      bool file_end = true;
      while (!done && pos > 0) {
        int64_t len = std::min<int64_t>(kReadBlock, pos);
        block.resize(static_cast<size_t>(len));
        if (::pread(live_.get(), block.data(), block.size(), pos - len) != len) break;
        pos -= len;
        size_t i = block.size();
        // The file's last '\n' ends its last line; it does not start another.
        if (file_end && i > 0 && block[i - 1] == '\n') --i;
        file_end = false;
        while (i > 0) {
          const void* nl = memrchr(block.data(), '\n', i);
          if (nl == nullptr) break;
          i = static_cast<size_t>(static_cast<const char*>(nl) - block.data());
          if (++found == need) {
            start = pos + static_cast<int64_t>(i) + 1;
            done = true;
            break;
          }
        }
      }
      if (done) {
        need = 0;
      } else {
        need -= found + (size > 0 ? 1 : 0);  // the first line has no '\n' before it
        if (need < 0) need = 0;
      }
      live_offset_ = start;
      ::lseek(live_.get(), live_offset_, SEEK_SET);
    }
    // Then rotated files, newest first, until the tail is complete; older ones are dropped.
    size_t keep = 0;
    for (; keep < newest_first.size() && need > 0; ++keep) {
      Source& s = newest_first[keep];
      if (!LoadRotated(s.fd.get(), s.gz, &s.data)) break;
      s.loaded = true;
      s.offset = TailStart(s.data, &need);
    }
    newest_first.resize(keep);
  }
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it)
    rotated_.push_back(std::move(*it));
  return absl::OkStatus();
}

bool LogReader::ReadAvailable(const Sink& sink) {
  for (Source& s : rotated_) {
    if (!ReadRotated(s, sink)) return false;
  }
  rotated_.clear();
  if (!ReadLive(sink)) return false;
  return Flush(sink);
}

bool LogReader::ReadRotated(Source& s, const Sink& sink) {
  if (!s.loaded && !s.gz) {
    // A plain rotated file streams like the live one.
    std::string& buf = ReadBuffer();
    for (;;) {
      ssize_t n = ::read(s.fd.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!Consume(std::string_view(buf.data(), static_cast<size_t>(n)), sink)) return false;
    }
  } else {
    if (!s.loaded && !LoadRotated(s.fd.get(), s.gz, &s.data)) s.data.clear();
    if (!Consume(std::string_view(s.data).substr(std::min(s.offset, s.data.size())), sink))
      return false;
    std::string().swap(s.data);
  }
  // A rotated file ends with a whole line; anything else is not continued by the next file.
  pending_.clear();
  return true;
}

std::string& LogReader::ReadBuffer() {
  if (read_buf_.empty()) read_buf_.resize(kReadBlock);  // once: a follow reads again and again
  return read_buf_;
}

bool LogReader::ReadLive(const Sink& sink) {
  std::string& buf = ReadBuffer();
  auto drain = [&]() {
    for (;;) {
      ssize_t n = ::read(live_.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return true;
      live_offset_ += n;
      if (!Consume(std::string_view(buf.data(), static_cast<size_t>(n)), sink)) return false;
    }
  };
  for (int round = 0; round < 64; ++round) {
    if (!live_.valid()) {
      int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return true;  // not written yet, or between a rotation's rename and create
      live_.reset(fd);
      struct stat st;
      live_ino_ = ::fstat(fd, &st) == 0 ? static_cast<int64_t>(st.st_ino) : -1;
      live_offset_ = 0;
    }
    if (!drain()) return false;
    struct stat now, open_st;
    if (::stat(path_.c_str(), &now) != 0) return true;  // renamed; IN_CREATE brings us back
    if (static_cast<int64_t>(now.st_ino) != live_ino_) {
      // Rotated: whatever the shim wrote to the old file before renaming it is there now.
      if (!drain()) return false;
      pending_.clear();
      if (!FollowRotation(sink)) return false;
      continue;
    }
    if (::fstat(live_.get(), &open_st) == 0 && open_st.st_size < live_offset_) {
      // max-file 1: the shim truncated the file and starts it over.
      ::lseek(live_.get(), 0, SEEK_SET);
      live_offset_ = 0;
      pending_.clear();
      continue;
    }
    return true;
  }
  return true;
}

bool LogReader::FollowRotation(const Sink& sink) {
  // The new live file first, then the rotated files: those between the one just read (now
  // NAME.k) and the new live file (NAME.j if it was rotated too meanwhile) were written in
  // between and are read, oldest first, before it. Compressed files cannot be matched by inode;
  // a reader more than one rotation behind on a compressed log skips what it cannot place.
  UniqueFd next(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  int64_t next_ino = next.valid() && ::fstat(next.get(), &st) == 0 ? static_cast<int64_t>(st.st_ino) : -1;
  // The shim may be renaming NAME.i to NAME.i+1, highest first, while this scans upwards: a file
  // can be met twice (skipped by its inode) and one slot can be empty for a moment.
  std::vector<UniqueFd> between;  // newest first
  bool found_old = false;
  for (int attempt = 0; attempt < 3 && !found_old; ++attempt) {
    between.clear();
    std::set<int64_t> seen;
    int misses = 0;
    for (int i = 1; i < 1000 && misses < 2; ++i) {
      std::string name = absl::StrCat(path_, ".", i);
      int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        ++misses;
        continue;
      }
      misses = 0;
      UniqueFd f(fd);
      int64_t ino = ::fstat(fd, &st) == 0 ? static_cast<int64_t>(st.st_ino) : -1;
      if (ino == live_ino_) {
        found_old = true;
        break;
      }
      if (!seen.insert(ino).second) continue;
      if (ino == next_ino) between.clear();  // rotated after we opened it: only older ones count
      else between.push_back(std::move(f));
    }
  }
  if (found_old) {
    for (auto it = between.rbegin(); it != between.rend(); ++it) {
      Source s;
      s.fd = std::move(*it);
      if (!ReadRotated(s, sink)) return false;
    }
  }
  live_ = std::move(next);
  live_ino_ = next_ino;
  live_offset_ = 0;
  return true;
}

bool LogReader::Consume(std::string_view data, const Sink& sink) {
  if (!pending_.empty()) {
    const void* nl = memchr(data.data(), '\n', data.size());
    if (nl == nullptr) {
      pending_.append(data);
      return true;
    }
    size_t len = static_cast<size_t>(static_cast<const char*>(nl) - data.data());
    pending_.append(data.substr(0, len));
    data.remove_prefix(len + 1);
    std::string line;
    line.swap(pending_);
    LogLine l;
    if (ParseJsonLogLine(line, &scratch_, &l)) Emit(l);
  }
  const char* p = data.data();
  const char* end = p + data.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(memchr(p, '\n', static_cast<size_t>(end - p)));
    if (nl == nullptr) {
      pending_.assign(p, static_cast<size_t>(end - p));
      break;
    }
    LogLine l;
    if (ParseJsonLogLine(std::string_view(p, static_cast<size_t>(nl - p)), &scratch_, &l)) Emit(l);
    p = nl + 1;
    if (out_.size() >= kFlushAt && !Flush(sink)) return false;
  }
  return true;
}

void LogReader::Emit(const LogLine& l) {
  if (l.is_stderr ? !opt_.want_stderr : !opt_.want_stdout) return;
  int64_t nanos = 0;
  bool have_time = false;
  if (opt_.since > 0 || opt_.until > 0) {
    have_time = ParseLogTime(l.time, &nanos);
    if (!have_time) {
      std::string t(l.time);
      have_time = ParseRfc3339(t, &nanos);
    }
    if (opt_.since > 0 && nanos < opt_.since) return;
    if (opt_.until > 0 && nanos > opt_.until) {
      past_until_ = true;
      return;
    }
  }
  if (!opt_.raw &&
      (frame_start_ == std::string::npos || frame_stderr_ != l.is_stderr ||
       out_.size() - frame_start_ - 8 >= kMaxFrame)) {
    CloseFrame();
    frame_start_ = out_.size();
    frame_stderr_ = l.is_stderr;
    out_.append(8, '\0');
  }
  if (opt_.timestamps) {
    if (!FixedFromZulu(l.time, out_)) {
      if (!have_time && !ParseLogTime(l.time, &nanos)) nanos = 0;
      AppendLogTimeFixed(out_, nanos);
    }
    out_ += ' ';
  }
  if (opt_.details) out_ += ' ';  // dockerd: the entry's attrs (none here), then a space
  out_.append(l.log);
}

void LogReader::CloseFrame() {
  if (frame_start_ == std::string::npos) return;
  size_t size = out_.size() - frame_start_ - 8;
  if (size == 0) out_.resize(frame_start_);
  else EncodeFrameHeader(out_.data() + frame_start_, frame_stderr_, size);
  frame_start_ = std::string::npos;
}

bool LogReader::Flush(const Sink& sink) {
  CloseFrame();
  if (out_.empty()) return true;
  bool ok = sink(out_);
  out_.clear();
  return ok;
}

}  // namespace berth::engine
