#pragma once
// RecordReader: splits a byte stream (file, gzip file, stdin) into records.
//
// A record is one line, except that a JSON document spread over several lines (pretty-printed,
// as evtx_dump writes them) is one record: when a line starts a JSON object and ends in '{',
// '[' or ',' (where pretty-printers break lines), lines are joined until the braces balance
// (strings and escapes respected). A one-line object cut short anywhere else stays one broken
// record, so a truncated NDJSON line never swallows the good lines after it.
// CRLF and LF line ends are both accepted; the line end is not part of the record.
//
// Records are views into an internal buffer that stays valid until the next call to next_batch().
// Every record is followed by at least kRecordPadding readable bytes (simdjson needs 64).
// Gzip input (by magic bytes, not by name) is decompressed on the fly. A regular file that starts
// with the EVTX magic is read event record by event record, each record rendered as JSON in the
// evtx_dump layout (core/evtx/evtx_reader.h).
//
// Oversize records (longer than max_record_bytes) are not kept in memory: the reader skips to
// the next line end and returns the record with `oversize` set and a truncated view.
//
// Thread-safety: one thread at a time.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vigil {

inline constexpr std::size_t kRecordPadding = 64;

struct Record {
  std::string_view bytes;
  std::uint64_t record_no = 0;  // 1-based line number of the record's first line
  bool oversize = false;        // bytes is only the first max_record_bytes of the record
  bool unterminated_json = false;  // a JSON object still open at end of input
  // A record of a binary container (an EVTX event record or chunk) that failed its structure
  // checks and was skipped: the reason (static text, e.g. "evtx_binxml"), bytes empty.
  // nullptr for every readable record.
  const char* damaged = nullptr;
};

struct RecordReaderOptions {
  std::size_t max_record_bytes = 1u << 20;  // Default: 1 MiB
  std::size_t batch_bytes = 4u << 20;       // Default: 4 MiB of records per batch
  bool join_json_documents = true;          // Default: true
  std::uint64_t first_record_no = 1;        // Default: 1 (number of the first line read)
};

class RecordReader {
 public:
  // `path` "-" reads standard input.
  static Result<std::unique_ptr<RecordReader>> open(const std::string& path,
                                                    RecordReaderOptions options = {});
  // Reads the bytes [begin, end) of a regular, uncompressed file, which the caller has cut at
  // line starts (see split_file_at_lines). Several range readers on one file let threads read
  // in parallel; set options.first_record_no to the line number at `begin`.
  static Result<std::unique_ptr<RecordReader>> open_range(const std::string& path,
                                                          std::uint64_t begin, std::uint64_t end,
                                                          RecordReaderOptions options = {});
  // Reads from memory (tests, benchmarks). The bytes are copied.
  static std::unique_ptr<RecordReader> from_memory(std::string_view bytes,
                                                   RecordReaderOptions options = {});
  virtual ~RecordReader() = default;

  // Fills `out` (cleared first) with the next records, up to about batch_bytes.
  // Returns false at end of input (out empty) or on error (status() says which).
  virtual bool next_batch(std::vector<Record>& out) = 0;
  virtual Status status() const = 0;
  virtual std::uint64_t bytes_read() const = 0;  // uncompressed bytes consumed so far
  // The number the next line would get: after the last batch, first_record_no plus the lines
  // read (a range cut at line starts: the '\n' bytes in it).
  virtual std::uint64_t next_record_no() const = 0;
};

// Cuts a regular, uncompressed file of line records into up to `parts` byte ranges that each
// start at the start of a record: a line that does not begin with white space, '}', ']' or '"'
// (which would continue a pretty-printed JSON document). Fails (the caller then reads the file
// whole) for gzip input, for a file that starts with a JSON document spread over lines, when no
// record start is found near a cut, and for anything that is not a regular file.
struct FileRange {
  std::uint64_t begin = 0, end = 0;
};
Result<std::vector<FileRange>> split_file_at_lines(const std::string& path, unsigned parts);

// Number of '\n' bytes in [begin, end) of a file (to number the records of a range).
Result<std::uint64_t> count_line_ends(const std::string& path, std::uint64_t begin, std::uint64_t end);

}  // namespace vigil
