// Correlation engine (rules/correlation_engine.h) driven directly: base-rule matches are fed
// with chosen event times, so windows, lateness, eviction, chaining, suppression and the
// persisted state are checked exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <tuple>
#include <thread>

#include "core/pipeline.h"
#include "core/time_text.h"

#include "rules/compiled_rules.h"
#include "rules/correlation_engine.h"
#include "rules/sigma_loader.h"
#include "tests/support/wait.h"

namespace vigil::rules {
namespace {

constexpr std::int64_t kSec = 1000000000LL;

// How correlation alerts write their window times.
std::string WindowTime(std::int64_t unix_ns) { return format_rfc3339(unix_ns, Rfc3339Fraction::kWhenNonZero); }
constexpr std::int64_t kT0 = 1767225600LL * kSec;  // 2026-01-01T00:00:00Z

const char* kBaseRules = R"(title: failed login
id: r-fail
name: fail
tags: [attack.credential-access, attack.t1110.001]
logsource: {product: test}
detection: {sel: {action: fail}, condition: sel}
---
title: good login
id: r-ok
name: success
logsource: {product: test}
detection: {sel: {action: ok}, condition: sel}
---
title: noisy
id: r-noisy
logsource: {product: test}
detection: {sel: {action: noisy}, condition: sel}
vigil:
  suppress: {by: [src], for: 1m}
)";

std::string field(const Alert& a, const std::string& name) {
  for (const AlertField& f : a.fields)
    if (f.name == name) return f.value;
  return "";
}

struct Harness {
  LoadReport report;
  std::shared_ptr<const RuleSet> rules;
  std::unique_ptr<CorrelationEngine> engine;
  std::shared_ptr<const RuleBinding> binding;
  std::vector<Alert> out;       // correlation alerts and summaries
  std::vector<Alert> kept;      // base alerts the engine let through

  explicit Harness(const std::string& correlations, CorrelationOptions options = {}) {
    load_rule_text(kBaseRules, "base.yml", report);
    load_rule_text(correlations, "corr.yml", report);
    resolve_correlations(report);
    EXPECT_TRUE(report.errors.empty()) << report.errors[0].message;
    CompileReport cr;
    rules = *RuleSet::compile(report.rules, CompileOptions{}, &cr);
    auto e = CorrelationEngine::create(report.correlations, options);
    EXPECT_TRUE(e.has_value());
    engine = std::move(*e);
    binding = engine->bind(*rules, nullptr);
  }
  std::uint32_t index(const std::string& id) const {
    for (std::uint32_t i = 0; i < rules->size(); ++i)
      if (rules->rule(i).id == id) return i;
    ADD_FAILURE() << "no rule " << id;
    return 0;
  }
  // `batch_end`: advance() after the event, as if it ended a batch.
  void feed(const std::string& rule_id, const std::string& src, std::int64_t t_ns, const std::string& user = "u",
            bool batch_end = true) {
    Event e;
    e.fields.add("src", src);
    e.fields.add("user", user);
    std::vector<Alert> alerts(1);
    alerts[0].rule_id = rule_id;
    alerts[0].event_unix_ns = t_ns;
    engine->on_event(*binding, e, {index(rule_id)}, t_ns, alerts, 0);
    kept.insert(kept.end(), alerts.begin(), alerts.end());
    if (batch_end) engine->advance(out);
  }
  void flush() { engine->advance(out, CorrelationEngine::Flush::kAll); }
  void idle() { engine->advance(out, CorrelationEngine::Flush::kIdle); }
};

const char* kBruteForce = R"(title: brute force
id: c-bf
correlation:
  type: event_count
  rules: [fail]
  group-by: [src]
  timespan: 10s
  condition: {gte: 3}
level: high
)";

CorrelationOptions no_lateness() {
  CorrelationOptions o;
  o.allowed_lateness_ns = 0;
  return o;
}

TEST(Correlation, EventCountFiresWhenTheWindowCloses) {
  Harness h(kBruteForce, no_lateness());
  for (int i = 0; i < 5; ++i) h.feed("r-fail", "10.0.0.1", kT0 + i * kSec);
  EXPECT_TRUE(h.out.empty());  // the window is still open
  h.feed("r-fail", "10.0.0.2", kT0 + 60 * kSec);  // event time moves on
  ASSERT_EQ(h.out.size(), 1u);
  const Alert& a = h.out[0];
  EXPECT_EQ(a.rule_id, "c-bf");
  EXPECT_EQ(a.rule_title, "brute force");
  EXPECT_EQ(a.level, AlertLevel::kHigh);
  EXPECT_EQ(field(a, "event_count"), "5");
  EXPECT_EQ(field(a, "src"), "10.0.0.1");
  ASSERT_EQ(a.matched.size(), 1u);
  EXPECT_EQ(a.matched[0].value, "10.0.0.1");
  EXPECT_EQ(a.event_unix_ns, kT0 + 4 * kSec);  // the last contributing event
  // generate: false (the default): the failed logins store no alerts of their own.
  EXPECT_TRUE(h.kept.empty());
  EXPECT_EQ(h.engine->counters().base_alerts_withheld.load(), 6u);
}

TEST(Correlation, WindowEndIsExclusive) {
  Harness h(kBruteForce, no_lateness());
  h.feed("r-fail", "a", kT0);
  h.feed("r-fail", "a", kT0 + 5 * kSec);
  h.feed("r-fail", "a", kT0 + 10 * kSec);  // exactly timespan after the first: next window
  h.feed("r-fail", "b", kT0 + 20 * kSec);
  h.feed("r-fail", "b", kT0 + 26 * kSec);
  h.feed("r-fail", "b", kT0 + 30 * kSec - 1);  // 1 ns inside
  h.flush();
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(field(h.out[0], "src"), "b");
  EXPECT_EQ(field(h.out[0], "event_count"), "3");
}

TEST(Correlation, OutOfOrderWithinLatenessGivesTheInOrderResult) {
  CorrelationOptions o;
  o.allowed_lateness_ns = 30 * kSec;
  Harness h(kBruteForce, o);
  for (int t : {5, 1, 9, 3, 7}) h.feed("r-fail", "a", kT0 + t * kSec);
  h.feed("r-fail", "x", kT0 + 100 * kSec);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(field(h.out[0], "event_count"), "5");
  EXPECT_EQ(field(h.out[0], "window_start"), WindowTime(kT0 + 1 * kSec));
  EXPECT_EQ(h.engine->counters().late_events.load(), 0u);
}

TEST(Correlation, EventsBeyondTheLatenessAreCountedAndLeftOut) {
  CorrelationOptions o;
  o.allowed_lateness_ns = 30 * kSec;
  Harness h(kBruteForce, o);
  h.feed("r-fail", "a", kT0 + 100 * kSec);
  h.feed("r-fail", "a", kT0 + 101 * kSec);
  h.feed("r-fail", "a", kT0 + 60 * kSec);   // 40 s late: dropped
  h.feed("r-fail", "a", kT0 + 75 * kSec);   // 25 s late: within
  EXPECT_EQ(h.engine->counters().late_events.load(), 1u);
  h.flush();
  // 75, 100, 101: the window from 75 s holds only 75 (100 is 25 s later, beyond 10 s).
  EXPECT_TRUE(h.out.empty());
  Harness in_time(kBruteForce, o);
  in_time.feed("r-fail", "a", kT0 + 100 * kSec);
  in_time.feed("r-fail", "a", kT0 + 95 * kSec);
  in_time.feed("r-fail", "a", kT0 + 98 * kSec);
  in_time.flush();
  ASSERT_EQ(in_time.out.size(), 1u);
  EXPECT_EQ(field(in_time.out[0], "event_count"), "3");
}

TEST(Correlation, MemoryCapEvictsLeastRecentGroupsAndCountsThem) {
  CorrelationOptions o = no_lateness();
  o.shards = 1;
  o.max_memory_bytes = 64 << 10;
  Harness h(kBruteForce, o);
  for (int i = 0; i < 5000; ++i) h.feed("r-fail", "10.1." + std::to_string(i), kT0 + kSec);
  EXPECT_GT(h.engine->counters().evicted_groups.load(), 4000u);
  EXPECT_LE(h.engine->memory_bytes(), std::size_t(64 << 10));
  EXPECT_LT(h.engine->groups(), 1000u);
  // The most recent group survived and still counts.
  h.feed("r-fail", "10.1.4999", kT0 + 2 * kSec);
  h.feed("r-fail", "10.1.4999", kT0 + 3 * kSec);
  h.flush();
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(field(h.out[0], "src"), "10.1.4999");
}

TEST(Correlation, CorrelationOfCorrelations) {
  Harness h(R"(title: repeated bursts
id: c-outer
correlation:
  type: event_count
  rules: [burst]
  group-by: [src]
  timespan: 1h
  condition: {gte: 2}
level: critical
---
title: burst
id: c-inner
name: burst
correlation:
  type: event_count
  rules: [fail]
  group-by: [src]
  timespan: 10s
  condition: {gte: 3}
)", no_lateness());
  for (int burst = 0; burst < 2; ++burst)
    for (int i = 0; i < 3; ++i) h.feed("r-fail", "a", kT0 + burst * 600 * kSec + i * kSec);
  h.feed("r-fail", "other", kT0 + 7200 * kSec);
  h.flush();
  ASSERT_EQ(h.out.size(), 1u);  // the inner alerts are not generated (generate: false)
  EXPECT_EQ(h.out[0].rule_id, "c-outer");
  EXPECT_EQ(field(h.out[0], "event_count"), "2");
  EXPECT_EQ(h.out[0].event_unix_ns, kT0 + 602 * kSec);
}

TEST(Correlation, GenerateTrueKeepsTheBaseAlerts) {
  Harness h(R"(title: bf
id: c-bf
generate: true
correlation: {type: event_count, rules: [r-fail], group-by: [src], timespan: 10s, condition: {gte: 2}}
)", no_lateness());
  h.feed("r-fail", "a", kT0);
  h.feed("r-fail", "a", kT0 + kSec);
  h.flush();
  EXPECT_EQ(h.kept.size(), 2u);
  EXPECT_EQ(h.out.size(), 1u);
}

TEST(Correlation, TemporalOrderedNeedsTheOrder) {
  const char* rule = R"(title: success after failure
id: c-ord
correlation: {type: temporal_ordered, rules: [fail, success], group-by: [src], timespan: 1m}
)";
  Harness in_order(rule, no_lateness());
  in_order.feed("r-fail", "a", kT0);
  in_order.feed("r-ok", "a", kT0 + 5 * kSec);
  in_order.flush();
  ASSERT_EQ(in_order.out.size(), 1u);
  EXPECT_EQ(field(in_order.out[0], "rules_matched"), "2");
  Harness reversed(rule, no_lateness());
  reversed.feed("r-ok", "a", kT0);
  reversed.feed("r-fail", "a", kT0 + 5 * kSec);
  reversed.flush();
  EXPECT_TRUE(reversed.out.empty());
  Harness temporal(R"(title: both
id: c-tmp
correlation: {type: temporal, rules: [fail, success], group-by: [src], timespan: 1m}
)", no_lateness());
  temporal.feed("r-ok", "a", kT0);
  temporal.feed("r-fail", "a", kT0 + 5 * kSec);
  temporal.flush();
  EXPECT_EQ(temporal.out.size(), 1u);
}

// The daemon's idle flush closed every open window, as the end of a scan does: twelve failed
// logins, a stream quiet for longer than idle_flush, then the success from the same address
// raised no success-after-failures alert, though `vigil scan` of the same events did (issue 26,
// found by the oracle's rsyslog and syslog-ng cases). Now a window open past the latest event
// time stays open unless its condition already holds.
TEST(Correlation, IdleFlushKeepsAnOpenSequenceWaitingForItsLastStep) {
  Harness h(R"(title: success after failures
id: c-after
correlation:
  type: temporal_ordered
  rules: [repeated, success]
  group-by: [src]
  timespan: 30m
level: critical
---
title: repeated failures
id: c-repeated
name: repeated
correlation: {type: event_count, rules: [fail], group-by: [src], timespan: 10m, condition: {gte: 5}}
)");
  for (int i = 0; i < 12; ++i) h.feed("r-fail", "a", kT0 + i * kSec);
  h.idle();  // the stream goes quiet
  EXPECT_TRUE(h.out.empty());
  EXPECT_GT(h.engine->groups(), 0u);  // the sequence waits for its success
  h.feed("r-ok", "a", kT0 + 600 * kSec);  // ten minutes later
  h.idle();
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].rule_id, "c-after");
  EXPECT_EQ(h.out[0].event_unix_ns, kT0 + 600 * kSec);
  EXPECT_EQ(h.engine->groups(), 0u);
}

// At the end of a stream the idle flush gives what the end of a scan gives: the windows that
// hold fire with every event, the others raise nothing, suppression periods end with their
// summaries.
TEST(Correlation, IdleFlushAtTheEndOfAStreamGivesTheScanResult) {
  auto run = [](bool idle) {
    Harness h(kBruteForce);
    for (int i = 0; i < 5; ++i) h.feed("r-fail", "a", kT0 + i * kSec);  // holds: 5 >= 3
    h.feed("r-fail", "b", kT0 + 2 * kSec);                              // does not hold
    for (int i = 0; i < 3; ++i) h.feed("r-noisy", "n", kT0 + i * kSec);  // 2 repeats suppressed
    if (idle) h.idle();
    else h.flush();
    std::vector<std::string> got;
    for (const Alert& a : h.out) got.push_back(a.rule_id + " " + field(a, "event_count") + field(a, "suppressed"));
    std::sort(got.begin(), got.end());
    return got;
  };
  const std::vector<std::string> want = {"c-bf 5", "r-noisy 2"};
  EXPECT_EQ(run(false), want);
  EXPECT_EQ(run(true), want);
}

TEST(Correlation, ValueCountCountsDistinctValuesAndRanges) {
  Harness h(R"(title: spraying
id: c-spray
correlation:
  type: value_count
  rules: [fail]
  group-by: [src]
  timespan: 1m
  condition: {field: user, gt: 2, lte: 4}
)", no_lateness());
  for (const char* u : {"alice", "bob", "alice", "carol"}) h.feed("r-fail", "a", kT0 + kSec, u);
  for (const char* u : {"u1", "u2", "u3", "u4", "u5"}) h.feed("r-fail", "b", kT0 + kSec, u);  // 5: out of range
  h.flush();
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(field(h.out[0], "src"), "a");
  EXPECT_EQ(field(h.out[0], "distinct_user"), "3");
  EXPECT_EQ(field(h.out[0], "event_count"), "4");
}

TEST(Correlation, AliasesMapFieldsPerRule) {
  Harness h(R"(title: aliased
id: c-alias
correlation:
  type: temporal
  rules: [fail, success]
  group-by: [who]
  timespan: 1m
  aliases:
    who: {fail: src, success: user}
)", no_lateness());
  h.feed("r-fail", "carol", kT0, "x");
  h.feed("r-ok", "y", kT0 + kSec, "carol");
  h.flush();
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(field(h.out[0], "who"), "carol");
}

TEST(Correlation, SuppressionCountsRepeatsAndStoresASummary) {
  Harness h(kBruteForce, no_lateness());
  for (int i = 0; i < 4; ++i) h.feed("r-noisy", "a", kT0 + i * kSec);
  h.feed("r-noisy", "b", kT0 + 5 * kSec);
  EXPECT_EQ(h.kept.size(), 2u);  // the first of a, the first of b
  EXPECT_EQ(h.engine->counters().suppressed.load(), 3u);
  h.feed("r-noisy", "c", kT0 + 120 * kSec);  // a's period ends
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].rule_id, "r-noisy");
  EXPECT_EQ(h.out[0].count, 3u);
  EXPECT_EQ(field(h.out[0], "suppressed"), "3");
  EXPECT_EQ(h.out[0].matched[0].value, "a");
}

// Found by the e2e test CorrelationExactAfterTwentyKill9s: after kill -9s, a brute-force alert
// that an uninterrupted run suppressed was stored and a later one suppressed instead. A period
// with repeats ended only when advance() (a batch end) found it over; an alert of the same key
// after the period's end but before that batch end passed without opening the next period, so
// where batches ended (different after a crash replays from a checkpoint) decided what was
// suppressed. Now the same stream gives the same alerts whether every event ends a batch or
// none does.
TEST(Correlation, SuppressionDoesNotDependOnWhereBatchesEnd) {
  struct Step {
    const char* src;
    std::int64_t seconds;
  };
  // a's period is 0..60 s with one repeat; b at 65 s moves the watermark past it; a at 66 s
  // opens the next period, which suppresses a at 80 s.
  const Step steps[] = {{"a", 0}, {"a", 10}, {"b", 65}, {"a", 66}, {"a", 80}};
  Harness per_event(kBruteForce, no_lateness()), one_batch(kBruteForce, no_lateness());
  for (const Step& s : steps) {
    per_event.feed("r-noisy", s.src, kT0 + s.seconds * kSec);
    one_batch.feed("r-noisy", s.src, kT0 + s.seconds * kSec, "u", /*batch_end=*/false);
  }
  per_event.flush();
  one_batch.flush();
  for (Harness* h : {&per_event, &one_batch}) {
    EXPECT_EQ(h->kept.size(), 3u);  // a at 0 and 66, b
    EXPECT_EQ(h->engine->counters().suppressed.load(), 2u);  // a at 10 and 80
    // Two summaries of one repeat each, ending at 10 s and 80 s (in either order).
    std::vector<std::string> summaries;
    for (const Alert& a : h->out)
      summaries.push_back(field(a, "suppressed") + " until " + std::to_string((a.event_unix_ns - kT0) / kSec));
    std::sort(summaries.begin(), summaries.end());
    EXPECT_EQ(summaries, (std::vector<std::string>{"1 until 10", "1 until 80"}));
  }
}

TEST(Correlation, StateSurvivesARestart) {
  std::map<std::string, std::string> stored;
  {
    Harness h(kBruteForce, no_lateness());
    h.feed("r-fail", "a", kT0);
    h.feed("r-fail", "a", kT0 + kSec);
    h.engine->collect_changes([&](const std::string& k, const std::string* v) {
      if (v) stored[k] = *v;
      else stored.erase(k);
    });
    EXPECT_TRUE(h.out.empty());
  }
  ASSERT_FALSE(stored.empty());
  Harness h(kBruteForce, no_lateness());
  for (const auto& [k, v] : stored) ASSERT_TRUE(h.engine->restore(k, v).ok()) << k;
  EXPECT_EQ(h.engine->max_event_time(), kT0 + kSec);
  h.feed("r-fail", "a", kT0 + 2 * kSec);
  h.flush();
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(field(h.out[0], "event_count"), "3");
}

// A correlation alert names the techniques of the events it stands for: its own tags' and those
// of the rules it reads; a suppression summary keeps the suppressed alerts' across a restart.
TEST(Correlation, AlertsCarryTheAttackViewsOfTheirRules) {
  Harness h(std::string(kBruteForce) + "tags: [attack.t1110]\n", no_lateness());
  for (int i = 0; i < 3; ++i) h.feed("r-fail", "a", kT0 + i * kSec);
  h.flush();
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].attack_techniques, (std::vector<std::string>{"T1110", "T1110.001"}));
  EXPECT_EQ(h.out[0].attack_tactics, std::vector<std::string>{"credential-access"});

  std::map<std::string, std::string> stored;
  {
    Harness first(kBruteForce, no_lateness());
    for (int i = 0; i < 3; ++i) {
      Event e;
      e.fields.add("src", "a");
      std::vector<Alert> alerts(1);
      alerts[0].rule_id = "r-noisy";
      alerts[0].attack_techniques = {"T1070.001", "T1685.005"};
      first.engine->on_event(*first.binding, e, {first.index("r-noisy")}, kT0 + i * kSec, alerts, 0);
    }
    first.engine->collect_changes([&](const std::string& k, const std::string* v) {
      if (v) stored[k] = *v;
      else stored.erase(k);
    });
  }
  Harness h2(kBruteForce, no_lateness());
  for (const auto& [k, v] : stored) ASSERT_TRUE(h2.engine->restore(k, v).ok()) << k;
  h2.feed("r-noisy", "b", kT0 + 120 * kSec);  // a's period ends
  ASSERT_EQ(h2.out.size(), 1u);
  EXPECT_EQ(field(h2.out[0], "suppressed"), "2");
  EXPECT_EQ(h2.out[0].attack_techniques, (std::vector<std::string>{"T1070.001", "T1685.005"}));
}

TEST(CorrelationLoader, BadRulesAreReportedAndTheOthersLoad) {
  LoadReport r;
  load_rule_text(kBaseRules, "base.yml", r);
  load_rule_text(R"(title: unknown ref
id: c1
correlation: {type: event_count, rules: [nope], group-by: [x], timespan: 5m, condition: {gte: 2}}
---
title: no timespan
id: c2
correlation: {type: event_count, rules: [fail], group-by: [x], condition: {gte: 2}}
---
title: cycle a
id: c3
correlation: {type: temporal, rules: [c4], group-by: [x], timespan: 5m}
---
title: cycle b
id: c4
correlation: {type: temporal, rules: [c3], group-by: [x], timespan: 5m}
---
title: good
id: c5
correlation: {type: event_count, rules: [fail], group-by: [x], timespan: 5m, condition: {gte: 2}}
)", "corr.yml", r);
  resolve_correlations(r);
  ASSERT_EQ(r.correlations.size(), 1u);
  EXPECT_EQ(r.correlations[0].id, "c5");
  std::map<std::string, std::string> reason_by_id;
  for (const LoadError& e : r.errors) {
    EXPECT_EQ(e.file, "corr.yml");
    reason_by_id[e.rule_id] = e.reason;
  }
  EXPECT_EQ(reason_by_id["c1"], "unknown_rule_reference");
  EXPECT_EQ(reason_by_id["c2"], "missing_timespan");
  EXPECT_EQ(reason_by_id["c3"], "correlation_cycle");
  EXPECT_EQ(reason_by_id["c4"], "correlation_cycle");
  EXPECT_EQ(r.rules.size(), 3u);
}

// Found by fuzz_correlation: two correlations with one id shared their saved window state (it
// is keyed by id), so after a restore one of them lost its windows. The later one is refused.
// A JSON event is parsed only for the fields some rule reads: the fields correlations group or
// count by are given to the rules they read, directly, through aliases, through a `vigil:
// fields` source, or through a correlation of correlations, so that they are parsed even when
// no detection names them.
TEST(CorrelationLoader, DetectionRulesLearnTheFieldsTheirCorrelationsGroupBy) {
  LoadReport r;
  load_rule_text(kBaseRules, "base.yml", r);
  load_rule_text(R"(title: by subject
id: c-subject
name: by_subject
correlation:
  type: event_count
  rules: [fail]
  group-by: [SubjectUserName]
  timespan: 10m
  condition: {gte: 3}
---
title: aliased
id: c-alias2
correlation:
  type: temporal
  rules: [fail, success]
  group-by: [who]
  timespan: 1m
  aliases:
    who: {fail: TargetUserName, success: user}
---
title: distinct hosts
id: c-hosts
correlation:
  type: value_count
  rules: [by_subject]
  group-by: [TargetDomainName]
  timespan: 1h
  condition: {field: Workstation, gte: 2}
---
title: cut out
id: c-cut
correlation:
  type: event_count
  rules: [success]
  group-by: [client]
  timespan: 10m
  condition: {gte: 2}
vigil:
  fields:
    client: {from: Message, regex: 'from (\\S+)'}
)", "corr.yml", r);
  resolve_correlations(r);
  ASSERT_TRUE(r.errors.empty()) << r.errors[0].message;
  auto fields_of = [&](const std::string& id) {
    for (const SigmaRule& rule : r.rules)
      if (rule.id == id) {
        std::vector<std::string> f = rule.correlation_fields;
        std::sort(f.begin(), f.end());
        return f;
      }
    ADD_FAILURE() << "no rule " << id;
    return std::vector<std::string>{};
  };
  EXPECT_EQ(fields_of("r-fail"), (std::vector<std::string>{"SubjectUserName", "TargetDomainName", "TargetUserName",
                                                           "Workstation"}));
  EXPECT_EQ(fields_of("r-ok"), (std::vector<std::string>{"Message", "user"}));
  EXPECT_TRUE(fields_of("r-noisy").empty());

  // The compiled rule set parses them: an event matched by `fail` carries SubjectUserName.
  CompileReport cr;
  auto rules = RuleSet::compile(r.rules, CompileOptions{}, &cr);
  ASSERT_TRUE(rules.has_value());
  ASSERT_NE((*rules)->compiled().selection, nullptr);
  EXPECT_GE((*rules)->compiled().selection->find("SubjectUserName"), 0);
  EXPECT_GE((*rules)->compiled().selection->find("Workstation"), 0);
}

TEST(CorrelationLoader, ASecondCorrelationWithTheSameIdIsRefused) {
  LoadReport r;
  load_rule_text(kBaseRules, "base.yml", r);
  load_rule_text(R"(title: first
id: dup
correlation: {type: event_count, rules: [fail], group-by: [x], timespan: 5m, condition: {gte: 2}}
---
title: second
id: dup
correlation: {type: event_count, rules: [fail], group-by: [y], timespan: 5m, condition: {gte: 3}}
)", "corr.yml", r);
  resolve_correlations(r);
  ASSERT_EQ(r.correlations.size(), 1u);
  EXPECT_EQ(r.correlations[0].title, "first");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].reason, "duplicate_id");
  EXPECT_EQ(r.errors[0].line, 5);
  EXPECT_NE(r.errors[0].message.find("corr.yml:1"), std::string::npos) << r.errors[0].message;
}

TEST(CorrelationTime, SyslogStampWithoutYearTakesTheReferenceYear) {
  Event e;
  e.time_text = "Mar 30 15:02:11";
  const std::int64_t ref = 1795651200LL * kSec;  // 2026-11-26
  EXPECT_EQ(WindowTime(event_time_ns(e, ref)), "2026-03-30T15:02:11Z");
  e.time_text = "Dec 31 23:59:59";  // would be a month ahead: last year
  const std::int64_t jan = 1767312000LL * kSec;  // 2026-01-02
  EXPECT_EQ(WindowTime(event_time_ns(e, jan)), "2025-12-31T23:59:59Z");
  e.time_unix_ns = 42;
  EXPECT_EQ(event_time_ns(e, ref), 42);
}

// The daemon's matcher threads take batches in parallel. A thread that has taken an earlier
// batch must hold the watermark back from the moment it takes it, not only once it starts on
// it: the pipeline tells the processor while the queue is still locked (BatchProcessor::
// on_taken). Here the first batch is slow to start, and the other thread takes and finishes the
// next one (an hour later in event time) meanwhile; the first batch's events are still not late.
// The first batch waits until the later one is finished, so that order is forced, not hoped for.
// Found by bench/daemon_bench.sh (29 copies of auth.log: event time jumps back at each copy):
// the daemon stored 13 alerts more than `vigil scan` of the same stream, because an event was
// judged late against the latest time at the last batch end, and batches end in different
// places in the daemon and in scan. In arrival order (scan, the daemon's apply()), the stream
// alone decides: the same alerts whether every event is its own batch or all are one.
TEST(Correlation, InArrivalOrderLatenessDoesNotDependOnWhereBatchesEnd) {
  CorrelationOptions o;
  o.allowed_lateness_ns = 30 * kSec;
  o.ordered_input = true;
  struct Step {
    const char* src;
    std::int64_t seconds;
  };
  const Step steps[] = {{"10.0.0.1", 0}, {"10.0.0.1", 1}, {"10.0.0.2", 1000}, {"10.0.0.1", 2}};
  Harness per_event(kBruteForce, o), one_batch(kBruteForce, o);
  for (const Step& s : steps) per_event.feed("r-fail", s.src, kT0 + s.seconds * kSec);  // advance() after each
  for (const Step& s : steps) {
    Event e;
    e.fields.add("src", s.src);
    e.fields.add("user", "u");
    std::vector<Alert> base(1);
    base[0].rule_id = "r-fail";
    one_batch.engine->on_event(*one_batch.binding, e, {one_batch.index("r-fail")}, kT0 + s.seconds * kSec, base, 0);
  }
  per_event.flush();
  one_batch.flush();
  // 10.0.0.1's third failure comes 998 s behind the latest time: late both ways, no brute force.
  EXPECT_TRUE(per_event.out.empty()) << per_event.out[0].raw;
  EXPECT_TRUE(one_batch.out.empty()) << one_batch.out[0].raw;
  EXPECT_EQ(per_event.engine->counters().late_events.load(), 1u);
  EXPECT_EQ(one_batch.engine->counters().late_events.load(), 1u);
}

TEST(Correlation, ABatchTakenFirstIsNotMadeLateByALaterBatchFinishedFirst) {
  CorrelationOptions o;
  o.allowed_lateness_ns = 30 * kSec;
  Harness h(kBruteForce, o);
  const std::uint32_t fail = h.index("r-fail");
  class Feeder : public BatchProcessor {
   public:
    Feeder(Harness& h, std::uint32_t rule, std::shared_future<void> later_finished, std::promise<void>& finish_later)
        : h_(h), rule_(rule), later_finished_(std::move(later_finished)), finish_later_(finish_later) {}
    void on_taken() override { h_.engine->batch_begin(); }
    void process(const IngestBatch& batch, std::vector<Alert>& alerts) override {
      const bool first = batch.records.front().record.record_no == 0;
      if (first) {
        // Taken (on_taken has run), not started: the other thread takes and finishes the later batch.
        EXPECT_EQ(later_finished_.wait_for(vigil::testing::kWaitTimeout), std::future_status::ready)
            << "the later batch was not matched while the first waited";
      }
      for (const IngestRecord& r : batch.records) {
        // "<src> <seconds after kT0>"
        const std::string text(r.record.bytes);
        const std::size_t space = text.find(' ');
        const std::int64_t t = kT0 + std::stoll(text.substr(space + 1)) * kSec;
        // The event's fields are views: the text they show must outlive the event.
        const std::string src = text.substr(0, space);
        Event e;
        e.fields.add("src", src);
        e.fields.add("user", "u");
        std::vector<Alert> base(1);
        base[0].rule_id = "r-fail";
        h_.engine->on_event(*h_.binding, e, {rule_}, t, base, 0);
      }
      h_.engine->advance(alerts);
      if (!first) finish_later_.set_value();
    }

   private:
    Harness& h_;
    std::uint32_t rule_;
    std::shared_future<void> later_finished_;
    std::promise<void>& finish_later_;
  };
  class Collect : public AlertCommitter {
   public:
    Status commit(std::vector<Alert>& alerts, const std::vector<Checkpoint>&) override {
      std::lock_guard lock(mu);
      for (Alert& a : alerts) committed.push_back(a);
      return Status::Ok();
    }
    std::mutex mu;
    std::vector<Alert> committed;
  } committer;
  PipelineOptions options;
  options.matcher_threads = 2;
  std::promise<void> finish_later;
  std::shared_future<void> later_finished = finish_later.get_future().share();
  Pipeline pipeline(options, [&](unsigned) { return std::make_unique<Feeder>(h, fail, later_finished, finish_later); },
                    committer, nullptr);
  pipeline.start();
  auto src = std::make_shared<SourceInfo>();
  IngestBatchBuilder first(src);
  for (int i = 0; i < 3; ++i) first.add("a " + std::to_string(i + 1), static_cast<std::uint64_t>(i));
  IngestBatchBuilder later(src);
  later.add("x 3600", 3);
  ASSERT_TRUE(pipeline.submit(first.finish()));
  ASSERT_TRUE(pipeline.submit(later.finish()));
  pipeline.drain_and_stop();
  h.flush();
  EXPECT_EQ(h.engine->counters().late_events.load(), 0u);
  std::vector<Alert> fired = committer.committed;
  fired.insert(fired.end(), h.out.begin(), h.out.end());
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].rule_id, "c-bf");
  EXPECT_EQ(field(fired[0], "event_count"), "3");
}

}  // namespace
}  // namespace vigil::rules

namespace vigil::rules {
namespace {

CorrelationOptions early_firing() {
  CorrelationOptions o = no_lateness();
  o.early_firing = true;
  return o;
}

// Alerts of rule `id` with the given revision among `alerts`.
std::vector<Alert> of(const std::vector<Alert>& alerts, const std::string& id, Alert::Revision revision) {
  std::vector<Alert> out;
  for (const Alert& a : alerts)
    if (a.rule_id == id && a.revision == revision) out.push_back(a);
  return out;
}

// Issue 28: the alert at the event that makes `gte` hold, with the events so far; the later
// events of the window revise it (one record per advance, only when the count changed) and
// the close gives the final state, equal to what the close alone emits without early firing.
TEST(CorrelationEarly, FiresAtTheDecidingEventThenRevisesThatAlert) {
  Harness h(kBruteForce, early_firing());
  h.feed("r-fail", "a", kT0);
  h.feed("r-fail", "a", kT0 + kSec);
  EXPECT_TRUE(h.kept.empty());
  h.feed("r-fail", "a", kT0 + 2 * kSec);  // the third: gte 3 holds
  std::vector<Alert> first = of(h.kept, "c-bf", Alert::Revision::kFirst);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(field(first[0], "event_count"), "3");
  EXPECT_EQ(first[0].event_unix_ns, kT0 + 2 * kSec);
  EXPECT_FALSE(first[0].revision_key.empty());
  EXPECT_TRUE(h.out.empty());
  h.feed("r-fail", "a", kT0 + 3 * kSec);
  h.feed("r-fail", "a", kT0 + 4 * kSec);
  std::vector<Alert> updates = of(h.out, "c-bf", Alert::Revision::kUpdate);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(field(updates[1], "event_count"), "5");
  EXPECT_EQ(updates[1].revision_key, first[0].revision_key);
  h.engine->advance(h.out);  // nothing new: no record
  EXPECT_EQ(of(h.out, "c-bf", Alert::Revision::kUpdate).size(), 2u);
  h.flush();
  std::vector<Alert> final_state = of(h.out, "c-bf", Alert::Revision::kFinal);
  ASSERT_EQ(final_state.size(), 1u);
  EXPECT_EQ(final_state[0].revision_key, first[0].revision_key);
  EXPECT_EQ(of(h.kept, "c-bf", Alert::Revision::kFirst).size(), 1u);  // never a second alert
  EXPECT_EQ(h.engine->counters().early_alerts.load(), 1u);

  Harness at_close(kBruteForce, no_lateness());
  for (int i = 0; i < 5; ++i) at_close.feed("r-fail", "a", kT0 + i * kSec);
  at_close.flush();
  ASSERT_EQ(at_close.out.size(), 1u);
  EXPECT_EQ(at_close.out[0].fields.size(), final_state[0].fields.size());
  for (std::size_t i = 0; i < at_close.out[0].fields.size(); ++i)
    EXPECT_EQ(at_close.out[0].fields[i].value, final_state[0].fields[i].value) << at_close.out[0].fields[i].name;
  EXPECT_EQ(at_close.out[0].raw, final_state[0].raw);
  EXPECT_EQ(at_close.out[0].event_unix_ns, final_state[0].event_unix_ns);
}

// The next window of the same group fires at its own deciding event, even while the first
// one has not closed yet (it closes only when the watermark passes its end).
TEST(CorrelationEarly, TheNextWindowFiresAtItsOwnDecidingEvent) {
  CorrelationOptions o = early_firing();
  o.allowed_lateness_ns = 300 * kSec;
  Harness h(kBruteForce, o);
  for (int i = 0; i < 3; ++i) h.feed("r-fail", "a", kT0 + i * kSec);
  for (int i = 0; i < 3; ++i) h.feed("r-fail", "a", kT0 + 20 * kSec + i * kSec);
  std::vector<Alert> first = of(h.kept, "c-bf", Alert::Revision::kFirst);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_NE(first[0].revision_key, first[1].revision_key);
  EXPECT_EQ(field(first[1], "window_start"), WindowTime(kT0 + 20 * kSec));
  h.flush();
  EXPECT_EQ(of(h.out, "c-bf", Alert::Revision::kFinal).size(), 2u);
  EXPECT_TRUE(of(h.out, "c-bf", Alert::Revision::kNone).empty());
}

// Conditions that need the window's end (an upper bound) still fire at close only.
TEST(CorrelationEarly, AnUpperBoundWaitsForTheClose) {
  Harness h(R"(title: a few
id: c-few
correlation: {type: event_count, rules: [fail], group-by: [src], timespan: 10s, condition: {gte: 2, lte: 3}}
)", early_firing());
  h.feed("r-fail", "a", kT0);
  h.feed("r-fail", "a", kT0 + kSec);
  EXPECT_TRUE(of(h.kept, "c-few", Alert::Revision::kFirst).empty());
  h.flush();
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].revision, Alert::Revision::kNone);
}

// The daemon's rsyslog case (issue 28): BSD stamps have whole seconds, so the last failures and
// the success share a stamp; the sequence is complete whatever order the tied events came in.
TEST(Correlation, TemporalOrderedTiedEventsMayStandInEitherOrder) {
  const char* rule = R"(title: success after failure
id: c-ord
correlation: {type: temporal_ordered, rules: [fail, success], group-by: [src], timespan: 1m}
)";
  for (bool early : {false, true}) {
    Harness h(rule, early ? early_firing() : no_lateness());
    h.feed("r-ok", "a", kT0);
    h.feed("r-fail", "a", kT0);
    h.flush();
    EXPECT_EQ(h.out.size() + h.kept.size(), early ? 2u : 1u) << early;  // early: the alert and its final state
  }
}

const char* kSuccessAfterFailures = R"(title: success after repeated failures
id: c-saf
correlation: {type: temporal_ordered, rules: [repeated, success], group-by: [src], timespan: 30m}
level: critical
---
title: repeated failures
id: c-rep
name: repeated
correlation: {type: event_count, rules: [fail], group-by: [src], timespan: 10m, condition: {gte: 5}}
)";

// Issue 28: twelve failures and a success in the same second. The chained correlation fires at
// the success with early firing, and gives the same alert at close without it (vigil scan).
TEST(CorrelationEarly, SuccessAfterRepeatedFailuresFiresAtTheSuccess) {
  CorrelationOptions o = early_firing();
  o.allowed_lateness_ns = 300 * kSec;
  Harness h(kSuccessAfterFailures, o);
  for (int i = 0; i < 12; ++i) h.feed("r-fail", "a", kT0 + (i < 6 ? 0 : kSec));
  EXPECT_TRUE(of(h.kept, "c-saf", Alert::Revision::kFirst).empty());
  h.feed("r-ok", "a", kT0 + kSec);
  std::vector<Alert> first = of(h.kept, "c-saf", Alert::Revision::kFirst);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(field(first[0], "rules_matched"), "2");
  h.flush();
  std::vector<Alert> final_state = of(h.out, "c-saf", Alert::Revision::kFinal);
  ASSERT_EQ(final_state.size(), 1u);

  Harness scan(kSuccessAfterFailures, CorrelationOptions{});
  for (int i = 0; i < 12; ++i) scan.feed("r-fail", "a", kT0 + (i < 6 ? 0 : kSec));
  scan.feed("r-ok", "a", kT0 + kSec);
  scan.flush();
  ASSERT_EQ(scan.out.size(), 1u);
  EXPECT_EQ(scan.out[0].raw, final_state[0].raw);
  // The inner correlation's result is at its deciding event (the fifth failure, second 0).
  EXPECT_EQ(field(scan.out[0], "window_start"), WindowTime(kT0));
}

TEST(CorrelationEarly, ASuppressedRepeatHasNoRevisions) {
  Harness h(R"(title: brute force
id: c-bf
correlation: {type: event_count, rules: [fail], group-by: [src], timespan: 10s, condition: {gte: 2}}
vigil:
  suppress: {by: [src], for: 1h}
)", early_firing());
  h.feed("r-fail", "a", kT0);
  h.feed("r-fail", "a", kT0 + kSec);
  h.feed("r-fail", "a", kT0 + 20 * kSec);
  h.feed("r-fail", "a", kT0 + 21 * kSec);  // second window: a suppressed repeat
  h.feed("r-fail", "a", kT0 + 22 * kSec);
  h.flush();
  EXPECT_EQ(of(h.kept, "c-bf", Alert::Revision::kFirst).size(), 1u);
  EXPECT_EQ(of(h.out, "c-bf", Alert::Revision::kFinal).size(), 1u);
  EXPECT_TRUE(of(h.out, "c-bf", Alert::Revision::kUpdate).empty());
  EXPECT_EQ(h.engine->counters().suppressed.load(), 1u);
}

// A restart between the early alert and the close: the close gives the final state of that
// alert, not a second alert.
TEST(CorrelationEarly, AnAlertRaisedEarlyIsNotRaisedAgainAfterARestart) {
  std::map<std::string, std::string> stored;
  std::string key;
  {
    Harness h(kBruteForce, early_firing());
    for (int i = 0; i < 3; ++i) h.feed("r-fail", "a", kT0 + i * kSec);
    ASSERT_EQ(of(h.kept, "c-bf", Alert::Revision::kFirst).size(), 1u);
    key = of(h.kept, "c-bf", Alert::Revision::kFirst)[0].revision_key;
    h.engine->collect_changes([&](const std::string& k, const std::string* v) {
      if (v) stored[k] = *v;
      else stored.erase(k);
    });
  }
  Harness h(kBruteForce, early_firing());
  for (const auto& [k, v] : stored) ASSERT_TRUE(h.engine->restore(k, v).ok()) << k;
  h.feed("r-fail", "a", kT0 + 3 * kSec);
  h.flush();
  EXPECT_TRUE(of(h.kept, "c-bf", Alert::Revision::kFirst).empty());
  std::vector<Alert> final_state = of(h.out, "c-bf", Alert::Revision::kFinal);
  ASSERT_EQ(final_state.size(), 1u);
  EXPECT_EQ(final_state[0].revision_key, key);
  EXPECT_EQ(field(final_state[0], "event_count"), "4");
}

// The daemon takes each event's contributions in the matcher thread and applies them per batch
// in submit order: the same alerts as feeding the engine directly.
TEST(CorrelationEarly, DeferredContributionsAppliedInOrderGiveTheSameAlerts) {
  CorrelationOptions o = early_firing();
  o.allowed_lateness_ns = 300 * kSec;
  Harness direct(kSuccessAfterFailures, o), deferred(kSuccessAfterFailures, o);
  std::vector<CorrelationInput> batch;
  auto feed_deferred = [&](const std::string& rule_id, std::int64_t t) {
    Event e;
    e.fields.add("src", "a");
    std::vector<Alert> alerts(1);
    alerts[0].rule_id = rule_id;
    deferred.engine->on_event(*deferred.binding, e, {deferred.index(rule_id)}, t, alerts, 0, &batch);
    EXPECT_TRUE(alerts.empty());  // generate: false still applies at once
  };
  for (int i = 0; i < 12; ++i) {
    direct.feed("r-fail", "a", kT0 + i * kSec);
    feed_deferred("r-fail", kT0 + i * kSec);
  }
  direct.feed("r-ok", "a", kT0 + 12 * kSec);
  feed_deferred("r-ok", kT0 + 12 * kSec);
  EXPECT_TRUE(deferred.kept.empty());
  deferred.engine->apply(batch, deferred.kept);
  deferred.engine->advance(deferred.out);
  ASSERT_EQ(of(direct.kept, "c-saf", Alert::Revision::kFirst).size(), 1u);
  ASSERT_EQ(of(deferred.kept, "c-saf", Alert::Revision::kFirst).size(), 1u);
  EXPECT_EQ(of(deferred.kept, "c-saf", Alert::Revision::kFirst)[0].raw,
            of(direct.kept, "c-saf", Alert::Revision::kFirst)[0].raw);
  EXPECT_EQ(deferred.engine->max_event_time(), kT0 + 12 * kSec);
}


// What a run leaves once every window has closed, as sorted "<rule> <raw>" keys: the last
// revision of each alert raised early (its kFinal: the window's final state), the alerts raised
// at close, and the suppression summaries. The daemon stores this; `vigil scan` prints it.
std::vector<std::string> final_alerts(const Harness& h) {
  std::map<std::string, const Alert*> newest;  // revision key -> its latest record
  std::vector<std::string> keys;
  for (const std::vector<Alert>* list : {&h.kept, &h.out})
    for (const Alert& a : *list) {
      if (a.format != "correlation" && a.format != "suppression") continue;
      if (a.revision == Alert::Revision::kNone) {
        keys.push_back(a.rule_id + " " + a.raw);
        continue;
      }
      const Alert*& n = newest[a.revision_key];
      if (!n || a.revision_seq >= n->revision_seq) n = &a;
    }
  for (const auto& [key, a] : newest) keys.push_back(a->rule_id + " " + a->raw);
  std::sort(keys.begin(), keys.end());
  return keys;
}

struct Step {
  const char* rule;
  const char* src;
  std::int64_t seconds;
  const char* user = "u";
};

// The same events through an engine that fires early (the daemon) and one that fires at close
// (`vigil scan`): the final alerts must be the same.
void expect_same_final_alerts(const char* rules, const std::vector<Step>& steps, std::int64_t lateness_s = 0) {
  CorrelationOptions at_close = no_lateness();
  at_close.allowed_lateness_ns = lateness_s * kSec;
  at_close.ordered_input = true;
  CorrelationOptions early = at_close;
  early.early_firing = true;
  Harness scan(rules, at_close), daemon(rules, early);
  for (const Step& s : steps) {
    scan.feed(s.rule, s.src, kT0 + s.seconds * kSec, s.user);
    daemon.feed(s.rule, s.src, kT0 + s.seconds * kSec, s.user);
  }
  scan.flush();
  daemon.flush();
  const std::vector<std::string> got_scan = final_alerts(scan), got_daemon = final_alerts(daemon);
  EXPECT_EQ(got_scan, got_daemon);
}

// Found by DISABLED_ScanAndRunAgreeOnSuppressedAndChainedCorrelations: at close (scan), the
// suppression period opened by the first window (deciding time 1 s, period to 31 s) ended
// before the second window, decided at 26 s but closing at 35 s, was checked, so it was stored;
// the daemon fired it at 26 s, inside the period, and suppressed it. Suppression is by event
// time: the second window is a repeat either way.
TEST(CorrelationAgree, SuppressionOfAWindowDecidedInsideThePeriodButClosingAfterIt) {
  const char* rules = R"(title: brute force
id: c-bf
correlation: {type: event_count, rules: [fail], group-by: [src], timespan: 10s, condition: {gte: 2}}
vigil:
  suppress: {by: [src], for: 30s}
)";
  const std::vector<Step> steps = {{"r-fail", "a", 0}, {"r-fail", "a", 1}, {"r-fail", "a", 25},
                                   {"r-fail", "a", 26}, {"r-fail", "b", 40}};
  expect_same_final_alerts(rules, steps);
  Harness scan(rules, no_lateness());
  for (const Step& s : steps) scan.feed(s.rule, s.src, kT0 + s.seconds * kSec, s.user);
  scan.flush();
  EXPECT_EQ(scan.engine->counters().suppressed.load(), 1u);
  ASSERT_EQ(final_alerts(scan).size(), 2u);  // the first window and the summary of its repeat
}

// Found by the same test: at close, an inner window decided inside the outer window (27 s <
// 31 s) but closing after it (35 s) fed its result to the outer correlation only after the
// outer window had closed (the watermark passed 31 s at the event of 32 s): the result went to
// a new window and the outer alert was lost; the daemon, feeding it at 27 s, raised it. A
// chained result counts at its deciding time in both.
TEST(CorrelationAgree, AChainedResultDecidedInsideTheOuterWindowButClosingAfterIt) {
  const char* rules = R"(title: repeated bursts
id: c-outer
correlation: {type: event_count, rules: [burst], group-by: [src], timespan: 30s, condition: {gte: 2}}
---
title: burst
id: c-inner
name: burst
correlation: {type: event_count, rules: [fail], group-by: [src], timespan: 10s, condition: {gte: 2}}
)";
  const std::vector<Step> steps = {{"r-fail", "a", 0},  {"r-fail", "a", 1},  {"r-fail", "a", 25},
                                   {"r-fail", "a", 27}, {"r-fail", "b", 32}, {"r-fail", "b", 40}};
  expect_same_final_alerts(rules, steps);
  Harness scan(rules, no_lateness());
  for (const Step& s : steps) scan.feed(s.rule, s.src, kT0 + s.seconds * kSec, s.user);
  scan.flush();
  ASSERT_EQ(final_alerts(scan).size(), 1u);
  EXPECT_EQ(field(scan.out[0], "event_count"), "2");
}

// The bundled SSH pack's shape (brute force suppressed per source, spraying, success after
// failures chained over repeated failures), scaled down, on seeded random streams of
// overlapping bursts in event-time order (ties included), with lateness: firing early or at
// close gives the same final alerts, and so does ending a batch after every event or rarely.
TEST(CorrelationAgree, EarlyAndAtCloseGiveTheSameFinalAlertsOnRandomStreams) {
  const char* rules = R"(title: brute force
id: c-bf
correlation: {type: event_count, rules: [fail], group-by: [src], timespan: 60s, condition: {gte: 6}}
level: high
vigil:
  suppress: {by: [src], for: 300s}
---
title: spraying
id: c-spray
correlation: {type: value_count, rules: [fail], group-by: [src], timespan: 90s, condition: {field: user, gte: 4}}
---
title: success after failures
id: c-saf
correlation: {type: temporal_ordered, rules: [repeated, success], group-by: [src], timespan: 180s}
level: critical
---
title: repeated failures
id: c-rep
name: repeated
correlation: {type: event_count, rules: [fail], group-by: [src], timespan: 60s, condition: {gte: 3}}
)";
  std::size_t total_alerts = 0;
  for (std::uint32_t seed = 1; seed <= 150; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    struct Ev {
      std::int64_t t;
      int order;
      bool ok;
      std::string src, user;
    };
    std::vector<Ev> evs;
    for (int burst = 0; burst < 12; ++burst) {
      const std::string src = "s" + std::to_string(pick(1, 3));
      std::int64_t t = pick(0, 1200);
      const int n = pick(1, 9);
      for (int i = 0; i <= n; ++i) {
        t += pick(0, 15);
        const bool ok = i == n && pick(0, 2) == 0;
        evs.push_back({t, static_cast<int>(evs.size()), ok, src, "u" + std::to_string(pick(0, 6))});
      }
    }
    std::sort(evs.begin(), evs.end(), [](const Ev& a, const Ev& b) { return std::tie(a.t, a.order) < std::tie(b.t, b.order); });
    CorrelationOptions at_close;
    at_close.allowed_lateness_ns = pick(0, 1) * 30 * kSec;
    at_close.ordered_input = true;
    CorrelationOptions early = at_close;
    early.early_firing = true;
    Harness scan(rules, at_close), daemon(rules, early), daemon_batches(rules, early);
    for (const Ev& e : evs) {
      const char* rule = e.ok ? "r-ok" : "r-fail";
      scan.feed(rule, e.src, kT0 + e.t * kSec, e.user);
      daemon.feed(rule, e.src, kT0 + e.t * kSec, e.user);
      daemon_batches.feed(rule, e.src, kT0 + e.t * kSec, e.user, /*batch_end=*/pick(0, 15) == 0);
    }
    scan.flush();
    daemon.flush();
    daemon_batches.flush();
    const std::vector<std::string> want = final_alerts(scan);
    EXPECT_EQ(final_alerts(daemon), want) << "seed " << seed;
    EXPECT_EQ(final_alerts(daemon_batches), want) << "seed " << seed;
    total_alerts += want.size();
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(total_alerts, 300u);  // the streams do raise alerts
}


// Suspected from reading StateExtension: collect_changes() marked the changed windows as
// written when it handed them out, so when that commit failed (a RocksDB write error, another
// extension failing) the retry wrote the WriteBatch without them, and a restart lost their
// events. Handed-out records now stay pending until changes_saved() says they are durable.
TEST(Correlation, ChangesOfAFailedCommitAreHandedOutAgain) {
  Harness h(kBruteForce, no_lateness());
  h.feed("r-fail", "a", kT0);
  h.feed("r-fail", "a", kT0 + kSec);
  std::map<std::string, std::string> lost;  // a commit that fails: its records are not stored
  h.engine->collect_changes([&](const std::string& k, const std::string* v) { lost[k] = v ? *v : "-"; });
  ASSERT_FALSE(lost.empty());
  h.feed("r-fail", "b", kT0 + 2 * kSec);  // a change after the failed attempt
  std::map<std::string, std::string> stored;  // the retry
  h.engine->collect_changes([&](const std::string& k, const std::string* v) {
    if (v) stored[k] = *v;
    else stored.erase(k);
  });
  for (const auto& [k, v] : lost) EXPECT_TRUE(stored.count(k)) << k << " not written again";
  h.engine->changes_saved();
  std::size_t after = 0;
  h.engine->collect_changes([&](const std::string&, const std::string*) { ++after; });
  EXPECT_EQ(after, 0u);  // saved: nothing to write again
  // A restart from what the retry stored still has a's two failures.
  Harness restarted(kBruteForce, no_lateness());
  for (const auto& [k, v] : stored) ASSERT_TRUE(restarted.engine->restore(k, v).ok()) << k;
  restarted.feed("r-fail", "a", kT0 + 3 * kSec);
  restarted.flush();
  ASSERT_EQ(restarted.out.size(), 1u);
  EXPECT_EQ(field(restarted.out[0], "event_count"), "3");
}

}  // namespace
}  // namespace vigil::rules
