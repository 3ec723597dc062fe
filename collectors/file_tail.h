#pragma once
// FileTail: follows log files matched by glob patterns, one record per line, with checkpoints.
//
// Each poll (poll_interval) the tail thread re-evaluates the globs, reads what was appended to
// every followed file, and submits batches of complete lines. A partial last line waits for its
// newline. Each batch carries a Checkpoint {key "file:<path>", value {dev, inode, offset just
// after the batch's last line, that line's number}}, committed by the store writer with the
// batch's alerts, so a restart (start() with a loader that returns the stored value) resumes
// exactly after the last committed batch: nothing skipped, nothing read twice.
//
// Rotation:
//  - rename (logrotate's default): the path now names a new file (or nothing, for a moment).
//    The old file stays open and is read to its end (a writer may still append to it); its
//    unterminated last line is emitted; then the new file is read from offset 0. While the path
//    names nothing, the old file keeps being followed.
//  - truncation (copytruncate): size < offset -> read again from offset 0, line 1.
//  - deletion: once drained, a deleted file is closed.
// Patterns should not also match the rotated names (app.log.1): those would be read as new files.
//
// Files found by the first scan start at their checkpoint if its dev/inode match, else at
// options.start_at; files that appear later start at their beginning (their first lines were
// written before the next poll saw them).
//
// Record numbers are line numbers within the file (1-based, empty lines counted but not
// submitted). Lines over max_record_bytes are submitted once, cut, with `oversize` set; memory
// per file stays bounded by max_record_bytes.
//
// Backpressure: BatchSink::submit blocks the tail thread while the pipeline is full; reading
// resumes where it stopped, so nothing is skipped. If submit returns false (pipeline shutting
// down) the thread stops reading.
//
// EVTX files (known by their magic, whatever their name) are read by whole 64 KiB chunks, each
// event record submitted as evtx_dump JSON (core/evtx/evtx_file.h) with its record number; the
// checkpoint offset is then the next chunk's, and `line` counts the records submitted. A chunk
// is read once, when it is complete in the file; records that do not decode are counted as
// framing errors. (Meant for .evtx files dropped into a folder, not a live log being rewritten.)
//
// Threading: one tail thread per FileTail. load_checkpoint is called on that thread.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ingest.h"
#include "core/status.h"

namespace vigil::collectors {

struct FileTailOptions {
  std::string name = "files";          // Default: "files" (collector label)
  std::vector<std::string> globs;      // glob(3) patterns; at least one
  std::chrono::milliseconds poll_interval{200};  // Default: 200 ms
  enum class StartAt : unsigned char { kBeginning, kEnd };
  // Where files of the first scan without a (matching) checkpoint start. Default: kBeginning.
  StartAt start_at = StartAt::kBeginning;
  std::size_t max_record_bytes = 1u << 20;  // Default: 1 MiB; longer lines are cut, flagged oversize
  std::size_t read_chunk_bytes = 256u << 10;  // Default: 256 KiB per read
  std::size_t batch_max_records = 4096;     // Default: 4096 records per batch
  std::size_t batch_max_bytes = 1u << 20;   // Default: 1 MiB of record bytes per batch
  // Template for every file's SourceInfo (tenant, system, logsource, format); collector is set
  // to `name` and peer to the file's path.
  SourceInfo source;

  Status validate() const;
};

// Where a followed file's committed lines end.
struct FilePosition {
  std::uint64_t dev = 0, inode = 0;
  std::uint64_t offset = 0;  // byte just after the last committed line
  std::uint64_t line = 0;    // number of that line (the next record is line + 1)
  bool operator==(const FilePosition&) const = default;
};
std::string file_checkpoint_key(const std::string& path);  // "file:<path>"
// "v1 dev=<n> inode=<n> offset=<n> line=<n>"
std::string encode_file_position(const FilePosition& position);
std::optional<FilePosition> decode_file_position(std::string_view value);

// Returns the stored checkpoint value for a key, or nullopt.
using CheckpointLoader = std::function<std::optional<std::string>(const std::string& key)>;

class FileTail {
 public:
  static Result<std::unique_ptr<FileTail>> create(FileTailOptions options, BatchSink& sink);
  ~FileTail();  // stop()
  FileTail(const FileTail&) = delete;
  FileTail& operator=(const FileTail&) = delete;

  // Starts the tail thread. `load_checkpoint` may be empty (no checkpoints: every file starts
  // at options.start_at). Idempotent while running.
  Status start(CheckpointLoader load_checkpoint = {});
  // Stops and joins the tail thread (a submit in progress finishes first). Idempotent.
  void stop();

  std::shared_ptr<CollectorStats> stats() const;
  // Paths followed right now (for status pages and tests).
  std::vector<std::string> followed() const;
  // The last problem met (a file that could not be opened or read), or Ok.
  Status last_error() const;

  struct Impl;

 private:
  explicit FileTail(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::collectors
