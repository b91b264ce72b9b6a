#include "spec/json/go_codec.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"

namespace berth::spec::json {

void GoDecoder::TypeError(std::string_view value_desc, std::string_view go_type) {
  if (!saved_) saved_ = Format(value_desc, go_type);
}

void GoDecoder::Abort(std::string_view value_desc, std::string_view go_type) {
  if (!aborted_) aborted_ = Format(value_desc, go_type);
}

Status GoDecoder::status() const {
  if (aborted_) return absl::InvalidArgumentError(*aborted_);
  if (saved_) return absl::InvalidArgumentError(*saved_);
  return absl::OkStatus();
}

std::string GoDecoder::Format(std::string_view value_desc, std::string_view go_type) const {
  if (struct_.empty() && path_.empty()) {
    return absl::StrCat("json: cannot unmarshal ", Av(value_desc), " into Go value of type ",
                        Av(go_type));
  }
  std::vector<absl::string_view> path;
  for (std::string_view p : path_) path.push_back(Av(p));
  return absl::StrCat("json: cannot unmarshal ", Av(value_desc), " into Go struct field ",
                      Av(struct_), ".", absl::StrJoin(path, "."), " of type ", Av(go_type));
}

Codec<std::string> String(std::string go) {
  return Codec<std::string>{go,
                            [go](GoDecoder& d, const GoValue& v, std::string& out) {
                              if (v.is_null()) return;
                              if (v.kind != GoValue::Kind::kString) return d.TypeError(v, go);
                              out = v.text;
                            },
                            [](const std::string& s) { return Json(s); },
                            [](const std::string& s) { return s.empty(); }};
}

Codec<bool> Bool() {
  return Codec<bool>{"bool",
                     [](GoDecoder& d, const GoValue& v, bool& out) {
                       if (v.is_null()) return;
                       if (v.kind != GoValue::Kind::kBool) return d.TypeError(v, "bool");
                       out = v.boolean;
                     },
                     [](const bool& b) { return Json(b); }, [](const bool& b) { return !b; }};
}

namespace {

// strconv.ParseInt/ParseUint accept only digits (and a sign for ParseInt): a JSON fraction or
// exponent does not fit an integer field.
bool PlainInteger(std::string_view lit) {
  return lit.find_first_of(".eE") == std::string_view::npos;
}

}  // namespace

Codec<int64_t> Int(std::string go) {
  return Codec<int64_t>{go,
                        [go](GoDecoder& d, const GoValue& v, int64_t& out) {
                          if (v.is_null()) return;
                          if (v.kind != GoValue::Kind::kNumber) return d.TypeError(v, go);
                          int64_t x;
                          if (!PlainInteger(v.text) || !absl::SimpleAtoi(Av(v.text), &x)) {
                            return d.TypeError("number " + v.text, go);
                          }
                          out = x;
                        },
                        [](const int64_t& x) { return Json(x); },
                        [](const int64_t& x) { return x == 0; }};
}

Codec<uint64_t> Uint(std::string go, uint64_t max) {
  return Codec<uint64_t>{go,
                         [go, max](GoDecoder& d, const GoValue& v, uint64_t& out) {
                           if (v.is_null()) return;
                           if (v.kind != GoValue::Kind::kNumber) return d.TypeError(v, go);
                           uint64_t x;
                           if (!PlainInteger(v.text) || v.text[0] == '-' ||
                               !absl::SimpleAtoi(Av(v.text), &x) || x > max) {
                             return d.TypeError("number " + v.text, go);
                           }
                           out = x;
                         },
                         [](const uint64_t& x) { return Json(x); },
                         [](const uint64_t& x) { return x == 0; }};
}

Codec<std::vector<std::string>> StrSliceCodec() {
  return Codec<std::vector<std::string>>{
      "strslice.StrSlice",
      [](GoDecoder& d, const GoValue& v, std::vector<std::string>& out) {
        if (v.is_null()) {
          out.clear();
          return;
        }
        if (v.kind == GoValue::Kind::kString) {
          out = {v.text};
          return;
        }
        if (v.kind == GoValue::Kind::kArray) {
          std::vector<std::string> items;
          for (const GoValue& item : v.items) {
            if (item.kind == GoValue::Kind::kString) {
              items.push_back(item.text);
            } else if (item.is_null()) {
              items.emplace_back();
            } else {
              // []string failed; the fallback into string fails on the array itself.
              return d.Abort("array", "string");
            }
          }
          out = std::move(items);
          return;
        }
        d.Abort(GoValueKindName(v), "string");
      },
      [](const std::vector<std::string>& xs) { return Json(xs); },
      [](const std::vector<std::string>& xs) { return xs.empty(); }};
}

Codec<std::set<std::string>> KeySet(std::string go) {
  return Codec<std::set<std::string>>{
      go,
      [go](GoDecoder& d, const GoValue& v, std::set<std::string>& out) {
        if (v.is_null()) {
          out.clear();
          return;
        }
        if (v.kind != GoValue::Kind::kObject) return d.TypeError(v, go);
        for (const auto& [key, item] : v.members) {
          if (!item.is_null() && item.kind != GoValue::Kind::kObject) d.TypeError(item, "struct {}");
          out.insert(key);
        }
      },
      [](const std::set<std::string>& keys) {
        Json o = Json::object();
        for (const auto& k : keys) o[k] = Json::object();
        return o;
      },
      [](const std::set<std::string>& keys) { return keys.empty(); }};
}

bool GoFoldEqual(std::string_view field_name, std::string_view key) {
  static constexpr std::string_view kKelvin = "\xE2\x84\xAA";
  static constexpr std::string_view kLongS = "\xC5\xBF";
  size_t i = 0, j = 0;
  while (i < field_name.size() && j < key.size()) {
    char f = absl::ascii_tolower(field_name[i]);
    if (f == 'k' && key.substr(j, kKelvin.size()) == kKelvin) {
      ++i;
      j += kKelvin.size();
      continue;
    }
    if (f == 's' && key.substr(j, kLongS.size()) == kLongS) {
      ++i;
      j += kLongS.size();
      continue;
    }
    unsigned char k = static_cast<unsigned char>(key[j]);
    if (k >= 0x80 || absl::ascii_tolower(static_cast<char>(k)) != f) return false;
    ++i;
    ++j;
  }
  return i == field_name.size() && j == key.size();
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace berth::spec::json
