// End-to-end tests of `vigil rules test` and `vigil rules lint`: the real binary over the real
// packs and over rule trees written to a temporary directory.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "tests/support/vigil_process.h"

namespace {

namespace fs = std::filesystem;
using vigil::testing::RunResult;
using vigil::testing::RunVigil;
using vigil::testing::Slurp;
using vigil::testing::Write;

// The number after `key: ` in the summary line, or -1.
long Count(const std::string& out, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(key + ": ([0-9]+)"))) return -1;
  return std::stol(m[1]);
}

class RulesAuthoringTest : public vigil::testing::TempDirTest {};

const char* kSshRule = R"(title: Failed SSH password
id: 11111111-1111-4111-8111-111111111111
status: test
logsource:
  product: linux
  service: auth
detection:
  keywords:
    - 'Failed password'
  condition: keywords
level: medium
tags:
  - attack.credential-access
vigil:
  tests:
    - log: 'Nov 25 10:00:00 srv sshd[123]: Failed password for root from 203.0.113.7 port 22 ssh2'
      match: true
    - log: 'Nov 25 10:00:01 srv sshd[123]: Accepted password for root from 203.0.113.7 port 22 ssh2'
      match: false
)";

const char* kWrongSampleRule = R"(title: Union select in a web request
id: 22222222-2222-4222-8222-222222222222
status: test
logsource:
  category: webserver
detection:
  selection:
    cs-uri-query|contains: 'union%20select'
  condition: selection
level: high
vigil:
  tests:
    - log: '203.0.113.7 - - [25/Nov/2026:10:00:00 +0700] "GET /x?id=1%20UNION%20SELECT%201 HTTP/1.1" 200 5 "-" "ua"'
      match: false
    - log: '203.0.113.7 - - [25/Nov/2026:10:00:00 +0700] "GET /search?q=hello HTTP/1.1" 200 5 "-" "ua"'
      match: true
    - log: '203.0.113.7 - - [25/Nov/2026:10:00:00 +0700] "GET /x?id=1%20union%20select%201 HTTP/1.1" 200 5 "-" "ua"'
      match: true
    - log: '{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\x.exe","CommandLine":"union select"}'
      format: json
      match: true
)";

TEST_F(RulesAuthoringTest, BundledPacksAllPass) {
  RunResult r = RunVigil(std::string("rules test ") + VIGIL_SOURCE_DIR "/rules/packs", dir_);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Count(r.out, "failed"), 0) << r.out;
  EXPECT_EQ(Count(r.out, "errors"), 0) << r.out;
  EXPECT_GE(Count(r.out, "samples"), 100) << r.out;
  EXPECT_EQ(Count(r.out, "samples"), Count(r.out, "passed")) << r.out;
  EXPECT_EQ(r.out.find("FAIL "), std::string::npos) << r.out;
}

TEST_F(RulesAuthoringTest, WrongSampleFailsWithReadableLineAndJunit) {
  Write(dir_ / "rules" / "ok.yml", kSshRule);
  Write(dir_ / "rules" / "wrong.yml", kWrongSampleRule);
  fs::path junit = dir_ / "report.xml";
  RunResult r = RunVigil("rules test --junit " + junit.string() + " " + (dir_ / "rules").string(), dir_);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(Count(r.out, "rules"), 2) << r.out;
  EXPECT_EQ(Count(r.out, "samples"), 6) << r.out;
  EXPECT_EQ(Count(r.out, "failed"), 3) << r.out;
  EXPECT_EQ(Count(r.out, "passed"), 3) << r.out;
  // Sample 1: an unexpected match names the matched field.
  EXPECT_NE(r.out.find("FAIL " + (dir_ / "rules" / "wrong.yml").string() +
                       ":13 22222222-2222-4222-8222-222222222222 \"Union select in a web request\": "
                       "sample 1 expected no match, got match"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("cs-uri-query="), std::string::npos) << r.out;
  // Sample 2: the selection was false.
  EXPECT_NE(r.out.find("sample 2 expected match, got no match"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the condition 'selection' is false; selections false: selection"), std::string::npos) << r.out;
  // Sample 4: a JSON event is not a web server log.
  EXPECT_NE(r.out.find("sample 4 expected match, got no match: the event is not of the rule's logsource"),
            std::string::npos)
      << r.out;
  std::string xml = Slurp(junit);
  EXPECT_NE(xml.find("<testsuite name=\"" + (dir_ / "rules" / "wrong.yml").string() + "\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<failure message="), std::string::npos) << xml;
  EXPECT_NE(xml.find("&quot;Union select in a web request&quot;"), std::string::npos) << xml;
  EXPECT_EQ(xml.find("\"Union select in a web request\""), std::string::npos) << xml;
}

TEST_F(RulesAuthoringTest, MalformedVigilBlockIsReportedOthersStillTested) {
  Write(dir_ / "rules" / "a_ok.yml", kSshRule);
  Write(dir_ / "rules" / "b_bad.yml", R"(title: Bad vigil block
id: 33333333-3333-4333-8333-333333333333
logsource:
  product: linux
detection:
  keywords:
    - 'session opened'
  condition: keywords
level: low
vigil:
  tests:
    - log: 'Nov 25 10:00:00 srv su[1]: session opened for user root'
      match: maybe
)");
  Write(dir_ / "rules" / "c_bad.yml", R"(title: No log
id: 44444444-4444-4444-8444-444444444444
logsource:
  product: linux
detection:
  keywords:
    - 'session closed'
  condition: keywords
level: low
vigil:
  tests:
    - match: true
)");
  RunResult r = RunVigil("rules test " + (dir_ / "rules").string(), dir_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("ERROR " + (dir_ / "rules" / "b_bad.yml").string() +
                       ":13: test sample 1: 'match' is not a bool"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("ERROR " + (dir_ / "rules" / "c_bad.yml").string() +
                       ":12: test sample 1 has no 'log'"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(Count(r.out, "rules"), 3) << r.out;
  EXPECT_EQ(Count(r.out, "samples"), 2) << r.out;
  EXPECT_EQ(Count(r.out, "passed"), 2) << r.out;
  EXPECT_EQ(Count(r.out, "failed"), 0) << r.out;
  EXPECT_EQ(Count(r.out, "errors"), 2) << r.out;
}

TEST_F(RulesAuthoringTest, LintBundledPacksHasNoErrors) {
  RunResult r = RunVigil(std::string("rules lint ") + VIGIL_SOURCE_DIR "/rules/packs", dir_);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Count(r.out, "errors"), 0) << r.out;
  EXPECT_EQ(r.out.find(": error: "), std::string::npos) << r.out;
}

TEST_F(RulesAuthoringTest, LintFindsAuthoringMistakes) {
  Write(dir_ / "rules" / "a.yml", kSshRule);
  // The same id again, no level, a short contains value, an unknown field, a bad tag.
  Write(dir_ / "rules" / "b.yml", R"(title: Duplicate
id: 11111111-1111-4111-8111-111111111111
logsource:
  category: webserver
detection:
  selection:
    cs-uri-query|contains: 'id'
    cs-uri-fragment: 'x'
  condition: selection
tags:
  - attack.t1190
  - mytag
)");
  Write(dir_ / "rules" / "c.yml", R"(title: Unknown modifier
id: 55555555-5555-4555-8555-555555555555
logsource:
  product: linux
detection:
  selection:
    message|sometimes: 'abc'
  condition: selection
level: low
)");
  Write(dir_ / "rules" / "d.yml", R"(title: Never true
id: 66666666-6666-4666-8666-666666666666
logsource:
  product: linux
detection:
  selection:
    program: sshd
  condition: selection and not selection
level: low
)");
  // A regex Hyperscan refuses even as a prefilter ('\b' after '$') runs on PCRE2 alone.
  Write(dir_ / "rules" / "e.yml", R"(title: Slow regex
id: 77777777-7777-4777-8777-777777777777
logsource:
  product: linux
  service: auth
detection:
  selection:
    program: sshd
    message|re: 'session$\bopened'
  condition: selection
level: low
)");
  RunResult r = RunVigil("rules lint " + (dir_ / "rules").string(), dir_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find((dir_ / "rules" / "e.yml").string() +
                       ":1: warning: 77777777-7777-4777-8777-777777777777: regex_pcre2_only: 1 regular expression(s) run on PCRE2 alone"),
            std::string::npos) << r.out;
  const std::string b = (dir_ / "rules" / "b.yml").string(), c = (dir_ / "rules" / "c.yml").string();
  const std::string d = (dir_ / "rules" / "d.yml").string();
  EXPECT_NE(r.out.find(d + ":8: error: 66666666-6666-4666-8666-666666666666: never_true: the condition can never be true"),
            std::string::npos) << r.out;
  const std::string a = (dir_ / "rules" / "a.yml").string();
  EXPECT_NE(r.out.find(a + ":2: error: 11111111-1111-4111-8111-111111111111: duplicate_id: the id is also used at " + b + ":2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(b + ":2: error: 11111111-1111-4111-8111-111111111111: duplicate_id: the id is also used at " + a + ":2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(b + ":1: error: 11111111-1111-4111-8111-111111111111: missing_level: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(b + ":7: warning: 11111111-1111-4111-8111-111111111111: short_contains: cs-uri-query contains 'id'"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find(b + ":8: warning: 11111111-1111-4111-8111-111111111111: unknown_field: field 'cs-uri-fragment'"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find(b + ":12: warning: 11111111-1111-4111-8111-111111111111: tag_namespace: tag 'mytag'"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find(b + ":1: warning: 11111111-1111-4111-8111-111111111111: no_tests: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(c + ":7: error: 55555555-5555-4555-8555-555555555555: unknown_modifier: "), std::string::npos) << r.out;
  EXPECT_GE(Count(r.out, "errors"), 4) << r.out;
  EXPECT_GE(Count(r.out, "warnings"), 4) << r.out;
}

TEST_F(RulesAuthoringTest, ExpectedFieldsPinWhichSelectionFired) {
  Write(dir_ / "rules" / "f.yml", R"(title: Probe
id: 77777777-7777-4777-8777-777777777777
level: low
logsource: {category: webserver}
detection:
  sel_uri:
    cs-uri|contains: 'wp-login'
  sel_ua:
    cs-user-agent|contains: 'sqlmap'
  condition: 1 of sel_*
tags: [attack.t1190]
vigil:
  tests:
    - log: '198.51.100.4 - - [25/Nov/2026:10:00:00 +0700] "GET /wp-login.php HTTP/1.1" 404 5 "-" "curl"'
      match: true
      fields: [cs-uri]
    - log: '198.51.100.4 - - [25/Nov/2026:10:00:00 +0700] "GET /wp-login.php HTTP/1.1" 404 5 "-" "curl"'
      match: true
      fields: [cs-user-agent]
)");
  RunResult r = RunVigil("rules test " + (dir_ / "rules").string(), dir_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("sample 2 matched, but not on the expected field(s) cs-user-agent"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("passed: 1, failed: 1"), std::string::npos) << r.out;
}

}  // namespace
