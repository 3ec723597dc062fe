#pragma once
// `vigil rules check`: the compile report for a rule tree.
#include <cstdio>
#include <string>
#include <vector>

namespace vigil::app {

struct RulesCheckOptions {
  std::vector<std::string> paths;  // files, directories, or "@bundled"
  bool verbose = false;            // also list every loaded rule
};

// Prints one line per rule that failed (file, id, reason), totals by reason, compile time,
// database size and a last line "loaded N of M rules". Returns 0 unless nothing loaded (1).
int run_rules_check(const RulesCheckOptions& options, std::FILE* out);

}  // namespace vigil::app
