#include "core/ingest.h"

#include <chrono>

namespace vigil {

std::int64_t IngestBatchBuilder::now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace vigil
