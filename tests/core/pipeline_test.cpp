// The pipeline: order of commits, group commit, backpressure, retry of failed commits, drain.
// The processor and committer here are small real implementations (alerts for records that
// contain "ALERT", kept in memory); the daemon's own (Hyperscan matcher, RocksDB) are tested end
// to end in tests/e2e.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "core/pipeline.h"
#include "tests/support/wait.h"

namespace vigil {
namespace {

using namespace std::chrono_literals;

// Makes matcher threads finish batches out of order: the batch starting at an even multiple
// of `batch_size` (0-based) waits until the one after it has been matched.
class OutOfOrder {
 public:
  explicit OutOfOrder(std::uint64_t batch_size) : batch_size_(batch_size) {}
  void before(const IngestBatch& batch) {
    const std::uint64_t index = index_of(batch);
    if (index % 2 != 0) return;
    std::unique_lock lock(mu_);
    const bool later_done = cv_.wait_for(lock, vigil::testing::kWaitTimeout, [&] { return done_.count(index + 1) != 0; });
    EXPECT_TRUE(later_done) << "batch " << index + 1 << " was never matched while " << index << " waited";
  }
  void after(const IngestBatch& batch) {
    std::lock_guard lock(mu_);
    done_.insert(index_of(batch));
    cv_.notify_all();
  }

 private:
  std::uint64_t index_of(const IngestBatch& batch) const { return (batch.records.front().record.record_no - 1) / batch_size_; }
  const std::uint64_t batch_size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::uint64_t> done_;
};

class AlertOnKeyword : public BatchProcessor {
 public:
  explicit AlertOnKeyword(unsigned, OutOfOrder* order = nullptr) : order_(order) {}
  void process(const IngestBatch& batch, std::vector<Alert>& alerts) override {
    if (order_) order_->before(batch);
    for (const IngestRecord& r : batch.records) {
      if (r.record.bytes.find("ALERT") == std::string_view::npos) continue;
      Alert a;
      a.raw = std::string(r.record.bytes);
      a.record_no = r.record.record_no;
      a.collector = batch.sources[r.source]->collector;
      alerts.push_back(std::move(a));
    }
    if (order_) order_->after(batch);
  }

 private:
  OutOfOrder* order_;
};

class MemoryCommitter : public AlertCommitter {
 public:
  Status commit(std::vector<Alert>& alerts, const std::vector<Checkpoint>& checkpoints) override {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return open; });
    ++commits;
    if (fail_next > 0) {
      --fail_next;
      return Status::IoError("disk full (test)");
    }
    for (Alert& a : alerts) committed.push_back(a);
    for (const Checkpoint& c : checkpoints) checkpoint_log.push_back(c);
    return Status::Ok();
  }
  void set_open(bool o) {
    {
      std::lock_guard lock(mu);
      open = o;
    }
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  bool open = true;
  int fail_next = 0;
  int commits = 0;
  std::vector<Alert> committed;
  std::vector<Checkpoint> checkpoint_log;
};

IngestBatch make_batch(std::uint64_t first_record, int n, std::atomic<int>* acked) {
  auto src = std::make_shared<SourceInfo>();
  src->collector = "test";
  IngestBatchBuilder b(src);
  for (int i = 0; i < n; ++i) {
    std::uint64_t no = first_record + static_cast<std::uint64_t>(i);
    b.add((no % 3 == 0 ? "ALERT record " : "quiet record ") + std::to_string(no), no);
  }
  b.batch().checkpoints.push_back({"file:x", std::to_string(first_record + static_cast<std::uint64_t>(n))});
  if (acked) b.batch().on_committed = [acked](const Status& st) {
    if (st.ok()) acked->fetch_add(1);
  };
  return b.finish();
}

TEST(Pipeline, CommitsInSubmitOrderWhateverThreadMatched) {
  MemoryCommitter committer;
  PipelineOptions opt;
  opt.matcher_threads = 4;
  opt.max_in_flight_batches = 16;
  const int kBatches = 300, kPerBatch = 50;
  // Every other batch is finished after the one submitted behind it. (A waiting batch's
  // successor is always taken: batches are taken in order, so the threads hold at most one
  // batch whose successor is not taken yet.)
  OutOfOrder order(kPerBatch);
  Pipeline p(opt, [&](unsigned i) { return std::make_unique<AlertOnKeyword>(i + 1, &order); }, committer, nullptr);
  p.start();
  std::atomic<int> acked{0};
  for (int b = 0; b < kBatches; ++b) ASSERT_TRUE(p.submit(make_batch(1 + b * kPerBatch, kPerBatch, &acked)));
  p.drain_and_stop();
  EXPECT_EQ(acked.load(), kBatches);
  EXPECT_EQ(p.counters().processed_events.load(), static_cast<std::uint64_t>(kBatches * kPerBatch));
  // Every third record alerted, in record order, exactly once.
  ASSERT_EQ(committer.committed.size(), static_cast<std::size_t>(kBatches * kPerBatch / 3));
  for (std::size_t i = 0; i < committer.committed.size(); ++i)
    ASSERT_EQ(committer.committed[i].record_no, 3 * (i + 1)) << i;
  // Checkpoints arrive in order: never an offset before an earlier one's alerts.
  ASSERT_EQ(committer.checkpoint_log.size(), static_cast<std::size_t>(kBatches));
  for (int b = 0; b < kBatches; ++b)
    EXPECT_EQ(committer.checkpoint_log[b].value, std::to_string(1 + (b + 1) * kPerBatch));
  // Group commit: fewer commits than batches is possible but never more.
  EXPECT_LE(committer.commits, kBatches);
}

TEST(Pipeline, SubmitBlocksAtTheBoundAndTrySubmitRefuses) {
  MemoryCommitter committer;
  committer.set_open(false);  // the store is stuck: nothing can be committed
  PipelineOptions opt;
  opt.matcher_threads = 2;
  opt.max_in_flight_batches = 4;
  Pipeline p(opt, [](unsigned i) { return std::make_unique<AlertOnKeyword>(i + 7); }, committer, nullptr);
  p.start();
  for (int b = 0; b < 4; ++b) ASSERT_TRUE(p.submit(make_batch(1 + b * 10, 10, nullptr)));
  IngestBatch extra = make_batch(41, 10, nullptr);
  EXPECT_FALSE(p.try_submit(extra));
  EXPECT_EQ(extra.records.size(), 10u);  // left untouched for the caller to count as dropped
  EXPECT_EQ(p.counters().refused_batches.load(), 1u);
  std::atomic<bool> returned{false};
  std::thread blocked([&] {
    p.submit(make_batch(41, 10, nullptr));
    returned = true;
  });
  // Counted as it starts waiting; nothing can make room while the store is stuck.
  EXPECT_TRUE(vigil::testing::wait_until(vigil::testing::deadline_after(),
                                         [&] { return p.counters().blocked_submits.load() == 1; }));
  EXPECT_FALSE(returned.load()) << "submit must wait while the pipeline is full";
  EXPECT_EQ(p.in_flight(), 4u);
  committer.set_open(true);
  blocked.join();
  EXPECT_TRUE(returned.load());
  p.drain_and_stop();
  EXPECT_EQ(committer.committed.size(), 50u / 3);  // records 3,6,...,48
}

TEST(Pipeline, ByteBoundLimitsMemoryInFlight) {
  MemoryCommitter committer;
  committer.set_open(false);
  PipelineOptions opt;
  opt.max_in_flight_batches = 1000;
  opt.max_in_flight_bytes = 1000;  // about three batches of 10 records
  Pipeline p(opt, [](unsigned i) { return std::make_unique<AlertOnKeyword>(i + 3); }, committer, nullptr);
  p.start();
  std::size_t accepted = 0;
  for (int b = 0; b < 10; ++b) {
    IngestBatch batch = make_batch(1 + b * 10, 10, nullptr);
    if (!p.try_submit(batch)) break;
    ++accepted;
  }
  EXPECT_GE(accepted, 2u);
  EXPECT_LE(accepted, 4u);
  EXPECT_LE(p.in_flight_bytes(), 1000u);
  committer.set_open(true);
  p.drain_and_stop();
  EXPECT_EQ(p.in_flight_bytes(), 0u);
  // A single batch larger than the bound still goes through when nothing else is in flight.
  MemoryCommitter c2;
  Pipeline big(opt, [](unsigned i) { return std::make_unique<AlertOnKeyword>(i); }, c2, nullptr);
  big.start();
  EXPECT_TRUE(big.submit(make_batch(1, 300, nullptr)));
  big.drain_and_stop();
  EXPECT_EQ(c2.committed.size(), 100u);
}

TEST(Pipeline, FailedCommitIsRetriedAndNothingIsAcknowledgedBefore) {
  MemoryCommitter committer;
  committer.fail_next = 2;
  Pipeline p(PipelineOptions{}, [](unsigned i) { return std::make_unique<AlertOnKeyword>(i); }, committer, nullptr);
  p.start();
  std::atomic<int> acked{0};
  ASSERT_TRUE(p.submit(make_batch(1, 30, &acked)));
  p.drain_and_stop();
  EXPECT_EQ(acked.load(), 1);
  EXPECT_EQ(committer.committed.size(), 10u);
  EXPECT_GE(p.counters().commit_failures.load(), 2u);
}

// State kept across batches (as correlation windows are) and written with each commit must be
// that of the committed batches: a commit that also carried the effect of a later, uncommitted
// batch would make a restart count that batch twice.
TEST(Pipeline, CommitMatchedStateCoversExactlyTheCommittedBatches) {
  std::atomic<std::uint64_t> events_matched{0};  // the state the processors share
  class Counting : public BatchProcessor {
   public:
    explicit Counting(std::atomic<std::uint64_t>& n) : n_(n) {}
    void process(const IngestBatch& batch, std::vector<Alert>&) override { n_.fetch_add(batch.records.size()); }

   private:
    std::atomic<std::uint64_t>& n_;
  };
  class StateCommitter : public AlertCommitter {
   public:
    explicit StateCommitter(const std::atomic<std::uint64_t>& n) : n_(n) {}
    Status commit(std::vector<Alert>&, const std::vector<Checkpoint>& checkpoints) override {
      // The checkpoint of the last batch in the commit: records committed so far.
      const std::uint64_t committed = std::stoull(checkpoints.back().value) - 1;
      if (n_.load() != committed) ++mismatches;
      ++commits;
      return Status::Ok();
    }
    int mismatches = 0, commits = 0;

   private:
    const std::atomic<std::uint64_t>& n_;
  } committer(events_matched);
  PipelineOptions opt;
  opt.matcher_threads = 4;
  opt.max_in_flight_batches = 32;
  Pipeline p(opt, [&](unsigned) { return std::make_unique<Counting>(events_matched); }, committer, nullptr);
  p.commit_matched_state();
  p.start();
  const int kBatches = 2000, kPerBatch = 10;
  for (int b = 0; b < kBatches; ++b) ASSERT_TRUE(p.submit(make_batch(1 + b * kPerBatch, kPerBatch, nullptr)));
  p.drain_and_stop();
  EXPECT_EQ(events_matched.load(), static_cast<std::uint64_t>(kBatches * kPerBatch));
  EXPECT_GT(committer.commits, 0);
  EXPECT_EQ(committer.mismatches, 0) << "of " << committer.commits << " commits";
}

TEST(Pipeline, SubmitAfterStopIsRefusedWithAnError) {
  MemoryCommitter committer;
  Pipeline p(PipelineOptions{}, [](unsigned i) { return std::make_unique<AlertOnKeyword>(i); }, committer, nullptr);
  p.start();
  p.drain_and_stop();
  bool called = false;
  IngestBatch b = make_batch(1, 3, nullptr);
  b.on_committed = [&](const Status& st) { called = !st.ok(); };
  EXPECT_FALSE(p.submit(std::move(b)));
  EXPECT_TRUE(called);
}

}  // namespace
}  // namespace vigil
