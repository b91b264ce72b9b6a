// The store's services, tasks, secrets and configs, and the orchestrator's view and plans
// (store.h). Records are the API's JSON with Version.Index zeroed: the key's mod revision is the
// version, set when a record is read.

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "cluster/store.h"
#include "cluster/store_internal.h"
#include "spec/json/service_json.h"

namespace berth::cluster {
// Beside the API's fields, Berth's own (sealed; see spec::Service::registry_auth).
constexpr char kRegistryAuthKey[] = "BerthRegistryAuth";
constexpr char kPreviousRegistryAuthKey[] = "BerthPreviousRegistryAuth";

std::string EncodeServiceRecord(spec::Service s) {
  s.meta.version.index = 0;
  s.service_status.reset();
  nlohmann::ordered_json j = spec::RenderService(s);
  if (!s.registry_auth.empty()) j[kRegistryAuthKey] = s.registry_auth;
  if (!s.previous_registry_auth.empty()) j[kPreviousRegistryAuthKey] = s.previous_registry_auth;
  return j.dump();
}

StatusOr<spec::Service> DecodeServiceRecord(std::string_view text) {
  if (text.find(kRegistryAuthKey) == std::string_view::npos &&
      text.find(kPreviousRegistryAuthKey) == std::string_view::npos)
    return spec::ParseService(text);
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (!j.is_object()) return absl::InvalidArgumentError("service record is not a JSON object");
  std::string auth = j.value(kRegistryAuthKey, ""), previous = j.value(kPreviousRegistryAuthKey, "");
  j.erase(kRegistryAuthKey);
  j.erase(kPreviousRegistryAuthKey);
  ASSIGN_OR_RETURN(spec::Service s, spec::ParseService(j.dump()));
  s.registry_auth = std::move(auth);
  s.previous_registry_auth = std::move(previous);
  return s;
}

namespace {

using etcd::Compare;
using etcd::Op;

constexpr char kSecretsPrefix[] = "/berth/swarm/secrets/";
constexpr char kConfigsPrefix[] = "/berth/swarm/configs/";
constexpr char kNamesPrefix[] = "/berth/swarm/names/";
// swarmkit's answers to a name that is taken (controlapi: services keep the store's original
// words in front for clients that match on them).
std::string NameConflict(std::string_view noun, const std::string& name) {
  if (noun == "service")
    return absl::StrCat(
        "rpc error: code = AlreadyExists desc = name conflicts with an existing object: service ",
        name, " already exists");
  return absl::StrCat("rpc error: code = AlreadyExists desc = ", Av(noun), " ", name,
                      " already exists");
}

// How each kind of record is keyed, named, encoded and decoded.
template <typename T>
struct Kind;

template <>
struct Kind<spec::Service> {
  static constexpr const char* noun = "service";
  static constexpr const char* prefix = Store::kServicesPrefix;
  static const std::string& Name(const spec::Service& s) { return s.spec.annotations.name; }
  static std::string Encode(spec::Service s) { return EncodeServiceRecord(std::move(s)); }
  static StatusOr<spec::Service> Decode(std::string_view text) { return DecodeServiceRecord(text); }
};

template <>
struct Kind<spec::Task> {
  static constexpr const char* noun = "task";
  static constexpr const char* prefix = Store::kTasksPrefix;
  static std::string Encode(spec::Task t) {
    t.meta.version.index = 0;
    return spec::RenderTask(t).dump();
  }
  static StatusOr<spec::Task> Decode(std::string_view text) { return spec::ParseTask(text); }
};

template <>
struct Kind<spec::Secret> {
  static constexpr const char* noun = "secret";
  static constexpr const char* prefix = kSecretsPrefix;
  static const std::string& Name(const spec::Secret& s) { return s.spec.annotations.name; }
  static std::string Encode(spec::Secret s) {
    s.meta.version.index = 0;
    return spec::RenderSecret(s).dump();
  }
  static StatusOr<spec::Secret> Decode(std::string_view text) { return spec::ParseSecret(text); }
};

template <>
struct Kind<spec::Config> {
  static constexpr const char* noun = "config";
  static constexpr const char* prefix = kConfigsPrefix;
  static const std::string& Name(const spec::Config& c) { return c.spec.annotations.name; }
  static std::string Encode(spec::Config c) {
    c.meta.version.index = 0;
    return spec::RenderConfig(c).dump();
  }
  static StatusOr<spec::Config> Decode(std::string_view text) { return spec::ParseConfig(text); }
};

template <typename T>
std::string KeyOf(const std::string& id) {
  return absl::StrCat(Kind<T>::prefix, id);
}

template <typename T>
std::string NameKey(const std::string& name) {
  return absl::StrCat(kNamesPrefix, Kind<T>::noun, "/", name);
}

template <typename T>
StatusOr<T> DecodeRecord(const etcd::KeyValue& kv) {
  StatusOr<T> v = Kind<T>::Decode(kv.value);
  if (!v.ok())
    return absl::DataLossError(
        absl::StrCat(Kind<T>::noun, " record ", kv.key, ": ", v.status().message()));
  v->meta.version.index = static_cast<uint64_t>(kv.mod_revision);
  return v;
}

template <typename T>
StatusOr<std::vector<T>> ListRecords(etcd::KvReader& etcd, int64_t revision = 0,
                                     int64_t* read_at = nullptr) {
  etcd::GetOptions o;
  o.prefix = true;
  o.revision = revision;
  StatusOr<etcd::RangeResult> r = etcd.Get(Kind<T>::prefix, o);
  if (!r.ok()) return StoreError(r.status(), absl::StrCat("list ", Kind<T>::noun, "s"));
  if (read_at != nullptr) *read_at = r->header.revision;
  std::vector<T> out;
  out.reserve(r->kvs.size());
  for (const etcd::KeyValue& kv : r->kvs) {
    ASSIGN_OR_RETURN(T v, DecodeRecord<T>(kv));
    out.push_back(std::move(v));
  }
  return out;
}

template <typename T>
StatusOr<T> GetRecord(etcd::KvReader& etcd, const std::string& id) {
  StatusOr<etcd::RangeResult> r = etcd.Get(KeyOf<T>(id));
  if (!r.ok()) return StoreError(r.status(), absl::StrCat("read ", Kind<T>::noun));
  if (r->kvs.empty())
    return absl::NotFoundError(absl::StrCat(Kind<T>::noun, " ", id, " not found"));
  return DecodeRecord<T>(r->kvs[0]);
}

// A named record and its name's index key, in one transaction; refused if either exists.
template <typename T>
Status CreateNamed(etcd::Client& etcd, const T& v) {
  std::string key = KeyOf<T>(v.id);
  std::string name_key = NameKey<T>(Kind<T>::Name(v));
  StatusOr<etcd::TxnResult> r =
      etcd.Txn({Compare::Missing(key), Compare::Missing(name_key)},
               {Op::Put(key, Kind<T>::Encode(v)), Op::Put(name_key, v.id)});
  if (!r.ok()) return StoreError(r.status(), absl::StrCat("create ", Kind<T>::noun));
  if (!r->succeeded) return absl::AlreadyExistsError(NameConflict(Kind<T>::noun, Kind<T>::Name(v)));
  return absl::OkStatus();
}

// A write at `version`; names do not change (Docker refuses renames before this).
template <typename T>
Status UpdateRecord(etcd::Client& etcd, const T& v, uint64_t version) {
  std::string key = KeyOf<T>(v.id);
  StatusOr<etcd::TxnResult> r =
      etcd.Txn({Compare::ModRevisionIs(key, static_cast<int64_t>(version))},
               {Op::Put(key, Kind<T>::Encode(v))}, {Op::Get(key)});
  if (!r.ok()) return StoreError(r.status(), absl::StrCat("update ", Kind<T>::noun));
  if (!r->succeeded) {
    if (r->ranges.empty() || r->ranges[0].kvs.empty())
      return absl::NotFoundError(absl::StrCat(Kind<T>::noun, " ", v.id, " not found"));
    return OutOfSequence();
  }
  return absl::OkStatus();
}

// Deletes a named record and its name's index entry (if it still names this record).
template <typename T>
Status RemoveNamed(etcd::Client& etcd, const std::string& id) {
  ASSIGN_OR_RETURN(T v, GetRecord<T>(etcd, id));
  std::string key = KeyOf<T>(id);
  std::string name_key = NameKey<T>(Kind<T>::Name(v));
  StatusOr<etcd::TxnResult> r =
      etcd.Txn({Compare::ModRevisionIs(key, static_cast<int64_t>(v.meta.version.index))},
               {Op::Delete(key), Op::Delete(name_key)});
  if (!r.ok()) return StoreError(r.status(), absl::StrCat("remove ", Kind<T>::noun));
  if (!r->succeeded) return OutOfSequence();
  return absl::OkStatus();
}

Compare ModRevisionIsService(const spec::Service& s) {
  return Compare::ModRevisionIs(KeyOf<spec::Service>(s.id),
                                static_cast<int64_t>(s.meta.version.index));
}

}  // namespace

std::string Store::TaskKey(const std::string& id) { return KeyOf<spec::Task>(id); }

StatusOr<std::vector<spec::Service>> Store::ListServices() {
  return ListRecords<spec::Service>(*reader_);
}
StatusOr<spec::Service> Store::GetService(const std::string& id) {
  return GetRecord<spec::Service>(*reader_, id);
}
// A service's writes hold its virtual IPs' address keys in the same transaction (a few rounds: a
// lost race for an address reads again).
Status Store::CreateService(const spec::Service& in) {
  std::string key = KeyOf<spec::Service>(in.id);
  std::string name_key = NameKey<spec::Service>(in.spec.annotations.name);
  for (int attempt = 0; attempt < 8; ++attempt) {
    spec::Service s = in;
    std::vector<Compare> cmp = {Compare::Missing(key), Compare::Missing(name_key)};
    std::vector<Op> ops;
    RETURN_IF_ERROR(PlanServiceVips(&s, &cmp, &ops));
    ops.push_back(Op::Put(key, Kind<spec::Service>::Encode(s)));
    ops.push_back(Op::Put(name_key, s.id));
    StatusOr<etcd::TxnResult> r = etcd_->Txn(cmp, ops, {Op::Get(key), Op::Get(name_key)});
    if (!r.ok()) return StoreError(r.status(), "create service");
    if (r->succeeded) return absl::OkStatus();
    if (r->ranges.size() == 2 && (!r->ranges[0].kvs.empty() || !r->ranges[1].kvs.empty()))
      return absl::AlreadyExistsError(NameConflict("service", s.spec.annotations.name));
  }
  return absl::AbortedError("create service: the store kept changing; try again");
}

Status Store::UpdateService(const spec::Service& in, uint64_t version) {
  std::string key = KeyOf<spec::Service>(in.id);
  for (int attempt = 0; attempt < 8; ++attempt) {
    spec::Service s = in;
    std::vector<Compare> cmp = {Compare::ModRevisionIs(key, static_cast<int64_t>(version))};
    std::vector<Op> ops;
    RETURN_IF_ERROR(PlanServiceVips(&s, &cmp, &ops));
    ops.push_back(Op::Put(key, Kind<spec::Service>::Encode(s)));
    StatusOr<etcd::TxnResult> r = etcd_->Txn(cmp, ops, {Op::Get(key)});
    if (!r.ok()) return StoreError(r.status(), "update service");
    if (r->succeeded) return absl::OkStatus();
    if (r->ranges.empty() || r->ranges[0].kvs.empty())
      return absl::NotFoundError(absl::StrCat("service ", s.id, " not found"));
    if (r->ranges[0].kvs[0].mod_revision != static_cast<int64_t>(version)) return OutOfSequence();
  }
  return absl::AbortedError("update service: the store kept changing; try again");
}

Status Store::RemoveService(const std::string& id) {
  ASSIGN_OR_RETURN(spec::Service s, GetRecord<spec::Service>(*etcd_, id));
  std::string key = KeyOf<spec::Service>(id);
  std::vector<Op> ops = {Op::Delete(key), Op::Delete(NameKey<spec::Service>(s.spec.annotations.name))};
  ReleaseServiceVips(s, &ops);
  StatusOr<etcd::TxnResult> r = etcd_->Txn(
      {Compare::ModRevisionIs(key, static_cast<int64_t>(s.meta.version.index))}, ops);
  if (!r.ok()) return StoreError(r.status(), "remove service");
  if (!r->succeeded) return OutOfSequence();
  return absl::OkStatus();
}

StatusOr<std::vector<spec::Task>> Store::ListTasks() { return ListRecords<spec::Task>(*reader_); }
StatusOr<spec::Task> Store::GetTask(const std::string& id) {
  return GetRecord<spec::Task>(*reader_, id);
}
Status Store::UpdateTask(const spec::Task& t, uint64_t version) {
  Status s = UpdateRecord(*etcd_, t, version);
  if (s.code() == absl::StatusCode::kUnknown)
    return absl::FailedPreconditionError(absl::StrCat("task ", t.id, " changed meanwhile"));
  return s;
}

Status Store::UpdateTasks(const std::vector<std::pair<spec::Task, uint64_t>>& tasks) {
  if (tasks.empty()) return absl::OkStatus();
  std::vector<Compare> compares;
  std::vector<Op> ops;
  for (const auto& [t, version] : tasks) {
    std::string key = TaskKey(t.id);
    compares.push_back(Compare::ModRevisionIs(key, static_cast<int64_t>(version)));
    ops.push_back(Op::Put(key, Kind<spec::Task>::Encode(t)));
  }
  StatusOr<etcd::TxnResult> r = etcd_->Txn(compares, ops);
  if (!r.ok()) return StoreError(r.status(), "update tasks");
  if (!r->succeeded) return absl::FailedPreconditionError("a task changed meanwhile");
  return absl::OkStatus();
}

StatusOr<std::vector<spec::Secret>> Store::ListSecrets() {
  return ListRecords<spec::Secret>(*reader_);
}
StatusOr<spec::Secret> Store::GetSecret(const std::string& id) {
  return GetRecord<spec::Secret>(*reader_, id);
}
Status Store::CreateSecret(const spec::Secret& s) { return CreateNamed(*etcd_, s); }
Status Store::UpdateSecret(const spec::Secret& s, uint64_t version) {
  return UpdateRecord(*etcd_, s, version);
}
Status Store::RemoveSecret(const std::string& id) { return RemoveNamed<spec::Secret>(*etcd_, id); }

StatusOr<std::vector<spec::Config>> Store::ListConfigs() {
  return ListRecords<spec::Config>(*reader_);
}
StatusOr<spec::Config> Store::GetConfig(const std::string& id) {
  return GetRecord<spec::Config>(*reader_, id);
}
Status Store::CreateConfig(const spec::Config& c) { return CreateNamed(*etcd_, c); }
Status Store::UpdateConfig(const spec::Config& c, uint64_t version) {
  return UpdateRecord(*etcd_, c, version);
}
Status Store::RemoveConfig(const std::string& id) { return RemoveNamed<spec::Config>(*etcd_, id); }

StatusOr<orch::ClusterView> Store::ReadView(int64_t* revision) {
  orch::ClusterView view;
  int64_t at = 0;
  ASSIGN_OR_RETURN(view.services, ListRecords<spec::Service>(*reader_, 0, &at));
  ASSIGN_OR_RETURN(view.tasks, ListRecords<spec::Task>(*reader_, at));
  etcd::GetOptions o;
  o.prefix = true;
  o.revision = at;
  StatusOr<etcd::RangeResult> nodes = reader_->Get(kNodesPrefix, o);
  if (!nodes.ok()) return StoreError(nodes.status(), "list nodes");
  for (const etcd::KeyValue& kv : nodes->kvs) {
    ASSIGN_OR_RETURN(spec::Node n, DecodeNode(kv));
    view.nodes.push_back(std::move(n));
  }
  StatusOr<spec::ClusterInfo> cluster = GetCluster();
  if (cluster.ok() && cluster->spec.orchestration.task_history_retention_limit.has_value())
    view.task_history_limit = *cluster->spec.orchestration.task_history_retention_limit;
  if (revision != nullptr) *revision = at;
  return view;
}

Status Store::ApplyPlan(const orch::Plan& plan, const orch::ClusterView& view, int64_t lease,
                        int64_t* revision) {
  // One transaction: every changed task and service at the version read, and every service whose
  // tasks the plan creates or changes still at the version read (a concurrent update or rm of the
  // service must fail the plan: its new tasks carry the spec that was read).
  std::vector<Compare> compares;
  std::vector<Op> ops;
  // Fenced: only while the leadership key is still on this leader's lease (an old leader that
  // has not noticed its lease expired must not write a plan beside the new leader's).
  Compare fence;
  fence.key = kLeaderKey;
  fence.target = Compare::Target::kLease;
  fence.number = lease;
  compares.push_back(fence);
  std::set<std::string> services_written;
  for (const spec::Service& s : plan.services) {
    std::string key = KeyOf<spec::Service>(s.id);
    compares.push_back(Compare::ModRevisionIs(key, static_cast<int64_t>(s.meta.version.index)));
    ops.push_back(Op::Put(key, Kind<spec::Service>::Encode(s)));
    services_written.insert(s.id);
  }
  std::set<std::string> services_used;
  std::vector<spec::Task> create = plan.create;
  RETURN_IF_ERROR(AddTaskAddresses(&create, view.services, &compares, &ops));
  for (const spec::Task& t : create) {
    compares.push_back(Compare::Missing(TaskKey(t.id)));
    ops.push_back(Op::Put(TaskKey(t.id), Kind<spec::Task>::Encode(t)));
    services_used.insert(t.service_id);
  }
  for (const spec::Task& t : plan.update) {
    compares.push_back(
        Compare::ModRevisionIs(TaskKey(t.id), static_cast<int64_t>(t.meta.version.index)));
    ops.push_back(Op::Put(TaskKey(t.id), Kind<spec::Task>::Encode(t)));
    services_used.insert(t.service_id);
  }
  std::map<std::string, const spec::Task*> read;
  for (const spec::Task& t : view.tasks) read[t.id] = &t;
  for (const std::string& id : plan.remove) {
    auto it = read.find(id);
    if (it != read.end()) {
      compares.push_back(Compare::ModRevisionIs(
          TaskKey(id), static_cast<int64_t>(it->second->meta.version.index)));
      ReleaseTaskAddresses(*it->second, &ops);
    }
    ops.push_back(Op::Delete(TaskKey(id)));
  }
  for (const spec::Service& s : view.services) {
    if (!services_used.count(s.id) || services_written.count(s.id)) continue;
    compares.push_back(ModRevisionIsService(s));
  }
  StatusOr<etcd::TxnResult> r = etcd_->Txn(compares, ops);
  if (!r.ok()) return StoreError(r.status(), "write the orchestrator's plan");
  if (revision != nullptr) *revision = r->header.revision;
  if (!r->succeeded)
    return absl::FailedPreconditionError("the store changed while the plan was made");
  return absl::OkStatus();
}

}  // namespace berth::cluster
