// ATT&CK revisions and the rule technique mapping (rules/attack_mapping.h): the shipped files
// parse, malformed mappings are refused with their line, a rule's view joins its tags, its
// mapping entry and both revisions, the mapping's level replaces the rule's, the parsed rule
// cache keeps all of it, and correlations carry the views of the rules they read.
#include "rules/attack_mapping.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "rules/parsed_rule_cache.h"
#include "rules/sigma_loader.h"

namespace vigil::rules {
namespace {

using Strings = std::vector<std::string>;

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const char* kMappingYaml = R"(rules:
  - id: 0BADD08F-C6A3-4630-90D3-6875CCA440BE
    title: User Logoff Event
    level: informational
    why: every logoff
  - id: 3e2f1b2c-4d5e-11ee-be56-0242ac120002
    techniques: [T1558.004]
    tactics: [credential-access]
    why: AS-REP roasting's request
)";

RuleTechniqueMapping Mapping(const char* yaml = kMappingYaml) {
  auto m = RuleTechniqueMapping::parse(yaml, "test.yml");
  EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().to_string());
  return m ? std::move(*m) : RuleTechniqueMapping{};
}

TEST(AttackMapping, ShippedFilesParse) {
  // Parsed from the source tree for a readable error; builtin() parses the compiled-in copy
  // (and aborts the program if it does not parse).
  auto revisions = AttackRevisions::parse(ReadSource("rules/mapping/attack_revisions.yml"), "attack_revisions.yml");
  ASSERT_TRUE(revisions.has_value()) << revisions.error().to_string();
  auto mapping = RuleTechniqueMapping::parse(ReadSource("rules/mapping/rule_techniques.yml"), "rule_techniques.yml");
  ASSERT_TRUE(mapping.has_value()) << mapping.error().to_string();
  EXPECT_EQ(AttackRevisions::builtin().attack_version(), "19");
  EXPECT_GE(AttackRevisions::builtin().technique_revisions().size(), 15u);
  EXPECT_EQ(AttackRevisions::builtin().technique_revisions().size(), revisions->technique_revisions().size());
  EXPECT_EQ(RuleTechniqueMapping::builtin().size(), mapping->size());
  EXPECT_GT(mapping->size(), 0u);
}

TEST(AttackMapping, RevisionsGoBothWays) {
  const AttackRevisions& r = AttackRevisions::builtin();
  EXPECT_EQ(r.other_revisions("T1562.002"), Strings{"T1685.001"});
  EXPECT_EQ(r.other_revisions("T1685.001"), Strings{"T1562.002"});
  EXPECT_EQ(r.other_revisions("T1070.001"), Strings{"T1685.005"});
  EXPECT_TRUE(r.other_revisions("T1059.001").empty());
  // T1685 replaced three ids: all of them stand for it.
  Strings olds = r.other_revisions("T1685");
  std::sort(olds.begin(), olds.end());
  EXPECT_EQ(olds, (Strings{"T1562", "T1562.001", "T1562.006"}));
}

TEST(AttackMapping, ViewExpandsTechniquesAndTacticsAcrossRevisions) {
  const RuleTechniqueMapping none;
  // An old-revision rule: the new id and the new tactic are added.
  AttackView v = attack_view({"attack.defense_evasion", "attack.T1562.002", "attack.g0016", "car.2016-04-002"}, "", none);
  EXPECT_EQ(v.techniques, (Strings{"T1562.002", "T1685.001"}));
  // A Defense Impairment technique: defense-evasion is defense-impairment, not stealth.
  EXPECT_EQ(v.tactics, (Strings{"defense-evasion", "defense-impairment"}));

  // A v19 rule: the old id and the old tactic are added.
  v = attack_view({"attack.defense-impairment", "attack.t1685.005"}, "", none);
  EXPECT_EQ(v.techniques, (Strings{"T1070.001", "T1685.005"}));
  EXPECT_EQ(v.tactics, (Strings{"defense-evasion", "defense-impairment"}));

  // A Defense Impairment technique implies its tactic even when the rule tags none.
  v = attack_view({"attack.t1686"}, "", none);
  EXPECT_EQ(v.techniques, (Strings{"T1562.004", "T1686"}));
  EXPECT_EQ(v.tactics, (Strings{"defense-evasion", "defense-impairment"}));

  // Stealth and defense-evasion stand for each other.
  v = attack_view({"attack.stealth", "attack.t1218.011"}, "", none);
  EXPECT_EQ(v.tactics, (Strings{"defense-evasion", "stealth"}));
  v = attack_view({"attack.defense-evasion", "attack.t1218.011"}, "", none);
  EXPECT_EQ(v.tactics, (Strings{"defense-evasion", "stealth"}));

  // Other tactics and techniques stay as they are; sorted and unique.
  v = attack_view({"attack.t1059.001", "attack.execution", "attack.t1059.001", "attack.t1059"}, "", none);
  EXPECT_EQ(v.techniques, (Strings{"T1059", "T1059.001"}));
  EXPECT_EQ(v.tactics, Strings{"execution"});
  EXPECT_TRUE(attack_view({"cve.2021-44228", "detection.threat-hunting"}, "", none).empty());
}

TEST(AttackMapping, MappingAddsTechniquesAndOverridesTheLevel) {
  const RuleTechniqueMapping mapping = Mapping();
  LoadReport report;
  load_rule_text(R"(title: AS-REP roasting
id: 3e2f1b2c-4d5e-11ee-be56-0242ac120002
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4768, PreAuthType: 0}
  condition: selection
level: medium
---
title: User Logoff Event
id: 0badd08f-c6a3-4630-90d3-6875cca440be
tags: [attack.impact, attack.t1531]
logsource: {product: windows, service: security}
detection:
  selection: {EventID: [4634, 4647]}
  condition: selection
level: high
)",
                 "r.yml", report);
  ASSERT_EQ(report.rules.size(), 2u);
  for (SigmaRule& r : report.rules) apply_attack_mapping(r, mapping);
  const SigmaRule& roast = report.rules[0];
  EXPECT_EQ(roast.attack.techniques, Strings{"T1558.004"});
  EXPECT_EQ(roast.attack.tactics, Strings{"credential-access"});
  EXPECT_EQ(roast.level, "medium");
  EXPECT_TRUE(roast.level_override_why.empty());
  const SigmaRule& logoff = report.rules[1];
  EXPECT_EQ(logoff.attack.techniques, Strings{"T1531"});
  EXPECT_EQ(logoff.level, "informational");
  EXPECT_EQ(logoff.declared_level, "high");
  EXPECT_EQ(logoff.level_override_why, "every logoff");

  // The parsed rule cache keeps the view and the override.
  LoadReport back;
  ASSERT_TRUE(deserialize_load_report(serialize_load_report(report), back));
  ASSERT_EQ(back.rules.size(), 2u);
  EXPECT_TRUE(back.rules[1] == logoff);
  EXPECT_EQ(back.rules[1].declared_level, "high");
  EXPECT_EQ(back.rules[0].attack, roast.attack);
}

TEST(AttackMapping, TheLoaderAppliesTheShippedMapping) {
  // The shipped file maps this SigmaHQ rule, which has no technique tag, to T1558.004.
  LoadReport report;
  load_rule_text(R"(title: Potential AS-REP Roasting via Kerberos TGT Requests
id: 3e2f1b2c-4d5e-11ee-be56-0242ac120002
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4768, TicketEncryptionType: '0x17', ServiceName: krbtgt, PreAuthType: 0}
  condition: selection
level: medium
)",
                 "r.yml", report);
  ASSERT_EQ(report.rules.size(), 1u);
  EXPECT_EQ(report.rules[0].attack.techniques, Strings{"T1558.004"});
}

TEST(AttackMapping, CorrelationsCarryTheViewsOfTheRulesTheyRead) {
  LoadReport report;
  load_rule_text(R"(title: Event log service disabled
id: 5a5a5a5a-0000-4000-8000-000000000001
name: eventlog_disabled
tags: [attack.defense-evasion, attack.t1562.002]
logsource: {product: windows, category: process_creation}
detection:
  selection: {CommandLine|contains: 'eventlog'}
  condition: selection
---
title: Share access
id: 5a5a5a5a-0000-4000-8000-000000000002
name: share_access
tags: [attack.lateral-movement, attack.t1021.002]
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 5145}
  condition: selection
---
title: Both on one host
id: 5a5a5a5a-0000-4000-8000-000000000003
name: both
correlation:
  type: temporal
  rules: [eventlog_disabled, share_access]
  group-by: [Computer]
  timespan: 5m
tags: [attack.t1070]
---
title: Twice
id: 5a5a5a5a-0000-4000-8000-000000000004
correlation:
  type: event_count
  rules: [both]
  group-by: [Computer]
  timespan: 1h
  condition: {gte: 2}
)",
                 "c.yml", report);
  resolve_correlations(report);
  ASSERT_EQ(report.errors.size(), 0u) << report.errors[0].message;
  ASSERT_EQ(report.correlations.size(), 2u);
  const Strings want = {"T1021.002", "T1070", "T1562.002", "T1685.001"};
  EXPECT_EQ(report.correlations[0].attack.techniques, want);
  EXPECT_EQ(report.correlations[0].attack.tactics,
            (Strings{"defense-evasion", "defense-impairment", "lateral-movement"}));
  // Through a chained correlation too.
  EXPECT_EQ(report.correlations[1].attack.techniques, want);
}

TEST(AttackMapping, MalformedMappingsAreRefusedWithTheirLine) {
  struct Case {
    const char* yaml;
    const char* says;
    int line;
  };
  const Case cases[] = {
      {"rules:\n  - id: 0badd08f-c6a3-4630-90d3-6875cca440be\n    technique: [T1531]\n    why: x\n", "unknown key 'technique'", 3},
      {"rules:\n  - id: not-a-uuid\n    techniques: [T1531]\n    why: x\n", "not a rule id", 2},
      {"rules:\n  - id: 0badd08f-c6a3-4630-90d3-6875cca440be\n    techniques: [t1531]\n    why: x\n", "'t1531' is not an ATT&CK technique id", 3},
      {"rules:\n  - id: 0badd08f-c6a3-4630-90d3-6875cca440be\n    techniques: [T1531.1]\n    why: x\n", "not an ATT&CK technique id", 3},
      {"rules:\n  - id: 0badd08f-c6a3-4630-90d3-6875cca440be\n    tactics: [evasion]\n    why: x\n", "not a Sigma tactic name", 3},
      {"rules:\n  - id: 0badd08f-c6a3-4630-90d3-6875cca440be\n    level: severe\n    why: x\n", "not a level", 3},
      {"rules:\n  - id: 0badd08f-c6a3-4630-90d3-6875cca440be\n    techniques: [T1531]\n", "has no 'why'", 2},
      {"rules:\n  - id: 0badd08f-c6a3-4630-90d3-6875cca440be\n    why: x\n", "sets none of", 2},
      {"rules:\n  - id: 0badd08f-c6a3-4630-90d3-6875cca440be\n    techniques: [T1531]\n    why: x\n"
       "  - id: 0BADD08F-c6a3-4630-90d3-6875cca440be\n    level: low\n    why: y\n",
       "mapped twice (first at line 2)", 5},
      {"rule:\n  - id: 0badd08f-c6a3-4630-90d3-6875cca440be\n", "unknown key 'rule'", 1},
      {"rules:\n  - [a, b\n", "", 0},
  };
  for (const Case& c : cases) {
    auto m = RuleTechniqueMapping::parse(c.yaml, "map.yml");
    ASSERT_FALSE(m.has_value()) << c.yaml;
    const std::string msg = m.error().message();
    EXPECT_NE(msg.find(c.says), std::string::npos) << msg;
    if (c.line > 0) {
      EXPECT_EQ(msg.rfind("map.yml:" + std::to_string(c.line) + ": ", 0), 0u) << msg;
    }
  }
  // `techniques: []` says the rule was reviewed and shows no technique: accepted.
  auto none = RuleTechniqueMapping::parse(
      "rules:\n  - id: 0badd08f-c6a3-4630-90d3-6875cca440be\n    techniques: []\n    why: a health event\n", "map.yml");
  ASSERT_TRUE(none.has_value()) << none.error().to_string();
  EXPECT_TRUE(none->find("0badd08f-c6a3-4630-90d3-6875cca440be")->techniques.empty());
  // An empty file maps nothing.
  auto empty = RuleTechniqueMapping::parse("rules: []\n", "map.yml");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->size(), 0u);
}

TEST(AttackMapping, MalformedRevisionsAreRefused) {
  EXPECT_FALSE(AttackRevisions::parse("techniques:\n  - {old: T1562, new: t1685}\n", "rev.yml").has_value());
  EXPECT_FALSE(AttackRevisions::parse("techniques:\n  - {old: T1562}\n", "rev.yml").has_value());
  EXPECT_FALSE(AttackRevisions::parse("techniques:\n  - {old: T1562, new: T1685}\n  - {old: T1562, new: T1686}\n",
                                      "rev.yml")
                   .has_value());
  EXPECT_FALSE(AttackRevisions::parse("tactics:\n  - {old: defense-evasion, new: hiding}\n", "rev.yml").has_value());
  auto bad_key = AttackRevisions::parse("technique:\n  - {old: T1562, new: T1685}\n", "rev.yml");
  ASSERT_FALSE(bad_key.has_value());
  EXPECT_NE(bad_key.error().message().find("rev.yml:1: unknown key 'technique'"), std::string::npos)
      << bad_key.error().message();
}

TEST(AttackMapping, FiltersFindEitherRevisionAndSubTechniques) {
  EXPECT_EQ(technique_filter("t1562.002"), (Strings{"T1562.002", "T1685.001"}));
  EXPECT_EQ(technique_filter("T1685.001"), (Strings{"T1685.001", "T1562.002"}));
  EXPECT_EQ(technique_filter("T1003"), Strings{"T1003"});
  EXPECT_TRUE(technique_filter("T1003.1").empty());
  EXPECT_TRUE(technique_filter("mimikatz").empty());
  Strings t = tactic_filter("defense_evasion");
  std::sort(t.begin(), t.end());
  EXPECT_EQ(t, (Strings{"defense-evasion", "defense-impairment", "stealth"}));
  EXPECT_EQ(tactic_filter("stealth"), (Strings{"stealth", "defense-evasion"}));
  EXPECT_EQ(tactic_filter("Execution"), Strings{"execution"});
  EXPECT_TRUE(tactic_filter("hiding").empty());
}

}  // namespace
}  // namespace vigil::rules
