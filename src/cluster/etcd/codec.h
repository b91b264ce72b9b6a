#pragma once
// The etcd client's JSON side, as pure functions (the unit tests call them directly): the
// requests of the v3 JSON gateway and the decoding of its answers and errors.
//
// What the gateway (grpc-gateway with OrigName JSON) does to the gRPC messages: int64 and
// uint64 fields are JSON strings ("revision":"5"); fields at their zero value are left out (a
// PUT event has no "type", a lease that has expired answers a keep-alive without "TTL"); bytes
// are base64; enums are their names ("DELETE", "MOD", "EQUAL"). An error is an HTTP 4xx/5xx
// with {"error":"...","message":"...","code":<gRPC code>}; inside a stream (a watch) it is
// {"error":{"grpc_code":N,"http_code":N,"message":"..."}}.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/etcd/client.h"
#include "common/status.h"
#include "nlohmann/json.hpp"

namespace berth::cluster::etcd::codec {

std::string B64(std::string_view bytes);

// Request bodies.
nlohmann::json RangeRequest(std::string_view key, const GetOptions& opts);
nlohmann::json PutRequest(std::string_view key, std::string_view value, int64_t lease);
nlohmann::json DeleteRequest(std::string_view key, bool prefix);
nlohmann::json TxnRequest(const std::vector<Compare>& compares, const std::vector<Op>& success,
                          const std::vector<Op>& failure);
nlohmann::json WatchCreateRequest(std::string_view prefix, int64_t start_revision);

// Response bodies. A malformed answer is INTERNAL ("etcd answered ...").
StatusOr<nlohmann::json> ParseBody(std::string_view body);
// An int64/uint64 field: a JSON string or number; 0 when absent.
int64_t Int(const nlohmann::json& j, const char* field);
uint64_t Uint(const nlohmann::json& j, const char* field);
ResponseHeader DecodeHeader(const nlohmann::json& j);
StatusOr<KeyValue> DecodeKeyValue(const nlohmann::json& j);
StatusOr<RangeResult> DecodeRange(const nlohmann::json& j);
StatusOr<TxnResult> DecodeTxn(const nlohmann::json& j);
MemberInfo DecodeMember(const nlohmann::json& j);
StatusOr<std::vector<MemberInfo>> DecodeMembers(const nlohmann::json& j);
MemberStatus DecodeStatus(const nlohmann::json& j);

// One message of a watch stream, as the watch loop needs it.
struct WatchMessage {
  ResponseHeader header;
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;
  std::string cancel_reason;
  std::vector<WatchEvent> events;
  Status error;  // an {"error":{...}} message of the stream
};
StatusOr<WatchMessage> DecodeWatchMessage(std::string_view line);

// An error answer (HTTP status and body) as a Status whose message names the operation
// ("etcd put /berth/x: etcdserver: no leader"). gRPC codes carry over as absl codes (they are
// the same numbers), except OUT_OF_RANGE ("required revision has been compacted"), which becomes
// FAILED_PRECONDITION. Without a gRPC code the HTTP status decides.
Status MapError(int http_status, std::string_view body, std::string_view op);
// A gRPC code and message (from either error shape) as a Status.
Status FromGrpc(int grpc_code, std::string_view message, std::string_view op);

}  // namespace berth::cluster::etcd::codec
