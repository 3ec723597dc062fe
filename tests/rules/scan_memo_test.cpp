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

// Found by the issue-26 reproducer under UBSan (SigmaHQ's Windows rules over OTRF): a layout
// whose fields are all absent has an empty key, a string_view without a data pointer, which
// reached memcmp as a null argument. Fails under scripts/sanitize.sh address without the fix.
TEST(ScanMemo, EmptyKeyIsFoundWithoutANullMemcmpArgument) {
  ScanMemo memo(16, 1024);
  memo.insert(0, std::string_view(), ScanMemo::hash(std::string_view()), Hits{7});
  std::span<const std::uint32_t> hits;
  ASSERT_TRUE(memo.find(0, std::string_view(), ScanMemo::hash(std::string_view()), &hits));
  EXPECT_EQ(Hits(hits.begin(), hits.end()), Hits{7});
  ASSERT_TRUE(memo.find(0, std::string_view(), ScanMemo::hash(std::string_view()), &hits));  // the recent-key path
  EXPECT_EQ(Hits(hits.begin(), hits.end()), Hits{7});
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

// Short keys take the scalar lanes, keys of 64 bytes and more the AVX2 blocks (where the CPU
// has AVX2): every length class, and every position of the last, partial block.
TEST(ScanMemo, HashReadsEveryByte) {
  for (std::size_t size : {7, 31, 63, 64, 100, 127, 128, 129, 300, 1000}) {
    std::string s(size, 'q');
    const std::uint64_t h = ScanMemo::hash(s);
    for (std::size_t i = 0; i < s.size(); ++i) {
      std::string t = s;
      t[i] = 'r';
      EXPECT_NE(ScanMemo::hash(t), h) << size << " " << i;
    }
  }
  EXPECT_NE(ScanMemo::hash(std::string(8, '\0')), ScanMemo::hash(std::string(9, '\0')));
  EXPECT_NE(ScanMemo::hash(std::string(64, '\0')), ScanMemo::hash(std::string(65, '\0')));
}

// Swapped 32-byte blocks are other keys to the table too (they would only cost probes, but
// a hash blind to block order would make every such pair collide).
TEST(ScanMemo, HashSeesTheOrderOfBlocks) {
  std::string a(32, 'a'), b(32, 'b'), c(32, 'c'), d(32, 'd');
  EXPECT_NE(ScanMemo::hash(a + b + c + d), ScanMemo::hash(b + a + c + d));
  EXPECT_NE(ScanMemo::hash(a + b + c + d), ScanMemo::hash(c + b + a + d));
  EXPECT_NE(ScanMemo::hash(a + b), ScanMemo::hash(b + a));
}

// find_recent answers a layout's last key without hashing, and only that key, in its layout,
// while its generation is current; find() and insert() set it.
TEST(ScanMemo, TheRecentKeyOfALayoutIsAnsweredWithoutAProbe) {
  auto recent = [](const ScanMemo& memo, std::uint32_t layout, const std::string& key) {
    std::span<const std::uint32_t> hits;
    if (!memo.find_recent(layout, key, &hits)) return Hits{999};
    return Hits(hits.begin(), hits.end());
  };
  ScanMemo memo(2, 1 << 16);
  const std::string long_a(200, 'a'), long_b = std::string(199, 'a') + "b";
  EXPECT_EQ(recent(memo, 0, long_a), Hits{999});  // nothing yet
  Insert(memo, 0, long_a, {1});
  EXPECT_EQ(recent(memo, 0, long_a), Hits{1});
  EXPECT_EQ(recent(memo, 0, long_b), Hits{999});  // same length, last byte differs
  EXPECT_EQ(recent(memo, 1, long_a), Hits{999});  // another layout
  EXPECT_EQ(recent(memo, 0, "a"), Hits{999});
  Insert(memo, 1, "x", {7});  // another layout's recent key leaves layout 0's alone
  EXPECT_EQ(recent(memo, 0, long_a), Hits{1});
  EXPECT_EQ(recent(memo, 1, "x"), Hits{7});
  Insert(memo, 0, long_b, {2});  // layout 0's recent key is now long_b
  EXPECT_EQ(recent(memo, 0, long_a), Hits{999});
  EXPECT_EQ(recent(memo, 0, long_b), Hits{2});
  EXPECT_EQ(Find(memo, 0, long_a), Hits{1});  // found by hash: recent again
  EXPECT_EQ(recent(memo, 0, long_a), Hits{1});
  // The current generation (long_b's) rotates out: recent keys pointing into it stop matching.
  Insert(memo, 2, "y", {3});
  EXPECT_EQ(recent(memo, 1, "x"), Hits{999});
  EXPECT_EQ(recent(memo, 2, "y"), Hits{3});
  Insert(memo, 3, "z", {4});
  Insert(memo, 4, "w", {5});  // rotates again: long_a, long_b and x are gone
  EXPECT_EQ(recent(memo, 0, long_a), Hits{999});
  EXPECT_EQ(Find(memo, 0, long_a), Hits{999});
}

}  // namespace
}  // namespace vigil::rules
