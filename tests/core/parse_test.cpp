// Tests of core/parse: every format, the Windows JSON layouts, detection, and bad input.
#include "core/parse/parser.h"
#include "tests/support/corpora.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace vigil::parse {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kPadding = 64;

fs::path corpora_dir() { return vigil::testing::corpora_dir(); }

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Splits concatenated (pretty-printed) JSON documents by brace depth, strings respected.
std::vector<std::string> split_json_documents(const std::string& text) {
  std::vector<std::string> docs;
  int depth = 0;
  bool in_string = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      if (depth++ == 0) start = i;
    } else if (c == '}') {
      if (--depth == 0) docs.push_back(text.substr(start, i + 1 - start));
    }
  }
  return docs;
}

// Owns record buffers (with simdjson's padding after each record) and their events.
class ParseTest : public ::testing::Test {
 protected:
  Event& parse(std::string_view record, LogFormat format = LogFormat::kUnknown,
               bool* ok = nullptr) {
    std::string& buf = buffers_.emplace_back(record);
    buf.append(kPadding, '\0');
    Event& ev = events_.emplace_back();
    ev.raw = std::string_view(buf.data(), record.size());
    const bool result = parser_.parse(format, ev);
    if (ok != nullptr) *ok = result;
    return ev;
  }

  static std::string get(const Event& ev, std::string_view name) {
    const Field* f = ev.fields.find(name);
    return f == nullptr ? std::string("<missing>") : std::string(f->value);
  }
  static bool has(const Event& ev, std::string_view name) {
    return ev.fields.find(name) != nullptr;
  }
  static std::vector<std::string> all(const Event& ev, std::string_view name) {
    std::vector<std::string> out;
    ev.fields.any_named(name, [&](const Field& f) {
      out.emplace_back(f.value);
      return false;
    });
    return out;
  }
  static bool is_view_into(const Event& ev, std::string_view v) {
    return v.data() >= ev.raw.data() && v.data() + v.size() <= ev.raw.data() + ev.raw.size();
  }

  // parse_selected on a padded copy of `record`.
  Event& parse_sel(std::string_view record, const FieldSelection& wanted, std::vector<int>& ids,
                   LogFormat format = LogFormat::kUnknown, bool* ok = nullptr) {
    std::string& buf = buffers_.emplace_back(record);
    buf.append(kPadding, '\0');
    Event& ev = events_.emplace_back();
    ev.raw = std::string_view(buf.data(), record.size());
    const bool result = parser_.parse_selected(format, ev, wanted, ids);
    if (ok != nullptr) *ok = result;
    return ev;
  }
  // "name=value" for every field but `_format`, in order.
  static std::vector<std::string> listing(const Event& ev) {
    std::vector<std::string> out;
    for (const Field& f : ev.fields.fields())
      if (f.name != "_format") out.push_back(std::string(f.name) + "=" + std::string(f.value));
    return out;
  }

  RecordParser parser_;
  std::deque<std::string> buffers_;
  std::deque<Event> events_;
};

// ---- JSON: generic flattening ------------------------------------------------------------------

TEST_F(ParseTest, JsonFlattensNestedObjectsArraysAndScalars) {
  bool ok = false;
  const Event& ev = parse(
      R"({"a":{"b":{"c":"x"}},"arr":[1,2,{"k":"v"}],"n":-1.5e3,"t":true,"z":null,)"
      R"("esc":"q\"uote\\d\n","plain":"p v","empty":{}, "sp" : "s" })",
      LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ev.format, LogFormat::kJson);
  EXPECT_EQ(ev.parse_error, ParseErrorKind::kNone);
  ASSERT_FALSE(ev.fields.empty());
  EXPECT_EQ(ev.fields.fields()[0].name, "_format");
  EXPECT_EQ(ev.fields.fields()[0].value, "json");
  EXPECT_EQ(get(ev, "a.b.c"), "x");
  EXPECT_EQ(all(ev, "arr"), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(get(ev, "arr.k"), "v");
  EXPECT_EQ(get(ev, "n"), "-1.5e3");
  EXPECT_EQ(ev.fields.find("n")->kind, ValueKind::kNumber);
  EXPECT_EQ(get(ev, "t"), "true");
  EXPECT_EQ(ev.fields.find("t")->kind, ValueKind::kBool);
  ASSERT_TRUE(has(ev, "z"));
  EXPECT_EQ(ev.fields.find("z")->kind, ValueKind::kNull);
  EXPECT_EQ(get(ev, "z"), "");
  EXPECT_EQ(get(ev, "esc"), "q\"uote\\d\n");
  EXPECT_EQ(get(ev, "plain"), "p v");
  EXPECT_EQ(get(ev, "sp"), "s");
  // Verbatim strings and top-level names are views into the record (zero copy).
  EXPECT_TRUE(is_view_into(ev, ev.fields.find("plain")->value));
  EXPECT_TRUE(is_view_into(ev, ev.fields.find("plain")->name));
  EXPECT_FALSE(is_view_into(ev, ev.fields.find("esc")->value));
}

TEST_F(ParseTest, JsonEscapedKeysAndUnicode) {
  const Event& ev = parse(R"({"k\"ey":"v","uni":"caf\u00e9 \ud83d\ude00","utf8":"Việt Nam"})");
  EXPECT_EQ(get(ev, "k\"ey"), "v");
  EXPECT_EQ(get(ev, "uni"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(get(ev, "utf8"), "Việt Nam");

  const Event& esc = parse(R"({"all":"\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac","lone":"a\ud800b\udc00c",)"
                           R"("path":"C:\\Windows\\System32\\cmd.exe"})");
  EXPECT_EQ(esc.parse_error, ParseErrorKind::kNone);
  EXPECT_EQ(get(esc, "all"), "\"\\/\b\f\n\r\tA\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(get(esc, "lone"), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c");  // U+FFFD, not a lost event
  EXPECT_EQ(get(esc, "path"), "C:\\Windows\\System32\\cmd.exe");

  bool ok = true;
  const Event& bad = parse(R"({"a":"bad \x escape"})", LogFormat::kUnknown, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(bad.parse_error, ParseErrorKind::kInvalidJson);
  const Event& bad_hex = parse(R"({"a":"\u12G4"})", LogFormat::kUnknown, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(bad_hex.parse_error, ParseErrorKind::kInvalidJson);
}

TEST_F(ParseTest, JsonPrettyPrintedWithCrLfAndBom) {
  const Event& ev = parse("\xEF\xBB\xBF{\r\n  \"EventID\" : 4688 ,\r\n  \"Image\": \"C:\\\\x.exe\"\r\n}");
  EXPECT_EQ(ev.format, LogFormat::kJson);
  EXPECT_EQ(ev.parse_error, ParseErrorKind::kNone);
  EXPECT_EQ(get(ev, "EventID"), "4688");
  EXPECT_EQ(get(ev, "Image"), "C:\\x.exe");
}

// ---- JSON: Windows layouts ---------------------------------------------------------------------

constexpr std::string_view kEvtxInline = R"({
  "Event": {
    "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
    "System": {
      "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing",
                                  "Guid": "54849625-5478-4994-A5BA-3E3B0328C30D"}},
      "EventID": {"#attributes": {"Qualifiers": 0}, "#text": 4625},
      "Version": 0,
      "TimeCreated": {"#attributes": {"SystemTime": "2025-10-24T23:36:29.111126Z"}},
      "Correlation": null,
      "Execution": {"#attributes": {"ProcessID": 668, "ThreadID": 4120}},
      "Channel": "Security",
      "Computer": "DC01.corp.local",
      "Security": {"#attributes": {"UserID": "S-1-5-18"}}
    },
    "EventData": {
      "TargetUserName": "administrator",
      "IpAddress": "203.0.113.7",
      "LogonType": 3,
      "CommandLine": "cmd.exe /c \"whoami\""
    }
  }
})";

TEST_F(ParseTest, JsonEvtxDumpLayoutMapsToSigmaNames) {
  bool ok = false;
  const Event& ev = parse(kEvtxInline, LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok) << to_string(ev.parse_error);
  EXPECT_EQ(get(ev, "Provider_Name"), "Microsoft-Windows-Security-Auditing");
  EXPECT_EQ(get(ev, "Provider_Guid"), "54849625-5478-4994-A5BA-3E3B0328C30D");
  EXPECT_EQ(get(ev, "EventID"), "4625");
  EXPECT_EQ(ev.fields.find("EventID")->kind, ValueKind::kNumber);
  EXPECT_EQ(get(ev, "Qualifiers"), "0");
  EXPECT_EQ(get(ev, "SystemTime"), "2025-10-24T23:36:29.111126Z");
  EXPECT_EQ(get(ev, "ProcessID"), "668");
  EXPECT_EQ(get(ev, "ThreadID"), "4120");
  EXPECT_EQ(get(ev, "UserID"), "S-1-5-18");
  EXPECT_EQ(get(ev, "Channel"), "Security");
  EXPECT_EQ(get(ev, "Computer"), "DC01.corp.local");
  EXPECT_EQ(get(ev, "TargetUserName"), "administrator");
  EXPECT_EQ(get(ev, "LogonType"), "3");
  EXPECT_EQ(get(ev, "CommandLine"), "cmd.exe /c \"whoami\"");
  EXPECT_EQ(get(ev, "xmlns"), "http://schemas.microsoft.com/win/2004/08/events/event");
  EXPECT_FALSE(has(ev, "Event.System.Channel"));
  EXPECT_FALSE(has(ev, "EventID.#text"));
  EXPECT_EQ(ev.host, "DC01.corp.local");
  EXPECT_EQ(ev.time_text, "2025-10-24T23:36:29.111126Z");
  EXPECT_EQ(ev.time_unix_ns, 1761348989111126000LL);  // date -d 2025-10-24T23:36:29Z +%s
  // Plain names like Channel stay views into the record.
  EXPECT_TRUE(is_view_into(ev, ev.fields.find("Channel")->name));
}

TEST_F(ParseTest, JsonEvtxDataListAndUserData) {
  const Event& ev = parse(R"({"Event":{"System":{"EventID":7045,"Channel":"System"},
    "EventData":{"Data":[{"#attributes":{"Name":"ServiceName"},"#text":"evil svc"},
                         {"#text":"C:\\tmp\\x.exe","#attributes":{"Name":"ImagePath"}},
                         {"#attributes":{"Name":"StartType"}},
                         "loose"]}}})");
  EXPECT_EQ(ev.parse_error, ParseErrorKind::kNone);
  EXPECT_EQ(get(ev, "EventID"), "7045");
  EXPECT_EQ(get(ev, "ServiceName"), "evil svc");
  EXPECT_EQ(get(ev, "ImagePath"), "C:\\tmp\\x.exe");  // #text before its Name attribute
  ASSERT_TRUE(has(ev, "StartType"));
  EXPECT_EQ(ev.fields.find("StartType")->kind, ValueKind::kNull);
  EXPECT_EQ(get(ev, "Data"), "loose");

  const Event& text = parse(R"({"Event":{"EventData":{"Data":"just text","Binary":"00AA"}}})");
  EXPECT_EQ(get(text, "Data"), "just text");
  EXPECT_EQ(get(text, "Binary"), "00AA");

  const Event& ud = parse(R"({"Event":{"System":{"EventID":5858},
    "UserData":{"Operation_ClientFailure":{"#attributes":{"xmlns":"http://m"},
      "ClientMachine":"WS1","Operation":"Start IWbemServices::ExecMethod"}}}})");
  EXPECT_EQ(get(ud, "ClientMachine"), "WS1");
  EXPECT_EQ(get(ud, "Operation"), "Start IWbemServices::ExecMethod");
  EXPECT_FALSE(has(ud, "Operation_ClientFailure.ClientMachine"));
}

TEST_F(ParseTest, JsonEvtxRegressionCorpus) {
  VIGIL_REQUIRE_CORPUS("sigma/regression_data");
  const fs::path root = corpora_dir() / "sigma" / "regression_data";

  // One known file, field by field.
  const fs::path known = root / "rules-threat-hunting/windows/image_load/"
                                "image_load_win_werfaultsecure_dbgcore_dbghelp_load/"
                                "8a2f4b1c-3d5e-4f7a-9b2c-1e4f6d8a9c2b.json";
  if (fs::exists(known)) {
    const auto docs = split_json_documents(read_file(known));
    ASSERT_EQ(docs.size(), 1u);
    bool ok = false;
    const Event& ev = parse(docs[0], LogFormat::kUnknown, &ok);
    ASSERT_TRUE(ok) << to_string(ev.parse_error);
    EXPECT_EQ(get(ev, "EventID"), "7");
    EXPECT_EQ(get(ev, "Channel"), "Microsoft-Windows-Sysmon/Operational");
    EXPECT_EQ(get(ev, "Provider_Name"), "Microsoft-Windows-Sysmon");
    EXPECT_EQ(get(ev, "Image"), "C:\\Windows\\System32\\WerFaultSecure.exe");
    EXPECT_EQ(get(ev, "ImageLoaded"), "C:\\Windows\\System32\\dbgcore.dll");
    EXPECT_EQ(get(ev, "User"), "swachchhanda\\xodih");
    EXPECT_EQ(get(ev, "Product"), "Microsoft® Windows® Operating System");
    EXPECT_EQ(get(ev, "Computer"), "swachchhanda");
    EXPECT_EQ(ev.time_text, "2025-11-27T07:40:10.165324Z");
  }

  // Every event of every file parses and carries the System fields under Sigma's names.
  std::size_t files = 0, events = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    for (const std::string& doc : split_json_documents(read_file(entry.path()))) {
      ++events;
      bool ok = false;
      const Event& ev = parse(doc, LogFormat::kUnknown, &ok);
      ASSERT_TRUE(ok) << entry.path() << ": " << to_string(ev.parse_error);
      EXPECT_TRUE(has(ev, "EventID")) << entry.path();
      EXPECT_TRUE(has(ev, "Channel")) << entry.path();
      EXPECT_TRUE(has(ev, "Provider_Name")) << entry.path();
      EXPECT_NE(ev.time_unix_ns, 0) << entry.path();
      EXPECT_FALSE(ev.host.empty()) << entry.path();
      for (const Field& f : ev.fields.fields()) {
        EXPECT_EQ(f.name.find('#'), std::string_view::npos) << entry.path() << " " << f.name;
        EXPECT_NE(f.name.substr(0, 6), "Event.") << entry.path() << " " << f.name;
      }
    }
  }
  EXPECT_GE(files, 150u);
  EXPECT_GE(events, files);
}

TEST_F(ParseTest, JsonWinlogbeatNestedLayout) {
  const Event& ev = parse(
      R"({"@timestamp":"2024-03-01T10:00:00.500Z","host":{"name":"WS01"},)"
      R"("process":{"command_line":"powershell -enc AAA"},)"
      R"("winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,)"
      R"("computer_name":"ws01.corp.local","provider_name":"Microsoft-Windows-Sysmon",)"
      R"("record_id":42,"process":{"pid":1234},)"
      R"("event_data":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami",)"
      R"("ParentImage":"C:\\Windows\\explorer.exe"}}})");
  EXPECT_EQ(ev.parse_error, ParseErrorKind::kNone);
  EXPECT_EQ(get(ev, "EventID"), "1");
  EXPECT_EQ(get(ev, "Channel"), "Microsoft-Windows-Sysmon/Operational");
  EXPECT_EQ(get(ev, "Computer"), "ws01.corp.local");
  EXPECT_EQ(get(ev, "Provider_Name"), "Microsoft-Windows-Sysmon");
  EXPECT_EQ(get(ev, "Image"), "C:\\Windows\\System32\\cmd.exe");
  EXPECT_EQ(get(ev, "CommandLine"), "cmd /c whoami");
  EXPECT_EQ(get(ev, "ParentImage"), "C:\\Windows\\explorer.exe");
  EXPECT_EQ(get(ev, "host.name"), "WS01");
  EXPECT_EQ(get(ev, "process.command_line"), "powershell -enc AAA");
  EXPECT_EQ(get(ev, "winlog.process.pid"), "1234");
  EXPECT_FALSE(has(ev, "winlog.event_id"));
  EXPECT_FALSE(has(ev, "winlog.event_data.Image"));
  EXPECT_EQ(ev.host, "ws01.corp.local");  // Computer outranks host.name
  EXPECT_EQ(ev.time_text, "2024-03-01T10:00:00.500Z");
  EXPECT_EQ(ev.time_unix_ns, 1709287200500000000LL);
}

TEST_F(ParseTest, JsonWinlogbeat6AndNxlogFlatLayouts) {
  // Winlogbeat 6 (OTRF empire_* captures): top-level event_data / event_id / log_name.
  const Event& wlb6 = parse(
      R"({"@timestamp":"2019-05-18T20:36:46.254Z","source_name":"Microsoft-Windows-Sysmon",)"
      R"("log_name":"Microsoft-Windows-Sysmon/Operational","event_id":3,)"
      R"("computer_name":"HFDC01.shire.com","event_data":{"Image":"C:\\Windows\\System32\\svchost.exe",)"
      R"("DestinationPort":"5985"},"host":{"name":"WECserver"}})");
  EXPECT_EQ(get(wlb6, "EventID"), "3");
  EXPECT_EQ(get(wlb6, "event_id"), "3");
  EXPECT_EQ(get(wlb6, "Channel"), "Microsoft-Windows-Sysmon/Operational");
  EXPECT_EQ(get(wlb6, "Provider_Name"), "Microsoft-Windows-Sysmon");
  EXPECT_EQ(get(wlb6, "Computer"), "HFDC01.shire.com");
  EXPECT_EQ(get(wlb6, "Image"), "C:\\Windows\\System32\\svchost.exe");
  EXPECT_EQ(get(wlb6, "DestinationPort"), "5985");
  EXPECT_EQ(wlb6.host, "HFDC01.shire.com");

  // OTRF/NXLog flat: names are already Sigma's; SourceName also gives Provider_Name.
  const Event& flat = parse(
      R"({"Message":"The audit log was cleared.\r\nSubject:","EventID":1102,)"
      R"("SourceName":"Microsoft-Windows-Eventlog","TimeCreated":"2020-10-22T02:21:34.280Z",)"
      R"("Hostname":"WORKSTATION5","Channel":"Security","@timestamp":"2020-10-22T02:21:34.280Z",)"
      R"("CommandLine":"wevtutil cl Security"})");
  EXPECT_EQ(get(flat, "EventID"), "1102");
  EXPECT_EQ(get(flat, "Channel"), "Security");
  EXPECT_EQ(get(flat, "Provider_Name"), "Microsoft-Windows-Eventlog");
  EXPECT_EQ(get(flat, "SourceName"), "Microsoft-Windows-Eventlog");
  EXPECT_EQ(get(flat, "CommandLine"), "wevtutil cl Security");
  EXPECT_EQ(get(flat, "Message"), "The audit log was cleared.\r\nSubject:");
  // NXLog's Hostname is the event's Computer: rules and correlations that read Computer see it.
  EXPECT_EQ(get(flat, "Hostname"), "WORKSTATION5");
  EXPECT_EQ(get(flat, "Computer"), "WORKSTATION5");
  EXPECT_EQ(flat.host, "WORKSTATION5");
  EXPECT_EQ(flat.time_text, "2020-10-22T02:21:34.280Z");  // TimeCreated outranks @timestamp
  EXPECT_EQ(flat.time_unix_ns, 1603333294280000000LL);

  // Sysmon UtcTime has no zone: read as UTC. Epoch numbers are scaled by magnitude.
  const Event& utc = parse(R"({"UtcTime":"2019-05-18 20:35:52.569","hostname":"h"})");
  EXPECT_EQ(utc.time_unix_ns, 1558211752569000000LL);
  EXPECT_EQ(utc.host, "h");
  const Event& epoch = parse(R"({"time":1700000000123})");
  EXPECT_EQ(epoch.time_unix_ns, 1700000000123000000LL);
}

// ---- JSON: bad input ---------------------------------------------------------------------------

// simdjson's On-Demand iteration does not check what follows a string element of an array: a
// member written inside an array ("x":"a"}) passed as the elements "t" and "x".
TEST_F(ParseTest, JsonArrayStringElementFollowedByAColonIsInvalid) {
  EXPECT_EQ(parse(R"({"U":["t","x":"a"}],"T":"c"})").parse_error, ParseErrorKind::kInvalidJson);
  EXPECT_EQ(parse(R"({"U":["t":"","x":"a"},"c"],"T":"c"})").parse_error, ParseErrorKind::kInvalidJson);
  const Event& ok = parse(R"({"U":[ "t" , "x\"y" ,{"a":"b"}, "z"]})");
  EXPECT_EQ(ok.parse_error, ParseErrorKind::kNone);
  EXPECT_EQ(get(ok, "U"), "t");
}

TEST_F(ParseTest, JsonTruncatedInvalidAndInvalidUtf8) {
  struct Case {
    std::string record;
    ParseErrorKind want;
  };
  const std::vector<Case> cases = {
      {R"({"EventID":4688,"Image":"C:\\Win)", ParseErrorKind::kTruncatedJson},
      {R"({"a":{"b":[1,2)", ParseErrorKind::kTruncatedJson},
      {R"({"a":{"b":1})", ParseErrorKind::kTruncatedJson},
      {R"({"a":1,)", ParseErrorKind::kTruncatedJson},
      {"{", ParseErrorKind::kTruncatedJson},
      {R"({"a":1,})", ParseErrorKind::kInvalidJson},
      {R"({"a" 1})", ParseErrorKind::kInvalidJson},
      {R"({"a":tru})", ParseErrorKind::kInvalidJson},
      {R"({"a":nul})", ParseErrorKind::kInvalidJson},
      {R"({"a":12x})", ParseErrorKind::kInvalidJson},
      {R"({"a":1}})", ParseErrorKind::kInvalidJson},
      {R"({"a":1} {"b":2})", ParseErrorKind::kInvalidJson},
      {R"({"a":1} x)", ParseErrorKind::kInvalidJson},
      {R"({a:1})", ParseErrorKind::kInvalidJson},
      {"{\"a\":\"\xC3\x28\"}", ParseErrorKind::kInvalidUtf8},
      {"{\"a\":\"ok\",\"b\":\"\xFF\xFE\"}", ParseErrorKind::kInvalidUtf8},
  };
  for (const Case& c : cases) {
    bool ok = true;
    const Event& ev = parse(c.record, LogFormat::kUnknown, &ok);
    EXPECT_FALSE(ok) << c.record;
    EXPECT_EQ(ev.parse_error, c.want) << c.record << " got " << to_string(ev.parse_error);
    EXPECT_EQ(ev.format, LogFormat::kJson) << c.record;
    // Only the pseudo-field survives a failed parse.
    ASSERT_EQ(ev.fields.size(), 1u) << c.record;
    EXPECT_EQ(ev.fields.fields()[0].name, "_format");
  }
  // An array forced as JSON is not an object (auto-detection never calls it JSON).
  bool ok = true;
  const Event& arr = parse("[{\"a\":1}]", LogFormat::kJson, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(arr.parse_error, ParseErrorKind::kInvalidJson);
}

TEST_F(ParseTest, JsonForcedOnTextLineIsWrongFormat) {
  bool ok = false;
  const Event& ev = parse("Mar 27 13:06:56 host sshd[1]: hello", LogFormat::kJson, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(ev.parse_error, ParseErrorKind::kWrongFormat);
  EXPECT_EQ(ev.fields.size(), 1u);
}

TEST_F(ParseTest, DeepNestingIsBoundedNotFatal) {
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "{\"k\":";
  deep += "1";
  for (int i = 0; i < 200; ++i) deep += "}";
  bool ok = false;
  const Event& ev = parse(deep, LogFormat::kUnknown, &ok);
  EXPECT_TRUE(ok) << to_string(ev.parse_error);  // valid JSON; the deepest levels are skipped
  const Event& flat_after =
      parse(R"({"a":[[[[[[["x"]]]]]]],"b":"after"})", LogFormat::kUnknown, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(get(flat_after, "a"), "x");
  EXPECT_EQ(get(flat_after, "b"), "after");
}

// ---- RFC 3164 ----------------------------------------------------------------------------------

TEST_F(ParseTest, Rfc3164WithoutPriAuthLogStyle) {
  bool ok = false;
  const Event& ev = parse(
      "Mar 30 15:02:11 ip-10-77-20-248 sshd[4011]: Failed password for invalid user admin from "
      "24.151.103.17 port 52622 ssh2",
      LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ev.format, LogFormat::kRfc3164);
  EXPECT_EQ(ev.fields.fields()[0].value, "rfc3164");
  EXPECT_FALSE(has(ev, "facility"));
  EXPECT_EQ(get(ev, "timestamp"), "Mar 30 15:02:11");
  EXPECT_EQ(get(ev, "host"), "ip-10-77-20-248");
  EXPECT_EQ(get(ev, "hostname"), "ip-10-77-20-248");
  EXPECT_EQ(get(ev, "program"), "sshd");
  EXPECT_EQ(get(ev, "pid"), "4011");
  EXPECT_EQ(get(ev, "message"),
            "Failed password for invalid user admin from 24.151.103.17 port 52622 ssh2");
  EXPECT_EQ(ev.host, "ip-10-77-20-248");
  EXPECT_EQ(ev.time_text, "Mar 30 15:02:11");
  EXPECT_EQ(ev.time_unix_ns, 0);  // no year in a BSD timestamp
  EXPECT_TRUE(is_view_into(ev, ev.fields.find("message")->value));
}

// Some relays and shippers write the day of an RFC 3164 stamp unpadded ("Dec 7", not "Dec  7").
// Such lines were read as plain text, so no Linux rule (which needs the syslog program and
// message) saw them: the device-recall set's sshd/PAM/sudo/iptables lines in that shape.
TEST_F(ParseTest, Rfc3164DayWithoutPadding) {
  const Event& ev = parse("Dec 7 10:12:03 web01 sshd[21001]: Failed password for root from 203.0.113.45 port 40122 ssh2");
  EXPECT_EQ(ev.format, LogFormat::kRfc3164);
  EXPECT_EQ(get(ev, "timestamp"), "Dec 7 10:12:03");
  EXPECT_EQ(get(ev, "host"), "web01");
  EXPECT_EQ(get(ev, "program"), "sshd");
  EXPECT_EQ(get(ev, "message"), "Failed password for root from 203.0.113.45 port 40122 ssh2");
  const Event& pri = parse("<38>Dec 7 10:12:03.250 web01 sudo:   hoa : user NOT in sudoers ; TTY=pts/1");
  EXPECT_EQ(pri.format, LogFormat::kRfc3164);
  EXPECT_EQ(get(pri, "timestamp"), "Dec 7 10:12:03.250");
  EXPECT_EQ(get(pri, "program"), "sudo");
  // Still not a timestamp: a one-digit day followed by anything but a clock.
  EXPECT_NE(parse("Dec 7 is when the audit starts").format, LogFormat::kRfc3164);
}

// A syslog line whose stamp and host were dropped (file shippers that keep the message part,
// journal exports): "sshd[4242]: ...". It was plain text, so no Linux rule (they read `program`
// and `message`) saw it. The [pid] in the tag is what tells it from prose.
TEST_F(ParseTest, Rfc3164TagOnlyWithPid) {
  const Event& ev = parse("sshd[21001]: Failed password for invalid user oracle from 203.0.113.45 port 40122 ssh2");
  EXPECT_EQ(ev.format, LogFormat::kRfc3164);
  EXPECT_EQ(get(ev, "program"), "sshd");
  EXPECT_EQ(get(ev, "pid"), "21001");
  EXPECT_EQ(get(ev, "message"), "Failed password for invalid user oracle from 203.0.113.45 port 40122 ssh2");
  EXPECT_FALSE(has(ev, "host"));
  EXPECT_EQ(parse("CRON[77]: (root) CMD (run-parts /etc/cron.hourly)").format, LogFormat::kRfc3164);
  // Not a tag with a process id: prose and other shapes stay what they were.
  EXPECT_EQ(parse("Note: the backup finished").format, LogFormat::kPlain);
  EXPECT_EQ(parse("sshd: Failed password for root").format, LogFormat::kPlain);
  EXPECT_EQ(parse("worker[abc]: started").format, LogFormat::kPlain);
  EXPECT_EQ(parse("list[1]:x").format, LogFormat::kPlain);
}

TEST_F(ParseTest, Rfc3164WithPriCrLfTagVariantsAndIsoTime) {
  const Event& pri = parse("<38>Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication "
                           "failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 \r");
  EXPECT_EQ(pri.format, LogFormat::kRfc3164);
  EXPECT_EQ(get(pri, "facility"), "4");
  EXPECT_EQ(get(pri, "severity"), "6");
  EXPECT_EQ(get(pri, "program"), "sshd(pam_unix)");
  EXPECT_EQ(get(pri, "pid"), "19939");
  EXPECT_EQ(get(pri, "message"),
            "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ");

  const Event& single_digit_day = parse("Jul  7 08:06:15 combo sudo: pam_unix(sudo:session): x");
  EXPECT_EQ(get(single_digit_day, "timestamp"), "Jul  7 08:06:15");
  EXPECT_EQ(get(single_digit_day, "program"), "sudo");
  EXPECT_FALSE(has(single_digit_day, "pid"));
  EXPECT_EQ(get(single_digit_day, "message"), "pam_unix(sudo:session): x");

  const Event& no_tag = parse("Jun 19 04:09:11 combo syslogd 1.4.1: restart.");
  EXPECT_EQ(get(no_tag, "host"), "combo");
  EXPECT_FALSE(has(no_tag, "program"));
  EXPECT_EQ(get(no_tag, "message"), "syslogd 1.4.1: restart.");

  const Event& iso =
      parse("2024-01-02T10:11:12.123456+07:00 web01 nginx[812]: upstream timed out");
  EXPECT_EQ(iso.format, LogFormat::kRfc3164);
  EXPECT_EQ(get(iso, "timestamp"), "2024-01-02T10:11:12.123456+07:00");
  EXPECT_EQ(get(iso, "host"), "web01");
  EXPECT_EQ(get(iso, "program"), "nginx");
  EXPECT_EQ(iso.time_unix_ns, 1704165072123456000LL);  // 03:11:12.123456Z

  const Event& pri_only = parse("<13>kernel: [  12.5] eth0: link up");
  EXPECT_EQ(pri_only.format, LogFormat::kRfc3164);
  EXPECT_EQ(get(pri_only, "program"), "kernel");
  EXPECT_EQ(get(pri_only, "message"), "[  12.5] eth0: link up");
}

TEST_F(ParseTest, Rfc3164InvalidUtf8IsSoftError) {
  bool ok = false;
  const Event& ev =
      parse("Mar 27 13:06:56 host sshd[12]: Invalid user \xC3\x28root from 1.2.3.4",
            LogFormat::kUnknown, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(ev.parse_error, ParseErrorKind::kInvalidUtf8);
  EXPECT_EQ(get(ev, "program"), "sshd");
  EXPECT_EQ(get(ev, "message"), "Invalid user \xC3\x28root from 1.2.3.4");
}

TEST_F(ParseTest, SyslogCorporaParse) {
  const char* const kCorpora[] = {"elastic-examples/auth.log", "loghub/Linux/Linux_2k.log",
                                  "loghub/OpenSSH/OpenSSH_2k.log"};
  for (const char* rel : kCorpora) VIGIL_REQUIRE_CORPUS(rel);
  for (const char* rel : kCorpora) {
    const fs::path path = corpora_dir() / rel;
    std::istringstream in(read_file(path));
    std::string line;
    std::size_t lines = 0, with_program = 0;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      ++lines;
      bool ok = false;
      const Event& ev = parse(line, LogFormat::kUnknown, &ok);
      ASSERT_TRUE(ok) << rel << ": " << line;
      ASSERT_EQ(ev.format, LogFormat::kRfc3164) << rel << ": " << line;
      EXPECT_TRUE(has(ev, "host")) << rel << ": " << line;
      const Field* msg = ev.fields.find("message");
      ASSERT_NE(msg, nullptr);
      EXPECT_TRUE(msg->value.empty() || msg->value.back() != '\r') << rel;
      with_program += has(ev, "program");
      if (events_.size() > 512) {  // keep memory flat
        events_.clear();
        buffers_.clear();
      }
    }
    EXPECT_GT(lines, 1000u) << rel;
    EXPECT_GT(with_program * 100, lines * 95) << rel;  // nearly every line has a tag
  }
}

// ---- RFC 5424 ----------------------------------------------------------------------------------

TEST_F(ParseTest, Rfc5424WithStructuredData) {
  bool ok = false;
  const Event& ev = parse(
      "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
      "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
      "[examplePriority@32473 class=\"high\" note=\"a \\\"quoted\\\" \\] \\\\ \\x\"] "
      "\xEF\xBB\xBF" "An application event log entry...",
      LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ev.format, LogFormat::kRfc5424);
  EXPECT_EQ(ev.parse_error, ParseErrorKind::kNone);
  EXPECT_EQ(get(ev, "facility"), "20");
  EXPECT_EQ(get(ev, "severity"), "5");
  EXPECT_EQ(get(ev, "version"), "1");
  EXPECT_EQ(get(ev, "timestamp"), "2003-10-11T22:14:15.003Z");
  EXPECT_EQ(get(ev, "host"), "mymachine.example.com");
  EXPECT_EQ(get(ev, "hostname"), "mymachine.example.com");
  EXPECT_EQ(get(ev, "app_name"), "evntslog");
  EXPECT_FALSE(has(ev, "procid"));  // "-" is nil
  EXPECT_EQ(get(ev, "msgid"), "ID47");
  EXPECT_EQ(get(ev, "exampleSDID@32473.iut"), "3");
  EXPECT_EQ(get(ev, "exampleSDID@32473.eventSource"), "Application");
  EXPECT_EQ(get(ev, "exampleSDID@32473.eventID"), "1011");
  EXPECT_EQ(get(ev, "examplePriority@32473.class"), "high");
  EXPECT_EQ(get(ev, "examplePriority@32473.note"), "a \"quoted\" ] \\ \\x");
  EXPECT_EQ(get(ev, "message"), "An application event log entry...");
  EXPECT_EQ(ev.host, "mymachine.example.com");
  EXPECT_EQ(ev.time_unix_ns, 1065910455003000000LL);
}

TEST_F(ParseTest, Rfc5424NilFieldsAndNoMessage) {
  const Event& ev = parse("<34>1 - - su 1234 - -");
  EXPECT_EQ(ev.format, LogFormat::kRfc5424);
  EXPECT_FALSE(has(ev, "timestamp"));
  EXPECT_FALSE(has(ev, "host"));
  EXPECT_EQ(get(ev, "app_name"), "su");
  EXPECT_EQ(get(ev, "procid"), "1234");
  // The RFC 3164 names too, so rules written against `program` see both syslog formats.
  EXPECT_EQ(get(ev, "program"), "su");
  EXPECT_EQ(get(ev, "pid"), "1234");
  EXPECT_EQ(get(ev, "message"), "");

  const Event& bad_sd = parse("<34>1 2024-01-01T00:00:00Z h app - - [broken sd no close");
  EXPECT_EQ(bad_sd.parse_error, ParseErrorKind::kNone);
  EXPECT_EQ(get(bad_sd, "message"), "[broken sd no close");
}

// rsyslog's RFC 5424 template keeps the space after the BSD tag: the message is the same text
// as in BSD form, so a rule's startswith matches both.
TEST_F(ParseTest, Rfc5424MessageFromRsyslogLosesTheTagSpace) {
  const Event& ev = parse(
      "<38>1 2026-12-07T10:00:00.123456+07:00 web01 sshd 4242 - -  Failed password for root from "
      "203.0.113.5 port 40000 ssh2");
  EXPECT_EQ(ev.format, LogFormat::kRfc5424);
  EXPECT_EQ(get(ev, "message"), "Failed password for root from 203.0.113.5 port 40000 ssh2");
  const Event& bom = parse("<38>1 2026-12-07T10:00:00Z web01 sshd 4242 - - \xEF\xBB\xBF Accepted password");
  EXPECT_EQ(get(bom, "message"), "Accepted password");
}

// sudo pads its message ("sudo:   ubuntu : TTY=..."). The RFC 5424 parser dropped every leading
// space (rsyslog keeps the one after the BSD tag) while the BSD parser kept the padding, so the
// same event had two message texts: a `startswith` or `^` rule matched in one form only (issue
// 26, the oracle's forms check over rsyslog and syslog-ng). Now both start at the first character.
TEST_F(ParseTest, PaddedSyslogMessageIsTheSameInBsdAndRfc5424) {
  const std::string want = "ubuntu : TTY=pts/0 ; PWD=/etc ; USER=root ; COMMAND=/bin/su";
  const Event& bsd = parse("Mar 27 16:16:42 ip-10-77-20-248 sudo:   " + want);
  EXPECT_EQ(bsd.format, LogFormat::kRfc3164);
  EXPECT_EQ(get(bsd, "program"), "sudo");
  EXPECT_EQ(get(bsd, "message"), want);
  // rsyslog's RSYSLOG_SyslogProtocol23Format: its %msg% keeps the space after the tag.
  EXPECT_EQ(get(parse("<13>1 2026-03-27T16:16:42+00:00 ip-10-77-20-248 sudo - - -    " + want), "message"), want);
  // syslog-ng's syslog() driver.
  EXPECT_EQ(get(parse("<13>1 2026-03-27T16:16:42+00:00 ip-10-77-20-248 sudo - - -   " + want), "message"), want);
  // rsyslog's RSYSLOG_ForwardFormat (BSD with an RFC 3339 time) and no tag at all.
  EXPECT_EQ(get(parse("<13>2026-03-27T16:16:42+00:00 ip-10-77-20-248 sudo:   " + want), "message"), want);
  EXPECT_EQ(get(parse("<13>Mar 27 16:16:42 ip-10-77-20-248   " + want), "message"), want);
}

// ---- CEF ---------------------------------------------------------------------------------------

TEST_F(ParseTest, CefBareWithExtensionEscapes) {
  bool ok = false;
  const Event& ev = parse(
      "CEF:0|Security|threatmanager|1.0|100|worm successfully stopped \\| contained|10|"
      "src=10.0.0.1 dst=2.1.2.2 spt=1232 msg=Detected a threat. No action needed a\\=b c\\\\d "
      "cs1Label=Rule Name cs1=Block all\\nnext act=blocked rt=1700000000123",
      LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ev.format, LogFormat::kCef);
  EXPECT_EQ(get(ev, "cef_version"), "0");
  EXPECT_EQ(get(ev, "device_vendor"), "Security");
  EXPECT_EQ(get(ev, "device_product"), "threatmanager");
  EXPECT_EQ(get(ev, "device_version"), "1.0");
  EXPECT_EQ(get(ev, "signature_id"), "100");
  EXPECT_EQ(get(ev, "name"), "worm successfully stopped | contained");
  EXPECT_EQ(get(ev, "severity"), "10");
  EXPECT_EQ(get(ev, "src"), "10.0.0.1");
  EXPECT_EQ(get(ev, "dst"), "2.1.2.2");
  EXPECT_EQ(get(ev, "spt"), "1232");
  EXPECT_EQ(get(ev, "msg"), "Detected a threat. No action needed a=b c\\d");
  EXPECT_EQ(get(ev, "cs1Label"), "Rule Name");
  EXPECT_EQ(get(ev, "cs1"), "Block all\nnext");
  EXPECT_EQ(get(ev, "act"), "blocked");
  EXPECT_EQ(ev.time_unix_ns, 1700000000123000000LL);
  EXPECT_TRUE(is_view_into(ev, ev.fields.find("cs1Label")->value));
}

TEST_F(ParseTest, CefAfterSyslogHeaders) {
  const Event& bsd = parse(
      "<134>Feb 12 10:11:12 fw01 CEF:0|Fortinet|FortiGate|7.0|0000000013|traffic denied|5|"
      "src=192.168.1.5 dst=8.8.8.8 dvchost=FGT-HQ rt=Feb 12 2024 10:11:12");
  EXPECT_EQ(bsd.format, LogFormat::kCef);
  EXPECT_EQ(get(bsd, "syslog_facility"), "16");
  EXPECT_EQ(get(bsd, "syslog_severity"), "6");
  EXPECT_EQ(get(bsd, "severity"), "5");  // CEF's, not syslog's
  EXPECT_EQ(get(bsd, "host"), "fw01");
  EXPECT_EQ(get(bsd, "device_product"), "FortiGate");
  EXPECT_EQ(get(bsd, "rt"), "Feb 12 2024 10:11:12");
  EXPECT_FALSE(has(bsd, "message"));
  EXPECT_EQ(bsd.host, "fw01");
  EXPECT_EQ(bsd.time_unix_ns, 1707732672000000000LL);

  const Event& ietf = parse(
      "<134>1 2024-05-01T12:00:00Z sensor01 cef - - - CEF:0|Vendor|IDS|2|4001|Port scan|7|"
      "src=203.0.113.9 dpt=22");
  EXPECT_EQ(ietf.format, LogFormat::kCef);
  EXPECT_EQ(get(ietf, "app_name"), "cef");
  EXPECT_EQ(get(ietf, "name"), "Port scan");
  EXPECT_EQ(get(ietf, "dpt"), "22");

  // RFC 5424 forced: the CEF message is parsed too.
  const Event& forced = parse(
      "<134>1 2024-05-01T12:00:00Z sensor01 cef - - - CEF:0|Vendor|IDS|2|4001|Port scan|7|"
      "src=203.0.113.9",
      LogFormat::kRfc5424);
  EXPECT_EQ(forced.format, LogFormat::kRfc5424);
  EXPECT_EQ(get(forced, "src"), "203.0.113.9");
  EXPECT_EQ(get(forced, "severity"), "7");

  const Event& partial = parse("CEF:0|Vendor|Product|1.0");
  EXPECT_EQ(partial.format, LogFormat::kCef);
  EXPECT_EQ(get(partial, "device_version"), "1.0");
  EXPECT_FALSE(has(partial, "name"));
}

// ---- key=value ---------------------------------------------------------------------------------

TEST_F(ParseTest, KeyValueFortiGate) {
  bool ok = false;
  const Event& ev = parse(
      "<189>date=2024-01-02 time=10:11:12 devname=\"FGT-1\" devid=\"FG100E\" "
      "logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" level=\"notice\" "
      "srcip=10.1.1.1 srcport=5353 dstip=10.2.2.2 action=\"deny\" "
      "msg=\"said \\\"hi\\\" to C:\\\\x\" tz=\"+0700\"",
      LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ev.format, LogFormat::kKeyValue);
  EXPECT_EQ(ev.fields.fields()[0].value, "kv");
  EXPECT_EQ(get(ev, "facility"), "23");
  EXPECT_EQ(get(ev, "date"), "2024-01-02");
  EXPECT_EQ(get(ev, "devname"), "FGT-1");
  EXPECT_EQ(get(ev, "logid"), "0000000013");
  EXPECT_EQ(get(ev, "srcip"), "10.1.1.1");
  EXPECT_EQ(get(ev, "srcport"), "5353");
  EXPECT_EQ(get(ev, "action"), "deny");
  EXPECT_EQ(get(ev, "msg"), "said \"hi\" to C:\\x");
  EXPECT_EQ(ev.host, "FGT-1");
  EXPECT_EQ(ev.time_text, "2024-01-02 10:11:12");
  EXPECT_EQ(ev.time_unix_ns, 1704165072000000000LL);  // 10:11:12+07:00 = 03:11:12Z
  EXPECT_TRUE(is_view_into(ev, ev.fields.find("devname")->value));

  const Event& bsd = parse("Jan  2 10:11:12 fw01 date=2024-01-02 time=10:11:12 devname=FGT-2 "
                           "type=utm subtype=webfilter eventtime=1704165072123456789");
  EXPECT_EQ(bsd.format, LogFormat::kKeyValue);
  EXPECT_EQ(get(bsd, "hostname"), "fw01");
  EXPECT_EQ(get(bsd, "subtype"), "webfilter");
  EXPECT_EQ(bsd.host, "FGT-2");

  const Event& bare = parse("user=alice action=login result=\"failed\" src=10.0.0.7");
  EXPECT_EQ(bare.format, LogFormat::kKeyValue);
  EXPECT_EQ(get(bare, "result"), "failed");

  const Event& epoch = parse("devname=x eventtime=1704165072123456789 a=b");
  EXPECT_EQ(epoch.time_unix_ns, 1704165072123456789LL);

  const Event& unterminated = parse("a=1 b=\"no end c=3", LogFormat::kKeyValue);
  EXPECT_EQ(get(unterminated, "b"), "no end c=3");
}

// ---- access log --------------------------------------------------------------------------------

TEST_F(ParseTest, AccessLogCombined) {
  bool ok = false;
  const Event& ev = parse(
      "1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif?x=1&cmd=read HTTP/1.0\" "
      "200 2326 \"http://ref/\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"",
      LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ev.format, LogFormat::kAccessLog);
  EXPECT_EQ(get(ev, "c-ip"), "1.2.3.4");
  EXPECT_EQ(get(ev, "cs-username"), "frank");
  EXPECT_EQ(get(ev, "timestamp"), "10/Oct/2000:13:55:36 -0700");
  EXPECT_EQ(get(ev, "cs-method"), "GET");
  EXPECT_EQ(get(ev, "cs-uri"), "/apache_pb.gif?x=1&cmd=read");
  EXPECT_EQ(get(ev, "cs-uri-stem"), "/apache_pb.gif");
  EXPECT_EQ(get(ev, "cs-uri-query"), "x=1&cmd=read");
  EXPECT_EQ(get(ev, "cs-version"), "HTTP/1.0");
  EXPECT_EQ(get(ev, "sc-status"), "200");
  EXPECT_EQ(get(ev, "sc-bytes"), "2326");
  EXPECT_EQ(get(ev, "cs-referer"), "http://ref/");
  EXPECT_EQ(get(ev, "cs-user-agent"), "Mozilla/4.08 [en] (Win98; I ;Nav)");
  EXPECT_EQ(ev.time_unix_ns, 971211336000000000LL);
  for (const Field& f : ev.fields.fields()) {
    if (f.name != "_format") {
      EXPECT_TRUE(is_view_into(ev, f.value)) << f.name;
    }
  }
}

TEST_F(ParseTest, AccessLogVariants) {
  const Event& common =
      parse("83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"POST /x.php HTTP/1.1\" 404 -");
  EXPECT_EQ(common.format, LogFormat::kAccessLog);
  EXPECT_FALSE(has(common, "cs-username"));
  EXPECT_FALSE(has(common, "cs-uri-query"));
  EXPECT_FALSE(has(common, "sc-bytes"));
  EXPECT_FALSE(has(common, "cs-referer"));
  EXPECT_EQ(get(common, "cs-method"), "POST");
  EXPECT_EQ(get(common, "sc-status"), "404");

  const Event& nulls = parse(
      "10.0.0.1 - - [17/May/2015:10:05:03 +0000] \"POST /t.aspx?cmd=connect&target=1 HTTP/1.1\" "
      "200 10 \"-\" \"-\"");
  EXPECT_FALSE(has(nulls, "cs-referer"));  // "-" is Sigma's null
  EXPECT_FALSE(has(nulls, "cs-user-agent"));
  EXPECT_EQ(get(nulls, "cs-uri-query"), "cmd=connect&target=1");

  const Event& vhost = parse(
      "www.example.org:443 198.51.100.4 - - [01/Jan/2024:00:00:01 +0100] \"GET / HTTP/2.0\" 200 "
      "512 \"-\" \"curl/8.0\"");
  EXPECT_EQ(vhost.format, LogFormat::kAccessLog);
  EXPECT_EQ(get(vhost, "cs-host"), "www.example.org");
  EXPECT_EQ(get(vhost, "s-port"), "443");
  EXPECT_EQ(get(vhost, "c-ip"), "198.51.100.4");
  EXPECT_EQ(get(vhost, "cs-user-agent"), "curl/8.0");

  // A TLS handshake sent to a plain-HTTP port: the request is garbage, the rest still parses.
  const Event& junk = parse(
      "203.0.113.50 - - [17/May/2015:10:05:03 +0000] \"\\x16\\x03\\x01\\x00\\xa5\\x01\" 400 226 "
      "\"-\" \"-\"");
  EXPECT_EQ(junk.format, LogFormat::kAccessLog);
  EXPECT_FALSE(has(junk, "cs-method"));
  EXPECT_EQ(get(junk, "sc-status"), "400");
  EXPECT_EQ(get(junk, "c-ip"), "203.0.113.50");

  const Event& quote_in_uri = parse(
      "1.1.1.1 - - [17/May/2015:10:05:03 +0000] \"GET /a?q=\\\"x\\\" HTTP/1.1\" 200 1 \"-\" "
      "\"ua \\\"quoted\\\"\"");
  EXPECT_EQ(get(quote_in_uri, "cs-uri-query"), "q=\\\"x\\\"");  // raw, not decoded
  EXPECT_EQ(get(quote_in_uri, "cs-user-agent"), "ua \\\"quoted\\\"");
}

TEST_F(ParseTest, AccessLogCorpus) {
  VIGIL_REQUIRE_CORPUS("elastic-examples/apache_access.log");
  const fs::path path = corpora_dir() / "elastic-examples" / "apache_access.log";
  std::istringstream in(read_file(path));
  std::string line;
  std::size_t lines = 0, with_method = 0, with_agent = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++lines;
    bool ok = false;
    const Event& ev = parse(line, LogFormat::kUnknown, &ok);
    ASSERT_TRUE(ok);
    ASSERT_EQ(ev.format, LogFormat::kAccessLog) << line;
    ASSERT_TRUE(has(ev, "c-ip")) << line;
    ASSERT_TRUE(has(ev, "sc-status")) << line;
    ASSERT_NE(ev.time_unix_ns, 0) << line;
    with_method += has(ev, "cs-method");
    with_agent += has(ev, "cs-user-agent");
    if (events_.size() > 512) {
      events_.clear();
      buffers_.clear();
    }
  }
  EXPECT_EQ(lines, 10000u);
  EXPECT_GT(with_method, 9900u);
  EXPECT_GT(with_agent, 9500u);
}

// ---- detection, plain, wrong format, binary, oversize ------------------------------------------

TEST(DetectFormat, EachFormat) {
  struct Case {
    std::string_view record;
    LogFormat want;
  };
  const Case cases[] = {
      {R"({"EventID":1})", LogFormat::kJson},
      {"  {\"a\":1}", LogFormat::kJson},
      {"CEF:0|a|b|c|d|e|f|src=1", LogFormat::kCef},
      {"<134>Feb 12 10:11:12 fw01 CEF:0|a|b|c|d|e|5|", LogFormat::kCef},
      {"<134>1 2024-05-01T12:00:00Z h app - - - CEF:0|a|b|c|d|e|5|", LogFormat::kCef},
      {"<165>1 2003-10-11T22:14:15.003Z host app - ID47 - msg", LogFormat::kRfc5424},
      {"<189>date=2024-01-02 time=10:11:12 devname=\"FGT-1\"", LogFormat::kKeyValue},
      {"<189>Jan  2 10:11:12 fw01 date=2024-01-02 time=10:11:12 devname=x", LogFormat::kKeyValue},
      {"<13>Mar 27 13:06:56 host sshd[1]: hi", LogFormat::kRfc3164},
      {"<13>free text", LogFormat::kRfc3164},
      {"Mar 27 13:06:56 host sshd[1]: hi", LogFormat::kRfc3164},
      {"Jun 14 15:16:01 combo sshd(pam_unix)[1]: failure; logname= uid=0 euid=0 tty=x",
       LogFormat::kRfc3164},
      {"2024-01-02T10:11:12Z web01 nginx: x", LogFormat::kRfc3164},
      {"1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1", LogFormat::kAccessLog},
      {"::1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1", LogFormat::kAccessLog},
      {"vhost:80 1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1",
       LogFormat::kAccessLog},
      {"type=SYSCALL msg=audit(1604996384.965:93777): arch=c000003e syscall=59",
       LogFormat::kAuditd},
      {"user=a action=b result=c", LogFormat::kKeyValue},
      {"user=a just text", LogFormat::kPlain},
      {"2024-01-02 ERROR something broke", LogFormat::kPlain},
      {"2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.App: started", LogFormat::kPlain},
      {"hello world", LogFormat::kPlain},
      {"", LogFormat::kPlain},
      {"<", LogFormat::kPlain},
  };
  for (const Case& c : cases)
    EXPECT_EQ(detect_format(c.record), c.want)
        << c.record << " -> " << to_string(detect_format(c.record));
}

TEST_F(ParseTest, PlainGetsOnlyMessage) {
  const Event& ev = parse("some application said something\r");
  EXPECT_EQ(ev.format, LogFormat::kPlain);
  ASSERT_EQ(ev.fields.size(), 2u);
  EXPECT_EQ(ev.fields.fields()[0].value, "plain");
  EXPECT_EQ(get(ev, "message"), "some application said something");
}

TEST_F(ParseTest, MisdetectedRecordFallsBackToPlain) {
  // "<999>" looks like a PRI to detection but is out of range: no syslog header after all.
  bool ok = false;
  const Event& ev = parse("<999>not syslog", LogFormat::kUnknown, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(ev.format, LogFormat::kPlain);
  EXPECT_EQ(ev.parse_error, ParseErrorKind::kNone);
  EXPECT_EQ(get(ev, "_format"), "plain");
  EXPECT_EQ(get(ev, "message"), "<999>not syslog");
}

TEST_F(ParseTest, ForcedFormatThatDoesNotFitIsWrongFormat) {
  const std::string_view line = "Mar 27 13:06:56 host sshd[1]: hello";
  for (LogFormat f : {LogFormat::kCef, LogFormat::kAccessLog, LogFormat::kKeyValue,
                      LogFormat::kRfc5424}) {
    bool ok = false;
    const Event& ev = parse(line, f, &ok);
    EXPECT_TRUE(ok) << to_string(f);
    EXPECT_EQ(ev.parse_error, ParseErrorKind::kWrongFormat) << to_string(f);
    EXPECT_EQ(ev.format, f);
    ASSERT_EQ(ev.fields.size(), 1u) << to_string(f);
    EXPECT_EQ(ev.fields.fields()[0].value, to_string(f));
    EXPECT_TRUE(ev.host.empty());
  }
  bool ok = false;
  const Event& ev = parse("no timestamp here", LogFormat::kRfc3164, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(ev.parse_error, ParseErrorKind::kWrongFormat);
  // A forced format that fits parses as asked.
  const Event& kv = parse("a=1 b=2", LogFormat::kKeyValue);
  EXPECT_EQ(kv.parse_error, ParseErrorKind::kNone);
  EXPECT_EQ(get(kv, "b"), "2");
}

TEST_F(ParseTest, BinaryAndOversizeAreRejected) {
  bool ok = true;
  const Event& nul = parse(std::string("Mar 27 13:06:56 host x: a\0b", 27), LogFormat::kUnknown, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(nul.parse_error, ParseErrorKind::kBinary);

  ok = true;
  const Event& ctl = parse("\x01\x02\x03\x04\x05garbage\x06\x07\x08\x0e\x0f", LogFormat::kUnknown, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(ctl.parse_error, ParseErrorKind::kBinary);

  ok = true;
  const Event& json_nul = parse(std::string("{\"a\":\"x\0y\"}", 11), LogFormat::kUnknown, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(json_nul.parse_error, ParseErrorKind::kBinary);

  // Tabs and ANSI colour codes are text.
  const Event& tabs = parse("Mar 27 13:06:56 host app: \x1b[31mred\x1b[0m\tcol", LogFormat::kUnknown, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(tabs.parse_error, ParseErrorKind::kNone);

  RecordParser small(ParserOptions{.max_record_bytes = 16});
  std::string buf = std::string(R"({"a":"0123456789abcdef"})") + std::string(kPadding, '\0');
  Event big;
  big.raw = std::string_view(buf.data(), buf.size() - kPadding);
  EXPECT_FALSE(small.parse(LogFormat::kUnknown, big));
  EXPECT_EQ(big.parse_error, ParseErrorKind::kOversize);
  EXPECT_EQ(big.fields.size(), 1u);
}

TEST_F(ParseTest, ParserIsReusableAcrossEventsAndFormats) {
  // The same parser alternates formats; earlier events keep their values.
  const Event& a = parse(R"({"k":"esc\\aped","n":1})");
  const Event& b = parse("Mar 27 13:06:56 host sshd[1]: hello");
  const Event& c = parse(R"({"k":"other\\value"})");
  EXPECT_EQ(get(a, "k"), "esc\\aped");
  EXPECT_EQ(get(b, "message"), "hello");
  EXPECT_EQ(get(c, "k"), "other\\value");
  // Re-parsing an event clears its old fields and state.
  Event& reused = events_.back();
  std::string buf = std::string("hello") + std::string(kPadding, '\0');
  reused.raw = std::string_view(buf.data(), 5);
  ASSERT_TRUE(parser_.parse(LogFormat::kUnknown, reused));
  EXPECT_EQ(reused.format, LogFormat::kPlain);
  EXPECT_EQ(reused.fields.size(), 2u);
  EXPECT_TRUE(reused.host.empty());
  EXPECT_EQ(reused.time_unix_ns, 0);
}

// ---- fuzz --------------------------------------------------------------------------------------

TEST_F(ParseTest, RandomBytesAndTruncationsNeverCrash) {
  const std::vector<std::string> seeds = {
      std::string(kEvtxInline),
      R"({"winlog":{"event_id":1,"event_data":{"Data":[{"#attributes":{"Name":"x"},"#text":"v"}]}}})",
      "<165>1 2003-10-11T22:14:15.003Z host app - ID47 [id a=\"1\" b=\"\\\"\"][x y=\"z\"] msg",
      "<134>Feb 12 10:11:12 fw01 CEF:0|a\\|b|c|d|e|f|5|src=1 msg=a b\\=c d=e",
      "<189>date=2024-01-02 time=10:11:12 devname=\"FGT-1\" msg=\"x \\\"y\\\"\" tz=+0700",
      "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; rhost=1.2.3.4",
      "1.2.3.4 - frank [10/Oct/2000:13:55:36 -0700] \"GET /a?b HTTP/1.0\" 200 2 \"r\" \"u\"",
  };
  const LogFormat formats[] = {LogFormat::kUnknown, LogFormat::kJson,     LogFormat::kRfc3164,
                               LogFormat::kRfc5424, LogFormat::kCef,      LogFormat::kKeyValue,
                               LogFormat::kAccessLog, LogFormat::kPlain};
  std::mt19937 rng(20240601);
  std::size_t parsed = 0;
  auto check = [&](const std::string& record, LogFormat f) {
    // Exact-size heap copy plus padding: a read past raw.end()+64 is an ASan error.
    std::unique_ptr<char[]> buf(new char[record.size() + kPadding]);
    std::memcpy(buf.get(), record.data(), record.size());
    std::memset(buf.get() + record.size(), 0, kPadding);
    Event ev;
    ev.raw = std::string_view(buf.get(), record.size());
    parser_.parse(f, ev);
    ++parsed;
    ASSERT_GE(ev.fields.size(), 1u);
    EXPECT_EQ(ev.fields.fields()[0].name, "_format");
    for (const Field& field : ev.fields.fields()) {
      // Touch every byte: views must be readable.
      std::size_t sum = 0;
      for (char ch : field.name) sum += static_cast<unsigned char>(ch);
      for (char ch : field.value) sum += static_cast<unsigned char>(ch);
      (void)sum;
    }
  };
  // Every truncation of every seed, in every format.
  for (const std::string& seed : seeds)
    for (std::size_t n = 0; n <= seed.size(); ++n)
      for (LogFormat f : formats) check(seed.substr(0, n), f);
  // Random mutations of the seeds, and random bytes.
  const std::string alphabet = "{}[]\":,\\ =|<>-0123456789abcT#\r\n\t\x01\xC3\xFF";
  for (int i = 0; i < 4000; ++i) {
    std::string rec;
    if (i % 2 == 0) {
      rec = seeds[rng() % seeds.size()];
      const int edits = 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits && !rec.empty(); ++e) {
        const std::size_t pos = rng() % rec.size();
        switch (rng() % 3) {
          case 0: rec[pos] = alphabet[rng() % alphabet.size()]; break;
          case 1: rec.erase(pos, 1 + rng() % 4); break;
          default: rec.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        }
      }
    } else {
      rec.resize(rng() % 300);
      for (char& ch : rec)
        ch = (rng() % 2) ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    check(rec, formats[rng() % std::size(formats)]);
  }
  EXPECT_GT(parsed, 10000u);
}


// ---- parse_selected ----------------------------------------------------------------------------

using Names = std::vector<std::string>;

// Names of every length up to 40 are told apart by any one byte (lookup compares words of
// the name, overlapping at its end), with the same length, first and last byte (one probe
// sequence).
// has_only_short_escapes: the short canonical escapes only, a pair read as one escape, and
// nothing read as an escape past the view (the padding here is all backslashes).
TEST(JsonEscapes, OnlyTheShortCanonicalEscapesAreShort) {
  auto short_only = [](const std::string& s) {
    const std::string buffer = s + std::string(64, '\\');
    return has_only_short_escapes(std::string_view(buffer.data(), s.size()));
  };
  EXPECT_TRUE(short_only(""));
  EXPECT_TRUE(short_only("plain"));
  EXPECT_TRUE(short_only(R"(C:\\Users\\x \"q\" \n\r\t\b\f)"));
  EXPECT_TRUE(short_only(R"(c:\\users)"));     // an escaped backslash before u
  EXPECT_TRUE(short_only(R"(\\u0041 \\/)"));  // the same before u0041 and /
  EXPECT_FALSE(short_only(R"(a\/b)"));
  EXPECT_FALSE(short_only(R"(\u0041)"));
  EXPECT_FALSE(short_only(R"(\q)"));           // not JSON at all
  EXPECT_FALSE(short_only(R"(ends\)"));        // cut by the end of the value
  EXPECT_FALSE(short_only(std::string(70, 'x') + R"(\u00e9)"));
  EXPECT_TRUE(short_only(std::string(70, 'x') + R"(\\)"));
}

TEST(FieldSelection, NamesDifferingInAnyOneByteAreToldApart) {
  Names names;
  for (std::size_t n = 3; n <= 40; ++n) {
    std::string name(n, 'x');
    name.front() = 'A';
    name.back() = 'Z';
    names.push_back(name);
  }
  const FieldSelection sel(names);
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(sel.find(names[i]), static_cast<int>(i));
    for (std::size_t k = 1; k + 1 < names[i].size(); ++k) {
      std::string other = names[i];
      other[k] = 'y';
      ASSERT_EQ(sel.find(other), -1) << other;
      // Also through the composed lookup (a name split at byte k, as "winlog" '.' "user").
      const std::string_view v(other);
      ASSERT_EQ(sel.lookup(v.substr(0, k), other[k], v.substr(k + 1)), nullptr) << other;
      const std::string_view same(names[i]);
      ASSERT_NE(sel.lookup(same.substr(0, k), names[i][k], same.substr(k + 1)), nullptr) << names[i];
    }
  }
}

TEST(FieldSelection, FindHitsMissesDuplicatesAndEmpty) {
  const FieldSelection sel(Names{"Image", "CommandLine", "winlog.user.name", "Image", "", "a"});
  EXPECT_EQ(sel.size(), 6u);
  EXPECT_EQ(sel.find("Image"), 0);  // the first occurrence
  EXPECT_EQ(sel.find("CommandLine"), 1);
  EXPECT_EQ(sel.find("winlog.user.name"), 2);
  EXPECT_EQ(sel.find(""), 4);
  EXPECT_EQ(sel.find("a"), 5);
  EXPECT_EQ(sel.find("image"), -1);
  EXPECT_EQ(sel.find("Imag"), -1);
  EXPECT_EQ(sel.find("Imagee"), -1);
  EXPECT_EQ(sel.find("winlog"), -1);       // a prefix is not a wanted name
  EXPECT_EQ(sel.find("winlog.user"), -1);
  EXPECT_EQ(sel.find("SystemTime"), -1);   // read for Event::time_text, not wanted
  EXPECT_EQ(sel.find("Event"), -1);
  // Moving keeps lookups valid (short names too).
  FieldSelection small(Names{"a", "bc"});
  const FieldSelection moved = std::move(small);
  EXPECT_EQ(moved.find("bc"), 1);
  EXPECT_EQ(moved.find("a"), 0);
  EXPECT_EQ(moved.size(), 2u);
  const FieldSelection none(Names{});
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(none.find(""), -1);
  EXPECT_EQ(none.find("Image"), -1);
  // Many names with the same length and first/last bytes, and more than the initial table.
  Names many;
  for (int i = 0; i < 3000; ++i) many.push_back("N" + std::to_string(100000 + i) + "x");
  const FieldSelection big(many);
  for (int i = 0; i < 3000; ++i) ASSERT_EQ(big.find(many[static_cast<std::size_t>(i)]), i);
  EXPECT_EQ(big.find("N099999x"), -1);
  EXPECT_EQ(big.find("N1000000x"), -1);
}

TEST_F(ParseTest, SelectedEvtxDumpLayout) {
  const FieldSelection sel(Names{"EventID", "Provider_Name", "TargetUserName", "CommandLine",
                                 "Qualifiers", "Nope", "Channel"});
  std::vector<int> ids;
  bool ok = false;
  const Event& ev = parse_sel(kEvtxInline, sel, ids, LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok) << to_string(ev.parse_error);
  EXPECT_EQ(ev.format, LogFormat::kJson);
  EXPECT_EQ(listing(ev), (std::vector<std::string>{
                             "Provider_Name=Microsoft-Windows-Security-Auditing", "Qualifiers=0",
                             "EventID=4625", "Channel=Security", "TargetUserName=administrator",
                             "CommandLine=cmd.exe /c \"whoami\""}));
  EXPECT_EQ(ids, (std::vector<int>{-1, 1, 4, 0, 6, 2, 3}));
  // Time and host come from SystemTime / Computer, which are not wanted.
  EXPECT_EQ(ev.host, "DC01.corp.local");
  EXPECT_EQ(ev.time_text, "2025-10-24T23:36:29.111126Z");
  EXPECT_EQ(ev.time_unix_ns, 1761348989111126000LL);
  EXPECT_EQ(ev.fields.find("EventID")->kind, ValueKind::kNumber);

  // Data elements: #text before or after the Name attribute, no #text, loose text.
  const FieldSelection data(Names{"ImagePath", "StartType", "Data", "ServiceName"});
  const Event& d = parse_sel(R"({"Event":{"System":{"EventID":7045,"Channel":"System"},
    "EventData":{"Data":[{"#attributes":{"Name":"ServiceName"},"#text":"evil svc"},
                         {"#text":"C:\\tmp\\x.exe","#attributes":{"Name":"ImagePath"}},
                         {"#attributes":{"Name":"StartType"}},
                         {"#text":"unnamed"},
                         "loose"]}}})", data, ids);
  EXPECT_EQ(listing(d), (std::vector<std::string>{"ServiceName=evil svc",
                                                  "ImagePath=C:\\tmp\\x.exe", "StartType=",
                                                  "Data=unnamed", "Data=loose"}));
  EXPECT_EQ(ids, (std::vector<int>{-1, 3, 0, 1, 2, 2}));
}

TEST_F(ParseTest, SelectedFlatLayoutIdsAndViews) {
  const std::string flat =
      R"({"Message":"The audit log was cleared.\r\nSubject: \"x\"","EventID":1102,)"
      R"("SourceName":"Microsoft-Windows-Eventlog","TimeCreated":"2020-10-22T02:21:34.280Z",)"
      R"("Hostname":"WORKSTATION5","Channel":"Security","tags":["a","b"],"Keywords":-9223372036854775808,)"
      R"("Image":"C:\\Windows\\System32\\wevtutil.exe","CommandLine":"wevtutil cl Security"})";
  const FieldSelection sel(Names{"CommandLine", "Image", "EventID", "Provider_Name"});
  std::vector<int> ids;
  bool ok = false;
  const Event& ev = parse_sel(flat, sel, ids, LogFormat::kJson, &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(listing(ev), (std::vector<std::string>{
                             "EventID=1102", "Provider_Name=Microsoft-Windows-Eventlog",
                             "Image=C:\\Windows\\System32\\wevtutil.exe",
                             "CommandLine=wevtutil cl Security"}));
  ASSERT_EQ(ids.size(), ev.fields.size());
  EXPECT_EQ(ids, (std::vector<int>{-1, 2, 3, 1, 0}));
  for (std::size_t i = 1; i < ids.size(); ++i)
    EXPECT_EQ(sel.find(ev.fields.fields()[i].name), ids[i]);
  EXPECT_EQ(ev.fields.fields()[0].name, "_format");
  EXPECT_EQ(ev.host, "WORKSTATION5");
  EXPECT_EQ(ev.time_text, "2020-10-22T02:21:34.280Z");
  EXPECT_EQ(ev.time_unix_ns, 1603333294280000000LL);
  // Plain values and names stay views into the record; escaped ones are decoded.
  EXPECT_TRUE(is_view_into(ev, ev.fields.find("CommandLine")->value));
  EXPECT_TRUE(is_view_into(ev, ev.fields.find("CommandLine")->name));
  EXPECT_FALSE(is_view_into(ev, ev.fields.find("Image")->value));

  // Nothing wanted: only `_format`, time and host still set.
  const FieldSelection none(Names{"Nothing", "Here"});
  const Event& empty = parse_sel(flat, none, ids, LogFormat::kJson, &ok);
  ASSERT_TRUE(ok);
  ASSERT_EQ(empty.fields.size(), 1u);
  EXPECT_EQ(empty.fields.fields()[0].name, "_format");
  EXPECT_EQ(ids, (std::vector<int>{-1}));
  EXPECT_EQ(empty.host, "WORKSTATION5");
  EXPECT_EQ(empty.time_unix_ns, 1603333294280000000LL);
  const FieldSelection nothing(Names{});
  const Event& empty2 = parse_sel(flat, nothing, ids, LogFormat::kJson, &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(empty2.fields.size(), 1u);
  EXPECT_EQ(ids.size(), 1u);

  // Other time/host sources, not wanted: UtcTime/hostname, epoch time, host.name.
  const Event& utc = parse_sel(R"({"UtcTime":"2019-05-18 20:35:52.569","hostname":"h"})", none, ids);
  EXPECT_EQ(utc.time_unix_ns, 1558211752569000000LL);
  EXPECT_EQ(utc.host, "h");
  const Event& epoch = parse_sel(R"({"x":{"y":1},"time":1700000000123,"host":{"name":"hn"}})",
                                 none, ids);
  EXPECT_EQ(epoch.time_unix_ns, 1700000000123000000LL);
  EXPECT_EQ(epoch.host, "hn");
  EXPECT_EQ(epoch.fields.size(), 1u);
}

TEST_F(ParseTest, SelectedWinlogbeatLayoutAndNestedNames) {
  const std::string rec =
      R"({"@timestamp":"2024-03-01T10:00:00.500Z","host":{"name":"WS01"},)"
      R"("process":{"command_line":"powershell -enc AAA","parent":{"name":"x"}},)"
      R"("winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,)"
      R"("computer_name":"ws01.corp.local","provider_name":"Microsoft-Windows-Sysmon",)"
      R"("record_id":42,"process":{"pid":1234,"thread":{"id":7}},"user":{"name":"bob"},)"
      R"("event_data":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami",)"
      R"("ParentImage":"C:\\Windows\\explorer.exe"}}})";
  const FieldSelection sel(Names{"Image", "EventID", "process.command_line", "winlog.process.pid",
                                 "winlog.user", "process.parent", "winlog.process.thread.id"});
  std::vector<int> ids;
  bool ok = false;
  const Event& ev = parse_sel(rec, sel, ids, LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok);
  // winlog.user and process.parent name objects: parse() gives no field with those names.
  EXPECT_EQ(listing(ev), (std::vector<std::string>{
                             "process.command_line=powershell -enc AAA", "EventID=1",
                             "winlog.process.pid=1234", "winlog.process.thread.id=7",
                             "Image=C:\\Windows\\System32\\cmd.exe"}));
  EXPECT_EQ(ids, (std::vector<int>{-1, 2, 1, 3, 6, 0}));
  EXPECT_EQ(ev.host, "ws01.corp.local");  // Computer (from computer_name), not wanted
  EXPECT_EQ(ev.time_unix_ns, 1709287200500000000LL);

  // Winlogbeat 6: top-level aliases, wanted under either name.
  const std::string wlb6 =
      R"({"@timestamp":"2019-05-18T20:36:46.254Z","source_name":"Microsoft-Windows-Sysmon",)"
      R"("log_name":"Microsoft-Windows-Sysmon/Operational","event_id":3,)"
      R"("computer_name":"HFDC01.shire.com","event_data":{"Image":"C:\\Windows\\System32\\svchost.exe",)"
      R"("DestinationPort":"5985"},"host":{"name":"WECserver"}})";
  const FieldSelection six(Names{"event_id", "Channel", "DestinationPort", "Computer"});
  const Event& w6 = parse_sel(wlb6, six, ids);
  EXPECT_EQ(listing(w6), (std::vector<std::string>{
                             "Channel=Microsoft-Windows-Sysmon/Operational", "event_id=3",
                             "Computer=HFDC01.shire.com", "DestinationPort=5985"}));
  EXPECT_EQ(ids, (std::vector<int>{-1, 1, 0, 3, 2}));
  EXPECT_EQ(w6.host, "HFDC01.shire.com");
}

TEST_F(ParseTest, SelectedEscapesArraysAndKinds) {
  const std::string rec =
      R"({"esc":"q\"uote\\d\n\u00e9","k\"ey":"kv","arr":[1,"two",true,null,{"k":"v"},[3]],)"
      R"("skipme":"bad?\\ \" \u0041","n":-1.5e3,"t":false,"z":null,"obj":{"arr":["a","b"]}})";
  const FieldSelection sel(Names{"esc", "k\"ey", "arr", "arr.k", "n", "t", "z", "obj.arr"});
  std::vector<int> ids;
  bool ok = false;
  const Event& ev = parse_sel(rec, sel, ids, LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(listing(ev), (std::vector<std::string>{
                             "esc=q\"uote\\d\n\xC3\xA9", "k\"ey=kv", "arr=1", "arr=two",
                             "arr=true", "arr=", "arr.k=v", "arr=3", "n=-1.5e3", "t=false", "z=",
                             "obj.arr=a", "obj.arr=b"}));
  EXPECT_EQ(ids, (std::vector<int>{-1, 0, 1, 2, 2, 2, 2, 3, 2, 4, 5, 6, 7, 7}));
  const auto fields = ev.fields.fields();
  EXPECT_EQ(fields[3].kind, ValueKind::kNumber);
  EXPECT_EQ(fields[4].kind, ValueKind::kString);
  EXPECT_EQ(fields[5].kind, ValueKind::kBool);
  EXPECT_EQ(fields[6].kind, ValueKind::kNull);
  EXPECT_EQ(fields[10].kind, ValueKind::kBool);
  EXPECT_EQ(fields[11].kind, ValueKind::kNull);
}

TEST_F(ParseTest, SelectedTruncatedAndInvalidJson) {
  // Errors in wanted values, skipped values and the structure are reported as by parse().
  const FieldSelection sel(Names{"EventID", "Image"});
  const std::vector<std::string> bad = {
      R"({"EventID":4688,"Image":"C:\\Win)",
      R"({"other":4688,"x":"C:\\Win)",
      R"({"a":{"b":[1,2)",
      R"({"a":{"b":1})",
      R"({"a":1,)",
      "{",
      R"({"a":1,})",
      R"({"a" 1})",
      R"({"a":tru})",
      R"({"a":nul})",
      R"({"a":fals})",
      R"({"a":12x})",
      R"({"a":1}})",
      R"({"a":1} {"b":2})",
      R"({"a":1} x)",
      R"({a:1})",
      R"({"Image":"bad \x escape"})",
      R"({"Image":"\u12G4"})",
      R"({"EventID":tru})",
      "{\"a\":\"\xC3\x28\"}",
      "{\"a\":\"ok\",\"b\":\"\xFF\xFE\"}",
      "{\"a\":\"nul\x00\"}",
      "[{\"a\":1}]",
  };
  std::vector<int> ids;
  for (const std::string& record : bad) {
    bool ok_full = true, ok_sel = true;
    const Event& full = parse(record, LogFormat::kJson, &ok_full);
    const Event& ev = parse_sel(record, sel, ids, LogFormat::kJson, &ok_sel);
    EXPECT_FALSE(ok_full) << record;
    EXPECT_FALSE(ok_sel) << record;
    EXPECT_EQ(ev.parse_error, full.parse_error) << record << " got " << to_string(ev.parse_error);
    ASSERT_EQ(ev.fields.size(), 1u) << record;
    EXPECT_EQ(ev.fields.fields()[0].name, "_format");
    EXPECT_EQ(ids, (std::vector<int>{-1})) << record;
    EXPECT_EQ(ev.time_unix_ns, 0);
    EXPECT_TRUE(ev.host.empty());
  }
  // Documented leniency: a bad escape inside a skipped string is not looked at by default...
  bool ok = false;
  parse_sel(R"({"Message":"bad \x escape","EventID":1})", sel, ids, LogFormat::kJson, &ok);
  EXPECT_TRUE(ok);
  // ...and is with ParserOptions::check_skipped_escapes.
  ParserOptions strict;
  strict.check_skipped_escapes = true;
  RecordParser strict_parser(strict);
  std::string buf = R"({"Message":"bad \x escape","EventID":1})";
  const std::size_t n = buf.size();
  buf.append(kPadding, '\0');
  Event ev;
  ev.raw = std::string_view(buf.data(), n);
  EXPECT_FALSE(strict_parser.parse_selected(LogFormat::kJson, ev, sel, ids));
  EXPECT_EQ(ev.parse_error, ParseErrorKind::kInvalidJson);
  // Oversize and forced JSON on a text line behave as in parse().
  ParserOptions small;
  small.max_record_bytes = 8;
  RecordParser small_parser(small);
  ev.raw = std::string_view(buf.data(), n);
  EXPECT_FALSE(small_parser.parse_selected(LogFormat::kUnknown, ev, sel, ids));
  EXPECT_EQ(ev.parse_error, ParseErrorKind::kOversize);
  EXPECT_EQ(ids, (std::vector<int>{-1}));
  const Event& text = parse_sel("Mar 27 13:06:56 host sshd[1]: hello", sel, ids, LogFormat::kJson,
                                &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(text.parse_error, ParseErrorKind::kWrongFormat);
  EXPECT_EQ(ids, (std::vector<int>{-1}));
}

TEST_F(ParseTest, SelectedTextFormatsKeepOnlyWanted) {
  const FieldSelection sel(Names{"message", "program", "src", "nope"});
  std::vector<int> ids;
  bool ok = false;
  const Event& ev = parse_sel("Mar 27 13:06:56 myhost sshd[123]: Accepted password for bob", sel,
                              ids, LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ev.format, LogFormat::kRfc3164);
  ASSERT_EQ(ids.size(), ev.fields.size());
  EXPECT_EQ(ids[0], -1);
  EXPECT_EQ(ev.fields.fields()[0].name, "_format");
  EXPECT_EQ(get(ev, "program"), "sshd");
  EXPECT_EQ(get(ev, "message"), "Accepted password for bob");
  EXPECT_EQ(ev.host, "myhost");
  for (std::size_t i = 1; i < ids.size(); ++i)
    EXPECT_EQ(sel.find(ev.fields.fields()[i].name), ids[i]);
  const Event& cef = parse_sel("CEF:0|a|b|c|d|e|5|src=10.0.0.1 msg=a\\=b", sel, ids);
  EXPECT_EQ(get(cef, "src"), "10.0.0.1");
  EXPECT_FALSE(has(cef, "msg"));
}

// Random records shaped like OTRF / Winlogbeat / evtx_dump events, and the mutations of seeds.
std::string random_json_record(std::mt19937& rng) {
  static const std::vector<std::string> keys = {
      "Image", "CommandLine", "ParentImage", "TargetObject", "Details", "EventType", "User",
      "Message", "EventID", "Channel", "Hostname", "host", "SourceName", "event_id", "log_name",
      "computer_name", "Provider", "UtcTime", "@timestamp", "TimeCreated", "tags", "Keywords",
      "ProcessId", "Threat Name", "Data", "#text", "#attributes", "Name", "x", "Event", "winlog",
      "event_data", "user_data", "System", "EventData", "UserData", "process", "name", "k\\\"q",
      "time", "Computer"};
  static const std::vector<std::string> strings = {
      R"(C:\\Windows\\System32\\cmd.exe)", R"(plain value)", R"(q\"uote)", R"(line\r\nbreak)",
      R"(caf\u00e9 \ud83d\ude00)", "", R"(2020-06-10T02:50:56.537Z)", R"(HKLM\\Software\\x)",
      R"(a\/b\tc)", "Vi\xE1\xBB\x87t", R"(\\)", "WS01.corp"};
  std::function<std::string(int)> value = [&](int depth) -> std::string {
    const unsigned r = rng() % (depth > 3 ? 6 : 9);
    switch (r) {
      case 0: case 1: case 2: return "\"" + strings[rng() % strings.size()] + "\"";
      case 3: return std::to_string(static_cast<int>(rng() % 20000) - 1000);
      case 4: return rng() % 2 ? "true" : "false";
      case 5: return rng() % 2 ? "null" : "-1.5e3";
      case 6: case 7: {
        std::string o = "{";
        const int n = static_cast<int>(rng() % 5);
        for (int i = 0; i < n; ++i) {
          if (i) o += ",";
          o += "\"" + keys[rng() % keys.size()] + "\":" + value(depth + 1);
        }
        return o + "}";
      }
      default: {
        std::string a = "[";
        const int n = static_cast<int>(rng() % 4);
        for (int i = 0; i < n; ++i) {
          if (i) a += ",";
          a += value(depth + 1);
        }
        return a + "]";
      }
    }
  };
  std::string rec = "{";
  const int n = 3 + static_cast<int>(rng() % 30);
  for (int i = 0; i < n; ++i) {
    if (i) rec += rng() % 4 ? "," : " , ";
    rec += "\"" + keys[rng() % keys.size()] + "\":" + value(0);
  }
  return rec + "}";
}

// parse_selected with a random subset of the names parse() emits gives exactly parse()'s fields
// filtered to that subset, in order, with ids = the selection indexes; same time/host/errors.
// Returns true when both parses succeeded and were compared.
bool expect_selected_equivalent(RecordParser& parser, std::string_view record, std::mt19937& rng,
                                const std::string& where) {
  std::string buf(record);
  buf.append(kPadding, '\0');
  Event full;
  full.raw = std::string_view(buf.data(), record.size());
  const bool ok_full = parser.parse(LogFormat::kUnknown, full);
  // The full parse's fields are copied out: the selective parse reuses the parser's buffers.
  std::vector<std::pair<std::string, std::string>> full_fields;
  std::vector<ValueKind> full_kinds;
  for (const Field& f : full.fields.fields()) {
    full_fields.emplace_back(f.name, f.value);
    full_kinds.push_back(f.kind);
  }
  Names names;
  for (std::size_t i = 1; i < full_fields.size(); ++i)
    if (rng() % 3 == 0) names.push_back(full_fields[i].first);
  for (int i = 0; i < 5; ++i) names.push_back("Absent" + std::to_string(rng() % 100));
  if (rng() % 4 == 0) names.push_back("");
  std::shuffle(names.begin(), names.end(), rng);
  const FieldSelection sel(names);

  Event ev;
  ev.raw = full.raw;
  std::vector<int> ids = {42, 43};  // cleared by the call
  const bool ok_sel = parser.parse_selected(LogFormat::kUnknown, ev, sel, ids);
  if (!ok_sel) {
    // Selective errors are a subset of parse()'s (it checks less in what it skips).
    EXPECT_FALSE(ok_full) << where;
    EXPECT_EQ(ev.parse_error, full.parse_error) << where;
    EXPECT_EQ(ids, (std::vector<int>{-1})) << where;
    return false;
  }
  if (!ok_full) return false;  // an error only inside a skipped value
  EXPECT_EQ(ev.parse_error, full.parse_error) << where;
  EXPECT_EQ(ev.format, full.format) << where;
  EXPECT_EQ(ev.time_text, full.time_text) << where;
  EXPECT_EQ(ev.time_unix_ns, full.time_unix_ns) << where;
  EXPECT_EQ(ev.host, full.host) << where;
  std::vector<std::tuple<std::string, std::string, ValueKind, int>> want, got;
  for (std::size_t i = 0; i < full_fields.size(); ++i) {
    const int index = i == 0 ? -1 : sel.find(full_fields[i].first);
    if (i == 0 || index >= 0)
      want.emplace_back(full_fields[i].first, full_fields[i].second, full_kinds[i], index);
  }
  EXPECT_EQ(ids.size(), ev.fields.size()) << where;
  for (std::size_t i = 0; i < ids.size() && i < ev.fields.size(); ++i) {
    const Field& f = ev.fields.fields()[i];
    got.emplace_back(std::string(f.name), std::string(f.value), f.kind, ids[i]);
  }
  EXPECT_EQ(got, want) << where;
  return want.size() > 1;
}

TEST_F(ParseTest, SelectedEqualsFilteredFullParse) {
  std::mt19937 rng(7);
  // Inline records: the layouts above and random OTRF-like ones.
  std::vector<std::string> records = {
      std::string(kEvtxInline),
      R"({"Event":{"System":{"EventID":7045,"Channel":"System"},"EventData":{"Data":[{"#attributes":{"Name":"ServiceName"},"#text":"evil svc"},{"#text":"C:\\tmp\\x.exe","#attributes":{"Name":"ImagePath"}},{"#attributes":{"Name":"StartType"}},"loose"]}}})",
      R"({"Event":{"System":{"EventID":5858},"UserData":{"Op":{"#attributes":{"xmlns":"http://m"},"ClientMachine":"WS1"}}}})",
      R"({"winlog":{"event_id":1,"event_data":{"Data":[{"#attributes":{"Name":"x"},"#text":"v"}]}}})",
      R"({"Event":{"EventData":{"Threat Name":"Eicar","Data":{"#text":["a","b"],"#attributes":{"Name":"Multi"}}}}})",
      R"({"event_id":[5],"SourceName":[1,{"a":2}],"computer_name":{"x":1},"log_name":[["L"]]})",
  };
  for (int i = 0; i < 400; ++i) records.push_back(random_json_record(rng));
  std::size_t compared = 0;
  for (std::size_t i = 0; i < records.size(); ++i)
    for (int rep = 0; rep < 3; ++rep)
      compared += expect_selected_equivalent(parser_, records[i], rng, "inline #" + std::to_string(i));
  EXPECT_GE(compared, 1000u);  // records that parse and select something

  // Mutations (truncations, edits) of the same records: never a crash, never a selective
  // success where parse() succeeds with other fields.
  const std::string alphabet = "{}[]\":,\\ 0123456789abcT#\x01\xC3\xFF";
  std::size_t mutated_compared = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string rec = records[rng() % records.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !rec.empty(); ++e) {
      const std::size_t pos = rng() % rec.size();
      switch (rng() % 4) {
        case 0: rec[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: rec.erase(pos, 1 + rng() % 4); break;
        case 2: rec.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        default: rec.resize(pos); break;
      }
    }
    mutated_compared += expect_selected_equivalent(parser_, rec, rng, "mutation: " + rec);
  }
  EXPECT_GE(mutated_compared, 300u);

  // Every record of the Sigma regression corpus.
  VIGIL_REQUIRE_CORPUS("sigma/regression_data");
  const fs::path root = corpora_dir() / "sigma" / "regression_data";
  std::size_t events = 0, corpus_compared = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.path().extension() != ".json") continue;
    for (const std::string& doc : split_json_documents(read_file(entry.path()))) {
      ++events;
      corpus_compared += expect_selected_equivalent(parser_, doc, rng, entry.path().string());
    }
  }
  EXPECT_GE(events, 150u);
  EXPECT_GE(corpus_compared * 2, events);
}

}  // namespace
}  // namespace vigil::parse
