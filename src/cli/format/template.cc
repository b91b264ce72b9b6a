#include "cli/format/template.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <utility>

#include "cli/format/tabwriter.h"

namespace berth::format {

using json = nlohmann::json;

namespace {

// Template errors travel as this exception inside this file only, the way Go's text/template
// uses panic/recover: the parser and the evaluator are deep recursions where every level would
// otherwise have to forward a status. Parse and ExecuteTo catch it; nothing escapes the module.
struct TemplateError {
  std::string message;
};

[[noreturn]] void Throw(std::string message) { throw TemplateError{std::move(message)}; }

// ---------------------------------------------------------------------------------------------
// UTF-8 and Go-style quoting.

constexpr char32_t kRuneError = 0xFFFD;

// Decodes the rune at s[i]; an invalid byte decodes as (kRuneError, 1), as in Go.
std::pair<char32_t, size_t> DecodeRune(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  size_t len = 0;
  char32_t r = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, r = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, r = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, r = b0 & 0x07, min = 0x10000;
  } else {
    return {kRuneError, 1};
  }
  if (i + len > s.size()) return {kRuneError, 1};
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {kRuneError, 1};
    r = (r << 6) | (b & 0x3F);
  }
  if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return {kRuneError, 1};
  return {r, len};
}

void AppendRune(std::string* out, char32_t r) {
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = kRuneError;
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

size_t RuneCount(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    i += DecodeRune(s, i).second;
    ++n;
  }
  return n;
}

// An approximation of Go's unicode.IsPrint: ASCII graphic characters and space, and every
// non-ASCII code point outside the C1 controls and a few invisible format characters.
bool IsPrintRune(char32_t r) {
  if (r < 0x80) return r >= 0x20 && r != 0x7F;
  if (r < 0xA0) return false;
  return r != 0xAD && r != 0x2028 && r != 0x2029 && r != 0xFEFF && !(r >= 0x200B && r <= 0x200F) &&
         r != kRuneError;
}

std::string Hex(uint32_t v, int digits, bool upper = false) {
  static constexpr char kLower[] = "0123456789abcdef";
  static constexpr char kUpper[] = "0123456789ABCDEF";
  std::string s(static_cast<size_t>(digits), '0');
  for (int i = digits - 1; i >= 0; --i, v >>= 4) s[static_cast<size_t>(i)] = (upper ? kUpper : kLower)[v & 0xF];
  return s;
}

void AppendQuotedRune(std::string* out, char32_t r, size_t width, unsigned char raw, char quote) {
  if (width == 1 && r == kRuneError) {  // an invalid byte
    out->append("\\x").append(Hex(raw, 2));
    return;
  }
  if (r == static_cast<char32_t>(quote) || r == '\\') {
    out->push_back('\\');
    out->push_back(static_cast<char>(r));
    return;
  }
  if (IsPrintRune(r)) {
    AppendRune(out, r);
    return;
  }
  switch (r) {
    case '\a': out->append("\\a"); return;
    case '\b': out->append("\\b"); return;
    case '\f': out->append("\\f"); return;
    case '\n': out->append("\\n"); return;
    case '\r': out->append("\\r"); return;
    case '\t': out->append("\\t"); return;
    case '\v': out->append("\\v"); return;
    default: break;
  }
  if (r < ' ' || r == 0x7F) {
    out->append("\\x").append(Hex(r, 2));
  } else if (r < 0x10000) {
    out->append("\\u").append(Hex(r, 4));
  } else {
    out->append("\\U").append(Hex(r, 8));
  }
}

// Go's strconv.Quote.
std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    auto [r, w] = DecodeRune(s, i);
    AppendQuotedRune(&out, r, w, static_cast<unsigned char>(s[i]), '"');
    i += w;
  }
  out.push_back('"');
  return out;
}

// Go's strconv.QuoteRune.
std::string GoQuoteRune(char32_t r) {
  std::string out = "'";
  AppendQuotedRune(&out, r, 0, 0, '\'');
  out.push_back('\'');
  return out;
}

// fmt's %#U: U+0023 '#'.
std::string FormatU(char32_t r, bool with_char) {
  std::string out = "U+" + Hex(r, r > 0xFFFF ? (r > 0xFFFFF ? 6 : 5) : 4, true);
  if (with_char && IsPrintRune(r)) {
    out.append(" '");
    AppendRune(&out, r);
    out.push_back('\'');
  }
  return out;
}

// Go's strconv.Unquote for "..." and '...' literals (the lexer has checked termination).
std::optional<std::string> UnquoteEscapes(std::string_view body, char quote) {
  std::string out;
  for (size_t i = 0; i < body.size();) {
    const char c = body[i];
    if (c == quote || c == '\n') return std::nullopt;
    if (c != '\\') {
      out.push_back(c);
      ++i;
      continue;
    }
    if (++i >= body.size()) return std::nullopt;
    const char e = body[i++];
    auto hex_digits = [&](size_t n) -> std::optional<uint32_t> {
      if (i + n > body.size()) return std::nullopt;
      uint32_t v = 0;
      for (size_t k = 0; k < n; ++k) {
        const char h = body[i + k];
        int d;
        if (h >= '0' && h <= '9') d = h - '0';
        else if (h >= 'a' && h <= 'f') d = h - 'a' + 10;
        else if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
        else return std::nullopt;
        v = v * 16 + static_cast<uint32_t>(d);
      }
      i += n;
      return v;
    };
    switch (e) {
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case '\\': out.push_back('\\'); break;
      case '"':
      case '\'':
        if (e != quote) return std::nullopt;
        out.push_back(e);
        break;
      case 'x': {
        auto v = hex_digits(2);
        if (!v) return std::nullopt;
        out.push_back(static_cast<char>(*v));
        break;
      }
      case 'u':
      case 'U': {
        auto v = hex_digits(e == 'u' ? 4 : 8);
        if (!v || *v > 0x10FFFF || (*v >= 0xD800 && *v <= 0xDFFF)) return std::nullopt;
        AppendRune(&out, *v);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          if (i + 2 > body.size()) return std::nullopt;
          uint32_t v = static_cast<uint32_t>(e - '0');
          for (int k = 0; k < 2; ++k) {
            const char o = body[i++];
            if (o < '0' || o > '7') return std::nullopt;
            v = v * 8 + static_cast<uint32_t>(o - '0');
          }
          if (v > 255) return std::nullopt;
          out.push_back(static_cast<char>(v));
          break;
        }
        return std::nullopt;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Go float formatting (strconv.FormatFloat), built on the shortest round-trip digits.

struct Decimal {
  std::string digits;  // no leading or trailing zeros; empty for zero
  int dp = 0;          // value = 0.digits * 10^dp
  bool neg = false;
};

Decimal ShortestDecimal(double v) {
  Decimal d;
  d.neg = std::signbit(v);
  v = std::fabs(v);
  if (v == 0) return d;
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(res.ptr - buf));
  const size_t e = s.find('e');
  for (char c : s.substr(0, e)) {
    if (c != '.') d.digits.push_back(c);
  }
  int exp = std::atoi(std::string(s.substr(e + 1)).c_str());
  while (d.digits.size() > 1 && d.digits.back() == '0') d.digits.pop_back();
  d.dp = exp + 1;
  return d;
}

std::string FmtE(const Decimal& d, int prec, char ech) {
  std::string out = d.neg ? "-" : "";
  out.push_back(d.digits.empty() ? '0' : d.digits[0]);
  if (prec > 0) {
    out.push_back('.');
    for (int i = 1; i <= prec; ++i) {
      out.push_back(static_cast<size_t>(i) < d.digits.size() ? d.digits[static_cast<size_t>(i)] : '0');
    }
  }
  out.push_back(ech);
  int exp = d.digits.empty() ? 0 : d.dp - 1;
  out.push_back(exp < 0 ? '-' : '+');
  exp = std::abs(exp);
  if (exp < 10) out.push_back('0');
  out.append(std::to_string(exp));
  return out;
}

std::string FmtF(const Decimal& d, int prec) {
  std::string out = d.neg ? "-" : "";
  if (d.dp > 0) {
    for (int i = 0; i < d.dp; ++i) {
      out.push_back(static_cast<size_t>(i) < d.digits.size() ? d.digits[static_cast<size_t>(i)] : '0');
    }
  } else {
    out.push_back('0');
  }
  if (prec > 0) {
    out.push_back('.');
    for (int i = 0; i < prec; ++i) {
      const int j = d.dp + i;
      out.push_back(j >= 0 && static_cast<size_t>(j) < d.digits.size() ? d.digits[static_cast<size_t>(j)] : '0');
    }
  }
  return out;
}

// strconv.FormatFloat(v, fmt, prec, 64) for fmt in eEfFgG; prec < 0 means shortest.
std::string FormatFloat(double v, char fmt, int prec) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (prec >= 0) {
    // With an explicit precision C's printf rounds exactly as Go does.
    char spec[8] = {'%', '.', '*', fmt, 0};
    char buf[512];
    std::snprintf(buf, sizeof buf, spec, prec, v);
    return buf;
  }
  const Decimal d = ShortestDecimal(v);
  const int nd = static_cast<int>(d.digits.size());
  switch (fmt) {
    case 'e':
    case 'E': return FmtE(d, std::max(nd - 1, 0), fmt);
    case 'f':
    case 'F': return FmtF(d, std::max(nd - d.dp, 0));
    default: {
      // %g with the shortest digits switches to an exponent outside [1e-4, 1e6).
      const int exp = nd == 0 ? 0 : d.dp - 1;
      if (exp < -4 || exp >= 6) return FmtE(d, std::max(nd - 1, 0), fmt == 'G' ? 'E' : 'e');
      return FmtF(d, std::max(nd - d.dp, 0));
    }
  }
}

// encoding/json's float format: %f, or %e (with e-07 shortened to e-7) outside [1e-6, 1e21).
std::string JsonFloat(double v) {
  if (!std::isfinite(v)) return "null";  // Go refuses; docker's json then prints nothing useful
  const double a = std::fabs(v);
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    std::string s = FormatFloat(v, 'e', -1);
    const size_t n = s.size();
    if (n >= 4 && s[n - 4] == 'e' && s[n - 3] == '-' && s[n - 2] == '0') s.erase(n - 2, 1);
    return s;
  }
  return FormatFloat(v, 'f', -1);
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\n': out->append("\\n"); break;
        case '\r': out->append("\\r"); break;
        case '\t': out->append("\\t"); break;
        case '\b': out->append("\\b"); break;
        case '\f': out->append("\\f"); break;
        default:
          if (c < 0x20) out->append("\\u00").append(Hex(c, 2));
          else out->push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    auto [r, w] = DecodeRune(s, i);
    if (r == kRuneError && w == 1) {
      out->append("\\ufffd");
    } else if (r == 0x2028 || r == 0x2029) {
      // Go escapes the JavaScript line terminators even with HTML escaping off.
      out->append("\\u").append(Hex(r, 4));
    } else {
      out->append(s.substr(i, w));
    }
    i += w;
  }
  out->push_back('"');
}

void AppendGoJson(std::string* out, const json& v) {
  switch (v.type()) {
    case json::value_t::null: out->append("null"); break;
    case json::value_t::boolean: out->append(v.get<bool>() ? "true" : "false"); break;
    case json::value_t::number_integer: out->append(std::to_string(v.get<int64_t>())); break;
    case json::value_t::number_unsigned: out->append(std::to_string(v.get<uint64_t>())); break;
    case json::value_t::number_float: out->append(JsonFloat(v.get<double>())); break;
    case json::value_t::string: AppendJsonString(out, v.get_ref<const std::string&>()); break;
    case json::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const json& e : v) {
        if (!first) out->push_back(',');
        first = false;
        AppendGoJson(out, e);
      }
      out->push_back(']');
      break;
    }
    case json::value_t::object: {
      out->push_back('{');
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(out, it.key());
        out->push_back(':');
        AppendGoJson(out, it.value());
      }
      out->push_back('}');
      break;
    }
    default: out->append("null"); break;  // binary and discarded values do not come from JSON
  }
}

// ---------------------------------------------------------------------------------------------
// Values. A Value is "missing" (Go's invalid reflect.Value, printed <no value>) or a JSON value,
// borrowed from the data being executed or owned by a shared_ptr that children keep alive.

class Value {
 public:
  Value() = default;
  static Value Own(json v) {
    auto p = std::make_shared<const json>(std::move(v));
    Value out;
    out.j_ = p.get();
    out.keep_ = std::move(p);
    return out;
  }
  static Value Borrow(const json* j) {
    Value out;
    out.j_ = j;
    return out;
  }
  Value Child(const json& c) const {
    Value out;
    out.j_ = &c;
    out.keep_ = keep_;
    return out;
  }
  bool missing() const { return j_ == nullptr; }
  // A value of its own (made by Own), not a part of the data or of another value.
  bool owned() const { return keep_ != nullptr && keep_.get() == j_; }
  // Missing or JSON null: what Go would see as a nil interface.
  bool nil() const { return j_ == nullptr || j_->is_null(); }
  const json& get() const { return *j_; }

 private:
  const json* j_ = nullptr;
  std::shared_ptr<const json> keep_;
};

bool IsInt(const json& j) { return j.is_number_integer(); }  // signed or unsigned
bool IsString(const Value& v) { return !v.missing() && v.get().is_string(); }

// Go's type names as fmt and text/template print them for decoded JSON; integral JSON numbers are
// treated as Go ints (docker's typed structs use int there).
std::string GoType(const Value& v) {
  if (v.nil()) return "<nil>";
  switch (v.get().type()) {
    case json::value_t::boolean: return "bool";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "int";
    case json::value_t::number_float: return "float64";
    case json::value_t::string: return "string";
    case json::value_t::array: return "[]interface {}";
    case json::value_t::object: return "map[string]interface {}";
    default: return "<nil>";
  }
}

// Go's template truth: false, 0, "", nil and empty arrays and maps are false.
bool Truth(const Value& v) {
  if (v.nil()) return false;
  const json& j = v.get();
  switch (j.type()) {
    case json::value_t::boolean: return j.get<bool>();
    case json::value_t::number_integer: return j.get<int64_t>() != 0;
    case json::value_t::number_unsigned: return j.get<uint64_t>() != 0;
    case json::value_t::number_float: return j.get<double>() != 0;
    case json::value_t::string: return !j.get_ref<const std::string&>().empty();
    case json::value_t::array:
    case json::value_t::object: return !j.empty();
    default: return true;
  }
}

// ---------------------------------------------------------------------------------------------
// fmt: %v printing and a Printf that follows Go's verbs, flags and error notation.

struct FmtSpec {
  bool minus = false, plus = false, sharp = false, space = false, zero = false;
  bool wid_present = false, prec_present = false;
  int wid = 0, prec = 0;
};

class Printer {
 public:
  std::string out;

  void Pad(std::string_view s, const FmtSpec& f, bool zero_ok = true) {
    const size_t n = RuneCount(s);
    if (!f.wid_present || static_cast<size_t>(f.wid) <= n) {
      out.append(s);
      return;
    }
    const size_t pad = static_cast<size_t>(f.wid) - n;
    if (f.minus) {
      out.append(s);
      out.append(pad, ' ');
    } else {
      out.append(pad, f.zero && zero_ok ? '0' : ' ');
      out.append(s);
    }
  }

  void BadVerb(char32_t verb, const Value& v) {
    out.append("%!");
    AppendRune(&out, verb);
    out.push_back('(');
    if (v.nil()) {
      out.append("<nil>");
    } else {
      out.append(GoType(v)).push_back('=');
      PrintArg(v, 'v', FmtSpec{});
    }
    out.push_back(')');
  }

  void FmtInteger(bool neg, uint64_t mag, char32_t verb, FmtSpec f, const Value& v) {
    int base = 10;
    bool upper = false;
    switch (verb) {
      case 'v':
      case 'd': break;
      case 'b': base = 2; break;
      case 'o':
      case 'O': base = 8; break;
      case 'x': base = 16; break;
      case 'X': base = 16, upper = true; break;
      case 'c': {
        std::string s;
        AppendRune(&s, neg || mag > 0x10FFFF ? kRuneError : static_cast<char32_t>(mag));
        Pad(s, f);
        return;
      }
      case 'q': Pad(GoQuoteRune(neg || mag > 0x10FFFF ? kRuneError : static_cast<char32_t>(mag)), f); return;
      case 'U': Pad(FormatU(neg || mag > 0x10FFFF ? kRuneError : static_cast<char32_t>(mag), f.sharp), f); return;
      default: BadVerb(verb, v); return;
    }
    static constexpr char kLower[] = "0123456789abcdef";
    static constexpr char kUpper[] = "0123456789ABCDEF";
    const char* table = upper ? kUpper : kLower;
    const auto ubase = static_cast<uint64_t>(base);
    char buf[65];  // 64 binary digits at most
    size_t n = sizeof buf;
    for (uint64_t m = mag; m > 0; m /= ubase) buf[--n] = table[m % ubase];
    std::string digits(buf + n, sizeof buf - n);
    // Precision is a minimum digit count (and %.0d of 0 prints nothing); zero padding to the
    // width is the same thing with room left for the sign.
    int prec = 1;
    if (f.prec_present) {
      prec = f.prec;
      f.zero = false;
    } else if (f.zero && f.wid_present && !f.minus) {
      prec = f.wid;
      if (neg || f.plus || f.space) --prec;
    }
    if (static_cast<int>(digits.size()) < prec) digits.insert(0, static_cast<size_t>(prec) - digits.size(), '0');
    std::string prefix;
    if (f.sharp) {
      if (base == 2) prefix = "0b";
      else if (base == 8 && (digits.empty() || digits[0] != '0')) prefix = "0";
      else if (base == 16) prefix = upper ? "0X" : "0x";
    }
    if (verb == 'O') prefix = "0o";
    std::string s = neg ? "-" : f.plus ? "+" : f.space ? " " : "";
    s += prefix + digits;
    f.zero = false;  // already applied through the precision
    Pad(s, f);
  }

  void FmtFloat(double x, char32_t verb, const FmtSpec& f, const Value& v) {
    char fmt;
    int prec = f.prec_present ? f.prec : -1;
    switch (verb) {
      case 'v':
      case 'g': fmt = 'g'; break;
      case 'G': fmt = 'G'; break;
      case 'e':
      case 'E':
      case 'f':
      case 'F':
        fmt = static_cast<char>(verb);
        if (prec < 0) prec = 6;
        break;
      default: BadVerb(verb, v); return;
    }
    std::string num = FormatFloat(x, fmt, prec);
    if (num[0] != '-' && num[0] != '+') num.insert(0, "+");
    if (f.space && num[0] == '+' && !f.plus) num[0] = ' ';
    const bool finite = std::isfinite(x);
    if (f.plus || num[0] != '+') {
      // Zero padding goes between the sign and the digits.
      if (finite && f.zero && !f.minus && f.wid_present && static_cast<size_t>(f.wid) > num.size()) {
        out.push_back(num[0]);
        out.append(static_cast<size_t>(f.wid) - num.size(), '0');
        out.append(num, 1);
        return;
      }
      Pad(num, f, finite);
      return;
    }
    Pad(std::string_view(num).substr(1), f, finite);
  }

  void FmtString(const std::string& s, char32_t verb, const FmtSpec& f, const Value& v) {
    switch (verb) {
      case 'v':
      case 's': {
        if (f.prec_present) {
          size_t i = 0;
          for (int n = 0; n < f.prec && i < s.size(); ++n) i += DecodeRune(s, i).second;
          Pad(std::string_view(s).substr(0, i), f);
        } else {
          Pad(s, f);
        }
        return;
      }
      case 'q': Pad(GoQuote(s), f); return;
      case 'x':
      case 'X': {
        std::string h;
        for (unsigned char c : s) {
          if (f.space && !h.empty()) h.push_back(' ');
          if (f.sharp && (f.space || h.empty())) h.append(verb == 'x' ? "0x" : "0X");
          h.append(Hex(c, 2, verb == 'X'));
        }
        Pad(h, f);
        return;
      }
      default: BadVerb(verb, v); return;
    }
  }

  void PrintArg(const Value& v, char32_t verb, const FmtSpec& f) {
    if (v.nil()) {
      if (verb == 'v' || verb == 'T') Pad("<nil>", f, false);
      else BadVerb(verb, v);
      return;
    }
    if (verb == 'T') {
      Pad(GoType(v), f, false);
      return;
    }
    const json& j = v.get();
    switch (j.type()) {
      case json::value_t::boolean:
        if (verb == 't' || verb == 'v') Pad(j.get<bool>() ? "true" : "false", f, false);
        else BadVerb(verb, v);
        return;
      case json::value_t::number_integer: {
        const int64_t i = j.get<int64_t>();
        FmtInteger(i < 0, i < 0 ? static_cast<uint64_t>(0) - static_cast<uint64_t>(i) : static_cast<uint64_t>(i), verb, f, v);
        return;
      }
      case json::value_t::number_unsigned: FmtInteger(false, j.get<uint64_t>(), verb, f, v); return;
      case json::value_t::number_float: FmtFloat(j.get<double>(), verb, f, v); return;
      case json::value_t::string: FmtString(j.get_ref<const std::string&>(), verb, f, v); return;
      case json::value_t::array: {
        out.push_back('[');
        bool first = true;
        for (const json& e : j) {
          if (!first) out.push_back(' ');
          first = false;
          // fmt prints a nil element as <nil> whatever the verb.
          if (e.is_null()) Pad("<nil>", f, false);
          else PrintArg(v.Child(e), verb, f);
        }
        out.push_back(']');
        return;
      }
      case json::value_t::object: {
        out.append("map[");
        bool first = true;
        for (auto it = j.begin(); it != j.end(); ++it) {
          if (!first) out.push_back(' ');
          first = false;
          FmtString(it.key(), verb, f, Value::Own(it.key()));
          out.push_back(':');
          if (it.value().is_null()) Pad("<nil>", f, false);
          else PrintArg(v.Child(it.value()), verb, f);
        }
        out.push_back(']');
        return;
      }
      default: Pad("<nil>", f, false); return;
    }
  }
};

std::string Sprint(const std::vector<Value>& args) {
  Printer p;
  for (size_t i = 0; i < args.size(); ++i) {
    // fmt.Sprint puts a space between operands when neither is a string.
    if (i > 0 && !IsString(args[i]) && !IsString(args[i - 1])) p.out.push_back(' ');
    p.PrintArg(args[i], 'v', FmtSpec{});
  }
  return p.out;
}

std::string Sprintln(const std::vector<Value>& args) {
  Printer p;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) p.out.push_back(' ');
    p.PrintArg(args[i], 'v', FmtSpec{});
  }
  p.out.push_back('\n');
  return p.out;
}

// Stops (with what it has) once the output passes cap bytes: each verb adds at most a few MB (a
// width or precision of up to 10^7), but a format may hold thousands of verbs.
std::string Sprintf(std::string_view format, const std::vector<Value>& args,
                    size_t cap = std::string::npos) {
  Printer p;
  size_t argn = 0;
  const size_t end = format.size();
  for (size_t i = 0; i < end && p.out.size() <= cap;) {
    const size_t lasti = i;
    while (i < end && format[i] != '%') ++i;
    p.out.append(format.substr(lasti, i - lasti));
    if (i >= end) break;
    ++i;  // the '%'
    FmtSpec f;
    for (; i < end; ++i) {
      const char c = format[i];
      if (c == '#') f.sharp = true;
      else if (c == '0') f.zero = !f.minus;
      else if (c == '+') f.plus = true;
      else if (c == '-') f.minus = true, f.zero = false;
      else if (c == ' ') f.space = true;
      else break;
    }
    auto int_arg = [&](int* dst) -> bool {
      if (argn >= args.size()) return false;
      const Value& a = args[argn++];
      if (a.nil() || !IsInt(a.get())) return false;
      const int64_t n = a.get().get<int64_t>();
      if (n < -1000000 || n > 1000000) return false;
      *dst = static_cast<int>(n);
      return true;
    };
    auto parse_num = [&](int* dst) -> bool {
      bool any = false;
      int n = 0;
      while (i < end && format[i] >= '0' && format[i] <= '9') {
        if (n < 1000000) n = n * 10 + (format[i] - '0');
        ++i;
        any = true;
      }
      *dst = n;
      return any;
    };
    if (i < end && format[i] == '*') {
      ++i;
      f.wid_present = int_arg(&f.wid);
      if (!f.wid_present) p.out.append("%!(BADWIDTH)");
      if (f.wid < 0) f.wid = -f.wid, f.minus = true, f.zero = false;
    } else {
      f.wid_present = parse_num(&f.wid);
    }
    if (i < end && format[i] == '.') {
      ++i;
      if (i < end && format[i] == '*') {
        ++i;
        f.prec_present = int_arg(&f.prec);
        if (f.prec < 0) f.prec = 0, f.prec_present = false;
        if (!f.prec_present) p.out.append("%!(BADPREC)");
      } else {
        parse_num(&f.prec);
        f.prec_present = true;
      }
    }
    if (i >= end) {
      p.out.append("%!(NOVERB)");
      break;
    }
    auto [verb, w] = DecodeRune(format, i);
    i += w;
    if (verb == '%') {
      p.out.push_back('%');
      continue;
    }
    if (argn >= args.size()) {
      p.out.append("%!");
      AppendRune(&p.out, verb);
      p.out.append("(MISSING)");
      continue;
    }
    p.PrintArg(args[argn++], verb, f);
  }
  if (argn < args.size()) {
    p.out.append("%!(EXTRA ");
    for (size_t k = argn; k < args.size(); ++k) {
      if (k > argn) p.out.append(", ");
      if (args[k].nil()) {
        p.out.append("<nil>");
      } else {
        p.out.append(GoType(args[k])).push_back('=');
        p.PrintArg(args[k], 'v', FmtSpec{});
      }
    }
    p.out.push_back(')');
  }
  return p.out;
}

// ---------------------------------------------------------------------------------------------
// Lexer: Go's text/template lexer, run to completion (it stops at the first error, which the
// parser reports when it reaches that token, so earlier syntax errors still win as in Go).

enum class Tok {
  kError, kBool, kChar, kCharConstant, kAssign, kDeclare, kEOF, kField, kIdentifier, kLeftDelim,
  kLeftParen, kNumber, kPipe, kRawString, kRightDelim, kRightParen, kSpace, kString, kText,
  kVariable,
  kKeyword,  // the keywords follow; Go prints them as <name> in errors
  kBlock, kBreak, kContinue, kDot, kDefine, kElse, kEnd, kIf, kNil, kRange, kTemplate, kWith,
};

struct Token {
  Tok type;
  size_t pos;
  std::string val;
  int line;
};

// Go's item.String(), used in "unexpected X in Y".
std::string TokenString(const Token& t) {
  if (t.type == Tok::kEOF) return "EOF";
  if (t.type == Tok::kError) return t.val;
  if (t.type > Tok::kKeyword) return "<" + t.val + ">";
  if (RuneCount(t.val) > 10) {
    size_t i = 0;
    for (int n = 0; n < 10; ++n) i += DecodeRune(t.val, i).second;
    return GoQuote(std::string_view(t.val).substr(0, i)) + "...";
  }
  return GoQuote(t.val);
}

constexpr std::string_view kLeftDelim = "{{";
constexpr std::string_view kRightDelim = "}}";

bool IsSpaceChar(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsAlnumChar(char c) {
  // Bytes of multi-byte UTF-8 sequences count as letters (Go accepts Unicode letters here).
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool HasLeftTrimMarker(std::string_view s) { return s.size() >= 2 && s[0] == '-' && IsSpaceChar(s[1]); }
bool HasRightTrimMarker(std::string_view s) { return s.size() >= 2 && IsSpaceChar(s[0]) && s[1] == '-'; }

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  std::vector<Token> Run() {
    State st = State::kText;
    while (st != State::kDone) {
      switch (st) {
        case State::kText: st = LexText(); break;
        case State::kLeftDelim: st = LexLeftDelim(); break;
        case State::kInside: st = LexInsideAction(); break;
        case State::kRightDelim: st = LexRightDelim(); break;
        case State::kDone: break;
      }
    }
    return std::move(toks_);
  }

 private:
  enum class State { kText, kLeftDelim, kInside, kRightDelim, kDone };

  // Tokens come in order, so count newlines from the last position asked about rather than from
  // the start: counting from the start made lexing quadratic in the template's length.
  int LineAt(size_t pos) {
    if (pos < line_pos_) line_pos_ = 0, line_ = 1;
    line_ += static_cast<int>(std::count(in_.begin() + static_cast<std::ptrdiff_t>(line_pos_),
                                         in_.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
    line_pos_ = pos;
    return line_;
  }
  void Emit(Tok t) {
    toks_.push_back(Token{t, start_, std::string(in_.substr(start_, pos_ - start_)), LineAt(start_)});
    start_ = pos_;
  }
  State Error(std::string msg) {
    toks_.push_back(Token{Tok::kError, start_, std::move(msg), LineAt(start_)});
    return State::kDone;
  }
  char Peek() const { return pos_ < in_.size() ? in_[pos_] : '\0'; }
  bool AtEnd() const { return pos_ >= in_.size(); }
  std::pair<bool, bool> AtRightDelim() const {
    std::string_view rest = in_.substr(std::min(pos_, in_.size()));
    if (HasRightTrimMarker(rest) && rest.substr(2).substr(0, 2) == kRightDelim) return {true, true};
    if (rest.substr(0, 2) == kRightDelim) return {true, false};
    return {false, false};
  }
  bool AtTerminator() const {
    if (AtEnd()) return true;
    const char c = in_[pos_];
    if (IsSpaceChar(c)) return true;
    switch (c) {
      case '.': case ',': case '|': case ':': case ')': case '(': return true;
      default: break;
    }
    // Go checks only the first rune of the right delimiter, so "{{.A}" lexes ".A" then "}".
    return c == kRightDelim[0];
  }
  void SkipSpaces() {
    while (pos_ < in_.size() && IsSpaceChar(in_[pos_])) ++pos_;
  }
  std::string BadChar() const {
    if (AtEnd()) return "bad character U+FFFFFFFF";  // Go's eof rune is -1
    return "bad character " + FormatU(DecodeRune(in_, pos_).first, true);
  }

  State LexText() {
    const size_t x = in_.find(kLeftDelim, pos_);
    if (x == std::string_view::npos) {
      pos_ = in_.size();
      if (pos_ > start_) Emit(Tok::kText);
      Emit(Tok::kEOF);
      return State::kDone;
    }
    if (x > pos_) {
      size_t end = x;
      // "{{- " trims the whitespace before it.
      if (HasLeftTrimMarker(in_.substr(x + kLeftDelim.size()))) {
        while (end > start_ && IsSpaceChar(in_[end - 1])) --end;
      }
      pos_ = end;
      if (pos_ > start_) Emit(Tok::kText);
    }
    pos_ = start_ = x;
    return State::kLeftDelim;
  }

  State LexLeftDelim() {
    pos_ += kLeftDelim.size();
    const bool trim = HasLeftTrimMarker(in_.substr(pos_));
    const size_t after = trim ? 2 : 0;
    if (in_.substr(pos_ + after).substr(0, 2) == "/*") {
      pos_ += after;
      start_ = pos_;
      return LexComment();
    }
    Emit(Tok::kLeftDelim);
    pos_ += after;
    start_ = pos_;
    paren_depth_ = 0;
    return State::kInside;
  }

  State LexComment() {
    pos_ += 2;
    const size_t x = in_.find("*/", pos_);
    if (x == std::string_view::npos) return Error("unclosed comment");
    pos_ = x + 2;
    auto [delim, trim] = AtRightDelim();
    if (!delim) return Error("comment ends before closing delimiter");
    if (trim) pos_ += 2;
    pos_ += kRightDelim.size();
    if (trim) SkipSpaces();
    start_ = pos_;
    return State::kText;
  }

  State LexRightDelim() {
    const bool trim = AtRightDelim().second;
    if (trim) pos_ += 2, start_ = pos_;
    pos_ += kRightDelim.size();
    Emit(Tok::kRightDelim);
    if (trim) SkipSpaces(), start_ = pos_;
    return State::kText;
  }

  State LexInsideAction() {
    if (AtRightDelim().first) {
      if (paren_depth_ == 0) return State::kRightDelim;
      return Error("unclosed left paren");
    }
    if (AtEnd()) return Error("unclosed action");
    const char c = in_[pos_];
    if (IsSpaceChar(c)) return LexSpace();
    switch (c) {
      case '=': ++pos_, Emit(Tok::kAssign); return State::kInside;
      case ':':
        pos_ += 1;
        if (Peek() != '=') return Error("expected :=");
        ++pos_;
        Emit(Tok::kDeclare);
        return State::kInside;
      case '|': ++pos_, Emit(Tok::kPipe); return State::kInside;
      case '"': return LexQuote('"', Tok::kString, "unterminated quoted string");
      case '\'': return LexQuote('\'', Tok::kCharConstant, "unterminated character constant");
      case '`': {
        const size_t x = in_.find('`', pos_ + 1);
        if (x == std::string_view::npos) return Error("unterminated raw quoted string");
        pos_ = x + 1;
        Emit(Tok::kRawString);
        return State::kInside;
      }
      case '$': return LexFieldOrVariable(Tok::kVariable);
      case '(':
        ++pos_, Emit(Tok::kLeftParen);
        ++paren_depth_;
        return State::kInside;
      case ')':
        ++pos_, Emit(Tok::kRightParen);
        if (--paren_depth_ < 0) return Error("unexpected right paren");
        return State::kInside;
      default: break;
    }
    if (c == '.' && pos_ + 1 < in_.size() && !(in_[pos_ + 1] >= '0' && in_[pos_ + 1] <= '9')) {
      return LexFieldOrVariable(Tok::kField);
    }
    if (c == '.' || c == '+' || c == '-' || (c >= '0' && c <= '9')) return LexNumber();
    if (IsAlnumChar(c)) return LexIdentifier();
    if (static_cast<unsigned char>(c) < 0x80 && c >= 0x20 && c != 0x7F) {
      ++pos_;
      Emit(Tok::kChar);
      return State::kInside;
    }
    return Error("unrecognized character in action: " + FormatU(DecodeRune(in_, pos_).first, true));
  }

  State LexSpace() {
    int n = 0;
    while (!AtEnd() && IsSpaceChar(in_[pos_])) ++pos_, ++n;
    // A " -}}" closes the action: leave its space for LexRightDelim.
    if (HasRightTrimMarker(in_.substr(pos_ - 1)) && in_.substr(pos_ + 1).substr(0, 2) == kRightDelim) {
      --pos_;
      if (n == 1) return State::kRightDelim;
    }
    Emit(Tok::kSpace);
    return State::kInside;
  }

  State LexQuote(char quote, Tok type, const char* unterminated) {
    ++pos_;
    while (true) {
      if (AtEnd() || in_[pos_] == '\n') return Error(unterminated);
      const char c = in_[pos_++];
      if (c == '\\') {
        if (AtEnd() || in_[pos_] == '\n') return Error(unterminated);
        ++pos_;
      } else if (c == quote) {
        break;
      }
    }
    Emit(type);
    return State::kInside;
  }

  State LexFieldOrVariable(Tok type) {
    ++pos_;  // the '.' or '$'
    if (AtTerminator()) {
      Emit(type == Tok::kVariable ? Tok::kVariable : Tok::kDot);
      return State::kInside;
    }
    while (!AtEnd() && IsAlnumChar(in_[pos_])) ++pos_;
    if (!AtTerminator()) return Error(BadChar());
    Emit(type);
    return State::kInside;
  }

  State LexIdentifier() {
    while (!AtEnd() && IsAlnumChar(in_[pos_])) ++pos_;
    if (!AtTerminator()) return Error(BadChar());
    const std::string_view word = in_.substr(start_, pos_ - start_);
    static const std::pair<std::string_view, Tok> kKeywords[] = {
        {"block", Tok::kBlock}, {"break", Tok::kBreak}, {"continue", Tok::kContinue},
        {"define", Tok::kDefine}, {"else", Tok::kElse}, {"end", Tok::kEnd}, {"if", Tok::kIf},
        {"nil", Tok::kNil}, {"range", Tok::kRange}, {"template", Tok::kTemplate},
        {"with", Tok::kWith}};
    for (const auto& [kw, t] : kKeywords) {
      if (word == kw) {
        Emit(t);
        return State::kInside;
      }
    }
    Emit(word == "true" || word == "false" ? Tok::kBool : Tok::kIdentifier);
    return State::kInside;
  }

  bool Accept(std::string_view valid) {
    if (!AtEnd() && valid.find(in_[pos_]) != std::string_view::npos) {
      ++pos_;
      return true;
    }
    return false;
  }
  void AcceptRun(std::string_view valid) {
    while (Accept(valid)) {
    }
  }
  bool ScanNumber() {
    Accept("+-");
    std::string_view digits = "0123456789_";
    if (Accept("0")) {
      if (Accept("xX")) digits = "0123456789abcdefABCDEF_";
      else if (Accept("oO")) digits = "01234567_";
      else if (Accept("bB")) digits = "01_";
    }
    AcceptRun(digits);
    if (Accept(".")) AcceptRun(digits);
    if (digits.size() == 11 && Accept("eE")) {
      Accept("+-");
      AcceptRun("0123456789_");
    }
    if (digits.size() == 23 && Accept("pP")) {
      Accept("+-");
      AcceptRun("0123456789_");
    }
    Accept("i");
    if (!AtEnd() && IsAlnumChar(in_[pos_])) {
      ++pos_;
      return false;
    }
    return true;
  }
  State LexNumber() {
    if (!ScanNumber() || Peek() == '+' || Peek() == '-') {
      // Go would go on to lex a complex constant like 1+2i; those have no use on JSON data.
      if (Peek() == '+' || Peek() == '-') ScanNumber();
      return Error("bad number syntax: " + GoQuote(in_.substr(start_, pos_ - start_)));
    }
    if (in_[pos_ - 1] == 'i') return Error("bad number syntax: " + GoQuote(in_.substr(start_, pos_ - start_)));
    Emit(Tok::kNumber);
    return State::kInside;
  }

  std::string_view in_;
  size_t pos_ = 0;
  size_t start_ = 0;
  int paren_depth_ = 0;
  std::vector<Token> toks_;
  size_t line_pos_ = 0;  // LineAt's memo: line_ is the line of in_[line_pos_]
  int line_ = 1;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Parse tree.

namespace internal {

enum class NodeKind {
  kList, kText, kAction, kIf, kRange, kWith, kBreak, kContinue, kEnd, kElse, kPipe, kCommand,
  kIdentifier, kField, kVariable, kDot, kNil, kBool, kNumber, kString, kChain,
};

struct Node {
  NodeKind kind;
  size_t pos = 0;
  std::string text;                         // text, identifier name, literal source
  std::vector<std::string> idents;          // field/variable names (variable: [0] is "$x")
  std::vector<std::unique_ptr<Node>> kids;  // list items, pipe commands, command arguments
  std::unique_ptr<Node> pipe;               // action/branch pipeline; chain receiver
  std::unique_ptr<Node> list, else_list;    // branch bodies
  std::vector<std::string> decls;           // pipe: declared/assigned variables
  bool is_assign = false;                   // pipe: "=" rather than ":="
  json literal;                             // bool/number/string literal value
};

}  // namespace internal

using internal::Node;
using internal::NodeKind;

namespace {

std::unique_ptr<Node> NewNode(NodeKind k, size_t pos) {
  auto n = std::make_unique<Node>();
  n->kind = k;
  n->pos = pos;
  return n;
}

// Go's Node.String(), used in error contexts.
std::string NodeString(const Node& n) {
  switch (n.kind) {
    case NodeKind::kText: return GoQuote(n.text);
    case NodeKind::kField: {
      std::string s;
      for (const auto& i : n.idents) s += "." + i;
      return s;
    }
    case NodeKind::kVariable: {
      std::string s;
      for (size_t i = 0; i < n.idents.size(); ++i) s += (i ? "." : "") + n.idents[i];
      return s;
    }
    case NodeKind::kChain: {
      std::string s = n.pipe->kind == NodeKind::kPipe ? "(" + NodeString(*n.pipe) + ")" : NodeString(*n.pipe);
      for (const auto& i : n.idents) s += "." + i;
      return s;
    }
    case NodeKind::kIdentifier:
    case NodeKind::kNumber:
    case NodeKind::kString:
    case NodeKind::kBool: return n.text;
    case NodeKind::kDot: return ".";
    case NodeKind::kNil: return "nil";
    case NodeKind::kCommand: {
      std::string s;
      for (size_t i = 0; i < n.kids.size(); ++i) {
        if (i) s += " ";
        const Node& a = *n.kids[i];
        s += a.kind == NodeKind::kPipe ? "(" + NodeString(a) + ")" : NodeString(a);
      }
      return s;
    }
    case NodeKind::kPipe: {
      std::string s;
      if (!n.decls.empty()) {
        for (size_t i = 0; i < n.decls.size(); ++i) s += (i ? ", " : "") + n.decls[i];
        s += n.is_assign ? " = " : " := ";
      }
      for (size_t i = 0; i < n.kids.size(); ++i) s += (i ? " | " : "") + NodeString(*n.kids[i]);
      return s;
    }
    case NodeKind::kAction: return "{{" + NodeString(*n.pipe) + "}}";
    case NodeKind::kIf:
    case NodeKind::kRange:
    case NodeKind::kWith: {
      const char* name = n.kind == NodeKind::kIf ? "if" : n.kind == NodeKind::kRange ? "range" : "with";
      std::string s = std::string("{{") + name + " " + NodeString(*n.pipe) + "}}" + NodeString(*n.list);
      if (n.else_list) s += "{{else}}" + NodeString(*n.else_list);
      return s + "{{end}}";
    }
    case NodeKind::kList: {
      std::string s;
      for (const auto& k : n.kids) s += k->kind == NodeKind::kText ? k->text : NodeString(*k);
      return s;
    }
    case NodeKind::kBreak: return "{{break}}";
    case NodeKind::kContinue: return "{{continue}}";
    case NodeKind::kEnd: return "{{end}}";
    case NodeKind::kElse: return "{{else}}";
  }
  return "";
}

// The functions a template may name; Go rejects unknown names at parse time.
bool IsKnownFunction(std::string_view name) {
  static const std::string_view kNames[] = {
      "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
      "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
      // docker/cli templates.basicFunctions
      "json", "split", "join", "title", "lower", "upper", "pad", "truncate"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

// How deep parenthesized pipelines and controls (if, range, with, and each "else if") may nest,
// counted together. Parsing, executing and destroying the tree recurse once per level on the
// caller's stack: 2000 parentheses overflowed an 8 MiB stack in an ASan build. Go stops at 10000
// parentheses (parse.go maxStackDepth; its message is kept) and never for controls, as its stacks
// grow; a real --format nests a handful of levels.
constexpr int kMaxNesting = 256;

// Go's parse.Tree, method for method.
class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : toks_(std::move(toks)) {}

  std::unique_ptr<Node> Parse() {
    auto root = NewNode(NodeKind::kList, 0);
    while (Peek().type != Tok::kEOF) {
      auto n = TextOrAction();
      if (n->kind == NodeKind::kEnd || n->kind == NodeKind::kElse) Errorf("unexpected " + NodeString(*n));
      root->kids.push_back(std::move(n));
    }
    return root;
  }

 private:
  const Token& Next() {
    const size_t i = std::min(i_, toks_.size() - 1);
    ++i_;
    max_read_ = std::max(max_read_, i);
    return toks_[i];
  }
  void Backup(size_t n = 1) { i_ -= n; }
  const Token& Peek() {
    const Token& t = Next();
    Backup();
    return t;
  }
  const Token& NextNonSpace() {
    while (true) {
      const Token& t = Next();
      if (t.type != Tok::kSpace) return t;
    }
  }
  const Token& PeekNonSpace() {
    const Token& t = NextNonSpace();
    Backup();
    return t;
  }

  [[noreturn]] void Errorf(const std::string& msg) {
    Throw("template: :" + std::to_string(toks_[max_read_].line) + ": " + msg);
  }
  [[noreturn]] void Unexpected(const Token& t, const std::string& context) {
    if (t.type == Tok::kError) {
      std::string extra;
      if (action_line_ != 0 && action_line_ != t.line) {
        extra = " in action started at :" + std::to_string(action_line_);
        const std::string_view sfx = " action";
        if (t.val.size() >= sfx.size() && t.val.compare(t.val.size() - sfx.size(), sfx.size(), sfx) == 0) {
          extra = extra.substr(std::string_view(" in action").size());
        }
      }
      Errorf(t.val + extra);
    }
    Errorf("unexpected " + TokenString(t) + " in " + context);
  }
  const Token& Expect(Tok type, const std::string& context) {
    const Token& t = NextNonSpace();
    if (t.type != type) Unexpected(t, context);
    return t;
  }

  // Returns the list and the {{end}} or {{else}} node that closed it.
  std::pair<std::unique_ptr<Node>, std::unique_ptr<Node>> ItemList() {
    auto list = NewNode(NodeKind::kList, PeekNonSpace().pos);
    while (PeekNonSpace().type != Tok::kEOF) {
      auto n = TextOrAction();
      if (n->kind == NodeKind::kEnd || n->kind == NodeKind::kElse) return {std::move(list), std::move(n)};
      list->kids.push_back(std::move(n));
    }
    Errorf("unexpected EOF");
  }

  std::unique_ptr<Node> TextOrAction() {
    const Token& t = NextNonSpace();
    switch (t.type) {
      case Tok::kText: {
        auto n = NewNode(NodeKind::kText, t.pos);
        n->text = t.val;
        return n;
      }
      case Tok::kLeftDelim: {
        action_line_ = t.line;
        auto n = Action();
        action_line_ = 0;
        return n;
      }
      default: Unexpected(t, "input");
    }
  }

  std::unique_ptr<Node> Action() {
    const Token& t = NextNonSpace();
    switch (t.type) {
      case Tok::kBlock:
      case Tok::kDefine:
      case Tok::kTemplate: Errorf("{{" + t.val + "}} is not supported");
      case Tok::kBreak:
      case Tok::kContinue: {
        const bool is_break = t.type == Tok::kBreak;
        const size_t pos = t.pos;
        const std::string name = is_break ? "{{break}}" : "{{continue}}";
        const Token& close = NextNonSpace();
        if (close.type != Tok::kRightDelim) Unexpected(close, name);
        if (range_depth_ == 0) Errorf(name + " outside {{range}}");
        return NewNode(is_break ? NodeKind::kBreak : NodeKind::kContinue, pos);
      }
      case Tok::kElse: {
        // "{{else if" and "{{else with" leave the keyword pending for the enclosing control.
        const Token& p = PeekNonSpace();
        if (p.type == Tok::kIf || p.type == Tok::kWith) return NewNode(NodeKind::kElse, p.pos);
        return NewNode(NodeKind::kElse, Expect(Tok::kRightDelim, "else").pos);
      }
      case Tok::kEnd: return NewNode(NodeKind::kEnd, Expect(Tok::kRightDelim, "end").pos);
      case Tok::kIf: return Control(NodeKind::kIf, "if");
      case Tok::kRange: return Control(NodeKind::kRange, "range");
      case Tok::kWith: return Control(NodeKind::kWith, "with");
      default: break;
    }
    Backup();
    auto n = NewNode(NodeKind::kAction, Peek().pos);
    n->pipe = Pipeline("command", Tok::kRightDelim);
    return n;
  }

  std::unique_ptr<Node> Control(NodeKind kind, const std::string& context) {
    if (depth_ >= kMaxNesting) Errorf("max nesting depth exceeded");
    ++depth_;
    const size_t saved_vars = vars_.size();
    auto n = NewNode(kind, 0);
    n->pipe = Pipeline(context, Tok::kRightDelim);
    n->pos = n->pipe->pos;
    if (kind == NodeKind::kRange) ++range_depth_;
    auto [list, next] = ItemList();
    if (kind == NodeKind::kRange) --range_depth_;
    n->list = std::move(list);
    if (next->kind == NodeKind::kElse) {
      // {{if a}}x{{else if b}}y{{end}} is {{if a}}x{{else}}{{if b}}y{{end}}{{end}}: parse the
      // inner control, whose {{end}} closes both.
      if (kind == NodeKind::kIf && Peek().type == Tok::kIf) {
        Next();
        n->else_list = NewNode(NodeKind::kList, next->pos);
        n->else_list->kids.push_back(Control(NodeKind::kIf, "if"));
      } else if (kind == NodeKind::kWith && Peek().type == Tok::kWith) {
        Next();
        n->else_list = NewNode(NodeKind::kList, next->pos);
        n->else_list->kids.push_back(Control(NodeKind::kWith, "with"));
      } else {
        auto [else_list, end] = ItemList();
        if (end->kind != NodeKind::kEnd) Errorf("expected end; found " + NodeString(*end));
        n->else_list = std::move(else_list);
      }
    }
    vars_.resize(saved_vars);
    --depth_;
    return n;
  }

  std::unique_ptr<Node> Pipeline(const std::string& context, Tok end) {
    const Token& first = PeekNonSpace();
    auto pipe = NewNode(NodeKind::kPipe, first.pos);
    // Declarations: "$x :=", "$x =", and in range "$i, $e :=".
    while (PeekNonSpace().type == Tok::kVariable) {
      const size_t at_var = i_;  // PeekNonSpace left us on the variable
      const Token& v = Next();
      const Token& next = PeekNonSpace();
      if (next.type == Tok::kAssign || next.type == Tok::kDeclare) {
        pipe->is_assign = next.type == Tok::kAssign;
        NextNonSpace();
        pipe->decls.push_back(v.val);
        vars_.push_back(v.val);
        break;
      }
      if (next.type == Tok::kChar && next.val == ",") {
        NextNonSpace();
        pipe->decls.push_back(v.val);
        vars_.push_back(v.val);
        if (context == "range" && pipe->decls.size() < 2) {
          const Tok t = PeekNonSpace().type;
          if (t == Tok::kVariable || t == Tok::kRightDelim || t == Tok::kRightParen) continue;
          Errorf("range can only initialize variables");
        }
        Errorf("too many declarations in " + context);
      }
      // Not a declaration: the variable is the pipeline's first operand.
      i_ = at_var;
      break;
    }
    while (true) {
      const Token& t = NextNonSpace();
      if (t.type == end) {
        CheckPipeline(*pipe, context);
        return pipe;
      }
      switch (t.type) {
        case Tok::kBool: case Tok::kCharConstant: case Tok::kDot: case Tok::kField:
        case Tok::kIdentifier: case Tok::kNumber: case Tok::kNil: case Tok::kRawString:
        case Tok::kString: case Tok::kVariable: case Tok::kLeftParen:
          Backup();
          pipe->kids.push_back(Command());
          break;
        default: Unexpected(t, context);
      }
    }
  }

  void CheckPipeline(const Node& pipe, const std::string& context) {
    if (pipe.kids.empty()) Errorf("missing value for " + context);
    for (size_t i = 1; i < pipe.kids.size(); ++i) {
      switch (pipe.kids[i]->kids[0]->kind) {
        case NodeKind::kBool: case NodeKind::kDot: case NodeKind::kNil: case NodeKind::kNumber:
        case NodeKind::kString:
          Errorf("non executable command in pipeline stage " + std::to_string(i + 1));
        default: break;
      }
    }
  }

  std::unique_ptr<Node> Command() {
    auto cmd = NewNode(NodeKind::kCommand, PeekNonSpace().pos);
    while (true) {
      PeekNonSpace();
      if (auto operand = Operand()) cmd->kids.push_back(std::move(operand));
      const Token& t = Next();
      if (t.type == Tok::kSpace) continue;
      if (t.type == Tok::kRightDelim || t.type == Tok::kRightParen) {
        Backup();
      } else if (t.type != Tok::kPipe) {
        Unexpected(t, "operand");
      }
      break;
    }
    if (cmd->kids.empty()) Errorf("empty command");
    return cmd;
  }

  std::unique_ptr<Node> Operand() {
    auto node = Term();
    if (!node) return nullptr;
    if (Peek().type == Tok::kField) {
      std::vector<std::string> fields;
      const size_t pos = Peek().pos;
      while (Peek().type == Tok::kField) fields.push_back(Next().val.substr(1));
      switch (node->kind) {
        case NodeKind::kField:
        case NodeKind::kVariable:
          // Go re-creates the node at the first added field, so errors point there.
          node->pos = pos;
          for (auto& f : fields) node->idents.push_back(std::move(f));
          return node;
        case NodeKind::kBool: case NodeKind::kString: case NodeKind::kNumber: case NodeKind::kNil:
        case NodeKind::kDot:
          Errorf("unexpected . after term " + GoQuote(NodeString(*node)));
        default: {
          auto chain = NewNode(NodeKind::kChain, pos);
          chain->pipe = std::move(node);
          chain->idents = std::move(fields);
          return chain;
        }
      }
    }
    return node;
  }

  std::unique_ptr<Node> Term() {
    const Token& t = NextNonSpace();
    switch (t.type) {
      case Tok::kIdentifier: {
        if (!IsKnownFunction(t.val)) Errorf("function " + GoQuote(t.val) + " not defined");
        auto n = NewNode(NodeKind::kIdentifier, t.pos);
        n->text = t.val;
        return n;
      }
      case Tok::kDot: return NewNode(NodeKind::kDot, t.pos);
      case Tok::kNil: return NewNode(NodeKind::kNil, t.pos);
      case Tok::kVariable: {
        if (std::find(vars_.begin(), vars_.end(), t.val) == vars_.end()) {
          Errorf("undefined variable " + GoQuote(t.val));
        }
        auto n = NewNode(NodeKind::kVariable, t.pos);
        n->idents.push_back(t.val);
        return n;
      }
      case Tok::kField: {
        auto n = NewNode(NodeKind::kField, t.pos);
        n->idents.push_back(t.val.substr(1));
        return n;
      }
      case Tok::kBool: {
        auto n = NewNode(NodeKind::kBool, t.pos);
        n->text = t.val;
        n->literal = t.val == "true";
        return n;
      }
      case Tok::kCharConstant:
      case Tok::kNumber: return Number(t);
      case Tok::kLeftParen: {
        if (depth_ >= kMaxNesting) Errorf("max expression depth exceeded");
        ++depth_;
        auto n = Pipeline("parenthesized pipeline", Tok::kRightParen);
        --depth_;
        return n;
      }
      case Tok::kString:
      case Tok::kRawString: {
        auto n = NewNode(NodeKind::kString, t.pos);
        n->text = t.val;
        if (t.type == Tok::kRawString) {
          // Go drops carriage returns from raw strings.
          std::string s = t.val.substr(1, t.val.size() - 2);
          s.erase(std::remove(s.begin(), s.end(), '\r'), s.end());
          n->literal = s;
        } else {
          auto s = UnquoteEscapes(std::string_view(t.val).substr(1, t.val.size() - 2), '"');
          if (!s) Errorf("invalid syntax");
          n->literal = *s;
        }
        return n;
      }
      default: break;
    }
    Backup();
    return nullptr;
  }

  std::unique_ptr<Node> Number(const Token& t) {
    auto n = NewNode(NodeKind::kNumber, t.pos);
    n->text = t.val;
    if (t.type == Tok::kCharConstant) {
      auto s = UnquoteEscapes(std::string_view(t.val).substr(1, t.val.size() - 2), '\'');
      if (!s || s->empty()) Errorf("malformed character constant: " + t.val);
      if (s->size() == 1) {  // includes a byte escape such as '\xff'
        n->literal = static_cast<int64_t>(static_cast<unsigned char>((*s)[0]));
        return n;
      }
      auto [r, w] = DecodeRune(*s, 0);
      if (w != s->size() || r == kRuneError) Errorf("malformed character constant: " + t.val);
      n->literal = static_cast<int64_t>(r);
      return n;
    }
    std::string s = t.val;
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    bool neg = false;
    std::string_view body = s;
    if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
      neg = body[0] == '-';
      body.remove_prefix(1);
    }
    int base = 10;
    std::string_view digits = body;
    if (body.size() > 1 && body[0] == '0') {
      const char b = body[1];
      if (b == 'x' || b == 'X') base = 16, digits = body.substr(2);
      else if (b == 'o' || b == 'O') base = 8, digits = body.substr(2);
      else if (b == 'b' || b == 'B') base = 2, digits = body.substr(2);
      else if (body.find_first_of(".eE") == std::string_view::npos) base = 8, digits = body.substr(1);
    }
    const bool is_float_syntax = base != 16 ? body.find_first_of(".eE") != std::string_view::npos
                                            : body.find_first_of(".pP") != std::string_view::npos;
    if (!is_float_syntax) {
      uint64_t v = 0;
      auto res = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
      if (digits.empty() || res.ec != std::errc() || res.ptr != digits.data() + digits.size()) {
        Errorf("illegal number syntax: " + GoQuote(t.val));
      }
      if (v > (neg ? uint64_t{1} << 63 : static_cast<uint64_t>(INT64_MAX))) {
        if (neg) Errorf("illegal number syntax: " + GoQuote(t.val));
        n->literal = v;
      } else {
        n->literal = neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
      }
      return n;
    }
    char* endp = nullptr;
    const double d = std::strtod(s.c_str(), &endp);
    if (endp != s.c_str() + s.size() || base == 8 || base == 2) Errorf("illegal number syntax: " + GoQuote(t.val));
    n->literal = d;
    return n;
  }

  std::vector<Token> toks_;
  size_t i_ = 0;
  size_t max_read_ = 0;
  int action_line_ = 0;
  int range_depth_ = 0;
  int depth_ = 0;  // open parentheses and controls, for kMaxNesting
  std::vector<std::string> vars_ = {"$"};
};

// ---------------------------------------------------------------------------------------------
// Evaluation.

enum class Flow { kNormal, kBreak, kContinue };

class Executor {
 public:
  Executor(std::string_view text, Template::Functions functions, uint64_t work_limit,
           std::string* out)
      : text_(text), header_(functions == Template::Functions::kHeader), out_(out),
        work_limit_(work_limit) {}

  void Run(const Node& root, const json& dot) {
    const Value d = Value::Borrow(&dot);
    vars_.push_back({"$", d});
    Walk(d, root);
  }

 private:
  struct Var {
    std::string name;
    Value value;
  };

  // Counts work against the limit (Template::ExecuteTo): a step, a range iteration, a byte made
  // by a function or written out.
  void Charge(const Node& at, uint64_t units) {
    work_ += units;
    if (work_ > work_limit_) {
      Fail(at, "execution stopped: the template's work limit (" + std::to_string(work_limit_) +
                   " steps and bytes) is exceeded");
    }
  }
  uint64_t WorkLeft() const { return work_ >= work_limit_ ? 0 : work_limit_ - work_; }

  // About the memory a value a function made holds: its bytes, and 16 a value (split "" of a
  // long string makes an element per byte). Data a value only points into is not counted.
  static uint64_t Size(const json& j) {
    constexpr uint64_t kPerValue = 16;
    switch (j.type()) {
      case json::value_t::string: return kPerValue + j.get_ref<const std::string&>().size();
      case json::value_t::array: {
        uint64_t n = kPerValue;
        for (const json& e : j) n += Size(e);
        return n;
      }
      case json::value_t::object: {
        uint64_t n = kPerValue;
        for (auto it = j.begin(); it != j.end(); ++it) n += it.key().size() + Size(it.value());
        return n;
      }
      default: return kPerValue;
    }
  }

  [[noreturn]] void Fail(const Node& at, const std::string& msg) {
    const std::string_view before = text_.substr(0, std::min(at.pos, text_.size()));
    const size_t nl = before.rfind('\n');
    const size_t col = nl == std::string_view::npos ? at.pos : at.pos - nl - 1;
    const int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    Throw("template: :" + std::to_string(line) + ":" + std::to_string(col) + ": executing \"\" at <" +
          NodeString(at) + ">: " + msg);
  }

  Flow Walk(const Value& dot, const Node& n) {
    if (n.kind != NodeKind::kList) Charge(n, 1);  // a list's items are charged, and blamed
    switch (n.kind) {
      case NodeKind::kList:
        for (const auto& k : n.kids) {
          const Flow f = Walk(dot, *k);
          if (f != Flow::kNormal) return f;
        }
        return Flow::kNormal;
      case NodeKind::kText:
        Charge(n, n.text.size());
        out_->append(n.text);
        return Flow::kNormal;
      case NodeKind::kAction: {
        const Value v = EvalPipeline(dot, *n.pipe);
        if (n.pipe->decls.empty()) Print(n, v);
        return Flow::kNormal;
      }
      case NodeKind::kIf:
      case NodeKind::kWith: {
        const size_t mark = vars_.size();
        const Value v = EvalPipeline(dot, *n.pipe);
        Flow f = Flow::kNormal;
        if (Truth(v)) {
          f = Walk(n.kind == NodeKind::kWith ? v : dot, *n.list);
        } else if (n.else_list) {
          f = Walk(dot, *n.else_list);
        }
        vars_.resize(mark);
        return f;
      }
      case NodeKind::kRange: WalkRange(dot, n); return Flow::kNormal;
      case NodeKind::kBreak: return Flow::kBreak;
      case NodeKind::kContinue: return Flow::kContinue;
      default: Fail(n, "unknown node");
    }
  }

  void Print(const Node& at, const Value& v) {
    if (v.missing()) {
      out_->append("<no value>");
      return;
    }
    Printer p;
    p.PrintArg(v, 'v', FmtSpec{});
    Charge(at, p.out.size());
    out_->append(p.out);
  }

  void WalkRange(const Value& dot, const Node& r) {
    const size_t mark = vars_.size();
    const Value val = EvalPipeline(dot, *r.pipe);
    const auto& decls = r.pipe->decls;
    // Go's oneIteration: with ":=" the declared variables sit on top of the stack (element on
    // top, index below it); with "=" they are assigned by name.
    auto one = [&](const Value& index, const Value& elem) -> Flow {
      Charge(r, 1);
      if (!decls.empty()) {
        if (r.pipe->is_assign) SetVar(r, decls[0], decls.size() > 1 ? index : elem);
        else vars_[vars_.size() - 1].value = elem;
      }
      if (decls.size() > 1) {
        if (r.pipe->is_assign) SetVar(r, decls[1], elem);
        else vars_[vars_.size() - 2].value = index;
      }
      const size_t inner = vars_.size();
      const Flow f = Walk(elem, *r.list);
      vars_.resize(inner);
      return f;
    };
    bool any = false;
    if (!val.nil()) {
      const json& j = val.get();
      if (j.is_array()) {
        for (size_t i = 0; i < j.size(); ++i) {
          any = true;
          if (one(Value::Own(static_cast<int64_t>(i)), val.Child(j[i])) == Flow::kBreak) break;
        }
      } else if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) {  // nlohmann keeps keys sorted, as Go ranges maps
          any = true;
          if (one(Value::Own(it.key()), val.Child(it.value())) == Flow::kBreak) break;
        }
      } else if (IsInt(j)) {
        if (decls.size() > 1) Fail(r, "can't use " + GoValueString(j) + " to iterate over more than one variable");
        const int64_t n = j.is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(j.get<uint64_t>(), INT64_MAX))
                                                 : j.get<int64_t>();
        for (int64_t i = 0; i < n; ++i) {
          any = true;
          const Value iv = Value::Own(i);
          if (one(iv, iv) == Flow::kBreak) break;
        }
      } else {
        Fail(r, "range can't iterate over " + GoValueString(j));
      }
    }
    // null stands for a nil slice or map in docker's data: no iterations, like Go on those.
    if (!any && r.else_list) Walk(dot, *r.else_list);
    vars_.resize(mark);
  }

  void SetVar(const Node& at, const std::string& name, const Value& v) {
    for (size_t i = vars_.size(); i-- > 0;) {
      if (vars_[i].name == name) {
        vars_[i].value = v;
        return;
      }
    }
    Fail(at, "undefined variable: " + name);
  }

  Value VarValue(const Node& at, const std::string& name) {
    for (size_t i = vars_.size(); i-- > 0;) {
      if (vars_[i].name == name) return vars_[i].value;
    }
    Fail(at, "undefined variable: " + name);
  }

  Value EvalPipeline(const Value& dot, const Node& pipe) {
    Value v;
    for (size_t i = 0; i < pipe.kids.size(); ++i) {
      const Value final = v;
      v = EvalCommand(dot, *pipe.kids[i], i > 0 ? &final : nullptr);
      // Go digs a nil interface{} out of each stage, leaving an invalid value: <no value>.
      if (!v.missing() && v.get().is_null()) v = Value();
    }
    for (const auto& name : pipe.decls) {
      if (pipe.is_assign) SetVar(pipe, name, v);
      else vars_.push_back({name, v});
    }
    return v;
  }

  void NotAFunction(const Node& cmd, const Value* final) {
    if (cmd.kids.size() > 1 || final) Fail(cmd, "can't give argument to non-function " + NodeString(*cmd.kids[0]));
  }

  Value EvalCommand(const Value& dot, const Node& cmd, const Value* final) {
    Charge(cmd, 1);
    const Node& first = *cmd.kids[0];
    switch (first.kind) {
      case NodeKind::kField: return EvalFieldChain(dot, first, first.idents, cmd.kids.size() > 1, final);
      case NodeKind::kChain: {
        const Value recv = EvalChainReceiver(dot, first);
        return EvalFieldChain(recv, first, first.idents, cmd.kids.size() > 1, final);
      }
      case NodeKind::kIdentifier: return EvalFunction(dot, first, cmd, final);
      case NodeKind::kPipe:
        NotAFunction(cmd, final);
        return EvalPipeline(dot, first);
      case NodeKind::kVariable: {
        const Value v = VarValue(first, first.idents[0]);
        if (first.idents.size() == 1) {
          NotAFunction(cmd, final);
          return v;
        }
        return EvalFieldChain(v, first, std::vector<std::string>(first.idents.begin() + 1, first.idents.end()),
                              cmd.kids.size() > 1, final);
      }
      default: break;
    }
    NotAFunction(cmd, final);
    switch (first.kind) {
      case NodeKind::kDot: return dot;
      case NodeKind::kNil: Fail(first, "nil is not a command");
      default: return Value::Own(first.literal);
    }
  }

  Value EvalChainReceiver(const Value& dot, const Node& chain) {
    if (chain.pipe->kind == NodeKind::kNil) Fail(chain, "indirection through explicit nil in " + NodeString(chain));
    return EvalArg(dot, *chain.pipe);
  }

  Value EvalFieldChain(const Value& receiver, const Node& node, const std::vector<std::string>& idents,
                       bool has_args, const Value* final) {
    Value r = receiver;
    for (size_t i = 0; i < idents.size(); ++i) {
      r = EvalField(r, idents[i], node, i + 1 == idents.size() && (has_args || final));
    }
    return r;
  }

  Value EvalField(const Value& receiver, const std::string& name, const Node& node, bool has_args) {
    // A field of a missing value is missing, as in Go. A field of null is missing too: docker's
    // null is usually a nil map, whose fields Go reports as <no value> (on a nil interface{} Go
    // would fail instead, which only hurts scripts).
    if (receiver.nil()) return Value();
    const json& j = receiver.get();
    if (j.is_object()) {
      if (has_args) Fail(node, name + " is not a method but has arguments");
      auto it = j.find(name);
      if (it == j.end()) return Value();
      return receiver.Child(*it);
    }
    Fail(node, "can't evaluate field " + name + " in type " + GoType(receiver));
  }

  Value EvalArg(const Value& dot, const Node& n) {
    switch (n.kind) {
      case NodeKind::kDot: return dot;
      case NodeKind::kNil: return Value::Own(nullptr);
      case NodeKind::kField: return EvalFieldChain(dot, n, n.idents, false, nullptr);
      case NodeKind::kVariable: {
        const Value v = VarValue(n, n.idents[0]);
        if (n.idents.size() == 1) return v;
        return EvalFieldChain(v, n, std::vector<std::string>(n.idents.begin() + 1, n.idents.end()), false, nullptr);
      }
      case NodeKind::kPipe: return EvalPipeline(dot, n);
      case NodeKind::kIdentifier: return EvalFunction(dot, n, n, nullptr);
      case NodeKind::kChain: return EvalFieldChain(EvalChainReceiver(dot, n), n, n.idents, false, nullptr);
      case NodeKind::kBool:
      case NodeKind::kNumber:
      case NodeKind::kString: return Value::Own(n.literal);
      default: Fail(n, "can't handle " + NodeString(n));
    }
  }

  // One call's arguments: values with the nodes to blame for type errors.
  struct Args {
    std::vector<Value> values;
    std::vector<const Node*> nodes;
    size_t size() const { return values.size(); }
    const Value& operator[](size_t i) const { return values[i]; }
  };

  [[noreturn]] void WrongType(const Node& at, const std::string& want, const Value& got) {
    if (got.nil()) Fail(at, "invalid value; expected " + want);
    Fail(at, "wrong type for value; expected " + want + "; got " + GoType(got));
  }
  const std::string& StringArg(const Args& a, size_t i) {
    if (a[i].nil() || !a[i].get().is_string()) WrongType(*a.nodes[i], "string", a[i]);
    return a[i].get().get_ref<const std::string&>();
  }
  int64_t IntArg(const Args& a, size_t i) {
    if (a[i].nil() || !IsInt(a[i].get())) WrongType(*a.nodes[i], "int", a[i]);
    const json& j = a[i].get();
    return j.is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(j.get<uint64_t>(), INT64_MAX)) : j.get<int64_t>();
  }

  [[noreturn]] void CallError(const Node& cmd, const std::string& name, const std::string& msg) {
    Fail(cmd, "error calling " + name + ": " + msg);
  }

  // A function call, charged for the value it makes.
  Value EvalFunction(const Value& dot, const Node& ident, const Node& cmd, const Value* final) {
    Value v = CallFunction(dot, ident, cmd, final);
    if (v.owned()) Charge(cmd, Size(v.get()));
    return v;
  }

  Value CallFunction(const Value& dot, const Node& ident, const Node& cmd, const Value* final) {
    const std::string& name = ident.text;
    // Argument nodes: the command's words after the function name (none when the identifier
    // is itself an argument).
    std::vector<const Node*> arg_nodes;
    if (&cmd != &ident) {
      for (size_t i = 1; i < cmd.kids.size(); ++i) arg_nodes.push_back(cmd.kids[i].get());
    }
    struct Sig {
      std::string_view name;
      size_t fixed;
      bool variadic;
    };
    static constexpr Sig kSigs[] = {
        {"and", 1, true}, {"or", 1, true}, {"not", 1, false}, {"len", 1, false}, {"index", 1, true},
        {"slice", 1, true}, {"print", 0, true}, {"println", 0, true}, {"printf", 1, true},
        {"html", 0, true}, {"js", 0, true}, {"urlquery", 0, true}, {"call", 1, true},
        {"eq", 1, true}, {"ne", 2, false}, {"lt", 2, false}, {"le", 2, false}, {"gt", 2, false},
        {"ge", 2, false}, {"json", 1, false}, {"split", 2, false}, {"join", 2, false},
        {"title", 1, false}, {"lower", 1, false}, {"upper", 1, false}, {"pad", 3, false},
        {"truncate", 2, false}};
    const Sig* sig = nullptr;
    for (const Sig& s : kSigs) {
      if (s.name == name) sig = &s;
    }
    if (!sig) Fail(cmd, "\"" + name + "\" is not a defined function");
    const size_t num_in = arg_nodes.size() + (final ? 1 : 0);
    if (sig->variadic && num_in < sig->fixed) {
      Fail(cmd, "wrong number of args for " + name + ": want at least " + std::to_string(sig->fixed) + " got " +
                    std::to_string(arg_nodes.size()));
    }
    if (!sig->variadic && num_in != sig->fixed) {
      Fail(cmd, "wrong number of args for " + name + ": want " + std::to_string(sig->fixed) + " got " +
                    std::to_string(num_in));
    }

    // and/or evaluate their arguments lazily and return the deciding one.
    if (name == "and" || name == "or") {
      const bool want = name == "or";
      Value v;
      for (const Node* n : arg_nodes) {
        v = EvalArg(dot, *n);
        if (Truth(v) == want) return v;
      }
      if (final) v = *final;
      return v;
    }

    Args a;
    for (const Node* n : arg_nodes) {
      a.values.push_back(EvalArg(dot, *n));
      a.nodes.push_back(n);
    }
    if (final) {
      a.values.push_back(*final);
      a.nodes.push_back(&cmd);
    }

    if (header_) {
      // docker's HeaderFunctions keep the column title as it is.
      if (name == "json" || name == "title" || name == "lower" || name == "upper") return Value::Own(StringArg(a, 0));
      if (name == "split" || name == "join") {
        StringArg(a, 1);
        return Value::Own(StringArg(a, 0));
      }
      if (name == "truncate") {
        IntArg(a, 1);
        return Value::Own(StringArg(a, 0));
      }
    }

    if (name == "not") return Value::Own(!Truth(a[0]));
    if (name == "len") {
      if (a[0].nil()) return Value::Own(0);  // a nil map or slice in docker's typed data
      const json& j = a[0].get();
      if (j.is_string()) return Value::Own(static_cast<int64_t>(j.get_ref<const std::string&>().size()));
      if (j.is_array() || j.is_object()) return Value::Own(static_cast<int64_t>(j.size()));
      CallError(cmd, name, "len of type " + GoType(a[0]));
    }
    if (name == "index") return Index(cmd, a);
    if (name == "slice") return Slice(cmd, a);
    if (name == "print") return Value::Own(Sprint(a.values));
    if (name == "println") return Value::Own(Sprintln(a.values));
    if (name == "printf") {
      const std::string& f = StringArg(a, 0);
      return Value::Own(Sprintf(f, std::vector<Value>(a.values.begin() + 1, a.values.end()),
                                static_cast<size_t>(std::min<uint64_t>(WorkLeft(), SIZE_MAX))));
    }
    if (name == "html") return Value::Own(HtmlEscape(EvalArgsString(a)));
    if (name == "js") return Value::Own(JsEscape(EvalArgsString(a)));
    if (name == "urlquery") return Value::Own(QueryEscape(EvalArgsString(a)));
    if (name == "call") CallError(cmd, name, "non-function of type " + GoType(a[0]));
    if (name == "eq") {
      if (a.size() < 2) CallError(cmd, name, "missing argument for comparison");
      for (size_t i = 1; i < a.size(); ++i) {
        if (Equal(cmd, name, a[0], a[i])) return Value::Own(true);
      }
      return Value::Own(false);
    }
    if (name == "ne") return Value::Own(!Equal(cmd, name, a[0], a[1]));
    if (name == "lt") return Value::Own(Less(cmd, name, a[0], a[1]));
    if (name == "le") return Value::Own(Less(cmd, name, a[0], a[1]) || Equal(cmd, name, a[0], a[1]));
    if (name == "gt") return Value::Own(!(Less(cmd, name, a[0], a[1]) || Equal(cmd, name, a[0], a[1])));
    if (name == "ge") return Value::Own(!Less(cmd, name, a[0], a[1]));

    // docker/cli's templates.basicFunctions.
    if (name == "json") return Value::Own(a[0].missing() ? std::string("null") : GoJson(a[0].get()));
    if (name == "split") {
      const std::string& s = StringArg(a, 0);
      const std::string& sep = StringArg(a, 1);
      json parts = json::array();
      if (sep.empty()) {  // strings.Split with "" splits after each UTF-8 sequence
        for (size_t i = 0; i < s.size();) {
          const size_t w = DecodeRune(s, i).second;
          parts.push_back(s.substr(i, w));
          i += w;
        }
      } else {
        size_t start = 0;
        for (size_t at; (at = s.find(sep, start)) != std::string::npos; start = at + sep.size()) {
          parts.push_back(s.substr(start, at - start));
        }
        parts.push_back(s.substr(start));
      }
      return Value::Own(std::move(parts));
    }
    if (name == "join") {
      // strings.Join takes []string; a JSON array qualifies when all its elements are strings.
      const Value& v = a[0];
      const bool ok = !v.nil() && v.get().is_array() &&
                      std::all_of(v.get().begin(), v.get().end(), [](const json& e) { return e.is_string(); });
      if (!ok && !v.nil()) WrongType(*a.nodes[0], "[]string", v);
      const std::string& sep = StringArg(a, 1);
      std::string out;
      if (!v.nil()) {
        bool first = true;
        for (const json& e : v.get()) {
          if (!first) out += sep;
          first = false;
          out += e.get_ref<const std::string&>();
        }
      }
      return Value::Own(out);
    }
    if (name == "lower" || name == "upper") {
      std::string s = StringArg(a, 0);
      // ASCII only; docker's own comment says its templates use these for ASCII.
      for (char& c : s) {
        if (name == "lower" && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (name == "upper" && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      }
      return Value::Own(s);
    }
    if (name == "title") {
      // strings.Title: upper-case the first letter of each word; ASCII letters, digits, '_' and
      // non-ASCII bytes continue a word, any other ASCII separates words (so "it's" -> "It'S").
      std::string s = StringArg(a, 0);
      bool prev_sep = true;
      for (char& c : s) {
        const bool word = IsAlnumChar(c);
        if (prev_sep && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        prev_sep = !word;
      }
      return Value::Own(s);
    }
    if (name == "pad") {
      const std::string& s = StringArg(a, 0);
      const int64_t l = IntArg(a, 1), r = IntArg(a, 2);
      if (s.empty()) return Value::Own(s);
      if (l < 0 || r < 0) CallError(cmd, name, "strings: negative Repeat count");
      return Value::Own(std::string(static_cast<size_t>(std::min<int64_t>(l, 1 << 20)), ' ') + s +
                        std::string(static_cast<size_t>(std::min<int64_t>(r, 1 << 20)), ' '));
    }
    if (name == "truncate") {
      const std::string& s = StringArg(a, 0);
      const int64_t n = IntArg(a, 1);
      if (static_cast<int64_t>(s.size()) < n) return Value::Own(s);
      if (n < 0) CallError(cmd, name, "runtime error: slice bounds out of range [:" + std::to_string(n) + "]");
      return Value::Own(s.substr(0, static_cast<size_t>(n)));  // bytes, as docker's s[:n]
    }
    Fail(cmd, "\"" + name + "\" is not a defined function");
  }

  // text/template's evalArgs: a lone string argument as is, otherwise fmt.Sprint of them all.
  static std::string EvalArgsString(const Args& a) {
    if (a.size() == 1 && IsString(a[0])) return a[0].get().get<std::string>();
    return Sprint(a.values);
  }

  static std::string HtmlEscape(const std::string& s) {
    std::string out;
    for (char c : s) {
      switch (c) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '\'': out += "&#39;"; break;
        case '"': out += "&#34;"; break;
        case '\0': out += "\xEF\xBF\xBD"; break;
        default: out.push_back(c);
      }
    }
    return out;
  }

  static std::string JsEscape(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
      auto [r, w] = DecodeRune(s, i);
      switch (r) {
        case '\\': out += "\\\\"; break;
        case '\'': out += "\\'"; break;
        case '"': out += "\\\""; break;
        case '<': out += "\\u003C"; break;
        case '>': out += "\\u003E"; break;
        case '&': out += "\\u0026"; break;
        case '=': out += "\\u003D"; break;
        default:
          if (r < ' ' || (r >= 0x80 && !IsPrintRune(r))) out += "\\u" + Hex(r, 4, true);
          else out.append(s, i, w);
      }
      i += w;
    }
    return out;
  }

  static std::string QueryEscape(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.' || c == '~') {
        out.push_back(static_cast<char>(c));
      } else if (c == ' ') {
        out.push_back('+');
      } else {
        out += "%" + Hex(c, 2, true);
      }
    }
    return out;
  }

  Value Index(const Node& cmd, const Args& a) {
    Value item = a[0];
    for (size_t k = 1; k < a.size(); ++k) {
      if (item.nil()) return Value();  // a nil map in docker's data: every key is absent
      const json& j = item.get();
      const Value& idx = a[k];
      if (j.is_array() || j.is_string()) {
        if (idx.nil() || !IsInt(idx.get())) CallError(cmd, "index", "cannot index slice/array with type " + GoType(idx));
        const json& ij = idx.get();
        const int64_t i = ij.is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(ij.get<uint64_t>(), INT64_MAX))
                                                  : ij.get<int64_t>();
        const size_t len = j.is_array() ? j.size() : j.get_ref<const std::string&>().size();
        if (i < 0 || static_cast<uint64_t>(i) >= len) CallError(cmd, "index", "index out of range: " + std::to_string(i));
        if (j.is_array()) {
          item = item.Child(j[static_cast<size_t>(i)]);
        } else {  // a string's element is a byte, which prints as a number
          item = Value::Own(static_cast<int64_t>(static_cast<unsigned char>(j.get_ref<const std::string&>()[static_cast<size_t>(i)])));
        }
      } else if (j.is_object()) {
        if (idx.nil() || !idx.get().is_string()) {
          CallError(cmd, "index", "value has type " + GoType(idx) + "; should be string");
        }
        auto it = j.find(idx.get().get_ref<const std::string&>());
        item = it == j.end() ? Value() : item.Child(*it);
      } else {
        CallError(cmd, "index", "can't index item of type " + GoType(item));
      }
    }
    return item;
  }

  Value Slice(const Node& cmd, const Args& a) {
    const Value& item = a[0];
    if (item.nil()) CallError(cmd, "slice", "slice of untyped nil");
    if (a.size() > 4) CallError(cmd, "slice", "too many slice indexes: " + std::to_string(a.size() - 1));
    const json& j = item.get();
    size_t cap;
    if (j.is_string()) {
      if (a.size() == 4) CallError(cmd, "slice", "cannot 3-index slice a string");
      cap = j.get_ref<const std::string&>().size();
    } else if (j.is_array()) {
      cap = j.size();
    } else {
      CallError(cmd, "slice", "can't slice item of type " + GoType(item));
    }
    int64_t idx[3] = {0, static_cast<int64_t>(cap), static_cast<int64_t>(cap)};
    for (size_t k = 1; k < a.size(); ++k) {
      const Value& v = a[k];
      if (v.nil() || !IsInt(v.get())) CallError(cmd, "slice", "cannot index slice/array with type " + GoType(v));
      const int64_t x = v.get().is_number_unsigned() ? static_cast<int64_t>(std::min<uint64_t>(v.get().get<uint64_t>(), INT64_MAX))
                                                     : v.get().get<int64_t>();
      if (x < 0 || static_cast<uint64_t>(x) > cap) CallError(cmd, "slice", "index out of range: " + std::to_string(x));
      idx[k - 1] = x;
    }
    if (idx[0] > idx[1]) CallError(cmd, "slice", "invalid slice index: " + std::to_string(idx[0]) + " > " + std::to_string(idx[1]));
    if (a.size() == 4 && idx[1] > idx[2]) {
      CallError(cmd, "slice", "invalid slice index: " + std::to_string(idx[1]) + " > " + std::to_string(idx[2]));
    }
    if (j.is_string()) {
      return Value::Own(j.get_ref<const std::string&>().substr(static_cast<size_t>(idx[0]), static_cast<size_t>(idx[1] - idx[0])));
    }
    json out = json::array();
    for (int64_t i = idx[0]; i < idx[1]; ++i) out.push_back(j[static_cast<size_t>(i)]);
    return Value::Own(std::move(out));
  }

  enum class Kind { kNil, kBool, kNumber, kString, kOther };
  static Kind KindOf(const Value& v) {
    if (v.nil()) return Kind::kNil;
    const json& j = v.get();
    if (j.is_boolean()) return Kind::kBool;
    if (j.is_number()) return Kind::kNumber;
    if (j.is_string()) return Kind::kString;
    return Kind::kOther;
  }
  // Numbers compare by value whatever their JSON representation (Go would refuse int vs float64,
  // but to docker's typed structs an integral JSON number is an int).
  static int CompareNumbers(const json& x, const json& y) {
    if (IsInt(x) && IsInt(y)) {
      const bool xn = x.is_number_integer() && !x.is_number_unsigned() && x.get<int64_t>() < 0;
      const bool yn = y.is_number_integer() && !y.is_number_unsigned() && y.get<int64_t>() < 0;
      if (xn != yn) return xn ? -1 : 1;
      if (xn) {
        const int64_t a = x.get<int64_t>(), b = y.get<int64_t>();
        return a < b ? -1 : a > b ? 1 : 0;
      }
      const uint64_t a = x.get<uint64_t>(), b = y.get<uint64_t>();
      return a < b ? -1 : a > b ? 1 : 0;
    }
    const double a = x.get<double>(), b = y.get<double>();
    return a < b ? -1 : a > b ? 1 : 0;
  }

  bool Equal(const Node& cmd, const std::string& fn, const Value& x, const Value& y) {
    const Kind kx = KindOf(x), ky = KindOf(y);
    if (kx == Kind::kNil || ky == Kind::kNil) return kx == ky;
    if (kx != ky) CallError(cmd, fn, "incompatible types for comparison");
    switch (kx) {
      case Kind::kBool: return x.get().get<bool>() == y.get().get<bool>();
      case Kind::kNumber: return CompareNumbers(x.get(), y.get()) == 0;
      case Kind::kString: return x.get().get_ref<const std::string&>() == y.get().get_ref<const std::string&>();
      default: CallError(cmd, fn, "non-comparable type " + GoValueString(x.get()) + ": " + GoType(x));
    }
  }

  bool Less(const Node& cmd, const std::string& fn, const Value& x, const Value& y) {
    const Kind kx = KindOf(x), ky = KindOf(y);
    if (kx == Kind::kNil || kx == Kind::kOther || kx == Kind::kBool || ky == Kind::kNil || ky == Kind::kOther) {
      CallError(cmd, fn, "invalid type for comparison");
    }
    if (kx != ky) CallError(cmd, fn, "incompatible types for comparison");
    if (kx == Kind::kNumber) return CompareNumbers(x.get(), y.get()) < 0;
    return x.get().get_ref<const std::string&>() < y.get().get_ref<const std::string&>();
  }

  std::string_view text_;
  bool header_;
  std::string* out_;
  uint64_t work_limit_;
  uint64_t work_ = 0;
  std::vector<Var> vars_;
};

absl::Status InvalidArgument(const std::string& msg) { return absl::InvalidArgumentError(msg); }

}  // namespace

struct Template::Parsed {
  std::string text;
  std::unique_ptr<Node> root;
};

absl::StatusOr<Template> Template::Parse(std::string_view text) {
  auto parsed = std::make_shared<Parsed>();
  parsed->text = std::string(text);
  try {
    Parser parser(Lexer(parsed->text).Run());
    parsed->root = parser.Parse();
  } catch (const TemplateError& e) {
    return InvalidArgument(e.message);
  }
  return Template(std::move(parsed));
}

absl::Status Template::ExecuteTo(const json& dot, std::string* out, Functions functions,
                                 uint64_t work_limit) const {
  try {
    Executor ex(parsed_->text, functions, work_limit, out);
    ex.Run(*parsed_->root, dot);
  } catch (const TemplateError& e) {
    return InvalidArgument(e.message);
  } catch (const json::exception& e) {
    // Type checks precede every nlohmann accessor; reaching this is a bug in this file.
    return absl::InternalError(std::string("template: ") + e.what());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Template::Execute(const json& dot) const {
  std::string out;
  absl::Status s = ExecuteTo(dot, &out);
  if (!s.ok()) return s;
  return out;
}

std::string GoJson(const json& value) {
  std::string out;
  AppendGoJson(&out, value);
  return out;
}

std::string GoValueString(const json& value) {
  Printer p;
  p.PrintArg(Value::Borrow(&value), 'v', FmtSpec{});
  return p.out;
}

bool IsTableFormat(std::string_view format) { return format.substr(0, 5) == "table"; }

std::string StripTable(std::string_view format) {
  if (IsTableFormat(format)) format.remove_prefix(5);
  // docker trims spaces only (strings.Trim(f, " ")), not tabs or newlines.
  while (!format.empty() && format.front() == ' ') format.remove_prefix(1);
  while (!format.empty() && format.back() == ' ') format.remove_suffix(1);
  return std::string(format);
}

absl::StatusOr<std::string> RenderList(std::string_view format, const json& header,
                                       const std::vector<json>& items, uint64_t work_limit) {
  const bool table = IsTableFormat(format);
  std::string f = format == "json" ? std::string("{{json .}}") : StripTable(format);
  // Shells hand over "\t" and "\n" unexpanded; docker's preFormat turns them into the characters.
  std::string expanded;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '\\' && i + 1 < f.size() && (f[i + 1] == 't' || f[i + 1] == 'n')) {
      expanded.push_back(f[i + 1] == 't' ? '\t' : '\n');
      ++i;
    } else {
      expanded.push_back(f[i]);
    }
  }
  auto tmpl = Template::Parse(expanded);
  if (!tmpl.ok()) return absl::InvalidArgumentError("template parsing error: " + std::string(tmpl.status().message()));
  std::string body;
  for (const json& item : items) {
    absl::Status s = tmpl->ExecuteTo(item, &body, Template::Functions::kNormal, work_limit);
    if (!s.ok()) return absl::Status(s.code(), "template parsing error: " + std::string(s.message()));
    body.push_back('\n');
  }
  if (!table) return body;
  std::string head;
  // docker ignores the header's execution error and prints what was rendered before it.
  (void)tmpl->ExecuteTo(header, &head, Template::Functions::kHeader, work_limit);
  TabWriter tw(10, 1, 3, ' ', 0);
  tw.Write(head);
  tw.Write("\n");
  tw.Write(body);
  return tw.Flush();
}

}  // namespace berth::format
