#include "spec/detach_keys.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace berth::spec {

StatusOr<std::string> ParseDetachKeys(std::string_view keys) {
  // ctrl-@ is 0, ctrl-a 1 ... ctrl-z 26, then ctrl-[ ctrl-\ ctrl-] ctrl-^ ctrl-_ (27-31).
  static constexpr std::string_view kCtrl = "@abcdefghijklmnopqrstuvwxyz[\\]^_";
  std::string out;
  for (absl::string_view key : absl::StrSplit(Av(keys), ',')) {
    if (key.size() == 1) {
      out.push_back(key[0]);
    } else if (key.size() == 6 && absl::StartsWith(key, "ctrl-") &&
               kCtrl.find(key[5]) != std::string_view::npos) {
      out.push_back(static_cast<char>(kCtrl.find(key[5])));
    } else if (key == "DEL") {
      out.push_back(127);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("Unknown character: '", key, "'"));
    }
  }
  return out;
}

bool DetachScanner::Feed(std::string_view in, std::string* out) {
  if (keys_.empty()) {
    out->append(in);
    return false;
  }
  // Bytes to examine: normally the input; after a failed partial match, the held bytes but the
  // first are examined again ahead of it, so "p p q" still finds "p q".
  std::string replay;
  size_t i = 0;
  for (;;) {
    char ch;
    if (!replay.empty()) {
      ch = replay.front();
      replay.erase(0, 1);
    } else if (i < in.size()) {
      ch = in[i++];
    } else {
      return false;
    }
    if (ch == keys_[matched_]) {
      if (++matched_ == keys_.size()) return true;
      continue;
    }
    if (matched_ == 0) {
      out->push_back(ch);
      continue;
    }
    out->push_back(keys_[0]);
    std::string again = keys_.substr(1, matched_ - 1);
    again.push_back(ch);
    replay = again + replay;
    matched_ = 0;
  }
}

}  // namespace berth::spec
