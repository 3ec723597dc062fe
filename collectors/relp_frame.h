#pragma once
// RelpFrameParser: splits a RELP byte stream into frames (librelp's doc/relp.html):
//
//   RELP-FRAME = TXNR SP COMMAND SP DATALEN [SP DATA] TRAILER
//   TXNR       = 1*9DIGIT          ; transaction number, 1..999999999 from clients
//   COMMAND    = 1*32ALPHA         ; open, syslog, close (and rsp, serverclose from servers)
//   DATALEN    = 1*9DIGIT          ; octets of DATA; 0 = no SP and no DATA
//   TRAILER    = LF
//
// The parser buffers what it is given and hands out one complete frame at a time. It never
// buffers more than one frame plus what was appended after it: a DATALEN over max_data_bytes is
// refused as soon as its digits are read, before the data arrives. Errors are final (a RELP
// stream cannot be resynchronised: the next frame starts wherever this one's length says).
//
// Thread-safety: none (one parser per connection, used by its io thread).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::collectors {

struct RelpFrame {
  std::uint32_t txnr = 0;
  std::string_view command;  // views into the parser's buffer, valid until the next append()
  std::string_view data;
};

enum class RelpFrameError : unsigned char {
  kNone,
  kBadTxnr,         // not 1..9 digits followed by SP
  kBadCommand,      // not 1..32 letters followed by SP
  kBadDataLength,   // not 1..9 digits followed by SP (or LF when 0)
  kTooLarge,        // DATALEN over max_data_bytes
  kMissingTrailer,  // the byte after DATA is not LF
};
const char* to_string(RelpFrameError error);

class RelpFrameParser {
 public:
  static constexpr std::uint32_t kMaxTxnr = 999999999;

  explicit RelpFrameParser(std::size_t max_data_bytes) : max_data_bytes_(max_data_bytes) {}

  // Keeps `bytes` after what is buffered. Invalidates the views of the last frame.
  void append(std::string_view bytes);

  enum class Next : unsigned char { kFrame, kNeedMore, kError };
  // The next complete frame, if one is buffered. After kError, error() says why and every
  // further call returns kError.
  Next next(RelpFrame& frame);

  RelpFrameError error() const { return error_; }
  // Bytes buffered and not yet returned as frames.
  std::size_t buffered() const { return buffer_.size() - pos_; }

 private:
  Next fail(RelpFrameError e) {
    error_ = e;
    return Next::kError;
  }

  std::size_t max_data_bytes_;
  std::string buffer_;
  std::size_t pos_ = 0;  // start of the first frame not yet returned
  RelpFrameError error_ = RelpFrameError::kNone;
};

}  // namespace vigil::collectors
