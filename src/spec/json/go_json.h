#pragma once
// A JSON reader with Go encoding/json's semantics and error texts, because Docker's answers to
// bad request bodies are Go's texts and the typed decoders (go_codec.h) need what
// nlohmann::json does not keep: a number's literal ("number 1.5", "number 1e3" in Go's
// messages), object members in document order with duplicates (Go applies each in turn),
// and Go's leniency (invalid UTF-8 becomes U+FFFD instead of an error; with kDecoder, bytes
// after the first value are not read, as json.Decoder does not read them).

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace berth::spec::json {

struct GoMember;

struct GoValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  std::string text;  // kString: the decoded string; kNumber: the literal as written
  std::vector<GoValue> items;                            // kArray
  std::vector<GoMember> members;  // kObject, in document order

  bool is_null() const { return kind == Kind::kNull; }

  GoValue() = default;
  GoValue(const GoValue&) = default;
  GoValue(GoValue&&) = default;
  GoValue& operator=(const GoValue&) = default;
  GoValue& operator=(GoValue&&) = default;
  // Tears nested values down with a loop, not one stack frame per level: a body may nest
  // 10000 deep (Go's limit) and is destroyed on a connection thread's stack.
  ~GoValue();
};

// One object member. A struct rather than std::pair: a pair of a still incomplete GoValue
// does not compile with clang's checks.
struct GoMember {
  std::string first;  // the key
  GoValue second;
};

enum class GoJsonMode {
  kDecoder,    // json.NewDecoder(body).Decode: "EOF" for no value, "unexpected EOF" for a cut one
  kUnmarshal,  // json.Unmarshal: the whole text is one value ("unexpected end of JSON input")
};

// Reads one JSON value. Syntax errors are InvalidArgument with Go's message, e.g.
// "invalid character 'x' looking for beginning of value".
StatusOr<GoValue> ReadGoJson(std::string_view text, GoJsonMode mode);

// Go's description of a JSON value in an UnmarshalTypeError: "string", "number", "bool",
// "array", "object" ("null" never mismatches).
std::string_view GoValueKindName(const GoValue& v);

}  // namespace berth::spec::json
