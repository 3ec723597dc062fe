#include "core/pipeline.h"

#include <chrono>
#include <cstdio>

#include "core/metrics.h"

namespace vigil {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

Pipeline::Pipeline(PipelineOptions options, ProcessorFactory make_processor,
                   AlertCommitter& committer, Metrics* metrics)
    : options_(options), make_processor_(std::move(make_processor)), committer_(committer),
      metrics_(metrics) {
  if (options_.matcher_threads == 0) options_.matcher_threads = 1;
  if (options_.max_in_flight_batches == 0) options_.max_in_flight_batches = 1;
  if (options_.max_group_commit_batches == 0) options_.max_group_commit_batches = 1;
}

Pipeline::~Pipeline() { drain_and_stop(); }

void Pipeline::start() {
  std::lock_guard lock(mu_);
  if (accepting_ || stopping_) return;
  accepting_ = true;
  for (unsigned i = 0; i < options_.matcher_threads; ++i)
    matchers_.emplace_back([this, i] { matcher_loop(i); });
  writer_ = std::thread([this] { writer_loop(); });
}

bool Pipeline::has_room_locked(std::size_t bytes) const {
  if (in_flight_ == 0) return true;
  return in_flight_ < options_.max_in_flight_batches &&
         in_flight_bytes_ + bytes <= options_.max_in_flight_bytes;
}

bool Pipeline::enqueue_locked(IngestBatch&& batch, std::unique_lock<std::mutex>&) {
  auto item = std::make_unique<Item>();
  item->seq = next_seq_++;
  item->bytes = batch.bytes.size();
  in_flight_bytes_ += item->bytes;
  counters_.submitted_batches.fetch_add(1, std::memory_order_relaxed);
  counters_.submitted_events.fetch_add(batch.records.size(), std::memory_order_relaxed);
  item->batch = std::move(batch);
  ++in_flight_;
  input_.push_back(std::move(item));
  cv_input_.notify_one();
  return true;
}

bool Pipeline::submit(IngestBatch&& batch) {
  std::unique_lock lock(mu_);
  const std::size_t bytes = batch.bytes.size();
  if (accepting_ && !has_room_locked(bytes)) counters_.blocked_submits.fetch_add(1, std::memory_order_relaxed);
  cv_space_.wait(lock, [&] { return !accepting_ || has_room_locked(bytes); });
  if (!accepting_) {
    lock.unlock();
    if (batch.on_committed) batch.on_committed(Status::Unsupported("vigil is shutting down"));
    return false;
  }
  return enqueue_locked(std::move(batch), lock);
}

bool Pipeline::try_submit(IngestBatch& batch) {
  std::unique_lock lock(mu_);
  if (!accepting_ || !has_room_locked(batch.bytes.size())) {
    counters_.refused_batches.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return enqueue_locked(std::move(batch), lock);
}

void Pipeline::matcher_loop(unsigned index) {
  std::unique_ptr<BatchProcessor> processor = make_processor_(index);
  for (;;) {
    std::unique_ptr<Item> item;
    {
      std::unique_lock lock(mu_);
      cv_input_.wait(lock, [&] { return (stopping_ && input_.empty()) || (!input_.empty() && !writing_matched_state_); });
      if (input_.empty()) return;  // stopping_ and nothing left
      item = std::move(input_.front());
      input_.pop_front();
      ++matching_;
      processor->on_taken();
    }
    auto started = std::chrono::steady_clock::now();
    processor->process(item->batch, item->alerts);
    if (metrics_) {
      metrics_->observe_batch_seconds(seconds_since(started));
      metrics_->add_events_processed(item->batch.records.size());
    }
    counters_.processed_events.fetch_add(item->batch.records.size(), std::memory_order_relaxed);
    {
      std::lock_guard lock(mu_);
      --matching_;
      const std::uint64_t seq = item->seq;
      matched_.emplace(seq, std::move(item));
      if (seq == next_commit_seq_ || (writing_matched_state_ && matching_ == 0)) cv_commit_.notify_one();
    }
  }
}

void Pipeline::writer_loop() {
  std::vector<std::unique_ptr<Item>> group;
  std::vector<Alert> alerts;
  std::vector<Checkpoint> checkpoints;
  for (;;) {
    group.clear();
    {
      std::unique_lock lock(mu_);
      cv_commit_.wait(lock, [&] {
        return (!matched_.empty() && matched_.begin()->first == next_commit_seq_) ||
               (stopping_ && in_flight_ == 0);
      });
      if (matched_.empty() || matched_.begin()->first != next_commit_seq_) return;
      if (commit_matched_state_) {
        // Batches are taken in order, so once none is being matched, matched_ holds every
        // batch matched so far, consecutively: all of them go in this commit.
        writing_matched_state_ = true;
        cv_commit_.wait(lock, [&] { return matching_ == 0; });
      }
      // Group commit: every consecutive batch that is ready, up to the bound.
      while (!matched_.empty() && matched_.begin()->first == next_commit_seq_ &&
             (commit_matched_state_ || group.size() < options_.max_group_commit_batches)) {
        group.push_back(std::move(matched_.begin()->second));
        matched_.erase(matched_.begin());
        ++next_commit_seq_;
      }
    }
    alerts.clear();
    checkpoints.clear();
    for (auto& item : group) {
      for (Alert& a : item->alerts) alerts.push_back(std::move(a));
      for (Checkpoint& c : item->batch.checkpoints) checkpoints.push_back(std::move(c));
    }
    // Retry until durable: acknowledging (on_committed, a new checkpoint) before that would
    // lose events. While this holds, in_flight_ stays high and submit() applies backpressure.
    Status st;
    int attempt = 0;
    for (;;) {
      auto started = std::chrono::steady_clock::now();
      st = committer_.commit(alerts, checkpoints);
      if (metrics_) metrics_->observe_store_write_seconds(seconds_since(started));
      if (st.ok()) {
        if (attempt > 0) {
          std::fprintf(stderr, "vigil: store writes again after %d failed attempts\n", attempt);
          if (metrics_) metrics_->set_store_writable(true);
        }
        break;
      }
      counters_.commit_failures.fetch_add(1, std::memory_order_relaxed);
      if (metrics_) {
        metrics_->add_store_write_failure();
        metrics_->set_store_writable(false);
      }
      if (attempt == 0 || attempt % 60 == 0)
        std::fprintf(stderr, "vigil: store write failed (%s); retrying: input waits and nothing is acknowledged until a write succeeds\n",
                     st.to_string().c_str());
      ++attempt;
      bool give_up;
      {
        std::lock_guard lock(mu_);
        give_up = stopping_ && attempt >= 5;  // shutting down: do not hang forever
      }
      if (give_up) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 50 << std::min(attempt, 4))));
    }
    const std::int64_t now = IngestBatchBuilder::now_ns();
    for (auto& item : group) {
      if (metrics_ && st.ok() && !item->alerts.empty() && item->batch.received_unix_ns > 0)
        metrics_->observe_alert_latency_seconds((now - item->batch.received_unix_ns) / 1e9);
      if (item->batch.on_committed) item->batch.on_committed(st);
    }
    if (st.ok()) {
      counters_.committed_batches.fetch_add(group.size(), std::memory_order_relaxed);
      counters_.committed_alerts.fetch_add(alerts.size(), std::memory_order_relaxed);
    }
    {
      std::lock_guard lock(mu_);
      in_flight_ -= group.size();
      for (const auto& item : group) in_flight_bytes_ -= item->bytes;
      writing_matched_state_ = false;
    }
    if (commit_matched_state_) cv_input_.notify_all();
    cv_space_.notify_all();
    cv_commit_.notify_one();  // drain_and_stop may be waiting for in_flight_ == 0
  }
}

void Pipeline::drain_and_stop() {
  {
    std::unique_lock lock(mu_);
    if (stopping_) return;
    accepting_ = false;
    stopping_ = true;  // matcher threads finish the input queue, the writer everything in flight
  }
  cv_space_.notify_all();
  cv_input_.notify_all();
  cv_commit_.notify_all();
  for (std::thread& t : matchers_) t.join();
  matchers_.clear();
  {
    std::lock_guard lock(mu_);
  }
  cv_commit_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::size_t Pipeline::input_depth() const {
  std::lock_guard lock(mu_);
  return input_.size();
}

std::size_t Pipeline::commit_depth() const {
  std::lock_guard lock(mu_);
  return matched_.size();
}

std::size_t Pipeline::in_flight_bytes() const {
  std::lock_guard lock(mu_);
  return in_flight_bytes_;
}

std::size_t Pipeline::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

}  // namespace vigil
