#pragma once
// The typed decoding of GoValue trees with Go encoding/json's rules, and the rendering back to
// Docker's JSON, both driven by one table per struct (Go field order, JSON names, omitempty),
// so that a field is declared once and parse(render(x)) == x holds by construction.
//
// Go's rules kept here: unknown keys are ignored; a key matches a field exactly, else
// case-insensitively (first field in struct order); null leaves a value alone, and sets a
// pointer, slice or map to nil; an array replaces a slice, an object adds to a map; a type
// mismatch is remembered (the first one wins) and decoding goes on; an error from a type
// with its own UnmarshalJSON (StrSlice) ends decoding and wins. Messages are Go 1.19's
// UnmarshalTypeError.Error(): "json: cannot unmarshal V into Go struct field S.P of type T",
// where S is the innermost struct holding the field and P the JSON path from the root (map
// keys and array indexes are not in it), or "... into Go value of type T" outside any struct.

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "nlohmann/json.hpp"
#include "spec/json/go_json.h"

namespace berth::spec::json {

using Json = nlohmann::ordered_json;

class GoDecoder {
 public:
  GoDecoder() = default;

  // A value that does not fit the Go type go_type; value_desc is "string", "number 1.5"...
  void TypeError(std::string_view value_desc, std::string_view go_type);
  void TypeError(const GoValue& v, std::string_view go_type) {
    TypeError(GoValueKindName(v), go_type);
  }
  // An error returned by an UnmarshalJSON method: decoding stops here.
  void Abort(std::string_view value_desc, std::string_view go_type);
  bool aborted() const { return aborted_.has_value(); }
  Status status() const;

  // While alive, errors are reported inside field `name` of struct `struct_name`.
  class FieldScope {
   public:
    FieldScope(GoDecoder& d, std::string_view struct_name, std::string_view name)
        : d_(d), saved_struct_(d.struct_) {
      d_.struct_ = struct_name;
      d_.path_.push_back(name);
    }
    ~FieldScope() {
      d_.path_.pop_back();
      d_.struct_ = saved_struct_;
    }
    FieldScope(const FieldScope&) = delete;
    FieldScope& operator=(const FieldScope&) = delete;

   private:
    GoDecoder& d_;
    std::string_view saved_struct_;
  };

 private:
  std::string Format(std::string_view value_desc, std::string_view go_type) const;

  std::string_view struct_;
  std::vector<std::string_view> path_;
  std::optional<std::string> saved_;
  std::optional<std::string> aborted_;
};

template <class T>
struct Codec {
  std::string go;  // the Go type, as reflect prints it in messages: "[]string", "nat.PortMap"
  std::function<void(GoDecoder&, const GoValue&, T&)> decode;
  std::function<Json(const T&)> encode;
  std::function<bool(const T&)> empty;  // Go's omitempty test
};

// ---- scalars ------------------------------------------------------------------------------

Codec<std::string> String(std::string go = "string");
Codec<bool> Bool();
// A signed integer of the Go type go (int, int64, time.Duration): a fraction, an exponent or
// an overflow is "number <literal>".
Codec<int64_t> Int(std::string go);
// An unsigned Go integer no larger than max (uint16, uint, uint64, fs.FileMode).
Codec<uint64_t> Uint(std::string go, uint64_t max = std::numeric_limits<uint64_t>::max());

template <class N>
Codec<N> Narrow(const Codec<uint64_t>& wide) {
  return Codec<N>{wide.go,
                  [wide](GoDecoder& d, const GoValue& v, N& out) {
                    uint64_t x = out;
                    wide.decode(d, v, x);
                    out = static_cast<N>(x);
                  },
                  [](const N& x) { return Json(static_cast<uint64_t>(x)); },
                  [](const N& x) { return x == 0; }};
}

// strslice.StrSlice: a string or an array of strings. Its UnmarshalJSON decodes into []string
// and, failing that, into string; the error it returns is the second one, so "Cmd": 1 reports
// "number ... of type string" and "Cmd": [1] "array ... of type string".
Codec<std::vector<std::string>> StrSliceCodec();

// ---- composites ---------------------------------------------------------------------------

// A Go pointer, or a slice/map whose nil (null) differs from empty: null resets it.
template <class T>
Codec<std::optional<T>> Optional(Codec<T> inner) {
  return Codec<std::optional<T>>{
      inner.go,
      [inner](GoDecoder& d, const GoValue& v, std::optional<T>& out) {
        if (v.is_null()) {
          out.reset();
          return;
        }
        if (!out) out.emplace();
        inner.decode(d, v, *out);
      },
      [inner](const std::optional<T>& x) { return x ? inner.encode(*x) : Json(nullptr); },
      [](const std::optional<T>& x) { return !x.has_value(); }};
}

template <class T>
Codec<std::vector<T>> Slice(Codec<T> elem, std::string go = "") {
  if (go.empty()) go = "[]" + elem.go;
  return Codec<std::vector<T>>{
      go,
      [elem, go](GoDecoder& d, const GoValue& v, std::vector<T>& out) {
        if (v.is_null()) {
          out.clear();
          return;
        }
        if (v.kind != GoValue::Kind::kArray) return d.TypeError(v, go);
        out.clear();
        for (const GoValue& item : v.items) {
          T x{};
          elem.decode(d, item, x);
          if (d.aborted()) return;
          out.push_back(std::move(x));
        }
      },
      [elem](const std::vector<T>& xs) {
        Json a = Json::array();
        for (const T& x : xs) a.push_back(elem.encode(x));
        return a;
      },
      [](const std::vector<T>& xs) { return xs.empty(); }};
}

// A Go array [N]T: extra JSON elements are dropped, missing ones are zero.
template <class T, size_t N>
Codec<std::array<T, N>> Array(Codec<T> elem) {
  std::string go = "[" + std::to_string(N) + "]" + elem.go;
  return Codec<std::array<T, N>>{
      go,
      [elem, go](GoDecoder& d, const GoValue& v, std::array<T, N>& out) {
        if (v.is_null()) return;
        if (v.kind != GoValue::Kind::kArray) return d.TypeError(v, go);
        for (size_t i = 0; i < N; ++i) {
          out[i] = T{};
          if (i < v.items.size()) elem.decode(d, v.items[i], out[i]);
          if (d.aborted()) return;
        }
      },
      [elem](const std::array<T, N>& xs) {
        Json a = Json::array();
        for (const T& x : xs) a.push_back(elem.encode(x));
        return a;
      },
      [](const std::array<T, N>&) { return N == 0; }};
}

// map[string]T: members are added (Go keeps the map's existing entries).
template <class T>
Codec<std::map<std::string, T>> Map(Codec<T> elem, std::string go = "") {
  if (go.empty()) go = "map[string]" + elem.go;
  return Codec<std::map<std::string, T>>{
      go,
      [elem, go](GoDecoder& d, const GoValue& v, std::map<std::string, T>& out) {
        if (v.is_null()) {
          out.clear();
          return;
        }
        if (v.kind != GoValue::Kind::kObject) return d.TypeError(v, go);
        for (const auto& [key, item] : v.members) {
          T x{};
          elem.decode(d, item, x);
          if (d.aborted()) return;
          out[key] = std::move(x);
        }
      },
      [elem](const std::map<std::string, T>& xs) {
        Json o = Json::object();
        for (const auto& [k, x] : xs) o[k] = elem.encode(x);
        return o;
      },
      [](const std::map<std::string, T>& xs) { return xs.empty(); }};
}

// map[string]struct{} (nat.PortSet, Config.Volumes): the keys are what counts.
Codec<std::set<std::string>> KeySet(std::string go);

// ---- structs --------------------------------------------------------------------------------

template <class S>
struct FieldSpec {
  std::string name;  // the JSON key (Go's tag name or field name)
  bool omitempty = false;
  std::function<void(GoDecoder&, const GoValue&, S&)> decode;
  std::function<void(const S&, Json&)> encode;  // adds the key, unless omitempty and empty
};

template <class S, class M>
FieldSpec<S> Field(std::string name, M S::*member, Codec<M> codec, bool omitempty = false) {
  FieldSpec<S> f;
  f.name = name;
  f.omitempty = omitempty;
  f.decode = [member, codec](GoDecoder& d, const GoValue& v, S& s) { codec.decode(d, v, s.*member); };
  f.encode = [name, member, codec, omitempty](const S& s, Json& o) {
    if (omitempty && codec.empty(s.*member)) return;
    o[name] = codec.encode(s.*member);
  };
  return f;
}

template <class S>
FieldSpec<S> OmitEmpty(FieldSpec<S> f) {
  f.omitempty = true;
  return f;
}

// The fields of an embedded struct member, promoted to the outer struct (Go's embedding).
template <class S, class E>
std::vector<FieldSpec<S>> Promote(E S::*member, const std::vector<FieldSpec<E>>& fields) {
  std::vector<FieldSpec<S>> out;
  for (const FieldSpec<E>& f : fields) {
    FieldSpec<S> g;
    g.name = f.name;
    g.omitempty = f.omitempty;
    g.decode = [member, dec = f.decode](GoDecoder& d, const GoValue& v, S& s) { dec(d, v, s.*member); };
    g.encode = [member, enc = f.encode](const S& s, Json& o) { enc(s.*member, o); };
    out.push_back(std::move(g));
  }
  return out;
}

// The same for an embedded pointer: Go allocates it as soon as one of its keys is seen (even
// with a null value), and renders none of its fields while it is nil.
template <class S, class E>
std::vector<FieldSpec<S>> PromoteOptional(std::optional<E> S::*member,
                                          const std::vector<FieldSpec<E>>& fields) {
  std::vector<FieldSpec<S>> out;
  for (const FieldSpec<E>& f : fields) {
    FieldSpec<S> g;
    g.name = f.name;
    g.omitempty = f.omitempty;
    g.decode = [member, dec = f.decode](GoDecoder& d, const GoValue& v, S& s) {
      if (!(s.*member)) (s.*member).emplace();
      dec(d, v, *(s.*member));
    };
    g.encode = [member, enc = f.encode](const S& s, Json& o) {
      if (s.*member) enc(*(s.*member), o);
    };
    out.push_back(std::move(g));
  }
  return out;
}

template <class S>
std::vector<FieldSpec<S>> Concat(std::vector<std::vector<FieldSpec<S>>> parts) {
  std::vector<FieldSpec<S>> out;
  for (auto& part : parts) {
    for (auto& f : part) out.push_back(std::move(f));
  }
  return out;
}

// Go's key matching: an exact match, else the first field whose name equals the key under
// Unicode simple case folding (ASCII letters, plus U+212A KELVIN SIGN for k and U+017F LONG S
// for s, the only non-ASCII runes that fold onto ASCII letters).
bool GoFoldEqual(std::string_view field_name, std::string_view key);

template <class S>
const FieldSpec<S>* FindField(const std::vector<FieldSpec<S>>& fields, std::string_view key) {
  for (const auto& f : fields) {
    if (f.name == key) return &f;
  }
  for (const auto& f : fields) {
    if (GoFoldEqual(f.name, key)) return &f;
  }
  return nullptr;
}

// A struct: short is its name in field errors ("HostConfig"), go its full name in value
// errors ("container.HostConfig").
template <class S>
Codec<S> Struct(std::string short_name, std::string go, std::vector<FieldSpec<S>> fields) {
  auto shared = std::make_shared<const std::vector<FieldSpec<S>>>(std::move(fields));
  auto name = std::make_shared<const std::string>(std::move(short_name));
  return Codec<S>{
      go,
      [shared, name, go](GoDecoder& d, const GoValue& v, S& s) {
        if (v.is_null()) return;
        if (v.kind != GoValue::Kind::kObject) return d.TypeError(v, go);
        for (const auto& [key, value] : v.members) {
          const FieldSpec<S>* f = FindField(*shared, key);
          if (f == nullptr) continue;  // unknown keys are ignored
          GoDecoder::FieldScope scope(d, *name, f->name);
          f->decode(d, value, s);
          if (d.aborted()) return;
        }
      },
      [shared](const S& s) {
        Json o = Json::object();
        for (const auto& f : *shared) f.encode(s, o);
        return o;
      },
      [](const S&) { return false; }};  // Go's omitempty never omits a struct
}

// Decodes text (one JSON value, read as json.Decoder reads a request body) into a T.
template <class T>
Status DecodeText(std::string_view text, const Codec<T>& codec, T& out) {
  ASSIGN_OR_RETURN(GoValue v, ReadGoJson(text, GoJsonMode::kDecoder));
  GoDecoder d;
  codec.decode(d, v, out);
  return d.status();
}

template <class T>
Status DecodeValue(const GoValue& v, const Codec<T>& codec, T& out) {
  GoDecoder d;
  codec.decode(d, v, out);
  return d.status();
}

// Compact JSON text; invalid UTF-8 becomes U+FFFD instead of an exception.
std::string Dump(const Json& j);

}  // namespace berth::spec::json

namespace berth::spec::json {

// A request body as Docker's route reads it: json.NewDecoder(body).Decode(&T). eof_message
// replaces Go's "EOF" for an empty body where the route says so ("got EOF while reading
// request body"); empty keeps Go's text.
template <class T>
StatusOr<T> ParseRequestBody(std::string_view body, const Codec<T>& codec,
                             std::string_view eof_message = "") {
  auto v = ReadGoJson(body, GoJsonMode::kDecoder);
  if (!v.ok()) {
    if (!eof_message.empty() && v.status().message() == "EOF") {
      return absl::InvalidArgumentError(Av(eof_message));
    }
    return v.status();
  }
  T out{};
  RETURN_IF_ERROR(DecodeValue(*v, codec, out));
  return out;
}

}  // namespace berth::spec::json
