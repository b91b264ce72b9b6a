#pragma once
// The subset of Go's text/template that docker's `--format` flag relies on, evaluated over JSON
// (what `docker inspect` falls back to when it formats raw API data), plus docker/cli's extra
// functions (json, split, join, title, lower, upper, pad, truncate) and its list rendering rules
// (cli/command/formatter/formatter.go).
//
// Supported: text and actions, trim markers {{- -}}, comments, fields .A.B, $ and variables
// ($x := ..., $x = ...), if/else if/else, with/else with, range (with else, break, continue, over
// arrays, objects in sorted key order, and integers), pipelines, parenthesized pipelines, string /
// raw string / char / number / bool / nil literals, and the builtins and eq ge gt html index
// js le len lt ne not or print printf println slice urlquery. Not supported: define, template,
// block, call (Go functions do not exist in JSON data).
//
// Where JSON data differs from Go's typed structs, docker's typed behaviour wins: JSON null stands
// for a nil map or slice, so a field of null, `index null ...`, `len null` and `range null` give
// <no value>, <no value>, 0 and no iterations rather than Go's interface{} errors; integral JSON
// numbers are ints (not float64) and eq/lt/... compare ints with floats numerically.
//
// Errors carry Go's wording: "template: :1: unexpected \"}\" in operand" for syntax errors and
// "template: :1:2: executing \"\" at <len 3>: error calling len: len of type int" at run time.
// Unlike Go, parentheses and controls may nest 256 deep together ("max expression depth
// exceeded", "max nesting depth exceeded"): every level recurses on the caller's fixed stack.
// A Template is immutable after Parse and may be executed concurrently.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::format {

namespace internal {
struct Node;
}  // namespace internal

// What one execution may do: every evaluation step and range iteration counts 1, and every byte
// the output receives or a function's result holds counts 1 (16 for each value in it). Go's
// text/template has no such bound; docker's formats come nowhere near it, and it turns a
// {{range 1000000000000}} or a loop of wide printfs into an error instead of a CLI that runs out
// of time or memory.
inline constexpr uint64_t kDefaultWorkLimit = uint64_t{1} << 28;

class Template {
 public:
  enum class Functions {
    kNormal,
    // docker's templates.HeaderFunctions: json, split, join, title, lower, upper and truncate
    // return their (string) first argument unchanged, so a table header shows the column title
    // as written; pad is not overridden, so padded columns stay aligned.
    kHeader,
  };

  // Parses Go template syntax; InvalidArgument with Go's message on a syntax error.
  static absl::StatusOr<Template> Parse(std::string_view text);

  // Executes against `dot`; run-time errors (a field of a string, a function given the wrong
  // type, an index out of range) are InvalidArgument.
  absl::StatusOr<std::string> Execute(const nlohmann::json& dot) const;

  // Like Execute, but appends to *out and leaves there whatever was produced before an error, as
  // Go's Execute leaves it in its writer (docker prints a half-rendered table header that way).
  // Past work_limit (see kDefaultWorkLimit) it stops with an InvalidArgument.
  absl::Status ExecuteTo(const nlohmann::json& dot, std::string* out,
                         Functions functions = Functions::kNormal,
                         uint64_t work_limit = kDefaultWorkLimit) const;

 private:
  struct Parsed;
  explicit Template(std::shared_ptr<const Parsed> parsed) : parsed_(std::move(parsed)) {}
  std::shared_ptr<const Parsed> parsed_;
};

// docker's Format.IsTable: the format starts with "table" (docker checks only the prefix).
bool IsTableFormat(std::string_view format);

// The template text of a table format: drops the leading "table" and then, as docker's preFormat
// does, the spaces around what remains. Other formats are returned with only that trimming.
std::string StripTable(std::string_view format);

// Renders a list as docker's formatter.Context does:
//  - "json" as the whole format means {{json .}} per item;
//  - "table ..." drops "table", and the literal two-character sequences \t and \n in the format
//    become a tab and a newline (shells pass them unexpanded);
//  - every item's output is followed by "\n";
//  - a table format first renders `header` (an object mapping each field to its column title,
//    e.g. {"Names":"NAMES"}) with the header functions, then all items, everything through a
//    TabWriter(minwidth 10, tabwidth 1, padding 3, padchar ' ', flags 0); the header is printed
//    even when there are no items, and an error while rendering it is ignored as docker does;
//  - other formats are not passed through the tabwriter.
// work_limit bounds each item's execution (and the header's).
// Errors are prefixed "template parsing error: " as docker's are (for run-time errors too).
absl::StatusOr<std::string> RenderList(std::string_view format, const nlohmann::json& header,
                                       const std::vector<nlohmann::json>& items,
                                       uint64_t work_limit = kDefaultWorkLimit);

// Go's encoding/json encoding of `value` as docker's `json` template function produces it: compact,
// object keys sorted, no HTML escaping (docker sets SetEscapeHTML(false)), floats formatted like Go
// (1e+21, 1e-7, 0.5), U+2028/U+2029 and invalid UTF-8 escaped.
std::string GoJson(const nlohmann::json& value);

// Go's fmt %v of a decoded JSON value: strings raw, [a b c], map[k1:v1 k2:v2], <nil>, 1e+06.
std::string GoValueString(const nlohmann::json& value);

}  // namespace berth::format
