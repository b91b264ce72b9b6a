// The Go-compatible JSON reader: syntax errors in Go's words, Decoder vs Unmarshal ends of
// input, number literals kept, Go's string leniency, and Go's case folding of keys.

#include <gtest/gtest.h>
#include <pthread.h>

#include <functional>

#include "spec/json/container_json.h"
#include "spec/json/go_codec.h"
#include "spec/json/go_json.h"

namespace berth::spec::json {
namespace {

std::string Error(std::string_view text, GoJsonMode mode = GoJsonMode::kDecoder) {
  auto v = ReadGoJson(text, mode);
  EXPECT_FALSE(v.ok()) << text;
  return v.ok() ? "" : std::string(v.status().message());
}

TEST(SpecReadGoJson, SyntaxErrorsAreGosMessages) {
  EXPECT_EQ(Error("x"), "invalid character 'x' looking for beginning of value");
  EXPECT_EQ(Error("{x"), "invalid character 'x' looking for beginning of object key string");
  EXPECT_EQ(Error(R"({"a" 1})"), "invalid character '1' after object key");
  EXPECT_EQ(Error(R"({"a":1 "b":2})"), "invalid character '\"' after object key:value pair");
  EXPECT_EQ(Error("[1 2]"), "invalid character '2' after array element");
  EXPECT_EQ(Error("[1,]"), "invalid character ']' looking for beginning of value");
  EXPECT_EQ(Error("{\"a\":\"x\ny\"}"), "invalid character '\\n' in string literal");
  EXPECT_EQ(Error(R"(["\q"])"), "invalid character 'q' in string escape code");
  EXPECT_EQ(Error(R"(["\u12g4"])"), "invalid character 'g' in \\u hexadecimal character escape");
  EXPECT_EQ(Error("[-x]"), "invalid character 'x' in numeric literal");
  EXPECT_EQ(Error("[1.x]"), "invalid character 'x' after decimal point in numeric literal");
  EXPECT_EQ(Error("[1ex]"), "invalid character 'x' in exponent of numeric literal");
  EXPECT_EQ(Error("[tru]"), "invalid character ']' in literal true (expecting 'e')");
  EXPECT_EQ(Error("nul!"), "invalid character '!' in literal null (expecting 'l')");
  EXPECT_EQ(Error("[fals3]"), "invalid character '3' in literal false (expecting 'e')");
  EXPECT_EQ(Error("'a'"), "invalid character '\\'' looking for beginning of value");
  EXPECT_EQ(Error("\x01"), "invalid character '\\x01' looking for beginning of value");
  EXPECT_EQ(Error("\xC3\xA9"), "invalid character '\xC3\x83' looking for beginning of value");
  EXPECT_EQ(Error("\xA0"), "invalid character '\\u00a0' looking for beginning of value");
  // A leading zero ends the number; what follows is judged where the number ended.
  EXPECT_EQ(Error("[01]"), "invalid character '1' after array element");
}

TEST(SpecReadGoJson, EndsOfInputAsTheDecoderAndUnmarshalSayThem) {
  EXPECT_EQ(Error(""), "EOF");
  EXPECT_EQ(Error(" \n\t"), "EOF");
  EXPECT_EQ(Error("{"), "unexpected EOF");
  EXPECT_EQ(Error(R"({"a":)"), "unexpected EOF");
  EXPECT_EQ(Error("tru"), "unexpected EOF");
  EXPECT_EQ(Error("-"), "unexpected EOF");
  EXPECT_EQ(Error("", GoJsonMode::kUnmarshal), "unexpected end of JSON input");
  EXPECT_EQ(Error("[1,", GoJsonMode::kUnmarshal), "unexpected end of JSON input");
  EXPECT_EQ(Error("{} {}", GoJsonMode::kUnmarshal), "invalid character '{' after top-level value");
  // The Decoder stops after one value.
  EXPECT_TRUE(ReadGoJson("{} {", GoJsonMode::kDecoder).ok());
  EXPECT_TRUE(ReadGoJson("12", GoJsonMode::kDecoder).ok());
  EXPECT_TRUE(ReadGoJson(" {} \n", GoJsonMode::kUnmarshal).ok());
}

TEST(SpecReadGoJson, RefusesNestingDeeperThanGo) {
  std::string deep(10000, '[');
  deep += std::string(10000, ']');
  EXPECT_TRUE(ReadGoJson(deep, GoJsonMode::kDecoder).ok());
  EXPECT_EQ(Error("[" + deep + "]"), "invalid character '[' exceeded max depth");
}

// Runs f on a thread with a small stack.
void OnSmallStack(size_t bytes, const std::function<void()>& f) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, bytes), 0);
  pthread_t t;
  auto run = [](void* p) -> void* {
    (*static_cast<const std::function<void()>*>(p))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&t, &attr, run, const_cast<std::function<void()>*>(&f)), 0);
  pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
}

// The reader recursed once per nesting level (and GoValue's destructor too): a 20 KB body of
// nested arrays overflowed an 8 MiB stack in a sanitizer build, a 1 MiB one in any build. Found
// by test/fuzz/spec_fuzz.cc (corpus/spec/regression-deep-*). Reading, decoding and destroying
// the deepest body Go accepts now fit in 512 KiB.
TEST(SpecReadGoJson, DeepNestingNeedsNoStack) {
  std::string arrays = std::string(10000, '[') + std::string(10000, ']');
  std::string objects;
  for (int i = 0; i < 9999; ++i) objects += R"({"a":)";
  objects += "{}" + std::string(9999, '}');
  OnSmallStack(512 << 10, [&] {
    EXPECT_TRUE(ReadGoJson(arrays, GoJsonMode::kDecoder).ok());
    EXPECT_TRUE(ReadGoJson(objects, GoJsonMode::kUnmarshal).ok());
    EXPECT_EQ(Error("[" + arrays + "]"), "invalid character '[' exceeded max depth");
    EXPECT_EQ(Error(R"({"a":)" + objects + "}"), "invalid character '{' exceeded max depth");
    // Through a route's parser (one level less, for the body's own object): an unknown key is
    // ignored, Cmd is a type error.
    const std::string inner = objects.substr(5, objects.size() - 6);
    EXPECT_TRUE(ParseContainerCreate(R"({"Image":"x","Junk":)" + inner + "}", "c1").ok());
    auto cmd = ParseContainerCreate(R"({"Image":"x","Cmd":)" + arrays.substr(1, 19998) + "}", "c1");
    EXPECT_EQ(std::string(cmd.status().message()),
              "json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Cmd of "
              "type string");
  });
  // Errors anywhere in the nesting still read as before.
  EXPECT_EQ(Error("[[1,]]"), "invalid character ']' looking for beginning of value");
  EXPECT_EQ(Error("[[1}"), "invalid character '}' after array element");
  EXPECT_EQ(Error(R"({"a":{"b":1]})"), "invalid character ']' after object key:value pair");
  EXPECT_EQ(Error(R"([{"a" 1}])"), "invalid character '1' after object key");
  EXPECT_EQ(Error("[[[[{"), "unexpected EOF");
}

TEST(SpecReadGoJson, KeepsMembersInOrderWithDuplicatesAndNumberLiterals) {
  auto v = ReadGoJson(R"({"b":1.50,"a":-0,"b":1e3,"c":[true,false,null]})", GoJsonMode::kDecoder);
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->members.size(), 4u);
  EXPECT_EQ(v->members[0].first, "b");
  EXPECT_EQ(v->members[0].second.text, "1.50");
  EXPECT_EQ(v->members[1].second.text, "-0");
  EXPECT_EQ(v->members[2].second.text, "1e3");
  const GoValue& c = v->members[3].second;
  ASSERT_EQ(c.items.size(), 3u);
  EXPECT_TRUE(c.items[0].boolean);
  EXPECT_EQ(c.items[1].kind, GoValue::Kind::kBool);
  EXPECT_TRUE(c.items[2].is_null());
}

TEST(SpecReadGoJson, DecodesStringsAsGoDoes) {
  auto str = [](std::string_view text) {
    auto v = ReadGoJson(text, GoJsonMode::kDecoder);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? v->text : "";
  };
  EXPECT_EQ(str(R"("a\"\\\/\b\f\n\r\t")"), "a\"\\/\b\f\n\r\t");
  EXPECT_EQ(str(R"("\u00e9\u20ac")"), "\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(str(R"("\ud83d\ude00")"), "\xF0\x9F\x98\x80");
  // A lone surrogate, and invalid UTF-8, become U+FFFD instead of errors.
  EXPECT_EQ(str(R"("\ud83dx")"), "\xEF\xBF\xBDx");
  EXPECT_EQ(str(R"("\ude00\u0041")"), "\xEF\xBF\xBD" "A");
  EXPECT_EQ(str("\"a\xFF" "b\""), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(str("\"\xED\xA0\x80\""), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(str("\"\xC3\xA9\""), "\xC3\xA9");
}

TEST(SpecGoFoldEqual, IsGosKeyMatching) {
  EXPECT_TRUE(GoFoldEqual("HostConfig", "hostconfig"));
  EXPECT_TRUE(GoFoldEqual("IPv6Gateway", "ipV6gateway"));
  EXPECT_FALSE(GoFoldEqual("Env", "Envs"));
  EXPECT_FALSE(GoFoldEqual("Env", "\xC3\x89nv"));
  EXPECT_TRUE(GoFoldEqual("Links", "lin\xE2\x84\xAAs"));  // KELVIN SIGN folds to k
  EXPECT_TRUE(GoFoldEqual("Dns", "dn\xC5\xBF"));           // LONG S folds to s
  EXPECT_FALSE(GoFoldEqual("Dns", "dn"));
}

}  // namespace
}  // namespace berth::spec::json
