// The filters decoder and Docker's filters.Args semantics.

#include <gtest/gtest.h>

#include "spec/filters.h"
#include "spec/json/filters_json.h"

namespace berth::spec {
namespace {

Filters Parse(std::string_view param) {
  auto f = ParseFilters(param);
  EXPECT_TRUE(f.ok()) << f.status() << " for " << param;
  return f.ok() ? *f : Filters{};
}

TEST(SpecParseFilters, ReadsBothForms) {
  Filters modern = Parse(R"({"label":{"a=b":true,"c":true},"name":{"web":true}})");
  EXPECT_EQ(modern.Len(), 2u);
  EXPECT_EQ(modern.Get("label"), (std::vector<std::string>{"a=b", "c"}));
  EXPECT_EQ(modern.Get("name"), (std::vector<std::string>{"web"}));
  Filters legacy = Parse(R"({"label":["a=b","c"],"name":["web"]})");
  EXPECT_EQ(legacy, modern);
  EXPECT_EQ(Parse("").Len(), 0u);
  EXPECT_EQ(Parse("null").Len(), 0u);
  EXPECT_EQ(Parse("{}").Len(), 0u);
  // A key with no values is present, and matches everything.
  Filters bare = Parse(R"({"name":null})");
  EXPECT_TRUE(bare.Contains("name"));
  EXPECT_TRUE(bare.ExactMatch("name", "anything"));
}

TEST(SpecParseFilters, MalformedIsGosErrorOfTheFirstForm) {
  auto status = [](std::string_view p) { return ParseFilters(p).status(); };
  EXPECT_EQ(status("notjson").message(), "invalid character 'o' in literal null (expecting 'u')");
  EXPECT_EQ(status("{").message(), "unexpected end of JSON input");
  EXPECT_EQ(status(R"({"a":["b"]} x)").message(), "invalid character 'x' after top-level value");
  EXPECT_EQ(status("[]").message(),
            "json: cannot unmarshal array into Go value of type map[string]map[string]bool");
  EXPECT_EQ(status(R"({"a":"b"})").message(), "json: cannot unmarshal string into Go value of type map[string]bool");
  EXPECT_EQ(status(R"({"a":{"b":"yes"}})").message(), "json: cannot unmarshal string into Go value of type bool");
  // Mixed forms fail both ways; the first form's error is the one reported.
  EXPECT_EQ(status(R"({"a":{"b":true},"c":["d"]})").message(),
            "json: cannot unmarshal array into Go value of type map[string]bool");
  EXPECT_EQ(status("[]").code(), absl::StatusCode::kInvalidArgument);
}

TEST(SpecFilters, ValidateUsesDockers2010Wording) {
  Filters f = Parse(R"({"name":{"a":true},"colour":{"red":true}})");
  Status s = f.Validate({"name", "label", "id"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "Invalid filter 'colour'");
  EXPECT_TRUE(f.Validate({"name", "colour"}).ok());
  EXPECT_EQ(InvalidFilter("status", "sleeping").message(), "Invalid filter 'status=sleeping'");
}

TEST(SpecFilters, LabelFiltersAllHaveToMatch) {
  Filters f = Parse(R"({"label":{"env=prod":true,"team":true}})");
  EXPECT_TRUE(f.MatchKVList("label", StringMap{{"env", "prod"}, {"team", "x"}, {"other", "y"}}));
  EXPECT_FALSE(f.MatchKVList("label", StringMap{{"env", "prod"}}));
  EXPECT_FALSE(f.MatchKVList("label", StringMap{{"env", "dev"}, {"team", "x"}}));
  EXPECT_FALSE(f.MatchKVList("label", std::optional<StringMap>{}));
  // "k=" asks for an empty value; "k" only for the key.
  Filters empty_value = Parse(R"({"label":{"env=":true}})");
  EXPECT_TRUE(empty_value.MatchKVList("label", StringMap{{"env", ""}}));
  EXPECT_FALSE(empty_value.MatchKVList("label", StringMap{{"env", "prod"}}));
  // Values may contain '=': only the first one splits.
  EXPECT_TRUE(Parse(R"({"label":{"url=a=b":true}})").MatchKVList("label", StringMap{{"url", "a=b"}}));
  EXPECT_TRUE(Filters{}.MatchKVList("label", StringMap{}));
}

TEST(SpecFilters, ExactFuzzyAndRegexMatches) {
  Filters f;
  f.Add("name", "web");
  f.Add("id", "4f2e");
  EXPECT_TRUE(f.ExactMatch("name", "web"));
  EXPECT_FALSE(f.ExactMatch("name", "web1"));
  EXPECT_TRUE(f.ExactMatch("driver", "bridge"));  // no such key: everything matches
  // Match is a regular-expression search, as Go's regexp.MatchString.
  EXPECT_TRUE(f.Match("name", "myweb1"));
  EXPECT_FALSE(f.Match("name", "db"));
  Filters anchored = Parse(R"({"name":{"^web$":true,"[":true}})");
  EXPECT_TRUE(anchored.Match("name", "web"));
  EXPECT_FALSE(anchored.Match("name", "web1"));  // "[" does not compile and is skipped
  // FuzzyMatch is a prefix match (ids).
  EXPECT_TRUE(f.FuzzyMatch("id", "4f2e9a0b"));
  EXPECT_FALSE(f.FuzzyMatch("id", "a4f2e"));
  f.Add("name", "db");
  EXPECT_FALSE(f.UniqueExactMatch("name", "web"));
  EXPECT_TRUE(f.Contains("id"));
  EXPECT_TRUE(f.Include("id"));
  EXPECT_FALSE(f.Contains("label"));
  f.Del("id", "4f2e");
  EXPECT_FALSE(f.Contains("id"));
}

TEST(SpecFilters, AValueSentAsFalseIsListedButDoesNotExactMatch) {
  Filters f = Parse(R"({"name":{"web":false}})");
  EXPECT_EQ(f.Get("name"), (std::vector<std::string>{"web"}));
  EXPECT_FALSE(f.ExactMatch("name", "web"));
  EXPECT_TRUE(f.Match("name", "web"));  // still found as an expression
}

TEST(SpecFilters, WalkValuesStopsAtTheFirstError) {
  Filters f = Parse(R"({"status":{"running":true,"sleeping":true,"exited":true}})");
  std::vector<std::string> seen;
  Status s = f.WalkValues("status", [&](const std::string& v) -> Status {
    seen.push_back(v);
    if (v != "exited" && v != "running") return InvalidFilter("status", v);
    return absl::OkStatus();
  });
  EXPECT_EQ(s.message(), "Invalid filter 'status=sleeping'");
  EXPECT_EQ(seen, (std::vector<std::string>{"exited", "running", "sleeping"}));
}

TEST(SpecEncodeFilters, IsWhatFiltersToJsonSends) {
  Filters f;
  EXPECT_EQ(EncodeFilters(f), "");
  f.Add("label", "a=b");
  f.Add("dangling", "true");
  EXPECT_EQ(EncodeFilters(f), R"({"dangling":{"true":true},"label":{"a=b":true}})");
  EXPECT_EQ(Parse(EncodeFilters(f)), f);
}

}  // namespace
}  // namespace berth::spec

namespace berth::spec {
namespace {

// moby's matchLabels: label values ANDed; label! values ANDed too, so an object is kept only
// when it carries all of them.
TEST(SpecPruneFilter, LabelAndNotLabelAreBothAnded) {
  Filters f;
  f.Add("label", "a=1");
  f.Add("label", "b");
  f.Add("label!", "keep");
  f.Add("label!", "pin=yes");
  auto pf = ParsePruneFilter(f, 0);
  ASSERT_TRUE(pf.ok()) << pf.status();
  StringMap both = {{"a", "1"}, {"b", "x"}};
  EXPECT_TRUE(pf->Matches(0, both));
  EXPECT_FALSE(pf->Matches(0, StringMap{{"a", "1"}}));  // one label of two
  StringMap one_not = both;
  one_not["keep"] = "";
  EXPECT_TRUE(pf->Matches(0, one_not));  // one label! of two: still pruned
  StringMap all_not = one_not;
  all_not["pin"] = "yes";
  EXPECT_FALSE(pf->Matches(0, all_not));

  Filters only_not;
  only_not.Add("label!", "keep");
  auto pn = ParsePruneFilter(only_not, 0);
  ASSERT_TRUE(pn.ok());
  EXPECT_TRUE(pn->Matches(0, std::nullopt));  // no labels at all: pruned
  EXPECT_FALSE(pn->Matches(0, StringMap{{"keep", "1"}}));
}

}  // namespace
}  // namespace berth::spec
