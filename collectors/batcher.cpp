#include "collectors/batcher.h"

#include <algorithm>

namespace vigil::collectors {

Batcher::Batcher(boost::asio::io_context& io, BatchSink& sink, std::shared_ptr<CollectorStats> stats,
                 BatcherOptions options)
    : timer_(io), sink_(sink), stats_(std::move(stats)), options_(options) {
  options_.max_records = std::max<std::size_t>(options_.max_records, 1);
  options_.max_bytes = std::max<std::size_t>(options_.max_bytes, 1);
}

std::uint32_t Batcher::source_index(const std::shared_ptr<const SourceInfo>& source) {
  if (source.get() == last_source_) return last_index_;
  auto it = source_indexes_.find(source.get());
  std::uint32_t index;
  if (it != source_indexes_.end()) {
    index = it->second;
  } else {
    index = builder_->add_source(source);
    source_indexes_.emplace(source.get(), index);
  }
  last_source_ = source.get();
  last_index_ = index;
  return index;
}

void Batcher::add(std::string_view record, const std::shared_ptr<const SourceInfo>& source,
                  std::uint64_t record_no, bool oversize) {
  if (!builder_) {
    builder_.emplace(source);
    source_indexes_.emplace(source.get(), 0);
    last_source_ = source.get();
    last_index_ = 0;
    ++batch_generation_;
    arm_timer();
  }
  builder_->add(record, record_no, source_index(source), oversize);
  record_bytes_ += record.size();
  if (builder_->size() >= options_.max_records || builder_->byte_size() >= options_.max_bytes) flush();
}

void Batcher::arm_timer() {
  timer_.expires_after(options_.max_delay);
  timer_.async_wait([this, generation = batch_generation_](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: stopping, or the timer was re-armed
    if (generation == batch_generation_ && builder_) flush();
  });
}

void Batcher::cancel_timer() { timer_.cancel(); }

void Batcher::flush() {
  if (!builder_ || builder_->empty()) return;
  IngestBatch batch = builder_->finish();
  builder_.reset();
  source_indexes_.clear();
  last_source_ = nullptr;
  const std::uint64_t records = batch.records.size();
  std::uint64_t oversize = 0;
  for (const IngestRecord& r : batch.records) oversize += r.record.oversize ? 1 : 0;
  stats_->received_events.fetch_add(records, std::memory_order_relaxed);
  stats_->received_bytes.fetch_add(record_bytes_, std::memory_order_relaxed);
  if (oversize) stats_->oversize_records.fetch_add(oversize, std::memory_order_relaxed);
  record_bytes_ = 0;
  if (before_submit_) before_submit_(batch);
  bool accepted;
  if (options_.mode == BatcherOptions::SubmitMode::kBlocking) {
    // false = the pipeline is shutting down and has already reported the batch as failed.
    accepted = sink_.submit(std::move(batch));
  } else {
    accepted = sink_.try_submit(batch);
  }
  if (!accepted) stats_->dropped_events.fetch_add(records, std::memory_order_relaxed);
}

}  // namespace vigil::collectors
