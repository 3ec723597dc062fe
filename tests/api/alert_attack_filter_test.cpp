// The analyst API's ATT&CK filters on GET /api/v1/alerts (api/analyst_api.cpp), against a real
// store in a temporary directory: a technique in either ATT&CK revision finds the alerts of
// rules tagged with the other, a parent finds its sub-techniques, a tactic finds its renamed
// revision, and alerts stored before alerts carried a view are judged by their tags.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <stdlib.h>

#include <filesystem>
#include <set>

#include "api/analyst_api.h"
#include "core/alert_json.h"
#include "storage/alert_store.h"

namespace vigil::api {
namespace {

namespace fs = std::filesystem;

class AlertAttackFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "vigil-attack-filter-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    storage::StoreOptions o;
    o.dir = dir_;
    o.sync = false;
    auto s = storage::AlertStore::open(o);
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    store_ = std::move(*s);
    // The views as the loader makes them (both revisions); the last alert has tags only, as
    // alerts stored before alerts carried views.
    std::vector<Alert> batch{
        alert("old-revision", {"attack.defense-evasion", "attack.t1562.002"}, {"defense-evasion", "defense-impairment"},
              {"T1562.002", "T1685.001"}),
        alert("new-revision", {"attack.defense-impairment", "attack.t1685.001"}, {"defense-evasion", "defense-impairment"},
              {"T1562.002", "T1685.001"}),
        alert("lsass", {"attack.credential-access", "attack.t1003.001"}, {"credential-access"}, {"T1003.001"}),
        alert("stored-before", {"attack.defense_evasion", "attack.t1562.002"}, {}, {}),
        alert("no-attack", {"cve.2021-44228"}, {}, {}),
    };
    ASSERT_TRUE(store_->commit(batch, {}).ok());
    api_ = std::make_unique<AnalystApi>(ApiOptions{}, *store_, nullptr, ApiHooks{});
  }
  void TearDown() override {
    api_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  static Alert alert(const std::string& rule, std::vector<std::string> tags, std::vector<std::string> tactics,
                     std::vector<std::string> techniques) {
    Alert a;
    a.rule_id = rule;
    a.level = AlertLevel::kHigh;
    a.tenant = "t1";
    a.tags = std::move(tags);
    a.attack_tactics = std::move(tactics);
    a.attack_techniques = std::move(techniques);
    return a;
  }
  // The rule ids of the alerts a list query returns; "status N" when it is not 200.
  std::set<std::string> rules_of(const std::vector<std::pair<std::string, std::string>>& query) {
    net::Request req;
    req.method = "GET";
    req.path = "/api/v1/alerts";
    req.query = query;
    Principal admin{"test", Role::kAdmin, "*"};
    net::Response r = api_->handle(req, admin);
    if (r.status != 200) return {"status " + std::to_string(r.status) + ": " + r.body};
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    EXPECT_EQ(parser.parse(r.body).get(doc), simdjson::SUCCESS) << r.body;
    std::set<std::string> out;
    for (simdjson::dom::element a : doc["alerts"].get_array()) {
      std::string_view id;
      if (a["rule"]["id"].get_string().get(id) == simdjson::SUCCESS) out.emplace(id);
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<storage::AlertStore> store_;
  std::unique_ptr<AnalystApi> api_;
};

using Rules = std::set<std::string>;

TEST_F(AlertAttackFilterTest, ATechniqueInEitherRevisionFindsBoth) {
  const Rules impaired = {"old-revision", "new-revision", "stored-before"};
  EXPECT_EQ(rules_of({{"technique", "T1562.002"}}), impaired);
  EXPECT_EQ(rules_of({{"technique", "t1685.001"}}), impaired);
  // Parents find sub-techniques, in either revision.
  EXPECT_EQ(rules_of({{"technique", "T1562"}}), impaired);
  EXPECT_EQ(rules_of({{"technique", "T1685"}}), impaired);
  EXPECT_EQ(rules_of({{"technique", "T1003"}}), Rules{"lsass"});
  EXPECT_EQ(rules_of({{"technique", "T1003.002"}}), Rules{});
  // Repeated: any of them.
  EXPECT_EQ(rules_of({{"technique", "T1003.001"}, {"technique", "T1685.001"}}),
            (Rules{"old-revision", "new-revision", "stored-before", "lsass"}));
}

TEST_F(AlertAttackFilterTest, ATacticInEitherRevisionFindsBoth) {
  EXPECT_EQ(rules_of({{"tactic", "defense-impairment"}}), (Rules{"old-revision", "new-revision", "stored-before"}));
  EXPECT_EQ(rules_of({{"tactic", "defense_evasion"}}), (Rules{"old-revision", "new-revision", "stored-before"}));
  EXPECT_EQ(rules_of({{"tactic", "credential-access"}}), Rules{"lsass"});
  EXPECT_EQ(rules_of({{"tactic", "credential-access"}, {"technique", "T1562"}}), Rules{});
}

TEST_F(AlertAttackFilterTest, MalformedValuesAre400) {
  for (const char* bad : {"T1003.1", "mimikatz", ""})
    EXPECT_EQ(rules_of({{"technique", bad}}).begin()->rfind("status 400", 0), 0u) << bad;
  EXPECT_EQ(rules_of({{"tactic", "hiding"}}).begin()->rfind("status 400", 0), 0u);
}

TEST(AlertAttackJson, TheViewIsWrittenAfterTheRuleAndLeftOutWhenEmpty) {
  Alert a;
  a.rule_id = "r";
  a.attack_tactics = {"credential-access"};
  a.attack_techniques = {"T1003", "T1003.001"};
  std::string out;
  append_alert_json(out, a);
  EXPECT_NE(out.find(R"("path":""},"attack":{"tactics":["credential-access"],"techniques":["T1003","T1003.001"]},"tenant")"),
            std::string::npos)
      << out;
  a.attack_tactics.clear();
  a.attack_techniques.clear();
  out.clear();
  append_alert_json(out, a);
  EXPECT_EQ(out.find("\"attack\""), std::string::npos) << out;
}

}  // namespace
}  // namespace vigil::api
