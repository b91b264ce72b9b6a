#include "spec/json/filters_json.h"

#include "spec/json/go_codec.h"

namespace berth::spec {

StatusOr<Filters> ParseFilters(std::string_view param) {
  Filters filters;
  if (param.empty()) return filters;
  // json.Unmarshal, not a Decoder: text after the value is an error here.
  ASSIGN_OR_RETURN(json::GoValue v, json::ReadGoJson(param, json::GoJsonMode::kUnmarshal));

  static const auto* modern = new json::Codec<std::map<std::string, std::map<std::string, bool>>>(
      json::Map(json::Map(json::Bool()), "map[string]map[string]bool"));
  std::map<std::string, std::map<std::string, bool>> fields;
  Status first = json::DecodeValue(v, *modern, fields);
  if (first.ok()) {
    for (auto& [key, values] : fields) filters.Set(key, std::move(values));
    return filters;
  }

  // The format of API < 1.22: {"k":["v1","v2"]}.
  static const auto* legacy = new json::Codec<std::map<std::string, std::vector<std::string>>>(
      json::Map(json::Slice(json::String()), "map[string][]string"));
  std::map<std::string, std::vector<std::string>> lists;
  if (!json::DecodeValue(v, *legacy, lists).ok()) return first;
  for (const auto& [key, values] : lists) {
    std::map<std::string, bool> set;
    for (const auto& value : values) set[value] = true;
    filters.Set(key, std::move(set));
  }
  return filters;
}

std::string EncodeFilters(const Filters& filters) {
  if (filters.Len() == 0) return "";
  json::Json o = json::Json::object();
  for (const auto& [key, values] : filters.fields()) {
    json::Json set = json::Json::object();
    for (const auto& [value, on] : values) set[value] = on;
    o[key] = std::move(set);
  }
  return json::Dump(o);
}

}  // namespace berth::spec
