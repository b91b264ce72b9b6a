#pragma once
// The one decoder of the `filters` query parameter, for every list and prune route.

#include <string>
#include <string_view>

#include "common/status.h"
#include "spec/filters.h"

namespace berth::spec {

// Docker 20.10's filters.FromJSON: "" is no filter; {"k":{"v":true}} and the legacy
// {"k":["v"]} are read; anything else is InvalidArgument with the Go error Docker reports
// (a syntax error, or the first form's "json: cannot unmarshal array into Go value of type
// map[string]bool"). Docker 20.10 answers these with a 500; Berth answers 400, as Docker 23+.
// Validate the keys afterwards with Filters::Validate.
StatusOr<Filters> ParseFilters(std::string_view param);

// The parameter as a client sends it: {"k":{"v":true}}; "" for no filter (filters.ToJSON).
std::string EncodeFilters(const Filters& filters);

}  // namespace berth::spec
