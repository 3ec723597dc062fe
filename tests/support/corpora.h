#pragma once
// Locates ../shared/corpora for tests: $VIGIL_CORPORA, else <source>/../shared/corpora.
//
// A test that needs a corpus starts with VIGIL_REQUIRE_CORPUS("sigma") (any path inside the
// corpora): when it is missing the test is skipped with a message, or, when the environment
// has CI=true, fails, so a CI run without its corpora cannot pass by skipping what it was
// meant to check.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace vigil::testing {

// The corpora directory, or "" when absent.
inline std::string corpora_dir() {
  if (const char* env = std::getenv("VIGIL_CORPORA"); env && *env) {
    if (std::filesystem::is_directory(env)) return env;
    return "";
  }
  std::filesystem::path p = std::filesystem::path(VIGIL_SOURCE_DIR) / ".." / "shared" / "corpora";
  if (std::filesystem::is_directory(p)) return std::filesystem::weakly_canonical(p).string();
  return "";
}

// True when missing corpora must fail the test rather than skip it.
inline bool corpora_required() {
  const char* ci = std::getenv("CI");
  return ci && std::string_view(ci) == "true";
}

// Why `relative` (a path inside the corpora; "" for the corpora themselves) cannot be used, or
// "" when it exists.
inline std::string corpus_missing(std::string_view relative) {
  const std::string dir = corpora_dir();
  if (dir.empty()) {
    const char* env = std::getenv("VIGIL_CORPORA");
    return std::string("test corpora not found: ") +
           (env && *env ? "VIGIL_CORPORA=" + std::string(env) + " is not a directory"
                        : std::string(VIGIL_SOURCE_DIR) + "/../shared/corpora does not exist and VIGIL_CORPORA is not set");
  }
  const std::filesystem::path path = std::filesystem::path(dir) / relative;
  if (!std::filesystem::exists(path)) return "test corpus not found: " + path.string();
  return "";
}

}  // namespace vigil::testing

// Skips the test (fails it when CI=true) unless `relative` exists inside the corpora.
#define VIGIL_REQUIRE_CORPUS(relative)                                                        \
  do {                                                                                        \
    const std::string vigil_corpus_missing_ = ::vigil::testing::corpus_missing(relative);     \
    if (!vigil_corpus_missing_.empty() && ::vigil::testing::corpora_required()) {             \
      GTEST_FAIL() << vigil_corpus_missing_ << " (CI=true: missing corpora fail the test)";   \
    }                                                                                         \
    if (!vigil_corpus_missing_.empty()) {                                                     \
      GTEST_SKIP() << vigil_corpus_missing_ << "; skipping (with CI=true this fails)";        \
    }                                                                                         \
  } while (false)
