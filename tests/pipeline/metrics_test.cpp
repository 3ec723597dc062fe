// Metrics: the /metrics page served over real HTTP, read directly and by a real Prometheus.
#include "core/metrics.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/ingest.h"
#include "core/process_stats.h"
#include "tests/support/prometheus_server.h"

namespace vigil {
namespace {

using namespace std::chrono_literals;
using testing::PrometheusServer;

// The value of the sample whose name and labels are exactly `series` (`name{a="b"}` or a bare
// name), or nullopt when the page has no such line.
std::optional<double> sample_value(const std::string& page, const std::string& series) {
  std::size_t pos = 0;
  while (pos < page.size()) {
    std::size_t eol = page.find('\n', pos);
    if (eol == std::string::npos) eol = page.size();
    std::string_view line(page.data() + pos, eol - pos);
    if (line.size() > series.size() && line.substr(0, series.size()) == series && line[series.size()] == ' ') {
      std::string value(line.substr(series.size() + 1));
      return std::strtod(value.c_str(), nullptr);
    }
    pos = eol + 1;
  }
  return std::nullopt;
}

Metrics::ParseErrorCounts errors_of(std::initializer_list<std::pair<ParseErrorKind, std::uint64_t>> counts) {
  Metrics::ParseErrorCounts out{};
  for (auto [kind, n] : counts) out[static_cast<std::size_t>(kind)] = n;
  return out;
}

std::string fetch_metrics(std::uint16_t port) {
  Result<testing::HttpResponse> response = testing::http_get("127.0.0.1", port, "/metrics");
  EXPECT_TRUE(response) << response.error().to_string();
  if (!response) return {};
  EXPECT_EQ(response->status, 200);
  return response->body;
}

// A collector with known counts, as a syslog TCP collector would leave them.
std::shared_ptr<CollectorStats> tcp_collector_stats() {
  auto stats = std::make_shared<CollectorStats>("syslog-tcp", "tcp");
  stats->received_events = 12345;
  stats->received_bytes = 987654;
  stats->framing_errors = 2;
  stats->connections_open = 3;
  stats->connections_total = 17;
  return stats;
}

TEST(Metrics, ExpositionOverHttpHasCollectorParseRuleAndProcessSamples) {
  Metrics metrics;
  auto stats = tcp_collector_stats();
  ASSERT_TRUE(metrics.add_collector(stats).ok());
  metrics.add_parsed("syslog-tcp", 12000, errors_of({{ParseErrorKind::kTruncatedJson, 2}, {ParseErrorKind::kInvalidUtf8, 1}}));
  metrics.add_parsed("syslog-tcp", 300, errors_of({{ParseErrorKind::kTruncatedJson, 3}}));
  metrics.add_rule_matches("proc_creation_win_whoami", 5);
  metrics.add_rule_matches("proc_creation_win_whoami", 2);
  metrics.add_rule_matches("web_sqli_union", 1);
  metrics.add_stored_alerts("high", 7);
  metrics.add_stored_alerts("medium", 1);
  metrics.add_events_processed(12300);
  metrics.observe_batch_seconds(0.003);
  metrics.observe_alert_latency_seconds(0.2);
  metrics.add_rule_reload(true);
  metrics.add_rule_reload(true);
  metrics.add_rule_reload(false);
  std::atomic<double> queue_depth{7};
  Result<Metrics::CallbackId> depth_id = metrics.add_gauge_callback(
      "vigil_queue_depth", "Batches waiting in a pipeline queue.", {{"queue", "input"}}, [&] { return queue_depth.load(); });
  ASSERT_TRUE(depth_id) << depth_id.error().to_string();

  ASSERT_TRUE(metrics.serve("127.0.0.1", 0).ok());
  ASSERT_NE(metrics.port(), 0);
  std::string page = fetch_metrics(metrics.port());

  EXPECT_EQ(sample_value(page, R"(vigil_events_received_total{collector="syslog-tcp",kind="tcp"})"), 12345) << page;
  EXPECT_EQ(sample_value(page, R"(vigil_bytes_received_total{collector="syslog-tcp",kind="tcp"})"), 987654);
  EXPECT_EQ(sample_value(page, R"(vigil_framing_errors_total{collector="syslog-tcp",kind="tcp"})"), 2);
  EXPECT_EQ(sample_value(page, R"(vigil_events_dropped_total{collector="syslog-tcp",kind="tcp"})"), 0);
  EXPECT_EQ(sample_value(page, R"(vigil_connections_open{collector="syslog-tcp",kind="tcp"})"), 3);
  EXPECT_EQ(sample_value(page, R"(vigil_connections_total{collector="syslog-tcp",kind="tcp"})"), 17);
  EXPECT_NE(page.find("# TYPE vigil_connections_open gauge"), std::string::npos);
  EXPECT_NE(page.find("# TYPE vigil_events_received_total counter"), std::string::npos);

  EXPECT_EQ(sample_value(page, R"(vigil_events_parsed_total{collector="syslog-tcp"})"), 12300);
  EXPECT_EQ(sample_value(page, R"(vigil_parse_errors_total{collector="syslog-tcp",reason="truncated_json"})"), 5);
  EXPECT_EQ(sample_value(page, R"(vigil_parse_errors_total{collector="syslog-tcp",reason="invalid_utf8"})"), 1);
  EXPECT_EQ(sample_value(page, R"(vigil_parse_errors_total{collector="syslog-tcp",reason="binary"})"), 0);
  EXPECT_FALSE(sample_value(page, R"(vigil_parse_errors_total{collector="syslog-tcp",reason="none"})"));

  EXPECT_EQ(sample_value(page, R"(vigil_rule_matches_total{rule="proc_creation_win_whoami"})"), 7);
  EXPECT_EQ(sample_value(page, R"(vigil_rule_matches_total{rule="web_sqli_union"})"), 1);
  EXPECT_EQ(sample_value(page, R"(vigil_alerts_total{level="high"})"), 7);
  EXPECT_EQ(sample_value(page, R"(vigil_alerts_total{level="medium"})"), 1);
  EXPECT_EQ(sample_value(page, R"(vigil_alerts_total{level="critical"})"), 0);
  EXPECT_EQ(sample_value(page, "vigil_events_processed_total"), 12300);
  EXPECT_EQ(sample_value(page, R"(vigil_rule_reloads_total{result="ok"})"), 2);
  EXPECT_EQ(sample_value(page, R"(vigil_rule_reloads_total{result="error"})"), 1);

  EXPECT_EQ(sample_value(page, "vigil_batch_match_seconds_count"), 1);
  EXPECT_EQ(sample_value(page, R"(vigil_batch_match_seconds_bucket{le="0.0025"})"), 0);
  EXPECT_EQ(sample_value(page, R"(vigil_batch_match_seconds_bucket{le="0.005"})"), 1);
  EXPECT_EQ(sample_value(page, R"(vigil_alert_latency_seconds_bucket{le="0.25"})"), 1);
  EXPECT_EQ(sample_value(page, R"(vigil_alert_latency_seconds_bucket{le="10"})"), 1);
  EXPECT_EQ(sample_value(page, "vigil_store_write_seconds_count"), 0);

  EXPECT_EQ(sample_value(page, R"(vigil_queue_depth{queue="input"})"), 7);
  EXPECT_GT(sample_value(page, "process_resident_memory_bytes").value_or(0), 0);
  EXPECT_GT(sample_value(page, "process_open_fds").value_or(0), 0);
  EXPECT_GT(sample_value(page, "process_start_time_seconds").value_or(0), 1.6e9);
  EXPECT_TRUE(sample_value(page, "process_cpu_seconds_total"));
  EXPECT_TRUE(sample_value(page, "process_virtual_memory_bytes"));
  EXPECT_TRUE(sample_value(page, "process_max_fds"));
  EXPECT_GE(sample_value(page, "vigil_peak_resident_memory_bytes").value_or(0),
            sample_value(page, "process_resident_memory_bytes").value_or(1));

  // Collector atomics and gauge callbacks are read at scrape time, not copied at registration.
  stats->received_events += 55;
  queue_depth = 9;
  page = fetch_metrics(metrics.port());
  EXPECT_EQ(sample_value(page, R"(vigil_events_received_total{collector="syslog-tcp",kind="tcp"})"), 12400);
  EXPECT_EQ(sample_value(page, R"(vigil_queue_depth{queue="input"})"), 9);

  metrics.remove_gauge_callback(*depth_id);
  page = fetch_metrics(metrics.port());
  EXPECT_FALSE(sample_value(page, R"(vigil_queue_depth{queue="input"})"));
  EXPECT_TRUE(sample_value(page, "vigil_events_processed_total"));

  // render() produces the same families without HTTP.
  EXPECT_EQ(sample_value(metrics.render(), R"(vigil_rule_matches_total{rule="web_sqli_union"})"), 1);

  const std::uint16_t port = metrics.port();
  // civetweb alone takes up to 2 s to notice shutdown; stop() wakes it (daemon shutdown, tests).
  auto stop_started = std::chrono::steady_clock::now();
  metrics.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, 1s);
  EXPECT_EQ(metrics.port(), 0);
  EXPECT_FALSE(testing::http_get("127.0.0.1", port, "/metrics", 1s)) << "still serving after stop()";
}

TEST(Metrics, RejectsDuplicateCollectorAndBadGaugeNames) {
  Metrics metrics;
  ASSERT_TRUE(metrics.add_collector(tcp_collector_stats()).ok());
  Status duplicate = metrics.add_collector(std::make_shared<CollectorStats>("syslog-tcp", "udp"));
  EXPECT_EQ(duplicate.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(duplicate.message().find("syslog-tcp"), std::string::npos) << duplicate.message();
  EXPECT_FALSE(metrics.add_collector(nullptr).ok());

  EXPECT_FALSE(metrics.add_gauge_callback("vigil queue depth", "x", {}, [] { return 1.0; }));
  EXPECT_FALSE(metrics.add_gauge_callback("vigil_queue_depth", "x", {{"bad-label", "v"}}, [] { return 1.0; }));
  EXPECT_FALSE(metrics.add_gauge_callback("vigil_queue_depth", "x", {}, nullptr));
  ASSERT_TRUE(metrics.add_gauge_callback("vigil_queue_depth", "Depth.", {{"queue", "input"}}, [] { return 1.0; }));
  ASSERT_TRUE(metrics.add_gauge_callback("vigil_queue_depth", "Depth.", {{"queue", "store"}}, [] { return 2.0; }));
  EXPECT_FALSE(metrics.add_gauge_callback("vigil_queue_depth", "Other help.", {{"queue", "x"}}, [] { return 1.0; }));
  EXPECT_FALSE(metrics.add_gauge_callback("vigil_queue_depth", "Depth.", {{"queue", "input"}}, [] { return 1.0; }));

  std::string page = metrics.render();
  EXPECT_EQ(sample_value(page, R"(vigil_queue_depth{queue="input"})"), 1);
  EXPECT_EQ(sample_value(page, R"(vigil_queue_depth{queue="store"})"), 2);
  // One family header for both callbacks of the name.
  EXPECT_EQ(page.find("# TYPE vigil_queue_depth gauge"), page.rfind("# TYPE vigil_queue_depth gauge"));
}

TEST(Metrics, ServeNamesAddressAndReasonWhenPortIsTaken) {
  int holder = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(holder, 1), 0);
  ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::uint16_t taken = ntohs(addr.sin_port);

  Metrics metrics;
  Status status = metrics.serve("127.0.0.1", taken);
  ::close(holder);
  EXPECT_EQ(status.code(), StatusCode::kIoError);
  EXPECT_NE(status.message().find("127.0.0.1:" + std::to_string(taken)), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("in use"), std::string::npos) << status.message();
  EXPECT_EQ(metrics.port(), 0);

  Status bad_host = metrics.serve("no-such-host.invalid", 0);
  EXPECT_EQ(bad_host.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_host.message().find("no-such-host.invalid"), std::string::npos) << bad_host.message();

  // Debian's civetweb has no IPv6: the error must say so rather than "problem binding to port".
  Status ipv6 = metrics.serve("::1", 0);
  if (!ipv6.ok()) {
    EXPECT_EQ(ipv6.code(), StatusCode::kUnsupported) << ipv6.to_string();
    EXPECT_NE(ipv6.message().find("IPv6"), std::string::npos) << ipv6.message();
  }
  metrics.stop();

  // A name resolves, to its IPv4 address first.
  ASSERT_TRUE(metrics.serve("localhost", 0).ok());
  EXPECT_TRUE(testing::http_get("127.0.0.1", metrics.port(), "/metrics"));
  EXPECT_FALSE(metrics.serve("127.0.0.1", 0).ok()) << "a second serve() must not replace the first";
}

// Matcher threads update the same series at once; every increment must land.
TEST(Metrics, ConcurrentBatchUpdatesAddUp) {
  Metrics metrics;
  constexpr int kThreads = 4, kBatches = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int b = 0; b < kBatches; ++b) {
        metrics.add_parsed(b % 2 ? "syslog-udp" : "http", 10, errors_of({{ParseErrorKind::kBinary, 1}}));
        metrics.add_rule_matches("rule-" + std::to_string(b % 50), 1);
        metrics.add_stored_alerts(t % 2 ? "low" : "high", 1);
        metrics.add_events_processed(10);
        metrics.observe_batch_seconds(0.001);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::string page = metrics.render();
  EXPECT_EQ(sample_value(page, R"(vigil_events_parsed_total{collector="http"})"), kThreads * kBatches / 2 * 10);
  EXPECT_EQ(sample_value(page, R"(vigil_parse_errors_total{collector="syslog-udp",reason="binary"})"), kThreads * kBatches / 2);
  EXPECT_EQ(sample_value(page, R"(vigil_rule_matches_total{rule="rule-7"})"), kThreads * kBatches / 50);
  EXPECT_EQ(sample_value(page, R"(vigil_alerts_total{level="low"})"), kThreads / 2 * kBatches);
  EXPECT_EQ(sample_value(page, "vigil_events_processed_total"), kThreads * kBatches * 10);
  EXPECT_EQ(sample_value(page, "vigil_batch_match_seconds_count"), kThreads * kBatches);
}

TEST(ProcessStats, ReadsThisProcess) {
  Result<ProcessStats> before = read_process_stats();
  ASSERT_TRUE(before) << before.error().to_string();
  EXPECT_GT(before->resident_bytes, 0u);
  EXPECT_GE(before->virtual_bytes, before->resident_bytes);
  EXPECT_GT(before->max_fds, 0u);
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(before->start_time_seconds, now + 1);
  EXPECT_GT(before->start_time_seconds, now - 3600);

  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  Result<ProcessStats> after = read_process_stats();
  ::close(fd);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->open_fds, before->open_fds + 1);
  EXPECT_GE(after->peak_resident_bytes, after->resident_bytes);
  EXPECT_GE(after->cpu_seconds, before->cpu_seconds);
}

// The whole chain as it runs in production: Prometheus scrapes /metrics and stores the series.
TEST(MetricsWithPrometheus, RealPrometheusReadsCollectorAndProcessMetrics) {
  if (!PrometheusServer::available()) GTEST_SKIP() << PrometheusServer::kMissingMessage;
  Metrics metrics;
  auto stats = tcp_collector_stats();
  ASSERT_TRUE(metrics.add_collector(stats).ok());
  metrics.add_rule_matches("proc_creation_win_whoami", 7);
  metrics.add_stored_alerts("high", 7);
  ASSERT_TRUE(metrics.serve("127.0.0.1", 0).ok());

  auto prometheus = PrometheusServer::start({"127.0.0.1:" + std::to_string(metrics.port())});
  ASSERT_TRUE(prometheus) << prometheus.error().to_string();
  PrometheusServer& prom = **prometheus;

  std::optional<double> received = prom.wait_for(R"(vigil_events_received_total{collector="syslog-tcp"})",
                                                 [](double v) { return v == 12345; });
  EXPECT_EQ(received, 12345) << prom.log();
  EXPECT_EQ(prom.query(R"(up{job="vigil"})"), 1);
  EXPECT_GT(prom.query(R"(process_resident_memory_bytes{job="vigil"})").value_or(0), 0);
  EXPECT_EQ(prom.query(R"(vigil_rule_matches_total{rule="proc_creation_win_whoami"})"), 7);
  EXPECT_EQ(prom.query(R"(vigil_alerts_total{level="high"})"), 7);

  // A later count reaches Prometheus on a following scrape.
  stats->received_events = 20000;
  received = prom.wait_for(R"(vigil_events_received_total{collector="syslog-tcp",kind="tcp"})",
                           [](double v) { return v == 20000; });
  EXPECT_EQ(received, 20000);
}

}  // namespace
}  // namespace vigil
