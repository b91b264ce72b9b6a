#pragma once
// Docker's JSON message stream (pull, push, load progress), both ends of it, as moby's
// pkg/jsonmessage and pkg/streamformatter define it:
//   - ProgressString: JSONProgress.String(), the "[==>   ]  1.23MB/4.56MB" text, for a width
//     (the server renders it for a width of 200, as dockerd does with no terminal; the CLI for
//     its terminal's width).
//   - JsonMessageDisplay: DisplayJSONMessagesStream, what the docker CLI prints of a stream:
//     on a terminal one line per id updated in place (cursor movement, the bar); not on a
//     terminal, the status lines only (progress bars are dropped).

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "common/status.h"
#include "nlohmann/json.hpp"

namespace berth::client {

struct JsonProgress {
  int64_t current = 0;
  int64_t total = 0;
  int64_t start = 0;  // unix seconds; 0: none (no time-left estimate)
  bool hide_counts = false;
  std::string units;
};

// Go's time.Duration.String of whole seconds ("4s", "1m5s", "2h0m3s", "0s").
std::string GoDurationSeconds(int64_t seconds);
// JSONProgress.String() for a terminal `width` columns wide; now_nanos is the clock for the
// time-left estimate (used only when start is set).
std::string ProgressString(const JsonProgress& p, int width, int64_t now_nanos);

// DisplayJSONMessagesStream over decoded messages. Writes to `write`.
class JsonMessageDisplay {
 public:
  using Writer = std::function<void(std::string_view)>;
  // width: the terminal's columns (200 when not a terminal, as Docker's fallback).
  JsonMessageDisplay(Writer write, bool terminal, int width);
  // One message. A message carrying an error returns it (errorDetail.message, else error) as
  // an Unknown status and prints nothing; aux messages go to on_aux and print nothing.
  Status Display(const nlohmann::json& jm);
  std::function<void(const nlohmann::json& aux)> on_aux;
  // For tests: the clock of the time-left estimate.
  std::function<int64_t()> now_nanos;

 private:
  void DisplayOne(const nlohmann::json& jm);
  Writer write_;
  bool terminal_;
  int width_;
  std::map<std::string, unsigned> ids_;
};

}  // namespace berth::client
