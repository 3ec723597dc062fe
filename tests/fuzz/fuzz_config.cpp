// The daemon's YAML configuration: parse_config (every section, its validate()), then the
// exposure warnings computed from a configuration that parsed.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = vigil::parse_config(text, "fuzz.yml");
  if (config) (void)vigil::exposure_warnings(*config);
  return 0;
}
