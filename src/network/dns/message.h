#pragma once
// DNS wire format (RFC 1035) as far as the embedded resolver needs it: parse one query, build the
// answers the resolver gives itself (A, PTR, empty NOERROR, NXDOMAIN, SERVFAIL, FORMERR), and read
// a response far enough to check it answers the question that was forwarded. Output never uses
// name compression except the one pointer from each answer back to the question (offset 12);
// input may use compression anywhere.
//
// Everything writes into caller-owned buffers (out->clear() keeps the capacity), so the server's
// hot path allocates nothing here once its buffers have grown.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace berth::network::dns {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypePtr = 12;
inline constexpr uint16_t kTypeAaaa = 28;
inline constexpr uint16_t kTypeOpt = 41;
inline constexpr uint16_t kTypeAny = 255;
inline constexpr uint16_t kClassIn = 1;

inline constexpr uint8_t kRcodeNoError = 0;
inline constexpr uint8_t kRcodeFormErr = 1;
inline constexpr uint8_t kRcodeServFail = 2;
inline constexpr uint8_t kRcodeNxDomain = 3;
inline constexpr uint8_t kRcodeNotImp = 4;
inline constexpr uint8_t kRcodeRefused = 5;

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxUdpPlain = 512;  // without EDNS (RFC 1035 4.2.1)
inline constexpr uint32_t kAnswerTtl = 600;  // what Docker's resolver puts on its own answers

// Header flag bits (second 16-bit word).
inline constexpr uint16_t kFlagQr = 0x8000;
inline constexpr uint16_t kFlagAa = 0x0400;
inline constexpr uint16_t kFlagTc = 0x0200;
inline constexpr uint16_t kFlagRd = 0x0100;
inline constexpr uint16_t kFlagRa = 0x0080;

inline uint16_t ReadU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;
  // Lowercased, without the trailing dot; "" for the root. A '.' or '\' inside a label is
  // escaped as "\." or "\\" (the presentation format of RFC 4343), so that one label "c1.net" is
  // not taken for the name c1.net, and the text writes back to the same labels (AppendName).
  std::string name;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  size_t question_end = 0;  // offset just past the question in the parsed message
  bool question_compressed =
      false;                   // the question name used a pointer: cannot be echoed byte for byte
  uint16_t edns_udp_size = 0;  // from an OPT record in the additional section; 0 = no EDNS
};

// Reads the (possibly compressed) name at *offset, lowercased into *out without the trailing dot
// (dots and backslashes inside labels escaped, see Query::name),
// and advances *offset past it (past the first pointer when compressed). Rejects loops, labels
// running past the end, names over 255 octets and reserved label types. *compressed (optional)
// tells whether a pointer was followed.
Status ReadName(std::span<const uint8_t> msg, size_t* offset, std::string* out,
                bool* compressed = nullptr);

// Parses a query: a 12-byte header, QR clear, QDCOUNT exactly 1, a well-formed question. Answer and
// authority sections are not looked at; the additional section is searched for an OPT record only.
// Reuses q's string capacity. InvalidArgument on anything malformed or truncated.
Status ParseQuery(std::span<const uint8_t> msg, Query* q);

// Appends the wire form of `name` ("a.b.c", trailing dot optional, "" or "." = root; "\X" is
// the character X inside a label) to *out. InvalidArgument on an empty label, a label over 63
// octets, a name over 255 or a lone trailing backslash; *out is then left as it was.
Status AppendName(std::string_view name, std::string* out);

// A standard query (RD set) with one question; for clients and tests.
Status BuildQuery(uint16_t id, std::string_view name, uint16_t qtype, std::string* out);

// Starts a response to `query` (the raw bytes q was parsed from) in *out: the header (id, opcode
// and RD copied, QR and RA set, the given rcode, counts QD=1 AN=ancount) and the question, echoed
// byte for byte so that a client matching on 0x20 case randomisation is satisfied.
void BuildResponseHead(std::span<const uint8_t> query, const Query& q, uint8_t rcode,
                       uint16_t ancount, std::string* out);

// A response carrying every IPv4 address of `addrs` (network byte order) as an A record, starting
// at index `rotate % n` and wrapping (round robin). When the records do not fit in max_size the
// response carries as many as fit and sets TC so the client retries over TCP. Adds an OPT record
// when the query had one.
void BuildAResponse(std::span<const uint8_t> query, const Query& q, std::span<const uint32_t> addrs,
                    size_t rotate, size_t max_size, std::string* out);

// The same with AAAA records, for IPv6 addresses (16 bytes each, network byte order).
using Ipv6Bytes = std::array<uint8_t, 16>;
void BuildAaaaResponse(std::span<const uint8_t> query, const Query& q, std::span<const Ipv6Bytes> addrs,
                       size_t rotate, size_t max_size, std::string* out);

// A response with PTR records pointing to `names` (dotted, trailing dot optional).
Status BuildPtrResponse(std::span<const uint8_t> query, const Query& q,
                        const std::vector<std::string>& names, size_t max_size, std::string* out);

// A response with no records: rcode NOERROR (the name exists, not with that type), NXDOMAIN,
// SERVFAIL.
void BuildEmptyResponse(std::span<const uint8_t> query, const Query& q, uint8_t rcode,
                        std::string* out);

// A response to a query that could not be parsed: the id and opcode echoed when present, no
// question, the given rcode (FORMERR, NOTIMP). Empty *out when the message is too short to have an
// id.
void BuildErrorResponse(std::span<const uint8_t> msg, uint8_t rcode, std::string* out);

// Rewrites the id of a message in place (forwarding maps ids). msg must hold at least 2 bytes.
inline void SetId(uint8_t* msg, uint16_t id) {
  msg[0] = static_cast<uint8_t>(id >> 8);
  msg[1] = static_cast<uint8_t>(id);
}

// "4.3.2.1.in-addr.arpa" -> "1.2.3.4"; false when the name is not a full IPv4 reverse name.
bool ReverseNameToIpv4(std::string_view name, std::string* ip);

// What a response says, far enough for the forwarder and for tests.
struct Response {
  uint16_t id = 0;
  uint16_t flags = 0;
  uint8_t rcode = 0;
  std::string qname;  // lowercased, as ReadName
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  std::vector<std::string> a;    // dotted IPv4 of the A records in the answer section, in order
  std::vector<std::string> aaaa;  // IPv6 of the AAAA records, in order
  std::vector<std::string> ptr;  // PTR targets in the answer section, lowercased, no trailing dot
  uint16_t ancount = 0;
};
// Parses a response (QR set, at most one question) including every answer record. InvalidArgument
// when malformed or truncated.
StatusOr<Response> ParseResponse(std::span<const uint8_t> msg);

// Cheap check for the forwarder: the message is a response with id `id` whose question is `q`'s
// (name compared case-insensitively, type, class). Does not look past the question.
bool ResponseMatches(std::span<const uint8_t> msg, uint16_t id, const Query& q,
                     std::string* scratch);

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace berth::network::dns
