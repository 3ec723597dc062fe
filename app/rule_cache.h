#pragma once
// The compiled rule database cache this process compiles rules with (rules/database_cache.h):
// the user's cache directory for CLI commands (DatabaseCache::default_directory()), the data
// directory's `rule-cache/` for the daemon, none with --no-cache.
#include <string>

#include "rules/compiler.h"
#include "rules/database_cache.h"

namespace vigil::app {

// Chooses the directory ("" = no cache). Called once, before the first compile.
void use_rule_cache_directory(std::string directory);
void disable_rule_cache();
// nullptr when disabled. Created on first use.
rules::DatabaseCache* rule_cache();
// CompileOptions with this process's cache.
rules::CompileOptions rule_compile_options();

}  // namespace vigil::app
