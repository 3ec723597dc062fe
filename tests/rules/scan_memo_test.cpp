// ScanMemo (rules/scan_memo.h): exact keys, per-layout entries, two bounded generations.
#include "rules/scan_memo.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vigil::rules {
namespace {

using Hits = std::vector<std::uint32_t>;

// The hits remembered for (layout, key), or {999} when the memo does not know the key.
Hits Find(ScanMemo& memo, std::uint32_t layout, const std::string& key) {
  std::span<const std::uint32_t> hits;
  if (!memo.find(layout, key, ScanMemo::hash(key), &hits)) return {999};
  return Hits(hits.begin(), hits.end());
}
void Insert(ScanMemo& memo, std::uint32_t layout, const std::string& key, const Hits& hits) {
  memo.insert(layout, key, ScanMemo::hash(key), hits);
}

TEST(ScanMemo, KeysAreExactAndPerLayout) {
  ScanMemo memo(16, 1024);
  Insert(memo, 0, std::string("a\0b", 3), {1, 2});
  Insert(memo, 0, "c", {});
  EXPECT_EQ(Find(memo, 0, std::string("a\0b", 3)), (Hits{1, 2}));
  EXPECT_EQ(Find(memo, 0, "c"), Hits{});     // known to have no hits
  EXPECT_EQ(Find(memo, 1, "c"), Hits{999});  // another layout
  EXPECT_EQ(Find(memo, 0, "a"), Hits{999});  // a prefix is another key
  EXPECT_EQ(Find(memo, 0, std::string("a\0c", 3)), Hits{999});
}

TEST(ScanMemo, TwoGenerationsKeepWhatIsStillUsed) {
  ScanMemo memo(2, 1024);  // two entries per generation
  Insert(memo, 0, "k1", {1});
  Insert(memo, 0, "k2", {2});
  Insert(memo, 0, "k3", {3});  // full: k1, k2 become the previous generation
  EXPECT_EQ(memo.size(), 3u);
  EXPECT_EQ(Find(memo, 0, "k1"), Hits{1});  // used again: copied into the current one
  Insert(memo, 0, "k4", {4});               // full again: k2 is dropped with its generation
  EXPECT_EQ(Find(memo, 0, "k2"), Hits{999});
  EXPECT_EQ(Find(memo, 0, "k1"), Hits{1});
  EXPECT_EQ(Find(memo, 0, "k3"), Hits{3});
  EXPECT_EQ(Find(memo, 0, "k4"), Hits{4});
}

TEST(ScanMemo, KeyBytesAreBoundedToo) {
  ScanMemo memo(100, 16);
  Insert(memo, 0, std::string(17, 'x'), {1});  // longer than a generation's budget: not kept
  EXPECT_EQ(Find(memo, 0, std::string(17, 'x')), Hits{999});
  Insert(memo, 0, std::string(10, 'a'), {1});
  Insert(memo, 0, std::string(10, 'b'), {2});  // 20 bytes > 16: a new generation
  Insert(memo, 0, std::string(10, 'c'), {3});  // and another: the a's are gone
  EXPECT_EQ(Find(memo, 0, std::string(10, 'a')), Hits{999});
  EXPECT_EQ(Find(memo, 0, std::string(10, 'b')), Hits{2});
  EXPECT_EQ(Find(memo, 0, std::string(10, 'c')), Hits{3});
}

TEST(ScanMemo, HashReadsEveryByte) {
  std::string s(100, 'q');
  const std::uint64_t h = ScanMemo::hash(s);
  for (std::size_t i = 0; i < s.size(); ++i) {
    std::string t = s;
    t[i] = 'r';
    EXPECT_NE(ScanMemo::hash(t), h) << i;
  }
  EXPECT_NE(ScanMemo::hash(std::string(8, '\0')), ScanMemo::hash(std::string(9, '\0')));
}

}  // namespace
}  // namespace vigil::rules
