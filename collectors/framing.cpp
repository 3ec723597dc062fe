#include "collectors/framing.h"

#include <algorithm>
#include <cstring>

namespace vigil::collectors {
namespace {

// A partial-record buffer that grew for one long record is given back afterwards, so a
// thousand mostly idle connections do not each keep a max_record_bytes buffer.
constexpr std::size_t kKeepPartialCapacity = 64u << 10;

// Keeps count_value_ * 10 + 9 far from overflowing std::uint64_t.
constexpr std::uint64_t kHighestOctetCountLimit = 1'000'000'000'000'000ull;

}  // namespace

StreamFramer::StreamFramer(StreamFramerOptions options) : options_(options) {
  options_.max_record_bytes = std::max<std::size_t>(options_.max_record_bytes, 1);
  options_.max_octet_count = std::clamp<std::uint64_t>(options_.max_octet_count, 1, kHighestOctetCountLimit);
}

void StreamFramer::feed(std::string_view chunk, Handler& handler) {
  while (!chunk.empty()) {
    if (mode_ == Mode::kNewline) {
      feed_newline(chunk, handler);
      return;
    }
    chunk.remove_prefix(feed_octet(chunk, handler));
  }
}

std::size_t StreamFramer::feed_octet(std::string_view chunk, Handler& handler) {
  const std::size_t max = options_.max_record_bytes;
  std::size_t i = 0;
  while (i < chunk.size()) {
    switch (octet_) {
      case Octet::kCount: {
        const char c = chunk[i];
        if (count_text_.empty()) {
          // Line ends between frames are tolerated (some senders add them); before the first
          // frame they are empty lines, which both framings skip.
          if (c == '\n' || c == '\r') {
            ++i;
            continue;
          }
          if (c < '1' || c > '9') {
            if (mode_ == Mode::kDetecting) {
              mode_ = Mode::kNewline;
            } else {
              bad_octet_count();
            }
            return i;
          }
          count_text_.push_back(c);
          count_value_ = static_cast<std::uint64_t>(c - '0');
          ++i;
          continue;
        }
        if (c >= '0' && c <= '9') {
          count_text_.push_back(c);
          count_value_ = count_value_ * 10 + static_cast<std::uint64_t>(c - '0');
          ++i;
          if (count_value_ > options_.max_octet_count) {
            bad_octet_count();
            return i;
          }
          continue;
        }
        if (c == ' ') {
          ++i;
          mode_ = Mode::kOctetCounting;
          remaining_ = count_value_;
          count_text_.clear();
          count_value_ = 0;
          octet_ = Octet::kBody;
          continue;
        }
        // Digits followed by something else: on the first bytes of a connection this is simply
        // a line that starts with digits; later it is a broken frame header.
        if (mode_ == Mode::kDetecting) {
          mode_ = Mode::kNewline;
          partial_ = std::move(count_text_);
          count_text_.clear();
          count_value_ = 0;
        } else {
          bad_octet_count();
        }
        return i;
      }
      case Octet::kBody: {
        const std::size_t available = chunk.size() - i;
        if (partial_.empty() && remaining_ <= available && remaining_ <= max) {
          // The whole frame is in this chunk: no copy.
          emit_frame(chunk.substr(i, remaining_), false, handler);
          i += remaining_;
          remaining_ = 0;
          octet_ = Octet::kCount;
          continue;
        }
        const std::size_t room = max - partial_.size();
        const std::size_t take = static_cast<std::size_t>(
            std::min<std::uint64_t>({remaining_, available, room}));
        partial_.append(chunk.data() + i, take);
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) {
          emit_frame(partial_, false, handler);
          release_partial();
          octet_ = Octet::kCount;
        } else if (partial_.size() >= max) {
          emit_frame(partial_, true, handler);
          release_partial();
          octet_ = Octet::kSkip;
        }
        continue;
      }
      case Octet::kSkip: {
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, chunk.size() - i));
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) octet_ = Octet::kCount;
        continue;
      }
    }
  }
  return i;
}

void StreamFramer::feed_newline(std::string_view chunk, Handler& handler) {
  const std::size_t max = options_.max_record_bytes;
  // One byte beyond max so a line of exactly max bytes can still bring its '\r' of a CRLF.
  const std::size_t limit = max + 1;
  while (!chunk.empty()) {
    const void* found = std::memchr(chunk.data(), '\n', chunk.size());
    const bool has_end = found != nullptr;
    const std::size_t line_len =
        has_end ? static_cast<std::size_t>(static_cast<const char*>(found) - chunk.data()) : chunk.size();
    const std::string_view piece = chunk.substr(0, line_len);
    if (discarding_line_) {
      if (has_end) discarding_line_ = false;
    } else if (has_end && partial_.empty()) {
      emit_line(piece, handler);  // whole line in this chunk: no copy
    } else {
      const std::size_t room = limit > partial_.size() ? limit - partial_.size() : 0;
      if (piece.size() <= room) {
        partial_.append(piece);
        if (has_end) {
          emit_line(partial_, handler);
          release_partial();
        }
      } else {
        partial_.append(piece.substr(0, room));
        handler.on_record(std::string_view(partial_).substr(0, max), true);
        ++oversize_records_;
        release_partial();
        discarding_line_ = !has_end;
      }
    }
    if (!has_end) return;
    chunk.remove_prefix(line_len + 1);
  }
}

void StreamFramer::finish(Handler& handler) {
  switch (mode_) {
    case Mode::kNewline:
      if (!discarding_line_ && !partial_.empty()) emit_line(partial_, handler);
      break;
    case Mode::kDetecting:
      // The whole stream was a few digits: a one-line record.
      if (!count_text_.empty()) emit_line(count_text_, handler);
      break;
    case Mode::kOctetCounting:
      if (octet_ == Octet::kCount && !count_text_.empty()) {
        ++framing_errors_;
      } else if (octet_ == Octet::kBody) {
        ++framing_errors_;
        if (!partial_.empty()) emit_frame(partial_, false, handler);
      } else if (octet_ == Octet::kSkip) {
        ++framing_errors_;
      }
      break;
  }
  release_partial();
  count_text_.clear();
  count_value_ = 0;
  remaining_ = 0;
  octet_ = Octet::kCount;
  discarding_line_ = false;
}

void StreamFramer::emit_line(std::string_view line, Handler& handler) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) return;
  if (line.size() > options_.max_record_bytes) {
    handler.on_record(line.substr(0, options_.max_record_bytes), true);
    ++oversize_records_;
    return;
  }
  handler.on_record(line, false);
}

void StreamFramer::emit_frame(std::string_view frame, bool oversize, Handler& handler) {
  if (oversize) {
    ++oversize_records_;
    handler.on_record(frame, true);
    return;
  }
  if (!frame.empty() && frame.back() == '\n') frame.remove_suffix(1);
  if (!frame.empty() && frame.back() == '\r') frame.remove_suffix(1);
  if (frame.empty()) return;
  handler.on_record(frame, false);
}

void StreamFramer::bad_octet_count() {
  ++framing_errors_;
  mode_ = Mode::kNewline;
  partial_ = std::move(count_text_);  // the bad header starts the next line record
  count_text_.clear();
  count_value_ = 0;
  octet_ = Octet::kCount;
}

void StreamFramer::release_partial() {
  if (partial_.capacity() > kKeepPartialCapacity) {
    std::string().swap(partial_);
  } else {
    partial_.clear();
  }
}

}  // namespace vigil::collectors
