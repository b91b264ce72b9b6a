#include "spec/json/go_json.h"

#include "absl/strings/str_format.h"

namespace berth::spec::json {
namespace {

// Go's scanner refuses nesting deeper than this (encoding/json maxNestingDepth).
constexpr int kMaxDepth = 10000;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(uint32_t r, std::string& out) {
  if (r < 0x80) {
    out += static_cast<char>(r);
  } else if (r < 0x800) {
    out += static_cast<char>(0xC0 | (r >> 6));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    out += static_cast<char>(0xE0 | (r >> 12));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (r >> 18));
    out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (r & 0x3F));
  }
}

constexpr uint32_t kReplacement = 0xFFFD;

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not one (Go's utf8.DecodeRune
// rules: no overlong forms, no surrogates, nothing above U+10FFFF).
size_t ValidUtf8Length(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
  }
  return n;
}

// Go replaces each byte that does not start valid UTF-8 with U+FFFD when it unquotes.
std::string SanitizeUtf8(std::string s) {
  bool ascii = true;
  for (char c : s) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return s;
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += s[i++];
      continue;
    }
    size_t n = ValidUtf8Length(s, i);
    if (n == 0) {
      AppendUtf8(kReplacement, out);
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

// Go's quoteChar: how a syntax error names the offending byte.
std::string QuoteChar(unsigned char c) {
  if (c == '\'') return R"('\'')";
  if (c == '"') return R"('"')";
  switch (c) {
    case '\a': return R"('\a')";
    case '\b': return R"('\b')";
    case '\f': return R"('\f')";
    case '\n': return R"('\n')";
    case '\r': return R"('\r')";
    case '\t': return R"('\t')";
    case '\v': return R"('\v')";
    case '\\': return R"('\\')";
  }
  if (c < 0x20 || c == 0x7F) return absl::StrFormat("'\\x%02x'", c);
  if (c < 0x80) return std::string("'") + static_cast<char>(c) + "'";
  // Go converts the byte to the rune of the same value: U+0080..U+00FF. strconv.Quote
  // escapes the ones that are not printable (C1 controls, no-break space, soft hyphen).
  if (c < 0xA1 || c == 0xAD) return absl::StrFormat("'\\u%04x'", c);
  std::string out = "'";
  AppendUtf8(c, out);
  return out + "'";
}

class Reader {
 public:
  Reader(std::string_view text, GoJsonMode mode) : s_(text), mode_(mode) {}

  StatusOr<GoValue> Read() {
    SkipSpace();
    if (AtEnd()) {
      return absl::InvalidArgumentError(mode_ == GoJsonMode::kDecoder ? "EOF"
                                                                       : "unexpected end of JSON input");
    }
    GoValue v;
    if (!Value(v)) {
      if (eof_) {
        return absl::InvalidArgumentError(mode_ == GoJsonMode::kDecoder
                                              ? "unexpected EOF"
                                              : "unexpected end of JSON input");
      }
      return absl::InvalidArgumentError(err_);
    }
    if (mode_ == GoJsonMode::kUnmarshal) {
      SkipSpace();
      if (!AtEnd()) return absl::InvalidArgumentError(Message(s_[pos_], "after top-level value"));
    }
    return v;
  }

 private:
  bool AtEnd() const { return pos_ >= s_.size(); }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(s_[pos_])) ++pos_;
  }
  static std::string Message(char c, std::string_view context) {
    return absl::StrCat("invalid character ", QuoteChar(static_cast<unsigned char>(c)), " ",
                        Av(context));
  }
  bool Fail(char c, std::string_view context) {
    err_ = Message(c, context);
    return false;
  }
  bool Eof() {
    eof_ = true;
    return false;
  }

  // Reads one value with an explicit stack of the arrays and objects it is inside, so that
  // nesting costs heap, not stack: a body nested 10000 deep (Go's limit) once overflowed a
  // connection thread's stack.
  bool Value(GoValue& root) {
    std::vector<GoValue*> open;  // the containers being filled, innermost last
    GoValue* target = &root;     // where the next value goes
    for (;;) {
      // One value at pos_ (not at the end) into *target.
      char c = s_[pos_];
      bool opened = false;
      if (c == '{' || c == '[') {
        if (open.size() + 1 > static_cast<size_t>(kMaxDepth)) return Fail(c, "exceeded max depth");
        target->kind = c == '{' ? GoValue::Kind::kObject : GoValue::Kind::kArray;
        ++pos_;
        SkipSpace();
        if (AtEnd()) return Eof();
        if (s_[pos_] == (c == '{' ? '}' : ']')) {
          ++pos_;
        } else {
          open.push_back(target);
          opened = true;
        }
      } else if (!Scalar(*target)) {
        return false;
      }
      // Then: the first member or item of a container just opened, or the separator or end
      // after a value, closing as many containers as end here.
      for (bool first = opened;; first = false) {
        if (open.empty()) return true;
        GoValue& in = *open.back();
        if (!first) {
          SkipSpace();
          if (AtEnd()) return Eof();
          char e = s_[pos_];
          const bool object = in.kind == GoValue::Kind::kObject;
          if (e == (object ? '}' : ']')) {
            ++pos_;
            open.pop_back();
            continue;
          }
          if (e != ',') return Fail(e, object ? "after object key:value pair" : "after array element");
          ++pos_;
          SkipSpace();
          if (AtEnd()) return Eof();
        }
        if (in.kind == GoValue::Kind::kArray) {
          in.items.emplace_back();
          target = &in.items.back();
        } else {
          if (s_[pos_] != '"') return Fail(s_[pos_], "looking for beginning of object key string");
          std::string key;
          if (!String(key)) return false;
          SkipSpace();
          if (AtEnd()) return Eof();
          if (s_[pos_] != ':') return Fail(s_[pos_], "after object key");
          ++pos_;
          SkipSpace();
          if (AtEnd()) return Eof();
          in.members.push_back(GoMember{std::move(key), GoValue{}});
          target = &in.members.back().second;
        }
        break;
      }
    }
  }

  bool Scalar(GoValue& out) {
    char c = s_[pos_];
    switch (c) {
      case '"':
        out.kind = GoValue::Kind::kString;
        return String(out.text);
      case 't':
        out.kind = GoValue::Kind::kBool;
        out.boolean = true;
        return Literal("true");
      case 'f':
        out.kind = GoValue::Kind::kBool;
        return Literal("false");
      case 'n':
        out.kind = GoValue::Kind::kNull;
        return Literal("null");
      default:
        if (c == '-' || IsDigit(c)) {
          out.kind = GoValue::Kind::kNumber;
          return Number(out.text);
        }
        return Fail(c, "looking for beginning of value");
    }
  }

  // Four hex digits at pos_ (after "\u"); -1 with the error set if they are not.
  int32_t Hex4() {
    int32_t r = 0;
    for (int i = 0; i < 4; ++i) {
      if (AtEnd()) {
        Eof();
        return -1;
      }
      int h = HexValue(s_[pos_]);
      if (h < 0) {
        Fail(s_[pos_], "in \\u hexadecimal character escape");
        return -1;
      }
      r = r * 16 + h;
      ++pos_;
    }
    return r;
  }

  bool String(std::string& out) {
    ++pos_;  // '"'
    std::string raw;
    for (;;) {
      if (AtEnd()) return Eof();
      char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        out = SanitizeUtf8(std::move(raw));
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return Fail(c, "in string literal");
      if (c != '\\') {
        raw += c;
        ++pos_;
        continue;
      }
      ++pos_;
      if (AtEnd()) return Eof();
      char e = s_[pos_++];
      switch (e) {
        case '"': raw += '"'; break;
        case '\\': raw += '\\'; break;
        case '/': raw += '/'; break;
        case 'b': raw += '\b'; break;
        case 'f': raw += '\f'; break;
        case 'n': raw += '\n'; break;
        case 'r': raw += '\r'; break;
        case 't': raw += '\t'; break;
        case 'u': {
          int32_t r = Hex4();
          if (r < 0) return false;
          if (r >= 0xD800 && r < 0xE000) {
            // A surrogate: a pair with a following \uDC00-\uDFFF escape, else U+FFFD (Go's
            // unquote). A following escape that is not a low surrogate is read on its own.
            int32_t low = -1;
            if (r < 0xDC00 && s_.substr(pos_, 2) == "\\u" && pos_ + 6 <= s_.size()) {
              low = 0;
              for (size_t k = pos_ + 2; k < pos_ + 6 && low >= 0; ++k) {
                int h = HexValue(s_[k]);
                low = h < 0 ? -1 : low * 16 + h;
              }
            }
            if (low >= 0xDC00 && low < 0xE000) {
              pos_ += 6;
              r = 0x10000 + ((r - 0xD800) << 10) + (low - 0xDC00);
            } else {
              r = kReplacement;
            }
          }
          AppendUtf8(static_cast<uint32_t>(r), raw);
          break;
        }
        default:
          return Fail(e, "in string escape code");
      }
    }
  }

  bool Digits() {
    while (!AtEnd() && IsDigit(s_[pos_])) ++pos_;
    return true;
  }

  bool Number(std::string& out) {
    size_t start = pos_;
    if (s_[pos_] == '-') {
      ++pos_;
      if (AtEnd()) return Eof();
      if (!IsDigit(s_[pos_])) return Fail(s_[pos_], "in numeric literal");
    }
    if (s_[pos_] == '0') {
      ++pos_;
    } else {
      Digits();
    }
    if (!AtEnd() && s_[pos_] == '.') {
      ++pos_;
      if (AtEnd()) return Eof();
      if (!IsDigit(s_[pos_])) return Fail(s_[pos_], "after decimal point in numeric literal");
      Digits();
    }
    if (!AtEnd() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (AtEnd()) return Eof();
      if (s_[pos_] == '+' || s_[pos_] == '-') {
        ++pos_;
        if (AtEnd()) return Eof();
      }
      if (!IsDigit(s_[pos_])) return Fail(s_[pos_], "in exponent of numeric literal");
      Digits();
    }
    out.assign(s_.substr(start, pos_ - start));
    return true;
  }

  bool Literal(std::string_view word) {
    ++pos_;
    for (size_t i = 1; i < word.size(); ++i, ++pos_) {
      if (AtEnd()) return Eof();
      if (s_[pos_] != word[i]) {
        return Fail(s_[pos_], absl::StrCat("in literal ", Av(word), " (expecting '",
                                           Av(word.substr(i, 1)), "')"));
      }
    }
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
  GoJsonMode mode_;
  std::string err_;
  bool eof_ = false;
};

}  // namespace

GoValue::~GoValue() {
  if (items.empty() && members.empty()) return;
  // Children with children of their own are moved out and destroyed here, one at a time, each
  // after its own children were moved out: no destructor runs more than one level deep.
  std::vector<GoValue> pending;
  auto take = [&pending](GoValue& v) {
    auto keep = [&pending](GoValue& c) {
      if (!c.items.empty() || !c.members.empty()) pending.push_back(std::move(c));
    };
    for (GoValue& c : v.items) keep(c);
    for (GoMember& m : v.members) keep(m.second);
  };
  take(*this);
  while (!pending.empty()) {
    GoValue v = std::move(pending.back());
    pending.pop_back();
    take(v);
  }
}

StatusOr<GoValue> ReadGoJson(std::string_view text, GoJsonMode mode) {
  return Reader(text, mode).Read();
}

std::string_view GoValueKindName(const GoValue& v) {
  switch (v.kind) {
    case GoValue::Kind::kNull: return "null";
    case GoValue::Kind::kBool: return "bool";
    case GoValue::Kind::kNumber: return "number";
    case GoValue::Kind::kString: return "string";
    case GoValue::Kind::kArray: return "array";
    case GoValue::Kind::kObject: return "object";
  }
  return "value";
}

}  // namespace berth::spec::json
