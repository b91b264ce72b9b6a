// The store's records of volumes and of containers' mounts (a file format: JSON).

#include "engine/volume_records.h"

#include "nlohmann/json.hpp"

namespace berth::engine {

using json = nlohmann::json;

static json MapOrNull(const std::optional<spec::StringMap>& m) { return m ? json(*m) : json(nullptr); }
static std::optional<spec::StringMap> MapFrom(const json& j) {
  if (!j.is_object()) return std::nullopt;
  return j.get<spec::StringMap>();
}

std::string VolumeDoc(const Volume& v) {
  return json{{"name", v.name},
              {"driver", v.driver},
              {"labels", MapOrNull(v.labels)},
              {"options", MapOrNull(v.options)},
              {"created", v.created}}
      .dump();
}

StatusOr<Volume> VolumeFromDoc(const std::string& doc) {
  json j = json::parse(doc, nullptr, false);
  if (!j.is_object() || !j.contains("name")) return absl::DataLossError("bad volume record");
  Volume v;
  v.name = j.value("name", "");
  v.driver = j.value("driver", "local");
  v.labels = MapFrom(j.value("labels", json()));
  v.options = MapFrom(j.value("options", json()));
  v.created = j.value("created", int64_t{0});
  return v;
}

std::string MountsDoc(const std::vector<ContainerMount>& ms) {
  json a = json::array();
  for (const ContainerMount& m : ms)
    a.push_back({{"type", m.point.type},
                 {"name", m.point.name},
                 {"source", m.point.source},
                 {"destination", m.point.destination},
                 {"driver", m.point.driver},
                 {"mode", m.point.mode},
                 {"rw", m.point.rw},
                 {"propagation", m.point.propagation},
                 {"copy_data", m.copy_data},
                 {"create_source", m.create_source},
                 {"anonymous", m.anonymous},
                 {"tmpfs_options", m.tmpfs_options}});
  return a.dump();
}

std::vector<ContainerMount> MountsFromDoc(const std::string& doc) {
  std::vector<ContainerMount> out;
  json a = json::parse(doc, nullptr, false);
  if (!a.is_array()) return out;
  for (const json& j : a) {
    ContainerMount m;
    m.point.type = j.value("type", "");
    m.point.name = j.value("name", "");
    m.point.source = j.value("source", "");
    m.point.destination = j.value("destination", "");
    m.point.driver = j.value("driver", "");
    m.point.mode = j.value("mode", "");
    m.point.rw = j.value("rw", true);
    m.point.propagation = j.value("propagation", "");
    m.copy_data = j.value("copy_data", false);
    m.create_source = j.value("create_source", false);
    m.anonymous = j.value("anonymous", false);
    m.tmpfs_options = j.value("tmpfs_options", "");
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace berth::engine
