#pragma once
// `vigil rules test`: runs the samples embedded in rules (`vigil: tests:`) through each rule.
#include <cstdio>
#include <string>
#include <vector>

namespace vigil::app {

struct RulesTestOptions {
  std::vector<std::string> paths;  // files, directories, or "@bundled"
  std::string junit;               // JUnit XML report file ("" = none)
};

// Compiles each rule on its own and matches each of its samples. Prints one FAIL line per
// sample whose outcome differs from `match:` (with why), one ERROR line per rule that did not
// load or whose `vigil:` block is malformed, and a summary line
// "rules: N, samples: M, passed: P, failed: F, untested: K, errors: E".
// Returns 1 if any sample failed or any error was found, else 0.
int run_rules_test(const RulesTestOptions& options, std::FILE* out);

// The text of a bundled pack file for a "@bundled/..." rule path ("" otherwise).
std::string bundled_file_text(const std::string& rule_path);

}  // namespace vigil::app
