#include "cli/service_logs.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace berth::cli {
namespace {

constexpr size_t kHeaderSize = 8;  // [stream, 0, 0, 0, size as big-endian uint32]

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  char l = static_cast<char>(c | 0x20);
  return l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
}

std::string Unescape(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '%' && i + 2 < v.size() && Hex(v[i + 1]) >= 0 && Hex(v[i + 2]) >= 0) {
      out += static_cast<char>(Hex(v[i + 1]) * 16 + Hex(v[i + 2]));
      i += 2;
      continue;
    }
    out += v[i] == '+' ? ' ' : v[i];
  }
  return out;
}

// The first `n` words of `s` split at single spaces, the rest of it last (Go's bytes.SplitN with
// n + 1); fewer parts when `s` has fewer spaces.
std::vector<std::string_view> SplitN(std::string_view s, size_t n) {
  std::vector<std::string_view> parts;
  while (parts.size() < n) {
    size_t sp = s.find(' ');
    if (sp == std::string_view::npos) break;
    parts.push_back(s.substr(0, sp));
    s.remove_prefix(sp + 1);
  }
  parts.push_back(s);
  return parts;
}

// A map as Go's %v prints it: "map[k1:v1 k2:v2]", keys sorted.
std::string GoMap(const std::map<std::string, std::string>& m) {
  std::vector<std::string> kv;
  for (const auto& [k, v] : m) kv.push_back(k + ":" + v);
  return "map[" + absl::StrJoin(kv, " ") + "]";
}

}  // namespace

std::map<std::string, std::string> ParseLogDetails(std::string_view s) {
  std::map<std::string, std::string> out;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view kv = s.substr(0, comma);
    s.remove_prefix(comma == std::string_view::npos ? s.size() : comma + 1);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    out[Unescape(kv.substr(0, eq))] = Unescape(kv.substr(eq + 1));
  }
  return out;
}

Status ServiceLogPrinter::Feed(std::string_view data) {
  if (!error_.ok()) return error_;
  buf_.append(data);
  while (buf_.size() - pos_ >= kHeaderSize) {
    const auto* h = reinterpret_cast<const unsigned char*>(buf_.data() + pos_);
    if (h[0] > static_cast<unsigned char>(client::StdStream::kSystemErr)) {
      error_ = absl::InvalidArgumentError(
          absl::StrCat("unrecognized input header: ", static_cast<int>(h[0])));
      return error_;
    }
    size_t size = (size_t{h[4]} << 24) | (size_t{h[5]} << 16) | (size_t{h[6]} << 8) | size_t{h[7]};
    if (buf_.size() - pos_ - kHeaderSize < size) break;  // the rest of it is still on its way
    auto stream = static_cast<client::StdStream>(h[0]);
    std::string_view payload(buf_.data() + pos_ + kHeaderSize, size);
    pos_ += kHeaderSize + size;
    error_ = Print(stream, payload);
    if (!error_.ok()) return error_;
  }
  // Keep only the incomplete frame (a few bytes, or one frame's worth while a long line comes in).
  buf_.erase(0, pos_);
  pos_ = 0;
  return absl::OkStatus();
}

Status ServiceLogPrinter::Print(client::StdStream stream, std::string_view payload) {
  if (stream == client::StdStream::kSystemErr) {
    return absl::UnknownError("error from daemon in stream: " + std::string(payload));
  }
  if (opts_.raw) {
    write_(stream, payload);
    return absl::OkStatus();
  }
  // "[<timestamp> ]<details> <message>"
  size_t words = opts_.timestamps ? 2 : 1;
  std::vector<std::string_view> parts = SplitN(payload, words);
  if (parts.size() != words + 1) {
    return absl::InvalidArgumentError("invalid context in log message: " +
                                       std::string(payload));
  }
  std::map<std::string, std::string> d = ParseLogDetails(parts[words - 1]);
  std::string ids[3];
  const std::pair<const char*, const char*> kIds[3] = {{"com.docker.swarm.node.id", "node"},
                                                      {"com.docker.swarm.service.id", "service"},
                                                      {"com.docker.swarm.task.id", "task"}};
  for (int i = 0; i < 3; ++i) {
    auto it = d.find(kIds[i].first);
    if (it == d.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing ", kIds[i].second, " id in details: ", GoMap(d)));
    }
    ids[i] = it->second;
    d.erase(it);
  }
  std::string out;
  if (opts_.timestamps) out.append(parts[0]).append(" ");
  out.append(label_(ids[0], ids[1], ids[2])).append("    | ");
  if (opts_.details) {
    // Sorted as "k=v" strings, as docker's logWriter sorts them (not quite the keys' order).
    std::vector<std::string> kv;
    for (const auto& [k, v] : d) kv.push_back(k + "=" + v);
    std::sort(kv.begin(), kv.end());
    out.append(absl::StrJoin(kv, ",")).append(" ");
  }
  out.append(parts[words]);
  write_(stream, out);
  return absl::OkStatus();
}

}  // namespace berth::cli
