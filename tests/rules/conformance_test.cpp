// Sigma conformance: SigmaHQ's regression data (rule-linked Windows events with expected match
// counts). For each test, the rule alone over its event file must give at least match_count
// alerts. Also reports how many other SigmaHQ rules fire on those files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/parse/parser.h"
#include "core/record_reader.h"
#include "rules/compiler.h"
#include "rules/matcher.h"
#include "rules/sigma_loader.h"
#include "tests/support/corpora.h"

namespace vigil::rules {
namespace {

struct RegressionCase {
  std::string rule_id, rule_path, title, test_type, event_file;
  int match_count = 1;
};

std::vector<RegressionCase> read_index(const std::string& path) {
  std::vector<RegressionCase> out;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, '\t')) cols.push_back(col);
    if (cols.size() < 8) continue;
    RegressionCase c;
    c.rule_id = cols[0];
    c.rule_path = cols[1];
    c.title = cols[2];
    c.test_type = cols[6];
    c.event_file = cols[7];
    if (cols.size() > 8 && !cols[8].empty()) c.match_count = std::stoi(cols[8]);
    out.push_back(c);
  }
  return out;
}

// Runs `ruleset` over every record of `file`; returns alerts per rule id.
std::map<std::string, int> run_file(const std::shared_ptr<const RuleSet>& ruleset,
                                    const std::string& file, std::string* error) {
  std::map<std::string, int> hits;
  auto reader = RecordReader::open(file);
  if (!reader) {
    *error = reader.error().to_string();
    return hits;
  }
  auto matcher = Matcher::create(ruleset);
  if (!matcher) {
    *error = matcher.error().to_string();
    return hits;
  }
  parse::RecordParser parser;
  Event event;
  std::vector<Record> records;
  std::vector<RuleMatch> matches;
  while ((*reader)->next_batch(records)) {
    for (const Record& r : records) {
      event.start_record(r.bytes, "conformance", r.record_no, {}, {}, {});
      matches.clear();
      (*matcher)->match(event, parser, LogFormat::kUnknown, matches);
      for (const RuleMatch& m : matches) hits[ruleset->rule(m.rule).id]++;
    }
  }
  return hits;
}

TEST(SigmaConformance, RegressionDataMatchesExpectedCounts) {
  VIGIL_REQUIRE_CORPUS("sigma/regression_index.tsv");
  const std::string corpora = vigil::testing::corpora_dir();
  std::string sigma = corpora + "/sigma/";
  std::vector<RegressionCase> cases = read_index(sigma + "regression_index.tsv");
  ASSERT_FALSE(cases.empty());

  int evtx_total = 0, passed = 0;
  std::vector<std::string> failures;
  for (const RegressionCase& c : cases) {
    if (c.test_type != "evtx") continue;  // the one raw case is commented out upstream
    ++evtx_total;
    LoadReport loaded = load_rule_paths({sigma + c.rule_path});
    std::vector<SigmaRule> mine;
    for (SigmaRule& r : loaded.rules)
      if (r.id == c.rule_id) mine.push_back(std::move(r));
    if (mine.empty()) {
      std::string why = loaded.errors.empty() ? "rule id not found in file"
                                              : loaded.errors[0].reason + ": " + loaded.errors[0].message;
      failures.push_back(c.rule_path + ": not loaded: " + why);
      continue;
    }
    CompileReport creport;
    auto rs = RuleSet::compile(std::move(mine), CompileOptions{}, &creport);
    if (!rs || (*rs)->size() == 0) {
      std::string why = !rs ? rs.error().to_string()
                            : (creport.errors.empty() ? "?" : creport.errors[0].reason + ": " +
                                                                  creport.errors[0].message);
      failures.push_back(c.rule_path + ": not compiled: " + why);
      continue;
    }
    std::string error;
    auto hits = run_file(*rs, sigma + c.event_file, &error);
    int got = hits[c.rule_id];
    if (!error.empty()) {
      failures.push_back(c.rule_path + ": " + error);
    } else if (got < c.match_count) {
      failures.push_back(c.rule_path + ": " + std::to_string(got) + " alerts, expected at least " +
                         std::to_string(c.match_count));
    } else {
      ++passed;
    }
  }

  // Every SigmaHQ rule over every regression file: which other rules fire.
  std::vector<std::string> trees;
  for (const auto& entry : std::filesystem::directory_iterator(sigma))
    if (entry.is_directory() && entry.path().filename().string().rfind("rules", 0) == 0)
      trees.push_back(entry.path().string());
  LoadReport all = load_rule_paths(trees);
  std::size_t all_loaded = all.rules.size();
  auto full = RuleSet::compile(std::move(all.rules), CompileOptions{}, nullptr);
  ASSERT_TRUE(full.has_value());
  std::set<std::string> other_rules;
  long other_alerts = 0;
  for (const RegressionCase& c : cases) {
    if (c.test_type != "evtx") continue;
    std::string error;
    for (const auto& [id, n] : run_file(*full, sigma + c.event_file, &error)) {
      if (id == c.rule_id) continue;
      other_rules.insert(id);
      other_alerts += n;
    }
  }

  std::printf("conformance: %d of %d regression tests pass\n", passed, evtx_total);
  for (const std::string& f : failures) std::printf("  FAIL %s\n", f.c_str());
  std::printf(
      "other SigmaHQ rules (of %zu loaded) firing on the %d regression files: %zu rules, %ld "
      "alerts\n",
      all_loaded, evtx_total, other_rules.size(), other_alerts);
  EXPECT_EQ(evtx_total, 202);
  EXPECT_GE(passed, 198) << "fewer than 198 of 202 Sigma regression tests pass";
}

}  // namespace
}  // namespace vigil::rules
