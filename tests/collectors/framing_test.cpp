#include "collectors/framing.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace vigil::collectors {
namespace {

struct Out {
  std::string bytes;
  bool oversize = false;
  bool operator==(const Out&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Out& o) {
  return os << '"' << o.bytes << '"' << (o.oversize ? " (oversize)" : "");
}

class Collect : public StreamFramer::Handler {
 public:
  void on_record(std::string_view record, bool oversize) override {
    records.push_back(Out{std::string(record), oversize});
  }
  std::vector<Out> records;
};

std::vector<Out> Plain(std::initializer_list<const char*> texts) {
  std::vector<Out> out;
  for (const char* t : texts) out.push_back(Out{t, false});
  return out;
}

std::vector<Out> FrameWhole(const std::string& stream, StreamFramerOptions options = {},
                            StreamFramer* keep = nullptr) {
  StreamFramer local(options);
  StreamFramer& framer = keep ? *keep : local;
  Collect c;
  framer.feed(stream, c);
  framer.finish(c);
  return c.records;
}

// Every way of cutting the stream in two, then one byte at a time: the records must not depend
// on how the network happened to split the bytes.
void ExpectSameForEverySplit(const std::string& stream, const std::vector<Out>& expected,
                             StreamFramerOptions options = {}) {
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    StreamFramer framer(options);
    Collect c;
    framer.feed(std::string_view(stream).substr(0, cut), c);
    framer.feed(std::string_view(stream).substr(cut), c);
    framer.finish(c);
    ASSERT_EQ(c.records, expected) << "cut at " << cut;
  }
  StreamFramer framer(options);
  Collect c;
  for (char ch : stream) framer.feed(std::string_view(&ch, 1), c);
  framer.finish(c);
  ASSERT_EQ(c.records, expected) << "one byte at a time";
}

TEST(StreamFramer, NewlineFramingWithLfAndCrlfSkipsEmptyLines) {
  const std::string stream = "<13>first line\n\n<14>second\r\n\r\nthird without end";
  ExpectSameForEverySplit(stream, Plain({"<13>first line", "<14>second", "third without end"}));
  StreamFramer framer;
  Collect c;
  framer.feed("<13>x\n", c);
  EXPECT_EQ(framer.mode(), StreamFramer::Mode::kNewline);
  EXPECT_EQ(framer.framing_errors(), 0u);
}

TEST(StreamFramer, OctetCountingFramesMayContainNewlines) {
  const std::string stream = "11 <13>a\nb c d7 <14>xyz15 <15>with crlf\r\n";
  ExpectSameForEverySplit(stream, Plain({"<13>a\nb c d", "<14>xyz", "<15>with crlf"}));
  StreamFramer framer;
  Collect c;
  framer.feed(stream, c);
  EXPECT_EQ(framer.mode(), StreamFramer::Mode::kOctetCounting);
  EXPECT_EQ(framer.framing_errors(), 0u);
}

TEST(StreamFramer, OctetCountingToleratesLineEndsBetweenFrames) {
  ExpectSameForEverySplit("\r\n5 hello\n5 world\n", Plain({"hello", "world"}));
}

TEST(StreamFramer, LineStartingWithDigitsIsNewlineFramedWithoutError) {
  StreamFramer framer;
  const auto records = FrameWhole("2024-05-01 sshd: accepted\n42\n", {}, &framer);
  EXPECT_EQ(records, Plain({"2024-05-01 sshd: accepted", "42"}));
  EXPECT_EQ(framer.framing_errors(), 0u);
  ExpectSameForEverySplit("2024-05-01 sshd: accepted\n42\n", Plain({"2024-05-01 sshd: accepted", "42"}));
  ExpectSameForEverySplit("12345", Plain({"12345"}));
}

TEST(StreamFramer, OversizeLineIsCutAndTheRestSkipped) {
  StreamFramerOptions options;
  options.max_record_bytes = 8;
  const std::string stream = "short\n0123456789abcdef\nexactly8\r\n123456789\nafter\n";
  const std::vector<Out> expected{{"short", false}, {"01234567", true}, {"exactly8", false},
                                  {"12345678", true}, {"after", false}};
  ExpectSameForEverySplit(stream, expected, options);
  StreamFramer framer(options);
  FrameWhole(stream, options, &framer);
  EXPECT_EQ(framer.oversize_records(), 2u);
}

TEST(StreamFramer, OversizeOctetFrameIsCutAndTheRestSkipped) {
  StreamFramerOptions options;
  options.max_record_bytes = 4;
  const std::string stream = "10 0123456789" "4 abcd" "3 xyz";
  const std::vector<Out> expected{{"0123", true}, {"abcd", false}, {"xyz", false}};
  ExpectSameForEverySplit(stream, expected, options);
}

TEST(StreamFramer, HugeLineUsesOnlyMaxRecordBytes) {
  StreamFramerOptions options;
  options.max_record_bytes = 1024;
  StreamFramer framer(options);
  Collect c;
  const std::string chunk(64 * 1024, 'x');
  framer.feed("<13>", c);
  std::size_t most_buffered = 0;
  for (int i = 0; i < 1600; ++i) {  // 100 MiB without a line end
    framer.feed(chunk, c);
    most_buffered = std::max(most_buffered, framer.buffered_bytes());
  }
  framer.feed("tail\n<13>next\n", c);
  EXPECT_LE(most_buffered, options.max_record_bytes + 1);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_TRUE(c.records[0].oversize);
  EXPECT_EQ(c.records[0].bytes.size(), 1024u);
  EXPECT_EQ(c.records[0].bytes.substr(0, 5), "<13>x");
  EXPECT_EQ(c.records[1], (Out{"<13>next", false}));
}

TEST(StreamFramer, BadOctetCountFallsBackToNewlineFraming) {
  // A good frame establishes octet counting; then a count with a letter in it.
  const std::string stream = "5 hello12x4 junk\nnext line\n";
  ExpectSameForEverySplit(stream, Plain({"hello", "12x4 junk", "next line"}));
  StreamFramer framer;
  FrameWhole(stream, {}, &framer);
  EXPECT_EQ(framer.framing_errors(), 1u);
  EXPECT_EQ(framer.mode(), StreamFramer::Mode::kNewline);
}

TEST(StreamFramer, AbsurdOctetCountIsAFramingError) {
  StreamFramerOptions options;
  options.max_octet_count = 1000;
  StreamFramer framer(options);
  const auto records = FrameWhole("5 hello99999 <13>rest\nmore\n", options, &framer);
  EXPECT_EQ(records, Plain({"hello", "99999 <13>rest", "more"}));
  EXPECT_EQ(framer.framing_errors(), 1u);

  StreamFramer defaults;
  const auto huge = FrameWhole("99999999999999999999999 x\n", {}, &defaults);
  EXPECT_EQ(defaults.framing_errors(), 1u);
  ASSERT_EQ(huge.size(), 1u);
  EXPECT_EQ(huge[0].bytes, "99999999999999999999999 x");
}

TEST(StreamFramer, LeadingZeroAfterOctetCountingIsAFramingError) {
  StreamFramer framer;
  const auto records = FrameWhole("3 abc0 x\n", {}, &framer);
  EXPECT_EQ(records, Plain({"abc", "0 x"}));
  EXPECT_EQ(framer.framing_errors(), 1u);
}

TEST(StreamFramer, StreamEndingInsideAFrameIsCounted) {
  StreamFramer framer;
  const auto records = FrameWhole("5 hello10 cut", {}, &framer);
  EXPECT_EQ(records, Plain({"hello", "cut"}));
  EXPECT_EQ(framer.framing_errors(), 1u);
}

TEST(StreamFramer, BinaryGarbageNeverCrashesAndLinesAfterItSurvive) {
  std::string garbage;
  std::uint32_t x = 12345;
  for (int i = 0; i < 100000; ++i) {
    x = x * 1103515245 + 12345;
    garbage.push_back(static_cast<char>(x >> 24));
  }
  StreamFramerOptions options;
  options.max_record_bytes = 256;
  StreamFramer framer(options);
  Collect c;
  framer.feed(garbage, c);
  framer.feed("\n<13>after garbage\n", c);
  ASSERT_FALSE(c.records.empty());
  EXPECT_EQ(c.records.back(), (Out{"<13>after garbage", false}));
  for (const Out& r : c.records) EXPECT_LE(r.bytes.size(), 256u);
}

}  // namespace
}  // namespace vigil::collectors
