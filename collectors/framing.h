#pragma once
// StreamFramer: cuts one syslog stream (a TCP or TLS connection) into records, RFC 6587.
//
// The framing is detected per connection from its first bytes: a stream that starts with a
// nonzero digit, more digits and a space uses octet counting (`<len> SP <len bytes>`); anything
// else uses non-transparent framing, one record per line (LF, or CRLF with the \r stripped).
// Empty records are skipped. A trailing line end inside an octet-counted frame is stripped too,
// because some senders put one there.
//
// Memory is bounded by max_record_bytes per connection whatever the sender does: a record
// longer than that is emitted once with its first max_record_bytes and `oversize` set, and the
// rest of it is read and thrown away up to the end of its frame (so a 100 MB line costs
// max_record_bytes, not 100 MB).
//
// A malformed octet count (a non-digit in the count, a leading zero, a count above
// max_octet_count) is a framing error: the stream falls back to newline framing for the rest of
// the connection, and the bytes of the bad header start the next line record, so nothing the
// sender wrote disappears silently.
//
// Thread-safety: one connection, one thread at a time.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::collectors {

struct StreamFramerOptions {
  // Records longer than this are cut (see above). Default: 1 MiB.
  std::size_t max_record_bytes = 1u << 20;
  // Octet counts above this are not believed: a framing error. Default: 256 MiB.
  std::uint64_t max_octet_count = 256ull << 20;
};

class StreamFramer {
 public:
  enum class Mode : unsigned char { kDetecting, kOctetCounting, kNewline };

  // Receives each record. `record` is only valid during the call.
  class Handler {
   public:
    virtual void on_record(std::string_view record, bool oversize) = 0;

   protected:
    ~Handler() = default;
  };

  explicit StreamFramer(StreamFramerOptions options = {});

  // Feeds the next bytes of the stream (any split, down to one byte at a time).
  void feed(std::string_view chunk, Handler& handler);
  // The stream ended: emits an unterminated last line, and counts a frame cut short by the end
  // of the stream as a framing error (emitting what arrived of it).
  void finish(Handler& handler);

  Mode mode() const { return mode_; }
  std::uint64_t framing_errors() const { return framing_errors_; }
  std::uint64_t oversize_records() const { return oversize_records_; }
  // Bytes held for an unfinished record (bounded by max_record_bytes).
  std::size_t buffered_bytes() const { return partial_.size(); }

 private:
  // Octet counting sub-states.
  enum class Octet : unsigned char { kCount, kBody, kSkip };

  void feed_newline(std::string_view chunk, Handler& handler);
  // Returns how many bytes of `chunk` it consumed; switches mode_ on a framing error.
  std::size_t feed_octet(std::string_view chunk, Handler& handler);
  void emit_line(std::string_view line, Handler& handler);
  void emit_frame(std::string_view frame, bool oversize, Handler& handler);
  void bad_octet_count();
  void release_partial();

  StreamFramerOptions options_;
  Mode mode_ = Mode::kDetecting;
  Octet octet_ = Octet::kCount;
  std::string count_text_;        // digits of the octet count read so far
  std::uint64_t count_value_ = 0;  // their value
  std::uint64_t remaining_ = 0;   // body bytes still to come (kBody), or to skip (kSkip)
  std::string partial_;           // unfinished record, at most max_record_bytes
  bool discarding_line_ = false;  // newline mode: skipping the rest of an oversize line
  std::uint64_t framing_errors_ = 0;
  std::uint64_t oversize_records_ = 0;
};

}  // namespace vigil::collectors
