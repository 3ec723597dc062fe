#pragma once
// `vigil rules coverage`: per logsource and per parser, how many rules apply, and which ATT&CK
// tactics and techniques the rules' tags cover (rules/coverage.h computes it).
#include <cstdio>
#include <string>
#include <vector>

namespace vigil::app {

struct RulesCoverageOptions {
  std::vector<std::string> paths;  // files, directories, or "@bundled"; empty = bundled packs
  bool json = false;               // one JSON object instead of text tables
};

// Prints the coverage of the rules that load (load errors are counted on stderr, not fatal).
// Returns 0, or 1 when no rule loaded.
int run_rules_coverage(const RulesCoverageOptions& options, std::FILE* out, std::FILE* err);

}  // namespace vigil::app
