// The compiled rule database cache: a warm compile takes every database from the cache and
// matches as the cold one did; a damaged entry is detected and rebuilt; a changed rule is
// never served from a stale entry and recompiles only its own databases.
#include "rules/database_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/record_reader.h"
#include "rules/compiler.h"
#include "rules/matcher.h"
#include "rules/sigma_loader.h"

namespace vigil::rules {
namespace {

namespace fs = std::filesystem;

std::string RuleYaml(const std::string& id, const std::string& selection) {
  return "title: " + id + "\nid: " + id + "\nlevel: high\nlogsource:\n  product: linux\n  service: auth\n"
         "detection:\n  selection:\n" + selection + "  condition: selection\n";
}

std::vector<SigmaRule> Rules(const std::vector<std::string>& yamls) {
  LoadReport report;
  for (std::size_t i = 0; i < yamls.size(); ++i) load_rule_text(yamls[i], "rule" + std::to_string(i) + ".yml", report);
  EXPECT_TRUE(report.errors.empty()) << report.errors[0].message;
  return std::move(report.rules);
}

// The default rules: literals, a wildcard in the middle (a regex database) and a regex
// Hyperscan cannot compile (a backreference: PCRE2 alone, a cached compile error).
std::vector<std::string> DefaultYamls() {
  return {RuleYaml("failed", "    message|contains: 'Failed password'\n"),
          RuleYaml("invalid", "    message|contains: 'Invalid user'\n"),
          RuleYaml("root-from", "    message: 'Accepted * for root from *'\n"),
          RuleYaml("repeat", "    message|re: '(admin)\\s+\\1'\n")};
}

class DatabaseCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vigil-dbcache-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Compiles `yamls` through a cache in dir_; returns the ids that match each line.
  std::vector<std::vector<std::string>> CompileAndMatch(const std::vector<std::string>& yamls, CompileReport* report,
                                                        DatabaseCacheStats* stats = nullptr) {
    DatabaseCache cache(dir_.string());
    EXPECT_TRUE(cache.usable()) << cache.why_unusable();
    CompileOptions options;
    options.cache = &cache;
    auto set = RuleSet::compile(Rules(yamls), options, report);
    EXPECT_TRUE(set.has_value());
    if (stats) *stats = cache.stats();
    auto matcher = Matcher::create(*set);
    EXPECT_TRUE(matcher.has_value());
    parse::RecordParser parser;
    std::vector<std::vector<std::string>> out;
    for (const std::string& line : lines_) {
      std::string buffer = line + std::string(kRecordPadding, '\0');
      Event event;
      event.raw = std::string_view(buffer.data(), line.size());
      std::vector<RuleMatch> matches;
      (*matcher)->match(event, parser, LogFormat::kUnknown, matches);
      std::vector<std::string> ids;
      for (const RuleMatch& m : matches) ids.push_back((*set)->rule(m.rule).id);
      std::sort(ids.begin(), ids.end());
      out.push_back(ids);
    }
    return out;
  }

  std::vector<fs::path> Entries() const {
    std::vector<fs::path> out;
    for (const auto& de : fs::directory_iterator(dir_))
      if (de.path().extension() == ".hsdb") out.push_back(de.path());
    return out;
  }

  fs::path dir_;
  std::vector<std::string> lines_ = {
      "Dec  7 10:00:01 host sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2",
      "Dec  7 10:00:02 host sshd[1]: Invalid user admin from 10.0.0.2",
      "Dec  7 10:00:03 host sshd[1]: Accepted password for root from 10.0.0.3 port 22 ssh2",
      "Dec  7 10:00:04 host sshd[1]: user admin  admin tried twice",
      "Dec  7 10:00:05 host sshd[1]: Connection closed by 10.0.0.4",
  };
};

TEST_F(DatabaseCacheTest, WarmCompileTakesEveryDatabaseFromTheCacheAndMatchesTheSame) {
  CompileReport cold, warm;
  DatabaseCacheStats cold_stats, warm_stats;
  const auto cold_ids = CompileAndMatch(DefaultYamls(), &cold, &cold_stats);
  ASSERT_GT(cold.databases_compiled, 1u);
  EXPECT_EQ(cold.databases_from_cache, 0u);
  EXPECT_GT(cold_stats.writes, 0u);
  EXPECT_EQ((fs::status(dir_).permissions() & fs::perms::all), fs::perms::owner_all);

  const auto warm_ids = CompileAndMatch(DefaultYamls(), &warm, &warm_stats);
  EXPECT_EQ(warm.databases_compiled, 0u);
  EXPECT_EQ(warm.databases_from_cache, cold.databases_compiled);
  EXPECT_EQ(warm_stats.writes, 0u);
  EXPECT_EQ(warm_ids, cold_ids);
  // The same decisions as the cold compile, the cached compile error included.
  EXPECT_EQ(warm.regex_pcre_only, cold.regex_pcre_only);
  EXPECT_EQ(warm.regex_hyperscan_exact, cold.regex_hyperscan_exact);
  EXPECT_EQ(warm.database_bytes, cold.database_bytes);
  EXPECT_EQ(cold_ids, (std::vector<std::vector<std::string>>{{"failed"}, {"invalid"}, {"root-from"}, {"repeat"}, {}}));
}

TEST_F(DatabaseCacheTest, DamagedTruncatedAndForeignEntriesAreRebuiltNeverUsed) {
  CompileReport cold;
  const auto cold_ids = CompileAndMatch(DefaultYamls(), &cold);
  auto entries = Entries();
  ASSERT_GE(entries.size(), 3u);
  {  // one byte of a payload flipped
    std::fstream f(entries[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-1, std::ios::end);
    char c = 0;
    f.get(c);
    f.seekp(-1, std::ios::end);
    f.put(static_cast<char>(c ^ 0x5a));
  }
  fs::resize_file(entries[1], fs::file_size(entries[1]) / 2);  // truncated
  fs::copy_file(entries[0], entries[2], fs::copy_options::overwrite_existing);  // another key's entry

  CompileReport again;
  DatabaseCacheStats stats;
  const auto ids = CompileAndMatch(DefaultYamls(), &again, &stats);
  EXPECT_EQ(stats.rejected, 3u);
  EXPECT_EQ(again.databases_compiled, 3u);
  EXPECT_EQ(ids, cold_ids);
  // Rebuilt: the next compile is all from the cache again.
  CompileReport third;
  EXPECT_EQ(CompileAndMatch(DefaultYamls(), &third), cold_ids);
  EXPECT_EQ(third.databases_compiled, 0u);
}

TEST_F(DatabaseCacheTest, AChangedRuleIsNeverServedStaleAndRecompilesOnlyItsDatabases) {
  CompileReport cold;
  CompileAndMatch(DefaultYamls(), &cold);
  std::vector<std::string> changed = DefaultYamls();
  changed[1] = RuleYaml("invalid", "    message|contains: 'Connection closed'\n");
  CompileReport warm;
  const auto ids = CompileAndMatch(changed, &warm);
  EXPECT_EQ(ids, (std::vector<std::vector<std::string>>{{"failed"}, {}, {"root-from"}, {"repeat"}, {"invalid"}}));
  EXPECT_GT(warm.databases_compiled, 0u);
  EXPECT_GT(warm.databases_from_cache, 0u);  // the regex databases did not change
}

TEST_F(DatabaseCacheTest, AnUnusableDirectoryCompilesWithoutCaching) {
  fs::create_directories(dir_);
  const fs::path file = dir_ / "a-file";
  std::ofstream(file) << "x";
  DatabaseCache cache(file.string());
  EXPECT_FALSE(cache.usable());
  EXPECT_NE(cache.why_unusable().find("a-file"), std::string::npos);
  CompileOptions options;
  options.cache = &cache;
  CompileReport report;
  auto set = RuleSet::compile(Rules(DefaultYamls()), options, &report);
  ASSERT_TRUE(set.has_value());
  EXPECT_EQ((*set)->size(), 4u);
  EXPECT_EQ(report.databases_from_cache, 0u);
}

TEST_F(DatabaseCacheTest, ClearRemovesEveryEntry) {
  CompileReport cold;
  CompileAndMatch(DefaultYamls(), &cold);
  DatabaseCache cache(dir_.string());
  std::uint64_t entries = 0, bytes = 0;
  cache.usage(&entries, &bytes);
  EXPECT_EQ(entries, Entries().size());
  EXPECT_GT(bytes, 0u);
  EXPECT_EQ(cache.clear(), static_cast<long>(entries));
  EXPECT_TRUE(Entries().empty());
}

}  // namespace
}  // namespace vigil::rules
