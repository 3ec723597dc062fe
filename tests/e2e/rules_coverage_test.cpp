// End-to-end tests of `vigil rules coverage`: the real binary over the bundled packs and over a
// rule tree written to a temporary directory, text and --json.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <string>

#include "tests/support/vigil_process.h"

namespace {

using vigil::testing::RunResult;
using vigil::testing::RunVigil;
using vigil::testing::Write;

class RulesCoverageTest : public vigil::testing::TempDirTest {};

const char* kTwoRules = R"(title: Failed SSH password
id: 11111111-1111-4111-8111-111111111111
name: ssh_failed
status: test
logsource:
  product: linux
  service: auth
detection:
  keywords:
    - 'Failed password'
  condition: keywords
level: low
tags:
  - attack.credential-access
  - attack.t1110.001
---
title: SSH brute force
id: 22222222-2222-4222-8222-222222222222
status: test
correlation:
  type: event_count
  rules:
    - ssh_failed
  group-by:
    - host
  timespan: 10m
  condition:
    gte: 10
level: high
tags:
  - attack.credential_access
  - attack.t1110
---
title: FortiGate IPS critical
id: 33333333-3333-4333-8333-333333333333
status: test
logsource:
  product: fortigate
detection:
  selection:
    subtype: ips
    severity: critical
  condition: selection
level: high
tags:
  - attack.initial-access
  - attack.t1190
---
title: Something nobody maps
id: 44444444-4444-4444-8444-444444444444
status: test
logsource:
  product: zeek
  service: dns
detection:
  selection:
    query|endswith: '.onion'
  condition: selection
level: medium
)";

// The JSON answer as a DOM (the parser must outlive the elements read from it).
struct Doc {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  bool ok = false;
  explicit Doc(const std::string& text) { ok = parser.parse(text).get(root) == simdjson::SUCCESS; }
};

std::int64_t Int(simdjson::dom::element e, const char* key) {
  std::int64_t v = -1;
  if (e[key].get(v) != simdjson::SUCCESS) return -1;
  return v;
}

// name -> rules, for an array of objects keyed by `key`.
std::map<std::string, std::int64_t> ByKey(simdjson::dom::element root, const char* array, const char* key) {
  std::map<std::string, std::int64_t> out;
  simdjson::dom::array a;
  if (root[array].get(a) != simdjson::SUCCESS) return out;
  for (simdjson::dom::element e : a) {
    std::string_view name;
    if (e[key].get(name) == simdjson::SUCCESS) out[std::string(name)] = Int(e, "rules");
  }
  return out;
}

TEST_F(RulesCoverageTest, JsonCountsLogsourcesFormatsTacticsAndTechniques) {
  Write(dir_ / "rules" / "r.yml", kTwoRules);
  RunResult r = RunVigil("rules coverage --json " + (dir_ / "rules").string(), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Doc d(r.out);
  ASSERT_TRUE(d.ok) << r.out;
  EXPECT_EQ(Int(d.root, "rules"), 3);
  EXPECT_EQ(Int(d.root, "correlations"), 1);
  EXPECT_EQ(Int(d.root, "with_attack_tags"), 3);

  // The correlation counts under the logsource of the rule it references.
  auto sources = ByKey(d.root, "logsources", "logsource");
  EXPECT_EQ(sources["linux/-/auth"], 2);
  EXPECT_EQ(sources["fortigate/-/-"], 1);
  EXPECT_EQ(sources["zeek/-/dns"], 1);
  // Formats come from the mapping's variants: syslog for linux/auth, kv for FortiGate, and the
  // zeek rule runs on declared input only.
  auto formats = ByKey(d.root, "formats", "format");
  EXPECT_EQ(formats["rfc3164"], 2);
  EXPECT_EQ(formats["kv"], 1);
  EXPECT_EQ(formats["unmapped"], 1);

  // All 16 tactics (both ATT&CK revisions) are listed, uncovered ones with 0; tags with '_'
  // count as '-'.
  auto tactics = ByKey(d.root, "tactics", "tactic");
  EXPECT_EQ(tactics.size(), 16u);
  EXPECT_EQ(tactics["credential-access"], 2);
  EXPECT_EQ(tactics["initial-access"], 1);
  EXPECT_EQ(tactics["exfiltration"], 0);
  auto techniques = ByKey(d.root, "techniques", "id");
  // The correlation carries the technique of the rule it reads beside its own.
  EXPECT_EQ(techniques["T1110.001"], 2);
  EXPECT_EQ(techniques["T1110"], 1);
  EXPECT_EQ(techniques["T1190"], 1);
}

TEST_F(RulesCoverageTest, TextTablesName) {
  Write(dir_ / "rules" / "r.yml", kTwoRules);
  RunResult r = RunVigil("rules coverage " + (dir_ / "rules").string(), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("rules: 3 detection + 1 correlation"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("linux/-/auth"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ATT&CK tactics (2 of 16 covered)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exfiltration"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("T1110.001"), std::string::npos) << r.out;
}

// Windows rules by the channels their logsource reads: process_creation reads Sysmon 1 and
// Security 4688 (both), service security native audit, registry_set Sysmon only, product windows
// alone any channel (neither). Techniques count after the rule technique mapping (the shipped
// file maps SigmaHQ's untagged AS-REP roasting rule to T1558.004) and in both ATT&CK revisions.
const char* kWindowsRules = R"(title: Encoded PowerShell
id: aaaaaaaa-0000-4000-8000-000000000001
status: test
logsource: {product: windows, category: process_creation}
detection:
  selection: {CommandLine|contains: ' -enc '}
  condition: selection
level: medium
tags: [attack.execution, attack.t1059.001]
---
title: Kerberoasting request
id: aaaaaaaa-0000-4000-8000-000000000002
status: test
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4769, TicketEncryptionType: '0x17'}
  condition: selection
level: medium
tags: [attack.credential-access, attack.t1558.003]
---
title: Event log service disabled in the registry
id: aaaaaaaa-0000-4000-8000-000000000003
status: test
logsource: {product: windows, category: registry_set}
detection:
  selection: {TargetObject|endswith: '\Services\EventLog\Start'}
  condition: selection
level: high
tags: [attack.defense-evasion, attack.t1562.002]
---
title: Anything with wmic
id: aaaaaaaa-0000-4000-8000-000000000004
status: test
logsource: {product: windows}
detection:
  keywords: [wmic.exe]
  condition: keywords
level: low
tags: [attack.execution, attack.t1047]
---
title: Potential AS-REP Roasting via Kerberos TGT Requests
id: 3e2f1b2c-4d5e-11ee-be56-0242ac120002
status: test
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4768, PreAuthType: 0}
  condition: selection
level: medium
)";

TEST_F(RulesCoverageTest, WindowsTechniquesByNativeAuditAndSysmon) {
  Write(dir_ / "win" / "w.yml", kWindowsRules);
  RunResult r = RunVigil("rules coverage --json " + (dir_ / "win").string(), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  Doc d(r.out);
  ASSERT_TRUE(d.ok) << r.out;
  EXPECT_EQ(Int(d.root, "with_attack_tags"), 4);
  EXPECT_EQ(Int(d.root, "with_techniques"), 5);
  simdjson::dom::element w;
  ASSERT_EQ(d.root["windows"].get(w), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(Int(w, "rules"), 5);
  EXPECT_EQ(Int(w, "native_rules"), 3);  // process_creation, and the two security ones
  EXPECT_EQ(Int(w, "sysmon_rules"), 2);  // process_creation, registry_set
  // Native: T1059.001, T1558.003, T1558.004. Sysmon: T1059.001, T1562.002 and T1685.001.
  EXPECT_EQ(Int(w, "native_techniques"), 3);
  EXPECT_EQ(Int(w, "sysmon_techniques"), 3);
  EXPECT_EQ(Int(w, "both_techniques"), 1);
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> by_id;
  simdjson::dom::array techniques;
  ASSERT_EQ(d.root["techniques"].get(techniques), simdjson::SUCCESS);
  for (simdjson::dom::element t : techniques) {
    std::string_view id;
    if (t["id"].get(id) == simdjson::SUCCESS) by_id[std::string(id)] = {Int(t, "windows_native"), Int(t, "windows_sysmon")};
  }
  EXPECT_EQ(by_id["T1059.001"], std::make_pair(std::int64_t{1}, std::int64_t{1}));
  EXPECT_EQ(by_id["T1558.003"], std::make_pair(std::int64_t{1}, std::int64_t{0}));
  EXPECT_EQ(by_id["T1558.004"], std::make_pair(std::int64_t{1}, std::int64_t{0}));
  EXPECT_EQ(by_id["T1685.001"], std::make_pair(std::int64_t{0}, std::int64_t{1}));
  EXPECT_EQ(by_id["T1562.002"], std::make_pair(std::int64_t{0}, std::int64_t{1}));
  EXPECT_EQ(by_id["T1047"], std::make_pair(std::int64_t{0}, std::int64_t{0}));
  auto tactics = ByKey(d.root, "tactics", "tactic");
  EXPECT_EQ(tactics["defense-impairment"], 1);
  EXPECT_EQ(tactics["stealth"], 0);  // T1562.002 is Defense Impairment's alone

  RunResult text = RunVigil("rules coverage " + (dir_ / "win").string(), dir_);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("Windows: 5 rules, 3 read native audit channels, 2 read Sysmon; techniques covered by "
                          "native audit 3, by Sysmon 3, by both 1"),
            std::string::npos)
      << text.out;
}

TEST_F(RulesCoverageTest, BundledPacksByDefault) {
  RunResult r = RunVigil("rules coverage --json", dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Doc d(r.out);
  ASSERT_TRUE(d.ok) << r.out;
  EXPECT_GE(Int(d.root, "rules") + Int(d.root, "correlations"), 250);
  auto sources = ByKey(d.root, "logsources", "logsource");
  for (const char* s : {"cisco/-/asa", "fortigate/-/-", "paloalto/-/-", "checkpoint/-/-", "sophos/-/-",
                        "sonicwall/-/-", "f5/-/-", "linux/-/auditd", "windows/-/security"})
    EXPECT_GT(sources[s], 0) << s;
  auto tactics = ByKey(d.root, "tactics", "tactic");
  for (const auto& [tactic, n] : tactics) EXPECT_GT(n, 0) << tactic << " has no rule in the bundled packs";
}

TEST_F(RulesCoverageTest, NoRuleIsAnError) {
  Write(dir_ / "empty" / "readme.txt", "nothing here");
  RunResult r = RunVigil("rules coverage " + (dir_ / "empty").string(), dir_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no rule loaded"), std::string::npos) << r.err;
}

}  // namespace
