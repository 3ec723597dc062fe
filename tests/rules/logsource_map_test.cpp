// Logsource mapping: the built-in file parses and routes the key logsources; the parser reports
// bad mappings with their line.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include "rules/logsource_map.h"
#include "rules/sigma_loader.h"
#include "tests/support/corpora.h"

namespace vigil::rules {
namespace {

// "Channel equals 'Security'" etc., in the variant's predicate order.
std::vector<std::string> describe(const LogsourceVariant& v) {
  std::vector<std::string> out;
  for (const Predicate& p : v.conditions) {
    std::string s = p.field + " " + to_string(p.op);
    if (p.op == MatchOp::kExists) s += p.exists_expected ? " true" : " false";
    else s += " " + p.value;
    out.push_back(s);
  }
  return out;
}

const Predicate* find(const LogsourceVariant& v, const std::string& field, const std::string& value) {
  for (const Predicate& p : v.conditions)
    if (p.field == field && p.value == value) return &p;
  return nullptr;
}

TEST(LogsourceMap, BuiltinParses) {
  const LogsourceMap& m = LogsourceMap::builtin();
  EXPECT_GT(m.entry_count(), 50u);
  EXPECT_EQ(&m, &LogsourceMap::builtin());  // one shared instance
}

TEST(LogsourceMap, ProcessCreationIsSysmonOrSecurityWithRenames) {
  bool mapped = false;
  auto v = LogsourceMap::builtin().variants_for("windows", "process_creation", "", &mapped);
  EXPECT_TRUE(mapped);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].name, "windows_process_creation/sysmon");
  EXPECT_EQ(describe(v[0]), (std::vector<std::string>{"_format equals json",
                                                      "Channel equals Microsoft-Windows-Sysmon/Operational",
                                                      "EventID equals 1"}));
  EXPECT_TRUE(v[0].renames.empty());
  EXPECT_EQ(v[0].condition.kind, CondNode::Kind::kAnd);
  EXPECT_EQ(v[1].name, "windows_process_creation/security_4688");
  EXPECT_EQ(describe(v[1]), (std::vector<std::string>{"_format equals json", "Channel equals Security", "EventID equals 4688"}));
  EXPECT_EQ(v[1].renames.at("Image"), "NewProcessName");
  EXPECT_EQ(v[1].renames.at("ParentImage"), "ParentProcessName");
  // Conditions compare case-insensitively with equality.
  for (const Predicate& p : v[1].conditions) {
    EXPECT_EQ(p.op, MatchOp::kEquals);
    EXPECT_FALSE(p.cased);
  }
  // Case-insensitive logsource keys.
  auto upper = LogsourceMap::builtin().variants_for("Windows", "Process_Creation", "", &mapped);
  EXPECT_EQ(upper.size(), 2u);
}

TEST(LogsourceMap, WindowsServicesAreChannels) {
  bool mapped = false;
  auto v = LogsourceMap::builtin().variants_for("windows", "", "security", &mapped);
  EXPECT_TRUE(mapped);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(describe(v[0]), (std::vector<std::string>{"Channel equals Security"}));
  EXPECT_EQ(v[0].condition.kind, CondNode::Kind::kPred);

  v = LogsourceMap::builtin().variants_for("windows", "", "powershell", &mapped);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(find(v[0], "Channel", "Microsoft-Windows-PowerShell/Operational"), nullptr);
  EXPECT_NE(find(v[0], "Channel", "PowerShellCore/Operational"), nullptr);
  EXPECT_EQ(v[0].condition.kind, CondNode::Kind::kOr);

  const std::pair<const char*, const char*> services[] = {
      {"system", "System"},
      {"application", "Application"},
      {"sysmon", "Microsoft-Windows-Sysmon/Operational"},
      {"powershell-classic", "Windows PowerShell"},
      {"taskscheduler", "Microsoft-Windows-TaskScheduler/Operational"},
      {"wmi", "Microsoft-Windows-WMI-Activity/Operational"},
      {"ntlm", "Microsoft-Windows-NTLM/Operational"},
      {"windefend", "Microsoft-Windows-Windows Defender/Operational"},
      {"firewall-as", "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"},
      {"codeintegrity-operational", "Microsoft-Windows-CodeIntegrity/Operational"},
      {"dns-server", "DNS Server"},
  };
  for (const auto& [service, channel] : services) {
    v = LogsourceMap::builtin().variants_for("windows", "", service, &mapped);
    EXPECT_TRUE(mapped) << service;
    ASSERT_EQ(v.size(), 1u) << service;
    EXPECT_NE(find(v[0], "Channel", channel), nullptr) << service;
  }
}

TEST(LogsourceMap, SysmonCategoriesAndRegistrySplit) {
  bool mapped = false;
  auto v = LogsourceMap::builtin().variants_for("windows", "registry_delete", "", &mapped);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(find(v[0], "EventID", "12"), nullptr);
  EXPECT_NE(find(v[0], "EventType", "DeleteKey"), nullptr);
  EXPECT_NE(find(v[0], "EventType", "DeleteValue"), nullptr);
  v = LogsourceMap::builtin().variants_for("windows", "file_delete", "", &mapped);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(find(v[0], "EventID", "23"), nullptr);
  EXPECT_NE(find(v[0], "EventID", "26"), nullptr);
  v = LogsourceMap::builtin().variants_for("", "antivirus", "", &mapped);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].renames.at("Signature"), "ThreatName");
}

TEST(LogsourceMap, ProductAloneAndFallbacks) {
  bool mapped = false;
  auto v = LogsourceMap::builtin().variants_for("windows", "", "", &mapped);
  EXPECT_TRUE(mapped);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(describe(v[0]), (std::vector<std::string>{"_format equals json", "Channel exists true", "EventID exists true"}));
  // A Windows category without a native source falls back to the product entry.
  v = LogsourceMap::builtin().variants_for("windows", "file_access", "", &mapped);
  EXPECT_TRUE(mapped);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "windows");

  v = LogsourceMap::builtin().variants_for("linux", "", "sshd", &mapped);
  EXPECT_TRUE(mapped);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_NE(find(v[0], "_format", "rfc3164"), nullptr);
  EXPECT_NE(find(v[0], "_format", "rfc5424"), nullptr);
  EXPECT_NE(find(v[1], "_product", "linux"), nullptr);
  v = LogsourceMap::builtin().variants_for("linux", "process_creation", "", &mapped);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(find(v[0], "Channel", "Linux-Sysmon/Operational"), nullptr);
  v = LogsourceMap::builtin().variants_for("", "webserver", "", &mapped);
  ASSERT_FALSE(v.empty());
  EXPECT_NE(find(v[0], "_format", "access"), nullptr);
  v = LogsourceMap::builtin().variants_for("", "firewall", "", &mapped);
  ASSERT_GE(v.size(), 2u);
  EXPECT_EQ(v[0].renames.at("dst_ip"), "dstip");
}

TEST(LogsourceMap, UnmappedProductGetsOneUnconditionalVariant) {
  bool mapped = true;
  auto v = LogsourceMap::builtin().variants_for("aws", "", "cloudtrail", &mapped);
  EXPECT_FALSE(mapped);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].conditions.empty());
  EXPECT_TRUE(v[0].renames.empty());
  EXPECT_EQ(v[0].condition.kind, CondNode::Kind::kTrue);
  v = LogsourceMap::builtin().variants_for("", "", "", nullptr);  // null `mapped` is allowed
  EXPECT_EQ(v.size(), 1u);
}

TEST(LogsourceMap, MostSpecificEntriesWin) {
  auto m = LogsourceMap::parse(R"(entries:
  - name: generic
    product: p
    conditions: {a: 1}
  - name: cat
    product: p
    category: c
    variants:
      - name: one
        conditions: {b: [1, 2]}
      - name: two
        conditions: {c|exists: true}
        renames: {X: Y}
  - name: catonly
    category: c
    conditions: {d: 1}
)", "inline");
  ASSERT_TRUE(m.has_value()) << m.error().to_string();
  bool mapped = false;
  auto v = m->variants_for("p", "c", "", &mapped);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].name, "cat/one");
  EXPECT_EQ(v[0].condition.kind, CondNode::Kind::kOr);
  EXPECT_EQ(v[1].name, "cat/two");
  EXPECT_EQ(v[1].renames.at("X"), "Y");
  v = m->variants_for("p", "other", "", &mapped);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "generic");
  v = m->variants_for("q", "c", "", &mapped);  // only the category-only entry applies
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "catonly");
  // An entry without conditions selects every event of its logsource (and is mapped).
  m = LogsourceMap::parse("entries:\n  - name: all\n    product: z\n", "inline");
  ASSERT_TRUE(m.has_value()) << m.error().to_string();
  v = m->variants_for("z", "", "", &mapped);
  EXPECT_TRUE(mapped);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].conditions.empty());
  EXPECT_EQ(v[0].condition.kind, CondNode::Kind::kTrue);
}

TEST(LogsourceMap, BadMappingsNameOriginLineAndReason) {
  struct Case {
    const char* yaml;
    const char* expected;  // substring of the error
  };
  const Case cases[] = {
      {"entries:\n  - name: x\n    product: [unclosed\n", "my.yml:4: yaml_syntax"},
      {"entries:\n  - name: x\n    product: p\n    renmaes: {a: b}\n", "my.yml:4: unknown_key"},
      {"entries:\n  - name: x\n    product: p\n    variants:\n      - name: v\n        conditionz: {}\n",
       "my.yml:6: unknown_key"},
      {"entries:\n  - name: x\n    product: p\n    conditions:\n      a|nope: 1\n", "my.yml:5: bad_condition"},
      {"entries:\n  - name: x\n", "my.yml:2: bad_mapping"},
      {"entries:\n  - name: x\n    product: p\n  - name: x\n    product: q\n", "my.yml:4: duplicate_entry"},
      {"entries:\n  - name: x\n    product: p\n  - name: y\n    product: P\n", "my.yml:4: duplicate_entry"},
      {"entries:\n  - name: x\n    product: p\n    variants: []\n", "my.yml:4: bad_mapping"},
      {"entries: {}\n", "bad_mapping"},
      {"other: 1\n", "my.yml:1: unknown_key"},
  };
  for (const Case& c : cases) {
    auto m = LogsourceMap::parse(c.yaml, "my.yml");
    ASSERT_FALSE(m.has_value()) << c.yaml;
    EXPECT_NE(m.error().message().find(c.expected), std::string::npos)
        << "got: " << m.error().message() << "\nfor:\n" << c.yaml;
  }
  auto missing = LogsourceMap::load_file("/nonexistent/mapping.yml");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), StatusCode::kIoError);
}

TEST(LogsourceMap, ShippedFileLoadsFromDisk) {
  auto m = LogsourceMap::load_file(std::string(VIGIL_SOURCE_DIR) + "/rules/mapping/logsources.yml");
  ASSERT_TRUE(m.has_value()) << m.error().to_string();
  EXPECT_EQ(m->entry_count(), LogsourceMap::builtin().entry_count());
}

// Every Windows and Linux logsource used by a SigmaHQ rule resolves to a mapping entry.
TEST(LogsourceMap, EveryWindowsAndLinuxLogsourceOfSigmaHQIsMapped) {
  VIGIL_REQUIRE_CORPUS("sigma");
  const std::string corpora = vigil::testing::corpora_dir();
  std::vector<std::string> trees;
  for (const auto& entry : std::filesystem::directory_iterator(corpora + "/sigma"))
    if (entry.is_directory() && entry.path().filename().string().rfind("rules", 0) == 0)
      trees.push_back(entry.path().string());
  LoadReport r = load_rule_paths(trees);
  std::set<std::string> unmapped;
  std::size_t checked = 0;
  for (const SigmaRule& rule : r.rules) {
    if (rule.product != "windows" && rule.product != "linux") continue;
    ++checked;
    bool mapped = false;
    LogsourceMap::builtin().variants_for(rule.product, rule.category, rule.service, &mapped);
    if (!mapped) unmapped.insert(rule.product + "/" + rule.category + "/" + rule.service);
  }
  EXPECT_GT(checked, 3000u);
  EXPECT_TRUE(unmapped.empty()) << *unmapped.begin();
}

}  // namespace
}  // namespace vigil::rules
