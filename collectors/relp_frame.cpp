#include "collectors/relp_frame.h"

namespace vigil::collectors {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Reads 1..9 digits at `at` up to the delimiter. Returns false on a bad number; `complete`
// false when the buffer ends before the delimiter (and nothing wrong was seen so far).
bool read_number(std::string_view s, std::size_t& at, std::uint32_t& value, bool& complete) {
  std::size_t digits = 0;
  value = 0;
  complete = false;
  while (at < s.size() && is_digit(s[at])) {
    if (++digits > 9) return false;
    value = value * 10 + static_cast<std::uint32_t>(s[at] - '0');
    ++at;
  }
  if (at == s.size()) return digits <= 9;  // more digits may follow
  complete = true;
  return digits > 0;
}

}  // namespace

const char* to_string(RelpFrameError error) {
  switch (error) {
    case RelpFrameError::kNone: return "none";
    case RelpFrameError::kBadTxnr: return "bad transaction number";
    case RelpFrameError::kBadCommand: return "bad command";
    case RelpFrameError::kBadDataLength: return "bad data length";
    case RelpFrameError::kTooLarge: return "frame too large";
    case RelpFrameError::kMissingTrailer: return "missing LF trailer";
  }
  return "unknown";
}

void RelpFrameParser::append(std::string_view bytes) {
  if (error_ != RelpFrameError::kNone) return;  // nothing more will be parsed
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(bytes);
}

RelpFrameParser::Next RelpFrameParser::next(RelpFrame& frame) {
  if (error_ != RelpFrameError::kNone) return Next::kError;
  const std::string_view s = std::string_view(buffer_).substr(pos_);
  std::size_t at = 0;
  bool complete = false;

  std::uint32_t txnr = 0;
  if (!read_number(s, at, txnr, complete) || (complete && s[at] != ' ')) return fail(RelpFrameError::kBadTxnr);
  if (!complete) return Next::kNeedMore;
  ++at;

  const std::size_t command_at = at;
  while (at < s.size() && is_alpha(s[at])) {
    if (at - command_at >= 32) return fail(RelpFrameError::kBadCommand);
    ++at;
  }
  if (at == s.size()) return Next::kNeedMore;
  if (at == command_at || s[at] != ' ') return fail(RelpFrameError::kBadCommand);
  const std::string_view command = s.substr(command_at, at - command_at);
  ++at;

  std::uint32_t length = 0;
  if (!read_number(s, at, length, complete)) return fail(RelpFrameError::kBadDataLength);
  if (length > max_data_bytes_) return fail(RelpFrameError::kTooLarge);  // before the data arrives
  if (!complete) return Next::kNeedMore;
  std::string_view data;
  if (length == 0) {
    // No data: the trailer follows the length directly.
    if (s[at] != '\n') return fail(s[at] == ' ' ? RelpFrameError::kMissingTrailer : RelpFrameError::kBadDataLength);
    ++at;
  } else {
    if (s[at] != ' ') return fail(RelpFrameError::kBadDataLength);
    ++at;
    if (s.size() - at < std::size_t{length} + 1) return Next::kNeedMore;
    data = s.substr(at, length);
    at += length;
    if (s[at] != '\n') return fail(RelpFrameError::kMissingTrailer);
    ++at;
  }
  frame.txnr = txnr;
  frame.command = command;
  frame.data = data;
  pos_ += at;
  return Next::kFrame;
}

}  // namespace vigil::collectors
