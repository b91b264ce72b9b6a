#include "network/dns/message.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace berth::network::dns {
namespace {

Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed DNS message: ", Av(what)));
}

void PutU16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v & 0xff));
}

void PutU32(std::string* out, uint32_t v) {
  PutU16(out, static_cast<uint16_t>(v >> 16));
  PutU16(out, static_cast<uint16_t>(v & 0xffff));
}

void SetU16At(std::string* out, size_t at, uint16_t v) {
  (*out)[at] = static_cast<char>(v >> 8);
  (*out)[at + 1] = static_cast<char>(v & 0xff);
}

// Skips a resource record at *off (name, fixed part, rdata); fills the fixed fields.
Status SkipRecord(std::span<const uint8_t> msg, size_t* off, std::string* name, uint16_t* type,
                  uint16_t* klass, uint32_t* ttl, size_t* rdata_off, uint16_t* rdlen) {
  RETURN_IF_ERROR(ReadName(msg, off, name));
  if (msg.size() - *off < 10) return Malformed("record truncated");
  const uint8_t* p = msg.data() + *off;
  *type = ReadU16(p);
  *klass = ReadU16(p + 2);
  *ttl = static_cast<uint32_t>(ReadU16(p + 4)) << 16 | ReadU16(p + 6);
  *rdlen = ReadU16(p + 8);
  *off += 10;
  if (msg.size() - *off < *rdlen) return Malformed("rdata truncated");
  *rdata_off = *off;
  *off += *rdlen;
  return absl::OkStatus();
}

// Appends the EDNS OPT pseudo-record (RFC 6891): a responder must include one when the query had
// one.
void PutOpt(std::string* out, uint16_t udp_size) {
  out->push_back(0);  // root name
  PutU16(out, kTypeOpt);
  PutU16(out, udp_size);
  PutU32(out, 0);  // extended rcode, version 0, no flags
  PutU16(out, 0);  // no options
}
constexpr size_t kOptSize = 11;
constexpr uint16_t kOurUdpSize = 4096;

}  // namespace

Status ReadName(std::span<const uint8_t> msg, size_t* offset, std::string* out, bool* compressed) {
  out->clear();
  if (compressed) *compressed = false;
  size_t pos = *offset;
  size_t wire_len = 0;
  bool jumped = false;
  // Every pointer must go strictly backwards (RFC 1035 only allows pointers to prior occurrences),
  // which rules out loops without counting hops.
  size_t limit = pos;
  for (;;) {
    if (pos >= msg.size()) return Malformed("name runs past the end");
    uint8_t len = msg[pos];
    if ((len & 0xc0) == 0xc0) {
      if (pos + 1 >= msg.size()) return Malformed("pointer truncated");
      size_t target = static_cast<size_t>(len & 0x3f) << 8 | msg[pos + 1];
      if (!jumped) *offset = pos + 2;
      if (target >= limit) return Malformed("compression pointer does not point backwards");
      jumped = true;
      if (compressed) *compressed = true;
      limit = target;
      pos = target;
      continue;
    }
    if ((len & 0xc0) != 0) return Malformed("reserved label type");
    if (len == 0) {
      if (!jumped) *offset = pos + 1;
      return absl::OkStatus();
    }
    wire_len += len + 1;
    if (wire_len + 1 > 255) return Malformed("name longer than 255 octets");
    if (pos + 1 + len > msg.size()) return Malformed("label runs past the end");
    if (!out->empty()) out->push_back('.');
    for (size_t i = 0; i < len; ++i) {
      char c = static_cast<char>(msg[pos + 1 + i]);
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c == '.' || c == '\\') out->push_back('\\');  // see Query::name
      out->push_back(c);
    }
    pos += 1 + len;
    if (!jumped) limit = pos;
  }
}

Status ParseQuery(std::span<const uint8_t> msg, Query* q) {
  if (msg.size() < kHeaderSize) return Malformed("shorter than a header");
  const uint8_t* p = msg.data();
  q->id = ReadU16(p);
  q->flags = ReadU16(p + 2);
  if (q->flags & kFlagQr) return Malformed("QR set in a query");
  if (ReadU16(p + 4) != 1) return Malformed("QDCOUNT is not 1");
  size_t off = kHeaderSize;
  RETURN_IF_ERROR(ReadName(msg, &off, &q->name, &q->question_compressed));
  if (msg.size() - off < 4) return Malformed("question truncated");
  q->qtype = ReadU16(p + off);
  q->qclass = ReadU16(p + off + 2);
  off += 4;
  q->question_end = off;
  q->edns_udp_size = 0;
  // EDNS: look for an OPT record; answer/authority records of a query (there are normally none)
  // are skipped on the way. A broken additional section only costs the client its EDNS.
  uint16_t records = ReadU16(p + 6) + ReadU16(p + 8) + ReadU16(p + 10);
  std::string scratch;
  if (records > 0 && records < 16) {
    uint16_t type, klass, rdlen;
    uint32_t ttl;
    size_t rdata;
    for (uint16_t i = 0; i < records; ++i) {
      if (!SkipRecord(msg, &off, &scratch, &type, &klass, &ttl, &rdata, &rdlen).ok()) break;
      if (type == kTypeOpt) {
        q->edns_udp_size = klass < kMaxUdpPlain ? kMaxUdpPlain : klass;
        break;
      }
    }
  }
  return absl::OkStatus();
}

Status AppendName(std::string_view name, std::string* out) {
  const size_t start = out->size();
  auto fail = [&](const char* why) {
    out->resize(start);
    return absl::InvalidArgumentError(why);
  };
  // A trailing dot is the root's, unless escaped: in a\. the dot belongs to the label "a.".
  if (!name.empty() && name.back() == '.') {
    size_t k = name.size() - 1;
    while (k > 0 && name[k - 1] == '\\') --k;
    if ((name.size() - 1 - k) % 2 == 0) name.remove_suffix(1);
  }
  size_t wire = 1;
  size_t i = 0;
  while (i < name.size()) {
    const size_t len_at = out->size();
    out->push_back(0);
    size_t len = 0;
    for (; i < name.size() && name[i] != '.'; ++i) {
      if (name[i] == '\\' && ++i == name.size()) return fail("DNS name ends in a lone backslash");
      out->push_back(name[i]);
      ++len;
    }
    if (len == 0) return fail("empty label in DNS name");
    if (len > 63) return fail("DNS label longer than 63 octets");
    wire += len + 1;
    if (wire > 255) return fail("DNS name longer than 255 octets");
    (*out)[len_at] = static_cast<char>(len);
    if (i < name.size()) {
      ++i;  // the dot
      if (i == name.size()) return fail("empty label in DNS name");
    }
  }
  out->push_back(0);
  return absl::OkStatus();
}

Status BuildQuery(uint16_t id, std::string_view name, uint16_t qtype, std::string* out) {
  out->clear();
  PutU16(out, id);
  PutU16(out, kFlagRd);
  PutU16(out, 1);
  PutU16(out, 0);
  PutU16(out, 0);
  PutU16(out, 0);
  RETURN_IF_ERROR(AppendName(name, out));
  PutU16(out, qtype);
  PutU16(out, kClassIn);
  return absl::OkStatus();
}

void BuildResponseHead(std::span<const uint8_t> query, const Query& q, uint8_t rcode,
                       uint16_t ancount, std::string* out) {
  out->clear();
  PutU16(out, q.id);
  // Opcode and RD come from the query; RA because we do recurse (by forwarding). AA stays clear:
  // Docker's resolver does not set it either, and busybox nslookup prints "Non-authoritative
  // answer" for Docker's answers (api-traces/c2-nslookup-c1.md).
  uint16_t flags =
      static_cast<uint16_t>(kFlagQr | (q.flags & 0x7800) | (q.flags & kFlagRd) | kFlagRa | rcode);
  PutU16(out, flags);
  PutU16(out, 1);
  PutU16(out, ancount);
  PutU16(out, 0);
  PutU16(out, q.edns_udp_size ? 1 : 0);
  if (!q.question_compressed) {
    out->append(reinterpret_cast<const char*>(query.data()) + kHeaderSize,
                q.question_end - kHeaderSize);
  } else {
    // A pointer in the question would dangle in our message; write the name out (lowercased).
    // ReadName's text maps back to the same labels (dots inside a label escaped), so it fits.
    BERTH_CHECK(AppendName(q.name, out).ok());
    PutU16(out, q.qtype);
    PutU16(out, q.qclass);
  }
}

namespace {

// A or AAAA answers: one record per address (Addr holds it in network byte order), pointing at
// the question's name, starting at `rotate`; TC where the next record would not fit.
template <class Addr>
void BuildAddressResponse(std::span<const uint8_t> query, const Query& q,
                          std::span<const Addr> addrs, uint16_t type, size_t rotate,
                          size_t max_size, std::string* out) {
  BuildResponseHead(query, q, kRcodeNoError, 0, out);
  // pointer 2 + type 2 + class 2 + ttl 4 + rdlen 2 + the address
  constexpr size_t kRecord = 12 + sizeof(Addr);
  size_t room = max_size - (q.edns_udp_size ? kOptSize : 0);
  size_t n = addrs.size();
  uint16_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    if (out->size() + kRecord > room) {
      SetU16At(out, 2, ReadU16(reinterpret_cast<const uint8_t*>(out->data()) + 2) | kFlagTc);
      break;
    }
    PutU16(out, 0xc000 | kHeaderSize);  // the question's name, always at offset 12
    PutU16(out, type);
    PutU16(out, kClassIn);
    PutU32(out, kAnswerTtl);
    PutU16(out, sizeof(Addr));
    const Addr& a = addrs[(rotate + i) % n];
    out->append(reinterpret_cast<const char*>(&a), sizeof(Addr));
    ++count;
  }
  SetU16At(out, 6, count);
  if (q.edns_udp_size) PutOpt(out, kOurUdpSize);
}

}  // namespace

void BuildAResponse(std::span<const uint8_t> query, const Query& q, std::span<const uint32_t> addrs,
                    size_t rotate, size_t max_size, std::string* out) {
  BuildAddressResponse(query, q, addrs, kTypeA, rotate, max_size, out);
}

void BuildAaaaResponse(std::span<const uint8_t> query, const Query& q, std::span<const Ipv6Bytes> addrs,
                       size_t rotate, size_t max_size, std::string* out) {
  BuildAddressResponse(query, q, addrs, kTypeAaaa, rotate, max_size, out);
}

Status BuildPtrResponse(std::span<const uint8_t> query, const Query& q,
                        const std::vector<std::string>& names, size_t max_size, std::string* out) {
  BuildResponseHead(query, q, kRcodeNoError, 0, out);
  size_t room = max_size - (q.edns_udp_size ? kOptSize : 0);
  uint16_t count = 0;
  for (const std::string& name : names) {
    size_t start = out->size();
    PutU16(out, 0xc000 | kHeaderSize);
    PutU16(out, kTypePtr);
    PutU16(out, kClassIn);
    PutU32(out, kAnswerTtl);
    PutU16(out, 0);
    Status s = AppendName(name, out);
    if (!s.ok()) {
      out->resize(start);
      return Annotate(s, name);
    }
    if (out->size() > room) {
      out->resize(start);
      SetU16At(out, 2, ReadU16(reinterpret_cast<const uint8_t*>(out->data()) + 2) | kFlagTc);
      break;
    }
    SetU16At(out, start + 10, static_cast<uint16_t>(out->size() - start - 12));
    ++count;
  }
  SetU16At(out, 6, count);
  if (q.edns_udp_size) PutOpt(out, kOurUdpSize);
  return absl::OkStatus();
}

void BuildEmptyResponse(std::span<const uint8_t> query, const Query& q, uint8_t rcode,
                        std::string* out) {
  BuildResponseHead(query, q, rcode, 0, out);
  if (q.edns_udp_size) PutOpt(out, kOurUdpSize);
}

void BuildErrorResponse(std::span<const uint8_t> msg, uint8_t rcode, std::string* out) {
  out->clear();
  if (msg.size() < 2) return;
  PutU16(out, ReadU16(msg.data()));
  uint16_t opcode = msg.size() >= 4 ? (ReadU16(msg.data() + 2) & 0x7800) : 0;
  PutU16(out, static_cast<uint16_t>(kFlagQr | opcode | kFlagRa | rcode));
  for (int i = 0; i < 4; ++i) PutU16(out, 0);
}

bool ReverseNameToIpv4(std::string_view name, std::string* ip) {
  constexpr std::string_view kSuffix = ".in-addr.arpa";
  if (name.size() <= kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix)
    return false;
  name.remove_suffix(kSuffix.size());
  std::string_view octets[4];
  for (int i = 0; i < 4; ++i) {
    size_t dot = name.find('.');
    if ((i < 3) != (dot != std::string_view::npos)) return false;
    octets[i] = name.substr(0, dot);
    if (octets[i].empty() || octets[i].size() > 3) return false;
    for (char c : octets[i]) {
      if (c < '0' || c > '9') return false;
    }
    if (octets[i].size() > 1 && octets[i][0] == '0') return false;
    if (std::stoi(std::string(octets[i])) > 255) return false;
    name = i < 3 ? name.substr(dot + 1) : std::string_view();
  }
  *ip = absl::StrCat(Av(octets[3]), ".", Av(octets[2]), ".", Av(octets[1]), ".", Av(octets[0]));
  return true;
}

StatusOr<Response> ParseResponse(std::span<const uint8_t> msg) {
  if (msg.size() < kHeaderSize) return Malformed("shorter than a header");
  const uint8_t* p = msg.data();
  Response r;
  r.id = ReadU16(p);
  r.flags = ReadU16(p + 2);
  r.rcode = r.flags & 0xf;
  if (!(r.flags & kFlagQr)) return Malformed("QR clear in a response");
  uint16_t qd = ReadU16(p + 4);
  r.ancount = ReadU16(p + 6);
  if (qd > 1) return Malformed("more than one question");
  size_t off = kHeaderSize;
  if (qd == 1) {
    RETURN_IF_ERROR(ReadName(msg, &off, &r.qname));
    if (msg.size() - off < 4) return Malformed("question truncated");
    r.qtype = ReadU16(p + off);
    r.qclass = ReadU16(p + off + 2);
    off += 4;
  }
  std::string name;
  for (uint16_t i = 0; i < r.ancount; ++i) {
    uint16_t type, klass, rdlen;
    uint32_t ttl;
    size_t rdata;
    RETURN_IF_ERROR(SkipRecord(msg, &off, &name, &type, &klass, &ttl, &rdata, &rdlen));
    if (type == kTypeA && klass == kClassIn) {
      if (rdlen != 4) return Malformed("A record with rdlength != 4");
      char buf[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, p + rdata, buf, sizeof buf);
      r.a.emplace_back(buf);
    } else if (type == kTypeAaaa && klass == kClassIn) {
      if (rdlen != 16) return Malformed("AAAA record with rdlength != 16");
      char buf[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, p + rdata, buf, sizeof buf);
      r.aaaa.emplace_back(buf);
    } else if (type == kTypePtr) {
      size_t t = rdata;
      std::string target;
      RETURN_IF_ERROR(ReadName(msg, &t, &target));
      if (t != rdata + rdlen) return Malformed("PTR rdata length mismatch");
      r.ptr.push_back(std::move(target));
    }
  }
  return r;
}

bool ResponseMatches(std::span<const uint8_t> msg, uint16_t id, const Query& q,
                     std::string* scratch) {
  if (msg.size() < kHeaderSize) return false;
  const uint8_t* p = msg.data();
  if (ReadU16(p) != id || !(ReadU16(p + 2) & kFlagQr)) return false;
  uint16_t qd = ReadU16(p + 4);
  // Some servers answer FORMERR/NOTIMP/REFUSED without echoing the question; accept those by id.
  if (qd == 0) return (ReadU16(p + 2) & 0xf) != kRcodeNoError;
  if (qd != 1) return false;
  size_t off = kHeaderSize;
  if (!ReadName(msg, &off, scratch).ok() || *scratch != q.name) return false;
  if (msg.size() - off < 4) return false;
  return ReadU16(p + off) == q.qtype && ReadU16(p + off + 2) == q.qclass;
}

}  // namespace berth::network::dns
