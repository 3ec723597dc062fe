// The parsed rule cache (rules/parsed_rule_cache.h): what a load reads back from it equals what
// the loader makes of the same files, member by member (SigmaRule's ==), for every rule of
// SigmaHQ and of the bundled packs; changed files are parsed again and only they; damaged
// serialized bytes are refused, never half-read.
#include "rules/parsed_rule_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/corpora.h"

namespace vigil::rules {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> RuleFiles(const std::vector<fs::path>& dirs) {
  std::vector<std::string> files;
  for (const fs::path& dir : dirs)
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file() && (e.path().extension() == ".yml" || e.path().extension() == ".yaml"))
        files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void ExpectSame(const LoadReport& got, const LoadReport& want) {
  EXPECT_EQ(got.documents_seen, want.documents_seen);
  ASSERT_EQ(got.rules.size(), want.rules.size());
  for (std::size_t i = 0; i < want.rules.size(); ++i)
    EXPECT_TRUE(got.rules[i] == want.rules[i]) << want.rules[i].path << ": " << want.rules[i].id;
  ASSERT_EQ(got.correlations.size(), want.correlations.size());
  for (std::size_t i = 0; i < want.correlations.size(); ++i)
    EXPECT_TRUE(got.correlations[i] == want.correlations[i]) << want.correlations[i].path;
  ASSERT_EQ(got.errors.size(), want.errors.size());
  for (std::size_t i = 0; i < want.errors.size(); ++i)
    EXPECT_TRUE(got.errors[i] == want.errors[i]) << want.errors[i].file << ": " << want.errors[i].message;
}

TEST(ParsedRuleCache, EveryRuleOfSigmaHqAndThePacksReadsBackAsParsed) {
  VIGIL_REQUIRE_CORPUS("sigma/rules");
  const fs::path sigma = fs::path(testing::corpora_dir()) / "sigma";
  const auto files = RuleFiles({sigma / "rules", sigma / "rules-threat-hunting", sigma / "rules-emerging-threats",
                                fs::path(VIGIL_SOURCE_DIR) / "rules" / "packs"});
  ASSERT_GT(files.size(), 3000u);
  LoadReport parsed, replayed;
  for (const std::string& f : files) {
    LoadReport one;
    load_rule_text(Read(f), f, one);
    const std::string bytes = serialize_load_report(one);
    ASSERT_TRUE(deserialize_load_report(bytes, replayed)) << f;
    parsed.documents_seen += one.documents_seen;
    for (SigmaRule& r : one.rules) parsed.rules.push_back(std::move(r));
    for (CorrelationRule& c : one.correlations) parsed.correlations.push_back(std::move(c));
    for (LoadError& e : one.errors) parsed.errors.push_back(std::move(e));
  }
  ExpectSame(replayed, parsed);
  EXPECT_GT(parsed.correlations.size(), 0u);
}

TEST(ParsedRuleCache, DamagedBytesAreRefusedAndAppendNothing) {
  LoadReport one;
  load_rule_text("title: t\nid: x\nlogsource: {product: linux}\ndetection:\n  sel: {a|contains: b, c|re: 'd+'}\n"
                 "  condition: sel and not 1 of f*\n  f1: {e: 1}\nlevel: high\ntags: [attack.t1]\n",
                 "r.yml", one);
  ASSERT_EQ(one.rules.size(), 1u);
  const std::string bytes = serialize_load_report(one);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    LoadReport into;
    EXPECT_FALSE(deserialize_load_report(std::string_view(bytes).substr(0, cut), into)) << cut;
  }
  LoadReport into;
  EXPECT_FALSE(deserialize_load_report(bytes + "x", into));
  ASSERT_TRUE(deserialize_load_report(bytes, into));
  ExpectSame(into, one);
}

class ParsedRuleCacheDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vigil-parsed-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "rules");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_ / "rules" / name) << text; }
  static std::string Rule(const std::string& id, const std::string& needle) {
    return "title: " + id + "\nid: " + id + "\nlogsource: {product: linux}\ndetection:\n  sel: {message|contains: '" +
           needle + "'}\n  condition: sel\nlevel: high\n";
  }
  LoadReport Load(DatabaseCache& db, std::size_t* reused, std::size_t* parsed,
                  std::int64_t settled_ns = ParsedRuleCache::kSettledNs) {
    ParsedRuleCache cache(&db, (dir_ / "rules").string(), settled_ns);
    LoadReport r = load_rule_paths({(dir_ / "rules").string()}, &cache);
    cache.save();
    *reused = cache.reused();
    *parsed = cache.parsed();
    return r;
  }
  fs::path dir_;
};

TEST_F(ParsedRuleCacheDir, OnlyChangedFilesAreParsedAgainAndTheirNewContentIsUsed) {
  Write("a.yml", Rule("a", "alpha"));
  Write("b.yml", Rule("b", "beta"));
  Write("bad.yml", "title: [unclosed\n");
  DatabaseCache db((dir_ / "cache").string());
  std::size_t reused = 0, parsed = 0;
  const LoadReport cold = Load(db, &reused, &parsed);
  EXPECT_EQ(reused, 0u);
  EXPECT_EQ(parsed, 3u);
  ASSERT_EQ(cold.rules.size(), 2u);
  ASSERT_EQ(cold.errors.size(), 1u);  // a bad file's error comes back from the cache too

  const LoadReport warm = Load(db, &reused, &parsed);
  EXPECT_EQ(reused, 3u);
  EXPECT_EQ(parsed, 0u);
  ExpectSame(warm, cold);

  Write("b.yml", Rule("b", "gamma"));
  Write("c.yml", Rule("c", "delta"));
  const LoadReport changed = Load(db, &reused, &parsed);
  EXPECT_EQ(reused, 2u);
  EXPECT_EQ(parsed, 2u);
  ASSERT_EQ(changed.rules.size(), 3u);
  EXPECT_EQ(changed.rules[1].predicates[0].value, "gamma");
  LoadReport direct = load_rule_paths({(dir_ / "rules").string()});
  ExpectSame(changed, direct);
}

// A file rewritten in place with the same size and its old modification time set back is
// still read again: its change time moved, and no tool can set that back.
TEST_F(ParsedRuleCacheDir, AFileRewrittenWithTheSameSizeAndModificationTimeIsReadAgain) {
  Write("a.yml", Rule("a", "alpha"));
  DatabaseCache db((dir_ / "cache").string());
  std::size_t reused = 0, parsed = 0;
  Load(db, &reused, &parsed, 0);
  Load(db, &reused, &parsed, 0);  // trusted on its metadata now
  EXPECT_EQ(reused, 1u);
  struct stat before {};
  ASSERT_EQ(::stat((dir_ / "rules" / "a.yml").c_str(), &before), 0);
  Write("a.yml", Rule("a", "omega"));  // same length as "alpha"
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir_ / "rules" / "a.yml").c_str(), times, 0), 0);
  const LoadReport changed = Load(db, &reused, &parsed, 0);
  EXPECT_EQ(parsed, 1u);
  ASSERT_EQ(changed.rules.size(), 1u);
  EXPECT_EQ(changed.rules[0].predicates[0].value, "omega");
}

}  // namespace
}  // namespace vigil::rules
