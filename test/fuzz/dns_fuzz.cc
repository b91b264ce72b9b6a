// The embedded resolver's DNS codec (network/dns/message.h) on arbitrary datagrams.
//
// Every input is taken as a query, as the server takes each datagram on 127.0.0.11:53, and as a
// forwarded upstream's response. Invariants:
//   - a parsed query has a lowercased name that fits a DNS name, its question inside the message;
//   - every answer built for it (A records with rotation and truncation, PTR, empty NOERROR /
//     NXDOMAIN / SERVFAIL) parses back as a response to that query: same id, opcode, RD,
//     question (name, type, class), rcode, the records it carries in order, within the size
//     limit, TC set exactly when records were left out, an OPT record iff the query had one;
//     ResponseMatches accepts it for the query and refuses it for another id;
//   - an unparseable query gets a FORMERR that parses as a response with its id and no question;
//   - BuildQuery of the parsed name parses back to the same name, type and class;
//   - ReadName never reads past the message and never loops, wherever it starts, and its text
//     writes back to the same labels (a dot inside a label is escaped, not a boundary).

#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "fuzz_check.h"
#include "network/dns/message.h"

namespace berth::network::dns {
namespace {

std::string Show(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

bool HasOpt(std::span<const uint8_t> msg, const Response& r) {
  // The additional section is not parsed by ParseResponse: its count is in the header.
  return ReadU16(msg.data() + 10) > 0;
}

void CheckResponseTo(absl::string_view what, const std::string& out, const Query& q,
                     uint8_t rcode, size_t max_size, Response* parsed) {
  std::span<const uint8_t> msg = AsBytes(out);
  absl::StatusOr<Response> r = ParseResponse(msg);
  FUZZ_CHECK(r.ok(), absl::StrCat(what, " does not parse: ", r.status().ToString(), " ", Show(out)));
  FUZZ_CHECK(out.size() <= max_size, absl::StrCat(what, " of ", out.size(), " bytes > ", max_size));
  FUZZ_CHECK(r->id == q.id, what);
  FUZZ_CHECK(r->flags & kFlagQr, what);
  FUZZ_CHECK((r->flags & 0x7800) == (q.flags & 0x7800), absl::StrCat(what, ": opcode"));
  FUZZ_CHECK((r->flags & kFlagRd) == (q.flags & kFlagRd), absl::StrCat(what, ": RD"));
  FUZZ_CHECK(r->rcode == rcode, absl::StrCat(what, ": rcode ", r->rcode));
  FUZZ_CHECK(r->qname == q.name,
             absl::StrCat(what, ": question ", Show(r->qname), " for ", Show(q.name)));
  FUZZ_CHECK(r->qtype == q.qtype && r->qclass == q.qclass, absl::StrCat(what, ": qtype/qclass"));
  FUZZ_CHECK(HasOpt(msg, *r) == (q.edns_udp_size != 0), absl::StrCat(what, ": OPT"));
  std::string scratch;
  FUZZ_CHECK(ResponseMatches(msg, q.id, q, &scratch), absl::StrCat(what, " does not match"));
  FUZZ_CHECK(!ResponseMatches(msg, static_cast<uint16_t>(q.id + 1), q, &scratch),
             absl::StrCat(what, " matches another id"));
  *parsed = std::move(*r);
}

void CheckAnswers(std::span<const uint8_t> msg, const Query& q) {
  // Sizes as the server picks them: the client's EDNS size, else 512.
  const size_t max_size = q.edns_udp_size ? q.edns_udp_size : kMaxUdpPlain;
  std::string out;
  Response r;

  for (uint8_t rcode : {kRcodeNoError, kRcodeNxDomain, kRcodeServFail}) {
    BuildEmptyResponse(msg, q, rcode, &out);
    CheckResponseTo("empty response", out, q, rcode, 65535, &r);
    FUZZ_CHECK(r.ancount == 0 && r.a.empty() && r.ptr.empty(), "records in an empty response");
  }

  // A records: a count and rotation derived from the query so both vary.
  std::vector<uint32_t> addrs;
  const size_t n = (q.id % 300) + (q.qtype % 3 == 0 ? 0 : 1);
  for (size_t i = 0; i < n; ++i) addrs.push_back(htonl(0x0a000000u + static_cast<uint32_t>(i)));
  const size_t rotate = q.qclass;
  BuildAResponse(msg, q, addrs, rotate, max_size, &out);
  CheckResponseTo("A response", out, q, kRcodeNoError, max_size, &r);
  FUZZ_CHECK(r.ancount == r.a.size(), "A response: ANCOUNT");
  const bool tc = r.flags & kFlagTc;
  FUZZ_CHECK(tc == (r.a.size() < n), absl::StrCat("A response: TC with ", r.a.size(), " of ", n));
  for (size_t i = 0; i < r.a.size(); ++i) {
    in_addr a{addrs[(rotate + i) % n]};
    char buf[INET_ADDRSTRLEN];
    FUZZ_CHECK(r.a[i] == inet_ntop(AF_INET, &a, buf, sizeof buf), "A response: rotation");
  }

  // PTR records: names that fit, and one that may not (the query's own name, unchecked).
  std::vector<std::string> names = {"c1.testnet", "Web-1.Example.ORG.", q.name};
  absl::Status st = BuildPtrResponse(msg, q, names, max_size, &out);
  if (st.ok()) {
    CheckResponseTo("PTR response", out, q, kRcodeNoError, max_size, &r);
    FUZZ_CHECK(r.ancount == r.ptr.size(), "PTR response: ANCOUNT");
    FUZZ_CHECK(r.ptr.size() <= names.size(), "PTR response: too many records");
    FUZZ_CHECK(((r.flags & kFlagTc) != 0) == (r.ptr.size() < names.size()), "PTR response: TC");
    const char* want[] = {"c1.testnet", "web-1.example.org"};
    for (size_t i = 0; i < r.ptr.size() && i < 2; ++i) {
      FUZZ_CHECK(r.ptr[i] == want[i], "PTR response: " + Show(r.ptr[i]));
    }
  } else {
    FUZZ_CHECK(st.code() == absl::StatusCode::kInvalidArgument, st.ToString());
  }

  std::string ip;
  if (ReverseNameToIpv4(q.name, &ip)) {
    in_addr a;
    FUZZ_CHECK(inet_pton(AF_INET, ip.c_str(), &a) == 1, "reverse name gave " + Show(ip));
  }

  // The question written out afresh reads back the same.
  std::string again;
  if (BuildQuery(q.id, q.name, q.qtype, &again).ok()) {
    Query q2;
    absl::Status ps = ParseQuery(AsBytes(again), &q2);
    FUZZ_CHECK(ps.ok(), "BuildQuery's output: " + ps.ToString());
    FUZZ_CHECK(q2.name == q.name && q2.qtype == q.qtype && q2.qclass == kClassIn && q2.id == q.id,
               "BuildQuery round trip of " + Show(q.name));
  }
}

// ReadName's text: lowercase, and it writes back (AppendName) to at most 255 octets that read
// back as the same text.
void CheckNameText(const std::string& name) {
  for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), "upper case in " + Show(name));
  std::string wire;
  absl::Status st = AppendName(name, &wire);
  FUZZ_CHECK(st.ok(), absl::StrCat("AppendName(", Show(name), "): ", st.ToString()));
  FUZZ_CHECK(wire.size() <= 255, "wire name of " + std::to_string(wire.size()));
  size_t off = 0;
  std::string back;
  FUZZ_CHECK(ReadName(AsBytes(wire), &off, &back).ok() && back == name && off == wire.size(),
             "AppendName/ReadName round trip of " + Show(name));
}

void CheckReadNameEverywhere(std::span<const uint8_t> msg) {
  std::string name;
  for (size_t start = 0; start < msg.size() && start < 64; ++start) {
    size_t off = start;
    bool compressed = false;
    if (ReadName(msg, &off, &name, &compressed).ok()) {
      FUZZ_CHECK(off > start && off <= msg.size(), "ReadName offset");
      CheckNameText(name);
    }
  }
}

}  // namespace
}  // namespace berth::network::dns

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth::network::dns;
  std::span<const uint8_t> msg(data, size);

  Query q;
  absl::Status st = ParseQuery(msg, &q);
  if (st.ok()) {
    FUZZ_CHECK(q.question_end >= kHeaderSize + 5 && q.question_end <= size, "question_end");
    FUZZ_CHECK(!(q.flags & kFlagQr), "QR");
    CheckNameText(q.name);
    FUZZ_CHECK(q.edns_udp_size == 0 || q.edns_udp_size >= kMaxUdpPlain, "EDNS size");
    CheckAnswers(msg, q);
  } else {
    FUZZ_CHECK(st.code() == absl::StatusCode::kInvalidArgument, st.ToString());
    std::string out;
    BuildErrorResponse(msg, kRcodeFormErr, &out);
    if (size < 2) {
      FUZZ_CHECK(out.empty(), "error response to a message without an id");
    } else {
      absl::StatusOr<Response> r = ParseResponse(AsBytes(out));
      FUZZ_CHECK(r.ok(), "FORMERR does not parse: " + r.status().ToString());
      FUZZ_CHECK(r->id == ReadU16(data) && r->rcode == kRcodeFormErr && r->qname.empty(),
                 "FORMERR fields");
      Query any;
      any.id = r->id;
      std::string scratch;
      FUZZ_CHECK(ResponseMatches(AsBytes(out), r->id, any, &scratch), "FORMERR does not match");
    }
  }

  // The same bytes as an upstream's answer to a forwarded query.
  absl::StatusOr<Response> r = ParseResponse(msg);
  if (r.ok()) {
    FUZZ_CHECK(r->flags & kFlagQr, "response without QR");
    FUZZ_CHECK(r->a.size() + r->ptr.size() <= r->ancount, "more records than ANCOUNT");
    for (const std::string& a : r->a) {
      in_addr x;
      FUZZ_CHECK(inet_pton(AF_INET, a.c_str(), &x) == 1, "A record " + a);
    }
  } else {
    FUZZ_CHECK(r.status().code() == absl::StatusCode::kInvalidArgument, r.status().ToString());
  }
  CheckReadNameEverywhere(msg);
  return 0;
}
