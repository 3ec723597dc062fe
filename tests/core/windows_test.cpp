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
#include <set>
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
  // Binary XML written without a template (a forwarded event): decoded.
  const FileRead wec = read_evtx(evtx_dir() / "omerbenamram-evtx/MSExchange_Management_wec.evtx");
  ASSERT_EQ(wec.records.size(), 1u);
  EXPECT_NE(wec.records[0].find("\"Set-Mailbox\""), std::string::npos);
}

// The Rust evtx crate's samples (omerbenamram-evtx in the corpus) against the counts its
// tests/test_full_samples.rs asserts (MANIFEST.txt): vigil decodes at least the crate's records,
// reports the damage it meets by reason, and every number here is exact, so that a reader that
// decodes fewer records, more damage, or records twice fails. Where vigil reads more than the
// crate, the difference is named: the crate stops reading a chunk at its first bad record
// header, vigil looks for the chunk's next record (by magic, size copy and a record id in the
// chunk header's range) and reads on.
TEST(Evtx, EvtxCrateSampleCounts) {
  VIGIL_REQUIRE_CORPUS("evtx/omerbenamram-evtx");
  struct Sample {
    const char* file;
    std::size_t crate_ok, crate_errors;  // upstream's expectation
    std::size_t ok;                      // vigil's, >= crate_ok
    std::map<std::string, int> damaged;  // vigil's damage by reason
  };
  const Sample samples[] = {
      // Chunks 0 and 13 hold stale pages of other chunks after a damaged record: each is a
      // record that does not decode and one damaged stretch; the stale records in it (other
      // chunks' ids) are not read as this chunk's.
      {"2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS%4Operational.evtx", 1910, 4, 1910,
       {{"evtx_record_header", 4}}},
      {"2-vss_7-System.evtx", 1160, 0, 1160, {}},
      {"Application_no_crc32.evtx", 17, 0, 17, {}},
      {"E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2%4Operational.evtx", 340, 0, 340, {}},
      // Records 7-20 of the header's 1-20 were wiped to zeros: space not written, not damage.
      {"Microsoft-Windows-HelloForBusiness%4Operational.evtx", 6, 0, 6, {}},
      {"Microsoft-Windows-LanguagePackSetup%4Operational.evtx", 17, 0, 17, {}},
      {"post-Security.evtx", 126, 0, 126, {}},
      // Two 64 KiB blocks that are not chunks (the crate's 2 errors). In chunk 7 (ids
      // 47628-47705) a wiped stretch after record 47640 ends in a partial record (one damage),
      // then records 47675-47705 follow: read by vigil (31 more than the crate).
      {"sample_with_a_bad_chunk_magic.evtx", 270, 2, 301, {{"evtx_chunk_header", 2}, {"evtx_record_header", 1}}},
      // Record 3 has data size 0 (the crate: "Invalid EVTX record data size, should be equals
      // or greater than 28, found `0`", then 336 iterations: 335 records and that error).
      // vigil counts it and reads the chunk's records 4-117 after it (114 more).
      {"sample-with-zero-data-size-event.evtx", 335, 1, 449, {{"evtx_record_header", 1}}},
  };
  for (const Sample& s : samples) {
    SCOPED_TRACE(s.file);
    auto reader = RecordReader::open((evtx_dir() / "omerbenamram-evtx" / s.file).string());
    ASSERT_TRUE(reader) << reader.error().to_string();
    std::size_t ok = 0;
    std::map<std::string, int> damaged;
    std::set<std::uint64_t> ids;
    std::uint64_t last_id = 0;
    std::vector<std::pair<std::uint64_t, std::string>> damage_after;  // (last record id, reason)
    std::vector<Record> batch;
    while ((*reader)->next_batch(batch))
      for (const Record& rec : batch) {
        if (rec.damaged != nullptr) {
          ++damaged[rec.damaged];
          damage_after.emplace_back(last_id, rec.damaged);
          continue;
        }
        ++ok;
        last_id = rec.record_no;
        EXPECT_TRUE(ids.insert(rec.record_no).second) << "record " << rec.record_no << " read twice";
      }
    EXPECT_TRUE((*reader)->status().ok()) << (*reader)->status().to_string();
    EXPECT_GE(ok, s.crate_ok);
    EXPECT_EQ(ok, s.ok);
    EXPECT_EQ(damaged, s.damaged);
    int errors = 0;
    for (const auto& [reason, n] : damaged) errors += n;
    if (s.ok == s.crate_ok) {
      EXPECT_EQ(static_cast<std::size_t>(errors), s.crate_errors);
    }
    if (std::string_view(s.file) == "sample-with-zero-data-size-event.evtx") {
      // The one damage is the zero-size record, between records 2 and 4.
      ASSERT_EQ(damage_after.size(), 1u);
      EXPECT_EQ(damage_after[0].first, 2u);
      EXPECT_TRUE(ids.count(4) && !ids.count(3));
    }
    if (std::string_view(s.file) == "sample_with_a_bad_chunk_magic.evtx") {
      for (std::uint64_t id = 47675; id <= 47705; ++id) EXPECT_TRUE(ids.count(id)) << id;
      for (std::uint64_t id = 47641; id < 47675; ++id) EXPECT_FALSE(ids.count(id)) << id;
    }
    if (std::string_view(s.file).starts_with("2-vss_0-")) {
      // The stale pages' records (ids of chunks absent from the file) are not read.
      for (std::uint64_t id : ids) EXPECT_FALSE(id >= 6951742 && id <= 6951771) << id;
      for (std::uint64_t id : ids) EXPECT_FALSE(id >= 6952125 && id <= 6952155) << id;
    }
  }
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

// Builds a chunk of one record: <Event> with one element <V{n}> per substitution value, the
// template defined in place, as Windows writes a record with a new template.
class OneRecordChunk {
 public:
  struct Value {
    std::uint8_t type;
    std::string bytes;
  };
  explicit OneRecordChunk(const std::vector<Value>& values) : chunk_(evtx::kChunkSize, '\0') {
    std::memcpy(chunk_.data(), "ElfChnk\0", 8);
    put64(24, 7);  // first and last record id
    put64(32, 7);
    at_ = 512 + 24;
    append("\x0f\x01\x01\x00", 4);
    u8(0x0c), u8(0x01), u32(1);
    u32(static_cast<std::uint32_t>(at_ + 4));  // the definition follows in place
    const std::size_t def = at_;
    at_ += 24;
    const std::size_t body = at_;
    append("\x0f\x01\x01\x00", 4);
    open("Event", true);
    u8(0x02);
    for (std::size_t i = 0; i < values.size(); ++i) {
      open("V" + std::to_string(i), true);
      u8(0x02);
      u8(0x0d), u16(static_cast<std::uint16_t>(i)), u8(values[i].type);
      u8(0x04);
    }
    u8(0x04), u8(0x00);
    put32(def + 20, static_cast<std::uint32_t>(at_ - body));
    u32(static_cast<std::uint32_t>(values.size()));
    for (const Value& v : values) u16(static_cast<std::uint16_t>(v.bytes.size())), u8(v.type), u8(0);
    values_at_ = at_;
    for (const Value& v : values) append(v.bytes.data(), v.bytes.size());
    const auto size = static_cast<std::uint32_t>((at_ + 4 - 512 + 7) / 8 * 8);
    put32(512, 0x00002a2a);
    put32(516, size);
    put64(520, 7);
    put32(512 + size - 4, size);
    put32(48, 512 + size);
  }

  // Binary XML for a substitution value of type 0x21: <Inner>text</Inner>, elements without a
  // dependency id as in values. Offsets are where it lands: `at` = the value's chunk offset.
  static std::string nested_fragment(std::size_t at) {
    OneRecordChunk w;
    w.at_ = at;
    w.append("\x0f\x01\x01\x00", 4);
    w.open("Inner", false);
    w.u8(0x02);
    w.u8(0x05), w.u8(0x01), w.u16(4);
    w.append("t\0e\0x\0t\0", 8);
    w.u8(0x04), w.u8(0x00);
    return w.chunk_.substr(at, w.at_ - at);
  }

  // The record's JSON, or "damaged".
  std::string decode() const {
    evtx::ChunkDecoder decoder;
    evtx::EvtxStats stats;
    std::string out;
    std::vector<evtx::DecodedRecord> records;
    decoder.decode(reinterpret_cast<const std::uint8_t*>(chunk_.data()), 64, out, records, stats);
    if (records.size() != 1 || records[0].damage != evtx::EvtxDamage::kNone) return "damaged";
    return out.substr(records[0].offset, records[0].size);
  }

  // The chunk offset of the first value's bytes.
  std::size_t values_at() const { return values_at_; }

 private:
  OneRecordChunk() : chunk_(evtx::kChunkSize, '\0') {}
  void put32(std::size_t at, std::uint32_t v) { std::memcpy(chunk_.data() + at, &v, 4); }
  void put64(std::size_t at, std::uint64_t v) { std::memcpy(chunk_.data() + at, &v, 8); }
  void append(const char* p, std::size_t n) {
    chunk_.replace(at_, n, p, n);
    at_ += n;
  }
  void u8(std::uint8_t v) { append(reinterpret_cast<const char*>(&v), 1); }
  void u16(std::uint16_t v) { append(reinterpret_cast<const char*>(&v), 2); }
  void u32(std::uint32_t v) { append(reinterpret_cast<const char*>(&v), 4); }
  // OpenStartElement with the name in place (next offset, hash, count, UTF-16, NUL).
  void open(const std::string& name, bool dependency_id) {
    u8(0x01);
    if (dependency_id) u16(0xFFFF);
    u32(0);
    u32(static_cast<std::uint32_t>(at_ + 4));
    u32(0), u16(0), u16(static_cast<std::uint16_t>(name.size()));
    for (char c : name) u16(static_cast<std::uint8_t>(c));
    u16(0);
  }

  std::string chunk_;
  std::size_t at_ = 0;
  std::size_t values_at_ = 0;
};

std::string le(std::initializer_list<std::uint64_t> items, int width) {
  std::string out;
  for (std::uint64_t v : items)
    for (int i = 0; i < width; ++i) out += static_cast<char>(v >> (8 * i) & 0xFF);
  return out;
}
std::string utf16(std::string_view ascii) {
  std::string out;
  for (char c : ascii) out += c, out += '\0';
  return out;
}
std::string sid(std::initializer_list<std::uint32_t> subs, std::uint8_t authority) {
  std::string out{'\x01', static_cast<char>(subs.size()), 0, 0, 0, 0, 0, static_cast<char>(authority)};
  for (std::uint32_t v : subs) out += le({v}, 4);
  return out;
}

// Every value type of [MS-EVEN6]'s type system (2.2.12, 3.1.4.7.3) as a substitution value,
// every array type (0x80 | type), and values Windows' own writers can leave odd (a string of an
// odd byte count, a SID cut short, a type with no text form): each renders, none is left out.
TEST(Evtx, EveryValueTypeAndArrayRenders) {
  const std::string guid("\x33\x22\x11\x00\x55\x44\x77\x66\x88\x99\xAA\xBB\xCC\xDD\xEE\xFF", 16);
  const std::string systemtime = le({2019, 3, 2, 19, 23, 34, 5, 123}, 2);  // a Tuesday
  const std::uint64_t filetime = 132000000000000000ULL;                     // 2019-04-17T18:40:00Z
  float f32 = 1.5f;
  double f64 = -2.25;
  std::string real32(4, '\0'), real64(8, '\0');
  std::memcpy(real32.data(), &f32, 4);
  std::memcpy(real64.data(), &f64, 8);
  struct Case {
    std::uint8_t type;
    std::string bytes;
    std::string json;  // the member's value as written
  };
  std::vector<Case> cases = {
      {0x01, utf16("ab"), R"("ab")"},
      {0x01, utf16("ab") + 'c', R"("ab")"},  // odd byte count: the half unit is dropped
      {0x02, "xy", R"("xy")"},
      {0x03, le({0xFB}, 1), "-5"},
      {0x04, le({250}, 1), "250"},
      {0x05, le({static_cast<std::uint16_t>(-300)}, 2), "-300"},
      {0x06, le({65000}, 2), "65000"},
      {0x07, le({static_cast<std::uint32_t>(-70000)}, 4), "-70000"},
      {0x08, le({4000000000u}, 4), "4000000000"},
      {0x09, le({static_cast<std::uint64_t>(-5000000000LL)}, 8), "-5000000000"},
      {0x0a, le({18446744073709551615ULL}, 8), "18446744073709551615"},
      {0x0b, real32, "1.5"},
      {0x0c, real64, "-2.25"},
      {0x0d, le({1}, 4), "true"},
      {0x0e, std::string("\x01\xab", 2), R"("01AB")"},
      {0x0f, guid, R"("{00112233-4455-6677-8899-AABBCCDDEEFF}")"},
      {0x10, le({0x1000}, 8), R"("0x1000")"},
      {0x10, le({0x20}, 4), R"("0x20")"},
      {0x11, le({filetime}, 8), R"("2019-04-17T18:40:00.000000Z")"},
      {0x12, systemtime, R"("2019-03-19T23:34:05.123000Z")"},
      {0x13, sid({21, 1, 2, 3}, 5), R"("S-1-5-21-1-2-3")"},
      {0x13, sid({21, 1}, 5).substr(0, 12), R"("010200000000000515000000")"},  // cut: hex
      {0x14, le({0x3e7}, 4), R"("0x3e7")"},
      {0x15, le({0x8020000000000000ULL}, 8), R"("0x8020000000000000")"},
      {0x20, le({0xDEADBEEF}, 4), R"("EFBEADDE")"},  // EvtHandle: no text form, its bytes
      {0x00, le({0}, 4), "null"},                    // NullType: no value, whatever its size
      {0x23, utf16("<a/>"), R"("<a/>")"},
      {0x81, utf16("a") + le({0}, 2) + utf16("bc") + le({0}, 2), R"(["a","bc"])"},
      {0x82, std::string("x\0yz\0", 5), R"(["x","yz"])"},
      {0x83, le({1, 0xFF}, 1), "[1,-1]"},
      {0x84, le({1, 255}, 1), "[1,255]"},
      {0x85, le({2, 0xFFFE}, 2), "[2,-2]"},
      {0x86, le({3, 65535}, 2), "[3,65535]"},
      {0x87, le({0xFFFFFFFF, 7}, 4), "[-1,7]"},
      {0x88, le({4000000000u, 8}, 4), "[4000000000,8]"},
      {0x89, le({static_cast<std::uint64_t>(-9), 9}, 8), "[-9,9]"},
      {0x8a, le({10, 11}, 8), "[10,11]"},
      {0x8b, real32 + real32, "[1.5,1.5]"},
      {0x8c, real64, "[-2.25]"},
      {0x8d, le({1, 0}, 4), "[true,false]"},
      {0x8f, guid + guid, R"(["{00112233-4455-6677-8899-AABBCCDDEEFF}","{00112233-4455-6677-8899-AABBCCDDEEFF}"])"},
      {0x90, le({1, 0x7ff}, 8), R"(["0x1","0x7ff"])"},
      {0x91, le({filetime}, 8), R"(["2019-04-17T18:40:00.000000Z"])"},
      {0x92, systemtime, R"(["2019-03-19T23:34:05.123000Z"])"},
      {0x93, sid({18}, 5) + sid({32, 544}, 5), R"(["S-1-5-18","S-1-5-32-544"])"},
      {0x94, le({1, 0xff}, 4), R"(["0x1","0xff"])"},
      {0x95, le({0x10, 0x8000000000000000ULL}, 8), R"(["0x10","0x8000000000000000"])"},
      {0x88, le({5}, 4) + "\x01\x02", R"([5,"0102"])"},  // a partial last item: its bytes
      {0x8e, std::string("\x01\x02", 2), R"("0102")"},     // binary has no array form: hex
  };
  std::vector<OneRecordChunk::Value> values;
  for (const Case& c : cases) values.push_back({c.type, c.bytes});
  // Last, a value of binary XML (0x21): its element joins the tree. Its in-place name's offset
  // is where it lands, after the other values (its size does not depend on it).
  std::size_t before = 0;
  for (const OneRecordChunk::Value& v : values) before += v.bytes.size();
  values.push_back({0x21, OneRecordChunk::nested_fragment(0)});
  values.back().bytes = OneRecordChunk::nested_fragment(OneRecordChunk(values).values_at() + before);
  const std::string json = OneRecordChunk(values).decode();
  ASSERT_NE(json, "damaged");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string member = "\"V" + std::to_string(i) + "\":" + cases[i].json;
    EXPECT_NE(json.find(member + ",") , std::string::npos)
        << "type 0x" << std::hex << int{cases[i].type} << ": want " << member << " in " << json;
  }
  EXPECT_NE(json.find("\"V" + std::to_string(cases.size()) + "\":{\"Inner\":\"text\"}"), std::string::npos) << json;
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
