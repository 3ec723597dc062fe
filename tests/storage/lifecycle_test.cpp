// Alert lifecycle, history, audit, grouping and statistics in the store (real RocksDB in a
// temporary directory).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "storage/alert_store.h"
#include "storage/stats.h"

namespace vigil::storage {
namespace {

namespace fs = std::filesystem;
constexpr std::int64_t kSecond = 1000000000;
constexpr std::int64_t kHour = 3600 * kSecond;

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "vigil-lifecycle-XXXXXX").string();
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<AlertStore> open_store() {
    StoreOptions o;
    o.dir = dir_;
    o.sync = false;
    o.clock = [this] { return *now_; };
    auto s = AlertStore::open(o);
    EXPECT_TRUE(s.has_value()) << s.error().to_string();
    return s ? std::move(*s) : nullptr;
  }
  static Alert alert(const std::string& rule, const std::string& host, AlertLevel level = AlertLevel::kHigh,
                     const std::string& tenant = "t1") {
    Alert a;
    a.rule_id = rule;
    a.rule_title = "Title of " + rule;
    a.host = host;
    a.level = level;
    a.tenant = tenant;
    a.raw = "event on " + host;
    return a;
  }
  std::string dir_;
  std::shared_ptr<std::int64_t> now_ = std::make_shared<std::int64_t>(1'780'000'000 * kSecond);
};

TEST_F(LifecycleTest, StatusChangeMovesTheStatusIndexAndRecordsHistoryAndAudit) {
  auto store = open_store();
  std::vector<Alert> batch{alert("r1", "h1"), alert("r1", "h2")};
  ASSERT_TRUE(store->commit(batch, {}).ok());
  const std::string id = batch[0].id;
  AlertChange change;
  change.status = AlertStatus::kClosed;
  change.resolution = AlertResolution::kFalsePositive;
  change.note = "scanner";
  *now_ += kSecond;
  auto updated = store->update(id, change, "lan");
  ASSERT_TRUE(updated.has_value()) << updated.error().to_string();
  EXPECT_EQ(updated->status, AlertStatus::kClosed);
  EXPECT_EQ(updated->resolution, AlertResolution::kFalsePositive);
  EXPECT_EQ(store->get(id)->status, AlertStatus::kClosed);
  AlertQuery q;
  q.status = AlertStatus::kClosed;
  ASSERT_EQ(store->list(q)->alerts.size(), 1u);
  EXPECT_EQ(store->list(q)->alerts[0].id, id);
  q.status = AlertStatus::kNew;
  ASSERT_EQ(store->list(q)->alerts.size(), 1u);
  EXPECT_EQ(store->list(q)->alerts[0].id, batch[1].id);

  AlertChange assign;
  assign.assignee = "minh";
  ASSERT_TRUE(store->update(id, assign, "lan").has_value());
  auto history = store->history(id);
  ASSERT_TRUE(history.has_value());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].action, "status");
  EXPECT_EQ((*history)[0].detail, "new -> closed (false_positive)");
  EXPECT_EQ((*history)[0].actor, "lan");
  EXPECT_EQ((*history)[0].time_unix_ns, *now_);
  EXPECT_EQ((*history)[1].detail, "scanner");
  EXPECT_EQ((*history)[2].action, "assign");
  EXPECT_TRUE(store->history(batch[1].id)->empty());

  auto audit = store->audit_log(2, "");
  ASSERT_TRUE(audit.has_value());
  ASSERT_EQ(audit->entries.size(), 2u);
  EXPECT_EQ(audit->entries[0].action, "assign");  // newest first
  EXPECT_EQ(audit->entries[0].target, id);
  auto rest = store->audit_log(10, audit->next_cursor);
  ASSERT_TRUE(rest.has_value());
  ASSERT_EQ(rest->entries.size(), 1u);
  EXPECT_EQ(rest->entries[0].detail, "new -> closed (false_positive)");
  EXPECT_TRUE(rest->next_cursor.empty());
}

TEST_F(LifecycleTest, BadChangesAreRefusedAndOtherTenantsAlertsAreNotFound) {
  auto store = open_store();
  std::vector<Alert> batch{alert("r1", "h1")};
  ASSERT_TRUE(store->commit(batch, {}).ok());
  AlertChange none;
  EXPECT_EQ(store->update(batch[0].id, none, "x").error().code(), StatusCode::kInvalidArgument);
  AlertChange close_without_resolution;
  close_without_resolution.status = AlertStatus::kClosed;
  EXPECT_EQ(store->update(batch[0].id, close_without_resolution, "x").error().code(), StatusCode::kInvalidArgument);
  AlertChange note;
  note.note = "n";
  EXPECT_EQ(store->update(batch[0].id, note, "x", "t2").error().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store->update(batch[0].id, note, "x", "t1").has_value());
  EXPECT_EQ(store->update("00000000000000000000000000000001", note, "x").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->update("zz", note, "x").error().code(), StatusCode::kInvalidArgument);
}

TEST_F(LifecycleTest, GroupingRaisesTheCountOfTheOpenAlertWithinTheWindowOnly) {
  auto store = open_store();
  auto policy = [](const Alert& a) { return GroupSpec{a.rule_id == "grouped" ? 10 * 60 * kSecond : 0, a.host}; };
  ASSERT_TRUE(store->set_grouping(policy, 10 * 60 * kSecond).ok());
  // Same rule and host in one commit and in the next: one alert; another host or rule: new ones.
  std::vector<Alert> first{alert("grouped", "h1"), alert("grouped", "h1"), alert("grouped", "h2"), alert("other", "h1"),
                           alert("other", "h1")};
  ASSERT_TRUE(store->commit(first, {}).ok());
  EXPECT_EQ(first.size(), 4u) << "the repeat is not a new alert";
  *now_ += 5 * 60 * kSecond;
  std::vector<Alert> second{alert("grouped", "h1")};
  ASSERT_TRUE(store->commit(second, {}).ok());
  EXPECT_TRUE(second.empty());
  EXPECT_EQ(store->alert_count_estimate(), 4u);
  EXPECT_EQ(store->get(first[0].id)->count, 3u);
  // Reopened: the open group is rebuilt from the store.
  store.reset();
  store = open_store();
  ASSERT_TRUE(store->set_grouping(policy, 10 * 60 * kSecond).ok());
  EXPECT_EQ(store->open_groups(), 2u);
  std::vector<Alert> third{alert("grouped", "h1")};
  ASSERT_TRUE(store->commit(third, {}).ok());
  EXPECT_EQ(store->get(first[0].id)->count, 4u);
  // Past the window (counted from the open alert's creation) a repeat opens a new alert.
  *now_ += 6 * 60 * kSecond;
  std::vector<Alert> late{alert("grouped", "h1")};
  ASSERT_TRUE(store->commit(late, {}).ok());
  ASSERT_EQ(late.size(), 1u);
  EXPECT_NE(late[0].id, first[0].id);
  // A closed alert takes no more repeats.
  AlertChange close;
  close.status = AlertStatus::kClosed;
  close.resolution = AlertResolution::kBenign;
  ASSERT_TRUE(store->update(late[0].id, close, "x").has_value());
  std::vector<Alert> after_close{alert("grouped", "h1")};
  ASSERT_TRUE(store->commit(after_close, {}).ok());
  ASSERT_EQ(after_close.size(), 1u);
  EXPECT_EQ(store->get(late[0].id)->count, 1u);
}

TEST_F(LifecycleTest, StatisticsCountByHourAndFollowStatusChanges) {
  auto store = open_store();
  const std::int64_t start = *now_ - *now_ % kHour;
  *now_ = start + 10 * kSecond;
  std::vector<Alert> a{alert("r1", "h1", AlertLevel::kHigh, "t1"), alert("r2", "h1", AlertLevel::kLow, "t2")};
  ASSERT_TRUE(store->commit(a, {}).ok());
  *now_ = start + kHour + 10 * kSecond;
  std::vector<Alert> b{alert("r1", "h2", AlertLevel::kHigh, "t1"), alert("r1", "h2", AlertLevel::kCritical, "t1")};
  ASSERT_TRUE(store->commit(b, {}).ok());
  AlertChange ack;
  ack.status = AlertStatus::kAcknowledged;
  ASSERT_TRUE(store->update(a[0].id, ack, "x").has_value());

  StatsQuery q;
  q.from_unix_ns = start;
  q.to_unix_ns = start + 2 * kHour;
  auto s = read_stats(*store, q);
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  ASSERT_EQ(s->buckets.size(), 2u);
  EXPECT_EQ(s->buckets[0].by_level, (std::map<std::string, std::int64_t>{{"high", 1}, {"low", 1}}));
  EXPECT_EQ(s->buckets[1].by_level, (std::map<std::string, std::int64_t>{{"critical", 1}, {"high", 1}}));
  EXPECT_EQ(s->by_status, (std::map<std::string, std::int64_t>{{"acknowledged", 1}, {"new", 3}}));
  EXPECT_EQ(s->by_tenant, (std::map<std::string, std::int64_t>{{"t1", 3}, {"t2", 1}}));
  ASSERT_EQ(s->top_rules.size(), 2u);
  EXPECT_EQ(s->top_rules[0].id, "r1");
  EXPECT_EQ(s->top_rules[0].count, 3);
  EXPECT_EQ(s->top_rules[0].title, "Title of r1");
  EXPECT_EQ(s->top_hosts[0], (std::pair<std::string, std::int64_t>{"h1", 2}));

  q.tenant = "t2";
  s = read_stats(*store, q);
  EXPECT_EQ(s->by_tenant, (std::map<std::string, std::int64_t>{{"t2", 1}}));
  q.tenant.clear();
  q.from_unix_ns = start + kHour;  // the second hour only
  s = read_stats(*store, q);
  EXPECT_EQ(s->by_level, (std::map<std::string, std::int64_t>{{"critical", 1}, {"high", 1}}));
  q.from_unix_ns = start;
  q.bucket_seconds = 60;
  s = read_stats(*store, q);
  ASSERT_EQ(s->buckets.size(), 120u);
  EXPECT_EQ(s->buckets[0].by_level.at("high"), 1);
  EXPECT_EQ(s->buckets[60].by_level.at("critical"), 1);
  q.bucket_seconds = 7;
  EXPECT_FALSE(read_stats(*store, q).has_value());

  auto per_rule = rule_alert_counts(*store);
  ASSERT_TRUE(per_rule.has_value());
  EXPECT_EQ(*per_rule, (std::map<std::string, std::int64_t>{{"r1", 3}, {"r2", 1}}));
  // Retention removes the counters of the hours it emptied.
  ASSERT_EQ(*store->delete_older_than(start + kHour), 2u);
  q.bucket_seconds = 3600;
  s = read_stats(*store, q);
  EXPECT_EQ(s->by_tenant, (std::map<std::string, std::int64_t>{{"t1", 2}}));
}

}  // namespace
}  // namespace vigil::storage

namespace vigil::storage {
namespace {

Alert revision(const std::string& key, Alert::Revision kind, const std::string& count) {
  Alert a;
  a.rule_id = "corr";
  a.rule_title = "brute force";
  a.host = "h1";
  a.tenant = "t1";
  a.level = AlertLevel::kHigh;
  a.format = "correlation";
  a.fields = {AlertField{"event_count", count}};
  a.raw = "brute force: " + count + " events";
  a.event_unix_ns = std::stoll(count);
  a.revision = kind;
  a.revision_key = key;
  return a;
}

// Issue 28: a correlation alert raised early is revised in place (same id, lifecycle kept), in
// a later commit, in the same commit as its first record, and across a reopen of the store; a
// revision after the final one (or of an unknown key) is stored as an alert of its own.
TEST_F(LifecycleTest, RevisionsOfAnAlertRaisedEarlyRewriteItInPlace) {
  std::string id;
  {
    auto store = open_store();
    std::vector<Alert> first{revision("k1", Alert::Revision::kFirst, "10")};
    ASSERT_TRUE(store->commit(first, {}).ok());
    id = first[0].id;
    AlertChange change;
    change.assignee = "lan";
    ASSERT_TRUE(store->update(id, change, "lan").has_value());
    std::vector<Alert> update{revision("k1", Alert::Revision::kUpdate, "11")};
    ASSERT_TRUE(store->commit(update, {}).ok());
    EXPECT_TRUE(update.empty());  // nothing stored as new
    auto got = store->get(id);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->raw, "brute force: 11 events");
    EXPECT_EQ(got->assignee, "lan");
    EXPECT_EQ(store->alert_count_estimate(), 1u);
  }
  auto store = open_store();
  std::vector<Alert> last{revision("k1", Alert::Revision::kFinal, "12"), revision("k2", Alert::Revision::kFirst, "5"),
                          revision("k2", Alert::Revision::kUpdate, "6")};
  ASSERT_TRUE(store->commit(last, {}).ok());
  ASSERT_EQ(last.size(), 1u);  // k2's first record, with its update applied before it was written
  EXPECT_EQ(last[0].raw, "brute force: 6 events");
  auto got = store->get(id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->raw, "brute force: 12 events");
  EXPECT_EQ(got->event_unix_ns, 12);
  EXPECT_EQ(got->assignee, "lan");
  // k1 is over: a stray revision of it is kept as an alert rather than lost.
  std::vector<Alert> stray{revision("k1", Alert::Revision::kUpdate, "13")};
  ASSERT_TRUE(store->commit(stray, {}).ok());
  ASSERT_EQ(stray.size(), 1u);
  EXPECT_FALSE(stray[0].id.empty());
  EXPECT_EQ(store->alert_count_estimate(), 3u);
}

// Matcher threads finish batches out of order, so one commit can hold a window's updates before
// its first record and out of sequence: the highest revision_seq is the state stored.
TEST_F(LifecycleTest, RevisionsOutOfOrderInOneCommitKeepTheNewest) {
  auto store = open_store();
  std::vector<Alert> batch{revision("k", Alert::Revision::kUpdate, "12"), revision("k", Alert::Revision::kFirst, "10"),
                           revision("k", Alert::Revision::kUpdate, "11")};
  batch[0].revision_seq = 2;
  batch[2].revision_seq = 1;
  ASSERT_TRUE(store->commit(batch, {}).ok());
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].raw, "brute force: 12 events");
  std::vector<Alert> older{revision("k", Alert::Revision::kFinal, "13")};
  older[0].revision_seq = 3;
  ASSERT_TRUE(store->commit(older, {}).ok());
  EXPECT_TRUE(older.empty());
  auto got = store->get(batch[0].id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->raw, "brute force: 13 events");
  EXPECT_EQ(store->alert_count_estimate(), 1u);
}

}  // namespace
}  // namespace vigil::storage
