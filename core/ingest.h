#pragma once
// What collectors hand to the pipeline: batches of raw records with where they came from.
//
// A batch owns its bytes. Records are views into `bytes`, one after another, and `bytes` ends
// with kRecordPadding spare bytes, so every record is followed by at least kRecordPadding
// readable bytes as the parsers require (use IngestBatchBuilder to get this right).
//
// Flow: collector -> BatchSink::submit (bounded queue, backpressure) -> matcher threads ->
// store writer (one RocksDB WriteBatch per group of batches, with their checkpoints) ->
// IngestBatch::on_committed. Batches are committed in the order they were submitted.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/alert.h"
#include "core/event.h"
#include "core/record_reader.h"
#include "core/status.h"

namespace vigil {

// Who sent the events and what they are: set by the collector's config, by the sender's CIDR
// or by a hostname pattern (see core/source_assign.h). Shared and immutable once built.
struct SourceInfo {
  std::string collector;  // configured collector name ("syslog-tcp", "auth-files")
  std::string tenant;     // province or unit ("" = default tenant)
  std::string system;     // system name within the tenant ("dvc-portal", "dc-firewall")
  std::string peer;       // sender address ("10.1.2.3:514"), file path, or "" (stdin)
  // Declared logsource; "" = let the rules' logsource mapping recognise the events.
  std::string product, category, service;
  LogFormat format = LogFormat::kUnknown;  // kUnknown = detect per record
};

// A position in a source (a tailed file's inode and offset), written in the same RocksDB
// WriteBatch as the alerts its batch produced, so a restart resumes exactly after them.
// Keys are unique per source; a later value replaces an earlier one.
struct Checkpoint {
  std::string key;
  std::string value;
};

struct IngestRecord {
  Record record;              // bytes view into IngestBatch::bytes, record_no, oversize flag
  std::uint32_t source = 0;   // index into IngestBatch::sources
};

struct IngestBatch {
  std::string bytes;                                       // record bytes + padding (owned)
  std::vector<IngestRecord> records;
  std::vector<std::shared_ptr<const SourceInfo>> sources;  // at least one
  std::int64_t received_unix_ns = 0;                       // when the first record arrived
  std::vector<Checkpoint> checkpoints;                     // committed with this batch's alerts
  // Alerts that arrive ready-made (a national vigil receiving a province's forwarded alerts):
  // stored as they are, after the alerts matched from `records`.
  std::vector<Alert> alerts;
  // Called once by the store writer after the batch's alerts and checkpoints are durable
  // (Status ok), or with the error if the commit failed or the pipeline shut down first.
  // Runs on the store writer thread: must not block. Optional.
  std::function<void(const Status&)> on_committed;
};

// Builds an IngestBatch record by record. Keeps record views valid while `bytes` grows by
// storing offsets until finish().
class IngestBatchBuilder {
 public:
  explicit IngestBatchBuilder(std::shared_ptr<const SourceInfo> source) { add_source(std::move(source)); }
  // Returns the index to pass to add() for records from this source.
  std::uint32_t add_source(std::shared_ptr<const SourceInfo> source) {
    pending_.sources.push_back(std::move(source));
    return static_cast<std::uint32_t>(pending_.sources.size() - 1);
  }
  void add(std::string_view record, std::uint64_t record_no = 0, std::uint32_t source = 0,
           bool oversize = false) {
    if (pending_.records.empty()) pending_.received_unix_ns = now_ns();
    offsets_.push_back(pending_.bytes.size());
    pending_.bytes.append(record);
    pending_.bytes.push_back('\n');
    IngestRecord r;
    r.record.record_no = record_no;
    r.record.oversize = oversize;
    r.source = source;
    r.record.bytes = std::string_view(nullptr, 0);
    lengths_.push_back(record.size());
    pending_.records.push_back(r);
  }
  std::size_t size() const { return pending_.records.size(); }
  std::size_t byte_size() const { return pending_.bytes.size(); }
  bool empty() const { return pending_.records.empty(); }
  IngestBatch& batch() { return pending_; }  // to set checkpoints / on_committed before finish
  // Fixes the record views and padding and returns the batch; the builder starts over with
  // the same sources.
  IngestBatch finish() {
    pending_.bytes.append(kRecordPadding, '\0');
    for (std::size_t i = 0; i < pending_.records.size(); ++i)
      pending_.records[i].record.bytes = std::string_view(pending_.bytes.data() + offsets_[i], lengths_[i]);
    IngestBatch out = std::move(pending_);
    pending_ = IngestBatch{};
    pending_.sources = out.sources;
    offsets_.clear();
    lengths_.clear();
    return out;
  }
  static std::int64_t now_ns();

 private:
  IngestBatch pending_;
  std::vector<std::size_t> offsets_, lengths_;
};

// Where collectors put batches: the pipeline's bounded input queue.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // Blocks while the pipeline is full: backpressure for TCP, TLS, file and HTTP sources, which
  // must never lose events. Returns false only when the pipeline is shutting down; the batch's
  // on_committed has then been called with an error.
  virtual bool submit(IngestBatch&& batch) = 0;
  // Never blocks. Returns false (the batch is left untouched) when the queue is full: UDP
  // counts the batch's records as dropped.
  virtual bool try_submit(IngestBatch& batch) = 0;
};

// Counters a collector keeps (plain atomics so collectors need no metrics library); the
// metrics exporter reads them when Prometheus scrapes. Update per batch, not per event.
struct CollectorStats {
  explicit CollectorStats(std::string name_, std::string kind_)
      : name(std::move(name_)), kind(std::move(kind_)) {}
  const std::string name;  // configured collector name: label collector="..."
  const std::string kind;  // "udp", "tcp", "tls", "file", "http", "stdin"
  std::atomic<std::uint64_t> received_events{0};
  std::atomic<std::uint64_t> received_bytes{0};
  std::atomic<std::uint64_t> dropped_events{0};     // UDP only: queue full or socket overrun
  std::atomic<std::uint64_t> oversize_records{0};   // records cut at max_record_bytes
  std::atomic<std::uint64_t> framing_errors{0};     // bad octet count, garbage on a TLS socket
  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_rejected{0};  // over the connection limit, TLS failures
  std::atomic<std::uint64_t> idle_timeouts{0};
};

}  // namespace vigil
