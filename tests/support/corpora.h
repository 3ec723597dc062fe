#pragma once
// Locates ../shared/corpora for tests: $VIGIL_CORPORA, else <source>/../shared/corpora.
// Returns "" when absent; callers GTEST_SKIP() with corpora_missing_message().
#include <cstdlib>
#include <filesystem>
#include <string>

namespace vigil::testing {

inline std::string corpora_dir() {
  if (const char* env = std::getenv("VIGIL_CORPORA"); env && *env) {
    if (std::filesystem::is_directory(env)) return env;
    return "";
  }
  std::filesystem::path p = std::filesystem::path(VIGIL_SOURCE_DIR) / ".." / "shared" / "corpora";
  if (std::filesystem::is_directory(p)) return std::filesystem::weakly_canonical(p).string();
  return "";
}

inline std::string corpora_missing_message() {
  return "test corpora not found (set VIGIL_CORPORA or place shared/corpora beside the "
         "source tree); skipping";
}

}  // namespace vigil::testing
