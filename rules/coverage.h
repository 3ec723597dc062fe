#pragma once
// "What do we detect?": which logsources and parsers a rule set serves, and which MITRE ATT&CK
// tactics and techniques it covers: each rule's ATT&CK view (its tags and the rule technique
// mapping, both ATT&CK revisions; rules/attack_mapping.h), and for Windows, which techniques
// native auditing (Security, System, PowerShell... channels) and which Sysmon can show. Used by `vigil rules coverage` and by the API
// (GET /api/v1/rules/coverage), which must print the same figures, so both call this.
//
// Pure functions over loaded rules; no state, safe from any thread.
#include <map>
#include <string>
#include <vector>

#include "rules/correlation_rule.h"
#include "rules/logsource_map.h"
#include "rules/sigma_rule.h"

namespace vigil::rules {

struct CoverageRow {
  std::size_t rules = 0;                             // detection rules + correlations
  std::size_t correlations = 0;                      // of which correlations
  std::map<std::string, std::size_t> by_level;       // informational..critical
};

struct TechniqueCoverage {
  std::string id;                      // "T1110.001" (upper case, as ATT&CK writes it)
  std::size_t rules = 0;
  std::vector<std::string> tactics;    // tactics of the same rules' views
  // Of `rules`, those whose logsource (product windows) has a variant reading a native Windows
  // channel (Security, System, PowerShell, ...), and those with a variant reading Sysmon's.
  // process_creation has both (Security 4688 and Sysmon 1), so a rule may count in both.
  std::size_t windows_native = 0, windows_sysmon = 0;
};

// Windows rules by the channels their logsource's variants read (see TechniqueCoverage).
struct WindowsSourceCoverage {
  std::size_t rules = 0;               // detection rules + correlations of product windows
  std::size_t native_rules = 0, sysmon_rules = 0;
  std::size_t native_techniques = 0, sysmon_techniques = 0;  // techniques with such a rule
  std::size_t both_techniques = 0;     // techniques with a native and a Sysmon rule
};

struct Coverage {
  std::size_t rules = 0;                 // detection rules
  std::size_t correlations = 0;
  std::size_t with_attack_tags = 0;      // rules + correlations with at least one attack.t* tag
  std::size_t with_techniques = 0;       // ... with a technique from their tags or the mapping
  // Key "product/category/service" with "-" for an unset part (e.g. "cisco/-/asa").
  std::map<std::string, CoverageRow> by_logsource;
  // The mapping entry (or "unmapped") each logsource resolves to, by the same key.
  std::map<std::string, std::string> logsource_entry;
  // Parser formats (`_format` values of the mapping's variants: json, kv, cisco, ...); a rule
  // whose logsource has a variant without a `_format` condition also counts under "declared"
  // (records whose collector declares the logsource, any format), and an unmapped one under
  // "unmapped".
  std::map<std::string, CoverageRow> by_format;
  // Every ATT&CK enterprise tactic (in matrix order, both revisions: defense-evasion beside
  // stealth and defense-impairment), with the number of rules whose view has it; zero rows are
  // kept so the gaps show.
  std::vector<std::pair<std::string, std::size_t>> tactics;
  std::vector<TechniqueCoverage> techniques;  // sorted by id; both revisions of a renumbered one
  WindowsSourceCoverage windows;
};

// Computes coverage of `rules` and `correlations` (a correlation counts under the logsource of
// the rules it references, resolved by name or id) with the logsource mapping `map`. ATT&CK
// figures come from each rule's `attack` view (set by the loader).
Coverage compute_coverage(const std::vector<SigmaRule>& rules,
                          const std::vector<CorrelationRule>& correlations, const LogsourceMap& map);

// The coverage as one JSON object (the API's answer and `vigil rules coverage --json`).
std::string coverage_json(const Coverage& c);

// The coverage as text tables for a terminal.
std::string coverage_text(const Coverage& c);

}  // namespace vigil::rules
