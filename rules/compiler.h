#pragma once
// Compiler: loaded Sigma rules + logsource mapping -> an immutable RuleSet.
//
// Design (after Suricata's prefilter): every string predicate whose value holds a literal of at
// least `min_literal_bytes` yields a prefilter literal, scoped to the predicate's field. For
// each rule the compiler picks a literal cover: a set of literals one of which must occur in
// any event the rule matches (for `a and b` the rarer side, for `a or b` both sides, for a
// regex with alternatives one literal per branch). Only cover literals go into the Hyperscan
// databases, where a hit marks the rules it covers as candidates; only candidates are
// evaluated exactly. Rules with no cover (`not x`, numeric or null tests alone, short values)
// are evaluated for every event of the formats their logsource allows.
//   - Text records (syslog, CEF, key=value, access logs) hold their values verbatim: one
//     database with every literal of the rules that can apply to text, scanned once over the
//     raw line (and over the decoded values when CEF/kv/5424 escapes are present).
//   - JSON events are parsed for the fields rules read only; each value is scanned against its
//     own field's database, decoded, so JSON escapes cannot hide a literal. Keyword literals
//     (plain and JSON-escaped) are scanned over the raw record when a keyword rule's
//     logsource applies, with a rescan of the decoded values after \u escapes.
// Logsource conditions (Channel, EventID...) give "weak" covers, used only when the detection
// has none. Regex predicates (and wildcard values that become regexes) are grouped by field
// into one Hyperscan database per field, scanned lazily when a candidate needs it. A regex
// Hyperscan cannot compile exactly is compiled in prefilter mode and confirmed with PCRE2; one
// it cannot compile at all runs on PCRE2 alone.
//
// A rule that cannot be compiled is reported in CompileReport::errors and skipped.
// The RuleSet is immutable and shared (std::shared_ptr<const RuleSet>) by every Matcher.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "rules/logsource_map.h"
#include "rules/sigma_rule.h"

struct hs_database;

namespace vigil::rules {

struct CompileOptions {
  // Mapping used to route rules to events. Default (nullptr): LogsourceMap::builtin().
  const LogsourceMap* mapping = nullptr;
  // Shorter literals are not used for prefiltering: they fire on nearly every event and would
  // only cost callbacks (a literal of two punctuation bytes, rare in logs, is still used).
  // Default: 3.
  std::size_t min_literal_bytes = 3;
};

struct CompileReport {
  std::vector<LoadError> errors;     // rules skipped at compile time, with reasons
  std::size_t rules_in = 0;
  std::size_t rules_compiled = 0;
  std::size_t always_evaluated = 0;  // rules with no literal cover
  std::size_t literals = 0;          // distinct prefilter literals
  std::size_t hyperscan_patterns = 0;
  std::size_t regex_predicates = 0;
  std::size_t regex_hyperscan_exact = 0;
  std::size_t regex_hyperscan_prefilter = 0;  // confirmed with PCRE2
  std::size_t regex_pcre_only = 0;
  std::size_t database_bytes = 0;    // all Hyperscan databases
  double compile_seconds = 0;
};

struct CompiledRules;  // internal, defined in rules/compiled_rules.h

class RuleSet {
 public:
  // Compiles `rules`. Fails only if Hyperscan itself cannot build the literal database (a bug
  // or resource exhaustion), never because of one bad rule.
  static Result<std::shared_ptr<const RuleSet>> compile(std::vector<SigmaRule> rules,
                                                        const CompileOptions& options,
                                                        CompileReport* report);
  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  std::size_t size() const;
  const SigmaRule& rule(std::size_t index) const;
  // The literal databases (for benchmarks that compare with a bare hs_scan): the one scanned
  // over each raw text record, the keyword one scanned over each raw JSON record, and the one
  // scanned over each value of `field` in JSON events (nullptr when there is none).
  const hs_database* text_database() const;
  const hs_database* keyword_database() const;
  const hs_database* field_database(std::string_view field) const;
  const CompiledRules& compiled() const { return *compiled_; }

 private:
  explicit RuleSet(std::unique_ptr<CompiledRules> compiled);
  std::unique_ptr<CompiledRules> compiled_;
};

}  // namespace vigil::rules
