#include "rules/condition_analysis.h"

#include <gtest/gtest.h>

#include "rules/sigma_loader.h"

namespace vigil::rules {
namespace {

std::string Reason(const std::string& detection) {
  LoadReport report;
  load_rule_text("title: t\nid: 1\nlevel: low\nlogsource: {product: windows}\ndetection:\n" + detection,
                 "t.yml", report);
  EXPECT_EQ(report.rules.size(), 1u) << (report.errors.empty() ? "" : report.errors[0].message);
  if (report.rules.empty()) return "(not loaded)";
  return never_true_reason(report.rules[0]);
}

TEST(NeverTrue, ProvesContradictions) {
  EXPECT_NE(Reason("  sel:\n    Image|endswith: a.exe\n  condition: sel and not sel\n"), "");
  EXPECT_NE(Reason("  a:\n    Image: 'C:\\a.exe'\n  b:\n    Image: 'C:\\b.exe'\n  condition: a and b\n"), "");
  EXPECT_NE(Reason("  a:\n    User: x\n  b:\n    Image: y\n  condition: not a and b and a\n"), "");
}

TEST(NeverTrue, LeavesSatisfiableConditionsAlone) {
  EXPECT_EQ(Reason("  a:\n    Image: 'C:\\a.exe'\n  b:\n    Image: 'C:\\b.exe'\n  condition: a or b\n"), "");
  EXPECT_EQ(Reason("  a:\n    Image: 'C:\\A.exe'\n  b:\n    Image: 'c:\\a.EXE'\n  condition: a and b\n"), "");
  EXPECT_EQ(Reason("  a:\n    Image|endswith: a.exe\n  f:\n    User: x\n  condition: a and not f\n"), "");
  EXPECT_EQ(Reason("  a:\n    Image|contains: a\n  b:\n    Image|contains: b\n  condition: a and b\n"), "");
}

}  // namespace
}  // namespace vigil::rules
