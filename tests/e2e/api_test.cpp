// The analyst REST API over HTTP against the real daemon (tests/support/daemon.h): every
// endpoint, filters and paging, roles, tenant scope, malformed input, random input, grouping,
// and `vigil alerts` over the API and on a stopped daemon's data directory.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/support/daemon.h"

namespace vigil::testing {
namespace {

using namespace std::chrono_literals;

fs::path MakeTempDir(const std::string& name) {
  std::string templ = (fs::temp_directory_path() / (name + "-XXXXXX")).string();
  if (!::mkdtemp(templ.data())) return {};
  return templ;
}

std::string config(const std::string& extra = "") {
  return "data_dir: data\n"
         "rules: ['@bundled']\n"
         "metrics: {enabled: false}\n"
         "http: {listen: '127.0.0.1:0'}\n"
         "pipeline: {batch_max_delay_ms: 5}\n" +
         extra + "collectors:\n  - {name: in, type: http}\n";
}

std::string ssh_failure(const std::string& host, int n) {
  return "<38>Nov 26 01:02:03 " + host + " sshd[" + std::to_string(100 + n) +
         "]: Failed password for root from 10.0.0." + std::to_string(n) + " port 22 ssh2\n";
}

struct Json {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  bool ok = false;
  explicit Json(const std::string& text) { ok = parser.parse(text).get(doc) == simdjson::SUCCESS; }
};

std::string str(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get_string().get(v) != simdjson::SUCCESS) return "<missing " + std::string(key) + ">";
  return std::string(v);
}
std::int64_t num(simdjson::dom::element e, const char* key) {
  std::int64_t v = -1;
  if (e[key].get_int64().get(v) != simdjson::SUCCESS) return -1;
  return v;
}

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(MakeTempDir("vigil-api-test"));
    daemon_ = new Daemon(*dir_, config());
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
    port_ = daemon_->port("http");
    admin_ = Slurp(*dir_ / "data" / "admin.token");
    while (!admin_.empty() && admin_.back() == '\n') admin_.pop_back();
    // 5 alerts for tenant-a (hosts web01 x3, web02 x2), 3 for tenant-b (db01).
    std::string a, b;
    for (int i = 0; i < 5; ++i) a += ssh_failure(i < 3 ? "web01" : "web02", i);
    for (int i = 0; i < 3; ++i) b += ssh_failure("db01", 10 + i);
    ASSERT_EQ(http_request(port_, "POST", "/ingest?tenant=tenant-a", a).status, 200);
    ASSERT_EQ(http_request(port_, "POST", "/ingest?tenant=tenant-b", b).status, 200);
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(daemon_->stop(), 0);
    delete daemon_;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static HttpReply call(const std::string& method, const std::string& target, const std::string& token,
                        const std::string& body = "") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    return http_request(port_, method, target, body, headers);
  }
  static std::string make_token(const std::string& name, const std::string& role, const std::string& tenant) {
    HttpReply r = call("POST", "/api/v1/tokens", admin_,
                       R"({"name":")" + name + R"(","role":")" + role + R"(","tenant":")" + tenant + R"("})");
    EXPECT_EQ(r.status, 200) << r.body;
    Json j(r.body);
    return j.ok ? str(j.doc, "token") : "";
  }
  // Every alert id a list query returns, following next_cursor.
  static std::vector<std::string> all_ids(const std::string& query, const std::string& token, int* pages = nullptr) {
    std::vector<std::string> ids;
    std::string cursor;
    for (int page = 0; page < 100; ++page) {
      HttpReply r = call("GET", "/api/v1/alerts?" + query + (cursor.empty() ? "" : "&cursor=" + cursor), token);
      EXPECT_EQ(r.status, 200) << r.body;
      Json j(r.body);
      if (!j.ok) break;
      for (simdjson::dom::element a : j.doc["alerts"].get_array()) ids.push_back(str(a, "id"));
      if (pages) *pages = page + 1;
      cursor = str(j.doc, "next_cursor");
      if (cursor.empty()) break;
    }
    return ids;
  }

  static fs::path* dir_;
  static Daemon* daemon_;
  static std::uint16_t port_;
  static std::string admin_;
};
fs::path* ApiTest::dir_ = nullptr;
Daemon* ApiTest::daemon_ = nullptr;
std::uint16_t ApiTest::port_ = 0;
std::string ApiTest::admin_;

TEST_F(ApiTest, FirstStartCreatesAnAdminTokenShownOnceAndStoredWithMode0600) {
  EXPECT_EQ(admin_.rfind("vgl_", 0), 0u);
  struct stat st {};
  ASSERT_EQ(::stat((*dir_ / "data" / "admin.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(daemon_->log().find("vigil: admin token (shown once): " + admin_), std::string::npos);
  HttpReply who = call("GET", "/api/v1/whoami", admin_);
  EXPECT_EQ(who.status, 200);
  EXPECT_EQ(who.body, R"({"name":"admin","role":"admin","tenant":"*"})");
}

// Security finding (high): a tenant-scoped admin minted an all-tenant admin (no tenant in the
// request meant "*"), and with it read other tenants' alerts and the dead letters. A token can
// never create one with more rights or a wider scope than its own.
TEST_F(ApiTest, ATokenNeverCreatesOneWithMoreRightsOrAWiderScope) {
  const std::string admin_a = make_token("admin-alpha", "admin", "alpha");
  const std::string analyst_a = make_token("analyst-alpha", "analyst", "alpha");
  // No tenant given: the new token gets the creator's tenant, not every tenant.
  HttpReply minted = call("POST", "/api/v1/tokens", admin_a, R"({"name":"alpha-viewer","role":"viewer"})");
  ASSERT_EQ(minted.status, 200) << minted.body;
  EXPECT_NE(minted.head.find("Cache-Control: no-store"), std::string::npos) << "a new token's answer must not be cached";
  Json m(minted.body);
  ASSERT_TRUE(m.ok);
  HttpReply who = call("GET", "/api/v1/whoami", str(m.doc, "token"));
  EXPECT_EQ(who.body, R"({"name":"alpha-viewer","role":"viewer","tenant":"alpha"})");
  // A wider scope or another tenant: refused.
  EXPECT_EQ(call("POST", "/api/v1/tokens", admin_a, R"({"name":"x1","role":"admin","tenant":"*"})").status, 403);
  EXPECT_EQ(call("POST", "/api/v1/tokens", admin_a, R"({"name":"x2","role":"viewer","tenant":"beta"})").status, 403);
  EXPECT_EQ(call("POST", "/api/v1/tokens", admin_a, R"({"name":"x3","role":"admin"})").status, 200);
  // More rights than the creator's: refused (only admins reach the route at all).
  EXPECT_EQ(call("POST", "/api/v1/tokens", analyst_a, R"({"name":"x4","role":"viewer"})").status, 403);
  // A tenant-scoped admin sees its tenant's tokens only, and not the all-tenant audit log.
  HttpReply list = call("GET", "/api/v1/tokens", admin_a);
  ASSERT_EQ(list.status, 200);
  EXPECT_NE(list.body.find("\"alpha-viewer\""), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find("\"tenant\":\"*\""), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find("\"tenant\":\"tenant-a\""), std::string::npos) << list.body;
  EXPECT_EQ(call("GET", "/api/v1/audit", admin_a).status, 403);
  // The all-tenant admin still creates tokens of any scope.
  EXPECT_EQ(call("POST", "/api/v1/tokens", admin_, R"({"name":"x5","role":"admin","tenant":"*"})").status, 200);
}

// Security finding (medium): tokens could not be revoked and never expired. Revoked tokens stop
// at once; expired ones answer "token expired"; the list shows expiry and last use, never secrets.
TEST_F(ApiTest, TokensAreRevokedExpireAndShowTheirLastUse) {
  const std::string gone = make_token("to-revoke", "viewer", "tenant-a");
  ASSERT_EQ(call("GET", "/api/v1/whoami", gone).status, 200);
  HttpReply listed = call("GET", "/api/v1/tokens", admin_);
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.body.find("vgl_"), std::string::npos) << "secrets are never listed";
  Json l(listed.body);
  ASSERT_TRUE(l.ok);
  bool found = false;
  for (simdjson::dom::element t : l.doc["tokens"].get_array()) {
    if (str(t, "name") != "to-revoke") continue;
    found = true;
    EXPECT_NE(str(t, "last_used").find('T'), std::string::npos) << "used once already: " << listed.body;
    EXPECT_TRUE(t["expires"].is_null()) << listed.body;
  }
  EXPECT_TRUE(found) << listed.body;
  // A tenant's admin cannot reach another tenant's token, nor an all-tenant one.
  const std::string admin_b = make_token("admin-b-revoker", "admin", "tenant-b");
  EXPECT_EQ(call("DELETE", "/api/v1/tokens/to-revoke", admin_b).status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/tokens/admin", admin_b).status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/tokens/to-revoke", make_token("analyst-revoker", "analyst", "*")).status, 403);
  HttpReply revoked = call("DELETE", "/api/v1/tokens/to-revoke", admin_);
  EXPECT_EQ(revoked.status, 200) << revoked.body;
  HttpReply after = call("GET", "/api/v1/whoami", gone);
  EXPECT_EQ(after.status, 401);
  EXPECT_NE(after.body.find("unknown token"), std::string::npos) << after.body;
  EXPECT_EQ(call("DELETE", "/api/v1/tokens/to-revoke", admin_).status, 404);
  HttpReply audit = call("GET", "/api/v1/audit?limit=20", admin_);
  EXPECT_NE(audit.body.find(R"("action":"token.revoke","target":"to-revoke")"), std::string::npos) << audit.body;

  // Expiry: in the past is refused; a token given 2 s stops working by itself.
  EXPECT_EQ(call("POST", "/api/v1/tokens", admin_, R"({"name":"old","role":"viewer","expires":"2020-01-01T00:00:00Z"})").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/tokens", admin_, R"({"name":"n","role":"viewer","expires_in_days":0})").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/tokens", admin_, R"({"name":"n","role":"viewer","expiry":"1d"})").status, 400);
  HttpReply yearly = call("POST", "/api/v1/tokens", admin_, R"({"name":"yearly","role":"viewer","expires_in_days":365})");
  ASSERT_EQ(yearly.status, 200) << yearly.body;
  const auto soon = std::chrono::system_clock::now() + 2s;
  const std::time_t t = std::chrono::system_clock::to_time_t(soon);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  HttpReply brief = call("POST", "/api/v1/tokens", admin_,
                         std::string(R"({"name":"brief","role":"viewer","expires":")") + when + R"("})");
  ASSERT_EQ(brief.status, 200) << brief.body;
  Json b(brief.body);
  ASSERT_TRUE(b.ok);
  const std::string brief_token = str(b.doc, "token");
  HttpReply expired;
  ASSERT_TRUE(wait_until(deadline_after(20s), [&] {
    expired = call("GET", "/api/v1/whoami", brief_token);
    return expired.status == 401;
  })) << expired.status << " " << expired.body;
  EXPECT_NE(expired.body.find("token expired"), std::string::npos) << expired.body;
  EXPECT_NE(call("GET", "/api/v1/tokens", admin_).body.find(R"("name":"yearly","role":"viewer","tenant":"*")"),
            std::string::npos);
}

TEST_F(ApiTest, HealthAndOpenApiNeedNoToken) {
  HttpReply h = call("GET", "/api/v1/health", "");
  ASSERT_EQ(h.status, 200);
  Json j(h.body);
  ASSERT_TRUE(j.ok);
  EXPECT_EQ(str(j.doc, "status"), "ok");
  EXPECT_EQ(num(j.doc, "alerts"), 8);
  HttpReply o = call("GET", "/api/v1/openapi.json", "");
  ASSERT_EQ(o.status, 200);
  Json doc(o.body);
  ASSERT_TRUE(doc.ok) << "the OpenAPI document is not JSON";
  for (const char* path : {"/health", "/whoami", "/alerts", "/alerts/{id}", "/alerts/{id}/status", "/alerts/{id}/assign",
                           "/alerts/{id}/notes", "/alerts/bulk", "/stats", "/rules", "/ingest", "/rules/test",
                           "/rules/coverage", "/tokens", "/audit", "/openapi.json"}) {
    simdjson::dom::element e;
    EXPECT_EQ(doc.doc["paths"][path].get(e), simdjson::SUCCESS) << path;
  }
}

TEST_F(ApiTest, ListFiltersAndPaging) {
  EXPECT_EQ(all_ids("limit=50", admin_).size(), 8u);
  EXPECT_EQ(all_ids("tenant=tenant-a", admin_).size(), 5u);
  EXPECT_EQ(all_ids("tenant=tenant-b", admin_).size(), 3u);
  EXPECT_EQ(all_ids("host=web02", admin_).size(), 2u);
  EXPECT_EQ(all_ids("q=10.0.0.11%20port", admin_).size(), 1u);
  // The rule (Failed Login as root) is low since the false-positive review of the packs.
  EXPECT_EQ(all_ids("min_level=low", admin_).size(), 8u);
  EXPECT_EQ(all_ids("min_level=medium", admin_).size(), 0u);
  EXPECT_EQ(all_ids("rule=d5ccd577-2d7a-4947-84b3-d3e50b3350bf", admin_).size(), 8u);
  EXPECT_EQ(all_ids("rule=no-such-rule", admin_).size(), 0u);
  // ATT&CK: the rule is tagged attack.t1110.001 and attack.credential-access; a parent finds it.
  EXPECT_EQ(all_ids("technique=T1110", admin_).size(), 8u);
  EXPECT_EQ(all_ids("technique=t1110.001&tactic=credential_access", admin_).size(), 8u);
  EXPECT_EQ(all_ids("technique=T1110.002", admin_).size(), 0u);
  EXPECT_EQ(all_ids("tactic=stealth", admin_).size(), 0u);
  EXPECT_EQ(all_ids("from=2000-01-01T00:00:00Z&to=2999-01-01T00:00:00%2B07:00", admin_).size(), 8u);
  EXPECT_EQ(all_ids("to=946684800000", admin_).size(), 0u);  // unix ms: before 2000
  // Paging: 3 per page gives every alert once, newest first; oldest first is the reverse.
  int pages = 0;
  std::vector<std::string> paged = all_ids("limit=3", admin_, &pages);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(paged, all_ids("limit=1000", admin_));
  EXPECT_EQ(std::set<std::string>(paged.begin(), paged.end()).size(), 8u);
  EXPECT_TRUE(std::is_sorted(paged.rbegin(), paged.rend()));
  std::vector<std::string> oldest = all_ids("limit=2&order=oldest", admin_);
  EXPECT_EQ(oldest, std::vector<std::string>(paged.rbegin(), paged.rend()));
  // Bad parameters say which.
  for (const char* q : {"limit=0", "limit=1001", "limit=x", "min_level=huge", "status=done", "from=yesterday",
                        "order=up", "cursor=zz", "bogus=1", "technique=1110", "tactic=hiding"}) {
    HttpReply r = call("GET", std::string("/api/v1/alerts?") + q, admin_);
    EXPECT_EQ(r.status, 400) << q << ": " << r.body;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos);
  }
}

TEST_F(ApiTest, RolesAndTenantScope) {
  const std::string viewer_a = make_token("viewer-a", "viewer", "tenant-a");
  const std::string analyst_a = make_token("analyst-a", "analyst", "tenant-a");
  EXPECT_EQ(call("GET", "/api/v1/alerts", "").status, 401);
  EXPECT_EQ(call("GET", "/api/v1/alerts", "vgl_0000").status, 401);
  EXPECT_EQ(call("GET", "/api/v1/whoami", "").status, 401);
  // A tenant's token sees its tenant only; another tenant's alert does not exist for it.
  EXPECT_EQ(all_ids("", viewer_a).size(), 5u);
  EXPECT_EQ(all_ids("tenant=tenant-b", viewer_a).size(), 0u);
  std::string b_alert = all_ids("tenant=tenant-b", admin_).front();
  std::string a_alert = all_ids("tenant=tenant-a", admin_).front();
  EXPECT_EQ(call("GET", "/api/v1/alerts/" + b_alert, viewer_a).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/alerts/" + a_alert, viewer_a).status, 200);
  EXPECT_EQ(call("POST", "/api/v1/alerts/" + b_alert + "/notes", analyst_a, R"({"note":"x"})").status, 404);
  // Roles: viewers read, analysts change alerts, admins manage tokens and read the audit log.
  EXPECT_EQ(call("POST", "/api/v1/alerts/" + a_alert + "/notes", viewer_a, R"({"note":"x"})").status, 403);
  EXPECT_EQ(call("POST", "/api/v1/alerts/bulk", viewer_a, R"({"ids":[],"note":"x"})").status, 403);
  EXPECT_EQ(call("POST", "/api/v1/rules/test", viewer_a, R"({"rule":"x"})").status, 403);
  // Coverage is for every role: the console shows viewers what the rules detect.
  HttpReply coverage = call("GET", "/api/v1/rules/coverage", viewer_a);
  ASSERT_EQ(coverage.status, 200) << coverage.body;
  Json cov(coverage.body);
  ASSERT_TRUE(cov.ok) << coverage.body;
  EXPECT_GT(num(cov.doc, "rules"), 100);
  simdjson::dom::array tactics;
  ASSERT_EQ(cov.doc["tactics"].get(tactics), simdjson::SUCCESS);
  EXPECT_EQ(tactics.size(), 16u);  // both ATT&CK revisions: stealth, defense-impairment too
  EXPECT_EQ(call("POST", "/api/v1/rules/coverage", viewer_a, "{}").status, 405);
  EXPECT_EQ(call("GET", "/api/v1/tokens", analyst_a).status, 403);
  EXPECT_EQ(call("POST", "/api/v1/tokens", analyst_a, R"({"name":"x","role":"admin"})").status, 403);
  EXPECT_EQ(call("GET", "/api/v1/audit", analyst_a).status, 403);
  HttpReply tokens = call("GET", "/api/v1/tokens", admin_);
  ASSERT_EQ(tokens.status, 200);
  EXPECT_NE(tokens.body.find(R"({"name":"viewer-a","role":"viewer","tenant":"tenant-a")"), std::string::npos);
  EXPECT_EQ(tokens.body.find("vgl_"), std::string::npos) << "tokens are never shown again";
  EXPECT_EQ(call("POST", "/api/v1/tokens", admin_, R"({"name":"viewer-a","role":"viewer"})").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/tokens", admin_, R"({"name":"y","role":"root"})").status, 400);
  // Statistics of a tenant's token count its tenant only.
  Json stats(call("GET", "/api/v1/stats", viewer_a).body);
  ASSERT_TRUE(stats.ok);
  EXPECT_EQ(num(stats.doc["by_tenant"], "tenant-a"), 5);
  EXPECT_EQ(num(stats.doc["by_tenant"], "tenant-b"), -1);
}

TEST_F(ApiTest, LifecycleEvidenceHistoryAndAudit) {
  const std::string analyst = make_token("analyst-all", "analyst", "*");
  const std::string id = all_ids("host=web02", admin_).front();
  // Evidence: raw event, spans that point at the matched values, the rule's YAML.
  HttpReply one = call("GET", "/api/v1/alerts/" + id, analyst);
  ASSERT_EQ(one.status, 200) << one.body;
  {
    Json j(one.body);
    ASSERT_TRUE(j.ok);
    EXPECT_EQ(str(j.doc["alert"], "id"), id);
    const std::string raw = str(j.doc["evidence"], "raw");
    int spans = 0;
    for (simdjson::dom::element s : j.doc["evidence"]["spans"].get_array()) {
      ++spans;
      EXPECT_EQ(raw.substr(num(s, "start"), num(s, "end") - num(s, "start")), str(s, "value"));
    }
    EXPECT_GE(spans, 1);
    EXPECT_NE(str(j.doc, "rule_source").find("title: Failed Login as root"), std::string::npos);
    EXPECT_EQ(j.doc["history"].get_array().size(), 0u);
  }
  EXPECT_EQ(call("GET", "/api/v1/alerts/00000000000000000000000000000000", analyst).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/alerts/not-an-id", analyst).status, 404);

  // Close as false positive with a note: one status and one note history entry, by the token.
  HttpReply closed = call("POST", "/api/v1/alerts/" + id + "/status", analyst,
                          R"({"status":"closed","resolution":"false_positive","note":"scanner"})");
  ASSERT_EQ(closed.status, 200) << closed.body;
  EXPECT_NE(closed.body.find(R"("status":"closed","resolution":"false_positive")"), std::string::npos);
  EXPECT_EQ(call("POST", "/api/v1/alerts/" + id + "/status", analyst, R"({"status":"closed"})").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/alerts/" + id + "/status", analyst, R"({"status":"acknowledged","resolution":"benign"})").status, 400);
  HttpReply assigned = call("POST", "/api/v1/alerts/" + id + "/assign", analyst, R"({"assignee":"lan"})");
  ASSERT_EQ(assigned.status, 200);
  EXPECT_NE(assigned.body.find(R"("assignee":"lan")"), std::string::npos);
  ASSERT_EQ(call("POST", "/api/v1/alerts/" + id + "/notes", analyst, R"({"note":"checked with the owner"})").status, 200);
  {
    Json j(call("GET", "/api/v1/alerts/" + id, analyst).body);
    ASSERT_TRUE(j.ok);
    std::vector<std::string> history;
    for (simdjson::dom::element h : j.doc["history"].get_array())
      history.push_back(str(h, "actor") + " " + str(h, "action") + " " + str(h, "detail"));
    EXPECT_EQ(history, (std::vector<std::string>{"analyst-all status new -> closed (false_positive)",
                                                  "analyst-all note scanner", "analyst-all assign lan",
                                                  "analyst-all note checked with the owner"}));
  }
  EXPECT_EQ(all_ids("status=closed", admin_), std::vector<std::string>{id});

  // Bulk: every good id changes, a bad one is reported.
  std::vector<std::string> web01 = all_ids("host=web01", admin_);
  ASSERT_EQ(web01.size(), 3u);
  HttpReply bulk = call("POST", "/api/v1/alerts/bulk", analyst,
                        R"({"ids":[")" + web01[0] + R"(",")" + web01[1] + R"(","ffff"],"status":"acknowledged","assignee":"minh"})");
  ASSERT_EQ(bulk.status, 200) << bulk.body;
  Json b(bulk.body);
  ASSERT_TRUE(b.ok);
  EXPECT_EQ(num(b.doc, "updated"), 2);
  EXPECT_EQ(b.doc["errors"].get_array().size(), 1u);
  EXPECT_EQ(all_ids("status=acknowledged", admin_).size(), 2u);

  // Statistics follow the status changes.
  Json stats(call("GET", "/api/v1/stats?bucket=1h", admin_).body);
  ASSERT_TRUE(stats.ok);
  EXPECT_EQ(num(stats.doc["by_level"], "low"), 8);
  EXPECT_EQ(num(stats.doc["by_status"], "closed"), 1);
  EXPECT_EQ(num(stats.doc["by_status"], "acknowledged"), 2);
  EXPECT_EQ(num(stats.doc["by_status"], "new"), 5);
  EXPECT_EQ(num(stats.doc["by_tenant"], "tenant-b"), 3);
  EXPECT_EQ(stats.doc["buckets"].get_array().size(), 25u);  // 24 h of hourly buckets, rounded out
  simdjson::dom::element top = stats.doc["top_hosts"].get_array().at(0);
  EXPECT_EQ(str(top, "host"), "db01");  // 3 alerts, as web01: ties go by name
  EXPECT_EQ(num(top, "count"), 3);
  EXPECT_EQ(str(stats.doc["top_hosts"].get_array().at(2), "host"), "web02");
  EXPECT_EQ(num(stats.doc["top_rules"].get_array().at(0), "count"), 8);
  Json minutes(call("GET", "/api/v1/stats?bucket=1m&from=" + std::to_string(time(nullptr) * 1000 - 600000), admin_).body);
  ASSERT_TRUE(minutes.ok);
  std::int64_t in_buckets = 0;
  for (simdjson::dom::element bucket : minutes.doc["buckets"].get_array()) in_buckets += std::max<std::int64_t>(0, num(bucket["by_level"], "low"));
  EXPECT_EQ(in_buckets, 8);
  EXPECT_EQ(call("GET", "/api/v1/stats?bucket=1w", admin_).status, 400);

  // Audit: every change, newest first, paged.
  HttpReply audit = call("GET", "/api/v1/audit?limit=3", admin_);
  ASSERT_EQ(audit.status, 200);
  Json a(audit.body);
  ASSERT_TRUE(a.ok);
  EXPECT_EQ(a.doc["entries"].get_array().size(), 3u);
  EXPECT_FALSE(str(a.doc, "next_cursor").empty());
  std::string all_audit;
  std::string cursor;
  for (int i = 0; i < 50; ++i) {
    Json page(call("GET", "/api/v1/audit?limit=5" + (cursor.empty() ? "" : "&cursor=" + cursor), admin_).body);
    for (simdjson::dom::element e : page.doc["entries"].get_array())
      all_audit += str(e, "actor") + "|" + str(e, "action") + "|" + str(e, "target") + "|" + str(e, "detail") + "\n";
    cursor = str(page.doc, "next_cursor");
    if (cursor.empty()) break;
  }
  EXPECT_NE(all_audit.find("analyst-all|status|" + id + "|new -> closed (false_positive)"), std::string::npos) << all_audit;
  EXPECT_NE(all_audit.find("analyst-all|assign|" + web01[0] + "|minh"), std::string::npos);
  EXPECT_NE(all_audit.find("admin|token.create|analyst-all|"), std::string::npos);
}

TEST_F(ApiTest, RulesIngestAndRuleTester) {
  HttpReply rules = call("GET", "/api/v1/rules", admin_);
  ASSERT_EQ(rules.status, 200);
  Json r(rules.body);
  ASSERT_TRUE(r.ok);
  std::int64_t ssh_matches = -1;
  std::size_t n = 0;
  for (simdjson::dom::element rule : r.doc["rules"].get_array()) {
    ++n;
    if (str(rule, "id") == "d5ccd577-2d7a-4947-84b3-d3e50b3350bf") ssh_matches = num(rule, "matches");
  }
  EXPECT_GT(n, 10u);
  EXPECT_EQ(ssh_matches, 8);
  // Security finding (low): the totals span tenants; a tenant's token does not get them.
  HttpReply scoped = call("GET", "/api/v1/rules", make_token("rules-viewer-a", "viewer", "tenant-a"));
  ASSERT_EQ(scoped.status, 200);
  EXPECT_EQ(scoped.body.find("\"matches\":8"), std::string::npos);
  EXPECT_NE(scoped.body.find("\"matches\":null"), std::string::npos);

  Json ingest(call("GET", "/api/v1/ingest", admin_).body);
  ASSERT_TRUE(ingest.ok);
  simdjson::dom::element c = ingest.doc["collectors"].get_array().at(0);
  EXPECT_EQ(str(c, "name"), "in");
  EXPECT_EQ(str(c, "kind"), "http");
  EXPECT_EQ(num(c, "received"), 8);

  const std::string rule =
      "title: Test\\nid: 11111111-2222-3333-4444-555555555555\\nlevel: high\\nlogsource: {product: linux, service: sshd}\\n"
      "detection:\\n  sel:\\n    message|contains: 'Failed password'\\n  condition: sel\\n";
  HttpReply t = call("POST", "/api/v1/rules/test", admin_,
                     R"({"rule":")" + rule + R"(","logs":"<38>Nov 26 01:02:03 h sshd[1]: Failed password for x\nhello\n","format":"auto"})");
  ASSERT_EQ(t.status, 200) << t.body;
  Json tj(t.body);
  ASSERT_TRUE(tj.ok) << t.body;
  EXPECT_EQ(tj.doc["errors"].get_array().size(), 0u) << t.body;
  simdjson::dom::array results = tj.doc["results"].get_array();
  ASSERT_EQ(results.size(), 2u) << t.body;
  bool first_matched = false, second_matched = true;
  ASSERT_EQ(results.at(0)["matched"].get(first_matched), simdjson::SUCCESS);
  ASSERT_EQ(results.at(1)["matched"].get(second_matched), simdjson::SUCCESS);
  EXPECT_TRUE(first_matched);
  EXPECT_FALSE(second_matched);
  simdjson::dom::element span = results.at(0)["spans"].get_array().at(0);
  EXPECT_EQ(str(results.at(0), "raw").substr(num(span, "start"), num(span, "end") - num(span, "start")), str(span, "value"));
  Json bad(call("POST", "/api/v1/rules/test", admin_, R"({"rule":"title: [unclosed","logs":"x"})").body);
  ASSERT_TRUE(bad.ok);
  EXPECT_GE(bad.doc["errors"].get_array().size(), 1u);
}

TEST_F(ApiTest, MalformedJsonGets400WithAMessage) {
  const std::string id = all_ids("tenant=tenant-b", admin_).front();
  for (const char* body : {"", "{", "nul", "[1,2]", "{\"status\":5}", "{\"note\":\"x\"", "\xff\xfe"}) {
    HttpReply r = call("POST", "/api/v1/alerts/" + id + "/notes", admin_, body);
    EXPECT_EQ(r.status, 400) << body;
    Json j(r.body);
    ASSERT_TRUE(j.ok) << r.body;
    EXPECT_FALSE(str(j.doc, "error").empty());
  }
  EXPECT_EQ(call("POST", "/api/v1/alerts/bulk", admin_, R"({"ids":"x","note":"y"})").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/tokens", admin_, "{]").status, 400);
}

TEST_F(ApiTest, RandomQueryStringsAndBodiesNeverCrashTheDaemon) {
  std::mt19937 rng(20261126);
  const std::vector<std::string> paths = {"/api/v1/alerts", "/api/v1/alerts/bulk", "/api/v1/stats", "/api/v1/audit",
                                          "/api/v1/tokens", "/api/v1/rules/test", "/api/v1/alerts/" + all_ids("", admin_).front() + "/status",
                                          "/api/v1/alerts/x/assign", "/api/v1/alerts/%00/notes", "/api/v1/whoami"};
  const std::vector<std::string> names = {"from", "to", "limit", "cursor", "min_level", "status", "tenant", "q", "order", "bucket", "x"};
  const std::string alphabet = "abcz019-_.:%+&=?/\\\"{}[],\x01\x7f\xc3\xff ";
  auto random_text = [&](std::size_t max) {
    std::string s;
    std::size_t n = rng() % max;
    for (std::size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
    return s;
  };
  const std::vector<std::string> bodies = {R"({"status":"closed","resolution":"benign"})", R"({"ids":[1,{},null],"note":"n"})",
                                           R"({"rule":"detection: {x: 1}","logs":"a\nb"})", R"({"name":"n","role":"viewer","tenant":""})"};
  int answered = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string target = paths[rng() % paths.size()] + "?";
    for (int k = 0, n = static_cast<int>(rng() % 4); k < n; ++k) {
      std::string value = random_text(12);
      for (char& ch : value)
        if (ch == ' ' || ch == '\x01' || ch == '\x7f' || static_cast<unsigned char>(ch) >= 0x80) ch = '+';
      target += names[rng() % names.size()] + "=" + value + "&";
    }
    std::string body = rng() % 3 == 0 ? bodies[rng() % bodies.size()] : random_text(200);
    if (rng() % 5 == 0 && body.size() > 2) body[rng() % body.size()] = '\0';
    HttpReply r = call(rng() % 2 ? "POST" : "GET", target, admin_, body);
    if (r.status >= 200 && r.status < 500) ++answered;
    else ADD_FAILURE() << "status " << r.status << " for " << target << " body " << body << ": " << r.body;
  }
  EXPECT_EQ(answered, 3000);
  EXPECT_EQ(call("GET", "/api/v1/health", "").status, 200);
}

// Repeats of one rule on one host within the window raise the count of one open alert, also
// across a restart (the open groups are rebuilt from the store); closing ends the group.
TEST(ApiGroupingTest, RepeatsRaiseTheCountOfOneOpenAlert) {
  fs::path dir = MakeTempDir("vigil-api-grouping");
  Daemon d(dir, config("api: {grouping: {window: 10m, by: [host]}}\n"));
  ASSERT_TRUE(d.start()) << d.log();
  std::uint16_t port = d.port("http");
  std::string token = Slurp(dir / "data" / "admin.token");
  token.pop_back();
  std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", "Bearer " + token}};
  std::string lines;
  for (int i = 0; i < 4; ++i) lines += ssh_failure("web01", i);
  lines += ssh_failure("web09", 9);
  ASSERT_EQ(http_request(port, "POST", "/ingest?tenant=t", lines).status, 200);
  ASSERT_EQ(http_request(port, "POST", "/ingest?tenant=t", ssh_failure("web01", 5)).status, 200);
  auto list = [&] {
    Json j(http_request(port, "GET", "/api/v1/alerts?order=oldest", "", auth).body);
    std::vector<std::string> out;
    if (j.ok)
      for (simdjson::dom::element a : j.doc["alerts"].get_array())
        out.push_back(str(a, "host") + ":" + std::to_string(num(a, "count")) + ":" + str(a, "status"));
    return out;
  };
  EXPECT_EQ(list(), (std::vector<std::string>{"web01:5:new", "web09:1:new"}));
  ASSERT_EQ(d.stop(), 0);
  ASSERT_TRUE(d.start()) << d.log();
  port = d.port("http");
  ASSERT_EQ(http_request(port, "POST", "/ingest?tenant=t", ssh_failure("web01", 6)).status, 200);
  EXPECT_EQ(list(), (std::vector<std::string>{"web01:6:new", "web09:1:new"}));
  // Closing ends the group: the next repeat opens a new alert.
  Json first(http_request(port, "GET", "/api/v1/alerts?host=web01", "", auth).body);
  std::string id = str(first.doc["alerts"].get_array().at(0), "id");
  ASSERT_EQ(http_request(port, "POST", "/api/v1/alerts/" + id + "/status", R"({"status":"closed","resolution":"duplicate"})", auth).status, 200);
  ASSERT_EQ(http_request(port, "POST", "/ingest?tenant=t", ssh_failure("web01", 7)).status, 200);
  EXPECT_EQ(list(), (std::vector<std::string>{"web01:6:closed", "web09:1:new", "web01:1:new"}));
  EXPECT_EQ(d.stop(), 0);
  fs::remove_all(dir);
}

// `vigil alerts` over the API with a token, and on the data directory once the daemon stopped.
TEST(ApiCliTest, AlertsCommandOverTheApiAndOnTheDataDirectory) {
  fs::path dir = MakeTempDir("vigil-api-cli");
  Daemon d(dir, config());
  ASSERT_TRUE(d.start()) << d.log();
  const std::string url = "http://127.0.0.1:" + std::to_string(d.port("http"));
  std::string token = Slurp(dir / "data" / "admin.token");
  token.pop_back();
  ASSERT_EQ(http_request(d.port("http"), "POST", "/ingest?tenant=t", ssh_failure("web01", 1) + ssh_failure("web02", 2)).status, 200);
  const std::string api = " --url " + url + " --token " + token;
  RunResult list = RunVigil("alerts list --json" + api, dir);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  Json first(list.out.substr(0, list.out.find('\n')));
  ASSERT_TRUE(first.ok) << list.out;
  const std::string id = str(first.doc, "id");
  RunResult ack = RunVigil("alerts ack " + id + " --note first-look" + api, dir);
  ASSERT_EQ(ack.exit_code, 0) << ack.err;
  EXPECT_NE(ack.out.find("acknowledged"), std::string::npos);
  // Changes on the data directory need the daemon stopped.
  RunResult refused = RunVigil("alerts note " + id + " hi --data-dir " + (dir / "data").string(), dir);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("daemon is running"), std::string::npos) << refused.err;
  ASSERT_EQ(d.stop(), 0);
  RunResult closed = RunVigil("alerts close " + id + " -r true_positive --note confirmed --data-dir " + (dir / "data").string(), dir);
  ASSERT_EQ(closed.exit_code, 0) << closed.err;
  RunResult show = RunVigil("alerts show " + id + " --data-dir " + (dir / "data").string(), dir);
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("admin            status   new -> acknowledged"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("status   acknowledged -> closed (true_positive)"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("note     confirmed"), std::string::npos) << show.out;
  // ATT&CK filters on the data directory, as the API's (the rule is tagged attack.t1110.001): a
  // parent finds it, another technique does not, a malformed id is refused.
  const std::string data_dir = " --data-dir " + (dir / "data").string();
  RunResult by_parent = RunVigil("alerts list --json --technique T1110" + data_dir, dir);
  ASSERT_EQ(by_parent.exit_code, 0) << by_parent.err;
  EXPECT_EQ(std::count(by_parent.out.begin(), by_parent.out.end(), '\n'), 2) << by_parent.out;
  EXPECT_NE(by_parent.out.find(R"("attack":{"tactics":["credential-access")"), std::string::npos) << by_parent.out;
  RunResult other = RunVigil("alerts list --json --technique T1562.002 --tactic credential-access" + data_dir, dir);
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_EQ(other.out, "");
  EXPECT_EQ(RunVigil("alerts list --technique 1110" + data_dir, dir).exit_code, 2);
  RunResult stats = RunVigil("alerts stats --json --data-dir " + (dir / "data").string(), dir);
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_NE(stats.out.find(R"("by_status":{"closed":1,"new":1})"), std::string::npos) << stats.out;
  RunResult missing = RunVigil("alerts show 00000000000000000000000000000000 --data-dir " + (dir / "data").string(), dir);
  EXPECT_EQ(missing.exit_code, 1);
  fs::remove_all(dir);
}

// `vigil tokens`: create, list and revoke over the API, and on a stopped daemon's data
// directory (how an operator gets back in after losing every admin token).
TEST(ApiCliTest, TokensCommandOverTheApiAndOnTheDataDirectory) {
  fs::path dir = MakeTempDir("vigil-tokens-cli");
  const std::string data = " --data-dir " + (dir / "data").string();
  std::string recovered;
  {
    Daemon d(dir, config());
    ASSERT_TRUE(d.start()) << d.log();
    std::string admin = Slurp(dir / "data" / "admin.token");
    admin.pop_back();
    const std::string api = " --url http://127.0.0.1:" + std::to_string(d.port("http")) + " --token " + admin;
    RunResult created = RunVigil("tokens create ops --role analyst --tenant alpha --expires-in-days 30" + api, dir);
    ASSERT_EQ(created.exit_code, 0) << created.err;
    std::string ops = created.out.substr(0, created.out.find('\n'));
    EXPECT_EQ(ops.rfind("vgl_", 0), 0u) << created.out;
    EXPECT_EQ(http_request(d.port("http"), "GET", "/api/v1/whoami", "", {{"Authorization", "Bearer " + ops}}).body,
              R"({"name":"ops","role":"analyst","tenant":"alpha"})");
    RunResult list = RunVigil("tokens list" + api, dir);
    ASSERT_EQ(list.exit_code, 0) << list.err;
    EXPECT_NE(list.out.find("ops"), std::string::npos) << list.out;
    EXPECT_EQ(list.out.find("vgl_"), std::string::npos) << list.out;
    RunResult revoked = RunVigil("tokens revoke ops" + api, dir);
    ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
    EXPECT_EQ(http_request(d.port("http"), "GET", "/api/v1/whoami", "", {{"Authorization", "Bearer " + ops}}).status, 401);
    EXPECT_EQ(RunVigil("tokens revoke ops" + api, dir).exit_code, 1);
    // Listing works on the data directory while the daemon runs; changes do not.
    RunResult local_list = RunVigil("tokens list --json" + data, dir);
    EXPECT_EQ(local_list.exit_code, 0) << local_list.err;
    EXPECT_NE(local_list.out.find(R"("name":"admin")"), std::string::npos) << local_list.out;
    RunResult refused = RunVigil("tokens create other" + data, dir);
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_NE(refused.err.find("daemon is running"), std::string::npos) << refused.err;
    ASSERT_EQ(d.stop(), 0);
    RunResult local = RunVigil("tokens create recovery --role admin --tenant '*'" + data, dir);
    ASSERT_EQ(local.exit_code, 0) << local.err;
    recovered = local.out.substr(0, local.out.find('\n'));
  }
  Daemon again(dir, config());
  ASSERT_TRUE(again.start()) << again.log();
  const auto whoami = [&](const std::string& token) {
    return http_request(again.port("http"), "GET", "/api/v1/whoami", "", {{"Authorization", "Bearer " + token}});
  };
  EXPECT_EQ(whoami(recovered).body, R"({"name":"recovery","role":"admin","tenant":"*"})");
  EXPECT_EQ(again.stop(), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::testing
