#pragma once
// Sigma YAML loader: files and directory trees -> SigmaRule values.
//
// One bad file or rule never stops the others: each is reported as a LoadError and skipped.
// Thread-safety: free functions, no shared state.
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "rules/correlation_rule.h"
#include "rules/sigma_rule.h"

namespace vigil::rules {

struct LoadReport {
  std::vector<SigmaRule> rules;
  // Sigma correlation documents (rules/correlation_rule.h); resolve_correlations() checks them.
  std::vector<CorrelationRule> correlations;
  std::vector<LoadError> errors;
  std::size_t files_read = 0;
  std::size_t documents_seen = 0;  // YAML documents that looked like rules (loaded + failed)
};

// Parses every Sigma document in `yaml_text` (a file may hold several documents, including
// Sigma's `action: global` collections). Appends to `report`.
void load_rule_text(std::string_view yaml_text, const std::string& path, LoadReport& report);

class ParsedRuleCache;

// Loads files and, recursively, directories (*.yml and *.yaml), in sorted path order.
// A path that does not exist is reported as a LoadError with reason "io_error". With `cache`
// (rules/parsed_rule_cache.h) a file whose content an earlier load saw is not parsed again.
LoadReport load_rule_paths(const std::vector<std::string>& paths, ParsedRuleCache* cache = nullptr);

// Checks every correlation's references against the loaded rules and correlations (by id or
// name): one that names an unknown rule, or takes part in a cycle, is moved to `errors`
// (reasons "unknown_rule_reference", "correlation_cycle") with its file and line; the others stay.
// Call once, after every file was loaded (rules/correlation_loader.cpp).
void resolve_correlations(LoadReport& report);

}  // namespace vigil::rules
