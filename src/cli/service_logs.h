#pragma once
// `service logs`' output: the daemon's stdcopy stream of swarm log messages, each frame one
// "[<timestamp> ]<details> <message>" (the details are "com.docker.swarm.node.id=...,..."),
// printed as docker CLI's logWriter prints them: "[<timestamp> ]web.1.abc123@node    | message",
// or the bare message with --raw.
//
// The frame is the unit: dockerd (and berthd, cluster/task_logs.h) writes one log line per frame,
// and the label can only be made from a whole one. The bytes arrive cut wherever the transport
// cut them (an HTTP chunk, a socket read), so the printer holds an incomplete frame back until its
// last byte is in; what it prints is the same however the stream was cut, and with --follow each
// line still appears as soon as it is complete.

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "api/client/stdcopy.h"
#include "common/status.h"

namespace berth::cli {

// logdetails.Parse: "k=v,k2=v2" with query-escaped keys and values.
std::map<std::string, std::string> ParseLogDetails(std::string_view s);

struct ServiceLogOptions {
  bool raw = false;         // print the message alone, as the daemon sent it
  bool timestamps = false;  // messages start with "<timestamp> "
  bool details = false;     // print the details other than the swarm ids before the message
};

// Not thread-safe: one stream, fed from the thread reading it.
class ServiceLogPrinter {
 public:
  // The label of a task ("web.1.abc123@node" with its padding) from the ids in its details.
  using LabelFn = std::function<std::string(const std::string& node_id,
                                            const std::string& service_id,
                                            const std::string& task_id)>;
  // Output for stdout (stdin frames too, as docker's stdcopy does) or stderr.
  using WriteFn = std::function<void(client::StdStream stream, std::string_view text)>;

  ServiceLogPrinter(ServiceLogOptions opts, LabelFn label, WriteFn write)
      : opts_(opts), label_(std::move(label)), write_(std::move(write)) {}

  // Bytes as they arrive, cut anywhere. Every frame completed by them is printed before this
  // returns. INVALID_ARGUMENT when the stream is not stdcopy framed or a message has no details;
  // UNKNOWN "error from daemon in stream: ..." for the daemon's in-band error (stream 3), as
  // docker's stdcopy reports it. After an error the printer prints nothing more.
  Status Feed(std::string_view data);

  // Bytes of an incomplete frame held back. At the end of the stream they are dropped, as docker's
  // stdcopy drops a frame cut short by EOF: a complete last line is always a complete frame
  // (with or without its newline), so it has been printed already.
  size_t pending() const { return buf_.size() - pos_; }

 private:
  Status Print(client::StdStream stream, std::string_view payload);

  ServiceLogOptions opts_;
  LabelFn label_;
  WriteFn write_;
  std::string buf_;  // received, from pos_ on not yet printed
  size_t pos_ = 0;
  Status error_;
};

}  // namespace berth::cli
