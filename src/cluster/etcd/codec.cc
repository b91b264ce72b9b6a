#include "cluster/etcd/codec.h"

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace berth::cluster::etcd::codec {

using nlohmann::json;

namespace {

std::string I64(int64_t v) { return std::to_string(v); }

// The range_end of a request: every key under key, or just key.
void SetRange(json& req, std::string_view key, bool prefix) {
  // etcd refuses an empty key; "\0" to "\0" is every key.
  req["key"] = B64(prefix && key.empty() ? std::string_view("\0", 1) : key);
  if (prefix) req["range_end"] = B64(PrefixEnd(key));
}

json OpJson(const Op& op) {
  switch (op.kind) {
    case Op::Kind::kPut:
      return json{{"request_put", PutRequest(op.key, op.value, op.lease)}};
    case Op::Kind::kDelete:
      return json{{"request_delete_range", DeleteRequest(op.key, op.prefix)}};
    case Op::Kind::kRange: {
      GetOptions g;
      g.prefix = op.prefix;
      return json{{"request_range", RangeRequest(op.key, g)}};
    }
  }
  return json::object();
}

const char* TargetName(Compare::Target t) {
  switch (t) {
    case Compare::Target::kVersion:
      return "VERSION";
    case Compare::Target::kCreateRevision:
      return "CREATE";
    case Compare::Target::kModRevision:
      return "MOD";
    case Compare::Target::kValue:
      return "VALUE";
    case Compare::Target::kLease:
      return "LEASE";
  }
  return "MOD";
}

const char* ResultName(Compare::Result r) {
  switch (r) {
    case Compare::Result::kEqual:
      return "EQUAL";
    case Compare::Result::kGreater:
      return "GREATER";
    case Compare::Result::kLess:
      return "LESS";
    case Compare::Result::kNotEqual:
      return "NOT_EQUAL";
  }
  return "EQUAL";
}

StatusOr<std::string> Unb64(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return std::string();
  if (!it->is_string())
    return absl::InternalError(absl::StrCat("etcd answered a non-string \"", field, "\""));
  std::string out;
  if (!absl::Base64Unescape(it->get<std::string>(), &out))
    return absl::InternalError(absl::StrCat("etcd answered bad base64 in \"", field, "\""));
  return out;
}

std::vector<std::string> Strings(const json& j, const char* field) {
  std::vector<std::string> out;
  auto it = j.find(field);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

}  // namespace

std::string B64(std::string_view bytes) { return absl::Base64Escape(Av(bytes)); }

json RangeRequest(std::string_view key, const GetOptions& opts) {
  json req = json::object();
  SetRange(req, key, opts.prefix);
  if (opts.revision > 0) req["revision"] = I64(opts.revision);
  if (opts.limit > 0) req["limit"] = I64(opts.limit);
  if (opts.keys_only) req["keys_only"] = true;
  if (opts.serializable) req["serializable"] = true;
  return req;
}

json PutRequest(std::string_view key, std::string_view value, int64_t lease) {
  json req = {{"key", B64(key)}, {"value", B64(value)}};
  if (lease != 0) req["lease"] = I64(lease);
  return req;
}

json DeleteRequest(std::string_view key, bool prefix) {
  json req = json::object();
  SetRange(req, key, prefix);
  return req;
}

json TxnRequest(const std::vector<Compare>& compares, const std::vector<Op>& success,
                const std::vector<Op>& failure) {
  json cmp = json::array();
  for (const Compare& c : compares) {
    json e = {
        {"key", B64(c.key)}, {"target", TargetName(c.target)}, {"result", ResultName(c.result)}};
    switch (c.target) {
      case Compare::Target::kVersion:
        e["version"] = I64(c.number);
        break;
      case Compare::Target::kCreateRevision:
        e["create_revision"] = I64(c.number);
        break;
      case Compare::Target::kModRevision:
        e["mod_revision"] = I64(c.number);
        break;
      case Compare::Target::kValue:
        e["value"] = B64(c.value);
        break;
      case Compare::Target::kLease:
        e["lease"] = I64(c.number);
        break;
    }
    cmp.push_back(std::move(e));
  }
  json ok = json::array(), ko = json::array();
  for (const Op& op : success) ok.push_back(OpJson(op));
  for (const Op& op : failure) ko.push_back(OpJson(op));
  return json{{"compare", cmp}, {"success", ok}, {"failure", ko}};
}

json WatchCreateRequest(std::string_view prefix, int64_t start_revision) {
  json create = json::object();
  SetRange(create, prefix, true);
  if (start_revision > 0) create["start_revision"] = I64(start_revision);
  return json{{"create_request", create}};
}

StatusOr<json> ParseBody(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    std::string shown(body.substr(0, 200));
    return absl::InternalError(
        absl::StrCat("etcd answered something that is not a JSON object: ", shown));
  }
  return j;
}

int64_t Int(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) return std::strtoll(it->get_ref<const std::string&>().c_str(), nullptr, 10);
  return 0;
}

uint64_t Uint(const json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer()) return static_cast<uint64_t>(it->get<int64_t>());
  if (it->is_string()) return std::strtoull(it->get_ref<const std::string&>().c_str(), nullptr, 10);
  return 0;
}

ResponseHeader DecodeHeader(const json& j) {
  ResponseHeader h;
  auto it = j.find("header");
  if (it == j.end() || !it->is_object()) return h;
  h.cluster_id = Uint(*it, "cluster_id");
  h.member_id = Uint(*it, "member_id");
  h.revision = Int(*it, "revision");
  h.raft_term = Uint(*it, "raft_term");
  return h;
}

StatusOr<KeyValue> DecodeKeyValue(const json& j) {
  KeyValue kv;
  ASSIGN_OR_RETURN(kv.key, Unb64(j, "key"));
  ASSIGN_OR_RETURN(kv.value, Unb64(j, "value"));
  kv.create_revision = Int(j, "create_revision");
  kv.mod_revision = Int(j, "mod_revision");
  kv.version = Int(j, "version");
  kv.lease = Int(j, "lease");
  return kv;
}

StatusOr<RangeResult> DecodeRange(const json& j) {
  RangeResult r;
  r.header = DecodeHeader(j);
  if (auto it = j.find("kvs"); it != j.end() && it->is_array()) {
    for (const auto& e : *it) {
      ASSIGN_OR_RETURN(KeyValue kv, DecodeKeyValue(e));
      r.kvs.push_back(std::move(kv));
    }
  }
  r.count = Int(j, "count");
  r.more = j.value("more", false);
  return r;
}

StatusOr<TxnResult> DecodeTxn(const json& j) {
  TxnResult t;
  t.header = DecodeHeader(j);
  t.succeeded = j.value("succeeded", false);
  if (auto it = j.find("responses"); it != j.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (auto r = e.find("response_range"); r != e.end()) {
        ASSIGN_OR_RETURN(RangeResult rr, DecodeRange(*r));
        t.ranges.push_back(std::move(rr));
      }
    }
  }
  return t;
}

MemberInfo DecodeMember(const json& j) {
  MemberInfo m;
  m.id = Uint(j, "ID");
  m.name = j.value("name", "");
  m.peer_urls = Strings(j, "peerURLs");
  m.client_urls = Strings(j, "clientURLs");
  m.is_learner = j.value("isLearner", false);
  return m;
}

StatusOr<std::vector<MemberInfo>> DecodeMembers(const json& j) {
  std::vector<MemberInfo> out;
  auto it = j.find("members");
  if (it == j.end()) return out;
  if (!it->is_array()) return absl::InternalError("etcd answered a non-array \"members\"");
  for (const auto& m : *it) out.push_back(DecodeMember(m));
  return out;
}

MemberStatus DecodeStatus(const json& j) {
  MemberStatus s;
  s.header = DecodeHeader(j);
  s.version = j.value("version", "");
  s.leader = Uint(j, "leader");
  s.raft_term = Uint(j, "raftTerm");
  s.raft_index = Uint(j, "raftIndex");
  s.db_size = Int(j, "dbSize");
  s.errors = Strings(j, "errors");
  return s;
}

StatusOr<WatchMessage> DecodeWatchMessage(std::string_view line) {
  ASSIGN_OR_RETURN(json j, ParseBody(line));
  WatchMessage m;
  if (auto e = j.find("error"); e != j.end()) {
    int code = 2;
    std::string msg;
    if (e->is_object()) {
      code = static_cast<int>(Int(*e, "grpc_code"));
      msg = e->value("message", "");
    } else if (e->is_string()) {
      code = static_cast<int>(Int(j, "code"));
      msg = j.value("message", e->get<std::string>());
    }
    m.error = FromGrpc(code == 0 ? 2 : code, msg, "watch");
    return m;
  }
  auto r = j.find("result");
  if (r == j.end() || !r->is_object())
    return absl::InternalError("etcd answered a watch message without \"result\"");
  m.header = DecodeHeader(*r);
  m.created = r->value("created", false);
  m.canceled = r->value("canceled", false);
  m.compact_revision = Int(*r, "compact_revision");
  m.cancel_reason = r->value("cancel_reason", "");
  if (auto ev = r->find("events"); ev != r->end() && ev->is_array()) {
    for (const auto& e : *ev) {
      WatchEvent w;
      w.type =
          e.value("type", "PUT") == "DELETE" ? WatchEvent::Type::kDelete : WatchEvent::Type::kPut;
      if (auto kv = e.find("kv"); kv != e.end()) {
        ASSIGN_OR_RETURN(w.kv, DecodeKeyValue(*kv));
      }
      m.events.push_back(std::move(w));
    }
  }
  return m;
}

Status FromGrpc(int grpc_code, std::string_view message, std::string_view op) {
  std::string msg = absl::StrCat("etcd ", Av(op), ": ", Av(message));
  if (grpc_code <= 0 || grpc_code > 16) return absl::UnknownError(msg);
  auto code = static_cast<absl::StatusCode>(grpc_code);
  if (code == absl::StatusCode::kOutOfRange) code = absl::StatusCode::kFailedPrecondition;
  return Status(code, msg);
}

Status MapError(int http_status, std::string_view body, std::string_view op) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    int code = static_cast<int>(Int(j, "code"));
    std::string msg = j.value("message", "");
    if (msg.empty()) {
      if (auto e = j.find("error"); e != j.end() && e->is_string()) msg = e->get<std::string>();
    }
    if (code != 0) return FromGrpc(code, msg, op);
  }
  // No gRPC code: an answer of the HTTP server itself (a wrong path, a proxy).
  std::string msg = absl::StrCat("etcd ", Av(op), ": HTTP ", http_status);
  if (!body.empty()) absl::StrAppend(&msg, ": ", Av(body.substr(0, 200)));
  switch (http_status) {
    case 400:
      return absl::InvalidArgumentError(msg);
    case 404:
      return absl::NotFoundError(msg);
    case 502:
    case 503:
      return absl::UnavailableError(msg);
    case 504:
      return absl::DeadlineExceededError(msg);
    default:
      return absl::UnknownError(msg);
  }
}

}  // namespace berth::cluster::etcd::codec
