// The pipeline: order of commits, group commit, backpressure, retry of failed commits, drain.
// The processor and committer here are small real implementations (alerts for records that
// contain "ALERT", kept in memory); the daemon's own (Hyperscan matcher, RocksDB) are tested end
// to end in tests/e2e.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "core/pipeline.h"

namespace vigil {
namespace {

using namespace std::chrono_literals;

class AlertOnKeyword : public BatchProcessor {
 public:
  explicit AlertOnKeyword(unsigned seed) : rng_(seed) {}
  void process(const IngestBatch& batch, std::vector<Alert>& alerts) override {
    // Random work so that threads finish batches out of order.
    std::this_thread::sleep_for(std::chrono::microseconds(rng_() % 2000));
    for (const IngestRecord& r : batch.records) {
      if (r.record.bytes.find("ALERT") == std::string_view::npos) continue;
      Alert a;
      a.raw = std::string(r.record.bytes);
      a.record_no = r.record.record_no;
      a.collector = batch.sources[r.source]->collector;
      alerts.push_back(std::move(a));
    }
  }

 private:
  std::mt19937 rng_;
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
  Pipeline p(opt, [](unsigned i) { return std::make_unique<AlertOnKeyword>(i + 1); }, committer, nullptr);
  p.start();
  std::atomic<int> acked{0};
  const int kBatches = 300, kPerBatch = 50;
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
  std::this_thread::sleep_for(100ms);
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
