#include "core/record_reader.h"

#include "core/evtx/evtx_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

// Design: one buffer of capacity batch_bytes + max_record_bytes (+ kRecordPadding), filled by
// large reads. Records are views into it. The incomplete last record of a fill is moved to the
// front before the next fill (the only copy, at most one record per batch). A record that
// outgrows max_record_bytes is returned truncated and the rest of it is scanned and dropped
// without being kept, so memory never depends on the input's line lengths.
//
// Rules at the edges (tests/core/record_reader_test.cpp has them as reference_split()):
// - Lines that are empty or hold only spaces/tabs are skipped; they still count as lines.
// - A line whose first non-blank byte is '{' and whose last non-blank byte is not '}' starts a
//   document; so does any over-long line starting with '{' (a huge NDJSON line is skipped by
//   its braces). The record runs from that '{' to the '}' that balances it. Whatever follows
//   that '}' on its line is read as a line of its own (blank: skipped; "{": the next document).
// - Inside the depth scan a backslash escapes the next byte, in a string or (invalid JSON)
//   outside one.
// - An oversize document is skipped to its balancing '}', not to the end of the line. A
//   document still open at the end of input is returned with unterminated_json, unless it is
//   oversize: then it was already returned with oversize (and unterminated_json false).
// - After a read error or corrupt gzip data, the records completed before it are still
//   returned; the unfinished one is dropped and next_batch() then returns false.

namespace vigil {
namespace {

constexpr std::size_t kMaxOptionBytes = std::size_t{1} << 30;  // clamps nonsense options
constexpr std::size_t kGzipInputBytes = std::size_t{256} << 10;

// ---------------------------------------------------------------------------------------------
// Byte sources

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `n` (> 0) bytes into `dst`. Returns how many; 0 means end of input, or an error
  // when failed() is true. A source may return fewer bytes than asked before its end (pipes).
  // A source that fails may still return the bytes it produced before the failure.
  virtual std::size_t read(char* dst, std::size_t n) = 0;
  bool failed() const { return !error_.ok(); }
  Status error() const { return error_; }

 protected:
  Status error_;
};

class FdSource final : public ByteSource {
 public:
  FdSource(int fd, bool owns_fd, std::string name) : fd_(fd), owns_fd_(owns_fd), name_(std::move(name)) {}
  ~FdSource() override {
    if (owns_fd_) ::close(fd_);
  }
  FdSource(const FdSource&) = delete;
  FdSource& operator=(const FdSource&) = delete;

  std::size_t read(char* dst, std::size_t n) override {
    for (;;) {
      const ssize_t got = ::read(fd_, dst, n);
      if (got >= 0) return static_cast<std::size_t>(got);
      if (errno == EINTR) continue;
      error_ = Status::IoError(name_ + ": read failed: " + std::strerror(errno));
      return 0;
    }
  }

 private:
  int fd_;
  bool owns_fd_;
  std::string name_;
};

// Reads the bytes [begin, end) of a file with pread, so several readers can share one file.
class FileRangeSource final : public ByteSource {
 public:
  FileRangeSource(int fd, std::uint64_t begin, std::uint64_t end, std::string name)
      : fd_(fd), pos_(begin), end_(end), name_(std::move(name)) {}
  ~FileRangeSource() override { ::close(fd_); }
  FileRangeSource(const FileRangeSource&) = delete;
  FileRangeSource& operator=(const FileRangeSource&) = delete;

  std::size_t read(char* dst, std::size_t n) override {
    if (pos_ >= end_) return 0;
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, end_ - pos_));
    for (;;) {
      const ssize_t got = ::pread(fd_, dst, n, static_cast<off_t>(pos_));
      if (got >= 0) {
        pos_ += static_cast<std::uint64_t>(got);
        return static_cast<std::size_t>(got);
      }
      if (errno == EINTR) continue;
      error_ = Status::IoError(name_ + ": read failed: " + std::strerror(errno));
      return 0;
    }
  }

 private:
  int fd_;
  std::uint64_t pos_, end_;
  std::string name_;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  std::size_t read(char* dst, std::size_t n) override {
    const std::size_t k = std::min(n, bytes_.size() - pos_);
    std::memcpy(dst, bytes_.data() + pos_, k);
    pos_ += k;
    return k;
  }

 private:
  std::string bytes_;
  std::size_t pos_ = 0;
};

// Decompresses a gzip stream of one or more members (as `cat a.gz b.gz` makes).
class GzipSource final : public ByteSource {
 public:
  // `prefix` holds the bytes already read from `raw` (at least the magic number).
  GzipSource(std::unique_ptr<ByteSource> raw, std::string_view prefix, std::string name)
      : raw_(std::move(raw)),
        in_(std::make_unique<unsigned char[]>(std::max(kGzipInputBytes, prefix.size()))),
        in_capacity_(std::max(kGzipInputBytes, prefix.size())),
        name_(std::move(name)) {
    std::memcpy(in_.get(), prefix.data(), prefix.size());
    zs_.next_in = in_.get();
    zs_.avail_in = static_cast<uInt>(prefix.size());
    const int rc = inflateInit2(&zs_, 16 + MAX_WBITS);
    if (rc != Z_OK) {
      error_ = Status::Internal(name_ + ": inflateInit2 failed: " + zlib_message(rc));
    } else {
      initialized_ = true;
    }
  }
  ~GzipSource() override {
    if (initialized_) inflateEnd(&zs_);
  }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  std::size_t read(char* dst, std::size_t n) override {
    if (failed() || done_) return 0;
    // uInt is 32 bits; a batch never needs more than that in one call.
    n = std::min<std::size_t>(n, 1u << 30);
    zs_.next_out = reinterpret_cast<Bytef*>(dst);
    zs_.avail_out = static_cast<uInt>(n);
    while (zs_.avail_out > 0) {
      if (zs_.avail_in == 0 && !raw_eof_) {
        const std::size_t got = raw_->read(reinterpret_cast<char*>(in_.get()), in_capacity_);
        if (raw_->failed()) {
          error_ = raw_->error();
          break;
        }
        if (got == 0) raw_eof_ = true;
        zs_.next_in = in_.get();
        zs_.avail_in = static_cast<uInt>(got);
      }
      if (member_ended_) {
        if (zs_.avail_in == 0) {  // raw input ended right after a complete member
          done_ = true;
          break;
        }
        inflateReset(&zs_);  // another member follows
        member_ended_ = false;
      }
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        member_ended_ = true;
      } else if (rc == Z_BUF_ERROR) {  // no progress: more input needed
        if (zs_.avail_in == 0 && raw_eof_) {
          error_ = Status::ParseError(name_ + ": truncated gzip stream (unexpected end of input)");
          break;
        }
      } else if (rc != Z_OK) {
        error_ = Status::ParseError(name_ + ": corrupt gzip data: " + zlib_message(rc));
        break;
      }
    }
    return n - zs_.avail_out;
  }

 private:
  std::string zlib_message(int rc) const {
    if (zs_.msg != nullptr) return zs_.msg;
    const char* text = zError(rc);
    return text != nullptr ? text : "unknown zlib error";
  }

  std::unique_ptr<ByteSource> raw_;
  std::unique_ptr<unsigned char[]> in_;
  std::size_t in_capacity_;
  std::string name_;
  z_stream zs_{};
  bool initialized_ = false;
  bool raw_eof_ = false;
  bool member_ended_ = false;
  bool done_ = false;
};

// ---------------------------------------------------------------------------------------------
// JSON document joining

struct JsonScanState {
  std::uint64_t depth = 0;
  std::uint64_t newlines = 0;  // line ends crossed since the counter was last taken
  bool in_string = false;
  bool escaped = false;
};

// The depth scan is a byte state machine: a backslash escapes the next byte (inside or outside a
// string: outside one it is not JSON anyway), an unescaped quote toggles "in string", braces
// outside strings move the depth. The block scan below and the scalar tail implement the same
// machine, so a document is split the same way wherever the buffer boundaries fall.

struct BlockMasks {
  std::uint64_t quote = 0;
  std::uint64_t backslash = 0;
  std::uint64_t open = 0;
  std::uint64_t close = 0;
  std::uint64_t newline = 0;
};

inline BlockMasks classify64(const char* p) {
  BlockMasks m;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i open = _mm_set1_epi8('{');
  const __m128i close = _mm_set1_epi8('}');
  const __m128i newline = _mm_set1_epi8('\n');
  for (int k = 0; k < 4; ++k) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    const int shift = 16 * k;
    auto bits = [&](__m128i c) {
      return static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, c))))
             << shift;
    };
    m.quote |= bits(quote);
    m.backslash |= bits(backslash);
    m.open |= bits(open);
    m.close |= bits(close);
    m.newline |= bits(newline);
  }
#else
  for (int k = 0; k < 64; ++k) {
    const std::uint64_t bit = std::uint64_t{1} << k;
    switch (p[k]) {
      case '"': m.quote |= bit; break;
      case '\\': m.backslash |= bit; break;
      case '{': m.open |= bit; break;
      case '}': m.close |= bit; break;
      case '\n': m.newline |= bit; break;
      default: break;
    }
  }
#endif
  return m;
}

// Baseline x86-64 has no popcnt instruction and __builtin_popcountll becomes a libgcc call.
inline std::uint64_t popcount64(std::uint64_t x) {
#if defined(__POPCNT__) || !defined(__x86_64__)
  return static_cast<std::uint64_t>(__builtin_popcountll(x));
#else
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return (x * 0x0101010101010101ULL) >> 56;
#endif
}

// Bit k = parity of the bits 0..k.
inline std::uint64_t prefix_xor(std::uint64_t x) {
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  x ^= x << 32;
  return x;
}

// The bytes preceded by an odd run of backslashes (after simdjson's stage 1). `carry` (0 or 1):
// in, the first byte is escaped; out, the first byte of the next block is.
inline std::uint64_t find_escaped(std::uint64_t backslash, std::uint64_t& carry) {
  constexpr std::uint64_t kEvenBits = 0x5555555555555555ULL;
  backslash &= ~carry;
  const std::uint64_t follows_escape = backslash << 1 | carry;
  const std::uint64_t odd_sequence_starts = backslash & ~kEvenBits & ~follows_escape;
  std::uint64_t sequences_starting_on_even_bits;
  carry = __builtin_add_overflow(odd_sequence_starts, backslash, &sequences_starting_on_even_bits) ? 1 : 0;
  const std::uint64_t invert_mask = sequences_starting_on_even_bits << 1;
  return (kEvenBits ^ invert_mask) & follows_escape;
}

// Scans [from, to) and tracks brace depth outside strings. Returns true when the depth returns
// to 0; *close is then the index of the closing brace. The first byte of a document is its '{'.
bool scan_json(const char* b, std::size_t from, std::size_t to, JsonScanState& s, std::size_t* close) {
  std::size_t i = from;
  while (to - i >= 64) {
    const BlockMasks m = classify64(b + i);
    std::uint64_t carry = s.escaped ? 1 : 0;
    const std::uint64_t escaped = find_escaped(m.backslash, carry);
    const std::uint64_t in_string = prefix_xor(m.quote & ~escaped) ^ (s.in_string ? ~std::uint64_t{0} : 0);
    const std::uint64_t opens = m.open & ~in_string & ~escaped;
    const std::uint64_t closes = m.close & ~in_string & ~escaped;
    const auto close_count = popcount64(closes);
    if (s.depth > close_count) {  // the depth cannot reach 0 in this block
      s.depth = s.depth + popcount64(opens) - close_count;
    } else {
      for (std::uint64_t braces = opens | closes; braces != 0; braces &= braces - 1) {
        const int k = __builtin_ctzll(braces);
        const std::uint64_t bit = std::uint64_t{1} << k;
        if ((opens & bit) != 0) {
          ++s.depth;
        } else if (--s.depth == 0) {
          s.newlines += popcount64(m.newline & (bit - 1));
          *close = i + static_cast<std::size_t>(k);
          return true;
        }
      }
    }
    s.newlines += popcount64(m.newline);
    s.escaped = carry != 0;
    s.in_string = (in_string >> 63) != 0;
    i += 64;
  }
  for (; i < to; ++i) {
    const char c = b[i];
    if (c == '\n') ++s.newlines;
    if (s.escaped) {
      s.escaped = false;
      continue;
    }
    switch (c) {
      case '\\':
        s.escaped = true;
        break;
      case '"':
        s.in_string = !s.in_string;
        break;
      case '{':
        if (!s.in_string) ++s.depth;
        break;
      case '}':
        if (!s.in_string && --s.depth == 0) {
          *close = i;
          return true;
        }
        break;
      default:
        break;
    }
  }
  return false;
}

inline bool is_blank(char c) { return c == ' ' || c == '\t'; }
inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// ---------------------------------------------------------------------------------------------
// The reader

class StreamRecordReader final : public RecordReader {
 public:
  StreamRecordReader(std::unique_ptr<ByteSource> source, std::string name, RecordReaderOptions options)
      : source_(std::move(source)),
        name_(std::move(name)),
        max_record_(std::min(options.max_record_bytes, kMaxOptionBytes)),
        batch_(std::clamp<std::size_t>(options.batch_bytes, 1, kMaxOptionBytes)),
        join_json_(options.join_json_documents),
        // Room for a full batch after a carried record of up to max_record_ + "\r\n".
        capacity_(batch_ + max_record_ + 2),
        buf_(std::make_unique<char[]>(capacity_ + kRecordPadding)),
        line_no_(options.first_record_no) {}

  bool next_batch(std::vector<Record>& out) override {
    out.clear();
    if (!status_.ok()) return false;
    for (;;) {
      compact();
      if (!source_done_) fill();
      scan(out);
      if (!out.empty()) return true;
      if (source_done_) return false;
    }
  }

  Status status() const override { return status_; }
  std::uint64_t bytes_read() const override { return bytes_read_; }
  std::uint64_t next_record_no() const override { return line_no_; }

 private:
  enum class Pending : unsigned char { kNone, kLine, kJson };
  enum class Skip : unsigned char { kNone, kLine, kJson };

  // Drops the consumed bytes: the unfinished record moves to the front of the buffer.
  void compact() {
    if (head_ == 0) return;
    const std::size_t live = tail_ - head_;
    if (live > 0) std::memmove(buf_.get(), buf_.get() + head_, live);
    pending_scan_ -= std::min(pending_scan_, head_);
    pending_start_ -= std::min(pending_start_, head_);
    tail_ = live;
    head_ = 0;
  }

  // Reads until the buffer holds about batch_ bytes (or batch_ more, when the data there is an
  // unfinished record), the input ends, or a read comes back short (a pipe: hand over what is
  // there rather than wait).
  void fill() {
    const std::size_t target = tail_ < batch_ ? batch_ : std::min(capacity_, tail_ + batch_);
    if (target <= tail_) {  // cannot happen: compact() leaves at most max_record_ + 1 bytes
      fail(Status::Internal(name_ + ": record reader buffer full"));
      return;
    }
    char* const b = buf_.get();
    while (tail_ < target) {
      const std::size_t want = target - tail_;
      const std::size_t got = source_->read(b + tail_, want);
      tail_ += got;
      bytes_read_ += got;
      if (source_->failed()) {
        fail(source_->error());
        return;
      }
      if (got == 0) {
        sniffed_ = true;
        source_done_ = true;
        eof_ = true;
        return;
      }
      if (!sniffed_ && tail_ >= 2) {
        sniffed_ = true;
        if (static_cast<unsigned char>(b[0]) == 0x1f && static_cast<unsigned char>(b[1]) == 0x8b) {
          source_ = std::make_unique<GzipSource>(std::move(source_), std::string_view(b, tail_), name_);
          bytes_read_ -= tail_;
          tail_ = 0;
          if (source_->failed()) {
            fail(source_->error());
            return;
          }
          continue;
        }
      }
      if (got < want && sniffed_) return;
    }
  }

  void fail(Status status) {
    status_ = std::move(status);
    source_done_ = true;
  }

  void emit(std::size_t start, std::size_t len, bool unterminated) {
    const bool oversize = len > max_record_;
    out_->push_back(Record{std::string_view(buf_.get() + start, oversize ? max_record_ : len), line_no_,
                           oversize, unterminated});
  }

  // Splits [head_, tail_) into records. Stops at an unfinished record (kept pending for the
  // next fill) or after an oversize record whose rest is still to be skipped.
  void scan(std::vector<Record>& out) {
    out_ = &out;
    char* const b = buf_.get();
    if (skip_ == Skip::kLine) {
      const void* nl = std::memchr(b + head_, '\n', tail_ - head_);
      if (nl == nullptr) {
        head_ = tail_;
        return;
      }
      head_ = static_cast<std::size_t>(static_cast<const char*>(nl) - b) + 1;
      ++line_no_;
      skip_ = Skip::kNone;
    } else if (skip_ == Skip::kJson) {
      std::size_t close = 0;
      const bool closed = scan_json(b, head_, tail_, json_, &close);
      line_no_ += json_.newlines;
      json_.newlines = 0;
      if (!closed) {
        head_ = tail_;
        return;
      }
      head_ = close + 1;  // the rest of the closing line is read as a line
      skip_ = Skip::kNone;
    }

    for (;;) {
      if (pending_ == Pending::kJson) {
        if (!continue_json()) return;
        continue;
      }
      const std::size_t pos = head_;
      if (pos == tail_) return;
      const std::size_t from = pending_ == Pending::kLine ? pending_scan_ : pos;
      pending_ = Pending::kNone;
      const void* nl = std::memchr(b + from, '\n', tail_ - from);
      std::size_t line_end;
      std::size_t next;
      if (nl != nullptr) {
        line_end = static_cast<std::size_t>(static_cast<const char*>(nl) - b);
        next = line_end + 1;
      } else if (eof_) {
        line_end = tail_;
        next = tail_;
      } else if (tail_ - pos >= max_record_ + 2) {  // longer than max even if it ends in \r\n
        if (join_json_) {
          // Whether it is one long NDJSON line or a document whose first line is long, its end
          // is where its braces balance: skip it with the depth scan.
          std::size_t first = pos;
          while (first < tail_ && is_blank(b[first])) ++first;
          if (first < tail_ && b[first] == '{') {
            start_json(first);
            continue;
          }
        }
        emit(pos, tail_ - pos, false);
        skip_ = Skip::kLine;
        head_ = tail_;
        return;
      } else {
        pending_ = Pending::kLine;
        pending_scan_ = tail_;
        head_ = pos;
        return;
      }
      std::size_t end = line_end;
      if (end > pos && b[end - 1] == '\r') --end;
      std::size_t first = pos;
      while (first < end && is_blank(b[first])) ++first;
      if (first == end) {  // empty or blank line
        ++line_no_;
        head_ = next;
        continue;
      }
      if (join_json_ && b[first] == '{') {
        std::size_t last = end;  // b[first] is not blank, so this stops at first + 1 at worst
        while (is_blank(b[last - 1])) --last;
        // Pretty-printers (evtx_dump, jq, json.dumps(indent=...)) break lines right after
        // '{', '[' or ','. Any other unclosed line is a truncated one-line record: joining it
        // would swallow the good lines after it, so it stays one (broken) record.
        const char last_char = b[last - 1];
        if (last_char == '{' || last_char == '[' || last_char == ',') {
          start_json(first);
          continue;
        }
      }
      emit(pos, end - pos, false);
      ++line_no_;
      head_ = next;
    }
  }

  void start_json(std::size_t brace) {
    json_ = JsonScanState{};
    pending_ = Pending::kJson;
    pending_start_ = brace;
    pending_scan_ = brace;
    head_ = brace;
  }

  // Goes on with the pending multi-line JSON document. Returns true when scanning may go on.
  bool continue_json() {
    char* const b = buf_.get();
    std::size_t close = 0;
    const bool closed = scan_json(b, pending_scan_, tail_, json_, &close);
    if (closed) {
      emit(pending_start_, close + 1 - pending_start_, false);
      line_no_ += json_.newlines;
      pending_ = Pending::kNone;
      head_ = close + 1;  // the rest of the closing line is read as a line
      return true;
    }
    const std::size_t len = tail_ - pending_start_;
    if (len > max_record_) {
      emit(pending_start_, len, false);
      line_no_ += json_.newlines;
      json_.newlines = 0;
      pending_ = Pending::kNone;
      skip_ = Skip::kJson;
      head_ = tail_;
      return false;
    }
    if (eof_) {
      std::size_t end = tail_;
      while (end > pending_start_ && is_space(b[end - 1])) --end;
      emit(pending_start_, end - pending_start_, true);
      pending_ = Pending::kNone;
      head_ = tail_;
      return false;
    }
    pending_scan_ = tail_;
    head_ = pending_start_;
    return false;
  }

  std::unique_ptr<ByteSource> source_;
  std::string name_;
  const std::size_t max_record_;
  const std::size_t batch_;
  const bool join_json_;
  const std::size_t capacity_;
  std::unique_ptr<char[]> buf_;  // capacity_ + kRecordPadding bytes

  std::size_t head_ = 0;  // start of the first unconsumed byte
  std::size_t tail_ = 0;  // end of the data read
  std::uint64_t line_no_;  // line number of the line that starts at head_

  Pending pending_ = Pending::kNone;
  std::size_t pending_scan_ = 0;   // where the search for the pending record's end resumes
  std::size_t pending_start_ = 0;  // the '{' of a pending JSON document
  Skip skip_ = Skip::kNone;
  JsonScanState json_;

  bool sniffed_ = false;      // gzip magic checked
  bool source_done_ = false;  // no more reads: end of input or failure
  bool eof_ = false;          // clean end of input
  Status status_;
  std::uint64_t bytes_read_ = 0;
  std::vector<Record>* out_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<RecordReader>> RecordReader::open(const std::string& path, RecordReaderOptions options) {
  if (path == "-") {
    return std::unique_ptr<RecordReader>(
        new StreamRecordReader(std::make_unique<FdSource>(0, false, "<stdin>"), "<stdin>", options));
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string msg = path + ": " + std::strerror(err);
    if (err == ENOENT || err == ENOTDIR) return Error(Status::NotFound(std::move(msg)));
    if (err == EISDIR) return Error(Status::InvalidArgument(std::move(msg)));
    return Error(Status::IoError(std::move(msg)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    std::string msg = path + ": " + std::strerror(errno);
    ::close(fd);
    return Error(Status::IoError(std::move(msg)));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Error(Status::InvalidArgument(path + ": is a directory"));
  }
  if (S_ISREG(st.st_mode)) {
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    char magic[8];
    if (::pread(fd, magic, sizeof magic, 0) == static_cast<ssize_t>(sizeof magic) &&
        evtx::is_evtx(std::string_view(magic, sizeof magic)))
      return evtx::make_evtx_reader(fd, path, options);
  }
  return std::unique_ptr<RecordReader>(
      new StreamRecordReader(std::make_unique<FdSource>(fd, true, path), path, options));
}

Result<std::unique_ptr<RecordReader>> RecordReader::open_range(const std::string& path,
                                                               std::uint64_t begin,
                                                               std::uint64_t end,
                                                               RecordReaderOptions options) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string msg = path + ": " + std::strerror(err);
    if (err == ENOENT || err == ENOTDIR) return Error(Status::NotFound(std::move(msg)));
    return Error(Status::IoError(std::move(msg)));
  }
  (void)::posix_fadvise(fd, static_cast<off_t>(begin), static_cast<off_t>(end - begin),
                        POSIX_FADV_SEQUENTIAL);
  return std::unique_ptr<RecordReader>(new StreamRecordReader(
      std::make_unique<FileRangeSource>(fd, begin, end, path), path, options));
}

std::unique_ptr<RecordReader> RecordReader::from_memory(std::string_view bytes, RecordReaderOptions options) {
  return std::make_unique<StreamRecordReader>(std::make_unique<MemorySource>(bytes), "<memory>", options);
}

namespace {

// Reads up to n bytes at `offset` (short at end of file). Returns the count, or -1.
ssize_t pread_full(int fd, char* dst, std::size_t n, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd, dst + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return static_cast<ssize_t>(done);
}

bool starts_record(char c) {
  return c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '}' && c != ']' && c != '"';
}

}  // namespace

Result<std::vector<FileRange>> split_file_at_lines(const std::string& path, unsigned parts) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error(Status::IoError(path + ": " + std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return Error(Status::Unsupported(path + ": not a regular file"));
  const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  constexpr std::size_t kWindow = 1 << 20;
  std::vector<char> buf(kWindow);
  const ssize_t head = pread_full(fd, buf.data(), kWindow, 0);
  if (head < 0) return Error(Status::IoError(path + ": " + std::strerror(errno)));
  const std::string_view first(buf.data(), static_cast<std::size_t>(head));
  if (first.size() >= 2 && static_cast<unsigned char>(first[0]) == 0x1f &&
      static_cast<unsigned char>(first[1]) == 0x8b)
    return Error(Status::Unsupported(path + ": gzip input is read whole"));
  if (evtx::is_evtx(first)) return Error(Status::Unsupported(path + ": EVTX input is read whole"));
  const std::size_t line_end = std::min(first.find('\n'), first.size());
  std::string_view line = first.substr(0, line_end);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\r' || line.back() == '\t')) line.remove_suffix(1);
  std::size_t lead = line.find_first_not_of(" \t");
  if (lead != std::string_view::npos && line[lead] == '{' &&
      (line.back() == '{' || line.back() == '[' || line.back() == ','))
    return Error(Status::Unsupported(path + ": pretty-printed JSON is read whole"));

  std::vector<FileRange> ranges;
  std::uint64_t begin = 0;
  for (unsigned k = 1; k < parts && begin < size; ++k) {
    std::uint64_t cut = size * k / parts;
    if (cut <= begin) continue;
    // The first record start after the cut, within a window.
    const ssize_t got = pread_full(fd, buf.data(), kWindow, cut - 1);
    if (got < 0) return Error(Status::IoError(path + ": " + std::strerror(errno)));
    const std::string_view w(buf.data(), static_cast<std::size_t>(got));
    std::size_t pos = 0;
    bool found = false;
    while ((pos = w.find('\n', pos)) != std::string_view::npos) {
      ++pos;
      if (pos < w.size() && starts_record(w[pos])) {
        found = true;
        break;
      }
    }
    if (!found) {
      if (static_cast<std::uint64_t>(got) < kWindow) break;  // the rest fits in the last range
      return Error(Status::Unsupported(path + ": no record start near byte " + std::to_string(cut)));
    }
    const std::uint64_t next = cut - 1 + pos;
    ranges.push_back(FileRange{begin, next});
    begin = next;
  }
  ranges.push_back(FileRange{begin, size});
  return ranges;
}

Result<std::uint64_t> count_line_ends(const std::string& path, std::uint64_t begin, std::uint64_t end) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error(Status::IoError(path + ": " + std::strerror(errno)));
  std::vector<char> buf(4 << 20);
  std::uint64_t lines = 0;
  for (std::uint64_t pos = begin; pos < end;) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), end - pos));
    const ssize_t got = pread_full(fd, buf.data(), want, pos);
    if (got <= 0) break;
    const char* p = buf.data();
    const char* e = p + got;
    while ((p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(e - p)))) != nullptr) {
      ++lines;
      ++p;
    }
    pos += static_cast<std::uint64_t>(got);
  }
  ::close(fd);
  return lines;
}

}  // namespace vigil
