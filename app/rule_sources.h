#pragma once
// Where `vigil` gets its rules: paths given by the user, or the packs compiled into the binary.
#include <string>
#include <vector>

#include "rules/sigma_loader.h"

namespace vigil::app {

// The word that names the bundled packs among --rules paths.
inline constexpr const char* kBundledRulesName = "@bundled";

struct RuleSourceStats {
  std::size_t files_parsed = 0;  // parsed now
  std::size_t files_reused = 0;  // from the parsed rule cache (rules/parsed_rule_cache.h)
};

// Loads every path; "@bundled" (or an empty list) loads the packs compiled into the binary.
// Files whose content an earlier load saw come from this process's rule cache (app/rule_cache.h).
rules::LoadReport load_rule_sources(const std::vector<std::string>& paths, RuleSourceStats* stats = nullptr);

}  // namespace vigil::app
