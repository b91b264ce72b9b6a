#pragma once
// Filters: Docker's filters.Args (api/types/filters/parse.go in moby 20.10), the `filters`
// query parameter of every list and prune route: a key -> a set of values. Each helper keeps
// Docker's semantics, including the odd ones (a key given with no values matches everything;
// a value stored as `false` is listed by Get but fails ExactMatch). Decode the parameter with
// spec::ParseFilters (spec/json/filters_json.h).

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "spec/container.h"

namespace berth::spec {

class Filters {
 public:
  Filters() = default;

  // Adds value to key's set (as true).
  void Add(std::string_view key, std::string_view value);
  // Sets key's whole set as decoded: value -> the bool the client sent.
  void Set(std::string_view key, std::map<std::string, bool> values);
  void Del(std::string_view key, std::string_view value);

  // Number of keys.
  size_t Len() const { return fields_.size(); }
  std::vector<std::string> Keys() const;
  // The values of key, sorted (Docker's order is random); empty when absent.
  std::vector<std::string> Get(std::string_view key) const;
  bool Contains(std::string_view key) const;
  // Docker's older name for Contains.
  bool Include(std::string_view key) const { return Contains(key); }

  // True if key has no values, or source is one of them.
  bool ExactMatch(std::string_view key, std::string_view source) const;
  // Like ExactMatch, but false when key has more than one value.
  bool UniqueExactMatch(std::string_view key, std::string_view source) const;
  // ExactMatch, or some value is a regular expression found in source. Docker uses Go's RE2
  // syntax; this uses ECMAScript, which agrees on the patterns names and ids use. A value
  // that is not a valid expression is skipped, as Docker skips it.
  bool Match(std::string_view key, std::string_view source) const;
  // ExactMatch, or some value is a prefix of source (ids).
  bool FuzzyMatch(std::string_view key, std::string_view source) const;
  // For `label`: every value must match (AND); a value is `k` (label present) or `k=v`.
  // True if key has no values; false if it has some and labels is empty.
  bool MatchKVList(std::string_view key, const StringMap& labels) const;
  bool MatchKVList(std::string_view key, const std::optional<StringMap>& labels) const;

  // InvalidArgument "Invalid filter 'k'" for the first key (sorted) not in accepted.
  Status Validate(const std::set<std::string, std::less<>>& accepted) const;
  // Calls op on each value of key (sorted); stops at the first error.
  Status WalkValues(std::string_view key, const std::function<Status(const std::string&)>& op) const;

  const std::map<std::string, std::map<std::string, bool>, std::less<>>& fields() const {
    return fields_;
  }
  bool operator==(const Filters&) const = default;

 private:
  const std::map<std::string, bool>* Values(std::string_view key) const;

  std::map<std::string, std::map<std::string, bool>, std::less<>> fields_;
};

// Docker 20.10's error for a filter key or value it does not accept: "Invalid filter 'k'" or,
// with a value, "Invalid filter 'k=v'" (InvalidArgument, so the API answers 400).
Status InvalidFilter(std::string_view key);
Status InvalidFilter(std::string_view key, std::string_view value);

// The filters every prune route takes (Docker's until, label, label!), decoded once.
struct PruneFilter {
  int64_t until = 0;  // unix nanos; 0 = no bound
  Filters filters;
  // Whether an object created at `created` (unix nanos) with these labels is pruned: made before
  // `until`, carrying every `label`, and not carrying every `label!` (Docker ANDs those too).
  bool Matches(int64_t created, const std::optional<StringMap>& labels) const;
};
// `until` is a unix timestamp (seconds, fractions allowed), an RFC 3339 time, or a duration back
// from now ("10m", "24h"); `extra` are further keys the route accepts (images: dangling).
StatusOr<PruneFilter> ParsePruneFilter(const Filters& f, int64_t now_nanos,
                                       const std::set<std::string, std::less<>>& extra = {});

}  // namespace berth::spec
