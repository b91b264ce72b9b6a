// DNS wire format helpers of the embedded resolver: parse/build round trips, compression on input,
// and rejection of truncated or malformed messages.

#include <arpa/inet.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "network/dns/message.h"
#include "network/dns/server.h"

namespace berth::network::dns {
namespace {

std::string Hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

uint32_t Ip(const char* s) {
  in_addr a;
  EXPECT_EQ(inet_pton(AF_INET, s, &a), 1);
  return a.s_addr;
}

TEST(DnsMessage, QueryRoundTrip) {
  std::string wire;
  ASSERT_TRUE(BuildQuery(0x1234, "C1.TestNet", kTypeA, &wire).ok());
  // Header: id 1234, RD, one question; then 2"C1" 7"TestNet" 0, type 1, class 1.
  EXPECT_EQ(Hex(wire),
            "123401000001000000000000"
            "024331"
            "0754657374"
            "4e6574"
            "00"
            "0001"
            "0001");
  Query q;
  ASSERT_TRUE(ParseQuery(AsBytes(wire), &q).ok());
  EXPECT_EQ(q.id, 0x1234);
  EXPECT_EQ(q.name, "c1.testnet");  // lowercased, no trailing dot
  EXPECT_EQ(q.qtype, kTypeA);
  EXPECT_EQ(q.qclass, kClassIn);
  EXPECT_EQ(q.question_end, wire.size());
  EXPECT_FALSE(q.question_compressed);
  EXPECT_EQ(q.edns_udp_size, 0);
  EXPECT_TRUE(q.flags & kFlagRd);
}

TEST(DnsMessage, AAnswerRoundTripRotatesAndEchoesQuestionCase) {
  std::string wire;
  ASSERT_TRUE(BuildQuery(7, "Web.Net", kTypeA, &wire).ok());
  Query q;
  ASSERT_TRUE(ParseQuery(AsBytes(wire), &q).ok());
  std::vector<uint32_t> addrs = {Ip("172.18.0.2"), Ip("172.18.0.3"), Ip("172.18.0.4")};
  std::string out;
  BuildAResponse(AsBytes(wire), q, addrs, 1, kMaxUdpPlain, &out);
  // The question is echoed byte for byte (case kept, for 0x20-randomising clients).
  EXPECT_EQ(out.substr(12, wire.size() - 12), wire.substr(12));
  auto r = ParseResponse(AsBytes(out));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, 7);
  EXPECT_EQ(r->rcode, kRcodeNoError);
  EXPECT_TRUE(r->flags & kFlagQr);
  EXPECT_TRUE(r->flags & kFlagRd);
  EXPECT_TRUE(r->flags & kFlagRa);
  EXPECT_FALSE(r->flags & kFlagAa);  // as Docker: busybox prints "Non-authoritative answer"
  EXPECT_FALSE(r->flags & kFlagTc);
  EXPECT_EQ(r->qname, "web.net");
  EXPECT_EQ(r->qtype, kTypeA);
  EXPECT_EQ(r->a, (std::vector<std::string>{"172.18.0.3", "172.18.0.4", "172.18.0.2"}));
  // Each answer is a pointer to offset 12 and TTL 600.
  size_t first = wire.size();
  EXPECT_EQ(static_cast<uint8_t>(out[first]), 0xc0);
  EXPECT_EQ(static_cast<uint8_t>(out[first + 1]), 12);
  EXPECT_EQ(ReadU16(reinterpret_cast<const uint8_t*>(out.data()) + first + 6), 0);
  EXPECT_EQ(ReadU16(reinterpret_cast<const uint8_t*>(out.data()) + first + 8), kAnswerTtl);

  BuildAResponse(AsBytes(wire), q, addrs, 5, kMaxUdpPlain, &out);  // rotate wraps: 5 % 3 = 2
  r = ParseResponse(AsBytes(out));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->a, (std::vector<std::string>{"172.18.0.4", "172.18.0.2", "172.18.0.3"}));
}

TEST(DnsMessage, AaaaAnswerRoundTripRotates) {
  std::string wire;
  ASSERT_TRUE(BuildQuery(8, "b6", kTypeAaaa, &wire).ok());
  Query q;
  ASSERT_TRUE(ParseQuery(AsBytes(wire), &q).ok());
  std::vector<Ipv6Bytes> addrs(2);
  ASSERT_EQ(inet_pton(AF_INET6, "fd00:30::77", addrs[0].data()), 1);
  ASSERT_EQ(inet_pton(AF_INET6, "fd00:31::2", addrs[1].data()), 1);
  std::string out;
  BuildAaaaResponse(AsBytes(wire), q, addrs, 1, kMaxUdpPlain, &out);
  auto r = ParseResponse(AsBytes(out));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, 8);
  EXPECT_EQ(r->rcode, kRcodeNoError);
  EXPECT_EQ(r->qtype, kTypeAaaa);
  EXPECT_EQ(r->ancount, 2);
  EXPECT_TRUE(r->a.empty());
  EXPECT_EQ(r->aaaa, (std::vector<std::string>{"fd00:31::2", "fd00:30::77"}));
  // A record is 28 bytes: a pointer to the question, type 28, class IN, TTL, rdlength 16.
  size_t first = wire.size();
  EXPECT_EQ(out.size(), first + 2 * 28);
  EXPECT_EQ(ReadU16(reinterpret_cast<const uint8_t*>(out.data()) + first + 2), kTypeAaaa);
  EXPECT_EQ(ReadU16(reinterpret_cast<const uint8_t*>(out.data()) + first + 10), 16);
}

TEST(DnsMessage, TooManyAaaaForUdpSetTruncated) {
  std::string wire;
  ASSERT_TRUE(BuildQuery(9, "big6", kTypeAaaa, &wire).ok());
  Query q;
  ASSERT_TRUE(ParseQuery(AsBytes(wire), &q).ok());
  std::vector<Ipv6Bytes> addrs(40);
  for (size_t i = 0; i < addrs.size(); ++i) addrs[i][15] = static_cast<uint8_t>(i);
  std::string out;
  BuildAaaaResponse(AsBytes(wire), q, addrs, 0, kMaxUdpPlain, &out);
  EXPECT_LE(out.size(), kMaxUdpPlain);
  auto r = ParseResponse(AsBytes(out));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->flags & kFlagTc);
  EXPECT_EQ(r->aaaa.size(), (kMaxUdpPlain - wire.size()) / 28);
}

TEST(DnsMessage, TooManyAddressesForUdpSetTruncated) {
  std::string wire;
  ASSERT_TRUE(BuildQuery(9, "big", kTypeA, &wire).ok());
  Query q;
  ASSERT_TRUE(ParseQuery(AsBytes(wire), &q).ok());
  std::vector<uint32_t> addrs(100, Ip("10.0.0.1"));
  std::string out;
  BuildAResponse(AsBytes(wire), q, addrs, 0, kMaxUdpPlain, &out);
  EXPECT_LE(out.size(), kMaxUdpPlain);
  auto r = ParseResponse(AsBytes(out));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->flags & kFlagTc);
  EXPECT_EQ(r->a.size(), (kMaxUdpPlain - wire.size()) / 16);
  BuildAResponse(AsBytes(wire), q, addrs, 0, 65535, &out);  // TCP: all of them
  r = ParseResponse(AsBytes(out));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->flags & kFlagTc);
  EXPECT_EQ(r->a.size(), 100u);
}

TEST(DnsMessage, EmptyResponses) {
  std::string wire;
  ASSERT_TRUE(BuildQuery(0xbeef, "nonexistent", kTypeA, &wire).ok());
  Query q;
  ASSERT_TRUE(ParseQuery(AsBytes(wire), &q).ok());
  for (uint8_t rcode : {kRcodeNxDomain, kRcodeServFail, kRcodeNoError}) {
    std::string out;
    BuildEmptyResponse(AsBytes(wire), q, rcode, &out);
    auto r = ParseResponse(AsBytes(out));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->id, 0xbeef);
    EXPECT_EQ(r->rcode, rcode);
    EXPECT_EQ(r->ancount, 0);
    EXPECT_TRUE(r->a.empty());
    EXPECT_EQ(r->qname, "nonexistent");
    EXPECT_EQ(out.size(), wire.size());  // header + the same question, nothing else
  }
}

TEST(DnsMessage, EdnsQueryGetsOptAndLargerLimit) {
  std::string wire;
  ASSERT_TRUE(BuildQuery(1, "x", kTypeA, &wire).ok());
  wire[11] = 1;  // ARCOUNT = 1
  // OPT: root name, type 41, udp size 1232, ttl 0, rdlen 0
  wire += std::string("\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 11);
  Query q;
  ASSERT_TRUE(ParseQuery(AsBytes(wire), &q).ok());
  EXPECT_EQ(q.edns_udp_size, 1232);
  std::string out;
  BuildEmptyResponse(AsBytes(wire), q, kRcodeNoError, &out);
  EXPECT_EQ(ReadU16(reinterpret_cast<const uint8_t*>(out.data()) + 10), 1);  // ARCOUNT: our OPT
  EXPECT_EQ(out.substr(out.size() - 11, 3), std::string("\x00\x00\x29", 3));
}

TEST(DnsMessage, CompressionPointersFollowedLoopsRejected) {
  // Nothing but the header precedes a query's question, so pointers are exercised on a hand-made
  // buffer: "example.com" at 12, "www" + pointer to it, "ftp" + pointer to that.
  std::string buf(12, '\0');
  buf += std::string(
      "\x07"
      "example"
      "\x03"
      "com"
      "\x00",
      13);  // at 12
  size_t www = buf.size();
  buf += std::string(
      "\x03"
      "WWW"
      "\xc0\x0c",
      6);  // www + pointer to 12
  size_t after = buf.size();
  buf += std::string(
             "\x03"
             "ftp"
             "\xc0",
             5) +
         static_cast<char>(www);  // ftp -> www -> example.com
  std::string name;
  size_t off = www;
  bool compressed = false;
  ASSERT_TRUE(ReadName(AsBytes(buf), &off, &name, &compressed).ok());
  EXPECT_EQ(name, "www.example.com");
  EXPECT_TRUE(compressed);
  EXPECT_EQ(off, after);  // past the pointer, not past the target
  off = after;
  ASSERT_TRUE(ReadName(AsBytes(buf), &off, &name).ok());
  EXPECT_EQ(name, "ftp.www.example.com");
  EXPECT_EQ(off, buf.size());

  // A question that points at itself (a loop) is rejected.
  std::string bad;
  ASSERT_TRUE(BuildQuery(3, "a", kTypeA, &bad).ok());
  bad.replace(12, 3, std::string("\xc0\x0c", 2));  // points at itself
  Query q;
  EXPECT_FALSE(ParseQuery(AsBytes(bad), &q).ok());
}

// A dot inside a label is not a label boundary: the text form escapes it ("\."), so that one
// label "c1.testnet" is not answered as the name c1.testnet and every name writes back to the
// labels it was read from. Before, a compressed question whose label held a dot (".a" + a
// pointer into the header) made BuildResponseHead's AppendName fail its BERTH_CHECK and abort
// berthd on one datagram. Found by test/fuzz/dns_fuzz.cc (corpus/dns/regression-*).
TEST(DnsMessage, DotsInsideLabelsAreEscaped) {
  const std::string hdr("\x12\x34\x08\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);  // opcode 1
  const std::string tail("\x00\x01\x00\x01", 4);
  // One label "c1.testnet" (and a backslash in a second one).
  std::string one = hdr + std::string("\x0a" "c1.testnet" "\x02" "a\\" "\x00", 15) + tail;
  Query q;
  ASSERT_TRUE(ParseQuery(AsBytes(one), &q).ok());
  EXPECT_EQ(q.name, "c1\\.testnet.a\\\\");
  std::string again;
  ASSERT_TRUE(BuildQuery(q.id, q.name, kTypeA, &again).ok());
  EXPECT_EQ(again.substr(12), one.substr(12));  // the same labels

  // The question ".a" + a pointer to offset 4 (QDCOUNT's high byte, 0: the root).
  std::string compressed = hdr + std::string("\x02.a\xc0\x04", 5) + tail;
  ASSERT_TRUE(ParseQuery(AsBytes(compressed), &q).ok());
  EXPECT_TRUE(q.question_compressed);
  EXPECT_EQ(q.name, "\\.a");
  std::string out;
  BuildEmptyResponse(AsBytes(compressed), q, kRcodeNotImp, &out);  // the server's answer to it
  auto r = ParseResponse(AsBytes(out));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->qname, "\\.a");
  EXPECT_EQ(out.substr(12, 4), std::string("\x02.a\x00", 4));  // written out, uncompressed

  std::string wire;
  EXPECT_TRUE(AppendName("a\\.", &wire).ok());  // an escaped trailing dot is part of the label
  EXPECT_EQ(wire, std::string("\x02" "a." "\x00", 4));
  wire.clear();
  EXPECT_TRUE(AppendName("a\\\\.", &wire).ok());  // an escaped backslash, then the root's dot
  EXPECT_EQ(wire, std::string("\x02" "a\\" "\x00", 4));
  wire = "kept";
  EXPECT_FALSE(AppendName("a\\", &wire).ok());
  EXPECT_FALSE(AppendName(".a", &wire).ok());
  EXPECT_FALSE(AppendName("a..b", &wire).ok());
  EXPECT_EQ(wire, "kept");  // left as it was
}

TEST(DnsMessage, ResponseWithCompressedAnswersParses) {
  // What an upstream sends: the answers' names are pointers to the question; a CNAME chain
  // ends in A records whose owner name is a pointer into the CNAME's rdata.
  std::string wire;
  ASSERT_TRUE(BuildQuery(0x4242, "www.example.com", kTypeA, &wire).ok());
  std::string r = wire;
  r[2] = static_cast<char>(0x81);  // QR RD
  r[3] = static_cast<char>(0x80);  // RA
  r[7] = 2;                        // ANCOUNT 2
  size_t cname_rdata = r.size() + 12;
  r += std::string("\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x06", 12);  // CNAME, rdlen 6
  r += std::string(
      "\x03"
      "web"
      "\xc0\x10",
      6);  // web.example.com
  r += std::string("\xc0", 1) + static_cast<char>(cname_rdata);
  r += std::string("\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x09\x08\x07", 14);
  auto p = ParseResponse(AsBytes(r));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->qname, "www.example.com");
  EXPECT_EQ(p->a, std::vector<std::string>{"10.9.8.7"});
  Query q;
  ASSERT_TRUE(ParseQuery(AsBytes(wire), &q).ok());
  std::string scratch;
  EXPECT_TRUE(ResponseMatches(AsBytes(r), 0x4242, q, &scratch));
  EXPECT_FALSE(ResponseMatches(AsBytes(r), 0x4243, q, &scratch));  // wrong id
  Query other;
  std::string owire;
  ASSERT_TRUE(BuildQuery(0x4242, "www.example.org", kTypeA, &owire).ok());
  ASSERT_TRUE(ParseQuery(AsBytes(owire), &other).ok());
  EXPECT_FALSE(ResponseMatches(AsBytes(r), 0x4242, other, &scratch));  // wrong question
}

TEST(DnsMessage, TruncatedAndMalformedQueriesRejected) {
  std::string good;
  ASSERT_TRUE(BuildQuery(5, "c1.net", kTypeA, &good).ok());
  Query q;
  // Every strict prefix is rejected.
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(ParseQuery(AsBytes(good.substr(0, n)), &q).ok()) << "prefix of " << n;
  }
  std::string m = good;
  m[2] = static_cast<char>(0x81);  // QR: a response is not a query
  EXPECT_FALSE(ParseQuery(AsBytes(m), &q).ok());
  m = good;
  m[5] = 2;  // QDCOUNT 2
  EXPECT_FALSE(ParseQuery(AsBytes(m), &q).ok());
  m = good;
  m[5] = 0;  // QDCOUNT 0
  EXPECT_FALSE(ParseQuery(AsBytes(m), &q).ok());
  m = good;
  m[12] = 0x40;  // reserved label type
  EXPECT_FALSE(ParseQuery(AsBytes(m), &q).ok());
  m = good;
  m[12] = 60;  // label longer than the message
  EXPECT_FALSE(ParseQuery(AsBytes(m), &q).ok());
  m = good;
  m.replace(12, 2, std::string("\xc0\x20", 2));  // forward pointer
  EXPECT_FALSE(ParseQuery(AsBytes(m), &q).ok());
  // A name over 255 octets.
  std::string longq(12, '\0');
  longq[5] = 1;
  for (int i = 0; i < 5; ++i) longq += std::string(1, 60) + std::string(60, 'a');
  longq += std::string("\x00\x00\x01\x00\x01", 5);
  EXPECT_FALSE(ParseQuery(AsBytes(longq), &q).ok());
  std::string out;
  EXPECT_FALSE(BuildQuery(1, std::string(64, 'a'), kTypeA, &out).ok());  // label > 63
  EXPECT_FALSE(BuildQuery(1, "a..b", kTypeA, &out).ok());
}

TEST(DnsMessage, ErrorResponseForGarbage) {
  std::string garbage("\xab\xcd\x00\x00\x00\x05zz", 8);
  std::string out;
  BuildErrorResponse(AsBytes(garbage), kRcodeFormErr, &out);
  ASSERT_EQ(out.size(), 12u);
  auto r = ParseResponse(AsBytes(out));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->id, 0xabcd);
  EXPECT_EQ(r->rcode, kRcodeFormErr);
  BuildErrorResponse(AsBytes(std::string("\x01", 1)), kRcodeFormErr, &out);
  EXPECT_TRUE(out.empty());
}

TEST(DnsMessage, PtrResponseAndReverseNames) {
  std::string ip;
  EXPECT_TRUE(ReverseNameToIpv4("2.0.18.172.in-addr.arpa", &ip));
  EXPECT_EQ(ip, "172.18.0.2");
  EXPECT_FALSE(ReverseNameToIpv4("0.18.172.in-addr.arpa", &ip));
  EXPECT_FALSE(ReverseNameToIpv4("256.0.18.172.in-addr.arpa", &ip));
  EXPECT_FALSE(ReverseNameToIpv4("02.0.18.172.in-addr.arpa", &ip));
  EXPECT_FALSE(ReverseNameToIpv4("c1.net", &ip));

  std::string wire;
  ASSERT_TRUE(BuildQuery(11, "2.0.18.172.in-addr.arpa", kTypePtr, &wire).ok());
  Query q;
  ASSERT_TRUE(ParseQuery(AsBytes(wire), &q).ok());
  std::string out;
  ASSERT_TRUE(BuildPtrResponse(AsBytes(wire), q, {"c1.testnet"}, kMaxUdpPlain, &out).ok());
  auto r = ParseResponse(AsBytes(out));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ptr, std::vector<std::string>{"c1.testnet"});
}

TEST(DnsServer, UpstreamsFromResolvConf) {
  std::string conf =
      "# generated\n"
      "search example.com\n"
      "nameserver 127.0.0.53\n"
      "nameserver 127.0.0.11\n"
      "  nameserver\t10.0.0.2   # office\n"
      "nameserver 2001:db8::1\n"
      "nameserver fe80::1%lo\n"
      "nameserver not-an-ip\n"
      "nameserver 1.2.3.4:53\n"
      "options ndots:0\n";
  EXPECT_EQ(Server::UpstreamsFromResolvConf(conf),
            (std::vector<std::string>{"127.0.0.53", "10.0.0.2", "2001:db8::1", "fe80::1%lo"}));
  Server s({"127.0.0.1:5353", "[::1]:53", "::1", "10.0.0.1", "bogus", "1.2.3.4:99999"});
  EXPECT_EQ(s.upstream_count(), 4u);
}

// A sandbox's own upstreams go through the constructor's parser before anything is reserved or
// bound, so this needs no namespace: a path that does not exist shows how far AddSandbox got.
TEST(DnsServer, SandboxUpstreamsParsedFirst) {
  Server s({});
  const std::string nowhere = "/nonexistent/bt-dns-unit";
  auto none = [](const std::string&) { return std::vector<std::string>{}; };
  // Every form the constructor takes passes; the namespace is what fails.
  EXPECT_EQ(s.AddSandbox("sb", nowhere, none, nullptr,
                         {"127.0.0.1:5353", "[::1]:53", "::1", "10.0.0.1", "fe80::1%lo"})
                .code(),
            absl::StatusCode::kNotFound);
  Status st = s.AddSandbox("sb", nowhere, none, nullptr, {"10.0.0.1", "bogus"});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_NE(st.message().find("\"bogus\""), std::string_view::npos) << st;
  // The refused call held nothing: the id is not taken.
  EXPECT_EQ(s.AddSandbox("sb", nowhere, none).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace berth::network::dns
