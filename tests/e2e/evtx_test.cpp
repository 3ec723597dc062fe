// .evtx files read directly by `vigil scan` give the same alerts as the same records converted
// to evtx_dump JSON by an independent decoder (python-evtx, Debian python3-evtx, through
// scripts/evtx_to_json.py) and scanned as JSON: SigmaHQ's Windows rules over
// ../shared/corpora/evtx.
//
// Alerts are compared as multisets of (file, EventRecordID, rule id). Records the reference
// decoder cannot render (it fails on some damaged or unusual records that vigil's reader
// decodes) are listed and counted apart: their alerts exist only on vigil's side, and the test
// requires that vigil decodes every record the reference does.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>
#include <fstream>

#include "core/record_reader.h"
#include "tests/support/corpora.h"
#include "tests/support/vigil_process.h"

namespace {

namespace fs = std::filesystem;
using vigil::testing::RunResult;
using vigil::testing::RunVigil;
using vigil::testing::TempDirTest;

using RecordKey = std::pair<std::string, std::uint64_t>;  // file name, EventRecordID
using AlertKey = std::tuple<std::string, std::uint64_t, std::string>;

std::string file_name(std::string_view path) {
  std::string name = fs::path(std::string(path)).filename().string();
  if (name.size() > 5 && name.ends_with(".json")) name.resize(name.size() - 5);
  return name;
}

// (file, EventRecordID, rule) of each alert line of `vigil scan` JSON output.
std::map<AlertKey, int> alert_keys(const std::string& out, int* bad_lines) {
  std::map<AlertKey, int> keys;
  simdjson::dom::parser parser;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    simdjson::dom::element doc;
    std::string_view rule, file;
    std::uint64_t id = 0;
    if (parser.parse(line).get(doc) || doc["rule"]["id"].get(rule) || doc["source"]["file"].get(file) ||
        doc.at_pointer("/event/Event/System/EventRecordID").get(id)) {
      // The oracle writes every value as a string.
      std::string_view id_text;
      if (!doc.is_null() && !doc.at_pointer("/event/Event/System/EventRecordID").get(id_text) &&
          !doc["rule"]["id"].get(rule) && !doc["source"]["file"].get(file)) {
        id = std::stoull(std::string(id_text));
      } else {
        ++*bad_lines;
        continue;
      }
    }
    ++keys[{file_name(file), id, std::string(rule)}];
  }
  return keys;
}

// Every (file, EventRecordID) in the reference's JSON files.
std::multiset<RecordKey> oracle_records(const fs::path& dir) {
  std::multiset<RecordKey> records;
  simdjson::dom::parser parser;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      simdjson::dom::element doc;
      std::string_view id;
      if (parser.parse(line).get(doc) || doc.at_pointer("/Event/System/EventRecordID").get(id)) continue;
      records.insert({file_name(entry.path().string()), std::stoull(std::string(id))});
    }
  }
  return records;
}

class EvtxScan : public TempDirTest {};

TEST_F(EvtxScan, SameAlertsAsTheReferenceConversion) {
  VIGIL_REQUIRE_CORPUS("evtx");
  VIGIL_REQUIRE_CORPUS("sigma/rules/windows");
  if (std::system("/usr/bin/python3 -c 'import Evtx.Evtx' 2>/dev/null") != 0) {
    if (vigil::testing::corpora_required()) FAIL() << "python3-evtx missing (scripts/install-deps.sh)";
    GTEST_SKIP() << "python3-evtx missing (scripts/install-deps.sh installs it)";
  }
  const fs::path corpus = fs::path(vigil::testing::corpora_dir()) / "evtx";
  const std::string rules = "--rules " + (fs::path(vigil::testing::corpora_dir()) / "sigma/rules/windows").string();
  // python-evtx takes minutes of CPU for these 12,000 records: four processes share the files.
  const fs::path converted = dir_ / "converted";
  fs::create_directories(converted);
  vigil::testing::Write(dir_ / "files.txt", "");
  {
    std::ofstream list(dir_ / "files.txt");
    for (const auto& entry : fs::recursive_directory_iterator(corpus))
      if (entry.path().extension() == ".evtx") list << entry.path().string() << '\n';
  }
  const std::string convert = "tr '\\n' '\\0' < " + (dir_ / "files.txt").string() + " | xargs -0 -P 4 -n 3 /usr/bin/python3 " +
                              std::string(VIGIL_SOURCE_DIR) + "/scripts/evtx_to_json.py " + converted.string() +
                              " > " + (dir_ / "convert.txt").string();
  ASSERT_EQ(std::system(convert.c_str()), 0) << vigil::testing::Slurp(dir_ / "convert.txt");

  // The directory as handed over (vigil finds the .evtx files by their magic, and the licence
  // and readme files beside them are text with no Windows event).
  RunResult direct = RunVigil("scan --threads 2 " + rules + " " + corpus.string(), dir_);
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  RunResult reference = RunVigil("scan --threads 2 " + rules + " " + converted.string(), dir_);
  ASSERT_EQ(reference.exit_code, 0) << reference.err;

  int bad = 0;
  const auto got = alert_keys(direct.out, &bad);
  const auto want = alert_keys(reference.out, &bad);
  EXPECT_EQ(bad, 0) << "alert lines without a file, rule or EventRecordID";
  const auto records = oracle_records(converted);
  ASSERT_GT(records.size(), 10000u);

  std::size_t alerts = 0, only_vigil_records = 0;
  std::ostringstream diff;
  for (const auto& [key, n] : want) {
    alerts += static_cast<std::size_t>(n);
    auto it = got.find(key);
    const int have = it == got.end() ? 0 : it->second;
    if (have != n)
      diff << "  " << std::get<0>(key) << " record " << std::get<1>(key) << " rule " << std::get<2>(key)
           << ": evtx " << have << ", reference " << n << "\n";
  }
  for (const auto& [key, n] : got) {
    if (want.count(key)) continue;
    if (!records.count({std::get<0>(key), std::get<1>(key)})) {
      ++only_vigil_records;  // a record the reference could not decode
      continue;
    }
    diff << "  " << std::get<0>(key) << " record " << std::get<1>(key) << " rule " << std::get<2>(key)
         << ": evtx " << n << ", reference 0\n";
  }
  EXPECT_TRUE(diff.str().empty()) << "alerts differ:\n" << diff.str();
  EXPECT_GT(alerts, 100u) << "too few alerts for the comparison to mean anything";
  std::printf("reference: %zu records, %zu alerts; alerts on records only vigil decodes: %zu\n",
              records.size(), alerts, only_vigil_records);

  // Every record the reference decodes, vigil's reader decodes too.
  std::multiset<RecordKey> mine;
  simdjson::dom::parser parser;
  std::vector<vigil::Record> batch;
  for (const auto& entry : fs::recursive_directory_iterator(corpus)) {
    if (entry.path().extension() != ".evtx") continue;
    auto reader = vigil::RecordReader::open(entry.path().string());
    ASSERT_TRUE(reader.has_value());
    while ((*reader)->next_batch(batch))
      for (const vigil::Record& r : batch) {
        simdjson::dom::element doc;
        std::uint64_t id = 0;
        if (r.damaged == nullptr && !parser.parse(r.bytes.data(), r.bytes.size(), true).get(doc) &&
            !doc.at_pointer("/Event/System/EventRecordID").get(id))
          mine.insert({entry.path().filename().string(), id});
      }
  }
  std::size_t missing = 0;
  for (auto it = records.begin(); it != records.end(); it = records.upper_bound(*it))
    if (mine.count(*it) < records.count(*it)) {
      ++missing;
      ADD_FAILURE() << it->first << " record " << it->second << ": decoded by the reference, not by vigil";
      if (missing > 10) break;
    }
  std::printf("vigil decodes %zu records, the reference %zu\n", mine.size(), records.size());
  EXPECT_GE(mine.size(), records.size());
}

}  // namespace

namespace {

// The same failed logon in each Windows layout vigil reads gives the same alert; in XML an
// entity (&amp;, &quot;) does not hide a literal from the prefilter.
TEST_F(EvtxScan, EveryWindowsLayoutAlertsAlike) {
  vigil::testing::Write(dir_ / "rules/failed_admin.yml", R"(title: Failed logon of administrator through svchost
id: 2f9f3b51-7d0e-4c34-9a55-0f4a0c1d0017
status: test
logsource:
  product: windows
  service: security
detection:
  selection:
    EventID: 4625
    TargetUserName: administrator
    ProcessName|endswith: '\svchost.exe'
  condition: selection
level: high
)");
  vigil::testing::Write(dir_ / "rules/ampersand.yml", R"(title: Command line with a quoted ampersand
id: 2f9f3b51-7d0e-4c34-9a55-0f4a0c1d0018
status: test
logsource:
  product: windows
  service: security
detection:
  selection:
    CommandLine|contains: '"a & b"'
  condition: selection
level: medium
)");
  const std::string wazuh_win =
      R"({"win":{"system":{"providerName":"Microsoft-Windows-Security-Auditing","eventID":"4625","channel":"Security","computer":"DC01","systemTime":"2024-03-05T10:11:12.3456789Z"},"eventdata":{"targetUserName":"administrator","ipAddress":"203.0.113.7","processName":"C:\\\\Windows\\\\System32\\\\svchost.exe"}}})";
  vigil::testing::Write(dir_ / "in/wazuh_agent.json", wazuh_win + "\n");
  vigil::testing::Write(dir_ / "in/wazuh_archives.json",
                        R"({"timestamp":"2024-03-05T10:11:13.000+0000","agent":{"id":"003","name":"DC01"},"data":)" +
                            wazuh_win + R"(,"location":"EventChannel"})" + "\n");
  vigil::testing::Write(
      dir_ / "in/wef.xml",
      "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider "
      "Name='Microsoft-Windows-Security-Auditing'/><EventID>4625</EventID><Channel>Security</Channel><Computer>DC01</"
      "Computer></System><EventData><Data Name='TargetUserName'>administrator</Data><Data "
      "Name='ProcessName'>C:\\Windows\\System32\\svchost.exe</Data><Data Name='CommandLine'>x &quot;a &amp; "
      "b&quot;</Data></EventData></Event>\n");
  vigil::testing::Write(
      dir_ / "in/evtx_dump.json",
      R"({"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing"}},"EventID":4625,"Channel":"Security","Computer":"DC01"},"EventData":{"TargetUserName":"administrator","ProcessName":"C:\\Windows\\System32\\svchost.exe","CommandLine":"x \"a & b\""}}})"
      "\n");
  RunResult r = RunVigil("scan --rules " + (dir_ / "rules").string() + " " + (dir_ / "in").string(), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::multiset<std::string>> by_file;
  simdjson::dom::parser parser;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    simdjson::dom::element doc;
    std::string_view file, rule, format;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
    ASSERT_FALSE(doc["source"]["file"].get(file) || doc["rule"]["id"].get(rule) || doc["format"].get(format));
    by_file[fs::path(std::string(file)).filename().string()].insert(std::string(rule.substr(rule.size() - 4)) + "/" +
                                                                     std::string(format));
  }
  using S = std::multiset<std::string>;
  EXPECT_EQ(by_file["wazuh_agent.json"], (S{"0017/json"})) << r.out;
  EXPECT_EQ(by_file["wazuh_archives.json"], (S{"0017/json"})) << r.out;
  EXPECT_EQ(by_file["wef.xml"], (S{"0017/winxml", "0018/winxml"})) << r.out;
  EXPECT_EQ(by_file["evtx_dump.json"], (S{"0017/json", "0018/json"})) << r.out;
  // The XML alert carries the record as written.
  EXPECT_NE(r.out.find("<Event xmlns="), std::string::npos);
}

}  // namespace
