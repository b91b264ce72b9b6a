// The leader's copy of the store (cluster/mirror.h) without etcd: a snapshot answers Get as etcd
// would at its revision, and events apply in order. (Against a real member, with its watch:
// test/privileged/etcd_test.cc, StoreMirrorLoadsThenFollowsItsPrefix.)
#include <gtest/gtest.h>

#include "cluster/mirror.h"

namespace berth::cluster {
namespace {

etcd::KeyValue Kv(const std::string& key, const std::string& value, int64_t rev) {
  etcd::KeyValue kv;
  kv.key = key;
  kv.value = value;
  kv.create_revision = kv.mod_revision = rev;
  kv.version = 1;
  return kv;
}

MirrorSnapshot Snap(int64_t revision, const std::vector<etcd::KeyValue>& kvs) {
  auto m = std::make_shared<MirrorSnapshot::Kvs>();
  for (const etcd::KeyValue& kv : kvs)
    m->emplace(kv.key, std::make_shared<const etcd::KeyValue>(kv));
  return MirrorSnapshot(revision, m);
}

std::vector<std::string> Keys(const etcd::RangeResult& r) {
  std::vector<std::string> out;
  for (const etcd::KeyValue& kv : r.kvs) out.push_back(kv.key);
  return out;
}

TEST(StoreMirror, SnapshotAnswersGetAsEtcdWould) {
  MirrorSnapshot s = Snap(9, {Kv("/s/tasks/a", "A", 3), Kv("/s/tasks/b", "B", 5),
                              Kv("/s/tasksx", "X", 6), Kv("/s/services/z", "Z", 7)});
  etcd::GetOptions prefix;
  prefix.prefix = true;
  auto tasks = s.Get("/s/tasks/", prefix);
  ASSERT_TRUE(tasks.ok());
  EXPECT_EQ(Keys(*tasks), (std::vector<std::string>{"/s/tasks/a", "/s/tasks/b"}));
  EXPECT_EQ(tasks->header.revision, 9);
  EXPECT_EQ(tasks->count, 2);
  EXPECT_FALSE(tasks->more);
  EXPECT_EQ(tasks->kvs[1].mod_revision, 5);

  // One key; a missing one is an empty answer, not an error.
  auto one = s.Get("/s/tasks/b");
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->kvs.size(), 1u);
  EXPECT_EQ(one->kvs[0].value, "B");
  auto none = s.Get("/s/tasks/");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->kvs.empty());
  EXPECT_EQ(none->header.revision, 9);

  // limit, keys_only, count.
  etcd::GetOptions limited = prefix;
  limited.limit = 2;
  limited.keys_only = true;
  auto first = s.Get("/s/", limited);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Keys(*first), (std::vector<std::string>{"/s/services/z", "/s/tasks/a"}));
  EXPECT_EQ(first->kvs[0].value, "");
  EXPECT_EQ(first->count, 4);
  EXPECT_TRUE(first->more);
}

TEST(StoreMirror, EventsApplyInOrderToACopy) {
  MirrorSnapshot::Kvs before;
  before.emplace("/s/a", std::make_shared<const etcd::KeyValue>(Kv("/s/a", "1", 2)));
  before.emplace("/s/b", std::make_shared<const etcd::KeyValue>(Kv("/s/b", "2", 3)));
  etcd::WatchEvent put_c{etcd::WatchEvent::Type::kPut, Kv("/s/c", "3", 4)};
  etcd::WatchEvent del_a{etcd::WatchEvent::Type::kDelete, Kv("/s/a", "", 5)};
  etcd::WatchEvent put_a{etcd::WatchEvent::Type::kPut, Kv("/s/a", "again", 6)};
  etcd::WatchEvent put_b{etcd::WatchEvent::Type::kPut, Kv("/s/b", "22", 7)};
  etcd::WatchEvent del_c{etcd::WatchEvent::Type::kDelete, Kv("/s/c", "", 8)};
  MirrorSnapshot::Kvs after = ApplyEvents(before, {put_c, del_a, put_a, put_b, del_c});
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after.at("/s/a")->value, "again");
  EXPECT_EQ(after.at("/s/a")->mod_revision, 6);
  EXPECT_EQ(after.at("/s/b")->value, "22");
  // The map applied to is untouched (a published snapshot never changes).
  EXPECT_EQ(before.size(), 2u);
  EXPECT_EQ(before.at("/s/a")->value, "1");
  EXPECT_EQ(before.at("/s/b")->value, "2");
  // A delete of a key that is not there changes nothing.
  EXPECT_EQ(ApplyEvents(after, {del_c}).size(), 2u);
}

}  // namespace
}  // namespace berth::cluster
