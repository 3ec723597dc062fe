// parse_embedded_tests: the `vigil: tests:` block of a rule, with file lines in errors.
#include <gtest/gtest.h>

#include <string>

#include "rules/embedded_tests.h"
#include "rules/sigma_loader.h"

namespace vigil::rules {
namespace {

const char* kHeader = R"(title: T
id: 77777777-7777-4777-8777-777777777777
logsource:
  product: linux
detection:
  keywords:
    - 'abc'
  condition: keywords
level: low
)";

// Loads `text` (written as file `path`) and parses the tests of its last rule.
Result<std::vector<RuleTestSample>> Parse(const std::string& text) {
  LoadReport report;
  load_rule_text(text, "mem.yml", report);
  EXPECT_FALSE(report.rules.empty());
  if (report.rules.empty()) return Error(Status::Internal("no rule"));
  return parse_embedded_tests(report.rules.back(), text);
}

TEST(EmbeddedTests, NoBlockIsEmpty) {
  auto r = Parse(kHeader);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->empty());
}

TEST(EmbeddedTests, SamplesWithFormatAndLines) {
  std::string text = std::string(kHeader) +
                     "vigil:\n"
                     "  tests:\n"
                     "    - log: 'x abc y'\n"
                     "      match: true\n"
                     "    - log: '{\"a\":1}'\n"
                     "      format: json\n"
                     "      match: no\n";
  auto r = Parse(text);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].log, "x abc y");
  EXPECT_TRUE((*r)[0].expect_match);
  EXPECT_EQ((*r)[0].format, "");
  EXPECT_EQ((*r)[0].line, 12);
  EXPECT_EQ((*r)[1].format, "json");
  EXPECT_FALSE((*r)[1].expect_match);
  EXPECT_EQ((*r)[1].line, 14);
}

TEST(EmbeddedTests, LinesInSecondDocument) {
  std::string text = std::string(kHeader) + "---\n" + kHeader +
                     "vigil:\n"
                     "  tests:\n"
                     "    - log: 'x'\n"
                     "      match: 3\n";
  auto r = Parse(text);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "mem.yml:23: test sample 1: 'match' is not a bool (true or false)");
}

TEST(EmbeddedTests, MalformedBlocks) {
  struct Case {
    std::string block, message;
  };
  const Case cases[] = {
      {"vigil:\n  tests: 3\n", "mem.yml:11: 'vigil: tests' is not a list"},
      {"vigil:\n  tests:\n    - match: true\n", "mem.yml:12: test sample 1 has no 'log'"},
      {"vigil:\n  tests:\n    - log: x\n", "mem.yml:12: test sample 1 has no 'match'"},
      {"vigil:\n  tests:\n    - log: x\n      match: true\n      format: xml\n",
       "mem.yml:14: test sample 1: unknown format 'xml' (want json, rfc3164, rfc5424, cef, kv, access, plain or auto)"},
      {"vigil:\n  tests:\n    - just a string\n",
       "mem.yml:12: test sample 1 is not a map (want 'log:' and 'match:')"},
  };
  for (const Case& c : cases) {
    auto r = Parse(std::string(kHeader) + c.block);
    ASSERT_FALSE(r.has_value()) << c.block;
    EXPECT_EQ(r.error().message(), c.message) << c.block;
  }
}

}  // namespace
}  // namespace vigil::rules
