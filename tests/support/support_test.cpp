// The test helpers every other test leans on: wait_until and the corpora requirement.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>

#include "tests/support/corpora.h"
#include "tests/support/wait.h"

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(WaitUntil, ReturnsAsSoonAsTheConditionHolds) {
  std::atomic<bool> done{false};
  std::thread setter([&] { done = true; });
  EXPECT_TRUE(wait_until(deadline_after(), [&] { return done.load(); }));
  setter.join();
}

TEST(WaitUntil, GivesUpAtTheDeadlineAfterCheckingOnceMore) {
  int calls = 0;
  const auto deadline = deadline_after(20ms);
  EXPECT_FALSE(wait_until(deadline, [&] {
    ++calls;
    return false;
  }));
  EXPECT_GE(std::chrono::steady_clock::now(), deadline);
  EXPECT_GE(calls, 2);
}

// Sets an environment variable for the scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

void RequireSigmaCorpus() { VIGIL_REQUIRE_CORPUS("sigma"); }

TEST(Corpora, MissingCorporaFailWhenCiIsTrue) {
  ScopedEnv ci("CI", "true");
  ScopedEnv corpora("VIGIL_CORPORA", "/nonexistent/vigil-corpora");
  EXPECT_TRUE(corpora_required());
  EXPECT_FATAL_FAILURE(RequireSigmaCorpus(), "VIGIL_CORPORA=/nonexistent/vigil-corpora is not a directory");
}

TEST(Corpora, MissingCorpusInsideTheCorporaFailsWhenCiIsTrue) {
  const fs::path dir = fs::temp_directory_path() / ("vigil-corpora-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ScopedEnv ci("CI", "true");
  ScopedEnv corpora("VIGIL_CORPORA", dir.c_str());
  EXPECT_FATAL_FAILURE(RequireSigmaCorpus(), "test corpus not found");
  fs::create_directories(dir / "sigma");
  EXPECT_EQ(corpus_missing("sigma"), "");
  RequireSigmaCorpus();  // present: neither fails nor skips
  EXPECT_FALSE(HasFailure());
  EXPECT_FALSE(IsSkipped());
  fs::remove_all(dir);
}

TEST(Corpora, OnlyCiTrueMakesThemRequired) {
  {
    ScopedEnv ci("CI", "false");
    EXPECT_FALSE(corpora_required());
  }
  {
    ScopedEnv ci("CI", "true");
    EXPECT_TRUE(corpora_required());
  }
  ScopedEnv corpora("VIGIL_CORPORA", "/nonexistent/vigil-corpora");
  EXPECT_NE(corpus_missing(""), "");
}

}  // namespace
}  // namespace vigil::testing
