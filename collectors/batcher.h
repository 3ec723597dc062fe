#pragma once
// Batcher: gathers one collector's records into IngestBatches and hands them to the pipeline.
//
// A batch is flushed when it holds max_records records or max_bytes bytes, when max_delay has
// passed since its first record (a steady timer on the collector's io_context), and on flush()
// (which collectors call when they stop). Statistics are updated once per batch.
//
// Submit modes: kBlocking uses BatchSink::submit(), which blocks while the pipeline is full.
// That blocks the collector's io thread, so it stops reading its sockets and TCP flow control
// slows the senders down: backpressure without loss (TCP, TLS, files, HTTP). kDropWhenFull uses
// try_submit() and counts the records of a refused batch as dropped_events (UDP, where the
// sender cannot be slowed down and the kernel would drop the datagrams anyway).
//
// Thread-safety: every call from the thread running the io_context (or, once that thread has
// stopped, from the one thread that stops the collector).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/ingest.h"

namespace vigil::collectors {

struct BatcherOptions {
  enum class SubmitMode : unsigned char { kBlocking, kDropWhenFull };
  std::size_t max_records = 4096;                 // Default: 4096
  std::size_t max_bytes = 1u << 20;               // Default: 1 MiB of record bytes
  std::chrono::milliseconds max_delay{10};        // Default: 10 ms after the first record
  SubmitMode mode = SubmitMode::kBlocking;        // Default: blocking (backpressure)
};

class Batcher {
 public:
  Batcher(boost::asio::io_context& io, BatchSink& sink, std::shared_ptr<CollectorStats> stats,
          BatcherOptions options);
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Copies `record` into the current batch. `source` must stay the same object for records of
  // the same sender (the batch stores each distinct source once). May flush (and so block).
  void add(std::string_view record, const std::shared_ptr<const SourceInfo>& source,
           std::uint64_t record_no = 0, bool oversize = false);
  // Hands the current batch (if any) to the sink now.
  void flush();
  // Cancels the delay timer (collectors call this when they stop, before the final flush()).
  void cancel_timer();
  // Called with each finished batch just before it is submitted, so a collector can attach
  // what must happen on commit (RELP sets on_committed to acknowledge the batch's records).
  void set_before_submit(std::function<void(IngestBatch&)> hook) { before_submit_ = std::move(hook); }

  std::size_t pending_records() const { return builder_ ? builder_->size() : 0; }

 private:
  std::uint32_t source_index(const std::shared_ptr<const SourceInfo>& source);
  void arm_timer();

  boost::asio::steady_timer timer_;
  BatchSink& sink_;
  std::shared_ptr<CollectorStats> stats_;
  BatcherOptions options_;
  std::optional<IngestBatchBuilder> builder_;  // empty between batches
  std::unordered_map<const SourceInfo*, std::uint32_t> source_indexes_;
  const SourceInfo* last_source_ = nullptr;  // records mostly come in runs from one sender
  std::uint32_t last_index_ = 0;
  std::uint64_t record_bytes_ = 0;  // of the current batch, without separators and padding
  std::uint64_t batch_generation_ = 0;  // a timer armed for an earlier batch must not flush this one
  std::function<void(IngestBatch&)> before_submit_;  // optional
};

}  // namespace vigil::collectors
