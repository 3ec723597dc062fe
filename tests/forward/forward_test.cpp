// Forwarding against real receivers on loopback: an HTTPS webhook receiver owned by the test
// (checks token and HMAC, fails with 500 for a while, rejects chosen alerts with 400) and a
// real syslog-ng receiving CEF over TCP with octet-counting framing, writing to a file.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "collectors/alert_ingest.h"
#include "core/alert_json.h"
#include "core/time_text.h"
#include "forward/cef.h"
#include "forward/config.h"
#include "forward/sender.h"
#include "storage/alert_codec.h"
#include "storage/alert_store.h"
#include "storage/outbox.h"
#include "tests/forward/webhook_receiver.h"

namespace vigil::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class ForwardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vigil-forward-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    storage::StoreOptions so;
    so.dir = (dir_ / "data").string();
    so.sync = false;
    auto store = storage::AlertStore::open(so);
    ASSERT_TRUE(store) << store.error().to_string();
    store_ = std::move(*store);
  }
  void TearDown() override {
    for (auto& s : senders_) s->stop();
    if (extension_) store_->remove_commit_extension(extension_.get());
    store_.reset();
    fs::remove_all(dir_);
  }

  // Registers the outbox for these destinations and starts one sender each.
  void start(std::vector<forward::DestinationConfig> destinations) {
    std::vector<storage::OutboxExtension::Destination> outbox;
    for (auto& d : destinations) {
      forward::AlertFilter f = d.filter;
      outbox.push_back({d.name, [f](const Alert& a) { return f.matches(a); }});
      senders_.push_back(std::make_unique<forward::Sender>(d, "province-test", *store_, stderr));
    }
    extension_ = std::make_unique<storage::OutboxExtension>(std::move(outbox));
    extension_->set_on_queued([this](std::size_t i, std::uint64_t n) { senders_[i]->queued(n); });
    store_->add_commit_extension(extension_.get());
    for (auto& s : senders_) ASSERT_TRUE(s->start().ok());
  }

  static Alert make_alert(int i) {
    Alert a;
    a.rule_id = i % 3 == 0 ? "rule-low" : "rule-high";
    a.rule_title = "Rule | with pipe " + std::to_string(i);
    a.level = i % 3 == 0 ? AlertLevel::kLow : AlertLevel::kHigh;
    a.tags = i % 2 ? std::vector<std::string>{"attack.t1110", "attack.credential_access"} : std::vector<std::string>{"cve.2021"};
    if (i % 2) a.attack_techniques = {"T1110"};
    a.tenant = "unit-" + std::to_string(i % 2);
    a.system = "sys";
    a.host = "host-" + std::to_string(i);
    a.collector = "tcp";
    a.peer = "10.0.0.1:514";
    a.format = "rfc3164";
    a.matched = {{"CommandLine", "a=b \\ c"}};
    a.raw = "line " + std::to_string(i) + " with = and \\ and\nnewline";
    a.received_unix_ns = 1700000000000000000LL + i;
    return a;
  }

  // Commits `n` alerts (i from `first`) in commits of 7; returns them with their ids.
  std::vector<Alert> commit(int first, int n) {
    std::vector<Alert> all;
    for (int i = first; i < first + n; i += 7) {
      std::vector<Alert> batch;
      for (int j = i; j < std::min(first + n, i + 7); ++j) batch.push_back(make_alert(j));
      EXPECT_TRUE(store_->commit(batch, {}).ok());
      all.insert(all.end(), batch.begin(), batch.end());
    }
    return all;
  }

  forward::DestinationConfig webhook(const WebhookReceiver& r) {
    forward::DestinationConfig d;
    d.name = "national";
    d.url = r.url();
    d.bearer_token = "test-token";
    d.hmac_secret = "test-secret";
    d.tls.ca_file = (dir_ / "cert.pem").string();
    d.batch_max_alerts = 16;
    d.retry.initial = 20ms;
    d.retry.max = 200ms;
    d.timeout = 5s;
    return d;
  }

  fs::path dir_;
  std::unique_ptr<storage::AlertStore> store_;
  std::unique_ptr<storage::OutboxExtension> extension_;
  std::vector<std::unique_ptr<forward::Sender>> senders_;
};

TEST(ForwardFilter, LevelTenantTagGlobAndRule) {
  forward::AlertFilter f;
  f.min_level = AlertLevel::kMedium;
  f.tag_globs = {"attack.*"};
  Alert a;
  a.level = AlertLevel::kHigh;
  a.tags = {"cve.1", "ATTACK.T1110"};
  EXPECT_TRUE(f.matches(a));
  a.tags = {"cve.1"};
  EXPECT_FALSE(f.matches(a));
  a.tags = {"attack.t1"};
  a.level = AlertLevel::kLow;
  EXPECT_FALSE(f.matches(a));
  a.level = AlertLevel::kCritical;
  f.tenants = {"p1"};
  EXPECT_FALSE(f.matches(a));
  a.tenant = "p1";
  EXPECT_TRUE(f.matches(a));
  f.rule_ids = {"r9"};
  EXPECT_FALSE(f.matches(a));
}

TEST(ForwardConfig, ErrorsNameFileAndLine) {
  ConfigReader r("vigil.yml");
  YAML::Node n = YAML::Load("destinations:\n  - name: a\n    type: webhook\n    url: https://x/\n  - name: b\n    type: cef\n    adress: 1.2.3.4:514\n");
  auto c = forward::parse_forwarding_config(n, r);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("vigil.yml:7: unknown key 'adress'"), std::string::npos) << c.error().message();
  n = YAML::Load("destinations:\n  - name: a\n    type: webhook\n    url: ftp://x/\n");
  c = forward::parse_forwarding_config(n, r);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("vigil.yml:4: webhook 'url' must start with https://"), std::string::npos) << c.error().message();
  n = YAML::Load("destinations:\n  - name: a\n    type: webhook\n    url: https://x/\n    filter: {min_level: severe}\n");
  c = forward::parse_forwarding_config(n, r);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("vigil.yml:5: 'min_level' must be"), std::string::npos) << c.error().message();
  n = YAML::Load("destinations:\n  - {name: a, type: cef, address: '127.0.0.1:6514', filter: {tags: ['attack.*'], min_level: high}}\n");
  c = forward::parse_forwarding_config(n, r);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->destinations[0].port, 6514);
  EXPECT_EQ(c->destinations[0].filter.min_level, AlertLevel::kHigh);
}

// Found by fuzz_alert_payload (tests/fuzz): a "created" time before 1677 (nanoseconds since
// 1970 below INT64_MIN) overflowed a signed multiplication in parse_rfc3339_ns (UBSan). Such a
// time is now clamped, as times after 2262 already were; times in range are exact.
TEST(NationalReceiverPayload, CreatedBefore1677SignedOverflow) {
  auto p = collectors::parse_alert_payload(
      R"({"alerts":[{"id":"","created":"1610-05-01 02:45:40z","created":"1610-05-01 8"}],"x":0})");
  // The fuzzer's input: no rule, so a field error, reached only after "created" was read.
  EXPECT_FALSE(p);
  p = collectors::parse_alert_payload(
      R"({"alerts":[{"id":"a","created":"1610-05-01T02:45:40Z","received":"1900-01-01T00:00:00Z","rule":{"id":"r","level":"low"}}]})");
  ASSERT_TRUE(p) << p.error().to_string();
  ASSERT_EQ(p->alerts.size(), 1u);
  EXPECT_EQ(p->alerts[0].created_unix_ns, std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(p->alerts[0].received_unix_ns, -2208988800LL * 1000000000LL);
}

// A forwarded alert keeps its ATT&CK view: the national receiver reads back what the webhook's
// alert JSON wrote, and alerts of senders older than the view still parse.
TEST(NationalReceiverPayload, AttackViewRoundTrips) {
  Alert a;
  a.id = "00000000000003e80000000000000007";
  a.rule_id = "r";
  a.attack_tactics = {"defense-evasion", "defense-impairment"};
  a.attack_techniques = {"T1562.002", "T1685.001"};
  std::string body = "{\"alerts\":[";
  append_alert_json(body, a);
  body += "]}";
  auto p = collectors::parse_alert_payload(body);
  ASSERT_TRUE(p) << p.error().to_string();
  ASSERT_EQ(p->alerts.size(), 1u);
  EXPECT_EQ(p->alerts[0].attack_tactics, a.attack_tactics);
  EXPECT_EQ(p->alerts[0].attack_techniques, a.attack_techniques);
  p = collectors::parse_alert_payload(R"({"alerts":[{"id":"a","rule":{"id":"r","level":"low"},"attack":{"techniques":[1]}}]})");
  EXPECT_FALSE(p);
}

TEST(ForwardCef, EscapingAndFraming) {
  EXPECT_EQ(forward::cef_escape_header("a|b\\c"), "a\\|b\\\\c");
  EXPECT_EQ(forward::cef_escape_extension("a=b\\c\nd"), "a\\=b\\\\c\\nd");
  std::string framed;
  forward::append_octet_counted(framed, "héllo");
  EXPECT_EQ(framed, "6 héllo");
}

TEST_F(ForwardTest, WebhookDeliversEveryQualifyingAlertAtLeastOnceAfter500s) {
  ASSERT_TRUE(make_test_certificate(dir_));
  WebhookReceiver::Options ro;
  ro.cert_dir = dir_;
  ro.fail_first = 5;
  WebhookReceiver receiver(ro);
  ASSERT_TRUE(receiver.start());
  auto d = webhook(receiver);
  d.filter.min_level = AlertLevel::kHigh;
  d.gzip = true;
  start({d});
  std::vector<Alert> all = commit(0, 300);
  std::vector<std::string> qualifying;
  for (const Alert& a : all)
    if (a.level >= AlertLevel::kHigh) qualifying.push_back(a.id);
  ASSERT_TRUE(receiver.wait_for_distinct(qualifying.size())) << receiver.acknowledged().size();
  auto acked = receiver.acknowledged();
  // Acknowledged exactly once each (a 500 is no acknowledgement), in commit order.
  EXPECT_EQ(acked, qualifying);
  EXPECT_EQ(receiver.failures_sent(), 5);
  EXPECT_EQ(receiver.bad_signatures(), 0);
  EXPECT_NE(receiver.last_idempotency_key().find(acked.back()), std::string::npos);
  // Fields survive the trip.
  auto alerts = receiver.acknowledged_alerts();
  EXPECT_EQ(alerts[0].raw, all[1].raw);
  EXPECT_EQ(alerts[0].tags, all[1].tags);
  // Every qualifying alert shows as delivered, the others were never queued.
  auto delivered = storage::delivery_of(*store_, qualifying.front());
  ASSERT_TRUE(delivered);
  ASSERT_EQ(delivered->size(), 1u);
  EXPECT_EQ((*delivered)[0].state, storage::DeliveryStateKind::kDelivered);
  EXPECT_EQ((*delivered)[0].destination, "national");
  auto skipped = storage::delivery_of(*store_, all[0].id);
  ASSERT_TRUE(skipped);
  EXPECT_TRUE(skipped->empty());
  EXPECT_TRUE(testing::wait_until(testing::deadline_after(), [&] { return senders_[0]->counters().pending.load() == 0; }));
  EXPECT_EQ(senders_[0]->counters().sent.load(), qualifying.size());
  EXPECT_GT(senders_[0]->counters().retried.load(), 0u);
  auto status = storage::outbox_status(*store_);
  ASSERT_TRUE(status);
  ASSERT_EQ(status->size(), 1u);
  EXPECT_EQ((*status)[0].pending, 0u);
  EXPECT_EQ((*status)[0].cursor_alert_id, qualifying.back());
}

// The commit writes only the queue key; "pending" is derived from it, and the states the
// sender records (failed attempt, delivered, dead letter) take over from there.
TEST_F(ForwardTest, DeliveryStateIsPendingFromTheQueueEntryUntilTheSenderRecordsMore) {
  forward::AlertFilter high_only;
  high_only.min_level = AlertLevel::kMedium;
  extension_ = std::make_unique<storage::OutboxExtension>(std::vector<storage::OutboxExtension::Destination>{
      {"national", [high_only](const Alert& a) { return high_only.matches(a); }},
      {"archive", [](const Alert&) { return true; }}});
  store_->add_commit_extension(extension_.get());
  std::vector<Alert> all = commit(0, 6);  // no sender runs: everything stays queued
  // all[0] is low (archive only), all[1] and all[2] are high (both destinations).
  auto low = storage::delivery_of(*store_, all[0].id);
  ASSERT_TRUE(low) << low.error().to_string();
  ASSERT_EQ(low->size(), 1u);
  EXPECT_EQ((*low)[0].destination, "archive");
  EXPECT_EQ((*low)[0].state, storage::DeliveryStateKind::kPending);
  EXPECT_EQ((*low)[0].attempts, 0u);
  EXPECT_GT((*low)[0].updated_unix_ns, 0);

  auto key = [](const std::string& id) { return *storage::alert_key_from_id(id); };
  ASSERT_TRUE(storage::mark_attempt_failed(*store_, "national", {key(all[1].id)}, 2, "HTTP 503").ok());
  ASSERT_TRUE(storage::mark_delivered(*store_, "archive", {key(all[1].id)}, 1).ok());
  ASSERT_TRUE(storage::mark_dead_letter(*store_, "national", key(all[2].id), 1, "HTTP 400: bad").ok());
  auto high = storage::delivery_of(*store_, all[1].id);
  ASSERT_TRUE(high);
  ASSERT_EQ(high->size(), 2u);
  EXPECT_EQ((*high)[0].destination, "archive");
  EXPECT_EQ((*high)[0].state, storage::DeliveryStateKind::kDelivered);
  EXPECT_EQ((*high)[1].destination, "national");
  EXPECT_EQ((*high)[1].state, storage::DeliveryStateKind::kPending);
  EXPECT_EQ((*high)[1].attempts, 2u);
  EXPECT_EQ((*high)[1].last_error, "HTTP 503");
  auto dead = storage::delivery_of(*store_, all[2].id);
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 2u);
  EXPECT_EQ((*dead)[0].state, storage::DeliveryStateKind::kPending);  // archive
  EXPECT_EQ((*dead)[1].state, storage::DeliveryStateKind::kDeadLetter);
  EXPECT_EQ((*dead)[1].last_error, "HTTP 400: bad");
  // A replayed dead letter is pending again.
  auto replayed = storage::replay_dead_letters(*store_, "national", {all[2].id});
  ASSERT_TRUE(replayed);
  EXPECT_EQ(*replayed, 1u);
  dead = storage::delivery_of(*store_, all[2].id);
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 2u);
  EXPECT_EQ((*dead)[1].state, storage::DeliveryStateKind::kPending);
  // Pending counts come from the queue entries alone.
  auto pending = storage::count_pending(*store_, "archive");
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->first, 5u);
}

TEST_F(ForwardTest, RejectedAlertIsDeadLetteredWithReasonAndDeliveredAfterReplay) {
  ASSERT_TRUE(make_test_certificate(dir_));
  WebhookReceiver::Options ro;
  ro.cert_dir = dir_;
  ro.reject = [](const Alert& a) { return a.host == "host-10"; };
  WebhookReceiver receiver(ro);
  ASSERT_TRUE(receiver.start());
  start({webhook(receiver)});
  std::vector<Alert> all = commit(0, 40);
  ASSERT_TRUE(receiver.wait_for_distinct(39));
  auto dead = storage::list_dead_letters(*store_);
  testing::wait_until(testing::deadline_after(), [&] {
    dead = storage::list_dead_letters(*store_);
    return !dead || !dead->empty();
  });
  ASSERT_TRUE(dead);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].alert_id, all[10].id);
  EXPECT_EQ((*dead)[0].destination, "national");
  EXPECT_NE((*dead)[0].reason.find("HTTP 400"), std::string::npos) << (*dead)[0].reason;
  EXPECT_NE((*dead)[0].reason.find("not accepted here"), std::string::npos) << (*dead)[0].reason;
  auto state = storage::delivery_of(*store_, all[10].id);
  ASSERT_TRUE(state && state->size() == 1);
  EXPECT_EQ((*state)[0].state, storage::DeliveryStateKind::kDeadLetter);
  // The other 39 were delivered, in order, the rejected one skipped.
  std::vector<std::string> expected;
  for (const Alert& a : all)
    if (a.host != "host-10") expected.push_back(a.id);
  EXPECT_EQ(receiver.acknowledged(), expected);
  EXPECT_EQ(senders_[0]->counters().failed.load(), 1u);

  receiver.set_reject(nullptr);  // the receiver was fixed: the admin replays
  auto replayed = storage::replay_dead_letters(*store_, "", {all[10].id});
  ASSERT_TRUE(replayed);
  EXPECT_EQ(*replayed, 1u);
  senders_[0]->rescan();
  ASSERT_TRUE(receiver.wait_for_distinct(40));
  EXPECT_EQ(receiver.acknowledged().back(), all[10].id);
  dead = storage::list_dead_letters(*store_);
  ASSERT_TRUE(dead);
  EXPECT_TRUE(dead->empty());
  testing::wait_until(testing::deadline_after(), [&] {
    state = storage::delivery_of(*store_, all[10].id);
    return state && state->size() == 1 && (*state)[0].state == storage::DeliveryStateKind::kDelivered;
  });
  ASSERT_TRUE(state && state->size() == 1);
  EXPECT_EQ((*state)[0].state, storage::DeliveryStateKind::kDelivered);
}

// ---- CEF into a real syslog-ng ----

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Splits a CEF record into its 7 header fields and its extension's key -> unescaped value.
bool parse_cef(const std::string& line, std::vector<std::string>* header, std::map<std::string, std::string>* ext) {
  std::size_t pos = line.find("CEF:");
  if (pos == std::string::npos) return false;
  std::string field;
  std::size_t i = pos;
  for (; i < line.size() && header->size() < 7; ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) field.push_back(line[++i]);
    else if (line[i] == '|') header->push_back(field), field.clear();
    else field.push_back(line[i]);
  }
  // Extension: key=value pairs; a value runs until the next " key=".
  std::string rest = line.substr(i), key, value;
  std::size_t k = 0;
  auto flush = [&] {
    if (!key.empty()) (*ext)[key] = value;
    key.clear();
    value.clear();
  };
  while (k < rest.size()) {
    std::size_t eq = rest.find('=', k);
    std::size_t next = k;
    // Find the unescaped '=' ending the key.
    while (eq != std::string::npos && eq > 0 && rest[eq - 1] == '\\') eq = rest.find('=', eq + 1);
    if (eq == std::string::npos) break;
    key = rest.substr(next, eq - next);
    std::size_t v = eq + 1;
    std::string raw;
    for (; v < rest.size(); ++v) {
      if (rest[v] == '\\' && v + 1 < rest.size()) {
        char c = rest[++v];
        raw.push_back(c == 'n' ? '\n' : c == 'r' ? '\r' : c);
        continue;
      }
      if (rest[v] == ' ') {
        std::size_t e2 = rest.find('=', v + 1);
        std::size_t sp = rest.find(' ', v + 1);
        if (e2 != std::string::npos && (sp == std::string::npos || e2 < sp) && rest[e2 - 1] != '\\') break;
      }
      raw.push_back(rest[v]);
    }
    value = raw;
    flush();
    k = v + 1;
  }
  return header->size() == 7;
}

TEST_F(ForwardTest, CefReachesARealSyslogNgFieldByField) {
  if (std::system("command -v syslog-ng >/dev/null 2>&1") != 0) GTEST_SKIP() << "syslog-ng not installed";
  const std::uint16_t port = free_port();
  const fs::path out = dir_ / "cef.log";
  std::ofstream(dir_ / "syslog-ng.conf")
      << "@version: 3.38\n"
         "options { stats-freq(0); use-dns(no); dns-cache(no); keep-hostname(yes); mark-freq(0); };\n"
         "source s_in { syslog(ip(\"127.0.0.1\") port(" << port << ") transport(\"tcp\") max-connections(4)); };\n"
         "destination d_out { file(\"" << out.string() << "\" template(\"${HOST}\\t${PROGRAM}\\t${MSGID}\\t${MESSAGE}\\n\")); };\n"
         "log { source(s_in); destination(d_out); flags(flow-control); };\n";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execlp("syslog-ng", "syslog-ng", "-F", "-f", (dir_ / "syslog-ng.conf").c_str(), "-p", (dir_ / "pid").c_str(),
             "-c", (dir_ / "ctl").c_str(), "-R", (dir_ / "persist").c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  struct Reap {
    pid_t pid;
    ~Reap() {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  } reap{pid};

  forward::DestinationConfig d;
  d.name = "siem";
  d.kind = forward::DestinationKind::kCef;
  d.host = "127.0.0.1";
  d.port = port;
  d.hostname = "vigil-province-a";
  d.filter.tag_globs = {"attack.*"};
  d.retry.initial = 50ms;
  d.retry.max = 200ms;
  start({d});  // syslog-ng may still be starting: the sender retries until it listens
  std::vector<Alert> all = commit(0, 20);
  std::vector<const Alert*> qualifying;
  for (const Alert& a : all)
    if (d.filter.matches(a)) qualifying.push_back(&a);
  std::vector<std::string> lines;
  wait_until(deadline_after(), [&] {
    std::ifstream in(out);
    lines.clear();
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines.size() >= qualifying.size();
  });
  ASSERT_EQ(lines.size(), qualifying.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const Alert& a = *qualifying[i];
    std::istringstream parts(lines[i]);
    std::string host, program, msgid, message;
    std::getline(parts, host, '\t');
    std::getline(parts, program, '\t');
    std::getline(parts, msgid, '\t');
    std::getline(parts, message);
    EXPECT_EQ(host, "vigil-province-a");
    EXPECT_EQ(program, "vigil");
    EXPECT_EQ(msgid, "alert");
    std::vector<std::string> h;
    std::map<std::string, std::string> ext;
    ASSERT_TRUE(parse_cef(message, &h, &ext)) << message;
    EXPECT_EQ(h[0], "CEF:0");
    EXPECT_EQ(h[1], "vigil");
    EXPECT_EQ(h[4], a.rule_id);
    EXPECT_EQ(h[5], a.rule_title);
    EXPECT_EQ(h[6], std::to_string(forward::cef_severity(a.level)));
    EXPECT_EQ(ext["externalId"], a.id);
    EXPECT_EQ(ext["rt"], std::to_string(a.created_unix_ns / 1000000));
    EXPECT_EQ(ext["cat"], to_string(a.level));
    EXPECT_EQ(ext["dhost"], a.host);
    EXPECT_EQ(ext["dvchost"], a.peer);
    EXPECT_EQ(ext["cs1"], a.tenant);
    EXPECT_EQ(ext["cs2"], a.system);
    EXPECT_EQ(ext["cs3"], "attack.t1110,attack.credential_access");
    EXPECT_EQ(ext["cs6Label"], "attackTechniques");
    EXPECT_EQ(ext["cs6"], "T1110");
    EXPECT_EQ(ext["cs4"], "CommandLine:a=b \\ c");
    EXPECT_EQ(ext["msg"], a.raw);
  }
}

}  // namespace
}  // namespace vigil::testing
