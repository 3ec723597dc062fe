// Forwarding end to end with the real `vigil run`: an HTTPS receiver owned by the test goes
// down for a while and the daemon is killed with SIGKILL mid-delivery, yet every alert arrives
// in order; a rejected alert is dead-lettered and delivered after `vigil forward replay`; and a
// province forwards to a national vigil that lists the alerts under the province's tenant.
//
// The receiver outage lasts until the daemon has failed several delivery attempts and backed
// off between them (a longer outage takes the same path, only more often).
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <set>
#include <sstream>

#include "net/hmac.h"
#include "tests/forward/webhook_receiver.h"
#include "tests/support/daemon.h"

namespace vigil::testing {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

std::string sample_text() { return Slurp(fs::path(VIGIL_SOURCE_DIR) / "samples" / "sample.log"); }

std::string first_match(const std::string& text, const std::regex& re) {
  std::smatch m;
  return std::regex_search(text, m, re) ? m[1].str() : std::string();
}
std::string id_of(const std::string& json) { return first_match(json, std::regex(R"re("id":"([0-9a-f]{32})")re")); }
std::string rule_of(const std::string& json) { return first_match(json, std::regex(R"re("rule":\{"id":"([^"]*)")re")); }
std::string tenant_of(const std::string& json) { return first_match(json, std::regex(R"re("tenant":"([^"]*)")re")); }

std::string province_config(const std::string& url, const fs::path& ca, const std::string& extra_destination = "") {
  return "data_dir: data\n"
         "rules: ['@bundled']\n"
         "metrics: {listen: '127.0.0.1:0'}\n"
         "http: {listen: '127.0.0.1:0'}\n"
         "pipeline: {batch_max_delay_ms: 5}\n"
         "forwarding:\n"
         "  sender: province-a\n"
         "  destinations:\n"
         "    - name: national\n"
         "      type: webhook\n"
         "      url: " + url + "\n"
         "      token: test-token\n"
         "      hmac_secret: test-secret\n"
         "      gzip: true\n"
         "      batch_max_alerts: 4\n"
         "      retry: {initial_ms: 50, max_ms: 1000}\n" +
         (ca.empty() ? "" : "      tls: {ca: '" + ca.string() + "'}\n") + extra_destination +
         "collectors:\n"
         "  - {name: tcp, type: tcp, listen: '127.0.0.1:0'}\n";
}

void send_lines(std::uint16_t port, const std::vector<std::string>& lines, int copies) {
  TcpClient c(port);
  ASSERT_TRUE(c.ok());
  std::string text;
  for (int i = 0; i < copies; ++i)
    for (const auto& l : lines) text += l + "\n";
  ASSERT_TRUE(c.send_all(text));
}

// Stored alert ids, oldest first, once the daemon has matched the `events` events sent since
// it started and committed every batch: nothing more is coming.
std::vector<std::string> settled_ids(const Daemon& d, std::size_t events) {
  EXPECT_TRUE(wait_until(deadline_after(), [&] {
    return metric(d, "vigil_events_processed_total") >= static_cast<double>(events) &&
           metric(d, "vigil_batches_in_flight") == 0;
  })) << d.log();
  std::vector<std::string> ids;
  for (const auto& j : d.alerts_json()) ids.push_back(id_of(j));
  return ids;
}

// The ids in order of first arrival.
std::vector<std::string> first_arrivals(const std::vector<std::string>& acked) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& id : acked)
    if (seen.insert(id).second) out.push_back(id);
  return out;
}

class ForwardingE2eTest : public TempDirTest {};

TEST_F(ForwardingE2eTest, ReceiverOutageAndKill9LoseNothingAndKeepOrder) {
  ASSERT_TRUE(make_test_certificate(dir_));
  WebhookReceiver::Options ro;
  ro.cert_dir = dir_;
  ro.hold_after = 20;  // then a delivery stays in flight, unanswered, for the kill to land in
  auto receiver = std::make_unique<WebhookReceiver>(ro);
  ASSERT_TRUE(receiver->start());
  const std::uint16_t port = receiver->port();

  Daemon d(dir_, province_config(receiver->url(), dir_ / "cert.pem"));
  ASSERT_TRUE(d.start()) << d.log();
  const std::vector<std::string> lines = lines_of(sample_text());
  send_lines(d.port("tcp"), lines, 10);
  ASSERT_TRUE(receiver->wait_for_distinct(20)) << d.log();
  ASSERT_TRUE(wait_until(deadline_after(), [&] { return receiver->held() > 0; })) << d.log();
  d.kill9();  // mid-delivery: alerts are stored, some acknowledged, one batch in flight, the rest pending
  std::vector<std::string> before_kill = receiver->acknowledged();
  auto acked_so_far = receiver->acknowledged();
  receiver.reset();  // the receiver goes down

  ASSERT_TRUE(d.start()) << d.log();
  send_lines(d.port("tcp"), lines, 2);  // new alerts during the outage
  EXPECT_TRUE(wait_until(deadline_after(), [&] { return metric(d, "vigil_forward_failed_attempts") >= 3; })) << d.log();
  RunResult status = RunVigil("forward status --json --data-dir " + (dir_ / "data").string(), dir_);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("\"destination\":\"national\""), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find("\"pending\":0,"), std::string::npos) << "nothing pending during the outage? " << status.out;
  EXPECT_NE(d.log().find("retrying with backoff"), std::string::npos) << d.log();

  ro.port = port;  // the receiver comes back on the same address
  ro.hold_after = SIZE_MAX;
  WebhookReceiver back(ro);
  ASSERT_TRUE(back.start());
  const std::vector<std::string> stored = settled_ids(d, 2 * lines.size());
  ASSERT_TRUE(back.wait_for_distinct(stored.size() - std::set<std::string>(acked_so_far.begin(), acked_so_far.end()).size()))
      << d.log();
  // The receiver that came back also gets the batch in flight at the kill again, so its own
  // distinct count can reach the target before the last alerts arrive: wait for the union.
  std::vector<std::string> all;
  wait_until(deadline_after(), [&] {
    all = acked_so_far;
    for (const auto& id : back.acknowledged()) all.push_back(id);
    return first_arrivals(all).size() >= stored.size();
  });
  // Everything the store holds arrived, first arrivals in commit (= id) order.
  std::vector<std::string> order = first_arrivals(all);
  EXPECT_EQ(order, stored);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  // After the restart the daemon resent at most the batch that was in flight at the kill.
  EXPECT_LE(all.size() - order.size(), 4u + (before_kill.size() - first_arrivals(before_kill).size()));
  EXPECT_EQ(d.stop(), 0) << d.log();
}

TEST_F(ForwardingE2eTest, RejectedAlertIsDeadLetteredAndDeliveredAfterCliReplay) {
  ASSERT_TRUE(make_test_certificate(dir_));
  const std::vector<std::string> lines = lines_of(sample_text());
  // The rule the receiver refuses: the rule of the first alert the sample raises.
  Write(dir_ / "sample.log", sample_text());
  RunResult scan = RunVigil("scan --no-summary " + (dir_ / "sample.log").string(), dir_);
  ASSERT_EQ(scan.exit_code, 0) << scan.err;
  const std::string refused_rule = rule_of(scan.out);
  ASSERT_FALSE(refused_rule.empty()) << scan.out;

  WebhookReceiver::Options ro;
  ro.cert_dir = dir_;
  ro.reject = [refused_rule](const Alert& a) { return a.rule_id == refused_rule; };
  WebhookReceiver receiver(ro);
  ASSERT_TRUE(receiver.start());
  Daemon d(dir_, province_config(receiver.url(), dir_ / "cert.pem"));
  ASSERT_TRUE(d.start()) << d.log();
  send_lines(d.port("tcp"), lines, 1);
  std::vector<std::string> stored_json;
  std::vector<std::string> stored = settled_ids(d, lines.size());
  std::size_t refused = 0;
  for (const auto& j : d.alerts_json()) refused += rule_of(j) == refused_rule;
  ASSERT_GT(refused, 0u);
  ASSERT_TRUE(receiver.wait_for_distinct(stored.size() - refused)) << d.log();
  std::string dead;
  wait_until(deadline_after(), [&] {
    dead = RunVigil("forward dead-letters --json --data-dir " + (dir_ / "data").string(), dir_).out;
    return lines_of(dead).size() == refused;
  });
  ASSERT_EQ(lines_of(dead).size(), refused) << dead;
  EXPECT_NE(dead.find("HTTP 400: {\\\"error\\\":\\\"rule " + refused_rule + " not accepted here"), std::string::npos) << dead;
  EXPECT_EQ(d.stop(), 0) << d.log();

  receiver.set_reject(nullptr);
  RunResult replay = RunVigil("forward replay --all --data-dir " + (dir_ / "data").string(), dir_);
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_NE(replay.out.find(std::to_string(refused) + " dead letters queued again"), std::string::npos) << replay.out;
  ASSERT_TRUE(d.start()) << d.log();
  ASSERT_TRUE(receiver.wait_for_distinct(stored.size())) << d.log();
  std::vector<std::string> acked = receiver.acknowledged();
  EXPECT_EQ(std::set<std::string>(acked.begin(), acked.end()), std::set<std::string>(stored.begin(), stored.end()));
  EXPECT_EQ(acked.size(), stored.size()) << "an acknowledged alert was sent twice";
  RunResult after = RunVigil("forward dead-letters --json --data-dir " + (dir_ / "data").string(), dir_);
  EXPECT_EQ(after.out, "");
  EXPECT_EQ(d.stop(), 0) << d.log();
}

// The same through the analyst API while the daemon runs: an admin sees the dead letters and
// the refused alert's delivery state, replays them, and the running sender delivers them.
TEST_F(ForwardingE2eTest, DeadLettersAreVisibleAndReplayableThroughTheApi) {
  ASSERT_TRUE(make_test_certificate(dir_));
  const std::vector<std::string> lines = lines_of(sample_text());
  Write(dir_ / "sample.log", sample_text());
  RunResult scan = RunVigil("scan --no-summary " + (dir_ / "sample.log").string(), dir_);
  ASSERT_EQ(scan.exit_code, 0) << scan.err;
  const std::string refused_rule = rule_of(scan.out);
  WebhookReceiver::Options ro;
  ro.cert_dir = dir_;
  ro.reject = [refused_rule](const Alert& a) { return a.rule_id == refused_rule; };
  WebhookReceiver receiver(ro);
  ASSERT_TRUE(receiver.start());
  Daemon d(dir_, province_config(receiver.url(), dir_ / "cert.pem"));
  ASSERT_TRUE(d.start()) << d.log();
  std::string token = Slurp(dir_ / "data" / "admin.token");
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  ASSERT_FALSE(token.empty());
  const std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", "Bearer " + token}};
  send_lines(d.port("tcp"), lines, 1);
  std::vector<std::string> stored = settled_ids(d, lines.size());
  std::vector<std::string> refused_ids;
  for (const auto& j : d.alerts_json())
    if (rule_of(j) == refused_rule) refused_ids.push_back(j.substr(j.find("\"id\":\"") + 6, 32));
  ASSERT_FALSE(refused_ids.empty());
  ASSERT_TRUE(receiver.wait_for_distinct(stored.size() - refused_ids.size())) << d.log();
  HttpReply listed;
  wait_until(deadline_after(), [&] {
    listed = http_request(d.port("http"), "GET", "/api/v1/forwarding/dead-letters", "", auth);
    std::size_t n = 0;
    for (std::size_t p = 0; (p = listed.body.find("\"alert_id\"", p)) != std::string::npos; ++p) ++n;
    return n == refused_ids.size();
  });
  ASSERT_EQ(listed.status, 200) << listed.body;
  for (const auto& id : refused_ids) EXPECT_NE(listed.body.find(id), std::string::npos) << listed.body;
  EXPECT_NE(listed.body.find("HTTP 400"), std::string::npos) << listed.body;
  HttpReply detail = http_request(d.port("http"), "GET", "/api/v1/alerts/" + refused_ids[0], "", auth);
  EXPECT_NE(detail.body.find("\"state\":\"dead_letter\""), std::string::npos) << detail.body;
  // Without a token, or with a viewer's, no dead letters.
  EXPECT_EQ(http_request(d.port("http"), "GET", "/api/v1/forwarding/dead-letters").status, 401);
  HttpReply viewer = http_request(d.port("http"), "POST", "/api/v1/tokens",
                                  "{\"name\":\"v\",\"role\":\"viewer\",\"tenant\":\"*\"}", auth);
  ASSERT_EQ(viewer.status, 200) << viewer.body;
  const std::string viewer_token = viewer.body.substr(viewer.body.find("vgl_"), viewer.body.rfind('"') - viewer.body.find("vgl_"));
  EXPECT_EQ(http_request(d.port("http"), "GET", "/api/v1/forwarding/dead-letters", "",
                         {{"Authorization", "Bearer " + viewer_token}}).status, 403);

  receiver.set_reject(nullptr);
  HttpReply replay = http_request(d.port("http"), "POST", "/api/v1/forwarding/dead-letters/replay", "{}", auth);
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.body, "{\"replayed\":" + std::to_string(refused_ids.size()) + "}");
  ASSERT_TRUE(receiver.wait_for_distinct(stored.size())) << d.log();
  wait_until(deadline_after(), [&] {
    detail = http_request(d.port("http"), "GET", "/api/v1/alerts/" + refused_ids[0], "", auth);
    return detail.body.find("\"state\":\"delivered\"") != std::string::npos;
  });
  EXPECT_NE(detail.body.find("\"state\":\"delivered\""), std::string::npos) << detail.body;
  EXPECT_EQ(d.stop(), 0) << d.log();
}

TEST_F(ForwardingE2eTest, ProvinceForwardsToNationalUnderItsTenant) {
  fs::create_directories(dir_ / "national");
  fs::create_directories(dir_ / "province");
  Daemon national(dir_ / "national",
                  "data_dir: data\n"
                  "rules: ['@bundled']\n"
                  "metrics: {listen: '127.0.0.1:0'}\n"
                  "http: {listen: '127.0.0.1:0'}\n"
                  "forwarding:\n"
                  "  receive:\n"
                  "    senders:\n"
                  "      - {name: province-a, token: test-token, hmac_secret: test-secret}\n"
                  "collectors:\n"
                  "  - {name: tcp, type: tcp, listen: '127.0.0.1:0'}\n");
  ASSERT_TRUE(national.start()) << national.log();
  const std::string url = "http://127.0.0.1:" + std::to_string(national.port("http")) + "/ingest/alerts";
  // A wrong token is refused.
  HttpReply bad = http_request(national.port("http"), "POST", "/ingest/alerts", "{\"alerts\":[]}",
                               {{"Authorization", "Bearer nope"}});
  EXPECT_EQ(bad.status, 401);

  Daemon province(dir_ / "province", province_config(url, ""));
  ASSERT_TRUE(province.start()) << province.log();
  send_lines(province.port("tcp"), lines_of(sample_text()), 3);
  const std::vector<std::string> stored = settled_ids(province, 3 * lines_of(sample_text()).size());
  ASSERT_FALSE(stored.empty());
  std::vector<std::string> got;
  wait_until(deadline_after(), [&] {
    RunResult r = RunVigil("alerts list --json --oldest-first --limit 0 --tenant province-a --data-dir " +
                               (dir_ / "national" / "data").string(), dir_);
    got = lines_of(r.out);
    return got.size() >= stored.size();
  });
  ASSERT_EQ(got.size(), stored.size()) << national.log() << province.log();
  std::vector<std::string> origin;
  for (const auto& j : got) {
    EXPECT_EQ(tenant_of(j), "province-a");
    origin.push_back(first_match(j, std::regex(R"re("vigil.origin_id":"([0-9a-f]{32})")re")));
  }
  EXPECT_EQ(origin, stored);  // each province alert once, in order
  EXPECT_EQ(province.stop(), 0) << province.log();
  EXPECT_EQ(national.stop(), 0) << national.log();
}

// Security review finding (low): the national receiver took a genuine signed body again, sent a
// second time. The signature covers a timestamp and a nonce: a replay inside the window is
// refused by its nonce, one outside by its time, and a request without them is refused.
TEST_F(ForwardingE2eTest, TheNationalReceiverRefusesAReplayedSignedRequest) {
  fs::create_directories(dir_ / "national");
  Daemon national(dir_ / "national",
                  "data_dir: data\n"
                  "rules: ['@bundled']\n"
                  "metrics: {listen: '127.0.0.1:0'}\n"
                  "http: {listen: '127.0.0.1:0'}\n"
                  "forwarding:\n"
                  "  receive:\n"
                  "    senders:\n"
                  "      - {name: province-a, token: test-token, hmac_secret: test-secret}\n");
  ASSERT_TRUE(national.start()) << national.log();
  const std::string body =
      R"({"sender":"province-a","alerts":[{"id":"0123456789abcdef0123456789abcdef","rule":{"id":"r1","title":"T","level":"high"},"raw":"x"}]})";
  auto post = [&](const std::string& timestamp, const std::string& nonce, const std::string& secret) {
    std::vector<std::pair<std::string, std::string>> headers = {{"Authorization", "Bearer test-token"},
                                                                {"Content-Type", "application/json"}};
    if (!timestamp.empty()) headers.push_back({"X-Vigil-Timestamp", timestamp});
    if (!nonce.empty()) headers.push_back({"X-Vigil-Nonce", nonce});
    headers.push_back({"X-Vigil-Signature", "sha256=" + net::webhook_signature(secret, timestamp, nonce, body)});
    return http_request(national.port("http"), "POST", "/ingest/alerts", body, headers);
  };
  const std::string now = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  HttpReply first = post(now, "nonce-0123456789abcdef", "test-secret");
  EXPECT_EQ(first.status, 200) << first.body;
  HttpReply replay = post(now, "nonce-0123456789abcdef", "test-secret");
  EXPECT_EQ(replay.status, 401) << replay.body;
  EXPECT_NE(replay.body.find("replay"), std::string::npos) << replay.body;
  const std::string old = std::to_string(std::stoll(now) - 3600);
  HttpReply stale = post(old, "nonce-fedcba9876543210", "test-secret");
  EXPECT_EQ(stale.status, 401) << stale.body;
  EXPECT_NE(stale.body.find("window"), std::string::npos) << stale.body;
  EXPECT_EQ(post("", "", "test-secret").status, 401);
  EXPECT_EQ(post(now, "nonce-aaaaaaaaaaaaaaaa", "wrong-secret").status, 401);
  // A new nonce inside the window is a new request (the body is de-duplicated by its origin id).
  HttpReply again = post(now, "nonce-bbbbbbbbbbbbbbbb", "test-secret");
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_NE(again.body.find("\"duplicates\":1"), std::string::npos) << again.body;
  EXPECT_EQ(national.stop(), 0) << national.log();
}

}  // namespace
}  // namespace vigil::testing
