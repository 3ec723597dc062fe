#pragma once
// StdinSource: reads records from standard input (or any file descriptor: a pipe, a FIFO)
// with core's RecordReader (lines, multi-line JSON documents, gzip by magic bytes) and submits
// them in batches. Stops by itself at end of input; `vigil run` uses it for `... | vigil run`.
//
// Threading: a pump thread waits on the descriptor with poll() and copies what arrives into an
// internal pipe; the reader thread runs RecordReader on that pipe and submits (blocking:
// backpressure reaches the writer through the pipe). The pump exists so that stop() can end a
// read that would otherwise block forever on a quiet terminal or pipe: stop() closes the
// internal pipe, the reader sees end of input, submits what it holds and finishes.
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "core/ingest.h"
#include "core/record_reader.h"
#include "core/status.h"

namespace vigil::collectors {

struct StdinSourceOptions {
  std::string name = "stdin";  // Default: "stdin"
  int fd = 0;                  // Default: 0 (standard input); not closed by the source
  SourceInfo source;           // tenant, system, logsource, format; collector = name, peer = ""
  RecordReaderOptions reader;  // max_record_bytes, JSON joining
  std::size_t batch_max_records = 4096;  // Default: 4096
  std::size_t batch_max_bytes = 1u << 20;  // Default: 1 MiB of record bytes

  Status validate() const;
};

class StdinSource {
 public:
  static Result<std::unique_ptr<StdinSource>> create(StdinSourceOptions options, BatchSink& sink);
  ~StdinSource();  // stop()
  StdinSource(const StdinSource&) = delete;
  StdinSource& operator=(const StdinSource&) = delete;

  // Starts reading. Once only: after end of input there is nothing left to start.
  Status start();
  // Stops reading (records already read are still submitted) and joins. Idempotent.
  void stop();
  // Waits until end of input (or stop()) and every batch has been submitted; false on timeout.
  bool wait_finished(std::chrono::milliseconds timeout);
  bool finished() const;
  // A read error or corrupt gzip met while reading, or Ok.
  Status status() const;
  std::shared_ptr<CollectorStats> stats() const;

  struct Impl;

 private:
  explicit StdinSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::collectors
