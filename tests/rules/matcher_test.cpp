// Compiler + matcher over hand-built rules (independent of the YAML loader), so each matching
// semantic and each prefilter path is pinned on its own.
#include "rules/matcher.h"

#include <gtest/gtest.h>

#include "core/record_reader.h"
#include "rules/compiler.h"

namespace vigil::rules {
namespace {

Predicate P(std::string field, MatchOp op, std::string value, bool cased = false) {
  Predicate p;
  p.field = std::move(field);
  p.op = op;
  p.value = std::move(value);
  p.cased = cased;
  return p;
}

CondNode Leaf(std::uint32_t i) {
  CondNode n;
  n.kind = CondNode::Kind::kPred;
  n.pred = i;
  return n;
}
CondNode Node(CondNode::Kind kind, std::vector<CondNode> kids) {
  CondNode n;
  n.kind = kind;
  n.children = std::move(kids);
  return n;
}

SigmaRule MakeRule(std::string id, std::vector<Predicate> preds, CondNode cond) {
  SigmaRule r;
  r.id = std::move(id);
  r.title = r.id;
  r.level = "high";
  r.predicates = std::move(preds);
  r.condition = std::move(cond);
  return r;
}

// A rule that is true when all predicates hold.
SigmaRule AllOf(std::string id, std::vector<Predicate> preds) {
  std::vector<CondNode> kids;
  for (std::uint32_t i = 0; i < preds.size(); ++i) kids.push_back(Leaf(i));
  return MakeRule(std::move(id), std::move(preds),
                  kids.size() == 1 ? kids[0] : Node(CondNode::Kind::kAnd, std::move(kids)));
}

// `rule` with logsource product windows and the given service or category ("" for none).
SigmaRule Windows(SigmaRule rule, std::string service, std::string category) {
  rule.product = "windows";
  rule.service = std::move(service);
  rule.category = std::move(category);
  return rule;
}

class MatcherTest : public ::testing::Test {
 protected:
  void Compile(std::vector<SigmaRule> rules) {
    auto rs = RuleSet::compile(std::move(rules), CompileOptions{}, &report_);
    ASSERT_TRUE(rs.has_value()) << rs.error().to_string();
    ruleset_ = *rs;
    auto m = Matcher::create(ruleset_);
    ASSERT_TRUE(m.has_value());
    matcher_ = std::move(*m);
  }

  // Ids of the rules that match `record` (padded as the record readers do).
  std::vector<std::string> Match(const std::string& record, LogFormat format = LogFormat::kUnknown) {
    buffer_ = record + std::string(kRecordPadding, '\0');
    Event event;
    event.raw = std::string_view(buffer_.data(), record.size());
    std::vector<RuleMatch> out;
    matcher_->match(event, parser_, format, out);
    std::vector<std::string> ids;
    for (const RuleMatch& m : out) {
      ids.push_back(ruleset_->rule(m.rule).id);
      last_matched_ = m.matched;
    }
    return ids;
  }

  using Ids = std::vector<std::string>;
  CompileReport report_;
  std::shared_ptr<const RuleSet> ruleset_;
  std::unique_ptr<Matcher> matcher_;
  parse::RecordParser parser_;
  std::string buffer_;
  std::vector<MatchedField> last_matched_;
};

TEST_F(MatcherTest, StringOperatorsAreCaseInsensitiveUnlessCased) {
  Compile({AllOf("eq", {P("Image", MatchOp::kEquals, "C:\\Windows\\System32\\cmd.exe")}),
           AllOf("ends", {P("Image", MatchOp::kEndsWith, "\\CMD.EXE")}),
           AllOf("starts", {P("Image", MatchOp::kStartsWith, "c:\\windows\\")}),
           AllOf("has", {P("CommandLine", MatchOp::kContains, "WHOAMI")}),
           AllOf("cased", {P("CommandLine", MatchOp::kContains, "WHOAMI", true)})});
  EXPECT_EQ(Match(R"({"Image":"c:\\windows\\system32\\CMD.exe","CommandLine":"cmd /c whoami /all"})"),
            (Ids{"eq", "ends", "starts", "has"}));
  EXPECT_EQ(Match(R"({"Image":"C:\\Tools\\cmd.exe.bak","CommandLine":"WHOAMI"})"),
            (Ids{"has", "cased"}));
  // The value must be in the named field, not just anywhere in the event.
  EXPECT_EQ(Match(R"({"Image":"x","Other":"whoami"})"), Ids{});
}

TEST_F(MatcherTest, AndOrNotAndAlwaysEvaluatedRules) {
  // sel and not filter: the filter's literal absent means "not filter" is true.
  Compile({MakeRule("selnotfilter",
                    {P("Image", MatchOp::kEndsWith, "\\rundll32.exe"),
                     P("CommandLine", MatchOp::kContains, "shell32.dll")},
                    Node(CondNode::Kind::kAnd,
                         {Leaf(0), Node(CondNode::Kind::kNot, {Leaf(1)})})),
           // Only a negation: no literal cover, so evaluated for every event.
           MakeRule("onlynot", {P("User", MatchOp::kContains, "system")},
                    Node(CondNode::Kind::kNot, {Leaf(0)}))});
  EXPECT_EQ(report_.always_evaluated, 1u);
  EXPECT_EQ(Match(R"({"Image":"C:\\x\\rundll32.exe","CommandLine":"evil.dll,Run","User":"bob"})"),
            (Ids{"selnotfilter", "onlynot"}));
  EXPECT_EQ(Match(R"({"Image":"C:\\x\\rundll32.exe","CommandLine":"shell32.dll,Control","User":"NT AUTHORITY\\SYSTEM"})"),
            Ids{});
}

TEST_F(MatcherTest, JsonEscapesCannotHideALiteral) {
  Compile({AllOf("enc", {P("CommandLine", MatchOp::kContains, "-encodedcommand")}),
           AllOf("kw", {P("", MatchOp::kContains, "mimikatz")})});
  EXPECT_EQ(Match(R"({"CommandLine":"powershell -EncodedCommand SQBFAFgA"})"), Ids{"enc"});
  // "\u002d" is '-': field values are scanned decoded, so the escape changes nothing.
  EXPECT_EQ(Match(R"({"CommandLine":"powershell \u002dEncodedCommand SQBFAFgA"})"), Ids{"enc"});
  EXPECT_EQ(Match(R"({"CommandLine":"powershell -Command Get-Date"})"), Ids{});
  // The raw record holds a real \u escape and a keyword rule exists: one rescan.
  EXPECT_EQ(matcher_->stats().decoded_rescans, 1u);
  // Keywords are found in the raw record; one hidden by \u escapes is found by the rescan of
  // the decoded values. A path like c:\\users is not an escape and costs no rescan.
  EXPECT_EQ(Match(R"({"Data":"run MIMIKATZ.exe"})"), Ids{"kw"});
  EXPECT_EQ(Match(R"({"Data":"c:\\users\\mimikatz"})"), Ids{"kw"});
  EXPECT_EQ(matcher_->stats().decoded_rescans, 1u);
  EXPECT_EQ(Match(R"({"Data":"c:\\users\\x run mimi\u006batz"})"), Ids{"kw"});
  EXPECT_EQ(matcher_->stats().decoded_rescans, 2u);
}

TEST_F(MatcherTest, AFieldLiteralCountsOnlyInItsOwnField) {
  // One scan covers every field a route reads: a hit in another field (or in a field name,
  // or across two values) must not make the rule a candidate, and every value of a repeated
  // field is searched.
  Compile({AllOf("img", {P("Image", MatchOp::kEndsWith, "\\evil.exe")}),
           AllOf("cmd", {P("CommandLine", MatchOp::kContains, "evil.exe")}),
           AllOf("both", {P("Image", MatchOp::kContains, "abc"), P("CommandLine", MatchOp::kContains, "xyz")})});
  EXPECT_EQ(Match(R"({"Image":"C:\\x\\good.exe","CommandLine":"C:\\x\\evil.exe"})"), Ids{"cmd"});
  EXPECT_EQ(Match(R"({"Image":"C:\\x\\evil.exe","CommandLine":"run"})"), Ids{"img"});
  EXPECT_EQ(Match(R"({"Image":"zzab","CommandLine":"cxyz"})"), Ids{});  // "ab"+"c" spans two values
  EXPECT_EQ(Match(R"({"Image":["C:\\a.exe","C:\\evil.exe"],"CommandLine":"xyzabc"})"), Ids{"img"});
  EXPECT_EQ(Match(R"({"Image":["abc","d"],"CommandLine":["q","xyz"]})"), Ids{"both"});
  EXPECT_EQ(matcher_->stats().candidate_rules, 4u);  // the cross-field hits made no candidate
}

TEST_F(MatcherTest, RepeatedLayoutsAreAnsweredFromTheMemoExactly) {
  // Image and CommandLine share one layout (few literals each). A layout seen before is
  // answered from the matcher's memo; the same bytes in another field are another key.
  Compile({AllOf("img", {P("Image", MatchOp::kContains, "xyz")}),
           AllOf("cmd", {P("CommandLine", MatchOp::kContains, "qqq")})});
  EXPECT_EQ(Match(R"({"CommandLine":"xyz"})"), Ids{});
  EXPECT_EQ(Match(R"({"Image":"xyz"})"), Ids{"img"});  // "xyz\0" again, in Image's part
  EXPECT_EQ(matcher_->stats().layout_memo_hits, 0u);
  EXPECT_EQ(Match(R"({"Image":"xyz","Other":"1"})"), Ids{"img"});
  EXPECT_EQ(Match(R"({"CommandLine":"xyz"})"), Ids{});
  EXPECT_EQ(Match(R"({"Image":"a","CommandLine":"qqq"})"), Ids{"cmd"});
  EXPECT_EQ(Match(R"({"Image":"a","CommandLine":"qqq"})"), Ids{"cmd"});
  EXPECT_EQ(matcher_->stats().layout_scans, 6u);
  EXPECT_EQ(matcher_->stats().layout_memo_hits, 3u);
  // Values that never repeat: the memo is paused for the layout after a while; every answer
  // stays right throughout.
  for (int i = 0; i < 1000; ++i) {
    const std::string v = std::to_string(i) + (i % 7 == 0 ? "xyz" : "abc");
    ASSERT_EQ(Match(R"({"Image":")" + v + R"("})"), i % 7 == 0 ? Ids{"img"} : Ids{}) << i;
  }
  EXPECT_LT(matcher_->stats().layout_memo_hits, 10u);
  EXPECT_EQ(Match(R"({"Image":"a","CommandLine":"qqq"})"), Ids{"cmd"});
}

TEST_F(MatcherTest, AOneFieldLayoutWithOneValueIsKeyedByThatValue) {
  // Image alone has literals: its layout is keyed by the value itself (no copy) when the event
  // has one Image value, laid out as usual when it has several. Both kinds of key answer
  // repeats, and neither is taken for the other.
  Compile({AllOf("img", {P("Image", MatchOp::kContains, "xyz")})});
  EXPECT_EQ(Match(R"({"Image":"axyz"})"), Ids{"img"});
  EXPECT_EQ(Match(R"({"Image":"axyz"})"), Ids{"img"});    // the value as the key
  EXPECT_EQ(Match(R"({"Image":["axyz"]})"), Ids{"img"});  // one value in an array: the same
  EXPECT_EQ(Match(R"({"Image":["q","axyz"]})"), Ids{"img"});
  EXPECT_EQ(Match(R"({"Image":["q","axyz"]})"), Ids{"img"});  // laid out, answered again
  EXPECT_EQ(Match(R"({"Image":"q"})"), Ids{});
  EXPECT_EQ(Match(R"({"Image":"q"})"), Ids{});
  EXPECT_EQ(Match(R"({"Image":"C:\\xyz"})"), Ids{"img"});  // as written, escapes and all
  EXPECT_EQ(Match(R"({"Image":"C:\\xyz"})"), Ids{"img"});
  EXPECT_EQ(Match(R"({"Image":"C:\u0078yz"})"), Ids{"img"});  // \u: scanned in canonical form
  EXPECT_EQ(Match(R"({"Image":"C:\u0078yz"})"), Ids{"img"});
  EXPECT_EQ(matcher_->stats().layout_scans, 11u);
  EXPECT_EQ(matcher_->stats().layout_memo_hits, 6u);
}

TEST_F(MatcherTest, TheMemoKeyIsTheValuesAsWrittenAndTheScanSeesThemCanonical) {
  // Memo keys are the values as written; the scan sees them in canonical JSON-escaped form. A
  // value written with \u or \/ escapes is another key, scanned in canonical form; the same
  // written bytes are answered from the memo, with the same answer.
  Compile({AllOf("path", {P("Image", MatchOp::kEndsWith, "\\evil/x.exe")}),
           AllOf("quote", {P("Image", MatchOp::kContains, "a\"b")})});
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(Match(R"({"Image":"C:\\evil/x.exe"})"), Ids{"path"}) << round;
    EXPECT_EQ(Match(R"({"Image":"C:\u005cevil\/x.exe"})"), Ids{"path"}) << round;
    EXPECT_EQ(Match(R"({"Image":"C:\\evil\/x.exe"})"), Ids{"path"}) << round;
    EXPECT_EQ(Match(R"({"Image":"C:\\evil\\x.exe"})"), Ids{}) << round;  // a backslash, not a slash
    EXPECT_EQ(Match(R"({"Image":"a\"b"})"), Ids{"quote"}) << round;
    EXPECT_EQ(Match(R"({"Image":"a\u0022b"})"), Ids{"quote"}) << round;
    EXPECT_EQ(Match(R"({"Image":"a\\\"b"})"), Ids{}) << round;  // a\"b: a backslash between
  }
  EXPECT_EQ(matcher_->stats().layout_memo_hits, 7u);
}

TEST_F(MatcherTest, EveryRouteOfAnEventKeepsItsOwnFieldBoundaries) {
  // A Sysmon process creation event takes two routes (the Sysmon service and the
  // process_creation category), each with a layout whose first field has its own boundaries.
  // Were one route's boundaries read for the other's hits (an attempt to lay out every layout
  // before searching any did that), the longer value would hide the shorter one's match.
  Compile({Windows(AllOf("svc", {P("Image", MatchOp::kEndsWith, "aaa")}), "sysmon", ""),
           Windows(AllOf("proc", {P("CommandLine", MatchOp::kEndsWith, "bbb")}), "", "process_creation")});
  const std::string head = R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,)";
  EXPECT_EQ(Match(head + R"("Image":"aaa","CommandLine":"zzzzzzzzzzzzbbb"})"), (Ids{"svc", "proc"}));
  EXPECT_EQ(Match(head + R"("Image":"zzzzzzzzzzzzaaa","CommandLine":"bbb"})"), (Ids{"svc", "proc"}));
  EXPECT_EQ(Match(head + R"("Image":"aaa","CommandLine":"zzzzzzzzzzzzbbb"})"), (Ids{"svc", "proc"}));  // memo
}

TEST_F(MatcherTest, ConsecutiveEventsWithOtherRouteValuesGetTheirOwnRoutes) {
  // The previous event's routes are reused only for the same route values, in any order of
  // repeats and changes.
  Compile({Windows(AllOf("svc", {P("Image", MatchOp::kEndsWith, "aaa")}), "sysmon", ""),
           Windows(AllOf("sec", {P("Image", MatchOp::kEndsWith, "aaa")}), "security", "")});
  const std::string sysmon = R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"aaa"})";
  const std::string security = R"({"Channel":"Security","EventID":4688,"Image":"aaa"})";
  for (const std::string* e : {&sysmon, &sysmon, &security, &sysmon, &security, &security, &sysmon})
    EXPECT_EQ(Match(*e), Ids{e == &sysmon ? "svc" : "sec"});
}

TEST_F(MatcherTest, EscapesThatHideAKeywordAreFoundAtEveryOffsetOfALongRecord) {
  // The raw-record test for \u and \/ escapes works 16 or 32 bytes at a time: an escape at
  // every position of a long record, including across block edges, forces the rescan; an
  // escaped backslash before a 'u' (c:\\users) does not.
  Compile({AllOf("kw", {P("", MatchOp::kContains, "mimikatz")})});
  std::uint64_t rescans = matcher_->stats().decoded_rescans;
  for (int pad = 0; pad < 100; ++pad) {
    const std::string before(static_cast<std::size_t>(pad), 'p');
    ASSERT_EQ(Match(R"({"Data":")" + before + R"(mimi\u006batz)" + std::string(80, 's') + R"("})"), Ids{"kw"}) << pad;
    ASSERT_EQ(matcher_->stats().decoded_rescans, ++rescans) << pad;
    ASSERT_EQ(Match(R"({"Data":")" + before + R"(mimi\/katz)" + std::string(80, 's') + R"("})"), Ids{}) << pad;
    ASSERT_EQ(matcher_->stats().decoded_rescans, ++rescans) << pad;
    ASSERT_EQ(Match(R"({"Data":")" + before + R"(c:\\users mimikatz)" + std::string(80, 's') + R"("})"), Ids{"kw"}) << pad;
    ASSERT_EQ(matcher_->stats().decoded_rescans, rescans) << pad;
  }
  // A record with none of the keyword prefilter's n-grams is not scanned for keywords (the
  // prefilter works where the CPU has AVX2; elsewhere every record is scanned).
  const std::uint64_t skips = matcher_->stats().keyword_skips;
  EXPECT_EQ(Match(R"({"Data":"nothing to see"})"), Ids{});
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2")) {
    EXPECT_EQ(matcher_->stats().keyword_skips, skips + 1);
  }
#endif
  EXPECT_EQ(Match(R"({"Data":"nothing to see","Other":"MiMiKaTz"})"), Ids{"kw"});
}

TEST_F(MatcherTest, RouteGatesDropUncoveredRulesForOtherEventIds) {
  // Rules with no literal (EventID 16 is too short to scan) run whenever their route
  // (Sysmon's channel) applies, unless their EventID test, a route field, settles it first.
  auto sysmon = [](std::string id, std::string event_id) {
    SigmaRule r = AllOf(std::move(id), {P("EventID", MatchOp::kEquals, std::move(event_id))});
    r.product = "windows";
    r.service = "sysmon";
    return r;
  };
  // EventID is a route field when some route's condition reads it (process_creation: Sysmon
  // EventID 1 or Security 4688).
  SigmaRule proc = AllOf("proc", {P("Image", MatchOp::kEndsWith, "\\evil.exe")});
  proc.product = "windows";
  proc.category = "process_creation";
  Compile({sysmon("config", "16"), sysmon("blocked", "27"), sysmon("shred", "28"), proc});
  const std::string channel = R"("Channel":"Microsoft-Windows-Sysmon/Operational")";
  EXPECT_EQ(Match("{" + channel + R"(,"EventID":16})"), Ids{"config"});
  EXPECT_EQ(matcher_->stats().candidate_rules, 1u);
  EXPECT_EQ(Match("{" + channel + R"(,"EventID":27})"), Ids{"blocked"});
  EXPECT_EQ(Match("{" + channel + R"(,"EventID":1})"), Ids{});
  EXPECT_EQ(Match("{" + channel + R"(,"EventID":16})"), Ids{"config"});  // from the cache
  EXPECT_EQ(Match(R"({"Channel":"Security","EventID":16})"), Ids{});
  EXPECT_EQ(matcher_->stats().candidate_rules, 3u);
  // The route key holds values as written: an escaped '/' is the same channel.
  EXPECT_EQ(Match(R"({"Channel":"Microsoft-Windows-Sysmon\/Operational","EventID":16})"), Ids{"config"});
}

TEST_F(MatcherTest, ACoveredRuleIsDroppedWhenItsRouteGateIsClosed) {
  // The rule's literal (its provider) occurs in events of many EventIDs, but the rule needs
  // EventID 1102, a route field: for other EventIDs it is settled once per route-cache entry
  // and never evaluated.
  // EventID is a route field once some route's condition reads it (process_creation: Sysmon
  // EventID 1 or Security 4688).
  Compile({Windows(AllOf("cleared", {P("EventID", MatchOp::kEquals, "1102"),
                                     P("Provider_Name", MatchOp::kEquals, "Microsoft-Windows-Eventlog")}),
                   "security", ""),
           Windows(AllOf("proc", {P("Image", MatchOp::kEndsWith, "\\evil.exe")}), "", "process_creation")});
  const std::string provider = R"("Channel":"Security","Provider_Name":"Microsoft-Windows-Eventlog")";
  EXPECT_EQ(Match("{" + provider + R"(,"EventID":4688})"), Ids{});
  EXPECT_EQ(Match("{" + provider + R"(,"EventID":4688,"Other":"x"})"), Ids{});
  EXPECT_EQ(matcher_->stats().candidate_rules, 0u);
  EXPECT_EQ(Match("{" + provider + R"(,"EventID":1102})"), Ids{"cleared"});
  EXPECT_EQ(Match("{" + provider + R"(,"EventID":4688})"), Ids{});
  EXPECT_EQ(Match(R"({"Channel":"Security","Provider_Name":"Other","EventID":1102})"), Ids{});
  EXPECT_EQ(matcher_->stats().candidate_rules, 1u);
}

TEST_F(MatcherTest, ValuesKeptAsWrittenAreDecodedWhenReadAndForAlerts) {
  Compile({AllOf("img", {P("Image", MatchOp::kEndsWith, "\\cmd.exe")}),
           AllOf("quote", {P("CommandLine", MatchOp::kContains, "\"C:\\Program Files\\")})});
  // The selective parse keeps escaped values as written; a matching event's fields are all
  // decoded when match() returns (alerts and correlation read them).
  buffer_ = std::string(R"({"Image":"C:\\Windows\\cmd.exe","User":"NT AUTHORITY\\SYSTEM","Note":"tab\there"})") +
            std::string(kRecordPadding, '\0');
  Event event;
  event.raw = std::string_view(buffer_.data(), buffer_.find('\0'));
  std::vector<RuleMatch> out;
  ASSERT_TRUE(matcher_->match(event, parser_, LogFormat::kUnknown, out));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].matched.size(), 1u);
  EXPECT_EQ(out[0].matched[0].value, "C:\\Windows\\cmd.exe");
  for (const Field& f : event.fields.fields()) EXPECT_FALSE(f.escaped) << f.name;
  // Quotes and backslashes: the escaped literal meets the value as written.
  EXPECT_EQ(Match(R"({"CommandLine":"run \"C:\\Program Files\\x.exe\""})"), Ids{"quote"});
  EXPECT_EQ(Match(R"({"CommandLine":"run \"C:\\Program Files (x86)\\x.exe\""})"), Ids{});
  // \u escapes are not canonical: such a value is decoded and escaped again before the scan.
  EXPECT_EQ(Match(R"({"Image":"C:\u005cWindows\u005cCMD.exe"})"), Ids{"img"});
  EXPECT_EQ(Match(R"({"Image":"C:\\users\\cmd.exe"})"), Ids{"img"});  // \\u is no escape
}

TEST_F(MatcherTest, AnInvalidEscapeInAValueARuleReadsRejectsTheEvent) {
  Compile({AllOf("img", {P("Image", MatchOp::kEndsWith, "\\cmd.exe")})});
  buffer_ = std::string(R"({"Image":"C:\q\\cmd.exe"})") + std::string(kRecordPadding, '\0');
  Event event;
  event.raw = std::string_view(buffer_.data(), buffer_.find('\0'));
  std::vector<RuleMatch> out;
  EXPECT_FALSE(matcher_->match(event, parser_, LogFormat::kUnknown, out));
  EXPECT_EQ(event.parse_error, ParseErrorKind::kInvalidJson);
  EXPECT_TRUE(out.empty());
}

// Values kept as written are tested on their canonical escaped form without being decoded
// (escaped_string_test): a match counts only where a character's escape begins, so the
// result is always the decoded text's.
TEST_F(MatcherTest, StringTestsOnValuesAsWrittenSeeTheDecodedText) {
  Compile({AllOf("nb", {P("F", MatchOp::kContains, "nb")}),
           AllOf("ends_n", {P("F", MatchOp::kEndsWith, "n")}),
           AllOf("back_new", {P("F", MatchOp::kContains, "\\new")}),
           AllOf("eq", {P("F", MatchOp::kEquals, "c:\\windows\\\"q\"")}),
           AllOf("ends_quote", {P("F", MatchOp::kEndsWith, "\\\"")}),
           AllOf("starts", {P("F", MatchOp::kStartsWith, "\\\\srv")})});
  EXPECT_EQ(Match(R"({"F":"a\nb"})"), Ids{});              // a, newline, b: no "nb"
  EXPECT_EQ(Match(R"({"F":"a\\nb"})"), Ids{"nb"});         // a, backslash, n, b
  EXPECT_EQ(Match(R"({"F":"a\\\nb"})"), Ids{});           // a, backslash, newline, b
  EXPECT_EQ(Match(R"({"F":"xyz\n"})"), Ids{});              // ends with a newline
  EXPECT_EQ(Match(R"({"F":"xyz\\n"})"), Ids{"ends_n"});    // ends with backslash, n
  EXPECT_EQ(Match(R"({"F":"x:\\new"})"), Ids{"back_new"});
  EXPECT_EQ(Match(R"({"F":"x:\new"})"), Ids{});             // x, :, newline, e, w
  EXPECT_EQ(Match(R"({"F":"C:\\Windows\\\"Q\""})"), Ids{"eq"});
  EXPECT_EQ(Match(R"({"F":"C:\\Windows\\\"Q\"x"})"), Ids{});
  EXPECT_EQ(Match(R"({"F":"x\\\""})"), Ids{"ends_quote"});  // x, backslash, quote
  EXPECT_EQ(Match(R"({"F":"xy\""})"), Ids{});                 // x, y, quote
  EXPECT_EQ(Match(R"({"F":"\\\\SRV\\share"})"), Ids{"starts"});
  // \u escapes are decoded first, whatever they spell.
  EXPECT_EQ(Match(R"({"F":"\u005c\u005csrv\u000a"})"), Ids{"starts"});
  EXPECT_EQ(Match(R"({"F":"\u0061\u005cnb"})"), Ids{"nb"});
}

TEST_F(MatcherTest, TextRecordsAreScannedRawAndEscapedOnesDecoded) {
  Compile({AllOf("act", {P("act", MatchOp::kEquals, "blocked=yes")})});
  // CEF escapes '=' in values as '\='; the decoded value is what the rule sees.
  EXPECT_EQ(Match("CEF:0|Fortinet|FortiGate|7.2|13|deny|5|src=203.0.113.9 act=blocked\\=yes dst=10.0.0.5"),
            Ids{"act"});
  EXPECT_EQ(matcher_->stats().decoded_rescans, 1u);
}

// The decoded web views (core/parse/web_normalize.h): a literal that only the decoded request
// shows is found (views database), and the views cost nothing when no rule names them.
TEST_F(MatcherTest, WebViewLiteralsAreFoundInTheDecodedRequestOnly) {
  const std::string encoded =
      "192.0.2.7 - - [07/Dec/2026:10:00:00 +0700] \"GET /a?id=1%2527%2520UNION/**/SELECT HTTP/1.1\" 200 1 \"-\" \"x\"";
  Compile({AllOf("norm", {P("cs-uri-query-norm", MatchOp::kContains, "' union select")}),
           AllOf("raw", {P("cs-uri-query", MatchOp::kContains, "' union select")})});
  EXPECT_EQ(Match(encoded), Ids{"norm"});
  // '+' is a space in the query, but "'union" has none after the quote.
  EXPECT_EQ(Match("192.0.2.7 - - [07/Dec/2026:10:00:00 +0700] \"GET /a?id=1'union+select HTTP/1.1\" 200 1 \"-\" \"x\""),
            Ids{});
  // Nothing to decode: the view is the raw bytes themselves, found by the raw-line scan.
  EXPECT_EQ(Match("192.0.2.7 - - [07/Dec/2026:10:00:00 +0700] \"GET /a?id=' union select HTTP/1.1\" 200 1 \"-\" \"x\""),
            (Ids{"norm", "raw"}));
}

TEST_F(MatcherTest, NoWebViewsAreDerivedWhenNoRuleNamesThem) {
  Compile({AllOf("raw", {P("cs-uri-query", MatchOp::kContains, "union")})});
  const std::string line =
      "192.0.2.7 - - [07/Dec/2026:10:00:00 +0700] \"GET /a?id=1%20union%20select HTTP/1.1\" 200 1 \"-\" \"x\"";
  buffer_ = line + std::string(kRecordPadding, '\0');
  Event event;
  event.raw = std::string_view(buffer_.data(), line.size());
  std::vector<RuleMatch> out;
  matcher_->match(event, parser_, LogFormat::kUnknown, out);
  ASSERT_EQ(out.size(), 1u);
  for (const Field& f : event.fields.fields()) EXPECT_EQ(f.name.find("-norm"), std::string_view::npos) << f.name;
}

TEST_F(MatcherTest, BackslashesAndQuotesInJsonValues) {
  Compile({AllOf("path", {P("TargetFilename", MatchOp::kContains, "\\AppData\\Local\\Temp\\\"x\"")})});
  EXPECT_EQ(Match(R"({"TargetFilename":"C:\\Users\\a\\AppData\\Local\\Temp\\\"x\".dll"})"),
            Ids{"path"});
}

TEST_F(MatcherTest, RegexExactPrefilterAndKeyword) {
  Predicate re1 = P("CommandLine", MatchOp::kRegex, "\\s-e(nc?|ncodedcommand)?\\s+[A-Za-z0-9+/=]{8,}");
  re1.regex_i = true;
  Predicate backref = P("CommandLine", MatchOp::kRegex, "(\\w{3})-\\1");  // Hyperscan has no backrefs
  backref.cased = true;
  Predicate kw = P("", MatchOp::kContains, "failed password");
  Compile({AllOf("re", {re1}), AllOf("backref", {backref}), AllOf("keyword", {kw})});
  EXPECT_EQ(report_.regex_predicates, 2u);
  // Hyperscan has no back-references: prefilter mode, confirmed by PCRE2.
  EXPECT_EQ(report_.regex_hyperscan_prefilter, 1u);
  EXPECT_EQ(report_.regex_hyperscan_exact, 1u);
  EXPECT_EQ(Match(R"({"CommandLine":"powershell.exe -e SQBFAFgAKABOAGUA"})"), Ids{"re"});
  EXPECT_EQ(Match(R"({"CommandLine":"abc-abc"})"), Ids{"backref"});
  EXPECT_EQ(Match(R"({"CommandLine":"abc-abd"})"), Ids{});
  EXPECT_EQ(Match("Nov 25 10:00:00 web01 sshd[12]: Failed password for root from 198.51.100.9 port 22 ssh2"),
            Ids{"keyword"});
}

TEST_F(MatcherTest, ACandidateWithoutAConfirmingLiteralIsNotEvaluated) {
  // The rule is gated on "kernelbase" (its rarest literal), which nearly every CallTrace holds;
  // the other part of its `and` confirms it: without "0x1fffff" in GrantedAccess it is dropped
  // before evaluation. Literals found in another field confirm nothing.
  Compile({AllOf("bof", {P("CallTrace", MatchOp::kContains, "kernelbase"),
                         P("GrantedAccess", MatchOp::kContains, "0x1fffff")})});
  EXPECT_EQ(Match(R"({"CallTrace":"ntdll|kernelbase+12","GrantedAccess":"0x1fffff"})"), Ids{"bof"});
  EXPECT_EQ(matcher_->stats().candidate_rules, 1u);
  EXPECT_EQ(Match(R"({"CallTrace":"ntdll|kernelbase+12","GrantedAccess":"0x1400"})"), Ids{});
  EXPECT_EQ(Match(R"({"CallTrace":"ntdll|kernelbase+12 0x1fffff","GrantedAccess":"0x1400"})"), Ids{});
  EXPECT_EQ(Match(R"({"CallTrace":"ntdll","GrantedAccess":"0x1fffff"})"), Ids{});
  EXPECT_EQ(matcher_->stats().candidate_rules, 1u);
  EXPECT_EQ(Match(R"({"GrantedAccess":"0x1FFFFF","CallTrace":"KERNELBASE"})"), Ids{"bof"});
  EXPECT_EQ(matcher_->stats().candidate_rules, 2u);
}

TEST_F(MatcherTest, RegexScansOfRepeatedValuesAreRememberedPerValue) {
  // The regex database's answer for a value is remembered: each value of a field (here the
  // elements of an array) keeps its own answer, even when an earlier value of the same event
  // already satisfied the same regex.
  Compile({AllOf("digits", {P("F", MatchOp::kRegex, "x[0-9]+y")}), AllOf("qz", {P("F", MatchOp::kRegex, "q+z")})});
  EXPECT_EQ(report_.regex_hyperscan_exact, 2u);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(Match(R"({"F":["x1y","qqz"]})"), (Ids{"digits", "qz"})) << round;
    EXPECT_EQ(Match(R"({"F":["x1y","x22y"]})"), Ids{"digits"}) << round;
    EXPECT_EQ(Match(R"({"F":["qqz"]})"), Ids{"qz"}) << round;
    EXPECT_EQ(Match(R"({"F":"x22y"})"), Ids{"digits"}) << round;
    EXPECT_EQ(Match(R"({"F":"x1yqz"})"), (Ids{"digits", "qz"})) << round;
    EXPECT_EQ(Match(R"({"F":"xy qz"})"), Ids{"qz"}) << round;
    EXPECT_EQ(Match(R"({"F":"xy"})"), Ids{}) << round;
  }
}

// The regex memo keys a value kept as written by its bytes as written (decoding it only on a
// miss), apart from decoded values: the same bytes decoded and as written are other texts.
TEST_F(MatcherTest, RegexMemoKeepsValuesAsWrittenApartFromDecodedOnes) {
  Predicate lt = P("F", MatchOp::kLt, "");  // reads F decoded (a number test)
  lt.number = 0;
  Compile({AllOf("num", {P("G", MatchOp::kEquals, "decodeme"), lt}),
           AllOf("re", {P("F", MatchOp::kRegex, "^a.nb$")})});
  for (int round = 0; round < 2; ++round) {
    // F decoded by "num" first: a, \, \, n, b (the memo key), which does not match.
    EXPECT_EQ(Match(R"({"G":"decodeme","F":"a\\\\nb"})"), Ids{}) << round;
    // The same five bytes as written: a, \, n, b, which matches.
    EXPECT_EQ(Match(R"({"F":"a\\nb"})"), Ids{"re"}) << round;
    EXPECT_EQ(Match(R"({"F":"a\\\\nb"})"), Ids{}) << round;
    EXPECT_EQ(Match(R"({"F":"a\u005cnb"})"), Ids{"re"}) << round;  // decoded first: \u
  }
}

// Exists and null tests do not decode a value kept as written: an escaped value is never empty.
TEST_F(MatcherTest, ExistsAndNullReadValuesAsWritten) {
  Predicate missing = P("F", MatchOp::kExists, "");
  missing.exists_expected = false;
  Compile({AllOf("has", {P("F", MatchOp::kExists, "")}), AllOf("missing", {missing}),
           AllOf("null", {P("F", MatchOp::kNull, "")})});
  EXPECT_EQ(Match(R"({"F":"C:\\x"})"), Ids{"has"});
  EXPECT_EQ(Match(R"({"F":"\n"})"), Ids{"has"});
  EXPECT_EQ(Match(R"({"F":""})"), (Ids{"has", "null"}));
  EXPECT_EQ(Match(R"({"G":"1"})"), (Ids{"missing", "null"}));
}

TEST_F(MatcherTest, NumericCidrNullExistsFieldref) {
  Predicate gt = P("sc-bytes", MatchOp::kGt, "");
  gt.number = 1000000;
  Predicate exists = P("cs-referer", MatchOp::kExists, "");
  exists.exists_expected = false;
  Compile({AllOf("big", {gt}), AllOf("internal", {P("c-ip", MatchOp::kCidr, "10.0.0.0/8")}),
           AllOf("nouser", {P("cs-username", MatchOp::kNull, ""), P("cs-method", MatchOp::kEquals, "POST")}),
           AllOf("noreferer", {exists, P("cs-method", MatchOp::kEquals, "PUT")}),
           AllOf("sameuser", {P("SubjectUserName", MatchOp::kFieldRefEquals, "TargetUserName")})});
  EXPECT_EQ(Match(R"(10.1.2.3 - - [25/Nov/2026:10:00:00 +0700] "POST /up HTTP/1.1" 200 2000000 "-" "curl/8")"),
            (Ids{"big", "internal", "nouser"}));
  EXPECT_EQ(Match(R"(203.0.113.9 - bob [25/Nov/2026:10:00:00 +0700] "POST /up HTTP/1.1" 200 20 "-" "curl/8")"),
            Ids{});
  EXPECT_EQ(Match(R"({"SubjectUserName":"Alice","TargetUserName":"alice"})"), Ids{"sameuser"});
  EXPECT_EQ(Match(R"({"SubjectUserName":"Alice","TargetUserName":"bob"})"), Ids{});
}

TEST_F(MatcherTest, MatchedFieldsAreReported) {
  Compile({AllOf("r", {P("Image", MatchOp::kEndsWith, "\\certutil.exe"),
                       P("CommandLine", MatchOp::kContains, "urlcache")})});
  EXPECT_EQ(Match(R"({"Image":"C:\\Windows\\System32\\certutil.exe","CommandLine":"certutil -urlcache -f http://x/a.exe"})"),
            Ids{"r"});
  ASSERT_EQ(last_matched_.size(), 2u);
  EXPECT_EQ(last_matched_[0].field, "Image");
  EXPECT_EQ(last_matched_[1].field, "CommandLine");
  EXPECT_EQ(last_matched_[1].value, "certutil -urlcache -f http://x/a.exe");
}

TEST_F(MatcherTest, BadRecordsAreReportedNotMatched) {
  Compile({AllOf("k", {P("", MatchOp::kContains, "needle")})});
  std::string rec = R"({"a":"needle")";  // truncated
  buffer_ = rec + std::string(kRecordPadding, '\0');
  Event event;
  event.raw = std::string_view(buffer_.data(), rec.size());
  std::vector<RuleMatch> out;
  EXPECT_FALSE(matcher_->match(event, parser_, LogFormat::kUnknown, out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(event.parse_error, ParseErrorKind::kTruncatedJson);
}

}  // namespace
}  // namespace vigil::rules

namespace vigil::rules {
namespace {

// Regression: a JSON event is first parsed for the rules' fields only; a candidate rule with
// keywords then needs every field, and the re-parse moves fields to other positions. The field
// index must not keep the positions of the first parse.
TEST_F(MatcherTest, ReparseAfterSelectedParseDoesNotReuseStalePositions) {
  Compile({AllOf("r", {P("Par", MatchOp::kEndsWith, "b.exe"), P("", MatchOp::kContains, "zq"),
                       P("Img", MatchOp::kFieldRefEquals, "Par")})});
  EXPECT_EQ(Match(R"({"F1":"zq b.exe","F2":"zq b.exe","Img":"c.exe","Par":"b.exe"})"), Ids{});
  EXPECT_EQ(Match(R"({"F1":"zq b.exe","F2":"zq","Img":"b.exe","Par":"b.exe"})"), Ids{"r"});
}

}  // namespace
}  // namespace vigil::rules
