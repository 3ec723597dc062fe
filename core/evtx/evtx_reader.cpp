#include "core/evtx/evtx_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace vigil::evtx {
namespace {

class EvtxRecordReader final : public RecordReader {
 public:
  EvtxRecordReader(int fd, std::string name, RecordReaderOptions options, EvtxStats* stats)
      : fd_(fd), name_(std::move(name)), options_(options), stats_(stats),
        next_record_no_(options.first_record_no), block_(kChunkSize) {}
  ~EvtxRecordReader() override { ::close(fd_); }
  EvtxRecordReader(const EvtxRecordReader&) = delete;
  EvtxRecordReader& operator=(const EvtxRecordReader&) = delete;

  bool next_batch(std::vector<Record>& out) override {
    out.clear();
    text_.clear();
    decoded_.clear();
    if (done_) return false;
    if (offset_ == 0) {
      // The file header: only its magic is required. Its checksum and flags are not checked
      // (files copied from live systems and shadow copies have stale ones) and every 64 KiB
      // block after it is looked at.
      char head[128];
      if (!read_exact(head, sizeof head, 0)) return false;
      if (!is_evtx(std::string_view(head, sizeof head))) {
        status_ = Status::ParseError(name_ + ": not an EVTX file (no ElfFile magic)");
        done_ = true;
        return false;
      }
      // Chunks in use (u16 at 42). Past them, a block without a chunk is space not in use
      // (preallocated, or stale bytes), not damage; a chunk there is still read.
      chunks_in_use_ = static_cast<std::uint16_t>(static_cast<unsigned char>(head[42]) |
                                                  static_cast<unsigned char>(head[43]) << 8);
      offset_ = kFileHeaderSize;
    }
    while (!done_ && text_.size() < options_.batch_bytes) {
      std::size_t got = 0;
      if (!read_block(&got)) break;
      if (got < kChunkSize) {
        // A partial block at the end of the file: a cut copy. Its records cannot be trusted
        // to be whole; it is counted as a damaged chunk unless it is only zeros.
        bool zero = true;
        for (std::size_t i = 0; i < got && zero; ++i) zero = block_[i] == 0;
        if (got > 0 && !zero) {
          ++local_.damaged[static_cast<std::size_t>(EvtxDamage::kChunkHeader)];
          decoded_.push_back(DecodedRecord{0, text_.size(), 0, EvtxDamage::kChunkHeader});
        }
        done_ = true;
        break;
      }
      const std::uint64_t index = (offset_ - got - kFileHeaderSize) / kChunkSize;
      if (index >= chunks_in_use_ && std::memcmp(block_.data(), "ElfChnk\0", 8) != 0) {
        ++local_.unused_blocks;
        continue;
      }
      decoder_.decode(block_.data(), kRecordPadding, text_, decoded_, local_);
    }
    for (const DecodedRecord& d : decoded_) {
      Record r;
      r.record_no = d.record_id;
      if (d.damage != EvtxDamage::kNone) {
        r.bytes = std::string_view(text_.data() + d.offset, 0);
        r.damaged = to_string(d.damage);
      } else if (d.size > options_.max_record_bytes) {
        r.bytes = std::string_view(text_.data() + d.offset, options_.max_record_bytes);
        r.oversize = true;
      } else {
        r.bytes = std::string_view(text_.data() + d.offset, d.size);
      }
      out.push_back(r);
    }
    records_ += out.size();
    if (stats_ != nullptr) *stats_ = local_;
    return !out.empty() || !done_;
  }

  Status status() const override { return status_; }
  std::uint64_t bytes_read() const override { return offset_; }
  std::uint64_t next_record_no() const override { return next_record_no_ + records_; }

 private:
  bool read_exact(char* dst, std::size_t n, std::uint64_t at) {
    std::size_t got = 0;
    if (!pread_some(dst, n, at, &got)) return false;
    if (got < n) {
      status_ = Status::ParseError(name_ + ": not an EVTX file (shorter than its header)");
      done_ = true;
      return false;
    }
    return true;
  }
  // Reads up to a block at offset_; false on a read error (status_ set) or at the end.
  bool read_block(std::size_t* got) {
    if (!pread_some(reinterpret_cast<char*>(block_.data()), kChunkSize, offset_, got)) return false;
    if (*got == 0) {
      done_ = true;
      return false;
    }
    offset_ += *got;
    return true;
  }
  bool pread_some(char* dst, std::size_t n, std::uint64_t at, std::size_t* got) {
    *got = 0;
    while (*got < n) {
      const ssize_t r = ::pread(fd_, dst + *got, n - *got, static_cast<off_t>(at + *got));
      if (r < 0) {
        if (errno == EINTR) continue;
        status_ = Status::IoError(name_ + ": read failed: " + std::strerror(errno));
        done_ = true;
        return false;
      }
      if (r == 0) break;
      *got += static_cast<std::size_t>(r);
    }
    return true;
  }

  int fd_;
  std::string name_;
  RecordReaderOptions options_;
  EvtxStats* stats_;
  EvtxStats local_;
  std::uint64_t next_record_no_;
  std::uint64_t records_ = 0;
  std::uint64_t offset_ = 0;
  std::uint64_t chunks_in_use_ = 0;
  bool done_ = false;
  Status status_;
  std::vector<std::uint8_t> block_;
  std::string text_;
  std::vector<DecodedRecord> decoded_;
  ChunkDecoder decoder_;
};

}  // namespace

std::unique_ptr<RecordReader> make_evtx_reader(int fd, std::string name, RecordReaderOptions options,
                                               EvtxStats* stats) {
  return std::make_unique<EvtxRecordReader>(fd, std::move(name), options, stats);
}

}  // namespace vigil::evtx
