#include "json_log.h"

#include <time.h>

#include "common/utf8.h"

namespace berth::shim {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i] (2..4), or 0 if the bytes there are not
// one. Same acceptance as Go's utf8.DecodeRune: no overlong forms, no surrogates, <= U+10FFFF.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (i + 1 >= s.size()) return 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;  // U+D800..U+DFFF are surrogates, not characters
    return (b(1) >= lo && b(1) <= hi && cont(2)) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (i + 1 >= s.size()) return 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    return (b(1) >= lo && b(1) <= hi && cont(2) && cont(3)) ? 4 : 0;
  }
  return 0;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the JSON string whose first character (after the opening quote) is s[i].
std::string UnescapeJsonString(std::string_view s, size_t i) {
  std::string out;
  while (i < s.size() && s[i] != '"') {
    char c = s[i++];
    if (c != '\\' || i >= s.size()) {
      out += c;
      continue;
    }
    char e = s[i++];
    switch (e) {
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        uint32_t cp = 0;
        for (int k = 0; k < 4 && i < s.size(); ++k) {
          int v = HexValue(s[i++]);
          cp = cp * 16 + static_cast<uint32_t>(v < 0 ? 0 : v);
        }
        AppendUtf8(out, cp);
        break;
      }
      default: out += e; break;  // \" \\ \/
    }
  }
  return out;
}

}  // namespace

void AppendJsonEscaped(std::string& out, std::string_view in) {
  for (size_t i = 0; i < in.size();) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c >= 0x80) {
      size_t n = Utf8SequenceLength(in, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else if (n == 3 && c == 0xE2 && static_cast<unsigned char>(in[i + 1]) == 0x80 &&
                 (static_cast<unsigned char>(in[i + 2]) & 0xFE) == 0xA8) {
        // U+2028/U+2029 are valid JSON but break JavaScript; Go escapes them, so do we.
        out += (in[i + 2] & 1) ? "\\u2029" : "\\u2028";
        i += n;
      } else {
        out.append(in.data() + i, n);
        i += n;
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '<':
      case '>':
      case '&':
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

void AppendRfc3339Nano(std::string& out, int64_t unix_nanos) {
  time_t secs = static_cast<time_t>(unix_nanos / 1000000000);
  long frac = static_cast<long>(unix_nanos % 1000000000);
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  out.append(buf, n);
  if (frac != 0) {
    char digits[10];
    for (int k = 8; k >= 0; --k) {
      digits[k] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    int len = 9;
    while (digits[len - 1] == '0') --len;
    out += '.';
    out.append(digits, static_cast<size_t>(len));
  }
  out += 'Z';
}

int64_t NowUnixNanos() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void AppendJsonLogEntry(std::string& out, std::string_view line, const char* stream,
                        std::string_view time) {
  out += "{\"log\":\"";
  AppendJsonEscaped(out, line);
  out += "\",\"stream\":\"";
  out += stream;
  out += "\",\"time\":\"";
  out += time;
  out += "\"}\n";
}

void AppendJsonLogEntries(std::string& out, std::string_view chunk, const char* stream,
                          int64_t unix_nanos) {
  std::string time;
  AppendRfc3339Nano(time, unix_nanos);
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    size_t len = nl == std::string_view::npos ? chunk.size() : nl + 1;
    AppendJsonLogEntry(out, chunk.substr(0, len), stream, time);
    chunk.remove_prefix(len);
  }
}

std::string LastRuncError(std::string_view log) {
  std::string msg;
  while (!log.empty()) {
    size_t nl = log.find('\n');
    std::string_view line = log.substr(0, nl);
    log.remove_prefix(nl == std::string_view::npos ? log.size() : nl + 1);
    if (line.find("\"level\":\"error\"") == std::string_view::npos) continue;
    size_t m = line.find("\"msg\":\"");
    if (m == std::string_view::npos) continue;
    msg = UnescapeJsonString(line, m + 7);
  }
  return msg;
}

}  // namespace berth::shim
