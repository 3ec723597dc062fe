#pragma once
// The pipeline: collectors -> bounded input queue -> N matcher threads -> store writer.
//
//   submit() --(seq, bounded)--> [input queue] --> matcher thread k: BatchProcessor::process
//        --> [reorder buffer by seq] --> store writer: one AlertCommitter::commit per group of
//        consecutive batches (group commit) --> IngestBatch::on_committed
//
// Ordering: batches are committed in the order they were submitted, whatever thread matched
// them. That is what makes checkpoints exact: a file offset is never made durable before the
// alerts of every earlier batch of that file.
//
// Bounds: at most `max_in_flight_batches` batches, holding at most `max_in_flight_bytes` of
// record bytes, exist between submit() and commit; submit() blocks beyond either bound
// (backpressure), try_submit() refuses. One batch larger than the byte bound is still let in
// when nothing else is in flight, so a bound below the batch size cannot stall the pipeline.
//
// Failure: a failed commit (disk full, I/O error) is retried with backoff, holding everything
// behind it, so no batch is acknowledged before it is durable; on shutdown the batches still
// uncommitted get on_committed(error).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/alert.h"
#include "core/ingest.h"
#include "core/status.h"

namespace vigil {

class Metrics;

// Turns one batch into alerts. One instance per matcher thread (it may hold per-thread state
// such as Hyperscan scratch); never called concurrently on the same instance.
class BatchProcessor {
 public:
  virtual ~BatchProcessor() = default;
  virtual void process(const IngestBatch& batch, std::vector<Alert>& alerts) = 0;
  // Called on the matcher thread as it takes a batch, with the input queue still locked:
  // batches are taken in submit order, so whatever this marks is marked in that order too (the
  // correlation engine's "this thread is inside a batch", which keeps another thread's later
  // batch from moving the watermark past this one's events). Must be quick. Default: nothing.
  virtual void on_taken() {}
};

// Where the store writer puts alerts and checkpoints, atomically (one RocksDB WriteBatch).
class AlertCommitter {
 public:
  virtual ~AlertCommitter() = default;
  virtual Status commit(std::vector<Alert>& alerts, const std::vector<Checkpoint>& checkpoints) = 0;
};

struct PipelineOptions {
  unsigned matcher_threads = 2;              // Default: 2
  std::size_t max_in_flight_batches = 64;    // Default: 64 (submit blocks beyond)
  std::size_t max_in_flight_bytes = 256u << 20;  // Default: 256 MiB of record bytes
  // Default: 64 batches per WriteBatch at most (no bound after Pipeline::commit_matched_state())
  std::size_t max_group_commit_batches = 64;
};

struct PipelineCounters {
  std::atomic<std::uint64_t> submitted_batches{0}, submitted_events{0};
  std::atomic<std::uint64_t> processed_events{0}, committed_batches{0}, committed_alerts{0};
  std::atomic<std::uint64_t> refused_batches{0};  // try_submit while full
  std::atomic<std::uint64_t> blocked_submits{0};  // submit that had to wait for room
  std::atomic<std::uint64_t> commit_failures{0};
};

class Pipeline final : public BatchSink {
 public:
  using ProcessorFactory = std::function<std::unique_ptr<BatchProcessor>(unsigned thread_index)>;
  // `committer` and `metrics` (may be null) must outlive the pipeline.
  Pipeline(PipelineOptions options, ProcessorFactory make_processor, AlertCommitter& committer,
           Metrics* metrics);
  ~Pipeline() override;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Makes each commit include every batch matched so far, and keeps matcher threads from
  // taking a batch while it is written. For processors that keep state across batches, written
  // by a commit extension with each commit (correlation windows): without this, that state
  // would also hold the effect of later batches not yet committed, which a crash then replays
  // from their checkpoints and counts twice. Costs matcher time during each store write. Call
  // before start().
  void commit_matched_state() { commit_matched_state_ = true; }
  void start();
  bool submit(IngestBatch&& batch) override;
  bool try_submit(IngestBatch& batch) override;
  // Stops accepting, matches and commits everything already submitted, joins the threads.
  // Idempotent.
  void drain_and_stop();

  std::size_t input_depth() const;    // batches waiting for a matcher thread
  std::size_t commit_depth() const;   // matched batches waiting for the store writer
  std::size_t in_flight() const;      // submitted, not yet committed
  std::size_t in_flight_bytes() const;  // record bytes of those batches
  const PipelineCounters& counters() const { return counters_; }
  const PipelineOptions& options() const { return options_; }

 private:
  struct Item {
    std::uint64_t seq = 0;
    std::size_t bytes = 0;
    IngestBatch batch;
    std::vector<Alert> alerts;
  };
  bool enqueue_locked(IngestBatch&& batch, std::unique_lock<std::mutex>& lock);
  bool has_room_locked(std::size_t bytes) const;
  void matcher_loop(unsigned index);
  void writer_loop();

  PipelineOptions options_;
  ProcessorFactory make_processor_;
  AlertCommitter& committer_;
  Metrics* metrics_;
  PipelineCounters counters_;

  mutable std::mutex mu_;
  std::condition_variable cv_space_;   // in_flight_ dropped below the bound
  std::condition_variable cv_input_;   // input_ gained an item or stopping
  std::condition_variable cv_commit_;  // the next batch in seq order is ready, or stopping
  std::deque<std::unique_ptr<Item>> input_;
  std::map<std::uint64_t, std::unique_ptr<Item>> matched_;  // reorder buffer
  std::uint64_t next_seq_ = 0;         // given to the next submitted batch
  std::uint64_t next_commit_seq_ = 0;  // the writer commits this one next
  std::size_t in_flight_ = 0;
  std::size_t in_flight_bytes_ = 0;
  std::size_t matching_ = 0;           // batches taken by matcher threads, not yet in matched_
  bool commit_matched_state_ = false;
  bool writing_matched_state_ = false;  // the writer is committing: matcher threads take nothing
  bool accepting_ = false;
  bool stopping_ = false;
  std::vector<std::thread> matchers_;
  std::thread writer_;
};

}  // namespace vigil
