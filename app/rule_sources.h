#pragma once
// Where `vigil` gets its rules: paths given by the user, or the packs compiled into the binary.
#include <string>
#include <vector>

#include "rules/sigma_loader.h"

namespace vigil::app {

// The word that names the bundled packs among --rules paths.
inline constexpr const char* kBundledRulesName = "@bundled";

// Loads every path; "@bundled" (or an empty list) loads the packs compiled into the binary.
rules::LoadReport load_rule_sources(const std::vector<std::string>& paths);

}  // namespace vigil::app
