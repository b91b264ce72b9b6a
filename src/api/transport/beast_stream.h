#pragma once
// BeastStream: Beast's SyncReadStream and SyncWriteStream over a transport::Stream, so Beast's
// HTTP parser and serializer work the same on plain sockets and on TLS, and reads end at a
// deadline. Two kinds of deadline: a fixed one (a request header must be complete by then, or
// the client is a slowloris) and a stall timeout that restarts with each read (a large upload
// may take long, but must keep moving).

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/system/system_error.hpp>
#include <chrono>
#include <iterator>
#include <string>

#include "api/transport/stream.h"

namespace berth::transport {

// The error_code Beast expects for a Stream status: eof is not an error here (ReadSome returns
// 0), the others map to what Beast's own streams would report.
inline boost::system::error_code ToErrorCode(const Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kOk:
      return {};
    case absl::StatusCode::kDeadlineExceeded:
      return boost::beast::error::timeout;
    case absl::StatusCode::kCancelled:
      return boost::asio::error::operation_aborted;
    default:
      return boost::asio::error::connection_reset;
  }
}

// Whether the peer ended the connection (closed or reset it), not a timeout or a cancel. On a
// kept-alive connection that had answered nothing yet, the request can go again on a new one.
inline bool ClosedByPeer(const boost::system::error_code& ec) {
  return ec == boost::asio::error::eof || ec == boost::beast::http::error::end_of_stream ||
         ec == boost::asio::error::connection_reset;
}

class BeastStream {
 public:
  explicit BeastStream(Stream& stream) : stream_(stream) {}

  void set_deadline(Deadline d) {
    deadline_ = d;
    stall_ = std::chrono::milliseconds::zero();
  }
  void set_stall_timeout(std::chrono::milliseconds t) {
    deadline_ = kForever;
    stall_ = t;
  }
  // What the last failed read or write reported (for messages; Beast only keeps the code).
  const Status& last_error() const { return last_error_; }
  Stream& stream() { return stream_; }

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    ec = {};
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::mutable_buffer b = *it;
      if (b.size() == 0) continue;
      auto n = stream_.ReadSome(static_cast<char*>(b.data()), b.size(), ReadDeadline());
      if (!n.ok()) {
        last_error_ = n.status();
        ec = ToErrorCode(n.status());
        return 0;
      }
      if (*n == 0) ec = boost::asio::error::eof;
      return *n;
    }
    return 0;
  }

  template <class MutableBufferSequence>
  std::size_t read_some(const MutableBufferSequence& buffers) {
    boost::system::error_code ec;
    std::size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

  // Gathers a sequence (Beast's serializer hands over a header as many small pieces) so that
  // one message goes out in one send, not one per field.
  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    ec = {};
    auto begin = boost::asio::buffer_sequence_begin(buffers);
    auto end = boost::asio::buffer_sequence_end(buffers);
    std::size_t total = boost::asio::buffer_size(buffers);
    if (total == 0) return 0;
    Status st;
    std::size_t written = 0;
    if (std::next(begin) == end) {
      boost::asio::const_buffer b = *begin;
      st = stream_.WriteAll(std::string_view(static_cast<const char*>(b.data()), b.size()));
      written = b.size();
    } else {
      std::string gathered(std::min<std::size_t>(total, kGatherMax), '\0');
      written = boost::asio::buffer_copy(boost::asio::buffer(gathered), buffers);
      st = stream_.WriteAll(gathered);
    }
    if (!st.ok()) {
      last_error_ = st;
      ec = ToErrorCode(st);
      return 0;
    }
    return written;
  }

  template <class ConstBufferSequence>
  std::size_t write_some(const ConstBufferSequence& buffers) {
    boost::system::error_code ec;
    std::size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  static constexpr std::size_t kGatherMax = 64 * 1024;
  Deadline ReadDeadline() const {
    return stall_.count() > 0 ? SteadyClock::now() + stall_ : deadline_;
  }

  Stream& stream_;
  Deadline deadline_ = kForever;
  std::chrono::milliseconds stall_{0};
  Status last_error_;
};

}  // namespace berth::transport
