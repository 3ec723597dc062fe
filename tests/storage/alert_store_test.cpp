// The alert store against a real RocksDB in a temporary directory.
#include "storage/alert_store.h"
#include "storage/stats.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "storage/alert_codec.h"

namespace vigil::storage {
namespace {

namespace fs = std::filesystem;

extern "C" char** environ;

class AlertStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vigil-store-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = (fs::path(root_) / "data").string();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // A writer whose clock the test sets through now_.
  std::unique_ptr<AlertStore> open_store() {
    StoreOptions options;
    options.dir = dir_;
    options.sync = false;  // crash safety is RocksDB's; the tests need speed
    options.clock = [this] { return *now_; };
    auto store = AlertStore::open(options);
    EXPECT_TRUE(store.has_value()) << (store ? "" : store.error().to_string());
    return store ? std::move(*store) : nullptr;
  }

  std::string root_, dir_;
  std::shared_ptr<std::int64_t> now_ = std::make_shared<std::int64_t>(1'000'000);
};

Alert make_alert(int i) {
  static const char* const kTenants[] = {"hanoi", "hue", "danang"};
  static const char* const kHosts[] = {"web1", "web2", "db1", "fw1", "dc1"};
  Alert a;
  a.rule_id = "rule-" + std::to_string(i % 7);
  a.rule_title = "Rule " + std::to_string(i % 7);
  a.level = static_cast<AlertLevel>(i % 5);
  a.status = static_cast<AlertStatus>((i / 5) % 4);
  a.tenant = kTenants[i % 3];
  a.host = kHosts[(i / 2) % 5];
  a.raw = "event " + std::to_string(i) + (i % 4 == 0 ? " mimikatz" : " benign");
  a.received_unix_ns = i;
  return a;
}

std::vector<std::string> ids_of(const std::vector<Alert>& alerts) {
  std::vector<std::string> ids;
  for (const Alert& a : alerts) ids.push_back(a.id);
  return ids;
}

// The reference answer: the filters applied to every alert, independent of the indexes.
std::vector<std::string> brute_force(const std::vector<Alert>& all, const AlertQuery& q) {
  std::vector<std::string> ids;
  for (const Alert& a : all) {
    if (a.created_unix_ns < q.from_unix_ns || a.created_unix_ns >= q.to_unix_ns) continue;
    if (q.min_level && a.level < *q.min_level) continue;
    if (q.status && a.status != *q.status) continue;
    if (!q.tenant.empty() && a.tenant != q.tenant) continue;
    if (!q.rule_id.empty() && a.rule_id != q.rule_id) continue;
    if (!q.host.empty() && a.host != q.host) continue;
    if (!q.text.empty() && a.raw.find(q.text) == std::string::npos) continue;
    ids.push_back(a.id);
  }
  std::sort(ids.begin(), ids.end());
  if (q.newest_first) std::reverse(ids.begin(), ids.end());
  return ids;
}

// Every page of the query, concatenated; fails the test on an error or a runaway cursor.
std::vector<std::string> all_pages(const AlertStore& store, AlertQuery q, std::size_t* pages = nullptr) {
  std::vector<std::string> ids;
  std::size_t n = 0;
  for (;;) {
    auto page = store.list(q);
    EXPECT_TRUE(page.has_value()) << (page ? "" : page.error().to_string());
    if (!page) break;
    EXPECT_LE(page->alerts.size(), q.limit);
    for (const Alert& a : page->alerts) ids.push_back(a.id);
    ++n;
    if (page->next_cursor.empty()) break;
    EXPECT_EQ(page->next_cursor, page->alerts.back().id);
    EXPECT_LT(n, 10'000u);
    if (n >= 10'000) break;
    q.cursor = page->next_cursor;
  }
  if (pages) *pages = n;
  return ids;
}

// Commits alerts 0..n-1 in commits of `per_commit`, the clock advancing 1000 ns per commit.
std::vector<Alert> fill(AlertStore& store, std::int64_t* now, int n, int per_commit) {
  std::vector<Alert> all;
  for (int i = 0; i < n; i += per_commit) {
    std::vector<Alert> batch;
    for (int j = i; j < std::min(n, i + per_commit); ++j) batch.push_back(make_alert(j));
    *now += 1000;
    Status s = store.commit(batch, {});
    EXPECT_TRUE(s.ok()) << s.to_string();
    all.insert(all.end(), batch.begin(), batch.end());
  }
  return all;
}

TEST_F(AlertStoreTest, CommitAndGetRoundTripEveryField) {
  auto store = open_store();
  ASSERT_TRUE(store);
  Alert a;
  a.received_unix_ns = 111;
  a.event_unix_ns = 222;
  a.event_time = "Nov 14 22:13:20";
  a.rule_id = "rid";
  a.rule_title = "title";
  a.rule_path = "path.yml";
  a.level = AlertLevel::kHigh;
  a.tags = {"t1", "t2"};
  a.tenant = "tenant";
  a.system = "system";
  a.host = "host";
  a.collector = "collector";
  a.peer = "peer:1";
  a.record_no = 99;
  a.format = "rfc3164";
  a.matched = {{"m", "v"}};
  a.fields = {{"f", "w"}, {"g", "x"}};
  a.raw = "raw bytes";
  a.status = AlertStatus::kAcknowledged;
  a.resolution = AlertResolution::kBenign;
  a.assignee = "who";
  a.count = 3;
  std::vector<Alert> batch{a};
  ASSERT_TRUE(store->commit(batch, {}).ok());
  const Alert& committed = batch[0];
  ASSERT_EQ(committed.id.size(), 32u);
  EXPECT_EQ(committed.id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(committed.created_unix_ns, *now_);

  auto got = store->get(committed.id);
  ASSERT_TRUE(got.has_value()) << got.error().to_string();
  const Alert& b = *got;
  EXPECT_EQ(b.id, committed.id);
  EXPECT_EQ(b.created_unix_ns, committed.created_unix_ns);
  EXPECT_EQ(b.received_unix_ns, 111);
  EXPECT_EQ(b.event_unix_ns, 222);
  EXPECT_EQ(b.event_time, a.event_time);
  EXPECT_EQ(b.rule_id, a.rule_id);
  EXPECT_EQ(b.rule_title, a.rule_title);
  EXPECT_EQ(b.rule_path, a.rule_path);
  EXPECT_EQ(b.level, a.level);
  EXPECT_EQ(b.tags, a.tags);
  EXPECT_EQ(b.tenant, a.tenant);
  EXPECT_EQ(b.system, a.system);
  EXPECT_EQ(b.host, a.host);
  EXPECT_EQ(b.collector, a.collector);
  EXPECT_EQ(b.peer, a.peer);
  EXPECT_EQ(b.record_no, a.record_no);
  EXPECT_EQ(b.format, a.format);
  ASSERT_EQ(b.matched.size(), 1u);
  EXPECT_EQ(b.matched[0].name, "m");
  EXPECT_EQ(b.matched[0].value, "v");
  ASSERT_EQ(b.fields.size(), 2u);
  EXPECT_EQ(b.fields[1].name, "g");
  EXPECT_EQ(b.fields[1].value, "x");
  EXPECT_EQ(b.raw, a.raw);
  EXPECT_EQ(b.status, a.status);
  EXPECT_EQ(b.resolution, a.resolution);
  EXPECT_EQ(b.assignee, a.assignee);
  EXPECT_EQ(b.count, 3u);
}

TEST_F(AlertStoreTest, GetReportsAbsentAndMalformedIds) {
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->get("00000000000003e80000000000000007").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->get("not-an-id").error().code(), StatusCode::kInvalidArgument);
}

TEST_F(AlertStoreTest, IdsAreOrderedAndUniqueAcrossReopenAndClockSteps) {
  std::vector<std::string> ids;
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    for (const Alert& a : fill(*store, now_.get(), 10, 3)) ids.push_back(a.id);
  }
  *now_ -= 1'000'000;  // the clock steps back across the restart
  std::int64_t last_created = 0;
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->alert_count_estimate(), 10u);
    std::vector<Alert> batch{make_alert(1), make_alert(2)};
    ASSERT_TRUE(store->commit(batch, {}).ok());
    EXPECT_GE(batch[0].created_unix_ns, store->get(ids.back())->created_unix_ns);
    ids.push_back(batch[0].id);
    ids.push_back(batch[1].id);
    *now_ -= 5;  // and again while running
    std::vector<Alert> batch2{make_alert(3)};
    ASSERT_TRUE(store->commit(batch2, {}).ok());
    ids.push_back(batch2[0].id);
    last_created = batch2[0].created_unix_ns;
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  // Once the clock is ahead again, times follow it.
  *now_ = last_created + 12345;
  auto store = open_store();
  ASSERT_TRUE(store);
  std::vector<Alert> batch{make_alert(4)};
  ASSERT_TRUE(store->commit(batch, {}).ok());
  EXPECT_EQ(batch[0].created_unix_ns, last_created + 12345);
  EXPECT_GT(batch[0].id, ids.back());
  EXPECT_EQ(store->alert_count_estimate(), 14u);
}

TEST_F(AlertStoreTest, CheckpointsCommitWithAlertsAndSurviveReopen) {
  std::string first_id;
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    std::vector<Alert> batch{make_alert(0)};
    ASSERT_TRUE(store->commit(batch, {{"file:/var/log/a", "ino=1 off=100"}, {"file:/var/log/b", "ino=2 off=5"}}).ok());
    first_id = batch[0].id;
    // A later value replaces the earlier one, within one commit too.
    std::vector<Alert> none;
    ASSERT_TRUE(store->commit(none, {{"file:/var/log/a", "ino=1 off=150"}, {"file:/var/log/a", "ino=1 off=200"},
                                     {"tcp:peer", "x"}}).ok());
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_TRUE(store->get(first_id).has_value());
  auto a = store->checkpoint("file:/var/log/a");
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ(**a, "ino=1 off=200");
  auto missing = store->checkpoint("file:/nope");
  ASSERT_TRUE(missing.has_value());
  EXPECT_FALSE(missing->has_value());
  auto files = store->checkpoints_with_prefix("file:");
  ASSERT_TRUE(files.has_value());
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].key, "file:/var/log/a");
  EXPECT_EQ((*files)[1].key, "file:/var/log/b");
  EXPECT_EQ((*files)[1].value, "ino=2 off=5");
  EXPECT_EQ(store->checkpoints_with_prefix("")->size(), 3u);
  EXPECT_EQ(store->alert_count_estimate(), 1u);
}

// A commit extension writes in the same WriteBatch: its records exist exactly when the alerts do.
class OutboxLike : public CommitExtension {
 public:
  Status add_to_batch(const std::vector<Alert>& alerts, rocksdb::WriteBatch& batch,
                      const AlertStore& store) override {
    if (fail) return Status::IoError("extension refused");
    for (const Alert& a : alerts) {
      rocksdb::Status s = batch.Put(store.column_family(ColumnFamily::kOutbox), a.id, a.rule_id);
      if (!s.ok()) return Status::IoError(s.ToString());
    }
    return Status::Ok();
  }
  void committed(const std::vector<Alert>& alerts) override { seen += alerts.size(); }
  bool fail = false;
  std::size_t seen = 0;
};

TEST_F(AlertStoreTest, CommitExtensionsWriteInTheSameBatch) {
  auto store = open_store();
  ASSERT_TRUE(store);
  OutboxLike outbox;
  store->add_commit_extension(&outbox);
  std::vector<Alert> batch{make_alert(1), make_alert(2)};
  ASSERT_TRUE(store->commit(batch, {}).ok());
  EXPECT_EQ(outbox.seen, 2u);
  std::string value;
  ASSERT_TRUE(store->rocksdb_db()->Get(rocksdb::ReadOptions(), store->column_family(ColumnFamily::kOutbox),
                                       batch[1].id, &value).ok());
  EXPECT_EQ(value, batch[1].rule_id);
  // A failing extension fails the commit: neither the alert nor the checkpoint is written.
  outbox.fail = true;
  std::vector<Alert> refused{make_alert(3)};
  EXPECT_FALSE(store->commit(refused, {{"file:x", "1"}}).ok());
  EXPECT_TRUE(refused[0].id.empty());
  EXPECT_EQ(store->alert_count_estimate(), 2u);
  EXPECT_FALSE(store->checkpoint("file:x")->has_value());
  store->remove_commit_extension(&outbox);
  std::vector<Alert> after{make_alert(4)};
  EXPECT_TRUE(store->commit(after, {}).ok());
  EXPECT_EQ(outbox.seen, 2u);
}

TEST_F(AlertStoreTest, EmptyCommitWithOnlyCheckpointsAssignsNoIds) {
  auto store = open_store();
  ASSERT_TRUE(store);
  std::vector<Alert> none;
  ASSERT_TRUE(store->commit(none, {{"k", "v"}}).ok());
  ASSERT_TRUE(store->commit(none, {}).ok());
  EXPECT_EQ(**store->checkpoint("k"), "v");
  EXPECT_EQ(store->alert_count_estimate(), 0u);
  std::vector<Alert> batch{make_alert(0)};
  EXPECT_EQ(store->commit(batch, {{"", "v"}}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(batch[0].id.empty());
  EXPECT_TRUE(store->list(AlertQuery{})->alerts.empty());
}

class ListTest : public AlertStoreTest {
 protected:
  void SetUp() override {
    AlertStoreTest::SetUp();
    store_ = open_store();
    ASSERT_TRUE(store_);
    all_ = fill(*store_, now_.get(), 300, 7);
  }
  void expect_query(AlertQuery q, const std::string& what) {
    for (bool newest_first : {true, false}) {
      q.newest_first = newest_first;
      std::vector<std::string> want = brute_force(all_, q);
      for (std::size_t limit : {std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
        q.limit = limit;
        std::size_t pages = 0;
        std::vector<std::string> got = all_pages(*store_, q, &pages);
        EXPECT_EQ(got, want) << what << " newest_first=" << newest_first << " limit=" << limit;
        // Exact cursors: no empty trailing page.
        std::size_t want_pages = want.empty() ? 1 : (want.size() + limit - 1) / limit;
        EXPECT_EQ(pages, want_pages) << what << " limit=" << limit;
      }
    }
  }
  std::unique_ptr<AlertStore> store_;
  std::vector<Alert> all_;
};

TEST_F(ListTest, NoFilterReturnsEverythingInIdOrder) {
  expect_query(AlertQuery{}, "no filter");
  auto first = store_->list(AlertQuery{});
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->alerts.size(), 100u);  // the default limit
  EXPECT_EQ(first->alerts.front().id, all_.back().id);
}

TEST_F(ListTest, EachFilterAlone) {
  for (int l = 0; l < 5; ++l) {
    AlertQuery q;
    q.min_level = static_cast<AlertLevel>(l);
    expect_query(q, "min_level " + std::to_string(l));
  }
  for (int s = 0; s < 4; ++s) {
    AlertQuery q;
    q.status = static_cast<AlertStatus>(s);
    expect_query(q, "status " + std::to_string(s));
  }
  for (const char* tenant : {"hanoi", "hue", "nowhere"}) {
    AlertQuery q;
    q.tenant = tenant;
    expect_query(q, std::string("tenant ") + tenant);
  }
  for (const char* rule : {"rule-0", "rule-6", "rule-x"}) {
    AlertQuery q;
    q.rule_id = rule;
    expect_query(q, std::string("rule ") + rule);
  }
  for (const char* host : {"web1", "dc1", "web"}) {
    AlertQuery q;
    q.host = host;
    expect_query(q, std::string("host ") + host);
  }
  AlertQuery q;
  q.text = "mimikatz";
  expect_query(q, "text");
}

TEST_F(ListTest, CombinationsAndTimeRanges) {
  AlertQuery q;
  q.tenant = "hanoi";
  q.min_level = AlertLevel::kHigh;
  expect_query(q, "tenant+level");
  q.from_unix_ns = all_[100].created_unix_ns;
  q.to_unix_ns = all_[200].created_unix_ns;
  expect_query(q, "tenant+level+time");
  q.status = AlertStatus::kNew;
  expect_query(q, "tenant+level+time+status");

  AlertQuery r;
  r.rule_id = "rule-3";
  r.host = "web2";
  expect_query(r, "rule+host");
  r.text = "mimikatz";
  expect_query(r, "rule+host+text");

  AlertQuery s;
  s.status = AlertStatus::kClosed;
  s.min_level = AlertLevel::kMedium;
  s.tenant = "hue";
  s.host = "fw1";
  expect_query(s, "status+level+tenant+host");

  AlertQuery t;
  t.from_unix_ns = all_[50].created_unix_ns;
  expect_query(t, "from only");
  t.to_unix_ns = all_[51].created_unix_ns;  // within one commit
  expect_query(t, "one commit");
  t.to_unix_ns = t.from_unix_ns;
  expect_query(t, "empty range");
  AlertQuery u;
  u.to_unix_ns = all_[0].created_unix_ns;
  expect_query(u, "before everything");
  u.from_unix_ns = -5;
  u.to_unix_ns = all_[20].created_unix_ns + 1;
  expect_query(u, "negative from");
}

TEST_F(ListTest, CursorPagingHasNoDuplicatesOrGaps) {
  AlertQuery q;
  q.limit = 13;
  for (bool newest_first : {true, false}) {
    q.newest_first = newest_first;
    std::vector<std::string> got = all_pages(*store_, q);
    EXPECT_EQ(got.size(), all_.size());
    EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), all_.size());
    EXPECT_EQ(got, brute_force(all_, q));
  }
  // Alerts committed between pages appear only at the new end, not in the middle.
  AlertQuery older;
  older.limit = 10;
  auto first = store_->list(older);
  ASSERT_TRUE(first.has_value());
  std::vector<Alert> more{make_alert(1000)};
  *now_ += 1000;
  ASSERT_TRUE(store_->commit(more, {}).ok());
  older.cursor = first->next_cursor;
  auto second = store_->list(older);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->alerts.front().id, all_[all_.size() - 11].id);
}

TEST_F(ListTest, RejectsBadCursorAndZeroLimit) {
  AlertQuery q;
  q.cursor = "zz";
  EXPECT_EQ(store_->list(q).error().code(), StatusCode::kInvalidArgument);
  AlertQuery z;
  z.limit = 0;
  EXPECT_EQ(store_->list(z).error().code(), StatusCode::kInvalidArgument);
}

TEST_F(AlertStoreTest, IndexValuesWithNulDoNotMatchTheirPrefix) {
  auto store = open_store();
  ASSERT_TRUE(store);
  Alert a = make_alert(0), b = make_alert(0);
  a.host = "web";
  b.host = std::string("web\0x", 5);
  std::vector<Alert> batch{a, b};
  ASSERT_TRUE(store->commit(batch, {}).ok());
  AlertQuery q;
  q.host = "web";
  auto page = store->list(q);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(ids_of(page->alerts), std::vector<std::string>{batch[0].id});
  q.host = b.host;
  page = store->list(q);
  EXPECT_EQ(ids_of(page->alerts), std::vector<std::string>{batch[1].id});
}

// Reads the raw column families after the store is closed: what list() cannot show because it
// skips index entries whose alert is gone.
struct RawDb {
  explicit RawDb(const std::string& dir) {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : {"default", "alerts", "index", "history", "outbox", "checkpoints", "meta"})
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::ColumnFamilyOptions stats;
    stats.merge_operator = make_counter_merge_operator();  // the counters are merge operands
    cfs.emplace_back("stats", stats);
    rocksdb::Status s = rocksdb::DB::Open(rocksdb::DBOptions(), dir, cfs, &handles, &db);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  ~RawDb() {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    delete db;
  }
  std::vector<std::string> keys(int cf) {
    std::vector<std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[cf]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) out.push_back(it->key().ToString());
    return out;
  }
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
};

TEST_F(AlertStoreTest, RetentionDeletesOldAlertsWithTheirIndexEntriesAndHistory) {
  std::vector<Alert> all;
  std::int64_t cutoff = 0;
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    all = fill(*store, now_.get(), 5000, 50);  // more than one retention chunk
    cutoff = all[3000].created_unix_ns;
  }
  {
    // History entries (written by the lifecycle issue) start with the alert key.
    RawDb raw(dir_);
    for (int i : {0, 2999, 3000, 4999}) {
      std::string key = *alert_key_from_id(all[i].id) + "h1";
      ASSERT_TRUE(raw.db->Put(rocksdb::WriteOptions(), raw.handles[3], key, "x").ok());
    }
  }
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    auto deleted = store->delete_older_than(cutoff);
    ASSERT_TRUE(deleted.has_value()) << deleted.error().to_string();
    EXPECT_EQ(*deleted, 3000u);
    EXPECT_EQ(store->alert_count_estimate(), 2000u);
    EXPECT_EQ(store->get(all[2999].id).error().code(), StatusCode::kNotFound);
    EXPECT_TRUE(store->get(all[3000].id).has_value());
    EXPECT_EQ(*store->delete_older_than(cutoff), 0u);

    std::vector<Alert> kept(all.begin() + 3000, all.end());
    std::vector<AlertQuery> queries(7);
    queries[1].rule_id = "rule-2";
    queries[2].host = "db1";
    queries[3].tenant = "hue";
    queries[4].tenant = "hue";
    queries[4].min_level = AlertLevel::kHigh;
    queries[5].min_level = AlertLevel::kLow;
    queries[6].status = AlertStatus::kAcknowledged;
    for (std::size_t i = 0; i < queries.size(); ++i) {
      queries[i].limit = 500;
      queries[i].newest_first = false;  // oldest first: straight into the deleted range
      EXPECT_EQ(all_pages(*store, queries[i]), brute_force(kept, queries[i])) << "query " << i;
    }
  }
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->alert_count_estimate(), 2000u);
  store.reset();
  RawDb raw(dir_);
  std::string cutoff_key = make_alert_key(cutoff, 0);
  std::vector<std::string> alert_keys = raw.keys(1);
  EXPECT_EQ(alert_keys.size(), 2000u);
  std::size_t index_entries = 0;
  for (const std::string& key : raw.keys(2)) {
    ++index_entries;
    EXPECT_GE(key.substr(key.size() - kAlertKeySize), cutoff_key) << "index entry of a deleted alert";
  }
  // Every kept alert has level, status, tenant, tenant+level, rule and host entries.
  EXPECT_EQ(index_entries, 2000u * 6);
  std::vector<std::string> history = raw.keys(3);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].substr(0, kAlertKeySize), *alert_key_from_id(all[3000].id));
}

// Retention also deletes the forwarding delivery states of the alerts it deletes and, for the
// prefixes registered, the national receiver's duplicate checks of origin alerts as old.
TEST_F(AlertStoreTest, RetentionDeletesDeliveryStatesAndDuplicateChecksOfItsTime) {
  auto store = open_store();
  ASSERT_TRUE(store);
  store->expire_checkpoints_by_alert_id("alerts-in/");
  std::vector<Alert> all = fill(*store, now_.get(), 20, 5);
  const std::int64_t cutoff = all[10].created_unix_ns;
  auto* outbox = store->column_family(ColumnFamily::kOutbox);
  std::vector<Checkpoint> checks;
  for (int i : {0, 9, 10, 19}) {
    const std::string key = *alert_key_from_id(all[i].id);
    ASSERT_TRUE(store->rocksdb_db()->Put(rocksdb::WriteOptions(), outbox, "s" + key + "national", "x").ok());
    for (const char* sender : {"province-a", "province-b"})
      checks.push_back(Checkpoint{std::string("alerts-in/") + sender + "/" + all[i].id, ""});
  }
  checks.push_back(Checkpoint{"file:/var/log/auth.log", "42"});  // not an alert-id checkpoint
  std::vector<Alert> none;
  ASSERT_TRUE(store->commit(none, checks).ok());
  ASSERT_EQ(*store->delete_older_than(cutoff), 10u);
  for (int i : {0, 9, 10, 19}) {
    std::string value;
    const bool kept = i >= 10;
    EXPECT_EQ(store->rocksdb_db()->Get(rocksdb::ReadOptions(), outbox, "s" + *alert_key_from_id(all[i].id) + "national",
                                       &value).ok(), kept) << i;
    for (const char* sender : {"province-a", "province-b"})
      EXPECT_EQ(store->checkpoint(std::string("alerts-in/") + sender + "/" + all[i].id)->has_value(), kept) << i;
  }
  EXPECT_EQ(store->checkpoint("file:/var/log/auth.log")->value_or(""), "42");
}

TEST_F(AlertStoreTest, RetentionWithAFutureCutoffKeepsLaterCommitsVisible) {
  auto store = open_store();
  ASSERT_TRUE(store);
  fill(*store, now_.get(), 30, 10);
  const std::int64_t future = *now_ + 1'000'000'000;
  EXPECT_EQ(*store->delete_older_than(future), 30u);
  EXPECT_TRUE(store->list(AlertQuery{})->alerts.empty());
  // The clock is still before the cutoff: the new alert is older than it, yet must be seen.
  *now_ += 10;
  std::vector<Alert> batch{make_alert(7)};
  ASSERT_TRUE(store->commit(batch, {}).ok());
  AlertQuery q;
  q.newest_first = false;
  EXPECT_EQ(ids_of(store->list(q)->alerts), std::vector<std::string>{batch[0].id});
  q.rule_id = batch[0].rule_id;
  EXPECT_EQ(ids_of(store->list(q)->alerts), std::vector<std::string>{batch[0].id});
  store.reset();
  store = open_store();  // the floor is persisted
  ASSERT_TRUE(store);
  EXPECT_EQ(ids_of(store->list(AlertQuery{})->alerts), std::vector<std::string>{batch[0].id});
  EXPECT_EQ(*store->delete_older_than(future), 1u);
  EXPECT_EQ(store->alert_count_estimate(), 0u);
}

TEST_F(AlertStoreTest, ReadOnlyStoreWorksBesideTheWriter) {
  auto writer = open_store();
  ASSERT_TRUE(writer);
  std::vector<Alert> first{make_alert(1)};
  ASSERT_TRUE(writer->commit(first, {{"ck", "1"}}).ok());

  auto reader = AlertStore::open_read_only(dir_);
  ASSERT_TRUE(reader.has_value()) << reader.error().to_string();
  EXPECT_TRUE((*reader)->read_only());
  EXPECT_TRUE((*reader)->get(first[0].id).has_value());
  EXPECT_EQ(**(*reader)->checkpoint("ck"), "1");
  EXPECT_EQ((*reader)->alert_count_estimate(), 1u);

  *now_ += 1000;
  std::vector<Alert> second{make_alert(2)};
  ASSERT_TRUE(writer->commit(second, {{"ck", "2"}}).ok());
  // A fresh read-only open sees the writer's latest commit.
  auto reopened = AlertStore::open_read_only(dir_);
  ASSERT_TRUE(reopened.has_value()) << reopened.error().to_string();
  EXPECT_TRUE((*reopened)->get(second[0].id).has_value());
  EXPECT_EQ((*reopened)->list(AlertQuery{})->alerts.size(), 2u);
  EXPECT_EQ(**(*reopened)->checkpoint("ck"), "2");
  // ... and the first one catches up on request.
  ASSERT_TRUE((*reader)->catch_up().ok());
  EXPECT_TRUE((*reader)->get(second[0].id).has_value());
  EXPECT_EQ((*reader)->alert_count_estimate(), 2u);

  std::vector<Alert> third{make_alert(3)};
  EXPECT_EQ((*reader)->commit(third, {}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*reader)->delete_older_than(*now_ + 1).error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(writer->catch_up().code(), StatusCode::kInvalidArgument);
}

// The child half of CrashLeavesWholeCommitsOnly: commits until the parent kills it. Runs only
// when started by that test (it is this same program, re-executed).
TEST(AlertStoreCrashChild, CommitUntilKilled) {
  const char* dir = getenv("VIGIL_STORE_CRASH_DIR");
  const char* fd = getenv("VIGIL_STORE_CRASH_FD");
  if (!dir || !fd) GTEST_SKIP() << "helper process of AlertStoreTest.CrashLeavesWholeCommitsOnly";
  StoreOptions options;
  options.dir = dir;
  options.sync = false;  // a killed process loses nothing the kernel already has
  auto store = AlertStore::open(options);
  ASSERT_TRUE(store.has_value()) << store.error().to_string();
  const int ready_fd = atoi(fd);
  std::uint64_t committed = 0;
  bool told = false;
  while (committed < 5'000'000) {
    std::vector<Alert> batch;
    for (std::uint64_t i = 0; i < 1 + committed % 13; ++i) batch.push_back(make_alert(static_cast<int>(committed + i)));
    committed += batch.size();
    // The checkpoint says how many alerts exist once this commit is in: it must never
    // disagree with the alerts found after the crash.
    ASSERT_TRUE((*store)->commit(batch, {{"source", std::to_string(committed)}}).ok());
    if (committed >= 500 && !told) {
      ASSERT_EQ(write(ready_fd, "k", 1), 1);
      told = true;
    }
  }
  FAIL() << "the parent never killed this process";
}

TEST_F(AlertStoreTest, CrashLeavesWholeCommitsOnly) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("VIGIL_STORE_CRASH_DIR=" + dir_);
  env_strings.push_back("VIGIL_STORE_CRASH_FD=" + std::to_string(fds[1]));
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = fs::read_symlink("/proc/self/exe").string();
  std::string filter = "--gtest_filter=AlertStoreCrashChild.CommitUntilKilled";
  char* argv[] = {exe.data(), filter.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  ASSERT_EQ(rc, 0);
  char byte = 0;
  ssize_t got = read(fds[0], &byte, 1);  // EOF if the child died before it was ready
  close(fds[0]);
  kill(pid, SIGKILL);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_EQ(got, 1) << "the child failed before committing 500 alerts";
  ASSERT_TRUE(WIFSIGNALED(wstatus));

  auto store = open_store();
  ASSERT_TRUE(store);
  auto checkpoint = store->checkpoint("source");
  ASSERT_TRUE(checkpoint.has_value() && checkpoint->has_value());
  const std::uint64_t expected = std::stoull(**checkpoint);
  EXPECT_GE(expected, 500u);
  AlertQuery everything;
  everything.limit = 1'000'000;
  auto page = store->list(everything);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->alerts.size(), expected);
  EXPECT_EQ(store->alert_count_estimate(), expected);
  // The sequence counter came back with the alerts: a new commit sorts after all of them.
  std::vector<Alert> next{make_alert(0)};
  ASSERT_TRUE(store->commit(next, {}).ok());
  EXPECT_GT(next[0].id, page->alerts.front().id);
}

TEST_F(AlertStoreTest, OpenErrorsAreClear) {
  // A file where the data directory should be.
  std::ofstream(root_ + "/file") << "x";
  StoreOptions options;
  options.dir = root_ + "/file";
  auto store = AlertStore::open(options);
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(store.error().message().find("not a directory"), std::string::npos) << store.error().message();
  // A file in the way of a parent.
  options.dir = root_ + "/file/data";
  store = AlertStore::open(options);
  ASSERT_FALSE(store.has_value());
  EXPECT_NE(store.error().message().find(options.dir), std::string::npos) << store.error().message();

  options.dir = "";
  EXPECT_EQ(AlertStore::open(options).error().code(), StatusCode::kInvalidArgument);

  // No store here yet.
  EXPECT_EQ(AlertStore::open_read_only(root_).error().code(), StatusCode::kNotFound);

  // A second writer on the same directory.
  auto writer = open_store();
  ASSERT_TRUE(writer);
  options.dir = dir_;
  auto second = AlertStore::open(options);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message().find("another vigil"), std::string::npos) << second.error().message();
}

TEST_F(AlertStoreTest, ReportsItsSize) {
  auto store = open_store();
  ASSERT_TRUE(store);
  std::uint64_t empty = store->approximate_size_bytes();
  fill(*store, now_.get(), 200, 50);
  EXPECT_GT(store->approximate_size_bytes(), empty);
  EXPECT_EQ(store->alert_count_estimate(), 200u);
}

void write_alerts(AlertStore* store, int n) {
  std::vector<Alert> batch;
  for (int i = 0; i < n; ++i) batch.push_back(make_alert(i));
  ASSERT_TRUE(store->commit(batch, {}).ok());
}

// Flushes every column family of the (closed) store into SST files, with raw RocksDB, so that
// the test knows where the data is.
void flush_all(const std::string& dir) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir, descriptors, &handles, &db).ok());
  for (auto* h : handles) ASSERT_TRUE(db->Flush(rocksdb::FlushOptions(), h).ok());
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(db->Close().ok());
  delete db;
}

TEST_F(AlertStoreTest, CheckFindsADamagedSstAndRepairKeepsWhatIsIntact) {
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    write_alerts(store.get(), 2000);
  }
  flush_all(dir_);
  auto intact = AlertStore::check(dir_);
  ASSERT_TRUE(intact.has_value()) << intact.error().to_string();
  EXPECT_TRUE(intact->ok()) << intact->problems[0];
  EXPECT_GT(intact->sst_files, 0u);
  std::uint64_t alerts_before = 0;
  for (const auto& [cf, n] : intact->records)
    if (cf == "alerts") alerts_before = n;
  EXPECT_EQ(alerts_before, 2000u);

  // Damage the largest SST file in its middle (a data block).
  fs::path largest;
  for (const auto& e : fs::directory_iterator(dir_))
    if (e.path().extension() == ".sst" && (largest.empty() || fs::file_size(e.path()) > fs::file_size(largest)))
      largest = e.path();
  ASSERT_FALSE(largest.empty());
  {
    std::fstream f(largest, std::ios::in | std::ios::out | std::ios::binary);
    const auto size = static_cast<std::streamoff>(fs::file_size(largest));
    for (std::streamoff at = size / 3; at < size / 3 + 64; ++at) {
      f.seekp(at);
      f.put('\x5a');
    }
  }
  auto damaged = AlertStore::check(dir_);
  ASSERT_TRUE(damaged.has_value());
  ASSERT_FALSE(damaged->ok());
  EXPECT_NE(damaged->problems[0].find("orrupt"), std::string::npos) << damaged->problems[0];

  std::string copy;
  ASSERT_TRUE(AlertStore::repair(dir_, &copy).ok());
  EXPECT_TRUE(fs::exists(fs::path(copy) / "CURRENT"));  // the store as it was, kept aside
  auto repaired = AlertStore::check(dir_);
  ASSERT_TRUE(repaired.has_value());
  EXPECT_TRUE(repaired->ok()) << repaired->problems[0];
  std::uint64_t alerts_after = 0;
  for (const auto& [cf, n] : repaired->records)
    if (cf == "alerts") alerts_after = n;
  // What was in the damaged file's readable blocks and the other files stays.
  EXPECT_GT(alerts_after, 0u);
  EXPECT_LE(alerts_after, alerts_before);
  std::printf("repair kept %llu of %llu alerts\n", static_cast<unsigned long long>(alerts_after),
              static_cast<unsigned long long>(alerts_before));
  auto store = open_store();
  ASSERT_TRUE(store);
  fs::remove_all(copy);
}

TEST_F(AlertStoreTest, RepairRefusesAStoreInUseAndCheckNeedsAStore) {
  auto store = open_store();
  ASSERT_TRUE(store);
  std::string copy;
  Status st = AlertStore::repair(dir_, &copy);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("in use"), std::string::npos) << st.message();
  EXPECT_TRUE(copy.empty());
  EXPECT_FALSE(AlertStore::check((fs::path(root_) / "nothing").string()).has_value());
}

TEST_F(AlertStoreTest, ADamagedManifestIsReportedAtOpenWithWhatToDo) {
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    write_alerts(store.get(), 100);
  }
  fs::path manifest;
  for (const auto& e : fs::directory_iterator(dir_))
    if (e.path().filename().string().rfind("MANIFEST-", 0) == 0) manifest = e.path();
  ASSERT_FALSE(manifest.empty());
  {
    std::fstream f(manifest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    for (int i = 0; i < 32; ++i) f.put('\xff');
  }
  StoreOptions options;
  options.dir = dir_;
  auto reopened = AlertStore::open(options);
  ASSERT_FALSE(reopened.has_value());
  EXPECT_NE(reopened.error().message().find("vigil store repair --data-dir " + dir_), std::string::npos)
      << reopened.error().to_string();
}

}  // namespace
}  // namespace vigil::storage
