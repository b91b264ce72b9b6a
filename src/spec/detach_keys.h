#pragma once
// Detach keys: the key sequence that ends an attach or exec stream with a TTY while the container
// (or exec process) keeps running. Docker's spelling (moby/term ToBytes): a comma list of single
// characters, `ctrl-@`, `ctrl-a` ... `ctrl-z`, `ctrl-[`, `ctrl-\`, `ctrl-]`, `ctrl-^`, `ctrl-_`
// and `DEL`; the default is ctrl-p,ctrl-q.

#include <string>
#include <string_view>

#include "common/status.h"

namespace berth::spec {

inline constexpr std::string_view kDefaultDetachKeys = "ctrl-p,ctrl-q";

// The bytes the sequence stands for; InvalidArgument "Unknown character: 'k'" for a key Docker
// does not know (the callers wrap it in their route's own words).
StatusOr<std::string> ParseDetachKeys(std::string_view keys);

// Finds the detach sequence in a stream of client input, across reads. Bytes that may begin the
// sequence are held back until the sequence completes (they are then dropped, as Docker drops
// them) or fails (they are passed on, in order).
class DetachScanner {
 public:
  // keys: the parsed sequence; empty never detaches.
  explicit DetachScanner(std::string keys) : keys_(std::move(keys)) {}

  // Appends to *out what of `in` goes on to the container. True once the sequence is complete;
  // whatever follows it in `in` is not passed on.
  bool Feed(std::string_view in, std::string* out);
  // The bytes held back at the end of the input (the client closed its side mid-sequence).
  std::string_view Held() const { return std::string_view(keys_).substr(0, matched_); }

 private:
  std::string keys_;
  size_t matched_ = 0;  // keys_[0, matched_) were the last bytes seen, held back
};

}  // namespace berth::spec
