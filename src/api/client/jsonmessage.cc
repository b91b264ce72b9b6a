#include "api/client/jsonmessage.h"

#include <chrono>
#include <cstdio>

#include "common/text.h"

namespace berth::client {

using nlohmann::json;

std::string GoDurationSeconds(int64_t s) {
  if (s <= 0) return "0s";
  int64_t h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
  std::string out;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  return out + std::to_string(sec) + "s";
}

namespace {

std::string PadLeft(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

}  // namespace

std::string ProgressString(const JsonProgress& p, int width, int64_t now_nanos) {
  if (p.current <= 0 && p.total <= 0) return "";
  if (p.total <= 0) {
    if (p.units.empty()) return PadLeft(HumanSize(static_cast<double>(p.current)), 8);
    return std::to_string(p.current) + " " + p.units;
  }
  int percentage = static_cast<int>(static_cast<double>(p.current) / static_cast<double>(p.total) * 100) / 2;
  if (percentage > 50) percentage = 50;
  std::string bar, numbers, time_left;
  if (width > 110) {
    int spaces = 50 - percentage > 0 ? 50 - percentage : 0;
    bar = "[" + std::string(static_cast<size_t>(std::max(percentage, 0)), '=') + ">" +
          std::string(static_cast<size_t>(spaces), ' ') + "] ";
  }
  if (p.hide_counts) {
  } else if (p.units.empty()) {
    std::string current = HumanSize(static_cast<double>(p.current));
    numbers = PadLeft(current, 8) + "/" + HumanSize(static_cast<double>(p.total));
    if (p.current > p.total) numbers = PadLeft(current, 8);
  } else {
    numbers = std::to_string(p.current) + "/" + std::to_string(p.total) + " " + p.units;
    if (p.current > p.total) numbers = std::to_string(p.current) + " " + p.units;
  }
  if (p.current > 0 && p.start > 0 && percentage < 50) {
    int64_t from_start = now_nanos - p.start * 1000000000;
    int64_t per_entry = from_start / p.current;
    int64_t left = (p.total - p.current) * per_entry;
    if (width > 50) time_left = " " + GoDurationSeconds(left / 1000000000);
  }
  return bar + numbers + time_left;
}

JsonMessageDisplay::JsonMessageDisplay(Writer write, bool terminal, int width)
    : write_(std::move(write)), terminal_(terminal), width_(width) {
  now_nanos = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
}

namespace {

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool HasProgress(const json& jm) {
  auto it = jm.find("progressDetail");
  return it != jm.end() && it->is_object();
}

JsonProgress ProgressOf(const json& jm) {
  JsonProgress p;
  const json& d = jm["progressDetail"];
  auto num = [&](const char* k) {
    auto it = d.find(k);
    return it != d.end() && it->is_number() ? it->get<int64_t>() : int64_t{0};
  };
  p.current = num("current");
  p.total = num("total");
  p.start = num("start");
  if (auto it = d.find("hidecounts"); it != d.end() && it->is_boolean()) p.hide_counts = it->get<bool>();
  p.units = Str(d, "units");
  return p;
}

}  // namespace

Status JsonMessageDisplay::Display(const json& jm) {
  if (!jm.is_object()) return absl::OkStatus();
  if (auto it = jm.find("aux"); it != jm.end() && !it->is_null()) {
    if (on_aux) on_aux(*it);
    return absl::OkStatus();
  }
  bool progress = HasProgress(jm);
  std::string id = Str(jm, "id");
  unsigned diff = 0;
  if (!id.empty() && (progress || !Str(jm, "progress").empty())) {
    auto found = ids_.find(id);
    unsigned line;
    if (found == ids_.end()) {
      // One line per id, in order of first appearance; a new id takes a new line.
      line = static_cast<unsigned>(ids_.size());
      ids_[id] = line;
      if (terminal_) write_("\n");
    } else {
      line = found->second;
    }
    diff = static_cast<unsigned>(ids_.size()) - line;
    if (terminal_ && diff > 0) write_("\x1b[" + std::to_string(diff) + "A");
  } else {
    // A line that is not progress ends the in-place block (pull -a's next tag starts afresh).
    ids_.clear();
  }
  // errorDetail (or the deprecated error) ends the stream with that message.
  if (auto it = jm.find("errorDetail"); it != jm.end() && it->is_object()) {
    std::string msg = Str(*it, "message");
    if (!id.empty() && terminal_ && diff > 0) write_("\x1b[" + std::to_string(diff) + "B");
    return absl::UnknownError(msg);
  }
  if (std::string err = Str(jm, "error"); !err.empty()) {
    if (!id.empty() && terminal_ && diff > 0) write_("\x1b[" + std::to_string(diff) + "B");
    return absl::UnknownError(err);
  }
  DisplayOne(jm);
  if (!id.empty() && terminal_ && diff > 0) write_("\x1b[" + std::to_string(diff) + "B");
  return absl::OkStatus();
}

void JsonMessageDisplay::DisplayOne(const json& jm) {
  std::string stream = Str(jm, "stream"), status = Str(jm, "status"), id = Str(jm, "id"),
              from = Str(jm, "from"), progress_message = Str(jm, "progress");
  bool has_progress = HasProgress(jm);
  std::string bar;
  if (has_progress) bar = ProgressString(ProgressOf(jm), width_, now_nanos());
  std::string endl;
  std::string out;
  if (terminal_ && stream.empty() && has_progress) {
    out += "\x1b[2K\r";
    endl = "\r";
  } else if (has_progress && !bar.empty()) {
    return;  // progress bars are not drawn off a terminal
  }
  if (!id.empty()) out += id + ": ";
  if (!from.empty()) out += "(from " + from + ") ";
  if (has_progress && terminal_) out += status + " " + bar + endl;
  else if (!progress_message.empty()) out += status + " " + progress_message + endl;
  else if (!stream.empty()) out += stream + endl;
  else out += status + endl + "\n";
  write_(out);
}

}  // namespace berth::client
