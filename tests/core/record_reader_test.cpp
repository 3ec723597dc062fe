#include "core/record_reader.h"
#include "tests/support/corpora.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

// Heap accounting for the bounded-memory test: every operator new of this program is counted.
// Sanitizers bring their own operator new; there the peak is not checked.
#if defined(__SANITIZE_ADDRESS__)
#define VIGIL_COUNT_HEAP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VIGIL_COUNT_HEAP 0
#endif
#endif
#ifndef VIGIL_COUNT_HEAP
#define VIGIL_COUNT_HEAP 1
#endif

namespace {
std::atomic<std::size_t> g_live_bytes{0};
std::atomic<std::size_t> g_peak_bytes{0};
}  // namespace

#if VIGIL_COUNT_HEAP
namespace {
void* counted_alloc(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) std::abort();
  const std::size_t live = g_live_bytes.fetch_add(malloc_usable_size(p)) + malloc_usable_size(p);
  std::size_t peak = g_peak_bytes.load();
  while (live > peak && !g_peak_bytes.compare_exchange_weak(peak, live)) {
  }
  return p;
}
void counted_free(void* p) {
  if (p == nullptr) return;
  g_live_bytes.fetch_sub(malloc_usable_size(p));
  std::free(p);
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
#endif

namespace vigil {
namespace {

namespace fs = std::filesystem;

// An owned copy of a Record, to compare across batches.
struct Rec {
  std::string bytes;
  std::uint64_t no = 0;
  bool oversize = false;
  bool unterminated = false;
  bool operator==(const Rec&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Rec& r) {
  os << "#" << r.no << (r.oversize ? " oversize" : "") << (r.unterminated ? " unterminated" : "") << " ["
     << r.bytes.substr(0, 120) << (r.bytes.size() > 120 ? "..." : "") << "] (" << r.bytes.size() << " bytes)";
  return os;
}

// Reads the 64 bytes after every record: ASan flags it if the padding is not there.
unsigned touch_padding(const Record& r) {
  const volatile char* p = r.bytes.data() + r.bytes.size();
  unsigned sum = 0;
  for (std::size_t i = 0; i < kRecordPadding; ++i) sum += static_cast<unsigned char>(p[i]);
  return sum;
}

std::vector<Rec> drain(RecordReader& reader, std::size_t* batches = nullptr) {
  std::vector<Rec> out;
  std::vector<Record> batch;
  std::size_t n = 0;
  volatile unsigned sink = 0;
  while (reader.next_batch(batch)) {
    EXPECT_FALSE(batch.empty());
    ++n;
    for (const Record& r : batch) {
      sink = sink + touch_padding(r);
      out.push_back(Rec{std::string(r.bytes), r.record_no, r.oversize, r.unterminated_json});
    }
  }
  EXPECT_TRUE(batch.empty());
  if (batches != nullptr) *batches = n;
  return out;
}

std::vector<Rec> read_all(std::string_view input, RecordReaderOptions options = {}) {
  auto reader = RecordReader::from_memory(input, options);
  std::vector<Rec> out = drain(*reader);
  EXPECT_TRUE(reader->status().ok()) << reader->status().to_string();
  EXPECT_EQ(reader->bytes_read(), input.size());
  return out;
}

// The specification, written for clarity over the whole input at once.
std::vector<Rec> reference_split(std::string_view s, std::size_t max, bool join) {
  std::vector<Rec> out;
  std::uint64_t line = 1;
  auto push = [&](std::size_t start, std::size_t len, bool unterminated) {
    const bool oversize = len > max;
    out.push_back(Rec{std::string(s.substr(start, oversize ? max : len)), line, oversize, unterminated});
  };
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  std::size_t pos = 0;
  while (pos < s.size()) {
    const std::size_t nl = s.find('\n', pos);
    const std::size_t line_end = nl == std::string_view::npos ? s.size() : nl;
    const std::size_t next = nl == std::string_view::npos ? s.size() : nl + 1;
    std::size_t end = line_end;
    if (end > pos && s[end - 1] == '\r') --end;
    std::size_t first = pos;
    while (first < end && blank(s[first])) ++first;
    if (first == end) {
      ++line;
      pos = next;
      continue;
    }
    if (join && s[first] == '{') {
      std::size_t last = end;
      while (blank(s[last - 1])) --last;
      if (s[last - 1] == '{' || s[last - 1] == '[' || s[last - 1] == ',') {
        int depth = 0;
        bool in_string = false;
        bool escaped = false;
        std::uint64_t newlines = 0;
        std::size_t i = first;
        bool closed = false;
        for (; i < s.size(); ++i) {
          const char c = s[i];
          if (c == '\n') ++newlines;
          if (escaped) {  // a backslash escapes the next byte, in a string or not
            escaped = false;
          } else if (c == '\\') {
            escaped = true;
          } else if (c == '"') {
            in_string = !in_string;
          } else if (!in_string && c == '{') {
            ++depth;
          } else if (!in_string && c == '}') {
            if (--depth == 0) {
              closed = true;
              break;
            }
          }
        }
        if (closed) {
          push(first, i + 1 - first, false);
          line += newlines;
          pos = i + 1;
          continue;
        }
        // Still open at the end of input: oversize wins over unterminated.
        if (s.size() - first > max) {
          push(first, s.size() - first, false);
        } else {
          std::size_t e = s.size();
          while (e > first && (blank(s[e - 1]) || s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
          push(first, e - first, true);
        }
        break;
      }
    }
    push(pos, end - pos, false);
    ++line;
    pos = next;
  }
  return out;
}

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good());
}

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// gzopen(path, "ab") appends a new gzip member, as `cat a.gz b.gz` would.
void write_gzip_member(const fs::path& path, std::string_view bytes, const char* mode) {
  gzFile gz = gzopen(path.c_str(), mode);
  ASSERT_NE(gz, nullptr);
  std::size_t off = 0;
  while (off < bytes.size()) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(bytes.size() - off, 1 << 20));
    ASSERT_EQ(gzwrite(gz, bytes.data() + off, chunk), static_cast<int>(chunk));
    off += chunk;
  }
  ASSERT_EQ(gzclose(gz), Z_OK);
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vigil_reader_XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::vector<std::string> bytes_of(const std::vector<Rec>& recs) {
  std::vector<std::string> out;
  for (const Rec& r : recs) out.push_back(r.bytes);
  return out;
}
std::vector<std::uint64_t> numbers_of(const std::vector<Rec>& recs) {
  std::vector<std::uint64_t> out;
  for (const Rec& r : recs) out.push_back(r.no);
  return out;
}

using Strings = std::vector<std::string>;
using Numbers = std::vector<std::uint64_t>;

// ---------------------------------------------------------------------------------------------
// Lines

TEST(RecordReader, LfLines) {
  auto recs = read_all("alpha\nbeta\ngamma\n");
  EXPECT_EQ(bytes_of(recs), (Strings{"alpha", "beta", "gamma"}));
  EXPECT_EQ(numbers_of(recs), (Numbers{1, 2, 3}));
}

TEST(RecordReader, CrlfLinesAreStripped) {
  auto recs = read_all("alpha\r\nbeta\r\ngamma\r\n");
  EXPECT_EQ(bytes_of(recs), (Strings{"alpha", "beta", "gamma"}));
  EXPECT_EQ(numbers_of(recs), (Numbers{1, 2, 3}));
}

TEST(RecordReader, FinalLineWithoutNewlineIsARecord) {
  auto recs = read_all("alpha\nbeta");
  EXPECT_EQ(bytes_of(recs), (Strings{"alpha", "beta"}));
  EXPECT_EQ(read_all("x\r\ny\r").back().bytes, "y");
}

TEST(RecordReader, EmptyAndBlankLinesAreSkippedButCounted) {
  auto recs = read_all("\n\nalpha\n\r\n  \t \nbeta\n\n\ngamma\n\n");
  EXPECT_EQ(bytes_of(recs), (Strings{"alpha", "beta", "gamma"}));
  EXPECT_EQ(numbers_of(recs), (Numbers{3, 6, 9}));
}

TEST(RecordReader, LeadingBlanksAndInnerCarriageReturnsAreKept) {
  auto recs = read_all("  indented\na\rb\n");
  EXPECT_EQ(bytes_of(recs), (Strings{"  indented", "a\rb"}));
}

TEST(RecordReader, EmptyInput) {
  auto reader = RecordReader::from_memory("");
  std::vector<Record> batch{Record{}};
  EXPECT_FALSE(reader->next_batch(batch));
  EXPECT_TRUE(batch.empty());
  EXPECT_TRUE(reader->status().ok());
  EXPECT_FALSE(reader->next_batch(batch));
  EXPECT_TRUE(read_all("\n\n\r\n").empty());
}

TEST(RecordReader, SmallBatchesCarryLinesOverRefills) {
  std::string input;
  Strings expected;
  for (int i = 0; i < 500; ++i) {
    std::string line = "line-" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 97), 'x');
    expected.push_back(line);
    input += line + (i % 3 == 0 ? "\r\n" : "\n");
  }
  RecordReaderOptions options;
  options.batch_bytes = 64;
  auto reader = RecordReader::from_memory(input, options);
  std::size_t batches = 0;
  auto recs = drain(*reader, &batches);
  EXPECT_EQ(bytes_of(recs), expected);
  EXPECT_GT(batches, 200u);  // many refills, so many lines straddled a buffer end
  EXPECT_EQ(recs.back().no, 500u);
}

// ---------------------------------------------------------------------------------------------
// JSON documents

TEST(RecordReader, PrettyDocumentsBackToBackAndBetweenNdjson) {
  const std::string doc1 = "{\n  \"a\": 1,\n  \"b\": {\n    \"c\": [1, 2]\n  }\n}";
  const std::string doc2 = "{\r\n  \"x\": \"y\"\r\n}";
  const std::string input = doc1 + "\n" + doc2 + "\r\n" + "{\"n\":1}\n" + "  " + doc1 + "\n" + "{\"n\":2}\n";
  auto recs = read_all(input);
  EXPECT_EQ(bytes_of(recs), (Strings{doc1, doc2, "{\"n\":1}", doc1, "{\"n\":2}"}));
  EXPECT_EQ(numbers_of(recs), (Numbers{1, 7, 10, 11, 17}));
}

TEST(RecordReader, BracesInStringsAndEscapedQuotes) {
  const std::string doc =
      "{\n"
      "  \"open\": \"{{{\",\n"
      "  \"close\": \"}}}\",\n"
      "  \"quote\": \"he said \\\"}\\\" loudly\",\n"
      "  \"backslash\": \"C:\\\\\",\n"
      "  \"brace after backslash\": \"\\\\}\"\n"
      "}";
  auto recs = read_all(doc + "\nafter\n");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].bytes, doc);
  EXPECT_FALSE(recs[0].unterminated);
  EXPECT_EQ(recs[1].bytes, "after");
  EXPECT_EQ(recs[1].no, 8u);
}

TEST(RecordReader, LineStartingObjectThatClosesInsideAStringIsJoined) {
  // Ends in a comma, as pretty-printers break lines: the depth scan sees the '}' is inside a
  // string and joins the next line.
  auto recs = read_all("{\"a\":\"}\",\n\"b\":2}\nnext\n");
  EXPECT_EQ(bytes_of(recs), (Strings{"{\"a\":\"}\",\n\"b\":2}", "next"}));
  EXPECT_EQ(numbers_of(recs), (Numbers{1, 3}));
}

TEST(RecordReader, TruncatedOneLineObjectDoesNotSwallowTheNextLines) {
  // A one-line record cut short (not ending in '{', '[' or ',') stays one broken record.
  auto recs = read_all("{\"a\":1\nNov 25 10:00:00 web01 sshd[1]: Failed password\n{\"b\":2}\n");
  EXPECT_EQ(bytes_of(recs), (Strings{"{\"a\":1", "Nov 25 10:00:00 web01 sshd[1]: Failed password", "{\"b\":2}"}));
  EXPECT_EQ(numbers_of(recs), (Numbers{1, 2, 3}));
}

TEST(RecordReader, TextAfterTheClosingBraceIsReadAsALine) {
  auto recs = read_all("{\n\"a\":1\n}{\n\"b\":2\n}  \ntrailer\n{\n}, tail\n");
  EXPECT_EQ(bytes_of(recs), (Strings{"{\n\"a\":1\n}", "{\n\"b\":2\n}", "trailer", "{\n}", ", tail"}));
  EXPECT_EQ(numbers_of(recs), (Numbers{1, 3, 6, 7, 8}));
}

TEST(RecordReader, UnterminatedDocumentAtEndOfInput) {
  auto recs = read_all("first\n{\n  \"a\": {\n    \"b\": 1\n  }\n\n");
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].bytes, "{\n  \"a\": {\n    \"b\": 1\n  }");
  EXPECT_TRUE(recs[1].unterminated);
  EXPECT_FALSE(recs[1].oversize);
  EXPECT_EQ(recs[1].no, 2u);
  EXPECT_FALSE(recs[0].unterminated);
}

TEST(RecordReader, JoiningCanBeTurnedOff) {
  RecordReaderOptions options;
  options.join_json_documents = false;
  auto recs = read_all("{\n\"a\": 1\n}\n", options);
  EXPECT_EQ(bytes_of(recs), (Strings{"{", "\"a\": 1", "}"}));
}

TEST(RecordReader, OversizeDocumentIsTruncatedAndSkippedToItsEnd) {
  std::string doc = "{\n";
  for (int i = 0; i < 100; ++i) doc += "  \"k" + std::to_string(i) + "\": \"}{ value\",\n";
  doc += "  \"end\": 1\n}";
  RecordReaderOptions options;
  options.max_record_bytes = 300;
  options.batch_bytes = 128;
  auto recs = read_all("before\n" + doc + "\nafter\n", options);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[1].bytes, doc.substr(0, 300));
  EXPECT_TRUE(recs[1].oversize);
  EXPECT_EQ(recs[1].no, 2u);
  EXPECT_EQ(recs[2].bytes, "after");
  EXPECT_EQ(recs[2].no, 105u);
}

// A pretty-printed multi-document file of the Sigma regression corpus: every record must be one
// whole document that simdjson accepts in place (which also proves the padding is there).
TEST(RecordReader, SigmaRegressionCorpus) {
  VIGIL_REQUIRE_CORPUS("sigma/regression_data");
  const fs::path root = fs::path(vigil::testing::corpora_dir()) / "sigma" / "regression_data";
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());

  std::string all;
  std::size_t expected_docs = 0;
  simdjson::dom::parser parser;
  for (const fs::path& file : files) {
    const std::string text = read_file(file);
    simdjson::padded_string padded(text);
    simdjson::dom::document_stream stream;
    ASSERT_EQ(parser.parse_many(padded).get(stream), simdjson::SUCCESS);
    std::size_t docs = 0;
    for (auto doc : stream) {
      ASSERT_EQ(doc.error(), simdjson::SUCCESS) << file;
      ++docs;
    }
    expected_docs += docs;
    all += text;
    all += "{\"ndjson\": \"between files\"}\n";
    ++expected_docs;
  }

  for (std::size_t batch_bytes : {std::size_t{4} << 20, std::size_t{4096}}) {
    RecordReaderOptions options;
    options.batch_bytes = batch_bytes;
    auto reader = RecordReader::from_memory(all, options);
    std::vector<Record> batch;
    std::size_t docs = 0;
    while (reader->next_batch(batch)) {
      for (const Record& r : batch) {
        ++docs;
        ASSERT_FALSE(r.oversize);
        ASSERT_FALSE(r.unterminated_json);
        simdjson::dom::element element;
        const auto error = parser.parse(r.bytes.data(), r.bytes.size(), false).get(element);
        ASSERT_EQ(error, simdjson::SUCCESS) << "record " << r.record_no << ": " << simdjson::error_message(error);
        ASSERT_TRUE(element.is_object());
      }
    }
    EXPECT_TRUE(reader->status().ok());
    EXPECT_EQ(docs, expected_docs) << "batch_bytes " << batch_bytes;
    EXPECT_GT(docs, 2 * files.size());  // the files hold several documents each
  }
}

// ---------------------------------------------------------------------------------------------
// Differential test against reference_split over random inputs

class RandomInput {
 public:
  explicit RandomInput(std::uint32_t seed) : rng_(seed) {}

  // `max` is max_record_bytes: some lines and documents go over it when it is small.
  std::string make(std::size_t pieces, std::size_t max) {
    const std::size_t long_len = std::min<std::size_t>(max + 40, 2000);
    std::string s;
    for (std::size_t i = 0; i < pieces; ++i) {
      switch (pick(10)) {
        case 0:
        case 1:
        case 2:
          s += plain_line(pick(2) ? 40 : long_len);
          break;
        case 3:
          s += std::string(pick(3), ' ') + (pick(2) ? "\r" : "");  // blank
          break;
        case 4:
        case 5:
          s += ndjson_line(pick(4) == 0 ? long_len : 30);
          break;
        default:
          s += std::string(pick(3), ' ') + pretty_doc(pick(5) == 0 ? 12 : 3);
          break;
      }
      s += line_end();
    }
    switch (pick(4)) {
      case 0:  // no final newline
        s += plain_line(20);
        break;
      case 1:  // a document that never closes
        s += "{\n  \"open\": {\n    \"k\": \"v}\"" + line_end() + std::string(pick(3), '\n');
        break;
      default:
        break;
    }
    return s;
  }

 private:
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  std::string line_end() { return pick(3) == 0 ? "\r\n" : "\n"; }
  char any_char() {
    static constexpr char kChars[] = "abcXYZ019 \t{}[]\":,\\\r";
    return kChars[pick(sizeof(kChars) - 1)];
  }
  // No line feed; does not start with a blank or '{' (that is a document start; see below).
  std::string plain_line(std::size_t max_len) {
    std::string s(1, static_cast<char>('a' + pick(26)));
    const std::size_t len = pick(max_len + 1);
    for (std::size_t i = 0; i < len; ++i) s += any_char();
    return s;
  }
  // String contents with escapes, braces and quotes; valid JSON.
  std::string json_string(std::size_t max_len) {
    std::string s = "\"";
    const std::size_t len = pick(max_len + 1);
    for (std::size_t i = 0; i < len; ++i) {
      switch (pick(8)) {
        case 0: s += "\\\""; break;
        case 1: s += "\\\\"; break;
        case 2: s += pick(2) ? "{" : "}"; break;
        case 3: s += "\\n"; break;
        default: s += static_cast<char>('a' + pick(26)); break;
      }
    }
    return s + "\"";
  }
  std::string ndjson_line(std::size_t max_len) {
    std::string s = "{\"k\":" + json_string(max_len) + ",\"o\":{\"x\":" + json_string(5) + "}}";
    return s;
  }
  std::string pretty_doc(std::size_t fields) {
    std::string s = "{" + line_end();
    const std::size_t n = pick(fields + 1);
    for (std::size_t i = 0; i < n; ++i) {
      s += "  " + json_string(8) + ": ";
      if (pick(3) == 0) {
        s += "{" + line_end() + "    \"in\": " + json_string(30) + line_end() + "  }";
      } else {
        s += json_string(pick(6) == 0 ? 400 : 30);
      }
      if (i + 1 < n) s += ",";
      s += line_end();
    }
    s += "}";
    switch (pick(6)) {
      case 0: s += "  "; break;
      case 1: s += " trailer"; break;
      case 2: s += "{\"next\":1}"; break;
      default: break;
    }
    return s;
  }

  std::mt19937 rng_;
};

TEST(RecordReader, MatchesReferenceOnRandomInputs) {
  std::size_t oversize = 0, unterminated = 0, multi_line = 0, crlf = 0;
  for (std::uint32_t seed = 1; seed <= 60; ++seed) {
    RandomInput gen(seed);
    const std::size_t max = seed % 3 == 0 ? 1u << 20 : 100 + seed * 7;
    const std::string input = gen.make(150, max);
    crlf += input.find("\r\n") != std::string::npos;
    for (bool join : {true, false}) {
      const std::vector<Rec> expected = reference_split(input, max, join);
      for (const Rec& r : expected) {
        oversize += r.oversize;
        unterminated += r.unterminated;
        multi_line += r.bytes.find('\n') != std::string::npos;
      }
      for (std::size_t batch_bytes : {1, 2, 3, 7, 64, 100, 333, 4096, 1 << 22}) {
        RecordReaderOptions options;
        options.max_record_bytes = max;
        options.batch_bytes = batch_bytes;
        options.join_json_documents = join;
        const std::vector<Rec> got = read_all(input, options);
        ASSERT_EQ(got.size(), expected.size()) << "seed " << seed << " batch " << batch_bytes << " join " << join;
        for (std::size_t i = 0; i < got.size(); ++i) {
          ASSERT_EQ(got[i], expected[i])
              << "seed " << seed << " batch " << batch_bytes << " join " << join << " record " << i;
        }
      }
    }
  }
  // The generator must reach the cases this test is for.
  EXPECT_GT(oversize, 100u);
  EXPECT_GT(unterminated, 5u);
  EXPECT_GT(multi_line, 500u);
  EXPECT_EQ(crlf, 60u);
}

// Documents made of quotes, backslash runs, braces and line feeds, at every alignment: the
// 64-byte block scan and the byte-at-a-time tail must split them the same way as the reference.
TEST(RecordReader, JunkDocumentsMatchReference) {
  std::mt19937 rng(11);
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  static constexpr char kJunk[] = "\\\\\"\"{{}}}\nab ";
  std::size_t closed_docs = 0;
  for (int round = 0; round < 400; ++round) {
    std::string input(pick(70), 'p');  // shifts the document against the block grid
    input += "\n";
    const std::size_t docs = 1 + pick(3);
    for (std::size_t d = 0; d < docs; ++d) {
      std::string doc = "{\n";
      const std::size_t len = pick(400);
      for (std::size_t i = 0; i < len; ++i) doc += kJunk[pick(sizeof(kJunk) - 1)];
      input += doc + "\n}}}}\"}}}}\n" + "line after " + std::to_string(d) + "\n";
    }
    const std::size_t max = round % 2 == 0 ? 1u << 20 : 150;
    const std::vector<Rec> expected = reference_split(input, max, true);
    for (const Rec& r : expected) closed_docs += !r.unterminated && r.bytes.size() > 1 && r.bytes.front() == '{';
    for (std::size_t batch_bytes : {1, 5, 64, 200, 4096}) {
      RecordReaderOptions options;
      options.max_record_bytes = max;
      options.batch_bytes = batch_bytes;
      const std::vector<Rec> got = read_all(input, options);
      ASSERT_EQ(got.size(), expected.size()) << "round " << round << " batch " << batch_bytes;
      for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(got[i], expected[i]) << "round " << round << " batch " << batch_bytes << " record " << i;
      }
    }
  }
  EXPECT_GT(closed_docs, 200u);
}

// ---------------------------------------------------------------------------------------------
// Oversize

TEST(RecordReader, OversizeLineIsTruncatedAndMemoryStaysBounded) {
  TempDir dir;
  const fs::path path = dir / "big.log";
  constexpr std::size_t kMax = 1u << 20;
  constexpr std::size_t kBigLine = 10u << 20;
  {
    std::string input = "first\n";
    input += std::string(kBigLine, 'x') + "\r\n";
    input += "second\n";
    input += std::string(kMax, 'y') + "\n";          // exactly max: not oversize
    input += std::string(kMax + 1, 'z') + "\r\n";    // one over
    input += "{\"k\":\"" + std::string(3u << 20, 'j') + "\"}\n";  // oversize NDJSON
    input += "last";
    write_file(path, input);
  }
  const std::size_t live_before = g_live_bytes.load();
  g_peak_bytes.store(live_before);
  std::vector<std::string> heads;
  std::vector<std::uint64_t> numbers;
  std::vector<bool> oversize;
  {
    RecordReaderOptions options;
    options.max_record_bytes = kMax;
    auto opened = RecordReader::open(path.string(), options);
    ASSERT_TRUE(opened.has_value());
    RecordReader& reader = **opened;
    std::vector<Record> batch;
    batch.reserve(64);
    while (reader.next_batch(batch)) {
      for (const Record& r : batch) {
        ASSERT_LE(r.bytes.size(), kMax);
        (void)touch_padding(r);
        heads.push_back(std::string(r.bytes.substr(0, 8)) + ":" + std::to_string(r.bytes.size()));
        numbers.push_back(r.record_no);
        oversize.push_back(r.oversize);
      }
    }
    EXPECT_TRUE(reader.status().ok());
  }
  const std::size_t peak = g_peak_bytes.load() - live_before;
  EXPECT_EQ(heads, (Strings{"first:5", "xxxxxxxx:1048576", "second:6", "yyyyyyyy:1048576", "zzzzzzzz:1048576",
                            "{\"k\":\"jj:1048576", "last:4"}));
  EXPECT_EQ(numbers, (Numbers{1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(oversize, (std::vector<bool>{false, true, false, false, true, true, false}));
  // Buffer: 4 MiB batch + 1 MiB max. A 10 MiB line must not be held whole.
  if (VIGIL_COUNT_HEAP) {
    EXPECT_LT(peak, std::size_t{8} << 20) << "peak heap " << peak;
  }
}

TEST(RecordReader, ZeroMaxRecordBytesMakesEveryRecordOversize) {
  RecordReaderOptions options;
  options.max_record_bytes = 0;
  auto recs = read_all("a\n\nbc\n", options);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_TRUE(recs[0].oversize && recs[1].oversize);
  EXPECT_EQ(recs[1].no, 3u);
  EXPECT_TRUE(recs[1].bytes.empty());
}

// ---------------------------------------------------------------------------------------------
// Files, gzip, stdin

TEST(RecordReader, OpenErrors) {
  TempDir dir;
  auto missing = RecordReader::open((dir / "nope.log").string());
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.error().message().find("nope.log"), std::string::npos);

  auto directory = RecordReader::open(dir.path().string());
  ASSERT_FALSE(directory.has_value());
  EXPECT_EQ(directory.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(directory.error().message().find(dir.path().string()), std::string::npos);
}

TEST(RecordReader, PlainFile) {
  TempDir dir;
  const fs::path path = dir / "a.log";
  write_file(path, "one\r\ntwo\n\nthree");
  auto opened = RecordReader::open(path.string());
  ASSERT_TRUE(opened.has_value());
  auto recs = drain(**opened);
  EXPECT_EQ(bytes_of(recs), (Strings{"one", "two", "three"}));
  EXPECT_EQ(numbers_of(recs), (Numbers{1, 2, 4}));
  EXPECT_EQ((*opened)->bytes_read(), 15u);
}

std::string numbered_lines(std::size_t n, const std::string& prefix) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += prefix + std::to_string(i) + " GET /index.html?q=" + std::to_string(i * 7919) + "\n";
  return s;
}

TEST(RecordReader, GzipFileWithTwoMembersIsDetectedByMagic) {
  TempDir dir;
  const fs::path path = dir / "logs.txt";  // no .gz suffix on purpose
  const std::string part1 = numbered_lines(200000, "a");  // several MiB: many inflate rounds
  const std::string part2 = "{\n  \"doc\": \"in member two\"\n}\n" + numbered_lines(1000, "b");
  write_gzip_member(path, part1, "wb");
  write_gzip_member(path, part2, "ab");
  const std::string plain = part1 + part2;
  const std::vector<Rec> expected = reference_split(plain, 1u << 20, true);
  ASSERT_EQ(expected.size(), 201001u);

  for (std::size_t batch_bytes : {std::size_t{4} << 20, std::size_t{1000}}) {
    RecordReaderOptions options;
    options.batch_bytes = batch_bytes;
    auto opened = RecordReader::open(path.string(), options);
    ASSERT_TRUE(opened.has_value());
    const std::vector<Rec> got = drain(**opened);
    EXPECT_TRUE((*opened)->status().ok()) << (*opened)->status().to_string();
    EXPECT_EQ((*opened)->bytes_read(), plain.size());
    ASSERT_EQ(got.size(), expected.size());
    EXPECT_TRUE(got == expected);
  }
  // The same bytes from memory.
  const std::vector<Rec> from_memory = drain(*RecordReader::from_memory(read_file(path)));
  EXPECT_TRUE(from_memory == expected);
}

TEST(RecordReader, CorruptGzipFailsNamingTheFile) {
  TempDir dir;
  std::string text;
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) text += "event " + std::to_string(rng()) + " user=" + std::to_string(rng() % 1000) + "\n";
  const fs::path good = dir / "good.gz";
  write_gzip_member(good, text, "wb");
  const std::string compressed = read_file(good);

  struct Case {
    std::string name;
    std::string bytes;
  };
  std::string flipped = compressed;
  for (std::size_t i = flipped.size() / 2; i < flipped.size() / 2 + 64; ++i) flipped[i] = static_cast<char>(~flipped[i]);
  std::string bad_crc = compressed;
  bad_crc[bad_crc.size() - 6] ^= 0x55;  // inside the CRC32 of the trailer
  const std::vector<Case> cases = {
      {"flipped.gz", flipped},
      {"truncated.gz", compressed.substr(0, compressed.size() / 2)},
      {"bad_crc.gz", bad_crc},
      {"trailing_garbage.gz", compressed + "not gzip"},
  };
  for (const Case& c : cases) {
    const fs::path path = dir / c.name;
    write_file(path, c.bytes);
    auto opened = RecordReader::open(path.string());
    ASSERT_TRUE(opened.has_value());
    std::vector<Record> batch;
    std::size_t records = 0;
    while ((*opened)->next_batch(batch)) records += batch.size();
    const Status status = (*opened)->status();
    EXPECT_FALSE(status.ok()) << c.name;
    EXPECT_EQ(status.code(), StatusCode::kParseError) << c.name;
    EXPECT_NE(status.message().find(c.name), std::string::npos) << status.to_string();
    EXPECT_LE(records, 20000u);
    EXPECT_FALSE((*opened)->next_batch(batch));  // stays failed
  }
}

TEST(RecordReader, StdinPipeWithShortWrites) {
  std::string input;
  for (int i = 0; i < 3000; ++i) {
    input += "line " + std::to_string(i) + (i % 10 == 0 ? "\r\n" : "\n");
    if (i % 500 == 0) input += "{\n  \"doc\": " + std::to_string(i) + "\n}\n";
  }
  const std::vector<Rec> expected = reference_split(input, 1u << 20, true);

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const int saved_stdin = dup(0);
  ASSERT_GE(saved_stdin, 0);
  ASSERT_EQ(dup2(fds[0], 0), 0);
  close(fds[0]);
  std::thread writer([&] {
    std::mt19937 rng(3);
    std::size_t off = 0;
    while (off < input.size()) {
      const std::size_t n = std::min<std::size_t>(input.size() - off, 1 + rng() % 50);
      const ssize_t w = write(fds[1], input.data() + off, n);
      if (w <= 0) break;
      off += static_cast<std::size_t>(w);
    }
    close(fds[1]);
  });
  auto opened = RecordReader::open("-");
  ASSERT_TRUE(opened.has_value());
  const std::vector<Rec> got = drain(**opened);
  writer.join();
  EXPECT_TRUE((*opened)->status().ok());
  EXPECT_EQ((*opened)->bytes_read(), input.size());
  dup2(saved_stdin, 0);
  close(saved_stdin);
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);
}

// `tail -f log | vigil -`: a record that has arrived is handed over without waiting for a full
// batch. The writer holds the pipe open until the reader has the first record (or 10 s pass).
TEST(RecordReader, PipeHandsOverWhatHasArrived) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const int saved_stdin = dup(0);
  ASSERT_GE(saved_stdin, 0);
  ASSERT_EQ(dup2(fds[0], 0), 0);
  close(fds[0]);
  std::mutex mu;
  std::condition_variable cv;
  bool reader_has_first = false;
  bool writer_gave_up = false;
  std::thread writer([&] {
    EXPECT_EQ(write(fds[1], "first\n", 6), 6);
    {
      std::unique_lock<std::mutex> lock(mu);
      writer_gave_up = !cv.wait_for(lock, std::chrono::seconds(10), [&] { return reader_has_first; });
    }
    EXPECT_EQ(write(fds[1], "second\n", 7), 7);
    close(fds[1]);
  });
  auto opened = RecordReader::open("-");
  ASSERT_TRUE(opened.has_value());
  std::vector<Record> batch;
  ASSERT_TRUE((*opened)->next_batch(batch));
  ASSERT_FALSE(batch.empty());
  EXPECT_EQ(batch[0].bytes, "first");
  {
    std::lock_guard<std::mutex> lock(mu);
    reader_has_first = true;
  }
  cv.notify_one();
  const std::vector<Rec> rest = drain(**opened);
  writer.join();
  dup2(saved_stdin, 0);
  close(saved_stdin);
  EXPECT_FALSE(writer_gave_up) << "the reader waited for more input before returning a record";
  EXPECT_EQ(bytes_of(rest), (Strings{"second"}));
}

TEST(RecordReader, PaddingAfterTheLastRecordOfAFullBuffer) {
  // The last record ends exactly at the end of the data in the buffer: its padding is the
  // buffer's own tail. drain() reads the 64 bytes after each record; ASan checks the bounds.
  for (std::size_t batch_bytes : {1, 16, 64}) {
    RecordReaderOptions options;
    options.batch_bytes = batch_bytes;
    options.max_record_bytes = 64;
    std::string input;
    for (int i = 0; i < 50; ++i) input += std::string(static_cast<std::size_t>(i * 3 % 70), 'p') + "\n";
    input += std::string(64, 'q');
    auto recs = read_all(input, options);
    EXPECT_EQ(recs.back().bytes, std::string(64, 'q'));
  }
}

}  // namespace
}  // namespace vigil
