#include "rules/regex_literal.h"

#include <gtest/gtest.h>

namespace vigil::rules {
namespace {

TEST(RequiredLiteral, PlainRunsAndEscapes) {
  EXPECT_EQ(required_literal("abc"), "abc");
  EXPECT_EQ(required_literal("\\\\cmd\\.exe$"), "\\cmd.exe");
  EXPECT_EQ(required_literal("foo.*barbaz"), "barbaz");
  EXPECT_EQ(required_literal("(?i)invoke-expression"), "invoke-expression");
}

TEST(RequiredLiteral, QuantifiersDropOptionalAtoms) {
  EXPECT_EQ(required_literal("abcd?"), "abc");     // d optional
  EXPECT_EQ(required_literal("abc*def"), "def");   // c optional: "ab" and "def"
  EXPECT_EQ(required_literal("ab{0,3}xyz"), "xyz");
  EXPECT_EQ(required_literal("a+bcd"), "bcd");     // the run restarts after a quantifier
}

TEST(RequiredLiteral, NothingProvable) {
  EXPECT_EQ(required_literal("abc|def"), "");
  EXPECT_EQ(required_literal("[a-z]+\\d+"), "");
  EXPECT_EQ(required_literal("(abc)?x"), "x");
  EXPECT_EQ(required_literal("\\w+\\s"), "");
}

TEST(RequiredLiteral, GroupsAreSkippedNotTrusted) {
  EXPECT_EQ(required_literal("pre(a|b)post1"), "post1");
  EXPECT_EQ(required_literal("x[)]yz(?:q)w"), "yz");
}

}  // namespace
}  // namespace vigil::rules

namespace vigil::rules {
namespace {

using Set = std::vector<std::string>;

TEST(RequiredLiterals, AlternationGivesOneLiteralPerBranch) {
  EXPECT_EQ(required_literals("\\.\\./|%2e%2e%2f"), (Set{"%2e%2e%2f", "../"}));
  EXPECT_EQ(required_literals("(?i)(union|select)\\s"), (Set{"select", "union"}));
  EXPECT_EQ(required_literals("x(ab|cd)yyyyy"), (Set{"yyyyy"}));     // the longer requirement
  EXPECT_EQ(required_literals("(ab|c)"), (Set{"ab", "c"}));  // the caller drops short ones
}

TEST(RequiredLiterals, OptionalOrUnprovableBranchesGiveNothing) {
  EXPECT_EQ(required_literals("abc|\\d+"), Set{});
  EXPECT_EQ(required_literals("(abc|def)?x"), (Set{"x"}));
  EXPECT_EQ(required_literals("(?=abc)x"), (Set{"x"}));
  EXPECT_EQ(required_literals("(unclosed"), Set{});
}

}  // namespace
}  // namespace vigil::rules

namespace vigil::rules {
namespace {

// A counted repeat of at least one ({1,3}) ends the run without failing the analysis: SigmaHQ's
// Invoke-Obfuscation rules ("\$PSHome\[\s*\d{1,3}\s*\]...") had no literal because of it, and
// were evaluated on every PowerShell event.
TEST(RequiredLiteral, CountedRepeatsEndTheRun) {
  EXPECT_EQ(required_literal("\\$PSHome\\[\\s*\\d{1,3}\\s*\\]\\s*\\+\\s*\\$PSHome\\["), "$PSHome[");
  EXPECT_EQ(required_literal("\\$env:ComSpec\\[(\\s*\\d{1,3}\\s*,){2}"), "$env:ComSpec[");
  EXPECT_EQ(required_literal("abc{2}xy"), "abc");     // c at least twice: "abc" holds, then a new run
  EXPECT_EQ(required_literal("abcd{0,2}xy"), "abc");  // d may be absent
  EXPECT_EQ(required_literal("abcd{00}xy"), "abc");
  EXPECT_EQ(required_literal("wxyz{3,}q"), "wxyz");
  // Not a quantifier in PCRE: a literal brace; its text is skipped, never trusted.
  EXPECT_EQ(required_literal("abcd{x}yz"), "abc");
  EXPECT_EQ(required_literal("abcd{,2}yz"), "abc");
  EXPECT_EQ(required_literal("abcd{2"), "");  // unclosed: the analysis gives up
}

}  // namespace
}  // namespace vigil::rules
