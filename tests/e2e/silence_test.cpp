// Silent sources end to end with the real `vigil run`: three hosts send syslog over TCP, one
// stops; the "Log source went silent" alert must be stored within its threshold plus 5 s, a
// "Log source resumed" note when it sends again, a Windows "log cleared" event marks its source
// tampered, and a restarted daemon still knows every source's cadence.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "tests/support/daemon.h"

namespace vigil::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A short minimum so the test runs in seconds; min_gaps 3 so the senders are learnt at once.
std::string config() {
  return "data_dir: data\n"
         "rules: ['@bundled']\n"
         "metrics: {listen: '127.0.0.1:0'}\n"
         "http: {listen: '127.0.0.1:0'}\n"
         "pipeline: {batch_max_delay_ms: 5}\n"
         "silence: {minimum: 3s, factor: 10, min_gaps: 3, history: 1h}\n"
         "collectors:\n  - {name: tcp, type: tcp, listen: '127.0.0.1:0'}\n";
}

// One sender: a line every 100 ms over its own TCP connection while `running`.
class Sender {
 public:
  Sender(std::uint16_t port, std::string host) : port_(port), host_(std::move(host)) {}
  ~Sender() { stop(); }
  void start() {
    running_ = true;
    thread_ = std::thread([this] {
      TcpClient c(port_);
      for (int n = 0; running_ && c.ok(); ++n) {
        const std::string line = "<38>Nov 26 01:02:03 " + host_ + " cron[" + std::to_string(n) +
                                 "]: (root) CMD (run-parts /etc/cron.hourly)\n";
        if (!c.send_all(line)) break;
        last_sent_ = Clock::now().time_since_epoch().count();
        std::this_thread::sleep_for(100ms);
      }
    });
  }
  void stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }
  Clock::time_point last_sent() const { return Clock::time_point(Clock::duration(last_sent_.load())); }

 private:
  std::uint16_t port_;
  std::string host_;
  std::atomic<bool> running_{false};
  std::atomic<Clock::rep> last_sent_{0};
  std::thread thread_;
};

struct SourceView {
  std::string state;
  bool tampered = false;
  std::string tamper_reason;
  double usual_gap_s = 0, threshold_s = 0;
  std::int64_t events = 0;
};

class SilenceTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    daemon_ = std::make_unique<Daemon>(dir_, config());
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    read_token();
  }
  void read_token() {
    token_ = Slurp(dir_ / "data" / "admin.token");
    while (!token_.empty() && token_.back() == '\n') token_.pop_back();
  }
  HttpReply get(const std::string& target) {
    return http_request(daemon_->port("http"), "GET", target, "", {{"Authorization", "Bearer " + token_}});
  }
  // host -> what GET /api/v1/sources says of it.
  std::map<std::string, SourceView> sources() {
    std::map<std::string, SourceView> out;
    HttpReply r = get("/api/v1/sources");
    if (r.status != 200) return out;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(r.body).get(doc) != simdjson::SUCCESS) return out;
    for (simdjson::dom::element s : doc["sources"].get_array()) {
      SourceView v;
      v.state = std::string(s["state"].get_string().value());
      v.tampered = s["tampered"].get_bool().value();
      std::string_view reason;
      if (s["tamper_reason"].get_string().get(reason) == simdjson::SUCCESS) v.tamper_reason = reason;
      double d;
      if (s["usual_gap_s"].get_double().get(d) == simdjson::SUCCESS) v.usual_gap_s = d;
      if (s["threshold_s"].get_double().get(d) == simdjson::SUCCESS) v.threshold_s = d;
      v.events = s["events"].get_int64().value();
      out[std::string(s["host"].get_string().value())] = v;
    }
    return out;
  }
  // Alerts of `rule` for `host`, as (threshold_s field, count).
  std::size_t alerts(const std::string& rule, const std::string& host, double* threshold_s = nullptr) {
    HttpReply r = get("/api/v1/alerts?rule=" + rule + "&host=" + host + "&limit=100");
    if (r.status != 200) return 0;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(r.body).get(doc) != simdjson::SUCCESS) return 0;
    std::size_t n = 0;
    for (simdjson::dom::element a : doc["alerts"].get_array()) {
      ++n;
      std::string_view t;
      if (threshold_s && a["fields"]["threshold_s"].get_string().get(t) == simdjson::SUCCESS)
        *threshold_s = std::stod(std::string(t));
    }
    return n;
  }

  std::unique_ptr<Daemon> daemon_;
  std::string token_;
};

TEST_F(SilenceTest, OneOfThreeSendersStopsResumesAndTheCadenceSurvivesARestart) {
  const std::uint16_t port = daemon_->port("tcp");
  ASSERT_NE(port, 0);
  Sender web1(port, "web1"), web2(port, "web2"), web3(port, "web3");
  web1.start(), web2.start(), web3.start();

  // A Windows "log cleared" event (Security 1102) in the evtx_dump layout marks dc1 tampered.
  {
    TcpClient c(port);
    ASSERT_TRUE(c.send_all(
        R"({"Event":{"System":{"Provider":{"Name":"Microsoft-Windows-Eventlog"},"EventID":1102,"Channel":"Security",)"
        R"("Computer":"dc1.example","TimeCreated":{"SystemTime":"2026-01-02T03:04:05Z"}},)"
        R"("UserData":{"LogFileCleared":{"SubjectUserName":"mallory"}}}})"
        "\n"));
  }

  // The three are learnt (min_gaps 3 of arrivals 0.3 s apart: about a second).
  ASSERT_TRUE(wait_until(deadline_after(), [&] {
    auto s = sources();
    return s["web1"].state == "ok" && s["web2"].state == "ok" && s["web3"].state == "ok";
  })) << daemon_->log();
  ASSERT_TRUE(wait_until(deadline_after(), [&] { return sources()["dc1.example"].tampered; })) << daemon_->log();
  EXPECT_EQ(sources()["dc1.example"].tamper_reason, "log cleared");
  EXPECT_EQ(sources()["dc1.example"].state, "learning");

  // web2 stops: the alert within its threshold plus 5 s.
  web2.stop();
  const Clock::time_point stopped = web2.last_sent();
  double threshold_s = 0;
  ASSERT_TRUE(wait_until(deadline_after(), [&] { return alerts("vigil-source-silent", "web2", &threshold_s) == 1; }))
      << daemon_->log();
  const double took = std::chrono::duration<double>(Clock::now() - stopped).count();
  std::printf("silent alert %.2f s after web2's last line (threshold %.1f s)\n", took, threshold_s);
  EXPECT_GE(threshold_s, 3.0);
  EXPECT_LE(took, threshold_s + 5.0);
  EXPECT_GE(took, threshold_s - 0.5) << "not before the threshold";
  EXPECT_EQ(sources()["web2"].state, "silent");
  EXPECT_EQ(alerts("vigil-source-silent", "web1"), 0u);
  EXPECT_EQ(alerts("vigil-source-silent", "web3"), 0u);
  EXPECT_GT(metric(*daemon_, "vigil_source_last_seen_seconds", "tcp/web2/cron"), 1.7e9);
  EXPECT_EQ(metric(*daemon_, "vigil_sources", "state=\"silent\""), 1.0);

  // It resumes: a recovery note, and its state is ok again.
  web2.start();
  ASSERT_TRUE(wait_until(deadline_after(), [&] { return alerts("vigil-source-resumed", "web2") == 1; }))
      << daemon_->log();
  ASSERT_TRUE(wait_until(deadline_after(), [&] { return sources()["web2"].state == "ok"; }));
  EXPECT_EQ(alerts("vigil-source-silent", "web2"), 1u) << "one alert per silence";

  // Restart: the cadence learnt before is there before any new event arrives.
  web1.stop(), web2.stop(), web3.stop();
  auto before = sources();
  ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  EXPECT_NE(daemon_->log().find("vigil: sources: cadence of"), std::string::npos) << daemon_->log();
  auto after = sources();
  for (const char* host : {"web1", "web2", "web3"}) {
    ASSERT_TRUE(after.count(host)) << host;
    EXPECT_NE(after[host].state, "learning") << host;
    EXPECT_DOUBLE_EQ(after[host].usual_gap_s, before[host].usual_gap_s) << host;
    EXPECT_EQ(after[host].events, before[host].events) << host;
  }
  EXPECT_TRUE(after["dc1.example"].tampered);
  ASSERT_EQ(daemon_->stop(), 0) << daemon_->log();
}

class SilenceConfig : public TempDirTest {};

TEST_F(SilenceConfig, ErrorsNameTheFileAndLine) {
  const fs::path& dir = dir_;
  // Feature sections are read as the daemon starts (--check-config stops before).
  // RunVigil keeps the test's working directory: the data directory must be absolute.
  const std::string head = "data_dir: " + (dir / "data").string() + "\nmetrics: {enabled: false}\nhttp: {listen: '127.0.0.1:0'}\ncollectors: []\n";
  Write(dir / "vigil.yml", head + "silence:\n  factor: 10\n  minimum: soon\n");
  RunResult r = RunVigil("run --config " + (dir / "vigil.yml").string(), dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("vigil.yml:7: 'minimum' must be a duration"), std::string::npos) << r.err;
  Write(dir / "vigil.yml", head + "silence:\n  overrides:\n    - {host: 'fw-*'}\n");
  r = RunVigil("run --config " + (dir / "vigil.yml").string(), dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("vigil.yml:7: a silence override must set"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vigil::testing
