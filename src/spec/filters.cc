#include "spec/filters.h"

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "common/clock.h"

#include <regex>

#include "absl/strings/match.h"

namespace berth::spec {

void Filters::Add(std::string_view key, std::string_view value) {
  auto it = fields_.find(key);
  if (it == fields_.end()) it = fields_.emplace(std::string(key), std::map<std::string, bool>{}).first;
  it->second[std::string(value)] = true;
}

void Filters::Set(std::string_view key, std::map<std::string, bool> values) {
  auto it = fields_.find(key);
  if (it == fields_.end()) {
    fields_.emplace(std::string(key), std::move(values));
  } else {
    it->second = std::move(values);
  }
}

void Filters::Del(std::string_view key, std::string_view value) {
  auto it = fields_.find(key);
  if (it == fields_.end()) return;
  it->second.erase(std::string(value));
  if (it->second.empty()) fields_.erase(it);
}

std::vector<std::string> Filters::Keys() const {
  std::vector<std::string> keys;
  for (const auto& [k, v] : fields_) keys.push_back(k);
  return keys;
}

const std::map<std::string, bool>* Filters::Values(std::string_view key) const {
  auto it = fields_.find(key);
  return it == fields_.end() ? nullptr : &it->second;
}

std::vector<std::string> Filters::Get(std::string_view key) const {
  std::vector<std::string> out;
  if (const auto* values = Values(key)) {
    for (const auto& [v, set] : *values) out.push_back(v);
  }
  return out;
}

bool Filters::Contains(std::string_view key) const { return fields_.find(key) != fields_.end(); }

bool Filters::ExactMatch(std::string_view key, std::string_view source) const {
  const auto* values = Values(key);
  if (values == nullptr || values->empty()) return true;
  auto it = values->find(std::string(source));
  return it != values->end() && it->second;
}

bool Filters::UniqueExactMatch(std::string_view key, std::string_view source) const {
  const auto* values = Values(key);
  if (values == nullptr || values->empty()) return true;
  if (values->size() != 1) return false;
  auto it = values->find(std::string(source));
  return it != values->end() && it->second;
}

bool Filters::Match(std::string_view key, std::string_view source) const {
  if (ExactMatch(key, source)) return true;
  const auto* values = Values(key);
  if (values == nullptr) return false;
  for (const auto& [pattern, set] : *values) {
    try {
      // Go's regexp.MatchString is a search (unanchored), as regex_search is.
      if (std::regex_search(source.begin(), source.end(), std::regex(pattern))) return true;
    } catch (const std::regex_error&) {
      continue;  // Docker skips a value that does not compile
    }
  }
  return false;
}

bool Filters::FuzzyMatch(std::string_view key, std::string_view source) const {
  if (ExactMatch(key, source)) return true;
  const auto* values = Values(key);
  if (values == nullptr) return false;
  for (const auto& [prefix, set] : *values) {
    if (absl::StartsWith(Av(source), prefix)) return true;
  }
  return false;
}

bool Filters::MatchKVList(std::string_view key, const StringMap& labels) const {
  const auto* values = Values(key);
  if (values == nullptr || values->empty()) return true;
  if (labels.empty()) return false;
  for (const auto& [value, set] : *values) {
    size_t eq = value.find('=');
    auto it = labels.find(value.substr(0, eq));
    if (it == labels.end()) return false;
    if (eq != std::string::npos && it->second != value.substr(eq + 1)) return false;
  }
  return true;
}

bool Filters::MatchKVList(std::string_view key, const std::optional<StringMap>& labels) const {
  return MatchKVList(key, OrEmpty(labels));
}

Status Filters::Validate(const std::set<std::string, std::less<>>& accepted) const {
  for (const auto& [key, values] : fields_) {
    if (accepted.find(key) == accepted.end()) return InvalidFilter(key);
  }
  return absl::OkStatus();
}

Status Filters::WalkValues(std::string_view key,
                           const std::function<Status(const std::string&)>& op) const {
  const auto* values = Values(key);
  if (values == nullptr) return absl::OkStatus();
  for (const auto& [value, set] : *values) RETURN_IF_ERROR(op(value));
  return absl::OkStatus();
}

bool PruneFilter::Matches(int64_t created, const std::optional<StringMap>& labels) const {
  if (until > 0 && created >= until) return false;
  if (!filters.MatchKVList("label", labels)) return false;
  // moby's matchLabels: the values of `label!` are ANDed like those of `label`, so an object is
  // kept only if it carries every one of them (one of two is not enough to keep it).
  if (filters.Contains("label!") && filters.MatchKVList("label!", labels)) return false;
  return true;
}

StatusOr<PruneFilter> ParsePruneFilter(const Filters& f, int64_t now_nanos,
                                       const std::set<std::string, std::less<>>& extra) {
  std::set<std::string, std::less<>> accepted = {"until", "label", "label!"};
  accepted.insert(extra.begin(), extra.end());
  RETURN_IF_ERROR(f.Validate(accepted));
  PruneFilter out;
  out.filters = f;
  RETURN_IF_ERROR(f.WalkValues("until", [&](const std::string& v) {
    double secs;
    int64_t nanos;
    absl::Duration d;
    if (absl::SimpleAtod(v, &secs)) out.until = static_cast<int64_t>(secs * 1e9);
    else if (ParseRfc3339(v, &nanos)) out.until = nanos;
    else if (absl::ParseDuration(v, &d)) out.until = now_nanos - absl::ToInt64Nanoseconds(d);
    else return InvalidFilter("until", v);
    return absl::OkStatus();
  }));
  return out;
}

Status InvalidFilter(std::string_view key) {
  return absl::InvalidArgumentError(absl::StrCat("Invalid filter '", Av(key), "'"));
}

Status InvalidFilter(std::string_view key, std::string_view value) {
  return absl::InvalidArgumentError(absl::StrCat("Invalid filter '", Av(key), "=", Av(value), "'"));
}

}  // namespace berth::spec
