// Detach keys: Docker's key spelling (moby/term ToBytes) and the scanner that finds the sequence
// in a client's input, across reads.

#include <gtest/gtest.h>

#include "spec/detach_keys.h"

namespace berth::spec {
namespace {

TEST(SpecDetachKeys, ParsesDockersSpelling) {
  EXPECT_EQ(*ParseDetachKeys("ctrl-p,ctrl-q"), std::string("\x10\x11"));
  EXPECT_EQ(*ParseDetachKeys(kDefaultDetachKeys), std::string("\x10\x11"));
  EXPECT_EQ(*ParseDetachKeys("a,b"), "ab");
  EXPECT_EQ(*ParseDetachKeys("ctrl-@"), std::string(1, '\0'));
  EXPECT_EQ(*ParseDetachKeys("ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_"), "\x1b\x1c\x1d\x1e\x1f");
  EXPECT_EQ(*ParseDetachKeys("ctrl-z,DEL"), std::string("\x1a\x7f"));
}

TEST(SpecDetachKeys, RefusesWhatDockerRefuses) {
  for (const char* bad : {"ctrl-P", "ctrl-", "ctrl-1", "ab", "", "a,", "a,,b", "del", "ctrl-pp"}) {
    auto k = ParseDetachKeys(bad);
    EXPECT_FALSE(k.ok()) << bad;
  }
  EXPECT_EQ(ParseDetachKeys("x,ctrl-P").status().message(), "Unknown character: 'ctrl-P'");
}

std::string FeedAll(DetachScanner& s, std::initializer_list<std::string_view> reads, bool* detached) {
  std::string out;
  *detached = false;
  for (std::string_view r : reads) {
    if (s.Feed(r, &out)) {
      *detached = true;
      break;
    }
  }
  return out;
}

TEST(SpecDetachScanner, FindsTheSequenceAcrossReadsAndDropsIt) {
  DetachScanner s("\x10\x11");
  bool detached;
  EXPECT_EQ(FeedAll(s, {"echo hi\n\x10", "\x11tail"}, &detached), "echo hi\n");
  EXPECT_TRUE(detached);
}

TEST(SpecDetachScanner, PassesABrokenOffPrefixOnInOrder) {
  DetachScanner s("\x10\x11");
  bool detached;
  EXPECT_EQ(FeedAll(s, {"a\x10", "b"}, &detached), "a\x10" "b");
  EXPECT_FALSE(detached);
  // A prefix that restarts the sequence: "p p q" still ends in "p q".
  DetachScanner again("pq");
  EXPECT_EQ(FeedAll(again, {"ppq"}, &detached), "p");
  EXPECT_TRUE(detached);
  DetachScanner overlap("aab");
  EXPECT_EQ(FeedAll(overlap, {"aa", "ab"}, &detached), "a");
  EXPECT_TRUE(detached);
}

TEST(SpecDetachScanner, HoldsAPartialSequenceUntilItIsDecided) {
  DetachScanner s("\x10\x11");
  std::string out;
  EXPECT_FALSE(s.Feed("x\x10", &out));
  EXPECT_EQ(out, "x");
  EXPECT_EQ(s.Held(), "\x10");
}

TEST(SpecDetachScanner, OneKeyAndNoKeys) {
  DetachScanner one("\x18");
  std::string out;
  EXPECT_TRUE(one.Feed("ab\x18" "cd", &out));
  EXPECT_EQ(out, "ab");
  DetachScanner none("");
  out.clear();
  EXPECT_FALSE(none.Feed("\x10\x11", &out));
  EXPECT_EQ(out, "\x10\x11");
}

}  // namespace
}  // namespace berth::spec
