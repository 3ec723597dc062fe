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
//   - JSON events are routed by logsource first: rules with the same logsource conditions
//     (Sysmon EID 10; Sysmon EID 1 or Security 4688; ...) form a route, and an event is scanned
//     only with the literals of the routes whose conditions it meets (decided once per distinct
//     Channel/EventID/... values and cached). Each route has one small database per field its
//     rules read (every field literal of their detection, so a literal's absence settles its
//     predicate); the event's fields are parsed for the fields rules read only, and each value
//     is scanned decoded, so JSON escapes cannot hide a literal. Keyword literals (plain and
//     JSON-escaped) are scanned over the raw record when a route with keyword rules applies,
//     with a rescan of the decoded values after \u escapes.
// Logsource conditions (Channel, EventID...) give "weak" covers, used for text records only when
// the detection has none; for JSON events such a rule is evaluated whenever its route applies. Regex predicates (and wildcard values that become regexes) are grouped by field
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

class DatabaseCache;

struct CompileOptions {
  // Mapping used to route rules to events. Default (nullptr): LogsourceMap::builtin().
  const LogsourceMap* mapping = nullptr;
  // Shorter literals are not used for prefiltering: they fire on nearly every event and would
  // only cost callbacks (a literal of two punctuation bytes, rare in logs, is still used).
  // Default: 3.
  std::size_t min_literal_bytes = 3;
  // Compiled Hyperscan databases are taken from and stored in this cache (rules/database_cache.h)
  // when it is set. Default: none, every database is compiled.
  DatabaseCache* cache = nullptr;
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
  std::size_t databases_compiled = 0;
  std::size_t databases_from_cache = 0;
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
  // The literal database scanned over each raw text record; nullptr when there is none. JSON
  // events are scanned with per-route databases (Matcher::record_literal_scans shows which).
  const hs_database* text_database() const;
  const CompiledRules& compiled() const { return *compiled_; }

 private:
  explicit RuleSet(std::unique_ptr<CompiledRules> compiled);
  std::unique_ptr<CompiledRules> compiled_;
};

// The regex engine vigil was built against and its version, for `vigil --version`:
// "hyperscan 5.4.0 2023-..." or "vectorscan 5.4.9 ..." (CMake's VIGIL_REGEX_ENGINE).
std::string regex_engine_version();

}  // namespace vigil::rules
