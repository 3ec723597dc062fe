// Correlation rules end to end with the real `vigil` binary: the bundled brute-force rule on
// real SSH logs (event counts computed here from the raw files), bad correlation rules in
// `vigil rules check`, a daemon restarted in the middle of a window, and `vigil scan` against
// `vigil run` on the same file.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <ctime>
#include <fstream>
#include <random>
#include <regex>
#include <tuple>
#include <sstream>
#include <thread>

#include "tests/support/alert_keys.h"
#include "tests/support/corpora.h"
#include "tests/support/daemon.h"

namespace vigil::testing {
namespace {

using namespace std::chrono_literals;

const char* kBruteForceId = "e7c29363-3762-4fb9-b5d3-06a78a9eae53";

struct CorrelationHit {
  std::string source_ip;
  long event_count = 0;
  std::string window_start;
};

// Brute-force alerts from `vigil scan` JSON lines.
std::vector<CorrelationHit> brute_force_hits(const std::string& scan_output) {
  std::vector<CorrelationHit> hits;
  simdjson::ondemand::parser parser;
  std::istringstream in(scan_output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find(kBruteForceId) == std::string::npos || line.find("\"format\":\"correlation\"") == std::string::npos)
      continue;
    simdjson::padded_string padded(line);
    auto doc = parser.iterate(padded);
    CorrelationHit h;
    auto fields = doc["fields"];
    h.source_ip = std::string(fields["source_ip"].get_string().value());
    h.event_count = std::stol(std::string(fields["event_count"].get_string().value()));
    h.window_start = std::string(fields["window_start"].get_string().value());
    hits.push_back(h);
  }
  return hits;
}

// Seconds since the start of the year of a "Mmm dd hh:mm:ss" stamp (the year does not matter
// for differences inside one file).
long stamp_seconds(const std::string& line) {
  static const std::string months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  tm t{};
  t.tm_year = 126;
  t.tm_mon = static_cast<int>(months.find(line.substr(0, 3)) / 3);
  t.tm_mday = std::stoi(line.substr(4, 2));
  t.tm_hour = std::stoi(line.substr(7, 2));
  t.tm_min = std::stoi(line.substr(10, 2));
  t.tm_sec = std::stoi(line.substr(13, 2));
  return static_cast<long>(timegm(&t));
}

// Independent count: sshd "Failed password/keyboard-interactive ... from IP port" lines of
// `ip`; the window starts at the first such line whose stamp starts with `first_prefix` and
// holds the failures of the next 10 minutes (the rule's timespan).
long failures_in_window(const std::string& path, const std::string& ip, const std::string& first_prefix) {
  std::ifstream in(path);
  std::string line;
  const std::regex failed(R"(sshd\[\d+\]: Failed (password|keyboard-interactive/pam) for .* from )" + ip + " port ");
  long start = -1, n = 0;
  while (std::getline(in, line)) {
    if (!std::regex_search(line, failed)) continue;
    const long t = stamp_seconds(line);
    if (start < 0) {
      if (line.rfind(first_prefix, 0) != 0) continue;
      start = t;
    }
    if (t >= start && t < start + 600) ++n;
  }
  return n;
}

class CorrelationE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vigil-corr-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

void expect_brute_force(const fs::path& dir, const std::string& file, const std::string& ip,
                        const std::string& first_prefix) {
  RunResult r = RunVigil("scan --no-summary " + file, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const long expected = failures_in_window(file, ip, first_prefix);
  ASSERT_GE(expected, 10) << "the corpus no longer holds the burst";
  bool found = false;
  for (const CorrelationHit& h : brute_force_hits(r.out)) {
    if (h.source_ip != ip) continue;
    found = true;
    EXPECT_EQ(h.event_count, expected) << "window from " << h.window_start;
  }
  EXPECT_TRUE(found) << "no brute-force alert for " << ip;
}

TEST_F(CorrelationE2E, BruteForceOnElasticAuthLog) {
  VIGIL_REQUIRE_CORPUS("elastic-examples/auth.log");
  const std::string corpora = corpora_dir();
  expect_brute_force(dir_, corpora + "/elastic-examples/auth.log", "24.151.103.17", "Mar 30 15:");
}

TEST_F(CorrelationE2E, BruteForceOnLoghubOpenSsh) {
  VIGIL_REQUIRE_CORPUS("loghub/OpenSSH/OpenSSH_2k.log");
  const std::string corpora = corpora_dir();
  expect_brute_force(dir_, corpora + "/loghub/OpenSSH/OpenSSH_2k.log", "183.62.140.253", "Dec 10");
}

TEST_F(CorrelationE2E, BadCorrelationRulesAreReportedAndTheOthersLoad) {
  Write(dir_ / "rules" / "bad.yml", R"(title: unknown reference
id: bad-1
correlation: {type: event_count, rules: [no_such_rule], group-by: [x], timespan: 5m, condition: {gte: 2}}
---
title: no timespan
id: bad-2
correlation: {type: event_count, rules: [ssh_failed_password], group-by: [x], condition: {gte: 2}}
---
title: cycle one
id: bad-3
correlation: {type: temporal, rules: [bad-4], group-by: [x], timespan: 5m}
---
title: cycle two
id: bad-4
correlation: {type: temporal, rules: [bad-3], group-by: [x], timespan: 5m}
)");
  RunResult r = RunVigil("rules check " + (dir_ / "rules").string() + " @bundled", dir_);
  const std::string bad = (dir_ / "rules" / "bad.yml").string();
  EXPECT_NE(r.out.find(bad + ":1: bad-1: unknown_rule_reference"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(bad + ":5: bad-2: missing_timespan"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(bad + ":9: bad-3: correlation_cycle"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(bad + ":13: bad-4: correlation_cycle"), std::string::npos) << r.out;
  EXPECT_EQ(r.exit_code, 0);  // the bundled rules still load
  // And the bundled correlations still run next to the bad file.
  VIGIL_REQUIRE_CORPUS("loghub/OpenSSH/OpenSSH_2k.log");
  const std::string corpora = corpora_dir();
  RunResult scan = RunVigil("scan --no-summary --rules " + (dir_ / "rules").string() + " --rules @bundled " +
                                corpora + "/loghub/OpenSSH/OpenSSH_2k.log", dir_);
  EXPECT_FALSE(brute_force_hits(scan.out).empty()) << scan.err;
}

std::string daemon_config(const std::string& extra, const std::string& pipeline = "{batch_max_delay_ms: 5}") {
  return "data_dir: data\n"
         "rules: ['@bundled']\n"
         "metrics: {listen: '127.0.0.1:0'}\n"
         "http: {enabled: false}\n"
         "pipeline: " + pipeline + "\n" +
         extra;
}

std::vector<std::string> correlation_alerts(const std::vector<std::string>& stored) {
  std::vector<std::string> out;
  for (const std::string& a : stored)
    if (a.find("\"format\":\"correlation\"") != std::string::npos) out.push_back(a);
  return out;
}

// A brute force that straddles a restart: 6 failures, a clean stop, 6 more after the restart;
// the alert counts all 12.
TEST_F(CorrelationE2E, WindowOpenAcrossARestartIsStillCaught) {
  const std::string failure = "Nov 26 10:00:%02d srv sshd[100]: Failed password for root from 198.51.100.7 port 4%03d ssh2\n";
  auto lines = [&](int from, int to) {
    std::string text;
    char buf[200];
    for (int i = from; i < to; ++i) {
      std::snprintf(buf, sizeof(buf), failure.c_str(), i, i);
      text += buf;
    }
    return text;
  };
  fs::create_directories(dir_ / "logs");
  const std::string collectors =
      "collectors:\n  - {name: auth, type: file, paths: ['logs/auth.log'], poll_interval_ms: 20}\n";
  {
    Daemon d(dir_, daemon_config("correlation: {idle_flush: 1h}\n" + collectors));
    ASSERT_TRUE(d.start()) << d.log();
    Write(dir_ / "logs" / "auth.log", lines(0, 6));
    // The file collector checkpoints what it committed; wait until all six lines are read
    // (stopping drains and commits them).
    ASSERT_TRUE(wait_for_received(d, "auth", 6)) << d.log();
    EXPECT_EQ(d.stop(), 0) << d.log();
    EXPECT_NE(d.log().find(stopped_line(6)), std::string::npos) << d.log();
    EXPECT_TRUE(correlation_alerts(d.alerts_json()).empty());
  }
  Daemon d(dir_, daemon_config("correlation: {idle_flush: 1s}\n" + collectors));
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_NE(d.log().find("open windows restored"), std::string::npos) << d.log();
  {
    std::ofstream out(dir_ / "logs" / "auth.log", std::ios::app);
    out << lines(6, 12);
  }
  // Raised at the tenth failure, then revised to twelve (the idle flush closes the window).
  std::vector<std::string> got;
  wait_until(deadline_after(), [&] {
    got = correlation_alerts(d.alerts_json());
    return got.size() == 1 && got[0].find("12 events for source_ip=198.51.100.7") != std::string::npos;
  });
  EXPECT_EQ(d.stop(), 0);
  ASSERT_EQ(got.size(), 1u) << d.log();
  EXPECT_NE(got[0].find("12 events for source_ip=198.51.100.7"), std::string::npos) << got[0];
}

// `vigil run` tailing the OpenSSH file stores the same alerts, correlations included, as
// `vigil scan` prints for it.
void scan_and_run_agree(const fs::path& dir_, const std::string& pipeline) {
  VIGIL_REQUIRE_CORPUS("loghub/OpenSSH/OpenSSH_2k.log");
  const std::string corpora = corpora_dir();
  // The copy ends with a newline: a file tail waits for the end of a last, unfinished line.
  std::string text = Slurp(corpora + "/loghub/OpenSSH/OpenSSH_2k.log");
  if (!text.empty() && text.back() != '\n') text += '\n';
  Write(dir_ / "logs" / "ssh.log", text);
  const std::string file = (dir_ / "logs" / "ssh.log").string();
  RunResult r = RunVigil("scan --no-summary " + file, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> expected = scan_alert_keys(r.out);
  std::size_t expected_correlations = 0;
  for (const std::string& k : expected) expected_correlations += k.find(" correlation ") != std::string::npos;
  ASSERT_GT(expected_correlations, 3u);
  Daemon d(dir_, daemon_config("correlation: {idle_flush: 1s}\ncollectors:\n"
                               "  - {name: ssh, type: file, paths: ['logs/ssh.log'], poll_interval_ms: 20}\n",
                               pipeline));
  std::size_t records = 0;  // non-empty lines
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    std::string_view line(text.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    records += line.empty() ? 0 : 1;
    start = end + 1;
  }
  ASSERT_TRUE(d.start()) << d.log();
  // Every line read (a line read twice would be counted twice), then the correlations of the
  // last windows, which the idle flush closes.
  ASSERT_TRUE(wait_for_received(d, "ssh", records)) << d.log();
  // The daemon raises correlations at their deciding event and revises them until their
  // windows close (the idle flush here): wait for the final state, which is scan's.
  wait_until(deadline_after(), [&] { return stored_alert_keys(d.alerts_json()) == expected; });
  // vigil_alerts_total{level} counts stored alerts, correlation alerts included and the
  // withheld matches of base rules not (it used to count rule matches).
  const double metric_alerts = metric(d, "vigil_alerts_total");
  const double metric_high = metric(d, "vigil_alerts_total", "level=\"high\"");
  EXPECT_EQ(d.stop(), 0);
  EXPECT_EQ(metric_alerts, static_cast<double>(expected.size()));
  std::size_t scan_high = 0;
  for (std::size_t at = 0; (at = r.out.find("\"level\":\"high\"", at)) != std::string::npos; ++at) ++scan_high;
  EXPECT_GT(scan_high, 0u);
  EXPECT_EQ(metric_high, static_cast<double>(scan_high));
  EXPECT_NE(d.log().find(stopped_line(records)), std::string::npos) << d.log();
  std::vector<std::string> stored = stored_alert_keys(d.alerts_json());
  std::vector<std::string> missing, extra;
  std::set_difference(expected.begin(), expected.end(), stored.begin(), stored.end(), std::back_inserter(missing));
  std::set_difference(stored.begin(), stored.end(), expected.begin(), expected.end(), std::back_inserter(extra));
  EXPECT_TRUE(missing.empty()) << missing.size() << " missing, first: " << missing[0];
  EXPECT_TRUE(extra.empty()) << extra.size() << " extra, first: " << extra[0];
  EXPECT_EQ(stored.size(), expected.size());
}

TEST_F(CorrelationE2E, ScanAndRunAgree) { scan_and_run_agree(dir_, "{batch_max_delay_ms: 5}"); }

// Issue 28: the same alerts whatever the thread count. Four matcher threads on tiny batches
// finish batches out of order all the time; the windows still see the events in arrival order.
TEST_F(CorrelationE2E, ScanAndRunAgreeWithFourThreadsAndTinyBatches) {
  scan_and_run_agree(dir_, "{batch_max_delay_ms: 1, batch_max_records: 8, matcher_threads: 4}");
}

// "Mmm dd hh:mm:ss" of a unix time (UTC), as rsyslog's default forwarding template writes it.
std::string bsd_stamp(std::int64_t unix_ns) {
  const time_t secs = static_cast<time_t>(unix_ns / 1000000000LL);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%b %e %H:%M:%S", &t);
  return buf;
}

std::int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "created":"2026-12-07T20:23:38.202095923Z" of a stored alert's JSON line, in unix ns (0 if absent).
std::int64_t created_ns(const std::string& json) {
  const std::string tag = "\"created\":\"";
  const std::size_t at = json.find(tag);
  if (at == std::string::npos) return 0;
  const std::string text = json.substr(at + tag.size(), 40);
  tm t{};
  if (!strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &t)) return 0;
  std::int64_t ns = static_cast<std::int64_t>(timegm(&t)) * 1000000000LL;
  if (text.size() > 20 && text[19] == '.') {
    std::int64_t frac = 0;
    int digits = 0;
    for (std::size_t i = 20; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && digits < 9; ++i, ++digits)
      frac = frac * 10 + (text[i] - '0');
    for (; digits < 9; ++digits) frac *= 10;
    ns += frac;
  }
  return ns;
}

std::vector<std::string> alerts_of(const Daemon& d, const std::string& rule_id) {
  std::vector<std::string> out;
  for (const std::string& a : d.alerts_json())
    if (a.find("\"id\":\"" + rule_id + "\"") != std::string::npos) out.push_back(a);
  return out;
}

// Issue 28, the rsyslog scenario: twelve failed SSH logins and a success from one address
// within two seconds, over TCP syslog in rsyslog's default forwarding format (BSD stamps, whole
// seconds, so the last failures and the success share a stamp). The brute-force alert is stored
// at the tenth failure and the success-after-failures alert at the success, not when the idle
// flush closes their windows (an hour here); the brute-force alert is then revised to twelve.
// Latency = the alert's commit time ("created") minus the wall time just before the deciding
// line was sent.
TEST_F(CorrelationE2E, LiveAlertsOverTcpSyslogAtTheDecidingEvent) {
  const char* kSuccessAfterFailuresId = "ab8c3939-9a23-4f35-9af5-dbbe7dfbe597";
  Daemon d(dir_, daemon_config("correlation: {idle_flush: 1h}\n"
                               "collectors:\n  - {name: tcp, type: tcp, listen: '127.0.0.1:0'}\n"));
  ASSERT_TRUE(d.start()) << d.log();
  TcpClient client(d.port("tcp"));
  ASSERT_TRUE(client.ok()) << d.log();
  auto failure = [&](int i) {
    return "<38>" + bsd_stamp(wall_now_ns()) + " web01 sshd[2" + std::to_string(i) +
           "]: Failed password for root from 203.0.113.77 port " + std::to_string(50000 + i) + " ssh2\n";
  };
  for (int i = 1; i <= 9; ++i) ASSERT_TRUE(client.send_all(failure(i)));
  ASSERT_TRUE(wait_for_received(d, "tcp", 9)) << d.log();
  EXPECT_TRUE(alerts_of(d, kBruteForceId).empty()) << "fired before the tenth failure";

  const std::int64_t tenth_sent = wall_now_ns();
  ASSERT_TRUE(client.send_all(failure(10)));
  std::vector<std::string> brute;
  ASSERT_TRUE(wait_until(deadline_after(std::chrono::seconds(30)), [&] {
    brute = alerts_of(d, kBruteForceId);
    return !brute.empty();
  })) << d.log();
  const double brute_latency_ms = (created_ns(brute[0]) - tenth_sent) / 1e6;

  for (int i = 11; i <= 12; ++i) ASSERT_TRUE(client.send_all(failure(i)));
  ASSERT_TRUE(wait_for_received(d, "tcp", 12)) << d.log();
  const std::int64_t success_sent = wall_now_ns();
  ASSERT_TRUE(client.send_all("<38>" + bsd_stamp(success_sent) +
                              " web01 sshd[300]: Accepted password for root from 203.0.113.77 port 50999 ssh2\n"));
  std::vector<std::string> success;
  ASSERT_TRUE(wait_until(deadline_after(std::chrono::seconds(30)), [&] {
    success = alerts_of(d, kSuccessAfterFailuresId);
    return !success.empty();
  })) << d.log();
  const double success_latency_ms = (created_ns(success[0]) - success_sent) / 1e6;
  std::printf("[ latency ] brute force stored %.1f ms after the tenth failure was sent; "
              "success after failures %.1f ms after the success\n",
              brute_latency_ms, success_latency_ms);
  // One second is the issue's bound; a commit takes milliseconds, so this holds on a loaded
  // two-core machine (the batch delay is 5 ms, the store syncs each commit).
  EXPECT_GT(brute_latency_ms, 0.0);
  EXPECT_LT(brute_latency_ms, 1000.0);
  EXPECT_GT(success_latency_ms, 0.0);
  EXPECT_LT(success_latency_ms, 1000.0);

  // The later failures revise the alert in place: still one brute-force alert, now of twelve.
  ASSERT_TRUE(wait_until(deadline_after(), [&] {
    brute = alerts_of(d, kBruteForceId);
    return brute.size() == 1 && brute[0].find("\"event_count\":\"12\"") != std::string::npos;
  })) << (brute.empty() ? std::string("none") : brute[0]);
  EXPECT_EQ(alerts_of(d, kSuccessAfterFailuresId).size(), 1u);
  EXPECT_EQ(d.stop(), 0) << d.log();
}

// A correlation-heavy SSH stream after auth.log's last day (2026-04-21 on): bursts of failed
// logins from 30 addresses, each burst against one account (brute force) or many (spraying),
// some ending in an accepted login (success after failures), overlapping in time so that
// windows of many groups are open at once, close, fire early and are revised, and suppression
// periods start and end. Deterministic for a seed.
std::string synthetic_ssh_stream(std::uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  struct Line {
    std::int64_t t;
    std::size_t order;
    std::string text;
  };
  std::vector<Line> lines;
  const std::int64_t day = 1776729600;  // 2026-04-21T00:00:00Z
  for (int burst = 0; burst < 300; ++burst) {
    const std::string ip = "198.51.100." + std::to_string(pick(1, 30));
    const bool spraying = pick(0, 9) < 4;
    std::int64_t t = day + pick(0, 6 * 3600);
    const int failures = pick(2, 24), gap = pick(1, 60);
    for (int i = 0; i <= failures; ++i) {
      const std::string user = spraying ? "user" + std::to_string(pick(0, 40)) : "root";
      std::string what = "Failed password for " + user;
      if (i == failures) {  // the burst's end: a success now and then, else one more failure
        if (pick(0, 9) >= 3) continue;
        what = "Accepted password for " + user;
      }
      t += pick(0, gap);
      lines.push_back({t, lines.size(),
                       bsd_stamp(t * 1000000000LL) + " bastion sshd[" + std::to_string(pick(1000, 9999)) + "]: " + what +
                           " from " + ip + " port " + std::to_string(pick(30000, 60000)) + " ssh2"});
    }
  }
  std::sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) { return std::tie(a.t, a.order) < std::tie(b.t, b.order); });
  std::string text;
  for (const Line& l : lines) text += l.text + "\n";
  return text;
}

std::size_t count_lines(std::string_view text) { return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')); }

void append(const fs::path& file, std::string_view text) {
  std::ofstream out(file, std::ios::binary | std::ios::app);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

// Offset just after the first `n` lines of `text`.
std::size_t after_lines(std::string_view text, std::size_t n) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < n; ++i) at = text.find('\n', at) + 1;
  return at;
}

// The stream of CorrelationExactAfterTwentyKill9s: auth.log, then the synthetic stream.
std::string crash_test_stream(std::uint32_t seed) {
  std::string text = Slurp(corpora_dir() + "/elastic-examples/auth.log");
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text + synthetic_ssh_stream(seed);
}

const char* kCrashPipeline = "{batch_max_delay_ms: 5, batch_max_records: 64, matcher_threads: 2}";
const char* kCrashCollectors = "collectors:\n  - {name: auth, type: file, paths: ['logs/auth.log'], poll_interval_ms: 10}\n";

// Starts the daemon of `dir` (its file already complete and read up to where its checkpoint
// says) with a short idle flush, waits until one idle flush has been committed (every window
// closed, every suppression ended), stops it and returns the store.
std::vector<std::string> close_windows(const fs::path& dir) {
  Daemon d(dir, daemon_config(std::string("correlation: {idle_flush: 2s}\n") + kCrashCollectors, kCrashPipeline));
  EXPECT_TRUE(d.start()) << d.log();
  EXPECT_TRUE(wait_until(deadline_after(), [&] { return metric(d, "vigil_correlation_idle_flushes_total") >= 1; }))
      << d.log();
  EXPECT_EQ(d.stop(), 0) << d.log();
  return d.alerts_json();
}

// Issue 19: the correlation state saved with each commit is that of the committed batches
// only, so a kill -9 at any point, and the replay of what was not committed, change no
// correlation alert. auth.log and a synthetic brute-force/spraying stream are tailed while the
// daemon is killed 20 times at seeded random points (after a random number of lines of each new
// chunk were matched); the store is compared with an uninterrupted run's, first as the stream left it (alerts
// raised early and revised, windows still open) and then once the idle flush closed every
// window. The detection alerts must also equal `vigil scan`'s, and so must the correlation
// alerts and suppression summaries (ScanAndRunAgreeOnSuppressedAndChainedCorrelations checks
// those without restarts; here the restarts must change nothing).
// VIGIL_CRASH_SEED=<n> repeats a run; the seed is printed.
TEST_F(CorrelationE2E, CorrelationExactAfterTwentyKill9s) {
  VIGIL_REQUIRE_CORPUS("elastic-examples/auth.log");
  const char* env_seed = std::getenv("VIGIL_CRASH_SEED");
  const std::uint32_t seed = env_seed ? static_cast<std::uint32_t>(std::stoul(env_seed)) : std::random_device{}();
  std::printf("[ seed ] VIGIL_CRASH_SEED=%u\n", seed);
  const std::string text = crash_test_stream(seed);
  const std::size_t total = count_lines(text);
  Write(dir_ / "all.log", text);
  RunResult scan = RunVigil("scan --no-summary " + (dir_ / "all.log").string(), dir_);
  ASSERT_EQ(scan.exit_code, 0) << scan.err;
  std::vector<std::string> scan_detections;
  std::size_t scan_correlations = 0;
  // What the correlation engine makes: correlation alerts and suppression summaries.
  auto from_engine = [](const std::string& key) {
    return key.find(" correlation ") != std::string::npos || key.find(" suppressed ") != std::string::npos;
  };
  for (const std::string& k : scan_alert_keys(scan.out)) {
    if (!from_engine(k)) scan_detections.push_back(k);
    else if (k.find(" correlation ") != std::string::npos) ++scan_correlations;
  }
  ASSERT_GT(scan_correlations, 50u) << "not a correlation-heavy stream";
  auto detections = [&](const std::vector<std::string>& stored) {
    std::vector<std::string> out;
    for (const std::string& k : stored_alert_keys(stored))
      if (!from_engine(k)) out.push_back(k);
    return out;
  };

  // No idle flush while the stream runs: a pause (a restart, a busy machine) must not close
  // windows or end suppressions early, which would change the alerts; close_windows() does it
  // at the end.
  const std::string streaming = daemon_config(std::string("correlation: {idle_flush: 1h}\n") + kCrashCollectors, kCrashPipeline);

  // The uninterrupted run.
  const fs::path clean = dir_ / "clean";
  Write(clean / "logs" / "auth.log", text);
  std::vector<std::string> clean_streamed;
  {
    Daemon d(clean, streaming);
    ASSERT_TRUE(d.start()) << d.log();
    ASSERT_TRUE(wait_for_received(d, "auth", total)) << d.log();
    ASSERT_EQ(d.stop(), 0) << d.log();  // drains: everything read is committed
    clean_streamed = stored_alert_keys(d.alerts_json());
  }

  // The run killed 20 times. Cut points split the stream into 21 chunks; before each kill the
  // next chunk is appended and the daemon killed once it has read a random number of lines
  // since its start (it first reads again what was not committed before the last kill).
  const fs::path crash = dir_ / "crash";
  fs::create_directories(crash / "logs");
  const fs::path log = crash / "logs" / "auth.log";
  std::mt19937 rng(seed ^ 0x9e3779b9u);
  const int kKills = 20;
  std::vector<std::size_t> cuts;
  for (int i = 0; i < kKills; ++i) cuts.push_back(std::uniform_int_distribution<std::size_t>(1, total - 1)(rng));
  std::sort(cuts.begin(), cuts.end());
  std::size_t written = 0, restored_runs = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kKills; ++i) {
    const std::size_t from = after_lines(text, written), to = after_lines(text, cuts[i]);
    append(log, std::string_view(text).substr(from, to - from));
    const std::size_t fresh = cuts[i] - written;
    written = cuts[i];
    Daemon d(crash, streaming);
    ASSERT_TRUE(d.start()) << d.log();
    restored_runs += d.log().find("open windows restored") != std::string::npos;
    // Killed once it has matched a random number of lines and committed at least once (so
    // that every run moves the checkpoint and leaves window state behind). Matching runs a few
    // batches ahead of the commits, and the file is read far ahead of both: the kill finds
    // batches matched but not committed, and windows changed by them.
    const std::size_t kill_after = fresh == 0 ? 0 : std::uniform_int_distribution<std::size_t>(1, fresh)(rng);
    ASSERT_TRUE(wait_until(deadline_after(), [&] {
      return kill_after == 0 || (metric(d, "vigil_events_processed_total") >= static_cast<double>(kill_after) &&
                                 metric(d, "vigil_store_write_seconds_count") >= 1);
    })) << d.log();
    d.kill9();
  }
  append(log, std::string_view(text).substr(after_lines(text, written)));
  std::printf("[ kills ] %d kill -9s in %.1f s; %zu restarts restored open windows\n", kKills,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(), restored_runs);
  EXPECT_GT(restored_runs, 0u);
  {
    Daemon d(crash, streaming);
    ASSERT_TRUE(d.start()) << d.log();
    // The replay from the last checkpoint: once the store is the clean run's, every line has
    // been read (a line read twice would be read before the last lines, as the tail reads in
    // order). On a mismatch this waits out the deadline, then shows the difference.
    wait_until(deadline_after(), [&] { return stored_alert_keys(d.alerts_json()) == clean_streamed; });
    ASSERT_EQ(d.stop(), 0) << d.log();
    const std::vector<std::string> got = stored_alert_keys(d.alerts_json());
    EXPECT_TRUE(got == clean_streamed) << "as the stream left them:\n" << key_diff(got, clean_streamed);
  }

  // Both runs close their windows with the idle flush.
  const std::vector<std::string> clean_closed = close_windows(clean), crash_closed = close_windows(crash);
  EXPECT_TRUE(stored_alert_keys(crash_closed) == stored_alert_keys(clean_closed))
      << "windows closed:\n" << key_diff(stored_alert_keys(crash_closed), stored_alert_keys(clean_closed));
  EXPECT_TRUE(detections(crash_closed) == scan_detections) << key_diff(detections(crash_closed), scan_detections);
  const std::vector<std::string> scan_all = scan_alert_keys(scan.out);
  EXPECT_TRUE(stored_alert_keys(crash_closed) == scan_all) << key_diff(stored_alert_keys(crash_closed), scan_all);
  std::printf("[ alerts ] %zu lines; stored %zu alerts, %zu of them correlation alerts (uninterrupted: %zu, %zu; "
              "scan: %zu correlation alerts)\n",
              total, crash_closed.size(), correlation_alerts(crash_closed).size(), clean_closed.size(),
              correlation_alerts(clean_closed).size(), scan_correlations);
}

// Found by CorrelationExactAfterTwentyKill9s: on its synthetic stream the daemon (correlations
// fired early at their deciding event) and `vigil scan` (fired at window close) disagreed by 4
// to 10 correlation alerts, with or without restarts:
//  - `vigil: suppress` of the brute-force rule (by source_ip, 1h): scan ended a suppression when
//    the watermark passed its end, and a window that closed later but was decided inside the
//    period was then admitted; the daemon admitted at the deciding event and suppressed it;
//  - the chained success-after-failures (temporal_ordered over ssh_repeated_failures): scan fed
//    the inner result when the inner window closed, after an outer window that it falls in had
//    closed already, so some windows counted different events.
// Now a condition that can only become true is decided at its deciding event in both modes
// (suppression and chained results included); only when its alert goes out differs.
TEST_F(CorrelationE2E, ScanAndRunAgreeOnSuppressedAndChainedCorrelations) {
  VIGIL_REQUIRE_CORPUS("elastic-examples/auth.log");
  const std::string text = crash_test_stream(1429219004u);
  Write(dir_ / "all.log", text);
  RunResult scan = RunVigil("scan --no-summary " + (dir_ / "all.log").string(), dir_);
  ASSERT_EQ(scan.exit_code, 0) << scan.err;
  Write(dir_ / "logs" / "auth.log", text);
  const std::vector<std::string> stored_json = close_windows(dir_);
  const std::vector<std::string> stored = stored_alert_keys(stored_json);
  const std::vector<std::string> expected = scan_alert_keys(scan.out);
  std::size_t scan_correlations = 0;
  for (const std::string& k : expected) scan_correlations += k.find(" correlation ") != std::string::npos;
  std::printf("[ alerts ] scan: %zu alerts, %zu correlation alerts; daemon: %zu alerts, %zu correlation alerts\n",
              expected.size(), scan_correlations, stored.size(), correlation_alerts(stored_json).size());
  EXPECT_TRUE(stored == expected) << key_diff(stored, expected);
}

}  // namespace
}  // namespace vigil::testing
