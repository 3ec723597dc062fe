#include "core/duration.h"

#include <limits>

namespace vigil {

bool parse_duration(std::string_view text, std::int64_t* out_ns) {
  if (text == "0") {
    *out_ns = 0;
    return true;
  }
  std::size_t i = 0;
  std::int64_t n = 0;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (n > (kMax - 9) / 10) return false;
    n = n * 10 + (text[i] - '0');
    ++i;
  }
  if (i == 0) return false;
  const std::string_view unit = text.substr(i);
  std::int64_t scale = 0;
  if (unit == "ms") scale = 1000000LL;
  else if (unit == "s") scale = 1000000000LL;
  else if (unit == "m") scale = 60LL * 1000000000LL;
  else if (unit == "h") scale = 3600LL * 1000000000LL;
  else if (unit == "d") scale = 86400LL * 1000000000LL;
  else return false;
  if (n > kMax / scale) return false;
  *out_ns = n * scale;
  return true;
}

}  // namespace vigil
