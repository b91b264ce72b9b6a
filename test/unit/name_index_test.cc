// The embedded DNS's view of names: Docker's scoping rules on an immutable NameIndex.

#include "network/name_index.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::network {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

NameIndex Sample() {
  // c1 and c2 on net A (c2 with alias "db"); c2 and c3 on net B; c4 alone on C.
  std::vector<NameIndex::Entry> entries = {
      {"c1id0000000000", "A", {"c1", "c1id00000000", "c1id0000000000"}, "10.0.0.2"},
      {"c2id0000000000", "A", {"c2", "c2id00000000", "c2id0000000000", "db"}, "10.0.0.3"},
      {"c2id0000000000", "B", {"c2", "c2id00000000", "c2id0000000000"}, "10.1.0.3"},
      {"c3id0000000000", "B", {"C3", "c3id00000000", "c3id0000000000"}, "10.1.0.4"},
      {"c4id0000000000", "C", {"c4", "c4id00000000", "c4id0000000000"}, "10.2.0.2"},
  };
  std::map<std::string, NameIndex::Asker> askers = {
      {"c1id0000000000", {{"A"}, {"corp.example"}}},
      {"c2id0000000000", {{"A", "B"}, {}}},
      {"c3id0000000000", {{"B"}, {}}},
      {"c4id0000000000", {{"C"}, {}}},
  };
  return NameIndex(entries, askers, {{"A", "testNetwork"}, {"B", "other"}, {"C", "lonely"}});
}

TEST(NameIndexTest, NamesResolveOnlyOnSharedNetworks) {
  NameIndex idx = Sample();
  EXPECT_THAT(idx.Resolve("c1id0000000000", "c2"), ElementsAre("10.0.0.3"));
  EXPECT_THAT(idx.Resolve("c1id0000000000", "c3"), IsEmpty());     // B is not c1's
  EXPECT_THAT(idx.Resolve("c3id0000000000", "c2"), ElementsAre("10.1.0.3"));
  EXPECT_THAT(idx.Resolve("c2id0000000000", "c3"), ElementsAre("10.1.0.4"));
  EXPECT_THAT(idx.Resolve("c4id0000000000", "c1"), IsEmpty());
  EXPECT_THAT(idx.Resolve("unknown-asker", "c1"), IsEmpty());
}

TEST(NameIndexTest, AliasesIdsCaseAndTrailingDot) {
  NameIndex idx = Sample();
  EXPECT_THAT(idx.Resolve("c1id0000000000", "db"), ElementsAre("10.0.0.3"));
  EXPECT_THAT(idx.Resolve("c1id0000000000", "C2ID00000000."), ElementsAre("10.0.0.3"));
  EXPECT_THAT(idx.Resolve("c2id0000000000", "c3"), ElementsAre("10.1.0.4"));  // stored as C3
  EXPECT_THAT(idx.Resolve("c3id0000000000", "db"), IsEmpty());  // the alias is A's only
}

TEST(NameIndexTest, QualifiedBySearchDomainOrNetworkName) {
  NameIndex idx = Sample();
  EXPECT_THAT(idx.Resolve("c1id0000000000", "c2.corp.example"), ElementsAre("10.0.0.3"));
  EXPECT_THAT(idx.Resolve("c1id0000000000", "c2.testnetwork"), ElementsAre("10.0.0.3"));
  EXPECT_THAT(idx.Resolve("c1id0000000000", "c2.other"), IsEmpty());
  EXPECT_THAT(idx.Resolve("c2id0000000000", "c3.other"), ElementsAre("10.1.0.4"));
}

TEST(NameIndexTest, DualStackEndpointsGiveBothAddresses) {
  std::vector<NameIndex::Entry> entries = {
      {"a6id0000000000", "N6", {"a6"}, "172.30.0.2", "fd00:30::2"},
      {"b6id0000000000", "N6", {"b6", "web"}, "172.30.0.3", "fd00:30::77"},
      {"b6id0000000000", "N4", {"b6"}, "10.9.0.3"},  // the same container on an IPv4-only network
  };
  std::map<std::string, NameIndex::Asker> askers = {{"a6id0000000000", {{"N6"}, {}}},
                                                    {"b6id0000000000", {{"N6", "N4"}, {}}}};
  NameIndex idx(entries, askers, {{"N6", "n6"}, {"N4", "n4"}});
  EXPECT_THAT(idx.Resolve("a6id0000000000", "b6"), ElementsAre("172.30.0.3", "fd00:30::77"));
  EXPECT_THAT(idx.Resolve("a6id0000000000", "web.n6"), ElementsAre("172.30.0.3", "fd00:30::77"));
  EXPECT_THAT(idx.Resolve("b6id0000000000", "b6.n4"), ElementsAre("10.9.0.3"));
}

TEST(NameIndexTest, AnEmptyIndexKnowsNothing) {
  NameIndex idx;
  EXPECT_THAT(idx.Resolve("c1id0000000000", "c2"), IsEmpty());
}

}  // namespace
}  // namespace berth::network
