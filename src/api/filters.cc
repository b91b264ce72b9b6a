#include "api/routes.h"
#include "spec/json/filters_json.h"

namespace berth::api {

StatusOr<spec::Filters> RequestFilters(const Request& req) { return spec::ParseFilters(req.Query("filters")); }

}  // namespace berth::api
