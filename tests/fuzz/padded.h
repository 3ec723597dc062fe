#pragma once
// A record copied into an allocation of exactly its size plus kRecordPadding, as the record
// readers hand records to the parsers: ASan then reports any read past the promised padding
// (a view into libFuzzer's own buffer would hide over-reads into unrelated heap bytes).
#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

#include "core/record_reader.h"

namespace vigil::fuzz {

class PaddedRecord {
 public:
  explicit PaddedRecord(std::string_view bytes)
      : size_(bytes.size()), data_(new char[bytes.size() + kRecordPadding]) {
    if (!bytes.empty()) std::memcpy(data_.get(), bytes.data(), bytes.size());
    std::memset(data_.get() + size_, 0, kRecordPadding);
  }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  std::size_t size_;
  std::unique_ptr<char[]> data_;
};

}  // namespace vigil::fuzz
