#include "api/client/stdcopy.h"

#include <algorithm>

namespace berth::client {

Status StdcopyDemuxer::Feed(std::string_view data) {
  while (!data.empty()) {
    if (remaining_ == 0) {
      size_t take = std::min(sizeof header_ - header_len_, data.size());
      std::copy_n(data.data(), take, header_ + header_len_);
      header_len_ += take;
      data.remove_prefix(take);
      if (header_len_ < sizeof header_) return absl::OkStatus();
      header_len_ = 0;
      if (header_[0] > 3) {
        return absl::InvalidArgumentError(
            absl::StrCat("unrecognized input header: ", static_cast<int>(header_[0])));
      }
      current_ = static_cast<StdStream>(header_[0]);
      remaining_ = (uint32_t{header_[4]} << 24) | (uint32_t{header_[5]} << 16) |
                   (uint32_t{header_[6]} << 8) | uint32_t{header_[7]};
      continue;
    }
    size_t take = std::min<size_t>(remaining_, data.size());
    sink_(current_, data.substr(0, take));
    remaining_ -= static_cast<uint32_t>(take);
    data.remove_prefix(take);
  }
  return absl::OkStatus();
}

std::string StdcopyFrame(StdStream stream, std::string_view payload) {
  std::string out(8, '\0');
  out[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(payload.size());
  out[4] = static_cast<char>(n >> 24);
  out[5] = static_cast<char>(n >> 16);
  out[6] = static_cast<char>(n >> 8);
  out[7] = static_cast<char>(n);
  out.append(payload);
  return out;
}

}  // namespace berth::client
