// Windows in every layout: EVTX files (core/evtx), the Wazuh agent's and manager's JSON, and
// Windows event XML, each mapped to the names evtx_dump JSON gives (field by field), and bad
// input of each counted by reason without a crash.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/evtx/event_tree.h"
#include "core/evtx/evtx_file.h"
#include "core/evtx/evtx_reader.h"
#include "core/parse/parser.h"
#include "core/record_reader.h"
#include "tests/support/corpora.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;
using parse::RecordParser;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path evtx_dir() { return fs::path(testing::corpora_dir()) / "evtx"; }

struct FileRead {
  std::vector<std::string> records;  // JSON, in order
  std::vector<std::uint64_t> ids;    // record header numbers
  std::map<std::string, int> damaged;  // by reason
  Status status;
};

FileRead read_evtx(const fs::path& path) {
  FileRead r;
  auto reader = RecordReader::open(path.string());
  if (!reader) {
    r.status = reader.error();
    return r;
  }
  std::vector<Record> batch;
  while ((*reader)->next_batch(batch))
    for (const Record& rec : batch) {
      if (rec.damaged != nullptr) {
        ++r.damaged[rec.damaged];
        continue;
      }
      r.records.emplace_back(rec.bytes);
      r.ids.push_back(rec.record_no);
    }
  r.status = (*reader)->status();
  return r;
}

class Parsed {
 public:
  const Event& parse(std::string_view record, LogFormat format = LogFormat::kUnknown, bool* ok = nullptr) {
    std::string& buf = buffers_.emplace_back(record);
    buf.append(64, '\0');
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
  // "name=value" of every field but `_format`, in order.
  static std::vector<std::string> listing(const Event& ev) {
    std::vector<std::string> out;
    for (const Field& f : ev.fields.fields())
      if (f.name != "_format") out.push_back(std::string(f.name) + "=" + std::string(f.value));
    return out;
  }

 private:
  RecordParser parser_;
  std::deque<std::string> buffers_;
  std::deque<Event> events_;
};

// ---- EVTX ---------------------------------------------------------------------------------------

TEST(Evtx, DetectedByMagicNotName) {
  EXPECT_TRUE(evtx::is_evtx(std::string_view("ElfFile\0\0\0", 10)));
  EXPECT_FALSE(evtx::is_evtx("ElfFile"));
  EXPECT_FALSE(evtx::is_evtx(std::string_view("ElfFilf\0", 8)));
  VIGIL_REQUIRE_CORPUS("evtx/deepbluecli/new-user-security.evtx");
  // A copy under a .log name is still read as EVTX.
  const fs::path copy = fs::temp_directory_path() / ("vigil-evtx-" + std::to_string(::getpid()) + ".log");
  fs::copy_file(evtx_dir() / "deepbluecli/new-user-security.evtx", copy, fs::copy_options::overwrite_existing);
  const FileRead r = read_evtx(copy);
  fs::remove(copy);
  EXPECT_TRUE(r.status.ok()) << r.status.to_string();
  EXPECT_EQ(r.records.size(), 4u);
}

// Field by field: the Security log's first record (4728), as python-evtx and Windows render it.
TEST(Evtx, SecurityRecordFieldByField) {
  VIGIL_REQUIRE_CORPUS("evtx/deepbluecli/new-user-security.evtx");
  const FileRead r = read_evtx(evtx_dir() / "deepbluecli/new-user-security.evtx");
  ASSERT_EQ(r.records.size(), 4u);
  Parsed p;
  bool ok = false;
  const Event& ev = p.parse(r.records[0], LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok) << to_string(ev.parse_error);
  EXPECT_EQ(ev.format, LogFormat::kJson);
  EXPECT_EQ(Parsed::get(ev, "Provider_Name"), "Microsoft-Windows-Security-Auditing");
  EXPECT_EQ(Parsed::get(ev, "Provider_Guid"), "{54849625-5478-4994-A5BA-3E3B0328C30D}");
  EXPECT_EQ(Parsed::get(ev, "EventID"), "4728");
  EXPECT_EQ(ev.fields.find("EventID")->kind, ValueKind::kNumber);
  EXPECT_EQ(Parsed::get(ev, "Task"), "13826");
  EXPECT_EQ(Parsed::get(ev, "Keywords"), "0x8020000000000000");
  EXPECT_EQ(Parsed::get(ev, "SystemTime"), "2013-10-23T16:22:39.973500Z");
  EXPECT_EQ(Parsed::get(ev, "EventRecordID"), "111");
  EXPECT_EQ(Parsed::get(ev, "ProcessID"), "508");
  EXPECT_EQ(Parsed::get(ev, "ThreadID"), "1032");
  EXPECT_EQ(Parsed::get(ev, "Channel"), "Security");
  EXPECT_EQ(Parsed::get(ev, "Computer"), "IE8Win7");
  EXPECT_EQ(Parsed::get(ev, "MemberName"), "-");
  EXPECT_EQ(Parsed::get(ev, "MemberSid"), "S-1-5-21-3463664321-2923530833-3546627382-1000");
  EXPECT_EQ(Parsed::get(ev, "TargetUserName"), "None");
  EXPECT_EQ(Parsed::get(ev, "SubjectUserSid"), "S-1-5-18");
  EXPECT_EQ(Parsed::get(ev, "SubjectUserName"), "WIN-QALA5Q3KJ43$");
  EXPECT_EQ(Parsed::get(ev, "SubjectLogonId"), "0x3e7");  // HexInt64, as Windows writes it
  EXPECT_EQ(ev.host, "IE8Win7");
  EXPECT_EQ(ev.time_unix_ns, 1382545359973500000LL);
  // The second record's multi-line value keeps its line breaks (escaped in the JSON).
  const Event& ev2 = p.parse(r.records[1]);
  EXPECT_EQ(Parsed::get(ev2, "UserAccountControl"), "\r\n\t\t%%2080\r\n\t\t%%2082\r\n\t\t%%2084");
  EXPECT_EQ(Parsed::get(ev2, "NewUacValue"), "0x15");
}

TEST(Evtx, SysmonRecordFieldByField) {
  VIGIL_REQUIRE_CORPUS("evtx/omerbenamram-evtx/sysmon.evtx");
  const FileRead r = read_evtx(evtx_dir() / "omerbenamram-evtx/sysmon.evtx");
  ASSERT_EQ(r.records.size(), 358u);
  EXPECT_EQ(r.ids.front(), 1742u);
  Parsed p;
  const Event& ev = p.parse(r.records[0]);
  EXPECT_EQ(Parsed::get(ev, "Channel"), "Microsoft-Windows-Sysmon/Operational");
  EXPECT_EQ(Parsed::get(ev, "EventID"), "1");
  EXPECT_EQ(Parsed::get(ev, "UserID"), "S-1-5-18");
  EXPECT_EQ(Parsed::get(ev, "Image"), "C:\\Windows\\SysWOW64\\PING.EXE");
  EXPECT_EQ(Parsed::get(ev, "CommandLine"), "ping  -n 6 127.0.0.1 ");
  EXPECT_EQ(Parsed::get(ev, "ParentImage"), "C:\\Windows\\SysWOW64\\cmd.exe");
  EXPECT_EQ(Parsed::get(ev, "ProcessGuid"), "{94F748D5-4A45-5A42-0000-0010D265F20F}");
  EXPECT_EQ(Parsed::get(ev, "ProcessId"), "9112");
  EXPECT_EQ(Parsed::get(ev, "LogonId"), "0x3e7");
  EXPECT_EQ(Parsed::get(ev, "User"), "NT AUTHORITY\\SYSTEM");
  EXPECT_EQ(Parsed::get(ev, "UtcTime"), "2017-12-26 13:10:29.134");
}

// Record counts per file, and damage counted by reason with the rest of the file read. The
// counts of intact files are the records their chunk headers announce (MANIFEST.txt).
TEST(Evtx, CorpusCountsAndDamage) {
  VIGIL_REQUIRE_CORPUS("evtx");
  struct Expect {
    const char* file;
    std::size_t records;
  };
  const Expect intact[] = {
      {"deepbluecli/smb-password-guessing-security.evtx", 3561},
      {"deepbluecli/many-events-application.evtx", 2216},
      {"deepbluecli/wmi-event-filter-persistance.evtx", 901},
      {"deepbluecli/Powershell-Invoke-Obfuscation-many.evtx", 302},
      {"omerbenamram-evtx/2-vss_7-System.evtx", 1160},
      {"omerbenamram-evtx/Application_no_crc32.evtx", 17},
      {"omerbenamram-evtx/E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx", 340},
      {"omerbenamram-evtx/post-Security.evtx", 126},
      {"omerbenamram-evtx/sysmon.evtx", 358},
      {"python-evtx/dns_log_malformed.evtx", 5},
      {"python-evtx/issue_38.evtx", 1},
  };
  for (const Expect& e : intact) {
    const FileRead r = read_evtx(evtx_dir() / e.file);
    EXPECT_TRUE(r.status.ok()) << e.file;
    EXPECT_EQ(r.records.size(), e.records) << e.file;
    EXPECT_TRUE(r.damaged.empty()) << e.file;
  }
  // A chunk with a bad magic: counted, skipped, the other chunks read (the evtx crate reads 270
  // records of it; resynchronising on record magic finds more in the damaged chunks).
  const FileRead bad_chunk = read_evtx(evtx_dir() / "omerbenamram-evtx/sample_with_a_bad_chunk_magic.evtx");
  EXPECT_EQ(bad_chunk.damaged.count("evtx_chunk_header"), 1u);
  EXPECT_GE(bad_chunk.records.size(), 270u);
  // A record of data size 0: counted, the records after it still read.
  FileRead zero = read_evtx(evtx_dir() / "omerbenamram-evtx/sample-with-zero-data-size-event.evtx");
  EXPECT_GE(zero.damaged["evtx_record_header"], 1);
  EXPECT_GE(zero.records.size(), 336u);
  // Records whose size copy was wiped with the space after them: decoded when their binary
  // XML is whole (the evtx crate reads 17 and 6 of these two).
  const FileRead lang = read_evtx(evtx_dir() / "omerbenamram-evtx/Microsoft-Windows-LanguagePackSetup%4Operational.evtx");
  EXPECT_EQ(lang.records.size(), 17u);
  const FileRead hello = read_evtx(evtx_dir() / "omerbenamram-evtx/Microsoft-Windows-HelloForBusiness%4Operational.evtx");
  EXPECT_EQ(hello.records.size(), 6u);
  // Binary XML written without a template (a forwarded event): decoded.
  const FileRead wec = read_evtx(evtx_dir() / "omerbenamram-evtx/MSExchange_Management_wec.evtx");
  ASSERT_EQ(wec.records.size(), 1u);
  EXPECT_NE(wec.records[0].find("\"Set-Mailbox\""), std::string::npos);
  // Chunks whose checksums are off (a shadow copy): the records whose binary XML does not
  // decode are counted, the rest read (the evtx crate reads 1910).
  FileRead rdp = read_evtx(evtx_dir() / "omerbenamram-evtx/2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx");
  EXPECT_GE(rdp.records.size(), 1910u);
  EXPECT_GE(rdp.damaged["evtx_binxml"], 1);
}

// Hostile bytes: random corruption of a real chunk, truncation, and headers that point
// anywhere. Nothing crashes (ASan builds check the reads), and every record that comes out is
// valid JSON.
TEST(Evtx, CorruptionNeverCrashesAndOutputStaysJson) {
  VIGIL_REQUIRE_CORPUS("evtx/deepbluecli/powersploit-security.evtx");
  const std::string file = read_file(evtx_dir() / "deepbluecli/powersploit-security.evtx");
  ASSERT_GE(file.size(), evtx::kFileHeaderSize + evtx::kChunkSize);
  std::mt19937 rng(17);
  evtx::ChunkDecoder decoder;
  evtx::EvtxStats stats;
  simdjson::dom::parser json;
  std::string out;
  std::vector<evtx::DecodedRecord> records;
  std::size_t decoded = 0, damaged = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string chunk = file.substr(evtx::kFileHeaderSize, evtx::kChunkSize);
    const int flips = 1 + static_cast<int>(rng() % 16);
    for (int i = 0; i < flips; ++i) {
      // Mostly inside the records (offsets 512..), where the binary XML is.
      const std::size_t at = round % 4 == 0 ? rng() % 512 : 512 + rng() % 6000;
      chunk[at] = static_cast<char>(round % 3 == 0 ? 0xFF : rng());
    }
    out.clear();
    records.clear();
    decoder.decode(reinterpret_cast<const std::uint8_t*>(chunk.data()), 64, out, records, stats);
    for (const evtx::DecodedRecord& d : records) {
      if (d.damage != evtx::EvtxDamage::kNone) {
        ++damaged;
        continue;
      }
      ++decoded;
      simdjson::dom::element doc;
      ASSERT_EQ(json.parse(out.data() + d.offset, d.size, false).get(doc), simdjson::SUCCESS)
          << std::string(out, d.offset, d.size);
    }
  }
  EXPECT_GT(decoded, 0u);
  EXPECT_GT(damaged, 0u);
  // A file cut inside its first chunk: the partial block is one damaged chunk.
  const fs::path cut = fs::temp_directory_path() / ("vigil-evtx-cut-" + std::to_string(::getpid()) + ".evtx");
  {
    std::ofstream(cut, std::ios::binary) << file.substr(0, evtx::kFileHeaderSize + 3000);
  }
  FileRead r = read_evtx(cut);
  EXPECT_TRUE(r.status.ok());
  EXPECT_TRUE(r.records.empty());
  EXPECT_EQ(r.damaged["evtx_chunk_header"], 1);
  // Only the magic: a file header cut short is an error, not a crash.
  {
    std::ofstream(cut, std::ios::binary) << std::string("ElfFile\0", 8);
  }
  const FileRead tiny = read_evtx(cut);
  EXPECT_FALSE(tiny.status.ok());
  fs::remove(cut);
}

// Templates whose bodies instantiate the next one 200 times, seven deep, describe 200^6
// instantiations in 20 KiB: the per-record work budget stops the record (counted damaged),
// quickly. The definitions sit in a first record (itself not binary XML: damaged too).
TEST(Evtx, NestedTemplateFanOutIsBounded) {
  std::string chunk(evtx::kChunkSize, '\0');
  std::memcpy(chunk.data(), "ElfChnk\0", 8);
  auto put32 = [&](std::size_t at, std::uint32_t v) { std::memcpy(chunk.data() + at, &v, 4); };
  auto record = [&](std::size_t at, std::size_t end, std::uint32_t id) {
    const auto size = static_cast<std::uint32_t>((end + 4 - at + 7) / 8 * 8);
    put32(at, 0x00002a2a);
    put32(at + 4, size);
    put32(at + 8, id);
    put32(at + size - 4, size);
    return at + size;
  };
  const std::string head("\x0f\x01\x01\x00", 4);
  std::size_t q = 512 + 24;
  std::uint32_t next_def = 0;  // the template the one being written instantiates
  for (int level = 7; level >= 1; --level) {
    const auto def = static_cast<std::uint32_t>(q);
    const std::size_t body = def + 24;
    q = body;
    chunk.replace(q, 4, head);
    q += 4;
    for (int i = 0; level < 7 && i < 200; ++i) {
      chunk[q] = 0x0c, chunk[q + 1] = 0x01;
      put32(q + 2, static_cast<std::uint32_t>(level + 1));
      put32(q + 6, next_def);
      put32(q + 10, 0);  // no values
      q += 14;
    }
    chunk[q++] = 0x00;
    put32(def + 20, static_cast<std::uint32_t>(q - body));
    next_def = def;
  }
  const std::size_t second = record(512, q, 1);
  q = second + 24;
  chunk.replace(q, 4, head);
  q += 4;
  chunk[q] = 0x0c, chunk[q + 1] = 0x01;
  put32(q + 2, 1);
  put32(q + 6, next_def);
  put32(q + 10, 0);
  q += 14;
  chunk[q++] = 0x00;
  put32(48, static_cast<std::uint32_t>(record(second, q, 2)));
  evtx::ChunkDecoder decoder;
  evtx::EvtxStats stats;
  std::string out;
  std::vector<evtx::DecodedRecord> records;
  const auto start = std::chrono::steady_clock::now();
  decoder.decode(reinterpret_cast<const std::uint8_t*>(chunk.data()), 64, out, records, stats);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_NE(records[0].damage, evtx::EvtxDamage::kNone);
  EXPECT_EQ(records[1].record_id, 2u);
  EXPECT_EQ(records[1].damage, evtx::EvtxDamage::kBinXml);
}

// A file of several ranges is never cut for threads: EVTX is read whole.
TEST(Evtx, SplitRefusesEvtx) {
  VIGIL_REQUIRE_CORPUS("evtx/deepbluecli/password-spray.evtx");
  auto split = split_file_at_lines((evtx_dir() / "deepbluecli/password-spray.evtx").string(), 4);
  EXPECT_FALSE(split.has_value());
}

// ---- the JSON writer ---------------------------------------------------------------------------

TEST(EventTree, WritesTheEvtxDumpLayout) {
  evtx::EventTree t;
  t.open_element("Event");
  t.begin_attribute("xmlns");
  t.add_text("http://schemas.microsoft.com/win/2004/08/events/event");
  t.end_attribute();
  t.open_element("System");
  t.open_element("EventID");
  t.begin_attribute("Qualifiers");  // empty: left out
  t.end_attribute();
  t.add_text("4625", evtx::PieceType::kNumber);
  t.close_element();
  t.open_element("Correlation");
  t.close_element();
  t.close_element();
  t.open_element("EventData");
  t.open_element("Data");
  t.begin_attribute("Name");
  t.add_text("CommandLine");
  t.end_attribute();
  t.add_text("cmd /c \"a\" \\ b\x01");
  t.close_element();
  t.open_element("Data");
  t.add_text("x");
  t.close_element();
  t.open_element("Data");
  t.add_text("y");
  t.close_element();
  t.close_element();
  t.close_element();
  std::string out;
  t.write_json(out);
  EXPECT_EQ(out,
            "{\"Event\":{\"#attributes\":{\"xmlns\":\"http://schemas.microsoft.com/win/2004/08/events/event\"},"
            "\"System\":{\"EventID\":4625,\"Correlation\":null},"
            "\"EventData\":{\"CommandLine\":\"cmd /c \\\"a\\\" \\\\ b\\u0001\",\"Data\":{\"#text\":[\"x\",\"y\"]}}}}");
}

// ---- Wazuh --------------------------------------------------------------------------------------

// As the agent sends it (camelCase names, backslashes doubled in values), written from Wazuh's
// description of its eventchannel format.
constexpr const char* kWazuhAgent = R"({"win":{"system":{"providerName":"Microsoft-Windows-Security-Auditing","providerGuid":"{54849625-5478-4994-a5ba-3e3b0328c30d}","eventID":"4625","version":"0","level":"0","task":"12544","opcode":"0","keywords":"0x8010000000000000","systemTime":"2024-03-05T10:11:12.3456789Z","eventRecordID":"98765","processID":"668","threadID":"4120","channel":"Security","computer":"DC01.corp.local","severityValue":"AUDIT_FAILURE","message":"\"An account failed to log on.\""},"eventdata":{"subjectUserSid":"S-1-5-18","targetUserName":"administrator","targetDomainName":"CORP","status":"0xc000006d","logonType":"3","ipAddress":"203.0.113.7","ipPort":"51234","processName":"C:\\\\Windows\\\\System32\\\\svchost.exe","workstationName":"\\\\\\\\KALI","param1":"x","processPath":"C:\\\\p.exe","processId":"4242"}}})";

TEST(Wazuh, AgentLayoutMapsToSigmaNames) {
  Parsed p;
  bool ok = false;
  const Event& ev = p.parse(kWazuhAgent, LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok) << to_string(ev.parse_error);
  EXPECT_EQ(Parsed::get(ev, "Provider_Name"), "Microsoft-Windows-Security-Auditing");
  EXPECT_EQ(Parsed::get(ev, "Provider_Guid"), "{54849625-5478-4994-a5ba-3e3b0328c30d}");
  EXPECT_EQ(Parsed::get(ev, "EventID"), "4625");
  EXPECT_EQ(Parsed::get(ev, "EventRecordID"), "98765");
  EXPECT_EQ(Parsed::get(ev, "ProcessID"), "668");
  EXPECT_EQ(Parsed::get(ev, "Channel"), "Security");
  EXPECT_EQ(Parsed::get(ev, "Computer"), "DC01.corp.local");
  EXPECT_EQ(Parsed::get(ev, "Keywords"), "0x8010000000000000");
  EXPECT_EQ(Parsed::get(ev, "SystemTime"), "2024-03-05T10:11:12.3456789Z");
  EXPECT_EQ(Parsed::get(ev, "TargetUserName"), "administrator");
  EXPECT_EQ(Parsed::get(ev, "IpAddress"), "203.0.113.7");
  EXPECT_EQ(Parsed::get(ev, "IpPort"), "51234");
  EXPECT_EQ(Parsed::get(ev, "LogonType"), "3");
  EXPECT_EQ(Parsed::get(ev, "Status"), "0xc000006d");
  EXPECT_EQ(Parsed::get(ev, "SubjectUserSid"), "S-1-5-18");
  // Doubled backslashes collapse: one in a path, two at a UNC name's start.
  EXPECT_EQ(Parsed::get(ev, "ProcessName"), "C:\\Windows\\System32\\svchost.exe");
  EXPECT_EQ(Parsed::get(ev, "WorkstationName"), "\\\\KALI");
  // Windows names that begin in lower case keep it.
  EXPECT_EQ(Parsed::get(ev, "param1"), "x");
  EXPECT_EQ(Parsed::get(ev, "processPath"), "C:\\p.exe");
  // Sysmon's ProcessId or BITS-Client's processId: both names.
  EXPECT_EQ(Parsed::get(ev, "ProcessId"), "4242");
  EXPECT_EQ(Parsed::get(ev, "processId"), "4242");
  EXPECT_EQ(ev.host, "DC01.corp.local");
  EXPECT_EQ(ev.time_text, "2024-03-05T10:11:12.3456789Z");
  EXPECT_EQ(ev.fields.find("win.system.eventID"), nullptr);
}

// As the manager writes it to archives.json / alerts.json: under data.win, beside its own keys.
TEST(Wazuh, ManagerLayoutUnderData) {
  const std::string manager = std::string(R"({"timestamp":"2024-03-05T10:11:13.000+0000","rule":{"level":5,"id":"60122"},"agent":{"id":"003","name":"DC01"},"manager":{"name":"wazuh"},"id":"1709633473.1","full_log":"x","decoder":{"name":"windows_eventchannel"},"data":)") +
                              std::string(kWazuhAgent).substr(0, std::strlen(kWazuhAgent)) + R"(,"location":"EventChannel"})";
  Parsed p;
  bool ok = false;
  const Event& ev = p.parse(manager, LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok) << to_string(ev.parse_error);
  EXPECT_EQ(Parsed::get(ev, "EventID"), "4625");
  EXPECT_EQ(Parsed::get(ev, "TargetUserName"), "administrator");
  EXPECT_EQ(Parsed::get(ev, "ProcessName"), "C:\\Windows\\System32\\svchost.exe");
  EXPECT_EQ(Parsed::get(ev, "Provider_Name"), "Microsoft-Windows-Security-Auditing");
  // The manager's own keys keep their generic names.
  EXPECT_EQ(Parsed::get(ev, "rule.id"), "60122");
  EXPECT_EQ(Parsed::get(ev, "agent.name"), "DC01");
  EXPECT_EQ(Parsed::get(ev, "location"), "EventChannel");
  // Other keys under "data" (other decoders) are named as before.
  const Event& other = p.parse(R"({"data":{"srcip":"10.0.0.1","win2":{"a":1}}})");
  EXPECT_EQ(Parsed::get(other, "data.srcip"), "10.0.0.1");
  EXPECT_EQ(Parsed::get(other, "data.win2.a"), "1");
}

// The selective parse gives exactly the full parse's fields, filtered.
TEST(Wazuh, SelectiveParseAgrees) {
  const std::vector<std::string> names = {"EventID", "TargetUserName", "ProcessName", "Channel", "rule.id", "data.srcip"};
  parse::FieldSelection wanted(names);
  for (const std::string& record : {std::string(kWazuhAgent), std::string(R"({"rule":{"id":"1"},"data":)") + kWazuhAgent + "}",
                                   std::string(R"({"data":{"srcip":"10.0.0.1"}})")}) {
    std::string buf = record + std::string(64, '\0');
    Event full, sel;
    full.raw = sel.raw = std::string_view(buf.data(), record.size());
    RecordParser parser;
    ASSERT_TRUE(parser.parse(LogFormat::kUnknown, full));
    std::vector<int> ids;
    ASSERT_TRUE(parser.parse_selected(LogFormat::kUnknown, sel, wanted, ids, /*keep_escaped=*/true));
    std::vector<std::string> want, got;
    for (const Field& f : full.fields.fields())
      if (wanted.find(f.name) >= 0) want.push_back(std::string(f.name) + "=" + std::string(f.value));
    for (const Field& f : sel.fields.fields())
      if (f.name != "_format") got.push_back(std::string(f.name) + "=" + std::string(f.value));
    EXPECT_EQ(got, want) << record;
  }
}

TEST(Wazuh, MalformedIsCountedNotCrashed) {
  Parsed p;
  const std::string agent = kWazuhAgent;
  bool ok = true;
  const Event& cut = p.parse(agent.substr(0, agent.size() / 2), LogFormat::kUnknown, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(cut.parse_error, ParseErrorKind::kTruncatedJson);
  const Event& wrong = p.parse(R"({"win":{"system":[1,{"eventID":4625}],"eventdata":"flat"}})", LogFormat::kUnknown, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(Parsed::get(wrong, "Eventdata"), "<missing>");
  const Event& scalar = p.parse(R"({"win":"x","data":7})", LogFormat::kUnknown, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(Parsed::get(scalar, "win"), "x");
  EXPECT_EQ(Parsed::get(scalar, "data"), "7");
}

// ---- Windows event XML --------------------------------------------------------------------------

// As Windows renders an event (EvtRender, WEF "Events" format, NXLog xm_xml), on one line.
constexpr const char* kXml4625 =
    "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider "
    "Name='Microsoft-Windows-Security-Auditing' Guid='{54849625-5478-4994-A5BA-3E3B0328C30D}'/><EventID>4625</EventID>"
    "<Version>0</Version><Level>0</Level><Task>12544</Task><Opcode>0</Opcode><Keywords>0x8010000000000000</Keywords>"
    "<TimeCreated SystemTime='2024-03-05T10:11:12.3456789Z'/><EventRecordID>98765</EventRecordID><Correlation/>"
    "<Execution ProcessID='668' ThreadID='4120'/><Channel>Security</Channel><Computer>DC01.corp.local</Computer>"
    "<Security/></System><EventData><Data Name='SubjectUserSid'>S-1-5-18</Data><Data "
    "Name='TargetUserName'>administrator</Data><Data Name='Status'>0xc000006d</Data><Data "
    "Name='LogonType'>3</Data><Data Name='IpAddress'>203.0.113.7</Data><Data Name='ProcessName'>C:\\Windows\\System32\\svchost.exe</Data>"
    "<Data Name='CommandLine'>cmd /c &quot;a &amp; b&quot; &lt;x&gt; &#x41;&#66;</Data><Data Name='Empty'></Data></EventData></Event>";

TEST(WinXml, DetectedAndMappedLikeEvtxDump) {
  EXPECT_EQ(parse::detect_format(kXml4625), LogFormat::kWinXml);
  EXPECT_EQ(parse::detect_format("<?xml version='1.0' encoding='utf-8'?><Event xmlns='x'/>"), LogFormat::kWinXml);
  EXPECT_EQ(parse::detect_format("<34>Oct 11 22:14:15 host app: <Event>"), LogFormat::kRfc3164);
  EXPECT_EQ(parse::detect_format("<Eventual>"), LogFormat::kPlain);
  Parsed p;
  bool ok = false;
  const Event& ev = p.parse(kXml4625, LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok) << to_string(ev.parse_error);
  EXPECT_EQ(ev.format, LogFormat::kWinXml);
  EXPECT_EQ(Parsed::get(ev, "_format"), "winxml");
  EXPECT_EQ(Parsed::get(ev, "Provider_Name"), "Microsoft-Windows-Security-Auditing");
  EXPECT_EQ(Parsed::get(ev, "Provider_Guid"), "{54849625-5478-4994-A5BA-3E3B0328C30D}");
  EXPECT_EQ(Parsed::get(ev, "EventID"), "4625");
  EXPECT_EQ(Parsed::get(ev, "SystemTime"), "2024-03-05T10:11:12.3456789Z");
  EXPECT_EQ(Parsed::get(ev, "EventRecordID"), "98765");
  EXPECT_EQ(Parsed::get(ev, "ProcessID"), "668");
  EXPECT_EQ(Parsed::get(ev, "Channel"), "Security");
  EXPECT_EQ(Parsed::get(ev, "Computer"), "DC01.corp.local");
  EXPECT_EQ(Parsed::get(ev, "TargetUserName"), "administrator");
  EXPECT_EQ(Parsed::get(ev, "IpAddress"), "203.0.113.7");
  EXPECT_EQ(Parsed::get(ev, "ProcessName"), "C:\\Windows\\System32\\svchost.exe");
  EXPECT_EQ(Parsed::get(ev, "CommandLine"), "cmd /c \"a & b\" <x> AB");
  EXPECT_EQ(ev.fields.find("Empty")->kind, ValueKind::kNull);
  EXPECT_EQ(Parsed::get(ev, "xmlns"), "http://schemas.microsoft.com/win/2004/08/events/event");
  EXPECT_EQ(ev.host, "DC01.corp.local");
  EXPECT_EQ(ev.time_unix_ns, 1709633472345678900LL);
}

// The same event as XML, as Wazuh's agent layout and as evtx_dump JSON: the same Sigma fields.
TEST(WinXml, SameFieldsAsTheOtherLayouts) {
  const char* evtx_dump =
      R"({"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Security-Auditing","Guid":"{54849625-5478-4994-A5BA-3E3B0328C30D}"}},"EventID":4625,"Version":0,"Level":0,"Task":12544,"Opcode":0,"Keywords":"0x8010000000000000","TimeCreated":{"#attributes":{"SystemTime":"2024-03-05T10:11:12.3456789Z"}},"EventRecordID":98765,"Correlation":null,"Execution":{"#attributes":{"ProcessID":668,"ThreadID":4120}},"Channel":"Security","Computer":"DC01.corp.local","Security":null},"EventData":{"SubjectUserSid":"S-1-5-18","TargetUserName":"administrator","Status":"0xc000006d","LogonType":3,"IpAddress":"203.0.113.7","ProcessName":"C:\\Windows\\System32\\svchost.exe","CommandLine":"cmd /c \"a & b\" <x> AB","Empty":null}}})";
  Parsed p;
  const auto xml = Parsed::listing(p.parse(kXml4625));
  const auto json = Parsed::listing(p.parse(evtx_dump));
  EXPECT_EQ(xml, json);
  const Event& wazuh = p.parse(kWazuhAgent);
  for (const char* name : {"EventID", "Channel", "Computer", "TargetUserName", "IpAddress", "LogonType", "ProcessName",
                           "Provider_Name", "SystemTime", "Keywords", "ProcessID", "Status"})
    EXPECT_EQ(Parsed::get(wazuh, name), Parsed::get(p.parse(kXml4625), name)) << name;
}

TEST(WinXml, UserDataRenderingInfoAndPrettyPrinting) {
  const char* xml =
      "<?xml version=\"1.0\"?>\n<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\n"
      "  <System>\n    <Provider Name=\"Microsoft-Windows-Eventlog\"/>\n    <EventID>1102</EventID>\n"
      "    <Channel>Security</Channel>\n    <Computer>ws1</Computer>\n  </System>\n"
      "  <UserData>\n    <LogFileCleared xmlns=\"http://manifests.microsoft.com/win/2004/08/windows/eventlog\">\n"
      "      <SubjectUserName>bob</SubjectUserName>\n      <SubjectDomainName><![CDATA[CORP<1>]]></SubjectDomainName>\n"
      "    </LogFileCleared>\n  </UserData>\n  <!-- a comment -->\n"
      "  <RenderingInfo Culture=\"en-US\"><Message>The audit log was cleared.</Message></RenderingInfo>\n</Event>";
  Parsed p;
  bool ok = false;
  const Event& ev = p.parse(xml, LogFormat::kUnknown, &ok);
  ASSERT_TRUE(ok) << to_string(ev.parse_error);
  EXPECT_EQ(Parsed::get(ev, "EventID"), "1102");
  EXPECT_EQ(Parsed::get(ev, "Provider_Name"), "Microsoft-Windows-Eventlog");
  EXPECT_EQ(Parsed::get(ev, "SubjectUserName"), "bob");
  EXPECT_EQ(Parsed::get(ev, "SubjectDomainName"), "CORP<1>");
  EXPECT_EQ(Parsed::get(ev, "RenderingInfo.Message"), "The audit log was cleared.");
  for (const std::string& f : Parsed::listing(ev)) EXPECT_EQ(f.find("#text"), std::string::npos) << f;
}

TEST(WinXml, MalformedCountedByReason) {
  Parsed p;
  const std::string good = kXml4625;
  struct Case {
    std::string record;
    ParseErrorKind want;
  };
  const Case cases[] = {
      {good.substr(0, good.size() / 2), ParseErrorKind::kTruncatedXml},
      {good.substr(0, good.size() - 1), ParseErrorKind::kTruncatedXml},
      {"<Event><System></Sys></Event>", ParseErrorKind::kInvalidXml},
      {"<Event><EventID>1</EventID></Event>trailing", ParseErrorKind::kInvalidXml},
      {"<Event a=1></Event>", ParseErrorKind::kInvalidXml},
      {"<Event><Data>&bogus;</Data></Event>", ParseErrorKind::kInvalidXml},
      {"<Event><Data>&#xFFFFFFFF;</Data></Event>", ParseErrorKind::kInvalidXml},
      {"<Event><!DOCTYPE x></Event>", ParseErrorKind::kInvalidXml},
      {std::string("<Event>\0\x01\x02</Event>", 18), ParseErrorKind::kBinary},  // 18 bytes, NULs included
      {"<Event><Data>\xff\xfe</Data></Event>", ParseErrorKind::kInvalidUtf8},
  };
  for (const Case& c : cases) {
    bool ok = true;
    const Event& ev = p.parse(c.record, LogFormat::kUnknown, &ok);
    EXPECT_FALSE(ok) << c.record;
    EXPECT_EQ(ev.parse_error, c.want) << c.record << ": " << to_string(ev.parse_error);
    EXPECT_EQ(ev.format, LogFormat::kWinXml);
  }
  // Nesting deeper than any event: refused, not a stack overflow.
  std::string deep = "<Event>";
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  bool ok = true;
  EXPECT_EQ(p.parse(deep, LogFormat::kUnknown, &ok).parse_error, ParseErrorKind::kInvalidXml);
  // Random bytes after the root start never crash.
  std::mt19937 rng(5);
  for (int round = 0; round < 2000; ++round) {
    std::string s = good;
    for (int i = 0; i < 4; ++i) s[rng() % s.size()] = "<>/='\"&;! a\x80"[rng() % 13];
    p.parse(s);
  }
}

}  // namespace
}  // namespace vigil
