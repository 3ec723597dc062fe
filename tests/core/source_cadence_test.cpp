// Silent sources: cadence learning, thresholds, overrides, the cap, tamper marks, persistence
// (core/source_cadence.h), and who sent a record (parse::source_name).
#include <gtest/gtest.h>

#include <map>

#include "core/parse/parser.h"
#include "core/source_cadence.h"

namespace vigil {
namespace {

constexpr std::int64_t kS = 1000000000LL;

SourceCadenceOptions fast_options() {
  SourceCadenceOptions o;
  o.factor = 10;
  o.minimum_ns = 10 * kS;  // resolution 1 s
  o.history_ns = 3600 * kS;
  o.min_gaps = 5;
  return o;
}

void send(SourceCadence& c, std::int64_t t, std::string_view host, std::vector<SourceTransition>* out = nullptr,
          std::string_view tamper = {}) {
  SourceBatch b;
  b.add("t1", "syslog-tcp", host, "sshd", tamper);
  c.observe(t, b, out);
}

const SourceStatus* find(const std::vector<SourceStatus>& list, std::string_view host) {
  for (const SourceStatus& s : list)
    if (s.host == host) return &s;
  return nullptr;
}

TEST(SourceCadence, ALearningSourceIsNeverSilent) {
  SourceCadence c(fast_options());
  for (int i = 0; i < 4; ++i) send(c, i * 10 * kS, "web1");  // 3 gaps < min_gaps
  std::vector<SourceTransition> t;
  c.check(100000 * kS, t);
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(c.list(0)[0].state, SourceState::kLearning);
}

TEST(SourceCadence, SilentPastTheThresholdOnceThenResumes) {
  SourceCadence c(fast_options());
  std::int64_t t = 0;
  for (int i = 0; i < 20; ++i, t += 10 * kS) send(c, t, "web1");
  const std::int64_t last = t - 10 * kS;
  const SourceStatus s = c.list(last)[0];
  EXPECT_EQ(s.state, SourceState::kOk);
  EXPECT_NEAR(double(s.usual_gap_ns) / kS, 10.0, 0.01);
  EXPECT_NEAR(double(s.threshold_ns) / kS, 100.0, 0.1);  // 10 x 10 s, above the 10 s minimum

  std::vector<SourceTransition> out;
  c.check(last + 99 * kS, out);
  EXPECT_TRUE(out.empty());
  c.check(last + 101 * kS, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].silent);
  EXPECT_EQ(out[0].source.host, "web1");
  EXPECT_EQ(out[0].source.last_seen_ns, last);
  c.check(last + 200 * kS, out);
  EXPECT_EQ(out.size(), 1u) << "one alert per silence";
  EXPECT_EQ(c.list(0)[0].state, SourceState::kSilent);

  out.clear();
  send(c, last + 300 * kS, "web1", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].silent);
  EXPECT_EQ(out[0].quiet_ns, 300 * kS);
  EXPECT_EQ(c.list(0)[0].state, SourceState::kOk);
  // The outage is learnt as the threshold at most: one long gap does not blind the detector.
  EXPECT_LT(c.list(0)[0].threshold_ns, 200 * kS);
  const SourceCadence::Counts n = c.counts(last + 300 * kS);
  EXPECT_EQ(n.silences, 1u);
  EXPECT_EQ(n.recoveries, 1u);
}

TEST(SourceCadence, BurstsCountAsOneArrival) {
  // Five lines 100 ms apart every minute (a cron job): the usual quiet is a minute, not 100 ms.
  SourceCadence c(fast_options());
  for (int minute = 0; minute < 10; ++minute)
    for (int k = 0; k < 5; ++k) send(c, minute * 60 * kS + k * kS / 10, "cron1");
  const SourceStatus s = c.list(0)[0];
  EXPECT_NEAR(double(s.usual_gap_ns) / kS, 60.0, 1.0);
  EXPECT_EQ(s.events, 50u);
}

TEST(SourceCadence, LongGapsWeighByTheTimeTheyLast) {
  // sum(g^2)/sum(g): the quiet a random instant falls in. Alternating gaps of 2 s and 30 s
  // (mean 16 s) give about 28 s, so the 30 s quiets are not taken for silences.
  SourceCadenceOptions o = fast_options();
  o.min_gaps = 100;  // learning: gaps are taken as they are
  SourceCadence c(o);
  std::int64_t t = 0;
  for (int i = 0; i < 20; ++i) {
    send(c, t, "h");
    t += (i % 2 ? 30 : 2) * kS;
  }
  const double usual = double(c.list(0)[0].usual_gap_ns) / kS;
  EXPECT_NEAR(usual, (4.0 + 900.0) / 32.0, 0.5);
}

TEST(SourceCadence, AnOutageBarelyMovesTheLearntGap) {
  SourceCadence c(fast_options());
  std::int64_t t = 0;
  for (int i = 0; i < 20; ++i, t += 10 * kS) send(c, t, "h");
  send(c, t + 5000 * kS, "h");  // a long outage, then the old cadence
  // 13 s: the outage counts as 20 s, and the history's decay over the outage thins the old
  // gaps; taken whole it would give about 4,000 s.
  EXPECT_LT(double(c.list(0)[0].usual_gap_ns) / kS, 15.0);
}

TEST(SourceCadence, OverridesFixTheThresholdOrSilenceTheAlert) {
  SourceCadenceOptions o = fast_options();
  SourceOverride fixed;
  fixed.host = "FW-*";  // case-insensitive glob
  fixed.after_ns = 30 * kS;
  SourceOverride quiet;
  quiet.host = "lab-*";
  quiet.alert = false;
  o.overrides = {fixed, quiet};
  SourceCadence c(o);
  send(c, 0, "fw-01");
  send(c, 0, "lab-7");
  for (int i = 1; i < 20; ++i) send(c, i * kS * 2, "lab-7");
  std::vector<SourceTransition> out;
  c.check(29 * kS, out);
  EXPECT_TRUE(out.empty());
  c.check(10000 * kS, out);
  ASSERT_EQ(out.size(), 1u) << "the fixed threshold applies without learning; alert: false never fires";
  EXPECT_EQ(out[0].source.host, "fw-01");
  EXPECT_EQ(out[0].source.threshold_ns, 30 * kS);
}

TEST(SourceCadence, TheCapForgetsTheLeastRecentlySeen) {
  SourceCadenceOptions o = fast_options();
  o.max_sources = 1000;
  SourceCadence c(o);
  for (int i = 0; i < 1500; ++i) send(c, (i + 1) * kS, "host-" + std::to_string(i));
  EXPECT_LE(c.size(), 1000u);
  const auto list = c.list(0);
  EXPECT_EQ(find(list, "host-0"), nullptr);
  EXPECT_NE(find(list, "host-1499"), nullptr);
  EXPECT_GE(c.counts(0).evicted, 500u);
  std::size_t deleted = 0;
  c.collect_changes([&](const std::string&, const std::string* v) { deleted += v == nullptr; }, false);
  EXPECT_EQ(deleted, c.counts(0).evicted);
  // Roughly what 1,000 short-named sources cost: well under a kilobyte each.
  EXPECT_LT(c.memory_bytes(), 1000u * 400u);
}

TEST(SourceCadence, WindowsLogClearedMarksTheSourceTamperedForTheHistory) {
  SourceCadence c(fast_options());
  send(c, 10 * kS, "dc1");
  send(c, 20 * kS, "dc1", nullptr, "log cleared");
  const SourceStatus s = c.list(30 * kS)[0];
  EXPECT_TRUE(s.tampered);
  EXPECT_EQ(s.tamper_reason, "log cleared");
  EXPECT_EQ(s.tampered_ns, 20 * kS);
  EXPECT_EQ(c.counts(30 * kS).tampered, 1u);
  EXPECT_FALSE(c.list(20 * kS + 3601 * kS)[0].tampered);
}

TEST(SourceCadence, StateSurvivesARestart) {
  SourceCadence a(fast_options());
  for (int i = 0; i < 20; ++i) send(a, i * 10 * kS, "web1");
  std::vector<SourceTransition> out;
  a.check(1000 * kS, out);
  ASSERT_EQ(out.size(), 1u);
  std::map<std::string, std::string> saved;
  a.collect_changes([&](const std::string& k, const std::string* v) { saved[k] = *v; }, true);
  ASSERT_EQ(saved.size(), 1u);

  SourceCadence b(fast_options());
  for (const auto& [k, v] : saved) ASSERT_TRUE(b.restore(k, v).ok());
  const SourceStatus before = a.list(0)[0], after = b.list(0)[0];
  EXPECT_EQ(after.usual_gap_ns, before.usual_gap_ns);
  EXPECT_EQ(after.gaps, before.gaps);
  EXPECT_EQ(after.state, SourceState::kSilent);
  out.clear();
  b.check(2000 * kS, out);
  EXPECT_TRUE(out.empty()) << "a silence already reported is not reported again after a restart";
  send(b, 2000 * kS, "web1", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].silent);
  EXPECT_FALSE(b.restore("no-separators", saved.begin()->second).ok());
  EXPECT_FALSE(b.restore(saved.begin()->first, "x").ok());
}

TEST(SourceBatch, CountsPerSourceAndKeepsPartsApart) {
  SourceBatch b;
  for (int i = 0; i < 100; ++i) b.add("t", "c", "ab", "c");
  b.add("t", "c", "a", "bc");
  for (int i = 0; i < 200; ++i) b.add("t", "c", "host" + std::to_string(i % 50), "p");  // grows the table
  ASSERT_EQ(b.size(), 52u);
  EXPECT_EQ(b[0].events, 100u);
  EXPECT_EQ(b[1].events, 1u);
  b.clear();
  EXPECT_TRUE(b.empty());
  b.add("t", "c", "ab", "c");
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].events, 1u);
}

TEST(SourceCadence, OptionsAreValidated) {
  SourceCadenceOptions o;
  EXPECT_TRUE(o.validate().ok());
  o.factor = 0.5;
  EXPECT_FALSE(o.validate().ok());
  o = SourceCadenceOptions{};
  o.history_ns = o.minimum_ns - 1;
  EXPECT_FALSE(o.validate().ok());
}

TEST(SourceName, FromTheSyslogHeaderOfAnUnparsedRecordAndFromWindowsFields) {
  Event e;
  const std::string line = "<38>Jan  2 03:04:05 web1 sshd[42]: Accepted publickey for root\n";
  e.start_record(line, "syslog-tcp", 1, "", "", "");
  e.format = LogFormat::kRfc3164;
  parse::SourceName n = parse::source_name(e);
  EXPECT_EQ(n.host, "web1");
  EXPECT_EQ(n.program, "sshd");
  EXPECT_TRUE(n.tamper.empty());

  Event w;
  w.start_record("{}", "http", 1, "", "", "");
  w.format = LogFormat::kJson;
  w.host = "dc1.example";
  w.fields.add("Channel", "Security");
  w.fields.add("EventID", "1102", ValueKind::kNumber);
  n = parse::source_name(w);
  EXPECT_EQ(n.host, "dc1.example");
  EXPECT_EQ(n.program, "Security");
  EXPECT_EQ(n.tamper, "log cleared");
  w.fields.clear();
  w.fields.add("Channel", "Security");
  w.fields.add("EventID", "4719", ValueKind::kNumber);
  EXPECT_EQ(parse::source_name(w).tamper, "audit policy changed");
  w.fields.clear();
  w.fields.add("Channel", "Application");
  w.fields.add("EventID", "104", ValueKind::kNumber);
  EXPECT_TRUE(parse::source_name(w).tamper.empty());
}

}  // namespace
}  // namespace vigil
