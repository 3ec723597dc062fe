// The HTTP ingest's gzip body decoder with the bounds the collector uses by default (output
// and ratio caps), so a decompression bomb must stop early rather than exhaust memory.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/http_ingest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kMaxBytes = 4u << 20;
  auto body = vigil::collectors::gunzip(std::string_view(reinterpret_cast<const char*>(data), size), kMaxBytes);
  if (body && body->size() > kMaxBytes) __builtin_trap();
  return 0;
}
