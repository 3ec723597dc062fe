// KeywordPrefilter (rules/keyword_prefilter.h): a record that holds a pattern always passes,
// wherever the pattern sits relative to the 32- and 64-byte steps and in whatever case; a
// record with none of the n-grams does not.
#include "rules/keyword_prefilter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vigil::rules {
namespace {

using Pattern = KeywordPrefilter::Pattern;

// `text` followed by 64 bytes of padding that could complete a gram (the filter must not rely
// on the padding being zero); the view stops at the text.
bool May(const KeywordPrefilter& f, const std::string& text) {
  static std::string buffer;
  buffer = text + std::string(64, ':');
  return f.may_match(std::string_view(buffer.data(), text.size()));
}

std::vector<Pattern> Mimikatz() {
  std::vector<Pattern> p;
  for (const char* k : {"dpapi::masterkey", "eo.oe.kiwi", "event::clear", "event::drop", "gentilkiwi.com",
                        "kerberos::golden", "kerberos::ptc", "kerberos::ptt", "kerberos::tgt",
                        "kiwi legit printer", "lsadump::", "mimidrv.sys", "\\mimilib.dll", "\\\\mimilib.dll",
                        "misc::printnightmare", "misc::shadowcopies", "misc::skeleton", "privilege::backup",
                        "privilege::debug", "privilege::driver", "sekurlsa::"})
    p.push_back({k, true});
  return p;
}

TEST(KeywordPrefilter, EveryPatternPassesAtEveryOffsetInAnyCase) {
  const KeywordPrefilter f = KeywordPrefilter::build(Mimikatz());
  ASSERT_TRUE(f.active());
  EXPECT_LE(f.describe().size(), 20u) << f.describe();
  for (const Pattern& p : Mimikatz()) {
    std::string upper = p.text;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (std::size_t pad = 0; pad < 140; ++pad) {
      const std::string before(pad, 'e');
      ASSERT_TRUE(May(f, before + p.text)) << p.text << " at " << pad;
      ASSERT_TRUE(May(f, before + upper + "tail")) << upper << " at " << pad;
    }
  }
}

TEST(KeywordPrefilter, RecordsWithoutItsGramsAreRuledOut) {
  const KeywordPrefilter f = KeywordPrefilter::build(Mimikatz());
  ASSERT_TRUE(f.active());
  const std::string windows_event =
      R"({"EventID":4688,"NewProcessName":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami /all",)"
      R"("SubjectUserName":"alice","Hostname":"WORKSTATION6.mordor.local","Message":"A new process has been created."})";
  EXPECT_FALSE(May(f, windows_event));
  EXPECT_FALSE(May(f, ""));
  EXPECT_FALSE(May(f, "m"));
  // A gram cut by the end of the record does not count, whatever follows it in memory.
  for (std::size_t size : {40, 63, 64, 65, 95, 96, 97, 200}) {
    EXPECT_FALSE(May(f, std::string(size, 'x') + ":")) << size;
    EXPECT_TRUE(May(f, std::string(size, 'x') + "::")) << size;
    EXPECT_FALSE(May(f, std::string(size, 'x') + "mi")) << size;
    EXPECT_TRUE(May(f, std::string(size, 'x') + "MiM")) << size;
  }
}

TEST(KeywordPrefilter, CasedPatternsAndPunctuationPass) {
  const KeywordPrefilter f = KeywordPrefilter::build({{"XqZ", false}, {"jjQq", false}});
  ASSERT_TRUE(f.active());
  EXPECT_TRUE(May(f, "aaXqZaa"));
  EXPECT_TRUE(May(f, "jjQq"));
  // A pattern's occurrence always holds a chosen gram; other cases may or may not pass, but a
  // record without the letters never does.
  EXPECT_FALSE(May(f, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
  // Bytes without the 0x20 bit ('\\', '[', '@') are compared folded on both sides.
  const KeywordPrefilter punct = KeywordPrefilter::build({{"\\[@", true}, {"q\\z", false}});
  ASSERT_TRUE(punct.active());
  EXPECT_TRUE(May(punct, "xx\\[@yy"));
  EXPECT_TRUE(May(punct, "xxq\\zyy"));
  EXPECT_FALSE(May(punct, "xx[yy@zz\\"));
}

TEST(KeywordPrefilter, InactiveWhenItCannotHelp) {
  EXPECT_FALSE(KeywordPrefilter::build({}).active());
  EXPECT_FALSE(KeywordPrefilter::build({{"a", true}, {"mimikatz", true}}).active());  // 1 byte
  std::vector<Pattern> many;
  for (int i = 0; i < 20; ++i) many.push_back({std::string(1, static_cast<char>('a' + i)) + "#" + std::to_string(i * 7919), true});
  EXPECT_FALSE(KeywordPrefilter::build(many).active());  // no 6 n-grams cover 20 unrelated ones
  const KeywordPrefilter inactive;
  EXPECT_TRUE(inactive.may_match("anything"));
}

// The escape test done in the prefilter's pass gives has_noncanonical_escape's answer, whether
// or not a gram is found (and before or after it), at every offset and across 32-byte steps;
// an escaped backslash before u (c:\\users) is not an escape, and a pair cut by the record's
// end does not count.
TEST(KeywordPrefilter, TheEscapeTestInTheSamePassAgreesWithTheOwnOne) {
  const KeywordPrefilter f = KeywordPrefilter::build(Mimikatz());
  ASSERT_TRUE(f.active());
  const std::vector<std::string> pieces = {"\\u0041", "\\/", "\\\\users", "\\\\\\u0041", "\\\\/x",
                                           "\\n", "sekurlsa::", "plain"};
  static std::string buffer;
  for (const std::string& a : pieces)
    for (const std::string& b : pieces)
      for (std::size_t pad = 0; pad < 140; pad += 3) {
        const std::string text = std::string(pad, 'e') + a + std::string(37, 'x') + b;
        for (std::size_t cut : {text.size(), text.size() - 1}) {
          buffer = text.substr(0, cut) + std::string(64, 'u');  // padding that could complete \u
          const std::string_view record(buffer.data(), cut);
          bool escape = false;
          const bool may = f.may_match(record, &escape);
          ASSERT_EQ(escape, has_noncanonical_escape(record)) << record;
          ASSERT_EQ(may, f.may_match(record)) << record;
        }
      }
  buffer = std::string("c:\\\\users\\\\") + std::string(64, ' ');
  bool escape = true;
  EXPECT_FALSE(f.may_match(std::string_view(buffer.data(), buffer.size() - 64), &escape));
  EXPECT_FALSE(escape);
  const KeywordPrefilter inactive;
  EXPECT_TRUE(inactive.may_match("a \\u0041", &escape));
  EXPECT_TRUE(escape);
}

}  // namespace
}  // namespace vigil::rules
