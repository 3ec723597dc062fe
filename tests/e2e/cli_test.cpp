// End-to-end tests of the `vigil` binary: `rules check` and `scan`, including bad rules and
// bad input. They run the real program on files written to a temporary directory.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <string>

#include "tests/support/corpora.h"
#include "tests/support/vigil_process.h"

namespace {

namespace fs = std::filesystem;
using vigil::testing::RunResult;
using vigil::testing::RunVigil;
using vigil::testing::Write;

int CountLines(const std::string& s, const std::string& needle) {
  int n = 0;
  std::size_t pos = 0;
  while ((pos = s.find(needle, pos)) != std::string::npos) {
    ++n;
    pos += needle.size();
  }
  return n;
}

class CliTest : public vigil::testing::TempDirTest {};

const char* kGoodRule = R"(title: Failed SSH password
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
  - attack.t1110
)";

const char* kGoodJsonRule = R"(title: Whoami
id: 22222222-2222-4222-8222-222222222222
status: test
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    Image|endswith: '\whoami.exe'
  condition: selection
level: low
)";

TEST_F(CliTest, RulesCheckReportsEveryBrokenRuleAndLoadsTheRest) {
  Write(dir_ / "rules/good.yml", kGoodRule);
  Write(dir_ / "rules/sub/good_json.yml", kGoodJsonRule);
  Write(dir_ / "rules/broken_yaml.yml", "title: broken\nid: x\ndetection: [unclosed\n  condition: a\n");
  Write(dir_ / "rules/unknown_modifier.yml", R"(title: Bad modifier
id: 33333333-3333-4333-8333-333333333333
logsource: {product: windows}
detection:
  sel:
    Image|endswithh: 'x.exe'
  condition: sel
level: low
)");
  Write(dir_ / "rules/bad_regex.yml", R"(title: Bad regex
id: 44444444-4444-4444-8444-444444444444
logsource: {product: windows}
detection:
  sel:
    CommandLine|re: '(unclosed[group'
  condition: sel
level: low
)");
  RunResult r = RunVigil("rules check " + (dir_ / "rules").string(), dir_);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("broken_yaml.yml"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("yaml_syntax"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown_modifier.yml"), std::string::npos);
  EXPECT_NE(r.out.find("33333333-3333-4333-8333-333333333333"), std::string::npos);
  EXPECT_NE(r.out.find("unknown_modifier"), std::string::npos);
  EXPECT_NE(r.out.find("44444444-4444-4444-8444-444444444444"), std::string::npos);
  EXPECT_NE(r.out.find("bad_regex"), std::string::npos);
  EXPECT_NE(r.out.find("loaded 2 of 5 rules"), std::string::npos) << r.out;

  // Nothing loadable: exit code 1.
  Write(dir_ / "only_bad/x.yml", "title: [\n");
  r = RunVigil("rules check " + (dir_ / "only_bad").string(), dir_);
  EXPECT_EQ(r.exit_code, 1) << r.out;
}

TEST_F(CliTest, ScanCountsBadLinesByReasonAndMatchesEveryGoodLine) {
  Write(dir_ / "rules/good.yml", kGoodRule);
  Write(dir_ / "rules/good_json.yml", kGoodJsonRule);
  std::string log;
  const std::string good_syslog =
      "Nov 25 10:00:0%d web01 sshd[1%d]: Failed password for root from 198.51.100.9 port 2222 ssh2\n";
  const std::string good_json =
      R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"pc01","Image":"C:\\Windows\\System32\\whoami.exe","CommandLine":"whoami /all"})"
      "\n";
  int good = 0;
  auto add_good = [&] {
    char buf[256];
    std::snprintf(buf, sizeof buf, good_syslog.c_str(), good % 10, good);
    log += buf;
    log += good_json;
    good += 2;
  };
  add_good();
  log += R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\whoami.exe")" "\n";  // truncated
  add_good();
  log += std::string("\x01\x02\x00\x03garbage\x00\xff\xfe", 14) + "\n";  // binary
  add_good();
  log += "Nov 25 10:00:00 web01 sshd[9]: Failed password for \xff\xfe user\n";  // invalid UTF-8: still matched
  add_good();
  log += std::string(10 * 1024 * 1024, 'A') + " Failed password\n";  // 10 MB line: oversize
  add_good();
  log += R"({"EventID":1,,"Channel":"x"})" "\n";  // invalid JSON
  add_good();
  Write(dir_ / "input.log", log);

  RunResult r = RunVigil("scan --rules " + (dir_ / "rules").string() + " " + (dir_ / "input.log").string(), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Every good line produced its alert; the invalid-UTF-8 syslog line too.
  EXPECT_EQ(CountLines(r.out, "\"id\":\"11111111-1111-4111-8111-111111111111\""), good / 2 + 1) << r.err;
  EXPECT_EQ(CountLines(r.out, "\"id\":\"22222222-2222-4222-8222-222222222222\""), good / 2);
  EXPECT_NE(r.err.find("truncated_json 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("binary 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("invalid_utf8 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("oversize 1"), std::string::npos) << r.err;
  // --validate parses every record fully, so every malformed one is counted whatever the
  // rules need; the alerts are the same.
  RunResult v = RunVigil("scan --validate --rules " + (dir_ / "rules").string() + " " + (dir_ / "input.log").string(), dir_);
  EXPECT_EQ(v.out, r.out);
  EXPECT_NE(v.err.find("invalid_json 1"), std::string::npos) << v.err;
  // Each alert is one line of JSON with the rule metadata, time, host and the event.
  std::string first = r.out.substr(0, r.out.find('\n'));
  EXPECT_NE(first.find("\"title\":\"Failed SSH password\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"level\":\"medium\""), std::string::npos);
  EXPECT_NE(first.find("\"tags\":[\"attack.credential-access\",\"attack.t1110\"]"), std::string::npos);
  EXPECT_NE(first.find("\"host\":\"web01\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"matched\":["), std::string::npos);
  // Evidence is what the detection matched, not the logsource routing (Channel, EventID).
  std::size_t json_alert = r.out.find("\"id\":\"22222222-2222-4222-8222-222222222222\"");
  ASSERT_NE(json_alert, std::string::npos);
  std::string line = r.out.substr(json_alert, r.out.find('\n', json_alert) - json_alert);
  std::string matched = line.substr(line.find("\"matched\":"), line.find("\"event\":") - line.find("\"matched\":"));
  EXPECT_EQ(matched, "\"matched\":[{\"field\":\"Image\",\"value\":\"C:\\\\Windows\\\\System32\\\\whoami.exe\"}],") << line;
}

TEST_F(CliTest, GzipInputStdinAndThreadsGiveTheSameAlerts) {
  Write(dir_ / "rules/good.yml", kGoodRule);
  std::string log;
  for (int i = 0; i < 20000; ++i) {
    log += "Nov 25 10:00:00 web01 sshd[" + std::to_string(i) + "]: ";
    log += (i % 7 == 0) ? "Failed password for root from 198.51.100.9 port 2222 ssh2\n"
                        : "Accepted publickey for deploy from 10.0.0.5 port 40000 ssh2\n";
  }
  Write(dir_ / "plain.log", log);
  gzFile gz = gzopen((dir_ / "input.log.gz").string().c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  gzwrite(gz, log.data(), static_cast<unsigned>(log.size()));
  gzclose(gz);
  const int expected = (20000 + 6) / 7;
  std::string rules = "--rules " + (dir_ / "rules").string();
  RunResult gz1 = RunVigil("scan " + rules + " " + (dir_ / "input.log.gz").string(), dir_);
  EXPECT_EQ(CountLines(gz1.out, "\n"), expected) << gz1.err;
  RunResult st = RunVigil("scan " + rules + " - < " + (dir_ / "plain.log").string(), dir_);
  EXPECT_EQ(CountLines(st.out, "\n"), expected);
  EXPECT_EQ(CountLines(st.out, "\"file\":\"(stdin)\""), expected);
  // Threads share the work; the output (record numbers included) is identical.
  RunResult t1 = RunVigil("scan --threads 1 " + rules + " " + (dir_ / "plain.log").string(), dir_);
  RunResult t2 = RunVigil("scan --threads 2 " + rules + " " + (dir_ / "plain.log").string(), dir_);
  RunResult t3 = RunVigil("scan --threads 3 " + rules + " " + (dir_ / "plain.log").string(), dir_);
  EXPECT_EQ(CountLines(t2.out, "\n"), expected) << t2.err;
  EXPECT_EQ(t2.out, t1.out);
  EXPECT_EQ(t3.out, t1.out);
  EXPECT_NE(t1.out.find("\"record\":20000}"), std::string::npos);  // i = 19999 = 7 * 2857
  EXPECT_NE(t2.err.find("20,000 events"), std::string::npos) << t2.err;
  // A bigger file is cut into more ranges than threads (4 MiB or more each), taken in turn;
  // the later ranges' record numbers are shifted when their output is joined.
  std::string big;
  for (int copy = 0; copy < 8; ++copy) big += log;  // 160,000 lines, ~14 MB: 3 ranges
  Write(dir_ / "big.log", big);
  RunResult b1 = RunVigil("scan --threads 1 " + rules + " " + (dir_ / "big.log").string(), dir_);
  RunResult b2 = RunVigil("scan --threads 2 " + rules + " " + (dir_ / "big.log").string(), dir_);
  EXPECT_EQ(CountLines(b1.out, "\n"), 8 * expected) << b1.err;
  EXPECT_EQ(b2.out, b1.out);
  EXPECT_NE(b2.out.find("\"record\":160000}"), std::string::npos);
  // Pretty-printed JSON documents cannot be cut at arbitrary lines: read whole, same result.
  std::string pretty;
  for (int i = 0; i < 300; ++i)
    pretty += "{\n  \"EventID\": 1,\n  \"Channel\": \"Microsoft-Windows-Sysmon/Operational\",\n"
              "  \"Image\": \"C:\\\\Windows\\\\System32\\\\whoami.exe\"\n}\n";
  Write(dir_ / "pretty.json", pretty);
  Write(dir_ / "rules/whoami.yml", kGoodJsonRule);
  RunResult p1 = RunVigil("scan --threads 1 " + rules + " " + (dir_ / "pretty.json").string(), dir_);
  RunResult p2 = RunVigil("scan --threads 2 " + rules + " " + (dir_ / "pretty.json").string(), dir_);
  EXPECT_EQ(CountLines(p1.out, "\n"), 300) << p1.err;
  EXPECT_EQ(p2.out, p1.out);
}

// A folder of small logs from an incident, scanned at several thread counts: the same bytes,
// in input order, every time (the threads used to share matchers between files, which crashed
// or filed alerts under the wrong file and record). The bundled packs' SSH correlations and
// suppression run here, so the events that feed them take the writer's in-order path.
TEST_F(CliTest, ManySmallFilesGiveTheSameBytesAtEveryThreadCount) {
  std::mt19937 rng(20261207);
  std::vector<std::string> files;
  std::string all;
  int second = 0;
  for (int f = 0; f < 240; ++f) {
    std::string text;
    const int lines = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < lines; ++i, ++second) {
      char stamp[32];
      std::snprintf(stamp, sizeof stamp, "Nov 25 10:%02d:%02d", (second / 60) % 60, second % 60);
      const unsigned source = rng() % 6, kind = rng() % 10;
      text += std::string(stamp) + " web0" + std::to_string(f % 3) + " sshd[" + std::to_string(1000 + i) + "]: ";
      if (kind < 7)
        text += "Failed password for " + std::string(kind < 4 ? "root" : "user" + std::to_string(kind)) +
                " from 203.0.113." + std::to_string(source) + " port 4" + std::to_string(i % 1000) + " ssh2\n";
      else if (kind < 9)
        text += "Accepted password for deploy from 203.0.113." + std::to_string(source) + " port 5" +
                std::to_string(i % 1000) + " ssh2\n";
      else
        text += "Connection closed by 198.51.100.7 port 22 [preauth]\n";
    }
    const fs::path path = dir_ / ("logs/part-" + std::to_string(1000 + f) + ".log");
    Write(path, text);
    files.push_back(path.string());
    all += text;
  }
  std::string list;
  for (const std::string& f : files) list += " " + f;
  RunResult t1 = RunVigil("scan --threads 1" + list, dir_);
  ASSERT_EQ(t1.exit_code, 0) << t1.err;
  const int alerts = CountLines(t1.out, "\n");
  ASSERT_GT(alerts, 20) << t1.err;
  EXPECT_GT(CountLines(t1.out, "SSH Brute Force From One Source"), 0) << t1.out.substr(0, 2000);
  for (const char* threads : {"2", "4", "8"}) {
    RunResult tn = RunVigil(std::string("scan --threads ") + threads + list, dir_);
    EXPECT_EQ(tn.exit_code, 0) << tn.err;
    EXPECT_TRUE(tn.out == t1.out) << "--threads " << threads << " differs from --threads 1";
  }
  // Each alert names its own file and a record inside it.
  std::regex source_re("\"source\":\\{\"file\":\"[^\"]*part-(\\d+)\\.log\",\"record\":(\\d+)\\}");
  int checked = 0;
  for (auto it = std::sregex_iterator(t1.out.begin(), t1.out.end(), source_re); it != std::sregex_iterator(); ++it) {
    const std::string file = (dir_ / ("logs/part-" + (*it)[1].str() + ".log")).string();
    const std::string text = vigil::testing::Slurp(file);
    const int records = CountLines(text, "\n");
    EXPECT_LE(std::stoi((*it)[2].str()), records) << file;
    ++checked;
  }
  EXPECT_GT(checked, 0);
  // The same events as one file give the same alerts, rule by rule.
  Write(dir_ / "all.log", all);
  RunResult one = RunVigil("scan --threads 2 " + (dir_ / "all.log").string(), dir_);
  std::regex rule_re("\"rule\":\\{\"id\":\"([^\"]+)\"");
  auto rules_of = [&](const std::string& out) {
    std::multiset<std::string> ids;
    for (auto it = std::sregex_iterator(out.begin(), out.end(), rule_re); it != std::sregex_iterator(); ++it)
      ids.insert((*it)[1].str());
    return ids;
  };
  EXPECT_TRUE(rules_of(one.out) == rules_of(t1.out));
  // A bad input among many is named with its reason; the others are scanned all the same, and
  // the exit status says that some input failed. (A directory stands for the files in it: an
  // empty one adds nothing.)
  fs::create_directories(dir_ / "logs/a-directory");
  fs::create_symlink(dir_ / "nowhere", dir_ / "dangling.log");
  RunResult bad = RunVigil("scan --threads 2 " + (dir_ / "missing.log").string() + list + " " +
                           (dir_ / "logs/a-directory").string() + " " + (dir_ / "dangling.log").string(), dir_);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("missing.log"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("dangling.log"), std::string::npos) << bad.err;
  EXPECT_TRUE(bad.out == t1.out);
}

// A large file whose every line matches: its ranges' alert text is spilled to temporary files
// and the later ranges' record numbers are shifted as they are joined.
TEST_F(CliTest, LargeOutputOfLaterRangesIsSpilledAndRenumbered) {
  Write(dir_ / "rules/good.yml", kGoodRule);
  std::string log;
  for (int i = 0; i < 110000; ++i)
    log += "Nov 25 10:00:00 web01 sshd[" + std::to_string(i) + "]: Failed password for root from 198.51.100.9 port 2222 ssh2\n";
  Write(dir_ / "every.log", log);
  std::string rules = "--rules " + (dir_ / "rules").string();
  RunResult t1 = RunVigil("scan --threads 1 " + rules + " " + (dir_ / "every.log").string(), dir_);
  RunResult t2 = RunVigil("scan --threads 2 " + rules + " " + (dir_ / "every.log").string(), dir_);
  EXPECT_EQ(CountLines(t1.out, "\n"), 110000) << t1.err;
  EXPECT_TRUE(t2.out == t1.out);
  EXPECT_NE(t2.out.find("\"record\":110000}"), std::string::npos);
  EXPECT_NE(t2.out.find("\"record\":60000}"), std::string::npos);
}

// A "#Fields:" line inside a log that is not a W3C log (logs concatenated, a relay mixing
// sources): the lines after it that another format claims by their shape (here syslog) keep
// that format even with the directive's column count, so a range of the file read by another
// thread, which does not know the directive, reads them alike. Taken as W3C, the SSH lines
// would be records the keyword rule never sees.
TEST_F(CliTest, W3cDirectiveInsideAnotherLogReadsAlikeAtEveryThreadCount) {
  Write(dir_ / "rules/good.yml", kGoodRule);
  std::string log;
  auto lines = [&](int from, int to) {
    for (int i = from; i < to; ++i)
      log += "Nov 25 10:00:00 web01 sshd[" + std::to_string(i) + "]: Failed password for root from 198.51.100.9 port 2222 ssh2\n";
  };
  lines(0, 1000);
  log += "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status "
         "sc-substatus sc-win32-status time-taken\n";
  lines(1000, 110000);
  Write(dir_ / "mixed.log", log);
  std::string rules = "--rules " + (dir_ / "rules").string();
  RunResult t1 = RunVigil("scan --threads 1 " + rules + " " + (dir_ / "mixed.log").string(), dir_);
  RunResult t2 = RunVigil("scan --threads 2 " + rules + " " + (dir_ / "mixed.log").string(), dir_);
  RunResult t3 = RunVigil("scan --threads 3 " + rules + " " + (dir_ / "mixed.log").string(), dir_);
  EXPECT_EQ(CountLines(t1.out, "\n"), 110000) << t1.err;
  EXPECT_TRUE(t2.out == t1.out) << CountLines(t2.out, "\n") << " alerts with 2 threads";
  EXPECT_TRUE(t3.out == t1.out) << CountLines(t3.out, "\n") << " alerts with 3 threads";
}

TEST_F(CliTest, BundledRulesScanTheBundledSample) {
  RunResult r = RunVigil(std::string("scan --output table ") + VIGIL_SOURCE_DIR + "/samples/sample.log", dir_);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("TIME"), std::string::npos);
  EXPECT_GE(CountLines(r.out, "\n"), 5) << r.out << r.err;
}

TEST_F(CliTest, SigmaHqTreeLoadsAtLeast3700Rules) {
  VIGIL_REQUIRE_CORPUS("sigma");
  const std::string corpora = vigil::testing::corpora_dir();
  std::string paths;
  for (const auto& e : fs::directory_iterator(corpora + "/sigma"))
    if (e.is_directory() && e.path().filename().string().rfind("rules", 0) == 0)
      paths += " " + e.path().string();
  RunResult r = RunVigil("rules check" + paths, dir_);
  EXPECT_EQ(r.exit_code, 0);
  std::smatch m;
  std::string last = r.out.substr(r.out.rfind("loaded "));
  ASSERT_TRUE(std::regex_search(last, m, std::regex("loaded (\\d+) of (\\d+) rules")));
  EXPECT_GE(std::stoi(m[1]), 3700) << last;
  EXPECT_EQ(std::stoi(m[2]), 3780) << last;
  // Every skipped rule is listed with a reason: one line per failure before the totals.
  int failures = std::stoi(m[2]) - std::stoi(m[1]);
  EXPECT_EQ(CountLines(r.out.substr(0, r.out.find("failures by reason")), "\n"), failures);
}

}  // namespace

namespace {

TEST_F(CliTest, UnmappedLogsourcesRunOnlyOnDeclaredInput) {
  Write(dir_ / "rules/zeek.yml", R"(title: DNS query for a dynamic-DNS domain
id: 55555555-5555-4555-8555-555555555555
logsource:
  product: zeek
  service: dns
detection:
  selection:
    query|endswith: '.duckdns.org'
  condition: selection
level: medium
)");
  Write(dir_ / "dns.json", R"({"ts":1732500000.1,"query":"c2.duckdns.org","qtype_name":"A"})" "\n");
  std::string args = "scan --rules " + (dir_ / "rules").string() + " ";
  RunResult plain = RunVigil(args + (dir_ / "dns.json").string(), dir_);
  EXPECT_EQ(CountLines(plain.out, "\n"), 0) << plain.out;
  RunResult declared = RunVigil(args + "--logsource product=zeek,service=dns " + (dir_ / "dns.json").string(), dir_);
  EXPECT_EQ(CountLines(declared.out, "55555555-5555-4555-8555-555555555555"), 1) << declared.err;
  RunResult other = RunVigil(args + "--logsource product=zeek,service=http " + (dir_ / "dns.json").string(), dir_);
  EXPECT_EQ(CountLines(other.out, "\n"), 0);
  RunResult bad = RunVigil(args + "--logsource vendor=zeek " + (dir_ / "dns.json").string(), dir_);
  EXPECT_EQ(bad.exit_code, 2);
}

}  // namespace

// The compiled rule cache from the command line: the second scan takes every database from
// the cache and prints the same alerts; a changed rule is used at once; --no-cache and
// `rules cache clear` do what they say.
// From the scan summary's "rule load: 0.03 s, A of B files and C of D databases from the rule
// cache": (C, D), and (A, B) from FilesFromCache.
std::pair<int, int> DatabasesFromCache(const std::string& summary) {
  std::smatch m;
  if (!std::regex_search(summary, m, std::regex(R"(rule load: [0-9.]+ s, \d+ of \d+ files and (\d+) of (\d+) databases)")))
    return {-1, -1};
  return {std::stoi(m[1]), std::stoi(m[2])};
}
std::pair<int, int> FilesFromCache(const std::string& summary) {
  std::smatch m;
  if (!std::regex_search(summary, m, std::regex(R"(rule load: [0-9.]+ s, (\d+) of (\d+) files)"))) return {-1, -1};
  return {std::stoi(m[1]), std::stoi(m[2])};
}

TEST_F(CliTest, ScanUsesTheCompiledRuleCacheAndNeverAStaleEntry) {
  Write(dir_ / "rules" / "good.yml", kGoodRule);
  Write(dir_ / "input.log",
        "Dec  7 10:00:01 host sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2\n"
        "Dec  7 10:00:02 host sshd[1]: Accepted password for root from 10.0.0.1 port 22 ssh2\n");
  const std::string env = "VIGIL_CACHE_DIR=" + (dir_ / "cache").string();
  const std::string args = "scan --rules " + (dir_ / "rules").string() + " " + (dir_ / "input.log").string();
  RunResult first = RunVigil(args, dir_, env);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto [cold_hits, cold_total] = DatabasesFromCache(first.err);
  ASSERT_GT(cold_total, 0) << first.err;
  EXPECT_LT(cold_hits, cold_total) << first.err;
  RunResult second = RunVigil(args, dir_, env);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, first.out);
  EXPECT_EQ(CountLines(second.out, "\"rule\""), 1);
  EXPECT_EQ(DatabasesFromCache(second.err), std::make_pair(cold_total, cold_total)) << second.err;
  EXPECT_EQ(FilesFromCache(first.err), std::make_pair(0, 1)) << first.err;
  EXPECT_EQ(FilesFromCache(second.err), std::make_pair(1, 1)) << second.err;

  std::string changed = kGoodRule;
  changed.replace(changed.find("'Failed password'"), 17, "'Accepted password'");
  Write(dir_ / "rules" / "good.yml", changed);
  RunResult third = RunVigil(args, dir_, env);
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_NE(third.out.find("\"record\":2"), std::string::npos) << third.out;
  EXPECT_EQ(third.out.find("\"record\":1"), std::string::npos) << third.out;
  EXPECT_EQ(FilesFromCache(third.err), std::make_pair(0, 1)) << third.err;  // the changed file is parsed again

  // A damaged entry (here: every entry of the cache, one byte flipped) is rejected and rebuilt,
  // never used: the same alerts as the third scan, and the next scan hits again.
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "cache")) {
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const auto size = static_cast<std::streamoff>(f.tellg());
    f.seekg(size - 1);
    const char last = static_cast<char>(f.get());
    f.seekp(size - 1);
    f.put(static_cast<char>(last ^ 0x5a));
  }
  RunResult damaged = RunVigil(args, dir_, env);
  ASSERT_EQ(damaged.exit_code, 0) << damaged.err;
  EXPECT_EQ(damaged.out, third.out);
  EXPECT_EQ(FilesFromCache(damaged.err), std::make_pair(0, 1)) << damaged.err;
  // (Two databases of this rule set have the same patterns: the second finds the first's new
  // entry, so only "fewer than all" holds.)
  EXPECT_LT(DatabasesFromCache(damaged.err).first, DatabasesFromCache(damaged.err).second) << damaged.err;
  RunResult rebuilt = RunVigil(args, dir_, env);
  EXPECT_EQ(rebuilt.out, third.out);
  EXPECT_EQ(FilesFromCache(rebuilt.err), std::make_pair(1, 1)) << rebuilt.err;

  RunResult none = RunVigil("scan --no-cache" + args.substr(4), dir_, env);
  EXPECT_NE(none.err.find("(no cache)"), std::string::npos) << none.err;
  RunResult cleared = RunVigil("rules cache clear", dir_, env);
  ASSERT_EQ(cleared.exit_code, 0) << cleared.err;
  EXPECT_NE(cleared.out.find("cache entries removed from " + (dir_ / "cache").string()), std::string::npos)
      << cleared.out;
  RunResult info = RunVigil("rules cache info", dir_, env);
  EXPECT_NE(info.out.find("entries: 0"), std::string::npos) << info.out;
}
