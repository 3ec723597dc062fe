// The national receiver's webhook payload (sender, alerts with their ids, rules, fields).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/alert_ingest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)vigil::collectors::parse_alert_payload(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
